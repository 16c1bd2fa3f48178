//! Geometry on flat particle-major coordinates: centre of mass and its removal, and for 3-D
//! point clouds the SE(3) quotient machinery of spec quotient.md §2: the inertia tensor K, the
//! horizontal projection P_x (no linear, no angular momentum), the lifted mean-curvature vector
//! h̃ = −½∇log det K, and Kabsch (proper rotation) alignment.

/// Mean position of the particles of one configuration (`x.len() = n·d`, `d ≤ 3`; unused
/// components are 0).
pub fn centre_of_mass(x: &[f64], d: usize) -> [f64; 3] {
    assert!((1..=3).contains(&d) && x.len().is_multiple_of(d), "coordinates must be n·d with d ≤ 3");
    let n = x.len() / d;
    let mut mean = [0.0; 3];
    for p in x.chunks_exact(d) {
        for k in 0..d {
            mean[k] += p[k];
        }
    }
    if n > 0 {
        for m in mean.iter_mut().take(d) {
            *m /= n as f64;
        }
    }
    mean
}

/// Shifts one configuration so that its centre of mass is at the origin.
pub fn remove_com(x: &mut [f64], d: usize) {
    let mean = centre_of_mass(x, d);
    for p in x.chunks_exact_mut(d) {
        for k in 0..d {
            p[k] -= mean[k];
        }
    }
}

/// Radius of the smallest origin-centred ball around the configuration's centre of mass.
pub fn radius_about_com(x: &[f64], d: usize) -> f64 {
    let mean = centre_of_mass(x, d);
    x.chunks_exact(d).map(|p| (0..d).map(|k| (p[k] - mean[k]).powi(2)).sum::<f64>().sqrt()).fold(0.0, f64::max)
}

/// Regulariser of the inertia tensor (K + εI), as the paper.
pub const INERTIA_EPS: f64 = 1e-8;

type Mat3 = [[f64; 3]; 3];

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

fn atom(x: &[f64], n: usize) -> [f64; 3] {
    [x[3 * n], x[3 * n + 1], x[3 * n + 2]]
}

/// K(x) = Σ_n (|x_n|² I − x_n x_nᵀ) + εI for a CoM-free 3-D configuration.
pub fn inertia(x: &[f64]) -> Mat3 {
    let mut s = [[0.0; 3]; 3];
    for p in x.chunks_exact(3) {
        for a in 0..3 {
            for b in 0..3 {
                s[a][b] += p[a] * p[b];
            }
        }
    }
    let tr = s[0][0] + s[1][1] + s[2][2];
    let mut k = [[0.0; 3]; 3];
    for a in 0..3 {
        for b in 0..3 {
            k[a][b] = if a == b { tr + INERTIA_EPS } else { 0.0 } - s[a][b];
        }
    }
    k
}

/// Inverse of a symmetric positive-definite 3×3 matrix (adjugate over determinant).
pub fn inverse3(m: &Mat3) -> Mat3 {
    let c = |r0: usize, r1: usize, c0: usize, c1: usize| m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0];
    let adj = [[c(1, 2, 1, 2), -c(0, 2, 1, 2), c(0, 1, 1, 2)], [-c(1, 2, 0, 2), c(0, 2, 0, 2), -c(0, 1, 0, 2)], [c(1, 2, 0, 1), -c(0, 2, 0, 1), c(0, 1, 0, 1)]];
    let det = m[0][0] * adj[0][0] + m[0][1] * adj[1][0] + m[0][2] * adj[2][0];
    adj.map(|row| row.map(|v| v / det))
}

fn mat_vec(m: &Mat3, v: [f64; 3]) -> [f64; 3] {
    [0, 1, 2].map(|a| m[a][0] * v[0] + m[a][1] * v[1] + m[a][2] * v[2])
}

/// P_x(v): the horizontal part of v at the CoM-free configuration x (3-D): v minus its mean over
/// atoms, minus the rigid rotation ω × x_n with ω = K⁻¹ Σ_n x_n × v_n. Idempotent, self-adjoint.
pub fn project_horizontal(x: &[f64], v: &[f64]) -> Vec<f64> {
    let mut out = v.to_vec();
    remove_com(&mut out, 3);
    let n = x.len() / 3;
    let mut l = [0.0; 3];
    for i in 0..n {
        let c = cross(atom(x, i), atom(&out, i));
        (0..3).for_each(|k| l[k] += c[k]);
    }
    let w = mat_vec(&inverse3(&inertia(x)), l);
    for i in 0..n {
        let r = cross(w, atom(x, i));
        (0..3).for_each(|k| out[3 * i + k] -= r[k]);
    }
    out
}

