//! Quotient-space training judged on conformers (issue 18): one EGNN conditioned on the
//! molecular graph (elements as node features, bond orders as edge attributes) trained with
//! each of the paper's four objectives on the same data, budget and seed, sampled with the
//! matching sampler (the quotient objective with the quotient sampler, the others with the
//! standard equivariant one), and judged by COV / AMR on held-out molecules.

use crate::app::molecules::{pack_training, unpack_training, StateHeader, TrainCounters, MAX_BATCH, MAX_HIDDEN, MAX_LAYERS};
use crate::app::AppError;
use crate::conformers::{align_best, coverage, Conformer, Coverage, EDGE_FEATURES};
use crate::models::{element_vocabulary, read_container, write_container, EgnnConfig, ModelError, Network};
use crate::objectives::Objective;
use crate::rng::XorShift64;
use crate::samplers::{Denoiser, Method, SampleOptions, SamplerRun, Symmetry};
use crate::schedules::Schedule;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A graph-conditioned network as a score source for k conformers of one molecule.
pub struct GraphDenoiser<'a> {
    pub model: &'a Network,
    /// One molecule's node features (n × F) and edge attributes (n × (n − 1) × E).
    pub feats: Vec<f64>,
    pub edges: Vec<f64>,
    pub atoms: usize,
}

impl Denoiser for GraphDenoiser<'_> {
    fn atoms(&self) -> usize {
        self.atoms
    }

    fn denoise(&mut self, x: &[f64], t: f64, s: &Schedule) -> Vec<f64> {
        self.denoise_batch(x, t, s)
    }

    fn denoise_batch(&mut self, xs: &[f64], t: f64, s: &Schedule) -> Vec<f64> {
        let b = xs.len() / (3 * self.atoms);
        let feats: Vec<f64> = (0..b).flat_map(|_| self.feats.iter().copied()).collect();
        let edges: Vec<f64> = (0..b).flat_map(|_| self.edges.iter().copied()).collect();
        let eps = self.model.predict_graph(xs, &feats, &edges, self.atoms, &vec![t; b], s);
        let (a, sg) = (s.alpha(t), s.sigma(t));
        xs.iter().zip(&eps).map(|(x, e)| (x - sg * e) / a).collect()
    }
}

/// How the four objectives train and are judged.
#[derive(Clone, Debug, Serialize)]
pub struct ConformerConfig {
    pub hidden: usize,
    pub layers: usize,
    pub batch: usize,
    pub lr: f64,
    /// Decay of the weights' moving average that samples (0: none, sample the trained weights).
    pub ema: f64,
    /// A network that is not equivariant ([`EgnnConfig::absolute`]), trained with
    /// random-rotation augmentation.
    pub absolute: bool,
    /// Gradient steps in all (a run resumed from a checkpoint trains only the ones left).
    pub steps: usize,
    /// Generated conformers per held-out molecule.
    pub k: usize,
    /// Held-out molecules judged (evenly spaced through the split; 0: all).
    pub test: usize,
    /// Sampler steps (DDPM from T).
    pub sample_steps: usize,
    /// RMSD threshold of COV (Å).
    pub threshold: f64,
}

impl ConformerConfig {
    pub fn check(&self) -> Result<(), AppError> {
        if !((1..=MAX_HIDDEN).contains(&self.hidden) && (1..=MAX_LAYERS).contains(&self.layers) && (1..=MAX_BATCH).contains(&self.batch)) {
            return Err(AppError::Invalid(format!("need 1 ≤ hidden ≤ {MAX_HIDDEN}, 1 ≤ layers ≤ {MAX_LAYERS}, 1 ≤ batch ≤ {MAX_BATCH}")));
        }
        if !(self.lr > 0.0 && self.lr < 1.0 && (0.0..1.0).contains(&self.ema)) {
            return Err(AppError::Invalid(format!("need 0 < lr < 1 and 0 ≤ ema < 1, got {} and {}", self.lr, self.ema)));
        }
        if !((1..=1000).contains(&self.k) && (1..=5000).contains(&self.sample_steps) && self.threshold > 0.0 && self.threshold.is_finite()) {
            return Err(AppError::Invalid("need 1 ≤ k ≤ 1000, 1 ≤ sample steps ≤ 5000 and a positive threshold".into()));
        }
        Ok(())
    }
}

