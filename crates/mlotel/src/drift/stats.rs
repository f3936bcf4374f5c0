//! Drift statistics between a reference distribution and a window of observations, over the
//! same bins.
//!
//! Every function takes distributions as slices over the **same bins, in the same order**:
//! `reference` and `current` are proportions (each sums to 1; zero entries are allowed).
//! Numeric features have ordered value bins plus a missing-value bin; the caller leaves the
//! missing-value bin out for the order-dependent statistics ([`kolmogorov_smirnov`],
//! [`wasserstein`], [`wasserstein_normed`]). Categorical features are unordered and only get
//! the order-free statistics (see [`DriftMethod::applies_to_categorical`]).
//!
//! The values agree with scipy on the same binned data to 1e-9: `scripts/drift_fixtures.py`
//! writes `tests/fixtures/drift/stats.json` and `crates/mlotel/tests/drift_stats.rs` checks
//! every function against it.
//!
//! # Edge cases (no function panics)
//!
//! * Both inputs empty: the statistic is 0 and the p-value 1 (no evidence of drift).
//! * Slices of different lengths: the statistic and the p-value are NaN. Mismatched lengths
//!   mean the window was binned differently from the reference (a programming error);
//!   comparing a common prefix would return a plausible-looking but meaningless number, while
//!   NaN is visibly wrong in every exporter and [`DriftMethod::is_drift`] never flags it.
//! * Negative or NaN proportions are not checked for; they give NaN or meaningless values.

use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Zero proportions are raised to this in PSI (as Evidently does) and chi-square expectations.
pub const PROPORTION_FLOOR: f64 = 1e-4;

/// A test statistic with its p-value (the probability, under "no drift", of a statistic at
/// least this large).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestResult {
    /// The test statistic (KS: D; chi-square: Pearson's X²).
    pub statistic: f64,
    /// The p-value, in `[0, 1]`.
    pub p_value: f64,
}

impl TestResult {
    /// "No evidence": statistic 0, p-value 1.
    const NONE: TestResult = TestResult {
        statistic: 0.0,
        p_value: 1.0,
    };
    /// The result for mismatched inputs.
    const NAN: TestResult = TestResult {
        statistic: f64::NAN,
        p_value: f64::NAN,
    };
}

fn floored(p: f64) -> f64 {
    if p == 0.0 { PROPORTION_FLOOR } else { p }
}

/// Population Stability Index:
/// `PSI = Σ_i (c_i − r_i) · ln(c_i / r_i)`, where every zero `r_i` and `c_i` is first raised
/// to [`PROPORTION_FLOOR`] (no renormalisation), exactly as Evidently's `psi` stat test does.
///
/// Always ≥ 0 for proportions. Empty inputs give 0; different lengths give NaN.
pub fn psi(reference: &[f64], current: &[f64]) -> f64 {
    if reference.len() != current.len() {
        return f64::NAN;
    }
    reference
        .iter()
        .zip(current)
        .map(|(&r, &c)| {
            let (r, c) = (floored(r), floored(c));
            (c - r) * (c / r).ln()
        })
        .sum()
}

