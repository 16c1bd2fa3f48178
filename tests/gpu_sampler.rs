//! The reverse-sampler update pass (shaders/sampler_step.wgsl) vs its f64 CPU twin, a whole
//! DDPM run with the GPU update on the exact spring-chain Gaussian against the target's E[R²],
//! and whole DDPM, Euler–Maruyama and Heun runs with the GPU update against the CPU sampler's,
//! sample by sample (the same Philox noise on both engines).
#![cfg(not(target_arch = "wasm32"))]

use molplay::gpu::sampler::{cpu_step, SamplerKernel};
use molplay::gpu::shared_native_context;
use molplay::rng::XorShift64;
use molplay::samplers::{heun_coefficients, update_coefficients, Denoiser, GaussianTarget, Method, SampleOptions, SamplerError, SamplerRun, Symmetry};
use molplay::schedules::Schedule;

fn cloud(rng: &mut XorShift64, molecules: usize, atoms: usize, scale: f64) -> Vec<f64> {
    let mut xs: Vec<f64> = (0..molecules * atoms * 3).map(|_| scale * rng.normal()).collect();
    xs.chunks_mut(atoms * 3).for_each(|x| molplay::geometry::remove_com(x, 3));
    xs
}

#[test]
fn the_update_pass_matches_its_cpu_twin_for_ddpm_and_em() {
    let Some(ctx) = shared_native_context() else { return };
    let kernel = SamplerKernel::new(&ctx.device);
    let sch = Schedule::polynomial2(1000, 1e-5);
    let mut rng = XorShift64::new(3);
    // 19 atoms (QM9's most common size) and 150 (several atoms per invocation)
    for (atoms, molecules) in [(19, 33), (150, 4)] {
        for method in [Method::Ddpm, Method::Em] {
            for (t, s) in [(1000.0, 990.0), (400.0, 395.0), (5.0, 0.0)] {
                let [cx, cd, sd] = update_coefficients(method, &sch, t, s).unwrap();
                let coef = [cx, cd, sd, 0.0];
                let xs = cloud(&mut rng, molecules, atoms, 3.0);
                let den = cloud(&mut rng, molecules, atoms, 1.0);
                let want = cpu_step(&xs, &den, None, atoms, coef, 7, 11);
                let f32s = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
                let got = pollster::block_on(kernel.step(ctx, &f32s(&xs), &f32s(&den), None, atoms, coef, 7, 11)).unwrap();
                let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
                let err = got.iter().zip(&want).map(|(g, w)| (*g as f64 - w).abs()).fold(0.0, f64::max);
                assert!(err < 1e-5 * scale, "{method:?} n={atoms} t={t}: max error {err} (scale {scale})");
                for x in got.chunks(3 * atoms) {
                    let com: f64 = x.iter().step_by(3).map(|&v| v as f64).sum::<f64>() / atoms as f64;
                    assert!(com.abs() < 1e-5 * scale, "centre of mass {com}");
                }
            }
        }
    }
    // bad input is refused, not dispatched
    assert!(pollster::block_on(kernel.step(ctx, &[0.0; 6], &[0.0; 3], None, 2, [1.0, 0.0, 0.0, 0.0], 0, 0)).is_err());
    assert!(pollster::block_on(kernel.step(ctx, &[f32::NAN; 6], &[0.0; 6], None, 2, [1.0, 0.0, 0.0, 0.0], 0, 0)).is_err());
    assert!(pollster::block_on(kernel.step(ctx, &[0.0; 6], &[0.0; 6], Some(&[0.0; 3]), 2, [1.0, 0.0, 0.0, 1.0], 0, 0)).is_err());
}

/// DDPM with every update on the GPU and the exact denoiser on the CPU draws the spring chain:
/// E[R²] within the Monte Carlo error of the exact value.
#[test]
fn ddpm_with_the_gpu_update_draws_the_exact_chain() {
    let Some(ctx) = shared_native_context() else { return };
    let kernel = SamplerKernel::new(&ctx.device);
    let sch = Schedule::polynomial2(1000, 1e-5);
    let mut target = GaussianTarget::spring_chain(4);
    let (atoms, count, steps) = (4, 2000, 100);
    // start from N(0, I) on the CoM-free space (σ_T ≈ 1)
    let mut rng = XorShift64::new(5);
    let mut xs: Vec<f32> = cloud(&mut rng, count, atoms, 1.0).iter().map(|&v| v as f32).collect();
    for i in 0..steps {
        let t = 1000.0 * (1.0 - i as f64 / steps as f64);
        let s = 1000.0 * (1.0 - (i + 1) as f64 / steps as f64);
        let x64: Vec<f64> = xs.iter().map(|&v| v as f64).collect();
        let den: Vec<f32> = target.denoise_batch(&x64, t, &sch).iter().map(|&v| v as f32).collect();
        let [cx, cd, sd] = update_coefficients(Method::Ddpm, &sch, t, s).unwrap();
        xs = pollster::block_on(kernel.step(ctx, &xs, &den, None, atoms, [cx, cd, sd, 0.0], i as u32, 1)).unwrap();
    }
    let r2: Vec<f64> = xs.chunks(3 * atoms).map(|x| x.iter().map(|&v| (v as f64).powi(2)).sum()).collect();
    let mean = r2.iter().sum::<f64>() / count as f64;
    let sd = (r2.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / count as f64).sqrt() / (count as f64).sqrt();
    let exact = target.mean_r2();
    assert!((mean - exact).abs() < 4.0 * sd + 0.03 * exact, "E[R²] {mean:.3} ± {sd:.3}, exact {exact}");
}

