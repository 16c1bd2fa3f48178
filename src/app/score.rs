//! Denoising score matching of an EGNN score network on same-size configurations (the spring
//! chain, or molecules of one atom count), in budgeted slices: the page's Generate panel
//! (`train`) and `molplay train-score` run this one loop, with their limits in one place.

use crate::app::AppError;
use crate::metrics::mean_square;
use crate::models::{Compute, EgnnConfig, ModelError, ScoreModel, MAX_HIDDEN, MAX_LAYERS};
use crate::objectives::Objective;
use crate::rng::XorShift64;
use crate::schedules::Schedule;
use serde::Serialize;

/// The most configurations a training batch holds (natively).
pub const MAX_BATCH: usize = 4096;

/// What a face lets a network be: the CLI takes the models' bounds; the page takes smaller
/// ones, because a training slice runs at least one step between two frames and one step of a
/// bigger network would freeze the tab for seconds.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub hidden: usize,
    pub layers: usize,
    pub batch: usize,
}

impl Limits {
    pub const NATIVE: Limits = Limits { hidden: MAX_HIDDEN, layers: MAX_LAYERS, batch: MAX_BATCH };
    pub const PAGE: Limits = Limits { hidden: 256, layers: 8, batch: 512 };
}

/// How a network trains: its size, the batch, the step size, GAGA's range t ≤ `t_max`, the
/// objective and the seed (of the weights and of the batches and noise draws).
#[derive(Clone, Debug, Serialize)]
pub struct Knobs {
    pub hidden: usize,
    pub layers: usize,
    pub batch: usize,
    pub lr: f64,
    pub t_max: f64,
    pub objective: Objective,
    pub seed: u64,
}

impl Default for Knobs {
    /// The page's defaults.
    fn default() -> Self {
        Knobs { hidden: 32, layers: 3, batch: 32, lr: 3e-3, t_max: 1000.0, objective: Objective::Conventional, seed: 0 }
    }
}

impl Knobs {
    /// Every knob in its range for `limits`; the message names them all, each as `name` spells
    /// it for the face (`--t-max` in the CLI, `tMax` in the page).
    pub fn check(&self, limits: Limits, name: impl Fn(&str) -> String) -> Result<(), AppError> {
        let Limits { hidden, layers, batch } = limits;
        if (1..=hidden).contains(&self.hidden) && (1..=layers).contains(&self.layers) && (1..=batch).contains(&self.batch) && self.lr > 0.0 && self.lr < 1.0 && (1.0..=1000.0).contains(&self.t_max) {
            Ok(())
        } else {
            let [h, l, b, r, t] = ["hidden", "layers", "batch", "lr", "t_max"].map(&name);
            Err(AppError::Invalid(format!("need 1 ≤ {h} ≤ {hidden}, 1 ≤ {l} ≤ {layers}, 1 ≤ {b} ≤ {batch}, 0 < {r} < 1, 1 ≤ {t} ≤ 1000")))
        }
    }
}

/// The configurations a network learns, all of one size.
pub struct TrainingSet {
    /// Flat CoM-free positions, `atoms` × 3 per configuration.
    pub positions: Vec<f64>,
    pub atoms: usize,
    /// Each configuration's elements (empty for the chain).
    pub elements: Vec<Vec<String>>,
    /// Where they came from, for labels ("the spring chain of 8 beads", "300 molecules with 19 atoms").
    pub label: String,
}

impl TrainingSet {
    /// `count` draws of the spring chain of `n` beads.
    pub fn chain(n: usize, count: usize) -> Result<TrainingSet, AppError> {
        crate::samplers::check_chain_beads(n)?;
        let mut g = crate::samplers::GaussianTarget::spring_chain(n);
        Ok(TrainingSet { positions: (0..count).flat_map(|_| g.draw()).collect(), atoms: n, elements: Vec::new(), label: format!("the spring chain of {n} beads") })
    }

    /// The network this set trains: a chain's beads are told apart by their indices (ends vs
    /// middle), molecules' atoms by their elements (or not at all, `positions_only`).
    pub fn config(&self, hidden: usize, layers: usize, positions_only: bool) -> EgnnConfig {
        let v = mean_square(&self.positions);
        if self.elements.is_empty() {
            EgnnConfig::indexed(self.atoms, hidden, layers, v)
        } else if positions_only {
            EgnnConfig::identical(self.atoms, hidden, layers, v)
        } else {
            EgnnConfig::with_elements(self.atoms, hidden, layers, v, &self.elements)
        }
    }

