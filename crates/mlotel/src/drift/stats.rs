//! Drift statistics between a reference distribution and a window of observations, over the
//! same bins.
//!
//! Every function takes distributions as slices over the **same bins, in the same order**:
//! `reference` and `current` are proportions (each sums to 1; zero entries are allowed).
//! Numeric features have ordered value bins plus a missing-value bin; the caller leaves the
//! missing-value bin out for the order-dependent statistics ([`kolmogorov_smirnov`],
//! [`wasserstein_interpolated`], [`wasserstein`], [`wasserstein_normed`]).
//! [`chi_square_two_sample`] takes counts, the reference's and the window's. Categorical features are unordered and only get
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
/// binned approximation of that value, and its outer centres move with the reference's
/// single smallest and largest values. The engine reports
/// [`wasserstein_interpolated_normed`] instead.
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
/// proportions, taken as exact.
///
/// `expected_i = n · r'_i`, where `r'` is `reference` with zero entries raised to
/// [`PROPORTION_FLOOR`] and then renormalised to sum 1, and `n = Σ current_counts`;
/// `X² = Σ (o_i − e_i)² / e_i`, `df = bins − 1`, `p = P(χ²_df ≥ X²)` (statrs' survival
/// function, accurate for tiny p-values). Equals `scipy.stats.chisquare(current_counts,
/// expected)`.
///
/// The drift engine does not use this test: a reference fitted from `m` rows is itself a
/// sample, and treating its proportions as exact makes the test fire more often than its
/// level as `n / m` grows. It uses [`chi_square_two_sample`].
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
    with_p_value(statistic, reference.len() - 1)
}

/// `statistic` with its upper-tail p-value under χ² with `df` degrees of freedom.
fn with_p_value(statistic: f64, df: usize) -> TestResult {
    let p_value = match ChiSquared::new(df as f64) {
        Ok(dist) if statistic.is_finite() => dist.sf(statistic).clamp(0.0, 1.0),
        _ => f64::NAN,
    };
    TestResult { statistic, p_value }
}

/// Pearson's chi-square test of homogeneity between two samples of counts over the same
/// bins (a 2 × k contingency table): is the window drawn from the same distribution as the
/// reference sample?
///
/// Bins empty on both sides are dropped; over the `k` bins left,
/// `E_si = N_s · (a_i + b_i) / (M + N)` for side `s` (reference counts `a`, total `M`;
/// current counts `b`, total `N`), `X² = Σ_s Σ_i (O_si − E_si)² / E_si`,
/// `df = k − 1`, `p = P(χ²_df ≥ X²)`. Equals
/// `scipy.stats.chi2_contingency([a, b], correction=False)` on the bins left.
///
/// Unlike [`chi_square`] it accounts for the reference being a sample of `M` rows, so its
/// false-alarm rate stays at its level whatever `N / M`; and a bin the reference never used
/// (missing values, an unseen category) counts: a window whose values all fall there is
/// drift, not "no evidence".
///
/// Either total 0, or fewer than 2 bins left: statistic 0, p-value 1. Different lengths
/// give NaN.
pub fn chi_square_two_sample(reference_counts: &[u64], current_counts: &[u64]) -> TestResult {
    if reference_counts.len() != current_counts.len() {
        return TestResult::NAN;
    }
    let m: u64 = reference_counts.iter().sum();
    let n: u64 = current_counts.iter().sum();
    let used = reference_counts
        .iter()
        .zip(current_counts)
        .filter(|&(&a, &b)| a + b > 0)
        .count();
    if m == 0 || n == 0 || used < 2 {
        return TestResult::NONE;
    }
    let (m, n) = (m as f64, n as f64);
    let total = m + n;
    let statistic: f64 = reference_counts
        .iter()
        .zip(current_counts)
        .filter(|&(&a, &b)| a + b > 0)
        .map(|(&a, &b)| {
            let column = (a + b) as f64;
            let (ea, eb) = (m * column / total, n * column / total);
            let (da, db) = (a as f64 - ea, b as f64 - eb);
            da * da / ea + db * db / eb
        })
        .sum();
    with_p_value(statistic, used - 1)
}

