//! Whole-molecule generation (issue 17): training a joint types + positions network in slices
//! with exact checkpoints, generating molecules full or GAGA, and the report of their quality
//! (EDM's stability, validity and uniqueness, distance W2, NFE, time).

use crate::app::AppError;
use crate::chemistry::{self, Validity};
use crate::joint::{check_joint, GagaVariance, GenerateOptions, Generated, Generation, JointData, JointStats};
use crate::metrics::Stability;
use crate::models::{read_container, write_container, ModelError, Network, TrainingState};
use crate::rng::XorShift64;
use crate::samplers::Method;
use crate::schedules::Schedule;
use serde::{Deserialize, Serialize};

const MAGIC: &[u8; 8] = b"MOLPLAYJ";
/// Version of the whole-molecule file (header + network weights [+ average] [+ optimiser]).
pub const MOLECULE_WEIGHTS_VERSION: u32 = 1;

/// Limits of the knobs, the same for the CLI and the page.
pub const MAX_HIDDEN: usize = 512;
pub const MAX_LAYERS: usize = 12;
pub const MAX_BATCH: usize = 1024;
pub const MAX_SAMPLES: usize = 100_000;

/// How a whole-molecule network trains.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub hidden: usize,
    pub layers: usize,
    pub batch: usize,
    pub lr: f64,
    /// GAGA: t drawn from [1, t_max] only (T* of the data); T for the full model.
    pub t_max: f64,
    /// Decay of the weights' moving average that sampling uses (EDM: 0.999); 0: none.
    pub ema: f64,
    pub seed: u64,
}

impl TrainConfig {
    pub fn check(&self, schedule: &Schedule) -> Result<(), AppError> {
        if !(1..=MAX_HIDDEN).contains(&self.hidden) || !(1..=MAX_LAYERS).contains(&self.layers) || !(1..=MAX_BATCH).contains(&self.batch) {
            return Err(AppError::Invalid(format!("need 1 ≤ hidden ≤ {MAX_HIDDEN}, 1 ≤ layers ≤ {MAX_LAYERS}, 1 ≤ batch ≤ {MAX_BATCH}")));
        }
        if !(self.lr > 0.0 && self.lr < 1.0) {
            return Err(AppError::Invalid(format!("the learning rate must be in (0, 1), got {}", self.lr)));
        }
        if !(self.t_max >= 1.0 && self.t_max <= schedule.steps() as f64) {
            return Err(AppError::Invalid(format!("t_max must be within [1, {}], got {}", schedule.steps(), self.t_max)));
        }
        if !(0.0..1.0).contains(&self.ema) {
            return Err(AppError::Invalid(format!("the average's decay must be in [0, 1), got {}", self.ema)));
        }
        Ok(())
    }
}

/// One point of the training curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LossPoint {
    pub step: usize,
    /// Mean loss over the steps since the previous point.
    pub loss: f64,
}

/// Counters of a training run across sessions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainCounters {
    pub steps: usize,
    /// Wall seconds spent training, all sessions.
    pub seconds: f64,
    /// Molecules seen (steps × batch).
    pub molecules: u64,
    pub history: Vec<LossPoint>,
    /// Loss sum and steps since the last point (so a resumed run's next point is the same).
    #[serde(default)]
    pub window: (f64, usize),
}

