//! The forward (noising) trajectory of a batch of molecules as one compute pass
//! (`shaders/forward.wgsl`), every frame kept on the GPU for the viewer to draw, and its f64 CPU
//! twin [`cpu_trajectory`] drawing the same Philox numbers.

use super::{read_buffers, GpuContext, GpuError};
use crate::rng::{philox_key, philox_normals};
use crate::schedules::Schedule;
use bytemuck::{Pod, Zeroable};

pub const SHADER: &str = concat!(include_str!("../../shaders/philox.wgsl"), include_str!("../../shaders/forward.wgsl"));
/// Philox stream tag of the forward noise.
pub const STREAM_FORWARD: u32 = 4;
/// Most atoms per molecule (16 per invocation × 64).
pub const MAX_ATOMS_PER_MOLECULE: usize = 1024;

/// Per step t = 1..T: (a_t, s_t) with z_t = a_t z_{t−1} + s_t Pε (index 0 unused).
pub fn markov_coefficients(schedule: &Schedule) -> Vec<[f64; 2]> {
    let mut out = vec![[1.0, 0.0]];
    for t in 1..=schedule.steps() {
        let (t, s) = (t as f64, (t - 1) as f64);
        let a = (schedule.alpha2(t) / schedule.alpha2(s)).sqrt();
        let var = (schedule.sigma2(t) - a * a * schedule.sigma2(s)).max(0.0);
        out.push([a, var.sqrt()]);
    }
    out
}

/// A batch of molecules laid out for the pass: CoM-free positions (flat atoms × 3), the atom
/// range of each molecule, and a display offset per molecule (where the viewer puts it).
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub z0: Vec<f64>,
    pub layout: Vec<(usize, usize)>,
    pub shift: Vec<[f64; 3]>,
}

impl Batch {
    pub fn atoms(&self) -> usize {
        self.z0.len() / 3
    }

    /// Checks the layout, sizes and values; a message for the page or CLI otherwise.
    pub fn check(&self) -> Result<(), String> {
        if self.layout.is_empty() {
            return Err("no molecules".into());
        }
        let mut next = 0;
        for (m, &(first, n)) in self.layout.iter().enumerate() {
            if first != next || n == 0 || n > MAX_ATOMS_PER_MOLECULE {
                return Err(format!("molecule {m}: bad atom range ({first}, {n}); at most {MAX_ATOMS_PER_MOLECULE} atoms"));
            }
            next += n;
        }
        if next * 3 != self.z0.len() || self.shift.len() != self.layout.len() {
            return Err("positions and layout disagree".into());
        }
        if self.z0.iter().chain(self.shift.iter().flatten()).any(|v| !v.is_finite()) {
            return Err("positions must be finite".into());
        }
        Ok(())
    }
}

/// The f64 CPU twin: frames (T + 1) × atoms × 3, display offsets added.
pub fn cpu_trajectory(batch: &Batch, schedule: &Schedule, seed: u64) -> Vec<f64> {
    let key = philox_key(seed);
    let ab = markov_coefficients(schedule);
    let atoms = batch.atoms();
    let mut frames = vec![0.0; (schedule.steps() + 1) * atoms * 3];
    let mut z = batch.z0.clone();
    let write = |frames: &mut [f64], t: usize, z: &[f64]| {
        for (m, &(first, n)) in batch.layout.iter().enumerate() {
            for i in first..first + n {
                for k in 0..3 {
                    frames[t * atoms * 3 + i * 3 + k] = z[i * 3 + k] + batch.shift[m][k];
                }
            }
        }
    };
    write(&mut frames, 0, &z);
    for (t, &[a, s]) in ab.iter().enumerate().skip(1) {
        for (m, &(first, n)) in batch.layout.iter().enumerate() {
            let eps: Vec<f64> = (0..n * 3).map(|c| philox_normals([(c / 4) as u32, m as u32, t as u32, STREAM_FORWARD], key)[c % 4]).collect();
            let mean: Vec<f64> = (0..3).map(|k| (0..n).map(|i| eps[i * 3 + k]).sum::<f64>() / n as f64).collect();
            for i in 0..n {
                for k in 0..3 {
                    let c = (first + i) * 3 + k;
                    z[c] = a * z[c] + s * (eps[i * 3 + k] - mean[k]);
                }
            }
        }
        write(&mut frames, t, &z);
    }
    frames
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    molecules: u32,
    steps: u32,
    total_atoms: u32,
    pad0: u32,
    key: [u32; 2],
    pad1: [u32; 2],
}

