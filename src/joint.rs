//! Whole molecules, atom types and positions diffused jointly (EDM, Hoogeboom et al. 2022, as the
//! GAGA fork runs it; spec gaga.md §1.3–1.4). A molecule of N atoms is the node state
//! z = [x, h]: CoM-free positions x (N × 3, Å) and the type block h (N × K one-hot over the
//! vocabulary, centred over the atoms and divided by 4). Both are noised with one schedule,
//! z_t = α_t z_0 + σ_t Pε with P removing each column's mean over the atoms, and one EGNN
//! predicts ε for both (positions equivariantly, types invariantly; [`crate::models`]).
//! Sampling draws the atom count from the training set's histogram, runs the reverse process
//! on the zero-mean space of N × (3 + K) columns ([`crate::samplers::SamplerRun::with_width`])
//! and decodes each atom's type as the argmax of its type row.
//!
//! GAGA: train on t ≤ T* only, and start sampling at T* from the closed-form Gaussian
//! N(0, ṽ I) on that space: ṽ = α²_{T*} v̂ + σ²_{T*} with v̂ the data's variance per direction,
//! one scalar pooled over every column (the spec's ṽ, [`GagaVariance::Pooled`]) or one per
//! modality ([`GagaVariance::PerModality`]). Molecules of one size share their v̂ (a molecule
//! of 29 atoms is wider than one of 9, so v̂ is taken per atom count).
//!
//! Molecules of different sizes never share a batch (training draws a size from the histogram,
//! then molecules of that size; sampling runs one [`SamplerRun`] per size), so no masks are
//! needed: the EGNN averages its messages over the N − 1 others of any N.

use crate::models::{EgnnConfig, ModelError, Network};
use crate::molecules::{centre_columns, one_hot, Dataset, DatasetError, Modality};
use crate::rng::XorShift64;
use crate::samplers::{Denoiser, Method, SampleOptions, SamplerError, SamplerRun, Symmetry};
use crate::schedules::Schedule;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Why whole-molecule data, statistics or a generation run were refused or failed. Messages are
/// shown to users as they are.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum JointError {
    /// Fewer than two elements in the data (`found`: those it has).
    #[error("whole-molecule generation needs at least two elements in the data (found {found})")]
    TooFewElements { found: String },
    #[error("molecule {molecule} has the element {element}, which the vocabulary ({vocabulary}) does not have")]
    OutsideVocabulary { molecule: usize, element: String, vocabulary: String },
    #[error("no molecule with at least 2 atoms")]
    NoMolecules,
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// The network (not a whole-molecule one, another schedule).
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("T* must be within [1, {steps}], got {t_star}")]
    TStar { t_star: f64, steps: usize },
    #[error("the size histogram asks for {atoms} atoms; the network was trained on at most {max}")]
    TooManyAtoms { atoms: usize, max: usize },
    #[error(transparent)]
    Sampler(#[from] SamplerError),
    /// Statistics no training set has ([`JointStats::check`]).
    #[error("the size histogram must list atom counts from 2 to {largest} with positive counts")]
    Histogram { largest: usize },
    #[error("the data variances must be positive")]
    Variances,
}

/// A training set of whole molecules grouped by atom count.
#[derive(Clone, Debug)]
pub struct JointData {
    /// The one-hot vocabulary (the data set's elements, QM9 order first).
    pub types: Vec<String>,
    /// Per atom count: (CoM-free positions, centred type blocks /4), molecules back to back.
    pub groups: BTreeMap<usize, Group>,
    /// v̂: the positions' mean square per direction of the CoM-free space, over all molecules.
    pub position_variance: f64,
    /// v̂_h: the type block's mean square per direction of its zero-mean space.
    pub type_variance: f64,
}

#[derive(Clone, Debug, Default)]
pub struct Group {
    pub count: usize,
    pub positions: Vec<f64>,
    pub types: Vec<f64>,
    /// This size's mean squares per direction (positions, types): GAGA's v̂ for molecules of it.
    pub position_variance: f64,
    pub type_variance: f64,
}

