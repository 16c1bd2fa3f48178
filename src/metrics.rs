//! Sample-quality metrics on flat batches: exact 1-D Wasserstein-2 (energies, pooled
//! interatomic distances), the virial check and the configurational temperature.
//! (The field's sample W2 with Hungarian matching + Kabsch + exact OT joins this module.)

use crate::energies::{InputError, System};

/// Most interatomic distances pooled per side for the distance W2 (16.8 M, 134 MB of f64):
/// beyond it the distance W2 uses evenly spaced configurations (`distance_w2_n` says how many).
/// Without it `molplay eval` on LJ-1024 pooled 523 776 distances per configuration, > 6 GB.
pub const MAX_POOLED_DISTANCES: usize = 1 << 24;

/// Budget of the sample W2, in units of one particle-matching step: k² Hungarian matchings of
/// n particles cost about k²·n³ (measured: 0.85 s per matching of 1024 particles). Beyond it
/// fewer configurations per side are used ([`sample_w2_limit`]; `sample_w2_n` says how many):
/// LJ-13 gets 4770, LJ-55 548 (the CLI's default 500 in seconds), LJ-1024 6 (half a minute)
/// instead of 500² matchings, days of work.
pub const MAX_SAMPLE_W2_WORK: f64 = 5e10;

/// Most configurations per side of the sample W2 (its k × k cost matrix: 200 MB at 5000).
pub const MAX_SAMPLE_W2_N: usize = 5000;

