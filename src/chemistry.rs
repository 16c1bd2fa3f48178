//! Validity and uniqueness of generated molecules as EDM defines them (its `rdkit_functions`),
//! without RDKit: bonds and their orders come from distances ([`crate::metrics::bond_order`],
//! the tables stability uses); EDM builds that graph in RDKit and calls a molecule valid when
//! sanitisation succeeds, which for neutral H, C, N, O, F atoms joined by single, double and
//! triple bonds fails exactly when an atom's bond orders add up to more than its valence
//! (H 1, C 4, N 3, O 2, F 1; under-bonded atoms get implicit hydrogens). The canonical SMILES of
//! a valid molecule's largest fragment names it; two names agree exactly when the fragments are
//! the same labelled graph, which [`canonical_key`] decides by canonical labelling. Uniqueness
//! is the fraction of distinct names among the valid molecules. `tests/bench/rdkit_check.py`
//! compares both verdicts with RDKit's on generated molecules.

use crate::metrics::bond_order;
use serde::Serialize;

/// H, C, N, O, F: the elements the bond tables know.
const KNOWN: [&str; 5] = ["H", "C", "N", "O", "F"];
const MAX_VALENCE: [usize; 5] = [1, 4, 3, 2, 1];

/// Validity and uniqueness of a set of molecules.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Validity {
    pub molecules: usize,
    pub valid: usize,
    /// Distinct largest fragments among the valid molecules.
    pub unique: usize,
    /// valid / molecules (EDM's validity).
    pub validity: f64,
    /// unique / valid (EDM's uniqueness).
    pub uniqueness: f64,
    /// validity × uniqueness (EDM's V×U).
    pub valid_and_unique: f64,
}

/// One molecule's verdict: its bonds (i, j, order), whether it is valid, and the canonical key
/// of its largest fragment (valid molecules only).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Verdict {
    pub bonds: Vec<(usize, usize, usize)>,
    pub valid: bool,
    pub key: Option<String>,
}

/// Bonds inferred from distances, as EDM's `build_xae_molecule`: every pair with a positive
/// order. Elements outside H, C, N, O, F give None.
pub fn bonds(elements: &[String], positions: &[f64]) -> Option<Vec<(usize, usize, usize)>> {
    let idx = indices(elements)?;
    let n = idx.len();
    let mut out = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            let d = (0..3).map(|k| (positions[3 * i + k] - positions[3 * j + k]).powi(2)).sum::<f64>().sqrt();
            let o = bond_order(idx[i], idx[j], d);
            if o > 0 {
                out.push((i, j, o));
            }
        }
    }
    Some(out)
}

fn indices(elements: &[String]) -> Option<Vec<usize>> {
    elements.iter().map(|e| KNOWN.iter().position(|k| k.eq_ignore_ascii_case(e))).collect()
}

/// The verdict on one molecule.
pub fn judge(elements: &[String], positions: &[f64]) -> Verdict {
    let (Some(idx), Some(bonds)) = (indices(elements), bonds(elements, positions)) else {
        return Verdict { bonds: Vec::new(), valid: false, key: None };
    };
    let n = idx.len();
    let (graph, charge) = clean_up(&idx, &bonds);
    let mut sum = vec![0usize; n];
    for &(i, j, o) in &graph {
        sum[i] += o;
        sum[j] += o;
    }
    let valid = n > 0 && (0..n).all(|a| sum[a] <= MAX_VALENCE[idx[a]] + (charge[a] > 0) as usize);
    let key = valid.then(|| canonical_key_charged(&idx, &charge, &graph, &largest_fragment(n, &graph)));
    Verdict { bonds, valid, key }
}

