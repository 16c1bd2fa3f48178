//! Reverse sampling's score sources, chosen and built once for both faces (the page's Generate
//! panel and `molplay sample`): the exact spring chain, the exact score of the noised empirical
//! distribution of same-size molecules (or of their rotation orbits), or a trained network
//! (which each face holds itself); with the reference each run is judged against, GAGA's
//! per-coordinate variance, and each sample's elements.

use crate::app::AppError;
use crate::metrics::{mean_square, GenerationQuality, Stability};
use crate::samplers::{check_chain_beads, Denoiser, EmpiricalTarget, GaussianTarget, Method, SampleOptions, SamplerError, Symmetry};
use serde::Serialize;

/// The network a [`Source::Network`] samples with (the face holds it): the score model, or, in a
/// build without the networks (the page's first module), a type with no values.
#[cfg(feature = "nets")]
pub type ScoreNetwork = crate::models::ScoreModel;
#[cfg(not(feature = "nets"))]
pub enum ScoreNetwork {}

/// Where the score comes from.
pub enum Source {
    /// The Gaussian spring chain (exact score).
    Chain(GaussianTarget),
    /// The exact score of the noised data set (or of its rotation orbits), with each data
    /// molecule's elements (empty when the data have none).
    Molecules { target: EmpiricalTarget, elements: Vec<Vec<String>> },
    /// A trained network (held by the face), with its node features for every sample (one
    /// molecule's for all when not conditioned on elements) and, for a network conditioned on
    /// them, each sample's elements (drawn from the data).
    Network { atoms: usize, feats: Vec<f64>, elements: Vec<Vec<String>> },
}

/// A source with what a run needs beside it.
pub struct Prepared {
    pub source: Source,
    /// Configurations the samples are judged against (flat).
    pub reference: Vec<f64>,
    /// The data's per-coordinate variance: GAGA's closed-form Gaussian.
    pub v_hat: f64,
    pub label: String,
}

impl Source {
    /// The spring chain of `n` beads, judged against `reference` exact draws of it.
    pub fn chain(n: usize, reference: usize) -> Result<Prepared, AppError> {
        check_chain_beads(n)?;
        let mut g = GaussianTarget::spring_chain(n);
        let v_hat = g.mean_r2() / (3 * n) as f64;
        let reference: Vec<f64> = (0..reference).flat_map(|_| g.draw()).collect();
        Ok(Prepared { source: Source::Chain(g), reference, v_hat, label: format!("spring chain of {n} beads (exact Gaussian score)") })
    }

    /// The exact score of the noised data set `positions` (molecules of `n` atoms, with their
    /// `elements`), or of its rotation orbits; judged against the data themselves.
    pub fn molecules(positions: Vec<f64>, n: usize, elements: Vec<Vec<String>>, orbits: bool) -> Result<Prepared, AppError> {
        if n < 3 {
            return Err(AppError::Invalid("molecules need at least 3 atoms".into()));
        }
        let (target, what) = if orbits {
            (EmpiricalTarget::over_orbits(&positions, n)?, "exact score of the noised data set's rotation orbits")
        } else {
            (EmpiricalTarget::new(&positions, n)?, "exact score of the noised data set")
        };
        let label = format!("{} molecules with {n} atoms ({what})", positions.len() / (3 * n));
        let v_hat = mean_square(&positions);
        Ok(Prepared { source: Source::Molecules { target, elements }, reference: positions, v_hat, label })
    }

    /// A network of `config` sampling `count` molecules, judged against `reference` (flat data
    /// of its size, whose elements are `data_elements`): a network conditioned on elements gets
    /// each sample's atom types from a data molecule drawn with `seed`.
    #[cfg(feature = "nets")]
    pub fn network(config: &crate::models::EgnnConfig, reference: Vec<f64>, data_elements: &[Vec<String>], count: usize, seed: u64, label: String) -> Result<Prepared, AppError> {
        let (feats, elements) = if config.conditioned_on_elements() {
            if data_elements.is_empty() {
                return Err(AppError::Invalid("this network generates positions for given elements: the data must be molecules (XYZ) to draw them from".into()));
            }
            let picks = crate::models::composition_picks(data_elements.len(), count, seed);
            (config.features_of(data_elements, &picks)?, picks.iter().map(|&i| data_elements[i].clone()).collect())
        } else {
            (config.node_features(1), Vec::new())
        };
        Ok(Prepared { source: Source::Network { atoms: config.atoms, feats, elements }, reference, v_hat: config.data_variance, label })
    }

    pub fn atoms(&self) -> usize {
        match self {
            Source::Chain(g) => g.atoms(),
            Source::Molecules { target, .. } => target.atoms(),
            Source::Network { atoms, .. } => *atoms,
        }
    }

