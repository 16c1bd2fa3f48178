//! One reverse-sampler update as a compute pass (`shaders/sampler_step.wgsl`): DDPM ancestral,
//! Euler–Maruyama and both stages of Heun with the equivariant treatment are elementwise given
//! the denoiser's outputs, x' = c_x x + c_d D + c_e D₂ + s Pε followed by removing the centre of
//! mass, with the coefficients of [`update_coefficients`](crate::samplers::update_coefficients)
//! and [`heun_coefficients`](crate::samplers::heun_coefficients) that the CPU samplers use. The
//! noise is Philox (molecule, step), so [`cpu_step`], the f64 twin, draws the same numbers.

use super::{compute_pipeline, read_buffers, GpuContext, GpuError};
use crate::rng::philox_key;
pub use crate::samplers::STREAM_SAMPLER;
use crate::samplers::{Denoiser, GpuStep, SamplerError, SamplerRun};
use crate::schedules::Schedule;
use bytemuck::{Pod, Zeroable};

pub const SHADER: &str = concat!(include_str!("../../shaders/philox.wgsl"), include_str!("../../shaders/sampler_step.wgsl"));
/// Most atoms per molecule (16 per invocation × 64).
pub const MAX_ATOMS: usize = 1024;

/// The f64 twin of the pass: `xs`, `den` and `den2` (if any) are molecules × atoms × 3; `coef`
/// = (c_x, c_d, s, c_e).
pub fn cpu_step(xs: &[f64], den: &[f64], den2: Option<&[f64]>, atoms: usize, coef: [f64; 4], step: u32, seed: u64) -> Vec<f64> {
    let per = 3 * atoms;
    let den2 = den2.unwrap_or(den);
    let mut out = Vec::with_capacity(xs.len());
    for (m, ((x, d), e)) in xs.chunks(per).zip(den.chunks(per)).zip(den2.chunks(per)).enumerate() {
        let eps = crate::samplers::step_noise(seed, m, step as usize, atoms, 3);
        let mut y: Vec<f64> = (0..per).map(|c| coef[0] * x[c] + coef[1] * d[c] + coef[3] * e[c] + coef[2] * eps[c]).collect();
        crate::geometry::remove_com(&mut y, 3);
        out.extend(y);
    }
    out
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    molecules: u32,
    atoms: u32,
    step: u32,
    pad0: u32,
    key: [u32; 2],
    pad1: [u32; 2],
    coef: [f32; 4],
}

/// The compiled pass.
pub struct SamplerKernel {
    pipeline: wgpu::ComputePipeline,
}

impl SamplerKernel {
    pub fn new(device: &wgpu::Device) -> Self {
        let pipeline = compute_pipeline(device, "sampler_step.wgsl", SHADER);
        SamplerKernel { pipeline }
    }

    /// One update of every molecule, read back (f32 on the GPU); `den2` is Heun's second
    /// denoiser output (weight `coef[3]`), None for the one-evaluation updates. A failed
    /// readback (a lost device) is [`SamplerError::Gpu`] with [`GpuError::Readback`].
    #[allow(clippy::too_many_arguments)] // the update's inputs, each a different thing
    pub async fn step(&self, ctx: &GpuContext, xs: &[f32], den: &[f32], den2: Option<&[f32]>, atoms: usize, coef: [f64; 4], step: u32, seed: u64) -> Result<Vec<f32>, SamplerError> {
        if atoms == 0 || atoms > MAX_ATOMS || xs.is_empty() || !xs.len().is_multiple_of(3 * atoms) || den.len() != xs.len() || den2.is_some_and(|d| d.len() != xs.len()) {
            return Err(SamplerError::StepShape);
        }
        if xs.iter().chain(den).chain(den2.unwrap_or(&[])).any(|v| !v.is_finite()) || coef.iter().any(|c| !c.is_finite()) {
            return Err(SamplerError::StepNonFinite);
        }
        let bytes = (xs.len() * 4) as u64;
        let limit = ctx.device.limits().max_storage_buffer_binding_size;
        if bytes > limit {
            return Err(GpuError::TooLarge { bytes, limit }.into());
        }
        let molecules = xs.len() / (3 * atoms);
        let params = Params { molecules: molecules as u32, atoms: atoms as u32, step, pad0: 0, key: philox_key(seed), pad1: [0; 2], coef: coef.map(|c| c as f32) };
        let storage = wgpu::BufferUsages::STORAGE;
        let params = ctx.buffer_init("sampler params", bytemuck::bytes_of(&params), wgpu::BufferUsages::UNIFORM);
        let x = ctx.buffer_init("sampler x", bytemuck::cast_slice(xs), storage);
        let d = ctx.buffer_init("sampler denoiser", bytemuck::cast_slice(den), storage);
        let d2 = den2.map(|v| ctx.buffer_init("sampler denoiser 2", bytemuck::cast_slice(v), storage));
        let out = ctx.device.create_buffer(&wgpu::BufferDescriptor { label: Some("sampler out"), size: bytes.max(16), usage: storage | wgpu::BufferUsages::COPY_SRC, mapped_at_creation: false });
        let bind_group = ctx.bind_buffers("sampler step", &self.pipeline.get_bind_group_layout(0), &[&params, &x, &d, &out, d2.as_ref().unwrap_or(&d)]);
        ctx.dispatch(&self.pipeline, &bind_group, (molecules as u32, 1, 1));
        let raw = read_buffers(&ctx.device, &ctx.queue, &[(&out, bytes)]).await?;
        Ok(bytemuck::cast_slice::<u8, f32>(&raw[0]).to_vec())
    }
}