/// h̃(x)_n = (K⁻¹ − tr(K⁻¹) I) x_n = −½ ∇_{x_n} log det K: the orbits' mean curvature, lifted.
/// The quotient sampler adds −(σ²/2) h̃ to its drift (σ² the injected noise variance), which
/// pushes towards larger det K (spec §1.6: the paper's printed +η h̃ is the wrong sign).
pub fn curvature(x: &[f64]) -> Vec<f64> {
    let ki = inverse3(&inertia(x));
    let tr = ki[0][0] + ki[1][1] + ki[2][2];
    x.chunks_exact(3)
        .flat_map(|p| {
            let kx = mat_vec(&ki, [p[0], p[1], p[2]]);
            [kx[0] - tr * p[0], kx[1] - tr * p[1], kx[2] - tr * p[2]]
        })
        .collect()
}

/// |P_x r|² by Pythagoras: |r_c|² − Lᵀ K⁻¹ L (the quotient loss without forming P r).
pub fn projected_sq_norm(x: &[f64], r: &[f64]) -> f64 {
    let mut rc = r.to_vec();
    remove_com(&mut rc, 3);
    let mut l = [0.0; 3];
    for i in 0..x.len() / 3 {
        let c = cross(atom(x, i), atom(&rc, i));
        (0..3).for_each(|k| l[k] += c[k]);
    }
    let kl = mat_vec(&inverse3(&inertia(x)), l);
    rc.iter().map(|v| v * v).sum::<f64>() - (l[0] * kl[0] + l[1] * kl[1] + l[2] * kl[2])
}

/// The proper rotation R minimising Σ_n |R x_n − y_n|² for CoM-free x and y (Horn's quaternion
/// method: the top eigenvector of a 4×4 symmetric matrix, by [`sym_eigen`]).
pub fn kabsch_rotation(x: &[f64], y: &[f64]) -> Mat3 {
    let h = cross_covariance(x, y);
    let (sxx, sxy, sxz, syx, syy, syz, szx, szy, szz) = (h[0][0], h[0][1], h[0][2], h[1][0], h[1][1], h[1][2], h[2][0], h[2][1], h[2][2]);
    let m = [
        sxx + syy + szz,
        syz - szy,
        szx - sxz,
        sxy - syx,
        syz - szy,
        sxx - syy - szz,
        sxy + syx,
        szx + sxz,
        szx - sxz,
        sxy + syx,
        -sxx + syy - szz,
        syz + szy,
        sxy - syx,
        szx + sxz,
        syz + szy,
        -sxx - syy + szz,
    ];
    let (vals, vecs) = sym_eigen(&m, 4);
    let top = (0..4).max_by(|&a, &b| vals[a].total_cmp(&vals[b])).unwrap_or(0);
    quaternion_to_matrix([vecs[top], vecs[4 + top], vecs[8 + top], vecs[12 + top]])
}

/// Σ_n x_n y_nᵀ over the atoms of two 3-D configurations.
pub fn cross_covariance(x: &[f64], y: &[f64]) -> Mat3 {
    let mut h = [[0.0; 3]; 3];
    for (p, q) in x.chunks_exact(3).zip(y.chunks_exact(3)) {
        for a in 0..3 {
            for b in 0..3 {
                h[a][b] += p[a] * q[b];
            }
        }
    }
    h
}

/// The rotation of a unit quaternion (w, x, y, z).
fn quaternion_to_matrix([w, x, y, z]: [f64; 4]) -> Mat3 {
    [
        [w * w + x * x - y * y - z * z, 2.0 * (x * y - w * z), 2.0 * (x * z + w * y)],
        [2.0 * (x * y + w * z), w * w - x * x + y * y - z * z, 2.0 * (y * z - w * x)],
        [2.0 * (x * z - w * y), 2.0 * (y * z + w * x), w * w - x * x - y * y + z * z],
    ]
}

