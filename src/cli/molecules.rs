//! `molplay train-molecules` and `molplay generate-molecules`: whole-molecule generation
//! (types and positions jointly, full or GAGA), delegating to [`molplay::app::molecules`].

use molplay::app::molecules::{comparison_rows, evaluate, generate, DataReference, GenerationReport, MoleculeModel, TrainConfig};
use molplay::joint::{GagaVariance, GenerateOptions, JointData};
use molplay::molecules::Dataset;
use molplay::samplers::Method;
use molplay::schedules::Schedule;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args)]
pub struct TrainArgs {
    /// Multi-frame XYZ of molecules (all sizes from 2 atoms; elements H, C, N, O, F or others).
    #[arg(long)]
    data: PathBuf,
    /// Total gradient steps of the run (counted across resumes).
    #[arg(long)]
    steps: usize,
    #[arg(long, default_value_t = 64)]
    batch: usize,
    #[arg(long, default_value_t = 5e-4)]
    lr: f64,
    #[arg(long, default_value_t = 64)]
    hidden: usize,
    #[arg(long, default_value_t = 4)]
    layers: usize,
    /// GAGA: draw t only from [1, T*] (default: the whole schedule, T = 1000).
    #[arg(long)]
    t_max: Option<f64>,
    /// Decay of the weights' moving average that sampling uses (0: none).
    #[arg(long, default_value_t = 0.999)]
    ema: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Goes on from a checkpoint written by this command (exactly: optimiser, average,
    /// generator); only --lr and --steps may change.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Writes the output (an exact checkpoint) every this many steps.
    #[arg(long, default_value_t = 1000)]
    checkpoint_every: usize,
    /// Writes weights and statistics only (a preset for the page), no resume state.
    #[arg(long)]
    weights_only: bool,
    #[arg(long)]
    output: PathBuf,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct GenerateArgs {
    /// A whole-molecule network (written by `train-molecules`).
    #[arg(long)]
    model: PathBuf,
    #[arg(long, default_value_t = 1000)]
    samples: usize,
    /// Sampler steps of the full trajectory (GAGA takes T*/T of them).
    #[arg(long, default_value_t = 1000)]
    steps: usize,
    #[arg(long, default_value = "ddpm", value_parser = ["ddpm", "em", "heun"])]
    sampler: String,
    /// GAGA: start at this T* from the closed-form Gaussian.
    #[arg(long)]
    gaga: Option<f64>,
    /// GAGA's start variance: per modality (positions and types each their own v̂; measured
    /// better: the pooled one starts positions too narrow), or one pooled over every column.
    #[arg(long, default_value = "per-modality", value_parser = ["pooled", "per-modality"])]
    variance: String,
    /// Prints the comparison table full vs GAGA at this T* (pooled and per-modality start),
    /// each row on the same network, samples and seed.
    #[arg(long)]
    compare: Option<f64>,
    /// With --compare: a network trained on t ≤ T* only (GAGA's training) whose GAGA rows (from
    /// its T*, pooled and per-modality start) join the table, so full and GAGA are compared at
    /// the same network size and training steps.
    #[arg(long)]
    gaga_model: Option<PathBuf>,
    /// The training data, for the distance W2 and the element shares.
    #[arg(long)]
    data: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The generated molecules as multi-frame XYZ.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Per molecule: elements, positions, bonds, molplay's validity and canonical name (JSON;
    /// what `tests/bench/rdkit_check.py` compares with RDKit).
    #[arg(long)]
    details: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

fn schedule() -> Schedule {
    Schedule::polynomial2(1000, 1e-5)
}

fn read_data(path: &Path) -> Result<Dataset, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Dataset::from_xyz(&text, 2).map_err(|e| format!("{}: {e}", path.display()))
}

fn clock() -> impl Fn() -> f64 {
    let t0 = Instant::now();
    move || t0.elapsed().as_secs_f64()
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    // whole or nothing: a stopped run never leaves half a checkpoint
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, path)).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn train(a: TrainArgs) -> Result<(), String> {
    let sch = schedule();
    let dataset = read_data(&a.data)?;
    let mut model = match &a.resume {
        Some(p) => {
            let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
            if !MoleculeModel::resumable(&bytes) {
                eprintln!("note: {} holds no optimiser state (weights only): training goes on with a fresh optimiser", p.display());
            }
            let mut m = MoleculeModel::from_bytes(&bytes).map_err(|e| format!("{}: {e}", p.display()))?;
            m.train.lr = a.lr;
            m
        }
        None => {
            let data = JointData::new(&dataset, None).map_err(|e| e.to_string())?;
            let train = TrainConfig { hidden: a.hidden, layers: a.layers, batch: a.batch, lr: a.lr, t_max: a.t_max.unwrap_or(sch.steps() as f64), ema: a.ema, seed: a.seed };
            MoleculeModel::new(&data, train, &sch).map_err(|e| e.to_string())?
        }
    };
    let data = JointData::new(&dataset, Some(&model.net.config.elements)).map_err(|e| e.to_string())?;
    model.check_data(&data).map_err(|e| e.to_string())?;
    eprintln!(
        "{} molecules ({} sizes, up to {} atoms), elements {}; network hidden {} × {} layers, t ≤ {}, step {} of {}",
        data.molecules(),
        data.groups.len(),
        data.largest(),
        data.types.join(" "),
        model.train.hidden,
        model.train.layers,
        model.train.t_max,
        model.counters.steps,
        a.steps
    );
    let clock = clock();
    let (every, first) = (100, model.counters.steps);
    let mut last_write = model.counters.steps;
    while model.counters.steps < a.steps {
        let chunk = (a.steps - model.counters.steps).min(every - model.counters.steps % every);
        pollster::block_on(model.train(&data, &sch, chunk, every, f64::INFINITY, &clock)).map_err(|e| e.to_string())?;
        if let Some(p) = model.counters.history.last().filter(|p| p.step == model.counters.steps) {
            eprintln!("step {}: loss {:.4} ({:.0} s in all, {:.2} steps/s this session)", p.step, p.loss, model.counters.seconds, (p.step - first) as f64 / clock().max(1e-9));
        }
        if model.counters.steps - last_write >= a.checkpoint_every || model.counters.steps >= a.steps {
            write(&a.output, &model.to_bytes(!a.weights_only).map_err(|e| e.to_string())?)?;
            last_write = model.counters.steps;
        }
    }
    if model.counters.steps == last_write {
        write(&a.output, &model.to_bytes(!a.weights_only).map_err(|e| e.to_string())?)?;
    }
    let report = serde_json::json!({ "steps": model.counters.steps, "seconds": model.counters.seconds, "cpu_hours": model.counters.seconds / 3600.0, "molecules_seen": model.counters.molecules, "train": model.train, "last_loss": model.counters.history.last(), "output": a.output });
    if a.json {
        outln!("{report}");
    } else {
        outln!("{} steps in {:.0} s in all ({:.2} CPU-hours) → {}", model.counters.steps, model.counters.seconds, model.counters.seconds / 3600.0, a.output.display());
    }
    Ok(())
}

pub fn generate_cmd(a: GenerateArgs) -> Result<(), String> {
    let sch = schedule();
    let load = |p: &Path| -> Result<MoleculeModel, String> {
        let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
        MoleculeModel::from_bytes(&bytes).map_err(|e| format!("{}: {e}", p.display()))
    };
    let model = load(&a.model)?;
    let gaga_model = match (&a.gaga_model, a.compare) {
        (Some(p), Some(_)) => Some(load(p)?),
        (Some(_), None) => return Err("--gaga-model joins the table of --compare T*".into()),
        (None, _) => None,
    };
    // the data's side of every row's comparison, taken once
    let data = a.data.as_deref().map(read_data).transpose()?.as_ref().map(DataReference::of);
    let method = Method::by_name(&a.sampler)?;
    let variance = GagaVariance::by_name(&a.variance)?;
    let rows: Vec<(String, GenerateOptions)> = match (a.compare, a.gaga) {
        (Some(t), _) => comparison_rows(method, a.steps, t, &sch, a.seed),
        (None, t_star) => vec![(if t_star.is_some() { "GAGA" } else { "full" }.to_string(), GenerateOptions { method, steps: a.steps, t_star, variance, seed: a.seed })],
    };
    // (the network, the row) in table order: the GAGA network's rows after the full network's
    let mut jobs: Vec<(&MoleculeModel, String, GenerateOptions)> = rows.into_iter().map(|(l, o)| (&model, l, o)).collect();
    if let (Some(g), Some(t)) = (&gaga_model, a.compare) {
        if g.train.t_max != t {
            eprintln!("note: the GAGA network was trained on t ≤ {}, and is sampled here from T* = {t}", g.train.t_max);
        }
        for (label, opts) in comparison_rows(method, a.steps, t, &sch, a.seed).into_iter().skip(1) {
            jobs.push((g, format!("{label}, GAGA-trained"), opts));
        }
    }
    let mut reports: Vec<GenerationReport> = Vec::new();
    let mut first = None;
    for (m, label, opts) in &jobs {
        let (gen, secs) = generate(m, &sch, opts, a.samples, &clock()).map_err(|e| e.to_string())?;
        eprintln!("{label}: {secs:.0} s");
        reports.push(evaluate(label, &gen, opts, &sch, secs, data.as_ref()));
        first.get_or_insert(gen);
    }
    if let Some(gen) = &first {
        if let Some(p) = &a.output {
            let frames: Vec<molplay::io::XyzFrame> = gen
                .molecules
                .iter()
                .enumerate()
                .map(|(i, (e, x))| molplay::io::XyzFrame { elements: e.clone(), positions: x.clone(), charges: None, comment: format!("molplay generated {i}") })
                .collect();
            std::fs::write(p, molplay::io::write_xyz(&frames, 3)).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        if let Some(p) = &a.details {
            write_details(p, &gen.molecules)?;
        }
    }
    let about =
        |m: &MoleculeModel| serde_json::json!({ "steps": m.counters.steps, "cpu_hours": m.counters.seconds / 3600.0, "t_max": m.train.t_max, "hidden": m.train.hidden, "layers": m.train.layers });
    let trained = about(&model);
    if a.json {
        outln!("{}", serde_json::json!({ "model": trained, "gaga_model": gaga_model.as_ref().map(about), "rows": reports }));
        return Ok(());
    }
    outln!("{} molecules per row; network: {} steps ({:.2} CPU-hours), trained on t ≤ {}", a.samples, model.counters.steps, model.counters.seconds / 3600.0, model.train.t_max);
    if let Some(g) = &gaga_model {
        outln!("GAGA-trained network: {} steps ({:.2} CPU-hours), trained on t ≤ {}", g.counters.steps, g.counters.seconds / 3600.0, g.train.t_max);
    }
    outln!("{:<48} {:>7} {:>6} {:>8} {:>8} {:>7} {:>7} {:>7} {:>8} {:>8}", "", "start", "NFE", "atom st", "mol st", "valid", "unique", "V×U", "dist W2", "time s");
    for r in &reports {
        outln!(
            "{:<48} {:>7.0} {:>6.0} {:>7.1}% {:>7.1}% {:>6.1}% {:>6.1}% {:>6.1}% {:>8} {:>8.1}",
            r.label,
            r.t_start,
            r.nfe_per_molecule,
            100.0 * r.stability.atom,
            100.0 * r.stability.molecule,
            100.0 * r.validity.validity,
            100.0 * r.validity.uniqueness,
            100.0 * r.validity.valid_and_unique,
            r.distance_w2.map_or("-".into(), |w| format!("{w:.3}")),
            r.seconds
        );
    }
    Ok(())
}

/// Per molecule: elements, positions, molplay's bonds, validity and canonical name, as JSON.
pub fn write_details(path: &Path, molecules: &[(Vec<String>, Vec<f64>)]) -> Result<(), String> {
    let per: Vec<serde_json::Value> = molecules
        .iter()
        .map(|(e, x)| {
            let v = molplay::chemistry::judge(e, x);
            serde_json::json!({ "elements": e, "positions": x, "bonds": v.bonds, "valid": v.valid, "key": v.key })
        })
        .collect();
    std::fs::write(path, serde_json::to_vec(&per).map_err(|e| e.to_string())?).map_err(|e| format!("{}: {e}", path.display()))
}
