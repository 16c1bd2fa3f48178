//! Reference sampler: parallel-tempering MALA (Metropolis-adjusted Langevin) on the CoM-free
//! subspace, with replica exchange between neighbouring temperatures. Seeded and
//! reproducible. This is the CPU path; the GPU pass will share its state layout.
//!
//! Per sweep, every replica (chain c at temperature T_k) makes one MALA move targeting
//! exp(−E/T_k): y = x − h_k ∇E(x)/T_k + sqrt(2 h_k) P ξ (P removes the CoM), accepted with the
//! Metropolis–Hastings ratio including the Langevin proposal densities. Then neighbouring
//! temperatures swap configurations with probability min(1, exp((1/T_k − 1/T_{k+1})(E_k − E_{k+1}))),
//! alternating even and odd pairs. Step sizes adapt towards an acceptance of 0.57 during burn-in
//! only (afterwards they are frozen, so the chain is exactly reversible).

use crate::energies::System;
use crate::geometry::remove_com;
use crate::rng::XorShift64;
use serde::Serialize;

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
        ((4.0 * (sys.n as f64 / 13.0).sqrt()).round() as usize).max(4)
    }

    /// A geometric ladder of `levels` temperatures from τ to `t_max`·τ.
    pub fn geometric(sys: &System, levels: usize, t_max: f64, chains: usize, seed: u64) -> Self {
        let levels = levels.max(1);
        let temperatures = (0..levels)
            .map(|k| sys.temperature * if levels == 1 { 1.0 } else { t_max.powf(k as f64 / (levels - 1) as f64) })
            .collect();
        PtConfig { temperatures, chains: chains.max(1), burn_in_sweeps: 2000, thin: 50, seed }
    }
}

/// Progress and health of a run, also the report the CLI and the page show.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct PtReport {
    pub sweeps: usize,
    /// MALA acceptance rate per temperature (since the last adaptation).
    pub acceptance: Vec<f64>,
    /// Swap acceptance per neighbouring pair.
    pub swap_acceptance: Vec<f64>,
    pub step_sizes: Vec<f64>,
    /// Replicas reset because they became non-finite or exploded.
    pub resets: usize,
    pub energy_evaluations: u64,
}

pub struct ParallelTempering {
    sys: System,
    cfg: PtConfig,
    /// Replica r = k·chains + c, flat positions.
    x: Vec<Vec<f64>>,
    e: Vec<f64>,
    g: Vec<Vec<f64>>,
    h: Vec<f64>,
    rng: XorShift64,
    accepted: Vec<u64>,
    proposed: Vec<u64>,
    swaps_ok: Vec<u64>,
    swaps_tried: Vec<u64>,
    start: Vec<f64>,
    pub report: PtReport,
}

impl ParallelTempering {
    pub fn new(sys: &System, cfg: PtConfig) -> Result<Self, String> {
        if cfg.temperatures.is_empty() || cfg.temperatures.iter().any(|t| !(t.is_finite() && *t > 0.0)) {
            return Err("temperatures must be positive and finite".into());
        }
        if (cfg.temperatures[0] - sys.temperature).abs() > 1e-12 {
            return Err(format!("the first temperature must be the system's ({})", sys.temperature));
        }
        if cfg.thin == 0 {
            return Err("thin must be at least 1".into());
        }
        let mut rng = XorShift64::new(cfg.seed);
        let start = crate::energies::preset_configuration(sys);
        let levels = cfg.temperatures.len();
        let replicas = levels * cfg.chains;
        let mut x = Vec::with_capacity(replicas);
        for _ in 0..replicas {
            // a little noise so chains do not start identical
            let mut v: Vec<f64> = start.iter().map(|s| s + 0.05 * rng.normal()).collect();
            remove_com(&mut v, sys.d);
            x.push(v);
        }
        let mut g = vec![vec![0.0; sys.dim()]; replicas];
        let e = x.iter().zip(g.iter_mut()).map(|(xi, gi)| sys.energy_grad(xi, gi)).collect();
        let h0 = if sys.d == 2 { 1e-2 } else { 1e-3 };
        Ok(ParallelTempering {
            sys: sys.clone(),
            h: vec![h0; levels],
            accepted: vec![0; levels],
            proposed: vec![0; levels],
            swaps_ok: vec![0; levels.saturating_sub(1)],
            swaps_tried: vec![0; levels.saturating_sub(1)],
            report: PtReport { energy_evaluations: replicas as u64, ..Default::default() },
            cfg,
            x,
            e,
            g,
            rng,
            start,
        })
    }

    fn projected_noise(&mut self) -> Vec<f64> {
        let mut z: Vec<f64> = (0..self.sys.dim()).map(|_| self.rng.normal()).collect();
        remove_com(&mut z, self.sys.d);
        z
    }

