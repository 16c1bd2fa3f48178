//! Whole-molecule generation through the application layer (issue 17): training lowers the
//! loss, a checkpoint resumes bit for bit, weights of the wrong kind are refused by what they
//! are, and generation (full and GAGA) yields decoded molecules with the report's figures.
#![cfg(not(target_arch = "wasm32"))]

use molplay::app::molecules::{comparison_rows, evaluate, generate, MoleculeModel, TrainConfig};
use molplay::joint::{GagaVariance, GenerateOptions, JointData};
use molplay::models::{EgnnConfig, ModelError, Network};
use molplay::molecules::Dataset;
use molplay::samplers::Method;
use molplay::schedules::Schedule;

fn data() -> Dataset {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/www/data/qm9_subset.xyz")).unwrap();
    // a small, fast set: 60 molecules of up to 9 atoms
    let d = Dataset::from_xyz(&text, 2).unwrap();
    let (small, _) = d.at_most_atoms(9, "test");
    small.evenly_spaced(60)
}

fn config(t_max: f64) -> TrainConfig {
    TrainConfig { hidden: 16, layers: 2, batch: 8, lr: 2e-3, t_max, ema: 0.9, seed: 3 }
}

fn no_clock() -> f64 {
    0.0
}

#[test]
fn training_lowers_the_loss_and_a_checkpoint_resumes_exactly() {
    let sch = Schedule::polynomial2(1000, 1e-5);
    let d = JointData::new(&data(), None).unwrap();
    assert!(d.groups.len() >= 3, "several sizes: {:?}", d.histogram());
    let mut m = MoleculeModel::new(&d, config(650.0), &sch).unwrap();
    pollster::block_on(m.train(&d, &sch, 120, 40, f64::INFINITY, &no_clock)).unwrap();
    let h = &m.counters.history;
    assert_eq!(h.len(), 3);
    assert!(h[2].loss < h[0].loss, "the loss did not fall: {h:?}");
    // an exact checkpoint: 20 more steps from the file equal 20 more steps in memory
    let bytes = m.to_bytes(true).unwrap();
    let mut resumed = MoleculeModel::from_bytes(&bytes).unwrap();
    assert!(m.net.to_bytes().unwrap() == resumed.net.to_bytes().unwrap(), "the loaded network is not the saved one");
    pollster::block_on(m.train(&d, &sch, 20, 40, f64::INFINITY, &no_clock)).unwrap();
    pollster::block_on(resumed.train(&d, &sch, 20, 40, f64::INFINITY, &no_clock)).unwrap();
    // (the average's parameter ids are fresh on load; its values and the rest must agree)
    assert!(m.net.to_bytes().unwrap() == resumed.net.to_bytes().unwrap(), "the resumed network drifted");
    assert_eq!(m.counters, resumed.counters);
    let z: Vec<f64> = (0..2 * 6 * 3).map(|i| (i as f64 * 0.37).sin()).collect();
    let h: Vec<f64> = (0..2 * 6 * 5).map(|i| (i as f64 * 0.11).cos() / 4.0).collect();
    let p = |m: &MoleculeModel| m.sampling_net().predict_joint(&z, &h, 6, &[300.0, 600.0], &sch);
    assert_eq!(p(&m), p(&resumed), "the resumed average drifted");
    // weights only: no resume state, still samples
    let w = m.to_bytes(false).unwrap();
    assert!(!MoleculeModel::resumable(&w) && MoleculeModel::resumable(&bytes));
    assert!(w.len() < bytes.len());
    let preset = MoleculeModel::from_bytes(&w).unwrap();
    assert_eq!(p(&preset), p(&m), "a preset samples with the average's weights");
    // and a frame of a kept trajectory decodes, with each atom's type decided somewhere
    let opts = GenerateOptions { method: Method::Ddpm, steps: 12, t_star: Some(650.0), variance: GagaVariance::Pooled, seed: 1 };
    let mut g = molplay::joint::Generation::new(m.sampling_net(), &m.stats, &sch, &opts, 10, 4).unwrap();
    g.advance(m.sampling_net(), &sch, 100).unwrap();
    assert!(g.done() && g.frames() == 13);
    let sizes = g.kept_sizes();
    assert_eq!(sizes.len(), 4);
    assert_eq!(g.frame(12).iter().map(|m| m.0.len()).collect::<Vec<_>>(), sizes);
    let decided = g.decided_frames();
    assert_eq!(decided.len(), sizes.iter().sum::<usize>());
    assert!(decided.iter().all(|&k| k <= 12) && decided.iter().any(|&k| k > 0), "{decided:?}");
}