    /// Whether samples are compared with the data up to a rotation: with the align and quotient
    /// treatments, and for the orbit-averaged target (whose samples are rotated data points).
    pub fn up_to_rotation(&self, symmetry: Symmetry) -> bool {
        symmetry != Symmetry::Equivariant || matches!(self, Source::Molecules { target, .. } if target.is_over_orbits())
    }

    /// For the exact empirical score, the data point each of the samples `xs` (flat) ends
    /// nearest to; None for the other sources.
    pub fn nearest_data(&self, xs: &[f64], symmetry: Symmetry) -> Option<Vec<usize>> {
        let Source::Molecules { target, .. } = self else { return None };
        let rot = self.up_to_rotation(symmetry);
        Some(xs.chunks(3 * target.atoms()).map(|x| target.nearest(x, rot)).collect())
    }

    /// The elements of the samples `xs` (flat, the run's first samples in order): given to a
    /// network conditioned on them, or those of the data molecule an empirical sample ends
    /// nearest to (`nearest`, when already found); None for the chain, data without elements and
    /// a positions-only network.
    pub fn elements_of(&self, xs: &[f64], symmetry: Symmetry, nearest: Option<&[usize]>) -> Option<Vec<&[String]>> {
        match self {
            Source::Molecules { elements, .. } if !elements.is_empty() => {
                let found;
                let idx = match nearest {
                    Some(idx) => idx,
                    None => {
                        found = self.nearest_data(xs, symmetry)?;
                        &found
                    }
                };
                Some(idx.iter().map(|&k| elements[k].as_slice()).collect())
            }
            Source::Network { elements, atoms, .. } if !elements.is_empty() => Some(elements[..xs.len() / (3 * atoms)].iter().map(Vec::as_slice).collect()),
            _ => None,
        }
    }

    /// Calls `f` with this source as the denoiser; a network's is `model` (the face holds it).
    /// `f`'s sampler errors come back as [`AppError::Sampler`]; without `model` for a network
    /// source, [`AppError::NetworkGone`].
    #[cfg_attr(not(feature = "nets"), allow(unused_variables))]
    pub fn with_denoiser<R>(&mut self, model: Option<&ScoreNetwork>, f: impl FnOnce(&mut dyn Denoiser) -> Result<R, SamplerError>) -> Result<R, AppError> {
        Ok(match self {
            Source::Chain(g) => f(g)?,
            Source::Molecules { target, .. } => f(target)?,
            Source::Network { feats, .. } => match model {
                #[cfg(feature = "nets")]
                Some(model) => f(&mut crate::models::NetworkDenoiser { model, feats: feats.clone() })?,
                #[cfg(not(feature = "nets"))]
                Some(model) => match *model {},
                None => return Err(AppError::NetworkGone),
            },
        })
    }

    /// Whether the samples' elements are known before the run ends (given to the network).
    pub fn elements_given(&self) -> bool {
        matches!(self, Source::Network { elements, .. } if !elements.is_empty())
    }
}

/// EDM's atom and molecule stability of samples whose elements are known, and where the
/// elements came from.
#[derive(Clone, Debug, Serialize)]
pub struct SampleStability {
    pub atom: f64,
    pub molecule: f64,
    pub molecules: usize,
    pub skipped: usize,
    /// "given" (to a network conditioned on them) or "nearest data molecule" (an exact
    /// empirical sample takes those of the data point it ends nearest to).
    pub elements: &'static str,
}

/// A finished reverse-sampler run: `molplay sample --json` and the page's `sample()` alike.
#[derive(Clone, Debug, Serialize)]
pub struct SampleReport {
    pub label: String,
    pub atoms: usize,
    pub samples: usize,
    pub sampler: Method,
    pub symmetry: Symmetry,
    pub steps: usize,
    /// Where sampling started (T, or T* for GAGA) and the variance of its Gaussian.
    pub t_start: f64,
    pub gaga: bool,
    pub t_star: Option<f64>,
    pub start_variance: f64,
    /// Score (network) evaluations, all samples together, and per sample.
    pub nfe: usize,
    pub nfe_per_sample: f64,
    pub seconds: f64,
    /// Distance W2 and E[R²] against the reference.
    pub quality: GenerationQuality,
    /// Where the samples' elements are known (None: the chain, a positions-only network).
    pub stability: Option<SampleStability>,
    /// For the exact empirical score: the mean RMSD of (up to 200) samples to the data point
    /// each ends nearest to (how much it memorises).
    pub nearest_data_rmsd: Option<f64>,
}

/// What a run was, for its report.
pub struct RunFacts<'a> {
    pub label: String,
    pub options: &'a SampleOptions,
    pub nfe: usize,
    pub seconds: f64,
    pub gaga: bool,
    pub t_star: Option<f64>,
}

