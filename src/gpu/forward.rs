//! The forward (noising) trajectory of a batch of molecules as one compute pass
//! (`shaders/forward.wgsl`) for any modality block (positions, one-hot types, charges), every
//! frame kept on the GPU (the viewer draws position frames from it), and its f64 CPU twin
//! [`cpu_trajectory`] drawing the same Philox numbers.

use super::{compute_pipeline, read_buffers, GpuContext, GpuError};
use crate::rng::{philox_key, philox_normals};
use crate::schedules::Schedule;
use bytemuck::{Pod, Zeroable};

pub const SHADER: &str = concat!(include_str!("../../shaders/philox.wgsl"), include_str!("../../shaders/forward.wgsl"));
/// Philox stream tag of the forward noise.
pub const STREAM_FORWARD: u32 = 4;
/// Most atoms per molecule (16 per invocation × 64).
pub const MAX_ATOMS_PER_MOLECULE: usize = 1024;
/// Most feature columns of a block (one-hot vocabularies up to 16 elements, as GEOM's).
pub const MAX_COLS: usize = 16;

/// Why a batch or its trajectory was refused. Messages are shown to users as they are.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ForwardError {
    #[error("no molecules")]
    NoMolecules,
    #[error("a block needs 1 to {MAX_COLS} columns and one offset per column")]
    Columns,
    #[error("molecule {molecule}: bad atom range ({first}, {atoms}); at most {MAX_ATOMS_PER_MOLECULE} atoms")]
    AtomRange { molecule: usize, first: usize, atoms: usize },
    #[error("positions and layout disagree")]
    LayoutMismatch,
    #[error("positions must be finite")]
    NonFinite,
    #[error("{atoms} atoms over {steps} steps make {values} trajectory values, more than the {MAX_FRAME_VALUES} one trajectory may hold: show fewer or smaller molecules")]
    TooManyValues { atoms: usize, steps: usize, values: u64 },
    /// The pass does not fit this GPU ([`GpuError::TooLarge`]).
    #[error(transparent)]
    Gpu(#[from] GpuError),
}

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

/// A batch of molecules laid out for the pass: one modality block per molecule with zero-mean
/// columns (flat atoms × `cols`: positions 3, one-hot types K, charges 1), the atom range of each
/// molecule, and a per-molecule offset added to every frame (where the viewer puts a molecule;
/// zeros for non-position blocks).
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub cols: usize,
    pub z0: Vec<f64>,
    pub layout: Vec<(usize, usize)>,
    pub shift: Vec<Vec<f64>>,
}

impl Batch {
    pub fn positions() -> Self {
        Batch { cols: 3, z0: Vec::new(), layout: Vec::new(), shift: Vec::new() }
    }

    /// Appends a molecule's block (rows × `cols`) with its offset.
    pub fn push(&mut self, block: &[f64], shift: &[f64]) {
        self.layout.push((self.atoms(), block.len() / self.cols));
        self.z0.extend_from_slice(block);
        self.shift.push(shift.to_vec());
    }

    pub fn atoms(&self) -> usize {
        self.z0.len() / self.cols.max(1)
    }

    /// Checks the layout, sizes and values; what is wrong for the page or CLI otherwise.
    pub fn check(&self) -> Result<(), ForwardError> {
        if self.layout.is_empty() {
            return Err(ForwardError::NoMolecules);
        }
        if !(1..=MAX_COLS).contains(&self.cols) || !self.z0.len().is_multiple_of(self.cols) || self.shift.iter().any(|s| s.len() != self.cols) {
            return Err(ForwardError::Columns);
        }
        let mut next = 0;
        for (m, &(first, n)) in self.layout.iter().enumerate() {
            if first != next || n == 0 || n > MAX_ATOMS_PER_MOLECULE {
                return Err(ForwardError::AtomRange { molecule: m, first, atoms: n });
            }
            next += n;
        }
        if next * self.cols != self.z0.len() || self.shift.len() != self.layout.len() {
            return Err(ForwardError::LayoutMismatch);
        }
        if self.z0.iter().chain(self.shift.iter().flatten()).any(|v| !v.is_finite()) {
            return Err(ForwardError::NonFinite);
        }
        Ok(())
    }
}

/// Most values one trajectory may hold, (T + 1) × atoms × cols: what WebGPU's default storage
/// binding (128 MiB of f32) holds, so the CPU twin refuses what the pass refuses instead of
/// allocating gigabytes for a dropped file with a huge molecule.
pub const MAX_FRAME_VALUES: u64 = 1 << 25;

/// Checks a batch and the size of its trajectory under `schedule` before anything is allocated.
fn check_size(batch: &Batch, schedule: &Schedule) -> Result<(), ForwardError> {
    batch.check()?;
    let values = (schedule.steps() as u64 + 1).saturating_mul(batch.atoms() as u64).saturating_mul(batch.cols as u64);
    if values > MAX_FRAME_VALUES {
        return Err(ForwardError::TooManyValues { atoms: batch.atoms(), steps: schedule.steps(), values });
    }
    Ok(())
}