/// Heun's two stages as the GPU pass runs them (predictor, then the corrector from both denoiser
/// outputs) reproduce the CPU sampler's run: the probability-flow ODE draws no noise, so the
/// samples agree one by one, up to f32 rounding. The linear coefficients are checked against the
/// CPU step on their own too.
#[test]
fn heun_with_the_gpu_update_reproduces_the_cpu_run() {
    let Some(ctx) = shared_native_context() else { return };
    let kernel = SamplerKernel::new(&ctx.device);
    let sch = Schedule::polynomial2(1000, 1e-5);
    let (atoms, count, steps) = (5, 64, 40);
    let opts = SampleOptions { seed: 4, ..SampleOptions::new(Method::Heun, Symmetry::Equivariant, steps, &sch) };
    let mut cpu = SamplerRun::new(atoms, &sch, &opts, count, 2).unwrap();
    let mut gpu = SamplerRun::new(atoms, &sch, &opts, count, 2).unwrap();
    let mut target = GaussianTarget::spring_chain(atoms);
    cpu.advance(&mut target, &sch, steps).unwrap();
    // the page's GPU engine: `SamplerKernel::advance`, counting the denoiser calls it asks for
    let (mut calls, mut gpu_steps) = (0, 0);
    while pollster::block_on(kernel.advance::<SamplerError>(ctx, &mut gpu, &sch, |f| {
        calls += 1;
        f(&mut target)
    }))
    .unwrap()
    {
        gpu_steps += 1;
    }
    let correctors = calls - gpu_steps;
    assert_eq!(correctors, steps - 1, "every step but the last to t = 0 has a corrector");
    assert_eq!(gpu.nfe(), cpu.nfe(), "two denoiser calls per step but the last, as on the CPU");
    let scale = cpu.samples().iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let err = gpu.samples().iter().zip(cpu.samples()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(err < 1e-3 * scale, "GPU and CPU Heun runs differ by {err} (scale {scale})");
    // the coefficients alone: one predictor + corrector equals the CPU step from the same state
    let (p, c) = heun_coefficients(&sch, 500.0, 480.0);
    assert_eq!((p[2], p[3]), (0.0, 0.0), "the predictor draws no noise and needs one denoiser output");
    assert!(c.is_some_and(|c| c[2] == 0.0));
    assert!(heun_coefficients(&sch, 10.0, 0.0).1.is_none(), "no corrector on the last step to t = 0");
}

/// A DDPM or Euler–Maruyama run with every update on the GPU pass reproduces the CPU sampler's
/// run for the same seed, sample by sample: both draw the same Philox noise (`step_noise`), so
/// a seed means the same samples on either engine (issue 15).
#[test]
fn ddpm_and_em_with_the_gpu_update_reproduce_the_cpu_run() {
    let Some(ctx) = shared_native_context() else { return };
    let kernel = SamplerKernel::new(&ctx.device);
    let sch = Schedule::polynomial2(1000, 1e-5);
    let (atoms, count, steps) = (6, 48, 30);
    for method in [Method::Ddpm, Method::Em] {
        let opts = SampleOptions { seed: 9, ..SampleOptions::new(method, Symmetry::Equivariant, steps, &sch) };
        let mut cpu = SamplerRun::new(atoms, &sch, &opts, count, 0).unwrap();
        let mut gpu = SamplerRun::new(atoms, &sch, &opts, count, 0).unwrap();
        let mut target = GaussianTarget::spring_chain(atoms);
        cpu.advance(&mut target, &sch, steps).unwrap();
        let mut calls = 0;
        while pollster::block_on(kernel.advance::<SamplerError>(ctx, &mut gpu, &sch, |f| {
            calls += 1;
            f(&mut target)
        }))
        .unwrap()
        {}
        assert_eq!((calls, gpu.progress()), (steps, (steps, steps)), "{method:?}: one denoiser call per step");
        let scale = cpu.samples().iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let err = gpu.samples().iter().zip(cpu.samples()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(err < 1e-3 * scale, "{method:?}: GPU and CPU runs differ by {err} (scale {scale})");
        // another seed, other samples
        let other = SampleOptions { seed: 10, ..opts.clone() };
        let mut third = SamplerRun::new(atoms, &sch, &other, count, 0).unwrap();
        third.advance(&mut target, &sch, steps).unwrap();
        assert!(third.samples().iter().zip(cpu.samples()).any(|(a, b)| (a - b).abs() > 0.1));
    }
}
