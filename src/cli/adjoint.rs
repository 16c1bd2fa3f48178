//! `train-adjoint`, `sample --system` and `bench-adjoint`: Adjoint Sampling controllers
//! trained from the energy alone, sampled and timed.

use super::reference::{load_samples, sample_format, write_system_samples};
use molplay::metrics::compare;
use std::path::Path;
use std::time::Instant;

/// What `train-adjoint` was given.
pub(super) struct TrainAdjointArgs<'a> {
    pub(super) system: &'a str,
    pub(super) config: &'a str,
    pub(super) epochs: usize,
    pub(super) seed: u64,
    pub(super) output: &'a Path,
    pub(super) reference: Option<&'a Path>,
    pub(super) eval_every: usize,
    pub(super) final_eval: bool,
    pub(super) weights_only: bool,
    pub(super) keep_best: Option<&'a Path>,
    pub(super) resume: Option<&'a Path>,
    pub(super) lr: Option<f64>,
    pub(super) set: &'a [String],
    pub(super) device: &'a str,
    pub(super) threads: Option<usize>,
    pub(super) json: bool,
}

/// Adjoint Sampling from the energy alone: epochs of (buffer refresh + regression steps),
/// progress on stderr, an evaluation line every `eval_every` epochs (energy W2 and distance
/// W2 of 1000 fresh samples against `reference` when given, else the mean energy).
pub(super) fn train_adjoint(args: TrainAdjointArgs) -> Result<(), String> {
    use molplay::adjoint::{AdjointConfig, AdjointSampler, Evaluation};
    use pollster::block_on;
    let TrainAdjointArgs { system, epochs, seed, output, eval_every, json, .. } = args;
    let compute = molplay::models::Compute::by_name(args.device).map_err(|e| e.to_string())?;
    if epochs == 0 && args.resume.is_none() {
        return Err("--epochs must be at least 1 (0 only with --resume: the file written again as asked, e.g. --weights-only for a preset)".into());
    }
    if args.resume.is_some() && !args.set.is_empty() {
        return Err("--set changes a new run's configuration; a resumed run keeps its own (only --lr can change)".into());
    }
    let mut a = match args.resume {
        Some(p) => {
            let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
            let mut a = AdjointSampler::from_bytes(&bytes, Some(system)).map_err(|e| format!("{}: {e}", p.display()))?;
            if a.resumed_exactly() {
                eprintln!(
                    "{}: a checkpoint: going on exactly from epoch {} (replay buffer of {}, optimiser state, random numbers; --seed is not used)",
                    p.display(),
                    a.counters.epochs,
                    a.counters.buffer
                );
            } else {
                eprintln!("{}: weights only: going on from epoch {} with an empty buffer, a fresh optimiser and --seed {seed}", p.display(), a.counters.epochs);
                a.reseed(seed);
            }
            a
        }
        None => AdjointConfig::by_name(args.config, system).and_then(|c| c.with_overrides(args.set)).and_then(|c| AdjointSampler::new(c, seed)).map_err(|e| e.to_string())?,
    };
    if a.resumed_exactly() && !matches!(compute, molplay::models::Compute::Cpu) {
        eprintln!("note: moving to {} restarts the optimiser (its state is resumed on the CPU only)", compute.name());
    }
    a.move_to(&compute);
    if let Some(t) = args.threads {
        a.set_threads(t);
    }
    // a network on the GPU: the buffer refreshes' forces from our kernel on the same device
    if matches!(compute, molplay::models::Compute::Gpu(_)) {
        let ctx = molplay::gpu::native_context().map_err(|e| e.to_string())?;
        a.use_gpu_energies(ctx.clone(), molplay::gpu::energy::EnergyKernel::new(&ctx.device));
    }
    if let Some(lr) = args.lr {
        if !(lr > 0.0 && lr < 1.0) {
            return Err("--lr must be in (0, 1)".into());
        }
        a.config.lr = lr;
    }
    if args.keep_best.is_some() && args.reference.is_none() {
        return Err("--keep-best compares evaluations' energy W2: give --reference too".into());
    }
    if args.keep_best.is_some_and(|b| b == output) {
        return Err("--keep-best must name another file than --output".into());
    }
    let sys = a.system.clone();
    let reference = match args.reference {
        Some(p) => {
            let mut ys = load_samples(&sys, p)?;
            ys.chunks_mut(sys.dim()).for_each(|c| molplay::geometry::remove_com(c, sys.d));
            Some(ys)
        }
        None => None,
    };
    let t0 = Instant::now();
    // wall time of the sessions before this one (a resumed run's history)
    let before = a.history.seconds;
    let first_eval = a.history.evaluations.len();
    let mut stopped = None;
    let mut last_loss = f64::NAN;
    // 1000 fresh samples with their own random numbers (evaluating never changes training)
    let evaluate = |a: &mut AdjointSampler, loss: f64| -> Result<Evaluation, String> {
        let t = Instant::now();
        let epoch = a.counters.epochs;
        let xs = block_on(a.simulate_detached(1000, epoch as u64)).map_err(|e| e.to_string())?;
        let e = sys.energies(&xs).map_err(|e| e.to_string())?;
        let (energy_mean, energy_sd) = molplay::metrics::mean_sd(&e);
        // energy W2 weighs the high-energy tail quadratically: say where it lies
        let mut sorted = e.clone();
        sorted.sort_by(f64::total_cmp);
        let q = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
        eprintln!("  energies: median {:.2}, 90% {:.2}, 99% {:.2}, max {:.2}", q(0.5), q(0.9), q(0.99), q(1.0));
        let (energy_w2, distance_w2) = match &reference {
            Some(ys) => {
                let c = compare(&sys, &xs, ys, 0).map_err(|e| e.to_string())?;
                (Some(c.energy_w2), Some(c.distance_w2))
            }
            None => (None, None),
        };
        let seconds = before + t0.elapsed().as_secs_f64();
        Ok(Evaluation { epoch, seconds, loss, samples: 1000, energy_mean, energy_sd, energy_w2, distance_w2, eval_seconds: t.elapsed().as_secs_f64(), counters: a.counters.clone() })
    };
    let save_to = |a: &mut AdjointSampler, path: &Path| -> Result<(), String> {
        a.history.seconds = before + t0.elapsed().as_secs_f64();
        let bytes = if args.weights_only { block_on(a.to_bytes()) } else { block_on(a.checkpoint_bytes()) };
        std::fs::write(path, bytes.map_err(|e| e.to_string())?).map_err(|e| format!("{}: {e}", path.display()))
    };
    let save = |a: &mut AdjointSampler| save_to(a, output);
    let best_before = |a: &AdjointSampler| a.history.evaluations.iter().filter_map(|v| v.energy_w2).fold(f64::INFINITY, f64::min);
    for epoch in 1..=epochs {
        match block_on(a.epoch()) {
            Ok(l) => last_loss = l,
            Err(e) => {
                stopped = Some(format!("epoch {epoch}: {e}"));
                break;
            }
        }
        let on_grid = a.counters.epochs % eval_every.max(1) == 0;
        if on_grid || (epoch == epochs && args.final_eval) {
            let v = evaluate(&mut a, last_loss)?;
            let w2 = v.energy_w2.map(|w| format!(", energy W2 {w:.3}, distance W2 {:.4}", v.distance_w2.unwrap_or(f64::NAN))).unwrap_or_default();
            eprintln!(
                "epoch {} ({epoch}/{epochs} this run): loss {last_loss:.3}, E {:.2} ± {:.2}{w2} · {} energy evals, {} gradient steps, {} model evals · {:.0} s in all (this evaluation {:.1} s)",
                v.epoch, v.energy_mean, v.energy_sd, a.counters.energy_evaluations, a.counters.gradient_steps, a.counters.model_evaluations, v.seconds, v.eval_seconds
            );
            let best = best_before(&a);
            let improved = v.energy_w2.is_some_and(|w| w < best);
            a.history.evaluations.push(v);
            // a checkpoint at every evaluation: an interrupted run loses at most this much
            save(&mut a)?;
            if let (Some(path), true) = (args.keep_best, improved) {
                save_to(&mut a, path)?;
                eprintln!("  the lowest energy W2 so far → {}", path.display());
            }
        }
    }
    // on divergence the network already holds the last good weights
    save(&mut a)?;
    let secs = t0.elapsed().as_secs_f64();
    let c = &a.counters;
    let report = serde_json::json!({
        "system": sys.name, "config": a.config, "device": compute.name(), "counters": c, "seconds": secs, "total_seconds": a.history.seconds,
        "resumed_exactly": a.resumed_exactly(), "last_loss": last_loss, "evaluations": &a.history.evaluations[first_eval..],
        "gradient_steps_per_energy_evaluation": c.gradient_steps as f64 / c.energy_evaluations.max(1) as f64,
        "energies_on": a.energy_engine(), "checkpoint": !args.weights_only,
        "gradient_steps_per_s": c.gradient_steps as f64 / secs, "stopped": stopped, "output": output,
    });
    if json {
        outln!("{report}");
    } else {
        let what = if args.weights_only { "weights" } else { "checkpoint" };
        outln!(
            "{} epochs on {} ({epochs} in {secs:.1} s here, {:.1} s in all): {} gradient steps for {} energy evaluations → {} ({what})",
            c.epochs,
            sys.name,
            a.history.seconds,
            c.gradient_steps,
            c.energy_evaluations,
            output.display()
        );
    }
    match stopped {
        Some(msg) => Err(format!("{msg} (the last good weights were written to {})", output.display())),
        None => Ok(()),
    }
}