impl JointData {
    /// The molecules of `data` (all sizes ≥ 2 atoms) over the vocabulary `types` (None: the data
    /// set's own, QM9's H, C, N, O, F when it fits). Elements outside `types` are refused by name.
    pub fn new(data: &Dataset, types: Option<&[String]>) -> Result<JointData, JointError> {
        let types: Vec<String> = match types {
            Some(t) => t.to_vec(),
            None => crate::models::element_vocabulary(&data.molecules.iter().map(|m| m.elements.clone()).collect::<Vec<_>>()),
        };
        if types.len() < 2 {
            return Err(JointError::TooFewElements { found: types.join(", ") });
        }
        let k = types.len();
        let mut groups: BTreeMap<usize, Group> = BTreeMap::new();
        let (mut sx, mut dx, mut sh, mut dh) = (0.0, 0.0, 0.0, 0.0);
        for (i, m) in data.molecules.iter().enumerate() {
            let n = m.elements.len();
            if n < 2 {
                continue;
            }
            let mut x = m.positions.clone();
            crate::geometry::remove_com(&mut x, 3);
            // the type block as the forward study builds it (`Dataset::block`), over `types`
            let mut h = one_hot(&m.elements, &types).map_err(|e| match e {
                DatasetError::OutsideVocabulary(element) => JointError::OutsideVocabulary { molecule: i, element, vocabulary: types.join(", ") },
                other => JointError::Dataset(other),
            })?;
            centre_columns(&mut h, n, k);
            h.iter_mut().for_each(|v| *v /= Modality::Types.scale());
            let g = groups.entry(n).or_default();
            g.count += 1;
            let (qx, qh) = (x.iter().map(|v| v * v).sum::<f64>(), h.iter().map(|v| v * v).sum::<f64>());
            g.position_variance += qx;
            g.type_variance += qh;
            (sx, dx, sh, dh) = (sx + qx, dx + (3 * (n - 1)) as f64, sh + qh, dh + (k * (n - 1)) as f64);
            g.positions.extend(x);
            g.types.extend(h);
        }
        if groups.is_empty() {
            return Err(JointError::NoMolecules);
        }
        for (&n, g) in groups.iter_mut() {
            g.position_variance /= (g.count * 3 * (n - 1)) as f64;
            g.type_variance /= (g.count * k * (n - 1)) as f64;
        }
        Ok(JointData { types, groups, position_variance: sx / dx, type_variance: sh / dh })
    }

    pub fn molecules(&self) -> usize {
        self.groups.values().map(|g| g.count).sum()
    }

    pub fn largest(&self) -> usize {
        self.groups.keys().next_back().copied().unwrap_or(0)
    }

    /// (atom count, molecules) of the training set: the distribution samples draw N from.
    pub fn histogram(&self) -> Vec<(usize, usize)> {
        self.groups.iter().map(|(&n, g)| (n, g.count)).collect()
    }

    /// One training batch: a size drawn with the histogram's weights, then `batch` molecules of
    /// that size uniformly (with replacement). (n, positions, types.)
    pub fn draw_batch(&self, batch: usize, rng: &mut XorShift64) -> (usize, Vec<f64>, Vec<f64>) {
        let n = draw_size(&self.histogram(), rng);
        let g = &self.groups[&n];
        let k = self.types.len();
        let (mut x, mut h) = (Vec::with_capacity(batch * 3 * n), Vec::with_capacity(batch * k * n));
        for _ in 0..batch {
            let i = rng.below(g.count);
            x.extend_from_slice(&g.positions[i * 3 * n..(i + 1) * 3 * n]);
            h.extend_from_slice(&g.types[i * k * n..(i + 1) * k * n]);
        }
        (n, x, h)
    }

    /// A fresh whole-molecule network for this data.
    pub fn network_config(&self, hidden: usize, layers: usize, schedule: &Schedule) -> EgnnConfig {
        let elements: Vec<Vec<String>> = vec![self.types.clone()];
        EgnnConfig::joint(self.largest(), hidden, layers, self.position_variance, self.type_variance, &elements).trained_under(schedule)
    }
}

/// An atom count drawn from a histogram of (count, weight).
pub fn draw_size(histogram: &[(usize, usize)], rng: &mut XorShift64) -> usize {
    let total: usize = histogram.iter().map(|h| h.1).sum();
    let mut r = rng.below(total.max(1));
    for &(n, c) in histogram {
        if r < c {
            return n;
        }
        r -= c;
    }
    histogram.last().map_or(0, |h| h.0)
}

/// A whole-molecule network as a score source for molecules of `atoms` atoms: states are rows
/// of [x, y, z, h_1 … h_K]; D = (z − σ ε̂)/α for every column.
pub struct JointDenoiser<'a> {
    pub model: &'a Network,
    pub atoms: usize,
}

