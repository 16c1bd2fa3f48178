//! Gaussianity statistics and the characteristic step T* (spec gaga.md §2): the one-sample
//! Kolmogorov–Smirnov test against N(0, 1) (distance and exact p-value), the Kraskov (KSG) k-NN
//! mutual-information estimator as scikit-learn's `mutual_info_regression` computes it, and the
//! released code's per-molecule test with its T* aggregation (earliest grid step passed twice in
//! a row; mean and 95 % quantile over molecules).

use crate::rng::XorShift64;
use serde::Serialize;

/// Φ(x) of the standard normal.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// sup_x |F_n(x) − Φ(x)| of `values` (any order; non-finite values count as failures: D = 1).
pub fn ks_distance(values: &[f64]) -> f64 {
    if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
        return 1.0;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len() as f64;
    v.iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = normal_cdf(x);
            ((i + 1) as f64 / n - f).max(f - i as f64 / n)
        })
        .fold(0.0, f64::max)
}

/// P(D_n ≥ d) for the two-sided one-sample KS statistic: exact (Marsaglia, Tsang & Wang 2003)
/// for n ≤ 500, Kolmogorov's limit with Stephens' small-sample correction above.
pub fn ks_pvalue(d: f64, n: usize) -> f64 {
    if n == 0 || d.is_nan() || d <= 0.0 {
        return 1.0;
    }
    if d >= 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    let s = d * d * nf;
    if n > 500 || s > 7.24 || (s > 3.76 && n > 99) {
        let lambda = (nf.sqrt() + 0.12 + 0.11 / nf.sqrt()) * d;
        let mut p = 0.0;
        for k in 1..=100 {
            let term = (-2.0 * (k * k) as f64 * lambda * lambda).exp();
            p += if k % 2 == 1 { term } else { -term };
            if term < 1e-16 {
                break;
            }
        }
        return (2.0 * p).clamp(0.0, 1.0);
    }
    (1.0 - mtw_cdf(n, d)).clamp(0.0, 1.0)
}

/// P(D_n < d), Marsaglia–Tsang–Wang's matrix method with exponent tracking.
fn mtw_cdf(n: usize, d: f64) -> f64 {
    let k = (n as f64 * d) as usize + 1;
    let m = 2 * k - 1;
    let h = k as f64 - n as f64 * d;
    let mut hm = vec![0.0; m * m];
    for i in 0..m {
        for j in 0..m {
            hm[i * m + j] = if i + 1 >= j { 1.0 } else { 0.0 };
        }
    }
    for i in 0..m {
        hm[i * m] -= h.powi(i as i32 + 1);
        hm[(m - 1) * m + i] -= h.powi((m - i) as i32);
    }
    if 2.0 * h - 1.0 > 0.0 {
        hm[(m - 1) * m] += (2.0 * h - 1.0).powi(m as i32);
    }
    for i in 0..m {
        for j in 0..m {
            if i + 1 > j {
                for g in 1..=(i + 1 - j) {
                    hm[i * m + j] /= g as f64;
                }
            }
        }
    }
    let mul = |a: &[f64], b: &[f64]| {
        let mut c = vec![0.0; m * m];
        for i in 0..m {
            for l in 0..m {
                let a_il = a[i * m + l];
                if a_il != 0.0 {
                    for j in 0..m {
                        c[i * m + j] += a_il * b[l * m + j];
                    }
                }
            }
        }
        c
    };
    // Q = H^n by squaring, exponents (base 10) kept apart
    let (mut q, mut eq) = (vec![0.0; m * m], 0i32);
    for i in 0..m {
        q[i * m + i] = 1.0;
    }
    let (mut base, mut eb, mut e) = (hm, 0i32, n);
    while e > 0 {
        if e & 1 == 1 {
            q = mul(&q, &base);
            eq += eb;
            if q[(k - 1) * m + k - 1] > 1e140 {
                q.iter_mut().for_each(|v| *v *= 1e-140);
                eq += 140;
            }
        }
        e >>= 1;
        if e > 0 {
            base = mul(&base, &base);
            eb *= 2;
            if base[(k - 1) * m + k - 1] > 1e140 {
                base.iter_mut().for_each(|v| *v *= 1e-140);
                eb += 140;
            }
        }
    }
    let mut s = q[(k - 1) * m + k - 1];
    for i in 1..=n {
        s *= i as f64 / n as f64;
        if s < 1e-140 {
            s *= 1e140;
            eq -= 140;
        }
    }
    s * 10f64.powi(eq)
}

