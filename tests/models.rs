//! The EGNN score network (burn, CPU backend): equivariance, denoising score matching that
//! learns, weights that round-trip and refuse bad bytes, and training that stops on divergence
//! keeping the last good weights.
#![cfg(not(target_arch = "wasm32"))]

use molplay::geometry::{random_rotation, remove_com, rotate};
use molplay::models::{EgnnConfig, ModelError, ScoreModel};
use molplay::rng::XorShift64;
use molplay::samplers::GaussianTarget;
use molplay::schedules::Schedule;

fn sch() -> Schedule {
    Schedule::polynomial2(1000, 1e-5)
}

fn cfg() -> EgnnConfig {
    EgnnConfig::indexed(4, 32, 3, 7.5 / 12.0)
}

fn cloud(rng: &mut XorShift64, n: usize) -> Vec<f64> {
    let mut x: Vec<f64> = (0..3 * n).map(|_| rng.normal()).collect();
    remove_com(&mut x, 3);
    x
}

#[test]
fn egnn_is_rotation_and_permutation_equivariant() {
    let mut rng = XorShift64::new(2);
    let x = cloud(&mut rng, 4);
    let feats = EgnnConfig { atom_identity: false, features: 1, ..cfg() }.node_features(1);
    let m = ScoreModel::new(EgnnConfig { atom_identity: false, features: 1, ..cfg() }, 1);
    let e = m.predict(&x, &feats, &[300.0], &sch());
    assert!(e.iter().any(|v| v.abs() > 1e-4), "a non-trivial output");
    let r = random_rotation(&mut rng);
    let er = m.predict(&rotate(&r, &x), &feats, &[300.0], &sch());
    let re = rotate(&r, &e);
    assert!(er.iter().zip(&re).all(|(a, b)| (a - b).abs() < 1e-4), "ε̂(Rx) = R ε̂(x): {er:?} vs {re:?}");
    // swapping atoms 0 and 2 swaps their outputs
    let mut xp = x.clone();
    for k in 0..3 {
        xp.swap(k, 6 + k);
    }
    let ep = m.predict(&xp, &feats, &[300.0], &sch());
    assert!((0..3).all(|k| (ep[k] - e[6 + k]).abs() < 1e-5 && (ep[6 + k] - e[k]).abs() < 1e-5));
    // the output has no centre-of-mass component
    assert!((0..3).all(|k| (0..4).map(|i| e[3 * i + k]).sum::<f64>().abs() < 1e-5));
}

