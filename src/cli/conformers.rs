//! `molplay conformers`: the quotient-space paper's conformer experiment on the bundled QM9
//! subset, delegating to [`molplay::app::conformers`]: trains the four objectives (same network,
//! data, budget and seeds), samples each with its matching sampler and prints COV / AMR on
//! held-out molecules.

use molplay::app::conformers::{begin, by_size, judge_row, summarise, ConformerConfig, ConformerRow, ConformerTraining, Judgement};
use molplay::objectives::Objective;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub struct ConformerArgs {
    /// Multi-frame XYZ (molecules with a connected bond graph over H, C, N, O, F are used).
    #[arg(long)]
    data: PathBuf,
    #[arg(long, value_delimiter = ',', default_value = "conventional,geodiff,af3,quotient")]
    objectives: Vec<String>,
    #[arg(long, value_delimiter = ',', default_value = "0,1,2")]
    seeds: Vec<u64>,
    /// Gradient steps per (objective, seed).
    #[arg(long, default_value_t = 2000)]
    steps: usize,
    #[arg(long, default_value_t = 64)]
    hidden: usize,
    #[arg(long, default_value_t = 4)]
    layers: usize,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Decay of the weights' moving average that samples (0: sample the trained weights).
    #[arg(long, default_value_t = 0.999)]
    ema: f64,
    /// A network that is not equivariant (absolute coordinates in, a per-atom position head
    /// out: it can output rotations), trained with random-rotation augmentation.
    #[arg(long)]
    non_equivariant: bool,
    /// Keeps each (objective, seed)'s checkpoint here as OBJECTIVE-sSEED.mpc, and its
    /// sampling weights as OBJECTIVE-sSEED.weights.mpc; a checkpoint found there is
    /// continued, so `--steps` is the total (equal to the checkpoint's: judge only).
    #[arg(long)]
    checkpoints: Option<PathBuf>,
    /// Writes each judged molecule (elements, bonds, reference) with every objective's
    /// generated conformers (first seed; superposed on the reference) and their RMSDs, as JSON:
    /// `tests/bench/conformer_rmsd_check.py` recomputes the RMSDs with RDKit's GetBestRMS.
    #[arg(long)]
    details: Option<PathBuf>,
    /// With --checkpoints: save every this many steps too.
    #[arg(long, default_value_t = 1000)]
    checkpoint_every: usize,
    /// Conformers generated per held-out molecule.
    #[arg(long, default_value_t = 2)]
    k: usize,
    /// Held-out molecules judged (evenly spaced through the split; 0: all).
    #[arg(long, default_value_t = 100)]
    test: usize,
    /// DDPM steps from T per conformer.
    #[arg(long, default_value_t = 100)]
    sample_steps: usize,
    /// Every this many molecules (by position in the file) one is held out.
    #[arg(long, default_value_t = 10)]
    every: usize,
    /// COV's RMSD threshold (Å; the paper's 0.5 for QM9).
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
    #[arg(long)]
    json: bool,
}

