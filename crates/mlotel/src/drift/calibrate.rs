//! Thresholds fitted with the reference ([`Reference::calibrate`]): the effect-size methods
//! (PSI, Jensen–Shannon, normalised Wasserstein) have no null distribution to read a
//! threshold from, so one is simulated from the reference itself.

use std::collections::BTreeMap;

use super::measure;
use super::reference::{
    Calibration, CalibrationOptions, CategoricalProfile, FeatureProfile, NumericProfile, Reference,
    ReferenceError,
};
use super::stats::DriftMethod;

/// The methods calibrated: those whose decision is an effect size.
const CALIBRATED: [DriftMethod; 3] = [
    DriftMethod::Psi,
    DriftMethod::JensenShannon,
    DriftMethod::Wasserstein,
];

impl Reference {
    /// Fits, for every profile (features, label, confidence), thresholds of `psi`,
    /// `jensenshannon` and `wasserstein_normed` (numeric profiles) that an unchanged
    /// distribution crosses in `1 − quantile` of windows, and stores them in the profiles'
    /// `calibration` (saved with the reference, schema version 2). Decide with them through
    /// [`Decision::calibrated`](crate::drift::Decision::calibrated).
    ///
    /// How: `windows` windows of `window` observations are drawn from the reference's own
    /// bin proportions (resampling the reference, binned as the engine bins it), each is
    /// measured by the engine's code, and the `quantile` of each statistic is taken (by rank,
    /// see [`CalibrationOptions::quantile`]). The
    /// reference is itself a sample of `m` rows, so real windows scatter around it by
    /// `1/n + 1/m` where the resampled ones scatter by `1/n`: the quantile is widened by
    /// `(1 + n/m)` for PSI (quadratic in the deviations) and by its square root for the
    /// distances. At report time the threshold is carried to the window's actual size the
    /// same way. The false-alarm rates this gives on the engine are in docs/drift.md.
    ///
    /// Cost: `windows · window` draws per profile (a fraction of a second for the defaults
    /// in a release build). Deterministic for a given seed.
    pub fn calibrate(mut self, options: CalibrationOptions) -> Result<Reference, ReferenceError> {
        check(options)?;
        let mut rng = SplitMix64(options.seed);
        for feature in &mut self.features {
            match feature {
                FeatureProfile::Numeric(profile) => calibrate_numeric(profile, options, &mut rng),
                FeatureProfile::Categorical(profile) => {
                    calibrate_categorical(profile, options, &mut rng);
                }
            }
        }
        if let Some(profile) = &mut self.label {
            calibrate_categorical(profile, options, &mut rng);
        }
        if let Some(profile) = &mut self.confidence {
            calibrate_numeric(profile, options, &mut rng);
        }
        self.validate()?;
        Ok(self)
    }
}

fn check(options: CalibrationOptions) -> Result<(), ReferenceError> {
    let problem = if options.window == 0 {
        Some(("window", "must be at least 1".to_owned()))
    } else if options.windows < 100 {
        Some((
            "windows",
            format!("must be at least 100, got {}", options.windows),
        ))
    } else if !(options.quantile > 0.0 && options.quantile < 1.0) {
        Some(("quantile", format!("{} is not in (0, 1)", options.quantile)))
    } else {
        None
    };
    match problem {
        Some((what, message)) => Err(ReferenceError::Options {
            what: format!("calibration {what}"),
            message,
        }),
        None => Ok(()),
    }
}

fn calibrate_numeric(
    profile: &mut NumericProfile,
    options: CalibrationOptions,
    rng: &mut SplitMix64,
) {
    let rows = profile.count + profile.missing;
    profile.calibration = Some(simulate(
        &profile.proportions,
        rows,
        options,
        rng,
        |counts| measure::numeric(profile, counts, 1).values,
    ));
}

fn calibrate_categorical(
    profile: &mut CategoricalProfile,
    options: CalibrationOptions,
    rng: &mut SplitMix64,
) {
    let rows = profile.count + profile.missing;
    profile.calibration = Some(simulate(
        &profile.proportions,
        rows,
        options,
        rng,
        |counts| measure::categorical(profile, counts).values,
    ));
}

