//! Benchmark energies exactly as the reference code defines them (spec: adjoint-sampling.md §3).
//!
//! Positions are flat, particle-major slices: `x1, y1, (z1,) x2, ...`, one configuration of
//! `n · d` numbers, or a batch of `B` such configurations back to back. Every function here is
//! the f64 CPU oracle the GPU kernel (`gpu::energy`) is tested against.
//!
//! * DW-4: `E = Σ_{i<j} a (d_ij − d0)⁴ + b (d_ij − d0)² + c`, `d_ij = sqrt(|x_i − x_j|² + 1e-8)`.
//! * LJ-n: `E = ε Σ_{i≠j} [(r_m/d_ij)¹² − 2 (r_m/d_ij)⁶] + (k/2) Σ_i |x_i − x̄|²`, ordered pairs
//!   (each pair counted twice), `d_ij = sqrt(|x_i − x_j|² + 1e-6)`.

use serde::Serialize;
use thiserror::Error;

/// Largest particle count any system may have (the GPU kernel keeps a configuration in
/// workgroup memory: `n · d ≤ 3072` floats).
pub const MAX_PARTICLES: usize = 1024;

/// The pair-energy family and its constants.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum Family {
    /// `Σ_{i<j} a (d − d0)⁴ + b (d − d0)² + c`, regulariser `reg` added to `|x_i − x_j|²`.
    DoubleWell { a: f64, b: f64, c: f64, d0: f64, reg: f64 },
    /// `ε Σ_{i≠j} [(r_m/d)¹² − 2 (r_m/d)⁶] + (k/2) Σ |x_i − x̄|²`, regulariser `reg`.
    LennardJones { eps: f64, rm: f64, k: f64, reg: f64 },
}

/// A particle system with a Boltzmann density ∝ exp(−E(x)/τ).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct System {
    pub name: String,
    /// Number of particles.
    pub n: usize,
    /// Spatial dimension (2 or 3).
    pub d: usize,
    /// Temperature τ (1 for every benchmark: it is folded into E).
    pub temperature: f64,
    #[serde(flatten)]
    pub family: Family,
}

/// Errors for user-supplied batches and system names. Messages are shown to users as they are.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum InputError {
    #[error("unknown system '{0}': expected dw4, lj13, lj55 or lj<n> (e.g. lj7, lj38)")]
    UnknownSystem(String),
    #[error("system '{name}' needs 2 ≤ n ≤ {max} particles, got {n}")]
    BadParticleCount { name: String, n: usize, max: usize },
    #[error("empty batch: no positions given (system '{name}' needs {per} numbers per configuration)")]
    EmptyBatch { name: String, per: usize },
    #[error(
        "got {len} numbers, which is not a whole number of configurations of system '{name}' \
         ({n} particles × {d} dims = {per} numbers each)"
    )]
    WrongLength { name: String, len: usize, n: usize, d: usize, per: usize },
    #[error("position {index} (configuration {config}, particle {particle}) is {value}: positions must be finite")]
    NonFinite { index: usize, config: usize, particle: usize, value: f64 },
    #[error("position {index} (configuration {config}, particle {particle}) is {value:e}: coordinates beyond ±{max:e} are not configurations of these systems (and overflow the GPU's f32)")]
    OutOfRange { index: usize, config: usize, particle: usize, value: f64, max: f64 },
}

