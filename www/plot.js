// Energy histograms with uPlot (served from our own origin, see .ci/build). Binning here is
// presentation only; every energy comes from the Rust core.
import uPlot from "../pkg/vendor/uPlot.esm.js";

/// Densities of each series on shared bins spanning the 0.5–99.5 % range of all values.
export function histogram(seriesList, bins = 60) {
  const all = seriesList.flatMap((s) => Array.from(s)).filter(Number.isFinite).sort((a, b) => a - b);
  if (all.length === 0) return { x: [], ys: seriesList.map(() => []) };
  const lo = all[Math.floor(0.005 * (all.length - 1))], hi = all[Math.ceil(0.995 * (all.length - 1))];
  const width = (hi - lo) / bins || 1;
  const x = Array.from({ length: bins }, (_, i) => lo + (i + 0.5) * width);
  const ys = seriesList.map((s) => {
    const counts = new Array(bins).fill(0);
    let n = 0;
    for (const v of s) {
      if (!Number.isFinite(v)) continue;
      n++;
      const i = Math.floor((v - lo) / width);
      if (i >= 0 && i < bins) counts[i]++;
    }
    return n === 0 ? counts.map(() => null) : counts.map((c) => c / (n * width));
  });
  return { x, ys };
}

/// A live histogram plot in `el` with named series; `update(seriesList)` redraws. With
/// `onPick`, a click on the plot calls it with the x value (bin centre) under the cursor.
export function histogramPlot(el, names, colors, xLabel = "energy E(x)", { onPick } = {}) {
  const opts = {
    width: Math.max(200, el.clientWidth), height: 220,
    scales: { x: { time: false } },
    axes: [{ label: xLabel, stroke: "#9aa3b2", grid: { stroke: "#2b3140" } },
      { label: "density", stroke: "#9aa3b2", grid: { stroke: "#2b3140" }, size: 60 }],
    series: [{}, ...names.map((label, i) => ({ label, stroke: colors[i], width: 2, fill: colors[i] + "22", paths: uPlot.paths.stepped({ align: 0 }), points: { show: false } }))],
    legend: { live: false },
  };
  const plot = new uPlot(opts, [[], ...names.map(() => [])], el);
  const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth), height: 220 }));
  resize.observe(el);
  if (onPick) {
    plot.over.style.cursor = "pointer";
    plot.over.addEventListener("click", () => {
      const idx = plot.cursor.idx;
      if (idx !== null && idx !== undefined && plot.data[0].length) onPick(plot.data[0][idx]);
    });
  }
  return {
    destroy() { resize.disconnect(); plot.destroy(); },
    update(seriesList) {
      const { x, ys } = histogram(seriesList);
      plot.setData([x, ...ys]);
    },
  };
}

/// A live line plot (e.g. a training loss over gradient steps) with a log y axis.
export function linePlot(el, label, color, xLabel = "gradient step") {
  const opts = {
    width: Math.max(200, el.clientWidth), height: 220,
    scales: { x: { time: false }, y: { distr: 3 } },
    axes: [{ label: xLabel, stroke: "#9aa3b2", grid: { stroke: "#2b3140" } },
      { label, stroke: "#9aa3b2", grid: { stroke: "#2b3140" }, size: 60 }],
    series: [{}, { label, stroke: color, width: 1.5, points: { show: false } }],
    legend: { live: false },
  };
  const plot = new uPlot(opts, [[], []], el);
  const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth), height: 220 }));
  resize.observe(el);
  return {
    // ys against xs (default 1, 2, 3, …)
    update(ys, xs) {
      const y = Array.from(ys).map((v) => (Number.isFinite(v) && v > 0 ? v : null));
      plot.setData([xs ? Array.from(xs) : y.map((_, i) => i + 1), y]);
    },
  };
}
