//! Quotient-space training judged on conformers in the page (issue 18): a thin face over
//! `app::conformers`. The bundled QM9 subset is split as the CLI splits it; one network per
//! objective is loaded (the shipped weights) or trained in the tab on a small set; all loaded
//! networks are judged on the same held-out molecules with the same sampler seeds, a few
//! sampler steps per slice; and the viewer shows a generated conformer on its reference.

use super::{check_keys, js_err, now_ms, slice_budget, to_js, Held, Playground, Scene, Shown};
use crate::app::conformers::{network_config, ConformerConfig, ConformerSet, ConformerTrain, ConformerTraining, JudgedTable, Judgement, CURVE_EVERY};
use crate::conformers::Conformer;
use crate::objectives::Objective;
use crate::schedules::Schedule;
use crate::viewer::AtomStyle;
use serde::Deserialize;
use std::collections::BTreeMap;
use wasm_bindgen::prelude::*;

/// Every this many molecules of the set one is held out (as `molplay conformers --every 10`).
const HOLD_OUT_EVERY: usize = 10;

#[derive(Default)]
pub(super) struct ConformersState {
    set: Option<(String, Vec<Conformer>, Vec<Conformer>)>,
    /// One network per objective (a later one replaces it), with where it came from.
    models: BTreeMap<usize, (String, ConformerTraining)>,
    training: Held<TabTraining>,
    /// The judgement under way: of the networks in these slots, at this threshold (Å).
    judge: Option<(Judgement, Vec<usize>, f64)>,
    result: Option<JudgedTable>,
    /// What the viewer shows of a judgement (kept as shown, for export, whatever is judged
    /// next): the reference and the generated conformer, their elements and comments.
    shown: Option<(Vec<f64>, Vec<String>, Vec<String>)>,
}

impl ConformersState {
    /// The shown pair as two frames, the reference and the generated conformer superposed on
    /// it: (frames flat, elements, a comment per frame).
    pub(super) fn export_shown(&self) -> Option<(Vec<f64>, Vec<String>, Vec<String>)> {
        self.shown.clone()
    }

    /// The networks or the molecules changed: the judgement and its result no longer describe
    /// them.
    fn forget_judgement(&mut self) {
        self.judge = None;
        self.result = None;
    }
}

/// A network training in the tab: its molecules and the steps it trains to.
struct TabTraining {
    t: ConformerTraining,
    molecules: Vec<Conformer>,
    target: usize,
}

fn slot(o: Objective) -> usize {
    Objective::ALL.iter().position(|&x| x == o).unwrap_or(0)
}

