// The "Learn from energy" panel (Adjoint Sampling): a learner trained in slices (the page keeps
// drawing), its sub-steps runnable one at a time, counters, the loss and the energy histogram of
// the newest samples against the reference, and the newest simulated trajectory on a scrubber.
// Every number comes from the Rust core; this file only wires controls.
import { histogramPlot, linePlot } from "./plot.js";

import { $, download, guarded, inSlices, oneAtATime, toBytes } from "./ui.js";
const PRESETS = { dw4: "www/presets/dw4-demo.mpa", lj13: "www/presets/lj13-demo.mpa" };
// molplay's own ground truth, bundled so a learner's histogram has its reference at once: 1000
// PT-MALA samples each (README: how they were made, and how they compare with the field's sets)
const REFERENCE_SETS = { dw4: "www/data/dw4-reference.npy", lj13: "www/data/lj13-reference.npy" };

export function wireAdjoint(pg, { showError, refresh, transport, showSystem, showSampleNear, networks }) {
  let pauseRequested = false;
  const loss = linePlot($("as-loss"), "RAM loss", "#f2a65a");
  // the run's record in the controller's file: a preset's energy W2 along its native training
  const history = linePlot($("as-history"), "energy W2 vs test set", "#9ee37f", "epoch");
  // a click on the histogram shows the newest sample with the energy under the cursor
  const hist = histogramPlot($("as-hist"), ["newest samples", "reference"], ["#7fd1e3", "#e6e8ee"], "energy E(x)",
    { onPick: (e) => { try { showSampleNear("adjoint", e); } catch (err) { showError(err.message); } } });

  const reference = (system) => {
    const ours = pg.referenceSamples?.();
    const loaded = pg.loadedSamples?.();
    if (loaded && loaded.system === system) return loaded.energies;
    if (ours && ours.system === system) return ours.energies;
    return [];
  };

  /// Loads the bundled reference set of `system` when the page has none for it (no reference
  /// run, no loaded set of that system): the learner's histogram then shows against it.
  async function bundledReference(system) {
    const url = REFERENCE_SETS[system];
    if (!url || reference(system).length > 0) return;
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (reference(system).length > 0) return; // one arrived meanwhile
    const set = pg.loadSamples(system, `${system}-reference.npy (bundled: molplay's PT-MALA)`, bytes);
    $("ref-loaded").textContent = `${set.file}: ${set.count} configurations of ${set.system}`;
  }

  const show = (st) => {
    if (!st) return;
    const c = st.counters;
    $("as-status").textContent = `${st.system} · ${st.phase}` + (st.stopped ? ` · stopped: ${st.stopped}` : "");
    const rows = [
      ["epochs", c.epochs], ["energy evaluations", c.energy_evaluations.toLocaleString()], ["model evaluations", c.model_evaluations.toLocaleString()],
      ["gradient steps", c.gradient_steps.toLocaleString()], ["gradient steps per energy evaluation", st.gradient_steps_per_energy_evaluation.toFixed(3)],
      ["replay buffer", `${c.buffer} / ${st.config.buffer}`], ["time", `${(st.ms / 1000).toFixed(1)} s`],
      ["network on", st.device === "webgpu" ? "WebGPU" : "CPU"],
    ];
    const box = $("as-counters");
    box.innerHTML = "";
    for (const [k, v] of rows) {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd"); dd.textContent = v;
      box.append(dt, dd);
    }
    $("as-buffer").value = c.buffer / st.config.buffer;
    loss.update(st.losses);
    hist.update([st.energies, reference(st.system)]);
    const evals = st.history.evaluations.filter((e) => Number.isFinite(e.energy_w2));
    $("as-history-box").hidden = evals.length === 0;
    if (evals.length) {
      history.update(evals.map((e) => e.energy_w2), evals.map((e) => e.epoch));
      const last = evals.at(-1);
      const best = evals.reduce((a, b) => (b.energy_w2 < a.energy_w2 ? b : a));
      $("as-history-note").textContent = `Trained natively: ${st.history.losses.length} epochs, ${last.counters.gradient_steps.toLocaleString()} gradient steps, `
        + `${(st.history.seconds / 60).toFixed(1)} min on the CPU. Energy W2 against the field's test set (1000 samples per evaluation): `
        + `${last.energy_w2.toFixed(2)} at epoch ${last.epoch}, best ${best.energy_w2.toFixed(2)} at epoch ${best.epoch}.`;
    }
  };

  const setFrame = (k) => {
    const f = pg.setAdjointFrame(k);
    const label = `u = ${f.u.toFixed(2)} (frame ${f.frame}/${f.frames - 1}): from the point at u = 0 to the samples at u = 1`;
    transport.update("learn", { pos: f.frame, length: f.frames - 1, label, mark: null });
    $("fw-banner").hidden = true;
    refresh();
    return f;
  };
  transport.register("learn", {
    empty: "Nothing to play yet: load the pretrained learner or train (the paths from u = 0 to 1 play here).",
    seek: (p) => setFrame(Math.round(p)),
    // the newest paths if there are any, else the system's configuration
    activate: async (pos) => {
      $("fw-banner").hidden = true;
      const st = pg.adjointStatus();
      if (st && st.frames > 0) setFrame(pos ?? st.frames - 1);
      else await showSystem();
    },
  });

  const jobs = oneAtATime("trainAdjoint: the learner is busy; pause it first", (busy) => {
    $("as-train").textContent = busy ? "Pause" : "Train";
    for (const id of ["as-refresh", "as-regress", "as-scratch", "as-preset", "as-save"]) $(id).disabled = busy;
  });

  function drive(mode, { epochs = Infinity } = {}) {
    if (!pg.adjointStatus()) throw new Error("trainAdjoint: start or load a learner first");
    pauseRequested = false;
    const until = pg.adjointStatus().counters.epochs + epochs;
    return jobs.run(async () => {
      // (the first slice is not in the task that started the learner)
      return inSlices(() => pg.adjointStep(30, mode), {
        each: (st) => {
          show(st);
          if (st.frames > 0 && st.frame === st.frames - 1 && transport.active === "learn") setFrame(st.frame);
          if (st.stopped) throw new Error(`trainAdjoint: ${st.stopped}`);
        },
        stopped: () => pauseRequested,
        // a sub-step mode ends when its sub-step has completed
        until: (st) => st.counters.epochs >= until || (mode === "refresh" && st.phase.startsWith("regression")) || (mode === "regress" && !st.phase.startsWith("regression")),
      });
    });
  }

  const start = (o) => { const st = pg.startAdjoint(o); transport.clear("learn"); show(st); return st; };
  async function preset(system) {
    const url = PRESETS[system];
    if (!url) throw new Error(`no pretrained weights for ${system} yet: train from scratch`);
    await networks();
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    const st = pg.loadAdjointWeights(url, new Uint8Array(await res.arrayBuffer()), system);
    await bundledReference(system);
    show(st);
    await drive("refresh");
    return pg.adjointStatus();
  }

  const options = () => ({ system: $("as-system").value, seed: Number($("as-seed").value), device: $("net-device").value });
  const guard = guarded(showError);
  $("as-scratch").addEventListener("click", guard(async () => { const st = start(options()); await bundledReference(st.system); return st; }));
  $("as-preset").addEventListener("click", guard(() => preset($("as-system").value)));
  $("as-train").addEventListener("click", guard(() => {
    if (jobs.busy) { pauseRequested = true; return null; }
    if (!pg.adjointStatus()) start(options());
    return drive("train");
  }));
  $("as-refresh").addEventListener("click", guard(() => drive("refresh")));
  $("as-regress").addEventListener("click", guard(() => drive("regress")));
  $("as-save").addEventListener("click", guard(() => jobs.run(async () => download(await pg.adjointWeights(), `${pg.adjointStatus().system}-adjoint.mpa`))));
  $("as-file").addEventListener("change", guard(async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    await networks();
    show(pg.loadAdjointWeights(file.name, new Uint8Array(await file.arrayBuffer()), $("as-system").value));
  }));

  return {
    trainAdjoint: async (o = {}) => {
      if (typeof o !== "object" || o === null) throw new TypeError("trainAdjoint(options): options must be an object");
      const { epochs, resume, ...rest } = o;
      if (epochs !== undefined && !(Number.isInteger(epochs) && epochs >= 1)) throw new Error("trainAdjoint: epochs must be a whole number ≥ 1");
      await networks();
      if (!resume || !pg.adjointStatus()) {
        start({ system: $("as-system").value, device: $("net-device").value, ...rest });
        await bundledReference(pg.adjointStatus().system);
      }
      return drive("train", { epochs: epochs ?? Infinity });
    },
    adjointStatus: () => pg.adjointStatus(),
    adjointSubstep: (mode) => {
      if (mode !== "refresh" && mode !== "regress") return Promise.reject(new Error('adjointSubstep(mode): mode must be "refresh" or "regress"'));
      return drive(mode);
    },
    pauseAdjoint: () => { pauseRequested = true; return jobs.settled(); },
    loadAdjointPreset: (system = "dw4") => preset(String(system)),
    loadAdjointWeights: async (name, data, system) => {
      const bytes = toBytes(data, "loadAdjointWeights(name, data, system)", { text: false });
      await networks();
      const st = pg.loadAdjointWeights(String(name), bytes, system === undefined ? undefined : String(system));
      show(st);
      return st;
    },
    adjointWeights: () => jobs.run(async () => { await networks(); return pg.adjointWeights(); }),
    setAdjointFrame: (k) => setFrame(Number(k)),
    benchNetworks: async (reps = 3) => { await networks(); return pg.benchNetworks(reps >>> 0); },
  };
}
