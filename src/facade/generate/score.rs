//! Score networks trained in the page (denoising score matching with burn), sampled by the
//! reverse sampler with target "network". Networks only: the page's first module, built
//! without them, has an uninhabited stand-in (see the parent module).

use super::super::{check_keys, device_name, js_err, now_ms, to_js, Playground};
use super::{GaussianTarget, GenerateOpts, GenerateState, Source};
use crate::metrics::mean_square;
use crate::models::{Compute, EgnnConfig, NetworkDenoiser, ScoreModel};
use crate::rng::XorShift64;
use crate::samplers::Denoiser;
use crate::schedules::Schedule;
use serde::Deserialize;
use wasm_bindgen::prelude::*;

/// Denoising score matching of an EGNN on the chain or on same-size molecules, in slices.
pub(super) struct ScoreTraining {
    model: ScoreModel,
    /// A CPU copy of a network that trains on WebGPU, for sampling (sync reads panic on WebGPU),
    /// refreshed after every training slice; None when the network itself is on the CPU.
    cpu_copy: Option<ScoreModel>,
    pool: Vec<f64>,
    /// The elements of each pool molecule (empty for the chain).
    elements: Vec<Vec<String>>,
    label: String,
    schedule: Schedule,
    t_max: f64,
    batch: usize,
    lr: f64,
    rng: XorShift64,
    losses: Vec<f64>,
    ms: f64,
    stopped: Option<String>,
}

/// The trained network as the score source of a run of `count` samples: the source, the
/// reference data, the data variance and the run's label.
pub(super) fn network_source(g: &GenerateState, o: &GenerateOpts, count: usize, schedule: &Schedule) -> Result<(Source, Vec<f64>, f64, String), JsValue> {
    let sc = g.score.get().ok_or_else(|| js_err("generate: train a score network first (train)"))?;
    sc.model.config.check_schedule(schedule).map_err(|e| js_err(format!("generate: {e}")))?;
    let n = sc.model.config.atoms;
    let reference = sc.pool[..sc.pool.len().min(2000 * 3 * n)].to_vec();
    let config = &sc.model.config;
    let (feats, elements) = if config.conditioned_on_elements() {
        // each sample gets the atom types of a training molecule, drawn with the seed
        let picks = crate::models::composition_picks(sc.elements.len(), count, o.seed.unwrap_or(0));
        let feats = config.features_of(&sc.elements, &picks).map_err(|e| js_err(format!("generate: {e}")))?;
        (feats, picks.iter().map(|&i| sc.elements[i].clone()).collect())
    } else {
        (config.node_features(1), Vec::new())
    };
    let given = if elements.is_empty() { "" } else { ", atom types drawn from the data" };
    let label = match sc.model.steps {
        0 => format!("EGNN, pretrained (its training steps not recorded in the file), on {}{given}", sc.label),
        k => format!("EGNN after {k} training steps on {}{given}", sc.label),
    };
    Ok((Source::Network { atoms: n, feats, elements }, reference, config.data_variance, label))
}

impl ScoreTraining {
    /// Calls `f` with this network as the denoiser, on each sample's node features `feats`.
    pub(super) fn with_denoiser<R>(&self, feats: &[f64], f: impl FnOnce(&mut dyn Denoiser) -> Result<R, String>) -> Result<R, String> {
        f(&mut NetworkDenoiser { model: self.sampling_model(), feats: feats.to_vec() })
    }

    /// The GPU was lost: a network training on WebGPU goes on from its CPU copy (taken after
    /// every slice; Adam's moments restart), or stops when it has none.
    pub(super) fn move_to_cpu(&mut self) {
        if matches!(self.model.compute(), Compute::Gpu(_)) {
            if let Some(copy) = self.cpu_copy.take() {
                self.model = copy;
            } else {
                self.stopped = Some("its network was on the lost GPU device".into());
            }
        }
    }