/// What a conformer network was trained with (a checkpoint resumes only under the same).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConformerTrain {
    pub objective: Objective,
    pub seed: u64,
    pub hidden: usize,
    pub layers: usize,
    pub batch: usize,
    pub lr: f64,
    pub ema: f64,
    #[serde(default)]
    pub absolute: bool,
}

impl ConformerTrain {
    pub fn of(objective: Objective, seed: u64, c: &ConformerConfig) -> Self {
        ConformerTrain { objective, seed, hidden: c.hidden, layers: c.layers, batch: c.batch, lr: c.lr, ema: c.ema, absolute: c.absolute }
    }
}

const MAGIC: &[u8; 8] = b"MOLPLAYC";
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Header {
    train: ConformerTrain,
    counters: TrainCounters,
    weights_len: usize,
    average_len: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<StateHeader>,
}

/// One conformer network in training: the weights, their moving average (which samples) and
/// the counters.
pub struct ConformerTraining {
    pub train: ConformerTrain,
    pub net: Network,
    pub average: Option<Network>,
    pub counters: TrainCounters,
    rng: XorShift64,
}

/// The network configuration for training conformers `train` (largest molecule, vocabulary,
/// positions' variance); `absolute`: not equivariant.
pub fn network_config(train: &[Conformer], hidden: usize, layers: usize, absolute: bool, schedule: &Schedule) -> EgnnConfig {
    let elements: Vec<Vec<String>> = train.iter().map(|c| c.elements.clone()).collect();
    let largest = train.iter().map(Conformer::atoms).max().unwrap_or(3);
    let (sq, count) = train.iter().fold((0.0, 0usize), |(s, k), c| (s + c.positions.iter().map(|v| v * v).sum::<f64>(), k + c.positions.len()));
    let variance = sq / count.max(1) as f64;
    EgnnConfig { edge_features: EDGE_FEATURES, absolute, ..EgnnConfig::with_elements(largest, hidden, layers, variance, &elements) }.trained_under(schedule)
}

/// Points on a training's loss curve: one per this many steps.
pub const CURVE_EVERY: usize = 100;

impl ConformerTraining {
    pub fn new(train: ConformerTrain, config: EgnnConfig) -> Self {
        let net = Network::new(config, train.seed);
        let average = (train.ema > 0.0).then(|| net.weights_copy());
        ConformerTraining { rng: XorShift64::new(train.seed ^ 0xC0F0), net, average, train, counters: TrainCounters::default() }
    }

    pub fn objective(&self) -> Objective {
        self.train.objective
    }

    /// The weights that sample: the average when there is one.
    pub fn sampling_net(&self) -> &Network {
        self.average.as_ref().unwrap_or(&self.net)
    }

    /// The sampler the objective is paired with (the paper's pairing): the quotient sampler
    /// for quotient training, the standard equivariant one with Boltz's re-alignment for AF3
    /// alignment, the standard one for the others.
    pub fn sampler(&self) -> Sampler {
        match self.train.objective {
            Objective::Quotient => Sampler::Quotient,
            Objective::Af3 => Sampler::BoltzRealign,
            _ => Sampler::Equivariant,
        }
    }

    /// Refuses molecules this network cannot take: other elements, more atoms.
    pub fn check_molecules(&self, set: &[Conformer]) -> Result<(), AppError> {
        let cfg = &self.net.config;
        for m in set {
            if m.atoms() > cfg.atoms {
                return Err(AppError::Invalid(format!("molecule {} has {} atoms; the network takes at most {}", m.index, m.atoms(), cfg.atoms)));
            }
            if let Some(e) = m.elements.iter().find(|e| !cfg.elements.contains(e)) {
                return Err(AppError::Invalid(format!("molecule {} has element {e}, outside the network's {}", m.index, cfg.elements.join(", "))));
            }
        }
        Ok(())
    }

