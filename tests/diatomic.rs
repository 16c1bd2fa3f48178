//! The quotient-space paper's diatomic example (its Fig. 3; spec quotient.md §3), exactly: a
//! molecule of two atoms at bond length d*, every orientation equally likely. Nothing is
//! trained: the targets are closed forms. With x_t = α x₀ + σ ε (ε CoM-free), the bond vector
//! r_t = α d* u + √2 σ n, so u | x_t is von Mises–Fisher with κ = α d* |r_t| / (2σ²) about r̂_t:
//! - the conventional target E[x₀ | x_t] has bond d*·A(κ), A(κ) = coth κ − 1/κ < 1: shorter;
//! - the alignment target E[A_{x_t}(x₀) | x_t] (GeoDiff; also where AF3's is defined up to a
//!   rotation) has bond d* exactly, whatever x_t;
//! - the quotient objective's optimum is E[P_{x_t} x₀ | x_t] plus anything vertical: for two
//!   atoms P keeps the bond direction, so it is the conventional target's radial part.
//!
//! A sampler turns its denoiser into a score as if it were E[x₀ | x_t]. With the conventional
//! (= quotient) target the samples have bond d*; with the alignment target they do not.
#![cfg(not(target_arch = "wasm32"))]

use molplay::geometry::align_to;
use molplay::samplers::{sample, Denoiser, Method, SampleOptions, Symmetry};
use molplay::schedules::Schedule;

const BOND: f64 = 1.5;

/// coth κ − 1/κ, the mean of u·μ under von Mises–Fisher on the sphere with concentration κ.
fn langevin(k: f64) -> f64 {
    if k < 1e-4 {
        k / 3.0
    } else {
        1.0 / k.tanh() - 1.0 / k
    }
}

struct Dimer;

impl Dimer {
    /// (bond direction of x from atom 2 to atom 1, its length)
    fn axis(x: &[f64]) -> ([f64; 3], f64) {
        let r = [x[0] - x[3], x[1] - x[4], x[2] - x[5]];
        let len = (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]).sqrt();
        ([r[0] / len, r[1] / len, r[2] / len], len)
    }

    /// Atoms at ±(bond/2) along `u`.
    fn place(u: [f64; 3], bond: f64) -> Vec<f64> {
        let h = bond / 2.0;
        vec![h * u[0], h * u[1], h * u[2], -h * u[0], -h * u[1], -h * u[2]]
    }
}

impl Denoiser for Dimer {
    fn atoms(&self) -> usize {
        2
    }

    fn denoise(&mut self, x: &[f64], t: f64, s: &Schedule) -> Vec<f64> {
        let (u, len) = Dimer::axis(x);
        let k = s.alpha(t) * BOND * len / (2.0 * s.sigma2(t));
        Dimer::place(u, BOND * langevin(k))
    }

    fn denoise_aligned(&mut self, x: &[f64], _t: f64, _s: &Schedule) -> Option<Vec<f64>> {
        Some(Dimer::place(Dimer::axis(x).0, BOND))
    }
}

fn bonds(xs: &[f64]) -> Vec<f64> {
    xs.chunks(6).map(|x| Dimer::axis(x).1).collect()
}

#[test]
fn the_conventional_target_is_shorter_the_aligned_one_is_the_bond() {
    let s = Schedule::polynomial2(1000, 1e-5);
    let mut d = Dimer;
    let x = [0.3, -0.2, 0.5, -0.3, 0.2, -0.5];
    for t in [100.0, 400.0, 700.0, 950.0] {
        let conventional = Dimer::axis(&d.denoise(&x, t, &s)).1;
        let aligned = d.denoise_aligned(&x, t, &s).unwrap();
        assert!(conventional < BOND, "t {t}: {conventional}");
        assert!((Dimer::axis(&aligned).1 - BOND).abs() < 1e-12);
        // the aligned target is the data rotated onto x_t (geometry::align_to: what the GeoDiff
        // objective trains towards, objectives::eps_target)
        let data = Dimer::place([0.0, 0.0, 1.0], BOND);
        let a = align_to(&data, &x);
        assert!(a.iter().zip(&aligned).all(|(p, q)| (p - q).abs() < 1e-9), "{a:?} vs {aligned:?}");
    }
    // far from the data (t → T) the conventional target's bond goes to 0; near it, to d*
    assert!(Dimer::axis(&d.denoise(&x, 999.0, &s)).1 < 0.2 * BOND);
    assert!(Dimer::axis(&d.denoise(&Dimer::place([0.0, 1.0, 0.0], BOND), 1.0, &s)).1 > 0.99 * BOND);
}

#[test]
fn only_the_target_a_sampler_expects_gives_the_data_bond() {
    // the probability-flow ODE (Heun): its last point is not D itself, so the target's error
    // reaches the samples (DDPM's last step returns D, whose bond is d* for the aligned target)
    let s = Schedule::polynomial2(1000, 1e-5);
    for seed in [3, 4] {
        let mean_bond = |symmetry: Symmetry| {
            let mut opts = SampleOptions::new(Method::Heun, symmetry, 500, &s);
            opts.seed = seed;
            let b = bonds(&sample(&mut Dimer, &s, &opts, 400).unwrap().samples);
            b.iter().sum::<f64>() / b.len() as f64
        };
        let conventional = mean_bond(Symmetry::Equivariant);
        // the quotient pairing: the quotient sampler with the quotient objective's optimum,
        // which for two atoms is the conventional target's radial part, i.e. that target
        let quotient = mean_bond(Symmetry::Quotient);
        let aligned = mean_bond(Symmetry::Align);
        eprintln!("seed {seed}: mean generated bond (data {BOND}): conventional pairing {conventional:.5}, quotient pairing {quotient:.5}, aligned target in the standard sampler {aligned:.5}");
        assert!((conventional - BOND).abs() < 1e-3 * BOND, "conventional pairing: {conventional}");
        assert!((quotient - BOND).abs() < 1e-3 * BOND, "quotient pairing: {quotient}");
        assert!(aligned - BOND > 3e-3 * BOND, "the aligned target in the standard sampler: {aligned}");
    }
}