    /// `data`'s molecules of `atoms` atoms (default: the most common size), at most `points` of
    /// them evenly spaced; `file` names the weights they are for (empty for a fresh network).
    pub fn molecules(data: &crate::molecules::Dataset, atoms: Option<usize>, points: usize, file: &str) -> Result<TrainingSet, AppError> {
        let g = data.same_size(atoms, points).map_err(|e| AppError::Invalid(e.to_string()))?;
        let from = if file.is_empty() { String::new() } else { format!(" ({file})") };
        let label = format!("{} molecules with {} atoms{from}", g.elements.len(), g.atoms);
        Ok(TrainingSet { positions: g.positions, atoms: g.atoms, elements: g.elements, label })
    }

    fn count(&self) -> usize {
        self.positions.len() / (3 * self.atoms)
    }
}

/// Two denoising steps of the page's default network (the chain of 8 beads, hidden 32, 3
/// layers, batch 32) on burn's CPU backend, then dropped: a browser compiles wasm functions on
/// first call, and the page runs this while idle so that its first training slice does not wait
/// for that. The first step allocates the optimiser's moments, the second is a plain one.
pub async fn warm_up() -> Result<(), AppError> {
    let mut model = ScoreModel::new(EgnnConfig::indexed(8, 32, 3, 1.0), 0);
    let x0 = TrainingSet::chain(8, 32)?.positions;
    let feats = model.config.node_features(32);
    let mut rng = XorShift64::new(1);
    for _ in 0..2 {
        model.train_step(&x0, &feats, &Schedule::polynomial2(1000, 1e-5), 1000.0, 1e-3, &mut rng).await?;
    }
    Ok(())
}

/// A network training on a set, in slices.
pub struct ScoreTraining {
    model: ScoreModel,
    /// A CPU copy of a network that trains on a GPU, for sampling and saving (reads in the
    /// browser are async), refreshed after every slice; None when the network is on the CPU.
    cpu_copy: Option<ScoreModel>,
    pub set: TrainingSet,
    pub knobs: Knobs,
    schedule: Schedule,
    rng: XorShift64,
    /// Every step's loss.
    pub losses: Vec<f64>,
    /// Seconds spent training.
    pub seconds: f64,
    /// Why training stopped (a non-finite loss keeps the last good weights), if it did.
    pub stopped: Option<String>,
}

/// A training's state, as both faces report it.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub steps: usize,
    pub loss: Option<f64>,
    pub label: String,
    pub t_max: f64,
    pub objective: Objective,
    pub device: &'static str,
    pub seconds: f64,
    pub stopped: Option<String>,
    pub config: EgnnConfig,
}

impl ScoreTraining {
    /// `model` (fresh, or loaded with its own steps) trains on `set` on `compute`, under EDM's
    /// polynomial schedule, which the weights then record.
    pub fn new(mut model: ScoreModel, set: TrainingSet, knobs: Knobs, compute: &Compute) -> Result<ScoreTraining, AppError> {
        let schedule = Schedule::polynomial2(1000, 1e-5);
        model.config.check_schedule(&schedule)?;
        model.config = model.config.clone().trained_under(&schedule);
        if set.atoms != model.config.atoms {
            return Err(AppError::Invalid(format!("the network is for {} atoms, the training set has {}", model.config.atoms, set.atoms)));
        }
        if set.count() == 0 {
            return Err(AppError::Invalid("the training set is empty".into()));
        }
        if model.config.conditioned_on_elements() {
            // every molecule must be expressible in the network's vocabulary
            if set.elements.is_empty() {
                return Err(AppError::Invalid("a network conditioned on elements needs molecules with elements".into()));
            }
            let refs: Vec<&[String]> = set.elements.iter().map(Vec::as_slice).collect();
            model.config.element_features(&refs)?;
        }
        if knobs.objective == Objective::Quotient && set.atoms < 3 {
            return Err(AppError::Invalid("the quotient objective needs at least 3 atoms (the horizontal projection of fewer is degenerate)".into()));
        }
        let (model, cpu_copy) = match compute {
            Compute::Cpu => (model, None),
            _ => {
                let copy = ScoreModel::from_bytes(&model.to_bytes()?, None)?;
                (model.moved_to(compute), Some(copy))
            }
        };
        let rng = XorShift64::new(knobs.seed ^ 0x5EED);
        Ok(ScoreTraining { model, cpu_copy, set, knobs, schedule, rng, losses: Vec::new(), seconds: 0.0, stopped: None })
    }