/// First Wasserstein distance between the reference and the window of a numeric feature,
/// from the reference's bin edges and the two distributions over the value bins, with each
/// side's values spread within a bin as the reference's are:
///
/// * inner bin `[e_{i−1}, e_i)`: both CDFs linear across the bin (the reference's values
///   uniform within it), so `∫|F_r − F_c|` over the bin is that of a linear function:
///   `w·(|d₀| + |d₁|)/2` without a sign change, `w·(d₀² + d₁²)/(2(|d₀| + |d₁|))` with one
///   (`d₀`, `d₁` the CDF differences at its ends, `w` its width);
/// * outer bins: open, so the window's values there are taken to be spread like the
///   reference's; then `F_c = F_r · c₀/r₀` below `e₀` and the bin adds
///   `|r₀ − c₀| · (e₀ − μ_low)`, where `μ_low` is the reference's mean below `e₀`
///   (`tail_means[0]`); likewise `|r_k − c_k| · (μ_high − e_last)` above.
///
/// In the units of the feature. `reference` and `current` are the value-bin proportions
/// (each normalised to sum 1 here), `edges.len() + 1` of them. It depends on the reference
/// only through its quantiles and tail means, not through its single most extreme values
/// (as bin centres closed by min and max do, see [`wasserstein`]); its error against
/// `scipy.stats.wasserstein_distance` on the raw samples is in docs/drift.md.
///
/// Without edges (a single value bin) or with empty inputs: 0. Lengths that do not match
/// the edges give NaN.
pub fn wasserstein_interpolated(
    edges: &[f64],
    tail_means: [f64; 2],
    reference: &[f64],
    current: &[f64],
) -> f64 {
    if reference.len() != current.len() || reference.len() != edges.len() + 1 {
        return f64::NAN;
    }
    let (sr, sc): (f64, f64) = (reference.iter().sum(), current.iter().sum());
    if edges.is_empty() || !(sr > 0.0 && sc > 0.0) {
        return 0.0;
    }
    let last = edges.len();
    let (r0, c0) = (reference[0] / sr, current[0] / sc);
    let (rk, ck) = (reference[last] / sr, current[last] / sc);
    let mut w = (r0 - c0).abs() * (edges[0] - tail_means[0]).max(0.0)
        + (rk - ck).abs() * (tail_means[1] - edges[last - 1]).max(0.0);
    // The CDF difference at the edge below the current inner bin.
    let mut d0 = r0 - c0;
    let (mut cr, mut cc) = (r0, c0);
    for i in 1..last {
        cr += reference[i] / sr;
        cc += current[i] / sc;
        let d1 = cr - cc;
        let width = edges[i] - edges[i - 1];
        let (a0, a1) = (d0.abs(), d1.abs());
        w += if d0 * d1 >= 0.0 {
            width * (a0 + a1) / 2.0
        } else {
            width * (a0 * a0 + a1 * a1) / (2.0 * (a0 + a1))
        };
        d0 = d1;
    }
    w
}

/// [`wasserstein_interpolated`] divided by `reference_std` (in reference standard
/// deviations), with [`wasserstein_normed`]'s rule for a reference without a scale. This is
/// the engine's `wasserstein_normed`.
pub fn wasserstein_interpolated_normed(
    edges: &[f64],
    tail_means: [f64; 2],
    reference: &[f64],
    current: &[f64],
    reference_std: f64,
) -> f64 {
    let w = wasserstein_interpolated(edges, tail_means, reference, current);
    if reference_std.is_finite() && reference_std > 0.0 {
        w / reference_std
    } else {
        w
    }
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
    /// Normalised Wasserstein distance ([`wasserstein_interpolated_normed`]).
    Wasserstein,
    /// Pearson's chi-square statistic ([`chi_square_two_sample`]'s statistic).
    ChiSquare,
    /// Pearson's chi-square p-value ([`chi_square_two_sample`]'s p-value).
    ChiSquarePValue,
    /// The window's share of missing values minus the reference's (in `[-1, 1]`): a signal
    /// of its own, decided by its own threshold next to the distribution's decision.
    MissingShare,
}

impl DriftMethod {
    /// Every method, in declaration order.
    pub const ALL: [DriftMethod; 8] = [
        DriftMethod::Psi,
        DriftMethod::JensenShannon,
        DriftMethod::KolmogorovSmirnov,
        DriftMethod::KolmogorovSmirnovPValue,
        DriftMethod::Wasserstein,
        DriftMethod::ChiSquare,
        DriftMethod::ChiSquarePValue,
        DriftMethod::MissingShare,
    ];

