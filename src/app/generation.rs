//! One reverse-sampling run as a face drives it: the knobs checked once against each face's
//! limits ([`Plan`]), the run started from a prepared score source and advanced in slices
//! ([`Generation`]), its report with the distance histograms when done, and its kept samples
//! laid out for the viewer ([`Trajectory`]: a grid, frame ↔ diffusion time, export comments).
//! The page's Generate panel holds a `Generation` (with a GPU update pass beside it when the
//! engine is WebGPU); `molplay sample` checks the same `Plan`.

use crate::app::sample::{Prepared, RunFacts, SampleReport, ScoreNetwork, Source};
use crate::app::AppError;
use crate::metrics::{pairwise_distances, subsample};
use crate::samplers::{Method, SampleOptions, SamplerRun, Symmetry};
use crate::schedules::Schedule;
use crate::viewer::AtomStyle;
use serde::Serialize;

/// Upper bounds of the generation knobs; the page's are smaller (a tab's memory and patience).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    pub steps: usize,
    pub samples: usize,
}

impl Limits {
    pub const NATIVE: Limits = Limits { steps: 100_000, samples: 100_000 };
    pub const PAGE: Limits = Limits { steps: 5000, samples: 5000 };
}

/// Samples whose trajectories a run keeps for the viewer, at most.
pub const MAX_SHOWN: usize = 16;

/// One run's sampler knobs.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub method: Method,
    pub symmetry: Symmetry,
    pub steps: usize,
    pub samples: usize,
    pub seed: u64,
    /// Start at `t_star` from GAGA's closed-form Gaussian instead of at T from N(0, I).
    pub gaga: bool,
    /// The characteristic step (GAGA's start; the viewer marks it either way).
    pub t_star: f64,
}

impl Plan {
    /// Each knob checked against `limits` and `schedule` (`name` spells a knob as the face does:
    /// `--t-star`, `tStar`); T* when GAGA starts there.
    pub fn check(&self, limits: Limits, schedule: &Schedule, name: impl Fn(&str) -> String) -> Result<(), AppError> {
        for (knob, v, max) in [("steps", self.steps, limits.steps), ("samples", self.samples, limits.samples)] {
            if v == 0 || v > max {
                return Err(AppError::Invalid(format!("{} must be between 1 and {max}, got {v}", name(knob))));
            }
        }
        if self.gaga {
            self.check_t_star(schedule, name)?;
        }
        Ok(())
    }

    /// T* in (0, T]: [`check`](Self::check) asks it of a GAGA plan; a face asks it too where a
    /// GAGA run will start there anyway (a comparison's twin, a T* the user gave for the marks).
    pub fn check_t_star(&self, schedule: &Schedule, name: impl Fn(&str) -> String) -> Result<(), AppError> {
        let top = schedule.steps() as f64;
        if !(self.t_star.is_finite() && self.t_star > 0.0 && self.t_star <= top) {
            return Err(AppError::Invalid(format!("{} must be in (0, {top}], got {}", name("t_star"), self.t_star)));
        }
        Ok(())
    }

    /// The sampler's options for `atoms` atoms whose data have per-coordinate variance `v_hat`
    /// (GAGA's Gaussian).
    pub fn options(&self, schedule: &Schedule, v_hat: f64, atoms: usize) -> SampleOptions {
        let mut opts = SampleOptions::new(self.method, self.symmetry, self.steps, schedule);
        opts.seed = self.seed;
        if self.gaga {
            opts = opts.gaga(schedule, self.t_star, v_hat, atoms);
        }
        opts
    }

    /// The GAGA twin of a full plan at the same step size: T*/T of the steps, from T*.
    pub fn gaga_twin(&self, schedule: &Schedule) -> Plan {
        Plan { steps: gaga_steps(self.steps, self.t_star, schedule), gaga: true, ..self.clone() }
    }
}

/// The steps of a GAGA run from `t_star` at the step size of a full run of `steps` from T:
/// T*/T of them, rounded, at least one.
pub fn gaga_steps(steps: usize, t_star: f64, schedule: &Schedule) -> usize {
    ((steps as f64 * t_star / schedule.steps() as f64).round() as usize).max(1)
}

/// A started run: the sampler, its score source, and what its report needs.
pub struct Generation {
    pub run: SamplerRun,
    pub source: Source,
    pub schedule: Schedule,
    /// Configurations the samples are judged against (flat).
    pub reference: Vec<f64>,
    /// Wall time spent stepping, ms.
    pub ms: f64,
    pub label: String,
    pub plan: Plan,
}

/// A finished run's report with the interatomic distances of (up to 500) samples and of the
/// reference, for the panel's histograms: the page's `generateResult()`.
#[derive(Clone, Debug, Serialize)]
pub struct GenerateResult {
    #[serde(flatten)]
    pub report: SampleReport,
    pub distances: Vec<f64>,
    pub reference_distances: Vec<f64>,
}