    /// A fresh network of `knobs`' size for `set`, initialised from `knobs.seed`.
    pub fn fresh(set: TrainingSet, knobs: Knobs, positions_only: bool, compute: &Compute) -> Result<ScoreTraining, AppError> {
        let model = ScoreModel::new(set.config(knobs.hidden, knobs.layers, positions_only), knobs.seed);
        ScoreTraining::new(model, set, knobs, compute)
    }

    /// The network being trained.
    pub fn model(&self) -> &ScoreModel {
        &self.model
    }

    /// The network to sample with or save (on the CPU).
    pub fn sampling_model(&self) -> &ScoreModel {
        self.cpu_copy.as_ref().unwrap_or(&self.model)
    }

    /// Trains until `steps` steps are taken or `budget` seconds of `clock` have passed (at
    /// least one step); returns the steps taken. A failed step (a non-finite loss) stops
    /// training with the last good weights and says why in `stopped`.
    pub async fn train(&mut self, steps: usize, budget: f64, clock: &dyn Fn() -> f64) -> usize {
        let per = 3 * self.set.atoms;
        let count = self.set.count();
        let t0 = clock();
        let mut taken = 0;
        while self.stopped.is_none() && taken < steps && (taken == 0 || clock() - t0 < budget) {
            let picks: Vec<usize> = (0..self.knobs.batch).map(|_| self.rng.below(count)).collect();
            let x0: Vec<f64> = picks.iter().flat_map(|&i| self.set.positions[i * per..][..per].to_vec()).collect();
            let step = match self.model.config.features_of(&self.set.elements, &picks) {
                Ok(feats) => self.model.train_step_with(self.knobs.objective, &x0, &feats, &self.schedule, self.knobs.t_max, self.knobs.lr, &mut self.rng).await,
                Err(e) => Err(e),
            };
            match step {
                Ok(l) => self.losses.push(l),
                Err(e) => self.stopped = Some(e.to_string()),
            }
            taken += 1;
        }
        if self.cpu_copy.is_some() {
            match self.model.snapshot().await {
                Ok(copy) => self.cpu_copy = Some(copy),
                Err(e) => self.stopped = Some(e.to_string()),
            }
        }
        self.seconds += clock() - t0;
        taken
    }

    /// The GPU was lost: training goes on from the CPU copy (taken after every slice; Adam's
    /// moments restart), or stops when there is none.
    pub fn move_to_cpu(&mut self) {
        if matches!(self.model.compute(), Compute::Cpu) {
            return;
        }
        match self.cpu_copy.take() {
            Some(copy) => self.model = copy,
            None => self.stopped = Some("its network was on the lost GPU device".into()),
        }
    }

