//! GPU energy kernel vs the f64 CPU oracle, natively (lavapipe in CI).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use molplay::energies::System;
use molplay::gpu::energy::{cpu_energies_grads, EnergyKernel};
use molplay::gpu::shared_native_context;

#[test]
fn gpu_energies_and_gradients_match_the_cpu_oracle() {
    let Some(ctx) = shared_native_context() else { return };
    let kernel = EnergyKernel::new(&ctx.device);
    for (case, (sys, batch)) in common::parity_cases().into_iter().enumerate() {
        let xs = common::configurations(&sys, batch, case as u64 + 1);
        let cpu = cpu_energies_grads(&sys, &xs, true).unwrap();
        let gpu = pollster::block_on(kernel.evaluate(ctx, &sys, &xs, true)).unwrap();
        assert_eq!(gpu.cpu_rows, 0, "{} B={batch}: no configuration should need the CPU", sys.name);
        common::assert_close(&sys, &xs, &gpu.energies, &gpu.grads, &cpu.energies, &cpu.grads);
        // energies alone take the same path without the gradient writes
        let e_only = pollster::block_on(kernel.evaluate(ctx, &sys, &xs, false)).unwrap();
        assert!(e_only.grads.is_empty());
        common::assert_close(&sys, &xs, &e_only.energies, &[], &cpu.energies, &[]);
    }
}

#[test]
fn coincident_particles_stay_finite_through_the_cpu_repair() {
    let Some(ctx) = shared_native_context() else { return };
    let kernel = EnergyKernel::new(&ctx.device);
    let sys = System::lj13();
    let mut xs = common::configurations(&sys, 3, 99);
    // configuration 1: particles 0 and 1 on top of each other
    let d = sys.dim();
    for k in 0..3 {
        xs[d + 3 + k] = xs[d + k];
    }
    let gpu = pollster::block_on(kernel.evaluate(ctx, &sys, &xs, true)).unwrap();
    assert!(gpu.energies.iter().chain(&gpu.grads).all(|v| v.is_finite()));
    let cpu = cpu_energies_grads(&sys, &xs, true).unwrap();
    common::assert_close(&sys, &xs, &gpu.energies, &gpu.grads, &cpu.energies, &cpu.grads);
    assert!(gpu.energies[1] > 1e30, "coincident pair energy {}", gpu.energies[1]);
}

#[test]
fn bad_batches_are_rejected_before_reaching_the_gpu() {
    let Some(ctx) = shared_native_context() else { return };
    let kernel = EnergyKernel::new(&ctx.device);
    let sys = System::dw4();
    let run = |xs: &[f32]| pollster::block_on(kernel.evaluate(ctx, &sys, xs, true)).unwrap_err().to_string();
    assert!(run(&[1.0; 7]).contains("not a whole number of configurations"));
    assert!(run(&[f32::NAN; 8]).contains("must be finite"));
    assert!(run(&[]).contains("empty batch"));
}