#[test]
fn denoising_score_matching_learns_and_weights_round_trip() {
    let sch = Schedule::polynomial2(1000, 1e-5);
    let mut target = GaussianTarget::spring_chain(4);
    let mut m = ScoreModel::new(cfg(), 3);
    let mut rng = XorShift64::new(4);
    let batch = 64;
    let feats = cfg().node_features(batch);
    // a fixed validation batch, and the optimum for this Gaussian target in closed form
    let mut vrng = XorShift64::new(99);
    let vb = 512;
    let vx0: Vec<f64> = (0..vb).flat_map(|_| target.draw()).collect();
    let veps: Vec<f64> = (0..vb).flat_map(|_| cloud(&mut vrng, 4)).collect();
    let vts: Vec<f64> = (0..vb).map(|i| 1.0 + (i * 999 / (vb - 1)) as f64).collect();
    let vfeats = cfg().node_features(vb);
    let before = m.dsm_loss(&vx0, &vfeats, &veps, &vts, &sch);
    for _ in 0..200 {
        let x0: Vec<f64> = (0..batch).flat_map(|_| target.draw()).collect();
        pollster::block_on(m.train_step(&x0, &feats, &sch, 1000.0, 3e-3, &mut rng)).unwrap();
    }
    let after = m.dsm_loss(&vx0, &vfeats, &veps, &vts, &sch);
    let optimum = target.optimal_dsm_loss(&vx0, &veps, &vts, &sch);
    eprintln!("DSM validation loss: untrained {before:.4} (the Gaussian preconditioning alone), trained {after:.4}, exact optimum on this batch {optimum:.4}");
    assert!(after < before && (after - optimum) < 0.75 * (before - optimum), "training closes the gap to the optimum: {before} → {after} (optimum {optimum})");
    // round trip: same predictions after save / load
    let bytes = m.to_bytes().unwrap();
    let back = ScoreModel::from_bytes(&bytes, Some(&cfg())).unwrap();
    let x = cloud(&mut rng, 4);
    let f1 = cfg().node_features(1);
    let (a, b) = (m.predict(&x, &f1, &[500.0], &sch), back.predict(&x, &f1, &[500.0], &sch));
    assert!(a.iter().zip(&b).all(|(p, q)| (p - q).abs() < 1e-6));
    // the file records the training steps (a pretrained network's label says them); files
    // from before the field read as 0, "not recorded"
    assert_eq!((m.steps, back.steps), (200, 200));
    let header_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[16..16 + header_len]).unwrap();
    header.as_object_mut().unwrap().remove("trained_steps").expect("the header names the steps");
    let header = serde_json::to_vec(&header).unwrap();
    let mut legacy = bytes[..12].to_vec();
    legacy.extend_from_slice(&(header.len() as u32).to_le_bytes());
    legacy.extend_from_slice(&header);
    legacy.extend_from_slice(&bytes[16 + header_len..]);
    assert_eq!(ScoreModel::from_bytes(&legacy, Some(&cfg())).unwrap().steps, 0);
    // bad weights: clear errors, no panic
    assert_eq!(ScoreModel::from_bytes(b"hello", None).err(), Some(ModelError::NotWeights));
    let mut v2 = bytes.clone();
    v2[8] = 2;
    assert_eq!(ScoreModel::from_bytes(&v2, None).err(), Some(ModelError::Version { got: 2, supported: 1 }));
    let other = EgnnConfig { hidden: 16, ..cfg() };
    assert!(matches!(ScoreModel::from_bytes(&ScoreModel::new(EgnnConfig { features: 3, ..cfg() }, 1).to_bytes().unwrap(), None), Err(ModelError::Corrupt(_))), "identity features need one per atom");
    assert!(matches!(ScoreModel::from_bytes(&bytes, Some(&other)), Err(ModelError::Mismatch { .. })));
    assert!(matches!(ScoreModel::from_bytes(&bytes[..bytes.len() / 2], None), Err(ModelError::Corrupt(_))));
    // a record of another shape under a forged header is refused by validation
    let small = ScoreModel::new(other.clone(), 1).to_bytes().unwrap();
    let cfg_json = serde_json::to_vec(&cfg()).unwrap();
    let small_len = u32::from_le_bytes(small[12..16].try_into().unwrap()) as usize;
    let mut forged = small[..12].to_vec();
    forged.extend_from_slice(&(cfg_json.len() as u32).to_le_bytes());
    forged.extend_from_slice(&cfg_json);
    forged.extend_from_slice(&small[16 + small_len..]);
    assert!(matches!(ScoreModel::from_bytes(&forged, None), Err(ModelError::Corrupt(_))), "shape mismatch must be an error");
}

