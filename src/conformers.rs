//! Conformer generation conditioned on the molecular graph (the quotient-space paper's Table 2
//! setting, spec quotient.md §5.1, on the bundled QM9 subset): each molecule is its elements,
//! its bonds (inferred from the data geometry by the distance rules of the stability check,
//! [`crate::chemistry::bonds`]) and its 3-D positions; a fixed held-out split is never trained
//! on; and the coverage metrics COV / AMR, recall and precision, from heavy-atom RMSD after the
//! best proper rotation.
//!
//! QM9 has one conformer per molecule, so recall is against that one reference (COV-R of a
//! molecule is 0 or 100 %, AMR-R the best of its k generated conformers) and precision is per
//! generated conformer (COV-P the share of the k within the threshold, AMR-P their mean RMSD).
//! RMSD searches the symmetry-equivalent atom orders as RDKit's `GetBestRMS` does
//! ([`Conformer::symmetries`], [`align_best`]): a conformer equal up to swapping equivalent
//! atoms (the two oxygens of a carboxylate, the carbons of a tert-butyl) is the same conformer.

use crate::chemistry;
use crate::molecules::Dataset;
use serde::Serialize;

/// Bond-order classes of the edge attributes: none, single, double, triple.
pub const EDGE_FEATURES: usize = 4;

#[derive(Clone, Debug, PartialEq)]
pub struct Conformer {
    pub elements: Vec<String>,
    /// Flat N × 3, Å, CoM-free.
    pub positions: Vec<f64>,
    pub bonds: Vec<(usize, usize, usize)>,
    /// Position in the data set it came from.
    pub index: usize,
}

impl Conformer {
    pub fn atoms(&self) -> usize {
        self.elements.len()
    }

    /// Edge attributes over the directed pairs in the EGNN's order
    /// ([`other_atoms`](crate::models::other_atoms)): the bond order one-hot, n × (n − 1) × 4.
    pub fn edge_attributes(&self) -> Vec<f64> {
        let n = self.atoms();
        let mut order = vec![0usize; n * n];
        for &(i, j, o) in &self.bonds {
            order[i * n + j] = o.min(3);
            order[j * n + i] = o.min(3);
        }
        let order = &order;
        crate::models::other_atoms(n).flat_map(|(i, j)| (0..EDGE_FEATURES).map(move |c| (c == order[i * n + j]) as u8 as f64)).collect()
    }
}

/// The molecules of a data set usable as conformer targets, and why the others are left out.
pub fn from_dataset(data: &Dataset) -> (Vec<Conformer>, Vec<String>) {
    let (mut kept, mut left) = (Vec::new(), Vec::new());
    for (i, m) in data.molecules.iter().enumerate() {
        let n = m.elements.len();
        let Some(bonds) = chemistry::bonds(&m.elements, &m.positions) else {
            left.push(format!("molecule {i}: elements outside H, C, N, O, F"));
            continue;
        };
        if n < 3 {
            left.push(format!("molecule {i}: {n} atoms"));
            continue;
        }
        // the paper (after ET-Flow) removes molecules whose graph is disconnected
        if chemistry::largest_fragment(n, &bonds).len() != n {
            left.push(format!("molecule {i}: its bond graph is disconnected"));
            continue;
        }
        let mut positions = m.positions.clone();
        crate::geometry::remove_com(&mut positions, 3);
        kept.push(Conformer { elements: m.elements.clone(), positions, bonds, index: i });
    }
    (kept, left)
}

/// The fixed split: every `every`-th molecule (by position in the data set, whose order is a
/// random draw) is held out. (train, test).
pub fn split(all: Vec<Conformer>, every: usize) -> (Vec<Conformer>, Vec<Conformer>) {
    all.into_iter().partition(|c| every == 0 || c.index % every != every - 1)
}

/// The atoms an RMSD is taken over: the heavy ones, or all when fewer than three are heavy.
pub fn rmsd_atoms(elements: &[String]) -> Vec<usize> {
    let heavy: Vec<usize> = (0..elements.len()).filter(|&i| !elements[i].eq_ignore_ascii_case("H")).collect();
    if heavy.len() < 3 {
        (0..elements.len()).collect()
    } else {
        heavy
    }
}

/// Heavy-atom RMSD between two conformers of one molecule (same atom order, flat Å) after the
/// best proper rotation (no reflection: a mirror image is another conformer); all atoms when
/// the molecule has fewer than three heavy atoms. No search over equivalent atom orders.
pub fn heavy_rmsd(a: &[f64], b: &[f64], elements: &[String]) -> f64 {
    align_heavy(a, b, elements).1
}

