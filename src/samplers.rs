//! Reverse-time samplers for VP diffusion (x_t = α_t x_0 + σ_t ε, t in schedule steps), with the
//! three rigid-motion treatments of spec quotient.md and GAGA's start at T* from a Gaussian.
//!
//! * Methods: DDPM ancestral (posterior q(x_s | x_t, x_0 = D)), Euler–Maruyama on the reverse SDE
//!   (x_s = x_t/a + (σ²_{t|s}/a)·∇log p_t + σ_{t|s} ξ), Heun on the probability-flow ODE (in
//!   EDM's form in x/α and σ/α; the last step to t = 0 is Euler, as EDM does). a = α_t/α_s,
//!   σ²_{t|s} = σ_t² − a²σ_s²; any number of uniform steps from `t_start` down to 0.
//! * Symmetry: `Equivariant` (CoM-free noise and updates), `Align` (the denoiser replaced by
//!   E[A_{x_t}(x_0) | x_t], the alignment heuristic: biased), `Quotient` (every update and the
//!   noise projected by P_x, plus −(v/2)·h̃(x) with v the step's injected noise variance, Thm. 4;
//!   `curvature` scales that term for the ablations: −1 correct, 0 none, +1 the paper's printed sign).
//! * GAGA: start at `t_start` = T* from N(0, ṽ I) on the CoM-free space, ṽ = α²_{T*} v̂ + σ²_{T*}
//!   with v̂ = Σ‖x‖²/(3(N − 1)), the data's variance per direction of that space.
//!
//! Score sources implement [`Denoiser`]: D(x, t) = E[x_0 | x_t = x]; the score is
//! −(x − α_t D)/σ_t². [`GaussianTarget`] is exact for any SE(3)-invariant Gaussian target.

use crate::geometry::{align_to, curvature, kabsch_rotation, project_horizontal, remove_com, rotate, sym_eigen};
use crate::molecules::centre_columns;
use crate::rng::XorShift64;
use crate::schedules::Schedule;
use serde::Serialize;

/// Why a sampling run (or one step of it, on the CPU or the GPU pass) was refused or failed.
/// Messages are shown to users as they are.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum SamplerError {
    #[error("states with type columns are sampled with the equivariant treatment only")]
    TypeColumnsNeedEquivariant,
    #[error("re-alignment (Boltz) applies to positions with the equivariant treatment only")]
    RealignNeedsEquivariant,
    #[error("the start needs {width} positive column variances")]
    ColumnVariances { width: usize },
    #[error("steps and samples must be at least 1")]
    NoSteps,
    #[error("the start must be in (0, {steps}], got {t_start}")]
    Start { t_start: f64, steps: usize },
    #[error("the start variance must be positive")]
    StartVariance,
    #[error("the predictor does not fit this run")]
    PredictorMismatch,
    #[error("the score source has {source_atoms} atoms, the run {run_atoms}")]
    AtomMismatch { source_atoms: usize, run_atoms: usize },
    #[error("the score source has {source_atoms} atoms and {source_width} columns, the run {run_atoms} and {run_width}")]
    ShapeMismatch { source_atoms: usize, source_width: usize, run_atoms: usize, run_width: usize },
    #[error("the update does not fit this run")]
    UpdateMismatch,
    /// Non-finite coordinates after the step to diffusion time `t`.
    #[error("the sampler diverged at t = {t:.1} (non-finite coordinates)")]
    Diverged { t: f64 },
    #[error("the covariance must be n × n with n ≥ 3")]
    CovarianceShape,
    #[error("the covariance must be positive semi-definite")]
    CovarianceNotPsd,
    #[error("the data must hold whole configurations of {atoms} atoms in 3-D (n ≥ 3)")]
    DataShape { atoms: usize },
    #[error("the data must be finite")]
    NonFiniteData,
    #[error("a chain has {min} to {max} beads, got {0}", min = CHAIN_BEADS.start(), max = CHAIN_BEADS.end())]
    ChainBeads(usize),
    /// The GPU pass's inputs ([`crate::gpu::sampler::SamplerKernel::step`]) do not fit.
    #[error("a sampler step needs molecules of 1 to {max} atoms and one denoiser value per coordinate", max = crate::gpu::sampler::MAX_ATOMS)]
    StepShape,
    #[error("a sampler step needs finite positions, denoiser values and coefficients")]
    StepNonFinite,
    /// The GPU pass failed: a lost device reads back as [`GpuError::Readback`](crate::gpu::GpuError::Readback).
    #[error(transparent)]
    Gpu(#[from] crate::gpu::GpuError),
}

/// E[x_0 | x_t = x] for CoM-free 3-D configurations.
pub trait Denoiser {
    fn atoms(&self) -> usize;
    /// Columns per atom: 3 for positions; 3 + F for a whole molecule's positions and type block
    /// ([`crate::joint`]), every column of zero mean over the atoms.
    fn width(&self) -> usize {
        3
    }
    fn denoise(&mut self, x: &[f64], t: f64, schedule: &Schedule) -> Vec<f64>;
    /// E[A_{x_t}(x_0) | x_t]: the target the alignment heuristic trains towards (None if this
    /// source cannot provide it).
    fn denoise_aligned(&mut self, _x: &[f64], _t: f64, _schedule: &Schedule) -> Option<Vec<f64>> {
        None
    }

    /// D for a batch of flat configurations at one t (a network evaluates them in one call).
    fn denoise_batch(&mut self, xs: &[f64], t: f64, schedule: &Schedule) -> Vec<f64> {
        let per = self.width() * self.atoms();
        xs.chunks(per).flat_map(|x| self.denoise(x, t, schedule)).collect()
    }