impl Denoiser for JointDenoiser<'_> {
    fn atoms(&self) -> usize {
        self.atoms
    }

    fn width(&self) -> usize {
        3 + self.model.config.features
    }

    fn denoise(&mut self, x: &[f64], t: f64, s: &Schedule) -> Vec<f64> {
        self.denoise_batch(x, t, s)
    }

    fn denoise_batch(&mut self, zs: &[f64], t: f64, s: &Schedule) -> Vec<f64> {
        let (n, k) = (self.atoms, self.model.config.features);
        let w = 3 + k;
        let b = zs.len() / (w * n);
        let (xs, hs) = split_rows(zs, 3, k);
        let (ex, eh) = self.model.predict_joint(&xs, &hs, n, &vec![t; b], s);
        let eps = join_rows(&ex, &eh, 3, k);
        let (a, sg) = (s.alpha(t), s.sigma(t));
        zs.iter().zip(&eps).map(|(z, e)| (z - sg * e) / a).collect()
    }
}

/// Rows of a + b columns → (the a columns, the b columns), row by row.
pub fn split_rows(z: &[f64], a: usize, b: usize) -> (Vec<f64>, Vec<f64>) {
    let rows = z.len() / (a + b);
    let (mut x, mut h) = (Vec::with_capacity(rows * a), Vec::with_capacity(rows * b));
    for r in z.chunks(a + b) {
        x.extend_from_slice(&r[..a]);
        h.extend_from_slice(&r[a..]);
    }
    (x, h)
}

/// The inverse of [`split_rows`].
pub fn join_rows(x: &[f64], h: &[f64], a: usize, b: usize) -> Vec<f64> {
    x.chunks(a).zip(h.chunks(b.max(1))).flat_map(|(p, q)| p.iter().chain(q).copied()).collect()
}

/// The start of GAGA's shortened trajectory.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GagaVariance {
    /// One ṽ pooled over positions and types (the spec's scalar; the GAGA code's "all features").
    Pooled,
    /// ṽ per modality: positions with the positions' v̂, type columns with the types' v̂.
    PerModality,
}

impl GagaVariance {
    /// "pooled" or "per-modality", as the CLI and the page name them.
    pub fn by_name(name: &str) -> Result<GagaVariance, String> {
        match name {
            "pooled" => Ok(GagaVariance::Pooled),
            "per-modality" => Ok(GagaVariance::PerModality),
            v => Err(format!("variance must be \"pooled\" or \"per-modality\", got \"{}\"", crate::io::printable(v))),
        }
    }
}

/// How one generation run samples.
#[derive(Clone, Debug, Serialize)]
pub struct GenerateOptions {
    pub method: Method,
    /// Steps taken from the start to 0.
    pub steps: usize,
    /// None: the full trajectory from T; Some(T*): GAGA's start at T* from the closed form.
    pub t_star: Option<f64>,
    pub variance: GagaVariance,
    pub seed: u64,
}

/// Generated molecules, decoded.
#[derive(Clone, Debug, Default)]
pub struct Generated {
    /// Per molecule: its elements and flat positions (Å, CoM-free).
    pub molecules: Vec<(Vec<String>, Vec<f64>)>,
    /// Network evaluations, all molecules together.
    pub nfe: usize,
}

/// The atom counts of `count` samples, drawn from the training histogram with `seed`, as
/// (atom count, how many) in increasing count.
pub fn sample_sizes(histogram: &[(usize, usize)], count: usize, seed: u64) -> Vec<(usize, usize)> {
    let mut rng = XorShift64::new(seed ^ 0x512E);
    let mut by: BTreeMap<usize, usize> = BTreeMap::new();
    for _ in 0..count {
        *by.entry(draw_size(histogram, &mut rng)).or_insert(0) += 1;
    }
    by.into_iter().collect()
}