impl System {
    /// The element symbol a particle of this system is written as (XYZ files, the forward
    /// panel's data set): argon for Lennard-Jones (the classic LJ atom, so molecular viewers draw
    /// it), "X" (a dummy atom) otherwise. The one rule for the CLI and the page.
    pub fn particle_symbol(&self) -> &'static str {
        match self.family {
            Family::LennardJones { .. } => "Ar",
            _ => "X",
        }
    }

    /// DW-4: 4 particles in 2-D, a = 0.9, b = −4, c = 0, d0 = 4.
    pub fn dw4() -> Self {
        System { name: "dw4".into(), n: 4, d: 2, temperature: 1.0, family: Family::DoubleWell { a: 0.9, b: -4.0, c: 0.0, d0: 4.0, reg: 1e-8 } }
    }

    /// LJ-n in 3-D with ε = 1, r_m = 1, k = 1 (the benchmark convention for any n).
    pub fn lj(n: usize) -> Result<Self, InputError> {
        let name = format!("lj{n}");
        if !(2..=MAX_PARTICLES).contains(&n) {
            return Err(InputError::BadParticleCount { name, n, max: MAX_PARTICLES });
        }
        Ok(System { name, n, d: 3, temperature: 1.0, family: Family::LennardJones { eps: 1.0, rm: 1.0, k: 1.0, reg: 1e-6 } })
    }

    pub fn lj13() -> Self {
        Self::lj(13).expect("13 is a valid particle count")
    }

    pub fn lj55() -> Self {
        Self::lj(55).expect("55 is a valid particle count")
    }

    /// `dw4`, `lj13`, `lj55`, or `lj<n>` for a generic Lennard-Jones cluster (case-insensitive,
    /// `-`/`_` ignored, so `LJ-13` works too).
    pub fn by_name(name: &str) -> Result<Self, InputError> {
        let key: String = name.trim().chars().filter(|c| *c != '-' && *c != '_').collect::<String>().to_ascii_lowercase();
        if key == "dw4" {
            return Ok(Self::dw4());
        }
        if let Some(digits) = key.strip_prefix("lj") {
            if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) && digits.len() <= 6 {
                return Self::lj(digits.parse().unwrap_or(0)).map_err(|e| match e {
                    InputError::BadParticleCount { n, max, .. } => InputError::BadParticleCount { name: name.trim().to_string(), n, max },
                    other => other,
                });
            }
        }
        Err(InputError::UnknownSystem(name.to_string()))
    }

    /// Numbers per configuration, `n · d`.
    pub fn dim(&self) -> usize {
        self.n * self.d
    }

    /// Checks a flat batch and returns the number of configurations in it.
    /// Refuses batches that are not configurations: a wrong length, NaN/Inf, or coordinates
    /// beyond ±[`MAX_COORDINATE`](crate::io::MAX_COORDINATE) (the files' bound: finite f64s
    /// past it overflow the f32 the GPU path and the viewer take, and give inf energies).
    pub fn check_batch(&self, xs: &[f64]) -> Result<usize, InputError> {
        check_batch_len(self, xs.len())?;
        self.check_values(xs.iter().copied())?;
        Ok(xs.len() / self.dim())
    }

    /// The same check for f32 input (what the GPU path takes).
    pub fn check_batch_f32(&self, xs: &[f32]) -> Result<usize, InputError> {
        check_batch_len(self, xs.len())?;
        self.check_values(xs.iter().map(|&v| v as f64))?;
        Ok(xs.len() / self.dim())
    }

    /// The values of a batch: all finite (the first NaN/Inf anywhere is named), then all within
    /// ±[`MAX_COORDINATE`](crate::io::MAX_COORDINATE).
    fn check_values(&self, values: impl Iterator<Item = f64> + Clone) -> Result<(), InputError> {
        let (per, d) = (self.dim(), self.d);
        if let Some((index, value)) = values.clone().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(InputError::NonFinite { index, config: index / per, particle: (index % per) / d, value });
        }
        let max = crate::io::MAX_COORDINATE;
        if let Some((index, value)) = values.enumerate().find(|(_, v)| v.abs() > max) {
            return Err(InputError::OutOfRange { index, config: index / per, particle: (index % per) / d, value, max });
        }
        Ok(())
    }

    /// Energy of one configuration (`x.len() == n·d`).
    pub fn energy(&self, x: &[f64]) -> f64 {
        self.eval(x, None)
    }

    /// Energy and its gradient ∇E (the force is −∇E). `grad` is overwritten.
    pub fn energy_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        self.eval(x, Some(grad))
    }

    /// Energies of a checked batch.
    pub fn energies(&self, xs: &[f64]) -> Result<Vec<f64>, InputError> {
        self.check_batch(xs)?;
        Ok(xs.chunks_exact(self.dim()).map(|x| self.energy(x)).collect())
    }

    /// Energies and gradients of a checked batch (gradients flat, same layout as `xs`).
    pub fn energies_grads(&self, xs: &[f64]) -> Result<(Vec<f64>, Vec<f64>), InputError> {
        self.check_batch(xs)?;
        let mut grads = vec![0.0; xs.len()];
        let energies = xs.chunks_exact(self.dim()).zip(grads.chunks_exact_mut(self.dim())).map(|(x, g)| self.energy_grad(x, g)).collect();
        Ok((energies, grads))
    }

    /// Laplacian ΔE = Σ_k ∂²E/∂x_k² (for the configurational temperature ⟨|∇E|²⟩/⟨ΔE⟩).
    pub fn laplacian(&self, x: &[f64]) -> f64 {
        let (n, d) = (self.n, self.d);
        let mut lap = 0.0;
        for i in 0..n {
            for j in (i + 1)..n {
                let r2: f64 = (0..d).map(|k| (x[i * d + k] - x[j * d + k]).powi(2)).sum();
                // with e(s), s = r² + reg: Δ over particle i is 2d·e'(s) + 4 r² e''(s); j the same
                let (de, d2e) = pair_energy_s_derivatives(&self.family, r2);
                lap += 2.0 * (2.0 * d as f64 * de + 4.0 * r2 * d2e);
            }
        }
        if let Family::LennardJones { k, .. } = self.family {
            lap += k * d as f64 * (n as f64 - 1.0);
        }
        lap
    }

    fn eval(&self, x: &[f64], mut grad: Option<&mut [f64]>) -> f64 {
        let (n, d) = (self.n, self.d);
        debug_assert_eq!(x.len(), n * d);
        if let Some(g) = grad.as_deref_mut() {
            g.fill(0.0);
        }
        let mut energy = 0.0;
        for i in 0..n {
            for j in (i + 1)..n {
                let mut diff = [0.0f64; 3];
                let mut r2 = 0.0;
                for k in 0..d {
                    diff[k] = x[i * d + k] - x[j * d + k];
                    r2 += diff[k] * diff[k];
                }
                // `e` is the energy of the unordered pair, `c` the factor with ∂e/∂x_i = c · diff.
                let (e, c) = pair_energy_coef(&self.family, r2);
                energy += e;
                if let Some(g) = grad.as_deref_mut() {
                    for k in 0..d {
                        g[i * d + k] += c * diff[k];
                        g[j * d + k] -= c * diff[k];
                    }
                }
            }
        }
        if let Family::LennardJones { k: stiffness, .. } = self.family {
            if stiffness != 0.0 {
                let mean = crate::geometry::centre_of_mass(x, d);
                for i in 0..n {
                    for k in 0..d {
                        let u = x[i * d + k] - mean[k];
                        energy += 0.5 * stiffness * u * u;
                        if let Some(g) = grad.as_deref_mut() {
                            g[i * d + k] += stiffness * u;
                        }
                    }
                }
            }
        }
        energy
    }
}