/// ψ(x) for x > 0.
pub fn digamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 12.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let x2 = 1.0 / (x * x);
    acc + x.ln() - 0.5 / x - x2 * (1.0 / 12.0 - x2 * (1.0 / 120.0 - x2 * (1.0 / 252.0 - x2 * (1.0 / 240.0 - x2 * (5.0 / 660.0)))))
}

/// I(X; Y) in nats by KSG (Kraskov et al. 2004, algorithm 1) exactly as scikit-learn's
/// `mutual_info_regression` computes it for one continuous feature: both variables scaled to
/// unit standard deviation, a 1e-10 jitter (seeded here) to break ties, Chebyshev distances,
/// counts within the k-th-neighbour radius (shrunk by one ulp), clipped at 0.
pub fn ksg_mi(x: &[f64], y: &[f64], k: usize, seed: u64) -> f64 {
    let n = x.len();
    assert_eq!(n, y.len(), "ksg_mi: x and y must have the same length");
    if n <= k || k == 0 {
        return 0.0;
    }
    let mut rng = XorShift64::new(seed);
    let prep = |v: &[f64], rng: &mut XorShift64| -> Vec<f64> {
        let mean = v.iter().sum::<f64>() / n as f64;
        let sd = (v.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / n as f64).sqrt();
        let sd = if sd > 0.0 { sd } else { 1.0 };
        let scaled: Vec<f64> = v.iter().map(|a| a / sd).collect();
        let amp = 1e-10 * (scaled.iter().map(|a| a.abs()).sum::<f64>() / n as f64).max(1.0);
        scaled.iter().map(|a| a + amp * rng.normal()).collect()
    };
    let (xs, ys) = (prep(x, &mut rng), prep(y, &mut rng));
    let mut dist = vec![0.0; n];
    let (mut sum_x, mut sum_y) = (0.0, 0.0);
    for i in 0..n {
        for j in 0..n {
            dist[j] = if i == j { f64::INFINITY } else { (xs[i] - xs[j]).abs().max((ys[i] - ys[j]).abs()) };
        }
        let mut sorted = dist.clone();
        sorted.select_nth_unstable_by(k - 1, |a, b| a.total_cmp(b));
        let radius = next_down(sorted[k - 1]);
        let nx = (0..n).filter(|&j| j != i && (xs[i] - xs[j]).abs() <= radius).count();
        let ny = (0..n).filter(|&j| j != i && (ys[i] - ys[j]).abs() <= radius).count();
        sum_x += digamma(nx as f64 + 1.0);
        sum_y += digamma(ny as f64 + 1.0);
    }
    (digamma(n as f64) + digamma(k as f64) - sum_x / n as f64 - sum_y / n as f64).max(0.0)
}

fn next_down(v: f64) -> f64 {
    if v > 0.0 && v.is_finite() {
        f64::from_bits(v.to_bits() - 1)
    } else {
        v
    }
}

/// One block's outcome in the released code's per-molecule test.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct BlockTest {
    pub ks_distance: f64,
    pub ks_pvalue: f64,
    /// Mean KSG MI over random pairs of feature columns (None when the block has one column).
    pub mi_features: Option<f64>,
    /// Mean KSG MI over random pairs of atoms (None when each atom has fewer than k + 1 values).
    pub mi_samples: Option<f64>,
    pub passed: bool,
}

/// The per-molecule checks of the released GAGA code (spec §2.2 step 2) on a block `x` of
/// `rows` atoms × `cols` features, already standardised: KS p > 0.05 on all values, and mean
/// KSG MI < 0.1 nats over 2·rows random ordered pairs of distinct columns, and over 2·rows
/// random pairs of distinct rows (k neighbours; the code uses 2 for positions, 3 for types).
/// A check that cannot run on this shape (one column; rows of ≤ k values) is skipped.
pub fn block_test(x: &[f64], rows: usize, cols: usize, k: usize, seed: u64) -> BlockTest {
    assert_eq!(x.len(), rows * cols);
    let d = ks_distance(x);
    let p = ks_pvalue(d, x.len());
    let mut rng = XorShift64::new(seed);
    let pairs = 2 * rows;
    let mi_features = (cols >= 2 && rows > k).then(|| {
        let col = |j: usize| (0..rows).map(|i| x[i * cols + j]).collect::<Vec<f64>>();
        (0..pairs)
            .map(|q| {
                let i = rng.below(cols);
                let j = (i + 1 + rng.below(cols - 1)) % cols;
                ksg_mi(&col(i), &col(j), k, seed ^ (q as u64 + 1))
            })
            .sum::<f64>()
            / pairs as f64
    });
    let mi_samples = (rows >= 2 && cols > k).then(|| {
        (0..pairs)
            .map(|q| {
                let i = rng.below(rows);
                let j = (i + 1 + rng.below(rows - 1)) % rows;
                ksg_mi(&x[i * cols..(i + 1) * cols], &x[j * cols..(j + 1) * cols], k, seed ^ (0x9e37 + q as u64))
            })
            .sum::<f64>()
            / pairs as f64
    });
    let passed = p > 0.05 && mi_features.is_none_or(|m| m < 0.1) && mi_samples.is_none_or(|m| m < 0.1);
    BlockTest { ks_distance: d, ks_pvalue: p, mi_features, mi_samples, passed }
}