/// Why a metric could not be computed.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum MetricsError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{what} is {value}: the configurations are too far apart for finite metrics (coordinates up to ±{limit:e} are read from files)", limit = crate::io::MAX_COORDINATE)]
    NonFinite { what: &'static str, value: f64 },
    #[error("the sample W2's assignment failed ({0}): the configurations are too far apart for a finite cost")]
    Assignment(&'static str),
}

fn assignment_error(e: lsap::LSAPError) -> MetricsError {
    MetricsError::Assignment(match e {
        lsap::LSAPError::Invalid => "the cost matrix is not finite",
        lsap::LSAPError::Infeasible => "no assignment exists",
    })
}

/// Configurations per side the sample W2 of `n`-particle systems may use within
/// [`MAX_SAMPLE_W2_WORK`] and [`MAX_SAMPLE_W2_N`] (at least 1).
pub fn sample_w2_limit(n: usize) -> usize {
    let by_work = (MAX_SAMPLE_W2_WORK / (n.max(1) as f64).powi(3)).sqrt().floor() as usize;
    by_work.clamp(1, MAX_SAMPLE_W2_N)
}

/// Configurations per side the distance W2 of `n`-particle systems pools within
/// [`MAX_POOLED_DISTANCES`] (at least 1).
pub fn distance_w2_limit(n: usize) -> usize {
    (MAX_POOLED_DISTANCES / (n * n.saturating_sub(1) / 2).max(1)).max(1)
}

/// Exact W2 between two 1-D empirical distributions with uniform weights (sizes may differ):
/// the L2 distance between their quantile functions. NaNs are not allowed (callers check).
pub fn w2_1d(a: &[f64], b: &[f64]) -> f64 {
    assert!(!a.is_empty() && !b.is_empty(), "W2 needs two non-empty samples");
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by(|x, y| x.total_cmp(y));
    b.sort_by(|x, y| x.total_cmp(y));
    let (wa, wb) = (1.0 / a.len() as f64, 1.0 / b.len() as f64);
    let (mut i, mut j) = (0, 0);
    let (mut ra, mut rb) = (wa, wb); // mass left in the current atoms
    let mut cost = 0.0;
    while i < a.len() && j < b.len() {
        let m = ra.min(rb);
        cost += m * (a[i] - b[j]).powi(2);
        ra -= m;
        rb -= m;
        if ra <= 1e-15 {
            i += 1;
            ra = wa;
        }
        if rb <= 1e-15 {
            j += 1;
            rb = wb;
        }
    }
    cost.max(0.0).sqrt()
}

/// All interatomic distances of every configuration, pooled.
pub fn pairwise_distances(xs: &[f64], n: usize, d: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(xs.len() / (n * d) * n * (n - 1) / 2);
    for x in xs.chunks_exact(n * d) {
        for i in 0..n {
            for j in (i + 1)..n {
                out.push((0..d).map(|k| (x[i * d + k] - x[j * d + k]).powi(2)).sum::<f64>().sqrt());
            }
        }
    }
    out
}

/// Virial ⟨x·∇E⟩ over CoM-centred configurations; at equilibrium it equals (n−1)·d·τ.
pub fn virial(sys: &System, xs: &[f64]) -> f64 {
    let dim = sys.dim();
    let mut g = vec![0.0; dim];
    let mut sum = 0.0;
    for x in xs.chunks_exact(dim) {
        let mut c = x.to_vec();
        crate::geometry::remove_com(&mut c, sys.d);
        sys.energy_grad(&c, &mut g);
        sum += c.iter().zip(&g).map(|(a, b)| a * b).sum::<f64>();
    }
    sum / (xs.len() / dim) as f64
}

/// Configurational temperature ⟨|∇E|²⟩ / ⟨ΔE⟩ (Stein identity); at equilibrium it equals τ.
pub fn configurational_temperature(sys: &System, xs: &[f64]) -> f64 {
    let dim = sys.dim();
    let mut g = vec![0.0; dim];
    let (mut num, mut den) = (0.0, 0.0);
    for x in xs.chunks_exact(dim) {
        sys.energy_grad(x, &mut g);
        num += g.iter().map(|v| v * v).sum::<f64>();
        den += sys.laplacian(x);
    }
    num / den
}

/// Mean and (population) standard deviation.
pub fn mean_sd(v: &[f64]) -> (f64, f64) {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64;
    (m, var.sqrt())
}

/// Everything `molplay eval` and the page's `metrics()` report for a sample set against a
/// reference set of the same system.
#[derive(Clone, Debug, serde::Serialize, PartialEq)]
pub struct Comparison {
    pub system: String,
    pub samples: usize,
    pub reference: usize,
    pub energy_w2: f64,
    pub distance_w2: f64,
    /// Configurations per side pooled for the distance W2: all, or evenly spaced ones within
    /// [`MAX_POOLED_DISTANCES`].
    pub distance_w2_n: usize,
    /// The field's sample W2 on `sample_w2_n` evenly spaced configurations per side (none if 0).
    pub sample_w2: Option<f64>,
    pub sample_w2_n: usize,
    pub energy_mean: f64,
    pub energy_sd: f64,
    pub reference_energy_mean: f64,
    pub reference_energy_sd: f64,
    pub virial: f64,
    pub reference_virial: f64,
    pub virial_expected: f64,
    pub temperature: f64,
    pub reference_temperature: f64,
    pub temperature_expected: f64,
}

/// Compares flat sample sets `xs` and `ys` of `sys` (checked first). The sample W2 uses at
/// most [`sample_w2_limit`] configurations per side and the distance W2 at most
/// [`distance_w2_limit`] (evenly spaced; the result says how many). A metric that comes out
/// non-finite (configurations absurdly far apart) is an error, never an `inf` or a NaN.
pub fn compare(sys: &System, xs: &[f64], ys: &[f64], sample_w2_n: usize) -> Result<Comparison, MetricsError> {
    let (ex, ey) = (sys.energies(xs)?, sys.energies(ys)?);
    let ((ms, ss), (mr, sr)) = (mean_sd(&ex), mean_sd(&ey));
    let k = sample_w2_n.min(ex.len()).min(ey.len()).min(sample_w2_limit(sys.n));
    let kd = distance_w2_limit(sys.n);
    let pooled = |v: &[f64]| pairwise_distances(&subsample(v, sys.dim(), kd), sys.n, sys.d);
    let sample_w2 = match k {
        0 => None,
        _ => Some(sample_w2(&subsample(xs, sys.dim(), k), &subsample(ys, sys.dim(), k), sys.n, sys.d)?),
    };
    let c = Comparison {
        system: sys.name.clone(),
        samples: ex.len(),
        reference: ey.len(),
        energy_w2: w2_1d(&ex, &ey),
        distance_w2: w2_1d(&pooled(xs), &pooled(ys)),
        distance_w2_n: kd.min(ex.len().max(ey.len())),
        sample_w2,
        sample_w2_n: k,
        energy_mean: ms,
        energy_sd: ss,
        reference_energy_mean: mr,
        reference_energy_sd: sr,
        virial: virial(sys, xs),
        reference_virial: virial(sys, ys),
        virial_expected: ((sys.n - 1) * sys.d) as f64 * sys.temperature,
        temperature: configurational_temperature(sys, xs),
        reference_temperature: configurational_temperature(sys, ys),
        temperature_expected: sys.temperature,
    };
    let figures = [
        ("the energy W2", c.energy_w2),
        ("the distance W2", c.distance_w2),
        ("the sample W2", c.sample_w2.unwrap_or(0.0)),
        ("the samples' mean energy", c.energy_mean),
        ("the samples' energy spread", c.energy_sd),
        ("the reference's mean energy", c.reference_energy_mean),
        ("the reference's energy spread", c.reference_energy_sd),
        ("the samples' virial", c.virial),
        ("the reference's virial", c.reference_virial),
        ("the samples' configurational temperature", c.temperature),
        ("the reference's configurational temperature", c.reference_temperature),
    ];
    if let Some(&(what, value)) = figures.iter().find(|(_, v)| !v.is_finite()) {
        return Err(MetricsError::NonFinite { what, value });
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn w2_1d_known_values() {
        assert_eq!(w2_1d(&[1.0, 2.0, 3.0], &[3.0, 1.0, 2.0]), 0.0);
        assert!((w2_1d(&[0.0, 1.0], &[2.0, 3.0]) - 2.0).abs() < 1e-12, "a shift by 2");
        // unequal sizes: {0, 1} vs {0.5}: each half of the mass moves 0.5
        assert!((w2_1d(&[0.0, 1.0], &[0.5]) - 0.5).abs() < 1e-12);
        // {0,0,3} vs {0,3}: 1/6 of the mass moves 3 → W2² = 1.5
        assert!((w2_1d(&[0.0, 0.0, 3.0], &[0.0, 3.0]) - 1.5f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn distances_are_pooled_per_pair() {
        let d = pairwise_distances(&[0.0, 0.0, 3.0, 4.0, 0.0, 0.0, 1.0, 0.0], 2, 2);
        assert_eq!(d, vec![5.0, 1.0]);
    }
}

/// Sum of the singular values of a d×d matrix (d = 2 or 3): the trace norm, via the
/// eigenvalues of HᵀH (closed form for symmetric 2×2 and 3×3).
fn trace_norm(h: &[[f64; 3]; 3], d: usize) -> f64 {
    let mut m = [[0.0; 3]; 3]; // HᵀH
    for i in 0..d {
        for j in 0..d {
            m[i][j] = (0..d).map(|k| h[k][i] * h[k][j]).sum();
        }
    }
    let eig = if d == 2 {
        let (a, b, c) = (m[0][0], m[0][1], m[1][1]);
        let mid = 0.5 * (a + c);
        let rad = (0.25 * (a - c).powi(2) + b * b).sqrt();
        vec![mid + rad, mid - rad]
    } else {
        // trigonometric method for symmetric 3×3 (Smith 1961)
        let p1 = m[0][1].powi(2) + m[0][2].powi(2) + m[1][2].powi(2);
        let q = (m[0][0] + m[1][1] + m[2][2]) / 3.0;
        if p1 <= 1e-300 {
            vec![m[0][0], m[1][1], m[2][2]]
        } else {
            let p2 = (m[0][0] - q).powi(2) + (m[1][1] - q).powi(2) + (m[2][2] - q).powi(2) + 2.0 * p1;
            let p = (p2 / 6.0).sqrt();
            let mut b = [[0.0; 3]; 3];
            for i in 0..3 {
                for j in 0..3 {
                    b[i][j] = (m[i][j] - if i == j { q } else { 0.0 }) / p;
                }
            }
            let det_b = b[0][0] * (b[1][1] * b[2][2] - b[1][2] * b[2][1]) - b[0][1] * (b[1][0] * b[2][2] - b[1][2] * b[2][0]) + b[0][2] * (b[1][0] * b[2][1] - b[1][1] * b[2][0]);
            let phi = (det_b / 2.0).clamp(-1.0, 1.0).acos() / 3.0;
            let e1 = q + 2.0 * p * phi.cos();
            let e3 = q + 2.0 * p * (phi + 2.0 * std::f64::consts::PI / 3.0).cos();
            vec![e1, 3.0 * q - e1 - e3, e3]
        }
    };
    eig.iter().map(|&e| e.max(0.0).sqrt()).sum()
}

/// The field's distance between two configurations (x, y CoM-centred): permute y's particles
/// by Hungarian matching on the particle distance matrix, then align with the best orthogonal
/// map (Kabsch, reflections allowed), and take the Euclidean norm of the difference.
pub fn aligned_distance(x: &[f64], y: &[f64], n: usize, d: usize) -> Result<f64, MetricsError> {
    let mut cost = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            cost[i * n + j] = (0..d).map(|k| (x[i * d + k] - y[j * d + k]).powi(2)).sum::<f64>().sqrt();
        }
    }
    if !cost.iter().all(|c| c.is_finite()) {
        return Err(MetricsError::Assignment("a particle distance is not finite"));
    }
    let (_, perm) = lsap::solve(n, n, &cost, false).map_err(assignment_error)?;
    let mut h = [[0.0; 3]; 3]; // Σ_i x_i (P y)_iᵀ
    let (mut xx, mut yy) = (0.0, 0.0);
    for i in 0..n {
        let (xi, yi) = (&x[i * d..i * d + d], &y[perm[i] * d..perm[i] * d + d]);
        for a in 0..d {
            xx += xi[a] * xi[a];
            yy += yi[a] * yi[a];
            for b in 0..d {
                h[a][b] += xi[a] * yi[b];
            }
        }
    }
    let dist = (xx + yy - 2.0 * trace_norm(&h, d)).max(0.0).sqrt();
    if !dist.is_finite() {
        return Err(MetricsError::NonFinite { what: "an aligned distance", value: dist });
    }
    Ok(dist)
}

/// The field's sample W2 between two equal-size sets of configurations: CoM-centre both, cost
/// M_ij = [`aligned_distance`], then exact optimal transport with uniform weights, which for
/// equal sizes is an assignment problem; returns sqrt(mean of the assigned M²). Fails (never
/// panics) when the costs are not finite.
pub fn sample_w2(xs: &[f64], ys: &[f64], n: usize, d: usize) -> Result<f64, MetricsError> {
    let per = (n * d).max(1);
    let (na, nb) = (xs.len() / per, ys.len() / per);
    if na != nb || na == 0 {
        return Err(MetricsError::Assignment("the sample W2 needs two non-empty sets of equal size"));
    }
    let centre = |v: &[f64]| -> Vec<Vec<f64>> {
        v.chunks_exact(per)
            .map(|c| {
                let mut c = c.to_vec();
                crate::geometry::remove_com(&mut c, d);
                c
            })
            .collect()
    };
    let (a, b) = (centre(xs), centre(ys));
    let mut m2 = vec![0.0; na * na];
    for i in 0..na {
        for j in 0..na {
            m2[i * na + j] = aligned_distance(&a[i], &b[j], n, d)?.powi(2);
        }
    }
    if !m2.iter().all(|c| c.is_finite()) {
        return Err(MetricsError::NonFinite { what: "a squared aligned distance", value: f64::INFINITY });
    }
    let total = lsap::get_assigned_cost(na, na, &m2, false).map_err(assignment_error)?;
    let w2 = (total / na as f64).max(0.0).sqrt();
    if !w2.is_finite() {
        return Err(MetricsError::NonFinite { what: "the sample W2", value: w2 });
    }
    Ok(w2)
}

/// Mean square coordinate (per coordinate) of flat configurations: a CoM-free data set's
/// variance per coordinate, GAGA's v̂.
pub fn mean_square(xs: &[f64]) -> f64 {
    xs.iter().map(|x| x * x).sum::<f64>() / xs.len().max(1) as f64
}

/// Quality of generated 3-D configurations against reference ones of the same atom count:
/// pooled interatomic-distance W2, and E[Σ|x_i|²] (CoM-free) of both.
#[derive(Clone, Debug, serde::Serialize, PartialEq)]
pub struct GenerationQuality {
    pub distance_w2: f64,
    pub mean_r2: f64,
    pub reference_mean_r2: f64,
}

impl GenerationQuality {
    pub fn new(samples: &[f64], reference: &[f64], n: usize) -> Self {
        let dist = |xs: &[f64]| pairwise_distances(xs, n, 3);
        let r2 = |xs: &[f64]| xs.chunks(3 * n).map(|x| x.iter().map(|v| v * v).sum::<f64>()).sum::<f64>() / (xs.len() / (3 * n)).max(1) as f64;
        GenerationQuality { distance_w2: w2_1d(&dist(samples), &dist(reference)), mean_r2: r2(samples), reference_mean_r2: r2(reference) }
    }
}

/// Every `len / k`-th configuration (deterministic subsample of `k`; all if `k ≥ len`).
pub fn subsample(xs: &[f64], per: usize, k: usize) -> Vec<f64> {
    let len = xs.len() / per;
    if k >= len {
        return xs.to_vec();
    }
    (0..k).flat_map(|i| xs[(i * len / k) * per..(i * len / k + 1) * per].iter().copied()).collect()
}

/// Typical bond lengths in pm (EDM's `bond_analysis` tables for QM9's H, C, N, O, F: single,
/// double, triple) and the margins a distance may exceed them by.
const SINGLE: [[f64; 5]; 5] =
    [[74.0, 109.0, 101.0, 96.0, 92.0], [109.0, 154.0, 147.0, 143.0, 135.0], [101.0, 147.0, 145.0, 140.0, 136.0], [96.0, 143.0, 140.0, 148.0, 142.0], [92.0, 135.0, 136.0, 142.0, 142.0]];
const DOUBLE: [[f64; 5]; 5] = [[0.0; 5], [0.0, 134.0, 129.0, 120.0, 0.0], [0.0, 129.0, 125.0, 121.0, 0.0], [0.0, 120.0, 121.0, 121.0, 0.0], [0.0; 5]];
const TRIPLE: [[f64; 5]; 5] = [[0.0; 5], [0.0, 120.0, 116.0, 113.0, 0.0], [0.0, 116.0, 110.0, 0.0, 0.0], [0.0, 113.0, 0.0, 0.0, 0.0], [0.0; 5]];
const MARGINS: [f64; 3] = [10.0, 5.0, 3.0];
/// Allowed valence of H, C, N, O, F.
const VALENCE: [usize; 5] = [1, 4, 3, 2, 1];

/// EDM's bond order from a distance in Å between elements `a`, `b` (indices into H, C, N, O, F):
/// triple if within the triple length + 3 pm, else double within + 5 pm, else single within
/// + 10 pm, else no bond.
pub fn bond_order(a: usize, b: usize, dist_angstrom: f64) -> usize {
    let d = 100.0 * dist_angstrom;
    if d < SINGLE[a][b] + MARGINS[0] {
        if DOUBLE[a][b] > 0.0 && d < DOUBLE[a][b] + MARGINS[1] {
            if TRIPLE[a][b] > 0.0 && d < TRIPLE[a][b] + MARGINS[2] {
                return 3;
            }
            return 2;
        }
        return 1;
    }
    0
}

/// Atom and molecule stability as EDM defines them: an atom is stable when the bond orders
/// inferred from distances add up to its valence; a molecule when all its atoms are.
#[derive(Clone, Debug, Default, serde::Serialize, PartialEq)]
pub struct Stability {
    pub molecules: usize,
    pub atoms: usize,
    pub stable_atoms: usize,
    pub stable_molecules: usize,
    /// Molecules with elements outside H, C, N, O, F (not judged).
    pub skipped: usize,
}

impl Stability {
    pub fn atom_fraction(&self) -> f64 {
        self.stable_atoms as f64 / self.atoms.max(1) as f64
    }

    pub fn molecule_fraction(&self) -> f64 {
        self.stable_molecules as f64 / self.molecules.max(1) as f64
    }

    /// Stability of flat samples of `n` atoms each (Å), sample i with `elements[i]`.
    pub fn of<E: AsRef<[String]>>(samples: &[f64], n: usize, elements: &[E]) -> Self {
        let mut s = Stability::default();
        for (x, e) in samples.chunks(3 * n).zip(elements) {
            s.add(e.as_ref(), x);
        }
        s
    }

    /// Adds one molecule (element symbols, positions in Å, flat N × 3).
    pub fn add(&mut self, elements: &[String], positions: &[f64]) {
        let idx: Option<Vec<usize>> = elements.iter().map(|e| ["H", "C", "N", "O", "F"].iter().position(|q| q.eq_ignore_ascii_case(e))).collect();
        let Some(idx) = idx else {
            self.skipped += 1;
            return;
        };
        let n = idx.len();
        let mut order = vec![0usize; n];
        for i in 0..n {
            for j in i + 1..n {
                let d = (0..3).map(|k| (positions[3 * i + k] - positions[3 * j + k]).powi(2)).sum::<f64>().sqrt();
                let o = bond_order(idx[i], idx[j], d);
                order[i] += o;
                order[j] += o;
            }
        }
        let stable = (0..n).filter(|&i| order[i] == VALENCE[idx[i]]).count();
        self.molecules += 1;
        self.atoms += n;
        self.stable_atoms += stable;
        self.stable_molecules += (stable == n) as usize;
    }
}

#[cfg(test)]
mod sample_w2_tests {
    use super::*;

    fn rotate3(p: &[f64], angle: f64, reflect: bool) -> Vec<f64> {
        let (c, s) = (angle.cos(), angle.sin());
        p.chunks(3).flat_map(|v| [c * v[0] - s * v[1], s * v[0] + c * v[1], if reflect { -v[2] } else { v[2] }]).collect()
    }

    fn cluster(seed: u64) -> Vec<f64> {
        crate::energies::perturbed_batch(&crate::energies::System::lj13(), 1, 0.3, seed).iter().map(|&v| v as f64).collect()
    }

    #[test]
    fn aligned_distance_ignores_permutation_translation_and_small_rotations() {
        let mut xc = cluster(1);
        crate::geometry::remove_com(&mut xc, 3);
        // permuted (reversed) and translated, then re-centred as the metric's callers do
        let mut yp: Vec<f64> = xc.chunks(3).rev().flat_map(|p| [p[0] + 3.0, p[1] - 1.0, p[2]]).collect();
        crate::geometry::remove_com(&mut yp, 3);
        assert!(aligned_distance(&xc, &yp, 13, 3).unwrap() < 1e-6);
        // a small rotation keeps the matching, and Kabsch removes it
        let rotated = rotate3(&xc, 0.05, false);
        assert!(aligned_distance(&xc, &rotated, 13, 3).unwrap() < 1e-6);
        // a mirror image in the plane z = 0 of a flat-ish copy: reflections are allowed
        let flat: Vec<f64> = xc.chunks(3).flat_map(|p| [p[0], p[1], 0.01 * p[2]]).collect();
        assert!(aligned_distance(&flat, &rotate3(&flat, 0.0, true), 13, 3).unwrap() < 1e-6);
        // a scaled copy is |1 − s|·|x| away (the best orthogonal map is the identity)
        let y: Vec<f64> = xc.iter().map(|v| 1.1 * v).collect();
        let norm = xc.iter().map(|v| v * v).sum::<f64>().sqrt();
        assert!((aligned_distance(&xc, &y, 13, 3).unwrap() - 0.1 * norm).abs() < 1e-9);
    }

    /// Issue 16, case 1: one configuration at ±1e200 made the assignment fail and `expect`
    /// panicked (in the page under a borrow, freezing the tab); `compare` gave inf / NaN.
    #[test]
    fn huge_coordinates_are_an_error_not_a_panic_or_an_inf() {
        let sys = crate::energies::System::lj13();
        let xs: Vec<f64> = (1..=4).flat_map(cluster).collect();
        let mut ys = xs.clone();
        ys[7] = 1e200;
        assert!(matches!(sample_w2(&xs, &ys, 13, 3), Err(MetricsError::Assignment(_))));
        assert!(aligned_distance(&xs[..39], &ys[..39], 13, 3).is_err());
        assert!(sample_w2(&xs, &xs[..39], 13, 3).is_err(), "sets of unequal size: an error, not an assert");
        // the energies refuse a coordinate past ±1e6 (the files' bound), with or without the sample W2
        for sample_w2 in [4, 0] {
            let e = compare(&sys, &xs, &ys, sample_w2).unwrap_err();
            assert!(e.to_string().contains("is 1e200: coordinates beyond ±1e6"), "{e}");
        }
        assert!(compare(&sys, &xs, &xs, 4).is_ok());
    }

    /// Issue 16, case 5: `eval` on LJ-1024 pooled every distance (> 6 GB) and would have run
    /// 500² Hungarian matchings of 1024 particles.
    #[test]
    fn the_work_of_the_w2s_is_bounded_by_the_system_size() {
        assert!(sample_w2_limit(13) >= 2000, "the field's 2000: {}", sample_w2_limit(13));
        assert!(sample_w2_limit(55) >= 500, "the CLI's default: {}", sample_w2_limit(55));
        assert_eq!(sample_w2_limit(1024), 6);
        assert_eq!(distance_w2_limit(13), MAX_POOLED_DISTANCES / 78);
        assert!(distance_w2_limit(1024) * 1024 * 1023 / 2 <= MAX_POOLED_DISTANCES);
        assert_eq!(distance_w2_limit(1024), 32);
        let sys = crate::energies::System::lj13();
        let xs: Vec<f64> = (1..=40).flat_map(cluster).collect();
        let c = compare(&sys, &xs, &xs[..30 * 39], 500).unwrap();
        assert_eq!((c.sample_w2_n, c.distance_w2_n), (30, 40), "small sets are used whole");
    }

    #[test]
    fn trace_norm_matches_known_singular_values() {
        let h = [[3.0, 0.0, 0.0], [0.0, -2.0, 0.0], [0.0, 0.0, 0.5]];
        assert!((trace_norm(&h, 3) - 5.5).abs() < 1e-12);
        let r = [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]; // 2-D rotation, σ = 1, 1
        assert!((trace_norm(&r, 2) - 2.0).abs() < 1e-12);
        let g = [[1.0, 2.0, 0.0], [0.0, 1.0, 3.0], [1.0, 0.0, 1.0]];
        // singular values of g: sqrt of eig(gᵀg); their sum by power-free check: ‖g‖_* ≥ ‖g‖_F
        let fro = (1.0f64 + 4.0 + 1.0 + 9.0 + 1.0 + 1.0).sqrt();
        let tn = trace_norm(&g, 3);
        assert!(tn >= fro && tn <= 3f64.sqrt() * fro, "{tn}");
    }

    #[test]
    fn sample_w2_is_zero_between_symmetry_copies_and_matches_brute_force() {
        let xs: Vec<f64> = (1..=4).flat_map(cluster).collect();
        let ys: Vec<f64> = xs.chunks(39).rev().flat_map(|c| rotate3(c, 0.05, false)).collect();
        assert!(sample_w2(&xs, &ys, 13, 3).unwrap() < 1e-6);
        // against brute force over all 3! couplings
        let a: Vec<f64> = (10..13).flat_map(cluster).collect();
        let b: Vec<f64> = (20..23).flat_map(cluster).collect();
        let centred = |v: &[f64]| -> Vec<f64> {
            let mut c = v.to_vec();
            crate::geometry::remove_com(&mut c, 3);
            c
        };
        let m = |i: usize, j: usize| aligned_distance(&centred(&a[i * 39..(i + 1) * 39]), &centred(&b[j * 39..(j + 1) * 39]), 13, 3).unwrap().powi(2);
        let perms = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
        let best = perms.iter().map(|p| (0..3).map(|i| m(i, p[i])).sum::<f64>()).fold(f64::INFINITY, f64::min);
        assert!((sample_w2(&a, &b, 13, 3).unwrap() - (best / 3.0).sqrt()).abs() < 1e-9);
    }

    #[test]
    fn subsample_is_evenly_spaced() {
        let xs: Vec<f64> = (0..10).map(|v| v as f64).collect();
        assert_eq!(subsample(&xs, 1, 4), vec![0.0, 2.0, 5.0, 7.0]);
        assert_eq!(subsample(&xs, 1, 20).len(), 10);
    }

    #[test]
    fn bond_orders_follow_the_tables() {
        assert_eq!(bond_order(1, 1, 1.54), 1, "ethane C–C");
        assert_eq!(bond_order(1, 1, 1.34), 2, "ethene C=C");
        assert_eq!(bond_order(1, 1, 1.20), 3, "ethyne C≡C");
        assert_eq!(bond_order(0, 1, 1.09), 1);
        assert_eq!(bond_order(1, 1, 2.0), 0);
        // methane: stable; stretch one C–H to 1.5 Å and C and that H lose their valence
        let el: Vec<String> = ["C", "H", "H", "H", "H"].iter().map(|s| s.to_string()).collect();
        let d = 1.09 / 3f64.sqrt();
        let mut p = vec![0.0, 0.0, 0.0, d, d, d, -d, -d, d, -d, d, -d, d, -d, -d];
        let mut s = Stability::default();
        s.add(&el, &p);
        assert_eq!((s.stable_atoms, s.stable_molecules), (5, 1));
        p[3..6].iter_mut().for_each(|v| *v *= 1.5 / 1.09);
        s.add(&el, &p);
        assert_eq!((s.atoms, s.stable_atoms, s.stable_molecules), (10, 8, 1));
        s.add(&["Si".to_string()], &[0.0; 3]);
        assert_eq!(s.skipped, 1);
    }
}