    /// Up to `steps` gradient steps, or fewer when `budget` seconds (by `clock`) run out
    /// first; returns the steps taken. Each step draws an atom count with the training set's
    /// weights, then `batch` molecules of that size.
    pub async fn train(&mut self, train: &[Conformer], by_size: &BTreeMap<usize, Vec<usize>>, schedule: &Schedule, steps: usize, budget: f64, clock: &dyn Fn() -> f64) -> Result<usize, ModelError> {
        let histogram: Vec<(usize, usize)> = by_size.iter().map(|(&n, v)| (n, v.len())).collect();
        if histogram.is_empty() {
            return Err(ModelError::Input("no training molecules".into()));
        }
        let t0 = clock();
        let mut taken = 0;
        while taken < steps && (taken == 0 || clock() - t0 < budget) {
            let n = crate::joint::draw_size(&histogram, &mut self.rng);
            let pool = &by_size[&n];
            let picks: Vec<&Conformer> = (0..self.train.batch).map(|_| &train[pool[self.rng.below(pool.len())]]).collect();
            // a network that is not equivariant sees each molecule in a random orientation
            let x0: Vec<f64> = if self.net.config.absolute {
                picks.iter().flat_map(|m| crate::geometry::rotate(&crate::geometry::random_rotation(&mut self.rng), &m.positions)).collect()
            } else {
                picks.iter().flat_map(|m| m.positions.iter().copied()).collect()
            };
            let elements: Vec<&[String]> = picks.iter().map(|m| m.elements.as_slice()).collect();
            let feats = self.net.config.element_features_sized(&elements)?;
            let edges: Vec<f64> = picks.iter().flat_map(|m| m.edge_attributes()).collect();
            let loss = self.net.train_step_graph(self.train.objective, &x0, &feats, &edges, n, schedule, schedule.steps() as f64, self.train.lr, &mut self.rng).await?;
            if let Some(avg) = &mut self.average {
                avg.average_towards(&self.net, self.train.ema);
            }
            taken += 1;
            self.counters.record(loss, self.train.batch, CURVE_EVERY);
        }
        self.counters.seconds += clock() - t0;
        Ok(taken)
    }

    /// The sampler run for k conformers of molecule `m` with the objective's matching sampler.
    pub fn sampler_run(&self, m: &Conformer, schedule: &Schedule, k: usize, sample_steps: usize, seed: u64) -> Result<SamplerRun, AppError> {
        self.check_molecules(std::slice::from_ref(m))?;
        self.net.config.check_schedule(schedule)?;
        let sampler = self.sampler();
        let symmetry = if sampler == Sampler::Quotient { Symmetry::Quotient } else { Symmetry::Equivariant };
        let opts = SampleOptions { seed, realign: sampler == Sampler::BoltzRealign, ..SampleOptions::new(Method::Ddpm, symmetry, sample_steps, schedule) };
        Ok(SamplerRun::new(m.atoms(), schedule, &opts, k, 0)?)
    }

    /// Advances `run` (of molecule `m`) by up to `steps` sampler steps with the sampling weights.
    pub fn advance(&self, run: &mut SamplerRun, m: &Conformer, schedule: &Schedule, steps: usize) -> Result<(), AppError> {
        let net = self.sampling_net();
        let feats = net.config.element_features_sized(&[m.elements.as_slice()])?;
        let mut den = GraphDenoiser { model: net, feats, edges: m.edge_attributes(), atoms: m.atoms() };
        Ok(run.advance(&mut den, schedule, steps)?)
    }

    /// k conformers of molecule `m` from the objective's matching sampler (flat k × n × 3).
    pub fn generate(&self, m: &Conformer, schedule: &Schedule, k: usize, sample_steps: usize, seed: u64) -> Result<Vec<f64>, AppError> {
        let mut run = self.sampler_run(m, schedule, k, sample_steps, seed)?;
        self.advance(&mut run, m, schedule, sample_steps)?;
        Ok(run.samples().to_vec())
    }

    /// The seed molecule `i` of a judgement samples with.
    pub fn judge_seed(&self, i: usize) -> u64 {
        judge_seed(self.train.seed, i)
    }

