//! The reference sampler's use case (parallel-tempering MALA, `mcmc`): its knobs with their
//! limits, the engine choice, and a run advanced in time-budgeted slices. `molplay reference`
//! and the page's `runReference` both build their run here.

use super::AppError;
use crate::energies::System;
use crate::gpu::{GpuContext, GpuError};
use crate::mcmc::{PtConfig, MAX_LEVELS};
use crate::reference::{Phase, ReferenceRun};

/// Upper bounds of the knobs; the page's are smaller (a tab's memory and patience).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    pub samples: usize,
    pub chains: usize,
    pub sweeps: usize,
    pub t_max: f64,
}

impl Limits {
    pub const NATIVE: Limits = Limits { samples: 1_000_000, chains: 10_000, sweeps: 10_000_000, t_max: 1.0e6 };
    pub const PAGE: Limits = Limits { samples: 100_000, chains: 4096, sweeps: 1_000_000, t_max: 100.0 };
}

/// One reference run: which system, how many samples, and the sampler's knobs.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub system: String,
    pub samples: usize,
    pub chains: usize,
    /// Temperature levels; None: [`PtConfig::default_levels`] of the system.
    pub levels: Option<usize>,
    /// Hottest temperature of the geometric ladder, in units of the system's.
    pub t_max: f64,
    pub burn_in: usize,
    /// Sweeps between kept samples.
    pub thin: usize,
    pub seed: u64,
}

impl Plan {
    /// The plan with each knob checked against `limits` (`name` spells a knob as the face
    /// does: `--burn-in`, `burnIn`): the system and the sampler's configuration, ready to start.
    pub fn check(&self, limits: Limits, name: impl Fn(&str) -> String) -> Result<Checked, AppError> {
        let sys = System::by_name(&self.system)?;
        let levels = self.levels.unwrap_or_else(|| PtConfig::default_levels(&sys));
        for (knob, v, max) in [("samples", self.samples, limits.samples), ("chains", self.chains, limits.chains), ("levels", levels, MAX_LEVELS), ("thin", self.thin, limits.sweeps)] {
            if v == 0 || v > max {
                return Err(AppError::Invalid(format!("{} must be between 1 and {max}, got {v}", name(knob))));
            }
        }
        if self.burn_in > limits.sweeps {
            return Err(AppError::Invalid(format!("{} must be at most {}, got {}", name("burn_in"), limits.sweeps, self.burn_in)));
        }
        if !(self.t_max.is_finite() && (1.0..=limits.t_max).contains(&self.t_max)) {
            return Err(AppError::Invalid(format!("{} must be between 1 and {}, got {}", name("t_max"), limits.t_max, self.t_max)));
        }
        let mut config = PtConfig::geometric(&sys, levels, self.t_max, self.chains, self.seed);
        config.burn_in_sweeps = self.burn_in;
        config.thin = self.thin;
        Ok(Checked { system: sys, config, samples: self.samples })
    }
}

/// A [`Plan`] whose knobs passed their checks.
#[derive(Clone, Debug)]
pub struct Checked {
    pub system: System,
    pub config: PtConfig,
    samples: usize,
}

impl Checked {
    /// The run on `gpu` (the MCMC pass) or on the CPU engine.
    pub fn start(self, gpu: Option<&GpuContext>) -> Result<ReferenceRun, AppError> {
        Ok(match gpu {
            Some(ctx) => ReferenceRun::gpu(ctx, &self.system, self.config, self.samples)?,
            None => ReferenceRun::cpu(&self.system, self.config, self.samples)?,
        })
    }
}

/// Where the sampler runs: "auto", "gpu" or "cpu".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Auto,
    Gpu,
    Cpu,
}

impl Engine {
    pub fn by_name(name: &str) -> Result<Engine, AppError> {
        match name {
            "auto" => Ok(Engine::Auto),
            "gpu" => Ok(Engine::Gpu),
            "cpu" => Ok(Engine::Cpu),
            other => Err(AppError::Invalid(format!("engine must be \"auto\", \"gpu\" or \"cpu\", got \"{}\"", crate::io::printable(other)))),
        }
    }

    /// Whether to run on the GPU at hand (`gpu`: whether one is, and whether it is a software
    /// adapter). "auto" never takes a software adapter, on either face: SwiftShader or
    /// lavapipe ran the LJ-13 sampler about 300× slower than the CPU engine (a 500-sample
    /// preset took 10 minutes in the page instead of seconds); "gpu" still runs there.
    /// `Err` for "gpu" without one.
    pub fn on_gpu(self, gpu: Option<bool>) -> Result<bool, &'static str> {
        match (self, gpu) {
            (Engine::Cpu, _) | (Engine::Auto, None) => Ok(false),
            (Engine::Gpu, None) => Err("needs WebGPU (natively: a GPU), which is not in use here"),
            (Engine::Gpu, Some(_)) => Ok(true),
            (Engine::Auto, Some(software)) => Ok(!software),
        }
    }
}