    /// The weights (`molplay train-score` format), from the CPU copy of a network on a GPU.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        self.sampling_model().to_bytes()
    }

    /// The network as the score source of a sampler run of `count` samples (elements drawn
    /// from the data with `seed` for a network conditioned on them), judged against (up to
    /// 2000 of) its training configurations.
    pub fn source(&self, count: usize, seed: u64, schedule: &Schedule) -> Result<crate::app::sample::Prepared, AppError> {
        let config = &self.sampling_model().config;
        config.check_schedule(schedule)?;
        let pool = &self.set.positions;
        let reference = pool[..pool.len().min(2000 * 3 * self.set.atoms)].to_vec();
        let given = if config.conditioned_on_elements() { ", atom types drawn from the data" } else { "" };
        let label = match self.sampling_model().steps {
            0 => format!("EGNN, pretrained (its training steps not recorded in the file), on {}{given}", self.set.label),
            k => format!("EGNN after {k} training steps on {}{given}", self.set.label),
        };
        crate::app::sample::Source::network(config, reference, &self.set.elements, count, seed, label)
    }

    pub fn status(&self) -> Status {
        Status {
            steps: self.model.steps,
            loss: self.losses.last().copied(),
            label: self.set.label.clone(),
            t_max: self.knobs.t_max,
            objective: self.knobs.objective,
            device: self.model.compute().name(),
            seconds: self.seconds,
            stopped: self.stopped.clone(),
            config: self.model.config.clone(),
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn clock() -> f64 {
        0.0
    }

    #[test]
    fn limits_name_every_knob_and_the_page_is_tighter() {
        let same = |k: &str| k.to_string();
        let k = Knobs { hidden: 300, ..Knobs::default() };
        assert!(k.check(Limits::NATIVE, same).is_ok());
        let e = k.check(Limits::PAGE, same).unwrap_err().to_string();
        assert!(e.contains("hidden ≤ 256") && e.contains("batch ≤ 512"), "{e}");
        let flag = |k: &str| format!("--{}", k.replace('_', "-"));
        let e = Knobs { lr: 0.0, ..Knobs::default() }.check(Limits::NATIVE, flag).unwrap_err().to_string();
        assert!(e.contains("0 < --lr < 1") && e.contains("1 ≤ --t-max ≤ 1000"), "{e}");
        assert!(Knobs { t_max: 0.5, ..Knobs::default() }.check(Limits::NATIVE, same).is_err());
    }

    #[test]
    fn a_seeded_training_is_reproducible_and_reports_its_steps() {
        let run = || {
            let set = TrainingSet::chain(5, 200).unwrap();
            let knobs = Knobs { hidden: 8, layers: 2, batch: 4, seed: 7, ..Knobs::default() };
            let mut t = ScoreTraining::fresh(set, knobs, false, &Compute::Cpu).unwrap();
            // an unbounded budget takes the steps asked for; a spent one takes one step
            assert_eq!(pollster::block_on(t.train(2, f64::INFINITY, &clock)), 2);
            assert_eq!(pollster::block_on(t.train(5, 0.0, &clock)), 1);
            t
        };
        let (a, b) = (run(), run());
        assert_eq!(a.losses, b.losses);
        assert!(a.losses.iter().all(|l| l.is_finite()));
        let st = a.status();
        assert_eq!((st.steps, st.device, st.loss), (3, "cpu", a.losses.last().copied()));
        assert_eq!(st.label, "the spring chain of 5 beads");
        // the weights read back with their steps (the bytes differ: burn names parameters at random)
        assert_eq!(ScoreModel::from_bytes(&a.to_bytes().unwrap(), None).unwrap().steps, 3);
    }

    #[test]
    fn a_trained_network_is_a_score_source_judged_on_its_data_and_molecules_are_grouped_by_size() {
        let set = TrainingSet::chain(5, 3000).unwrap();
        let t = ScoreTraining::fresh(set, Knobs { hidden: 8, layers: 1, ..Knobs::default() }, false, &Compute::Cpu).unwrap();
        let p = t.source(4, 0, &Schedule::polynomial2(1000, 1e-5)).unwrap();
        assert_eq!((p.source.atoms(), p.reference.len()), (5, 2000 * 15));
        assert_eq!(p.label, "EGNN, pretrained (its training steps not recorded in the file), on the spring chain of 5 beads");
        assert!(t.source(4, 0, &Schedule::polynomial2(500, 1e-5)).is_err());
        let data = crate::molecules::Dataset::from_xyz("3\na\nC 0 0 0\nO 1.2 0 0\nH 0 1 0\n3\nb\nC 0 0 0\nN 1.2 0 0\nH 0 1 0\n4\nc\nC 0 0 0\nC 1 0 0\nH 0 1 0\nH 0 0 1\n", 3).unwrap();
        let g = TrainingSet::molecules(&data, None, 300, "w.mpw").unwrap();
        assert_eq!((g.atoms, g.elements.len(), g.label.as_str()), (3, 2, "2 molecules with 3 atoms (w.mpw)"));
        assert!(TrainingSet::molecules(&data, Some(7), 300, "").is_err());
        pollster::block_on(warm_up()).unwrap();
    }

    #[test]
    fn a_set_the_network_cannot_read_is_refused() {
        let set = TrainingSet::chain(5, 10).unwrap();
        let other = ScoreModel::new(TrainingSet::chain(6, 10).unwrap().config(8, 2, false), 0);
        let e = ScoreTraining::new(other, set, Knobs::default(), &Compute::Cpu).err().unwrap().to_string();
        assert!(e.contains("for 6 atoms"), "{e}");
        let two = TrainingSet { positions: vec![0.0; 6], atoms: 2, elements: Vec::new(), label: "two".into() };
        let knobs = Knobs { objective: Objective::Quotient, hidden: 4, layers: 1, ..Knobs::default() };
        assert!(ScoreTraining::fresh(two, knobs, false, &Compute::Cpu).err().unwrap().to_string().contains("at least 3 atoms"));
    }
}