impl Generation {
    /// Starts `plan` on `prepared`, keeping `show` samples' trajectories (1..=[`MAX_SHOWN`],
    /// at most the samples).
    pub fn start(prepared: Prepared, schedule: Schedule, plan: Plan, show: usize) -> Result<Generation, AppError> {
        let Prepared { source, reference, v_hat, label } = prepared;
        let n = source.atoms();
        let opts = plan.options(&schedule, v_hat, n);
        let show = show.clamp(1, MAX_SHOWN).min(plan.samples);
        let run = SamplerRun::new(n, &schedule, &opts, plan.samples, show)?;
        Ok(Generation { run, source, schedule, reference, ms: 0.0, label, plan })
    }

    /// Advances the run by `steps` sampler steps with the source's score (`model`: the network
    /// a network source samples with, held by the face).
    pub fn advance(&mut self, model: Option<&ScoreNetwork>, steps: usize) -> Result<(), AppError> {
        let (run, schedule) = (&mut self.run, &self.schedule);
        self.source.with_denoiser(model, |d| run.advance(d, schedule, steps))
    }

    /// Reference configurations, counted.
    pub fn reference_points(&self) -> usize {
        self.reference.len() / (3 * self.run.atoms())
    }

    /// The elements of the samples `xs` (`Source::elements_of`).
    pub fn elements_of(&self, xs: &[f64]) -> Option<Vec<&[String]>> {
        self.source.elements_of(xs, self.run.options().symmetry, None)
    }

    /// The run's samples (flat) with each sample's elements ("X" where unknown).
    pub fn samples_with_elements(&self) -> (Vec<f64>, Vec<Vec<String>>) {
        let n = self.run.atoms();
        let xs = self.run.samples().to_vec();
        let elements = match self.elements_of(&xs) {
            Some(els) => els.iter().map(|e| e.to_vec()).collect(),
            None => vec![vec!["X".to_string(); n]; xs.len() / (3 * n)],
        };
        (xs, elements)
    }

    /// The report (`molplay sample --json`'s) of the samples so far, with the distance
    /// histograms' values.
    pub fn result(&self) -> GenerateResult {
        let n = self.run.atoms();
        let samples = self.run.samples();
        let plan = &self.plan;
        let facts = RunFacts { label: self.label.clone(), options: self.run.options(), nfe: self.run.nfe(), seconds: self.ms / 1000.0, gaga: plan.gaga, t_star: Some(plan.t_star) };
        let dist = |xs: &[f64]| pairwise_distances(&subsample(xs, 3 * n, 500), n, 3);
        GenerateResult { report: self.source.report(&self.reference, samples, facts), distances: dist(samples), reference_distances: dist(&self.reference) }
    }

    /// Brings `view` up to the run's kept frames: a new trajectory for run `run_id` (laid out on
    /// a grid spaced by the reference's reach), or the frames added since. Returns the atoms'
    /// styles and the per-sample groups when the viewer should restyle (a new trajectory, or
    /// the run just finished and the samples' elements became known).
    pub fn sync_view(&self, view: &mut Option<Trajectory>, run_id: u64) -> Option<(Vec<AtomStyle>, Vec<usize>)> {
        let (n, keep) = (self.run.atoms(), self.run.kept());
        let raw = self.run.frames();
        let frames_now = raw.len() / (3 * n * keep);
        let is_new = view.as_ref().is_none_or(|v| v.run != run_id);
        let shown = if is_new { 0 } else { view.as_ref().map_or(0, Trajectory::frame_count) };
        if shown == frames_now {
            return None;
        }
        let reach = self.reference.chunks(3 * n).take(50).map(|x| crate::geometry::radius_about_com(x, 3)).fold(1.0, f64::max);
        let spacing = crate::viewer::layout::spacing(reach, 3.0);
        let shifts: Vec<[f64; 3]> = (0..keep).map(|k| crate::viewer::layout::grid_shift(k, keep, spacing)).collect();
        let added: Vec<f32> = raw[shown * 3 * n * keep..]
            .chunks(3 * n)
            .enumerate()
            .flat_map(|(i, x)| {
                let sh = shifts[i % keep];
                x.chunks(3).flat_map(move |p| (0..3).map(move |k| (p[k] + sh[k]) as f32))
            })
            .collect();
        // elements: given to the network from the start; else those of the data point each kept
        // sample ends nearest to (known once done)
        let known = self.source.elements_given() || (matches!(self.source, Source::Molecules { .. }) && self.run.done());
        let elements: Vec<String> = if known { self.elements_of(&raw[raw.len() - 3 * n * keep..]).unwrap_or_default().concat() } else { vec!["X".to_string(); n * keep] };
        let styles: Vec<AtomStyle> = match &self.source {
            _ if known => elements.iter().map(|e| AtomStyle::element(e)).collect(),
            Source::Molecules { .. } => vec![AtomStyle::element("C"); n * keep],
            Source::Chain(_) | Source::Network { .. } => vec![AtomStyle::particle(false); n * keep],
        };
        match view.as_mut().filter(|_| !is_new) {
            Some(v) => {
                v.frames.extend(added);
                v.frame = frames_now - 1;
                v.elements = elements;
            }
            None => {
                *view = Some(Trajectory {
                    run: run_id,
                    frames: added,
                    atoms: n * keep,
                    t_start: self.run.frame_time(0),
                    steps: self.run.options().steps,
                    full_t: self.schedule.steps() as f64,
                    t_star: Some(self.plan.t_star),
                    gaga: self.plan.gaga,
                    frame: frames_now - 1,
                    elements,
                })
            }
        }
        (is_new || self.run.done()).then(|| (styles, vec![n; keep]))
    }
}

