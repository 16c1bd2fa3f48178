//! `gaussianity`, `train-score`, `sample` (score-based) and `stability`: diffusion on
//! molecules' positions, from the T* study to generation and its judging.

use super::molecules;
use molplay::io::write_samples;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub(super) fn gaussianity(input: &Path, schedule: &str, steps: usize, grid: (usize, usize, usize), seed: u64, sizes: (usize, usize), json: bool) -> Result<(), String> {
    use molplay::app::gaussianity::Plan;
    let (limit, pooled_n) = sizes;
    let (from, to, every) = grid;
    let plan = Plan { schedule: schedule.to_string(), steps, from, to, every, seed, molecules: limit, pooled: pooled_n };
    let flag = |k: &str| format!("--{}", k.replace('_', "-"));
    let checked = plan.check(flag).map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let data = molplay::molecules::Dataset::from_xyz(&text, 4).map_err(|e| format!("{}: {e}", input.display()))?;
    // the page's use case (app::gaussianity), in slices of a second for the progress line; no
    // atom bound natively
    let mut job = checked.job(&data, None).map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let clock = || t0.elapsed().as_secs_f64() * 1000.0;
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // a slice ends where the tests end, so this is the tests' time; the rest is the pooled measure's
    let mut secs = None;
    while job.advance_for(1000.0, &clock).map_err(|e| e.to_string())?.is_none() {
        if job.tested() && secs.is_none() {
            secs = Some(t0.elapsed().as_secs_f64());
        }
        if tty {
            let (done, total) = job.progress();
            eprint!("\rtested {done}/{total} molecules   ");
        }
    }
    if tty {
        eprintln!();
    }
    let total_secs = t0.elapsed().as_secs_f64();
    let secs = secs.unwrap_or(total_secs);
    let pooled_secs = total_secs - secs;
    let report = job.report().expect("done");
    if json {
        let mut v = serde_json::to_value(report).map_err(|e| e.to_string())?;
        v["pooled_seconds"] = serde_json::json!(pooled_secs);
        v["seconds"] = serde_json::json!(secs);
        outln!("{v}");
        return Ok(());
    }
    let (r, pool) = (&report.study, &report.pooled);
    let show = |v: Option<f64>| v.map(|t| format!("{t:.0}")).unwrap_or_else(|| "never".into());
    outln!("{} molecules tested ({} skipped: fewer than 4 atoms), grid {from}..={to} step {every}, {secs:.1} s", r.molecules_tested, r.molecules_skipped);
    outln!("T* (95 % quantile over molecules, positions and types): {}   mean: {}", show(r.t_star), show(r.t_star_mean));
    for (m, t) in &r.t_star_by_modality {
        outln!("  {m:<10} T* {:>6}   mean {:>6}   never passed: {}", show(*t), show(r.t_star_mean_by_modality[m]), r.never_passed[m]);
    }
    for c in &r.curves {
        let rates: Vec<String> = c.t.iter().zip(&c.pass_rate).map(|(t, p)| format!("{t}:{p:.2}")).collect();
        outln!("  {:<10} pass rate {}", c.modality, rates.join(" "));
    }
    if let Some(p) = &pool {
        outln!("calibrated pooled measure ({} molecules, thresholds from pure noise, {pooled_secs:.1} s): T* {}", p.molecules, show(p.t_star.map(|t| t as f64)));
        for c in &p.curves {
            let ks: Vec<String> = c.t.iter().zip(&c.ks_distance).map(|(t, v)| format!("{t}:{v:.3}")).collect();
            let mi: Vec<String> = c.t.iter().zip(&c.mi).map(|(t, v)| format!("{t}:{v:.3}")).collect();
            outln!(
                "  {:<10} T_DS {} (KS ≤ {:.3}), T_ID {} (MI ≤ {:.3}), T* {}",
                c.modality,
                show(c.t_ds.map(|t| t as f64)),
                c.null_ks_distance,
                show(c.t_id.map(|t| t as f64)),
                c.null_mi,
                show(c.t_star.map(|t| t as f64))
            );
            outln!("  {:<10} KS {}", "", ks.join(" "));
            outln!("  {:<10} MI {}", "", mi.join(" "));
        }
    }
    Ok(())
}

pub(super) struct SampleArgs {
    pub(super) score: String,
    pub(super) model: Option<PathBuf>,
    pub(super) atoms: Option<usize>,
    pub(super) data: Option<PathBuf>,
    pub(super) sampler: String,
    pub(super) steps: usize,
    pub(super) schedule: String,
    pub(super) gaga: bool,
    pub(super) t_star: f64,
    pub(super) compare_gaga: bool,
    pub(super) symmetry: String,
    pub(super) samples: usize,
    pub(super) seed: u64,
    pub(super) output: Option<PathBuf>,
    pub(super) json: bool,
}