fn schedule() -> Schedule {
    Schedule::polynomial2(1000, 1e-5)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrainOpts {
    objective: Option<String>,
    steps: Option<usize>,
    molecules: Option<usize>,
    max_atoms: Option<usize>,
    hidden: Option<usize>,
    layers: Option<usize>,
    batch: Option<usize>,
    lr: Option<f64>,
    ema: Option<f64>,
    seed: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JudgeOpts {
    test: Option<usize>,
    k: Option<usize>,
    sample_steps: Option<usize>,
    seed: Option<u64>,
    threshold: Option<f64>,
}

fn model_info(name: &str, t: &ConformerTraining) -> serde_json::Value {
    serde_json::json!({
        "name": name, "objective": t.objective().name(), "sampler": t.sampler(), "seed": t.train.seed, "steps": t.counters.steps,
        "cpu_hours": t.counters.seconds / 3600.0, "hidden": t.train.hidden, "layers": t.train.layers, "ema": t.train.ema,
        "largest": t.net.config.atoms, "elements": t.net.config.elements,
    })
}

#[wasm_bindgen]
impl Playground {
    /// Reads a multi-frame XYZ as conformer targets (elements, bonds from the geometry,
    /// positions) and holds out every tenth molecule, as `molplay conformers` does. Returns
    /// `{name, train, test, left_out, largest}`.
    #[wasm_bindgen(js_name = loadConformerSet)]
    pub fn load_conformer_set(&self, name: String, text: String) -> Result<JsValue, JsValue> {
        let set = ConformerSet::from_xyz(&text, HOLD_OUT_EVERY).map_err(|e| js_err(format!("{name}: {e}")))?;
        let out = serde_json::json!({ "name": name, "train": set.train.len(), "test": set.test.len(), "left_out": set.left_out, "largest": set.largest() });
        let mut s = self.inner.borrow_mut();
        s.conformers.set = Some((name, set.train, set.test));
        s.conformers.forget_judgement();
        to_js(&out)
    }

    /// Loads a conformer network (`molplay conformers --checkpoints` writes them; the page
    /// ships one per objective). It replaces the loaded network of its objective. Returns
    /// `{name, objective, sampler, seed, steps, cpu_hours, hidden, layers, ema, largest, elements}`.
    #[wasm_bindgen(js_name = loadConformerModel)]
    pub fn load_conformer_model(&self, name: String, bytes: Vec<u8>) -> Result<JsValue, JsValue> {
        let t = ConformerTraining::from_bytes(&bytes).map_err(|e| js_err(format!("{name}: {e}")))?;
        let out = model_info(&name, &t);
        let mut s = self.inner.borrow_mut();
        s.conformers.models.insert(slot(t.objective()), (name, t));
        s.conformers.forget_judgement();
        to_js(&out)
    }

    /// The loaded conformer networks, one per objective at most.
    #[wasm_bindgen(js_name = conformerModels)]
    pub fn conformer_models(&self) -> Result<JsValue, JsValue> {
        let s = self.inner.borrow();
        to_js(&s.conformers.models.values().map(|(n, t)| model_info(n, t)).collect::<Vec<_>>())
    }

    /// A fresh conformer network to train in the tab on a small set: options `{objective
    /// ("quotient"), steps (300), molecules (200: the first training molecules of at most
    /// maxAtoms atoms), maxAtoms (12), hidden (32), layers (3), batch (16), lr (2e-3), ema
    /// (0.99), seed (0)}`. When it has trained its steps it joins the loaded networks.
    #[wasm_bindgen(js_name = startConformerTraining)]
    pub fn start_conformer_training(&self, options: JsValue) -> Result<JsValue, JsValue> {
        check_keys(&options, &["objective", "steps", "molecules", "maxAtoms", "hidden", "layers", "batch", "lr", "ema", "seed"], "trainConformers")?;
        let o: TrainOpts = serde_wasm_bindgen::from_value(options).map_err(|e| js_err(format!("trainConformers: {e}")))?;
        let err = |e: String| js_err(format!("trainConformers: {e}"));
        let objective = Objective::by_name(o.objective.as_deref().unwrap_or("quotient")).map_err(|e| err(e.to_string()))?;
        let (steps, count, max_atoms) = (o.steps.unwrap_or(300), o.molecules.unwrap_or(200), o.max_atoms.unwrap_or(12));
        if !(1..=100_000).contains(&steps) || !(1..=5000).contains(&count) || !(3..=64).contains(&max_atoms) {
            return Err(err(format!("need 1 ≤ steps ≤ 100000, 1 ≤ molecules ≤ 5000 and 3 ≤ maxAtoms ≤ 64, got {steps}, {count} and {max_atoms}")));
        }
        let c = ConformerConfig {
            hidden: o.hidden.unwrap_or(32),
            layers: o.layers.unwrap_or(3),
            batch: o.batch.unwrap_or(16),
            lr: o.lr.unwrap_or(2e-3),
            ema: o.ema.unwrap_or(0.99),
            absolute: false,
            steps,
            k: 1,
            test: 0,
            sample_steps: 1,
            threshold: 0.5,
        };
        if c.hidden > 128 || c.layers > 6 || c.batch > 256 {
            return Err(err(format!("in the page: hidden ≤ 128, layers ≤ 6, batch ≤ 256, got {}, {} and {}", c.hidden, c.layers, c.batch)));
        }
        c.check().map_err(|e| err(e.to_string()))?;
        let mut s = self.inner.borrow_mut();
        let (_, train, _) = s.conformers.set.as_ref().ok_or_else(|| err("load the molecule set first (loadConformerSet)".into()))?;
        let molecules: Vec<Conformer> = train.iter().filter(|m| m.atoms() <= max_atoms).take(count).cloned().collect();
        if molecules.is_empty() {
            return Err(err(format!("no training molecule has at most {max_atoms} atoms")));
        }
        let t = ConformerTraining::new(ConformerTrain::of(objective, o.seed.unwrap_or(0), &c), network_config(&molecules, c.hidden, c.layers, false, &schedule()));
        s.conformers.training.set(TabTraining { t, molecules, target: steps });
        drop(s);
        self.conformer_training_status()
    }

    /// Trains the tab's conformer network for about `budget_ms` (a promise of its status).
    #[wasm_bindgen(js_name = conformerTrainStep)]
    pub fn conformer_train_step(&self, budget_ms: f64) -> js_sys::Promise {
        let budget = slice_budget(budget_ms);
        let pg = Playground { inner: self.inner.clone() };
        wasm_bindgen_futures::future_to_promise(async move {
            let mut job = pg.inner.borrow_mut().conformers.training.take("trainConformers: a training slice is already running", "trainConformers: start training first").map_err(js_err)?;
            let left = job.target.saturating_sub(job.t.counters.steps);
            let sizes = crate::app::conformers::by_size(&job.molecules);
            let result = if left > 0 { job.t.train(&job.molecules, &sizes, &schedule(), left, budget / 1000.0, &|| now_ms() / 1000.0).await.map(|_| ()) } else { Ok(()) };
            let mut s = pg.inner.borrow_mut();
            let done = job.t.counters.steps >= job.target;
            if let Err(e) = result {
                s.conformers.training.put_back(job);
                return Err(js_err(format!("trainConformers: {e}")));
            }
            if done {
                // trained: it joins the networks the comparison judges
                let name = format!("{} trained in the tab ({} molecules, {} steps)", job.t.objective().name(), job.molecules.len(), job.t.counters.steps);
                let objective = job.t.objective();
                if !s.conformers.training.release() {
                    // a new training was started meanwhile: this one is dropped, as a replaced one is
                    drop(s);
                    return pg.conformer_training_status();
                }
                s.conformers.models.insert(slot(objective), (name, job.t));
                s.conformers.forget_judgement();
                return to_js(&serde_json::json!({ "done": true, "objective": objective.name() }));
            }
            s.conformers.training.put_back(job);
            drop(s);
            pg.conformer_training_status()
        })
    }

    /// The tab's training: `{objective, steps, target, loss, losses: [{step, loss}], ms, done:
    /// false}`, or null when none runs.
    #[wasm_bindgen(js_name = conformerTrainingStatus)]
    pub fn conformer_training_status(&self) -> Result<JsValue, JsValue> {
        let s = self.inner.borrow();
        let Some(job) = s.conformers.training.get() else { return Ok(JsValue::NULL) };
        let c = &job.t.counters;
        let loss = if c.window.1 > 0 { c.window.0 / c.window.1 as f64 } else { c.history.last().map_or(f64::NAN, |p| p.loss) };
        to_js(&serde_json::json!({
            "objective": job.t.objective().name(), "steps": c.steps, "target": job.target, "loss": loss, "losses": c.history, "every": CURVE_EVERY,
            "ms": c.seconds * 1000.0, "molecules": job.molecules.len(), "done": false,
        }))
    }

    /// Starts judging every loaded network on the same held-out molecules: options `{test
    /// (30: evenly spaced through the held-out set), k (2), sampleSteps (50), seed (0),
    /// threshold (0.5 Å)}`. Molecules some network cannot take (more atoms, other elements)
    /// are skipped for all. Returns `{molecules, skipped, objectives}`.
    #[wasm_bindgen(js_name = startConformerJudge)]
    pub fn start_conformer_judge(&self, options: JsValue) -> Result<JsValue, JsValue> {
        check_keys(&options, &["test", "k", "sampleSteps", "seed", "threshold"], "judgeConformers")?;
        let o: JudgeOpts = serde_wasm_bindgen::from_value(options).map_err(|e| js_err(format!("judgeConformers: {e}")))?;
        let err = |e: String| js_err(format!("judgeConformers: {e}"));
        let (test, k, steps, threshold) = (o.test.unwrap_or(30), o.k.unwrap_or(2), o.sample_steps.unwrap_or(50), o.threshold.unwrap_or(0.5));
        if !((1..=300).contains(&test) && (1..=16).contains(&k) && (1..=1000).contains(&steps) && threshold > 0.0 && threshold < 10.0) {
            return Err(err(format!("need 1 ≤ test ≤ 300, 1 ≤ k ≤ 16, 1 ≤ sampleSteps ≤ 1000 and 0 < threshold < 10 Å, got {test}, {k}, {steps} and {threshold}")));
        }
        let mut s = self.inner.borrow_mut();
        let st = &mut s.conformers;
        let (_, _, held) = st.set.as_ref().ok_or_else(|| err("load the molecule set first (loadConformerSet)".into()))?;
        if st.models.is_empty() {
            return Err(err("load or train a conformer network first".into()));
        }
        let models: Vec<&ConformerTraining> = st.models.values().map(|(_, t)| t).collect();
        let (picked, skipped) = Judgement::usable(held, &models, test).map_err(|e| err(e.to_string()))?;
        let out = serde_json::json!({
            "molecules": picked.len(), "skipped": skipped, "objectives": st.models.values().map(|(_, t)| t.objective().name()).collect::<Vec<_>>(),
            "k": k, "sample_steps": steps, "threshold": threshold,
        });
        let j = Judgement::new(picked, k, steps, st.models.len(), o.seed.unwrap_or(0)).map_err(|e| err(e.to_string()))?;
        st.judge = Some((j, st.models.keys().copied().collect(), threshold));
        st.result = None;
        to_js(&out)
    }

    /// Advances the judgement for about `budget_ms`; `{done, step, steps, result}`, `result`
    /// once done: `{rows: [{objective, sampler, model, steps, coverage}], best: per objective
    /// the best RMSD of each molecule (Å), molecules: their indices in the set, k, threshold}`.
    #[wasm_bindgen(js_name = conformerJudgeStep)]
    pub fn conformer_judge_step(&self, budget_ms: f64) -> Result<JsValue, JsValue> {
        let budget = slice_budget(budget_ms);
        let mut s = self.inner.borrow_mut();
        let st = &mut s.conformers;
        let (j, slots, threshold) = st.judge.as_mut().ok_or_else(|| js_err("judgeConformers: nothing is being judged"))?;
        let named: Vec<(&str, &ConformerTraining)> = slots.iter().filter_map(|i| st.models.get(i).map(|(n, t)| (n.as_str(), t))).collect();
        let models: Vec<&ConformerTraining> = named.iter().map(|&(_, t)| t).collect();
        if models.len() != slots.len() {
            return Err(js_err("judgeConformers: a network changed while it was judged; start again"));
        }
        let sch = schedule();
        let t0 = now_ms();
        while !j.done() && now_ms() - t0 < budget {
            j.advance(&models, &sch, 5).map_err(|e| js_err(format!("judgeConformers: {e}")))?;
        }
        let (step, steps) = j.progress();
        if j.done() && st.result.is_none() {
            st.result = Some(j.table(&named, *threshold));
        }
        let result = if j.done() { st.result.clone() } else { None };
        to_js(&serde_json::json!({ "done": j.done(), "step": step, "steps": steps, "result": result }))
    }

    /// The last finished judgement (null before).
    #[wasm_bindgen(js_name = conformersResult)]
    pub fn conformers_result(&self) -> Result<JsValue, JsValue> {
        let s = self.inner.borrow();
        to_js(&s.conformers.result)
    }

    /// Shows the judged molecule `molecule` (its place in the judgement) of `objective`: the
    /// reference in pale blue and, superposed on it by their heavy atoms, the generated
    /// conformer closest to it, in element colours. Returns `{objective, molecule, index,
    /// rmsd, rmsds, atoms}`.
    #[wasm_bindgen(js_name = showConformer)]
    pub fn show_conformer(&self, objective: String, molecule: usize) -> Result<JsValue, JsValue> {
        let err = |e: String| js_err(format!("showConformer: {e}"));
        let o = Objective::by_name(&objective).map_err(|e| err(e.to_string()))?;
        let mut guard = self.inner.borrow_mut();
        let s = &mut *guard;
        let (j, slots, _) = s.conformers.judge.as_ref().filter(|(j, ..)| j.done()).ok_or_else(|| err("judge the networks first".into()))?;
        let mi = slots.iter().position(|&i| i == slot(o)).ok_or_else(|| err(format!("no {} network was judged", o.name())))?;
        let m = j.test.get(molecule).ok_or_else(|| err(format!("molecule {molecule} is not among the {} judged", j.test.len())))?;
        let n = m.atoms();
        let (rmsd, generated, rmsds) = j.closest(mi, molecule).ok_or_else(|| err(format!("molecule {molecule} has no conformers")))?;
        let mut styles: Vec<AtomStyle> = m.elements.iter().map(|e| AtomStyle { rgb: [110, 160, 235], radius: 0.8 * AtomStyle::element(e).radius, ..AtomStyle::element(e) }).collect();
        styles.extend(m.elements.iter().map(|e| AtomStyle::element(e)));
        let positions: Vec<f32> = m.positions.iter().chain(generated).map(|&v| v as f32).collect();
        let out = serde_json::json!({ "objective": o.name(), "molecule": molecule, "index": m.index, "rmsd": rmsd, "rmsds": rmsds, "atoms": n });
        let comments = vec![
            format!("molplay conformers reference: QM9 subset molecule {}", m.index),
            format!("molplay conformers generated by the {} network, superposed on the reference: heavy-atom RMSD {:.4}", o.name(), rmsd),
        ];
        let shown = (m.positions.iter().chain(generated).copied().collect(), m.elements.clone(), comments);
        s.show(Shown::Conformers, Scene { atoms: Some((&styles, 3, &[n, n])), fit: Some((&positions, 3, 1.0)), ..Scene::moved(positions.clone()) })?;
        s.conformers.shown = Some(shown);
        to_js(&out)
    }
}
