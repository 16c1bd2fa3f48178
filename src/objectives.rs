//! The four ways of training a score network that the quotient-space paper compares (its
//! Table 1; spec quotient.md §3), on plain slices. The network predicts ε̂, so its denoiser is
//! D = (x_t − σ ε̂)/α and a residual D − x₁* equals −(σ/α)(ε̂ − ε*) with ε* = (x_t − α x₁*)/σ:
//! each objective is the usual ε loss against a target ε*, and the quotient one projects it.
//!
//! | objective | loss on D | ε form |
//! |---|---|---|
//! | conventional | ‖D − x₁‖² | ‖ε̂ − ε‖² |
//! | GeoDiff alignment | ‖D − A_{x_t}(x₁)‖² | ‖ε̂ − ε*‖², x₁* = x₁ rotated onto x_t |
//! | AF3 alignment | ‖D − A_{D̄}(x₁)‖², D̄ the stop-gradient prediction | ‖ε̂ − ε*‖², x₁* = x₁ rotated onto D̄ |
//! | quotient | ‖P_{x_t}(D − x₁)‖² | ‖P_{x_t}(ε̂ − ε)‖² |
//!
//! (molplay's data are x₀ and its noise ε in the code; the paper's x₁ is the data.) The
//! weighting is the ε loss's, (α/σ)² on D, for all four. Only the AF3 target depends on the
//! network, and only through a stop-gradient copy of its prediction: no gradient flows through
//! any target. P_{x_t} is taken at the noisy input, never at the data.

use crate::geometry::{align_to, project_horizontal};
use serde::{Deserialize, Serialize};

/// Why an objective name was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ObjectiveError {
    /// A name that is none of the four (made printable).
    #[error("unknown objective '{0}': one of conventional, geodiff, af3, quotient")]
    Unknown(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    Conventional,
    Geodiff,
    Af3,
    Quotient,
}

impl Objective {
    pub const ALL: [Objective; 4] = [Objective::Conventional, Objective::Geodiff, Objective::Af3, Objective::Quotient];

    pub fn name(self) -> &'static str {
        match self {
            Objective::Conventional => "conventional",
            Objective::Geodiff => "geodiff",
            Objective::Af3 => "af3",
            Objective::Quotient => "quotient",
        }
    }

    pub fn by_name(name: &str) -> Result<Objective, ObjectiveError> {
        Objective::ALL.into_iter().find(|o| o.name() == name).ok_or_else(|| ObjectiveError::Unknown(crate::io::printable(name)))
    }

    /// Whether the loss needs the network's own (stop-gradient) prediction for its target.
    pub fn needs_prediction(self) -> bool {
        self == Objective::Af3
    }
}

/// The ε target of one configuration (3N values, CoM-free): ε itself for the conventional and
/// quotient objectives, (x_t − α x₁*)/σ with x₁* the data x₀ rotated onto x_t (GeoDiff) or onto
/// the stop-gradient denoiser D̄ = (x_t − σ ε̄)/α (AF3; `pred` = ε̄, required then).
pub fn eps_target(objective: Objective, x0: &[f64], eps: &[f64], xt: &[f64], alpha: f64, sigma: f64, pred: Option<&[f64]>) -> Vec<f64> {
    let aligned = |onto: &[f64]| -> Vec<f64> {
        let x1 = align_to(x0, onto);
        xt.iter().zip(&x1).map(|(x, y)| (x - alpha * y) / sigma).collect()
    };
    match objective {
        Objective::Conventional | Objective::Quotient => eps.to_vec(),
        Objective::Geodiff => aligned(xt),
        Objective::Af3 => {
            let pred = pred.expect("the AF3 objective needs the stop-gradient prediction");
            let d: Vec<f64> = xt.iter().zip(pred).map(|(x, e)| (x - sigma * e) / alpha).collect();
            aligned(&d)
        }
    }
}

