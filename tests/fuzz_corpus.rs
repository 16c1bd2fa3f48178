//! Replays what the coverage-guided fuzzer (tests/fuzz/run, libFuzzer on stable) kept: the
//! seeds, every corpus input and every crasher ever found go through the same target body the
//! fuzzer ran (tests/fuzz/targets.rs), so a fixed finding stays fixed. The seeds (valid files
//! of each kind) must also still be accepted, or the corpus has gone stale with the formats.
#![cfg(not(target_arch = "wasm32"))]

#[path = "fuzz/targets.rs"]
mod targets;

use std::path::{Path, PathBuf};

fn inputs(folder: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz").join(folder).join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else { return vec![] };
    let mut files: Vec<PathBuf> = entries.map(|e| e.expect("a corpus entry").path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

#[test]
fn the_fuzz_corpus_and_crashers_replay_without_a_panic() {
    let mut replayed = 0;
    for (name, body) in targets::TARGETS {
        let seeds = inputs("seeds", name);
        assert!(!seeds.is_empty(), "{name}: no seed files in tests/fuzz/seeds/{name}");
        for path in seeds.iter().chain(&inputs("corpus", name)).chain(&inputs("crashes", name)) {
            let bytes = std::fs::read(path).expect("a corpus file");
            if let Err(panic) = std::panic::catch_unwind(|| body(&bytes)) {
                panic!("{name}: {} panics: {:?}", path.display(), panic.downcast_ref::<String>().map(String::as_str).or(panic.downcast_ref::<&str>().copied()));
            }
            replayed += 1;
        }
    }
    assert!(replayed >= 5);
}

#[test]
fn the_seeds_are_still_valid_files() {
    use molplay::io::{read_configurations, read_xyz};
    for path in inputs("seeds", "npy").iter().filter(|p| p.to_string_lossy().contains("dw4")) {
        read_configurations("x.npy", &std::fs::read(path).unwrap(), 4, 2).expect("the DW-4 seed reads");
    }
    for target in ["xyz", "molecules"] {
        for path in inputs("seeds", target).iter() {
            read_xyz(&std::fs::read_to_string(path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
    for path in inputs("seeds", "weights").iter() {
        molplay::models::Network::from_bytes(&std::fs::read(path).unwrap(), None).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    for path in inputs("seeds", "adjoint").iter() {
        molplay::adjoint::AdjointSampler::from_bytes(&std::fs::read(path).unwrap(), None).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// Writes the seed files (small valid inputs of every kind) into tests/fuzz/seeds/TARGET/.
/// Not a check: `cargo test --release --test fuzz_corpus -- --ignored --exact write_seeds`.
#[test]
#[ignore]
fn write_seeds() {
    use molplay::adjoint::{AdjointConfig, AdjointSampler};
    use molplay::io::{write_npy_f32, write_xyz, XyzFrame};
    use molplay::models::{EgnnConfig, Network};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let put = |target: &str, name: &str, bytes: &[u8]| {
        let dir = root.join("tests/fuzz/seeds").join(target);
        std::fs::create_dir_all(&dir).expect("corpus folder");
        std::fs::write(dir.join(name), bytes).expect("seed file");
    };
    put("npy", "dw4.npy", &write_npy_f32(2, 8, &[0.5, -1.0, 1.5, 0.0, -0.5, 1.0, 0.0, -1.0, 1.0, 1.0, -1.0, -1.0, 0.2, 0.3, -0.2, -0.3]));
    put("npy", "lj13.npy", &write_npy_f32(1, 39, &(0..39).map(|k| k as f32 * 0.1).collect::<Vec<_>>()));
    let frames: Vec<XyzFrame> = (0..2)
        .map(|f| XyzFrame {
            elements: vec!["C".into(), "H".into(), "O".into(), "N".into()],
            positions: (0..12).map(|k| (k + f) as f64 * 0.7 - 3.0).collect(),
            comment: format!("frame {f}"),
            charges: None,
        })
        .collect();
    let xyz = write_xyz(&frames, 3);
    put("xyz", "plain.xyz", xyz.as_bytes());
    let ext = "3\nLattice=\"10 0 0 0 10 0 0 0 10\" Properties=species:S:1:charge:R:1:pos:R:3 energy=-1.5\nO 0.0 -0.8 0.0 0.0\nH 0.0 0.4 0.7 0.1\nH 0.0 0.4 -0.7 -0.1\n";
    put("xyz", "extended.xyz", ext.as_bytes());
    put("molecules", "plain.xyz", xyz.as_bytes());
    put("molecules", "extended.xyz", ext.as_bytes());
    let qm9 = std::fs::read_to_string(root.join("www/data/qm9_subset.xyz")).expect("the bundled QM9 subset");
    let first = molplay::io::read_xyz(&qm9).expect("the bundled QM9 subset reads");
    put("molecules", "qm9.xyz", write_xyz(&first[..3], 3).as_bytes());
    let net = Network::new(EgnnConfig::identical(4, 4, 1, 1.0), 1);
    put("weights", "small.mpw", &net.to_bytes().expect("weights"));
    let mut cfg = AdjointConfig::demo("dw4").expect("dw4");
    (cfg.hidden, cfg.layers, cfg.batch, cfg.new_per_epoch, cfg.grad_steps, cfg.nfe, cfg.buffer) = (4, 1, 4, 4, 1, 5, 8);
    let mut sampler = AdjointSampler::new(cfg, 1).expect("sampler");
    put("adjoint", "weights.mpa", &pollster::block_on(sampler.to_bytes()).expect("weights"));
    pollster::block_on(sampler.epoch()).expect("one epoch");
    put("adjoint", "checkpoint.mpa", &pollster::block_on(sampler.checkpoint_bytes()).expect("checkpoint"));
}
