//! A small deterministic generator (xorshift64) for presets, benchmark workloads and tests:
//! identical sequences natively and in wasm, no dependency. Not for cryptography, and not the
//! samplers' noise source (those get their own counter-based generator on the GPU).

#[derive(Clone, Debug)]
pub struct XorShift64(u64);

/// Why a generator state was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum RngError {
    /// 0, which no generator reaches (xorshift stays at 0 forever): a corrupt checkpoint.
    #[error("a xorshift state cannot be 0")]
    ZeroState,
}

impl XorShift64 {
    /// Any seed works (0 included): it is scrambled and forced odd.
    pub fn new(seed: u64) -> Self {
        XorShift64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The generator's whole state (for an exact checkpoint).
    pub fn state(&self) -> u64 {
        self.0
    }

    /// A generator that continues from [`state`](Self::state); refuses 0, which no generator
    /// reaches (xorshift stays at 0 forever).
    pub fn from_state(state: u64) -> Result<Self, RngError> {
        if state == 0 {
            return Err(RngError::ZeroState);
        }
        Ok(XorShift64(state))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in the open interval (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Uniform in [0, n).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        (-2.0 * self.uniform().ln()).sqrt() * (std::f64::consts::TAU * self.uniform()).cos()
    }
}

/// Philox4x32-10 (Salmon et al., SC'11), the counter-based generator of the samplers: the
/// same function runs in WGSL (`shaders/philox.wgsl`), so a GPU pass and its CPU twin draw
/// identical random numbers for the same (key, counter) without carrying generator state.
pub fn philox4x32(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    const M0: u64 = 0xD251_1F53;
    const M1: u64 = 0xCD9E_8D57;
    let (mut c, mut k) = (counter, key);
    for round in 0..10 {
        if round > 0 {
            k[0] = k[0].wrapping_add(0x9E37_79B9);
            k[1] = k[1].wrapping_add(0xBB67_AE85);
        }
        let p0 = M0 * c[0] as u64;
        let p1 = M1 * c[2] as u64;
        c = [((p1 >> 32) as u32) ^ c[1] ^ k[0], p1 as u32, ((p0 >> 32) as u32) ^ c[3] ^ k[1], p0 as u32];
    }
    c
}

/// A u32 mapped to the open interval (0, 1) with 24 bits, exactly as the WGSL twin does (the
/// value is exact in f32, so both sides start from the same number).
pub fn unit_open(u: u32) -> f64 {
    ((u >> 8) as f64 + 0.5) / (1u32 << 24) as f64
}

/// Four standard normals from one Philox block (two Box–Muller pairs).
pub fn philox_normals(counter: [u32; 4], key: [u32; 2]) -> [f64; 4] {
    let r = philox4x32(counter, key);
    let pair = |a: u32, b: u32| {
        let rad = (-2.0 * unit_open(a).ln()).sqrt();
        let th = std::f64::consts::TAU * unit_open(b);
        (rad * th.cos(), rad * th.sin())
    };
    let (z0, z1) = pair(r[0], r[1]);
    let (z2, z3) = pair(r[2], r[3]);
    [z0, z1, z2, z3]
}

/// The key for a 64-bit seed.
pub fn philox_key(seed: u64) -> [u32; 2] {
    [seed as u32, (seed >> 32) as u32]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_are_right_and_sequences_repeat() {
        let mut r = XorShift64::new(5);
        let n = 100_000;
        let (mut s, mut s2) = (0.0, 0.0);
        for _ in 0..n {
            let z = r.normal();
            s += z;
            s2 += z * z;
        }
        assert!((s / n as f64).abs() < 0.02 && (s2 / n as f64 - 1.0).abs() < 0.02);
        let u: Vec<f64> = (0..1000).map(|_| r.uniform()).collect();
        assert!(u.iter().all(|&v| v > 0.0 && v < 1.0));
        assert_eq!(XorShift64::new(9).next_u64(), XorShift64::new(9).next_u64());
    }

    #[test]
    fn philox_matches_the_random123_known_answers() {
        assert_eq!(philox4x32([0; 4], [0; 2]), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
        assert_eq!(philox4x32([u32::MAX; 4], [u32::MAX; 2]), [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
        assert_eq!(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]), [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]);
    }

    #[test]
    fn philox_normals_have_unit_moments() {
        let key = philox_key(3);
        let (mut s, mut s2, mut s4, mut n) = (0.0, 0.0, 0.0, 0.0);
        for i in 0..50_000u32 {
            for z in philox_normals([i, 1, 2, 0], key) {
                s += z;
                s2 += z * z;
                s4 += z * z * z * z;
                n += 1.0;
            }
        }
        assert!((s / n).abs() < 0.01 && (s2 / n - 1.0).abs() < 0.01 && (s4 / n - 3.0).abs() < 0.05);
    }
}