    /// `model` (on the CPU) trains on `compute`; `opt` = (t_max, batch, lr).
    fn new(mut model: ScoreModel, compute: &Compute, (pool, elements): (Vec<f64>, Vec<Vec<String>>), label: String, opt: (f64, usize, f64), seed: u64) -> Result<Self, String> {
        // the page trains under EDM's polynomial2; the weights record it
        let schedule = Schedule::polynomial2(1000, 1e-5);
        model.config.check_schedule(&schedule)?;
        model.config = model.config.clone().trained_under(&schedule);
        if model.config.conditioned_on_elements() {
            // every molecule must be expressible in the network's vocabulary
            let refs: Vec<&[String]> = elements.iter().map(Vec::as_slice).collect();
            model.config.element_features(&refs)?;
            if refs.is_empty() {
                return Err("a network conditioned on elements needs molecules with elements".into());
            }
        }
        let (t_max, batch, lr) = opt;
        let (model, cpu_copy) = match compute {
            Compute::Cpu => (model, None),
            Compute::Gpu(_) => {
                let copy = ScoreModel::from_bytes(&model.to_bytes().map_err(|e| e.to_string())?, None).map_err(|e| e.to_string())?;
                (model.moved_to(compute), Some(copy))
            }
        };
        Ok(ScoreTraining { model, cpu_copy, pool, elements, label, schedule, t_max, batch, lr, rng: XorShift64::new(seed ^ 0x5EED), losses: Vec::new(), ms: 0.0, stopped: None })
    }

    /// The network to sample with (on the CPU).
    fn sampling_model(&self) -> &ScoreModel {
        self.cpu_copy.as_ref().unwrap_or(&self.model)
    }

    /// Trains for about `budget` ms (at least one step).
    async fn train_for(&mut self, budget: f64) {
        let per = 3 * self.model.config.atoms;
        let count = self.pool.len() / per;
        let t0 = now_ms();
        loop {
            let picks: Vec<usize> = (0..self.batch).map(|_| self.rng.below(count)).collect();
            let x0: Vec<f64> = picks.iter().flat_map(|&i| self.pool[i * per..][..per].to_vec()).collect();
            let feats = match self.model.config.features_of(&self.elements, &picks) {
                Ok(f) => f,
                Err(e) => {
                    self.stopped = Some(e);
                    break;
                }
            };
            match self.model.train_step(&x0, &feats, &self.schedule, self.t_max, self.lr, &mut self.rng).await {
                Ok(l) => self.losses.push(l),
                Err(e) => {
                    self.stopped = Some(e.to_string());
                    break;
                }
            }
            if now_ms() - t0 >= budget {
                break;
            }
        }
        if matches!(self.model.compute(), Compute::Gpu(_)) {
            match self.model.snapshot().await {
                Ok(copy) => self.cpu_copy = Some(copy),
                Err(e) => self.stopped = Some(e.to_string()),
            }
        }
        self.ms += now_ms() - t0;
    }
}