/// The compiled pass.
pub struct ForwardKernel {
    pipeline: wgpu::ComputePipeline,
}

/// A computed trajectory on the GPU.
pub struct Trajectory {
    pub frames: wgpu::Buffer,
    pub steps: usize,
    pub atoms: usize,
}

impl ForwardKernel {
    pub fn new(device: &wgpu::Device) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor { label: Some("forward.wgsl"), source: wgpu::ShaderSource::Wgsl(SHADER.into()) });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("forward"),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        ForwardKernel { pipeline }
    }

    /// Records and submits the pass; the frames buffer (also `COPY_SRC`) holds (T + 1) frames.
    pub fn run(&self, ctx: &GpuContext, batch: &Batch, schedule: &Schedule, seed: u64) -> Result<Trajectory, String> {
        batch.check()?;
        let device = &ctx.device;
        let atoms = batch.atoms();
        let steps = schedule.steps();
        let bytes = ((steps + 1) * atoms * 3 * 4) as u64;
        let limit = device.limits().max_storage_buffer_binding_size as u64;
        if bytes > limit {
            return Err(GpuError::TooLarge { bytes, limit }.to_string());
        }
        let init = |label: &str, contents: &[u8], usage: wgpu::BufferUsages| {
            let buf = device.create_buffer(&wgpu::BufferDescriptor { label: Some(label), size: contents.len().max(16) as u64, usage: usage | wgpu::BufferUsages::COPY_DST, mapped_at_creation: false });
            ctx.queue.write_buffer(&buf, 0, contents);
            buf
        };
        let f32s = |v: &mut dyn Iterator<Item = f64>| v.map(|a| a as f32).collect::<Vec<f32>>();
        let params = Params { molecules: batch.layout.len() as u32, steps: steps as u32, total_atoms: atoms as u32, pad0: 0, key: philox_key(seed), pad1: [0; 2] };
        let storage = wgpu::BufferUsages::STORAGE;
        let params = init("forward params", bytemuck::bytes_of(&params), wgpu::BufferUsages::UNIFORM);
        let ab = init("forward steps", bytemuck::cast_slice(&f32s(&mut markov_coefficients(schedule).into_iter().flatten())), storage);
        let layout: Vec<u32> = batch.layout.iter().flat_map(|&(f, n)| [f as u32, n as u32]).collect();
        let layout = init("forward layout", bytemuck::cast_slice(&layout), storage);
        let z0 = init("forward z0", bytemuck::cast_slice(&f32s(&mut batch.z0.iter().copied())), storage);
        let shift = init("forward shift", bytemuck::cast_slice(&f32s(&mut batch.shift.iter().flat_map(|s| [s[0], s[1], s[2], 0.0]))), storage);
        let frames = device.create_buffer(&wgpu::BufferDescriptor { label: Some("forward frames"), size: bytes, usage: storage | wgpu::BufferUsages::COPY_SRC, mapped_at_creation: false });
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("forward"),
            layout: &self.pipeline.get_bind_group_layout(0),
            entries: &[&params, &ab, &layout, &z0, &shift, &frames]
                .iter()
                .enumerate()
                .map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() })
                .collect::<Vec<_>>(),
        });
        let mut encoder = device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(batch.layout.len() as u32, 1, 1);
        }
        ctx.queue.submit([encoder.finish()]);
        Ok(Trajectory { frames, steps, atoms })
    }
}

impl Trajectory {
    /// Every frame back on the host (tests, export).
    pub async fn read(&self, ctx: &GpuContext) -> Result<Vec<f64>, GpuError> {
        let size = ((self.steps + 1) * self.atoms * 3 * 4) as u64;
        let raw = read_buffers(&ctx.device, &ctx.queue, &[(&self.frames, size)]).await?;
        Ok(bytemuck::cast_slice::<u8, f32>(&raw[0]).iter().map(|&v| v as f64).collect())
    }
}