/// The earliest grid index i such that `passed[i]` and `passed[i + 1]` (spec §2.2 step 3).
pub fn first_double_pass(passed: &[bool]) -> Option<usize> {
    (0..passed.len().saturating_sub(1)).find(|&i| passed[i] && passed[i + 1])
}

/// The q-quantile by nearest rank (q = 0.95 → the value below which 95 % of molecules lie).
pub fn quantile_nearest(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

/// Why a study's grid was refused. Messages are shown to users as they are.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum StudyError {
    /// The per-molecule test's grid ([`StudyRun::new`]).
    #[error("the checked steps must be at least two, increasing and ≤ {steps} (the schedule's steps)")]
    Grid { steps: usize },
    /// The pooled measure's grid ([`PooledRun::new`]).
    #[error("the checked steps must be at least two and within the schedule")]
    PooledGrid,
}

/// The grid and knobs of a T* study.
#[derive(Clone, Debug)]
pub struct StudyOptions {
    pub schedule: crate::schedules::Schedule,
    /// Checked steps, increasing (the code: 300, 350, …, 800).
    pub grid: Vec<usize>,
    pub seed: u64,
}

/// Per-modality curves over the grid (means over the tested molecules).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Curve {
    pub modality: String,
    pub t: Vec<usize>,
    pub pass_rate: Vec<f64>,
    pub ks_distance: Vec<f64>,
    pub ks_pvalue: Vec<f64>,
    pub mi_features: Vec<Option<f64>>,
    pub mi_samples: Vec<Option<f64>>,
}

/// T* by the released code's test (spec §2.2): per molecule the earliest checked step passed
/// at it and the next one; aggregated by the 95 % quantile (nearest rank; what marks T*) and by
/// the mean (what the code's script prints).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Study {
    /// Overall = positions and types both pass (GAGA's definition; charges are reported alone).
    pub t_star: Option<f64>,
    pub t_star_mean: Option<f64>,
    pub t_star_by_modality: std::collections::BTreeMap<String, Option<f64>>,
    pub t_star_mean_by_modality: std::collections::BTreeMap<String, Option<f64>>,
    /// Molecules that never passed twice in a row on the grid (excluded from the aggregates).
    pub never_passed: std::collections::BTreeMap<String, usize>,
    /// The per-block scale V of the standardisation α²V + σ² (the code's RMS "variance").
    pub block_rms: std::collections::BTreeMap<String, f64>,
    pub molecules_tested: usize,
    pub molecules_skipped: usize,
    pub curves: Vec<Curve>,
}

/// The released code's per-molecule Gaussianity test on every molecule of a data set at every
/// grid step, for every modality the set has, advanced a few molecules at a time (so a page can
/// keep drawing); [`study`] runs it to the end.
pub struct StudyRun {
    data: crate::molecules::Dataset,
    opts: StudyOptions,
    mods: Vec<crate::molecules::Modality>,
    rms: std::collections::BTreeMap<crate::molecules::Modality, f64>,
    passed: std::collections::BTreeMap<crate::molecules::Modality, Vec<Vec<bool>>>,
    sums: std::collections::BTreeMap<crate::molecules::Modality, Vec<[f64; 6]>>,
    /// The next molecule to test, and the next (modality, grid step) test within it.
    next: usize,
    unit: usize,
}

impl StudyRun {
    pub fn new(data: crate::molecules::Dataset, opts: StudyOptions) -> Result<Self, StudyError> {
        use std::collections::BTreeMap;
        if opts.grid.len() < 2 || opts.grid.windows(2).any(|w| w[1] <= w[0]) || *opts.grid.last().unwrap() > opts.schedule.steps() {
            return Err(StudyError::Grid { steps: opts.schedule.steps() });
        }
        let mods = data.modalities();
        let n_mol = data.molecules.len();
        // the code's "variance": per-molecule RMS of the block, averaged over molecules
        let rms = mods
            .iter()
            .map(|&m| {
                let v = (0..n_mol).map(|i| {
                    let (b, _) = data.block(i, m);
                    (b.iter().map(|x| x * x).sum::<f64>() / b.len() as f64).sqrt()
                });
                (m, v.sum::<f64>() / n_mol as f64)
            })
            .collect();
        let g = opts.grid.len();
        let passed = mods.iter().map(|&m| (m, vec![vec![false; g]; n_mol])).collect();
        let sums = mods.iter().map(|&m| (m, vec![[0.0; 6]; g])).collect::<BTreeMap<_, _>>();
        Ok(StudyRun { data, opts, mods, rms, passed, sums, next: 0, unit: 0 })
    }

