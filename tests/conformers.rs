//! The conformer experiment through the application layer (issue 18): a graph-conditioned
//! network trains under each objective, is sampled with its matching sampler, and is judged on
//! held-out molecules with COV / AMR.
#![cfg(not(target_arch = "wasm32"))]

use molplay::app::conformers::{network_config, pick_test, run, summarise, ConformerConfig, ConformerTraining, Judgement, Sampler};
use molplay::conformers::{from_dataset, split, Conformer};
use molplay::molecules::Dataset;
use molplay::objectives::Objective;
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
    let c = ConformerConfig { hidden: 16, layers: 2, batch: 8, lr: 2e-3, ema: 0.9, absolute: false, steps: 30, k: 3, test: 4, sample_steps: 10, threshold: 0.5 };
    let mut rows = Vec::new();
    let mut trained = Vec::new();
    for o in Objective::ALL {
        let (t, row) = pollster::block_on(run(o, 1, None, &train, &test, &sch, &c, &|| 0.0)).unwrap();
        assert_eq!(t.counters.steps, 30);
        assert_eq!(t.net.steps, 30);
        let want = match o {
            Objective::Quotient => Sampler::Quotient,
            Objective::Af3 => Sampler::BoltzRealign,
            _ => Sampler::Equivariant,
        };
        assert_eq!(row.sampler, want);
        let cov = &row.coverage;
        assert_eq!((cov.molecules, cov.k), (4, 3));
        assert!(cov.amr_r_mean.is_finite() && cov.amr_r_mean > 0.0 && cov.amr_r_mean <= cov.amr_p_mean + 1e-12, "{cov:?}");
        assert!((0.0..=100.0).contains(&cov.cov_r_mean) && (0.0..=100.0).contains(&cov.cov_p_mean));
        rows.push(row);
        trained.push(t);
    }
    // the page's judgement of all four at once, slice by slice, equals each one's own
    let picked = pick_test(&test, c.test);
    let mut j = Judgement::new(picked.clone(), c.k, c.sample_steps, 4, 1).unwrap();
    let nets: Vec<&ConformerTraining> = trained.iter().collect();
    let mut slices = 0;
    while !j.done() {
        let (done, all) = j.progress();
        assert_eq!(j.advance(&nets, &sch, 3).unwrap(), 3.min(all - done));
        slices += 1;
    }
    assert_eq!(j.progress(), (4 * 4 * 10, 4 * 4 * 10));
    assert_eq!(slices, (4 * 4 * 10usize).div_ceil(3));
    for (k, t) in trained.iter().enumerate() {
        assert_eq!(j.rmsds[k], t.judge(&picked, &sch, &c).unwrap());
        assert_eq!(j.conformers[k].len(), 4);
    }
    // the page's table: each row's coverage is the CLI row's, and each molecule's best conformer
    let named: Vec<(&str, &ConformerTraining)> = trained.iter().map(|t| ("net", t)).collect();
    let table = j.table(&named, c.threshold);
    for (row, cli) in table.rows.iter().zip(&rows) {
        assert_eq!((row.objective, row.coverage.clone()), (cli.objective.name(), cli.coverage.clone()));
    }
    assert_eq!(table.molecules, picked.iter().map(|m| m.index).collect::<Vec<_>>());
    let (rmsd, x, all) = j.closest(2, 1).unwrap();
    assert_eq!((rmsd, table.best[2][1], x.len()), (all.iter().copied().fold(f64::INFINITY, f64::min), rmsd, 3 * picked[1].atoms()));
    // the usable held-out molecules: all of these fit every network; thinned as pick_test
    assert_eq!(Judgement::usable(&test, &nets, 4).unwrap(), (picked.clone(), 0));
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
    let c = ConformerConfig { hidden: 16, layers: 2, batch: 4, lr: 2e-3, ema: 0.9, absolute: false, steps: 12, k: 2, test: 2, sample_steps: 8, threshold: 0.5 };
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
    let e = pollster::block_on(run(Objective::Conventional, 3, Some(other), &train, &test, &sch, &c, &|| 0.0)).err().unwrap().to_string();
    assert!(e.contains("checkpoint was trained with"), "{e}");
    // a molecule outside the network's atoms is refused, not sampled
    let mut big = test[0].clone();
    big.elements = vec!["C".into(); 40];
    big.positions = vec![0.0; 120];
    assert!(straight.generate(&big, &sch, 1, 4, 0).unwrap_err().to_string().contains("at most"));
    let e = ConformerTraining::from_bytes(&straight.net.to_bytes().unwrap()).err().unwrap().to_string();
    assert!(e.contains("positions-only"), "{e}");
    let mut cut = straight.to_bytes(true).unwrap();
    cut.truncate(cut.len() - 10);
    assert!(ConformerTraining::from_bytes(&cut).is_err());
}