/// `a` moved onto `b` (every atom, by the rotation and shift that best superpose their heavy
/// atoms) and the heavy-atom RMSD of [`heavy_rmsd`].
pub fn align_heavy(a: &[f64], b: &[f64], elements: &[String]) -> (Vec<f64>, f64) {
    let atoms = rmsd_atoms(elements);
    align_matched(a, b, &atoms, &atoms)
}

/// `a` moved onto `b` by the rotation and shift that best superpose atoms `from` of `a` onto
/// atoms `onto` of `b` (pairwise), and the RMSD of those pairs.
fn align_matched(a: &[f64], b: &[f64], from: &[usize], onto: &[usize]) -> (Vec<f64>, f64) {
    let pick = |x: &[f64], idx: &[usize]| -> Vec<f64> { idx.iter().flat_map(|&i| x[3 * i..3 * i + 3].to_vec()).collect() };
    let (pa, pb) = (pick(a, from), pick(b, onto));
    let (ca, cb) = (crate::geometry::centre_of_mass(&pa, 3), crate::geometry::centre_of_mass(&pb, 3));
    let centred = |x: &[f64], c: [f64; 3]| -> Vec<f64> { x.chunks(3).flat_map(|p| [p[0] - c[0], p[1] - c[1], p[2] - c[2]]).collect() };
    let (qa, qb) = (centred(&pa, ca), centred(&pb, cb));
    let r = crate::geometry::kabsch_rotation(&qa, &qb);
    let moved: Vec<f64> = crate::geometry::rotate(&r, &centred(a, ca)).chunks(3).flat_map(|p| [p[0] + cb[0], p[1] + cb[1], p[2] + cb[2]]).collect();
    let sq: f64 = from.iter().zip(onto).map(|(&i, &j)| (0..3).map(|d| (moved[3 * i + d] - b[3 * j + d]).powi(2)).sum::<f64>()).sum();
    (moved, (sq / from.len().max(1) as f64).sqrt())
}

/// At most this many equivalent atom orders are searched per molecule.
pub const MAX_SYMMETRIES: usize = 1000;
/// At most this many partial assignments are tried per molecule (a large molecule with many
/// alike atoms could otherwise take exponential time before its orders are rejected).
pub const MAX_SYMMETRY_NODES: usize = 200_000;

impl Conformer {
    /// The orders of the RMSD atoms ([`rmsd_atoms`]) that map the molecular graph onto itself:
    /// same element, hydrogen count and bond orders among them (RDKit's `GetBestRMS` searches
    /// the same substructure matches). Each is a list of atom indices: entry k is the atom that
    /// plays the part of `rmsd_atoms[k]`. The identity comes first; at most [`MAX_SYMMETRIES`],
    /// and those found within [`MAX_SYMMETRY_NODES`] partial assignments (then an upper bound).
    pub fn symmetries(&self) -> Vec<Vec<usize>> {
        let n = self.atoms();
        let atoms = rmsd_atoms(&self.elements);
        let mut order = vec![0usize; n * n];
        let mut hydrogens = vec![0usize; n];
        for &(i, j, o) in &self.bonds {
            order[i * n + j] = o;
            order[j * n + i] = o;
            hydrogens[i] += self.elements[j].eq_ignore_ascii_case("H") as usize;
            hydrogens[j] += self.elements[i].eq_ignore_ascii_case("H") as usize;
        }
        let label = |i: usize| (self.elements[i].to_ascii_uppercase(), hydrogens[i], (0..n).filter(|&j| order[i * n + j] > 0).count());
        let labels: Vec<_> = (0..n).map(label).collect();
        let mut out = Vec::new();
        let mut perm: Vec<usize> = Vec::with_capacity(atoms.len());
        let mut used = vec![false; n];
        let mut nodes = 0usize;
        #[allow(clippy::too_many_arguments)]
        fn search(k: usize, atoms: &[usize], labels: &[(String, usize, usize)], order: &[usize], n: usize, perm: &mut Vec<usize>, used: &mut [bool], out: &mut Vec<Vec<usize>>, nodes: &mut usize) {
            *nodes += 1;
            if out.len() >= MAX_SYMMETRIES || (*nodes > MAX_SYMMETRY_NODES && !out.is_empty()) {
                return;
            }
            if k == atoms.len() {
                out.push(perm.clone());
                return;
            }
            let a = atoms[k];
            for &j in atoms {
                if used[j] || labels[j] != labels[a] || (0..k).any(|l| order[a * n + atoms[l]] != order[j * n + perm[l]]) {
                    continue;
                }
                used[j] = true;
                perm.push(j);
                search(k + 1, atoms, labels, order, n, perm, used, out, nodes);
                perm.pop();
                used[j] = false;
            }
        }
        search(0, &atoms, &labels, &order, n, &mut perm, &mut used, &mut out, &mut nodes);
        out
    }
}