    /// k conformers of each of `test`, sampled with the objective's matching sampler; each
    /// molecule's heavy-atom RMSDs to its reference.
    pub fn judge(&self, test: &[Conformer], schedule: &Schedule, c: &ConformerConfig) -> Result<Vec<Vec<f64>>, AppError> {
        let mut j = Judgement::new(test.to_vec(), c.k, c.sample_steps, 1, self.train.seed)?;
        j.advance(&[self], schedule, usize::MAX)?;
        Ok(j.rmsds.swap_remove(0))
    }

    /// The file: the sampling weights only (`checkpoint` false: what the page ships), or the
    /// network, its average and the exact resume point.
    pub fn to_bytes(&self, checkpoint: bool) -> Result<Vec<u8>, ModelError> {
        let (state, weights, average, optimizer) = pack_training(&self.net, self.average.as_ref(), &self.rng, checkpoint)?;
        let header = Header { train: self.train.clone(), counters: self.counters.clone(), weights_len: weights.len(), average_len: average.len(), state };
        let meta = serde_json::to_vec(&header).map_err(|e| ModelError::Corrupt(e.to_string()))?;
        Ok(write_container(MAGIC, VERSION, &meta, &[weights, average, optimizer].concat()))
    }

    /// Reads a file written by [`to_bytes`](Self::to_bytes); other molplay weights are refused
    /// with what they are.
    pub fn from_bytes(bytes: &[u8]) -> Result<ConformerTraining, ModelError> {
        for (magic, what) in [(b"MOLPLAYW", "a positions-only network"), (b"MOLPLAYJ", "a whole-molecule network"), (b"MOLPLAYA", "an Adjoint Sampling controller")] {
            if bytes.starts_with(magic) {
                return Err(ModelError::Input(format!("these weights are {what}, not a conformer network (molplay conformers --save)")));
            }
        }
        let (meta, payload) = read_container(bytes, MAGIC, VERSION)?;
        let header: Header = serde_json::from_slice(meta).map_err(|e| ModelError::Corrupt(format!("header: {e}")))?;
        let t = &header.train;
        if !(t.lr > 0.0 && t.lr < 1.0 && (0.0..1.0).contains(&t.ema) && (1..=MAX_BATCH).contains(&t.batch)) {
            return Err(ModelError::Corrupt(format!("training settings out of range: {t:?}")));
        }
        let check = |net: &Network| {
            if net.config.edge_features != EDGE_FEATURES || (net.config.hidden, net.config.layers, net.config.absolute) != (t.hidden, t.layers, t.absolute) {
                return Err(ModelError::Corrupt("the weights are not a graph-conditioned network of the stated size".into()));
            }
            Ok(())
        };
        let (net, average, rng) = unpack_training(payload, header.weights_len, header.average_len, header.state, t.ema, XorShift64::new(t.seed ^ 0xC0F0), check)?;
        Ok(ConformerTraining { train: header.train, net, average, counters: header.counters, rng })
    }
}

/// The seed molecule `i` of a judgement with base seed `seed` samples with.
pub fn judge_seed(seed: u64, i: usize) -> u64 {
    seed.wrapping_mul(1_000_003).wrapping_add(i as u64)
}

/// Several networks judged on the same held-out molecules with the same sampler seeds, a few
/// sampler steps at a time (the page advances it in slices between frames; the CLI at once).
pub struct Judgement {
    pub test: Vec<Conformer>,
    pub k: usize,
    pub sample_steps: usize,
    seed: u64,
    /// Per network, per molecule: the k conformers (flat k × n × 3), aligned onto the
    /// reference by their heavy atoms, and their heavy-atom RMSDs.
    pub conformers: Vec<Vec<Vec<f64>>>,
    pub rmsds: Vec<Vec<Vec<f64>>>,
    models: usize,
    run: Option<SamplerRun>,
}

impl Judgement {
    pub fn new(test: Vec<Conformer>, k: usize, sample_steps: usize, models: usize, seed: u64) -> Result<Self, AppError> {
        if test.is_empty() || models == 0 || k == 0 || sample_steps == 0 {
            return Err(AppError::Invalid("a judgement needs held-out molecules, a network, k ≥ 1 and sampler steps ≥ 1".into()));
        }
        Ok(Judgement { test, k, sample_steps, seed, conformers: vec![Vec::new(); models], rmsds: vec![Vec::new(); models], models, run: None })
    }

