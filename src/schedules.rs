//! Noise schedules as one abstraction: x_t = α_t·x_0 + σ_t·ε on a grid t = 0..T, with α_t², σ_t²,
//! the signal-to-noise ratio SNR = α²/σ² and its inverse. Between grid points values are
//! interpolated linearly in t, so continuous callers (samplers with any step count) work too.
//!
//! * `polynomial2`: EDM's "polynomial_2" (spec gaga.md §1.2): f(t) = (1 − (t/T)²)², step ratios
//!   f(t)/f(t−1) clipped to ≥ 0.001 and multiplied back up, then α² = (1 − 2s)·f + s.
//! * `linear`: DDPM, β linear from 1e-4 to 0.02 over t = 1..T, ᾱ_t = Π(1 − β).
//! * `cosine`: Nichol & Dhariwal, ᾱ_t = f(t)/f(0), f = cos²(((t/T) + s)/(1 + s)·π/2), s = 0.008,
//!   β clipped at 0.999.
//! * `geometric`: Adjoint Sampling's base process (spec adjoint-sampling.md §1.2) from a Dirac at
//!   0: α = 1, σ_t² = ν(t/T) = σ_max²(1 − r^{−2t/T}), r = σ_max/σ_min; its diffusion coefficient
//!   σ(t) = σ_min r^{1−t} √(2 ln r) is [`Schedule::diffusion`].

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Kind {
    Polynomial2 { precision: f64 },
    Linear,
    Cosine,
    Geometric { sigma_min: f64, sigma_max: f64 },
}

/// Why a schedule was refused. Messages are shown to users as they are.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ScheduleError {
    /// A stored identity ([`ScheduleId::build`]) with a step count no schedule of ours has.
    #[error("schedule steps must be between 2 and 100000, got {0}")]
    StoredSteps(usize),
    /// A stored identity whose parameters no schedule of ours has (from a corrupt file).
    #[error("implausible schedule {0:?}")]
    Implausible(ScheduleId),
    /// A step count asked for by name ([`Schedule::by_name`]) out of range.
    #[error("steps must be between 2 and 100000, got {0}")]
    Steps(usize),
    #[error("unknown schedule '{0}': use polynomial2, cosine, linear or geometric")]
    Unknown(String),
    /// Adjoint Sampling's base process asked for as a noising process of data.
    #[error("the geometric schedule is Adjoint Sampling's, not a noising process of data: use polynomial2, cosine or linear")]
    NotNoising,
}

/// What identifies a schedule: its kind (with parameters) and its number of steps. A score
/// network stores the one it was trained under, so it is never sampled under other noise levels.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduleId {
    pub kind: Kind,
    pub steps: usize,
}

impl ScheduleId {
    /// The schedule every score network was trained under before networks recorded theirs:
    /// polynomial2 (precision 1e-5) with 1000 steps, hard-wired in training until then.
    pub const LEGACY: ScheduleId = ScheduleId { kind: Kind::Polynomial2 { precision: 1e-5 }, steps: 1000 };

    /// The schedule itself; refuses identities no schedule of ours has (from a corrupt file).
    pub fn build(&self) -> Result<Schedule, ScheduleError> {
        if !(2..=100_000).contains(&self.steps) {
            return Err(ScheduleError::StoredSteps(self.steps));
        }
        match self.kind {
            Kind::Polynomial2 { precision } if precision.is_finite() && precision > 0.0 && precision < 0.25 => Ok(Schedule::polynomial2(self.steps, precision)),
            Kind::Linear => Ok(Schedule::linear(self.steps)),
            Kind::Cosine => Ok(Schedule::cosine(self.steps)),
            Kind::Geometric { sigma_min, sigma_max } if sigma_min.is_finite() && sigma_max.is_finite() && sigma_min > 0.0 && sigma_max > sigma_min => {
                Ok(Schedule::geometric(sigma_min, sigma_max, self.steps))
            }
            _ => Err(ScheduleError::Implausible(*self)),
        }
    }
}

