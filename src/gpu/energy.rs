//! Batched energies and gradients on the GPU (`shaders/pair_energy.wgsl`), with the f64 CPU
//! implementation beside it ([`cpu_energies_grads`]) that the tests compare against.
//!
//! Results come back as f64. The kernel works in f32: a configuration whose f32 result is not
//! finite (coincident particles push `(r_m/d)¹²` past f32's range) is recomputed on the CPU in
//! f64, so callers never see a NaN the f64 oracle would not give; `cpu_rows` counts them.

use super::{GpuContext, GpuError};
use crate::energies::{Family, InputError, System, MAX_PARTICLES};
use bytemuck::{Pod, Zeroable};
use thiserror::Error;

/// The pair terms every particle kernel shares, then this kernel's entry point.
pub const SHADER: &str = concat!(include_str!("../../shaders/pair_terms.wgsl"), include_str!("../../shaders/pair_energy.wgsl"));
const WORKGROUPS_PER_DIM: u32 = 65_535;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum EnergyError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Gpu(#[from] GpuError),
}

/// Energies (one per configuration) and flat gradients ∂E/∂x (empty unless asked for).
#[derive(Clone, Debug, PartialEq)]
pub struct EnergyOutput {
    pub energies: Vec<f64>,
    pub grads: Vec<f64>,
    /// Configurations recomputed on the CPU because the f32 result was not finite.
    pub cpu_rows: usize,
}

/// The CPU implementation of this kernel: f64 throughout.
pub fn cpu_energies_grads(sys: &System, xs: &[f32], want_grad: bool) -> Result<EnergyOutput, InputError> {
    sys.check_batch_f32(xs)?;
    let x64: Vec<f64> = xs.iter().map(|&v| v as f64).collect();
    let (energies, grads) = if want_grad { sys.energies_grads(&x64)? } else { (sys.energies(&x64)?, Vec::new()) };
    Ok(EnergyOutput { energies, grads, cpu_rows: 0 })
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable, Debug)]
pub(crate) struct Params {
    batch: u32,
    n: u32,
    d: u32,
    family: u32,
    p: [f32; 4],
    reg: f32,
    groups_x: u32,
    want_grad: u32,
    pad: u32,
}

pub(crate) fn params_for(sys: &System, batch: u32, groups_x: u32, want_grad: bool) -> Params {
    let (family, p, reg) = match sys.family {
        Family::DoubleWell { a, b, c, d0, reg } => (0, [a, b, c, d0], reg),
        Family::LennardJones { eps, rm, k, reg } => (1, [eps, rm, k, 0.0], reg),
    };
    Params { batch, n: sys.n as u32, d: sys.d as u32, family, p: p.map(|v| v as f32), reg: reg as f32, groups_x, want_grad: want_grad as u32, pad: 0 }
}

/// The compiled kernel.
#[derive(Clone)]
pub struct EnergyKernel {
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
}

/// GPU-resident buffers for a batch of configurations of one system. The positions buffer is
/// what the viewer draws from, so a pass that moves particles is seen without a read-back.
pub struct ParticleBatch {
    pub system: System,
    pub batch: usize,
    positions: wgpu::Buffer,
    energies: wgpu::Buffer,
    grads: wgpu::Buffer,
    params: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
}

impl ParticleBatch {
    pub fn positions(&self) -> &wgpu::Buffer {
        &self.positions
    }

    /// Replaces the positions (`xs.len()` must be `batch · n · d`, already checked).
    pub fn upload(&self, ctx: &GpuContext, xs: &[f32]) {
        ctx.queue.write_buffer(&self.positions, 0, bytemuck::cast_slice(xs));
    }
}

