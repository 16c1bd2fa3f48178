//! A reference-sampling run (parallel-tempering MALA, spec in [`crate::mcmc`]) on either engine:
//! the f64 CPU oracle ([`CpuReplicas`]) or the GPU passes ([`GpuReplicas`]). Burn-in with step
//! adaptation, then samples from the base temperature, advanced in slices. The oracle
//! (`mcmc`) and the GPU engine (`gpu::mcmc`) both sit below this module and neither imports it.

use crate::energies::System;
use crate::geometry::remove_com;
use crate::gpu::mcmc::{GpuReplicas, ReplicasError};
use crate::gpu::{GpuContext, GpuError};
use crate::mcmc::{Counts, CpuReplicas, McmcError, PtConfig, PtReport, ADAPT_EVERY};
use serde::Serialize;

/// Why a reference run could not start or go on. Messages are shown to users as they are.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ReferenceError {
    /// The ladder or its size ([`PtConfig::validate`]).
    #[error(transparent)]
    Config(#[from] McmcError),
    /// The GPU engine could not be set up.
    #[error(transparent)]
    Replicas(#[from] ReplicasError),
    /// A read-back from the GPU engine failed ([`GpuError::Readback`]: a lost device).
    #[error(transparent)]
    Gpu(#[from] GpuError),
    #[error("ask for at least one sample")]
    NoSamples,
}

/// Where a run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    BurnIn,
    Sampling,
    Done,
}

/// One of the two engines.
#[allow(clippy::large_enum_variant)] // one per run: its size does not matter
pub enum Engine {
    Cpu(CpuReplicas),
    Gpu(Box<GpuReplicas>),
}

impl Engine {
    pub fn name(&self) -> &'static str {
        match self {
            Engine::Cpu(_) => "cpu",
            Engine::Gpu(_) => "gpu",
        }
    }

    fn sweeps(&mut self, n: usize) {
        match self {
            Engine::Cpu(c) => c.sweeps(n),
            Engine::Gpu(g) => g.sweeps(n),
        }
    }

    async fn counts(&self) -> Result<Counts, GpuError> {
        match self {
            Engine::Cpu(c) => Ok(c.counts()),
            Engine::Gpu(g) => g.counts().await,
        }
    }

    fn set_steps(&mut self, steps: &[f64]) {
        match self {
            Engine::Cpu(c) => c.set_steps(steps),
            Engine::Gpu(g) => g.set_steps(steps),
        }
    }

    async fn base(&self) -> Result<(Vec<f64>, Vec<f64>), GpuError> {
        match self {
            Engine::Cpu(c) => Ok(c.base()),
            Engine::Gpu(g) => g.base().await,
        }
    }
}

/// What the CLI's progress line and the page's progress bar show.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Progress {
    pub phase: Phase,
    pub engine: &'static str,
    pub burn_in_sweeps: usize,
    pub samples: usize,
    pub target: usize,
    /// Fraction of the whole run done, burn-in and sampling sweeps together.
    pub fraction: f64,
    pub report: PtReport,
}

/// A reference-sampling run: burn-in with step adaptation, then `target` samples from the
/// base temperature, `thin` sweeps apart per chain. Advanced in slices (`advance`) so a page
/// can keep drawing between them; natively, drive it with `pollster::block_on`.
pub struct ReferenceRun {
    sys: System,
    cfg: PtConfig,
    engine: Engine,
    target: usize,
    samples: Vec<f64>,
    sample_energies: Vec<f64>,
    sweeps: usize,
    phase: Phase,
    steps: Vec<f64>,
    window: Counts,
    window_start: usize,
    report: PtReport,
}

impl ReferenceRun {
    /// Initial MALA step sizes (adapted during burn-in).
    pub fn initial_steps(sys: &System, levels: usize) -> Vec<f64> {
        vec![if sys.d == 2 { 1e-2 } else { 1e-3 }; levels]
    }

    pub fn cpu(sys: &System, cfg: PtConfig, target: usize) -> Result<Self, ReferenceError> {
        let steps = Self::initial_steps(sys, cfg.levels());
        let engine = Engine::Cpu(CpuReplicas::new(sys, &cfg, &steps)?);
        Self::with_engine(sys, cfg, target, engine, steps)
    }

    pub fn gpu(ctx: &GpuContext, sys: &System, cfg: PtConfig, target: usize) -> Result<Self, ReferenceError> {
        let steps = Self::initial_steps(sys, cfg.levels());
        let engine = Engine::Gpu(Box::new(GpuReplicas::new(ctx, sys, &cfg, &steps)?));
        Self::with_engine(sys, cfg, target, engine, steps)
    }