    /// (molecules tested, molecules in the set).
    pub fn progress(&self) -> (usize, usize) {
        (self.next, self.data.molecules.len())
    }

    pub fn done(&self) -> bool {
        self.next >= self.data.molecules.len()
    }

    pub fn data(&self) -> &crate::molecules::Dataset {
        &self.data
    }

    pub fn options(&self) -> &StudyOptions {
        &self.opts
    }

    /// Tests up to `count` more molecules; returns whether the study is complete.
    pub fn advance(&mut self, count: usize) -> bool {
        let end = (self.next + count).min(self.data.molecules.len());
        while self.next < end {
            self.advance_test();
        }
        self.done()
    }

    /// Runs one block test (one molecule, one modality, one grid step: the smallest unit, so a
    /// page's slice can end between a big molecule's tests); returns whether the study is
    /// complete. Molecules, modalities and steps go in the order [`Self::advance`] takes them,
    /// so the sums and the result do not depend on how the work was sliced.
    pub fn advance_test(&mut self) -> bool {
        use crate::molecules::forward;
        if self.done() {
            return true;
        }
        let (i, g) = (self.next, self.opts.grid.len());
        let (mi, gi) = (self.unit / g, self.unit % g);
        let m = self.mods[mi];
        let t = self.opts.grid[gi];
        let (z0, cols) = self.data.block(i, m);
        let rows = z0.len() / cols;
        let seed = self.opts.seed ^ ((i as u64) << 20) ^ ((gi as u64) << 8) ^ m as u64;
        let mut rng = XorShift64::new(seed);
        let zt = forward(&z0, rows, cols, &self.opts.schedule, t as f64, &mut rng);
        let ev = self.opts.schedule.alpha2(t as f64) * self.rms[&m] + self.opts.schedule.sigma2(t as f64);
        let x: Vec<f64> = zt.iter().map(|v| v / ev.sqrt()).collect();
        let r = block_test(&x, rows, cols, m.knn_k(), seed.wrapping_add(42));
        self.passed.get_mut(&m).unwrap()[i][gi] = r.passed;
        let s = &mut self.sums.get_mut(&m).unwrap()[gi];
        s[0] += r.passed as u8 as f64;
        s[1] += r.ks_distance;
        s[2] += r.ks_pvalue;
        if let Some(v) = r.mi_features {
            s[3] += v;
            s[5] += 1.0;
        }
        if let Some(v) = r.mi_samples {
            s[4] += v;
        }
        self.unit += 1;
        if self.unit == self.mods.len() * g {
            self.unit = 0;
            self.next += 1;
        }
        self.done()
    }

    /// T* and the curves over the molecules tested so far.
    pub fn result(&self) -> Study {
        use crate::molecules::Modality;
        use std::collections::BTreeMap;
        let (n_mol, g, grid) = (self.next, self.opts.grid.len(), &self.opts.grid);
        let nf = n_mol.max(1) as f64;
        let curves = self
            .mods
            .iter()
            .map(|&m| {
                let s = &self.sums[&m];
                let (_, cols) = self.data.block(0, m);
                let has_samples_mi = cols > m.knn_k();
                Curve {
                    modality: m.name().into(),
                    t: grid.clone(),
                    pass_rate: s.iter().map(|v| v[0] / nf).collect(),
                    ks_distance: s.iter().map(|v| v[1] / nf).collect(),
                    ks_pvalue: s.iter().map(|v| v[2] / nf).collect(),
                    mi_features: s.iter().map(|v| (v[5] > 0.0).then(|| v[3] / v[5])).collect(),
                    mi_samples: s.iter().map(|v| has_samples_mi.then(|| v[4] / nf)).collect(),
                }
            })
            .collect();
        let earliest = |pass_of: &dyn Fn(usize, usize) -> bool| -> (Vec<f64>, usize) {
            let mut ts = Vec::new();
            let mut never = 0;
            for i in 0..n_mol {
                let row: Vec<bool> = (0..g).map(|gi| pass_of(i, gi)).collect();
                match first_double_pass(&row) {
                    Some(gi) => ts.push(grid[gi] as f64),
                    None => never += 1,
                }
            }
            (ts, never)
        };
        let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        let (mut by, mut by_mean, mut never) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
        for &m in &self.mods {
            let p = &self.passed[&m];
            let (ts, nv) = earliest(&|i, gi| p[i][gi]);
            by.insert(m.name().to_string(), quantile_nearest(&ts, 0.95));
            by_mean.insert(m.name().to_string(), mean(&ts));
            never.insert(m.name().to_string(), nv);
        }
        let overall_mods: Vec<Modality> = self.mods.iter().copied().filter(|m| *m != Modality::Charges).collect();
        let (ts, nv) = earliest(&|i, gi| overall_mods.iter().all(|m| self.passed[m][i][gi]));
        never.insert("overall".into(), nv);
        Study {
            t_star: quantile_nearest(&ts, 0.95),
            t_star_mean: mean(&ts),
            t_star_by_modality: by,
            t_star_mean_by_modality: by_mean,
            never_passed: never,
            block_rms: self.rms.iter().map(|(m, v)| (m.name().to_string(), *v)).collect(),
            molecules_tested: n_mol,
            molecules_skipped: self.data.skipped.len(),
            curves,
        }
    }
}