type Configurations = (Vec<f64>, usize, Vec<Vec<String>>);

/// Training / reference configurations: `chain` (`count` draws of the Gaussian spring chain
/// of `atoms`, 4 by default) or the molecules of an XYZ file with `atoms` atoms (default: the
/// most common size; CoM removed). Returns (flat configurations, atoms, elements of each
/// molecule: empty for the chain).
fn configurations(data: &str, atoms: Option<usize>, count: usize, seed: u64) -> Result<Configurations, String> {
    if data == "chain" {
        let atoms = atoms.unwrap_or(4);
        molplay::samplers::check_chain_beads(atoms).map_err(|e| format!("--atoms: {e}"))?;
        let mut g = molplay::samplers::GaussianTarget::spring_chain(atoms);
        for _ in 0..seed % 97 {
            g.draw();
        }
        return Ok(((0..count).flat_map(|_| g.draw()).collect(), atoms, Vec::new()));
    }
    let path = Path::new(data);
    let at = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| at(&e))?;
    let set = molplay::molecules::Dataset::from_xyz(&text, 3).map_err(|e| at(&e))?;
    let molplay::molecules::SizeGroup { atoms: n, positions: xs, elements } = set.same_size(atoms, 0).map_err(|e| at(&e))?;
    if atoms.is_none() && set.molecules.len() > elements.len() {
        eprintln!("{}: using the {} molecules with {n} atoms (the most common size; --atoms picks another)", path.display(), elements.len());
    }
    Ok((xs, n, elements))
}

pub(super) struct TrainScoreArgs {
    pub(super) data: String,
    pub(super) atoms: Option<usize>,
    pub(super) steps: usize,
    pub(super) batch: usize,
    pub(super) lr: f64,
    pub(super) hidden: usize,
    pub(super) layers: usize,
    pub(super) t_max: Option<f64>,
    pub(super) objective: String,
    pub(super) positions_only: bool,
    pub(super) device: String,
    pub(super) seed: u64,
    pub(super) output: PathBuf,
    pub(super) json: bool,
}

pub(super) fn train_score(a: TrainScoreArgs) -> Result<(), String> {
    use molplay::app::score::{Knobs, Limits, ScoreTraining, TrainingSet};
    let TrainScoreArgs { steps, batch, lr, hidden, layers, seed, json, .. } = a;
    let output = a.output.as_path();
    let objective = molplay::objectives::Objective::by_name(&a.objective).map_err(|e| e.to_string())?;
    let knobs = Knobs { hidden, layers, batch, lr, t_max: a.t_max.unwrap_or(1000.0), objective, seed };
    if steps == 0 {
        return Err("need --steps ≥ 1".into());
    }
    knobs.check(Limits::NATIVE, |k| format!("--{}", k.replace('_', "-"))).map_err(|e| e.to_string())?;
    let (positions, atoms, elements) = configurations(&a.data, a.atoms, 20_000, seed)?;
    let set = TrainingSet { positions, atoms, elements, label: a.data.clone() };
    let compute = molplay::models::Compute::by_name(&a.device).map_err(|e| e.to_string())?;
    let mut training = ScoreTraining::fresh(set, knobs, a.positions_only, &compute).map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let clock = || t0.elapsed().as_secs_f64();
    while training.stopped.is_none() && training.model().steps < steps {
        let k = training.model().steps;
        let chunk = (100 - k % 100).min(steps - k);
        pollster::block_on(training.train(chunk, f64::INFINITY, &clock));
        let k = training.model().steps;
        if k % 100 == 0 && training.losses.len() >= 100 {
            let window = &training.losses[training.losses.len() - 100..];
            eprintln!("step {k}/{steps}: loss {:.4} (mean of the last 100)", window.iter().sum::<f64>() / 100.0);
        }
    }
    let st = training.status();
    std::fs::write(output, training.to_bytes().map_err(|e| e.to_string())?).map_err(|e| format!("{}: {e}", output.display()))?;
    let secs = training.seconds;
    let last = st.loss.unwrap_or(f64::NAN);
    let report = serde_json::json!({ "steps": st.steps, "device": st.device, "seconds": secs, "steps_per_s": st.steps as f64 / secs, "last_loss": last, "objective": st.objective, "config": st.config, "t_max": st.t_max, "stopped": st.stopped, "output": output });
    if json {
        outln!("{report}");
    } else {
        outln!("{} steps in {secs:.1} s ({:.1} steps/s), last loss {last:.4} → {}", st.steps, st.steps as f64 / secs, output.display());
    }
    match st.stopped {
        Some(msg) => Err(msg),
        None => Ok(()),
    }
}