/// Symmetric eigendecomposition by cyclic Jacobi (small matrices): (eigenvalues, eigenvectors as
/// columns of a row-major n×n matrix).
pub fn sym_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut m = a.to_vec();
    let mut v = vec![0.0; n * n];
    (0..n).for_each(|i| v[i * n + i] = 1.0);
    for _ in 0..100 {
        let off: f64 = (0..n).flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j))).map(|(i, j)| m[i * n + j].powi(2)).sum();
        if off < 1e-26 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = m[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (m[q * n + q] - m[p * n + p]) / (2.0 * apq);
                let t = if theta == 0.0 { 1.0 } else { theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt()) };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (x, y) = (m[k * n + p], m[k * n + q]);
                    m[k * n + p] = c * x - s * y;
                    m[k * n + q] = s * x + c * y;
                }
                for k in 0..n {
                    let (x, y) = (m[p * n + k], m[q * n + k]);
                    m[p * n + k] = c * x - s * y;
                    m[q * n + k] = s * x + c * y;
                }
                for k in 0..n {
                    let (x, y) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * x - s * y;
                    v[k * n + q] = s * x + c * y;
                }
            }
        }
    }
    ((0..n).map(|i| m[i * n + i]).collect(), v)
}

/// Applies R to every atom.
pub fn rotate(r: &Mat3, x: &[f64]) -> Vec<f64> {
    x.chunks_exact(3).flat_map(|p| mat_vec(r, [p[0], p[1], p[2]])).collect()
}

/// A_y(x): x (centred) rotated onto y by the best proper rotation (the alignment heuristic's
/// operator, spec §3 Eq. 13).
pub fn align_to(x: &[f64], y: &[f64]) -> Vec<f64> {
    let mut xc = x.to_vec();
    remove_com(&mut xc, 3);
    rotate(&kabsch_rotation(&xc, y), &xc)
}

/// e^{−|x|} I₀(x) (Abramowitz & Stegun 9.8.1/9.8.2; relative error < 2e-7).
fn bessel_i0e(x: f64) -> f64 {
    let ax = x.abs();
    if ax < 3.75 {
        let y = (x / 3.75).powi(2);
        (1.0 + y * (3.5156229 + y * (3.0899424 + y * (1.2067492 + y * (0.2659732 + y * (0.0360768 + y * 0.0045813)))))) * (-ax).exp()
    } else {
        let y = 3.75 / ax;
        (0.39894228 + y * (0.01328592 + y * (0.00225319 + y * (-0.00157565 + y * (0.00916281 + y * (-0.02057706 + y * (0.02635537 + y * (-0.01647633 + y * 0.00392377)))))))) / ax.sqrt()
    }
}

/// e^{−|x|} I₁(x) (Abramowitz & Stegun 9.8.3/9.8.4; relative error < 3e-7).
fn bessel_i1e(x: f64) -> f64 {
    let ax = x.abs();
    let v = if ax < 3.75 {
        let y = (x / 3.75).powi(2);
        ax * (0.5 + y * (0.87890594 + y * (0.51498869 + y * (0.15084934 + y * (0.02658733 + y * (0.00301532 + y * 0.00032411)))))) * (-ax).exp()
    } else {
        let y = 3.75 / ax;
        let tail = 0.02282967 + y * (-0.02895312 + y * (0.01787654 - y * 0.00420059));
        (0.39894228 + y * (-0.03988024 + y * (-0.00362018 + y * (0.00163801 + y * (-0.01031555 + y * tail))))) / ax.sqrt()
    };
    v.copysign(x)
}

/// Gauss–Legendre nodes and weights on [−1, 1], 8 points.
const GL8: [(f64, f64); 8] = [
    (-0.9602898564975363, 0.1012285362903763),
    (-0.7966664774136267, 0.2223810344533745),
    (-0.525_532_409_916_329, 0.3137066458778873),
    (-0.1834346424956498, 0.362_683_783_378_362),
    (0.1834346424956498, 0.362_683_783_378_362),
    (0.525_532_409_916_329, 0.3137066458778873),
    (0.7966664774136267, 0.2223810344533745),
    (0.9602898564975363, 0.1012285362903763),
];

