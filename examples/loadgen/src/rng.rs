//! SplitMix64: small, fast, deterministic, good enough to pick test traffic. Each request
//! gets its own generator seeded from the run seed and its index, so the rows of request `i`
//! do not depend on which worker sends it or when.

/// SplitMix64 (Steele, Lea, Flood 2014), the seeding generator of xoshiro.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

impl SplitMix64 {
    #[cfg(test)]
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The generator of request `index` of a run seeded with `seed`.
    pub(crate) fn for_request(seed: u64, index: u64) -> Self {
        let mut mixer = Self(seed ^ index.wrapping_mul(GOLDEN).rotate_left(17));
        Self(mixer.next_u64())
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`); the modulo bias is below 2⁻⁵⁰ for the small `n` used here.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::SplitMix64;

    #[test]
    fn deterministic_and_roughly_uniform() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        assert_eq!(a.next_u64(), b.next_u64());
        assert_eq!(
            SplitMix64::for_request(1, 5).next_u64(),
            SplitMix64::for_request(1, 5).next_u64()
        );
        assert_ne!(
            SplitMix64::for_request(1, 5).next_u64(),
            SplitMix64::for_request(1, 6).next_u64()
        );
        let n = 100_000;
        assert!(
            ((0..n).map(|_| a.below(3)).filter(|k| *k == 0).count() as f64 / n as f64 - 1.0 / 3.0)
                .abs()
                < 0.01
        );
    }
}