impl std::fmt::Display for ScheduleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            Kind::Polynomial2 { precision } => write!(f, "polynomial2 (precision {precision:e})"),
            Kind::Linear => write!(f, "linear"),
            Kind::Cosine => write!(f, "cosine"),
            Kind::Geometric { sigma_min, sigma_max } => write!(f, "geometric (σ {sigma_min:e} → {sigma_max})"),
        }?;
        write!(f, " with {} steps", self.steps)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    pub kind: Kind,
    steps: usize,
    alpha2: Vec<f64>,
    sigma2: Vec<f64>,
}

impl Schedule {
    fn vp(kind: Kind, alpha2: Vec<f64>) -> Self {
        let sigma2 = alpha2.iter().map(|a| 1.0 - a).collect();
        Schedule { kind, steps: alpha2.len() - 1, alpha2, sigma2 }
    }

    pub fn polynomial2(steps: usize, precision: f64) -> Self {
        let t_max = steps as f64;
        let f: Vec<f64> = (0..=steps).map(|t| (1.0 - (t as f64 / t_max).powi(2)).powi(2)).collect();
        let (mut prev, mut acc) = (1.0, 1.0);
        let clipped: Vec<f64> = f
            .iter()
            .map(|&v| {
                acc *= (v / prev).clamp(0.001, 1.0);
                prev = v;
                acc
            })
            .collect();
        Self::vp(Kind::Polynomial2 { precision }, clipped.iter().map(|a| (1.0 - 2.0 * precision) * a + precision).collect())
    }

    pub fn linear(steps: usize) -> Self {
        let mut acc = 1.0;
        let mut a = vec![1.0];
        for t in 1..=steps {
            let beta = 1e-4 + (0.02 - 1e-4) * (t - 1) as f64 / (steps.max(2) - 1) as f64;
            acc *= 1.0 - beta;
            a.push(acc);
        }
        Self::vp(Kind::Linear, a)
    }

    pub fn cosine(steps: usize) -> Self {
        let s = 0.008;
        let f = |t: usize| (((t as f64 / steps as f64) + s) / (1.0 + s) * std::f64::consts::FRAC_PI_2).cos().powi(2);
        let mut acc = 1.0;
        let mut a = vec![1.0];
        for t in 1..=steps {
            let beta = (1.0 - f(t) / f(t - 1)).min(0.999);
            acc *= 1.0 - beta;
            a.push(acc);
        }
        Self::vp(Kind::Cosine, a)
    }

    pub fn geometric(sigma_min: f64, sigma_max: f64, steps: usize) -> Self {
        let r = sigma_max / sigma_min;
        let sigma2 = (0..=steps).map(|t| sigma_max * sigma_max * (1.0 - r.powf(-2.0 * t as f64 / steps as f64))).collect();
        Schedule { kind: Kind::Geometric { sigma_min, sigma_max }, steps, alpha2: vec![1.0; steps + 1], sigma2 }
    }

    /// `polynomial2` (precision 1e-5), `cosine`, `linear`; `geometric` (σ 1e-3 → 2).
    pub fn by_name(name: &str, steps: usize) -> Result<Self, ScheduleError> {
        if !(2..=100_000).contains(&steps) {
            return Err(ScheduleError::Steps(steps));
        }
        match name {
            "polynomial2" | "polynomial_2" => Ok(Self::polynomial2(steps, 1e-5)),
            "cosine" => Ok(Self::cosine(steps)),
            "linear" => Ok(Self::linear(steps)),
            "geometric" => Ok(Self::geometric(1e-3, 2.0, steps)),
            other => Err(ScheduleError::Unknown(other.to_string())),
        }
    }

    /// A schedule that noises data (α_T → 0) by name, for the reverse samplers and the T* study:
    /// [`by_name`](Self::by_name) without `geometric`, Adjoint Sampling's base process, which
    /// never forgets the data (α = 1).
    pub fn noising_by_name(name: &str, steps: usize) -> Result<Self, ScheduleError> {
        if name == "geometric" {
            return Err(ScheduleError::NotNoising);
        }
        Self::by_name(name, steps)
    }