impl EnergyKernel {
    pub fn new(device: &wgpu::Device) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor { label: Some("pair_energy.wgsl"), source: wgpu::ShaderSource::Wgsl(SHADER.into()) });
        let storage = |binding, read_only| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer { ty: wgpu::BufferBindingType::Storage { read_only }, has_dynamic_offset: false, min_binding_size: None },
            count: None,
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("pair_energy"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer { ty: wgpu::BufferBindingType::Uniform, has_dynamic_offset: false, min_binding_size: None },
                    count: None,
                },
                storage(1, true),
                storage(2, false),
                storage(3, false),
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor { label: Some("pair_energy"), bind_group_layouts: &[Some(&layout)], immediate_size: 0 });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("pair_energy"),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        EnergyKernel { pipeline, layout }
    }

    /// Allocates the buffers for `batch` configurations of `sys`.
    pub fn new_batch(&self, ctx: &GpuContext, sys: &System, batch: usize) -> Result<ParticleBatch, EnergyError> {
        if batch == 0 {
            return Err(InputError::EmptyBatch { name: sys.name.clone(), per: sys.dim() }.into());
        }
        if sys.n > MAX_PARTICLES {
            return Err(InputError::BadParticleCount { name: sys.name.clone(), n: sys.n, max: MAX_PARTICLES }.into());
        }
        let bytes = (batch * sys.dim() * 4) as u64;
        let limit = ctx.device.limits().max_storage_buffer_binding_size;
        if bytes > limit {
            return Err(GpuError::TooLarge { bytes, limit }.into());
        }
        let storage = |label, size: u64| {
            ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        };
        let positions = storage("positions", bytes);
        let grads = storage("grads", bytes);
        let energies = storage("energies", (batch * 4) as u64);
        let params = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("pair_energy params"),
            size: std::mem::size_of::<Params>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let bind_group = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("pair_energy"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: params.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 1, resource: positions.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 2, resource: energies.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 3, resource: grads.as_entire_binding() },
            ],
        });
        Ok(ParticleBatch { system: sys.clone(), batch, positions, energies, grads, params, bind_group })
    }

    /// Records the energy pass for the batch's current positions.
    pub fn encode(&self, ctx: &GpuContext, encoder: &mut wgpu::CommandEncoder, batch: &ParticleBatch, want_grad: bool) {
        let b = batch.batch as u32;
        let groups_x = b.min(WORKGROUPS_PER_DIM);
        let groups_y = b.div_ceil(groups_x);
        let params = params_for(&batch.system, b, groups_x, want_grad);
        ctx.queue.write_buffer(&batch.params, 0, bytemuck::bytes_of(&params));
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("pair_energy"), timestamp_writes: None });
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &batch.bind_group, &[]);
        pass.dispatch_workgroups(groups_x, groups_y, 1);
    }

    /// Runs the pass on `batch`'s resident positions and reads energies (and gradients) back.
    pub async fn run(&self, ctx: &GpuContext, batch: &ParticleBatch, want_grad: bool) -> Result<EnergyOutput, GpuError> {
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        self.encode(ctx, &mut encoder, batch, want_grad);
        ctx.queue.submit([encoder.finish()]);
        let e_size = (batch.batch * 4) as u64;
        let g_size = (batch.batch * batch.system.dim() * 4) as u64;
        let mut srcs = vec![(&batch.energies, e_size)];
        if want_grad {
            srcs.push((&batch.grads, g_size));
        }
        let bytes = ctx.read_buffers(&srcs).await?;
        let to_f64 = |b: &[u8]| bytemuck::cast_slice::<u8, f32>(b).iter().map(|&v| v as f64).collect::<Vec<f64>>();
        let energies = to_f64(&bytes[0]);
        let grads = if want_grad { to_f64(&bytes[1]) } else { Vec::new() };
        Ok(EnergyOutput { energies, grads, cpu_rows: 0 })
    }

    /// Checks `xs`, uploads it into a fresh batch, runs the pass, and recomputes in f64 on the
    /// CPU any configuration whose f32 result is not finite.
    pub async fn evaluate(&self, ctx: &GpuContext, sys: &System, xs: &[f32], want_grad: bool) -> Result<EnergyOutput, EnergyError> {
        let batch_len = sys.check_batch_f32(xs)?;
        let batch = self.new_batch(ctx, sys, batch_len)?;
        batch.upload(ctx, xs);
        let mut out = self.run(ctx, &batch, want_grad).await?;
        repair_non_finite(sys, xs, &mut out);
        Ok(out)
    }
}

/// Mean milliseconds per call of energy + gradients on one batch, each path warmed up once:
/// the GPU end to end ([`EnergyKernel::evaluate`]: upload, pass, read-back, as callers see
/// it), the GPU resident (positions already on the GPU: pass and read-back only), and the CPU
/// f64 path. `clock` gives milliseconds (`Instant` natively, `performance.now()` in a page).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PathTimes {
    pub gpu_ms: Option<f64>,
    pub gpu_resident_ms: Option<f64>,
    pub cpu_ms: f64,
}

pub async fn time_paths(gpu: Option<(&GpuContext, &EnergyKernel)>, sys: &System, xs: &[f32], reps: usize, clock: impl Fn() -> f64) -> Result<PathTimes, EnergyError> {
    let reps = reps.max(1);
    let (mut gpu_ms, mut gpu_resident_ms) = (None, None);
    if let Some((ctx, kernel)) = gpu {
        kernel.evaluate(ctx, sys, xs, true).await?;
        let t0 = clock();
        for _ in 0..reps {
            kernel.evaluate(ctx, sys, xs, true).await?;
        }
        gpu_ms = Some((clock() - t0) / reps as f64);
        let resident = kernel.new_batch(ctx, sys, xs.len() / sys.dim())?;
        resident.upload(ctx, xs);
        kernel.run(ctx, &resident, true).await?;
        let t0 = clock();
        for _ in 0..reps {
            kernel.run(ctx, &resident, true).await?;
        }
        gpu_resident_ms = Some((clock() - t0) / reps as f64);
    }
    cpu_energies_grads(sys, xs, true)?;
    let t0 = clock();
    for _ in 0..reps {
        cpu_energies_grads(sys, xs, true)?;
    }
    Ok(PathTimes { gpu_ms, gpu_resident_ms, cpu_ms: (clock() - t0) / reps as f64 })
}

/// Recomputes on the CPU (f64) every configuration whose GPU energy or gradient is not finite.
pub fn repair_non_finite(sys: &System, xs: &[f32], out: &mut EnergyOutput) {
    let dim = sys.dim();
    let want_grad = !out.grads.is_empty();
    for b in 0..out.energies.len() {
        let bad = !out.energies[b].is_finite() || (want_grad && out.grads[b * dim..(b + 1) * dim].iter().any(|v| !v.is_finite()));
        if bad {
            let x: Vec<f64> = xs[b * dim..(b + 1) * dim].iter().map(|&v| v as f64).collect();
            if want_grad {
                out.energies[b] = sys.energy_grad(&x, &mut out.grads[b * dim..(b + 1) * dim]);
            } else {
                out.energies[b] = sys.energy(&x);
            }
            out.cpu_rows += 1;
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::gpu::shared_native_context;

    #[test]
    fn zero_batch_is_an_error_not_a_panic() {
        let Some(ctx) = shared_native_context() else { return };
        let kernel = EnergyKernel::new(&ctx.device);
        let err = pollster::block_on(kernel.evaluate(ctx, &System::lj13(), &[], true)).unwrap_err();
        assert!(matches!(err, EnergyError::Input(InputError::EmptyBatch { .. })), "{err}");
    }
}
