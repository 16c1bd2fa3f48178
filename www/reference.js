// The "ground truth" panel: runs the reference sampler in slices (the page keeps drawing between
// them), plots its energy histogram against a loaded reference set, and shows the metrics.
import { histogramPlot } from "./plot.js";

import { $, inSlices, toBytes } from "./ui.js";
const fmt = (v, digits = 3) => (v === null || v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(digits));

// The reference sampler belongs to the Learn from energy mode, which runs on the networks'
// module: a run or a loaded set waits for it (`networks`), so no reference work is ever left
// behind on the first module.
export function wireReference(pg, { currentSystem, showError, refresh, networks }) {
  const series = [["sampler", "reference set"], ["#7fd1e3", "#f2a65a"]];
  const plot = histogramPlot($("ref-plot"), ...series, "energy E(x)",
    { onPick: (e) => { try { showSampleNear("reference", e); } catch (err) { showError(err.message); } } });
  const distPlot = histogramPlot($("ref-dist-plot"), ...series, "interatomic distance");
  let running = null; // promise of the active run
  let stopRequested = false;
  let lastCount = -1;

  const redraw = () => {
    const ours = pg.referenceSamples();
    const theirs = pg.loadedSamples();
    const sameSystem = ours && theirs && ours.system === theirs.system;
    const overlay = theirs && (!ours || sameSystem);
    plot.update([ours ? ours.energies : [], overlay ? theirs.energies : []]);
    distPlot.update([ours ? ours.distances : [], overlay ? theirs.distances : []]);
  };

  const showStatus = (p) => {
    $("ref-progress").value = p.fraction;
    const r = p.report;
    const acc = r.acceptance.map((a) => a.toFixed(2)).join(" ");
    const sw = r.swap_acceptance.map((a) => a.toFixed(2)).join(" ");
    const phase = p.phase === "burn-in" ? `burn-in (${r.sweeps}/${p.burn_in_sweeps} sweeps)` : p.phase === "done" ? "done" : "sampling";
    $("ref-status").textContent = `${phase} on the ${p.engine === "gpu" ? "GPU (WebGPU)" : "CPU"} · ${p.samples}/${p.target} samples · ` +
      `acceptance per temperature [${acc || "…"}] · swaps [${sw || "…"}] · resets ${r.resets} · ${r.energy_evaluations.toLocaleString()} energy evaluations`;
  };

  const showMetrics = () => {
    const box = $("ref-metrics");
    let m;
    try { m = pg.metrics(200); } catch { box.hidden = true; return null; }
    box.innerHTML = "";
    const rows = [
      ["energy W2", fmt(m.energy_w2, 4)], ["distance W2", fmt(m.distance_w2, 4)],
      [`sample W2 (${m.sample_w2_n} vs ${m.sample_w2_n})`, fmt(m.sample_w2, 4)],
      ["E mean ± sd", `${fmt(m.energy_mean)} ± ${fmt(m.energy_sd)} (set ${fmt(m.reference_energy_mean)} ± ${fmt(m.reference_energy_sd)})`],
      ["virial ⟨x·∇E⟩", `${fmt(m.virial)} (expected ${m.virial_expected})`],
      ["temperature ⟨|∇E|²⟩/⟨ΔE⟩", `${fmt(m.temperature, 4)} (τ = ${m.temperature_expected})`],
    ];
    for (const [k, v] of rows) {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd"); dd.textContent = v;
      box.append(dt, dd);
    }
    box.hidden = false;
    return m;
  };

  async function run(options) {
    if (running) throw new Error("runReference: a run is already in progress; stop it first");
    await networks();
    if (running) throw new Error("runReference: a run is already in progress; stop it first");
    stopRequested = false;
    let p = pg.startReference(options);
    $("ref-run").disabled = true;
    $("ref-stop").disabled = false;
    $("ref-metrics").hidden = true;
    lastCount = -1;
    showStatus(p);
    const loop = (async () => {
      try {
        p = await inSlices(() => pg.referenceStep(30), {
          until: (p) => p.phase === "done",
          stopped: () => stopRequested,
          each: (p) => {
            showStatus(p);
            if (p.samples !== lastCount) { lastCount = p.samples; redraw(); refresh(); }
          },
        });
        redraw();
        showMetrics();
        return p;
      } finally {
        running = null;
        $("ref-run").disabled = false;
        $("ref-stop").disabled = true;
      }
    })();
    running = loop;
    return loop;
  }

  async function stop() {
    stopRequested = true;
    if (running) await running.catch(() => {});
  }

  async function loadFile(name, bytes) {
    await networks();
    const set = pg.loadSamples(currentSystem(), name, bytes);
    $("ref-loaded").textContent = `${set.file}: ${set.count} configurations of ${set.system}`;
    redraw();
    showMetrics();
    return set;
  }

  $("ref-run").addEventListener("click", () => {
    showError("");
    const samples = Number($("ref-samples").value), seed = Number($("ref-seed").value);
    if (!Number.isInteger(samples) || samples < 1 || samples > 100000) return showError("samples must be a whole number from 1 to 100 000");
    if (!Number.isInteger(seed) || seed < 0) return showError("seed must be a whole number ≥ 0");
    run({ system: currentSystem(), samples, seed }).catch((e) => showError(e.message));
  });
  $("ref-stop").addEventListener("click", () => stop());
  const readFile = (file) => file.arrayBuffer().then((b) => loadFile(file.name, new Uint8Array(b))).catch((e) => showError(e.message));
  $("ref-file").addEventListener("change", (e) => { showError(""); if (e.target.files[0]) readFile(e.target.files[0]); });
  /// Shows the sample of "adjoint" or "reference" with the energy nearest `energy` (a click on
  /// an energy histogram does this).
  function showSampleNear(source, energy) {
    const r = pg.showSampleNear(String(source), Number(energy));
    $("scrub-label").textContent = `${source === "adjoint" ? "newest Adjoint Sampling sample" : "reference sample"} ${r.index + 1} of ${r.count}, E = ${r.energy.toFixed(3)} (picked on the histogram)`;
    refresh();
    return r;
  }
  return {
    loadFile, run, showSampleNear,
    runReference: (options = {}) => {
      if (typeof options !== "object" || options === null) return Promise.reject(new TypeError("runReference(options): options must be an object"));
      return run({ system: currentSystem(), ...options });
    },
    stopReference: stop,
    referenceStatus: () => ({ running: running !== null, samples: pg.referenceSamples() }),
    loadSamples: async (fileName, data) => {
      if (typeof fileName !== "string") throw new TypeError("loadSamples(fileName, data): fileName must be a string ending in .npy or .xyz");
      return loadFile(fileName, toBytes(data, "loadSamples(fileName, data)"));
    },
    metrics: ({ sampleW2 = 200 } = {}) => pg.metrics(Math.max(0, Math.min(2000, sampleW2 >>> 0))),
    benchMcmc: (name, chains = 100, sweeps = 20) => pg.benchMcmc(String(name), chains >>> 0, sweeps >>> 0),
  };
}