/// [`StudyRun`] to the end; `progress(done, total)` after every molecule.
pub fn study(data: &crate::molecules::Dataset, opts: &StudyOptions, mut progress: impl FnMut(usize, usize)) -> Result<Study, StudyError> {
    let mut run = StudyRun::new(data.clone(), opts.clone())?;
    while !run.advance(1) {
        let (d, t) = run.progress();
        progress(d, t);
    }
    let (d, t) = run.progress();
    progress(d, t);
    Ok(run.result())
}

/// One modality's pooled statistics over the grid (spec gaga.md §5.2).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PooledCurve {
    pub modality: String,
    pub t: Vec<usize>,
    /// Mean over feature columns of the KS distance of the pooled standardised column to N(0, 1).
    pub ks_distance: Vec<f64>,
    /// Mean KSG MI (k = 3, nats) between the same column of atom pairs (0,1), (0,2), (1,2),
    /// (0,3), (1,3), (2,3) across molecules: the dependency left between neighbouring atoms.
    pub mi: Vec<f64>,
    /// The same statistics on pure zero-mean noise of the same shapes: mean + 2 s.d. over
    /// independent draws. "Gaussian enough" = inside this band.
    pub null_ks_distance: f64,
    pub null_mi: f64,
    /// First checked step inside the null band at it and the next one (None: never).
    pub t_ds: Option<usize>,
    pub t_id: Option<usize>,
    pub t_star: Option<usize>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Pooled {
    /// max over positions and types (charges alone), None if a modality never settles.
    pub t_star: Option<usize>,
    pub molecules: usize,
    pub curves: Vec<PooledCurve>,
}

const ATOM_PAIRS: [(usize, usize); 6] = [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)];

/// The calibrated pooled measure: up to `max_molecules` evenly spaced molecules, each feature
/// column standardised by its true expected variance α²v_j + σ²(N−1)/N (v_j the clean data's
/// mean square of column j, so anisotropic frames do not read as non-Gaussian), pooled across
/// molecules; distribution similarity by the KS distance, dependency by KSG MI between
/// neighbouring atoms, both judged against pure noise instead of a fixed threshold.
pub fn pooled(data: &crate::molecules::Dataset, opts: &StudyOptions, max_molecules: usize) -> Result<Pooled, StudyError> {
    let mut run = PooledRun::new(data, opts, max_molecules)?;
    while !run.advance() {}
    Ok(run.finish())
}

/// One modality's prepared blocks: (block, columns) per molecule, and each column's mean square.
struct Prepared {
    modality: crate::molecules::Modality,
    blocks: Vec<(Vec<f64>, usize)>,
    cols: usize,
    v: Vec<f64>,
}

/// The pooled measure computed a piece at a time (one draw's statistics per `advance`), so the
/// page can spread it over animation frames; `pooled` runs it in one go.
pub struct PooledRun {
    picked: crate::molecules::Dataset,
    opts: StudyOptions,
    m_count: usize,
    modalities: Vec<crate::molecules::Modality>,
    /// Index of the modality in progress, its preparation and the statistics so far.
    at: usize,
    prep: Option<Prepared>,
    ks_t: Vec<f64>,
    mi_t: Vec<f64>,
    nulls: Vec<(f64, f64)>,
    curves: Vec<PooledCurve>,
}

/// Null draws (pure noise) that calibrate each modality's band.
const NULL_DRAWS: u64 = 8;

