//! Reference sampler: parallel-tempering MALA (Metropolis-adjusted Langevin) on the CoM-free
//! subspace, with replica exchange between neighbouring temperatures. Seeded and reproducible,
//! on the CPU ([`CpuReplicas`], f64) or as GPU compute passes (`gpu::mcmc`, f32), which are
//! the same algorithm drawing the same random numbers (Philox, keyed by the seed and counted by
//! replica slot, sweep and purpose), so the CPU engine is the GPU pass's test oracle. This
//! module is that oracle and knows nothing of the GPU; `crate::reference` drives a run on
//! either engine.
//!
//! State: R = levels × chains replica *slots*, each holding a configuration, its energy and
//! its CoM-projected gradient. Temperatures move between slots, configurations stay put:
//! `level_of[slot]` and `slot_at[level · chains + chain]` are inverse permutations.
//!
//! Per sweep s, every slot r at level k (temperature T, step h) makes one MALA move targeting
//! exp(−E/T): y = x − (h/T) ∇E(x) + √(2h) P ξ, P removing the centre of mass, accepted with
//!   log α = −(E(y) − E(x))/T − h |S|²/(4T²) + √(h/2) (S·Pξ)/T,   S = P∇E(x) + P∇E(y),
//! which is the Metropolis–Hastings ratio with both Langevin proposal densities, simplified so
//! no large terms cancel (important in f32). Then for every chain, the pairs of levels
//! (k, k+1) with k ≡ s (mod 2) exchange temperatures with probability
//! min(1, exp((1/T_k − 1/T_{k+1})(E_k − E_{k+1}))). Step sizes adapt towards an acceptance of
//! 0.574 every 50 sweeps during burn-in only, and are frozen afterwards, so the sampling chain
//! is exactly reversible. A slot whose energy is non-finite or beyond a sanity limit is reset
//! to the start configuration and counted (a non-finite proposal is simply rejected).
//!
//! Every [`RANDOM_WALK_EVERY`]-th sweep is a random-walk move instead (no drift: y = x + √(2h)
//! Pξ, log α = −(E(y) − E(x))/T): with drift coefficient a ∈ {h, 0} the ratio is
//!   log α = −ΔE/T − a² |S|²/(4hT²) + a (S·Pξ)/(T√(2h)),
//! which is the formula above for a = h. MALA alone can stick: at a close contact (LJ-13, a
//! pair at r ≈ 0.76, |∇E| ~ 10³) its drift overshoots and every proposal is rejected, while
//! replica exchange keeps carrying the stuck configuration to the base level, where it was
//! collected again and again (58 copies in 10 000 samples). A random-walk move separates the
//! pair with probability about ½. Both kernels leave exp(−E/T) invariant, so the cycle does.

use crate::energies::System;
use crate::geometry::remove_com;
use crate::rng::{philox4x32, philox_key, philox_normals, unit_open};
use serde::Serialize;

/// Why a ladder or its size was refused ([`PtConfig::validate`]). Messages are shown to users
/// as they are.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum McmcError {
    #[error("temperatures must be positive and finite")]
    Temperatures,
    #[error("at most {MAX_LEVELS} temperature levels, got {levels}")]
    TooManyLevels { levels: usize },
    #[error("the first temperature must be the system's ({temperature})")]
    FirstTemperature { temperature: f64 },
    #[error("thin must be at least 1")]
    Thin,
    #[error("at most 65 535 replicas (levels × chains), got {replicas}")]
    TooManyReplicas { replicas: usize },
}

/// Philox stream tags (the counter's last word).
pub const STREAM_NOISE: u32 = 0;
pub const STREAM_ACCEPT: u32 = 1;
pub const STREAM_SWAP: u32 = 2;
pub const STREAM_INIT: u32 = 3;
/// Sweeps per step-size adaptation window during burn-in.
pub const ADAPT_EVERY: usize = 50;
/// One sweep in this many is a random-walk move (no drift); see the module doc.
pub const RANDOM_WALK_EVERY: u32 = 10;

/// The drift coefficient of sweep `sweep` at step size `h`: h (MALA), or 0 (random walk).
pub fn drift_coefficient(sweep: u32, h: f64) -> f64 {
    if sweep % RANDOM_WALK_EVERY == RANDOM_WALK_EVERY - 1 {
        0.0
    } else {
        h
    }
}

/// Most temperature levels (the GPU pass keeps the ladder in a uniform array).
pub const MAX_LEVELS: usize = 32;

