//! The throughput benchmarks both faces run (`molplay bench` / `bench-mcmc`, the page's
//! `bench()` / `benchMcmc()`): each knob's limits, the timed work, and one typed row each, so
//! the CLI's `--json` and the JS API report the same fields.

use crate::app::AppError;
use crate::energies::{perturbed_batch, System};
use crate::gpu::energy::{time_paths, EnergyKernel};
use crate::gpu::GpuContext;
use crate::mcmc::PtConfig;
use serde::Serialize;

/// Upper bounds of the benchmark knobs: work and memory are sized from them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    pub batch: usize,
    pub reps: usize,
    pub chains: usize,
    pub sweeps: usize,
    /// Numbers (batch × coordinates) one energy benchmark holds at most.
    pub floats: usize,
}

impl Limits {
    pub const NATIVE: Limits = Limits { batch: 65_536, reps: 10_000, chains: 10_000, sweeps: 10_000_000, floats: 50_000_000 };
    /// A tab's: the CPU sweeps run on the page's thread, so their count is kept to seconds.
    pub const PAGE: Limits = Limits { batch: 65_536, reps: 1000, chains: 4096, sweeps: 10_000, floats: 4_000_000 };
}

fn within(name: &str, v: usize, max: usize) -> Result<(), AppError> {
    if v == 0 || v > max {
        return Err(AppError::Invalid(format!("{name} must be between 1 and {max}, got {v}")));
    }
    Ok(())
}

/// Energy + gradient evaluation of a batch of perturbed configurations on each path.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct EnergyBench {
    pub system: String,
    pub n: usize,
    pub batch: usize,
    pub reps: usize,
    /// Per evaluation of the batch: the CPU f64 path, the GPU end to end (upload, pass,
    /// read-back) and resident (positions already on the GPU); None without a GPU.
    pub cpu_ms: f64,
    pub gpu_ms: Option<f64>,
    pub gpu_resident_ms: Option<f64>,
    pub cpu_configs_per_s: f64,
    pub gpu_configs_per_s: Option<f64>,
    /// CPU time over GPU time (> 1: the GPU is faster).
    pub cpu_over_gpu: Option<f64>,
}

impl EnergyBench {
    /// `batch` and `reps` checked against `limits` (`name` spells a knob as the face does).
    pub fn check(sys: &System, batch: usize, reps: usize, limits: Limits, name: impl Fn(&str) -> String) -> Result<(), AppError> {
        within(&name("batch"), batch, limits.batch)?;
        within(&name("reps"), reps, limits.reps)?;
        if batch.saturating_mul(sys.dim()) > limits.floats {
            return Err(AppError::Invalid(format!("{} would hold {batch} × {} numbers, more than the {} allowed: ask for fewer", name("batch"), sys.dim(), limits.floats)));
        }
        Ok(())
    }

    /// Times `reps` evaluations of `batch` configurations on each path (`clock`: ms).
    pub async fn run(gpu: Option<(&GpuContext, &EnergyKernel)>, sys: &System, batch: usize, reps: usize, clock: impl Fn() -> f64) -> Result<EnergyBench, AppError> {
        let xs = perturbed_batch(sys, batch, 0.1, 1);
        let t = time_paths(gpu, sys, &xs, reps, clock).await?;
        let per_s = |ms: f64| batch as f64 / ms * 1e3;
        Ok(EnergyBench {
            system: sys.name.clone(),
            n: sys.n,
            batch,
            reps,
            cpu_ms: t.cpu_ms,
            gpu_ms: t.gpu_ms,
            gpu_resident_ms: t.gpu_resident_ms,
            cpu_configs_per_s: per_s(t.cpu_ms),
            gpu_configs_per_s: t.gpu_ms.map(per_s),
            cpu_over_gpu: t.gpu_ms.map(|g| t.cpu_ms / g),
        })
    }
}

/// Parallel-tempering MALA sweeps per second on each engine.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct McmcBench {
    pub system: String,
    pub replicas: usize,
    pub sweeps: usize,
    pub cpu_sweeps_per_s: f64,
    pub gpu_sweeps_per_s: Option<f64>,
    /// Energy evaluations per second (sweeps × replicas).
    pub cpu_evals_per_s: f64,
    pub gpu_evals_per_s: Option<f64>,
    pub gpu_over_cpu: Option<f64>,
}

impl McmcBench {
    pub fn check(chains: usize, sweeps: usize, limits: Limits, name: impl Fn(&str) -> String) -> Result<(), AppError> {
        within(&name("chains"), chains, limits.chains)?;
        within(&name("sweeps"), sweeps, limits.sweeps)
    }

    /// Times `sweeps` sweeps of `chains` chains per temperature level (the default ladder).
    pub async fn run(gpu: Option<&GpuContext>, sys: &System, chains: usize, sweeps: usize, clock: impl Fn() -> f64) -> Result<McmcBench, AppError> {
        let cfg = PtConfig::geometric(sys, PtConfig::default_levels(sys), 2.0, chains, 1);
        let t = crate::reference::time_sweeps(gpu, sys, &cfg, sweeps, clock).await?;
        let r = cfg.replicas() as f64;
        Ok(McmcBench {
            system: sys.name.clone(),
            replicas: cfg.replicas(),
            sweeps,
            cpu_sweeps_per_s: t.cpu_sweeps_per_s,
            gpu_sweeps_per_s: t.gpu_sweeps_per_s,
            cpu_evals_per_s: t.cpu_sweeps_per_s * r,
            gpu_evals_per_s: t.gpu_sweeps_per_s.map(|g| g * r),
            gpu_over_cpu: t.gpu_sweeps_per_s.map(|g| g / t.cpu_sweeps_per_s),
        })
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn knobs_are_refused_by_name_and_a_cpu_run_reports_every_field() {
        let sys = System::by_name("lj13").unwrap();
        let flag = |k: &str| format!("--{k}");
        let e = EnergyBench::check(&sys, 0, 5, Limits::NATIVE, flag).unwrap_err();
        assert_eq!(e.to_string(), "--batch must be between 1 and 65536, got 0");
        let big = System::by_name("lj1024").unwrap();
        assert!(EnergyBench::check(&big, 60_000, 1, Limits::NATIVE, flag).unwrap_err().to_string().contains("more than the 50000000 allowed"));
        assert!(EnergyBench::check(&big, 2000, 1, Limits::PAGE, |k: &str| k.into()).unwrap_err().to_string().starts_with("batch would hold 2000 × 3072"));
        assert_eq!(McmcBench::check(10, 20_000, Limits::PAGE, |k: &str| k.into()).unwrap_err().to_string(), "sweeps must be between 1 and 10000, got 20000");
        let clock = std::cell::Cell::new(0.0);
        let tick = || {
            clock.set(clock.get() + 2.0);
            clock.get()
        };
        let b = pollster::block_on(EnergyBench::run(None, &sys, 8, 3, tick)).unwrap();
        assert_eq!((b.batch, b.n, b.gpu_ms, b.cpu_over_gpu), (8, 13, None, None));
        assert!(b.cpu_ms > 0.0 && (b.cpu_configs_per_s - 8.0 / b.cpu_ms * 1e3).abs() < 1e-9);
        let m = pollster::block_on(McmcBench::run(None, &sys, 2, 3, tick)).unwrap();
        assert!(m.replicas >= 2 && (m.cpu_evals_per_s - m.cpu_sweeps_per_s * m.replicas as f64).abs() < 1e-6);
        assert!(m.cpu_sweeps_per_s.is_finite() && m.gpu_over_cpu.is_none());
    }
}