/// The sampler options of one size group: full (start at T from N(0, I)) or GAGA (start at T*
/// from N(0, ṽ) with v̂ of that size: pooled or per modality).
pub fn size_options(opts: &GenerateOptions, schedule: &Schedule, size: SizeStats, k: usize, seed: u64) -> SampleOptions {
    let base = SampleOptions { seed, ..SampleOptions::new(opts.method, Symmetry::Equivariant, opts.steps, schedule) };
    let Some(t) = opts.t_star else { return base };
    let (vx, vh) = (size.position_variance, size.type_variance);
    let (a2, s2) = (schedule.alpha2(t), schedule.sigma2(t));
    let column_variance = match opts.variance {
        GagaVariance::Pooled => {
            let pooled = (3.0 * vx + k as f64 * vh) / (3 + k) as f64;
            vec![a2 * pooled + s2; 3 + k]
        }
        GagaVariance::PerModality => (0..3 + k).map(|c| a2 * if c < 3 { vx } else { vh } + s2).collect(),
    };
    SampleOptions { t_start: t, start_variance: column_variance[0], column_variance, ..base }
}

/// Decodes sampled states (rows [x, y, z, h…]) of `n` atoms: positions, and each atom's element
/// as the argmax of its type row over `types`.
pub fn decode(states: &[f64], n: usize, types: &[String]) -> Vec<(Vec<String>, Vec<f64>)> {
    let k = types.len();
    states
        .chunks((3 + k) * n)
        .map(|z| {
            let (x, h) = split_rows(z, 3, k);
            let elements = h.chunks(k).map(|row| types[argmax(row)].clone()).collect();
            (elements, x)
        })
        .collect()
}

/// Index of the largest value (the first of ties).
pub fn argmax(row: &[f64]) -> usize {
    row.iter().enumerate().fold((0, f64::NEG_INFINITY), |(bi, bv), (i, &v)| if v > bv { (i, v) } else { (bi, bv) }).0
}

/// Refuses a network that is not a whole-molecule one, with what it is.
pub fn check_joint(model: &Network) -> Result<(), ModelError> {
    if model.config.is_joint() {
        Ok(())
    } else {
        Err(ModelError::Input(format!("these weights are {}, not a whole-molecule network (types and positions): sample them with `molplay sample`", model.config.kind())))
    }
}

/// A generation run in slices: one sampler run per atom count, all advanced in lockstep (so
/// frame k of every kept trajectory is at the same t).
pub struct Generation {
    pub options: GenerateOptions,
    runs: Vec<SamplerRun>,
    types: Vec<String>,
}

/// One frame of the kept trajectories, decoded: per kept molecule its elements (argmax of each
/// atom's type row at that frame) and positions.
pub type Frame = Vec<(Vec<String>, Vec<f64>)>;

impl Generation {
    /// `count` molecules from `model` with sizes from the training histogram; the trajectories of
    /// `keep` of them are kept (for a viewer), taken from the size groups in order.
    pub fn new(model: &Network, data: &JointStats, schedule: &Schedule, opts: &GenerateOptions, count: usize, keep: usize) -> Result<Generation, JointError> {
        check_joint(model)?;
        model.config.check_schedule(schedule)?;
        if let Some(t) = opts.t_star {
            if !(t >= 1.0 && t <= schedule.steps() as f64) {
                return Err(JointError::TStar { t_star: t, steps: schedule.steps() });
            }
        }
        let k = model.config.features;
        let mut runs = Vec::new();
        let mut keep_left = keep.min(count);
        for (i, (n, c)) in sample_sizes(&data.histogram, count, opts.seed).into_iter().enumerate() {
            if n > model.config.atoms {
                return Err(JointError::TooManyAtoms { atoms: n, max: model.config.atoms });
            }
            // a size without its own variances (not in the training set) takes the pooled ones
            let size = data.sizes.get(&n).copied().unwrap_or(SizeStats { position_variance: data.position_variance, type_variance: data.type_variance });
            let so = size_options(opts, schedule, size, k, opts.seed.wrapping_add(1 + i as u64));
            let kept = keep_left.min(c);
            keep_left -= kept;
            runs.push(SamplerRun::with_width(n, 3 + k, schedule, &so, c, kept)?);
        }
        Ok(Generation { options: opts.clone(), runs, types: model.config.elements.clone() })
    }

    pub fn done(&self) -> bool {
        self.runs.iter().all(SamplerRun::done)
    }

    /// Takes up to `steps` sampler steps of every size group.
    pub fn advance(&mut self, model: &Network, schedule: &Schedule, steps: usize) -> Result<(), JointError> {
        for run in &mut self.runs {
            let mut den = JointDenoiser { model, atoms: run.atoms() };
            run.advance(&mut den, schedule, steps)?;
        }
        Ok(())
    }

