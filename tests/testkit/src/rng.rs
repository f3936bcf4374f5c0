//! SplitMix64 and the distributions the tests and the load generator draw from.

/// The SplitMix64 increment (the golden ratio in 64 bits).
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64 (Steele, Lea and Flood 2014, the seeding generator of xoshiro): small, fast and
/// fully specified, so a seed gives the same values on every platform and version, which
/// `rand`'s `SmallRng` does not promise. Not for anything secret.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The generator of stream `index` of a run seeded with `seed` (the load generator's
    /// request `index`): what stream `i` draws does not depend on which thread draws it or
    /// when, and neighbouring indexes give unrelated streams.
    pub fn for_stream(seed: u64, index: u64) -> Self {
        let mut mixer = Self(seed ^ index.wrapping_mul(GOLDEN).rotate_left(17));
        Self(mixer.next_u64())
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`0` when `n` is 0); the modulo bias is below `n / 2⁶⁴`, negligible
    /// for the small `n` this is for.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in the open interval (0, 1): 53 random bits, never 0, so its logarithm is
    /// finite.
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal, by Box–Muller from two uniforms (one of the pair; the other is
    /// dropped so that each draw takes exactly two values of the stream).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// An index drawn with the given probabilities (which should sum to 1; the last index
    /// takes whatever rounding leaves over; 0 for an empty slice).
    pub fn pick(&mut self, probabilities: &[f64]) -> usize {
        let u = self.uniform();
        let mut cumulative = 0.0;
        probabilities
            .iter()
            .position(|p| {
                cumulative += p;
                u < cumulative
            })
            .unwrap_or(probabilities.len().saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::SplitMix64;

    const DRAWS: usize = 100_000;

    #[test]
    fn first_values_are_the_published_ones() {
        // The reference implementation's output (Vigna, splitmix64.c; also Java's
        // SplittableRandom) for seeds 0 and 1234567.
        let mut zero = SplitMix64::new(0);
        assert_eq!(
            [zero.next_u64(), zero.next_u64(), zero.next_u64()],
            [
                0xE220_A839_7B1D_CDAF,
                0x6E78_9E6A_A1B9_65F4,
                0x06C4_5D18_8009_454F
            ]
        );
        let mut seeded = SplitMix64::new(1_234_567);
        assert_eq!(
            [seeded.next_u64(), seeded.next_u64(), seeded.next_u64()],
            [
                6_457_827_717_110_365_317,
                3_203_168_211_198_807_973,
                9_817_491_932_198_370_423
            ]
        );
    }

    #[test]
    fn streams_are_deterministic_and_distinct() {
        let first = |seed, index| SplitMix64::for_stream(seed, index).next_u64();
        assert_eq!(first(1, 5), first(1, 5));
        assert_ne!(first(1, 5), first(1, 6));
        assert_ne!(first(1, 5), first(2, 5));
        // Pinned (computed apart, in Python): the load generator's rows for a seed must not
        // change under it.
        assert_eq!(first(1, 0), 0x5E41_AB08_7439_611E);
        assert_eq!(first(1, 5), 0x5378_3195_54CB_C891);
    }

    #[test]
    fn uniform_is_open_and_centred() {
        let mut rng = SplitMix64::new(7);
        let draws: Vec<f64> = (0..DRAWS).map(|_| rng.uniform()).collect();
        assert!(draws.iter().all(|u| *u > 0.0 && *u < 1.0));
        let mean = draws.iter().sum::<f64>() / DRAWS as f64;
        // Standard error 0.29/√N ≈ 0.0009: 0.005 is more than 5 of them.
        assert!((mean - 0.5).abs() < 0.005, "mean {mean}");
    }

    #[test]
    fn normals_have_mean_0_and_variance_1() {
        let mut rng = SplitMix64::new(42);
        let draws: Vec<f64> = (0..DRAWS).map(|_| rng.normal()).collect();
        assert!(draws.iter().all(|x| x.is_finite()));
        let mean = draws.iter().sum::<f64>() / DRAWS as f64;
        let variance = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (DRAWS - 1) as f64;
        // Standard errors over 100 000 draws: 0.0032 for the mean, √(2/N) ≈ 0.0045 for the
        // variance; the tolerances are about 4 of them.
        assert!(mean.abs() < 0.013, "mean {mean}");
        assert!((variance - 1.0).abs() < 0.018, "variance {variance}");
        // The tails are there: about 0.27 % beyond 3 standard deviations.
        let beyond_3 = draws.iter().filter(|x| x.abs() > 3.0).count() as f64 / DRAWS as f64;
        assert!((0.0017..0.0037).contains(&beyond_3), "{beyond_3}");
    }

    #[test]
    fn below_and_pick_follow_their_weights() {
        let mut rng = SplitMix64::new(3);
        let zeros = (0..DRAWS).filter(|_| rng.below(3) == 0).count() as f64 / DRAWS as f64;
        assert!((zeros - 1.0 / 3.0).abs() < 0.01, "{zeros}");
        assert_eq!(rng.below(0), 0);
        let weights = [0.7, 0.2, 0.1];
        let mut counts = [0usize; 3];
        for _ in 0..DRAWS {
            counts[rng.pick(&weights)] += 1;
        }
        for (count, weight) in counts.iter().zip(weights) {
            let share = *count as f64 / DRAWS as f64;
            assert!((share - weight).abs() < 0.01, "{counts:?}");
        }
        assert_eq!(rng.pick(&[]), 0);
    }
}