/// `x · log(x / y)` with scipy's `rel_entr` conventions (0 when `x == 0`).
fn rel_entr(x: f64, y: f64) -> f64 {
    if x > 0.0 && y > 0.0 {
        x * (x / y).ln()
    } else if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// Jensen-Shannon distance, base 2, in `[0, 1]`:
/// `sqrt((KL(p ‖ m) + KL(q ‖ m)) / 2)` with `m = (p + q) / 2`, logarithms base 2, after `p`
/// and `q` are each normalised to sum 1 — exactly
/// `scipy.spatial.distance.jensenshannon(reference, current, base=2)`.
///
/// Empty or all-zero inputs give 0 (scipy gives NaN); different lengths give NaN.
pub fn jensen_shannon_distance(reference: &[f64], current: &[f64]) -> f64 {
    if reference.len() != current.len() {
        return f64::NAN;
    }
    let (sr, sc): (f64, f64) = (reference.iter().sum(), current.iter().sum());
    if !(sr > 0.0 && sc > 0.0) {
        return 0.0;
    }
    let js: f64 = reference
        .iter()
        .zip(current)
        .map(|(&r, &c)| {
            let (p, q) = (r / sr, c / sc);
            let m = (p + q) / 2.0;
            rel_entr(p, m) + rel_entr(q, m)
        })
        .sum();
    (js / std::f64::consts::LN_2 / 2.0).max(0.0).sqrt().min(1.0)
}

/// The survival function of the Kolmogorov distribution (scipy's `kolmogorov(λ)`, equal to
/// `kstwobign.sf(λ)`): `Q(λ) = 2 Σ_{k≥1} (−1)^{k−1} exp(−2k²λ²)`.
///
/// That series converges slowly for small λ, so below λ = 0.82 (scipy's `KOLMOG_CUTOVER`)
/// the CDF is computed from the Jacobi theta form
/// `P(λ) = sqrt(2π)/λ · Σ_{k≥1} exp(−(2k−1)²π²/(8λ²))` and `Q = 1 − P`. Four terms of either
/// series reach double precision on its side of the cut-over (the same unrolled evaluation as
/// scipy's `xsf/cephes/kolmogorov.h`).
fn kolmogorov_sf(x: f64) -> f64 {
    use std::f64::consts::PI;
    if x.is_nan() {
        return f64::NAN;
    }
    // Below π / sqrt(8 · 708.4) the CDF underflows to 0.
    if x <= PI / (-8.0 * f64::MIN_POSITIVE.ln()).sqrt() {
        return 1.0;
    }
    let sf = if x <= 0.82 {
        // u = exp(−π²/(8x²)); P = sqrt(2π)/x · u · (1 + u⁸ + u²⁴ + u⁴⁸).
        let w = (2.0 * PI).sqrt() / x;
        let logu8 = -PI * PI / (x * x);
        let u = (logu8 / 8.0).exp();
        let p = if u == 0.0 {
            (logu8 / 8.0 + w.ln()).exp()
        } else {
            let u8 = logu8.exp();
            let mut p = 1.0;
            p = 1.0 + u8.powi(3) * p;
            p = 1.0 + u8 * u8 * p;
            p = 1.0 + u8 * p;
            w * u * p
        };
        1.0 - p
    } else {
        // v = exp(−2x²); Q = 2v(1 − v³(1 − v⁵(1 − v⁷))).
        let v = (-2.0 * x * x).exp();
        let v3 = v.powi(3);
        let mut p = 1.0;
        p = 1.0 - v3 * v3 * v * p;
        p = 1.0 - v3 * v * v * p;
        p = 1.0 - v3 * p;
        2.0 * v * p
    };
    sf.clamp(0.0, 1.0)
}

/// Two-sample Kolmogorov-Smirnov test on ordered bins.
///
/// `D = max_i |R_i − C_i|`, where `R` and `C` are the cumulative sums of `reference` and
/// `current` (each normalised to sum 1): this equals `scipy.stats.ks_2samp` on samples made of
/// the bin indices repeated by their counts. The p-value is the asymptotic one,
/// `Q(sqrt(en) · D)` with `en = n·m / (n + m)`, `n = reference_count`, `m = current_count`
/// and `Q` the Kolmogorov survival function (`scipy.stats.kstwobign.sf`), clamped to `[0, 1]`.
/// Binning makes the test conservative (ties can only lower D).
///
/// Leave the missing-value bin out: this needs ordered bins. With no observations on either
/// side (a count of 0, or empty slices) the result is D = 0, p = 1; different lengths give NaN.
pub fn kolmogorov_smirnov(
    reference: &[f64],
    current: &[f64],
    reference_count: u64,
    current_count: u64,
) -> TestResult {
    if reference.len() != current.len() {
        return TestResult::NAN;
    }
    let (sr, sc): (f64, f64) = (reference.iter().sum(), current.iter().sum());
    if reference_count == 0 || current_count == 0 || !(sr > 0.0 && sc > 0.0) {
        return TestResult::NONE;
    }
    let (mut cr, mut cc, mut d) = (0.0_f64, 0.0_f64, 0.0_f64);
    for (&r, &c) in reference.iter().zip(current) {
        cr += r;
        cc += c;
        d = d.max((cr / sr - cc / sc).abs());
    }
    let (n, m) = (reference_count as f64, current_count as f64);
    let en = n * m / (n + m);
    TestResult {
        statistic: d,
        p_value: kolmogorov_sf(en.sqrt() * d),
    }
}

/// First Wasserstein (earth mover's) distance between two weighted distributions on the same
/// ascending bin `centres`: `W = Σ_{i<k−1} |R_i − C_i| · (x_{i+1} − x_i)` with `R`, `C` the
/// cumulative sums of the weights normalised to sum 1 — exactly
/// `scipy.stats.wasserstein_distance(centres, centres, reference, current)`. In the units of
/// the feature.
///
/// Leave the missing-value bin out. Empty or all-zero inputs give 0; different lengths of the
/// three slices give NaN.
pub fn wasserstein(centres: &[f64], reference: &[f64], current: &[f64]) -> f64 {
    if reference.len() != current.len() || centres.len() != reference.len() {
        return f64::NAN;
    }
    let (sr, sc): (f64, f64) = (reference.iter().sum(), current.iter().sum());
    if !(sr > 0.0 && sc > 0.0) {
        return 0.0;
    }
    let (mut cr, mut cc, mut w) = (0.0_f64, 0.0_f64, 0.0_f64);
    for i in 0..centres.len().saturating_sub(1) {
        cr += reference[i];
        cc += current[i];
        w += (cr / sr - cc / sc).abs() * (centres[i + 1] - centres[i]);
    }
    w
}

/// Normalised Wasserstein distance, Evidently's "Wasserstein distance (normed)":
/// [`wasserstein`]` / reference_std`, scale-free (in reference standard deviations).
///
/// When `reference_std` is not finite or `<= 0` the distance is divided by 1 instead: a
/// constant feature has no scale to normalise by, and any movement away from the constant is
/// then reported in the feature's own units rather than as infinity or NaN. (Evidently divides
/// by `max(std, 0.001)`, which turns a tiny move of a constant feature into a huge value.)
///
/// Evidently computes the distance on raw samples; this one is on bin centres, so it is the
/// binned approximation of that value.
pub fn wasserstein_normed(
    centres: &[f64],
    reference: &[f64],
    current: &[f64],
    reference_std: f64,
) -> f64 {
    let w = wasserstein(centres, reference, current);
    if reference_std.is_finite() && reference_std > 0.0 {
        w / reference_std
    } else {
        w
    }
}

/// Pearson's chi-square goodness-of-fit test of the current counts against the reference
/// proportions.
///
/// `expected_i = n · r'_i`, where `r'` is `reference` with zero entries raised to
/// [`PROPORTION_FLOOR`] and then renormalised to sum 1, and `n = Σ current_counts`;
/// `X² = Σ (o_i − e_i)² / e_i`, `df = bins − 1`, `p = P(χ²_df ≥ X²)` (statrs' survival
/// function, accurate for tiny p-values). Equals `scipy.stats.chisquare(current_counts,
/// expected)`.
///
/// With `n == 0` or fewer than 2 bins: statistic 0, p-value 1. Different lengths give NaN.
pub fn chi_square(reference: &[f64], current_counts: &[u64]) -> TestResult {
    if reference.len() != current_counts.len() {
        return TestResult::NAN;
    }
    let n: u64 = current_counts.iter().sum();
    if n == 0 || reference.len() < 2 {
        return TestResult::NONE;
    }
    let total: f64 = reference.iter().map(|&r| floored(r)).sum();
    let n = n as f64;
    let statistic: f64 = reference
        .iter()
        .zip(current_counts)
        .map(|(&r, &o)| {
            let e = n * floored(r) / total;
            let d = o as f64 - e;
            d * d / e
        })
        .sum();
    let df = (reference.len() - 1) as f64;
    let p_value = match ChiSquared::new(df) {
        Ok(dist) if statistic.is_finite() => dist.sf(statistic).clamp(0.0, 1.0),
        _ => f64::NAN,
    };
    TestResult { statistic, p_value }
}

/// A drift statistic, as named in the `ml.drift.method` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DriftMethod {
    /// Population Stability Index ([`psi`]).
    Psi,
    /// Jensen-Shannon distance, base 2 ([`jensen_shannon_distance`]).
    JensenShannon,
    /// Kolmogorov-Smirnov D ([`kolmogorov_smirnov`]'s statistic).
    KolmogorovSmirnov,
    /// Kolmogorov-Smirnov p-value ([`kolmogorov_smirnov`]'s p-value).
    KolmogorovSmirnovPValue,
    /// Normalised Wasserstein distance ([`wasserstein_normed`]).
    Wasserstein,
    /// Pearson's chi-square statistic ([`chi_square`]'s statistic).
    ChiSquare,
    /// Pearson's chi-square p-value ([`chi_square`]'s p-value).
    ChiSquarePValue,
}

