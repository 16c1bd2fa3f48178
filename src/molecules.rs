//! Molecules as data for the forward process (spec gaga.md §1.3): a data set read from
//! multi-frame XYZ (elements from the file, Mulliken-type charges optional), the per-modality
//! feature blocks as EDM/GAGA build them (CoM-free positions; one-hot types centred per molecule
//! and divided by 4; charges divided by 10), and the forward draw z_t = α_t z_0 + σ_t Pε with the
//! noise projected to zero per-molecule mean in every column.

use crate::io::{read_xyz, IoError};
use crate::rng::XorShift64;
use crate::schedules::Schedule;
use serde::Serialize;

/// QM9's five elements, in EDM's one-hot order.
pub const QM9_ELEMENTS: [&str; 5] = ["H", "C", "N", "O", "F"];

const ELEMENTS: [&str; 118] = [
    "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S", "Cl", "Ar", "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As", "Se",
    "Br", "Kr", "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I", "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho",
    "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W", "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa", "U", "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm",
    "Md", "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og",
];

/// Atomic number of a symbol (case-insensitive); benchmark particles "X" count as element 0.
pub fn atomic_number(symbol: &str) -> Option<usize> {
    if symbol.eq_ignore_ascii_case("x") {
        return Some(0);
    }
    ELEMENTS.iter().position(|e| e.eq_ignore_ascii_case(symbol)).map(|i| i + 1)
}

#[derive(Clone, Debug, PartialEq)]
pub struct Molecule {
    pub elements: Vec<String>,
    /// Flat N × 3, Å.
    pub positions: Vec<f64>,
    pub charges: Option<Vec<f64>>,
    /// The XYZ comment line (QM9: index and SMILES).
    pub label: String,
}

/// Why a molecule set could not be read or cut. Messages are shown to users as they are.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum DatasetError {
    /// The XYZ text itself is malformed.
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("frame {frame}: unknown element '{element}'")]
    UnknownElement { frame: usize, element: String },
    #[error("no molecule with at least {min_atoms} atoms ({skipped} frames skipped)")]
    NoMolecules { min_atoms: usize, skipped: usize },
    #[error("the set is empty")]
    Empty,
    /// No molecule of the size asked for; `sizes` lists the set's sizes.
    #[error("no molecule has {atoms} atoms (sizes in the set: {sizes})")]
    NoSuchSize { atoms: usize, sizes: String },
    /// An element outside a one-hot vocabulary ([`one_hot`]): the element.
    #[error("the element {0} is not in the vocabulary")]
    OutsideVocabulary(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub molecules: Vec<Molecule>,
    /// The one-hot vocabulary: QM9's five when the file fits in them, else the file's elements by
    /// atomic number.
    pub types: Vec<String>,
    /// Frames left out, with the reason (e.g. fewer than 4 atoms).
    pub skipped: Vec<String>,
}

/// The modalities of a molecule, each a block of N rows (atoms) × F columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Modality {
    Positions,
    Types,
    Charges,
}

impl Modality {
    pub fn name(self) -> &'static str {
        match self {
            Modality::Positions => "positions",
            Modality::Types => "types",
            Modality::Charges => "charges",
        }
    }

    /// EDM's normalisation factors [1, 4, 10].
    pub fn scale(self) -> f64 {
        match self {
            Modality::Positions => 1.0,
            Modality::Types => 4.0,
            Modality::Charges => 10.0,
        }
    }

    /// k of the KSG estimator in the released test (2 for positions, 3 for types).
    pub fn knn_k(self) -> usize {
        match self {
            Modality::Positions => 2,
            _ => 3,
        }
    }
}