/// Draws the windows from `proportions`, measures each, and turns the quantiles into
/// thresholds for a reference of `rows` rows.
fn simulate(
    proportions: &[f64],
    rows: u64,
    options: CalibrationOptions,
    rng: &mut SplitMix64,
    measure: impl Fn(&[u64]) -> Vec<(DriftMethod, f64)>,
) -> Calibration {
    let mut cumulative: Vec<f64> = proportions
        .iter()
        .scan(0.0, |sum, p| {
            *sum += p;
            Some(*sum)
        })
        .collect();
    // The last bin with any weight takes whatever rounding leaves above the sum.
    if let Some(last) = proportions.iter().rposition(|p| *p > 0.0) {
        cumulative[last..].fill(f64::INFINITY);
    }
    let mut samples: Vec<Vec<f64>> = (0..CALIBRATED.len())
        .map(|_| Vec::with_capacity(options.windows as usize))
        .collect();
    let mut counts = vec![0u64; proportions.len()];
    let last_bin = proportions.len().saturating_sub(1);
    for _ in 0..options.windows {
        counts.fill(0);
        for _ in 0..options.window {
            let u = rng.uniform();
            let bin = cumulative.partition_point(|c| *c <= u);
            counts[bin.min(last_bin)] += 1;
        }
        for (method, value) in measure(&counts) {
            if let Some(index) = CALIBRATED.iter().position(|m| *m == method)
                && value.is_finite()
            {
                samples[index].push(value);
            }
        }
    }
    let widening = 1.0 + options.window as f64 / rows.max(1) as f64;
    let thresholds: BTreeMap<String, f64> = CALIBRATED
        .iter()
        .zip(&mut samples)
        .filter(|(_, values)| !values.is_empty())
        .map(|(method, values)| {
            values.sort_unstable_by(f64::total_cmp);
            let quantile = rank_quantile(values, options.quantile);
            let threshold = quantile * widening.powf(method.deviation_power() / 2.0);
            (method.name().to_owned(), threshold)
        })
        .collect();
    Calibration {
        window: options.window,
        quantile: options.quantile,
        windows: options.windows,
        thresholds,
    }
}

/// The `⌈q·(B + 1)⌉`-th smallest of `B` sorted values: a new value from the same
/// distribution exceeds it with probability `(B + 1 − k)/(B + 1) ≤ 1 − q` whatever the
/// distribution (the rank argument of conformal prediction). An interpolated quantile runs
/// above the target rate for a few hundred values (1.5 % instead of 1 % from 200 windows).
fn rank_quantile(sorted: &[f64], q: f64) -> f64 {
    let count = sorted.len();
    let rank = (q * (count + 1) as f64).ceil() as usize;
    sorted[rank.clamp(1, count) - 1]
}

/// SplitMix64 (Steele, Lea and Flood 2014): a fixed, fully specified generator, so a seed
/// gives the same thresholds on every platform and version (rand's `SmallRng` promises
/// neither).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::reference::FitOptions;

    fn reference() -> Reference {
        let rows: Vec<[f64; 1]> = (0..2_000).map(|row| [f64::from(row % 100)]).collect();
        Reference::fit_numeric(&rows, &["a"], FitOptions::default()).expect("fits")
    }

    #[test]
    fn calibration_is_deterministic_and_round_trips() {
        let options = CalibrationOptions {
            window: 500,
            windows: 200,
            ..CalibrationOptions::default()
        };
        let once = reference().calibrate(options).expect("calibrates");
        let twice = reference().calibrate(options).expect("calibrates");
        assert_eq!(once, twice);
        let calibration = once.features[0]
            .as_numeric()
            .and_then(|profile| profile.calibration.clone())
            .expect("calibrated");
        assert_eq!(
            calibration.thresholds.keys().collect::<Vec<_>>(),
            ["jensenshannon", "psi", "wasserstein_normed"]
        );
        assert!(
            calibration
                .thresholds
                .values()
                .all(|t| *t > 0.0 && *t < 0.5)
        );
        assert_eq!(Reference::from_json(&once.to_json()).expect("reads"), once);
    }

    #[test]
    fn the_rank_quantile_keeps_the_exceedance_at_most_one_minus_q() {
        let values: Vec<f64> = (1..=200).map(f64::from).collect();
        // ⌈0.99 · 201⌉ = 199: 2 of 201 equally likely ranks lie above it (1.0 %).
        assert_eq!(rank_quantile(&values, 0.99), 199.0);
        assert_eq!(rank_quantile(&values, 0.5), 101.0);
        assert_eq!(
            rank_quantile(&values[..10], 0.99),
            10.0,
            "clamped to the largest"
        );
    }

    #[test]
    fn bad_options_are_errors() {
        for options in [
            CalibrationOptions {
                window: 0,
                ..CalibrationOptions::default()
            },
            CalibrationOptions {
                windows: 10,
                ..CalibrationOptions::default()
            },
            CalibrationOptions {
                quantile: 1.0,
                ..CalibrationOptions::default()
            },
        ] {
            assert!(matches!(
                reference().calibrate(options),
                Err(ReferenceError::Options { .. })
            ));
        }
    }
}