    pub fn steps(&self) -> usize {
        self.steps
    }

    /// This schedule's identity (kind and steps).
    pub fn id(&self) -> ScheduleId {
        ScheduleId { kind: self.kind, steps: self.steps }
    }

    fn lerp(table: &[f64], t: f64) -> f64 {
        let t = t.clamp(0.0, (table.len() - 1) as f64);
        let i = (t.floor() as usize).min(table.len() - 2);
        let w = t - i as f64;
        table[i] * (1.0 - w) + table[i + 1] * w
    }

    pub fn alpha2(&self, t: f64) -> f64 {
        Self::lerp(&self.alpha2, t)
    }

    pub fn sigma2(&self, t: f64) -> f64 {
        Self::lerp(&self.sigma2, t)
    }

    pub fn alpha(&self, t: f64) -> f64 {
        self.alpha2(t).sqrt()
    }

    pub fn sigma(&self, t: f64) -> f64 {
        self.sigma2(t).sqrt()
    }

    /// α²/σ² (infinite at t = 0 for the geometric schedule).
    pub fn snr(&self, t: f64) -> f64 {
        self.alpha2(t) / self.sigma2(t)
    }

    /// The t (in steps, fractional) where the SNR equals `snr` (it decreases with t).
    pub fn t_for_snr(&self, snr: f64) -> f64 {
        self.bisect(|t| self.snr(t) - snr)
    }

    /// The t where α² equals `alpha2` (VP schedules; α² decreases with t).
    pub fn t_for_alpha2(&self, alpha2: f64) -> f64 {
        self.bisect(|t| self.alpha2(t) - alpha2)
    }

    fn bisect(&self, f: impl Fn(f64) -> f64) -> f64 {
        let (mut lo, mut hi) = (0.0, self.steps as f64);
        if f(lo) <= 0.0 {
            return lo;
        }
        if f(hi) >= 0.0 {
            return hi;
        }
        for _ in 0..100 {
            let mid = 0.5 * (lo + hi);
            if f(mid) > 0.0 {
                lo = mid
            } else {
                hi = mid
            }
        }
        0.5 * (lo + hi)
    }