/// RDKit's sanitisation first "cleans up" a neutral five-valent nitrogen with a double bond to
/// a terminal oxygen into the charge-separated form (N=O → [N+]–[O-]), after which it is valid; EDM's
/// validity therefore counts it. The same here: (the bonds with each such N=O made single, the
/// formal charges). Found by `tests/bench/rdkit_check.py` on generated molecules.
fn clean_up(idx: &[usize], bonds: &[(usize, usize, usize)]) -> (Vec<(usize, usize, usize)>, Vec<i8>) {
    const N: usize = 2;
    const O: usize = 3;
    let n = idx.len();
    let mut graph = bonds.to_vec();
    let mut charge = vec![0i8; n];
    let sum = |g: &[(usize, usize, usize)], a: usize| g.iter().filter(|b| b.0 == a || b.1 == a).map(|b| b.2).sum::<usize>();
    for a in 0..n {
        if idx[a] != N || sum(&graph, a) != 5 {
            continue;
        }
        // a terminal O (its double bond to this N is all it has)
        let double_o = graph.iter().position(|&(i, j, o)| {
            let other = if i == a { j } else { i };
            o == 2 && (i == a || j == a) && idx[other] == O && charge[other] == 0 && sum(&graph, other) == 2
        });
        if let Some(k) = double_o {
            let other = if graph[k].0 == a { graph[k].1 } else { graph[k].0 };
            graph[k].2 = 1;
            charge[a] = 1;
            charge[other] = -1;
        }
    }
    (graph, charge)
}

/// Validity and uniqueness of molecules (elements, flat positions in Å).
pub fn validity<'a>(molecules: impl Iterator<Item = (&'a [String], &'a [f64])>) -> Validity {
    let mut v = Validity::default();
    let mut keys = std::collections::HashSet::new();
    for (e, x) in molecules {
        v.molecules += 1;
        let verdict = judge(e, x);
        if let Some(k) = verdict.key {
            v.valid += 1;
            keys.insert(k);
        }
    }
    v.unique = keys.len();
    v.validity = v.valid as f64 / v.molecules.max(1) as f64;
    v.uniqueness = v.unique as f64 / v.valid.max(1) as f64;
    v.valid_and_unique = v.validity * v.uniqueness;
    v
}

/// The atoms of the largest connected fragment (the first of equal size, as RDKit's `max`
/// over `GetMolFrags` in atom order), sorted.
pub fn largest_fragment(n: usize, bonds: &[(usize, usize, usize)]) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], mut a: usize) -> usize {
        while p[a] != a {
            p[a] = p[p[a]];
            a = p[a];
        }
        a
    }
    for &(i, j, _) in bonds {
        let (a, b) = (find(&mut parent, i), find(&mut parent, j));
        if a != b {
            parent[a.max(b)] = a.min(b);
        }
    }
    let roots: Vec<usize> = (0..n).map(|a| find(&mut parent, a)).collect();
    let mut best: Option<(usize, usize)> = None; // (size, root), first root on ties
    for a in 0..n {
        let r = roots[a];
        if r == a {
            let size = roots.iter().filter(|&&q| q == r).count();
            if best.is_none_or(|(s, _)| size > s) {
                best = Some((size, r));
            }
        }
    }
    let r = best.map_or(0, |b| b.1);
    (0..n).filter(|&a| roots[a] == r).collect()
}

/// A name for the labelled graph of `atoms` (element indices `idx`, bond orders) that two
/// fragments share exactly when they are isomorphic. Hydrogens bonded to one heavy atom are
/// folded into its label (as SMILES writes them), then the heavy-atom graph gets a canonical
/// labelling by colour refinement and individualisation: the lexicographically least encoding
/// over the search's leaves.
pub fn canonical_key(idx: &[usize], bonds: &[(usize, usize, usize)], atoms: &[usize]) -> String {
    canonical_key_charged(idx, &vec![0; idx.len()], bonds, atoms)
}

/// [`canonical_key`] with formal charges in the atoms' labels.
pub fn canonical_key_charged(idx: &[usize], charge: &[i8], bonds: &[(usize, usize, usize)], atoms: &[usize]) -> String {
    let inside: std::collections::HashSet<usize> = atoms.iter().copied().collect();
    let heavy: Vec<usize> = atoms.iter().copied().filter(|&a| idx[a] != 0).collect();
    if heavy.is_empty() {
        // only hydrogens: H or H2
        return format!("H{}", atoms.len());
    }
    let pos = |a: usize| heavy.iter().position(|&h| h == a);
    let m = heavy.len();
    let mut hcount = vec![0usize; m];
    let mut adj = vec![vec![0u8; m]; m];
    for &(i, j, o) in bonds {
        if !inside.contains(&i) {
            continue;
        }
        match (pos(i), pos(j)) {
            (Some(a), Some(b)) => {
                adj[a][b] = o as u8;
                adj[b][a] = o as u8;
            }
            (Some(a), None) | (None, Some(a)) => hcount[a] += o,
            (None, None) => {}
        }
    }
    let labels: Vec<u64> = (0..m).map(|a| ((charge[heavy[a]] as i64 + 2) as u64) << 16 | (idx[heavy[a]] as u64) << 8 | hcount[a] as u64).collect();
    let mut best: Option<Vec<u64>> = None;
    let mut leaves = 0usize;
    let start = refine(&adj, initial_cells(&labels));
    search(&adj, &labels, start, &mut best, &mut leaves);
    best.map(|v| v.iter().map(|x| format!("{x:x}")).collect::<Vec<_>>().join(".")).unwrap_or_default()
}