    /// One MALA move of every replica, then one round of swaps.
    pub fn sweep(&mut self) {
        let levels = self.cfg.temperatures.len();
        let dim = self.sys.dim();
        let mut gy = vec![0.0; dim];
        for r in 0..self.x.len() {
            let k = r / self.cfg.chains;
            let (t, h) = (self.cfg.temperatures[k], self.h[k]);
            let z = self.projected_noise();
            let mut gx = self.g[r].clone();
            remove_com(&mut gx, self.sys.d);
            let y: Vec<f64> = (0..dim).map(|i| self.x[r][i] - h * gx[i] / t + (2.0 * h).sqrt() * z[i]).collect();
            let ey = self.sys.energy_grad(&y, &mut gy);
            self.report.energy_evaluations += 1;
            self.proposed[k] += 1;
            if !ey.is_finite() || gy.iter().any(|v| !v.is_finite()) {
                continue; // rejected: the state stays finite
            }
            let mut gyp = gy.clone();
            remove_com(&mut gyp, self.sys.d);
            // log q(x | y) − log q(y | x) for the Langevin proposal
            let (mut fwd, mut bwd) = (0.0, 0.0);
            for i in 0..dim {
                let a = y[i] - self.x[r][i] + h * gx[i] / t;
                let b = self.x[r][i] - y[i] + h * gyp[i] / t;
                fwd += a * a;
                bwd += b * b;
            }
            let log_alpha = -(ey - self.e[r]) / t - (bwd - fwd) / (4.0 * h);
            if log_alpha >= 0.0 || self.rng.uniform().ln() < log_alpha {
                self.x[r] = y;
                self.e[r] = ey;
                self.g[r].copy_from_slice(&gy);
                self.accepted[k] += 1;
            }
        }
        // replica exchange between neighbouring temperatures, alternating even/odd pairs
        let parity = self.report.sweeps % 2;
        for k in (parity..levels.saturating_sub(1)).step_by(2) {
            let (t0, t1) = (self.cfg.temperatures[k], self.cfg.temperatures[k + 1]);
            for c in 0..self.cfg.chains {
                let (a, b) = (k * self.cfg.chains + c, (k + 1) * self.cfg.chains + c);
                let log_alpha = (1.0 / t0 - 1.0 / t1) * (self.e[a] - self.e[b]);
                self.swaps_tried[k] += 1;
                if log_alpha >= 0.0 || self.rng.uniform().ln() < log_alpha {
                    self.x.swap(a, b);
                    self.e.swap(a, b);
                    self.g.swap(a, b);
                    self.swaps_ok[k] += 1;
                }
            }
        }
        self.guard();
        self.report.sweeps += 1;
    }

    /// Resets replicas whose state left the sane region (non-finite, or absurd energy).
    fn guard(&mut self) {
        let limit = 1e6 * (self.sys.n as f64);
        for r in 0..self.x.len() {
            if !self.e[r].is_finite() || self.e[r] > limit || self.x[r].iter().any(|v| !v.is_finite()) {
                self.x[r] = self.start.clone();
                self.e[r] = self.sys.energy_grad(&self.x[r], &mut self.g[r]);
                self.report.resets += 1;
            }
        }
    }

    fn update_report(&mut self) {
        self.report.acceptance = self.accepted.iter().zip(&self.proposed).map(|(a, p)| *a as f64 / (*p).max(1) as f64).collect();
        self.report.swap_acceptance = self.swaps_ok.iter().zip(&self.swaps_tried).map(|(a, p)| *a as f64 / (*p).max(1) as f64).collect();
        self.report.step_sizes = self.h.clone();
    }

    /// Burn-in with step-size adaptation (every 50 sweeps, towards 57 % acceptance).
    pub fn burn_in(&mut self, mut progress: impl FnMut(&PtReport)) {
        for s in 0..self.cfg.burn_in_sweeps {
            self.sweep();
            if (s + 1) % 50 == 0 {
                self.update_report();
                progress(&self.report);
                for k in 0..self.h.len() {
                    let acc = self.accepted[k] as f64 / self.proposed[k].max(1) as f64;
                    self.h[k] *= (2.0 * (acc - 0.574)).exp().clamp(0.5, 2.0);
                    self.accepted[k] = 0;
                    self.proposed[k] = 0;
                }
            }
        }
        self.accepted.fill(0);
        self.proposed.fill(0);
    }

    /// Runs until `n` samples at the base temperature are collected (`thin` sweeps apart per
    /// chain, all chains together); returns them flat and CoM-free.
    pub fn sample(&mut self, n: usize, mut progress: impl FnMut(usize, &PtReport)) -> Vec<f64> {
        let mut out = Vec::with_capacity(n * self.sys.dim());
        while out.len() < n * self.sys.dim() {
            for _ in 0..self.cfg.thin {
                self.sweep();
            }
            for c in 0..self.cfg.chains {
                if out.len() < n * self.sys.dim() {
                    let mut v = self.x[c].clone();
                    remove_com(&mut v, self.sys.d);
                    out.extend_from_slice(&v);
                }
            }
            self.update_report();
            progress(out.len() / self.sys.dim(), &self.report);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_reproducible_and_stay_finite_and_centred() {
        let sys = System::lj13();
        let mut cfg = PtConfig::geometric(&sys, 3, 2.0, 4, 7);
        cfg.burn_in_sweeps = 100;
        cfg.thin = 5;
        let run = |cfg: PtConfig| {
            let mut pt = ParallelTempering::new(&sys, cfg).unwrap();
            pt.burn_in(|_| {});
            (pt.sample(20, |_, _| {}), pt.report.clone())
        };
        let (a, rep) = run(cfg.clone());
        let (b, _) = run(cfg.clone());
        assert_eq!(a, b, "same seed, same samples");
        assert_eq!(a.len(), 20 * 39);
        assert!(a.iter().all(|v| v.is_finite()));
        for x in a.chunks(39) {
            assert!(crate::geometry::centre_of_mass(x, 3).iter().all(|c| c.abs() < 1e-9));
        }
        assert!(rep.acceptance.iter().all(|&p| p > 0.2 && p < 0.95), "{:?}", rep.acceptance);
        let (c, _) = run(PtConfig { seed: 8, ..cfg });
        assert_ne!(a, c);
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
        assert!(ParallelTempering::new(&sys, cfg.clone()).is_err());
        cfg.temperatures = vec![1.0, f64::NAN];
        assert!(ParallelTempering::new(&sys, cfg.clone()).is_err());
        cfg.temperatures = vec![1.0];
        cfg.thin = 0;
        assert!(ParallelTempering::new(&sys, cfg).is_err());
    }
}