    /// Geometric schedule only: σ(t) = σ_min r^{1−u} √(2 ln r), u = t/T.
    pub fn diffusion(&self, t: f64) -> Option<f64> {
        match self.kind {
            Kind::Geometric { sigma_min, sigma_max } => {
                let r = sigma_max / sigma_min;
                Some(sigma_min * r.powf(1.0 - t / self.steps as f64) * (2.0 * r.ln()).sqrt())
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edm_polynomial2_matches_the_spec_table() {
        let s = Schedule::polynomial2(1000, 1e-5);
        for (t, a2) in [(100.0, 0.9801), (300.0, 0.8281), (500.0, 0.5625), (550.0, 0.4865), (650.0, 0.3335), (800.0, 0.1296), (900.0, 0.0361)] {
            assert!((s.alpha2(t) - a2).abs() < 1e-4, "t = {t}: {}", s.alpha2(t));
            assert!((s.alpha2(t) + s.sigma2(t) - 1.0).abs() < 1e-12);
        }
        // closed form away from the clipped end: α² = (1 − 2s)(1 − (t/T)²)² + s
        for t in [1.0, 123.0, 777.0, 999.0] {
            let f = (1.0 - (t / 1000.0f64).powi(2)).powi(2);
            assert!((s.alpha2(t) - ((1.0 - 2e-5) * f + 1e-5)).abs() < 1e-12, "t = {t}");
        }
        assert!((s.alpha2(1000.0) - 1e-5).abs() < 2e-8, "clipped last step: {}", s.alpha2(1000.0));
        assert!((s.snr(550.0) - 0.947).abs() < 1e-3);
        assert!((s.t_for_snr(s.snr(550.0)) - 550.0).abs() < 1e-6);
        assert!((s.t_for_alpha2(0.5625) - 500.0).abs() < 0.01);
    }

    #[test]
    fn ddpm_linear_and_cosine_match_their_closed_forms() {
        let l = Schedule::linear(1000);
        // ᾱ_t = Π_{s ≤ t} (1 − β_s), β_s = 1e-4 + (s − 1)·(0.02 − 1e-4)/999
        let direct: f64 = (1..=1000).map(|s| 1.0 - (1e-4 + (s - 1) as f64 * (0.02 - 1e-4) / 999.0)).product();
        assert!((l.alpha2(1000.0) - direct).abs() < 1e-15 && (direct - 4.0358e-5).abs() < 1e-8, "{direct}");
        let c = Schedule::cosine(1000);
        let f = |t: f64| (((t / 1000.0) + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2).cos().powi(2);
        for t in [0.0, 10.0, 250.0, 500.0, 900.0] {
            assert!((c.alpha2(t) - f(t) / f(0.0)).abs() < 1e-9, "t = {t}");
        }
        assert!(c.alpha2(1000.0) < 1e-6 && c.alpha2(1000.0) > 0.0);
        for s in [&l, &c] {
            let mut prev = f64::INFINITY;
            assert_eq!(s.snr(0.0), f64::INFINITY);
            for t in 1..=1000 {
                let v = s.snr(t as f64);
                assert!(v < prev, "SNR decreases");
                prev = v;
            }
        }
    }

    #[test]
    fn geometric_is_the_adjoint_sampling_base_process() {
        let g = Schedule::geometric(1e-3, 2.0, 1000);
        assert!((g.sigma2(1000.0) - (4.0 - 1e-6)).abs() < 1e-9, "ν(1) = σ_max² − σ_min²");
        assert!((g.sigma2(250.0) / g.sigma2(1000.0) - 0.978).abs() < 1e-3, "κ(0.25) ≈ 0.978 (spec)");
        assert!((g.diffusion(0.0).unwrap() - 7.80).abs() < 0.01 && (g.diffusion(1000.0).unwrap() - 3.9e-3).abs() < 1e-4);
        // dν/dt = σ(t)² (u = t/T): central difference on the table
        let (t, h) = (300.0, 1.0);
        let dnu = (g.sigma2(t + h) - g.sigma2(t - h)) / (2.0 * h / 1000.0);
        assert!((dnu / g.diffusion(t).unwrap().powi(2) - 1.0).abs() < 1e-3);
        assert!((g.t_for_snr(g.snr(400.0)) - 400.0).abs() < 1e-6);
    }

    #[test]
    fn bad_names_and_sizes_are_refused() {
        assert!(Schedule::by_name("sigmoid", 1000).unwrap_err().to_string().contains("unknown schedule"));
        assert!(Schedule::by_name("cosine", 1).is_err());
        assert_eq!(Schedule::by_name("polynomial_2", 1000).unwrap(), Schedule::polynomial2(1000, 1e-5));
        assert!(Schedule::noising_by_name("geometric", 1000).unwrap_err().to_string().contains("Adjoint Sampling's"));
        assert_eq!(Schedule::noising_by_name("cosine", 500).unwrap(), Schedule::cosine(500));
    }

    #[test]
    fn a_schedule_is_rebuilt_from_its_identity() {
        for s in [Schedule::polynomial2(1000, 1e-5), Schedule::linear(300), Schedule::cosine(1000), Schedule::geometric(1e-3, 2.0, 100)] {
            let id: ScheduleId = serde_json::from_str(&serde_json::to_string(&s.id()).unwrap()).unwrap();
            assert_eq!(id.build().unwrap(), s);
        }
        assert_eq!(ScheduleId::LEGACY.build().unwrap(), Schedule::polynomial2(1000, 1e-5));
        assert_eq!(Schedule::cosine(1000).id().to_string(), "cosine with 1000 steps");
        assert!(ScheduleId { kind: Kind::Cosine, steps: 1 }.build().is_err());
        assert!(ScheduleId { kind: Kind::Polynomial2 { precision: f64::NAN }, steps: 10 }.build().is_err());
    }
}