#[derive(Clone, Debug, PartialEq)]
pub struct PtConfig {
    /// Temperature ladder, the first must equal the system's temperature (samples come from it).
    pub temperatures: Vec<f64>,
    /// Independent chains per temperature.
    pub chains: usize,
    pub burn_in_sweeps: usize,
    /// Sweeps between two kept samples of a chain.
    pub thin: usize,
    pub seed: u64,
}

impl PtConfig {
    /// Ladder size that keeps swap rates comparable across system sizes: energy fluctuations
    /// grow like √n, so the number of levels does too (4 for LJ-13, 8 for LJ-55).
    pub fn default_levels(sys: &System) -> usize {
        ((4.0 * (sys.n as f64 / 13.0).sqrt()).round() as usize).clamp(4, MAX_LEVELS)
    }

    /// A geometric ladder of `levels` temperatures from τ to `t_max`·τ.
    pub fn geometric(sys: &System, levels: usize, t_max: f64, chains: usize, seed: u64) -> Self {
        let levels = levels.max(1);
        let temperatures = (0..levels).map(|k| sys.temperature * if levels == 1 { 1.0 } else { t_max.powf(k as f64 / (levels - 1) as f64) }).collect();
        PtConfig { temperatures, chains: chains.max(1), burn_in_sweeps: 2000, thin: 50, seed }
    }

    pub fn levels(&self) -> usize {
        self.temperatures.len()
    }

    pub fn replicas(&self) -> usize {
        self.levels() * self.chains
    }

    /// Refuses ladders and sizes the engines cannot run, saying why ([`McmcError`]).
    pub fn validate(&self, sys: &System) -> Result<(), McmcError> {
        if self.temperatures.is_empty() || self.temperatures.iter().any(|t| !(t.is_finite() && *t > 0.0)) {
            return Err(McmcError::Temperatures);
        }
        if self.levels() > MAX_LEVELS {
            return Err(McmcError::TooManyLevels { levels: self.levels() });
        }
        if (self.temperatures[0] - sys.temperature).abs() > 1e-12 {
            return Err(McmcError::FirstTemperature { temperature: sys.temperature });
        }
        if self.thin == 0 {
            return Err(McmcError::Thin);
        }
        if self.replicas() > 65_535 {
            return Err(McmcError::TooManyReplicas { replicas: self.replicas() });
        }
        Ok(())
    }
}

/// Progress and health of a run, also the report the CLI and the page show.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct PtReport {
    pub sweeps: usize,
    /// MALA acceptance rate per temperature (last adaptation window in burn-in, then since
    /// sampling began).
    pub acceptance: Vec<f64>,
    /// Swap acceptance per neighbouring pair of levels (same windows).
    pub swap_acceptance: Vec<f64>,
    pub step_sizes: Vec<f64>,
    /// Replicas reset because they became non-finite or exploded.
    pub resets: u64,
    pub energy_evaluations: u64,
}

/// Monotone counters of an engine since it was created.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counts {
    pub accepted: Vec<u64>,
    pub swaps: Vec<u64>,
    pub resets: u64,
}

/// What both engines start from: the preset configuration with a little seeded noise per slot,
/// CoM-free, its energy and projected gradient; plus the start state resets return to.
pub struct InitialState {
    pub x: Vec<f64>,
    pub g: Vec<f64>,
    pub e: Vec<f64>,
    pub start: Vec<f64>,
    pub start_g: Vec<f64>,
    pub start_e: f64,
}

impl InitialState {
    pub fn new(sys: &System, cfg: &PtConfig) -> Self {
        let dim = sys.dim();
        let key = philox_key(cfg.seed);
        let start = crate::energies::preset_configuration(sys);
        let mut start_g = vec![0.0; dim];
        let start_e = sys.energy_grad(&start, &mut start_g);
        remove_com(&mut start_g, sys.d);
        let r = cfg.replicas();
        let (mut x, mut g, mut e) = (Vec::with_capacity(r * dim), vec![0.0; r * dim], Vec::with_capacity(r));
        for slot in 0..r {
            let mut v: Vec<f64> = (0..dim).map(|i| start[i] + 0.05 * philox_normals([(i / 4) as u32, slot as u32, 0, STREAM_INIT], key)[i % 4]).collect();
            remove_com(&mut v, sys.d);
            let gs = &mut g[slot * dim..(slot + 1) * dim];
            e.push(sys.energy_grad(&v, gs));
            remove_com(gs, sys.d);
            x.extend_from_slice(&v);
        }
        InitialState { x, g, e, start, start_g, start_e }
    }
}