#[test]
fn weights_of_another_kind_are_refused_by_what_they_are() {
    let positions = Network::new(EgnnConfig::with_elements(5, 8, 1, 1.0, &[vec!["C".into(), "H".into()]]), 1).to_bytes().unwrap();
    let e = MoleculeModel::from_bytes(&positions).err().unwrap().to_string();
    assert!(e.contains("positions-only network conditioned on given elements") && e.contains("not a whole-molecule network"), "{e}");
    assert!(matches!(MoleculeModel::from_bytes(b"junk"), Err(ModelError::NotWeights)));
    // and a whole-molecule network cannot be loaded as positions-only weights
    let sch = Schedule::polynomial2(1000, 1e-5);
    let d = JointData::new(&data(), None).unwrap();
    let joint = MoleculeModel::new(&d, config(1000.0), &sch).unwrap().to_bytes(false).unwrap();
    assert!(Network::from_bytes(&joint, None).err().unwrap().to_string().contains("whole-molecule network"));
    // a truncated file is an error, not a panic
    for cut in [17, joint.len() / 2, joint.len() - 1] {
        assert!(MoleculeModel::from_bytes(&joint[..cut]).is_err());
    }
    // training data with an element the network does not know is refused by name
    let other = Dataset::from_xyz("4\nm\nS 0 0 0\nH 1.3 0 0\nH 0 1.3 0\nC 0 0 1.5\n", 2).unwrap();
    let m = MoleculeModel::from_bytes(&joint).unwrap();
    assert!(JointData::new(&other, Some(&m.net.config.elements)).unwrap_err().to_string().contains("element S"));
}

#[test]
fn generation_decodes_molecules_full_and_gaga_with_their_costs() {
    let sch = Schedule::polynomial2(1000, 1e-5);
    let set = data();
    let d = JointData::new(&set, None).unwrap();
    let mut m = MoleculeModel::new(&d, config(1000.0), &sch).unwrap();
    pollster::block_on(m.train(&d, &sch, 40, 40, f64::INFINITY, &no_clock)).unwrap();
    let rows = comparison_rows(Method::Ddpm, 20, 650.0, &sch, 4);
    assert_eq!(rows.iter().map(|r| r.1.steps).collect::<Vec<_>>(), vec![20, 13, 13]);
    let reference = molplay::app::molecules::DataReference::of(&set);
    let mut nfe = Vec::new();
    for (label, opts) in &rows {
        let (g, secs) = generate(&m, &sch, opts, 30, &no_clock).unwrap();
        assert_eq!(g.molecules.len(), 30);
        let sizes: Vec<usize> = g.molecules.iter().map(|(e, _)| e.len()).collect();
        assert!(sizes.iter().all(|n| d.groups.contains_key(n)), "sizes come from the histogram: {sizes:?}");
        assert!(g.molecules.iter().all(|(e, x)| x.len() == 3 * e.len() && x.iter().all(|v| v.is_finite()) && e.iter().all(|s| d.types.contains(s))));
        let r = evaluate(label, &g, opts, &sch, secs, Some(&reference));
        assert_eq!((r.samples, r.stability.molecules, r.validity.molecules), (30, 30, 30));
        assert!(r.distance_w2.is_some_and(|w| w.is_finite()));
        nfe.push(r.nfe_per_molecule);
    }
    assert_eq!(nfe, vec![20.0, 13.0, 13.0]);
    // the same seed gives the same molecules
    let opts = GenerateOptions { method: Method::Ddpm, steps: 10, t_star: Some(650.0), variance: GagaVariance::PerModality, seed: 9 };
    assert_eq!(generate(&m, &sch, &opts, 5, &no_clock).unwrap().0.molecules, generate(&m, &sch, &opts, 5, &no_clock).unwrap().0.molecules);
    assert!(generate(&m, &sch, &GenerateOptions { t_star: Some(2000.0), ..opts.clone() }, 5, &no_clock).is_err());
    assert!(generate(&m, &sch, &opts, 0, &no_clock).is_err());
}

