// Whole molecules in the Generate panel: loads a whole-molecule network (the bundled preset or a
// file), generates molecules from noise in slices, plays the kept trajectories on the scrubber
// with T* of positions and of types marked, and compares full vs GAGA in a table. Every number
// comes from the Rust core (app::molecules); this file only wires controls.
import { $, guarded, inSlices, oneAtATime, toBytes } from "./ui.js";

export const MOLECULES_PRESET = "www/presets/qm9-molecules.mpj";

export function wireMolecules(pg, { showError, refresh, transport, networks }) {
  let stopRequested = false;
  let view = null; // {tStart, fullT, tStarPositions, tStarTypes, spacing}
  let results = [];
  let loaded = null;

  const pct = (v) => (Number.isFinite(v) ? `${(100 * v).toFixed(1)} %` : "—");

  const setT = (t) => {
    const f = pg.setMoleculesTime(t);
    view.spacing = f.frames > 1 ? f.t_start / (f.frames - 1) : f.full_t;
    const label = `t = ${f.t.toFixed(1)} · frame ${f.frame}/${f.frames - 1} · types decided: ${f.decided}/${f.atoms} atoms`;
    transport.update("molecules", {
      pos: f.full_t - Math.max(t, f.t), length: f.full_t, label,
      mark: f.full_t - f.t_star_positions, markTitle: `T* of positions = ${Math.round(f.t_star_positions)}`,
      mark2: f.full_t - f.t_star_types, mark2Title: `T* of types = ${Math.round(f.t_star_types)}`,
    });
    const banner = $("fw-banner");
    banner.hidden = !(f.t_start < f.full_t);
    if (!banner.hidden) banner.textContent = `GAGA: started at T* = ${Math.round(f.t_start)} from the closed-form Gaussian; nothing above it was simulated`;
    return f;
  };
  transport.register("molecules", {
    empty: "Nothing to play yet: press Generate molecules (or pick the qm9-molecules demo).",
    seek: (p) => setT(view.fullT - p),
    step: () => view?.spacing ?? 1,
    activate: (pos) => { if (view) setT(view.fullT - (pos ?? view.fullT)); },
  });

  const load = async (name, bytes) => {
    await networks();
    loaded = pg.loadMoleculeModel(name, bytes);
    $("mol-status").textContent = `${name}: elements ${loaded.elements.join(" ")}, molecules of up to ${loaded.largest} atoms; ` +
      `${loaded.steps.toLocaleString()} training steps (${loaded.cpu_hours.toFixed(1)} CPU-hours) on t ≤ ${loaded.t_max}`;
    return loaded;
  };
  const ensureModel = async () => {
    if (loaded) return loaded;
    const res = await fetch(MOLECULES_PRESET);
    if (!res.ok) throw new Error(`${MOLECULES_PRESET}: HTTP ${res.status}`);
    return load("pretrained QM9 whole-molecule network", new Uint8Array(await res.arrayBuffer()));
  };

  const options = () => {
    const num = (id) => Number($(id).value);
    const o = { gaga: $("mol-gaga").checked, variance: $("mol-variance").value, steps: num("mol-steps"), samples: num("mol-samples"), seed: Number($("gen-seed").value) || 0 };
    for (const k of ["steps", "samples"]) {
      if (!(Number.isInteger(o[k]) && o[k] >= 1)) throw new Error(`generateMolecules: ${k} must be a whole number ≥ 1, got ${$("mol-" + k).value}`);
    }
    return o;
  };

  async function once(o) {
    await ensureModel();
    const info = pg.startMolecules(o);
    view = { fullT: 1000, tStart: info.t_start };
    await transport.use("molecules");
    $("mol-status").textContent = `${info.label}: ${info.samples} molecules, ${info.steps} steps from t = ${Math.round(info.t_start)}`;
    const p = await inSlices(() => pg.moleculesStep(30), {
      stopped: () => stopRequested,
      each: (p) => {
        $("mol-progress").value = p.step / p.steps;
        if (transport.active === "molecules") setT(view.tStart * (1 - p.step / p.steps));
        refresh();
      },
    });
    if (!p.done) throw new Error("generateMolecules: stopped");
    // replay from the start so the types' colours emerge where they were decided
    if (transport.active === "molecules") setT(view.tStart);
    return p.result;
  }

  function drawTable() {
    const body = $("mol-table").querySelector("tbody");
    body.innerHTML = "";
    for (const r of results) {
      const tr = document.createElement("tr");
      const cells = [r.label, Math.round(r.t_start), r.nfe_per_molecule.toFixed(0), `${r.seconds.toFixed(1)} s`,
        `${pct(r.stability.atom)} / ${pct(r.stability.molecule)}`, pct(r.validity.validity), pct(r.validity.uniqueness), pct(r.validity.valid_and_unique)];
      for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.append(td); }
      body.append(tr);
    }
    $("mol-table").hidden = results.length === 0;
  }

  const runs = oneAtATime("generateMolecules: a run is in progress; stop it first", (busy) => {
    $("mol-run").disabled = $("mol-compare").disabled = busy;
    $("mol-stop").disabled = !busy;
  });
  const exclusive = (work) => runs.run(() => { stopRequested = false; return work(); });

  const generate = (o) => exclusive(async () => {
    const r = await once(o);
    results = [r];
    drawTable();
    $("mol-status").textContent = `${r.label}: ${r.samples} molecules · stable atoms ${pct(r.stability.atom)}, molecules ${pct(r.stability.molecule)} · valid ${pct(r.validity.validity)}, unique ${pct(r.validity.uniqueness)}`;
    return r;
  });

  // full vs GAGA (pooled and per-modality start) on the same network, molecules and seed
  const compare = (o) => exclusive(async () => {
    results = [];
    for (const row of [{ gaga: false }, { gaga: true, variance: "pooled" }, { gaga: true, variance: "per-modality" }]) {
      results.push(await once({ ...o, ...row }));
      drawTable();
    }
    const [full, gaga] = results;
    $("mol-status").textContent = `GAGA used ${((100 * gaga.nfe_per_molecule) / full.nfe_per_molecule).toFixed(0)} % of the full sampler's network evaluations ` +
      `and ${((100 * gaga.seconds) / full.seconds).toFixed(0)} % of its time`;
    return { rows: results, nfe_ratio: gaga.nfe_per_molecule / full.nfe_per_molecule };
  });

  const guard = guarded(showError);
  $("mol-run").addEventListener("click", guard(() => generate(options())));
  $("mol-compare").addEventListener("click", guard(() => compare(options())));
  $("mol-stop").addEventListener("click", () => { stopRequested = true; });
  $("mol-file").addEventListener("change", guard(async (e) => {
    const file = e.target.files[0];
    if (file) await load(file.name, new Uint8Array(await file.arrayBuffer()));
  }));

  const checkOptions = (o) => {
    if (typeof o !== "object" || o === null) throw new TypeError("options must be an object");
    return o;
  };
  return {
    generateMolecules: (o = {}) => generate({ gaga: true, steps: 200, samples: 32, ...checkOptions(o) }),
    compareMolecules: (o = {}) => compare({ steps: 200, samples: 32, ...checkOptions(o) }),
    loadMoleculePreset: ensureModel,
    loadMoleculeModel: (name, data) => load(String(name), toBytes(data, "loadMoleculeModel(name, data)", { text: false })),
    setMoleculesTime: (t) => setT(Number(t)),
    moleculesResult: () => pg.moleculesResult(),
    stopMolecules: () => { stopRequested = true; return runs.settled(); },
  };
}