impl Source {
    /// The report of a finished run of this source: `samples` (flat) judged against
    /// `reference`.
    pub fn report(&self, reference: &[f64], samples: &[f64], run: RunFacts) -> SampleReport {
        let n = self.atoms();
        let per = 3 * n;
        let count = samples.len() / per.max(1);
        let symmetry = run.options.symmetry;
        // each empirical sample's nearest data point, found once: its elements and its distance
        let nearest = self.nearest_data(samples, symmetry);
        let stability = self.elements_of(samples, symmetry, nearest.as_deref()).map(|els| {
            let st = Stability::of(samples, n, &els);
            SampleStability {
                atom: st.atom_fraction(),
                molecule: st.molecule_fraction(),
                molecules: st.molecules,
                skipped: st.skipped,
                elements: if self.elements_given() { "given" } else { "nearest data molecule" },
            }
        });
        let nearest_data_rmsd = nearest.map(|nearest| {
            let rot = self.up_to_rotation(symmetry);
            let gaps: Vec<f64> = samples
                .chunks(per)
                .zip(&nearest)
                .take(200)
                .map(|(x, &k)| {
                    let p = &reference[k * per..][..per];
                    let y = if rot { crate::geometry::align_to(p, x) } else { p.to_vec() };
                    (y.iter().zip(x).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / n as f64).sqrt()
                })
                .collect();
            gaps.iter().sum::<f64>() / gaps.len().max(1) as f64
        });
        let o = run.options;
        SampleReport {
            label: run.label,
            atoms: n,
            samples: count,
            sampler: o.method,
            symmetry,
            steps: o.steps,
            t_start: o.t_start,
            gaga: run.gaga,
            t_star: run.t_star,
            start_variance: o.start_variance,
            nfe: run.nfe,
            nfe_per_sample: run.nfe as f64 / count.max(1) as f64,
            seconds: run.seconds,
            quality: GenerationQuality::new(samples, reference, n),
            stability,
            nearest_data_rmsd,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn triangle(shift: f64) -> Vec<f64> {
        vec![0.0 + shift, 0.0, 0.0, 1.0 + shift, 0.0, 0.0, 0.0, 1.2, 0.0]
    }

    #[test]
    fn an_empirical_sample_takes_the_elements_of_the_data_molecule_it_ends_nearest() {
        let data = [triangle(0.0), vec![0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 3.0, 0.0]].concat();
        let els = vec![vec!["C".to_string(), "O".into(), "H".into()], vec!["N".to_string(), "N".into(), "H".into()]];
        let p = Source::molecules(data.clone(), 3, els, false).unwrap();
        assert_eq!(p.label, "2 molecules with 3 atoms (exact score of the noised data set)");
        assert_eq!(p.source.atoms(), 3);
        // the second data molecule, slightly moved, then the first
        let xs = [vec![0.05, 0.0, 0.0, 3.0, 0.1, 0.0, 0.0, 2.9, 0.0], triangle(0.01)].concat();
        assert_eq!(p.source.nearest_data(&xs, Symmetry::Equivariant), Some(vec![1, 0]));
        let got = p.source.elements_of(&xs, Symmetry::Equivariant, None).unwrap();
        assert_eq!(got, vec![&["N".to_string(), "N".into(), "H".into()][..], &["C".to_string(), "O".into(), "H".into()][..]]);
        assert!(!p.source.elements_given());
        // without elements in the data there are none to give
        let bare = Source::molecules(data, 3, Vec::new(), false).unwrap();
        assert!(bare.source.elements_of(&xs, Symmetry::Equivariant, None).is_none());
    }

    #[test]
    fn the_chain_is_checked_and_judged_against_its_own_draws() {
        let p = Source::chain(5, 10).unwrap();
        assert_eq!((p.reference.len(), p.source.atoms()), (10 * 15, 5));
        assert!(p.v_hat > 0.0);
        assert!(p.source.elements_of(&p.reference, Symmetry::Equivariant, None).is_none());
        assert!(Source::chain(2, 10).is_err());
        assert!(Source::molecules(vec![0.0; 6], 2, Vec::new(), false).is_err());
    }

    #[test]
    fn rotation_counts_for_aligned_and_orbit_samples_only() {
        let chain = Source::chain(4, 1).unwrap().source;
        assert!(!chain.up_to_rotation(Symmetry::Equivariant));
        assert!(chain.up_to_rotation(Symmetry::Quotient));
        let orbits = Source::molecules(triangle(0.0), 3, Vec::new(), true).unwrap().source;
        assert!(orbits.up_to_rotation(Symmetry::Equivariant));
    }
}