impl Dataset {
    /// Reads a multi-frame XYZ. Unknown element symbols are an error naming the frame; frames
    /// with fewer than `min_atoms` atoms are skipped and listed.
    pub fn from_xyz(text: &str, min_atoms: usize) -> Result<Dataset, DatasetError> {
        let frames = read_xyz(text)?;
        let mut molecules = Vec::new();
        let mut skipped = Vec::new();
        for (f, frame) in frames.into_iter().enumerate() {
            if let Some(bad) = frame.elements.iter().find(|e| atomic_number(e).is_none()) {
                return Err(DatasetError::UnknownElement { frame: f, element: bad.clone() });
            }
            if frame.elements.len() < min_atoms {
                skipped.push(format!("frame {f}: {} atoms (fewer than {min_atoms})", frame.elements.len()));
                continue;
            }
            molecules.push(Molecule { elements: frame.elements, positions: frame.positions, charges: frame.charges, label: frame.comment });
        }
        if molecules.is_empty() {
            return Err(DatasetError::NoMolecules { min_atoms, skipped: skipped.len() });
        }
        let qm9 = molecules.iter().all(|m| m.elements.iter().all(|e| QM9_ELEMENTS.contains(&e.as_str())));
        let types = if qm9 {
            QM9_ELEMENTS.iter().map(|s| s.to_string()).collect()
        } else {
            let mut t: Vec<String> = molecules.iter().flat_map(|m| m.elements.iter().cloned()).collect();
            t.sort_by_key(|e| atomic_number(e));
            t.dedup();
            t
        };
        Ok(Dataset { molecules, types, skipped })
    }

    /// `count` evenly spaced molecules (all for 0 or more than there are): QM9's order puts small
    /// molecules first, so a prefix would be biased.
    pub fn evenly_spaced(&self, count: usize) -> Dataset {
        let n = self.molecules.len();
        if count == 0 || count >= n {
            return self.clone();
        }
        Dataset { molecules: (0..count).map(|i| self.molecules[i * n / count].clone()).collect(), types: self.types.clone(), skipped: self.skipped.clone() }
    }

    /// The molecules of at most `max_atoms` atoms; the others are listed in `skipped`, with why.
    pub fn at_most_atoms(self, max_atoms: usize, why: &str) -> (Dataset, usize) {
        let Dataset { molecules, types, mut skipped } = self;
        let total = molecules.len();
        let mut kept = Vec::with_capacity(total);
        for (i, m) in molecules.into_iter().enumerate() {
            if m.elements.len() <= max_atoms {
                kept.push(m);
            } else {
                skipped.push(format!("molecule {i}: {} atoms (over {max_atoms}: {why})", m.elements.len()));
            }
        }
        let left_out = total - kept.len();
        (Dataset { molecules: kept, types, skipped }, left_out)
    }

    /// The molecules with `atoms` atoms (`None`: the most common count, ties to the larger), at
    /// most `limit` of them evenly spaced (0 = all) — a data set of one size, which a score over
    /// positions needs.
    pub fn same_size(&self, atoms: Option<usize>, limit: usize) -> Result<SizeGroup, DatasetError> {
        let mut counts = std::collections::BTreeMap::new();
        for m in &self.molecules {
            *counts.entry(m.elements.len()).or_insert(0usize) += 1;
        }
        let n = match atoms {
            Some(n) => n,
            None => counts.iter().max_by_key(|(&n, &c)| (c, n)).map(|(&n, _)| n).ok_or(DatasetError::Empty)?,
        };
        let picked: Vec<&Molecule> = self.molecules.iter().filter(|m| m.elements.len() == n).collect();
        if picked.is_empty() {
            let sizes: Vec<String> = counts.keys().map(|k| k.to_string()).collect();
            return Err(DatasetError::NoSuchSize { atoms: n, sizes: sizes.join(", ") });
        }
        let k = if limit == 0 { picked.len() } else { limit.min(picked.len()) };
        let chosen: Vec<&Molecule> = (0..k).map(|i| picked[i * picked.len() / k]).collect();
        let mut xs = Vec::with_capacity(k * 3 * n);
        for m in &chosen {
            let mut p = m.positions.clone();
            crate::geometry::remove_com(&mut p, 3);
            xs.extend(p);
        }
        Ok(SizeGroup { atoms: n, positions: xs, elements: chosen.iter().map(|m| m.elements.clone()).collect() })
    }

