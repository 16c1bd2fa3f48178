//! The T* study's use case (spec gaga.md §5): which steps are checked, the per-molecule tests
//! then the calibrated pooled measure, run in time-budgeted slices, and one typed report.
//! `molplay gaussianity --json` prints it and the page's `gaussianity()` resolves to it.

use super::AppError;
use crate::gaussianity::{Pooled, PooledRun, Study, StudyOptions, StudyRun};
use crate::molecules::Dataset;
use crate::schedules::{Kind as ScheduleKind, Schedule};
use serde::Serialize;

/// How T* is read off the tests (the report carries it, so a figure says what it means).
pub const T_STAR_RULE: &str = "95 % quantile over molecules of the earliest checked step passed twice in a row (released GAGA test: KS p > 0.05, KSG MI < 0.1 nats; positions and types)";

/// The study's knobs.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// "polynomial2", "cosine" or "linear".
    pub schedule: String,
    pub steps: usize,
    /// The checked steps: `from`, `from + every`, … up to `to`.
    pub from: usize,
    pub to: usize,
    pub every: usize,
    pub seed: u64,
    /// Evenly spaced molecules tested (0: all).
    pub molecules: usize,
    /// Molecules in the calibrated pooled measure (0 skips it).
    pub pooled: usize,
}

impl Default for Plan {
    fn default() -> Self {
        Plan { schedule: "polynomial2".into(), steps: 1000, from: 300, to: 800, every: 50, seed: 0, molecules: 1000, pooled: 300 }
    }
}

impl Plan {
    /// The plan with its grid checked (`name` spells a knob as the face does), ready to run on
    /// a data set.
    pub fn check(&self, name: impl Fn(&str) -> String) -> Result<Checked, AppError> {
        let schedule = Schedule::noising_by_name(&self.schedule, self.steps)?;
        let (from, to, every) = (self.from, self.to, self.every);
        if every == 0 || from >= to || to > self.steps {
            return Err(AppError::Invalid(format!("need {} < {} ≤ steps ({}) and {} ≥ 1, got {from}, {to} and {every}", name("check_from"), name("check_to"), self.steps, name("check_every"))));
        }
        let options = StudyOptions { schedule, grid: (from..=to).step_by(every).collect(), seed: self.seed };
        Ok(Checked { options, molecules: self.molecules, pooled: self.pooled })
    }
}

/// A [`Plan`] whose grid passed its checks.
#[derive(Clone, Debug)]
pub struct Checked {
    pub options: StudyOptions,
    molecules: usize,
    pooled: usize,
}

/// Molecules a study left out for their size.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LeftOut {
    pub molecules: usize,
    pub max_atoms: usize,
}

/// A finished study: the per-molecule tests' T* (overall and per modality) with their pass-rate
/// curves, the calibrated pooled measure, the schedule, and how T* was read.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Report {
    #[serde(flatten)]
    pub study: Study,
    pub pooled: Option<Pooled>,
    pub schedule: ScheduleKind,
    pub t_star_rule: &'static str,
    /// Molecules over the face's atom bound (the page's: the test's cost grows as atoms³).
    pub left_out: Option<LeftOut>,
}

/// A study under way: the tests one molecule at a time, then the pooled measure a draw at a
/// time.
pub struct Job {
    study: StudyRun,
    pooled_n: usize,
    pooled: Option<PooledRun>,
    left_out: Option<LeftOut>,
    report: Option<Report>,
}

impl Checked {
    /// The study of `data` (an evenly spaced subset of the plan's `molecules`; molecules over
    /// `max_atoms` atoms are left out and counted when a bound is given).
    pub fn job(self, data: &Dataset, max_atoms: Option<usize>) -> Result<Job, AppError> {
        // an evenly spaced subset: a data set's order need not be random (QM9's puts small
        // molecules first)
        let mut data = data.evenly_spaced(self.molecules);
        let mut left_out = None;
        if let Some(max) = max_atoms {
            let (kept, dropped) = data.at_most_atoms(max, "the test's cost grows as atoms³; molplay gaussianity has no bound");
            if kept.molecules.is_empty() {
                return Err(AppError::Invalid(format!("every molecule has more than {max} atoms, which the page's study does not test (its cost grows as atoms³; molplay gaussianity has no bound)")));
            }
            data = kept;
            left_out = Some(LeftOut { molecules: dropped, max_atoms: max });
        }
        Ok(Job { study: StudyRun::new(data, self.options)?, pooled_n: self.pooled, pooled: None, left_out, report: None })
    }
}