/// Samples from a trained Adjoint Sampling controller.
pub(super) fn adjoint_sample(system: &str, model: Option<&Path>, samples: usize, seed: u64, output: Option<&Path>, json: bool) -> Result<(), String> {
    let path = model.ok_or("--system samples from an Adjoint Sampling controller: give it with --model FILE")?;
    if let Some(out) = output {
        sample_format(out)?;
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut a = molplay::adjoint::AdjointSampler::from_bytes(&bytes, Some(system)).map_err(|e| format!("{}: {e}", path.display()))?;
    if samples == 0 {
        return Err("--samples must be at least 1".into());
    }
    a.reseed(seed);
    let t0 = Instant::now();
    // simulate batches within the controller's pair-tensor bound itself
    let (xs, _) = pollster::block_on(a.simulate(samples, 0)).map_err(|e| e.to_string())?;
    let secs = t0.elapsed().as_secs_f64();
    if let Some(out) = output {
        write_system_samples(&a.system, &xs, out)?;
    }
    let e = a.system.energies(&xs).map_err(|e| e.to_string())?;
    let (mean, sd) = molplay::metrics::mean_sd(&e);
    if !(mean.is_finite() && sd.is_finite()) {
        return Err(format!("the samples' energies are not finite (mean {mean}, spread {sd}): the controller diverged"));
    }
    if json {
        outln!("{}", serde_json::json!({ "system": a.system.name, "samples": samples, "nfe": samples * (a.config.nfe - 1), "seconds": secs, "energy_mean": mean, "energy_sd": sd, "output": output }));
    } else {
        outln!("{samples} {} samples from the controller ({} steps each) in {secs:.2} s: E {mean:.3} ± {sd:.3}", a.system.name, a.config.nfe - 1);
    }
    Ok(())
}

pub(super) fn bench_adjoint(system: &str, config: &str, set: &[String], epochs: usize, threads: &[usize], json: bool) -> Result<(), String> {
    use molplay::adjoint::{time_epochs, AdjointConfig};
    if epochs == 0 {
        return Err("--epochs must be at least 1".into());
    }
    let cfg = AdjointConfig::by_name(config, system).and_then(|c| c.with_overrides(set)).map_err(|e| e.to_string())?;
    let all = molplay::parallel::default_threads();
    let counts = if threads.is_empty() {
        if all > 1 {
            vec![1, all]
        } else {
            vec![1]
        }
    } else {
        threads.to_vec()
    };
    let t0 = Instant::now();
    let clock = move || t0.elapsed().as_secs_f64();
    let mut rows = Vec::new();
    for &t in &counts {
        let seconds = pollster::block_on(time_epochs(&cfg, t, epochs, &clock)).map_err(|e| e.to_string())?;
        if !json {
            outln!("{system} {config}: {t:>3} thread{} {seconds:8.3} s/epoch", if t == 1 { " " } else { "s" });
        }
        rows.push(serde_json::json!({ "threads": t, "seconds_per_epoch": seconds }));
    }
    let one = rows.first().and_then(|r| r["seconds_per_epoch"].as_f64());
    let speedups: Vec<f64> = rows.iter().filter_map(|r| Some(one? / r["seconds_per_epoch"].as_f64()?)).collect();
    if json {
        outln!("{}", serde_json::json!({ "system": system, "config": cfg, "epochs": epochs, "cores": all, "rows": rows, "speedup_over_first": speedups }));
    } else if counts.len() > 1 {
        let list: Vec<String> = counts.iter().zip(&speedups).skip(1).map(|(t, s)| format!("{s:.2}× on {t}")).collect();
        outln!("speed-up over {} thread{}: {}", counts[0], if counts[0] == 1 { "" } else { "s" }, list.join(", "));
    }
    Ok(())
}
