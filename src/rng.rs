//! A small deterministic generator (xorshift64) for presets, benchmark workloads and tests:
//! identical sequences natively and in wasm, no dependency. Not for cryptography, and not the
//! samplers' noise source (those get their own counter-based generator on the GPU).

#[derive(Clone, Debug)]
pub struct XorShift64(u64);

impl XorShift64 {
    /// Any seed works (0 included): it is scrambled and forced odd.
    pub fn new(seed: u64) -> Self {
        XorShift64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
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
}