/// Energies above this reset a slot (far beyond anything a sampler at τ ≈ 1 visits).
pub fn reset_limit(sys: &System) -> f64 {
    1e6 * sys.n as f64
}

/// The CPU engine (f64), and the oracle the GPU pass is tested against.
pub struct CpuReplicas {
    sys: System,
    temps: Vec<f64>,
    chains: usize,
    key: [u32; 2],
    x: Vec<f64>,
    g: Vec<f64>,
    e: Vec<f64>,
    level_of: Vec<u32>,
    slot_at: Vec<u32>,
    h: Vec<f64>,
    sweep: u32,
    counts: Counts,
    init: InitialState,
}

/// The CoM-projected standard normal noise of slot `slot` at sweep `sweep`.
pub fn projected_noise(sys: &System, key: [u32; 2], slot: u32, sweep: u32) -> Vec<f64> {
    let dim = sys.dim();
    let mut z = Vec::with_capacity(dim);
    for b in 0..dim.div_ceil(4) {
        let block = philox_normals([b as u32, slot, sweep, STREAM_NOISE], key);
        z.extend(block.iter().take(dim - 4 * b));
    }
    remove_com(&mut z, sys.d);
    z
}

impl CpuReplicas {
    pub fn new(sys: &System, cfg: &PtConfig, steps: &[f64]) -> Result<Self, McmcError> {
        cfg.validate(sys)?;
        let r = cfg.replicas();
        let init = InitialState::new(sys, cfg);
        Ok(CpuReplicas {
            sys: sys.clone(),
            temps: cfg.temperatures.clone(),
            chains: cfg.chains,
            key: philox_key(cfg.seed),
            x: init.x.clone(),
            g: init.g.clone(),
            e: init.e.clone(),
            level_of: (0..r as u32).map(|s| s / cfg.chains as u32).collect(),
            slot_at: (0..r as u32).collect(),
            h: steps.to_vec(),
            sweep: 0,
            counts: Counts { accepted: vec![0; cfg.levels()], swaps: vec![0; cfg.levels().saturating_sub(1)], resets: 0 },
            init,
        })
    }

    /// One MALA move of every slot, then one round of temperature swaps.
    pub fn sweep(&mut self) {
        let dim = self.sys.dim();
        let limit = reset_limit(&self.sys);
        let mut gy = vec![0.0; dim];
        for r in 0..self.e.len() {
            let k = self.level_of[r] as usize;
            let (t, h) = (self.temps[k], self.h[k]);
            let a = drift_coefficient(self.sweep, h);
            let xr = r * dim..(r + 1) * dim;
            if !(self.e[r].is_finite() && self.e[r] <= limit) {
                self.x[xr.clone()].copy_from_slice(&self.init.start);
                self.g[xr.clone()].copy_from_slice(&self.init.start_g);
                self.e[r] = self.init.start_e;
                self.counts.resets += 1;
            }
            let z = projected_noise(&self.sys, self.key, r as u32, self.sweep);
            let (x, gx) = (&self.x[xr.clone()], &self.g[xr.clone()]);
            let y: Vec<f64> = (0..dim).map(|i| x[i] - a / t * gx[i] + (2.0 * h).sqrt() * z[i]).collect();
            let ey = self.sys.energy_grad(&y, &mut gy);
            remove_com(&mut gy, self.sys.d);
            let (mut ss, mut sz) = (0.0, 0.0);
            for i in 0..dim {
                let s = gx[i] + gy[i];
                ss += s * s;
                sz += s * z[i];
            }
            let log_alpha = -(ey - self.e[r]) / t - a * a * ss / (4.0 * h * t * t) + a * sz / (t * (2.0 * h).sqrt());
            let u = unit_open(philox4x32([0, r as u32, self.sweep, STREAM_ACCEPT], self.key)[0]);
            if ey.is_finite() && ey <= limit && log_alpha.is_finite() && u.ln() < log_alpha {
                self.x[xr.clone()].copy_from_slice(&y);
                self.g[xr].copy_from_slice(&gy);
                self.e[r] = ey;
                self.counts.accepted[k] += 1;
            }
        }
        let levels = self.temps.len();
        let c_n = self.chains;
        for c in 0..c_n {
            for k in ((self.sweep as usize % 2)..levels.saturating_sub(1)).step_by(2) {
                let (a, b) = (self.slot_at[k * c_n + c] as usize, self.slot_at[(k + 1) * c_n + c] as usize);
                let log_alpha = (1.0 / self.temps[k] - 1.0 / self.temps[k + 1]) * (self.e[a] - self.e[b]);
                let u = unit_open(philox4x32([k as u32, c as u32, self.sweep, STREAM_SWAP], self.key)[0]);
                if u.ln() < log_alpha {
                    self.slot_at.swap(k * c_n + c, (k + 1) * c_n + c);
                    self.level_of[a] = k as u32 + 1;
                    self.level_of[b] = k as u32;
                    self.counts.swaps[k] += 1;
                }
            }
        }
        self.sweep += 1;
    }

