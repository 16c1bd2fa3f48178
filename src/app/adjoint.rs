//! The Adjoint Sampling learner in sub-steps (issue 15): the page drives an epoch (a buffer
//! refresh, then the regression steps) a unit at a time between frames, or one sub-step on
//! request, and [`AdjointSampler::epoch`] is the same work at once (the CLI's loop); a native
//! test holds the two to the same weights, buffer and counters.
//!
//! [`AdjointSampler::epoch`]: crate::adjoint::AdjointSampler::epoch

use crate::adjoint::{AdjointError, AdjointSampler, Simulation};
use crate::app::AppError;

/// Euler–Maruyama steps per unit of a refresh (one network call each, over the whole batch).
const SIMULATION_UNIT: usize = 4;

/// What the learner is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Whole epochs: a refresh when no regression step is owed, then the owed steps.
    Train,
    /// One buffer refresh.
    Refresh,
    /// One epoch's regression steps (the buffer as it is).
    Regress,
}

impl Mode {
    pub fn by_name(name: &str) -> Result<Mode, AppError> {
        match name {
            "train" => Ok(Mode::Train),
            "refresh" => Ok(Mode::Refresh),
            "regress" => Ok(Mode::Regress),
            other => Err(AppError::UnknownMode(crate::io::printable(other))),
        }
    }
}

/// What one unit of work finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing yet: a refresh is under way or regression steps are still owed.
    Working,
    /// A refresh: new samples, their energies and adjoints in the buffer.
    Refreshed,
    /// The epoch's last regression step.
    EpochDone,
}

/// What a [`Learner::slice`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Slice {
    /// A refresh finished: new samples and a new trajectory to show.
    pub refreshed: bool,
    /// The run stopped (a diverging step): why.
    pub stopped: Option<String>,
}

/// The learner: the sampler and where its epoch stands, with what the faces show (the newest
/// samples, their energies, the newest trajectory and every regression loss).
pub struct Learner {
    pub sampler: AdjointSampler,
    sim: Option<Simulation>,
    /// Regression steps still owed in the current epoch.
    owed: usize,
    pub losses: Vec<f64>,
    pub samples: Vec<f64>,
    pub energies: Vec<f64>,
    /// The newest finished trajectory: `keep` samples per frame, frames in order from u = 0.
    pub trajectory: Vec<f64>,
    pub keep: usize,
    /// Samples kept per frame of a refresh's trajectory.
    show: usize,
}

impl Learner {
    /// A learner keeping `show` samples of each refresh's trajectory.
    pub fn new(sampler: AdjointSampler, show: usize) -> Self {
        Learner { sampler, sim: None, owed: 0, losses: Vec::new(), samples: Vec::new(), energies: Vec::new(), trajectory: Vec::new(), keep: 0, show }
    }

    /// One unit of work in `mode`. A GPU lost meanwhile stays matchable in the error
    /// ([`AdjointError::Energy`], [`AdjointError::Model`]).
    pub async fn work(&mut self, mode: Mode) -> Result<Step, AdjointError> {
        let cfg = self.sampler.config.clone();
        if mode == Mode::Refresh || (mode == Mode::Train && self.owed == 0) {
            let mut sim = self.sim.take().unwrap_or_else(|| self.sampler.start_simulation(cfg.new_per_epoch, self.show));
            self.sampler.advance_simulation(&mut sim, SIMULATION_UNIT).await?;
            if !sim.done() {
                self.sim = Some(sim);
                return Ok(Step::Working);
            }
            self.energies = self.sampler.refresh_with(&sim.xs).await?;
            self.samples = sim.xs;
            self.trajectory = sim.frames;
            self.keep = sim.keep;
            self.owed = cfg.grad_steps;
            return Ok(Step::Refreshed);
        }
        if mode == Mode::Regress && self.owed == 0 {
            self.owed = cfg.grad_steps;
        }
        let loss = self.sampler.regression_step().await?;
        self.losses.push(loss);
        self.owed -= 1;
        if self.owed == 0 {
            // (the run's history of epoch losses is the native runs' record: the page keeps
            // every step's loss in `losses` instead)
            self.sampler.counters.epochs += 1;
            return Ok(Step::EpochDone);
        }
        Ok(Step::Working)
    }