pub(super) fn sample_cmd(a: SampleArgs) -> Result<(), String> {
    use molplay::app::generation::{Limits, Plan};
    use molplay::app::sample::{Prepared, RunFacts, SampleStability, Source};
    use molplay::samplers::{sample, Method, Symmetry};
    let sch = molplay::schedules::Schedule::noising_by_name(&a.schedule, 1000).map_err(|e| e.to_string())?;
    let plan = Plan { method: Method::by_name(&a.sampler)?, symmetry: Symmetry::by_name(&a.symmetry)?, steps: a.steps, samples: a.samples, seed: a.seed, gaga: a.gaga, t_star: a.t_star };
    // --t-star matters where a GAGA run starts there: --gaga, or --compare-gaga's second run
    let name = |k: &str| format!("--{}", k.replace('_', "-"));
    plan.check(Limits::NATIVE, &sch, name).map_err(|e| e.to_string())?;
    let format = a.output.as_deref().map(super::reference::sample_format).transpose()?;
    if a.compare_gaga {
        if a.gaga {
            return Err("--compare-gaga runs the full and the GAGA sampler itself: leave out --gaga".into());
        }
        plan.check_t_star(&sch, name).map_err(|e| e.to_string())?;
    }
    let (method, symmetry) = (plan.method, plan.symmetry);
    // the target, its per-coordinate variance (for GAGA's Gaussian) and the reference pairs
    let model_path = match (&a.score[..], &a.model) {
        ("model", Some(p)) => Some(p.clone()),
        ("model", None) => return Err("--score model needs --model FILE (or --score FILE)".into()),
        ("chain" | "empirical" | "orbits", _) => None,
        (file, _) => Some(PathBuf::from(file)),
    };
    let loaded = match &model_path {
        Some(p) => {
            let m = molplay::models::ScoreModel::from_bytes(&std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?, None).map_err(|e| format!("{}: {e}", p.display()))?;
            m.config.check_schedule(&sch).map_err(|e| format!("{}: {e} (--schedule)", p.display()))?;
            Some(m)
        }
        None => None,
    };
    // the score source (app::sample, as the page builds it), the reference pairs and
    // GAGA's variance
    let Prepared { mut source, reference, v_hat, label } = match a.score.as_str() {
        _ if loaded.is_some() => {
            let m = loaded.as_ref().expect("loaded above");
            let data = a.data.as_ref().map(|p| p.to_string_lossy().into_owned()).unwrap_or_else(|| "chain".into());
            let (reference, n, el) = configurations(&data, Some(m.config.atoms), a.samples.max(200), a.seed ^ 1)?;
            if n != m.config.atoms {
                return Err(format!("the model is for {} atoms, the data has {n}", m.config.atoms));
            }
            if m.config.conditioned_on_elements() && el.is_empty() {
                return Err("this network generates positions for given elements: --data must be a molecule file (XYZ) to draw them from".into());
            }
            // each sample gets the atom types of a data molecule of its size, drawn with the seed
            let what = model_path.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
            // GAGA starts from the variance of the network's training data, as recorded in its
            // weights (the page's start too), not from the set the samples are judged against
            Source::network(&m.config, reference, &el, a.samples, a.seed, format!("EGNN {what}")).map_err(|e| e.to_string())?
        }
        "chain" => Source::chain(a.atoms.unwrap_or(4), a.samples.max(200)).map_err(|e| format!("--atoms: {e}"))?,
        _ => {
            let path = a.data.as_ref().ok_or("--score empirical (or orbits) needs --data FILE.xyz")?;
            let (xs, n, el) = configurations(&path.to_string_lossy(), a.atoms, 0, 0)?;
            Source::molecules(xs, n, el, a.score == "orbits").map_err(|e| format!("{}: {e}", path.display()))?
        }
    };
    let n = source.atoms();
    let opts = plan.options(&sch, v_hat, n);
    let t0 = Instant::now();
    let r = source.with_denoiser(loaded.as_ref(), |d| sample(d, &sch, &opts, a.samples)).map_err(|e| e.to_string())?;
    let secs = t0.elapsed().as_secs_f64();
    let report = source.report(&reference, &r.samples, RunFacts { label: label.clone(), options: &opts, nfe: r.nfe, seconds: secs, gaga: a.gaga, t_star: a.gaga.then_some(a.t_star) });
    // each sample's elements for the XYZ output: given to the network, or (an empirical
    // sample) those of the data point it ends nearest to; None for the chain and a
    // positions-only network
    let els = source.elements_of(&r.samples, symmetry, None).map(|els| els.iter().map(|e| e.to_vec()).collect::<Vec<Vec<String>>>());
    if let (Some(out), Some(format)) = (&a.output, format) {
        let bytes = write_samples(&r.samples, 3 * n, 3, format, |i| (els.as_ref().map_or_else(|| vec!["C".into(); n], |e| e[i].clone()), format!("sample {i}")));
        std::fs::write(out, bytes).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    let mut json = serde_json::to_value(&report).map_err(|e| e.to_string())?;
    json["score"] = serde_json::json!(a.score);
    let stability_line = |st: &Option<SampleStability>| {
        if let Some(st) = st {
            outln!("  atom stability {:.1} %, molecule stability {:.1} % (elements: {})", 100.0 * st.atom, 100.0 * st.molecule, st.elements);
        }
    };
    if !a.json {
        outln!("{} samples ({} atoms) by {:?}/{:?} from t = {}: {} network evaluations ({:.0} per sample), {secs:.2} s", a.samples, n, method, symmetry, opts.t_start, r.nfe, report.nfe_per_sample);
        let q = &report.quality;
        outln!("  E[R²] {:.4} (reference {:.4}), distance W2 {:.4}", q.mean_r2, q.reference_mean_r2, q.distance_w2);
        stability_line(&report.stability);
    }
    if a.compare_gaga {
        // same step size: T*/T of the steps
        let g_opts = plan.gaga_twin(&sch).options(&sch, v_hat, n);
        let t1 = Instant::now();
        let g = source.with_denoiser(loaded.as_ref(), |d| sample(d, &sch, &g_opts, a.samples)).map_err(|e| e.to_string())?;
        let g_secs = t1.elapsed().as_secs_f64();
        let gaga = source.report(
            &reference,
            &g.samples,
            RunFacts { label: format!("{label}, GAGA from T* = {}", a.t_star), options: &g_opts, nfe: g.nfe, seconds: g_secs, gaga: true, t_star: Some(a.t_star) },
        );
        if !a.json {
            outln!(
                "GAGA from T* = {}: {} network evaluations ({:.0} % of full), {g_secs:.2} s ({:.0} % of full); E[R²] {:.4}, distance W2 {:.4}",
                a.t_star,
                g.nfe,
                100.0 * g.nfe as f64 / r.nfe as f64,
                100.0 * g_secs / secs,
                gaga.quality.mean_r2,
                gaga.quality.distance_w2
            );
            stability_line(&gaga.stability);
        }
        json["compare"] = serde_json::json!({ "full": report, "gaga": gaga, "nfe_ratio": g.nfe as f64 / r.nfe as f64, "time_ratio": g_secs / secs });
    }
    if a.json {
        outln!("{json}");
    }
    Ok(())
}

pub(super) fn stability(input: &Path, details: Option<&Path>, json: bool) -> Result<(), String> {
    let text = std::fs::read_to_string(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let frames = molplay::io::read_xyz(&text).map_err(|e| format!("{}: {e}", input.display()))?;
    let mut s = molplay::metrics::Stability::default();
    for f in &frames {
        s.add(&f.elements, &f.positions);
    }
    let molecules: Vec<(Vec<String>, Vec<f64>)> = frames.into_iter().map(|f| (f.elements, f.positions)).collect();
    let validity = molplay::chemistry::validity(molecules.iter().map(|(e, x)| (e.as_slice(), x.as_slice())));
    if let Some(p) = details {
        molecules::write_details(p, &molecules)?;
    }
    if json {
        let mut v = serde_json::to_value(&s).map_err(|e| e.to_string())?;
        v["atom_stability"] = serde_json::json!(s.atom_fraction());
        v["molecule_stability"] = serde_json::json!(s.molecule_fraction());
        v["validity"] = serde_json::to_value(&validity).map_err(|e| e.to_string())?;
        outln!("{v}");
    } else {
        outln!(
            "{} molecules ({} skipped: elements outside H, C, N, O, F): atom stability {:.2} %, molecule stability {:.2} %, validity {:.2} %, uniqueness {:.2} %",
            s.molecules,
            s.skipped,
            100.0 * s.atom_fraction(),
            100.0 * s.molecule_fraction(),
            100.0 * validity.validity,
            100.0 * validity.uniqueness
        );
    }
    Ok(())
}