/// The matrix Fisher distribution on SO(3), density ∝ exp(tr(FᵀR)) against the uniform (Haar)
/// measure: the log of its normalising constant c(F) = E_Haar[exp(tr(FᵀR))] and its mean E[R].
/// With the proper singular value decomposition F = U diag(s₁, s₂, s₃) Vᵀ (U, V rotations,
/// s₁ ≥ s₂ ≥ |s₃|), Wood (1993) gives c = ∫₋₁¹ ½ I₀(½(s₁−s₂)(1−u)) I₀(½(s₁+s₂)(1+u)) e^{s₃u} du,
/// and E[R] = U diag(∂log c/∂s_k) Vᵀ. The integral is taken in v = 1 − u on geometrically
/// graded panels (the integrand decays like e^{−v(s₂+s₃)}), with scaled Bessel functions, so
/// it stays finite for any F. This is what averaging a Gaussian over a point's rotations needs.
pub fn matrix_fisher(f: &Mat3) -> (f64, Mat3) {
    // proper SVD through the eigenvectors of FᵀF
    let mut ftf = [0.0; 9];
    for a in 0..3 {
        for b in 0..3 {
            ftf[a * 3 + b] = (0..3).map(|k| f[k][a] * f[k][b]).sum();
        }
    }
    let (vals, vecs) = sym_eigen(&ftf, 3);
    let mut order = [0usize, 1, 2];
    order.sort_by(|&a, &b| vals[b].total_cmp(&vals[a]));
    let col = |k: usize| [vecs[order[k]], vecs[3 + order[k]], vecs[6 + order[k]]];
    let (v1, v2) = (col(0), col(1));
    let v3 = cross(v1, v2); // V proper
    let fv = |v: [f64; 3]| mat_vec(f, v);
    let norm = |a: [f64; 3]| (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt();
    let unit = |a: [f64; 3], fallback: [f64; 3]| {
        let n = norm(a);
        if n > 1e-300 {
            [a[0] / n, a[1] / n, a[2] / n]
        } else {
            fallback
        }
    };
    let dot = |a: [f64; 3], b: [f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    let u1 = unit(fv(v1), v1);
    let w = fv(v2);
    let w = [w[0] - dot(u1, w) * u1[0], w[1] - dot(u1, w) * u1[1], w[2] - dot(u1, w) * u1[2]];
    // any unit vector perpendicular to u1 when F v2 vanishes
    let perp = {
        let e = if u1[0].abs() < 0.9 { [1.0, 0.0, 0.0] } else { [0.0, 1.0, 0.0] };
        unit(cross(u1, e), [0.0, 0.0, 1.0])
    };
    let u2 = unit(w, perp);
    let u3 = cross(u1, u2); // U proper
    let (s1, s2, s3) = (dot(u1, fv(v1)).max(0.0), dot(u2, fv(v2)).max(0.0), dot(u3, fv(v3)));
    // ∫₀² ½ I₀(a) I₀(b) e^{s₃(1−v)} dv and its s-derivatives, all scaled by e^{−(s₁+s₂+s₃)}
    let lambda = (s2 + s3).max(0.0);
    let len = if lambda > 20.0 { 40.0 / lambda } else { 2.0 };
    let (mut base, mut d1, mut d2, mut d3) = (0.0, 0.0, 0.0, 0.0);
    const PANELS: i32 = 16;
    let mut lo = 0.0;
    for p in 0..PANELS {
        let hi = len * 2f64.powi(p + 1 - PANELS);
        let (mid, half) = ((lo + hi) / 2.0, (hi - lo) / 2.0);
        for &(x, wgt) in &GL8 {
            let v = mid + half * x;
            let (a, b) = ((s1 - s2) * v / 2.0, (s1 + s2) * (2.0 - v) / 2.0);
            let (i0a, i0b, i1a, i1b) = (bessel_i0e(a), bessel_i0e(b), bessel_i1e(a), bessel_i1e(b));
            let e = 0.5 * wgt * half * (-v * lambda).exp();
            base += e * i0a * i0b;
            d1 += e * (i1a * i0b * v / 2.0 + i0a * i1b * (2.0 - v) / 2.0);
            d2 += e * (-i1a * i0b * v / 2.0 + i0a * i1b * (2.0 - v) / 2.0);
            d3 += e * (1.0 - v) * i0a * i0b;
        }
        lo = hi;
    }
    let log_c = s1 + s2 + s3 + base.ln();
    let g = [d1 / base, d2 / base, d3 / base];
    let (u, v) = ([u1, u2, u3], [v1, v2, v3]);
    let mut mean = [[0.0; 3]; 3];
    for a in 0..3 {
        for b in 0..3 {
            mean[a][b] = (0..3).map(|k| u[k][a] * g[k] * v[k][b]).sum();
        }
    }
    (log_c, mean)
}

/// A uniformly random rotation (unit quaternion from four normals).
pub fn random_rotation(rng: &mut crate::rng::XorShift64) -> Mat3 {
    let q: Vec<f64> = (0..4).map(|_| rng.normal()).collect();
    let n = q.iter().map(|v| v * v).sum::<f64>().sqrt();
    quaternion_to_matrix([q[0] / n, q[1] / n, q[2] / n, q[3] / n])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_fisher_constant_and_mean_match_monte_carlo_over_rotations() {
        let (lc, m) = matrix_fisher(&[[0.0; 3]; 3]);
        assert!(lc.abs() < 1e-9 && m.iter().flatten().all(|v| v.abs() < 1e-9), "uniform: c = 1, E[R] = 0");
        let mut rng = crate::rng::XorShift64::new(11);
        let draws: Vec<Mat3> = (0..200_000).map(|_| random_rotation(&mut rng)).collect();
        // an anisotropic F with a reflection in it (det < 0) and a moderate one
        for f in [[[1.2, 0.3, -0.4], [0.1, -0.8, 0.5], [0.2, 0.4, 0.3]], [[2.5, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -0.5]]] {
            let (lc, mean) = matrix_fisher(&f);
            let e: Vec<f64> = draws.iter().map(|r| (0..3).flat_map(|a| (0..3).map(move |b| (a, b))).map(|(a, b)| f[a][b] * r[a][b]).sum::<f64>().exp()).collect();
            let z: f64 = e.iter().sum();
            let mc_lc = (z / draws.len() as f64).ln();
            assert!((lc - mc_lc).abs() < 0.02, "log c {lc} vs Monte Carlo {mc_lc}");
            for a in 0..3 {
                for b in 0..3 {
                    let mc = draws.iter().zip(&e).map(|(r, w)| w * r[a][b]).sum::<f64>() / z;
                    assert!((mean[a][b] - mc).abs() < 0.02, "E[R]{a}{b} {} vs Monte Carlo {mc}", mean[a][b]);
                }
            }
        }
        // concentrated: the mean tends to the rotation F points at, and stays finite
        let r0 = random_rotation(&mut rng);
        for k in [50.0, 1e6] {
            let f = r0.map(|row| row.map(|v| k * v));
            let (lc, mean) = matrix_fisher(&f);
            assert!(lc.is_finite() && lc > 2.9 * k - 10.0 * (k.ln() + 1.0), "log c {lc} at k = {k}");
            let err = (0..3).flat_map(|a| (0..3).map(move |b| (a, b))).map(|(a, b)| (mean[a][b] - r0[a][b]).abs()).fold(0.0, f64::max);
            assert!(err < 3.0 / k.sqrt(), "k = {k}: E[R] off R₀ by {err}");
        }
    }

    #[test]
    fn com_removal_centres_2d_and_3d() {
        let mut x = vec![1.0, 2.0, 3.0, 5.0, 6.0, 7.0];
        remove_com(&mut x, 3);
        assert_eq!(x, vec![-2.0, -2.0, -2.0, 2.0, 2.0, 2.0]);
        let mut y = vec![0.0, 0.0, 2.0, 0.0, 2.0, 2.0, 0.0, 2.0];
        remove_com(&mut y, 2);
        assert_eq!(centre_of_mass(&y, 2), [0.0, 0.0, 0.0]);
        assert!((radius_about_com(&y, 2) - 2f64.sqrt()).abs() < 1e-15);
    }

    fn cloud(n: usize, seed: u64) -> Vec<f64> {
        let mut r = crate::rng::XorShift64::new(seed);
        let mut x: Vec<f64> = (0..3 * n).map(|_| r.normal()).collect();
        remove_com(&mut x, 3);
        x
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(p, q)| p * q).sum()
    }

    #[test]
    fn horizontal_projection_is_an_orthogonal_projector_without_momenta() {
        let x = cloud(7, 1);
        let (v, w) = (cloud(7, 2), cloud(7, 3));
        let pv = project_horizontal(&x, &v);
        assert!(centre_of_mass(&pv, 3).iter().all(|c| c.abs() < 1e-12), "no linear momentum");
        let mut l = [0.0; 3];
        for i in 0..7 {
            let c = cross(atom(&x, i), atom(&pv, i));
            (0..3).for_each(|k| l[k] += c[k]);
        }
        assert!(l.iter().all(|c| c.abs() < 1e-7), "no angular momentum: {l:?}");
        let ppv = project_horizontal(&x, &pv);
        assert!(pv.iter().zip(&ppv).all(|(a, b)| (a - b).abs() < 1e-7), "idempotent");
        let pw = project_horizontal(&x, &w);
        assert!((dot(&pv, &w) - dot(&v, &pw)).abs() < 1e-7, "self-adjoint");
        // rigid rotations are vertical: projected to zero
        let rot: Vec<f64> = (0..7).flat_map(|i| cross([0.3, -1.0, 2.0], atom(&x, i))).collect();
        assert!(project_horizontal(&x, &rot).iter().all(|v| v.abs() < 1e-7));
        // Pythagoras form of the loss
        assert!((projected_sq_norm(&x, &v) - dot(&pv, &pv)).abs() < 1e-7);
    }

    #[test]
    fn curvature_is_minus_half_the_gradient_of_log_det_k_and_horizontal() {
        let x = cloud(6, 4);
        let h = curvature(&x);
        let logdet = |x: &[f64]| {
            let k = inertia(x);
            (k[0][0] * (k[1][1] * k[2][2] - k[1][2] * k[2][1]) - k[0][1] * (k[1][0] * k[2][2] - k[1][2] * k[2][0]) + k[0][2] * (k[1][0] * k[2][1] - k[1][1] * k[2][0])).ln()
        };
        for c in 0..x.len() {
            let (mut a, mut b) = (x.clone(), x.clone());
            a[c] += 1e-6;
            b[c] -= 1e-6;
            let g = (logdet(&a) - logdet(&b)) / 2e-6;
            assert!((h[c] + 0.5 * g).abs() < 1e-6, "component {c}: h̃ {} vs −½∂log det K {}", h[c], -0.5 * g);
        }
        let ph = project_horizontal(&x, &h);
        assert!(h.iter().zip(&ph).all(|(a, b)| (a - b).abs() < 1e-7), "h̃ is horizontal");
        assert!((dot(&x, &h) + 3.0).abs() < 1e-6, "Euler: x·h̃ = −3 (det K is homogeneous of degree 6)");
    }

    #[test]
    fn kabsch_recovers_a_rotation() {
        let mut r = crate::rng::XorShift64::new(9);
        for _ in 0..20 {
            let x = cloud(5, r.next_u64());
            let rot = random_rotation(&mut r);
            let y = rotate(&rot, &x);
            let found = kabsch_rotation(&x, &y);
            for a in 0..3 {
                for b in 0..3 {
                    assert!((found[a][b] - rot[a][b]).abs() < 1e-9, "{found:?} vs {rot:?}");
                }
            }
            let back = align_to(&y, &x);
            assert!(back.iter().zip(&x).all(|(a, b)| (a - b).abs() < 1e-9));
        }
        // a reflection is not a rotation: the best proper rotation leaves a residual
        let x = cloud(6, 77);
        let mirrored: Vec<f64> = x.chunks(3).flat_map(|p| [-p[0], p[1], p[2]]).collect();
        let al = align_to(&mirrored, &x);
        assert!(al.iter().zip(&x).map(|(a, b)| (a - b).powi(2)).sum::<f64>() > 1e-3);
    }

    #[test]
    fn jacobi_diagonalises() {
        let a = vec![4.0, 1.0, 0.5, 1.0, 3.0, -0.2, 0.5, -0.2, 1.0];
        let (vals, vecs) = sym_eigen(&a, 3);
        for k in 0..3 {
            for i in 0..3 {
                let av: f64 = (0..3).map(|j| a[i * 3 + j] * vecs[j * 3 + k]).sum();
                assert!((av - vals[k] * vecs[i * 3 + k]).abs() < 1e-10);
            }
        }
    }
}