/// A run's kept samples as the viewer shows them: each frame holds the kept samples side by
/// side on a grid (f32, as the viewer takes them), frame k at diffusion time
/// t_start · (1 − k/steps).
#[derive(Clone, Debug)]
pub struct Trajectory {
    /// The run these frames belong to (the face counts runs).
    pub run: u64,
    frames: Vec<f32>,
    /// Atoms per frame: every kept sample's.
    pub atoms: usize,
    /// Where the run started: T, or T* for GAGA.
    pub t_start: f64,
    pub steps: usize,
    /// The schedule's T.
    pub full_t: f64,
    pub t_star: Option<f64>,
    pub gaga: bool,
    /// The frame shown.
    pub frame: usize,
    /// Element of each shown atom (for export): known ones, else "X".
    pub elements: Vec<String>,
}

impl Trajectory {
    pub fn frame_count(&self) -> usize {
        self.frames.len() / (3 * self.atoms)
    }

    /// Diffusion time of frame `k`.
    pub fn time_of(&self, k: usize) -> f64 {
        self.t_start * (1.0 - k as f64 / self.steps as f64)
    }

    /// The kept frame nearest to diffusion time `t` (times above the start: the start frame).
    pub fn frame_at(&self, t: f64) -> usize {
        let k = ((self.t_start - t) / self.t_start * self.steps as f64).round();
        (k.max(0.0) as usize).min(self.frame_count() - 1)
    }

    /// Shows frame `k` (None: the newest), clamped to the kept ones.
    pub fn select(&mut self, k: Option<usize>) {
        let last = self.frame_count() - 1;
        self.frame = k.unwrap_or(last).min(last);
    }

    /// The positions of frame `k`.
    pub fn positions(&self, k: usize) -> &[f32] {
        let stride = 3 * self.atoms;
        &self.frames[k * stride..(k + 1) * stride]
    }

    /// Whether the shown frame is still above T* (noise the closed form covers).
    pub fn past_t_star(&self) -> bool {
        self.t_star.is_some_and(|ts| self.time_of(self.frame) > ts)
    }

