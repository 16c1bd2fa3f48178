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

/// Issue 16's classes: counts near usize::MAX, finite but huge magnitudes, a byte-order mark,
/// terminal control bytes, lower-case symbols, reordered extended-XYZ columns.
const HOSTILE: [&[u8]; 12] =
    [b"18446744073709551615", b"4294967295", b"100001", b"1e300", b"-1e200", b"1000001", b"\xef\xbb\xbf", b"\x1b[2J\x1b[H", b"\x07", b"h", b"Properties=charge:R:1:species:S:1:pos:R:3", b"\r\n"];

fn mutate_hostile(rng: &mut XorShift64, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(3) {
        let junk = HOSTILE[rng.below(HOSTILE.len())];
        // at a line start half the time (where counts and symbols live), anywhere otherwise
        let starts: Vec<usize> = std::iter::once(0).chain(v.iter().enumerate().filter(|(_, &b)| b == b'\n').map(|(i, _)| i + 1)).collect();
        let i = if rng.below(2) == 0 { starts[rng.below(starts.len())] } else { rng.below(v.len() + 1) };
        if rng.below(3) == 0 {
            // replace the token there
            let end = v[i.min(v.len())..].iter().position(|b| b.is_ascii_whitespace()).map_or(v.len(), |p| i + p);
            v.splice(i..end, junk.iter().copied());
        } else {
            v.splice(i..i, junk.iter().copied());
        }
    }
    v
}

/// A message quoting a file must not hold raw control or invisible characters.
fn assert_printable(msg: &str) {
    assert!(!msg.chars().any(|c| c.is_control() || c == '\u{feff}'), "unescaped bytes in {msg:?}");
}

#[test]
fn parsers_refuse_huge_counts_and_magnitudes_and_never_echo_control_bytes() {
    use molplay::io::{read_configurations, MAX_COORDINATE, MAX_XYZ_ATOMS};
    let frames: Vec<XyzFrame> =
        (0..3).map(|f| XyzFrame { elements: vec!["Ar".into(), "Ar".into()], positions: (0..6).map(|k| (k + f) as f64 * 0.7).collect(), comment: format!("frame {f}"), charges: None }).collect();
    let xyz = write_xyz(&frames, 3).into_bytes();
    let ext = b"2\nProperties=species:S:1:pos:R:3:charge:R:1 e=1\nAr 0 0 0 0.5\nAr 1 0 0 -0.5\n".to_vec();
    let npy = write_npy_f32(3, 6, &[0.5; 18]);
    let mut rng = XorShift64::new(0x1651_6e55_0bad_f11e);
    let (mut ok, mut err) = (0, 0);
    for k in 0..20_000 {
        let (name, seed) = match k % 3 {
            0 => ("a.xyz", &xyz),
            1 => ("b.extxyz", &ext),
            _ => ("c.npy", &npy),
        };
        let bytes = mutate_hostile(&mut rng, seed);
        match read_configurations(name, &bytes, 2, 3) {
            Ok(xs) => {
                assert!(xs.iter().all(|v| v.is_finite() && v.abs() <= MAX_COORDINATE), "{name}: {:?}", String::from_utf8_lossy(&bytes));
                ok += 1;
            }
            Err(e) => {
                assert_printable(&e.to_string());
                err += 1;
            }
        }
        if name != "c.npy" {
            match read_xyz(&String::from_utf8_lossy(&bytes)) {
                Ok(frames) => {
                    for f in &frames {
                        assert!(f.elements.len() <= MAX_XYZ_ATOMS && f.positions.len() == 3 * f.elements.len());
                        assert!(f.positions.iter().all(|v| v.abs() <= MAX_COORDINATE));
                        assert!(f.elements.iter().all(|e| e.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && e.chars().skip(1).all(|c| !c.is_ascii_uppercase())), "{:?}", f.elements);
                    }
                }
                Err(e) => assert_printable(&e.to_string()),
            }
        }
    }
    assert!(ok > 0 && err > 0, "the mutations exercised both outcomes ({ok} ok, {err} errors)");
}