fn check_batch_len(sys: &System, len: usize) -> Result<(), InputError> {
    let per = sys.dim();
    if len == 0 {
        return Err(InputError::EmptyBatch { name: sys.name.clone(), per });
    }
    if !len.is_multiple_of(per) {
        return Err(InputError::WrongLength { name: sys.name.clone(), len, n: sys.n, d: sys.d, per });
    }
    Ok(())
}

/// Energy of one unordered pair at squared distance `r2` (before the regulariser), and the
/// coefficient `c` with `∂e/∂x_i = c · (x_i − x_j)`.
pub fn pair_energy_coef(family: &Family, r2: f64) -> (f64, f64) {
    match *family {
        Family::DoubleWell { a, b, c, d0, reg } => {
            let dist = (r2 + reg).sqrt();
            let u = dist - d0;
            let u2 = u * u;
            let e = a * u2 * u2 + b * u2 + c;
            let de_dd = 4.0 * a * u2 * u + 2.0 * b * u;
            (e, de_dd / dist)
        }
        Family::LennardJones { eps, rm, reg, .. } => {
            let s = r2 + reg;
            let q = rm * rm / s; // (r_m/d)²
            let q3 = q * q * q;
            let q6 = q3 * q3;
            // ordered pairs: each unordered pair counted twice
            let e = 2.0 * eps * (q6 - 2.0 * q3);
            // d/ds [q⁶ − 2q³] = −6 (q⁶ − q³)/s and ∂s/∂x_i = 2 (x_i − x_j)
            let c = 2.0 * eps * (-6.0 * (q6 - q3) / s) * 2.0;
            (e, c)
        }
    }
}