/// The ordered partition of the atoms by label (cells in increasing label).
fn initial_cells(labels: &[u64]) -> Vec<Vec<usize>> {
    let mut keys: Vec<u64> = labels.to_vec();
    keys.sort_unstable();
    keys.dedup();
    keys.iter().map(|k| (0..labels.len()).filter(|&a| labels[a] == *k).collect()).collect()
}

/// Splits cells by each atom's bonds (counted per order) into every cell, until stable: the
/// coarsest equitable refinement, its cell order fixed by the signatures (so it is canonical).
fn refine(adj: &[Vec<u8>], mut cells: Vec<Vec<usize>>) -> Vec<Vec<usize>> {
    loop {
        let m = adj.len();
        let mut cell_of = vec![0usize; m];
        for (c, cell) in cells.iter().enumerate() {
            for &a in cell {
                cell_of[a] = c;
            }
        }
        let mut next = Vec::with_capacity(cells.len());
        for cell in &cells {
            let sig = |a: usize| -> Vec<(usize, u8)> {
                let mut s: Vec<(usize, u8)> = (0..m).filter(|&b| adj[a][b] > 0).map(|b| (cell_of[b], adj[a][b])).collect();
                s.sort_unstable();
                s
            };
            let mut keyed: Vec<(Vec<(usize, u8)>, usize)> = cell.iter().map(|&a| (sig(a), a)).collect();
            keyed.sort();
            let mut group: Vec<usize> = Vec::new();
            for (i, (s, a)) in keyed.iter().enumerate() {
                if i > 0 && keyed[i - 1].0 != *s {
                    next.push(std::mem::take(&mut group));
                }
                group.push(*a);
            }
            next.push(group);
        }
        if next.len() == cells.len() {
            return next;
        }
        cells = next;
    }
}

