//! Score networks trained in the page (`app::score`: denoising score matching with burn),
//! sampled by the reverse sampler with target "network". Networks only: the page's first
//! module, built without them, has an uninhabited stand-in (see the parent module).

use super::super::{check_keys, device_name, js_err, now_ms, slice_budget, to_js, Playground};
use super::{GenerateOpts, GenerateState, Prepared};
pub(super) use crate::app::score::ScoreTraining;
use crate::app::score::{warm_up, Knobs, Limits, TrainingSet};
use crate::models::ScoreModel;
use crate::schedules::Schedule;
use serde::Deserialize;
use wasm_bindgen::prelude::*;

/// The trained network as the score source of a run of `count` samples.
pub(super) fn network_source(g: &GenerateState, o: &GenerateOpts, count: usize, schedule: &Schedule) -> Result<Prepared, JsValue> {
    let sc = g.score.get().ok_or_else(|| js_err("generate: train a score network first (train)"))?;
    sc.source(count, o.seed.unwrap_or(0), schedule).map_err(|e| js_err(format!("generate: {e}")))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrainOpts {
    target: Option<String>,
    atoms: Option<usize>,
    points: Option<usize>,
    hidden: Option<usize>,
    layers: Option<usize>,
    batch: Option<usize>,
    lr: Option<f64>,
    t_max: Option<f64>,
    seed: Option<u64>,
    device: Option<String>,
}

#[wasm_bindgen]
impl Playground {
    /// A fresh EGNN score network to train by denoising score matching with burn: options
    /// `{target: "chain" | "molecules", atoms, points, hidden (32), layers (3), batch (32), lr
    /// (3e-3), tMax (GAGA: train on t ≤ T* only; 1000), seed, device: "auto" | "webgpu" |
    /// "cpu"}` (see `networkCompute`).
    #[wasm_bindgen(js_name = startScoreTraining)]
    pub fn start_score_training(&self, options: JsValue) -> Result<JsValue, JsValue> {
        check_keys(&options, &["target", "atoms", "points", "hidden", "layers", "batch", "lr", "tMax", "seed", "device"], "train")?;
        let o: TrainOpts = serde_wasm_bindgen::from_value(options).map_err(|e| js_err(format!("train: {e}")))?;
        let d = Knobs::default();
        let knobs = Knobs {
            hidden: o.hidden.unwrap_or(d.hidden),
            layers: o.layers.unwrap_or(d.layers),
            batch: o.batch.unwrap_or(d.batch),
            lr: o.lr.unwrap_or(d.lr),
            t_max: o.t_max.unwrap_or(d.t_max),
            seed: o.seed.unwrap_or(0),
            ..d
        };
        knobs.check(Limits::PAGE, |k| if k == "t_max" { "tMax".into() } else { k.into() }).map_err(|e| js_err(format!("train: {e}")))?;
        let mut s = self.inner.borrow_mut();
        let set = match o.target.as_deref().unwrap_or("chain") {
            "chain" => TrainingSet::chain(o.atoms.unwrap_or(8), 5000).map_err(|e| js_err(format!("train: {e}")))?,
            "molecules" => molecule_set(&s, o.atoms, o.points.unwrap_or(300), "")?,
            other => return Err(js_err(format!("train: target must be \"chain\" or \"molecules\", got \"{other}\""))),
        };
        let compute = s.network_compute(o.device.as_deref().unwrap_or("auto")).map_err(|e| js_err(format!("train: {e}")))?;
        // molecules: conditioned on the atoms' elements, so samples are molecules with atom types
        s.generate.score.set(ScoreTraining::fresh(set, knobs, false, &compute).map_err(|e| js_err(format!("train: {e}")))?);
        drop(s);
        self.score_status()
    }

    /// `app::score::warm_up`: the page calls this while idle so that its first training slice
    /// does not wait for the browser to compile burn's training path.
    #[wasm_bindgen(js_name = warmUp)]
    pub fn warm_up(&self) -> js_sys::Promise {
        wasm_bindgen_futures::future_to_promise(async move {
            warm_up().await.map_err(js_err)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Trains for about `budget_ms`, and at most `max_steps` steps when given (a promise of the
    /// status `{steps, loss, losses, ms, stopped, label, t_max, device}`). A non-finite loss stops
    /// training with the last good weights, and says so in `stopped`. On WebGPU the steps await the GPU; meanwhile the network is out of
    /// the playground (a second call is refused, a network loaded meanwhile wins).
    #[wasm_bindgen(js_name = scoreTrainStep)]
    pub fn score_train_step(&self, budget_ms: f64, max_steps: Option<u32>) -> js_sys::Promise {
        // at most `max_steps` (what is left of the caller's count: train({steps}) takes exactly that many)
        let max_steps = max_steps.map_or(usize::MAX, |k| (k as usize).max(1));
        let budget = slice_budget(budget_ms);
        let pg = Playground { inner: self.inner.clone() };
        wasm_bindgen_futures::future_to_promise(async move {
            let mut sc = {
                let mut s = pg.inner.borrow_mut();
                let sc = s.generate.score.take("trainStep: a training slice is already running", "trainStep: start training first").map_err(js_err)?;
                if let Some(msg) = &sc.stopped {
                    let msg = format!("train: training stopped ({msg})");
                    s.generate.score.put_back(sc);
                    return Err(js_err(msg));
                }
                sc
            };
            sc.train(max_steps, budget / 1000.0, &|| now_ms() / 1000.0).await;
            let mut s = pg.inner.borrow_mut();
            s.generate.score.put_back(sc);
            if s.compute.is_none() {
                // the device was lost while this slice was out
                s.generate.move_to_cpu();
            }
            drop(s);
            pg.score_status()
        })
    }

    /// The score network's training status, or null.
    #[wasm_bindgen(js_name = scoreStatus)]
    pub fn score_status(&self) -> Result<JsValue, JsValue> {
        let s = self.inner.borrow();
        let Some(sc) = s.generate.score.get() else { return Ok(JsValue::NULL) };
        let st = sc.status();
        to_js(&serde_json::json!({
            "steps": st.steps, "loss": st.loss, "losses": sc.losses, "ms": st.seconds * 1000.0, "stopped": st.stopped,
            "label": st.label, "t_max": st.t_max, "config": st.config, "device": device_name(sc.model().compute()),
        }))
    }

    /// Loads score-network weights (`molplay train-score` output or `scoreWeights()`). The
    /// training data for the reference statistics follow from the weights: a chain's network
    /// (atom identities) gets the chain, any other the loaded set's molecules of its size.
    #[wasm_bindgen(js_name = loadScoreWeights)]
    pub fn load_score_weights(&self, name: String, bytes: Vec<u8>) -> Result<JsValue, JsValue> {
        let model = ScoreModel::from_bytes(&bytes, None).map_err(|e| js_err(format!("{name}: {e}")))?;
        let n = model.config.atoms;
        let mut s = self.inner.borrow_mut();
        let set = if model.config.atom_identity {
            let mut set = TrainingSet::chain(n, 5000).map_err(|e| js_err(format!("{name}: this chain network does not fit: {e}")))?;
            set.label = format!("{} ({name})", set.label);
            set
        } else {
            molecule_set(&s, Some(n), 300, &name)?
        };
        // the page's training defaults, should training go on from these weights
        let compute = s.network_compute("auto").map_err(|e| js_err(format!("{name}: {e}")))?;
        s.generate.score.set(ScoreTraining::new(model, set, Knobs::default(), &compute).map_err(|e| js_err(format!("{name}: {e}")))?);
        drop(s);
        self.score_status()
    }

    /// The score network's weights (`molplay train-score` format; a network on WebGPU is saved
    /// from its copy after the latest training slice).
    #[wasm_bindgen(js_name = scoreWeights)]
    pub fn score_weights(&self) -> Result<Vec<u8>, JsValue> {
        let s = self.inner.borrow();
        let sc = s.generate.score.get().ok_or_else(|| js_err("scoreWeights: train a network first"))?;
        sc.to_bytes().map_err(js_err)
    }
}

/// The loaded set's molecules of `atoms` (default: the most common size), at most `points` of
/// them, as a training set; `file` names the weights they are for (empty for a fresh network).
fn molecule_set(s: &super::super::Inner, atoms: Option<usize>, points: usize, file: &str) -> Result<TrainingSet, JsValue> {
    let what = if file.is_empty() { "train" } else { file };
    let data = s
        .forward
        .dataset()
        .ok_or_else(|| js_err(if file.is_empty() { "train: load a molecule set first".to_string() } else { format!("{file}: a molecule network needs its molecule set loaded first") }))?;
    TrainingSet::molecules(data, atoms, points, file).map_err(|e| js_err(format!("{what}: {e}")))
}