    /// (network, molecule) the next steps are for.
    fn cursor(&self) -> (usize, usize) {
        let done: usize = self.rmsds.iter().map(Vec::len).sum();
        (done / self.test.len(), done % self.test.len())
    }

    pub fn done(&self) -> bool {
        self.cursor().0 >= self.models
    }

    /// (sampler steps taken, in all), over every network and molecule.
    pub fn progress(&self) -> (usize, usize) {
        let (m, i) = self.cursor();
        let within = self.run.as_ref().map_or(0, |r| r.progress().0);
        ((m * self.test.len() + i) * self.sample_steps + within, self.models * self.test.len() * self.sample_steps)
    }

    /// Up to `steps` sampler steps with `models` (the same networks, in the same order, at
    /// every call); returns the steps taken.
    pub fn advance(&mut self, models: &[&ConformerTraining], schedule: &Schedule, steps: usize) -> Result<usize, AppError> {
        if models.len() != self.models {
            return Err(AppError::Invalid(format!("the judgement is of {} networks, {} given", self.models, models.len())));
        }
        let mut taken = 0;
        while taken < steps && !self.done() {
            let (mi, i) = self.cursor();
            let (net, m) = (models[mi], &self.test[i]);
            let run = match &mut self.run {
                Some(r) => r,
                None => self.run.insert(net.sampler_run(m, schedule, self.k, self.sample_steps, judge_seed(self.seed, i))?),
            };
            let chunk = (steps - taken).min(run.progress().1 - run.progress().0);
            net.advance(run, m, schedule, chunk)?;
            taken += chunk;
            if run.done() {
                let run = self.run.take().expect("set above");
                let n = m.atoms();
                let (mut aligned, mut rmsd) = (Vec::with_capacity(run.samples().len()), Vec::with_capacity(self.k));
                let symmetries = m.symmetries();
                for x in run.samples().chunks(3 * n) {
                    let (y, r) = align_best(x, m, &symmetries);
                    aligned.extend(y);
                    rmsd.push(r);
                }
                self.conformers[mi].push(aligned);
                self.rmsds[mi].push(rmsd);
            }
        }
        Ok(taken)
    }
}

/// The page's table of a finished judgement: each network's coverage at the threshold, and per
/// network and molecule the best RMSD of its k conformers.
#[derive(Clone, Debug, Serialize)]
pub struct JudgedTable {
    pub rows: Vec<JudgedRow>,
    /// Per network, per molecule: the lowest RMSD of its conformers (Å).
    pub best: Vec<Vec<f64>>,
    /// The judged molecules' indices in the set.
    pub molecules: Vec<usize>,
    pub k: usize,
    pub sample_steps: usize,
    pub threshold: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct JudgedRow {
    pub objective: &'static str,
    pub sampler: Sampler,
    /// Where the network came from (its file, or the page's training).
    pub model: String,
    pub steps: usize,
    pub coverage: Coverage,
}

impl Judgement {
    /// The held-out molecules every one of `models` can take, thinned to `count` evenly spaced
    /// ([`pick_test`]), and how many were skipped.
    pub fn usable(held: &[Conformer], models: &[&ConformerTraining], count: usize) -> Result<(Vec<Conformer>, usize), AppError> {
        let fits = |m: &Conformer| models.iter().all(|t| t.check_molecules(std::slice::from_ref(m)).is_ok());
        let usable: Vec<Conformer> = held.iter().filter(|m| fits(m)).cloned().collect();
        if usable.is_empty() {
            return Err(AppError::Invalid("no held-out molecule fits every loaded network".into()));
        }
        Ok((pick_test(&usable, count), held.len() - usable.len()))
    }

    /// The finished judgement of `models` (name and network, in the judgement's order) at
    /// `threshold` Å.
    pub fn table(&self, models: &[(&str, &ConformerTraining)], threshold: f64) -> JudgedTable {
        let rows = models
            .iter()
            .zip(&self.rmsds)
            .map(|((name, t), r)| JudgedRow { objective: t.objective().name(), sampler: t.sampler(), model: name.to_string(), steps: t.counters.steps, coverage: coverage(r, threshold) })
            .collect();
        let best = self.rmsds.iter().map(|per| per.iter().map(|r| r.iter().copied().fold(f64::INFINITY, f64::min)).collect()).collect();
        JudgedTable { rows, best, molecules: self.test.iter().map(|m| m.index).collect(), k: self.k, sample_steps: self.sample_steps, threshold }
    }