/// First and second derivatives of one unordered pair's energy with respect to
/// `s = r² + reg`.
fn pair_energy_s_derivatives(family: &Family, r2: f64) -> (f64, f64) {
    match *family {
        Family::DoubleWell { a, b, d0, reg, .. } => {
            let s = r2 + reg;
            let dist = s.sqrt();
            let u = dist - d0;
            let g1 = 4.0 * a * u.powi(3) + 2.0 * b * u; // de/d(dist)
            let g2 = 12.0 * a * u * u + 2.0 * b; // d²e/d(dist)²
            (g1 / (2.0 * dist), g2 / (4.0 * s) - g1 / (4.0 * s * dist))
        }
        Family::LennardJones { eps, rm, reg, .. } => {
            let s = r2 + reg;
            let m2 = rm * rm;
            // e = 2ε (m2⁶ s⁻⁶ − 2 m2³ s⁻³)
            let e1 = 2.0 * eps * (-6.0 * m2.powi(6) * s.powi(-7) + 6.0 * m2.powi(3) * s.powi(-4));
            let e2 = 2.0 * eps * (42.0 * m2.powi(6) * s.powi(-8) - 24.0 * m2.powi(3) * s.powi(-5));
            (e1, e2)
        }
    }
}

/// Steepest descent with a backtracking line search: a small, dependable local minimiser for
/// presets (icosahedral LJ-13, relaxed DW-4). Returns the final energy.
pub fn relax(sys: &System, x: &mut [f64], max_iter: usize, grad_tol: f64) -> f64 {
    let mut r = Relaxation::new(sys, x.to_vec(), max_iter, grad_tol);
    r.advance(sys, max_iter);
    x.copy_from_slice(&r.x);
    r.energy
}

/// [`relax`] that can stop and go on: [`advance`](Self::advance) takes a number of steps at a
/// time, so the page can spread a big preset's relaxation over turns of its event loop. The
/// steps are the same however they are cut.
pub struct Relaxation {
    x: Vec<f64>,
    g: Vec<f64>,
    trial: Vec<f64>,
    energy: f64,
    step: f64,
    left: usize,
    grad_tol: f64,
    done: bool,
}

impl Relaxation {
    pub fn new(sys: &System, x: Vec<f64>, max_iter: usize, grad_tol: f64) -> Self {
        let mut g = vec![0.0; x.len()];
        let energy = sys.energy_grad(&x, &mut g);
        Relaxation { trial: vec![0.0; x.len()], x, g, energy, step: 1e-2, left: max_iter, grad_tol, done: max_iter == 0 }
    }

    /// Up to `steps` more descent steps; true once converged, stuck or out of steps.
    pub fn advance(&mut self, sys: &System, steps: usize) -> bool {
        for _ in 0..steps {
            if self.done {
                break;
            }
            let gnorm2: f64 = self.g.iter().map(|v| v * v).sum();
            if gnorm2.sqrt() < self.grad_tol {
                self.done = true;
                break;
            }
            loop {
                for ((t, xi), gi) in self.trial.iter_mut().zip(&self.x).zip(&self.g) {
                    *t = xi - self.step * gi;
                }
                let et = sys.energy(&self.trial);
                if et <= self.energy - 1e-4 * self.step * gnorm2 {
                    self.x.copy_from_slice(&self.trial);
                    self.step *= 1.5;
                    break;
                }
                self.step *= 0.5;
                if self.step < 1e-14 {
                    self.done = true;
                    return true;
                }
            }
            self.energy = sys.energy_grad(&self.x, &mut self.g);
            self.left -= 1;
            self.done = self.left == 0;
        }
        self.done
    }
}

/// A low-energy configuration to show for a system: LJ-13 is the relaxed centred icosahedron,
/// other LJ-n a relaxed compact cluster, DW-4 a relaxed square.
pub fn preset_configuration(sys: &System) -> Vec<f64> {
    let mut build = PresetBuild::new(sys);
    while !build.advance(sys, usize::MAX) {}
    build.finish()
}