#[test]
fn divergence_stops_training_and_keeps_the_last_good_weights() {
    let sch = Schedule::polynomial2(1000, 1e-5);
    let mut m = ScoreModel::new(cfg(), 5);
    let mut rng = XorShift64::new(6);
    let good: Vec<f64> = (0..8).flat_map(|_| cloud(&mut rng, 4)).collect();
    let feats = cfg().node_features(8);
    let w0 = ScoreModel::from_bytes(&m.to_bytes().unwrap(), None).unwrap();
    pollster::block_on(m.train_step(&good, &feats, &sch, 1000.0, 1e-2, &mut rng)).unwrap();
    let mut bad = good.clone();
    bad[5] = f64::NAN;
    let err = pollster::block_on(m.train_step(&bad, &feats, &sch, 1000.0, 1e-2, &mut rng)).unwrap_err();
    assert!(matches!(err, ModelError::Diverged { .. }), "{err}");
    assert!(err.to_string().contains("last good weights are kept"));
    // the weights that gave the last finite loss are back in place
    let x = cloud(&mut rng, 4);
    let f1 = cfg().node_features(1);
    let (a, b) = (m.predict(&x, &f1, &[400.0], &sch), w0.predict(&x, &f1, &[400.0], &sch));
    assert!(a.iter().zip(&b).all(|(p, q)| (p - q).abs() < 1e-6));
    // malformed batches and knobs are refused before any work
    assert!(matches!(pollster::block_on(m.train_step(&good[..7], &feats, &sch, 1000.0, 1e-3, &mut rng)), Err(ModelError::Input(_))));
    assert!(matches!(pollster::block_on(m.train_step(&good, &feats, &sch, 0.5, 1e-3, &mut rng)), Err(ModelError::Input(_))));
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A network conditioned on elements: QM9's vocabulary order, one-hot features, refusals of an
/// unknown element or a molecule of another size, outputs that depend on the elements and stay
/// jointly permutation-equivariant, and a format that old, unconditioned files still read.
#[test]
fn a_network_conditioned_on_elements_tells_atoms_apart_by_type() {
    let mols = vec![strings(&["O", "C", "H", "H"]), strings(&["C", "N", "H", "H"])];
    let config = EgnnConfig::with_elements(4, 16, 2, 1.0, &mols);
    assert_eq!(config.elements, strings(&["H", "C", "N", "O"]));
    assert_eq!(config.features, 4);
    let refs: Vec<&[String]> = mols.iter().map(Vec::as_slice).collect();
    let f = config.element_features(&refs).unwrap();
    assert_eq!(f.len(), 2 * 4 * 4);
    assert_eq!(&f[..8], &[0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0], "O then C, one-hot");
    let fluorine = strings(&["F", "C", "H", "H"]);
    assert!(config.element_features(&[&fluorine]).unwrap_err().to_string().contains("knows the elements H, C, N, O, not F"));
    let short = strings(&["C", "H", "H"]);
    assert!(config.element_features(&[&short]).unwrap_err().to_string().contains("for 4 atoms, a molecule has 3"));

    let m = ScoreModel::new(config.clone(), 7);
    let mut rng = XorShift64::new(8);
    let x = cloud(&mut rng, 4);
    let (a, b) = (&f[..16], &f[16..]);
    let (ea, eb) = (m.predict(&x, a, &[200.0], &sch()), m.predict(&x, b, &[200.0], &sch()));
    assert!(ea.iter().zip(&eb).map(|(p, q)| (p - q).abs()).fold(0.0, f64::max) > 1e-4, "the elements change the output");
    // swapping atoms 0 and 1 together with their elements swaps their outputs
    let mut xp = x.clone();
    let mut ap = a.to_vec();
    for k in 0..3 {
        xp.swap(k, 3 + k);
    }
    for k in 0..4 {
        ap.swap(k, 4 + k);
    }
    let ep = m.predict(&xp, &ap, &[200.0], &sch());
    assert!((0..3).all(|k| (ep[k] - ea[3 + k]).abs() < 1e-5 && (ep[3 + k] - ea[k]).abs() < 1e-5));

    // the vocabulary round-trips; a vocabulary that does not match the features is refused
    let back = ScoreModel::from_bytes(&m.to_bytes().unwrap(), Some(&config)).unwrap();
    assert_eq!(back.predict(&x, a, &[200.0], &sch()), ea);
    let bad = EgnnConfig { features: 3, ..config.clone() };
    assert!(matches!(ScoreModel::from_bytes(&ScoreModel::new(bad, 1).to_bytes().unwrap(), None), Err(ModelError::Corrupt(_))));
    // an unconditioned network's header has no vocabulary: files from before it read unchanged
    let plain = serde_json::to_string(&EgnnConfig::identical(4, 8, 1, 1.0)).unwrap();
    assert!(!plain.contains("elements"), "{plain}");
}

/// A score network records the schedule it learned; it is refused under another one (its ε̂ at
/// step t belongs to that schedule's noise level), and weights from before the record read as
/// the schedule they were all trained under.
#[test]
fn a_network_is_only_trained_and_sampled_under_the_schedule_it_learned() {
    let (poly, cosine) = (sch(), Schedule::cosine(1000));
    let mut rng = XorShift64::new(8);
    let x0: Vec<f64> = (0..8).flat_map(|_| cloud(&mut rng, 4)).collect();
    let feats = cfg().node_features(8);
    let mut m = ScoreModel::new(cfg().trained_under(&cosine), 1);
    pollster::block_on(m.train_step(&x0, &feats, &cosine, 1000.0, 1e-3, &mut rng)).unwrap();
    let err = pollster::block_on(m.train_step(&x0, &feats, &poly, 1000.0, 1e-3, &mut rng)).unwrap_err();
    assert!(err.to_string().contains("trained under the cosine with 1000 steps schedule"), "{err}");
    // the record survives the weights file
    let back = ScoreModel::from_bytes(&m.to_bytes().unwrap(), None).unwrap();
    assert_eq!(back.config.trained_schedule(), cosine.id());
    assert!(back.config.check_schedule(&cosine).is_ok());
    let msg = back.config.check_schedule(&poly).unwrap_err().to_string();
    assert!(msg.contains("cannot be used under polynomial2"), "{msg}");
    // weights without the field (written before it): the legacy polynomial2 with 1000 steps
    let legacy = ScoreModel::new(cfg(), 2);
    let bytes = legacy.to_bytes().unwrap();
    let header_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    assert!(!String::from_utf8_lossy(&bytes[16..16 + header_len]).contains("schedule"), "no field when unset");
    let legacy = ScoreModel::from_bytes(&legacy.to_bytes().unwrap(), None).unwrap();
    assert!(legacy.config.check_schedule(&poly).is_ok());
    assert!(legacy.config.check_schedule(&cosine).is_err());
    assert!(legacy.config.check_schedule(&Schedule::polynomial2(500, 1e-5)).is_err(), "the step count is part of the schedule");
    // a corrupt schedule record is refused when read
    let mut bad = cfg();
    bad.schedule = Some(molplay::schedules::ScheduleId { kind: molplay::schedules::Kind::Cosine, steps: 0 });
    assert!(matches!(ScoreModel::from_bytes(&ScoreModel::new(bad, 1).to_bytes().unwrap(), None), Err(ModelError::Corrupt(_))));
}

/// The training path's loss for each of the quotient-space paper's four objectives is the one
/// `objectives::loss` defines (f64, from the network's predictions): same draws, same targets,
/// the projection at x_t. And training with each lowers its own loss on the spring chain.
#[test]
fn each_training_objective_is_the_loss_the_paper_defines() {
    use molplay::models::draw_noise;
    use molplay::objectives::{loss, Objective};
    let sch = sch();
    let mut target = GaussianTarget::spring_chain(4);
    let batch = 16;
    let feats = cfg().node_features(batch);
    for objective in Objective::ALL {
        let mut m = ScoreModel::new(cfg(), 5);
        let x0: Vec<f64> = (0..batch).flat_map(|_| target.draw()).collect();
        let mut rng = XorShift64::new(21);
        // the reference: the same draws, the network's prediction before the step
        let (ts, eps) = draw_noise(batch, 4, 1000.0, &mut rng.clone());
        let (alphas, sigmas): (Vec<f64>, Vec<f64>) = ts.iter().map(|&t| (sch.alpha(t), sch.sigma(t))).unzip();
        let xt: Vec<f64> = x0.chunks(12).zip(eps.chunks(12)).zip(alphas.iter().zip(&sigmas)).flat_map(|((x, e), (a, s))| x.iter().zip(e).map(|(x, e)| a * x + s * e).collect::<Vec<_>>()).collect();
        let pred = m.predict(&xt, &feats, &ts, &sch);
        let want = loss(objective, &x0, &eps, &xt, &pred, &alphas, &sigmas);
        let got = pollster::block_on(m.train_step_with(objective, &x0, &feats, &sch, 1000.0, 1e-3, &mut rng)).unwrap();
        assert!((got - want).abs() < 1e-4 * want.max(1e-3), "{}: training loss {got}, definition {want}", objective.name());
        // a few steps on one batch lower it
        for _ in 0..30 {
            let mut r = XorShift64::new(21);
            pollster::block_on(m.train_step_with(objective, &x0, &feats, &sch, 1000.0, 3e-3, &mut r)).unwrap();
        }
        let pred = m.predict(&xt, &feats, &ts, &sch);
        let after = loss(objective, &x0, &eps, &xt, &pred, &alphas, &sigmas);
        assert!(after < want, "{}: {want} → {after}", objective.name());
    }
}