impl PooledRun {
    pub fn new(data: &crate::molecules::Dataset, opts: &StudyOptions, max_molecules: usize) -> Result<Self, StudyError> {
        if opts.grid.len() < 2 || *opts.grid.last().unwrap() > opts.schedule.steps() {
            return Err(StudyError::PooledGrid);
        }
        let m_count = max_molecules.clamp(8, 2000).min(data.molecules.len());
        let picked = data.evenly_spaced(m_count);
        let modalities = data.modalities();
        Ok(PooledRun { picked, opts: opts.clone(), m_count, modalities, at: 0, prep: None, ks_t: Vec::new(), mi_t: Vec::new(), nulls: Vec::new(), curves: Vec::new() })
    }

    /// Draws done and in all.
    pub fn progress(&self) -> (usize, usize) {
        let per = self.opts.grid.len() + NULL_DRAWS as usize;
        (self.at * per + self.ks_t.len() + self.nulls.len(), self.modalities.len() * per)
    }

    pub fn done(&self) -> bool {
        self.at >= self.modalities.len()
    }

    /// One draw's statistics (a checked step, or a null draw); true when all are done.
    pub fn advance(&mut self) -> bool {
        if self.done() {
            return true;
        }
        let m = self.modalities[self.at];
        let prep = self.prep.get_or_insert_with(|| {
            let blocks: Vec<(Vec<f64>, usize)> = (0..self.picked.molecules.len()).map(|i| self.picked.block(i, m)).collect();
            let cols = blocks[0].1;
            let v = (0..cols)
                .map(|j| {
                    blocks
                        .iter()
                        .map(|(b, c)| {
                            let rows = b.len() / c;
                            (0..rows).map(|a| b[a * c + j].powi(2)).sum::<f64>() / rows as f64
                        })
                        .sum::<f64>()
                        / blocks.len() as f64
                })
                .collect();
            Prepared { modality: m, blocks, cols, v }
        });
        let opts = &self.opts;
        let gi = self.ks_t.len();
        if gi < opts.grid.len() {
            let t = opts.grid[gi] as f64;
            let (k, i) = pooled_stats(prep, opts.schedule.alpha2(t), opts.schedule.sigma2(t), opts.seed ^ ((gi as u64) << 12) ^ m as u64);
            self.ks_t.push(k);
            self.mi_t.push(i);
            return false;
        }
        let r = self.nulls.len() as u64;
        self.nulls.push(pooled_stats(prep, 0.0, 1.0, opts.seed ^ 0xA5A5_0000 ^ (r << 4) ^ m as u64));
        if self.nulls.len() < NULL_DRAWS as usize {
            return false;
        }
        let band = |xs: Vec<f64>| {
            let (mu, sd) = crate::metrics::mean_sd(&xs);
            mu + 2.0 * sd
        };
        let null_ks = band(self.nulls.iter().map(|n| n.0).collect());
        let null_mi = band(self.nulls.iter().map(|n| n.1).collect());
        let settle = |xs: &[f64], limit: f64| first_double_pass(&xs.iter().map(|&x| x <= limit).collect::<Vec<_>>()).map(|gi| opts.grid[gi]);
        let (t_ds, t_id) = (settle(&self.ks_t, null_ks), settle(&self.mi_t, null_mi));
        let t_star = match (t_ds, t_id) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
        let modality = prep.modality.name().into();
        self.curves.push(PooledCurve {
            modality,
            t: opts.grid.clone(),
            ks_distance: std::mem::take(&mut self.ks_t),
            mi: std::mem::take(&mut self.mi_t),
            null_ks_distance: null_ks,
            null_mi,
            t_ds,
            t_id,
            t_star,
        });
        self.nulls.clear();
        self.prep = None;
        self.at += 1;
        self.done()
    }

    /// The measure (call once `advance` has returned true).
    pub fn finish(self) -> Pooled {
        use crate::molecules::Modality;
        let overall: Vec<&PooledCurve> = self.curves.iter().filter(|c| c.modality != Modality::Charges.name()).collect();
        let t_star = overall.iter().map(|c| c.t_star).collect::<Option<Vec<usize>>>().and_then(|v| v.into_iter().max());
        Pooled { t_star, molecules: self.m_count, curves: self.curves }
    }
}

