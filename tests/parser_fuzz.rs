//! Mutation fuzzing of the NPY and XYZ parsers: thousands of corrupted files (bit flips,
//! truncations, inserted junk, huge numbers) must give an error or a value, never a panic.
//! Deterministic (fixed seeds) so a failure replays; cargo-fuzz needs nightly, this runs on stable.

use molplay::io::{as_configurations, read_npy, read_xyz, write_npy_f32, write_xyz, XyzFrame};
use molplay::rng::XorShift64;

fn mutate(rng: &mut XorShift64, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(5) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => v.truncate(rng.below(v.len() + 1)),
            2 => {
                let i = rng.below(v.len() + 1);
                const JUNK: [&[u8]; 8] = [b"99999999999999999999", b"-inf", b"NaN", b"(", b"'", b"\n\n", b"\xff\xfe", b"1e400"];
                let junk = JUNK[rng.below(8)];
                v.splice(i..i, junk.iter().copied());
            }
            3 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = b"0123456789 ,()'.e-\n"[rng.below(19)];
            }
            _ if v.len() > 2 => {
                let i = rng.below(v.len() - 1);
                v.remove(i);
            }
            _ => {}
        }
    }
    v
}

#[test]
fn npy_parser_never_panics_on_corrupted_files() {
    let seed = write_npy_f32(3, 8, &[0.5; 24]);
    let mut rng = XorShift64::new(0x1234_5678_9abc_def1);
    let (mut ok, mut err) = (0, 0);
    for _ in 0..20_000 {
        let bytes = mutate(&mut rng, &seed);
        match read_npy(&bytes).map(|a| as_configurations(a, 4, 2)) {
            Ok(Ok(xs)) => {
                assert!(xs.iter().all(|v| v.is_finite()));
                ok += 1
            }
            _ => err += 1,
        }
    }
    assert!(ok > 0 && err > 0, "the mutations exercised both outcomes ({ok} ok, {err} errors)");
}

#[test]
fn xyz_parser_never_panics_on_corrupted_files() {
    let frames: Vec<XyzFrame> = (0..3)
        .map(|f| XyzFrame { elements: vec!["C".into(), "H".into(), "O".into()], positions: (0..9).map(|k| (k + f) as f64 * 0.7).collect(), comment: format!("frame {f}"), charges: None })
        .collect();
    let seed = write_xyz(&frames, 3).into_bytes();
    let mut rng = XorShift64::new(0x0fed_cba9_8765_4321);
    let (mut ok, mut err) = (0, 0);
    for _ in 0..20_000 {
        let bytes = mutate(&mut rng, &seed);
        match read_xyz(&String::from_utf8_lossy(&bytes)) {
            Ok(frames) => {
                assert!(frames.iter().all(|f| f.positions.len() == 3 * f.elements.len() && f.positions.iter().all(|v| v.is_finite())));
                ok += 1
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                err += 1
            }
        }
    }
    assert!(ok > 0 && err > 0, "the mutations exercised both outcomes ({ok} ok, {err} errors)");
}
