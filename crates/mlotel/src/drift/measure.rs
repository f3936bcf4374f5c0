//! The statistics of one window of bin counts against one reference profile: what the
//! monitor reports, and what calibration simulates, computed by the same code.

use super::reference::{CategoricalProfile, NumericProfile};
use super::stats::{self, DriftMethod};

/// The values of every applicable method for one window, with the counts they rest on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Measured {
    /// Observations in the window, missing ones included.
    pub(crate) observations: u64,
    /// Non-missing observations.
    pub(crate) present: u64,
    /// Each applicable method's value.
    pub(crate) values: Vec<(DriftMethod, f64)>,
}

/// Proportions of `counts`, all zero when they sum to zero, and their sum.
pub(crate) fn proportions(counts: &[u64]) -> (Vec<f64>, u64) {
    let total: u64 = counts.iter().sum();
    let proportions = counts
        .iter()
        .map(|&count| {
            if total == 0 {
                0.0
            } else {
                count as f64 / total as f64
            }
        })
        .collect();
    (proportions, total)
}

/// `values` scaled to sum to 1 (unchanged when they sum to 0).
pub(crate) fn renormalised(values: &[f64]) -> Vec<f64> {
    let total: f64 = values.iter().sum();
    if total > 0.0 {
        values.iter().map(|value| value / total).collect()
    } else {
        values.to_vec()
    }
}

/// The reference's counts per bin: its proportions times its rows (they were counts over
/// those rows, so rounding recovers them exactly).
pub(crate) fn reference_counts(proportions: &[f64], rows: u64) -> Vec<u64> {
    proportions
        .iter()
        .map(|p| (p * rows as f64).round() as u64)
        .collect()
}

/// PSI, Jensen–Shannon, chi-square (two-sample, against the reference's own counts) and the
/// missing share's change: the methods that need no order.
fn order_free(
    reference: &[f64],
    reference_rows: u64,
    reference_missing: u64,
    counts: &[u64],
    missing: u64,
) -> (Vec<(DriftMethod, f64)>, u64) {
    let (current, observations) = proportions(counts);
    let chi_square =
        stats::chi_square_two_sample(&reference_counts(reference, reference_rows), counts);
    let share = |part: u64, whole: u64| {
        if whole == 0 {
            0.0
        } else {
            part as f64 / whole as f64
        }
    };
    let values = vec![
        (DriftMethod::Psi, stats::psi(reference, &current)),
        (
            DriftMethod::JensenShannon,
            stats::jensen_shannon_distance(reference, &current),
        ),
        (DriftMethod::ChiSquare, chi_square.statistic),
        (DriftMethod::ChiSquarePValue, chi_square.p_value),
        (
            DriftMethod::MissingShare,
            share(missing, observations) - share(reference_missing, reference_rows),
        ),
    ];
    (values, observations)
}

/// Every method for a numeric feature. KS and Wasserstein compare the ordered values, so
/// the missing bin stays out of them, and they are left out below `min_present` non-missing
/// values: a window that is mostly missing says little about the values' distribution (the
/// missing share reports it).
pub(crate) fn numeric(profile: &NumericProfile, counts: &[u64], min_present: u64) -> Measured {
    let reference = &profile.proportions;
    let missing = counts.get(profile.missing_bin()).copied().unwrap_or(0);
    let (mut values, observations) = order_free(
        reference,
        profile.count + profile.missing,
        profile.missing,
        counts,
        missing,
    );
    let value_bins = profile.value_bins();
    let (value_current, present) = proportions(&counts[..value_bins.min(counts.len())]);
    if present >= min_present.max(1) && profile.count > 0 {
        let value_reference = renormalised(&reference[..value_bins.min(reference.len())]);
        let ks =
            stats::kolmogorov_smirnov(&value_reference, &value_current, profile.count, present);
        values.push((DriftMethod::KolmogorovSmirnov, ks.statistic));
        values.push((DriftMethod::KolmogorovSmirnovPValue, ks.p_value));
        values.push((
            DriftMethod::Wasserstein,
            stats::wasserstein_interpolated_normed(
                &profile.edges,
                profile.tail_means(),
                &value_reference,
                &value_current,
                profile.std,
            ),
        ));
    }
    Measured {
        observations,
        present,
        values,
    }
}

/// Every method for a categorical feature (or the predicted label).
pub(crate) fn categorical(profile: &CategoricalProfile, counts: &[u64]) -> Measured {
    let missing = counts.get(profile.missing_bin()).copied().unwrap_or(0);
    let (values, observations) = order_free(
        &profile.proportions,
        profile.count + profile.missing,
        profile.missing,
        counts,
        missing,
    );
    Measured {
        observations,
        present: observations - missing.min(observations),
        values,
    }
}