    /// (steps taken, steps of the run): every group moves together.
    pub fn progress(&self) -> (usize, usize) {
        self.runs.first().map_or((0, 0), SamplerRun::progress)
    }

    /// Network evaluations so far, all molecules together.
    pub fn nfe(&self) -> usize {
        self.runs.iter().map(SamplerRun::nfe).sum()
    }

    /// Frames stored so far (the start and one per step).
    pub fn frames(&self) -> usize {
        self.progress().0 + 1
    }

    /// The diffusion time of frame k.
    pub fn frame_time(&self, k: usize) -> f64 {
        self.runs.first().map_or(0.0, |r| r.frame_time(k))
    }

    /// The atom counts of the kept molecules, in order.
    pub fn kept_sizes(&self) -> Vec<usize> {
        self.runs.iter().flat_map(|r| std::iter::repeat_n(r.atoms(), r.kept())).collect()
    }

    /// Frame k of the kept trajectories, decoded.
    pub fn frame(&self, k: usize) -> Frame {
        let k = k.min(self.frames() - 1);
        self.runs
            .iter()
            .filter(|r| r.kept() > 0)
            .flat_map(|r| {
                let per = r.width() * r.atoms() * r.kept();
                decode(&r.frames()[k * per..(k + 1) * per], r.atoms(), &self.types)
            })
            .collect()
    }

    /// For each kept atom (in order), the first frame from which its decoded type stays the
    /// final one: where its type is decided on the way to t = 0 (the last frame so far while
    /// running).
    pub fn decided_frames(&self) -> Vec<usize> {
        let last = self.frames() - 1;
        let fin: Vec<String> = self.frame(last).into_iter().flat_map(|m| m.0).collect();
        let mut decided = vec![last; fin.len()];
        let mut open = vec![true; fin.len()];
        for k in (0..last).rev() {
            let now: Vec<String> = self.frame(k).into_iter().flat_map(|m| m.0).collect();
            for (a, e) in now.iter().enumerate() {
                if open[a] && *e == fin[a] {
                    decided[a] = k;
                } else {
                    open[a] = false;
                }
            }
            if !open.iter().any(|&o| o) {
                break;
            }
        }
        decided
    }

    /// The molecules as they are now (decoded; the samples once done).
    pub fn current(&self) -> Generated {
        Generated { molecules: self.runs.iter().flat_map(|r| decode(r.samples(), r.atoms(), &self.types)).collect(), nfe: self.nfe() }
    }
}

/// What sampling needs of the training set: the size histogram and the data variances (per size
/// for GAGA's start), stored with a whole-molecule preset so it samples without the data.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct JointStats {
    pub histogram: Vec<(usize, usize)>,
    pub position_variance: f64,
    pub type_variance: f64,
    pub sizes: BTreeMap<usize, SizeStats>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct SizeStats {
    pub position_variance: f64,
    pub type_variance: f64,
}

impl JointData {
    pub fn stats(&self) -> JointStats {
        JointStats {
            histogram: self.histogram(),
            position_variance: self.position_variance,
            type_variance: self.type_variance,
            sizes: self.groups.iter().map(|(&n, g)| (n, SizeStats { position_variance: g.position_variance, type_variance: g.type_variance })).collect(),
        }
    }
}

impl JointStats {
    /// Refuses statistics no training set has (from a corrupt file).
    pub fn check(&self, largest: usize) -> Result<(), JointError> {
        let ok = |v: f64| v.is_finite() && v > 0.0;
        if self.histogram.is_empty() || self.histogram.iter().any(|&(n, c)| n < 2 || n > largest || c == 0) || self.histogram.iter().map(|h| h.1).try_fold(0usize, |a, c| a.checked_add(c)).is_none() {
            return Err(JointError::Histogram { largest });
        }
        if !ok(self.position_variance) || !ok(self.type_variance) || self.sizes.values().any(|s| !ok(s.position_variance) || !ok(s.type_variance)) {
            return Err(JointError::Variances);
        }
        Ok(())
    }
}