/// Individualisation–refinement: branch on each atom of the first non-singleton cell; at a
/// discrete partition encode the graph in that order and keep the least encoding. Bounded (a
/// molecule with a huge automorphism group would take too long); past the bound the least so
/// far stands, which can only split a class, never merge two.
fn search(adj: &[Vec<u8>], labels: &[u64], cells: Vec<Vec<usize>>, best: &mut Option<Vec<u64>>, leaves: &mut usize) {
    const MAX_LEAVES: usize = 20_000;
    if *leaves >= MAX_LEAVES {
        return;
    }
    let Some(c) = cells.iter().position(|cell| cell.len() > 1) else {
        *leaves += 1;
        let order: Vec<usize> = cells.iter().map(|cell| cell[0]).collect();
        let mut code: Vec<u64> = order.iter().map(|&a| labels[a]).collect();
        for i in 0..order.len() {
            for j in i + 1..order.len() {
                code.push(adj[order[i]][order[j]] as u64);
            }
        }
        if best.as_ref().is_none_or(|b| code < *b) {
            *best = Some(code);
        }
        return;
    };
    for &a in &cells[c] {
        let mut split = cells[..c].to_vec();
        split.push(vec![a]);
        split.push(cells[c].iter().copied().filter(|&b| b != a).collect());
        split.extend(cells[c + 1..].iter().cloned());
        search(adj, labels, refine(adj, split), best, leaves);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mol(spec: &[(&str, [f64; 3])]) -> (Vec<String>, Vec<f64>) {
        (spec.iter().map(|s| s.0.to_string()).collect(), spec.iter().flat_map(|s| s.1).collect())
    }

    #[test]
    fn methane_is_valid_and_a_five_bonded_carbon_is_not() {
        let (e, x) = mol(&[("C", [0.0, 0.0, 0.0]), ("H", [1.09, 0.0, 0.0]), ("H", [-1.09, 0.0, 0.0]), ("H", [0.0, 1.09, 0.0]), ("H", [0.0, -1.09, 0.0])]);
        let v = judge(&e, &x);
        assert!(v.valid && v.bonds.len() == 4, "{v:?}");
        let (e5, x5) = mol(&[("C", [0.0, 0.0, 0.0]), ("H", [1.09, 0.0, 0.0]), ("H", [-1.09, 0.0, 0.0]), ("H", [0.0, 1.09, 0.0]), ("H", [0.0, -1.09, 0.0]), ("H", [0.0, 0.0, 1.09])]);
        assert!(!judge(&e5, &x5).valid);
        // a five-valent N double-bonded to O is valid as RDKit cleans it up: [N+]–[O-]
        let (en, xn) = mol(&[("N", [0.0, 0.0, 0.0]), ("O", [1.2, 0.0, 0.0]), ("C", [-1.28, 0.0, 0.0]), ("H", [0.0, 1.01, 0.0])]);
        let v = judge(&en, &xn);
        assert!(v.bonds.iter().map(|b| b.2).sum::<usize>() == 5 && v.valid, "{v:?}");
        // under-bonded atoms are valid (implicit hydrogens), as RDKit sanitises them
        let (e2, x2) = mol(&[("C", [0.0, 0.0, 0.0]), ("H", [1.09, 0.0, 0.0])]);
        assert!(judge(&e2, &x2).valid);
    }

    #[test]
    fn names_do_not_depend_on_atom_order_and_tell_isomers_apart() {
        // ethanol C-C-O vs dimethyl ether C-O-C, heavy atoms only (hydrogens implicit)
        let idx = [1usize, 1, 3];
        let ethanol = canonical_key(&idx, &[(0, 1, 1), (1, 2, 1)], &[0, 1, 2]);
        let ethanol2 = canonical_key(&[3, 1, 1], &[(0, 1, 1), (1, 2, 1)], &[0, 1, 2]);
        let ether = canonical_key(&idx, &[(0, 2, 1), (2, 1, 1)], &[0, 1, 2]);
        assert_eq!(ethanol, ethanol2);
        assert_ne!(ethanol, ether);
        // a six-ring relabelled: same name; a six-ring vs two three-rings joined (same degrees)
        let ring: Vec<(usize, usize, usize)> = (0..6).map(|i| (i, (i + 1) % 6, 1)).collect();
        let perm = [3usize, 0, 5, 1, 4, 2];
        let ring2: Vec<(usize, usize, usize)> = ring.iter().map(|&(a, b, o)| (perm[a], perm[b], o)).collect();
        let all: Vec<usize> = (0..6).collect();
        assert_eq!(canonical_key(&[1; 6], &ring, &all), canonical_key(&[1; 6], &ring2, &all));
        let prism: Vec<(usize, usize, usize)> = vec![(0, 1, 1), (1, 2, 1), (2, 0, 1), (3, 4, 1), (4, 5, 1), (5, 3, 1), (0, 3, 1), (1, 4, 1), (2, 5, 1)];
        let k33: Vec<(usize, usize, usize)> = (0..3).flat_map(|a| (3..6).map(move |b| (a, b, 1))).collect();
        assert_ne!(canonical_key(&[1; 6], &prism, &all), canonical_key(&[1; 6], &k33, &all), "both are 3-regular on six atoms: refinement alone cannot tell them apart");
    }

    #[test]
    fn the_largest_fragment_is_named_and_uniqueness_counts_names() {
        let (e, x) = mol(&[("C", [0.0, 0.0, 0.0]), ("H", [1.09, 0.0, 0.0]), ("O", [10.0, 0.0, 0.0])]);
        let v = judge(&e, &x);
        assert_eq!(largest_fragment(3, &v.bonds), vec![0, 1]);
        let (e2, x2) = mol(&[("O", [-10.0, 0.0, 0.0]), ("H", [1.09, 0.0, 0.0]), ("C", [0.0, 0.0, 0.0])]);
        assert_eq!(judge(&e2, &x2).key, v.key);
        let ms = [(e.clone(), x.clone()), (e2, x2), (vec!["F".to_string(), "F".to_string()], vec![0.0, 0.0, 0.0, 1.4, 0.0, 0.0])];
        let r = validity(ms.iter().map(|(e, x)| (e.as_slice(), x.as_slice())));
        assert_eq!((r.molecules, r.valid, r.unique), (3, 3, 2));
    }
}