impl DriftMethod {
    /// Every method, in declaration order.
    pub const ALL: [DriftMethod; 7] = [
        DriftMethod::Psi,
        DriftMethod::JensenShannon,
        DriftMethod::KolmogorovSmirnov,
        DriftMethod::KolmogorovSmirnovPValue,
        DriftMethod::Wasserstein,
        DriftMethod::ChiSquare,
        DriftMethod::ChiSquarePValue,
    ];

    /// The `ml.drift.method` attribute value: `psi`, `jensenshannon`, `ks`, `ks_pvalue`,
    /// `wasserstein_normed`, `chisquare`, `chisquare_pvalue`.
    pub fn name(self) -> &'static str {
        match self {
            DriftMethod::Psi => "psi",
            DriftMethod::JensenShannon => "jensenshannon",
            DriftMethod::KolmogorovSmirnov => "ks",
            DriftMethod::KolmogorovSmirnovPValue => "ks_pvalue",
            DriftMethod::Wasserstein => "wasserstein_normed",
            DriftMethod::ChiSquare => "chisquare",
            DriftMethod::ChiSquarePValue => "chisquare_pvalue",
        }
    }

    /// The method with this [`name`](Self::name), if any (exact, case-sensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The default drift threshold.
    ///
    /// * `psi` 0.1, `jensenshannon` 0.1, `wasserstein_normed` 0.1, `ks_pvalue` 0.05,
    ///   `chisquare_pvalue` 0.05: Evidently's defaults for these stat tests
    ///   (`evidently/calculations/stattests/*.py`, `default_threshold`).
    /// * `ks` (the bare D) 0.1: D has no scale-free null threshold (its null distribution
    ///   shrinks as `1/sqrt(en)`), so 0.1 is an effect size — the two CDFs differ by at least
    ///   10 percentage points somewhere, the same 0.1 Evidently uses for its distances. It is
    ///   also the asymptotic 5 % critical value `c(0.05)·sqrt(1/en) = 1.358/sqrt(en)` at
    ///   `en ≈ 184` (Smirnov's asymptotic formula, e.g. Wikipedia "Kolmogorov–Smirnov test",
    ///   two-sample), so windows of a few hundred observations against a large reference
    ///   rarely cross it by chance. Use `ks_pvalue` for a test at a fixed level.
    /// * `chisquare` (the bare X²) 18.307: the 5 % critical value of χ² with 10 degrees of
    ///   freedom, i.e. the same test as `chisquare_pvalue` at 0.05 for the default numeric
    ///   profile (10 decile bins + the missing-value bin = 11 bins). X²'s null distribution
    ///   does not depend on the window size but does depend on the number of bins, so for
    ///   other bin counts (categorical features) use `chisquare_pvalue`.
    pub fn default_threshold(self) -> f64 {
        match self {
            DriftMethod::Psi | DriftMethod::JensenShannon | DriftMethod::Wasserstein => 0.1,
            DriftMethod::KolmogorovSmirnov => 0.1,
            DriftMethod::KolmogorovSmirnovPValue | DriftMethod::ChiSquarePValue => 0.05,
            DriftMethod::ChiSquare => 18.307_038_053_275_15,
        }
    }

    /// Whether the value is a p-value (small means drift) rather than a distance (large means
    /// drift).
    pub fn is_p_value(self) -> bool {
        matches!(
            self,
            DriftMethod::KolmogorovSmirnovPValue | DriftMethod::ChiSquarePValue
        )
    }

    /// Whether `value` signals drift at `threshold`: p-values when `value < threshold`,
    /// distances and statistics when `value >= threshold`. NaN (value or threshold) is never
    /// drift.
    pub fn is_drift(self, value: f64, threshold: f64) -> bool {
        if self.is_p_value() {
            value < threshold
        } else {
            value >= threshold
        }
    }

    /// Whether the method makes sense for unordered (categorical) bins: false for
    /// Kolmogorov-Smirnov and Wasserstein, which need ordered bins.
    pub fn applies_to_categorical(self) -> bool {
        !matches!(
            self,
            DriftMethod::KolmogorovSmirnov
                | DriftMethod::KolmogorovSmirnovPValue
                | DriftMethod::Wasserstein
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_inputs_are_no_drift() {
        assert_eq!(psi(&[], &[]), 0.0);
        assert_eq!(jensen_shannon_distance(&[], &[]), 0.0);
        assert_eq!(kolmogorov_smirnov(&[], &[], 0, 0), TestResult::NONE);
        assert_eq!(
            kolmogorov_smirnov(&[0.5, 0.5], &[1.0, 0.0], 10, 0),
            TestResult::NONE
        );
        assert_eq!(wasserstein(&[], &[], &[]), 0.0);
        assert_eq!(wasserstein_normed(&[], &[], &[], 1.0), 0.0);
        assert_eq!(chi_square(&[], &[]), TestResult::NONE);
        assert_eq!(chi_square(&[0.5, 0.5], &[0, 0]), TestResult::NONE);
        assert_eq!(chi_square(&[1.0], &[7]), TestResult::NONE);
    }

    #[test]
    fn mismatched_lengths_are_nan_and_never_drift() {
        let (r, c) = ([0.5, 0.5], [0.2, 0.3, 0.5]);
        let values = [
            psi(&r, &c),
            jensen_shannon_distance(&r, &c),
            kolmogorov_smirnov(&r, &c, 10, 10).statistic,
            kolmogorov_smirnov(&r, &c, 10, 10).p_value,
            wasserstein(&[0.0, 1.0], &r, &c),
            wasserstein(&[0.0, 1.0, 2.0], &r, &r),
            wasserstein_normed(&[0.0, 1.0], &r, &c, 1.0),
            chi_square(&r, &[1, 2, 3]).statistic,
            chi_square(&r, &[1, 2, 3]).p_value,
        ];
        for v in values {
            assert!(v.is_nan());
            for m in DriftMethod::ALL {
                assert!(!m.is_drift(v, m.default_threshold()));
            }
        }
    }

    #[test]
    fn identical_distributions_are_zero() {
        let r = [0.1, 0.0, 0.4, 0.5];
        assert_eq!(psi(&r, &r), 0.0);
        assert_eq!(jensen_shannon_distance(&r, &r), 0.0);
        let ks = kolmogorov_smirnov(&r, &r, 100, 100);
        assert_eq!((ks.statistic, ks.p_value), (0.0, 1.0));
        assert_eq!(wasserstein(&[0.0, 1.0, 2.0, 3.0], &r, &r), 0.0);
    }

    #[test]
    fn psi_floors_zero_proportions() {
        let expected = (1.0 - PROPORTION_FLOOR) * (1.0 / PROPORTION_FLOOR).ln()
            + (PROPORTION_FLOOR - 1.0) * (PROPORTION_FLOOR / 1.0).ln();
        assert!((psi(&[0.0, 1.0], &[1.0, 0.0]) - expected).abs() < 1e-12);
    }

    #[test]
    fn disjoint_supports_have_js_distance_one() {
        assert!((jensen_shannon_distance(&[1.0, 0.0], &[0.0, 1.0]) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn kolmogorov_sf_matches_known_values() {
        // scipy.stats.kstwobign.sf
        for (x, sf) in [
            (0.05, 1.0),
            (0.3, 0.999_990_694_198_665_5),
            (0.82, 0.511_971_705_298_497_3),
            (1.0, 0.269_999_671_677_354_56),
            (1.358, 0.050_026_797_334_446_98),
            (3.0, 3.045_995_948_942_526e-8),
        ] {
            let got = kolmogorov_sf(x);
            assert!((got - sf).abs() <= 1e-14, "Q({x}) = {got}, scipy {sf}");
        }
        assert!(kolmogorov_sf(f64::NAN).is_nan());
        assert_eq!(kolmogorov_sf(0.0), 1.0);
        assert_eq!(kolmogorov_sf(40.0), 0.0);
    }

    #[test]
    fn wasserstein_normed_divides_by_one_without_scale() {
        let (x, r, c) = ([0.0, 2.0], [1.0, 0.0], [0.0, 1.0]);
        assert_eq!(wasserstein(&x, &r, &c), 2.0);
        assert_eq!(wasserstein_normed(&x, &r, &c, 4.0), 0.5);
        for std in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(wasserstein_normed(&x, &r, &c, std), 2.0);
        }
    }

    #[test]
    fn method_names_round_trip() {
        let names: Vec<_> = DriftMethod::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(
            names,
            [
                "psi",
                "jensenshannon",
                "ks",
                "ks_pvalue",
                "wasserstein_normed",
                "chisquare",
                "chisquare_pvalue"
            ]
        );
        for m in DriftMethod::ALL {
            assert_eq!(DriftMethod::from_name(m.name()), Some(m));
        }
        assert_eq!(DriftMethod::from_name("PSI"), None);
    }

    #[test]
    fn drift_direction_and_applicability() {
        assert!(DriftMethod::KolmogorovSmirnovPValue.is_drift(0.01, 0.05));
        assert!(!DriftMethod::KolmogorovSmirnovPValue.is_drift(0.05, 0.05));
        assert!(DriftMethod::Psi.is_drift(0.1, 0.1));
        assert!(!DriftMethod::Psi.is_drift(0.09, 0.1));
        assert!(!DriftMethod::Psi.is_drift(0.2, f64::NAN));
        let categorical: Vec<_> = DriftMethod::ALL
            .into_iter()
            .filter(|m| m.applies_to_categorical())
            .map(DriftMethod::name)
            .collect();
        assert_eq!(
            categorical,
            ["psi", "jensenshannon", "chisquare", "chisquare_pvalue"]
        );
    }
}
