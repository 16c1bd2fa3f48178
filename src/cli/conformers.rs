//! `molplay conformers`: the quotient-space paper's conformer experiment on the bundled QM9
//! subset, delegating to [`molplay::app::conformers`]: trains the four objectives (same network,
//! data, budget and seeds), samples each with its matching sampler and prints COV / AMR on
//! held-out molecules.

use molplay::app::conformers::{run, summarise, ConformerConfig, ConformerRow};
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
    let objectives: Vec<Objective> = a.objectives.iter().map(|o| Objective::by_name(o)).collect::<Result<_, _>>()?;
    if a.seeds.is_empty() || a.steps == 0 || a.k == 0 || a.sample_steps == 0 || !(2..=1000).contains(&a.every) || !(a.threshold > 0.0 && a.threshold.is_finite()) {
        return Err("need seeds, --steps, --k, --sample-steps ≥ 1, 2 ≤ --every ≤ 1000 and a positive --threshold".into());
    }
    if !((1..=512).contains(&a.hidden) && (1..=12).contains(&a.layers) && (1..=1024).contains(&a.batch) && a.lr > 0.0 && a.lr < 1.0 && a.k <= 1000 && a.sample_steps <= 5000) {
        return Err("need 1 ≤ --hidden ≤ 512, 1 ≤ --layers ≤ 12, 1 ≤ --batch ≤ 1024, 0 < --lr < 1, --k ≤ 1000, --sample-steps ≤ 5000".into());
    }
    let text = std::fs::read_to_string(&a.data).map_err(|e| format!("{}: {e}", a.data.display()))?;
    let data = molplay::molecules::Dataset::from_xyz(&text, 3).map_err(|e| format!("{}: {e}", a.data.display()))?;
    let (all, left) = molplay::conformers::from_dataset(&data);
    let (train, test) = molplay::conformers::split(all, a.every);
    eprintln!("{} training and {} held-out molecules ({} left out: other elements or a disconnected graph)", train.len(), test.len(), left.len());
    let sch = molplay::schedules::Schedule::polynomial2(1000, 1e-5);
    let c = ConformerConfig { hidden: a.hidden, layers: a.layers, batch: a.batch, lr: a.lr, steps: a.steps, k: a.k, test: a.test, sample_steps: a.sample_steps, threshold: a.threshold };
    let mut rows: Vec<ConformerRow> = Vec::new();
    for &seed in &a.seeds {
        for &o in &objectives {
            let t0 = Instant::now();
            let (_, row) = pollster::block_on(run(o, seed, &train, &test, &sch, &c, &|| t0.elapsed().as_secs_f64()))?;
            eprintln!(
                "{} seed {seed}: AMR-R {:.3} Å, COV-R {:.1} % ({:.0} s training, {:.0} s in all)",
                o.name(),
                row.coverage.amr_r_mean,
                row.coverage.cov_r_mean,
                row.seconds,
                t0.elapsed().as_secs_f64()
            );
            rows.push(row);
        }
    }
    let summary = summarise(&rows);
    if a.json {
        outln!("{}", serde_json::json!({ "config": c, "train_molecules": train.len(), "test_molecules": test.len(), "rows": rows, "summary": summary }));
        return Ok(());
    }
    outln!(
        "{} objectives × {} seeds, {} steps each; {} of {} held-out molecules × {} conformers (DDPM, {} steps; quotient with the quotient sampler); COV at {} Å",
        objectives.len(),
        a.seeds.len(),
        a.steps,
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