    /// Modalities that carry information here: positions; types when the data holds ≥ 2
    /// elements (one element centres to an all-zero block); charges when every molecule has them.
    pub fn modalities(&self) -> Vec<Modality> {
        let mut m = vec![Modality::Positions];
        let first = &self.molecules[0].elements[0];
        if self.molecules.iter().any(|m| m.elements.iter().any(|e| e != first)) {
            m.push(Modality::Types);
        }
        if self.molecules.iter().all(|m| m.charges.is_some()) {
            m.push(Modality::Charges);
        }
        m
    }

    /// Molecule `i`'s block for `modality`: (values N × F flat, F). Every column has zero mean
    /// over the atoms (positions: CoM-free; types: centred one-hot as the GAGA fork does; charges:
    /// centred, a no-op for neutral molecules up to rounding), then EDM's scaling.
    pub fn block(&self, i: usize, modality: Modality) -> (Vec<f64>, usize) {
        let m = &self.molecules[i];
        let n = m.elements.len();
        let (mut v, cols) = match modality {
            Modality::Positions => (m.positions.clone(), 3),
            Modality::Types => (one_hot(&m.elements, &self.types).expect("vocabulary covers the data set"), self.types.len()),
            Modality::Charges => (m.charges.clone().unwrap_or_else(|| vec![0.0; n]), 1),
        };
        centre_columns(&mut v, n, cols);
        let s = modality.scale();
        v.iter_mut().for_each(|x| *x /= s);
        (v, cols)
    }
}

/// Molecules of one size: flat CoM-free positions and the elements of each.
#[derive(Clone, Debug)]
pub struct SizeGroup {
    pub atoms: usize,
    pub positions: Vec<f64>,
    pub elements: Vec<Vec<String>>,
}

/// The atoms' elements one-hot over the vocabulary `types` (N × K, matched ignoring case); an
/// element outside it is the error ([`DatasetError::OutsideVocabulary`]).
pub fn one_hot(elements: &[String], types: &[String]) -> Result<Vec<f64>, DatasetError> {
    let k = types.len();
    let mut v = vec![0.0; elements.len() * k];
    for (a, e) in elements.iter().enumerate() {
        let j = types.iter().position(|t| t.eq_ignore_ascii_case(e)).ok_or_else(|| DatasetError::OutsideVocabulary(e.clone()))?;
        v[a * k + j] = 1.0;
    }
    Ok(v)
}

/// Subtracts each column's mean over the rows.
pub fn centre_columns(v: &mut [f64], rows: usize, cols: usize) {
    for j in 0..cols {
        let mean = (0..rows).map(|i| v[i * cols + j]).sum::<f64>() / rows as f64;
        for i in 0..rows {
            v[i * cols + j] -= mean;
        }
    }
}

/// z_t = α_t z_0 + σ_t Pε for one block (P: zero mean over the rows in every column), the
/// forward draw used in training and in the Gaussianity test. CPU oracle of the GPU pass.
pub fn forward(z0: &[f64], rows: usize, cols: usize, schedule: &Schedule, t: f64, rng: &mut XorShift64) -> Vec<f64> {
    noised(z0, rows, cols, schedule.alpha(t), schedule.sigma(t), rng)
}

