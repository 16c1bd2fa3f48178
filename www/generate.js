// The "Generate" panel: runs a reverse sampler in slices (the page keeps drawing between them),
// plays the kept reverse trajectory on a scrubber from t = T to 0 with T* marked, and compares
// full vs GAGA and the three rigid-motion treatments in a table and overlaid distance histograms.
// Every number comes from the Rust core; this file only wires controls.
import { histogramPlot, linePlot } from "./plot.js";

import { $, download, guarded, inSlices, oneAtATime, toBytes } from "./ui.js";
const PALETTE = ["#7fd1e3", "#f2a65a", "#b48ef0", "#9be37f", "#ff8fa3"];
const REFERENCE_COLOR = "#e6e8ee";

export function wireGenerate(pg, { showError, refresh, ensureMolecules, transport, networks, hasNetworks }) {
  let stopRequested = false;
  let view = null; // {fullT, tStar, gaga, tStart}
  let plot = null;
  let results = [];

  const fmt = (v, d = 3) => (v === null || v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(d));

  const options = () => {
    const num = (id) => ($(id).value === "" ? undefined : Number($(id).value));
    const o = {
      target: $("gen-target").value, sampler: $("gen-sampler").value, steps: num("gen-steps"),
      symmetry: $("gen-symmetry").value, gaga: $("gen-gaga").checked, samples: num("gen-samples"), seed: num("gen-seed"),
      engine: $("gen-engine").value,
    };
    const atoms = num("gen-atoms");
    if (atoms !== undefined) o.atoms = atoms;
    const tStar = num("gen-tstar");
    if (tStar !== undefined) o.tStar = tStar;
    for (const [k, v] of Object.entries(o)) {
      if (typeof v === "number" && !(Number.isInteger(v) && v >= 0)) throw new Error(`generate: ${k} must be a whole number ≥ 0, got ${$("gen-" + k.toLowerCase()).value}`);
    }
    return o;
  };

  const setT = (t) => {
    const f = pg.setGenerateTime(t);
    view.spacing = f.frames > 1 ? f.t_start / (f.frames - 1) : view.fullT;
    const label = `t = ${f.t.toFixed(1)} · frame ${f.frame}/${f.frames - 1}` + (f.t_star ? ` · T* = ${Math.round(f.t_star)}` : "");
    const hasMark = view.tStar !== null && view.tStar !== undefined;
    transport.update("generate", { pos: f.full_t - Math.max(t, f.t), length: f.full_t, label, mark: hasMark ? view.fullT - view.tStar : null, markTitle: hasMark ? `T* = ${Math.round(view.tStar)}` : "" });
    const banner = $("fw-banner");
    if (f.jumped) {
      banner.hidden = false;
      banner.textContent = `GAGA: jumped from the Gaussian — above T* = ${Math.round(f.t_star)} the trajectory is the closed-form N(0, ṽ), drawn in one step with no network evaluations`;
    } else if (f.past_t_star) {
      banner.hidden = false;
      banner.textContent = `above T* = ${Math.round(f.t_star)}: a GAGA run would not simulate this part`;
    } else banner.hidden = true;
    return f;
  };
  transport.register("generate", {
    empty: "Nothing to play yet: press Generate (or pick a generate demo).",
    seek: (p) => setT(view.fullT - p),
    step: () => view?.spacing ?? 1,
    activate: (pos) => { if (view) setT(view.fullT - (pos ?? view.fullT)); else $("fw-banner").hidden = true; },
  });

  const showStatus = (p) => {
    $("gen-progress").value = p.step / p.steps;
    $("gen-status").textContent = `step ${p.step}/${p.steps} · ${p.nfe.toLocaleString()} score evaluations · ${(p.ms / 1000).toFixed(2)} s`;
  };

  // EDM's atom / molecule stability (null for the chain and a positions-only network)
  const stabilityText = (st) => (st ? `${(100 * st.atom).toFixed(1)} % / ${(100 * st.molecule).toFixed(1)} %` : "–");

  const runLabel = (r) => `${r.sampler} · ${r.symmetry}` + (r.gaga ? ` · GAGA from T* = ${Math.round(r.t_star)}` : " · full from T");

  function drawTable() {
    const body = $("gen-table").querySelector("tbody");
    body.innerHTML = "";
    results.forEach((r, i) => {
      const tr = document.createElement("tr");
      const cells = [runLabel(r), fmt(r.nfe_per_sample, 0), `${r.seconds.toFixed(2)} s`, fmt(r.quality.distance_w2, 4),
        `${fmt(r.quality.mean_r2)} (${fmt(r.quality.reference_mean_r2)})`, stabilityText(r.stability), fmt(r.nearest_data_rmsd, 4)];
      for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.append(td); }
      tr.style.color = PALETTE[i % PALETTE.length];
      body.append(tr);
    });
    $("gen-table").hidden = results.length === 0;
    plot?.destroy();
    const names = [...results.map(runLabel), "reference"];
    const colors = [...results.map((_, i) => PALETTE[i % PALETTE.length]), REFERENCE_COLOR];
    plot = histogramPlot($("gen-plot"), names, colors, "interatomic distance");
    plot.update([...results.map((r) => r.distances), results.length ? results[results.length - 1].reference_distances : []]);
  }

  let last = null; // the options of the last run that finished (see restore)
  async function once(o) {
    if (o.target === "network") await networks();
    if (o.target === "molecules" || o.target === "orbits") await ensureMolecules();
    const info = pg.startGenerate(o);
    view = { fullT: 1000, tStar: info.t_star, gaga: info.gaga, tStart: info.t_start };
    $("gen-status").textContent = `${info.label}: ${info.samples} samples, ${info.steps} steps from t = ${Math.round(info.t_start)}`;
    const p = await inSlices(() => pg.generateStep(30), {
      stopped: () => stopRequested,
      each: (p) => {
        showStatus(p);
        if (transport.active === "generate") setT(view.tStart * (1 - p.step / p.steps));
        refresh();
      },
    });
    if (!p.done) throw new Error("generate: stopped");
    last = o;
    return p.result;
  }

  const runs = oneAtATime("generate: a run is in progress; stop it first", (busy) => {
    $("gen-run").disabled = $("gen-compare").disabled = busy;
    $("gen-stop").disabled = !busy;
  });
  const exclusive = (work) => runs.run(() => { stopRequested = false; return work(); });

  const sample = (o) => exclusive(async () => {
    const r = await once(o);
    results = [r];
    drawTable();
    $("gen-status").textContent = `${r.label}: ${r.samples} samples, ${r.nfe.toLocaleString()} score evaluations in ${r.seconds.toFixed(2)} s · distance W2 ${fmt(r.quality.distance_w2, 4)}` +
      (r.stability ? ` · stable atoms / molecules ${stabilityText(r.stability)} (elements: ${r.stability.elements})` : "");
    return r;
  });

  // full vs GAGA (same step size), then the three rigid-motion treatments (full)
  const compare = (o) => exclusive(async () => {
    results = [];
    const base = { ...o, gaga: false };
    const runs = [
      () => ({ ...base, symmetry: "equivariant" }),
      // GAGA with the full run's step size: T*/T of its steps
      () => ({ ...base, symmetry: "equivariant", gaga: true, tStar: results[0].t_star, steps: Math.max(1, Math.round((base.steps * results[0].t_star) / 1000)) }),
      // the GPU update covers the equivariant treatment only
      () => ({ ...base, symmetry: "align", engine: "cpu" }),
      () => ({ ...base, symmetry: "quotient", engine: "cpu" }),
    ];
    for (const make of runs) {
      results.push(await once(make()));
      drawTable();
    }
    const [full, gaga] = results;
    $("gen-status").textContent = `GAGA used ${fmt((100 * gaga.nfe) / full.nfe, 0)} % of the full sampler's score evaluations and ${fmt((100 * gaga.seconds) / full.seconds, 0)} % of its time ` +
      `(distance W2 ${fmt(gaga.quality.distance_w2, 4)} vs ${fmt(full.quality.distance_w2, 4)}); the histograms overlay every run on the reference`;
    return { runs: results, nfe_ratio: gaga.nfe / full.nfe, time_ratio: gaga.seconds / full.seconds };
  });

  const guard = guarded(showError);
  $("gen-run").addEventListener("click", guard(() => sample(options())));
  $("gen-compare").addEventListener("click", guard(() => compare(options())));
  $("gen-stop").addEventListener("click", () => { stopRequested = true; });
  $("gen-target").addEventListener("change", () => {
    // a chain needs a size; molecules default to the set's most common one
    $("gen-atoms").value = $("gen-target").value === "chain" ? 8 : "";
  });

  // the score network: trained in slices, stoppable, its loss plotted live
  let stopTraining = false;
  let lossPlot = null;
  const trainings = oneAtATime("train: training is in progress; stop it first", (busy) => {
    $("gen-train").disabled = busy;
    $("gen-train-stop").disabled = !busy;
  });
  const train = (o, steps) => {
    if (!(Number.isInteger(steps) && steps >= 1)) return Promise.reject(new Error("train: steps must be a whole number ≥ 1"));
    stopTraining = false;
    return trainings.run(async () => {
      await networks();
      if ((o.target ?? "chain") === "molecules") await ensureMolecules();
      let st = pg.startScoreTraining(o);
      $("gen-loss").hidden = false;
      lossPlot ??= linePlot($("gen-loss"), "DSM loss", "#9be37f");
      // (setting up and the first step are separate tasks: the first step also compiles code)
      if (st.steps < steps && !stopTraining && !st.stopped) {
        st = await inSlices(() => pg.scoreTrainStep(30, steps - st.steps), {
          until: (s) => s.steps >= steps || s.stopped,
          stopped: () => stopTraining,
          each: (s) => {
            st = s;
            lossPlot.update(st.losses);
            $("gen-train-status").textContent = `${st.steps}/${steps} steps on ${st.label} · loss ${st.loss?.toFixed(4) ?? "—"} · ${(st.ms / 1000).toFixed(1)} s` +
              ` · ${st.device === "webgpu" ? "WebGPU" : "CPU"}` + (st.stopped ? ` · stopped: ${st.stopped}` : "");
          },
        });
      }
      if (st.stopped) throw new Error(`train: ${st.stopped}`);
      return st;
    });
  };
  const trainOptions = () => {
    const o = { target: ["molecules", "orbits"].includes($("gen-target").value) ? "molecules" : "chain", seed: Number($("gen-seed").value) || 0, device: $("net-device").value };
    if ($("gen-atoms").value !== "") o.atoms = Number($("gen-atoms").value);
    if ($("gen-gaga").checked) o.tMax = $("gen-tstar").value === "" ? 650 : Number($("gen-tstar").value);
    return o;
  };
  $("gen-train").addEventListener("click", guard(() => train(trainOptions(), 2000)));
  $("gen-train-stop").addEventListener("click", () => { stopTraining = true; });
  const scoreWeights = () => {
    if (!hasNetworks()) throw new Error("scoreWeights: train a network first"); // none exists before the networks' module
    return pg.scoreWeights();
  };
  $("gen-train-save").addEventListener("click", guard(() => download(scoreWeights(), "score-network.mpw")));
  const loadScoreWeights = async (name, data) => {
    const bytes = toBytes(data, "loadScoreWeights(name, data)", { text: false });
    await networks();
    try {
      return pg.loadScoreWeights(String(name), bytes);
    } catch (e) {
      // a molecule network needs the molecule set: load the bundled one and try once more
      if (!/needs its molecule set/.test(e.message)) throw e;
      await ensureMolecules();
      return pg.loadScoreWeights(String(name), bytes);
    }
  };
  $("gen-train-file").addEventListener("change", guard(async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    await networks();
    await ensureMolecules();
    const st = pg.loadScoreWeights(file.name, new Uint8Array(await file.arrayBuffer()));
    $("gen-train-status").textContent = `loaded ${st.label}: ` + (st.steps > 0 ? `${st.steps} training steps` : "pretrained (its training steps not recorded in the file)");
  }));
  // a score network trained natively (molplay train-score), so the network target works at once
  const SCORE_PRESET = "www/presets/qm9-19-score.mpw";
  const loadPreset = () => trainings.run(async () => {
    await networks();
    const res = await fetch(SCORE_PRESET);
    if (!res.ok) throw new Error(`${SCORE_PRESET}: HTTP ${res.status}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    await ensureMolecules();
    const st = pg.loadScoreWeights("pretrained QM9 network", bytes);
    $("gen-target").value = "network";
    $("gen-train-status").textContent = `loaded ${st.label}: Sample now draws from it`;
    return st;
  });
  $("gen-train-preset").addEventListener("click", guard(loadPreset));

  const checkOptions = (o) => {
    if (typeof o !== "object" || o === null) throw new TypeError("options must be an object");
    return o;
  };
  return {
    sample: (o = {}) => sample(checkOptions(o)),
    train: (o = {}) => {
      if (typeof o !== "object" || o === null) return Promise.reject(new TypeError("train(options): options must be an object"));
      const { steps = 500, ...rest } = o;
      return train(rest, steps);
    },
    stopTrain: () => { stopTraining = true; return trainings.settled(); },
    trainStatus: () => pg.scoreStatus(),
    scoreWeights,
    loadScoreWeights,
    loadScorePreset: loadPreset,
    compareSamplers: (o = {}) => compare({ steps: 200, samples: 200, ...checkOptions(o) }),
    setGenerateTime: (t) => setT(Number(t)),
    stopSample: () => { stopRequested = true; return runs.settled(); },
    sampleResult: () => pg.generateResult(),
    /// Resolves when no run is in flight.
    settled: () => runs.settled(),
    /// On a new module (the page moved to the networks' one): the last run again, from its seed
    /// (the same samples), so its trajectory and samples are there as before.
    restore: async () => {
      if (!last) { view = null; return; }
      await exclusive(() => once(last));
    },
  };
}