/// The f64 CPU twin: frames (T + 1) × atoms × cols, offsets added. Refuses what the pass refuses.
pub fn cpu_trajectory(batch: &Batch, schedule: &Schedule, seed: u64) -> Result<Vec<f64>, ForwardError> {
    check_size(batch, schedule)?;
    let key = philox_key(seed);
    let ab = markov_coefficients(schedule);
    let (atoms, cols) = (batch.atoms(), batch.cols);
    let mut frames = vec![0.0; (schedule.steps() + 1) * atoms * cols];
    let mut z = batch.z0.clone();
    let write = |frames: &mut [f64], t: usize, z: &[f64]| {
        for (m, &(first, n)) in batch.layout.iter().enumerate() {
            for i in first..first + n {
                for k in 0..cols {
                    frames[t * atoms * cols + i * cols + k] = z[i * cols + k] + batch.shift[m][k];
                }
            }
        }
    };
    write(&mut frames, 0, &z);
    for (t, &[a, s]) in ab.iter().enumerate().skip(1) {
        for (m, &(first, n)) in batch.layout.iter().enumerate() {
            let eps: Vec<f64> = (0..n * cols).map(|c| philox_normals([(c / 4) as u32, m as u32, t as u32, STREAM_FORWARD], key)[c % 4]).collect();
            let mean: Vec<f64> = (0..cols).map(|k| (0..n).map(|i| eps[i * cols + k]).sum::<f64>() / n as f64).collect();
            for i in 0..n {
                for k in 0..cols {
                    let c = (first + i) * cols + k;
                    z[c] = a * z[c] + s * (eps[i * cols + k] - mean[k]);
                }
            }
        }
        write(&mut frames, t, &z);
    }
    Ok(frames)
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    molecules: u32,
    steps: u32,
    total_atoms: u32,
    cols: u32,
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
    pub cols: usize,
}

impl ForwardKernel {
    pub fn new(device: &wgpu::Device) -> Self {
        let pipeline = compute_pipeline(device, "forward.wgsl", SHADER);
        ForwardKernel { pipeline }
    }

    /// Records and submits the pass; the frames buffer (also `COPY_SRC`) holds (T + 1) frames of
    /// atoms × cols values.
    pub fn run(&self, ctx: &GpuContext, batch: &Batch, schedule: &Schedule, seed: u64) -> Result<Trajectory, ForwardError> {
        check_size(batch, schedule)?;
        let device = &ctx.device;
        let atoms = batch.atoms();
        let steps = schedule.steps();
        let cols = batch.cols;
        let bytes = ((steps + 1) * atoms * cols * 4) as u64;
        let limit = device.limits().max_storage_buffer_binding_size;
        if bytes > limit {
            return Err(GpuError::TooLarge { bytes, limit }.into());
        }
        let f32s = |v: &mut dyn Iterator<Item = f64>| v.map(|a| a as f32).collect::<Vec<f32>>();
        let params = Params { molecules: batch.layout.len() as u32, steps: steps as u32, total_atoms: atoms as u32, cols: cols as u32, key: philox_key(seed), pad1: [0; 2] };
        let storage = wgpu::BufferUsages::STORAGE;
        let params = ctx.buffer_init("forward params", bytemuck::bytes_of(&params), wgpu::BufferUsages::UNIFORM);
        let ab = ctx.buffer_init("forward steps", bytemuck::cast_slice(&f32s(&mut markov_coefficients(schedule).into_iter().flatten())), storage);
        let layout: Vec<u32> = batch.layout.iter().flat_map(|&(f, n)| [f as u32, n as u32]).collect();
        let layout = ctx.buffer_init("forward layout", bytemuck::cast_slice(&layout), storage);
        let z0 = ctx.buffer_init("forward z0", bytemuck::cast_slice(&f32s(&mut batch.z0.iter().copied())), storage);
        let shift = ctx.buffer_init("forward shift", bytemuck::cast_slice(&f32s(&mut batch.shift.iter().flat_map(|s| (0..MAX_COLS).map(move |k| s.get(k).copied().unwrap_or(0.0))))), storage);
        let frames = device.create_buffer(&wgpu::BufferDescriptor { label: Some("forward frames"), size: bytes, usage: storage | wgpu::BufferUsages::COPY_SRC, mapped_at_creation: false });
        let bind_group = ctx.bind_buffers("forward", &self.pipeline.get_bind_group_layout(0), &[&params, &ab, &layout, &z0, &shift, &frames]);
        ctx.dispatch(&self.pipeline, &bind_group, (batch.layout.len() as u32, cols.div_ceil(4) as u32, 1));
        Ok(Trajectory { frames, steps, atoms, cols })
    }
}

impl Trajectory {
    /// Every frame back on the host (tests, export).
    pub async fn read(&self, ctx: &GpuContext) -> Result<Vec<f64>, GpuError> {
        let size = ((self.steps + 1) * self.atoms * self.cols * 4) as u64;
        let raw = read_buffers(&ctx.device, &ctx.queue, &[(&self.frames, size)]).await?;
        Ok(bytemuck::cast_slice::<u8, f32>(&raw[0]).iter().map(|&v| v as f64).collect())
    }
}
