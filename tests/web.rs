//! Browser tests (wasm-bindgen-test in headless Chromium on WebGPU/SwiftShader): the energy
//! kernel and the MCMC pass against their f64 CPU twins, as natively, plus benchmarks that
//! print their figures.
#![cfg(target_arch = "wasm32")]

mod common;

use molplay::energies::{perturbed_batch, System};
use molplay::gpu::energy::{cpu_energies_grads, time_paths, EnergyKernel};
use molplay::gpu::GpuContext;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn webgpu_energies_and_gradients_match_the_cpu_oracle() {
    let ctx = GpuContext::new().await.expect("a WebGPU adapter (run Chromium with --enable-unsafe-webgpu)");
    let kernel = EnergyKernel::new(&ctx.device);
    for (case, (sys, batch)) in common::parity_cases().into_iter().enumerate() {
        let xs = common::configurations(&sys, batch, case as u64 + 1);
        let cpu = cpu_energies_grads(&sys, &xs, true).unwrap();
        let gpu = kernel.evaluate(&ctx, &sys, &xs, true).await.unwrap();
        assert_eq!(gpu.cpu_rows, 0);
        common::assert_close(&sys, &xs, &gpu.energies, &gpu.grads, &cpu.energies, &cpu.grads);
    }
}

#[wasm_bindgen_test]
async fn webgpu_coincident_particles_are_repaired_on_the_cpu() {
    let ctx = GpuContext::new().await.unwrap();
    let kernel = EnergyKernel::new(&ctx.device);
    let sys = System::lj13();
    let xs = vec![0.5f32; sys.dim()];
    let out = kernel.evaluate(&ctx, &sys, &xs, true).await.unwrap();
    assert_eq!(out.cpu_rows, 1);
    assert!(out.energies[0].is_finite() && out.grads.iter().all(|g| g.is_finite()));
}

/// Energy + gradient throughput at B = 1024, WebGPU vs the CPU path in the same run.
/// Prints its figures (speed is a benchmark, not asserted).
#[wasm_bindgen_test]
async fn bench_energy_forces_webgpu_vs_cpu() {
    let ctx = GpuContext::new().await.unwrap();
    let kernel = EnergyKernel::new(&ctx.device);
    let perf = web_sys::window().unwrap().performance().unwrap();
    for sys in [System::lj13(), System::lj55()] {
        let (batch, reps) = (1024, 5);
        let xs = perturbed_batch(&sys, batch, 0.1, 1);
        let gpu = kernel.evaluate(&ctx, &sys, &xs, true).await.unwrap();
        let cpu = cpu_energies_grads(&sys, &xs, true).unwrap();
        common::assert_close(&sys, &xs, &gpu.energies, &gpu.grads, &cpu.energies, &cpu.grads);
        let times = time_paths(Some((&ctx, &kernel)), &sys, &xs, reps, || perf.now()).await.unwrap();
        let (gpu_ms, cpu_ms) = (times.gpu_ms.unwrap(), times.cpu_ms);
        web_sys::console::log_1(
            &format!(
                "BENCH browser {} B={batch}: WebGPU {gpu_ms:.2} ms ({:.0} conf/s; resident {:.2} ms), CPU f64 {cpu_ms:.2} ms ({:.0} conf/s), CPU/GPU time ratio {:.2} [adapter: {}]",
                sys.name,
                batch as f64 / gpu_ms * 1e3,
                times.gpu_resident_ms.unwrap(),
                batch as f64 / cpu_ms * 1e3,
                cpu_ms / gpu_ms,
                ctx.summary.name
            )
            .into(),
        );
    }
}

#[wasm_bindgen_test]
async fn webgpu_mala_pass_matches_its_cpu_twin() {
    let ctx = GpuContext::new().await.unwrap();
    common::check_mcmc_parity(&ctx, 2).await;
}

/// MCMC sweeps/s, the WebGPU pass vs the CPU engine in the same run (printed, not asserted).
#[wasm_bindgen_test]
async fn bench_mcmc_webgpu_vs_cpu() {
    let ctx = GpuContext::new().await.unwrap();
    let perf = web_sys::window().unwrap().performance().unwrap();
    for sys in [System::lj13(), System::lj55()] {
        let cfg = molplay::mcmc::PtConfig::geometric(&sys, molplay::mcmc::PtConfig::default_levels(&sys), 2.0, 25, 1);
        let t = molplay::reference::time_sweeps(Some(&ctx), &sys, &cfg, 10, || perf.now()).await.unwrap();
        let (g, c, r) = (t.gpu_sweeps_per_s.unwrap(), t.cpu_sweeps_per_s, cfg.replicas() as f64);
        web_sys::console::log_1(
            &format!(
                "BENCH browser MCMC {} {} replicas: WebGPU {g:.1} sweeps/s ({:.3e} evals/s), CPU {c:.1} sweeps/s ({:.3e} evals/s), GPU/CPU {:.3} [adapter: {}]",
                sys.name,
                cfg.replicas(),
                g * r,
                c * r,
                g / c,
                ctx.summary.name
            )
            .into(),
        );
    }
}

