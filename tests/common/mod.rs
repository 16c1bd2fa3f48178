//! Configurations shared by the native and browser parity tests.
#![allow(dead_code)]

use molplay::energies::{preset_configuration, System};
use molplay::rng::XorShift64;

/// `batch` configurations: thermal-looking perturbations of a low-energy preset, some spread
/// out, and every fifth one with a near-contact pair (distances 0.05 … 0.4).
pub fn configurations(sys: &System, batch: usize, seed: u64) -> Vec<f32> {
    let mut rng = XorShift64::new(seed);
    let base = preset_configuration(sys);
    let mut out = Vec::with_capacity(batch * sys.dim());
    for b in 0..batch {
        let spread = if b % 3 == 0 { 0.6 } else { 0.15 };
        let mut x: Vec<f64> = base.iter().map(|v| v + spread * rng.normal()).collect();
        if b % 5 == 4 {
            let (i, j) = (b % sys.n, (b / 5 + 1) % sys.n);
            let j = if i == j { (j + 1) % sys.n } else { j };
            let dist = 0.05 + 0.35 * rng.uniform();
            for k in 0..sys.d {
                x[j * sys.d + k] = x[i * sys.d + k] + if k == 0 { dist } else { 0.0 };
            }
        }
        out.extend(x.iter().map(|&v| v as f32));
    }
    out
}

/// Asserts that a GPU result matches the f64 oracle: energies to 1e-4 relative, gradients to
/// 1e-3 of the configuration's largest gradient component.
pub fn assert_close(sys: &System, xs: &[f32], gpu_e: &[f64], gpu_g: &[f64], cpu_e: &[f64], cpu_g: &[f64]) {
    let dim = sys.dim();
    assert_eq!(gpu_e.len(), cpu_e.len());
    assert_eq!(gpu_g.len(), cpu_g.len());
    for b in 0..cpu_e.len() {
        let tol = 1e-4 * cpu_e[b].abs().max(1.0);
        assert!((gpu_e[b] - cpu_e[b]).abs() <= tol, "{} config {b}: GPU energy {} vs CPU {} (x = {:?})", sys.name, gpu_e[b], cpu_e[b], &xs[b * dim..(b + 1) * dim]);
        if !cpu_g.is_empty() {
            let g = &cpu_g[b * dim..(b + 1) * dim];
            let scale = g.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            for k in 0..dim {
                let (a, c) = (gpu_g[b * dim + k], g[k]);
                assert!((a - c).abs() <= 1e-3 * scale, "{} config {b} coordinate {k}: GPU gradient {a} vs CPU {c}", sys.name);
            }
        }
    }
}

/// The systems × batch sizes the parity tests cover.
pub fn parity_cases() -> Vec<(System, usize)> {
    let systems = [System::dw4(), System::lj(4).unwrap(), System::lj13(), System::lj55(), System::lj(100).unwrap()];
    let mut cases = Vec::new();
    for sys in systems {
        for batch in [1, 7, 1024] {
            if sys.n == 100 && batch == 1024 {
                continue; // n > 64 exercises the strided particle loop; 7 configurations suffice
            }
            cases.push((sys.clone(), batch));
        }
    }
    cases
}

/// Systems and ladders for the MCMC pass parity (GPU f32 vs CPU f64, same Philox numbers):
/// 2-D and 3-D, several particles per invocation (LJ-100), one level (no swaps) and many.
pub fn mcmc_cases() -> Vec<(System, molplay::mcmc::PtConfig)> {
    use molplay::mcmc::PtConfig;
    vec![
        (System::dw4(), PtConfig::geometric(&System::dw4(), 4, 2.0, 8, 11)),
        (System::lj13(), PtConfig::geometric(&System::lj13(), 4, 2.0, 16, 12)),
        (System::lj55(), PtConfig::geometric(&System::lj55(), 3, 2.0, 4, 13)),
        (System::lj(100).unwrap(), PtConfig::geometric(&System::lj(100).unwrap(), 1, 1.0, 3, 14)),
    ]
}

/// Asserts that after the same sweeps the two engines agree slot by slot: the same temperature
/// levels (the swap decisions), positions to 1e-4 and energies to 1e-4 relative. The two sides
/// draw identical random numbers, so only an accept decision within f32 rounding of its
/// threshold could differ; `allowed` such slots are tolerated (reported).
pub fn assert_mcmc_states_agree(name: &str, cpu: (&[f64], &[f64], &[u32]), gpu: (&[f64], &[f64], &[u32]), allowed: usize) {
    let (cx, ce, cl) = cpu;
    let (gx, ge, gl) = gpu;
    assert_eq!(cl, gl, "{name}: temperature levels differ");
    let dim = cx.len() / ce.len();
    let mut differing = Vec::new();
    for r in 0..ce.len() {
        let xd = (0..dim).map(|i| (cx[r * dim + i] - gx[r * dim + i]).abs()).fold(0.0, f64::max);
        let ed = (ce[r] - ge[r]).abs() / ce[r].abs().max(1.0);
        if xd > 1e-4 || ed > 1e-4 {
            differing.push((r, xd, ed));
        }
    }
    assert!(differing.len() <= allowed, "{name}: slots differ (slot, max |Δx|, rel ΔE): {differing:?}");
}

/// Runs every [`mcmc_cases`] case `sweeps` sweeps on both engines from the same seed and checks
/// them after each sweep, then the counters and the base-level samples (native and browser).
pub async fn check_mcmc_parity(ctx: &molplay::gpu::GpuContext, sweeps: usize) {
    use molplay::gpu::mcmc::GpuReplicas;
    use molplay::mcmc::CpuReplicas;
    for (sys, cfg) in mcmc_cases() {
        // step sizes near the adapted ones, so that moves are accepted and rejected
        let h0 = if sys.d == 2 { 5e-3 } else { 5e-3 / sys.n as f64 };
        let steps: Vec<f64> = (0..cfg.levels()).map(|k| h0 * (1.0 + k as f64)).collect();
        let mut cpu = CpuReplicas::new(&sys, &cfg, &steps).unwrap();
        let mut gpu = GpuReplicas::new(ctx, &sys, &cfg, &steps).unwrap();
        for sweep in 1..=sweeps {
            cpu.sweeps(1);
            gpu.sweeps(1);
            let g = gpu.state().await.unwrap();
            assert_mcmc_states_agree(&format!("{} sweep {sweep}", sys.name), cpu.state(), (&g.0, &g.1, &g.2), 0);
        }
        let (cc, gc) = (cpu.counts(), gpu.counts().await.unwrap());
        assert_eq!(cc, gc, "{}: acceptance and swap counters", sys.name);
        assert!(cc.accepted.iter().sum::<u64>() > 0, "{}: some moves accepted", sys.name);
        let (cb, gb) = (cpu.base(), gpu.base().await.unwrap());
        assert!(cb.0.iter().zip(&gb.0).all(|(a, b)| (a - b).abs() < 1e-4), "{}: base-level samples", sys.name);
    }
}
