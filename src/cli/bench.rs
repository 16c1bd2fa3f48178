//! `info`, `bench` and `bench-train`: the GPU adapter, and CPU against GPU timings of the
//! energies, the sampler update and training steps.

use molplay::app::bench::{EnergyBench, Limits};
use molplay::energies::System;
use molplay::gpu::energy::EnergyKernel;
use molplay::gpu::GpuContext;
use std::time::Instant;

pub(super) fn info(json: bool) -> Result<(), String> {
    match GpuContext::new_blocking() {
        Ok(ctx) if json => outln!("{}", serde_json::json!({ "gpu": ctx.summary })),
        Ok(ctx) => {
            let s = &ctx.summary;
            outln!("GPU adapter: {} ({}, {}, driver: {})", s.name, s.backend, s.device_type, s.driver);
        }
        Err(e) if json => outln!("{}", serde_json::json!({ "gpu": null, "reason": e.to_string() })),
        Err(e) => outln!("no GPU adapter ({e}); every computation runs on the CPU"),
    }
    Ok(())
}

pub(super) fn bench_train(devices: &[String], reps: usize, json: bool) -> Result<(), String> {
    use molplay::models::Compute;
    if reps == 0 {
        return Err("--reps must be at least 1".into());
    }
    let t0 = Instant::now();
    let clock = move || t0.elapsed().as_secs_f64() * 1e3;
    let mut rows = serde_json::Map::new();
    let (mut cpu, mut gpu) = (None, None);
    for name in devices {
        let compute = match Compute::by_name(name) {
            Ok(c) => c,
            Err(e) if devices.len() > 1 => {
                eprintln!("molplay: skipping {name}: {e}");
                continue;
            }
            Err(e) => return Err(e.to_string()),
        };
        let t = pollster::block_on(molplay::adjoint::time_training(&compute, reps, &clock)).map_err(|e| e.to_string())?;
        let (dsm, adj) = (t.dsm_step_ms, t.adjoint);
        if !json {
            outln!(
                "{name:>4}: DSM step {dsm:8.2} ms ({:6.1}/s) | AS regression step {:8.2} ms ({:6.1}/s) | AS simulation step (64 samples) {:8.2} ms",
                1e3 / dsm,
                adj.regression_step_ms,
                1e3 / adj.regression_step_ms,
                adj.simulation_step_ms
            );
        }
        rows.insert(name.clone(), serde_json::json!({ "dsm_step_ms": dsm, "dsm_steps_per_s": 1e3 / dsm, "adjoint": adj, "adjoint_gradient_steps_per_s": 1e3 / adj.regression_step_ms }));
        *(if name == "cpu" { &mut cpu } else { &mut gpu }) = Some(t);
    }
    let ratios = cpu.zip(gpu).map(|(c, g)| c.over(&g));
    if json {
        let ratios = ratios.map_or(serde_json::json!({ "dsm": null, "regression_step": null, "simulation_step": null }), |r| serde_json::json!(r));
        outln!("{}", serde_json::json!({ "reps": reps, "devices": rows, "cpu_over_gpu_time": ratios }));
    } else if let Some(r) = ratios {
        outln!("CPU/GPU time ratios (> 1: the GPU is faster): DSM {:.2}, AS regression {:.2}, AS simulation {:.2}", r.dsm, r.regression_step, r.simulation_step);
    }
    Ok(())
}

pub(super) fn bench(systems: &[String], batch: usize, reps: usize, json: bool) -> Result<(), String> {
    let systems = systems.iter().map(|s| System::by_name(s).map_err(|e| e.to_string())).collect::<Result<Vec<_>, _>>()?;
    for sys in &systems {
        EnergyBench::check(sys, batch, reps, Limits::NATIVE, |k| format!("--{k}")).map_err(|e| e.to_string())?;
    }
    let gpu = GpuContext::new_blocking().map(|ctx| {
        let kernel = EnergyKernel::new(&ctx.device);
        (ctx, kernel)
    });
    if let Err(e) = &gpu {
        eprintln!("molplay: no GPU ({e}); timing the CPU path only");
    }
    let mut rows = Vec::new();
    for sys in &systems {
        let t0 = Instant::now();
        let clock = || t0.elapsed().as_secs_f64() * 1e3;
        let row = pollster::block_on(EnergyBench::run(gpu.as_ref().ok().map(|(c, k)| (c, k)), sys, batch, reps, clock)).map_err(|e| e.to_string())?;
        if !json {
            match row.gpu_ms {
                Some(g) => outln!(
                    "{:>5} B={batch}: CPU f64 {:8.2} ms | GPU {g:8.2} ms end-to-end, {:8.2} ms resident | CPU/GPU time ratio {:.2}",
                    sys.name,
                    row.cpu_ms,
                    row.gpu_resident_ms.unwrap_or(f64::NAN),
                    row.cpu_ms / g
                ),
                None => outln!("{:>5} B={batch}: CPU f64 {:8.2} ms (no GPU)", sys.name, row.cpu_ms),
            }
        }
        rows.push(row);
    }
    // one reverse-sampler update (DDPM/EM, equivariant) of `batch` QM9-sized molecules
    let sampler = gpu.as_ref().ok().map(|(ctx, _)| (ctx, molplay::gpu::sampler::SamplerKernel::new(&ctx.device)));
    let t0 = Instant::now();
    let (step_gpu, step_cpu) =
        pollster::block_on(molplay::gpu::sampler::time_steps(sampler.as_ref().map(|(c, k)| (*c, k)), batch, 19, reps, || t0.elapsed().as_secs_f64() * 1e3)).map_err(|e| e.to_string())?;
    if !json {
        match step_gpu {
            Some(g) => outln!("sampler update, {batch} × 19 atoms: CPU f64 {step_cpu:8.2} ms | GPU {g:8.2} ms end-to-end | CPU/GPU time ratio {:.2}", step_cpu / g),
            None => outln!("sampler update, {batch} × 19 atoms: CPU f64 {step_cpu:8.2} ms (no GPU)"),
        }
    }
    let sampler_row = serde_json::json!({ "molecules": batch, "atoms": 19, "cpu_ms": step_cpu, "gpu_ms": step_gpu, "cpu_over_gpu": step_gpu.map(|g| step_cpu / g) });
    let adapter = gpu.as_ref().ok().map(|(c, _)| c.summary.clone());
    if json {
        outln!("{}", serde_json::json!({ "adapter": adapter, "results": rows, "sampler_update": sampler_row }));
    } else if let Some(a) = adapter {
        outln!("adapter: {} ({}, {})", a.name, a.backend, a.device_type);
    }
    Ok(())
}