/// burn on the page's WebGPU device (shared with our kernels): an Adjoint Sampling controller
/// starts from the same weights as on the CPU, computes the same drift, trains an epoch with
/// async reads only, and its weights read back (snapshot) load on the CPU with the same drift.
#[wasm_bindgen_test]
async fn networks_train_on_webgpu_like_on_the_cpu() {
    use molplay::adjoint::{AdjointConfig, AdjointSampler};
    use molplay::models::Compute;
    let ctx = GpuContext::new().await.unwrap();
    let gpu = Compute::on_wgpu(&ctx).expect("burn on our WebGPU device");
    let mut c = AdjointConfig::demo("dw4").unwrap();
    c.nfe = 8;
    c.new_per_epoch = 8;
    c.batch = 8;
    c.grad_steps = 3;
    let mut cpu = AdjointSampler::new(c.clone(), 5).unwrap();
    let mut on_gpu = AdjointSampler::new_on(c, 5, &gpu).unwrap();
    // same seed, same noise: the two simulations differ by f32 rounding only
    let (a, _) = cpu.simulate(6, 0).await.unwrap();
    let (b, _) = on_gpu.simulate(6, 0).await.unwrap();
    assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-3 * (1.0 + x.abs())), "CPU {a:?} vs WebGPU {b:?}");
    let loss = on_gpu.epoch().await.unwrap();
    assert!(loss.is_finite() && on_gpu.counters.gradient_steps == 3);
    let back = AdjointSampler::from_bytes(&on_gpu.to_bytes().await.unwrap(), Some("dw4")).unwrap();
    let (mut back, mut trained) = (back, on_gpu);
    back.reseed(9);
    trained.reseed(9);
    let (a, _) = back.simulate(4, 0).await.unwrap();
    let (b, _) = trained.simulate(4, 0).await.unwrap();
    assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-3 * (1.0 + x.abs())), "saved from WebGPU {a:?} vs live {b:?}");
}

/// The reverse-sampler update pass on WebGPU vs its f64 twin, and its speed against the twin
/// (printed, not asserted).
#[wasm_bindgen_test]
async fn webgpu_sampler_update_matches_its_cpu_twin() {
    use molplay::gpu::sampler::{cpu_step, time_steps, SamplerKernel};
    let ctx = GpuContext::new().await.unwrap();
    let kernel = SamplerKernel::new(&ctx.device);
    let sch = molplay::schedules::Schedule::polynomial2(1000, 1e-5);
    let [cx, cd, sd] = molplay::samplers::update_coefficients(molplay::samplers::Method::Ddpm, &sch, 400.0, 395.0).unwrap();
    let (_, heun) = molplay::samplers::heun_coefficients(&sch, 400.0, 395.0);
    let (atoms, molecules) = (19, 40);
    let xs: Vec<f64> = (0..atoms * molecules * 3).map(|i| ((i * 37 % 101) as f64 - 50.0) / 20.0).collect();
    let den: Vec<f64> = xs.iter().map(|v| 0.5 * v).collect();
    let den2: Vec<f64> = xs.iter().map(|v| 0.4 * v).collect();
    let f32s = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
    // DDPM (one denoiser output, noise) and Heun's corrector (two outputs, no noise)
    for (coef, second) in [([cx, cd, sd, 0.0], None), (heun.unwrap(), Some(&den2))] {
        let want = cpu_step(&xs, &den, second.map(|d| d.as_slice()), atoms, coef, 3, 8);
        let d2 = second.map(|d| f32s(d));
        let got = kernel.step(&ctx, &f32s(&xs), &f32s(&den), d2.as_deref(), atoms, coef, 3, 8).await.unwrap();
        assert!(got.iter().zip(&want).all(|(g, w)| (*g as f64 - w).abs() < 1e-4), "WebGPU and the f64 twin disagree");
    }
    let perf = web_sys::window().unwrap().performance().unwrap();
    let (gpu_ms, cpu_ms) = time_steps(Some((&ctx, &kernel)), 1024, 19, 5, || perf.now()).await.unwrap();
    let g = gpu_ms.unwrap();
    web_sys::console::log_1(
        &format!("BENCH browser sampler update 1024 × 19 atoms: WebGPU {g:.2} ms, CPU f64 {cpu_ms:.2} ms, CPU/GPU time ratio {:.2} [adapter: {}]", cpu_ms / g, ctx.summary.name).into(),
    );
}