/// [`preset_configuration`] in slices: [`advance`](Self::advance) takes some descent steps at a
/// time (each costs O(n²)), [`finish`](Self::finish) gives the same configuration.
pub struct PresetBuild {
    /// Starting points not yet relaxed (DW-4 tries 32: its landscape has many local minima).
    starts: std::vec::IntoIter<Vec<f64>>,
    current: Option<Relaxation>,
    best: Option<(f64, Vec<f64>)>,
    max_iter: usize,
    d: usize,
}

impl PresetBuild {
    pub fn new(sys: &System) -> Self {
        let (starts, max_iter) = match sys.family {
            // lowest of 32 relaxations from deterministic random starts (32 find the lowest basin for DW-4 every time)
            Family::DoubleWell { d0, .. } => {
                let mut rng = crate::rng::XorShift64::new(1);
                let starts = (0..32).map(|_| (0..sys.dim()).map(|_| (rng.uniform() - 0.5) * 2.0 * d0).collect::<Vec<f64>>()).collect();
                (starts, 20_000)
            }
            Family::LennardJones { rm, .. } => (vec![compact_cluster(sys.n, rm)], preset_relaxation_steps(sys.n)),
        };
        PresetBuild { starts: Vec::into_iter(starts), current: None, best: None, max_iter, d: sys.d }
    }

    /// Up to `steps` more descent steps (over one start or several); true when done.
    pub fn advance(&mut self, sys: &System, mut steps: usize) -> bool {
        loop {
            if self.current.is_none() {
                let Some(mut x) = self.starts.next() else { return true };
                crate::geometry::remove_com(&mut x, self.d);
                self.current = Some(Relaxation::new(sys, x, self.max_iter, 1e-7));
            }
            let r = self.current.as_mut().expect("set above");
            let before = r.left;
            let done = r.advance(sys, steps);
            steps = steps.saturating_sub((before - r.left).max(1));
            if !done {
                return false;
            }
            let r = self.current.take().expect("set above");
            if self.best.as_ref().is_none_or(|(b, _)| r.energy < *b) {
                self.best = Some((r.energy, r.x));
            }
            if steps == 0 {
                return self.starts.len() == 0;
            }
        }
    }

    /// Advances for about `budget_ms` milliseconds of `clock` (ms), in chunks of ~200 000 pair
    /// terms so that a large system checks the clock often; true when done.
    pub fn advance_for(&mut self, sys: &System, budget_ms: f64, clock: impl Fn() -> f64) -> bool {
        let chunk = (200_000 / (sys.n * sys.n).max(1)).max(1);
        let t0 = clock();
        loop {
            if self.advance(sys, chunk) {
                return true;
            }
            if clock() - t0 >= budget_ms {
                return false;
            }
        }
    }

    /// The relaxed configuration, centred (call once [`advance`](Self::advance) returned true).
    pub fn finish(self) -> Vec<f64> {
        let mut x = self.best.map(|(_, x)| x).unwrap_or_default();
        crate::geometry::remove_com(&mut x, self.d);
        x
    }
}

/// Gradient steps of a preset's relaxation: 20 000, but at most LJ-55's pair work (20 000 × 55²
/// pair terms) for bigger systems, so a link to `lj1024` costs what `lj55` costs instead of
/// 350 times more. Big clusters stay less relaxed.
pub fn preset_relaxation_steps(n: usize) -> usize {
    const WORK: usize = 20_000 * 55 * 55;
    (WORK / (n * n).max(1)).clamp(1, 20_000)
}

/// `batch` configurations scattered around the system's preset with Gaussian noise of scale
/// `spread` (deterministic for a seed): the workload the benchmarks time.
pub fn perturbed_batch(sys: &System, batch: usize, spread: f64, seed: u64) -> Vec<f32> {
    let base = preset_configuration(sys);
    let mut rng = crate::rng::XorShift64::new(seed);
    let mut out = Vec::with_capacity(batch * base.len());
    for _ in 0..batch {
        out.extend(base.iter().map(|&v| (v + spread * rng.normal()) as f32));
    }
    out
}