    pub fn sweeps(&mut self, count: usize) {
        for _ in 0..count {
            self.sweep();
        }
    }

    pub fn counts(&self) -> Counts {
        self.counts.clone()
    }

    pub fn set_steps(&mut self, steps: &[f64]) {
        self.h = steps.to_vec();
    }

    /// The chains' configurations at the base temperature (chain-major, flat) and energies.
    pub fn base(&self) -> (Vec<f64>, Vec<f64>) {
        let dim = self.sys.dim();
        let mut xs = Vec::with_capacity(self.chains * dim);
        let mut es = Vec::with_capacity(self.chains);
        for c in 0..self.chains {
            let s = self.slot_at[c] as usize;
            xs.extend_from_slice(&self.x[s * dim..(s + 1) * dim]);
            es.push(self.e[s]);
        }
        (xs, es)
    }

    /// Every slot's positions, energies and level (for the GPU parity tests).
    pub fn state(&self) -> (&[f64], &[f64], &[u32]) {
        (&self.x, &self.e, &self.level_of)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn the_gpu_pass_takes_its_random_walk_sweeps_where_this_engine_does() {
        let wgsl = include_str!("../shaders/mala.wgsl");
        let rule = format!("sweep % {}u == {}u", RANDOM_WALK_EVERY, RANDOM_WALK_EVERY - 1);
        assert!(wgsl.contains(&rule), "shaders/mala.wgsl must pick its random-walk sweeps by `{rule}`");
        assert_eq!(drift_coefficient(RANDOM_WALK_EVERY - 1, 0.5), 0.0);
        assert_eq!(drift_coefficient(0, 0.5), 0.5);
    }

    #[test]
    fn temperatures_move_between_slots_as_a_permutation() {
        let sys = System::lj13();
        let cfg = PtConfig::geometric(&sys, 4, 3.0, 5, 2);
        let mut c = CpuReplicas::new(&sys, &cfg, &[1e-3; 4]).unwrap();
        c.sweeps(30);
        let (_, _, levels) = c.state();
        let mut per_level = vec![0; 4];
        for &k in levels {
            per_level[k as usize] += 1;
        }
        assert_eq!(per_level, vec![5; 4], "every level keeps one slot per chain");
        assert!(c.counts().swaps.iter().sum::<u64>() > 0);
    }

    #[test]
    fn a_diverged_slot_is_reset_and_counted() {
        let sys = System::lj13();
        let cfg = PtConfig::geometric(&sys, 1, 1.0, 2, 2);
        let mut c = CpuReplicas::new(&sys, &cfg, &[1e-3]).unwrap();
        c.e[1] = f64::NAN;
        c.sweep();
        assert_eq!(c.counts().resets, 1);
        assert!(c.e.iter().all(|e| e.is_finite()) && c.x.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn ladder_grows_with_the_system() {
        assert_eq!(PtConfig::default_levels(&System::dw4()), 4);
        assert_eq!(PtConfig::default_levels(&System::lj13()), 4);
        assert_eq!(PtConfig::default_levels(&System::lj55()), 8);
    }

    #[test]
    fn bad_configurations_are_refused() {
        let sys = System::dw4();
        let mut cfg = PtConfig::geometric(&sys, 2, 2.0, 2, 1);
        cfg.temperatures[0] = 2.0;
        assert!(cfg.validate(&sys).is_err());
        cfg.temperatures = vec![1.0, f64::NAN];
        assert!(cfg.validate(&sys).is_err());
        cfg.temperatures = vec![1.0; 40];
        assert!(cfg.validate(&sys).is_err());
        cfg.temperatures = vec![1.0];
        assert!(cfg.validate(&sys).is_ok());
        cfg.thin = 0;
        assert!(cfg.validate(&sys).is_err());
    }
}