/// Lends a denoiser to the call it is given: how a face lets [`SamplerKernel::advance`] reach a
/// score source it holds (the page borrows its network only for the call, never across an
/// await).
pub type DenoiseCall<'a> = &'a mut dyn FnMut(&mut dyn Denoiser) -> Result<Vec<f64>, SamplerError>;

impl SamplerKernel {
    /// One step of `run` with its update on this pass and the denoiser on the CPU: DDPM and
    /// Euler–Maruyama call the denoiser once; Heun calls it at the current states, runs the
    /// predictor, then (but on the last step to t = 0) calls it at the predictor and runs the
    /// corrector. `lend` lends the denoiser to each call. False when the run has no step for the
    /// pass (done, or a treatment other than the equivariant one).
    pub async fn advance<E: From<SamplerError>>(&self, ctx: &GpuContext, run: &mut SamplerRun, schedule: &Schedule, mut lend: impl FnMut(DenoiseCall) -> Result<Vec<f64>, E>) -> Result<bool, E> {
        let Some(plan) = run.gpu_step(schedule) else { return Ok(false) };
        let f32s = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
        let (n, step, seed) = (run.atoms(), run.progress().0 as u32, run.options().seed);
        let xs = f32s(run.samples());
        let den = f32s(&lend(&mut |d| run.denoise_current(d, schedule))?);
        let out = match plan {
            GpuStep::Linear(coef) => self.step(ctx, &xs, &den, None, n, coef, step, seed).await?,
            GpuStep::Heun { predictor, corrector } => {
                let xp = self.step(ctx, &xs, &den, None, n, predictor, step, seed).await?;
                match corrector {
                    None => xp,
                    Some(coef) => {
                        let x64: Vec<f64> = xp.iter().map(|&v| v as f64).collect();
                        let den2 = f32s(&lend(&mut |d| run.denoise_next(d, &x64, schedule))?);
                        self.step(ctx, &xs, &den, Some(&den2), n, coef, step, seed).await?
                    }
                }
            }
        };
        run.complete_step(out.iter().map(|&v| v as f64).collect())?;
        Ok(true)
    }
}

/// Milliseconds per update of `molecules` × `atoms` configurations, the pass (upload, dispatch,
/// readback) against the f64 twin, each the mean of `reps` after a warm-up. `clock` gives ms.
pub async fn time_steps(gpu: Option<(&GpuContext, &SamplerKernel)>, molecules: usize, atoms: usize, reps: usize, clock: impl Fn() -> f64) -> Result<(Option<f64>, f64), SamplerError> {
    let reps = reps.max(1);
    let mut rng = crate::rng::XorShift64::new(9);
    let xs: Vec<f64> = (0..molecules * atoms * 3).map(|_| rng.normal()).collect();
    let den: Vec<f64> = (0..molecules * atoms * 3).map(|_| rng.normal()).collect();
    let coef = [0.99, 0.01, 0.1, 0.0];
    let t0 = clock();
    for k in 0..reps {
        std::hint::black_box(cpu_step(&xs, &den, None, atoms, coef, k as u32, 1));
    }
    let cpu_ms = (clock() - t0) / reps as f64;
    let gpu_ms = match gpu {
        Some((ctx, kernel)) => {
            let (x32, d32): (Vec<f32>, Vec<f32>) = (xs.iter().map(|&v| v as f32).collect(), den.iter().map(|&v| v as f32).collect());
            kernel.step(ctx, &x32, &d32, None, atoms, coef, 0, 1).await?;
            let t0 = clock();
            for k in 0..reps {
                kernel.step(ctx, &x32, &d32, None, atoms, coef, k as u32, 1).await?;
            }
            Some((clock() - t0) / reps as f64)
        }
        None => None,
    };
    Ok((gpu_ms, cpu_ms))
}
