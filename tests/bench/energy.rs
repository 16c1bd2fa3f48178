//! Criterion benchmarks, GPU path vs CPU path: energy + gradients of B = 1024 configurations
//! (end to end: upload, pass, read-back), and parallel-tempering MALA sweeps (10 sweeps of
//! levels × 100 chains, then one counter read-back), LJ-13 and LJ-55. `cargo bench --bench energy`.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use molplay::energies::{perturbed_batch, System};
use molplay::gpu::energy::{cpu_energies_grads, EnergyKernel};
use molplay::gpu::mcmc::GpuReplicas;
use molplay::gpu::GpuContext;
use molplay::mcmc::{CpuReplicas, PtConfig};
use molplay::reference::ReferenceRun;

fn energy(c: &mut Criterion) {
    let gpu = GpuContext::new_blocking().ok().map(|ctx| {
        let kernel = EnergyKernel::new(&ctx.device);
        (ctx, kernel)
    });
    let mut group = c.benchmark_group("energy_grad_b1024");
    group.sample_size(10);
    for sys in [System::lj13(), System::lj55()] {
        let xs = perturbed_batch(&sys, 1024, 0.1, 1);
        group.throughput(Throughput::Elements(1024));
        group.bench_with_input(BenchmarkId::new("cpu_f64", &sys.name), &xs, |b, xs| b.iter(|| cpu_energies_grads(&sys, xs, true).unwrap()));
        if let Some((ctx, kernel)) = &gpu {
            group.bench_with_input(BenchmarkId::new("gpu", &sys.name), &xs, |b, xs| b.iter(|| pollster::block_on(kernel.evaluate(ctx, &sys, xs, true)).unwrap()));
        }
    }
    group.finish();
}

fn mcmc(c: &mut Criterion) {
    let gpu = GpuContext::new_blocking().ok();
    let mut group = c.benchmark_group("mcmc_10_sweeps");
    group.sample_size(10);
    for sys in [System::lj13(), System::lj55()] {
        let cfg = PtConfig::geometric(&sys, PtConfig::default_levels(&sys), 2.0, 100, 1);
        let steps = ReferenceRun::initial_steps(&sys, cfg.levels());
        group.throughput(Throughput::Elements(10 * cfg.replicas() as u64));
        let mut cpu = CpuReplicas::new(&sys, &cfg, &steps).unwrap();
        group.bench_function(BenchmarkId::new("cpu_f64", &sys.name), |b| b.iter(|| cpu.sweeps(10)));
        if let Some(ctx) = &gpu {
            let mut g = GpuReplicas::new(ctx, &sys, &cfg, &steps).unwrap();
            group.bench_function(BenchmarkId::new("gpu", &sys.name), |b| {
                b.iter(|| {
                    g.sweeps(10);
                    pollster::block_on(g.counts()).unwrap()
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, energy, mcmc);
criterion_main!(benches);
