//! The fuzz targets' bodies, shared by the libFuzzer binaries (`targets/*.rs`) and by the
//! product's `cargo test` (`tests/fuzz_corpus.rs`), which replays the kept corpus and crashers.
//! Each reads bytes the way a file, a link or the JS API hands them to molplay; a panic (an
//! `expect`, an overflow, an out-of-bounds index) is a finding, an error is the right answer.
//! Beyond not panicking, each checks what an accepted value promises.

use molplay::adjoint::AdjointSampler;
use molplay::io::{as_configurations, read_configurations, read_npy, read_xyz, MAX_COORDINATE};
use molplay::models::Network;
use molplay::molecules::Dataset;

/// A fuzz target: its name and its body.
pub type Target = (&'static str, fn(&[u8]));

/// The targets by name: (name, body). The order is the seeds' and the corpus folders'.
pub const TARGETS: [Target; 5] = [("npy", npy), ("xyz", xyz), ("molecules", molecules), ("weights", weights), ("adjoint", adjoint)];

/// A .npy of configurations (the Adjoint Sampling mode's "load samples", `molplay eval`).
pub fn npy(data: &[u8]) {
    if let Ok(arr) = read_npy(data) {
        for (n, d) in [(4, 2), (13, 3)] {
            if let Ok(xs) = as_configurations(arr.clone(), n, d) {
                assert!(!xs.is_empty() && xs.len() % (n * d) == 0);
                assert!(xs.iter().all(|v| v.is_finite() && v.abs() <= MAX_COORDINATE));
            }
        }
    }
    if let Ok(xs) = read_configurations("x.npy", data, 4, 2) {
        assert!(xs.iter().all(|v| v.is_finite() && v.abs() <= MAX_COORDINATE));
    }
}

/// An XYZ / extended-XYZ text (dropped molecules, samples, `--data`).
pub fn xyz(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(frames) = read_xyz(text) {
        for f in &frames {
            assert_eq!(f.positions.len(), 3 * f.elements.len());
            assert!(f.positions.iter().all(|v| v.is_finite() && v.abs() <= MAX_COORDINATE));
            if let Some(q) = &f.charges {
                assert_eq!(q.len(), f.elements.len());
            }
        }
    }
    if let Ok(xs) = read_configurations("x.xyz", data, 4, 2) {
        assert!(xs.len() % 8 == 0 && xs.iter().all(|v| v.is_finite()));
    }
}

/// A molecule set (the Gaussianity study's and the score training's data).
pub fn molecules(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(set) = Dataset::from_xyz(text, 2) {
        for m in &set.molecules {
            assert!(m.elements.len() >= 2);
            assert_eq!(m.positions.len(), 3 * m.elements.len());
        }
    }
}

/// Score-network weights (.mpw): header checked against the payload before any network is built.
pub fn weights(data: &[u8]) {
    if let Ok(net) = Network::from_bytes(data, None) {
        assert!(net.config.check().is_ok());
    }
}

/// An Adjoint Sampling controller or exact checkpoint (.mpa).
pub fn adjoint(data: &[u8]) {
    if let Ok(sampler) = AdjointSampler::from_bytes(data, None) {
        assert!(sampler.config.validate().is_ok());
    }
}
