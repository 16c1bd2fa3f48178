//! Sample-quality metrics on flat batches: exact 1-D Wasserstein-2 (energies, pooled
//! interatomic distances), the virial check and the configurational temperature.
//! (The field's sample W2 with Hungarian matching + Kabsch + exact OT joins this module.)

use crate::energies::System;

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