pub fn conformers(a: ConformerArgs) -> Result<(), String> {
    let objectives: Vec<Objective> = a.objectives.iter().map(|o| Objective::by_name(o)).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
    if a.seeds.is_empty() || a.steps == 0 || !(2..=1000).contains(&a.every) || a.checkpoint_every == 0 {
        return Err("need seeds, --steps ≥ 1, --checkpoint-every ≥ 1 and 2 ≤ --every ≤ 1000".into());
    }
    let c = ConformerConfig {
        hidden: a.hidden,
        layers: a.layers,
        batch: a.batch,
        lr: a.lr,
        ema: a.ema,
        absolute: a.non_equivariant,
        steps: a.steps,
        k: a.k,
        test: a.test,
        sample_steps: a.sample_steps,
        threshold: a.threshold,
    };
    c.check().map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(&a.data).map_err(|e| format!("{}: {e}", a.data.display()))?;
    let set = molplay::app::conformers::ConformerSet::from_xyz(&text, a.every).map_err(|e| format!("{}: {e}", a.data.display()))?;
    let (train, test) = (set.train, set.test);
    eprintln!("{} training and {} held-out molecules ({} left out: other elements or a disconnected graph)", train.len(), test.len(), set.left_out);
    if let Some(dir) = &a.checkpoints {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let sch = molplay::schedules::Schedule::polynomial2(1000, 1e-5);
    let sizes = by_size(&train);
    let mut rows: Vec<ConformerRow> = Vec::new();
    let mut details = Vec::new();
    for &seed in &a.seeds {
        for &o in &objectives {
            let t0 = Instant::now();
            let path = a.checkpoints.as_ref().map(|d| d.join(format!("{}-s{seed}.mpc", o.name())));
            let start = match &path {
                Some(p) if p.exists() => {
                    let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
                    Some(ConformerTraining::from_bytes(&bytes).map_err(|e| format!("{}: {e}", p.display()))?)
                }
                _ => None,
            };
            let mut t = begin(o, seed, start, &train, &sch, &c).map_err(|e| e.to_string())?;
            if t.counters.steps > c.steps {
                return Err(format!("{}: the checkpoint has {} steps, more than --steps {}", path.map(|p| p.display().to_string()).unwrap_or_default(), t.counters.steps, c.steps));
            }
            let clock = || t0.elapsed().as_secs_f64();
            while t.counters.steps < c.steps {
                let chunk = (c.steps - t.counters.steps).min(if path.is_some() { a.checkpoint_every } else { usize::MAX });
                pollster::block_on(t.train(&train, &sizes, &sch, chunk, f64::INFINITY, &clock)).map_err(|e| e.to_string())?;
                if let Some(p) = &path {
                    save(&t, p)?;
                    eprintln!("{} seed {seed}: step {}, loss {:.4} ({:.0} s training in all)", o.name(), t.counters.steps, t.counters.history.last().map_or(f64::NAN, |p| p.loss), t.counters.seconds);
                }
            }
            let (row, judged) = judge_row(&t, &test, &sch, &c).map_err(|e| e.to_string())?;
            if seed == a.seeds[0] {
                details.push((o, judged));
            }
            eprintln!(
                "{} seed {seed}: {} steps, AMR-R {:.3} Å, COV-R {:.1} % ({:.0} s training in all, {:.0} s this run)",
                o.name(),
                row.steps,
                row.coverage.amr_r_mean,
                row.coverage.cov_r_mean,
                row.seconds,
                t0.elapsed().as_secs_f64()
            );
            rows.push(row);
        }
    }
    if let Some(p) = &a.details {
        write_details(p, &details)?;
    }
    let summary = summarise(&rows);
    if a.json {
        outln!("{}", serde_json::json!({ "config": c, "train_molecules": train.len(), "test_molecules": test.len(), "rows": rows, "summary": summary }));
        return Ok(());
    }
    outln!(
        "{} objectives × {} seeds, {} steps each (EMA {}{}); {} of {} held-out molecules × {} conformers (DDPM, {} steps; quotient with the quotient sampler, AF3 with Boltz's re-alignment); COV at {} Å",
        objectives.len(),
        a.seeds.len(),
        a.steps,
        a.ema,
        if a.non_equivariant { ", a network that is not equivariant, rotation-augmented" } else { "" },
        c.test.min(test.len()),
        test.len(),
        a.k,
        a.sample_steps,
        a.threshold
    );
    outln!("{:<14} {:>6} {:>22} {:>20} {:>10} {:>10}", "objective", "seeds", "AMR-R mean (± spread)", "COV-R mean (± spr.)", "AMR-P", "COV-P");
    for s in &summary {
        outln!(
            "{:<14} {:>6} {:>14.3} ± {:<5.3} {:>12.1} ± {:<5.1} {:>10.3} {:>9.1}%",
            s.objective.name(),
            s.seeds,
            s.amr_r_mean,
            s.amr_r_spread,
            s.cov_r_mean,
            s.cov_r_spread,
            s.amr_p_mean,
            s.cov_p_mean
        );
    }
    Ok(())
}

fn write_details(path: &std::path::Path, judged: &[(Objective, Judgement)]) -> Result<(), String> {
    let Some((_, first)) = judged.first() else { return Ok(()) };
    let molecules: Vec<serde_json::Value> = first
        .test
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let by: serde_json::Map<String, serde_json::Value> =
                judged.iter().map(|(o, j)| (o.name().to_string(), serde_json::json!({ "conformers": j.conformers[0][i].chunks(3 * m.atoms()).collect::<Vec<_>>(), "rmsd": j.rmsds[0][i] }))).collect();
            serde_json::json!({ "index": m.index, "elements": m.elements, "bonds": m.bonds, "reference": m.positions, "objectives": by })
        })
        .collect();
    let text = serde_json::json!({ "k": first.k, "sample_steps": first.sample_steps, "molecules": molecules }).to_string();
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes the checkpoint and, beside it, the sampling weights (each through a temporary file,
/// so a run stopped while writing keeps the previous one).
fn save(t: &ConformerTraining, path: &std::path::Path) -> Result<(), String> {
    let weights = path.with_extension("weights.mpc");
    for (p, checkpoint) in [(path.to_path_buf(), true), (weights, false)] {
        let bytes = t.to_bytes(checkpoint).map_err(|e| e.to_string())?;
        let tmp = p.with_extension("tmp");
        std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, &p)).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(())
}