/// Advances `run` by slices of `chunk` sweeps until it is done or `budget_ms` of `clock` has
/// passed, adapting `chunk` so that one slice takes about a quarter of the budget (1 to 1000
/// sweeps). A run that fails keeps what it had; the error is returned.
pub async fn advance_for(run: &mut ReferenceRun, budget_ms: f64, chunk: &mut usize, clock: &dyn Fn() -> f64) -> Result<(), GpuError> {
    let t0 = clock();
    while run.phase() != Phase::Done {
        let t = clock();
        run.advance(*chunk).await?;
        run.sync().await?;
        let dt = (clock() - t).max(0.01);
        *chunk = ((*chunk as f64 * budget_ms / 4.0 / dt) as usize).clamp(1, 1000);
        if clock() - t0 >= budget_ms {
            break;
        }
    }
    Ok(())
}

/// The newest kept sample (flat) and its energy, if any.
pub fn newest(run: &ReferenceRun) -> Option<(&[f64], f64)> {
    let (xs, es) = run.samples();
    let dim = run.system().dim();
    es.last().map(|&e| (&xs[xs.len() - dim..], e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan { system: "dw4".into(), samples: 30, chains: 6, levels: None, t_max: 2.0, burn_in: 20, thin: 5, seed: 3 }
    }

    #[test]
    fn knobs_are_checked_against_each_faces_limits() {
        let same = |k: &str| k.to_string();
        assert!(plan().check(Limits::PAGE, same).is_ok());
        let e = Plan { chains: 5000, ..plan() }.check(Limits::PAGE, same).unwrap_err();
        assert_eq!(e.to_string(), "chains must be between 1 and 4096, got 5000");
        assert!(Plan { chains: 5000, ..plan() }.check(Limits::NATIVE, same).is_ok());
        let flag = |k: &str| format!("--{}", k.replace('_', "-"));
        assert_eq!(Plan { t_max: f64::NAN, ..plan() }.check(Limits::PAGE, flag).unwrap_err().to_string(), "--t-max must be between 1 and 100, got NaN");
        assert!(Plan { thin: 0, ..plan() }.check(Limits::NATIVE, flag).unwrap_err().to_string().starts_with("--thin must be between 1"));
        assert!(Plan { burn_in: 2_000_000, ..plan() }.check(Limits::PAGE, flag).unwrap_err().to_string().starts_with("--burn-in must be at most"));
        assert!(Plan { levels: Some(MAX_LEVELS + 1), ..plan() }.check(Limits::NATIVE, flag).is_err());
        assert!(Plan { system: "water".into(), ..plan() }.check(Limits::NATIVE, flag).unwrap_err().to_string().contains("water"));
    }

    #[test]
    fn engine_choice_is_one_policy_with_the_software_adapter_rule_named() {
        assert_eq!(Engine::by_name("auto").unwrap().on_gpu(Some(true)), Ok(false));
        assert_eq!(Engine::Auto.on_gpu(Some(false)), Ok(true));
        assert_eq!(Engine::Auto.on_gpu(None), Ok(false));
        assert_eq!(Engine::Cpu.on_gpu(Some(false)), Ok(false));
        assert_eq!(Engine::Gpu.on_gpu(Some(true)), Ok(true));
        assert!(Engine::Gpu.on_gpu(None).is_err());
        assert!(Engine::by_name("tpu").unwrap_err().to_string().contains("\"tpu\""));
    }

    // pollster is a native dev-dependency
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn slices_reach_the_same_samples_as_one_go() {
        // a fake clock that moves 1 ms per reading: slices of any budget, then compare
        let clock = {
            let t = std::cell::Cell::new(0.0);
            move || {
                t.set(t.get() + 1.0);
                t.get()
            }
        };
        let mut sliced = plan().check(Limits::NATIVE, |k| k.into()).unwrap().start(None).unwrap();
        let mut chunk = 1;
        let mut slices = 0;
        while sliced.phase() != Phase::Done {
            pollster::block_on(advance_for(&mut sliced, 5.0, &mut chunk, &clock)).unwrap();
            slices += 1;
            assert!((1..=1000).contains(&chunk));
        }
        assert!(slices > 1);
        let mut whole = plan().check(Limits::NATIVE, |k| k.into()).unwrap().start(None).unwrap();
        while whole.phase() != Phase::Done {
            pollster::block_on(whole.advance(1000)).unwrap();
        }
        assert_eq!(sliced.samples().1.len(), 30);
        assert_eq!(sliced.samples(), whole.samples());
        let (x, e) = newest(&sliced).unwrap();
        assert_eq!(x.len(), 8);
        assert_eq!(e, *whole.samples().1.last().unwrap());
    }
}
