// The "forward process & Gaussianity" panel: a molecule set (bundled QM9 subset, a user's XYZ,
// or the reference sampler's samples), the forward trajectory of 1–64 molecules on a scrubber,
// and the T* study plotted over t with T* marked on the plot, on the scrubber and in the viewer.
import uPlot from "../pkg/vendor/uPlot.esm.js";

import { $, guarded, inSlices } from "./ui.js";
const QM9_URL = "www/data/qm9_subset.xyz";
const COLORS = { positions: "#7fd1e3", types: "#f2a65a", charges: "#b48ef0", pooled: "#9be37f" };

export function wireForward(pg, { showError, refresh, transport }) {
  let datasetName = null;
  let dataset = null; // {source, name, text}: what restore loads again
  let lastStudy = null;
  let view = null; // {steps, options}
  let tStar = null;
  let studying = null;

  const plotEl = $("fw-plot");
  let plot = null;
  const drawPlot = (result) => {
    const t = result.curves[0].t;
    const series = [{}];
    const data = [t];
    for (const c of result.curves) {
      series.push({ label: `${c.modality} pass rate`, stroke: COLORS[c.modality], width: 2, scale: "rate" });
      data.push(c.pass_rate);
    }
    const pos = result.pooled?.curves.find((c) => c.modality === "positions");
    if (pos) {
      series.push({ label: "pooled MI, neighbouring atoms (nats)", stroke: COLORS.pooled, width: 2, dash: [6, 4], scale: "mi" });
      data.push(pos.mi);
    }
    plot?.destroy();
    plot = new uPlot({
      width: Math.max(220, plotEl.clientWidth), height: 240,
      scales: { x: { time: false }, rate: { range: [0, 1] }, mi: { range: (u, lo, hi) => [0, Math.max(0.05, hi)] } },
      axes: [{ label: "diffusion step t", stroke: "#9aa3b2", grid: { stroke: "#2b3140" } },
        { scale: "rate", label: "molecules passing", stroke: "#9aa3b2", grid: { stroke: "#2b3140" } },
        { scale: "mi", side: 1, label: "MI (nats)", stroke: COLORS.pooled, grid: { show: false } }],
      series,
      hooks: { draw: [(u) => {
        if (tStar === null) return;
        const x = u.valToPos(tStar, "x", true);
        const ctx = u.ctx;
        ctx.save();
        ctx.strokeStyle = "#ff6b6b"; ctx.lineWidth = 2 * devicePixelRatio; ctx.setLineDash([]);
        ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
        ctx.fillStyle = "#ff6b6b"; ctx.font = `${12 * devicePixelRatio}px system-ui`;
        ctx.fillText(`T* = ${tStar}`, x + 4 * devicePixelRatio, u.bbox.top + 14 * devicePixelRatio);
        ctx.restore();
      }] },
    }, data, plotEl);
    // clicking the plot jumps the viewer to that step
    plot.over.addEventListener("click", () => {
      const idx = plot.cursor.idx;
      if (idx !== null && idx !== undefined && view) setT(t[idx]);
    });
  };

  const setT = (t) => {
    const f = pg.setFrame(t);
    const label = `t = ${f.t} / ${f.steps} · α = ${f.alpha.toFixed(3)} · σ = ${f.sigma.toFixed(3)} · SNR = ${f.snr.toPrecision(3)}` +
      (f.past_t_star ? ` · past T* = ${f.t_star}: GAGA replaces this by the closed-form Gaussian` : "");
    transport.update("forward", { pos: f.t, length: f.steps, label, mark: tStar, markTitle: `T* = ${tStar}` });
    const banner = $("fw-banner");
    banner.hidden = !f.past_t_star;
    if (f.past_t_star) banner.textContent = `past T* = ${f.t_star}: GAGA replaces this part of the trajectory by the closed-form Gaussian N(0, ṽ)`;
    return f;
  };
  transport.register("forward", {
    empty: "Nothing to play yet: press Show trajectory (or pick the demo qm9-forward).",
    seek: (p) => setT(Math.round(p)),
    // another mode may have taken the viewer: the trajectory is recomputed (same seed, same frames)
    activate: async (pos) => {
      if (!view) { $("fw-banner").hidden = true; return; }
      if (pg.state().preset !== "molecules") show(view.options);
      setT(pos ?? 0);
    },
  });

  async function loadQm9() {
    const res = await fetch(QM9_URL);
    if (!res.ok) throw new Error(`${QM9_URL}: HTTP ${res.status}`);
    return useSet("xyz", "QM9 subset (bundled)", await res.text());
  }

  function useSet(source, name, text) {
    const info = pg.loadDataset(source, name, text);
    datasetName = name;
    dataset = { source, name, text };
    lastStudy = null;
    tStar = null;
    view = null; // the facade drops the old trajectory with the old set
    $("fw-banner").hidden = true;
    transport.clear("forward");
    $("fw-set").textContent = `${name}: ${info.molecules} molecules` + (info.skipped.length ? `, ${info.skipped.length} skipped (fewer than 4 atoms)` : "") +
      ` · modalities ${info.modalities.join(", ")}`;
    $("fw-result").textContent = "";
    return info;
  }

  function show(options = {}) {
    if (!datasetName) throw new Error("forward: load a molecule set first");
    const o = { count: Number($("fw-count").value), schedule: $("fw-schedule").value, ...options };
    const info = pg.showForward(o);
    if (info.limited) showError(info.limited);
    view = { steps: info.steps, options: o };
    setT(0);
    refresh();
    return info;
  }

  async function study(options = {}) {
    if (studying) throw new Error("gaussianity: a study is already running");
    if (!datasetName) await loadQm9();
    const o = { schedule: $("fw-schedule").value, molecules: 1000, ...options };
    pg.startGaussianity(o);
    $("fw-run").disabled = true;
    studying = (async () => {
      try {
        const p = await inSlices(() => pg.gaussianityStep(30), {
          each: (p) => {
            $("fw-progress").value = p.tested / p.total;
            $("fw-result").textContent = p.pooled_progress
              ? `calibrating the pooled measure against pure noise: draw ${p.pooled_progress[0]}/${p.pooled_progress[1]}…`
              : `testing molecules ${p.tested}/${p.total}…`;
          },
        });
        const r = p.result;
        lastStudy = r;
        tStar = r.t_star;
        pg.setTStar(tStar);
        const fmt = (v) => (v === null || v === undefined ? "never" : Math.round(v));
        const per = Object.entries(r.t_star_by_modality).map(([m, v]) => `${m} ${fmt(v)}`).join(", ");
        $("fw-result").textContent = `T* = ${fmt(r.t_star)} (marked: ${r.t_star_rule}) · mean over molecules ${fmt(r.t_star_mean)} · per modality: ${per}` +
          (r.pooled ? ` · calibrated pooled measure (thresholds from pure noise): ${fmt(r.pooled.t_star)}` : "") + " · published (QM9, EDM): 550" +
          (r.left_out?.molecules ? ` · ${r.left_out.molecules} molecules over ${r.left_out.max_atoms} atoms left out (the test's cost grows as atoms³; the CLI's molplay gaussianity has no bound)` : "");
        drawPlot(r);
        if (view && transport.active === "forward") setT(transport.position() ?? 0);
        return r;
      } finally {
        studying = null;
        $("fw-run").disabled = false;
      }
    })();
    return studying;
  }

  const guard = guarded(showError);
  $("fw-dataset").addEventListener("change", guard(async (e) => {
    if (e.target.value === "qm9") { await loadQm9(); show(); }
    else if (e.target.value === "reference") { useSet("reference", "reference sampler samples"); show(); }
    else $("fw-file").click();
  }));
  $("fw-file").addEventListener("change", guard(async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    useSet("xyz", file.name, await file.text());
    show();
  }));
  $("fw-show").addEventListener("click", guard(async () => { if (!datasetName) await loadQm9(); show(); }));
  $("fw-run").addEventListener("click", guard(() => study()));

  return {
    loadMolecules: async (source = "qm9", text) => {
      if (source === "qm9") return loadQm9();
      if (source === "reference") return useSet("reference", "reference sampler samples");
      if (typeof text !== "string") throw new TypeError("loadMolecules(name, xyzText): xyzText must be a string");
      return useSet("xyz", String(source), text);
    },
    forward: async (options = {}) => { if (!datasetName) await loadQm9(); return show(options); },
    setFrame: (t) => setT(Number(t)),
    gaussianity: async (options = {}) => {
      const last = pg.gaussianityResult() ?? lastStudy;
      if (last && Object.keys(options).length === 0) return last;
      return study(options);
    },
    benchForward: (frames = 200) => pg.benchForward(frames >>> 0),
    /// Resolves when no study is in flight.
    settled: () => studying?.catch(() => {}) ?? Promise.resolve(),
    /// On a new module: the molecule set, its T* and the trajectory shown, as they were.
    restore: () => {
      if (!dataset) return;
      const keep = { tStar, study: lastStudy, view, pos: transport.active === "forward" ? transport.position() : null };
      const set = $("fw-set").textContent, result = $("fw-result").textContent;
      useSet(dataset.source, dataset.name, dataset.text);
      $("fw-set").textContent = set;
      $("fw-result").textContent = result;
      tStar = keep.tStar;
      lastStudy = keep.study;
      pg.setTStar(tStar);
      if (keep.view) {
        show(keep.view.options);
        if (keep.pos !== null) setT(Math.round(keep.pos));
      }
    },
    ensureLoaded: async () => { if (!datasetName) await loadQm9(); },
    loadQm9, useSet, show, study,
    loadFile: (name, text) => { useSet("xyz", name, text); return show(); },
  };
}