impl Job {
    /// Molecules tested and to test.
    pub fn progress(&self) -> (usize, usize) {
        self.study.progress()
    }

    /// The pooled measure's progress, once it has started.
    pub fn pooled_progress(&self) -> Option<(usize, usize)> {
        self.pooled.as_ref().map(PooledRun::progress)
    }

    /// Whether the per-molecule tests are done (the pooled measure may follow).
    pub fn tested(&self) -> bool {
        self.study.done()
    }

    pub fn report(&self) -> Option<&Report> {
        self.report.as_ref()
    }

    /// Works until the study is done or `budget_ms` of `clock` has passed; the report once done.
    /// A slice also ends where the per-molecule tests end, so a caller can time the two phases.
    pub fn advance_for(&mut self, budget_ms: f64, clock: &dyn Fn() -> f64) -> Result<Option<&Report>, AppError> {
        let t0 = clock();
        while self.report.is_none() && clock() - t0 < budget_ms {
            if !self.study.done() {
                // one block test at a time: a 64-atom molecule's tests take a few hundred ms
                if self.study.advance_test() {
                    break;
                }
                continue;
            }
            if self.pooled_n > 0 {
                let pool = match self.pooled.as_mut() {
                    Some(p) => p,
                    None => self.pooled.insert(PooledRun::new(self.study.data(), self.study.options(), self.pooled_n)?),
                };
                if !pool.advance() {
                    continue;
                }
            }
            self.report = Some(Report {
                study: self.study.result(),
                pooled: self.pooled.take().map(PooledRun::finish),
                schedule: self.study.options().schedule.kind,
                t_star_rule: T_STAR_RULE,
                left_out: self.left_out.clone(),
            });
        }
        Ok(self.report.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Dataset {
        Dataset::from_xyz(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/www/data/qm9_subset.xyz")).unwrap(), 4).unwrap()
    }

    #[test]
    fn the_grid_is_checked_with_each_faces_names() {
        let flag = |k: &str| format!("--{}", k.replace('_', "-"));
        let e = Plan { from: 800, to: 300, ..Plan::default() }.check(flag).unwrap_err();
        assert_eq!(e.to_string(), "need --check-from < --check-to ≤ steps (1000) and --check-every ≥ 1, got 800, 300 and 50");
        assert!(Plan { to: 1200, ..Plan::default() }.check(flag).is_err());
        assert!(Plan { every: 0, ..Plan::default() }.check(flag).is_err());
        assert!(Plan { schedule: "sqrt".into(), ..Plan::default() }.check(flag).is_err());
        assert_eq!(Plan::default().check(flag).unwrap().options.grid, (300..=800).step_by(50).collect::<Vec<_>>());
    }

    #[test]
    fn slices_give_the_study_and_pooled_measure_of_one_go() {
        let data = data();
        let plan = Plan { molecules: 12, pooled: 12, from: 400, to: 700, every: 100, ..Plan::default() };
        let t = std::cell::Cell::new(0.0);
        let clock = move || {
            t.set(t.get() + 1.0);
            t.get()
        };
        let checked = plan.check(|k| k.into()).unwrap();
        let opts = checked.options.clone();
        let mut job = checked.clone().job(&data, Some(64)).unwrap();
        let mut slices = 0;
        while job.advance_for(3.0, &clock).unwrap().is_none() {
            slices += 1;
            // the slice that finishes the tests ends there: the pooled measure starts afresh
            if job.tested() && job.pooled_progress().is_none() {
                assert!(job.report().is_none());
            }
        }
        assert!(slices > 3, "{slices}");
        let report = job.report().unwrap();
        let picked = data.evenly_spaced(12);
        assert_eq!(report.study, crate::gaussianity::study(&picked, &opts, |_, _| {}).unwrap());
        assert_eq!(report.pooled.as_ref(), Some(&crate::gaussianity::pooled(&picked, &opts, 12).unwrap()));
        assert_eq!(report.left_out, Some(LeftOut { molecules: 0, max_atoms: 64 }));
        let v = serde_json::to_value(report).unwrap();
        assert!(v["t_star"].is_number() || v["t_star"].is_null());
        assert!(v["curves"].is_array() && v["pooled"]["curves"].is_array() && v["t_star_rule"].is_string());
        // a bound no molecule meets
        let e = checked.job(&data, Some(3)).err().expect("no molecule has 3 atoms or fewer");
        assert!(e.to_string().contains("more than 3 atoms"), "{e}");
    }
}