/// P_{x_t} as a 3N × 3N matrix (row-major): the orthogonal projection on the horizontal space
/// at `x` (CoM-free, N ≥ 3 atoms not collinear), column k being P applied to the k-th unit
/// vector. The training loss applies it to the residual as one batched product.
pub fn projector(x: &[f64]) -> Vec<f64> {
    let m = x.len();
    let mut p = vec![0.0; m * m];
    let mut e = vec![0.0; m];
    for k in 0..m {
        e[k] = 1.0;
        let col = project_horizontal(x, &e);
        e[k] = 0.0;
        for (r, v) in col.iter().enumerate() {
            p[r * m + k] = *v;
        }
    }
    p
}

/// The objective's loss on a batch (f64 reference of the training path): mean over the batch's
/// B·3N coordinates of (ε̂ − ε*)², or of (P_{x_t}(ε̂ − ε))² for the quotient objective. Slices
/// are B configurations of 3N; `alphas`/`sigmas` one per configuration; `pred` is ε̂ (and, for
/// AF3, also the stop-gradient copy its target is built from).
pub fn loss(objective: Objective, x0: &[f64], eps: &[f64], xt: &[f64], pred: &[f64], alphas: &[f64], sigmas: &[f64]) -> f64 {
    let per = x0.len() / alphas.len().max(1);
    let mut sum = 0.0;
    for (i, (&a, &s)) in alphas.iter().zip(sigmas).enumerate() {
        let r = i * per..(i + 1) * per;
        let target = eps_target(objective, &x0[r.clone()], &eps[r.clone()], &xt[r.clone()], a, s, Some(&pred[r.clone()]));
        let resid: Vec<f64> = pred[r.clone()].iter().zip(&target).map(|(p, t)| p - t).collect();
        let resid = if objective == Objective::Quotient { project_horizontal(&xt[r], &resid) } else { resid };
        sum += resid.iter().map(|v| v * v).sum::<f64>();
    }
    sum / x0.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::{random_rotation, remove_com, rotate};
    use crate::rng::XorShift64;

    fn cloud(n: usize, rng: &mut XorShift64) -> Vec<f64> {
        let mut x: Vec<f64> = (0..3 * n).map(|_| rng.normal()).collect();
        remove_com(&mut x, 3);
        x
    }

    /// ω × x plus a translation: a rigid motion's velocity at x (vertical, with the CoM part).
    fn rigid(x: &[f64], w: [f64; 3], t: [f64; 3]) -> Vec<f64> {
        x.chunks(3).flat_map(|p| [w[1] * p[2] - w[2] * p[1] + t[0], w[2] * p[0] - w[0] * p[2] + t[1], w[0] * p[1] - w[1] * p[0] + t[2]]).collect()
    }

    #[test]
    fn the_projector_matrix_is_p_at_the_noisy_input() {
        let mut rng = XorShift64::new(3);
        let x = cloud(5, &mut rng);
        let p = projector(&x);
        let m = x.len();
        let v: Vec<f64> = (0..m).map(|_| rng.normal()).collect();
        let pv: Vec<f64> = (0..m).map(|r| (0..m).map(|k| p[r * m + k] * v[k]).sum()).collect();
        let want = project_horizontal(&x, &v);
        assert!(pv.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-10));
        // symmetric, idempotent, rank 3N − 6, and blind to rigid motions at x
        for r in 0..m {
            for k in 0..m {
                assert!((p[r * m + k] - p[k * m + r]).abs() < 1e-10);
                let pp: f64 = (0..m).map(|j| p[r * m + j] * p[j * m + k]).sum();
                // (to the ε that regularises K in geometry::inertia)
                assert!((pp - p[r * m + k]).abs() < 1e-7, "{r} {k}: {pp} vs {}", p[r * m + k]);
            }
        }
        let trace: f64 = (0..m).map(|k| p[k * m + k]).sum();
        assert!((trace - (m as f64 - 6.0)).abs() < 1e-7, "{trace}");
        let motion = rigid(&x, [0.3, -1.2, 0.7], [2.0, 0.5, -1.0]);
        assert!(project_horizontal(&x, &motion).iter().all(|v| v.abs() < 1e-7));
    }

    #[test]
    fn each_objective_is_what_the_paper_defines() {
        let mut rng = XorShift64::new(11);
        let (n, b) = (4, 3);
        let (mut x0, mut eps, mut xt, mut pred, mut alphas, mut sigmas) = (vec![], vec![], vec![], vec![], vec![], vec![]);
        for i in 0..b {
            let (a, s) = (0.9 - 0.3 * i as f64, 0.3 + 0.3 * i as f64);
            let d = cloud(n, &mut rng);
            let e = cloud(n, &mut rng);
            xt.extend(d.iter().zip(&e).map(|(d, e)| a * d + s * e));
            pred.extend(cloud(n, &mut rng));
            x0.extend(d);
            eps.extend(e);
            alphas.push(a);
            sigmas.push(s);
        }
        let conventional = loss(Objective::Conventional, &x0, &eps, &xt, &pred, &alphas, &sigmas);
        let direct: f64 = pred.iter().zip(&eps).map(|(p, e)| (p - e).powi(2)).sum::<f64>() / pred.len() as f64;
        assert!((conventional - direct).abs() < 1e-12);
        // the quotient loss is the conventional one without the rigid-motion part at x_t: never
        // larger, and blind to a rotation rate added to the prediction at x_t
        let quotient = loss(Objective::Quotient, &x0, &eps, &xt, &pred, &alphas, &sigmas);
        assert!(quotient < conventional);
        let mut turned = pred.clone();
        for i in 0..b {
            let r = i * 3 * n..(i + 1) * 3 * n;
            let m = rigid(&xt[r.clone()], [0.5, 0.1, -2.0], [0.0; 3]);
            turned[r].iter_mut().zip(m).for_each(|(p, v)| *p += v);
        }
        assert!((loss(Objective::Quotient, &x0, &eps, &xt, &turned, &alphas, &sigmas) - quotient).abs() < 1e-7);
        assert!(loss(Objective::Conventional, &x0, &eps, &xt, &turned, &alphas, &sigmas) > conventional + 0.1);
        // GeoDiff: the data's orientation does not matter (it is aligned onto x_t first)
        let geodiff = loss(Objective::Geodiff, &x0, &eps, &xt, &pred, &alphas, &sigmas);
        let spun: Vec<f64> = x0.chunks(3 * n).flat_map(|c| rotate(&random_rotation(&mut rng), c)).collect();
        assert!((loss(Objective::Geodiff, &spun, &eps, &xt, &pred, &alphas, &sigmas) - geodiff).abs() < 1e-9);
        assert!((loss(Objective::Conventional, &spun, &eps, &xt, &pred, &alphas, &sigmas) - conventional).abs() < 1e-12, "(conventional uses ε, not x₀)");
        // AF3: aligned onto the prediction's denoiser; a prediction equal to the aligned GeoDiff
        // target gives D̄ = A_{x_t}(x₀), whose alignment is the same: both losses then vanish
        let target: Vec<f64> = (0..b)
            .flat_map(|i| {
                let r = i * 3 * n..(i + 1) * 3 * n;
                eps_target(Objective::Geodiff, &x0[r.clone()], &eps[r.clone()], &xt[r], alphas[i], sigmas[i], None)
            })
            .collect();
        assert!(loss(Objective::Geodiff, &x0, &eps, &xt, &target, &alphas, &sigmas) < 1e-20);
        assert!(loss(Objective::Af3, &x0, &eps, &xt, &target, &alphas, &sigmas) < 1e-18);
        assert!(loss(Objective::Af3, &x0, &eps, &xt, &pred, &alphas, &sigmas) > 0.0);
        assert_eq!(Objective::by_name("af3"), Ok(Objective::Af3));
        assert!(Objective::by_name("kabsch").unwrap_err().to_string().contains("one of conventional, geodiff, af3, quotient"));
    }
}
