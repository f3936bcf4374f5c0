//! Helpers shared by the drift tests: one seeded generator for every simulation.

#![allow(dead_code, reason = "each test crate uses its own part")]

/// SplitMix64 (Steele, Lea and Flood 2014) with the distributions the drift tests draw
/// from: small, seeded, the same values on every platform.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1): never 0, so its logarithm is finite.
    pub(crate) fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller, one of the pair).
    pub(crate) fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Index drawn with the given probabilities (summing to 1).
    pub(crate) fn pick(&mut self, probabilities: &[f64]) -> usize {
        let u = self.uniform();
        let mut cumulative = 0.0;
        probabilities
            .iter()
            .position(|p| {
                cumulative += p;
                u < cumulative
            })
            .unwrap_or(probabilities.len() - 1)
    }
}
