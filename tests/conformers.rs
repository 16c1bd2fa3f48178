//! The conformer experiment through the application layer (issue 18): a graph-conditioned
//! network trains under each objective, is sampled with its matching sampler, and is judged on
//! held-out molecules with COV / AMR.
#![cfg(not(target_arch = "wasm32"))]

use molplay::app::conformers::{run, summarise, ConformerConfig};
use molplay::conformers::{from_dataset, split};
use molplay::molecules::Dataset;
use molplay::objectives::Objective;
use molplay::samplers::Symmetry;
use molplay::schedules::Schedule;

#[test]
fn each_objective_trains_and_is_judged_on_held_out_molecules() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/www/data/qm9_subset.xyz")).unwrap();
    let (small, _) = Dataset::from_xyz(&text, 3).unwrap().at_most_atoms(11, "test");
    let (all, _) = from_dataset(&small);
    let (train, test) = split(all, 5);
    assert!(train.len() > 10 && !test.is_empty());
    // no molecule is in both
    assert!(test.iter().all(|m| train.iter().all(|t| t.index != m.index)));
    let sch = Schedule::polynomial2(1000, 1e-5);
    let c = ConformerConfig { hidden: 16, layers: 2, batch: 8, lr: 2e-3, steps: 30, k: 3, test: 4, sample_steps: 10, threshold: 0.5 };
    let mut rows = Vec::new();
    for o in Objective::ALL {
        let (t, row) = pollster::block_on(run(o, 1, &train, &test, &sch, &c, &|| 0.0)).unwrap();
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
