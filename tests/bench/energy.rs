//! Criterion benchmark: energy + gradients of B = 1024 configurations, GPU path (end to end:
//! upload, pass, read-back) vs CPU f64 path, LJ-13 and LJ-55. `cargo bench --bench energy`.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use molplay::energies::{perturbed_batch, System};
use molplay::gpu::energy::{cpu_energies_grads, EnergyKernel};
use molplay::gpu::GpuContext;

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
        group.bench_with_input(BenchmarkId::new("cpu_f64", &sys.name), &xs, |b, xs| {
            b.iter(|| cpu_energies_grads(&sys, xs, true).unwrap())
        });
        if let Some((ctx, kernel)) = &gpu {
            group.bench_with_input(BenchmarkId::new("gpu", &sys.name), &xs, |b, xs| {
                b.iter(|| pollster::block_on(kernel.evaluate(ctx, &sys, xs, true)).unwrap())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, energy);
criterion_main!(benches);