    /// Works in `mode` for about `budget_ms` of `clock`, stopping early when the mode's unit is
    /// done: a sub-step mode's sub-step, or in training the end of an epoch (so a caller asking
    /// for N epochs gets N, however fast they run). On an error the refresh under way is
    /// dropped; then, unless `device_gone()` says the network's device went away under the
    /// slice (not a divergence: the face goes on from a copy), the weights go back to the last
    /// good ones and the run stops with the reason.
    pub async fn slice(&mut self, mode: Mode, budget_ms: f64, clock: &dyn Fn() -> f64, device_gone: &dyn Fn() -> bool) -> Slice {
        let t0 = clock();
        let mut out = Slice::default();
        while clock() - t0 < budget_ms {
            match self.work(mode).await {
                Ok(step) => {
                    out.refreshed |= step == Step::Refreshed;
                    if step != Step::Working && (mode != Mode::Train || step == Step::EpochDone) {
                        break;
                    }
                }
                Err(e) => {
                    self.abandon_refresh();
                    if !device_gone() {
                        self.sampler.revert();
                        out.stopped = Some(format!("{e}; the last good weights are kept"));
                    }
                    break;
                }
            }
        }
        out
    }

    /// Drops a refresh under way (after an error: the next refresh starts afresh).
    pub fn abandon_refresh(&mut self) {
        self.sim = None;
    }

    /// Numbers per frame of the newest trajectory (its kept samples side by side); 0 before the
    /// first refresh.
    pub fn frame_len(&self) -> usize {
        self.keep * self.sampler.system.dim()
    }

    /// Frames of the newest trajectory (u = 0, then one per Euler–Maruyama step).
    pub fn frame_count(&self) -> usize {
        self.trajectory.len().checked_div(self.frame_len()).unwrap_or(0)
    }

    /// The time u ∈ [0, 1] of frame `k` of the newest trajectory.
    pub fn u_of(&self, k: usize) -> f64 {
        k as f64 / (self.frame_count().max(2) - 1) as f64
    }

    /// The newest trajectory laid out for the viewer: each frame's kept samples in a row (x
    /// offsets, spaced by the last frame's largest sample), as f32.
    pub fn laid_out(&self) -> Vec<f32> {
        let (sys, per) = (&self.sampler.system, self.sampler.system.dim());
        if self.keep == 0 {
            return Vec::new();
        }
        let reach = self.trajectory.chunks(per).rev().take(self.keep).map(|x| crate::geometry::radius_about_com(x, sys.d)).fold(1.0, f64::max);
        let spacing = crate::viewer::layout::spacing(reach, 2.0);
        let mut out = Vec::with_capacity(self.trajectory.len());
        for (i, x) in self.trajectory.chunks(per).enumerate() {
            let shift = crate::viewer::layout::row_shift(i % self.keep, self.keep, spacing)[0];
            out.extend(x.chunks(sys.d).flat_map(|p| p.iter().enumerate().map(move |(k, v)| (v + if k == 0 { shift } else { 0.0 }) as f32)));
        }
        out
    }

    /// The newest trajectory as the viewer shows it ([`laid_out`](Self::laid_out)), as
    /// multi-frame XYZ: every `every`-th frame and the last, each commented with its u.
    pub fn export_trajectory(&self, every: usize) -> String {
        let sys = &self.sampler.system;
        let elements = vec![sys.particle_symbol().to_string(); self.keep * sys.n];
        let comments: Vec<String> = (0..self.frame_count()).map(|k| format!("molplay adjoint {} u={:.4}", sys.name, self.u_of(k))).collect();
        let shown: Vec<f64> = self.laid_out().iter().map(|&v| v as f64).collect();
        crate::io::write_xyz_thinned(&shown, &elements, sys.d, &comments, every)
    }

    /// Where the epoch stands, in words.
    pub fn phase(&self) -> String {
        match (&self.sim, self.owed) {
            (Some(sim), _) => format!("refreshing the buffer: step {}/{}", sim.step, sim.steps),
            (None, 0) => "ready to refresh the buffer".into(),
            (None, k) => format!("regression steps: {k} left in this epoch"),
        }
    }
}
