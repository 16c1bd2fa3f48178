//! The conformer experiment through the application layer (issue 18): a graph-conditioned
//! network trains under each objective, is sampled with its matching sampler, and is judged on
//! held-out molecules with COV / AMR.
#![cfg(not(target_arch = "wasm32"))]

use molplay::app::conformers::{run, summarise, ConformerConfig, ConformerTraining};
use molplay::conformers::{from_dataset, split, Conformer};
use molplay::molecules::Dataset;
use molplay::objectives::Objective;
use molplay::samplers::Symmetry;
use molplay::schedules::Schedule;

fn small_split() -> (Vec<Conformer>, Vec<Conformer>) {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/www/data/qm9_subset.xyz")).unwrap();
    let (small, _) = Dataset::from_xyz(&text, 3).unwrap().at_most_atoms(11, "test");
    let (all, _) = from_dataset(&small);
    split(all, 5)
}

#[test]
fn each_objective_trains_and_is_judged_on_held_out_molecules() {
    let (train, test) = small_split();
    assert!(train.len() > 10 && !test.is_empty());
    // no molecule is in both
    assert!(test.iter().all(|m| train.iter().all(|t| t.index != m.index)));
    let sch = Schedule::polynomial2(1000, 1e-5);
    let c = ConformerConfig { hidden: 16, layers: 2, batch: 8, lr: 2e-3, ema: 0.9, steps: 30, k: 3, test: 4, sample_steps: 10, threshold: 0.5 };
    let mut rows = Vec::new();
    for o in Objective::ALL {
        let (t, row) = pollster::block_on(run(o, 1, None, &train, &test, &sch, &c, &|| 0.0)).unwrap();
        assert_eq!(t.counters.steps, 30);
        assert_eq!(t.net.steps, 30);
        assert_eq!(row.sampler, if o == Objective::Quotient { Symmetry::Quotient } else { Symmetry::Equivariant });
        let cov = &row.coverage;
        assert_eq!((cov.molecules, cov.k), (4, 3));
        assert!(cov.amr_r_mean.is_finite() && cov.amr_r_mean > 0.0 && cov.amr_r_mean <= cov.amr_p_mean + 1e-12, "{cov:?}");
        assert!((0.0..=100.0).contains(&cov.cov_r_mean) && (0.0..=100.0).contains(&cov.cov_p_mean));
        rows.push(row);
    }
    let s = summarise(&rows);
    assert_eq!(s.len(), 4);
    assert!(s.iter().all(|x| x.seeds == 1 && x.amr_r_spread == 0.0));
}

/// A checkpoint continues the same run exactly (weights, average, Adam, generator), the
/// weights-only file samples as the average does, a checkpoint under other settings is
/// refused, and other molplay files are named for what they are.
#[test]
fn a_checkpoint_resumes_the_run_exactly() {
    let (train, test) = small_split();
    let sch = Schedule::polynomial2(1000, 1e-5);
    let c = ConformerConfig { hidden: 16, layers: 2, batch: 4, lr: 2e-3, ema: 0.9, steps: 12, k: 2, test: 2, sample_steps: 8, threshold: 0.5 };
    let (straight, row) = pollster::block_on(run(Objective::Quotient, 3, None, &train, &test, &sch, &c, &|| 0.0)).unwrap();
    let half = ConformerConfig { steps: 5, ..c.clone() };
    let (first, _) = pollster::block_on(run(Objective::Quotient, 3, None, &train, &test, &sch, &half, &|| 0.0)).unwrap();
    let back = ConformerTraining::from_bytes(&first.to_bytes(true).unwrap()).unwrap();
    assert_eq!(back.counters, first.counters);
    let (resumed, again) = pollster::block_on(run(Objective::Quotient, 3, Some(back), &train, &test, &sch, &c, &|| 0.0)).unwrap();
    assert_eq!(resumed.counters.history, straight.counters.history);
    let m = &test[0];
    let a = straight.generate(m, &sch, 2, 8, 9).unwrap();
    assert_eq!(resumed.generate(m, &sch, 2, 8, 9).unwrap(), a);
    assert_eq!(again.coverage.amr_r_mean, row.coverage.amr_r_mean);
    // the shipped file: the average only, sampling the same conformers
    let shipped = ConformerTraining::from_bytes(&straight.to_bytes(false).unwrap()).unwrap();
    assert_eq!(shipped.generate(m, &sch, 2, 8, 9).unwrap(), a);
    assert!(straight.to_bytes(false).unwrap().len() * 2 < straight.to_bytes(true).unwrap().len());
    // other settings, other objective
    let other = ConformerTraining::from_bytes(&first.to_bytes(true).unwrap()).unwrap();
    let e = pollster::block_on(run(Objective::Conventional, 3, Some(other), &train, &test, &sch, &c, &|| 0.0)).err().unwrap();
    assert!(e.contains("checkpoint was trained with"), "{e}");
    // a molecule outside the network's atoms is refused, not sampled
    let mut big = test[0].clone();
    big.elements = vec!["C".into(); 40];
    big.positions = vec![0.0; 120];
    assert!(straight.generate(&big, &sch, 1, 4, 0).unwrap_err().contains("at most"));
    let e = ConformerTraining::from_bytes(&straight.net.to_bytes().unwrap()).err().unwrap().to_string();
    assert!(e.contains("positions-only"), "{e}");
    let mut cut = straight.to_bytes(true).unwrap();
    cut.truncate(cut.len() - 10);
    assert!(ConformerTraining::from_bytes(&cut).is_err());
}
