//! The `molplay` binary end to end: outputs and error messages.
#![cfg(not(target_arch = "wasm32"))]

use molplay::energies::{perturbed_batch, System};
use molplay::io::write_npy_f32;
use std::process::Command;

fn molplay(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_molplay")).args(args).env("MOLPLAY_ALLOW_NO_GPU", "1").output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn temp(name: &str, bytes: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("molplay-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn energy_reads_xyz_and_npy_and_prints_one_line_per_configuration() {
    let xyz = temp("pair.xyz", b"2\npair at r_m\nAr 0 0 0\nAr 1 0 0\n2\nfarther\nAr 0 0 0\nAr 2 0 0\n");
    let (ok, out, err) = molplay(&["energy", "--system", "lj2", "--input", &xyz]);
    assert!(ok, "{err}");
    let e: Vec<f64> = out.lines().map(|l| l.parse().unwrap()).collect();
    let sys = System::lj(2).unwrap();
    assert!((e[0] - sys.energy(&[0.0, 0.0, 0.0, 1.0, 0.0, 0.0])).abs() < 1e-9);
    assert!((e[1] - sys.energy(&[0.0, 0.0, 0.0, 2.0, 0.0, 0.0])).abs() < 1e-9);

    let xs = perturbed_batch(&System::dw4(), 5, 0.3, 2);
    let npy = temp("dw4.npy", &write_npy_f32(5, 8, &xs));
    let (ok, out, _) = molplay(&["energy", "--system", "dw4", "--input", &npy, "--forces", "--json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["energies"].as_array().unwrap().len(), 5);
    assert_eq!(v["forces"][4].as_array().unwrap().len(), 8);
}

#[test]
fn eval_reports_the_metrics_as_json() {
    let sys = System::lj13();
    let a = temp("a.npy", &write_npy_f32(40, 39, &perturbed_batch(&sys, 40, 0.1, 1)));
    let b = temp("b.npy", &write_npy_f32(30, 39, &perturbed_batch(&sys, 30, 0.1, 2)));
    let (ok, out, err) = molplay(&["eval", "--system", "lj13", "--samples", &a, "--reference", &b, "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["samples"], 40);
    assert!(v["energy_w2"].as_f64().unwrap() > 0.0 && v["distance_w2"].as_f64().unwrap() > 0.0);
    assert_eq!(v["virial_expected"], 36.0);
    assert_eq!(v["sample_w2_n"], 30, "the sample W2 uses min(N, sizes) configurations per side");
    assert!(v["sample_w2"].as_f64().unwrap() > 0.0);
    let (ok, out, _) = molplay(&["eval", "--system", "lj13", "--samples", &a, "--reference", &a, "--json"]);
    assert!(ok);
    let same: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(same["energy_w2"], 0.0);
    assert!(same["sample_w2"].as_f64().unwrap() < 1e-6);
}

#[test]
fn bad_input_gives_a_clear_error_and_a_failing_exit_code() {
    let xyz = temp("two.xyz", b"2\nc\nAr 0 0 0\nAr 1 0 0\n");
    let bad = temp("bad.xyz", b"2\nc\nAr 0 0 0\nAr 1 oops 0\n");
    let junk = temp("junk.npy", b"not numpy at all");
    let txt = temp("data.txt", b"1 2 3");
    for (args, expect) in [
        (vec!["energy", "--system", "lj13", "--input", xyz.as_str()], "frame 0 has 2 atoms, expected 13"),
        (vec!["energy", "--system", "lj2", "--input", bad.as_str()], "line 4: y coordinate 'oops' is not a number"),
        (vec!["energy", "--system", "lj13", "--input", junk.as_str()], "not a .npy file"),
        (vec!["energy", "--system", "lj13", "--input", txt.as_str()], "use .npy or .xyz"),
        (vec!["energy", "--system", "water", "--input", xyz.as_str()], "unknown system 'water'"),
        (vec!["energy", "--system", "lj13", "--input", "/no/such/file.npy"], "No such file"),
        (vec!["bench", "--batch", "0"], "--batch must be between 1 and 65536, got 0"),
        (vec!["bench-train", "--reps", "0"], "--reps must be at least 1"),
        #[cfg(not(feature = "gpu-nets"))]
        (vec!["train-adjoint", "--system", "dw4", "--device", "gpu", "--output", "/tmp/never.mpa"], "build with `--features gpu-nets`"),
    ] {
        let (ok, _, err) = molplay(&args);
        assert!(!ok, "{args:?} should fail");
        assert!(err.contains(expect), "{args:?}: stderr was {err}");
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    }
}

#[test]
fn reference_writes_centred_samples_and_rejects_bad_knobs() {
    let dir = std::env::temp_dir().join(format!("molplay-cli-ref-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("dw4.npy").to_string_lossy().into_owned();
    let args = ["reference", "--system", "dw4", "--samples", "12", "--chains", "4", "--burn-in", "20", "--thin", "2", "--seed", "5", "--output", &out, "--json"];
    let (ok, stdout, err) = molplay(&args);
    assert!(ok, "{err}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["samples"], 12);
    let xs = molplay::io::as_configurations(molplay::io::read_npy(&std::fs::read(&out).unwrap()).unwrap(), 4, 2).unwrap();
    for x in xs.chunks(8) {
        let c = molplay::geometry::centre_of_mass(x, 2);
        assert!(c[0].abs() < 1e-5 && c[1].abs() < 1e-5);
    }
    let first = std::fs::read(&out).unwrap();
    assert!(molplay(&args).0);
    assert_eq!(std::fs::read(&out).unwrap(), first, "same seed, same file");
    let xyz = dir.join("dw4.xyz").to_string_lossy().into_owned();
    let (ok, _, _) = molplay(&["reference", "--system", "dw4", "--samples", "3", "--chains", "2", "--burn-in", "4", "--thin", "1", "--output", &xyz]);
    assert!(ok);
    let frames = molplay::io::read_xyz(&std::fs::read_to_string(&xyz).unwrap()).unwrap();
    assert_eq!(frames.len(), 3);
    assert!(frames[0].positions.chunks(3).all(|p| p[2] == 0.0), "DW-4 is written with z = 0");
    for (bad, expect) in [
        (vec!["reference", "--system", "dw4", "--samples", "0", "--output", out.as_str()], "--samples must be between 1 and"),
        (vec!["reference", "--system", "dw4", "--t-max", "0.5", "--output", out.as_str()], "--t-max"),
        (vec!["reference", "--system", "dw4", "--output", "/tmp/x.csv"], ".npy or .xyz"),
    ] {
        let (ok, _, err) = molplay(&bad);
        assert!(!ok && err.contains(expect), "{bad:?}: {err}");
    }
}

/// The released GAGA test on the bundled QM9 subset (300 molecules, evenly spaced): the code's RMS
/// "variances" (spec: 1.383 / 0.086), and T* by the 95 % quantile near the independent
/// re-implementation's 650 with the mean near its 390 (spec gaga.md §2.5; published: 550).
#[test]
fn gaussianity_on_the_bundled_qm9_subset_reproduces_the_spec() {
    let input = concat!(env!("CARGO_MANIFEST_DIR"), "/www/data/qm9_subset.xyz");
    let (ok, out, err) = molplay(&["gaussianity", "--input", input, "--limit", "300", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["molecules_tested"], 300);
    // all 3000 molecules give 1.383 / 0.086; --limit takes an evenly spaced subset, as the page
    // does (the first 300, small molecules in QM9's order, gave 1.30)
    assert!((v["block_rms"]["positions"].as_f64().unwrap() - 1.383).abs() < 0.03, "{}", v["block_rms"]);
    assert!((v["block_rms"]["types"].as_f64().unwrap() - 0.086).abs() < 0.003);
    let t_star = v["t_star"].as_f64().unwrap();
    let mean = v["t_star_mean"].as_f64().unwrap();
    assert!((550.0..=700.0).contains(&t_star), "T* {t_star}");
    assert!((330.0..=450.0).contains(&mean), "mean {mean}");
    for key in ["positions", "types", "charges"] {
        assert!(v["t_star_by_modality"][key].is_number(), "{key}");
    }
    let curves = v["curves"].as_array().unwrap();
    assert_eq!(curves[0]["t"].as_array().unwrap().len(), 11);
    // bad input: unknown elements, too few atoms, a grid beyond the schedule
    let bad = temp("alien.xyz", b"4\nc\nC 0 0 0\nQq 1 0 0\nH 0 1 0\nH 0 0 1\n");
    let small = temp("small.xyz", b"3\nwater\nO 0 0 0\nH 1 0 0\nH 0 1 0\n");
    for (args, expect) in [
        (vec!["gaussianity", "--input", bad.as_str()], "frame 0: unknown element 'Qq'"),
        (vec!["gaussianity", "--input", small.as_str()], "no molecule with at least 4 atoms (1 frames skipped)"),
        (vec!["gaussianity", "--input", input, "--check-to", "1200"], "--check-to ≤ steps (1000)"),
    ] {
        let (ok, _, err) = molplay(&args);
        assert!(!ok && err.contains(expect), "{args:?}: {err}");
    }
}

#[test]
fn sample_reports_nfe_and_gaga_saves_evaluations() {
    let run = |extra: &[&str]| {
        let mut args = vec!["sample", "--score", "chain", "--sampler", "ddpm", "--samples", "300", "--json"];
        args.extend_from_slice(extra);
        let (ok, out, err) = molplay(&args);
        assert!(ok, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let full = run(&["--steps", "200"]);
    let gaga = run(&["--gaga", "--t-star", "800", "--steps", "160"]);
    assert_eq!(full["nfe"], 200 * 300);
    assert_eq!(gaga["nfe"], 160 * 300);
    assert_eq!(gaga["t_start"], 800.0);
    for r in [&full, &gaga] {
        // the report the page's sample() gives too (app::sample::SampleReport)
        let (m, e) = (r["quality"]["mean_r2"].as_f64().unwrap(), r["quality"]["reference_mean_r2"].as_f64().unwrap());
        assert!((m / e - 1.0).abs() < 0.15, "{r}");
        assert!(r["seconds"].is_number() && r["stability"].is_null() && r["nearest_data_rmsd"].is_null());
        assert_eq!((r["samples"].as_u64(), r["atoms"].as_u64(), r["score"].as_str()), (Some(300), Some(4), Some("chain")));
    }
    // full and GAGA in the same run
    let both = run(&["--steps", "100", "--compare-gaga", "--t-star", "800"]);
    let c = &both["compare"];
    assert_eq!(c["full"]["nfe"], 100 * 300);
    assert_eq!(c["gaga"]["nfe"], 80 * 300);
    assert!((c["nfe_ratio"].as_f64().unwrap() - 0.8).abs() < 1e-12);
    assert!(c["gaga"]["quality"]["distance_w2"].as_f64().unwrap() < 0.5, "{c}");
    assert_eq!((c["gaga"]["gaga"].as_bool(), c["gaga"]["t_star"].as_f64()), (Some(true), Some(800.0)));
    let data = temp("mixed.xyz", b"3\na\nC 0 0 0\nC 1 0 0\nC 0 1 0\n4\nb\nC 0 0 0\nC 1 0 0\nC 0 1 0\nC 0 0 1\n");
    for (args, expect) in [
        (vec!["sample", "--score", "empirical"], "needs --data"),
        (vec!["sample", "--score", "empirical", "--data", data.as_str(), "--atoms", "7"], "no molecule has 7 atoms (sizes in the set: 3, 4)"),
        (vec!["sample", "--score", "/no/such/weights.bin"], "/no/such/weights.bin: No such file"),
        (vec!["sample", "--steps", "0"], "--steps must be between 1 and 100000, got 0"),
        (vec!["sample", "--gaga", "--t-star", "5000"], "--t-star must be in (0, 1000], got 5000"),
        (vec!["sample", "--gaga", "--compare-gaga"], "leave out --gaga"),
        (vec!["sample", "--schedule", "geometric"], "geometric"),
        // a misnamed output is refused before the run, not after it
        (vec!["sample", "--steps", "100000", "--samples", "100000", "--output", "s.pdb"], "s.pdb: the output must end in .npy or .xyz"),
        (vec!["sample", "--compare-gaga", "--t-star", "0"], "--t-star must be in (0, 1000], got 0"),
    ] {
        let (ok, _, err) = molplay(&args);
        assert!(!ok && err.contains(expect), "{args:?}: {err}");
    }
}

#[test]
fn train_score_writes_weights_that_sample_loads_and_bad_weights_are_refused() {
    let dir = std::env::temp_dir().join(format!("molplay-cli-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let weights = dir.join("chain.mpw").to_string_lossy().into_owned();
    let (ok, out, err) = molplay(&["train-score", "--data", "chain", "--atoms", "4", "--steps", "20", "--batch", "8", "--hidden", "8", "--layers", "1", "--output", &weights, "--json"]);
    assert!(ok, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["steps"], 20);
    assert!(r["last_loss"].as_f64().unwrap().is_finite());
    assert_eq!(r["config"]["atom_identity"], true);
    let (ok, out, err) = molplay(&["sample", "--score", "model", "--model", &weights, "--sampler", "ddpm", "--steps", "5", "--samples", "3", "--json"]);
    assert!(ok, "{err}");
    let s: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s["nfe"], 15);
    // the issue's spelling: the weights file as the score
    let (ok, out, err) = molplay(&["sample", "--score", &weights, "--sampler", "em", "--steps", "5", "--samples", "3", "--json"]);
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["nfe"], 15);
    // the weights record the schedule they were trained under; another one is refused
    assert_eq!(r["config"]["schedule"]["kind"]["kind"], "polynomial2", "{r}");
    assert_eq!(r["config"]["schedule"]["steps"], 1000);
    let junk = temp("junk.mpw", b"definitely not weights");
    for (args, expect) in [
        (vec!["sample", "--score", weights.as_str(), "--schedule", "cosine"], "trained under the polynomial2 (precision 1e-5) with 1000 steps schedule and cannot be used under cosine"),
        (vec!["sample", "--score", "model", "--model", junk.as_str()], "not molplay weights"),
        (vec!["sample", "--score", "model"], "needs --model"),
        (vec!["train-score", "--data", "chain", "--lr", "5", "--output", junk.as_str()], "0 < --lr < 1"),
        (vec!["train-score", "--data", "/no/such.xyz", "--output", junk.as_str()], "No such file"),
    ] {
        let (ok, _, err) = molplay(&args);
        assert!(!ok && err.contains(expect), "{args:?}: {err}");
    }
}

#[test]
fn empirical_sampling_from_the_bundled_qm9_subset_writes_molecules_with_their_elements() {
    let input = concat!(env!("CARGO_MANIFEST_DIR"), "/www/data/qm9_subset.xyz");
    let out_path = temp("qm9-samples.xyz", b"");
    let (ok, out, err) = molplay(&["sample", "--score", "empirical", "--data", input, "--steps", "60", "--samples", "6", "--symmetry", "quotient", "--output", &out_path, "--json"]);
    assert!(ok, "{err}");
    assert!(err.contains("atoms (the most common size; --atoms picks another)"), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["nfe"], 6 * 60);
    let frames = molplay::io::read_xyz(&std::fs::read_to_string(&out_path).unwrap()).unwrap();
    assert_eq!(frames.len(), 6);
    let n = v["atoms"].as_u64().unwrap() as usize;
    for f in &frames {
        assert_eq!(f.elements.len(), n);
        assert!(f.elements.iter().any(|e| e == "H") && f.elements.iter().any(|e| e == "C"), "QM9 elements: {:?}", f.elements);
    }
    // the samples are data molecules (up to a rotation): EDM's rules find them mostly stable
    let (ok, out, err) = molplay(&["stability", "--input", &out_path, "--json"]);
    assert!(ok, "{err}");
    let s: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(s["atom_stability"].as_f64().unwrap() > 0.9, "{s}");
    // over the molecules' rotation orbits the plain equivariant sampler lands on rotated data
    // molecules too (the invariant data set's exact score)
    let (ok, out, err) = molplay(&["sample", "--score", "orbits", "--data", input, "--steps", "60", "--samples", "6", "--output", &out_path, "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["nfe"], 6 * 60);
    let (ok, out, err) = molplay(&["stability", "--input", &out_path, "--json"]);
    assert!(ok, "{err}");
    let s: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(s["atom_stability"].as_f64().unwrap() > 0.9, "orbits: {s}");
}

/// EDM's stability rules on real QM9 geometries: EDM reports 99.0 % stable atoms and 95.2 %
/// stable molecules for the QM9 data itself; the bundled subset gives 99.4 % and 95.4 %.
#[test]
fn stability_of_the_bundled_qm9_subset_matches_edm_on_real_data() {
    let input = concat!(env!("CARGO_MANIFEST_DIR"), "/www/data/qm9_subset.xyz");
    let (ok, out, err) = molplay(&["stability", "--input", input, "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (atom, mol) = (v["atom_stability"].as_f64().unwrap(), v["molecule_stability"].as_f64().unwrap());
    assert!((0.985..=0.998).contains(&atom), "atom stability {atom}");
    assert!((0.93..=0.97).contains(&mol), "molecule stability {mol}");
    assert_eq!(v["molecules"], 3000);
}

/// A molecule network is conditioned on the atoms' elements by default: sampling draws each
/// sample's atom types from the data, writes them to the XYZ and reports EDM's stability (full
/// and GAGA alike); `--positions-only` trains the unconditioned network.
#[test]
fn a_molecule_network_generates_molecules_with_elements_and_reports_their_stability() {
    let input = concat!(env!("CARGO_MANIFEST_DIR"), "/www/data/qm9_subset.xyz");
    let weights = temp("qm9-el.mpw", b"");
    let (ok, out, err) = molplay(&["train-score", "--data", input, "--atoms", "9", "--steps", "20", "--batch", "8", "--hidden", "8", "--layers", "1", "--output", &weights, "--json"]);
    assert!(ok, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    let vocab: Vec<&str> = r["config"]["elements"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(&vocab[..2], &["H", "C"], "{vocab:?}");
    assert_eq!(r["config"]["features"].as_u64().unwrap() as usize, vocab.len());
    let xyz = temp("qm9-el-samples.xyz", b"");
    let (ok, out, err) = molplay(&["sample", "--score", &weights, "--data", input, "--steps", "10", "--samples", "5", "--compare-gaga", "--output", &xyz, "--json"]);
    assert!(ok, "{err}");
    let s: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s["stability"]["elements"], "given");
    for st in [&s["stability"], &s["compare"]["full"]["stability"], &s["compare"]["gaga"]["stability"]] {
        assert_eq!(st["molecules"], 5, "{s}");
        assert!((0.0..=1.0).contains(&st["atom"].as_f64().unwrap()), "{st}");
    }
    let frames = molplay::io::read_xyz(&std::fs::read_to_string(&xyz).unwrap()).unwrap();
    assert_eq!(frames.len(), 5);
    assert!(frames.iter().all(|f| f.elements.len() == 9 && f.elements.iter().all(|e| vocab.contains(&e.as_str()))));
    assert!(frames.iter().any(|f| f.elements.iter().any(|e| e != "C")), "the data's atom types, not placeholders");
    // the conditioned network needs molecules to draw the types from
    let (ok, _, err) = molplay(&["sample", "--score", &weights, "--steps", "5", "--samples", "2"]);
    assert!(!ok && err.contains("--data must be a molecule file"), "{err}");
    // positions only: no vocabulary, no given elements
    let (ok, out, err) =
        molplay(&["train-score", "--data", input, "--atoms", "9", "--steps", "5", "--batch", "4", "--hidden", "8", "--layers", "1", "--positions-only", "--output", &weights, "--json"]);
    assert!(ok, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(r["config"].get("elements").is_none() && r["config"]["features"] == 1, "{r}");
}

/// A weights container as molplay writes it: magic, version, JSON header length, header, payload.
fn container(magic: &[u8; 8], header: &str, payload: &[u8]) -> Vec<u8> {
    [&magic[..], &1u32.to_le_bytes(), &(header.len() as u32).to_le_bytes(), header.as_bytes(), payload].concat()
}

/// Issue 16 through the CLI: each hostile file or knob gives a clear message and exit 1, never
/// a panic, an abort, an `inf` or a JSON null with success, nor raw control bytes.
#[test]
fn hostile_files_and_knobs_give_clear_errors() {
    let mut big = perturbed_batch(&System::lj13(), 2, 0.1, 1);
    big[5] = 1e30;
    let huge_npy = temp("huge.npy", &write_npy_f32(2, 39, &big));
    let far = temp("far.xyz", b"2\nc\nAr 0 0 0\nAr 1e308 0 0\n");
    let count = temp("count.xyz", b"18446744073709551615\nc\nAr 0 0 0\n");
    let later = temp("later.xyz", b"2\nc\nAr 0 0 0\nAr 1 0 0\n18446744073709551615\nc\nAr 0 0 0\n");
    let esc = temp("esc.xyz", b"\x1b[2J\x1b[H\nc\n");
    let trailing = temp("trailing.npy", &[write_npy_f32(1, 6, &[0.0, 0.0, 0.0, 1.0, 0.0, 0.0]), vec![0; 8]].concat());
    let pair = temp("pair2.npy", &write_npy_f32(1, 6, &[0.0, 0.0, 0.0, 1.0, 0.0, 0.0]));
    let mpw = temp("big.mpw", &container(b"MOLPLAYW", r#"{"atoms":4,"features":1,"hidden":4096,"layers":64,"data_variance":1.0}"#, &vec![0; 96 * 1024]));
    let features = temp("features.mpw", &container(b"MOLPLAYW", r#"{"atoms":4,"features":18446744073709551615,"hidden":8,"layers":1,"data_variance":1.0}"#, &[0; 1024]));
    let cfg = r#"{"config":{"system":"lj1024","sigma_min":0.001,"sigma_max":2.0,"nfe":100,"new_per_epoch":64,"grad_steps":20,"batch":100000000,"buffer":100000000,"lr":0.001,"hidden":32,"layers":3,"clip":100.0}}"#;
    let mpa = temp("big.mpa", &container(b"MOLPLAYA", cfg, &[0; 1024]));
    let out = temp("never.npy", b"");
    for (args, expect) in [
        (vec!["energy", "--system", "lj13", "--input", huge_npy.as_str()], "is 1.000e30: coordinates beyond ±1e6 are refused"),
        (vec!["energy", "--system", "lj2", "--input", far.as_str(), "--json"], "line 4: x coordinate 1e308 is beyond ±1e6"),
        (vec!["eval", "--system", "lj2", "--samples", far.as_str(), "--reference", pair.as_str()], "beyond ±1e6"),
        (vec!["energy", "--system", "lj2", "--input", count.as_str()], "line 1: a frame of 18446744073709551615 atoms: at most 100000 atoms per frame are read"),
        (vec!["stability", "--input", later.as_str()], "line 5: a frame of 18446744073709551615 atoms"),
        (vec!["gaussianity", "--input", later.as_str()], "at most 100000 atoms per frame"),
        (vec!["energy", "--system", "lj2", "--input", esc.as_str()], "expected an atom count, found '\\u{1b}[2J\\u{1b}[H'"),
        (vec!["energy", "--system", "lj2", "--input", trailing.as_str()], "8 bytes after the 24 data bytes"),
        (vec!["sample", "--score", "empirikal"], "unknown score 'empirikal': use chain, empirical, orbits or a weights file"),
        (vec!["sample", "--samples", "10000000000"], "--samples must be between 1 and 100000, got 10000000000"),
        (vec!["sample", "--steps", "10000000000"], "--steps must be between 1 and 100000, got 10000000000"),
        (vec!["reference", "--system", "lj13", "--samples", "10000000000", "--output", out.as_str()], "--samples 10000000000 is out of range"),
        (vec!["reference", "--system", "lj1024", "--samples", "100000", "--output", out.as_str()], "more than the 50000000 allowed"),
        (vec!["eval", "--system", "lj2", "--samples", pair.as_str(), "--reference", pair.as_str(), "--sample-w2", "100000"], "--sample-w2 100000 is out of range: at most 5000"),
        (vec!["train-score", "--data", "chain", "--batch", "1000000", "--output", out.as_str()], "--batch 1000000 is out of range"),
        (vec!["bench", "--systems", "lj1024", "--batch", "60000"], "more than the 50000000 allowed"),
        (vec!["bench-mcmc", "--chains", "1000000000"], "--chains must be between 1 and 10000, got 1000000000"),
        (vec!["gaussianity", "--input", later.as_str(), "--steps", "1000000000"], "--steps 1000000000 is out of range"),
        (vec!["sample", "--score", mpw.as_str()], "hidden 4096 is above the largest network molplay makes (1024)"),
        (vec!["sample", "--score", features.as_str()], "features 18446744073709551615 is above"),
        (vec!["sample", "--system", "lj1024", "--model", mpa.as_str()], "lj1024 has 1024 particles, more than the 64"),
        (vec!["sample", "--system", "lj1024", "--model", mpa.as_str(), "--samples", "100000000"], "--samples 100000000 is out of range"),
    ] {
        let t0 = std::time::Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_molplay")).args(&args).env("MOLPLAY_ALLOW_NO_GPU", "1").output().unwrap();
        let (stdout, err) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{args:?}: exit {:?}, stderr {err}", out.status.code());
        assert!(err.contains(expect), "{args:?}: stderr was {err}");
        assert!(!err.contains("panicked") && !stdout.contains("inf") && !stdout.contains("null"), "{args:?}: {stdout} {err}");
        assert!(!err.chars().any(|c| c.is_control() && c != '\n'), "{args:?}: raw control bytes in {err:?}");
        assert!(t0.elapsed().as_secs_f64() < 20.0, "{args:?} took {:?}", t0.elapsed());
    }
    // a byte-order mark before the count is skipped; a weights file named like a score still reads as a file
    let bom = temp("bom.xyz", b"\xef\xbb\xbf2\nc\nAr 0 0 0\nAr 1 0 0\n");
    let (ok, out, err) = molplay(&["energy", "--system", "lj2", "--input", &bom]);
    assert!(ok && out.trim().parse::<f64>().is_ok(), "{err}");
    let (ok, _, err) = molplay(&["sample", "--score", "/no/such/weights.bin"]);
    assert!(!ok && err.contains("No such file"), "{err}");
}

/// Issue 16, case 5: `eval` on LJ-1024 (default --sample-w2 500) pooled > 6 GB of distances;
/// now both W2s are bounded and say so.
#[test]
fn eval_on_a_large_system_bounds_its_work_and_says_so() {
    // jittered cubic lattices (perturbed_batch would relax the LJ-1024 preset first: minutes)
    let mut rng = molplay::rng::XorShift64::new(3);
    let mut lattices = |count: usize| -> Vec<f32> {
        (0..count).flat_map(|_| (0..1024).flat_map(|i| [i % 11, i / 11 % 11, i / 121]).map(|c| c as f32 * 1.12 + 0.05 * rng.normal() as f32).collect::<Vec<f32>>()).collect()
    };
    let a = temp("lj1024.npy", &write_npy_f32(40, 3072, &lattices(40)));
    // 3 reference configurations keep the (bounded: molplay::metrics::sample_w2_limit(1024) = 6)
    // sample W2 to 9 matchings of 1024 particles, a few seconds
    let b = temp("lj1024-ref.npy", &write_npy_f32(3, 3072, &lattices(3)));
    let t0 = std::time::Instant::now();
    let (ok, out, err) = molplay(&["eval", "--system", "lj1024", "--samples", &a, "--reference", &b, "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["distance_w2_n"], 32, "{v}");
    assert_eq!(v["sample_w2_n"], 3, "{v}");
    assert!(v["distance_w2"].as_f64().unwrap() > 0.0 && v["sample_w2"].as_f64().unwrap() > 0.0, "{v}");
    assert!(err.contains("the distance W2 pools 32 evenly spaced configurations per side"), "{err}");
    assert!(t0.elapsed().as_secs_f64() < 60.0, "took {:?}", t0.elapsed());
}

/// train-adjoint writes an exact checkpoint by default: --resume goes on from it (same epochs
/// counted on, the history carried over) and says so; --weights-only writes the small file a
/// preset ships, from which a resume starts a fresh buffer and optimiser.
#[test]
fn train_adjoint_resumes_from_its_checkpoint_and_keeps_the_history() {
    let ck = temp("dw4-ck.mpa", b"");
    let base = ["train-adjoint", "--system", "dw4", "--eval-every", "2", "--json"];
    let run = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let (ok, out, err) = molplay(&args);
        assert!(ok, "{args:?}: {err}");
        (serde_json::from_str::<serde_json::Value>(&out).unwrap(), err)
    };
    let (first, _) = run(&["--epochs", "2", "--output", &ck]);
    assert_eq!(first["checkpoint"], true);
    assert_eq!(first["evaluations"].as_array().unwrap().len(), 1);
    let (second, err) = run(&["--epochs", "1", "--resume", &ck, "--output", &ck, "--no-final-eval"]);
    assert!(err.contains("going on exactly from epoch 2"), "{err}");
    assert_eq!(second["resumed_exactly"], true);
    assert_eq!(second["counters"]["epochs"], 3);
    assert_eq!(second["evaluations"].as_array().unwrap().len(), 0, "epoch 3 is off the grid and the final evaluation was skipped");
    let (third, _) = run(&["--epochs", "1", "--resume", &ck, "--output", &ck]);
    let evals = third["evaluations"].as_array().unwrap();
    assert_eq!(evals[0]["epoch"], 4);
    assert!(evals[0]["eval_seconds"].as_f64().unwrap() > 0.0);
    assert!(third["total_seconds"].as_f64().unwrap() >= third["seconds"].as_f64().unwrap());
    let a = molplay::adjoint::AdjointSampler::from_bytes(&std::fs::read(&ck).unwrap(), None).unwrap();
    assert_eq!(a.history.losses.len(), 4, "one loss per epoch over the three sessions");
    assert_eq!(a.history.evaluations.iter().map(|e| e.epoch).collect::<Vec<_>>(), vec![2, 4]);
    // a preset: weights, counters and history only
    let small = temp("dw4-weights.mpa", b"");
    let (w, _) = run(&["--epochs", "1", "--resume", &ck, "--output", &small, "--weights-only", "--no-final-eval"]);
    assert_eq!(w["checkpoint"], false);
    assert!(std::fs::metadata(&small).unwrap().len() < std::fs::metadata(&ck).unwrap().len());
    let (_, err) = run(&["--epochs", "1", "--resume", &small, "--output", &small, "--weights-only", "--no-final-eval"]);
    assert!(err.contains("weights only: going on from epoch 5 with an empty buffer"), "{err}");
    // --epochs 0 (with --resume only) writes the file again as asked: a checkpoint's preset
    let preset = temp("dw4-preset.mpa", b"");
    let (p, _) = run(&["--epochs", "0", "--resume", &ck, "--output", &preset, "--weights-only", "--no-final-eval"]);
    assert_eq!((p["checkpoint"].clone(), p["counters"]["epochs"].clone()), (serde_json::json!(false), serde_json::json!(4)));
    let (mut from_ck, mut from_preset) =
        (molplay::adjoint::AdjointSampler::from_bytes(&std::fs::read(&ck).unwrap(), None).unwrap(), molplay::adjoint::AdjointSampler::from_bytes(&std::fs::read(&preset).unwrap(), None).unwrap());
    assert!(!from_preset.resumed_exactly());
    assert_eq!((&from_preset.history.losses, &from_preset.history.evaluations), (&from_ck.history.losses, &from_ck.history.evaluations), "the history comes along");
    assert_eq!(pollster::block_on(from_preset.simulate_detached(4, 1)).unwrap(), pollster::block_on(from_ck.simulate_detached(4, 1)).unwrap(), "the same sampler");
    let (ok, _, err) = molplay(&["train-adjoint", "--system", "dw4", "--epochs", "0", "--output", &preset]);
    assert!(!ok && err.contains("--epochs must be at least 1 (0 only with --resume"), "{err}");
}

/// --keep-best writes the file again only when an evaluation's energy W2 is the lowest of the
/// run's history (a later, worse evaluation leaves it alone), and needs a reference set.
#[test]
fn train_adjoint_keeps_the_best_evaluation_beside_the_latest() {
    // a stand-in reference: squares of side 2.5 (DW-4's inner well), jittered
    let mut rng = molplay::rng::XorShift64::new(5);
    let rows: Vec<f32> = (0..200).flat_map(|_| [0.0, 0.0, 2.5, 0.0, 2.5, 2.5, 0.0, 2.5].map(|c: f64| (c + 0.2 * rng.normal()) as f32)).collect();
    let reference = temp("dw4-kb-ref.npy", &molplay::io::write_npy_f32(200, 8, &rows));
    let (ck, best) = (temp("dw4-kb.mpa", b""), temp("dw4-kb-best.mpa", b""));
    std::fs::remove_file(&best).unwrap();
    let (ok, out, err) = molplay(&["train-adjoint", "--system", "dw4", "--epochs", "4", "--eval-every", "1", "--reference", &reference, "--keep-best", &best, "--output", &ck, "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let w2: Vec<f64> = v["evaluations"].as_array().unwrap().iter().map(|e| e["energy_w2"].as_f64().unwrap()).collect();
    let lowest = w2.iter().enumerate().fold((0, f64::INFINITY), |(k, m), (i, &w)| if w < m { (i, w) } else { (k, m) });
    let kept = molplay::adjoint::AdjointSampler::from_bytes(&std::fs::read(&best).unwrap(), None).unwrap();
    let last = kept.history.evaluations.last().unwrap();
    assert_eq!((last.epoch, last.energy_w2), (lowest.0 + 1, Some(lowest.1)), "the best file holds the run up to its lowest evaluation ({w2:?})");
    assert_eq!(err.matches("the lowest energy W2 so far").count(), (0..w2.len()).filter(|&i| w2[..i].iter().all(|&p| w2[i] < p)).count(), "{err}");
    assert!(err.contains("energies: median"), "each evaluation says where its energies lie: {err}");
    let (ok, _, err) = molplay(&["train-adjoint", "--system", "dw4", "--epochs", "1", "--keep-best", &best, "--output", &ck]);
    assert!(!ok && err.contains("--keep-best compares evaluations' energy W2: give --reference too"), "{err}");
}

/// The CPU paths never need a GPU: without any adapter (no Vulkan driver, and without the
/// tests' MOLPLAY_ALLOW_NO_GPU) train-adjoint on the CPU runs, and `--device gpu` (in a build
/// with the GPU networks) says there is no adapter instead of panicking.
#[test]
fn the_cpu_paths_run_on_a_machine_without_any_gpu_adapter() {
    let ck = temp("dw4-nogpu.mpa", b"");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_molplay"))
        .args(["train-adjoint", "--system", "dw4", "--epochs", "1", "--no-final-eval", "--output", &ck])
        .env_remove("MOLPLAY_ALLOW_NO_GPU")
        .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
        .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !err.contains("panicked"), "{err}");
}