/// Centre + icosahedron shell for n ≤ 13, then further points on a golden spiral shell.
fn compact_cluster(n: usize, rm: f64) -> Vec<f64> {
    let phi = (1.0 + 5f64.sqrt()) / 2.0;
    let mut pts: Vec<[f64; 3]> = vec![[0.0, 0.0, 0.0]];
    let ico = [
        [0.0, 1.0, phi],
        [0.0, -1.0, phi],
        [0.0, 1.0, -phi],
        [0.0, -1.0, -phi],
        [1.0, phi, 0.0],
        [-1.0, phi, 0.0],
        [1.0, -phi, 0.0],
        [-1.0, -phi, 0.0],
        [phi, 0.0, 1.0],
        [-phi, 0.0, 1.0],
        [phi, 0.0, -1.0],
        [-phi, 0.0, -1.0],
    ];
    let norm = (1.0 + phi * phi).sqrt();
    for v in ico {
        pts.push([v[0] / norm * rm, v[1] / norm * rm, v[2] / norm * rm]);
    }
    let mut shell = 2usize;
    while pts.len() < n {
        let radius = shell as f64 * rm;
        let count = 10 * shell * shell + 2;
        let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
        for m in 0..count {
            let z = 1.0 - 2.0 * (m as f64 + 0.5) / count as f64;
            let r = (1.0 - z * z).sqrt();
            let a = golden * m as f64;
            pts.push([radius * r * a.cos(), radius * r * a.sin(), radius * z]);
        }
        shell += 1;
    }
    pts.truncate(n);
    pts.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::XorShift64;

    fn random_config(sys: &System, scale: f64, rng: &mut XorShift64) -> Vec<f64> {
        (0..sys.dim()).map(|_| (2.0 * rng.uniform() - 1.0) * scale).collect()
    }

    fn fd_check(sys: &System, x: &[f64], rel_tol: f64) {
        let mut g = vec![0.0; x.len()];
        sys.energy_grad(x, &mut g);
        let h = 1e-6;
        let scale = g.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for i in 0..x.len() {
            let mut xp = x.to_vec();
            let mut xm = x.to_vec();
            xp[i] += h;
            xm[i] -= h;
            let fd = (sys.energy(&xp) - sys.energy(&xm)) / (2.0 * h);
            assert!((fd - g[i]).abs() <= rel_tol * scale, "{}: coordinate {i}: analytic {} vs finite difference {fd}", sys.name, g[i]);
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = XorShift64::new(7);
        for sys in [System::dw4(), System::lj13(), System::lj55(), System::lj(7).unwrap()] {
            let scale = if sys.d == 2 { 4.0 } else { 0.9 * (sys.n as f64).cbrt() };
            for _ in 0..3 {
                let mut x = random_config(&sys, scale, &mut rng);
                // push apart anything too close so the finite difference stays well conditioned
                relax_overlaps(&sys, &mut x);
                fd_check(&sys, &x, 1e-5);
            }
        }
    }

    fn relax_overlaps(sys: &System, x: &mut [f64]) {
        for _ in 0..50 {
            let mut moved = false;
            for i in 0..sys.n {
                for j in 0..i {
                    let mut r2 = 0.0;
                    for k in 0..sys.d {
                        r2 += (x[i * sys.d + k] - x[j * sys.d + k]).powi(2);
                    }
                    if r2 < 0.64 {
                        x[i * sys.d] += 0.9;
                        moved = true;
                    }
                }
            }
            if !moved {
                break;
            }
        }
    }

    #[test]
    fn laplacian_matches_finite_differences() {
        let mut rng = XorShift64::new(11);
        for sys in [System::dw4(), System::lj13(), System::lj(5).unwrap()] {
            let scale = if sys.d == 2 { 4.0 } else { 1.2 };
            let mut x = random_config(&sys, scale, &mut rng);
            relax_overlaps(&sys, &mut x);
            let h = 1e-4;
            let e0 = sys.energy(&x);
            let mut fd = 0.0;
            for k in 0..x.len() {
                let mut xp = x.clone();
                let mut xm = x.clone();
                xp[k] += h;
                xm[k] -= h;
                fd += (sys.energy(&xp) - 2.0 * e0 + sys.energy(&xm)) / (h * h);
            }
            let lap = sys.laplacian(&x);
            assert!((lap - fd).abs() < 1e-4 * lap.abs().max(1.0), "{}: ΔE {lap} vs finite difference {fd}", sys.name);
        }
    }

    #[test]
    fn double_well_matches_hand_computation() {
        let sys = System::dw4();
        // unit square of side 4: four sides at d = 4 (u = 0) and two diagonals at 4√2
        let x = [0.0, 0.0, 4.0, 0.0, 4.0, 4.0, 0.0, 4.0];
        let u_side = (16.0f64 + 1e-8).sqrt() - 4.0;
        let u_diag = (32.0f64 + 1e-8).sqrt() - 4.0;
        let phi = |u: f64| 0.9 * u.powi(4) - 4.0 * u.powi(2);
        let expected = 4.0 * phi(u_side) + 2.0 * phi(u_diag);
        assert!((sys.energy(&x) - expected).abs() < 1e-12);
    }

    #[test]
    fn lennard_jones_counts_ordered_pairs_and_tethers_to_the_centre() {
        let sys = System::lj(2).unwrap();
        // two particles at distance 1 (the pair minimum r_m): pair energy −1 counted twice,
        // plus ½·(0.5² + 0.5²) from the harmonic tether
        let x = [0.0, 0.0, 0.0, 1.0, 0.0, 0.0];
        let s: f64 = 1.0 + 1e-6;
        let pair = s.powi(-6) - 2.0 * s.powi(-3);
        assert!((sys.energy(&x) - (2.0 * pair + 0.25)).abs() < 1e-12);
    }

    #[test]
    fn lj13_icosahedron_relaxes_to_the_known_global_minimum() {
        // Without the tether the benchmark LJ is 4ε'[(σ'/r)¹² − (σ'/r)⁶] with ε' = 2, so the
        // LJ-13 global minimum is 2 × (−44.326801) (Cambridge Cluster Database).
        let sys = System { family: Family::LennardJones { eps: 1.0, rm: 1.0, k: 0.0, reg: 0.0 }, ..System::lj13() };
        let e = energy_of_preset(&sys);
        assert!((e - 2.0 * -44.326801).abs() < 1e-4, "E = {e}");
        // with the benchmark's tether (and regulariser) the minimum is a little higher
        let bench = System::lj13();
        let x = preset_configuration(&bench);
        let e_bench = bench.energy(&x);
        assert!(e_bench > e && e_bench < e + 10.0, "E = {e_bench}");
        let mut g = vec![0.0; x.len()];
        bench.energy_grad(&x, &mut g);
        assert!(g.iter().all(|v| v.abs() < 1e-5));
    }

    fn energy_of_preset(sys: &System) -> f64 {
        sys.energy(&preset_configuration(sys))
    }

    #[test]
    fn dw4_preset_sits_in_a_well() {
        let sys = System::dw4();
        let x = preset_configuration(&sys);
        // the test set spans [−25.7, −11.8]; a minimum is at or below its lowest energies
        assert!(sys.energy(&x) < -25.0, "E = {}", sys.energy(&x));
    }

    #[test]
    fn energies_are_translation_and_rotation_invariant() {
        let mut rng = XorShift64::new(3);
        let sys = System::lj13();
        let x = random_config(&sys, 1.5, &mut rng);
        let (c, s) = (0.3f64.cos(), 0.3f64.sin());
        let moved: Vec<f64> = x.chunks(3).flat_map(|p| [c * p[0] - s * p[1] + 2.0, s * p[0] + c * p[1] - 1.0, p[2] + 0.5]).collect();
        assert!((sys.energy(&x) - sys.energy(&moved)).abs() < 1e-9 * sys.energy(&x).abs().max(1.0));
    }

    #[test]
    fn coincident_particles_give_finite_energies_and_gradients() {
        for sys in [System::dw4(), System::lj13(), System::lj55()] {
            let x = vec![0.25; sys.dim()];
            let mut g = vec![0.0; sys.dim()];
            let e = sys.energy_grad(&x, &mut g);
            assert!(e.is_finite(), "{}: E = {e}", sys.name);
            assert!(g.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn names_parse_and_bad_names_are_explained() {
        assert_eq!(System::by_name("LJ-13").unwrap(), System::lj13());
        assert_eq!(System::by_name("lj38").unwrap().n, 38);
        assert_eq!(System::by_name(" dw4 ").unwrap(), System::dw4());
        assert!(matches!(System::by_name("water"), Err(InputError::UnknownSystem(_))));
        assert!(matches!(System::by_name("lj1"), Err(InputError::BadParticleCount { n: 1, .. })));
        assert!(matches!(System::by_name("lj999999"), Err(InputError::BadParticleCount { .. })));
        assert!(matches!(System::by_name("lj"), Err(InputError::UnknownSystem(_))));
        let msg = System::by_name("lj0").unwrap_err().to_string();
        assert!(msg.contains("2 ≤ n"), "{msg}");
    }

    #[test]
    fn big_presets_relax_within_lj55s_work_and_stay_compact() {
        assert_eq!(preset_relaxation_steps(13), 20_000);
        assert_eq!(preset_relaxation_steps(55), 20_000);
        assert_eq!(preset_relaxation_steps(256), 923);
        assert_eq!(preset_relaxation_steps(1024), 57);
        let sys = System::by_name("lj256").unwrap();
        let x = preset_configuration(&sys);
        let e = sys.energy(&x);
        // a compact cluster well below zero (pairs near the minimum), finite, centred
        assert!(e.is_finite() && e < -1000.0, "lj256 preset energy {e}");
        assert!(crate::geometry::radius_about_com(&x, 3) < 8.0);
    }

    #[test]
    fn a_preset_built_in_slices_is_the_one_built_at_once() {
        // what the page does (a few steps per turn of its event loop) against what the CLI does
        for name in ["dw4", "lj13", "lj100"] {
            let sys = System::by_name(name).unwrap();
            let mut build = PresetBuild::new(&sys);
            let mut slices = 0;
            while !build.advance(&sys, 97) {
                slices += 1;
            }
            assert!(slices > 3, "{name}: {slices} slices");
            assert_eq!(build.finish(), preset_configuration(&sys), "{name}");
        }
        // the page's budgeted slices (a clock that moves 1 ms per reading, 5 ms a slice)
        let sys = System::by_name("lj100").unwrap();
        let (mut build, ms, mut slices) = (PresetBuild::new(&sys), std::cell::Cell::new(0.0), 0);
        while !build.advance_for(&sys, 5.0, || {
            ms.set(ms.get() + 1.0);
            ms.get()
        }) {
            slices += 1;
        }
        assert!(slices > 1, "{slices} slices");
        assert_eq!(build.finish(), preset_configuration(&sys));
        // and relax() is Relaxation run to the end
        let sys = System::lj13();
        let mut x = compact_cluster(13, 1.0);
        let mut r = Relaxation::new(&sys, x.clone(), 500, 1e-7);
        while !r.advance(&sys, 11) {}
        assert_eq!(relax(&sys, &mut x, 500, 1e-7), r.energy);
        assert_eq!(x, r.x);
    }

    #[test]
    fn bad_batches_are_rejected_with_their_reason() {
        let sys = System::dw4();
        assert!(matches!(sys.energies(&[]), Err(InputError::EmptyBatch { .. })));
        assert!(matches!(sys.energies(&[0.0; 9]), Err(InputError::WrongLength { len: 9, per: 8, .. })));
        let mut x = vec![1.0; 16];
        x[13] = f64::NAN;
        match sys.energies(&x) {
            Err(InputError::NonFinite { index: 13, config: 1, particle: 2, .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
        x[13] = f64::INFINITY;
        assert!(sys.energies(&x).unwrap_err().to_string().contains("inf"));
        // finite but past the files' bound (and f32): refused, not an inf energy
        x[13] = 1e200;
        let err = sys.energies(&x).unwrap_err();
        assert!(matches!(err, InputError::OutOfRange { index: 13, config: 1, particle: 2, .. }), "{err:?}");
        assert!(err.to_string().contains("1e200") && err.to_string().contains("beyond ±1e6"), "{err}");
        x[13] = -1e6;
        assert!(sys.energies(&x).is_ok(), "the bound itself is a configuration");
        assert_eq!(sys.energies(&[1.0; 24]).unwrap().len(), 3);
        // the GPU path's f32 twin keeps the same bound
        let mut y = vec![1.0f32; 16];
        y[13] = 3e7;
        assert!(matches!(sys.check_batch_f32(&y), Err(InputError::OutOfRange { index: 13, config: 1, particle: 2, .. })));
        y[13] = -1e6;
        assert_eq!(sys.check_batch_f32(&y).unwrap(), 2);
    }
}