/// `a` (a generated conformer of molecule `m`) moved onto the reference `m.positions` by the
/// best superposition over the equivalent atom orders `symmetries` ([`Conformer::symmetries`]),
/// and that RMSD: RDKit's `GetBestRMS` on heavy atoms.
pub fn align_best(a: &[f64], m: &Conformer, symmetries: &[Vec<usize>]) -> (Vec<f64>, f64) {
    let onto = rmsd_atoms(&m.elements);
    let mut best = align_matched(a, &m.positions, &onto, &onto);
    for from in symmetries.iter().skip(1) {
        let r = align_matched(a, &m.positions, from, &onto);
        if r.1 < best.1 {
            best = r;
        }
    }
    best
}

/// COV and AMR, recall and precision, mean and median over molecules (spec §5.1).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Coverage {
    pub molecules: usize,
    /// Generated conformers per molecule.
    pub k: usize,
    /// The RMSD threshold (Å; 0.5 for QM9).
    pub threshold: f64,
    pub cov_r_mean: f64,
    pub cov_r_median: f64,
    pub amr_r_mean: f64,
    pub amr_r_median: f64,
    pub cov_p_mean: f64,
    pub cov_p_median: f64,
    pub amr_p_mean: f64,
    pub amr_p_median: f64,
}

/// Coverage from each molecule's RMSDs of its generated conformers to its one reference.
pub fn coverage(rmsds: &[Vec<f64>], threshold: f64) -> Coverage {
    let (mut cov_r, mut amr_r, mut cov_p, mut amr_p) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for r in rmsds.iter().filter(|r| !r.is_empty()) {
        let best = r.iter().copied().fold(f64::INFINITY, f64::min);
        cov_r.push(100.0 * (best < threshold) as u8 as f64);
        amr_r.push(best);
        cov_p.push(100.0 * r.iter().filter(|&&v| v < threshold).count() as f64 / r.len() as f64);
        amr_p.push(r.iter().sum::<f64>() / r.len() as f64);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    Coverage {
        molecules: cov_r.len(),
        k: rmsds.iter().map(Vec::len).max().unwrap_or(0),
        threshold,
        cov_r_mean: mean(&cov_r),
        cov_r_median: median(&cov_r),
        amr_r_mean: mean(&amr_r),
        amr_r_median: median(&amr_r),
        cov_p_mean: mean(&cov_p),
        cov_p_median: median(&cov_p),
        amr_p_mean: mean(&amr_p),
        amr_p_median: median(&amr_p),
    }
}

/// The median (the mean of the middle two for an even count; NaN for none).
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        0.5 * (s[m - 1] + s[m])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SET: &str = "5\nm\nC 0 0 0\nH 1.09 0 0\nH -1.09 0 0\nH 0 1.09 0\nH 0 -1.09 0\n\
4\nm\nO 0 0 0\nH 0.96 0 0\nH 0 0.96 0\nH 5 5 5\n\
3\nm\nN 0 0 0\nC 1.47 0 0\nO 0 1.43 0\n";

    #[test]
    fn molecules_with_a_connected_graph_become_conformers_with_one_hot_bonds() {
        let (c, left) = from_dataset(&Dataset::from_xyz(SET, 3).unwrap());
        assert_eq!(c.len(), 2);
        assert!(left[0].contains("molecule 1") && left[0].contains("disconnected"), "{left:?}");
        let methane = &c[0];
        assert_eq!(methane.bonds.len(), 4);
        let e = methane.edge_attributes();
        assert_eq!(e.len(), 5 * 4 * EDGE_FEATURES);
        // pair (0, 1): C–H single; pair (1, 0) the same; pair (1, 2): H–H none
        assert_eq!(&e[..4], &[0.0, 1.0, 0.0, 0.0]);
        assert_eq!(&e[4 * 4..4 * 4 + 4], &[0.0, 1.0, 0.0, 0.0]);
        assert_eq!(&e[5 * 4..5 * 4 + 4], &[1.0, 0.0, 0.0, 0.0]);
        // every third molecule by position in the data set: index 2 is held out
        let (train, test) = split(c, 3);
        assert_eq!((train.len(), test.len()), (1, 1));
        assert_eq!((train[0].index, test[0].index), (0, 2));
    }

    #[test]
    fn equivalent_atoms_are_searched_as_getbestrms_does() {
        // CF4: the four fluorines are interchangeable, 4! orders
        let el: Vec<String> = ["C", "F", "F", "F", "F"].iter().map(|s| s.to_string()).collect();
        let r = 1.33 / 3f64.sqrt();
        let positions = vec![0.0, 0.0, 0.0, r, r, r, r, -r, -r, -r, r, -r, -r, -r, r];
        let m = Conformer { elements: el.clone(), positions: positions.clone(), bonds: (1..5).map(|k| (0, k, 1)).collect(), index: 0 };
        let sym = m.symmetries();
        assert_eq!(sym.len(), 24);
        assert_eq!(sym[0], vec![0, 1, 2, 3, 4], "the identity first");
        // the same shape with two fluorines' labels swapped: far in a fixed order, the same conformer
        let mut a = positions.clone();
        for d in 0..3 {
            a.swap(3 + d, 6 + d);
        }
        assert!(heavy_rmsd(&a, &positions, &el) > 0.5);
        let (moved, best) = align_best(&a, &m, &sym);
        assert!(best < 1e-9, "{best}");
        assert!(moved.iter().all(|v| v.is_finite()));
        // a molecule without equivalent atoms (N–C–O): the identity only
        let (c, _) = from_dataset(&Dataset::from_xyz(SET, 3).unwrap());
        assert_eq!(c[1].symmetries().len(), 1);
        // a 40-ring numbered out of ring order: alike atoms whose partial orders fail late;
        // the search stops at its budget with the identity first (it used to take exponential time)
        let ring: Vec<usize> = (0..40).map(|i| (i * 7) % 40).collect();
        let mut at = vec![0; 40];
        for (i, &p) in ring.iter().enumerate() {
            at[p] = i;
        }
        let bonds: Vec<(usize, usize, usize)> = (0..40).map(|p| (at[p], at[(p + 1) % 40], 1)).collect();
        let big = Conformer { elements: vec!["C".into(); 40], positions: vec![0.0; 120], bonds, index: 0 };
        let sym = big.symmetries();
        assert_eq!(sym[0], (0..40).collect::<Vec<_>>());
        assert!(!sym.is_empty() && sym.len() <= 80);
        // methane has one heavy atom: the RMSD is over all atoms, its four hydrogens interchangeable
        assert_eq!(c[0].symmetries().len(), 24, "fewer than three heavy atoms: all atoms, the four H interchangeable");
    }

    #[test]
    fn rmsd_ignores_rotation_and_translation_but_not_reflection() {
        let el: Vec<String> = ["C", "N", "O", "C"].iter().map(|s| s.to_string()).collect();
        let x = vec![0.0, 0.0, 0.0, 1.5, 0.0, 0.0, 0.0, 1.4, 0.0, 0.3, 0.4, 1.2];
        let (c, s) = (0.6f64.cos(), 0.6f64.sin());
        let rotated: Vec<f64> = x.chunks(3).flat_map(|p| [c * p[0] - s * p[1] + 2.0, s * p[0] + c * p[1] - 1.0, p[2] + 0.5]).collect();
        assert!(heavy_rmsd(&rotated, &x, &el) < 1e-9);
        // what the viewer shows: every atom moved back onto the reference
        let (moved, r) = align_heavy(&rotated, &x, &el);
        assert!(r < 1e-9 && moved.iter().zip(&x).all(|(a, b)| (a - b).abs() < 1e-9), "{moved:?}");
        // hydrogens follow the heavy atoms' superposition but do not count in the RMSD
        let mut el_h = el.clone();
        el_h.push("H".into());
        let (mut xh, mut rh) = (x.clone(), rotated.clone());
        xh.extend([1.0, 1.0, 1.0]);
        // the same rotation and shift of (1, 1.3, 1)
        rh.extend([c - s * 1.3 + 2.0, s + c * 1.3 - 1.0, 1.5]);
        let (moved, r) = align_heavy(&rh, &xh, &el_h);
        assert!(r < 1e-9 && (moved[13] - 1.3).abs() < 1e-9, "{moved:?}");
        let mirrored: Vec<f64> = x.chunks(3).flat_map(|p| [p[0], p[1], -p[2]]).collect();
        assert!(heavy_rmsd(&mirrored, &x, &el) > 0.1, "a chiral mirror image is not the same conformer");
    }

    #[test]
    fn coverage_counts_recall_per_molecule_and_precision_per_conformer() {
        let c = coverage(&[vec![0.2, 0.9], vec![0.7, 0.6], vec![0.1, 0.3]], 0.5);
        assert_eq!((c.molecules, c.k), (3, 2));
        assert!((c.cov_r_mean - 200.0 / 3.0).abs() < 1e-9 && c.cov_r_median == 100.0);
        assert!((c.amr_r_mean - (0.2 + 0.6 + 0.1) / 3.0).abs() < 1e-12 && (c.amr_r_median - 0.2).abs() < 1e-12);
        assert!((c.cov_p_mean - 50.0).abs() < 1e-9);
        assert!((c.amr_p_mean - (0.55 + 0.65 + 0.2) / 3.0).abs() < 1e-12);
        assert_eq!(median(&[3.0, 1.0, 2.0, 4.0]), 2.5);
    }
}
