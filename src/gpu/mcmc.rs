//! Parallel-tempering MALA as GPU compute passes (`shaders/mala.wgsl`, after the shared pair
//! terms and Philox). The algorithm is documented in [`crate::mcmc`]; [`crate::mcmc::CpuReplicas`]
//! is this engine's f64 twin, drawing the same random numbers, and the tests compare them.
//! All state stays on the GPU between sweeps; only counters and the base-level samples are read
//! back.

use super::energy::{params_for, Params};
use super::{read_buffers, GpuContext, GpuError};
use crate::energies::{System, MAX_PARTICLES};
use crate::mcmc::{reset_limit, Counts, InitialState, McmcError, PtConfig, MAX_LEVELS};
use crate::rng::philox_key;
use bytemuck::{Pod, Zeroable};

pub const SHADER: &str = concat!(include_str!("../../shaders/pair_terms.wgsl"), include_str!("../../shaders/philox.wgsl"), include_str!("../../shaders/mala.wgsl"));

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct MalaParams {
    replicas: u32,
    chains: u32,
    levels: u32,
    dim: u32,
    key: [u32; 2],
    groups_x: u32,
    pad0: u32,
    limit: f32,
    start_e: f32,
    pad1: [u32; 2],
    ladder: [[f32; 4]; MAX_LEVELS],
}