impl TrainCounters {
    /// One step of `batch` molecules with loss `loss`; every `every` steps the window's mean
    /// joins the curve.
    pub fn record(&mut self, loss: f64, batch: usize, every: usize) {
        self.steps += 1;
        self.molecules += batch as u64;
        self.window = (self.window.0 + loss, self.window.1 + 1);
        if self.steps.is_multiple_of(every.max(1)) {
            let (sum, k) = std::mem::take(&mut self.window);
            self.history.push(LossPoint { step: self.steps, loss: sum / k as f64 });
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    train: TrainConfig,
    stats: JointStats,
    counters: TrainCounters,
    weights_len: usize,
    average_len: usize,
    /// Exact resume point: the optimiser (burn's bytes) with its parameter ids, the generator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<StateHeader>,
}

/// A checkpoint's exact resume point, beside its weights (also the conformer networks').
#[derive(Serialize, Deserialize)]
pub(crate) struct StateHeader {
    pub rng: u64,
    pub optimizer_len: usize,
    pub param_ids: Vec<u64>,
    pub network_steps: usize,
}

/// The parts of a training file after its header: the network's weights (only the ones that
/// sample, the average when there is one, unless `checkpoint`), the average's and the optimiser
/// state, with the state header that resumes them exactly (None unless `checkpoint`). A sync
/// read of the optimiser state. The whole-molecule and the conformer files share it.
pub(crate) type Packed = (Option<StateHeader>, Vec<u8>, Vec<u8>, Vec<u8>);

pub(crate) fn pack_training(net: &Network, average: Option<&Network>, rng: &XorShift64, checkpoint: bool) -> Result<Packed, ModelError> {
    let (weights, average) = match (average, checkpoint) {
        (Some(a), true) => (net.to_bytes()?, a.to_bytes()?),
        (a, _) => (a.unwrap_or(net).to_bytes()?, Vec::new()),
    };
    let (state, optimizer) = match (checkpoint, net.training_state()?) {
        (true, Some(TrainingState { param_ids, optimizer, steps })) => (Some(StateHeader { rng: rng.state(), optimizer_len: optimizer.len(), param_ids, network_steps: steps }), optimizer),
        (true, None) => (Some(StateHeader { rng: rng.state(), optimizer_len: 0, param_ids: Vec::new(), network_steps: net.steps }), Vec::new()),
        (false, _) => (None, Vec::new()),
    };
    Ok((state, weights, average, optimizer))
}

/// Reads what [`pack_training`] wrote: `payload` split by the header's lengths (checked against
/// its size first), the network (`check`ed before anything else is built from it), its average
/// (a preset holds the average only: training on from it starts a new average there, when
/// `ema` > 0) and the generator (`fresh` unless the state resumes it), with the optimiser.
pub(crate) fn unpack_training(
    payload: &[u8],
    weights_len: usize,
    average_len: usize,
    state: Option<StateHeader>,
    ema: f64,
    fresh: XorShift64,
    check: impl FnOnce(&Network) -> Result<(), ModelError>,
) -> Result<(Network, Option<Network>, XorShift64), ModelError> {
    let optimizer_len = state.as_ref().map_or(0, |s| s.optimizer_len);
    let total = weights_len.checked_add(average_len).and_then(|v| v.checked_add(optimizer_len));
    if total != Some(payload.len()) {
        return Err(ModelError::Corrupt(format!("the header describes {total:?} bytes of weights and state, the file holds {}", payload.len())));
    }
    let (weights, rest) = payload.split_at(weights_len);
    let (average, optimizer) = rest.split_at(average_len);
    let mut net = Network::from_bytes(weights, None)?;
    check(&net)?;
    let average = if !average.is_empty() { Some(Network::from_bytes(average, Some(&net.config))?) } else { (ema > 0.0).then(|| net.weights_copy()) };
    let mut rng = fresh;
    if let Some(st) = state {
        rng = XorShift64::from_state(st.rng).map_err(|e| ModelError::Corrupt(e.to_string()))?;
        if !optimizer.is_empty() {
            net.restore_training_state(TrainingState { param_ids: st.param_ids, optimizer: optimizer.to_vec(), steps: st.network_steps })?;
        }
    }
    Ok((net, average, rng))
}

/// A whole-molecule model: the network, the weights' average that samples, and the training
/// set's statistics sampling needs (size histogram, data variances).
pub struct MoleculeModel {
    pub net: Network,
    pub average: Option<Network>,
    pub stats: JointStats,
    pub train: TrainConfig,
    pub counters: TrainCounters,
    rng: XorShift64,
}

impl MoleculeModel {
    /// A fresh model for `data` under `schedule`.
    pub fn new(data: &JointData, train: TrainConfig, schedule: &Schedule) -> Result<MoleculeModel, AppError> {
        train.check(schedule)?;
        let config = data.network_config(train.hidden, train.layers, schedule);
        config.check()?;
        let net = Network::new(config, train.seed);
        let average = (train.ema > 0.0).then(|| net.weights_copy());
        Ok(MoleculeModel { net, average, stats: data.stats(), rng: XorShift64::new(train.seed ^ 0x70B5), train, counters: TrainCounters::default() })
    }

    /// The network sampling uses: the average when there is one.
    pub fn sampling_net(&self) -> &Network {
        self.average.as_ref().unwrap_or(&self.net)
    }

    /// Refuses training data this model cannot continue on: another vocabulary or larger
    /// molecules.
    pub fn check_data(&self, data: &JointData) -> Result<(), ModelError> {
        if data.types != self.net.config.elements {
            return Err(ModelError::Input(format!("the data's elements ({}) are not the network's ({})", data.types.join(", "), self.net.config.elements.join(", "))));
        }
        if data.largest() > self.net.config.atoms {
            return Err(ModelError::Input(format!("the data has molecules of {} atoms; the network takes at most {}", data.largest(), self.net.config.atoms)));
        }
        Ok(())
    }

    /// Up to `steps` training steps on `data`, or fewer if `budget` (seconds, measured by
    /// `clock` in seconds) runs out first; returns the steps taken. Every `every` steps a point
    /// joins the loss curve.
    pub async fn train(&mut self, data: &JointData, schedule: &Schedule, steps: usize, every: usize, budget: f64, clock: &dyn Fn() -> f64) -> Result<usize, ModelError> {
        self.check_data(data)?;
        let t0 = clock();
        let mut taken = 0;
        while taken < steps && (taken == 0 || clock() - t0 < budget) {
            let (n, x, h) = data.draw_batch(self.train.batch, &mut self.rng);
            let loss = self.net.train_step_joint(&x, &h, n, schedule, self.train.t_max, self.train.lr, &mut self.rng).await?;
            if let Some(avg) = &mut self.average {
                avg.average_towards(&self.net, self.train.ema);
            }
            taken += 1;
            self.counters.record(loss, self.train.batch, every);
        }
        self.counters.seconds += clock() - t0;
        Ok(taken)
    }

    /// The file: the weights that sample only (the average when there is one: a preset), or
    /// the network, its average and the exact resume point (`checkpoint`).
    /// A sync read of the optimiser state (natively; in the page on the CPU only).
    pub fn to_bytes(&self, checkpoint: bool) -> Result<Vec<u8>, ModelError> {
        // weights only: just the weights that sample (the average), half the bytes
        let (state, weights, average, optimizer) = pack_training(&self.net, self.average.as_ref(), &self.rng, checkpoint)?;
        let header = Header { train: self.train.clone(), stats: self.stats.clone(), counters: self.counters.clone(), weights_len: weights.len(), average_len: average.len(), state };
        let meta = serde_json::to_vec(&header).map_err(|e| ModelError::Corrupt(e.to_string()))?;
        Ok(write_container(MAGIC, MOLECULE_WEIGHTS_VERSION, &meta, &[weights, average, optimizer].concat()))
    }

    /// Reads a file written by [`to_bytes`](Self::to_bytes). A positions-only network's weights
    /// (or an Adjoint Sampling controller's) are refused with what they are.
    pub fn from_bytes(bytes: &[u8]) -> Result<MoleculeModel, ModelError> {
        if bytes.starts_with(b"MOLPLAYW") {
            let kind = Network::from_bytes(bytes, None).map(|n| n.config.kind()).unwrap_or("a positions-only network");
            return Err(ModelError::Input(format!("these weights are {kind}, not a whole-molecule network (types and positions): sample them with `molplay sample` / the Generate panel's network")));
        }
        if bytes.starts_with(b"MOLPLAYA") {
            return Err(ModelError::Input("these weights are an Adjoint Sampling controller, not a whole-molecule network".into()));
        }
        let (meta, payload) = read_container(bytes, MAGIC, MOLECULE_WEIGHTS_VERSION)?;
        let header: Header = serde_json::from_slice(meta).map_err(|e| ModelError::Corrupt(format!("header: {e}")))?;
        let stats = &header.stats;
        let check = |net: &Network| check_joint(net).and_then(|_| stats.check(net.config.atoms).map_err(|e| ModelError::Corrupt(e.to_string())));
        let (net, average, rng) = unpack_training(payload, header.weights_len, header.average_len, header.state, header.train.ema, XorShift64::new(header.train.seed ^ 0x70B5), check)?;
        Ok(MoleculeModel { net, average, stats: header.stats, train: header.train, counters: header.counters, rng })
    }

    /// Whether the file held the exact resume point.
    pub fn resumable(bytes: &[u8]) -> bool {
        read_container(bytes, MAGIC, MOLECULE_WEIGHTS_VERSION).ok().and_then(|(m, _)| serde_json::from_slice::<Header>(m).ok()).is_some_and(|h| h.state.is_some())
    }
}

/// The quality of a set of generated molecules, as EDM reports it, with the cost.
#[derive(Clone, Debug, Serialize)]
pub struct GenerationReport {
    pub label: String,
    pub samples: usize,
    /// Where sampling started (T or T*), steps taken, network evaluations per molecule.
    pub t_start: f64,
    pub steps: usize,
    pub nfe_per_molecule: f64,
    pub seconds: f64,
    pub stability: StabilityReport,
    pub validity: Validity,
    /// W2 between the pooled interatomic distances of the samples and of the data (Å).
    pub distance_w2: Option<f64>,
    /// Fraction of atoms of each element, generated vs data.
    pub elements: Vec<ElementShare>,
}

#[derive(Clone, Debug, Serialize)]
pub struct StabilityReport {
    pub atom: f64,
    pub molecule: f64,
    pub atoms: usize,
    pub molecules: usize,
}

impl From<&Stability> for StabilityReport {
    fn from(s: &Stability) -> Self {
        StabilityReport { atom: s.atom_fraction(), molecule: s.molecule_fraction(), atoms: s.atoms, molecules: s.molecules }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ElementShare {
    pub element: String,
    pub generated: f64,
    pub data: f64,
}

/// What a report compares generated molecules with, taken from the training data once (a
/// comparison's rows share it): the pooled interatomic distances and each element's share.
pub struct DataReference {
    distances: Vec<f64>,
    shares: std::collections::BTreeMap<String, f64>,
}

impl DataReference {
    pub fn of(data: &crate::molecules::Dataset) -> DataReference {
        DataReference { distances: pooled_distances(data.molecules.iter().map(|m| m.positions.as_slice())), shares: element_shares(data.molecules.iter().map(|m| m.elements.as_slice())) }
    }
}

/// Interatomic distances of molecules (flat Å), pooled.
fn pooled_distances<'a>(molecules: impl Iterator<Item = &'a [f64]>) -> Vec<f64> {
    molecules.flat_map(|x| crate::metrics::pairwise_distances(x, x.len() / 3, 3)).collect()
}

/// Each element's share of the atoms of molecules.
fn element_shares<'a>(molecules: impl Iterator<Item = &'a [String]>) -> std::collections::BTreeMap<String, f64> {
    let mut c = std::collections::BTreeMap::new();
    let mut total = 0.0;
    for e in molecules.flatten() {
        *c.entry(e.clone()).or_insert(0.0) += 1.0;
        total += 1.0;
    }
    c.values_mut().for_each(|v| *v /= f64::max(total, 1.0));
    c
}

/// Evaluates generated molecules against the training data (for distances and element shares;
/// None: without them).
pub fn evaluate(label: &str, gen: &Generated, opts: &GenerateOptions, schedule: &Schedule, seconds: f64, data: Option<&DataReference>) -> GenerationReport {
    let mut stability = Stability::default();
    for (e, x) in &gen.molecules {
        stability.add(e, x);
    }
    let validity = chemistry::validity(gen.molecules.iter().map(|(e, x)| (e.as_slice(), x.as_slice())));
    let distance_w2 = data.map(|d| crate::metrics::w2_1d(&pooled_distances(gen.molecules.iter().map(|(_, x)| x.as_slice())), &d.distances));
    let g = element_shares(gen.molecules.iter().map(|(e, _)| e.as_slice()));
    let empty = std::collections::BTreeMap::new();
    let d = data.map_or(&empty, |d| &d.shares);
    let elements: Vec<ElementShare> = g
        .keys()
        .chain(d.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|k| ElementShare { element: k.clone(), generated: g.get(k).copied().unwrap_or(0.0), data: d.get(k).copied().unwrap_or(0.0) })
        .collect();
    let samples = gen.molecules.len();
    GenerationReport {
        label: label.into(),
        samples,
        t_start: opts.t_star.unwrap_or(schedule.steps() as f64),
        steps: opts.steps,
        nfe_per_molecule: gen.nfe as f64 / samples.max(1) as f64,
        seconds,
        stability: (&stability).into(),
        validity,
        distance_w2,
        elements,
    }
}

/// One generation taken to the end (natively: the CLI and tests), timed by `clock` (seconds).
pub fn generate(model: &MoleculeModel, schedule: &Schedule, opts: &GenerateOptions, count: usize, clock: &dyn Fn() -> f64) -> Result<(Generated, f64), AppError> {
    if !(1..=MAX_SAMPLES).contains(&count) {
        return Err(AppError::Invalid(format!("samples must be within 1..={MAX_SAMPLES}")));
    }
    let t0 = clock();
    let net = model.sampling_net();
    let mut g = Generation::new(net, &model.stats, schedule, opts, count, 0)?;
    while !g.done() {
        g.advance(net, schedule, usize::MAX)?;
    }
    Ok((g.current(), clock() - t0))
}

/// The options of a comparison's rows: full from T with `steps`, GAGA from T* with the steps
/// scaled by T*/T (the same step size), with the pooled and the per-modality start.
pub fn comparison_rows(method: Method, steps: usize, t_star: f64, schedule: &Schedule, seed: u64) -> Vec<(String, GenerateOptions)> {
    let short = crate::app::generation::gaga_steps(steps, t_star, schedule);
    vec![
        ("full".into(), GenerateOptions { method, steps, t_star: None, variance: GagaVariance::Pooled, seed }),
        (format!("GAGA T*={t_star}"), GenerateOptions { method, steps: short, t_star: Some(t_star), variance: GagaVariance::Pooled, seed }),
        (format!("GAGA T*={t_star}, ṽ per modality"), GenerateOptions { method, steps: short, t_star: Some(t_star), variance: GagaVariance::PerModality, seed }),
    ]
}

/// T* of positions and of types on the bundled QM9 subset (the Gaussianity study's 95 % marks):
/// the page's scrubber marks when it has not run the study.
pub const T_STAR_POSITIONS: f64 = 650.0;
pub const T_STAR_TYPES: f64 = 350.0;

/// The knobs of one whole-molecule run driven in slices (the page's Generate-molecules panel).
#[derive(Clone, Debug, PartialEq)]
pub struct RunPlan {
    pub method: Method,
    /// Steps of the full trajectory; GAGA takes T*/T of them (the same step size).
    pub steps: usize,
    pub samples: usize,
    /// Trajectories kept for the viewer.
    pub show: usize,
    pub seed: u64,
    pub gaga: bool,
    pub t_star: f64,
    pub variance: GagaVariance,
    /// The scrubber's marks: where positions and types become Gaussian.
    pub t_star_positions: f64,
    pub t_star_types: f64,
}

impl RunPlan {
    /// The plan's defaults for `model`: GAGA's T* is the T* the network was trained up to
    /// (or 650 for a network trained on the whole trajectory).
    pub fn for_model(model: &MoleculeModel, schedule: &Schedule) -> RunPlan {
        let full_t = schedule.steps() as f64;
        RunPlan {
            method: Method::Ddpm,
            steps: 200,
            samples: 32,
            show: 6,
            seed: 0,
            gaga: false,
            t_star: if model.train.t_max < full_t { model.train.t_max } else { 650.0 },
            variance: GagaVariance::PerModality,
            t_star_positions: T_STAR_POSITIONS,
            t_star_types: T_STAR_TYPES,
        }
    }

    /// Each knob within its bounds: steps and samples up to `max` (the page's 5000), show up to
    /// 16, every T* within [1, T].
    pub fn check(&self, max: usize, schedule: &Schedule) -> Result<(), AppError> {
        let (steps, count, show) = (self.steps, self.samples, self.show);
        if !(1..=max).contains(&steps) || !(1..=MAX_SAMPLES.min(max)).contains(&count) || !(1..=16).contains(&show) {
            return Err(AppError::Invalid(format!("steps and samples must be between 1 and {max} and show between 1 and 16, got {steps}, {count} and {show}")));
        }
        let full_t = schedule.steps() as f64;
        if [self.t_star, self.t_star_positions, self.t_star_types].into_iter().any(|t| !(t.is_finite() && t >= 1.0 && t <= full_t)) {
            return Err(AppError::Invalid(format!("T* values must be within [1, {full_t}]")));
        }
        Ok(())
    }

    fn options(&self, schedule: &Schedule) -> GenerateOptions {
        let steps = if self.gaga { crate::app::generation::gaga_steps(self.steps, self.t_star, schedule) } else { self.steps };
        GenerateOptions { method: self.method, steps, t_star: self.gaga.then_some(self.t_star), variance: self.variance, seed: self.seed }
    }
}

/// One frame of a run's kept trajectories as the viewer shows it: the molecules in a row, each
/// atom grey until its type is decided (known once the run is done).
pub struct FrameView {
    pub positions: Vec<f64>,
    /// Each atom's element, or None while undecided.
    pub elements: Vec<Option<String>>,
    /// Atoms per kept molecule.
    pub sizes: Vec<usize>,
}

impl FrameView {
    /// Atoms that show their element.
    pub fn decided(&self) -> usize {
        self.elements.iter().filter(|e| e.is_some()).count()
    }
}

/// A whole-molecule generation advanced in slices, with what the viewer and the report need.
pub struct Run {
    pub gen: Generation,
    pub schedule: Schedule,
    pub label: String,
    /// Wall time spent stepping, ms.
    pub ms: f64,
    pub plan: RunPlan,
    /// Once done: the frame from which each kept atom's type stays its final one.
    decided: Option<Vec<usize>>,
    report: Option<GenerationReport>,
}

impl Run {
    /// Starts `plan` (checked against `max`) with `model`.
    pub fn start(model: &MoleculeModel, schedule: Schedule, plan: RunPlan, max: usize) -> Result<Run, AppError> {
        plan.check(max, &schedule)?;
        let opts = plan.options(&schedule);
        let gen = Generation::new(model.sampling_net(), &model.stats, &schedule, &opts, plan.samples, plan.show)?;
        let label =
            if plan.gaga { format!("GAGA from T* = {:.0}{}", plan.t_star, if plan.variance == GagaVariance::PerModality { ", ṽ per modality" } else { "" }) } else { "full from T".to_string() };
        Ok(Run { gen, schedule, label, ms: 0.0, plan, decided: None, report: None })
    }

    /// Advances by one sampler step at a time while `more()` says so (a face's time budget),
    /// adding `clock` (ms) to the run's time; when the run is done, its report is made.
    pub fn advance_while(&mut self, model: &MoleculeModel, mut more: impl FnMut() -> bool, clock: &dyn Fn() -> f64) -> Result<(), AppError> {
        let t0 = clock();
        while !self.gen.done() && more() {
            self.gen.advance(model.sampling_net(), &self.schedule, 1)?;
        }
        self.ms += clock() - t0;
        if self.gen.done() && self.report.is_none() {
            self.decided = Some(self.gen.decided_frames());
            self.report = Some(evaluate(&self.label, &self.gen.current(), &self.gen.options, &self.schedule, self.ms / 1000.0, None));
        }
        Ok(())
    }

    /// The finished run's report (None before).
    pub fn report(&self) -> Option<&GenerationReport> {
        self.report.as_ref()
    }

    /// The kept frame nearest diffusion time `t` (clamped to the run's span; not a number: the
    /// start).
    pub fn frame_at(&self, t: f64) -> usize {
        let t_start = self.gen.frame_time(0);
        let t = if t.is_finite() { t.clamp(0.0, t_start) } else { t_start };
        (((t_start - t) / t_start.max(1e-9) * self.gen.options.steps as f64).round() as usize).min(self.gen.frames() - 1)
    }

    /// Frame `k` (clamped to the kept ones) as the viewer shows it.
    pub fn frame_view(&self, k: usize) -> FrameView {
        let k = k.min(self.gen.frames() - 1);
        let molecules = self.gen.frame(k);
        let mut elements = Vec::new();
        for (els, _) in &molecules {
            let first = elements.len();
            elements.extend(els.iter().enumerate().map(|(a, e)| self.decided.as_ref().is_some_and(|d| d[first + a] <= k).then(|| e.clone())));
        }
        FrameView { positions: in_a_row(&molecules), elements, sizes: molecules.iter().map(|m| m.0.len()).collect() }
    }

    /// The kept trajectories as the viewer lays them out, every frame labelled with the types
    /// decided at t = 0: (frames flat, elements, a comment per frame).
    pub fn export(&self) -> (Vec<f64>, Vec<String>, Vec<String>) {
        let frames = self.gen.frames();
        let elements: Vec<String> = self.gen.frame(frames - 1).into_iter().flat_map(|m| m.0).collect();
        let flat: Vec<f64> = (0..frames).flat_map(|k| in_a_row(&self.gen.frame(k))).collect();
        let comments = (0..frames).map(|k| format!("molplay whole-molecules {} t={:.2} (elements as decided at t = 0)", self.label, self.gen.frame_time(k))).collect();
        (flat, elements, comments)
    }
}

/// The molecules of one frame side by side along x, the row centred (the viewer's layout).
fn in_a_row(molecules: &[(Vec<String>, Vec<f64>)]) -> Vec<f64> {
    crate::viewer::layout::side_by_side(&molecules.iter().map(|m| m.1.as_slice()).collect::<Vec<_>>(), 3.0, 8.0)
}