/// `count` draws of the spring chain of `n` beads: a chain network's training data.
fn chain_draws(n: usize, count: usize) -> Vec<f64> {
    let mut g = GaussianTarget::spring_chain(n);
    (0..count).flat_map(|_| g.draw()).collect()
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
        let (hidden, layers, batch) = (o.hidden.unwrap_or(32), o.layers.unwrap_or(3), o.batch.unwrap_or(32));
        let lr = o.lr.unwrap_or(3e-3);
        let t_max = o.t_max.unwrap_or(1000.0);
        if !((1..=256).contains(&hidden) && (1..=8).contains(&layers) && (1..=512).contains(&batch) && lr > 0.0 && lr < 1.0 && (1.0..=1000.0).contains(&t_max)) {
            return Err(js_err("train: need 1 ≤ hidden ≤ 256, 1 ≤ layers ≤ 8, 1 ≤ batch ≤ 512, 0 < lr < 1, 1 ≤ tMax ≤ 1000"));
        }
        let seed = o.seed.unwrap_or(0);
        let mut s = self.inner.borrow_mut();
        let (pool, elements, config, label) = match o.target.as_deref().unwrap_or("chain") {
            "chain" => {
                let n = o.atoms.unwrap_or(8);
                crate::samplers::check_chain_beads(n).map_err(|e| js_err(format!("train: {e}")))?;
                let pool = chain_draws(n, 5000);
                let config = EgnnConfig::indexed(n, hidden, layers, mean_square(&pool));
                (pool, Vec::new(), config, format!("the spring chain of {n} beads"))
            }
            "molecules" => {
                let data = s.forward.dataset().ok_or_else(|| js_err("train: load a molecule set first"))?;
                let g = data.same_size(o.atoms, o.points.unwrap_or(300)).map_err(|e| js_err(format!("train: {e}")))?;
                let label = format!("{} molecules with {} atoms", g.elements.len(), g.atoms);
                // conditioned on the atoms' elements: samples are molecules with atom types
                let config = EgnnConfig::with_elements(g.atoms, hidden, layers, mean_square(&g.positions), &g.elements);
                (g.positions, g.elements, config, label)
            }
            other => return Err(js_err(format!("train: target must be \"chain\" or \"molecules\", got \"{other}\""))),
        };
        let compute = s.network_compute(o.device.as_deref().unwrap_or("auto")).map_err(|e| js_err(format!("train: {e}")))?;
        let model = ScoreModel::new(config, seed);
        s.generate.score.set(ScoreTraining::new(model, &compute, (pool, elements), label, (t_max, batch, lr), seed).map_err(|e| js_err(format!("train: {e}")))?);
        drop(s);
        self.score_status()
    }

    /// Two denoising steps of the page's default network on burn's CPU backend, then the
    /// network is dropped. Browsers compile wasm functions lazily, on first call, and burn's
    /// training path is a few hundred ms of compilation: the page calls this while idle so that
    /// the first training slice does not block for that long.
    #[wasm_bindgen(js_name = warmUp)]
    pub fn warm_up(&self) -> js_sys::Promise {
        wasm_bindgen_futures::future_to_promise(async move {
            // the page's default network and batch (train's defaults), so the same kernels run
            let config = EgnnConfig::indexed(8, 32, 3, 1.0);
            let mut model = ScoreModel::new(config, 0);
            let x0 = chain_draws(8, 32);
            let feats = model.config.node_features(32);
            let mut rng = XorShift64::new(1);
            // two steps: the optimiser's first update allocates its moments, the second is a
            // plain one
            for _ in 0..2 {
                model.train_step(&x0, &feats, &Schedule::polynomial2(1000, 1e-5), 1000.0, 1e-3, &mut rng).await.map_err(js_err)?;
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Trains for about `budget_ms` (a promise of the status `{steps, loss, losses, ms, stopped,
    /// label, t_max, device}`). A non-finite loss stops training with the last good weights, and
    /// says so in `stopped`. On WebGPU the steps await the GPU; meanwhile the network is out of
    /// the playground (a second call is refused, a network loaded meanwhile wins).
    #[wasm_bindgen(js_name = scoreTrainStep)]
    pub fn score_train_step(&self, budget_ms: f64) -> js_sys::Promise {
        let budget = if budget_ms.is_finite() { budget_ms.clamp(1.0, 10_000.0) } else { 30.0 };
        let pg = Playground { inner: self.inner.clone() };
        wasm_bindgen_futures::future_to_promise(async move {
            let mut sc = {
                let mut s = pg.inner.borrow_mut();
                let sc = s.generate.score.take("trainStep: a training slice is already running", "trainStep: start training first")?;
                if let Some(msg) = &sc.stopped {
                    let msg = format!("train: training stopped ({msg})");
                    s.generate.score.put_back(sc);
                    return Err(js_err(msg));
                }
                sc
            };
            sc.train_for(budget).await;
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
        to_js(&serde_json::json!({
            "steps": sc.model.steps, "loss": sc.losses.last(), "losses": sc.losses, "ms": sc.ms, "stopped": sc.stopped,
            "label": sc.label, "t_max": sc.t_max, "config": sc.model.config, "device": device_name(sc.model.compute()),
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
        let (pool, label) = if model.config.atom_identity {
            crate::samplers::check_chain_beads(n).map_err(|e| js_err(format!("{name}: this chain network does not fit: {e}")))?;
            ((chain_draws(n, 5000), Vec::new()), format!("the spring chain of {n} beads ({name})"))
        } else {
            let data = s.forward.dataset().ok_or_else(|| js_err(format!("{name}: a molecule network needs its molecule set loaded first")))?;
            let g = data.same_size(Some(n), 300).map_err(|e| js_err(format!("{name}: {e}")))?;
            let label = format!("{} molecules with {n} atoms ({name})", g.elements.len());
            ((g.positions, g.elements), label)
        };
        // the page's training defaults, should training go on from these weights
        let compute = s.network_compute("auto").map_err(|e| js_err(format!("{name}: {e}")))?;
        s.generate.score.set(ScoreTraining::new(model, &compute, pool, label, (1000.0, 32, 3e-3), 0).map_err(|e| js_err(format!("{name}: {e}")))?);
        drop(s);
        self.score_status()
    }

    /// The score network's weights (`molplay train-score` format; a network on WebGPU is saved
    /// from its copy after the latest training slice).
    #[wasm_bindgen(js_name = scoreWeights)]
    pub fn score_weights(&self) -> Result<Vec<u8>, JsValue> {
        let s = self.inner.borrow();
        let sc = s.generate.score.get().ok_or_else(|| js_err("scoreWeights: train a network first"))?;
        sc.sampling_model().to_bytes().map_err(js_err)
    }
}
