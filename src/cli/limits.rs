//! Range checks of the count knobs: the upper bounds and `check_knobs`, run on the parsed
//! command before any work.

use super::Command;
use molplay::energies::System;
use molplay::mcmc::PtConfig;
use std::path::Path;

/// Upper bounds of the count knobs: work and memory are sized from them, so a typo such as
/// `--samples 10000000000` is a range error up front instead of an abort minutes later.
/// Sampler steps and samples: the generation plan's bounds (`sample` checks them in its `Plan`).
const MAX_SAMPLES: usize = molplay::app::generation::Limits::NATIVE.samples;
const MAX_STEPS: usize = molplay::app::generation::Limits::NATIVE.steps;
const MAX_REFERENCE_SAMPLES: usize = 1_000_000;
const MAX_TRAIN_STEPS: usize = 10_000_000;
const MAX_BATCH: usize = 4096;
const MAX_REPS: usize = 10_000;
const MAX_EPOCHS: usize = 1_000_000;
/// Most numbers (f64) a knob may make a command hold at once: 400 MB.
const MAX_FLOATS: usize = 50_000_000;

fn at_most(flag: &str, value: usize, max: usize) -> Result<(), String> {
    if value > max {
        return Err(format!("{flag} {value} is out of range: at most {max}"));
    }
    Ok(())
}

/// `--threads` values: 1 to 1024.
fn thread_counts<'a>(mut counts: impl Iterator<Item = &'a usize>) -> Result<(), String> {
    if counts.any(|&t| t == 0 || t > 1024) {
        return Err("--threads takes counts from 1 to 1024".into());
    }
    Ok(())
}

/// Range checks of the count knobs and score names, before any work (see the limits above).
pub(super) fn check_knobs(cmd: &Command) -> Result<(), String> {
    let floats = |what: &str, count: usize, per: usize| -> Result<(), String> {
        match count.checked_mul(per) {
            Some(v) if v <= MAX_FLOATS => Ok(()),
            _ => Err(format!("{what} would hold {count} × {per} numbers, more than the {MAX_FLOATS} allowed: ask for fewer")),
        }
    };
    match cmd {
        Command::Reference { system, samples, chains, levels, burn_in, thin, .. } => {
            // the reference run's bounds (checked again, with the other knobs, when it is planned)
            let max = molplay::app::reference::Limits::NATIVE;
            at_most("--samples", *samples, max.samples)?;
            at_most("--chains", *chains, max.chains)?;
            at_most("--levels", levels.unwrap_or(0), molplay::mcmc::MAX_LEVELS)?;
            at_most("--burn-in", *burn_in, max.sweeps)?;
            at_most("--thin", *thin, max.sweeps)?;
            if let Ok(sys) = System::by_name(system) {
                floats("--samples", *samples, sys.dim())?;
                let levels = levels.unwrap_or_else(|| PtConfig::default_levels(&sys));
                floats("--chains × --levels", chains.saturating_mul(levels), sys.dim())?;
            }
        }
        Command::Sample { system: Some(_), samples, .. } => at_most("--samples", *samples, MAX_REFERENCE_SAMPLES)?,
        // --samples and --steps: checked with the other sampler knobs in `sample`'s Plan
        Command::Sample { score, .. } => {
            // a name that is neither a score nor a file: a misspelt score, not a path
            let known = ["chain", "empirical", "orbits", "model"];
            if !known.contains(&score.as_str()) && !Path::new(score).exists() && !score.contains(['/', '\\', '.']) {
                return Err(format!("unknown score '{}': use chain, empirical, orbits or a weights file", molplay::io::printable(score)));
            }
        }
        Command::Gaussianity { steps, pooled, .. } => {
            at_most("--steps", *steps, MAX_STEPS)?;
            at_most("--pooled", *pooled, MAX_SAMPLES)?;
        }
        Command::TrainScore { steps, batch, .. } => {
            at_most("--steps", *steps, MAX_TRAIN_STEPS)?;
            at_most("--batch", *batch, MAX_BATCH)?;
        }
        Command::TrainAdjoint { epochs, threads, .. } => {
            at_most("--epochs", *epochs, MAX_EPOCHS)?;
            thread_counts(threads.iter())?;
        }
        Command::Eval { sample_w2, .. } => at_most("--sample-w2", *sample_w2, molplay::metrics::MAX_SAMPLE_W2_N)?,
        // bench and bench-mcmc: their limits live in the application layer (`app::bench`)
        Command::Bench { .. } | Command::BenchMcmc { .. } => {}
        Command::BenchTrain { reps, .. } => at_most("--reps", *reps, MAX_REPS)?,
        Command::BenchAdjoint { epochs, threads, .. } => {
            at_most("--epochs", *epochs, MAX_REPS)?;
            thread_counts(threads.iter())?;
        }
        Command::Energy { .. } | Command::Stability { .. } | Command::Info { .. } => {}
        // their limits live in the application layer (`app::molecules`)
        Command::TrainMolecules(_) | Command::GenerateMolecules(_) | Command::Conformers(_) => {}
    }
    Ok(())
}