/// Why the GPU engine could not be set up. Messages are shown to users as they are.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ReplicasError {
    /// The ladder or its size ([`PtConfig::validate`]).
    #[error(transparent)]
    Config(#[from] McmcError),
    #[error("the GPU sampler handles at most {MAX_PARTICLES} particles, got {n}")]
    TooManyParticles { n: usize },
    /// The replicas do not fit this GPU ([`GpuError::TooLarge`]).
    #[error(transparent)]
    Gpu(#[from] GpuError),
}

/// The GPU engine: same interface as the CPU one, with read-backs async.
pub struct GpuReplicas {
    device: wgpu::Device,
    queue: wgpu::Queue,
    mala: wgpu::ComputePipeline,
    swap: wgpu::ComputePipeline,
    advance: wgpu::ComputePipeline,
    collect: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    mp_buf: wgpu::Buffer,
    mp: MalaParams,
    x: wgpu::Buffer,
    e: wgpu::Buffer,
    perm: wgpu::Buffer,
    counters: wgpu::Buffer,
    samples: wgpu::Buffer,
    dim: usize,
    chains: usize,
    levels: usize,
    replicas: usize,
    groups: (u32, u32),
}

impl GpuReplicas {
    pub fn new(ctx: &GpuContext, sys: &System, cfg: &PtConfig, steps: &[f64]) -> Result<Self, ReplicasError> {
        cfg.validate(sys)?;
        if sys.n > MAX_PARTICLES {
            return Err(ReplicasError::TooManyParticles { n: sys.n });
        }
        let device = &ctx.device;
        let (dim, replicas, levels, chains) = (sys.dim(), cfg.replicas(), cfg.levels(), cfg.chains);
        let bytes = (replicas * dim * 4) as u64;
        let limit = device.limits().max_storage_buffer_binding_size;
        if bytes > limit {
            return Err(GpuError::TooLarge { bytes, limit }.into());
        }
        let init = InitialState::new(sys, cfg);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor { label: Some("mala.wgsl"), source: wgpu::ShaderSource::Wgsl(SHADER.into()) });
        let entry = |binding, ty| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer { ty, has_dynamic_offset: false, min_binding_size: None },
            count: None,
        };
        let rw = wgpu::BufferBindingType::Storage { read_only: false };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("mala"),
            entries: &[
                entry(0, wgpu::BufferBindingType::Uniform),
                entry(1, wgpu::BufferBindingType::Uniform),
                entry(2, rw),
                entry(3, rw),
                entry(4, rw),
                entry(5, rw),
                entry(6, rw),
                entry(7, wgpu::BufferBindingType::Storage { read_only: true }),
                entry(8, rw),
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor { label: Some("mala"), bind_group_layouts: &[Some(&layout)], immediate_size: 0 });
        let pipeline = |name: &str| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(name),
                layout: Some(&pipeline_layout),
                module: &module,
                entry_point: Some(name),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        let storage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
        let f32s = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
        let groups_x = (replicas as u32).min(65_535);
        let groups = (groups_x, (replicas as u32).div_ceil(groups_x));
        let energy_params: Params = params_for(sys, replicas as u32, groups_x, true);
        let params = ctx.buffer_init("mala energy params", bytemuck::bytes_of(&energy_params), wgpu::BufferUsages::UNIFORM);
        let mut mp = MalaParams {
            replicas: replicas as u32,
            chains: chains as u32,
            levels: levels as u32,
            dim: dim as u32,
            key: philox_key(cfg.seed),
            groups_x,
            pad0: 0,
            limit: reset_limit(sys) as f32,
            start_e: init.start_e as f32,
            pad1: [0; 2],
            ladder: [[0.0; 4]; MAX_LEVELS],
        };
        for (k, t) in cfg.temperatures.iter().enumerate() {
            mp.ladder[k] = [*t as f32, steps[k] as f32, 0.0, 0.0];
        }
        let mp_buf = ctx.buffer_init("mala params", bytemuck::bytes_of(&mp), wgpu::BufferUsages::UNIFORM);
        let x = ctx.buffer_init("mala positions", bytemuck::cast_slice(&f32s(&init.x)), storage);
        let g = ctx.buffer_init("mala gradients", bytemuck::cast_slice(&f32s(&init.g)), storage);
        let e = ctx.buffer_init("mala energies", bytemuck::cast_slice(&f32s(&init.e)), storage);
        let perm: Vec<u32> = (0..replicas as u32).map(|s| s / chains as u32).chain(0..replicas as u32).collect();
        let perm = ctx.buffer_init("mala permutation", bytemuck::cast_slice(&perm), storage);
        let counters = ctx.buffer_init("mala counters", bytemuck::cast_slice(&vec![0u32; 2 + 2 * levels]), storage);
        let start: Vec<f32> = f32s(&init.start).into_iter().chain(f32s(&init.start_g)).collect();
        let start = ctx.buffer_init("mala start", bytemuck::cast_slice(&start), wgpu::BufferUsages::STORAGE);
        let samples = ctx.buffer_init("mala samples", &vec![0u8; chains * (dim + 1) * 4], storage);
        let bind_group = ctx.bind_buffers("mala", &layout, &[&params, &mp_buf, &x, &g, &e, &perm, &counters, &start, &samples]);
        Ok(GpuReplicas {
            device: ctx.device.clone(),
            queue: ctx.queue.clone(),
            mala: pipeline("mala"),
            swap: pipeline("swap"),
            advance: pipeline("advance"),
            collect: pipeline("collect"),
            bind_group,
            mp_buf,
            mp,
            x,
            e,
            perm,
            counters,
            samples,
            dim,
            chains,
            levels,
            replicas,
            groups,
        })
    }

    /// The positions buffer (slot-major), for a viewer that wants to draw the replicas.
    pub fn positions(&self) -> &wgpu::Buffer {
        &self.x
    }

    /// The energies buffer (one f32 per slot).
    pub fn energies_buffer(&self) -> &wgpu::Buffer {
        &self.e
    }

    /// Records and submits `count` sweeps; returns without waiting for them.
    pub fn sweeps(&mut self, count: usize) {
        if count == 0 {
            return;
        }
        let mut encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("mala sweeps") });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("mala sweeps"), timestamp_writes: None });
            pass.set_bind_group(0, &self.bind_group, &[]);
            for _ in 0..count {
                pass.set_pipeline(&self.mala);
                pass.dispatch_workgroups(self.groups.0, self.groups.1, 1);
                pass.set_pipeline(&self.swap);
                pass.dispatch_workgroups((self.chains as u32).div_ceil(64), 1, 1);
                pass.set_pipeline(&self.advance);
                pass.dispatch_workgroups(1, 1, 1);
            }
        }
        self.queue.submit([encoder.finish()]);
    }

    pub fn set_steps(&mut self, steps: &[f64]) {
        for (k, h) in steps.iter().enumerate() {
            self.mp.ladder[k][1] = *h as f32;
        }
        self.queue.write_buffer(&self.mp_buf, 0, bytemuck::bytes_of(&self.mp));
    }

    pub async fn counts(&self) -> Result<Counts, GpuError> {
        let size = ((2 + 2 * self.levels) * 4) as u64;
        let raw = read_buffers(&self.device, &self.queue, &[(&self.counters, size)]).await?;
        let c: &[u32] = bytemuck::cast_slice(&raw[0]);
        let l = self.levels;
        Ok(Counts { accepted: c[2..2 + l].iter().map(|&v| v as u64).collect(), swaps: c[2 + l..2 + l + l.saturating_sub(1)].iter().map(|&v| v as u64).collect(), resets: c[1] as u64 })
    }

    /// The chains' configurations at the base temperature (chain-major, flat) and energies.
    pub async fn base(&self) -> Result<(Vec<f64>, Vec<f64>), GpuError> {
        let mut encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("mala collect") });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("mala collect"), timestamp_writes: None });
            pass.set_bind_group(0, &self.bind_group, &[]);
            pass.set_pipeline(&self.collect);
            pass.dispatch_workgroups(self.chains as u32, 1, 1);
        }
        self.queue.submit([encoder.finish()]);
        let size = (self.chains * (self.dim + 1) * 4) as u64;
        let raw = read_buffers(&self.device, &self.queue, &[(&self.samples, size)]).await?;
        let v: &[f32] = bytemuck::cast_slice(&raw[0]);
        let mut xs = Vec::with_capacity(self.chains * self.dim);
        let mut es = Vec::with_capacity(self.chains);
        for row in v.chunks(self.dim + 1) {
            xs.extend(row[..self.dim].iter().map(|&a| a as f64));
            es.push(row[self.dim] as f64);
        }
        Ok((xs, es))
    }

    /// Every slot's positions, energies and level (for the parity tests).
    pub async fn state(&self) -> Result<(Vec<f64>, Vec<f64>, Vec<u32>), GpuError> {
        let r = self.replicas;
        let raw = read_buffers(&self.device, &self.queue, &[(&self.x, (r * self.dim * 4) as u64), (&self.e, (r * 4) as u64), (&self.perm, (r * 4) as u64)]).await?;
        let f = |b: &[u8]| bytemuck::cast_slice::<u8, f32>(b).iter().map(|&v| v as f64).collect::<Vec<f64>>();
        Ok((f(&raw[0]), f(&raw[1]), bytemuck::cast_slice::<u8, u32>(&raw[2]).to_vec()))
    }
}