    /// The `ml.drift.method` attribute value: `psi`, `jensenshannon`, `ks`, `ks_pvalue`,
    /// `wasserstein_normed`, `chisquare`, `chisquare_pvalue`, `missing_share`.
    pub fn name(self) -> &'static str {
        match self {
            DriftMethod::Psi => "psi",
            DriftMethod::JensenShannon => "jensenshannon",
            DriftMethod::KolmogorovSmirnov => "ks",
            DriftMethod::KolmogorovSmirnovPValue => "ks_pvalue",
            DriftMethod::Wasserstein => "wasserstein_normed",
            DriftMethod::ChiSquare => "chisquare",
            DriftMethod::ChiSquarePValue => "chisquare_pvalue",
            DriftMethod::MissingShare => "missing_share",
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
    ///   (`evidently/calculations/stattests/*.py`, `default_threshold`). The distances are
    ///   effect sizes: which shift they catch at which window size is measured in
    ///   docs/drift.md; a reference can carry thresholds calibrated for a false-alarm rate
    ///   instead (`Reference::calibrate`, [`Decision::calibrated`](crate::drift::Decision::calibrated)).
    /// * `ks` (the bare D) 0.1: D has no scale-free null threshold (its null distribution
    ///   shrinks as `1/sqrt(en)`), so 0.1 is an effect size — the two CDFs differ by at least
    ///   10 percentage points somewhere. Use `ks_pvalue` for a test at a fixed level.
    /// * `chisquare` 0.05, a **significance level**: X²'s null distribution depends on the
    ///   degrees of freedom of each test (bins used minus one), so no single critical value
    ///   fits every feature; a `chisquare` threshold at most 1 flags X² at or above the
    ///   `1 − threshold` quantile of χ² with the test's own degrees of freedom, which is
    ///   `chisquare_pvalue < threshold`. A threshold above 1 is a critical value compared
    ///   with X² itself (see [`is_drift`](Self::is_drift)).
    /// * `missing_share` 0.1: the window has at least 10 percentage points more missing
    ///   values than the reference.
    pub fn default_threshold(self) -> f64 {
        match self {
            DriftMethod::Psi | DriftMethod::JensenShannon | DriftMethod::Wasserstein => 0.1,
            DriftMethod::KolmogorovSmirnov | DriftMethod::MissingShare => 0.1,
            DriftMethod::KolmogorovSmirnovPValue
            | DriftMethod::ChiSquarePValue
            | DriftMethod::ChiSquare => 0.05,
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
    ///
    /// `chisquare` with a threshold at most 1 (a significance level, the default) is decided
    /// on the test's p-value: pass the p-value as `value` (the engine does). With a threshold
    /// above 1, `value` is X² and the threshold its critical value.
    pub fn is_drift(self, value: f64, threshold: f64) -> bool {
        if self.is_p_value() || self.decides_by_p_value(threshold) {
            value < threshold
        } else {
            value >= threshold
        }
    }

    /// Whether a decision on this method at `threshold` compares the test's p-value rather
    /// than the method's own value: `chisquare` at a significance level (≤ 1).
    pub fn decides_by_p_value(self, threshold: f64) -> bool {
        self == DriftMethod::ChiSquare && threshold <= 1.0
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

    /// How the method's null spread grows with the deviation between two samples: PSI and
    /// chi-square are quadratic in it (power 2), the distances linear (power 1). Used to
    /// carry a calibrated threshold from one window size to another.
    pub(crate) fn deviation_power(self) -> f64 {
        match self {
            DriftMethod::Psi | DriftMethod::ChiSquare => 2.0,
            _ => 1.0,
        }
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
                "chisquare_pvalue",
                "missing_share"
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
            [
                "psi",
                "jensenshannon",
                "chisquare",
                "chisquare_pvalue",
                "missing_share"
            ]
        );
    }

    #[test]
    fn chisquare_decides_by_its_p_value_at_a_level_and_by_x2_above_one() {
        let chi = DriftMethod::ChiSquare;
        assert_eq!(chi.default_threshold(), 0.05);
        assert!(chi.is_drift(0.01, 0.05), "p-value below the level");
        assert!(!chi.is_drift(0.2, 0.05));
        assert!(chi.is_drift(20.0, 18.3), "X² above a critical value");
        assert!(!chi.is_drift(10.0, 18.3));
    }

    #[test]
    fn two_sample_chi_square_sees_bins_the_reference_never_used() {
        // Every window value missing, a missing bin the reference never used.
        let all_missing = chi_square_two_sample(&[500, 500, 0], &[0, 0, 500]);
        assert!(all_missing.statistic > 100.0, "{all_missing:?}");
        assert!(all_missing.p_value < 1e-20, "{all_missing:?}");
        // Empty on both sides: dropped, one degree of freedom less.
        let same = chi_square_two_sample(&[500, 500, 0], &[250, 250, 0]);
        assert_eq!(same, TestResult::NONE);
        assert_eq!(chi_square_two_sample(&[5, 0], &[0, 0]), TestResult::NONE);
        assert_eq!(chi_square_two_sample(&[5, 0], &[3, 0]), TestResult::NONE);
        assert!(chi_square_two_sample(&[1, 2], &[1]).p_value.is_nan());
    }

    #[test]
    fn interpolated_wasserstein_is_exact_for_uniform_bins() {
        // Reference uniform on [0, 3) in three bins (tail means 0.5 and 2.5); a window
        // uniform on [1, 3): W1 between U(0, 3) and U(1, 3) is 0.5.
        let w =
            wasserstein_interpolated(&[1.0, 2.0], [0.5, 2.5], &[1.0, 1.0, 1.0], &[0.0, 0.5, 0.5]);
        assert!((w - 0.5).abs() < 1e-15, "{w}");
        assert_eq!(
            wasserstein_interpolated(&[1.0, 2.0], [0.5, 2.5], &[1.0, 1.0, 1.0], &[1.0, 1.0, 1.0]),
            0.0
        );
        assert_eq!(
            wasserstein_interpolated(&[], [0.0, 0.0], &[1.0], &[1.0]),
            0.0
        );
        assert!(wasserstein_interpolated(&[1.0], [0.0, 2.0], &[1.0], &[1.0]).is_nan());
        assert_eq!(
            wasserstein_interpolated_normed(
                &[1.0, 2.0],
                [0.5, 2.5],
                &[1.0, 1.0, 1.0],
                &[0.0, 0.5, 0.5],
                2.0
            ),
            0.25
        );
    }
}