    /// The trajectory for export: flat frames, elements, one comment per frame (its time; a
    /// GAGA run's first frame is marked as the closed-form Gaussian draw).
    pub fn export(&self) -> (Vec<f64>, Vec<String>, Vec<String>) {
        let comments = (0..self.frame_count()).map(|k| format!("molplay reverse t={:.3}{}", self.time_of(k), if self.gaga && k == 0 { " gaga_gaussian_start=true" } else { "" })).collect();
        (self.frames.iter().map(|&a| a as f64).collect(), self.elements.clone(), comments)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(samples: usize) -> Plan {
        Plan { method: Method::Ddpm, symmetry: Symmetry::Equivariant, steps: 20, samples, seed: 3, gaga: false, t_star: 650.0 }
    }

    fn schedule() -> Schedule {
        Schedule::noising_by_name("polynomial2", 1000).unwrap()
    }

    #[test]
    fn knobs_are_checked_against_each_faces_limits() {
        let same = |k: &str| k.to_string();
        let sch = schedule();
        assert!(plan(200).check(Limits::PAGE, &sch, same).is_ok());
        assert_eq!(plan(6000).check(Limits::PAGE, &sch, same).unwrap_err().to_string(), "samples must be between 1 and 5000, got 6000");
        assert!(plan(6000).check(Limits::NATIVE, &sch, same).is_ok());
        let camel = |k: &str| if k == "t_star" { "tStar".to_string() } else { k.to_string() };
        for bad in [0.0, -1.0, 1001.0, f64::NAN] {
            let e = Plan { t_star: bad, gaga: true, ..plan(10) }.check(Limits::PAGE, &sch, camel).unwrap_err().to_string();
            assert!(e.starts_with("tStar must be in (0, 1000]"), "{e}");
            assert!(Plan { t_star: bad, ..plan(10) }.check(Limits::PAGE, &sch, camel).is_ok(), "T* matters where GAGA starts there");
        }
        assert_eq!(Plan { steps: 0, ..plan(10) }.check(Limits::NATIVE, &sch, same).unwrap_err().to_string(), "steps must be between 1 and 100000, got 0");
        let twin = Plan { steps: 200, ..plan(10) }.gaga_twin(&sch);
        assert_eq!((twin.steps, twin.gaga, twin.t_star), (130, true, 650.0));
    }

    /// The page's slices give the run `molplay sample` gives in one go, and the report and the
    /// viewer's trajectory follow it.
    #[test]
    fn a_sliced_run_is_the_whole_run_and_its_trajectory_follows_it() {
        let sch = schedule();
        let p = plan(12);
        let whole = {
            let prepared = Source::chain(5, 50).unwrap();
            let mut source = prepared.source;
            let opts = p.options(&sch, prepared.v_hat, 5);
            source.with_denoiser(None, |d| crate::samplers::sample(d, &sch, &opts, 12)).unwrap()
        };
        let mut g = Generation::start(Source::chain(5, 50).unwrap(), sch, p, 40).unwrap();
        assert_eq!((g.run.kept(), g.reference_points()), (12, 50), "show is clamped to the samples");
        let mut view = None;
        let restyle = g.sync_view(&mut view, 1).expect("a new trajectory is styled");
        assert_eq!((restyle.0.len(), restyle.1), (60, vec![5; 12]));
        assert_eq!(view.as_ref().unwrap().frame_count(), 1);
        let mut slices = 0;
        while !g.run.done() {
            g.advance(None, 3).unwrap();
            slices += 1;
            let again = g.sync_view(&mut view, 1);
            assert_eq!(again.is_some(), g.run.done(), "restyled only when done (chain: elements never known)");
        }
        assert_eq!(slices, 7);
        assert_eq!(g.run.samples(), &whole.samples[..]);
        assert_eq!(g.run.nfe(), whole.nfe);
        let v = view.unwrap();
        assert_eq!(v.frame_count(), 21);
        assert_eq!(v.frame, 20);
        assert_eq!((v.time_of(0), v.time_of(20)), (1000.0, 0.0));
        assert_eq!((v.frame_at(2000.0), v.frame_at(500.0), v.frame_at(-5.0)), (0, 10, 20));
        assert!(!v.past_t_star());
        // the last frame's samples, shifted onto the grid
        let shown = v.positions(20);
        let shift = crate::viewer::layout::grid_shift(0, 12, crate::viewer::layout::spacing(v_reach(&g), 3.0));
        for (a, b) in shown[..15].chunks(3).zip(g.run.samples()[..15].chunks(3)) {
            for k in 0..3 {
                assert!((a[k] as f64 - (b[k] + shift[k])).abs() < 1e-4);
            }
        }
        let (flat, elements, comments) = v.export();
        assert_eq!((flat.len(), elements.len(), comments.len()), (21 * 60 * 3, 60, 21));
        assert_eq!(comments[10], "molplay reverse t=500.000");
        let r = g.result();
        assert_eq!((r.report.samples, r.report.nfe, r.distances.len(), r.reference_distances.len()), (12, whole.nfe, 12 * 10, 50 * 10));
        let (xs, els) = g.samples_with_elements();
        assert_eq!((xs.len(), els), (180, vec![vec!["X".to_string(); 5]; 12]));
    }

    fn v_reach(g: &Generation) -> f64 {
        g.reference.chunks(15).take(50).map(|x| crate::geometry::radius_about_com(x, 3)).fold(1.0, f64::max)
    }

    #[test]
    fn a_gaga_run_starts_at_t_star_and_marks_its_first_frame() {
        let sch = schedule();
        let p = Plan { gaga: true, steps: 13, ..plan(4) };
        let mut g = Generation::start(Source::chain(4, 20).unwrap(), sch, p, 2).unwrap();
        let mut view = None;
        g.sync_view(&mut view, 7);
        g.advance(None, 13).unwrap();
        g.sync_view(&mut view, 7);
        let mut v = view.unwrap();
        assert_eq!((v.t_start, v.frame_count()), (650.0, 14));
        assert_eq!(v.frame_at(900.0), 0);
        let (_, _, comments) = v.export();
        assert_eq!(comments[0], "molplay reverse t=650.000 gaga_gaussian_start=true");
        assert_eq!(comments[1], "molplay reverse t=600.000");
        v.select(Some(0));
        assert!(!v.past_t_star(), "T* itself is not past it");
        let r = g.result();
        assert!(r.report.gaga && r.report.t_start == 650.0);
    }
}
