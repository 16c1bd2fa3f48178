// Quotient training in the Generate panel (issue 18): loads the four shipped conformer networks
// (or trains one objective in the tab on a small set), judges every loaded network on the same
// held-out QM9 molecules with the same sampler seeds, shows COV / AMR per objective in a table
// and each molecule's best RMSD as histograms, and puts a generated conformer on its reference
// in the viewer. Every number comes from the Rust core (app::conformers); this file only wires.
import { histogramPlot, linePlot } from "./plot.js";
import { $, guarded, inSlices, oneAtATime, toBytes } from "./ui.js";

const QM9_URL = "www/data/qm9_subset.xyz";
export const OBJECTIVES = ["conventional", "geodiff", "af3", "quotient"];
const NAMES = { conventional: "conventional", geodiff: "GeoDiff alignment", af3: "AF3 alignment", quotient: "quotient" };
const COLORS = { conventional: "#7fd1e3", geodiff: "#f2a65a", af3: "#b48ef0", quotient: "#9be37f" };
const shipped = (o) => `www/presets/conformers-${o}.mpc`;

export function wireConformers(pg, { showError, networks }) {
  let stopRequested = false;
  let setInfo = null;
  let plot = null;
  let lossPlot = null;
  let result = null;
  let shown = { objective: null, molecule: 0 };

  const fmt = (v, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : "—");

  const ensureSet = async () => {
    await networks();
    if (setInfo) return setInfo;
    const res = await fetch(QM9_URL);
    if (!res.ok) throw new Error(`${QM9_URL}: HTTP ${res.status}`);
    setInfo = pg.loadConformerSet("QM9 subset (bundled)", await res.text());
    return setInfo;
  };

  const describe = () => {
    const models = pg.conformerModels();
    if (models.length === 0) return "No conformer network loaded yet.";
    return `${setInfo ? `${setInfo.name}: ${setInfo.train} training, ${setInfo.test} held-out molecules · ` : ""}loaded: ` +
      models.map((m) => `${NAMES[m.objective]} (${m.steps.toLocaleString()} steps, ${m.hidden} × ${m.layers})`).join(", ");
  };

  const load = async (name, bytes) => {
    await ensureSet();
    const info = pg.loadConformerModel(name, bytes);
    $("cf-status").textContent = describe();
    return info;
  };

  const loadShipped = async () => {
    await ensureSet();
    const out = [];
    for (const o of OBJECTIVES) {
      const res = await fetch(shipped(o));
      if (!res.ok) throw new Error(`${shipped(o)}: HTTP ${res.status}`);
      out.push(await load(`shipped ${NAMES[o]} network`, new Uint8Array(await res.arrayBuffer())));
    }
    return out;
  };

  const runs = oneAtATime("conformers: a run is in progress; stop it first", (busy) => {
    $("cf-judge").disabled = $("cf-train").disabled = $("cf-load").disabled = $("cf-file").disabled = busy;
    $("cf-stop").disabled = !busy;
  });
  const exclusive = (work) => runs.run(() => { stopRequested = false; return work(); });

  const show = (objective, i) => {
    if (!result) throw new Error("showConformer: judge the networks first");
    const n = result.molecules.length;
    if (!Number.isInteger(Number(i))) throw new Error(`showConformer: the molecule must be a whole number, got ${i}`);
    const m = ((Number(i) % n) + n) % n;
    const s = pg.showConformer(objective, m);
    shown = { objective, molecule: m };
    $("cf-shown").textContent = `held-out molecule ${m + 1} of ${n} (QM9 subset #${s.index}, ${s.atoms} atoms), ${NAMES[objective]}: ` +
      `reference in pale blue, the closest of its ${s.rmsds.length} generated conformers in element colours, RMSD ${fmt(s.rmsd)} Å on heavy atoms`;
    return s;
  };

  function draw() {
    const body = $("cf-table").querySelector("tbody");
    body.innerHTML = "";
    for (const r of result.rows) {
      const tr = document.createElement("tr");
      const c = r.coverage;
      const cells = [`${NAMES[r.objective]} (${r.sampler})`, `${r.model}, ${r.steps.toLocaleString()} steps`, `${fmt(c.amr_r_mean)} Å`, `${fmt(c.cov_r_mean, 1)} %`, `${fmt(c.amr_p_mean)} Å`, `${fmt(c.cov_p_mean, 1)} %`];
      for (const v of cells) { const td = document.createElement("td"); td.textContent = v; tr.append(td); }
      tr.title = "show this objective's conformer (click again for the next molecule)";
      tr.addEventListener("click", guarded(showError)(() => show(r.objective, shown.molecule + (shown.objective === r.objective ? 1 : 0))));
      body.append(tr);
    }
    $("cf-table").hidden = false;
    $("cf-plot").hidden = false;
    plot?.destroy();
    const names = result.rows.map((r) => r.objective);
    plot = histogramPlot($("cf-plot"), names.map((o) => NAMES[o]), names.map((o) => COLORS[o]), "best heavy-atom RMSD per molecule (Å)");
    plot.update(result.best);
  }

  const judge = (o) => exclusive(async () => {
    await ensureSet();
    const info = pg.startConformerJudge(o);
    $("cf-status").textContent = `judging ${info.objectives.map((x) => NAMES[x]).join(", ")} on ${info.molecules} held-out molecules, ${info.k} conformers each, ${info.sample_steps} sampler steps` +
      (info.skipped ? ` (${info.skipped} held-out molecules skipped: too large for a loaded network)` : "");
    const p = await inSlices(() => pg.conformerJudgeStep(30), { stopped: () => stopRequested, each: (p) => { $("cf-progress").value = p.step / p.steps; } });
    if (!p.done) throw new Error("judgeConformers: stopped");
    result = p.result;
    draw();
    const best = result.rows.reduce((a, b) => (b.coverage.amr_r_mean < a.coverage.amr_r_mean ? b : a));
    $("cf-status").textContent = `${result.molecules.length} held-out molecules × ${result.k} conformers: lowest AMR-R ${fmt(best.coverage.amr_r_mean)} Å (${NAMES[best.objective]}); COV at ${result.threshold} Å`;
    show(best.objective, 0);
    return result;
  });

  const train = (o) => exclusive(async () => {
    await ensureSet();
    const first = pg.startConformerTraining(o);
    $("cf-status").textContent = `training ${NAMES[first.objective]} in the tab on ${first.molecules} molecules…`;
    const st = await inSlices(() => pg.conformerTrainStep(30), { stopped: () => stopRequested, each: (st) => {
      if (st.done) return;
      $("cf-progress").value = st.steps / st.target;
      $("cf-status").textContent = `training ${NAMES[st.objective]}: step ${st.steps}/${st.target}, loss ${fmt(st.loss, 4)} (${(st.ms / 1000).toFixed(1)} s)`;
      if (st.losses.length > 1) {
        $("cf-loss").hidden = false;
        lossPlot ??= linePlot($("cf-loss"), "loss", "#9be37f");
        lossPlot.update(st.losses.map((p) => p.loss), st.losses.map((p) => p.step));
      }
    } });
    if (!st.done) throw new Error("trainConformers: stopped");
    $("cf-status").textContent = describe();
    return pg.conformerModels().find((m) => m.objective === st.objective);
  });

  const num = (id) => Number($(id).value);
  const judgeOptions = () => ({ test: num("cf-test"), k: num("cf-k"), sampleSteps: num("cf-steps"), seed: Number($("gen-seed").value) || 0 });
  const guard = guarded(showError);
  $("cf-load").addEventListener("click", guard(() => exclusive(loadShipped)));
  $("cf-judge").addEventListener("click", guard(() => judge(judgeOptions())));
  $("cf-train").addEventListener("click", guard(() => train({ objective: $("cf-objective").value, steps: num("cf-train-steps") })));
  $("cf-stop").addEventListener("click", () => { stopRequested = true; });
  $("cf-file").addEventListener("change", guard(async (e) => {
    const file = e.target.files[0];
    if (file) await exclusive(async () => load(file.name, new Uint8Array(await file.arrayBuffer())));
  }));

  const object = (o) => {
    if (typeof o !== "object" || o === null) throw new TypeError("options must be an object");
    return o;
  };
  return {
    loadConformerNetworks: () => exclusive(loadShipped),
    loadConformerModel: (name, data) => {
      const bytes = toBytes(data, "loadConformerModel(name, data)", { text: false });
      return exclusive(() => load(String(name), bytes));
    },
    judgeConformers: (o = {}) => judge(object(o)),
    conformersResult: () => pg.conformersResult(),
    showConformer: (objective, i = 0) => show(String(objective), i),
    trainConformers: (o = {}) => train(object(o)),
    stopConformers: () => { stopRequested = true; return runs.settled(); },
  };
}