    fn with_engine(sys: &System, cfg: PtConfig, target: usize, engine: Engine, steps: Vec<f64>) -> Result<Self, ReferenceError> {
        if target == 0 {
            return Err(ReferenceError::NoSamples);
        }
        let levels = cfg.levels();
        let report = PtReport { step_sizes: steps.clone(), energy_evaluations: cfg.replicas() as u64, ..Default::default() };
        Ok(ReferenceRun {
            sys: sys.clone(),
            phase: if cfg.burn_in_sweeps == 0 { Phase::Sampling } else { Phase::BurnIn },
            window: Counts { accepted: vec![0; levels], swaps: vec![0; levels.saturating_sub(1)], resets: 0 },
            cfg,
            engine,
            target,
            samples: Vec::new(),
            sample_energies: Vec::new(),
            sweeps: 0,
            steps,
            window_start: 0,
            report,
        })
    }

    pub fn system(&self) -> &System {
        &self.sys
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn report(&self) -> &PtReport {
        &self.report
    }

    /// Samples so far, flat and CoM-free (f64), and their energies.
    pub fn samples(&self) -> (&[f64], &[f64]) {
        (&self.samples, &self.sample_energies)
    }

    pub fn progress(&self) -> Progress {
        let collected = self.sample_energies.len();
        let rounds = self.target.div_ceil(self.cfg.chains);
        let total = self.cfg.burn_in_sweeps + rounds * self.cfg.thin;
        Progress {
            phase: self.phase,
            engine: self.engine.name(),
            burn_in_sweeps: self.cfg.burn_in_sweeps,
            samples: collected,
            target: self.target,
            fraction: if self.phase == Phase::Done { 1.0 } else { (self.sweeps as f64 / total.max(1) as f64).min(1.0) },
            report: self.report.clone(),
        }
    }

    /// Rates over the sweeps since `window_start` from the counters' growth.
    fn update_report(&mut self, now: &Counts) {
        let sweeps = (self.sweeps - self.window_start).max(1) as f64;
        let chains = self.cfg.chains as f64;
        self.report.acceptance = now.accepted.iter().zip(&self.window.accepted).map(|(a, b)| (a - b) as f64 / (sweeps * chains)).collect();
        self.report.swap_acceptance = (0..now.swaps.len())
            .map(|k| {
                let tried = (self.window_start..self.sweeps).filter(|s| s % 2 == k % 2).count() as f64 * chains;
                (now.swaps[k] - self.window.swaps[k]) as f64 / tried.max(1.0)
            })
            .collect();
        self.report.resets = now.resets;
        self.report.sweeps = self.sweeps;
        self.report.step_sizes = self.steps.clone();
        self.report.energy_evaluations = (self.cfg.replicas() * (self.sweeps + 1)) as u64;
    }

    fn run_sweeps(&mut self, n: usize) {
        self.engine.sweeps(n);
        self.sweeps += n;
    }

    /// Waits until the GPU has finished the submitted sweeps (no-op on the CPU), so a caller
    /// slicing work by wall time measures what it asked for.
    pub async fn sync(&self) -> Result<(), GpuError> {
        if let Engine::Gpu(_) = self.engine {
            self.engine.counts().await?;
        }
        Ok(())
    }

    /// Runs at most `max_sweeps` sweeps (stopping early at the end of the run).
    pub async fn advance(&mut self, max_sweeps: usize) -> Result<(), GpuError> {
        let mut budget = max_sweeps;
        while budget > 0 && self.phase != Phase::Done {
            if self.phase == Phase::BurnIn {
                let burn_in = self.cfg.burn_in_sweeps;
                let n = budget.min(ADAPT_EVERY - self.sweeps % ADAPT_EVERY).min(burn_in - self.sweeps);
                self.run_sweeps(n);
                budget -= n;
                if self.sweeps.is_multiple_of(ADAPT_EVERY) || self.sweeps == burn_in {
                    let now = self.engine.counts().await?;
                    self.update_report(&now);
                    if self.sweeps.is_multiple_of(ADAPT_EVERY) {
                        for (h, acc) in self.steps.iter_mut().zip(&self.report.acceptance) {
                            *h *= (2.0 * (acc - 0.574)).exp().clamp(0.5, 2.0);
                        }
                        self.engine.set_steps(&self.steps);
                    }
                    self.window = now;
                    self.window_start = self.sweeps;
                    if self.sweeps == burn_in {
                        self.phase = Phase::Sampling;
                    }
                }
            } else {
                let thin = self.cfg.thin;
                let since = (self.sweeps - self.cfg.burn_in_sweeps) % thin;
                let n = budget.min(thin - since);
                self.run_sweeps(n);
                budget -= n;
                if (self.sweeps - self.cfg.burn_in_sweeps).is_multiple_of(thin) {
                    let (xs, es) = self.engine.base().await?;
                    let dim = self.sys.dim();
                    for (x, e) in xs.chunks(dim).zip(es) {
                        if self.sample_energies.len() < self.target {
                            let mut v = x.to_vec();
                            remove_com(&mut v, self.sys.d);
                            self.samples.extend_from_slice(&v);
                            self.sample_energies.push(e);
                        }
                    }
                    let now = self.engine.counts().await?;
                    self.update_report(&now);
                    if self.sample_energies.len() >= self.target {
                        self.phase = Phase::Done;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Sweep throughput of both engines on the same configuration, measured in one run (the
/// CLI's `bench-mcmc`, the page's benchmark and the browser test share it). The GPU figure
/// includes one read-back at the end, so queued work is counted.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SweepTimes {
    pub cpu_sweeps_per_s: f64,
    pub gpu_sweeps_per_s: Option<f64>,
}

pub async fn time_sweeps(gpu: Option<&GpuContext>, sys: &System, cfg: &PtConfig, sweeps: usize, clock: impl Fn() -> f64) -> Result<SweepTimes, ReferenceError> {
    let steps = ReferenceRun::initial_steps(sys, cfg.levels());
    let sweeps = sweeps.max(1);
    let mut gpu_sweeps_per_s = None;
    if let Some(ctx) = gpu {
        let mut g = GpuReplicas::new(ctx, sys, cfg, &steps)?;
        g.sweeps(10);
        g.counts().await?;
        let t0 = clock();
        g.sweeps(sweeps);
        g.counts().await?;
        gpu_sweeps_per_s = Some(sweeps as f64 / ((clock() - t0) / 1e3));
    }
    let mut c = CpuReplicas::new(sys, cfg, &steps)?;
    c.sweeps(10);
    let t0 = clock();
    c.sweeps(sweeps);
    Ok(SweepTimes { cpu_sweeps_per_s: sweeps as f64 / ((clock() - t0) / 1e3), gpu_sweeps_per_s })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn run_cpu(sys: &System, cfg: PtConfig, n: usize) -> ReferenceRun {
        let mut run = ReferenceRun::cpu(sys, cfg, n).unwrap();
        while run.phase() != Phase::Done {
            pollster::block_on(run.advance(37)).unwrap();
        }
        run
    }

    #[test]
    fn runs_are_reproducible_and_stay_finite_and_centred() {
        let sys = System::lj13();
        let mut cfg = PtConfig::geometric(&sys, 3, 2.0, 4, 7);
        cfg.burn_in_sweeps = 100;
        cfg.thin = 5;
        let a = run_cpu(&sys, cfg.clone(), 20);
        let b = run_cpu(&sys, cfg.clone(), 20);
        assert_eq!(a.samples(), b.samples(), "same seed, same samples");
        let (xs, es) = a.samples();
        assert_eq!(xs.len(), 20 * 39);
        assert!(xs.iter().all(|v| v.is_finite()));
        for (x, e) in xs.chunks(39).zip(es) {
            assert!(crate::geometry::centre_of_mass(x, 3).iter().all(|c| c.abs() < 1e-9));
            assert!((sys.energy(x) - e).abs() < 1e-9, "the reported energy is the sample's");
        }
        let rep = a.report();
        assert!(rep.acceptance.iter().all(|&p| p > 0.2 && p < 0.95), "{:?}", rep.acceptance);
        assert!(rep.swap_acceptance.iter().all(|&p| p > 0.0 && p <= 1.0), "{:?}", rep.swap_acceptance);
        assert_eq!(rep.sweeps, 100 + 5 * 5);
        assert_eq!(a.progress().fraction, 1.0);
        let c = run_cpu(&sys, PtConfig { seed: 8, ..cfg }, 20);
        assert_ne!(a.samples().0, c.samples().0);
    }

    #[test]
    fn the_slicing_of_a_run_does_not_change_it() {
        let sys = System::dw4();
        let mut cfg = PtConfig::geometric(&sys, 2, 2.0, 3, 1);
        cfg.burn_in_sweeps = 120;
        cfg.thin = 7;
        let mut one = ReferenceRun::cpu(&sys, cfg.clone(), 10).unwrap();
        pollster::block_on(one.advance(usize::MAX)).unwrap();
        assert_eq!(one.phase(), Phase::Done);
        let sliced = run_cpu(&sys, cfg, 10);
        assert_eq!(one.samples(), sliced.samples());
        assert_eq!(one.report(), sliced.report());
    }

    #[test]
    fn bad_runs_are_refused() {
        let sys = System::dw4();
        let mut cfg = PtConfig::geometric(&sys, 2, 2.0, 2, 1);
        cfg.temperatures[0] = 2.0;
        assert!(ReferenceRun::cpu(&sys, cfg.clone(), 1).is_err());
        cfg.temperatures = vec![1.0];
        assert!(ReferenceRun::cpu(&sys, cfg.clone(), 0).is_err(), "no samples asked for");
        cfg.thin = 0;
        assert!(ReferenceRun::cpu(&sys, cfg, 1).is_err());
    }
}