/// The non-equivariant variant (the paper's Proteína case): its output turns with the input
/// only approximately (it sees absolute coordinates and has a per-atom head), the equivariant
/// network's exactly; it trains under every objective with rotation augmentation, and a
/// checkpoint of one kind does not resume as the other.
#[test]
fn the_non_equivariant_network_can_output_rotations_and_trains_under_each_objective() {
    let (train, test) = small_split();
    let sch = Schedule::polynomial2(1000, 1e-5);
    let m = &test[0];
    let n = m.atoms();
    let mut rng = molplay::rng::XorShift64::new(5);
    let r = molplay::geometry::random_rotation(&mut rng);
    let turned = molplay::geometry::rotate(&r, &m.positions);
    let c = ConformerConfig { hidden: 16, layers: 2, batch: 4, lr: 2e-3, ema: 0.0, absolute: true, steps: 6, k: 2, test: 2, sample_steps: 6, threshold: 0.5 };
    let gap = |absolute: bool| {
        let cfg = network_config(&train, 16, 2, absolute, &sch);
        let net = molplay::models::Network::new(cfg.clone(), 2);
        let feats = cfg.element_features_sized(&[m.elements.as_slice()]).unwrap();
        let eps = |x: &[f64]| net.predict_graph(x, &feats, &m.edge_attributes(), n, &[300.0], &sch);
        let (a, b) = (molplay::geometry::rotate(&r, &eps(&m.positions)), eps(&turned));
        a.iter().zip(&b).map(|(u, v)| (u - v).abs()).fold(0.0, f64::max)
    };
    assert!(gap(false) < 1e-4, "the EGNN is equivariant: {}", gap(false));
    assert!(gap(true) > 1e-3, "the variant is not: {}", gap(true));
    for o in Objective::ALL {
        let (t, row) = pollster::block_on(run(o, 2, None, &train, &test, &sch, &c, &|| 0.0)).unwrap();
        assert!(t.net.config.absolute && t.counters.steps == 6);
        assert!(row.coverage.amr_r_mean.is_finite());
        let back = ConformerTraining::from_bytes(&t.to_bytes(true).unwrap()).unwrap();
        let e = pollster::block_on(run(o, 2, Some(back), &train, &test, &sch, &ConformerConfig { absolute: false, ..c.clone() }, &|| 0.0)).err().unwrap().to_string();
        assert!(e.contains("absolute: true"), "{e}");
    }
}

/// Corrupted conformer files (bit flips and junk in the header and payload, cuts) give an
/// error or a usable network, never a panic, and a network that loads can sample.
#[test]
fn corrupted_conformer_files_are_refused_never_a_panic() {
    let (train, test) = small_split();
    let sch = Schedule::polynomial2(1000, 1e-5);
    let c = ConformerConfig { hidden: 8, layers: 1, batch: 4, lr: 2e-3, ema: 0.9, absolute: false, steps: 3, k: 1, test: 1, sample_steps: 2, threshold: 0.5 };
    let (t, _) = pollster::block_on(run(Objective::Geodiff, 1, None, &train, &test, &sch, &c, &|| 0.0)).unwrap();
    let mut rng = molplay::rng::XorShift64::new(0xC0F);
    let (mut ok, mut err) = (0, 0);
    for seed in [t.to_bytes(true).unwrap(), t.to_bytes(false).unwrap()] {
        // the JSON header ends where the payload's first magic starts
        let header_end = seed.windows(8).skip(8).position(|w| w == b"MOLPLAYW").map_or(seed.len(), |p| p + 8);
        for _ in 0..1500 {
            let mut v = seed.clone();
            for _ in 0..1 + rng.below(3) {
                match rng.below(4) {
                    _ if v.is_empty() => {}
                    0 => {
                        let i = rng.below(header_end.min(v.len()));
                        v[i] = b"0123456789-.e,:{}[]\"x"[rng.below(21)];
                    }
                    1 => {
                        let i = rng.below(v.len());
                        v[i] ^= 1 << rng.below(8);
                    }
                    2 => v.truncate(rng.below(v.len() + 1)),
                    _ => {
                        let i = rng.below(header_end.min(v.len()) + 1);
                        v.splice(i..i, b"99999999999".iter().copied());
                    }
                }
            }
            match std::panic::catch_unwind(|| ConformerTraining::from_bytes(&v).map(|m| m.generate(&test[0], &sch, 1, 2, 0))) {
                Ok(Ok(_)) => ok += 1,
                Ok(Err(_)) => err += 1,
                Err(_) => panic!("a corrupted file panicked: {:?}", String::from_utf8_lossy(&v[..header_end.min(v.len())])),
            }
        }
    }
    assert!(ok > 0 && err > 0, "the mutations exercised both outcomes ({ok} ok, {err} errors)");
}

/// The set both faces judge on: the CLI's split of the data, and a file with no usable
/// molecule named as such.
#[test]
fn a_conformer_set_is_split_as_the_cli_splits_it() {
    use molplay::app::conformers::ConformerSet;
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/www/data/qm9_subset.xyz")).unwrap();
    let set = ConformerSet::from_xyz(&text, 10).unwrap();
    let (all, left) = from_dataset(&Dataset::from_xyz(&text, 3).unwrap());
    assert_eq!((set.train.len() + set.test.len(), set.left_out), (all.len(), left.len()));
    assert_eq!((set.train.clone(), set.test.clone()), split(all, 10));
    assert!(set.largest() >= 20);
    let e = ConformerSet::from_xyz("3\na\nXe 0 0 0\nXe 3 0 0\nXe 0 3 0\n", 10).err().unwrap().to_string();
    assert!(e.starts_with("no molecule usable as a conformer target"), "{e}");
}