/// Damaged whole-molecule files (bytes flipped anywhere, header numbers changed) are refused
/// or read, never a panic.
#[test]
fn damaged_whole_molecule_files_never_panic() {
    let sch = Schedule::polynomial2(1000, 1e-5);
    let d = JointData::new(&data(), None).unwrap();
    let mut m = MoleculeModel::new(&d, config(650.0), &sch).unwrap();
    pollster::block_on(m.train(&d, &sch, 3, 10, f64::INFINITY, &no_clock)).unwrap();
    let good = m.to_bytes(true).unwrap();
    let mut rng = molplay::rng::XorShift64::new(5);
    for _ in 0..300 {
        let mut bad = good.clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(bad.len());
            bad[i] ^= 1 << rng.below(8);
        }
        let _ = MoleculeModel::from_bytes(&bad);
    }
    // a header whose numbers lie: lengths, histogram, variances
    let text = String::from_utf8_lossy(&good).into_owned();
    for (from, to) in [("\"weights_len\":", "\"weights_len\":9"), ("\"histogram\":[[", "\"histogram\":[[0,"), ("\"type_variance\":", "\"type_variance\":-")] {
        let start = text.find(from).unwrap();
        let forged = [&good[..start], to.as_bytes(), &good[start + from.len()..]].concat();
        // the header length in the container is now off by the inserted bytes: fix it up
        let mut forged = forged;
        let len = u32::from_le_bytes(forged[12..16].try_into().unwrap()) + (to.len() - from.len()) as u32;
        forged[12..16].copy_from_slice(&len.to_le_bytes());
        assert!(MoleculeModel::from_bytes(&forged).is_err(), "{to} was accepted");
    }
}

/// The page's run (`app::molecules::Run`): knobs checked, advanced in slices to the molecules
/// one call makes, its report when done, and atoms shown grey until their type is decided.
#[test]
fn a_run_in_slices_is_the_whole_generation_and_colours_atoms_once_their_type_is_decided() {
    use molplay::app::molecules::{Run, RunPlan};
    let sch = Schedule::polynomial2(1000, 1e-5);
    let d = JointData::new(&data(), None).unwrap();
    let m = MoleculeModel::new(&d, config(650.0), &sch).unwrap();
    let plan = RunPlan { steps: 20, samples: 6, show: 3, gaga: true, seed: 4, ..RunPlan::for_model(&m, &sch) };
    assert_eq!(plan.t_star, 650.0, "GAGA's T* defaults to the one the network was trained up to");
    let refused = |p: RunPlan| Run::start(&m, sch.clone(), p, 5000).err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(refused(RunPlan { show: 17, ..plan.clone() }), "steps and samples must be between 1 and 5000 and show between 1 and 16, got 20, 6 and 17");
    assert_eq!(refused(RunPlan { t_star_types: f64::NAN, ..plan.clone() }), "T* values must be within [1, 1000]");
    assert_eq!(refused(RunPlan { steps: 6000, ..plan.clone() }), "steps and samples must be between 1 and 5000 and show between 1 and 16, got 6000, 6 and 3");
    let mut run = Run::start(&m, sch.clone(), plan, 5000).unwrap();
    assert_eq!((run.gen.options.steps, run.label.as_str()), (13, "GAGA from T* = 650, ṽ per modality"));
    let first = run.frame_view(0);
    assert_eq!((first.sizes.len(), first.decided(), first.elements.len()), (3, 0, first.sizes.iter().sum::<usize>()));
    assert!(run.report().is_none());
    let mut slices = 0;
    while !run.gen.done() {
        let mut left = 4;
        run.advance_while(
            &m,
            || {
                left -= 1;
                left >= 0
            },
            &no_clock,
        )
        .unwrap();
        slices += 1;
    }
    assert_eq!(slices, 4, "13 steps, 4 a slice");
    let (whole, _) = generate(&m, &sch, &run.gen.options, 6, &no_clock).unwrap();
    assert_eq!(whole.molecules, run.gen.current().molecules, "the slices are the whole generation");
    assert_eq!(run.report().unwrap().samples, 6);
    let last = run.gen.frames() - 1;
    assert_eq!(last, 13);
    let end = run.frame_view(last);
    assert_eq!(end.decided(), end.elements.len(), "at t = 0 every type is decided");
    assert!(run.frame_view(0).decided() < end.decided());
    assert_eq!((run.frame_at(650.0), run.frame_at(2000.0), run.frame_at(f64::NAN), run.frame_at(0.0), run.frame_at(-3.0)), (0, 0, 0, 13, 13));
    let (flat, elements, comments) = run.export();
    assert_eq!((flat.len(), elements.len(), comments.len()), (14 * 3 * end.elements.len(), end.elements.len(), 14));
    assert!(comments[0].starts_with("molplay whole-molecules GAGA from T* = 650, ṽ per modality t=650.00"), "{}", comments[0]);
}