    /// The aligned target for a batch (None if this source cannot provide it).
    fn denoise_aligned_batch(&mut self, xs: &[f64], t: f64, schedule: &Schedule) -> Option<Vec<f64>> {
        let per = 3 * self.atoms();
        let mut out = Vec::with_capacity(xs.len());
        for x in xs.chunks(per) {
            out.extend(self.denoise_aligned(x, t, schedule)?);
        }
        Some(out)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Ddpm,
    Em,
    Heun,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Symmetry {
    Equivariant,
    Align,
    Quotient,
}

impl Method {
    /// "ddpm", "em" or "heun".
    pub fn by_name(name: &str) -> Result<Method, String> {
        match name {
            "ddpm" => Ok(Method::Ddpm),
            "em" => Ok(Method::Em),
            "heun" => Ok(Method::Heun),
            other => Err(format!("sampler must be one of ddpm, em, heun, got \"{}\"", crate::io::printable(other))),
        }
    }
}

impl Symmetry {
    /// "equivariant", "align" or "quotient".
    pub fn by_name(name: &str) -> Result<Symmetry, String> {
        match name {
            "equivariant" => Ok(Symmetry::Equivariant),
            "align" => Ok(Symmetry::Align),
            "quotient" => Ok(Symmetry::Quotient),
            other => Err(format!("symmetry must be one of equivariant, align, quotient, got \"{}\"", crate::io::printable(other))),
        }
    }
}

#[derive(Clone, Debug)]
pub struct SampleOptions {
    pub method: Method,
    pub symmetry: Symmetry,
    pub steps: usize,
    /// Where sampling starts (schedule steps): T for the full trajectory, T* for GAGA.
    pub t_start: f64,
    /// Variance of the isotropic CoM-free Gaussian at `t_start` (≈ 1 at T; ṽ_{T*} for GAGA).
    pub start_variance: f64,
    /// Coefficient of (v/2)·h̃ in the quotient drift: −1 (Thm. 4), 0, +1 (as printed).
    pub curvature: f64,
    pub seed: u64,
    /// For states wider than positions: the start variance of each column (positions and each
    /// type column: GAGA's per-modality ṽ). Empty: `start_variance` for every column.
    pub column_variance: Vec<f64>,
    /// Boltz's re-alignment (the sampler paired with AF3-alignment training): before each
    /// update the noisy state is rigidly superposed onto the denoiser's output, so the step
    /// carries no rotation between the two. Positions with the equivariant treatment only.
    pub realign: bool,
}

impl SampleOptions {
    pub fn new(method: Method, symmetry: Symmetry, steps: usize, schedule: &Schedule) -> Self {
        let t = schedule.steps() as f64;
        SampleOptions { method, symmetry, steps, t_start: t, start_variance: schedule.alpha2(t) + schedule.sigma2(t), curvature: -1.0, seed: 0, column_variance: Vec::new(), realign: false }
    }

    /// GAGA: start at T* from the closed-form Gaussian. `mean_square` is the CoM-free data's
    /// mean square per coordinate, Σ‖x‖²/(3N) averaged over configurations of `atoms` atoms.
    /// The start draw lives on the CoM-free subspace (3(N − 1) directions), so its variance per
    /// direction must be α²_{T*}·Σ‖x‖²/(3(N − 1)) + σ²_{T*} (spec gaga.md §6, v_all): with the
    /// per-coordinate value instead, small molecules start too narrow (11 % for 4 atoms at T* = 550).
    pub fn gaga(mut self, schedule: &Schedule, t_star: f64, mean_square: f64, atoms: usize) -> Self {
        self.t_start = t_star;
        self.start_variance = schedule.alpha2(t_star) * com_free_variance(mean_square, atoms) + schedule.sigma2(t_star);
        self
    }
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SampleReport {
    /// Flat samples, CoM-free.
    pub samples: Vec<f64>,
    /// Denoiser (network) evaluations, all samples together.
    pub nfe: usize,
}

/// The variance per direction of the CoM-free subspace of configurations of `atoms` atoms whose
/// mean square per coordinate is `mean_square`: Σ‖x‖²/(3(N − 1)) = mean_square · N/(N − 1).
pub fn com_free_variance(mean_square: f64, atoms: usize) -> f64 {
    if atoms < 2 {
        return mean_square;
    }
    mean_square * atoms as f64 / (atoms - 1) as f64
}

/// n × w standard normal values, each of the w columns made zero-mean over the n rows.
fn zero_mean_noise(n: usize, w: usize, rng: &mut XorShift64) -> Vec<f64> {
    let mut z: Vec<f64> = (0..w * n).map(|_| rng.normal()).collect();
    centre_columns(&mut z, n, w);
    z
}

/// Philox stream tag of the reverse samplers' noise (the CPU update and the GPU pass alike).
pub const STREAM_SAMPLER: u32 = 5;

/// The noise of sample `m` at step `step` of a run seeded `seed`: n × w standard normals from
/// Philox (counter: component / 4, sample, step, stream), each column made zero-mean over the
/// rows. The same numbers whichever engine takes the step: the GPU pass draws them in WGSL
/// (`shaders/sampler_step.wgsl`), so one seed means the same samples on the CPU and the GPU.
pub fn step_noise(seed: u64, m: usize, step: usize, n: usize, w: usize) -> Vec<f64> {
    let key = crate::rng::philox_key(seed);
    let mut z: Vec<f64> = (0..n * w).map(|c| crate::rng::philox_normals([(c / 4) as u32, m as u32, step as u32, STREAM_SAMPLER], key)[c % 4]).collect();
    centre_columns(&mut z, n, w);
    z
}

/// Draws `count` samples. Refuses bad knobs ([`SamplerError`]).
pub fn sample(den: &mut dyn Denoiser, schedule: &Schedule, opts: &SampleOptions, count: usize) -> Result<SampleReport, SamplerError> {
    let mut run = SamplerRun::with_width(den.atoms(), den.width(), schedule, opts, count, 0)?;
    run.advance(den, schedule, opts.steps)?;
    Ok(SampleReport { nfe: run.nfe, samples: run.xs })
}

/// A sampling run that advances a few steps at a time (so a page can interleave frames) and
/// keeps the trajectory of its first `keep` samples: frame k is the state after k steps, frame 0
/// the draw at `t_start`. [`sample`] is this run taken to the end in one go.
pub struct SamplerRun {
    opts: SampleOptions,
    n: usize,
    /// Columns per atom (3: positions).
    w: usize,
    xs: Vec<f64>,
    step: usize,
    nfe: usize,
    keep: usize,
    frames: Vec<f64>,
}

impl SamplerRun {
    pub fn new(atoms: usize, schedule: &Schedule, opts: &SampleOptions, count: usize, keep: usize) -> Result<Self, SamplerError> {
        Self::with_width(atoms, 3, schedule, opts, count, keep)
    }

    /// A run over states of `width` columns per atom (a whole molecule: positions then the type
    /// block), each column kept zero-mean; only the equivariant treatment applies to them.
    pub fn with_width(atoms: usize, width: usize, schedule: &Schedule, opts: &SampleOptions, count: usize, keep: usize) -> Result<Self, SamplerError> {
        if width < 3 || (width > 3 && opts.symmetry != Symmetry::Equivariant) {
            return Err(SamplerError::TypeColumnsNeedEquivariant);
        }
        if opts.realign && (width != 3 || opts.symmetry != Symmetry::Equivariant) {
            return Err(SamplerError::RealignNeedsEquivariant);
        }
        if !opts.column_variance.is_empty() && (opts.column_variance.len() != width || opts.column_variance.iter().any(|v| !(v.is_finite() && *v > 0.0))) {
            return Err(SamplerError::ColumnVariances { width });
        }
        if opts.steps == 0 || count == 0 {
            return Err(SamplerError::NoSteps);
        }
        if !(opts.t_start > 0.0 && opts.t_start <= schedule.steps() as f64) {
            return Err(SamplerError::Start { t_start: opts.t_start, steps: schedule.steps() });
        }
        if !(opts.start_variance.is_finite() && opts.start_variance > 0.0) {
            return Err(SamplerError::StartVariance);
        }
        let (n, w) = (atoms, width);
        let mut rng = XorShift64::new(opts.seed);
        let quotient = opts.symmetry == Symmetry::Quotient;
        let scale: Vec<f64> = if opts.column_variance.is_empty() { vec![opts.start_variance.sqrt(); w] } else { opts.column_variance.iter().map(|v| v.sqrt()).collect() };
        let mut xs: Vec<f64> = Vec::with_capacity(count * w * n);
        for _ in 0..count {
            let x: Vec<f64> = zero_mean_noise(n, w, &mut rng).iter().enumerate().map(|(k, z)| z * scale[k % w]).collect();
            xs.extend(if quotient { project_horizontal(&x, &x) } else { x });
        }
        let keep = keep.min(count);
        let frames = xs[..keep * w * n].to_vec();
        Ok(SamplerRun { opts: opts.clone(), n, w, xs, step: 0, nfe: 0, keep, frames })
    }

    pub fn done(&self) -> bool {
        self.step >= self.opts.steps
    }

    /// (steps taken, steps in all).
    pub fn progress(&self) -> (usize, usize) {
        (self.step, self.opts.steps)
    }

    /// Denoiser evaluations so far, all samples together.
    pub fn nfe(&self) -> usize {
        self.nfe
    }

    pub fn atoms(&self) -> usize {
        self.n
    }

    /// Columns per atom of the states and frames (3: positions only).
    pub fn width(&self) -> usize {
        self.w
    }

    pub fn options(&self) -> &SampleOptions {
        &self.opts
    }

    /// The current states (the samples once [`done`](Self::done)), flat and CoM-free.
    pub fn samples(&self) -> &[f64] {
        &self.xs
    }

    /// How many samples the trajectory keeps.
    pub fn kept(&self) -> usize {
        self.keep
    }

    /// The kept trajectory: frame k (k = 0 ..= steps taken) holds `kept()` samples.
    pub fn frames(&self) -> &[f64] {
        &self.frames
    }

    /// The diffusion time of frame k.
    pub fn frame_time(&self, k: usize) -> f64 {
        self.opts.t_start * (1.0 - k as f64 / self.opts.steps as f64)
    }

    /// For an update computed elsewhere (the GPU pass, `gpu::sampler`): how to take the current
    /// step (its coefficients) with the equivariant treatment, which is linear in x and the
    /// denoiser outputs for every method; None when done or for another treatment.
    pub fn gpu_step(&self, schedule: &Schedule) -> Option<GpuStep> {
        if self.done() || self.opts.symmetry != Symmetry::Equivariant || self.w != 3 || self.opts.realign {
            return None;
        }
        let (t, s) = (self.frame_time(self.step), self.frame_time(self.step + 1));
        Some(match self.opts.method {
            Method::Heun => {
                let (predictor, corrector) = heun_coefficients(schedule, t, s);
                GpuStep::Heun { predictor, corrector }
            }
            m => {
                let [cx, cd, sd] = update_coefficients(m, schedule, t, s)?;
                GpuStep::Linear([cx, cd, sd, 0.0])
            }
        })
    }

    /// The denoiser's output for `xs` (e.g. Heun's predictor) at the next step's time (counted
    /// in NFE).
    pub fn denoise_next(&mut self, den: &mut dyn Denoiser, xs: &[f64], schedule: &Schedule) -> Result<Vec<f64>, SamplerError> {
        if den.atoms() != self.n || den.width() != self.w || xs.len() != self.xs.len() {
            return Err(SamplerError::PredictorMismatch);
        }
        self.nfe += xs.len() / (self.w * self.n);
        Ok(den.denoise_batch(xs, self.frame_time(self.step + 1), schedule))
    }

    /// The denoiser's output for the current states at the current step's time (counted in NFE).
    pub fn denoise_current(&mut self, den: &mut dyn Denoiser, schedule: &Schedule) -> Result<Vec<f64>, SamplerError> {
        if den.atoms() != self.n || den.width() != self.w {
            return Err(SamplerError::AtomMismatch { source_atoms: den.atoms(), run_atoms: self.n });
        }
        self.nfe += self.xs.len() / (self.w * self.n);
        Ok(den.denoise_batch(&self.xs, self.frame_time(self.step), schedule))
    }

    /// Ends the current step with states computed elsewhere (same layout, CoM-free).
    pub fn complete_step(&mut self, xs: Vec<f64>) -> Result<(), SamplerError> {
        if self.done() || xs.len() != self.xs.len() {
            return Err(SamplerError::UpdateMismatch);
        }
        if xs.iter().any(|v| !v.is_finite()) {
            return Err(SamplerError::Diverged { t: self.frame_time(self.step + 1) });
        }
        self.xs = xs;
        self.step += 1;
        self.frames.extend_from_slice(&self.xs[..self.keep * self.w * self.n]);
        Ok(())
    }

    /// Takes up to `steps` more steps.
    pub fn advance(&mut self, den: &mut dyn Denoiser, schedule: &Schedule, steps: usize) -> Result<(), SamplerError> {
        if den.atoms() != self.n || den.width() != self.w {
            return Err(SamplerError::ShapeMismatch { source_atoms: den.atoms(), source_width: den.width(), run_atoms: self.n, run_width: self.w });
        }
        let end = (self.step + steps).min(self.opts.steps);
        while self.step < end {
            self.one_step(den, schedule)?;
            self.step += 1;
            self.frames.extend_from_slice(&self.xs[..self.keep * self.w * self.n]);
        }
        Ok(())
    }

    fn one_step(&mut self, den: &mut dyn Denoiser, schedule: &Schedule) -> Result<(), SamplerError> {
        let (opts, n, w, i) = (&self.opts, self.n, self.w, self.step);
        let per = w * n;
        let nfe = &mut self.nfe;
        let xs = &mut self.xs;
        let quotient = opts.symmetry == Symmetry::Quotient;
        let project = |x: &[f64], v: Vec<f64>| if quotient { project_horizontal(x, &v) } else { v };
        let t = opts.t_start * (1.0 - i as f64 / opts.steps as f64);
        let s = opts.t_start * (1.0 - (i + 1) as f64 / opts.steps as f64);
        let (at, as_, st2, ss2) = (schedule.alpha(t), schedule.alpha(s), schedule.sigma2(t), schedule.sigma2(s));
        let mut d_of = |xs: &[f64], tt: f64| -> Vec<f64> {
            *nfe += xs.len() / per;
            match opts.symmetry {
                Symmetry::Align => den.denoise_aligned_batch(xs, tt, schedule).unwrap_or_else(|| den.denoise_batch(xs, tt, schedule)),
                _ => den.denoise_batch(xs, tt, schedule),
            }
        };
        let d_all = d_of(xs, t);
        if opts.realign {
            // Boltz: x_t rotated (about its centre) onto D(x_t) before the update
            for (x, d) in xs.chunks_mut(per).zip(d_all.chunks(per)) {
                let mut dc = d.to_vec();
                remove_com(&mut dc, 3);
                let r = kabsch_rotation(x, &dc);
                x.copy_from_slice(&rotate(&r, x));
            }
        }
        let (sh_t, sh_s) = (st2.sqrt() / at, ss2.sqrt() / as_);
        let lin = as_ / at - 1.0;
        let dirn = |x: &[f64], d: &[f64], al: f64, sh: f64| project(x, x.iter().zip(d).map(|(xi, di)| (xi / al - di) / sh).collect());
        // (increment, injected noise variance) per sample
        let (deltas, noise_var): (Vec<f64>, f64) = match opts.method {
            Method::Ddpm | Method::Em => {
                let [cx, cd, sd] = update_coefficients(opts.method, schedule, t, s).expect("DDPM and EM are linear in x and D");
                (xs.chunks(per).zip(d_all.chunks(per)).flat_map(|(x, d)| project(x, x.iter().zip(d).map(|(xi, di)| (cx - 1.0) * xi + cd * di).collect())).collect(), sd * sd)
            }
            Method::Heun => {
                // EDM's Heun in x̂ = x/α, σ̂ = σ/α, where the flow is dx̂/dσ̂ = (x̂ − D)/σ̂;
                // quotient: the denoiser terms projected at the point they were taken
                let d1: Vec<f64> = xs.chunks(per).zip(d_all.chunks(per)).flat_map(|(x, d)| dirn(x, d, at, sh_t)).collect();
                let euler: Vec<f64> = xs.iter().zip(&d1).map(|(xi, g)| lin * xi + as_ * (sh_s - sh_t) * g).collect();
                if s <= 0.0 || sh_s < 1e-3 {
                    (euler, 0.0)
                } else {
                    let xp: Vec<f64> = xs.iter().zip(&euler).map(|(a, b)| a + b).collect();
                    let d2 = d_of(&xp, s);
                    let g2: Vec<f64> = xp.chunks(per).zip(d2.chunks(per)).flat_map(|(x, d)| dirn(x, d, as_, sh_s)).collect();
                    (xs.iter().zip(d1.iter().zip(&g2)).map(|(xi, (p, q))| lin * xi + as_ * (sh_s - sh_t) * 0.5 * (p + q)).collect(), 0.0)
                }
            }
        };
        for (m, (x, delta)) in xs.chunks_mut(per).zip(deltas.chunks(per)).enumerate() {
            let corr = if quotient && noise_var > 0.0 { Some(curvature(x)) } else { None };
            let z = if noise_var > 0.0 { step_noise(opts.seed, m, i, n, w) } else { vec![0.0; per] };
            let z = if quotient { project_horizontal(x, &z) } else { z };
            for c in 0..per {
                let h = corr.as_ref().map_or(0.0, |h| opts.curvature * 0.5 * noise_var * h[c]);
                x[c] += delta[c] + h + noise_var.sqrt() * z[c];
            }
            centre_columns(x, n, w);
            if x.iter().any(|v| !v.is_finite()) {
                return Err(SamplerError::Diverged { t: s });
            }
        }
        Ok(())
    }
}

/// The update from step t to s of the samplers that are linear in x and the denoiser output D:
/// x_s = c_x x_t + c_d D + s ξ (ξ CoM-free standard normal), as (c_x, c_d, s); None for Heun.
/// DDPM ancestral samples the posterior q(x_s | x_t, x_0 = D); Euler–Maruyama steps the reverse
/// SDE with the score −(x − α_t D)/σ_t². The GPU pass (`gpu::sampler`) uses the same numbers.
pub fn update_coefficients(method: Method, schedule: &Schedule, t: f64, s: f64) -> Option<[f64; 3]> {
    let (at, as_, st2, ss2) = (schedule.alpha(t), schedule.alpha(s), schedule.sigma2(t), schedule.sigma2(s));
    let a = at / as_;
    let var_ts = (st2 - a * a * ss2).max(0.0);
    match method {
        Method::Ddpm => Some([a * ss2 / st2, as_ * var_ts / st2, (var_ts * ss2 / st2).sqrt()]),
        Method::Em => Some([1.0 / a - var_ts / (a * st2), var_ts * at / (a * st2), var_ts.sqrt()]),
        Method::Heun => None,
    }
}

/// Heun's step from t to s (EDM's, in x̂ = x/α, σ̂ = σ/α) written linearly, as the GPU pass
/// runs it: the predictor x_p = P x + Q D₁ (D₁ the denoiser at (x, t)) as (P, Q, 0, 0), and, when
/// there is a corrector (s > 0 and σ̂_s ≥ 1e-3, as in the CPU sampler), the step
/// x_s = A x + B D₁ + C D₂ (D₂ at (x_p, s)) as (A, B, 0, C). Equivariant treatment.
pub fn heun_coefficients(schedule: &Schedule, t: f64, s: f64) -> ([f64; 4], Option<[f64; 4]>) {
    let (at, as_) = (schedule.alpha(t), schedule.alpha(s));
    let (sh_t, sh_s) = (schedule.sigma2(t).sqrt() / at, schedule.sigma2(s).sqrt() / as_);
    let r = as_ * (sh_s - sh_t);
    let (p, q) = (as_ / at + r / (sh_t * at), -r / sh_t);
    if s <= 0.0 || sh_s < 1e-3 {
        return ([p, q, 0.0, 0.0], None);
    }
    let a = as_ / at + r / (2.0 * sh_t * at) + r * p / (2.0 * sh_s * as_);
    let b = -r / (2.0 * sh_t) + r * q / (2.0 * sh_s * as_);
    let c = -r / (2.0 * sh_s);
    ([p, q, 0.0, 0.0], Some([a, b, 0.0, c]))
}

/// How the GPU pass takes the current step of a run (equivariant treatment only).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GpuStep {
    /// DDPM or Euler–Maruyama: one denoiser call, then x' = c_x x + c_d D + s Pε.
    Linear([f64; 4]),
    /// Heun: the predictor from D₁, then (if any) the corrector from D₁ and D₂ at the predictor.
    Heun { predictor: [f64; 4], corrector: Option<[f64; 4]> },
}

/// An SE(3)-invariant Gaussian target x_0 ~ N(0, C ⊗ I₃) on the CoM-free space (C symmetric
/// PSD with rows summing to 0). Its denoiser is exact: per eigenpair (c_k, u_k) of C,
/// D = Σ_k α c_k/(α² c_k + σ²) u_k u_kᵀ x, and the posterior is Gaussian, so the aligned target
/// E[A_{x_t}(x_0) | x_t] is estimated from `posterior_draws` posterior samples.
pub struct GaussianTarget {
    n: usize,
    modes: Vec<(f64, Vec<f64>)>,
    pub posterior_draws: usize,
    rng: XorShift64,
}

impl GaussianTarget {
    pub fn new(cov: &[f64], n: usize) -> Result<Self, SamplerError> {
        if cov.len() != n * n || n < 3 {
            return Err(SamplerError::CovarianceShape);
        }
        let (vals, vecs) = sym_eigen(cov, n);
        let mut modes = Vec::new();
        for k in 0..n {
            let u: Vec<f64> = (0..n).map(|i| vecs[i * n + k]).collect();
            let mean = u.iter().sum::<f64>() / n as f64;
            if vals[k] < -1e-9 {
                return Err(SamplerError::CovarianceNotPsd);
            }
            // the CoM direction (the all-ones vector) carries no variance on the CoM-free space
            if (mean * (n as f64).sqrt()).abs() > 0.5 {
                continue;
            }
            modes.push((vals[k].max(0.0), u));
        }
        Ok(GaussianTarget { n, modes, posterior_draws: 32, rng: XorShift64::new(17) })
    }

    /// The unit-spring chain: C = pseudo-inverse of the path graph's Laplacian.
    pub fn spring_chain(n: usize) -> Self {
        let mut l = vec![0.0; n * n];
        for i in 0..n - 1 {
            l[i * n + i] += 1.0;
            l[(i + 1) * n + i + 1] += 1.0;
            l[i * n + i + 1] -= 1.0;
            l[(i + 1) * n + i] -= 1.0;
        }
        let (vals, vecs) = sym_eigen(&l, n);
        let mut c = vec![0.0; n * n];
        for k in 0..n {
            if vals[k] > 1e-9 {
                for i in 0..n {
                    for j in 0..n {
                        c[i * n + j] += vecs[i * n + k] * vecs[j * n + k] / vals[k];
                    }
                }
            }
        }
        Self::new(&c, n).expect("a Laplacian pseudo-inverse is a valid covariance")
    }

    /// E[Σ_n |x_n|²] = 3 tr C.
    pub fn mean_r2(&self) -> f64 {
        3.0 * self.modes.iter().map(|(c, _)| c).sum::<f64>()
    }

    /// E[|x_i − x_j|²] = 3 (C_ii + C_jj − 2 C_ij).
    pub fn mean_d2(&self, i: usize, j: usize) -> f64 {
        3.0 * self.modes.iter().map(|(c, u)| c * (u[i] - u[j]).powi(2)).sum::<f64>()
    }

    /// The denoising loss of the exact ε̂ = (x − α D)/σ on a batch (the floor any network can reach).
    pub fn optimal_dsm_loss(&mut self, x0: &[f64], eps: &[f64], ts: &[f64], sch: &Schedule) -> f64 {
        let per = 3 * self.n;
        let mut total = 0.0;
        for ((x, e), &t) in x0.chunks(per).zip(eps.chunks(per)).zip(ts) {
            let (a, s) = (sch.alpha(t), sch.sigma(t));
            let xt: Vec<f64> = x.iter().zip(e).map(|(x, e)| a * x + s * e).collect();
            let d = self.denoise(&xt, t, sch);
            total += xt.iter().zip(&d).zip(e).map(|((xi, di), ei)| ((xi - a * di) / s - ei).powi(2)).sum::<f64>();
        }
        total / x0.len() as f64
    }

    /// A draw of the target itself (for reference statistics).
    pub fn draw(&mut self) -> Vec<f64> {
        let mut x = vec![0.0; 3 * self.n];
        for (c, u) in &self.modes {
            for k in 0..3 {
                let z = self.rng.normal() * c.sqrt();
                for i in 0..self.n {
                    x[3 * i + k] += z * u[i];
                }
            }
        }
        x
    }

    fn project_modes(&self, x: &[f64], f: impl Fn(f64) -> f64) -> Vec<f64> {
        let mut out = vec![0.0; x.len()];
        for (c, u) in &self.modes {
            let w = f(*c);
            for k in 0..3 {
                let coef: f64 = (0..self.n).map(|i| u[i] * x[3 * i + k]).sum::<f64>() * w;
                for i in 0..self.n {
                    out[3 * i + k] += coef * u[i];
                }
            }
        }
        out
    }
}

impl Denoiser for GaussianTarget {
    fn atoms(&self) -> usize {
        self.n
    }

    fn denoise(&mut self, x: &[f64], t: f64, sch: &Schedule) -> Vec<f64> {
        let (al, s2) = (sch.alpha(t), sch.sigma2(t));
        self.project_modes(x, |c| al * c / (al * al * c + s2))
    }

    fn denoise_aligned(&mut self, x: &[f64], t: f64, sch: &Schedule) -> Option<Vec<f64>> {
        let (al, s2) = (sch.alpha(t), sch.sigma2(t));
        let mean = self.denoise(x, t, sch);
        let mut acc = vec![0.0; x.len()];
        for _ in 0..self.posterior_draws {
            let mut x0 = mean.clone();
            for (c, u) in &self.modes {
                let sd = (c * s2 / (al * al * c + s2)).sqrt();
                for k in 0..3 {
                    let z = self.rng.normal() * sd;
                    for i in 0..self.n {
                        x0[3 * i + k] += z * u[i];
                    }
                }
            }
            let a = align_to(&x0, x);
            acc.iter_mut().zip(&a).for_each(|(s, v)| *s += v / self.posterior_draws as f64);
        }
        Some(acc)
    }
}

/// The exact score of the noised empirical distribution of a data set (a Gaussian mixture over
/// the data points, CoM-free): D(x, t) = Σ_i w_i x_i with w ∝ exp(−|x − α x_i|²/(2σ²)); its
/// aligned target Σ_i w_i A_x(x_i) is exact too. With `over_orbits` the mixture is over the
/// points' rotation orbits (each point under a uniformly random rotation): the data set made
/// SE(3)-invariant, as molecules are. Then w_i ∝ exp(−α²|x_i|²/(2σ²)) c(F_i) and
/// D = Σ_i w_i E[R | i] x_i, where R | i follows the matrix Fisher law with F_i = (α/σ²) Σ_a x_a x_{i,a}ᵀ
/// (`geometry::matrix_fisher`): exact, up to a 1-D quadrature.
pub struct EmpiricalTarget {
    n: usize,
    points: Vec<Vec<f64>>,
    orbits: bool,
}

impl EmpiricalTarget {
    /// `xs`: flat 3-D configurations of `n` atoms (centred here).
    pub fn new(xs: &[f64], n: usize) -> Result<Self, SamplerError> {
        if n < 3 || xs.is_empty() || !xs.len().is_multiple_of(3 * n) {
            return Err(SamplerError::DataShape { atoms: n });
        }
        if xs.iter().any(|v| !v.is_finite()) {
            return Err(SamplerError::NonFiniteData);
        }
        let points = xs
            .chunks(3 * n)
            .map(|x| {
                let mut v = x.to_vec();
                remove_com(&mut v, 3);
                v
            })
            .collect();
        Ok(EmpiricalTarget { n, points, orbits: false })
    }

    /// The same data set made rotation-invariant: the mixture over the points' orbits.
    pub fn over_orbits(xs: &[f64], n: usize) -> Result<Self, SamplerError> {
        Ok(EmpiricalTarget { orbits: true, ..Self::new(xs, n)? })
    }

    /// Whether the mixture is over the points' rotation orbits.
    pub fn is_over_orbits(&self) -> bool {
        self.orbits
    }

    /// Per point: the log-weight and, over orbits, the matrix Fisher mean rotation E[R | i].
    fn components(&self, x: &[f64], t: f64, sch: &Schedule) -> Vec<(f64, Option<[[f64; 3]; 3]>)> {
        let (al, s2) = (sch.alpha(t), sch.sigma2(t));
        self.points
            .iter()
            .map(|p| {
                if !self.orbits {
                    return (-p.iter().zip(x).map(|(pi, xi)| (xi - al * pi).powi(2)).sum::<f64>() / (2.0 * s2), None);
                }
                let f = crate::geometry::cross_covariance(x, p).map(|row| row.map(|v| al / s2 * v));
                let (log_c, mean) = crate::geometry::matrix_fisher(&f);
                // −|x|²/(2σ²) is common to every component and left out
                (-al * al * p.iter().map(|v| v * v).sum::<f64>() / (2.0 * s2) + log_c, Some(mean))
            })
            .collect()
    }

    /// The data point nearest to `x` (after rotating each onto `x` when `rotations`).
    pub fn nearest(&self, x: &[f64], rotations: bool) -> usize {
        let d2 = |p: &[f64]| p.iter().zip(x).map(|(a, b)| (a - b).powi(2)).sum::<f64>();
        let dist = |p: &Vec<f64>| if rotations { d2(&align_to(p, x)) } else { d2(p) };
        (0..self.points.len()).min_by(|&a, &b| dist(&self.points[a]).total_cmp(&dist(&self.points[b]))).unwrap_or(0)
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    fn weights(&self, x: &[f64], t: f64, sch: &Schedule) -> Vec<f64> {
        normalised(self.components(x, t, sch).iter().map(|c| c.0).collect())
    }
}

/// exp(l) / Σ exp(l), computed stably.
fn normalised(logw: Vec<f64>) -> Vec<f64> {
    let m = logw.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = logw.iter().map(|l| (l - m).exp()).collect();
    let z: f64 = w.iter().sum();
    w.iter().map(|v| v / z).collect()
}

impl Denoiser for EmpiricalTarget {
    fn atoms(&self) -> usize {
        self.n
    }

    fn denoise(&mut self, x: &[f64], t: f64, sch: &Schedule) -> Vec<f64> {
        let comps = self.components(x, t, sch);
        let w = normalised(comps.iter().map(|c| c.0).collect());
        let mut d = vec![0.0; x.len()];
        for ((wi, (_, mean)), p) in w.iter().zip(&comps).zip(&self.points) {
            match mean {
                None => d.iter_mut().zip(p).for_each(|(a, b)| *a += wi * b),
                Some(r) if *wi > 1e-14 => d.iter_mut().zip(rotate(r, p)).for_each(|(a, b)| *a += wi * b),
                Some(_) => {}
            }
        }
        d
    }

    fn denoise_aligned(&mut self, x: &[f64], t: f64, sch: &Schedule) -> Option<Vec<f64>> {
        let w = self.weights(x, t, sch);
        let mut d = vec![0.0; x.len()];
        for (wi, p) in w.iter().zip(&self.points) {
            if *wi > 1e-12 {
                d.iter_mut().zip(align_to(p, x)).for_each(|(a, b)| *a += wi * b);
            }
        }
        Some(d)
    }
}

/// Beads a spring chain may have: the one rule of the CLI and the page.
pub const CHAIN_BEADS: std::ops::RangeInclusive<usize> = 3..=64;

/// Refuses a chain length outside [`CHAIN_BEADS`], with the same words everywhere.
pub fn check_chain_beads(n: usize) -> Result<usize, SamplerError> {
    if CHAIN_BEADS.contains(&n) {
        Ok(n)
    } else {
        Err(SamplerError::ChainBeads(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_orbit_averaged_empirical_score_is_equivariant_and_samples_the_invariant_statistics() {
        // five random shapes of 4 atoms; their orbits are an SE(3)-invariant data set
        let mut rng = XorShift64::new(21);
        let data: Vec<f64> = (0..5 * 12).map(|_| rng.normal()).collect();
        let mut orbit = EmpiricalTarget::over_orbits(&data, 4).unwrap();
        assert!(orbit.is_over_orbits());
        let s = Schedule::polynomial2(1000, 1e-5);
        // D(Rx) = R D(x) at every t (the plain point mixture is not)
        let x: Vec<f64> = {
            let mut v: Vec<f64> = (0..12).map(|_| rng.normal()).collect();
            remove_com(&mut v, 3);
            v
        };
        let r = crate::geometry::random_rotation(&mut rng);
        for t in [50.0, 400.0, 900.0] {
            let lhs = orbit.denoise(&rotate(&r, &x), t, &s);
            let rhs = rotate(&r, &orbit.denoise(&x, t, &s));
            let err = lhs.iter().zip(&rhs).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(err < 1e-6, "t = {t}: equivariance error {err}");
        }
        let mut points = EmpiricalTarget::new(&data, 4).unwrap();
        let (a, b) = (points.denoise(&rotate(&r, &x), 400.0, &s), rotate(&r, &points.denoise(&x, 400.0, &s)));
        assert!(a.iter().zip(&b).any(|(u, v)| (u - v).abs() > 1e-3), "the point mixture is not equivariant");
        // sampling with it, the equivariant and the quotient DDPM land on rotated copies of the data
        for symmetry in [Symmetry::Equivariant, Symmetry::Quotient] {
            let opts = SampleOptions { seed: 2, ..SampleOptions::new(Method::Ddpm, symmetry, 200, &s) };
            let out = sample(&mut orbit, &s, &opts, 60).unwrap();
            let gap = out
                .samples
                .chunks(12)
                .map(|y| {
                    (0..5)
                        .map(|i| {
                            let p = &orbit.points[i];
                            crate::geometry::align_to(p, y).iter().zip(y).map(|(u, v)| (u - v).powi(2)).sum::<f64>().sqrt() / 2.0
                        })
                        .fold(f64::INFINITY, f64::min)
                })
                .fold(0.0, f64::max);
            assert!(gap < 0.05, "{symmetry:?}: every sample is a rotated data shape: worst RMSD {gap}");
        }
    }

    #[test]
    fn gaussian_target_moments_and_denoiser_limits() {
        let mut g = GaussianTarget::spring_chain(4);
        // path Laplacian eigenvalues 2 − 2cos(kπ/4): tr L⁺ = 2.5, so E[R²] = 7.5
        assert!((g.mean_r2() - 7.5).abs() < 1e-9, "{}", g.mean_r2());
        let s = Schedule::polynomial2(1000, 1e-5);
        let x: Vec<f64> = g.draw();
        // at t = 0 the denoiser is (almost) the identity, at t = T (almost) zero
        let d0 = g.denoise(&x, 0.0, &s);
        assert!(d0.iter().zip(&x).all(|(a, b)| (a - b).abs() < 1e-3));
        assert!(g.denoise(&x, 1000.0, &s).iter().all(|v| v.abs() < 0.05));
        let mut r2 = 0.0;
        for _ in 0..20000 {
            r2 += g.draw().iter().map(|v| v * v).sum::<f64>();
        }
        assert!((r2 / 20000.0 / 7.5 - 1.0).abs() < 0.02);
    }

    #[test]
    fn a_run_in_slices_draws_what_one_call_draws_and_keeps_its_trajectory() {
        let s = Schedule::polynomial2(1000, 1e-5);
        for (method, symmetry) in [(Method::Ddpm, Symmetry::Equivariant), (Method::Heun, Symmetry::Quotient), (Method::Em, Symmetry::Align)] {
            let opts = SampleOptions { seed: 9, ..SampleOptions::new(method, symmetry, 30, &s).gaga(&s, 650.0, 1.2, 5) };
            let whole = sample(&mut GaussianTarget::spring_chain(5), &s, &opts, 6).unwrap();
            let mut g = GaussianTarget::spring_chain(5);
            let mut run = SamplerRun::new(5, &s, &opts, 6, 2).unwrap();
            while !run.done() {
                run.advance(&mut g, &s, 7).unwrap();
            }
            assert_eq!(run.samples(), &whole.samples[..], "{method:?} {symmetry:?}");
            assert_eq!((run.nfe(), run.progress()), (whole.nfe, (30, 30)));
            assert_eq!(run.frames().len(), 31 * 2 * 15, "frames 0..=30 of 2 samples");
            assert_eq!(&run.frames()[30 * 30..], &whole.samples[..30]);
            assert_eq!((run.frame_time(0), run.frame_time(30)), (650.0, 0.0));
        }
        assert!(SamplerRun::new(5, &s, &SampleOptions::new(Method::Ddpm, Symmetry::Equivariant, 10, &s), 1, 1).unwrap().advance(&mut GaussianTarget::spring_chain(4), &s, 1).is_err());
    }

    #[test]
    fn empirical_target_collapses_onto_its_points_at_t_zero_and_samples_them() {
        let mut r = XorShift64::new(3);
        let data: Vec<f64> = (0..5 * 12).map(|_| r.normal()).collect();
        let mut e = EmpiricalTarget::new(&data, 4).unwrap();
        let s = Schedule::polynomial2(1000, 1e-5);
        let p0 = e.points[2].clone();
        let d = e.denoise(&p0, 1.0, &s);
        assert!(d.iter().zip(&p0).all(|(a, b)| (a - b).abs() < 1e-6), "near t = 0 the nearest point wins");
        let opts = SampleOptions { seed: 4, ..SampleOptions::new(Method::Ddpm, Symmetry::Equivariant, 200, &s) };
        let out = sample(&mut e, &s, &opts, 20).unwrap();
        for x in out.samples.chunks(12) {
            let nearest = e.points.iter().map(|p| p.iter().zip(x).map(|(a, b)| (a - b).powi(2)).sum::<f64>()).fold(f64::INFINITY, f64::min);
            assert!(nearest < 1e-3, "samples of the exact empirical score are data points: {nearest}");
            let i = e.nearest(x, false);
            assert!(e.points[i].iter().zip(x).all(|(a, b)| (a - b).abs() < 0.05));
            let turned = crate::geometry::rotate(&crate::geometry::random_rotation(&mut r), x);
            assert_eq!(e.nearest(&turned, true), i, "up to a rotation");
        }
        assert!(EmpiricalTarget::new(&data[..7], 4).is_err());
    }
}