/// Draws from the forward process (both modalities at step t) for the page's forward view and
/// tests: z_t = α z_0 + σ Pε, rows [x, h].
pub fn noised_state(x0: &[f64], h0: &[f64], n: usize, k: usize, schedule: &Schedule, t: f64, rng: &mut XorShift64) -> Vec<f64> {
    let z0 = join_rows(x0, h0, 3, k);
    crate::molecules::forward(&z0, n, 3 + k, schedule, t, rng)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    const SET: &str = "5\nm\nC 0 0 0\nH 1.09 0 0\nH -1.09 0 0\nH 0 1.09 0\nH 0 -1.09 0\n\
4\nm\nN 0 0 0\nH 1.01 0 0\nH 0 1.01 0\nH 0 0 1.01\n\
5\nm\nC 0 0 0\nH 1.09 0 0\nH -1.09 0 0\nH 0 1.09 0\nH 0 -1.09 0\n";

    #[test]
    fn molecules_group_by_size_with_centred_type_blocks() {
        let d = JointData::new(&Dataset::from_xyz(SET, 4).unwrap(), None).unwrap();
        assert_eq!(d.types, vec!["H", "C", "N"]);
        assert_eq!(d.histogram(), vec![(4, 1), (5, 2)]);
        let g = &d.groups[&5];
        // every column of every molecule has zero mean over the atoms
        for m in g.types.chunks(5 * 3) {
            for c in 0..3 {
                assert!((0..5).map(|a| m[a * 3 + c]).sum::<f64>().abs() < 1e-12);
            }
        }
        // CH4's H column: 4/5 of atoms → (1 − 0.8)/4 on an H
        assert!((g.types[3] - 0.05).abs() < 1e-12, "{:?}", &g.types[..6]);
        let e = d.draw_batch(7, &mut XorShift64::new(3));
        assert_eq!((e.1.len(), e.2.len()), (7 * 3 * e.0, 7 * 3 * e.0));
        assert!(JointData::new(&Dataset::from_xyz(SET, 4).unwrap(), Some(&["H".to_string(), "C".to_string()])).unwrap_err().to_string().contains("element N"));
    }

    #[test]
    fn rows_split_and_join_and_decode_by_argmax() {
        let z = vec![1.0, 2.0, 3.0, 0.1, -0.2, 4.0, 5.0, 6.0, -0.3, 0.4];
        let (x, h) = split_rows(&z, 3, 2);
        assert_eq!(x, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(join_rows(&x, &h, 3, 2), z);
        let m = decode(&z, 2, &["H".into(), "C".into()]);
        assert_eq!(m[0].0, vec!["H", "C"]);
    }

    #[test]
    fn sizes_follow_the_histogram() {
        let sizes = sample_sizes(&[(5, 3), (9, 1)], 4000, 1);
        let five = sizes.iter().find(|s| s.0 == 5).unwrap().1 as f64 / 4000.0;
        assert!((five - 0.75).abs() < 0.03, "{five}");
    }

    /// GAGA's start: at T* every column's variance is ṽ = α² v̂ + σ² (per modality), on the
    /// zero-mean space; pooled gives one value.
    #[test]
    fn the_gaga_start_has_the_closed_form_variance() {
        let s = Schedule::polynomial2(1000, 1e-5);
        let opts = GenerateOptions { method: Method::Ddpm, steps: 10, t_star: Some(550.0), variance: GagaVariance::PerModality, seed: 0 };
        let g = SizeStats { position_variance: 1.5, type_variance: 0.05 };
        let so = size_options(&opts, &s, g, 5, 3);
        let a2 = s.alpha2(550.0);
        assert!((so.column_variance[0] - (a2 * 1.5 + s.sigma2(550.0))).abs() < 1e-12);
        assert!((so.column_variance[4] - (a2 * 0.05 + s.sigma2(550.0))).abs() < 1e-12);
        let n = 12;
        let run = SamplerRun::with_width(n, 8, &s, &so, 3000, 0).unwrap();
        let (mut m0, mut m4) = (0.0, 0.0);
        for z in run.samples().chunks(8 * n) {
            for r in z.chunks(8) {
                m0 += r[0] * r[0];
                m4 += r[4] * r[4];
            }
        }
        // per column, zero mean over n rows: E Σ_rows z² = (n − 1) ṽ
        let per = 3000.0 * (n - 1) as f64;
        assert!((m0 / per / so.column_variance[0] - 1.0).abs() < 0.03, "{}", m0 / per);
        assert!((m4 / per / so.column_variance[4] - 1.0).abs() < 0.03, "{}", m4 / per);
        let pooled = size_options(&GenerateOptions { variance: GagaVariance::Pooled, ..opts }, &s, g, 5, 3);
        assert!(pooled.column_variance.windows(2).all(|w| w[0] == w[1]));
    }
}