/// KS distance and KSG MI of one draw with α² = a2, σ² = s2 (a2 = 0, s2 = 1: the pure-noise
/// null), each column standardised by its expected variance.
fn pooled_stats(p: &Prepared, a2: f64, s2: f64, seed: u64) -> (f64, f64) {
    let cols = p.cols;
    let mut rng = XorShift64::new(seed);
    let mut columns = vec![Vec::new(); cols];
    let mut pair_cols = vec![(Vec::new(), Vec::new()); ATOM_PAIRS.len() * cols];
    for (b, c) in &p.blocks {
        let rows = b.len() / c;
        let zt = crate::molecules::noised(b, rows, *c, a2.sqrt(), s2.sqrt(), &mut rng);
        for j in 0..cols {
            let sd = (a2 * p.v[j] + s2 * (rows as f64 - 1.0) / rows as f64).sqrt();
            for a in 0..rows {
                columns[j].push(zt[a * c + j] / sd);
            }
            for (q, &(i, k)) in ATOM_PAIRS.iter().enumerate() {
                pair_cols[q * cols + j].0.push(zt[i * c + j]);
                pair_cols[q * cols + j].1.push(zt[k * c + j]);
            }
        }
    }
    let ks = columns.iter().map(|col| ks_distance(col)).sum::<f64>() / cols as f64;
    let mi = pair_cols.iter().enumerate().map(|(q, (x, y))| ksg_mi(x, y, 3, seed ^ q as u64)).sum::<f64>() / pair_cols.len() as f64;
    (ks, mi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ks_pvalue_reproduces_the_exact_critical_values() {
        // two-sided 5 % critical values of the one-sample KS statistic (Miller 1956 / Massey)
        for (n, d) in [(5, 0.56328), (10, 0.40925), (20, 0.29408), (50, 0.18841)] {
            let p = ks_pvalue(d, n);
            assert!((p - 0.05).abs() < 1.5e-3, "n = {n}: p({d}) = {p}");
        }
        // 1 % at n = 10: 0.48893
        assert!((ks_pvalue(0.48893, 10) - 0.01).abs() < 5e-4);
        // large n: the asymptotic 5 % point 1.3581/√n
        assert!((ks_pvalue(1.3581 / 2000f64.sqrt(), 2000) - 0.05).abs() < 2e-3);
        assert_eq!(ks_pvalue(0.0, 10), 1.0);
        assert_eq!(ks_pvalue(1.0, 10), 0.0);
        // monotone in d
        let ps: Vec<f64> = (1..40).map(|i| ks_pvalue(i as f64 / 40.0, 30)).collect();
        assert!(ps.windows(2).all(|w| w[1] <= w[0] + 1e-12));
    }

    #[test]
    fn ks_distance_of_normal_draws_is_small_and_of_shifted_draws_large() {
        let mut r = XorShift64::new(1);
        let z: Vec<f64> = (0..5000).map(|_| r.normal()).collect();
        assert!(ks_distance(&z) < 0.02);
        assert!(ks_pvalue(ks_distance(&z), z.len()) > 0.01);
        let shifted: Vec<f64> = z.iter().map(|v| v + 0.5).collect();
        assert!(ks_distance(&shifted) > 0.15);
        assert_eq!(ks_distance(&[0.0, f64::NAN]), 1.0);
        // closed form for one point at 0: D = 1/2
        assert!((ks_distance(&[0.0]) - 0.5).abs() < 1e-15);
    }

    #[test]
    fn digamma_matches_known_values() {
        assert!((digamma(1.0) + 0.5772156649015329).abs() < 1e-12);
        assert!((digamma(0.5) + 1.9635100260214235).abs() < 1e-12);
        assert!((digamma(10.0) - 2.251752589066721).abs() < 1e-12);
        assert!((digamma(100.0) - 4.600161852738087).abs() < 1e-12);
    }

    #[test]
    fn ksg_recovers_gaussian_mutual_information() {
        let mut r = XorShift64::new(3);
        for rho in [0.0f64, 0.5, 0.9] {
            let (mut x, mut y) = (Vec::new(), Vec::new());
            for _ in 0..2000 {
                let (a, b) = (r.normal(), r.normal());
                x.push(a);
                y.push(rho * a + (1.0 - rho * rho).sqrt() * b);
            }
            let exact = -0.5 * (1.0 - rho * rho).ln();
            let est = ksg_mi(&x, &y, 3, 7);
            assert!((est - exact).abs() < 0.03, "ρ = {rho}: KSG {est} vs exact {exact}");
        }
        // invariant to scaling (both variables are standardised first)
        let x: Vec<f64> = (0..300).map(|_| r.normal()).collect();
        let y: Vec<f64> = x.iter().map(|v| v.sin() + 0.3 * r.normal()).collect();
        let big: Vec<f64> = x.iter().map(|v| 1e3 * v).collect();
        assert!((ksg_mi(&x, &y, 3, 1) - ksg_mi(&big, &y, 3, 1)).abs() < 1e-9);
    }

    #[test]
    fn block_test_passes_noise_and_fails_structure() {
        let mut r = XorShift64::new(11);
        let noise: Vec<f64> = (0..40 * 5).map(|_| r.normal()).collect();
        let t = block_test(&noise, 40, 5, 3, 1);
        assert!(t.passed, "{t:?}");
        // duplicated columns: strong dependence across features
        let dup: Vec<f64> = (0..40)
            .flat_map(|_| {
                let v = r.normal();
                [v, v, v, v, v]
            })
            .collect();
        assert!(!block_test(&dup, 40, 5, 3, 1).passed);
        // a shifted block fails KS
        let shifted: Vec<f64> = noise.iter().map(|v| v + 1.0).collect();
        assert!(block_test(&shifted, 40, 5, 3, 1).ks_pvalue < 1e-6);
        // one column: no feature MI; three values per atom with k = 3: no sample MI
        let one = block_test(&noise[..40], 40, 1, 3, 1);
        assert!(one.mi_features.is_none() && one.mi_samples.is_none());
    }

    #[test]
    fn aggregation_helpers() {
        assert_eq!(first_double_pass(&[false, true, false, true, true, true]), Some(3));
        assert_eq!(first_double_pass(&[true, false, true]), None);
        let v: Vec<f64> = (1..=20).map(|i| i as f64).collect();
        assert_eq!(quantile_nearest(&v, 0.95), Some(19.0));
        assert_eq!(quantile_nearest(&v, 0.5), Some(10.0));
        assert_eq!(quantile_nearest(&[], 0.5), None);
    }

    /// Molecules of 6 "C" atoms: independent Gaussian positions, or atom 1 glued to atom 0.
    fn synthetic(glued: bool, count: usize) -> crate::molecules::Dataset {
        let mut r = XorShift64::new(5);
        let mut text = String::new();
        for _ in 0..count {
            text.push_str("6\nsynthetic\n");
            let mut p: Vec<[f64; 3]> = (0..6).map(|_| [r.normal(), r.normal(), r.normal()]).collect();
            if glued {
                p[1] = [p[0][0] + 0.05 * r.normal(), p[0][1] + 0.05 * r.normal(), p[0][2] + 0.05 * r.normal()];
            }
            for a in p {
                text.push_str(&format!("C {} {} {}\n", a[0], a[1], a[2]));
            }
        }
        crate::molecules::Dataset::from_xyz(&text, 4).unwrap()
    }

    #[test]
    fn pooled_measure_separates_gaussian_from_dependent_data() {
        let opts = StudyOptions { schedule: crate::schedules::Schedule::polynomial2(1000, 1e-5), grid: (0..=1000).step_by(100).collect(), seed: 1 };
        let g = pooled(&synthetic(false, 300), &opts, 300).unwrap();
        assert_eq!(g.curves.len(), 1, "one element: positions only");
        let c = &g.curves[0];
        assert!(c.t_id.unwrap() <= 100, "independent Gaussian atoms are dependency-free at once: {c:?}");
        assert!(c.mi[0] < 0.1);
        let d = pooled(&synthetic(true, 300), &opts, 300).unwrap();
        let c = &d.curves[0];
        assert!(c.mi[0] > 0.3, "glued atoms carry information about each other: {:?}", c.mi);
        assert!(c.t_id.unwrap() >= 400, "{c:?}");
        assert!(c.mi.windows(2).take(4).all(|w| w[1] < w[0]), "dependency decays with t: {:?}", c.mi);
    }

    #[test]
    fn study_runs_in_slices_and_refuses_bad_grids() {
        let data = synthetic(false, 20);
        let opts = StudyOptions { schedule: crate::schedules::Schedule::polynomial2(1000, 1e-5), grid: vec![300, 400, 500], seed: 3 };
        let whole = study(&data, &opts, |_, _| {}).unwrap();
        let mut run = StudyRun::new(data.clone(), opts.clone()).unwrap();
        while !run.advance(7) {}
        assert_eq!(run.result(), whole);
        // one block test at a time gives the same study, and progress counts whole molecules
        let mut run = StudyRun::new(data.clone(), opts.clone()).unwrap();
        let per_molecule = run.mods.len() * opts.grid.len();
        let mut tests = 0;
        while !run.advance_test() {
            tests += 1;
            assert_eq!(run.progress().0, tests / per_molecule, "every modality at every grid step, then the next molecule");
        }
        assert_eq!(tests + 1, 20 * per_molecule);
        assert_eq!(run.result(), whole);
        assert_eq!(whole.molecules_tested, 20);
        for grid in [vec![300], vec![500, 400], vec![900, 1200]] {
            assert!(StudyRun::new(data.clone(), StudyOptions { grid, ..opts.clone() }).is_err());
        }
    }
}