/// α z_0 + σ Pε for given α, σ (the forward draw without a schedule).
pub fn noised(z0: &[f64], rows: usize, cols: usize, alpha: f64, sigma: f64, rng: &mut XorShift64) -> Vec<f64> {
    let mut eps: Vec<f64> = (0..rows * cols).map(|_| rng.normal()).collect();
    centre_columns(&mut eps, rows, cols);
    z0.iter().zip(&eps).map(|(z, e)| alpha * z + sigma * e).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "5\nProperties=species:S:1:pos:R:3:charge:R:1 smiles=\"C\"\nC 0 0 0 -0.5\nH 1 0 0 0.125\nH -1 0 0 0.125\nH 0 1 0 0.125\nH 0 -1 0 0.125\n\
3\nwater\nO 0 0 0 -0.6\nH 1 0 0 0.3\nH 0 1 0 0.3\n";

    #[test]
    fn reads_molecules_skips_small_ones_and_builds_blocks() {
        let d = Dataset::from_xyz(TWO, 4).unwrap();
        assert_eq!(d.molecules.len(), 1);
        assert_eq!(d.skipped, vec!["frame 1: 3 atoms (fewer than 4)".to_string()]);
        assert_eq!(d.types, QM9_ELEMENTS.map(String::from).to_vec());
        assert_eq!(d.modalities(), vec![Modality::Positions, Modality::Types, Modality::Charges]);
        let (x, cols) = d.block(0, Modality::Positions);
        assert_eq!(cols, 3);
        assert!((0..3).all(|k| (0..5).map(|a| x[a * 3 + k]).sum::<f64>().abs() < 1e-12));
        let (h, k) = d.block(0, Modality::Types);
        assert_eq!(k, 5);
        // column H: four of five atoms → (1 − 0.8)/4 for an H, (0 − 0.8)/4 for the C
        assert!((h[5] - 0.05).abs() < 1e-12 && (h[0] + 0.2).abs() < 1e-12);
        let (q, _) = d.block(0, Modality::Charges);
        assert!((q[0] + 0.05).abs() < 1e-12, "charges /10: {q:?}");
    }

    #[test]
    fn same_size_picks_the_most_common_atom_count_and_centres() {
        let five = |dx: f64| format!("5\nc\nC {dx} 0 0\nH 1 0 0\nH -1 0 0\nH 0 1 0\nH 0 -1 0\n");
        let text = format!("{}{}4\nc\nN 0 0 0\nH 1 0 0\nH 0 1 0\nH 0 0 1\n{}", five(0.0), five(0.5), five(1.0));
        let d = Dataset::from_xyz(&text, 4).unwrap();
        let g = d.same_size(None, 0).unwrap();
        assert_eq!((g.atoms, g.positions.len(), g.elements.len()), (5, 45, 3));
        assert!(g.positions.chunks(15).all(|x| (0..3).all(|k| x.chunks(3).map(|p| p[k]).sum::<f64>().abs() < 1e-12)));
        let g2 = d.same_size(Some(5), 2).unwrap();
        assert_eq!((g2.positions.len(), g2.elements.len()), (30, 2));
        let g4 = d.same_size(Some(4), 0).unwrap();
        assert_eq!((g4.atoms, g4.elements[0][0].as_str()), (4, "N"));
        assert!(d.same_size(Some(9), 0).unwrap_err().to_string().contains("sizes in the set: 4, 5"));
    }

    #[test]
    fn bad_files_are_explained() {
        assert!(Dataset::from_xyz("4\nc\nC 0 0 0\nQq 1 0 0\nH 0 1 0\nH 0 0 1\n", 4).unwrap_err().to_string().contains("unknown element 'Qq'"));
        assert!(Dataset::from_xyz("2\nc\nH 0 0 0\nH 1 0 0\n", 4).unwrap_err().to_string().contains("no molecule with at least 4 atoms"));
        assert!(Dataset::from_xyz("", 4).is_err());
        // non-QM9 elements get their own vocabulary by atomic number
        let d = Dataset::from_xyz("4\nc\nSi 0 0 0\nCl 1 0 0\nH 0 1 0\nH 0 0 1\n", 4).unwrap();
        assert_eq!(d.types, vec!["H", "Si", "Cl"]);
        assert_eq!(d.modalities(), vec![Modality::Positions, Modality::Types]);
    }

    #[test]
    fn forward_has_the_schedules_moments_and_zero_mean_noise() {
        let s = Schedule::polynomial2(1000, 1e-5);
        let mut r = XorShift64::new(1);
        let (rows, cols) = (20, 3);
        let z0 = vec![0.0; rows * cols];
        let mut m2 = 0.0;
        let reps = 2000;
        for _ in 0..reps {
            let z = forward(&z0, rows, cols, &s, 550.0, &mut r);
            assert!((0..cols).all(|k| (0..rows).map(|a| z[a * cols + k]).sum::<f64>().abs() < 1e-9));
            m2 += z.iter().map(|v| v * v).sum::<f64>() / (rows * cols) as f64;
        }
        // E|Pε|²/(rows·cols) = σ²·(N − 1)/N
        let want = s.sigma2(550.0) * (rows as f64 - 1.0) / rows as f64;
        assert!((m2 / reps as f64 - want).abs() < 0.01 * want, "{} vs {want}", m2 / reps as f64);
    }
}