    /// Network `model`'s conformer of judged molecule `molecule` closest to the reference:
    /// (its RMSD, its positions aligned on the reference), with every RMSD of the molecule.
    pub fn closest(&self, model: usize, molecule: usize) -> Option<(f64, &[f64], &[f64])> {
        let rmsds = self.rmsds.get(model)?.get(molecule)?;
        let n = self.test[molecule].atoms();
        let best = (0..rmsds.len()).min_by(|&a, &b| rmsds[a].total_cmp(&rmsds[b]))?;
        Some((rmsds[best], &self.conformers[model][molecule][best * 3 * n..(best + 1) * 3 * n], rmsds))
    }
}

/// A conformer set from multi-frame XYZ (elements, bonds from the geometry, positions), every
/// `every`-th molecule held out: what `molplay conformers` and the page's panel judge on.
pub struct ConformerSet {
    pub train: Vec<Conformer>,
    pub test: Vec<Conformer>,
    /// Molecules left out (elements outside H, C, N, O, F or a disconnected bond graph).
    pub left_out: usize,
}

impl ConformerSet {
    pub fn from_xyz(text: &str, every: usize) -> Result<ConformerSet, AppError> {
        let data = crate::molecules::Dataset::from_xyz(text, 3).map_err(|e| AppError::Invalid(e.to_string()))?;
        let (all, left) = crate::conformers::from_dataset(&data);
        let (train, test) = crate::conformers::split(all, every);
        if train.is_empty() || test.is_empty() {
            return Err(AppError::Invalid(format!("no molecule usable as a conformer target ({} left out: elements outside H, C, N, O, F or a disconnected bond graph)", left.len())));
        }
        Ok(ConformerSet { train, test, left_out: left.len() })
    }

    /// Atoms of the largest molecule.
    pub fn largest(&self) -> usize {
        self.train.iter().chain(&self.test).map(Conformer::atoms).max().unwrap_or(0)
    }
}

/// The sampler a row is judged with (DDPM in every case).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sampler {
    /// The standard equivariant sampler.
    Equivariant,
    /// The standard sampler with the noisy state superposed onto the denoiser's output before
    /// each update (Boltz; the AF3-alignment pairing).
    BoltzRealign,
    /// The quotient sampler: horizontal projection and the curvature correction.
    Quotient,
}

/// One row of the table.
#[derive(Clone, Debug, Serialize)]
pub struct ConformerRow {
    pub objective: Objective,
    pub sampler: Sampler,
    pub seed: u64,
    pub steps: usize,
    /// Training wall time, all sessions.
    pub seconds: f64,
    pub last_loss: f64,
    pub coverage: Coverage,
}

impl ConformerRow {
    pub fn of(t: &ConformerTraining, coverage: Coverage) -> Self {
        ConformerRow {
            objective: t.objective(),
            sampler: t.sampler(),
            seed: t.train.seed,
            steps: t.counters.steps,
            seconds: t.counters.seconds,
            last_loss: t.counters.history.last().map_or(f64::NAN, |p| p.loss),
            coverage,
        }
    }
}

/// Molecule indices of `train` by atom count.
pub fn by_size(train: &[Conformer]) -> BTreeMap<usize, Vec<usize>> {
    let mut out: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, m) in train.iter().enumerate() {
        out.entry(m.atoms()).or_default().push(i);
    }
    out
}

/// `test` thinned to `count` molecules evenly spaced through it (0 or more than it has: all).
pub fn pick_test(test: &[Conformer], count: usize) -> Vec<Conformer> {
    if count == 0 || count >= test.len() {
        test.to_vec()
    } else {
        (0..count).map(|i| test[i * test.len() / count].clone()).collect()
    }
}

