//! The parallel-tempering MALA pass (shaders/mala.wgsl) vs its f64 CPU twin, natively
//! (lavapipe in CI), and the Philox generator in WGSL vs Rust.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use molplay::gpu::mcmc::GpuReplicas;
use molplay::gpu::{read_buffers, shared_native_context};
use molplay::reference::{Phase, ReferenceRun};
use molplay::rng::{philox4x32, philox_normals};

#[test]
fn wgsl_philox_matches_rust() {
    let Some(ctx) = shared_native_context() else { return };
    let src = format!(
        "{}\n@group(0) @binding(0) var<storage, read_write> out: array<u32>;\n\
         @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3<u32>) {{\n\
           let i = id.x; let r = philox(vec4<u32>(i, i * 7u + 3u, 0xdeadbeefu, i ^ 0xffffffffu), vec2<u32>(0x12345678u, i));\n\
           let z = philox_normals(vec4<u32>(i, 1u, 2u, 0u), vec2<u32>(5u, 6u));\n\
           for (var k = 0u; k < 4u; k++) {{ out[i * 8u + k] = r[k]; out[i * 8u + 4u + k] = bitcast<u32>(z[k]); }}\n}}",
        include_str!("../shaders/philox.wgsl")
    );
    let device = &ctx.device;
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor { label: None, source: wgpu::ShaderSource::Wgsl(src.into()) });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: None,
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let n = 256u32;
    let out = device.create_buffer(&wgpu::BufferDescriptor { label: None, size: (n * 32) as u64, usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC, mapped_at_creation: false });
    let bg = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[wgpu::BindGroupEntry { binding: 0, resource: out.as_entire_binding() }],
    });
    let mut enc = device.create_command_encoder(&Default::default());
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bg, &[]);
        pass.dispatch_workgroups(n / 64, 1, 1);
    }
    ctx.queue.submit([enc.finish()]);
    let raw = pollster::block_on(read_buffers(device, &ctx.queue, &[(&out, (n * 32) as u64)])).unwrap();
    let got: &[u32] = bytemuck::cast_slice(&raw[0]);
    for i in 0..n {
        let want = philox4x32([i, i.wrapping_mul(7).wrapping_add(3), 0xdeadbeef, i ^ 0xffffffff], [0x12345678, i]);
        assert_eq!(&got[(i * 8) as usize..(i * 8 + 4) as usize], &want, "block {i}");
        let z = philox_normals([i, 1, 2, 0], [5, 6]);
        for k in 0..4 {
            let g = f32::from_bits(got[(i * 8 + 4 + k) as usize]) as f64;
            assert!((g - z[k as usize]).abs() < 1e-4 * z[k as usize].abs().max(1.0), "normal {i}.{k}: {g} vs {}", z[k as usize]);
        }
    }
}

#[test]
fn mala_pass_matches_its_cpu_twin_sweep_by_sweep() {
    let Some(ctx) = shared_native_context() else { return };
    pollster::block_on(common::check_mcmc_parity(ctx, 4));
}

#[test]
fn a_diverged_slot_is_reset_on_the_gpu_too() {
    let Some(ctx) = shared_native_context() else { return };
    let sys = molplay::energies::System::lj13();
    let cfg = molplay::mcmc::PtConfig::geometric(&sys, 2, 2.0, 4, 5);
    let mut gpu = GpuReplicas::new(ctx, &sys, &cfg, &[1e-3, 1e-3]).unwrap();
    // poison slot 3's energy: the next sweep must reset it to the start state
    ctx.queue.write_buffer(gpu.energies_buffer(), 3 * 4, bytemuck::bytes_of(&f32::NAN));
    gpu.sweeps(2);
    let (x, e, _) = pollster::block_on(gpu.state()).unwrap();
    assert_eq!(pollster::block_on(gpu.counts()).unwrap().resets, 1);
    assert!(x.iter().chain(&e).all(|v| v.is_finite()));
}

#[test]
fn gpu_run_is_reproducible() {
    let Some(ctx) = shared_native_context() else { return };
    let sys = molplay::energies::System::dw4();
    let mut cfg = molplay::mcmc::PtConfig::geometric(&sys, 2, 2.0, 8, 9);
    cfg.burn_in_sweeps = 60;
    cfg.thin = 10;
    let run = || {
        let mut run = ReferenceRun::gpu(ctx, &sys, cfg.clone(), 16).unwrap();
        while run.phase() != Phase::Done {
            pollster::block_on(run.advance(25)).unwrap();
        }
        run.samples().0.to_vec()
    };
    let (a, b) = (run(), run());
    assert_eq!(a.len(), 16 * 8);
    assert_eq!(a, b);
}
