//! Exactness of the reference sampler where the answer is known in closed form: two
//! Lennard-Jones particles with the tether (LJ-2). In the CoM frame the pair distance r has
//! density ∝ r² exp(−2(r⁻¹² − 2r⁻⁶) − r²/4) (ordered pairs count twice; the tether is
//! ½·2·(r/2)²), so ⟨r⟩ and ⟨r²⟩ follow from 1-D quadrature. Both engines, with and without
//! tempering, must land within a few standard errors of it.
#![cfg(not(target_arch = "wasm32"))]

use molplay::energies::System;
use molplay::mcmc::PtConfig;
use molplay::reference::{Phase, ReferenceRun};

fn exact_moments() -> (f64, f64) {
    let p = |r: f64| r * r * (-2.0 * (r.powi(-12) - 2.0 * r.powi(-6)) - r * r / 4.0).exp();
    let (lo, hi, n) = (0.5, 9.0, 200_000);
    let h = (hi - lo) / n as f64;
    let (mut z, mut m1, mut m2) = (0.0, 0.0, 0.0);
    for k in 0..n {
        let r = lo + (k as f64 + 0.5) * h;
        let w = p(r);
        z += w;
        m1 += r * w;
        m2 += r * r * w;
    }
    (m1 / z, m2 / z)
}

fn check(mut run: ReferenceRun) {
    while run.phase() != Phase::Done {
        pollster::block_on(run.advance(1000)).unwrap();
    }
    let rs: Vec<f64> = run.samples().0.chunks(6).map(|x| ((x[0] - x[3]).powi(2) + (x[1] - x[4]).powi(2) + (x[2] - x[5]).powi(2)).sqrt()).collect();
    let n = rs.len() as f64;
    let m1 = rs.iter().sum::<f64>() / n;
    let m2 = rs.iter().map(|r| r * r).sum::<f64>() / n;
    let se = ((m2 - m1 * m1) / n).sqrt();
    let (e1, e2) = exact_moments();
    eprintln!("LJ-2 ({}): ⟨r⟩ {m1:.4} vs exact {e1:.4} (se {se:.4}), ⟨r²⟩ {m2:.4} vs {e2:.4}", run.engine().name());
    assert!((m1 - e1).abs() < 4.0 * se, "⟨r⟩ {m1} vs exact {e1}, standard error {se}");
    assert!((m2 - e2).abs() < 4.0 * 2.0 * e1 * se, "⟨r²⟩ {m2} vs exact {e2}");
}

fn config(levels: usize, chains: usize, thin: usize, seed: u64) -> PtConfig {
    let sys = System::lj(2).unwrap();
    let mut cfg = PtConfig::geometric(&sys, levels, 3.0, chains, seed);
    cfg.burn_in_sweeps = 500;
    cfg.thin = thin;
    cfg
}

#[test]
fn cpu_sampler_is_exact_on_lj2() {
    let sys = System::lj(2).unwrap();
    check(ReferenceRun::cpu(&sys, config(1, 200, 20, 1), 20_000).unwrap());
    check(ReferenceRun::cpu(&sys, config(4, 200, 20, 2), 20_000).unwrap());
}

#[test]
fn gpu_sampler_is_exact_on_lj2() {
    let Some(ctx) = molplay::gpu::shared_native_context() else { return };
    let sys = System::lj(2).unwrap();
    check(ReferenceRun::gpu(ctx, &sys, config(3, 256, 20, 3), 20_000).unwrap());
}