/// The network `objective` with `seed` trains: `start` (a checkpoint, which must have been
/// trained with the same settings) or a fresh one for `train`.
pub fn begin(objective: Objective, seed: u64, start: Option<ConformerTraining>, train: &[Conformer], schedule: &Schedule, c: &ConformerConfig) -> Result<ConformerTraining, AppError> {
    c.check()?;
    if train.is_empty() {
        return Err(AppError::Invalid("conformers need training molecules".into()));
    }
    let want = ConformerTrain::of(objective, seed, c);
    let t = match start {
        Some(t) if t.train != want => return Err(AppError::Invalid(format!("the checkpoint was trained with {:?}, this run asks for {want:?}", t.train))),
        Some(t) => t,
        None => ConformerTraining::new(want, network_config(train, c.hidden, c.layers, c.absolute, schedule)),
    };
    t.check_molecules(train)?;
    Ok(t)
}

/// `t` judged on `c.test` of the held-out molecules: the table's row.
/// The judgement is returned too: the generated conformers, for `--details`.
pub fn judge_row(t: &ConformerTraining, test: &[Conformer], schedule: &Schedule, c: &ConformerConfig) -> Result<(ConformerRow, Judgement), AppError> {
    if test.is_empty() {
        return Err(AppError::Invalid("conformers need held-out molecules".into()));
    }
    let mut j = Judgement::new(pick_test(test, c.test), c.k, c.sample_steps, 1, t.train.seed)?;
    j.advance(&[t], schedule, usize::MAX)?;
    Ok((ConformerRow::of(t, coverage(&j.rmsds[0], c.threshold)), j))
}

/// Trains `objective` with `seed` up to `c.steps` steps in all, going on from `start` when
/// given, and judges it on `test` (the tests' loop; the CLI checkpoints in between).
#[allow(clippy::too_many_arguments)]
pub async fn run(
    objective: Objective,
    seed: u64,
    start: Option<ConformerTraining>,
    train: &[Conformer],
    test: &[Conformer],
    schedule: &Schedule,
    c: &ConformerConfig,
    clock: &dyn Fn() -> f64,
) -> Result<(ConformerTraining, ConformerRow), AppError> {
    let mut t = begin(objective, seed, start, train, schedule, c)?;
    let left = c.steps.saturating_sub(t.counters.steps);
    if left > 0 {
        t.train(train, &by_size(train), schedule, left, f64::INFINITY, clock).await?;
    }
    let (row, _) = judge_row(&t, test, schedule, c)?;
    Ok((t, row))
}

/// Per objective: the mean and spread (half the range) over seeds of AMR-R mean and COV-R mean.
#[derive(Clone, Debug, Serialize)]
pub struct ObjectiveSummary {
    pub objective: Objective,
    pub seeds: usize,
    pub amr_r_mean: f64,
    pub amr_r_spread: f64,
    pub cov_r_mean: f64,
    pub cov_r_spread: f64,
    pub amr_p_mean: f64,
    pub cov_p_mean: f64,
}

pub fn summarise(rows: &[ConformerRow]) -> Vec<ObjectiveSummary> {
    Objective::ALL
        .into_iter()
        .filter_map(|o| {
            let r: Vec<&ConformerRow> = rows.iter().filter(|r| r.objective == o).collect();
            if r.is_empty() {
                return None;
            }
            let stat = |f: &dyn Fn(&Coverage) -> f64| {
                let v: Vec<f64> = r.iter().map(|x| f(&x.coverage)).collect();
                let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
                (v.iter().sum::<f64>() / v.len() as f64, 0.5 * (hi - lo))
            };
            let (amr, amr_s) = stat(&|c| c.amr_r_mean);
            let (cov, cov_s) = stat(&|c| c.cov_r_mean);
            Some(ObjectiveSummary {
                objective: o,
                seeds: r.len(),
                amr_r_mean: amr,
                amr_r_spread: amr_s,
                cov_r_mean: cov,
                cov_r_spread: cov_s,
                amr_p_mean: stat(&|c| c.amr_p_mean).0,
                cov_p_mean: stat(&|c| c.cov_p_mean).0,
            })
        })
        .collect()
}

/// The element vocabulary of a conformer set (for a network's node features).
pub fn vocabulary(set: &[Conformer]) -> Vec<String> {
    element_vocabulary(&set.iter().map(|c| c.elements.clone()).collect::<Vec<_>>())
}
