use std::time::Duration;

use super::*;
use crate::drift::decision::Decision;
use crate::drift::measure::{self, proportions, reference_counts, renormalised};
use crate::drift::reference::FitOptions;
use crate::drift::report::decide;
use crate::drift::stats::{self, DriftMethod};
use crate::drift::window::Window;

/// Two numeric features: `a` uniform over 0..100, `b` uniform over 0..10.
fn reference() -> Arc<Reference> {
    let rows: Vec<[f64; 2]> = (0..1_000)
        .map(|row| [f64::from(row % 100), f64::from(row % 10)])
        .collect();
    Arc::new(Reference::fit_numeric(&rows, &["a", "b"], FitOptions::default()).expect("fits"))
}

fn monitor(window: Window, min_observations: u64) -> DriftMonitor {
    DriftMonitor::new(
        reference(),
        DriftSettings {
            window,
            min_observations,
            ..DriftSettings::default()
        },
    )
}

/// Counts one row at `now` as the recording path does, handing over finished slices.
fn count_row(
    monitor: &DriftMonitor,
    counts: &mut SliceCounts,
    row: &[Option<f64>],
    now: quanta::Instant,
) {
    monitor.before_counting(counts, now);
    for (feature, value) in row.iter().enumerate() {
        if let Some(binned) = monitor.binning().bin_of_feature(feature, *value) {
            counts.bump(binned.index);
        }
    }
    counts.rows += 1;
}

#[test]
fn a_time_window_slides_through_the_monitor() {
    let monitor = monitor(
        Window::Time {
            length: Duration::from_secs(10),
            slices: 10,
        },
        1,
    );
    let mut counts = monitor.new_counts();
    // One row in each of the slices 0..=12 (the middle of each second).
    for second in 0..13u64 {
        let at = monitor.epoch + Duration::from_millis(second * 1_000 + 500);
        count_row(&monitor, &mut counts, &[Some(1.0), Some(1.0)], at);
    }
    let now = monitor.epoch + Duration::from_millis(12_600);
    lock(&monitor.ring).absorb(&counts, monitor.slice_at(now));
    // At 12.6 s the window spans slices 3..=12: ten rows.
    assert_eq!(monitor.report_at(now).rows, 10);
    let later = monitor.epoch + Duration::from_millis(20_100);
    assert_eq!(monitor.report_at(later).rows, 2, "slices 11 and 12 remain");
}

#[test]
fn the_engine_composes_the_statistics_over_the_right_bins() {
    let monitor = monitor(Window::count(10_000), 1);
    let mut counts = monitor.new_counts();
    let now = quanta::Instant::now();
    // `a` shifted up by 30 with a few missing values; `b` as in the reference.
    let profile = reference().features[0]
        .as_numeric()
        .cloned()
        .expect("numeric");
    let mut expected_a = vec![0u64; profile.bins()];
    for row in 0..600u32 {
        let a = (row % 7 != 0).then(|| f64::from(row % 100) + 30.0);
        expected_a[a.map_or(profile.missing_bin(), |a| profile.bin(a))] += 1;
        count_row(&monitor, &mut counts, &[a, Some(f64::from(row % 10))], now);
    }
    lock(&monitor.ring).absorb(&counts, 0);
    let report = monitor.report_at(now);
    let a = &report.features[0];
    assert_eq!(a.observations, 600);
    let (current, _) = proportions(&expected_a);
    assert_eq!(
        a.value(DriftMethod::Psi),
        Some(stats::psi(&profile.proportions, &current))
    );
    // KS and Wasserstein over the value bins only, both sides renormalised.
    let values = profile.value_bins();
    let present: u64 = expected_a[..values].iter().sum();
    let (value_current, _) = proportions(&expected_a[..values]);
    let value_reference = renormalised(&profile.proportions[..values]);
    let ks = stats::kolmogorov_smirnov(&value_reference, &value_current, profile.count, present);
    assert_eq!(a.value(DriftMethod::KolmogorovSmirnov), Some(ks.statistic));
    assert_eq!(
        a.value(DriftMethod::KolmogorovSmirnovPValue),
        Some(ks.p_value)
    );
    assert_eq!(
        a.value(DriftMethod::Wasserstein),
        Some(stats::wasserstein_interpolated_normed(
            &profile.edges,
            profile.tail_means(),
            &value_reference,
            &value_current,
            profile.std
        ))
    );
    // Chi-square: the two-sample test against the reference's own counts, all bins.
    let chi = stats::chi_square_two_sample(
        &reference_counts(&profile.proportions, profile.count + profile.missing),
        &expected_a,
    );
    assert_eq!(a.value(DriftMethod::ChiSquare), Some(chi.statistic));
    assert_eq!(a.value(DriftMethod::ChiSquarePValue), Some(chi.p_value));
    let missing = expected_a[profile.missing_bin()] as f64 / 600.0;
    assert_eq!(a.value(DriftMethod::MissingShare), Some(missing));
    assert_eq!(a.present, present);
    assert!(a.detected);
    assert!(!report.features[1].detected, "{:?}", report.features[1]);
}

#[test]
fn a_feature_left_out_of_short_rows_is_not_reported() {
    let monitor = monitor(Window::count(10_000), 500);
    let mut counts = monitor.new_counts();
    let now = quanta::Instant::now();
    for row in 0..600u32 {
        count_row(&monitor, &mut counts, &[Some(f64::from(row % 100))], now);
    }
    lock(&monitor.ring).absorb(&counts, 0);
    let report = monitor.report_at(now);
    assert_eq!(report.features.len(), 1, "only `a` was observed");
    assert_eq!(report.features[0].name, "a");
    assert!(!report.features[0].detected);
    assert_eq!(report.drift_share, Some(0.0));
}

#[test]
fn one_missing_value_does_not_make_chi_square_fire() {
    let monitor = monitor(Window::count(10_000), 1);
    let mut counts = monitor.new_counts();
    let now = quanta::Instant::now();
    for row in 0..500u32 {
        let a = (row != 0).then(|| f64::from(row % 100));
        count_row(&monitor, &mut counts, &[a, Some(f64::from(row % 10))], now);
    }
    lock(&monitor.ring).absorb(&counts, 0);
    let report = monitor.report_at(now);
    let p = report.features[0]
        .value(DriftMethod::ChiSquarePValue)
        .unwrap_or(0.0);
    assert!(
        p > 0.05,
        "chi-square p-value {p} with one missing value in 500"
    );
}

/// Issue 20, item 2: a window whose values all fall in bins the reference never used
/// (every value missing) is drift for chi-square, not "no evidence".
#[test]
fn chi_square_flags_a_window_of_values_the_reference_never_had() {
    let monitor = monitor(Window::count(10_000), 500);
    let mut counts = monitor.new_counts();
    let now = quanta::Instant::now();
    for row in 0..600u32 {
        count_row(
            &monitor,
            &mut counts,
            &[None, Some(f64::from(row % 10))],
            now,
        );
    }
    lock(&monitor.ring).absorb(&counts, 0);
    let report = monitor.report_at(now);
    let a = &report.features[0];
    let p = a
        .value(DriftMethod::ChiSquarePValue)
        .expect("chi-square applies");
    assert!(
        p < 1e-10,
        "chi-square p-value {p} for an all-missing window"
    );
    assert!(a.value(DriftMethod::ChiSquare).is_some_and(|x2| x2 > 100.0));
    assert_eq!(a.value(DriftMethod::MissingShare), Some(1.0));
    assert!(a.missing_detected && a.detected, "{a:?}");
    let profile = reference().features[0]
        .as_numeric()
        .cloned()
        .expect("numeric");
    let chi_decision = decide(
        "a".to_owned(),
        measure::numeric(&profile, &totals_of(&monitor)[..profile.bins()], 500),
        Decision::new(DriftMethod::ChiSquare),
        None,
        1_000,
        f64::INFINITY,
    );
    assert!(chi_decision.detected, "{chi_decision:?}");
}

fn totals_of(monitor: &DriftMonitor) -> Vec<u64> {
    lock(&monitor.ring).totals().bins
}

/// Issue 20, item 6: KS and Wasserstein need the minimum window count of non-missing
/// values, not of rows; the missing share is reported on its own.
#[test]
fn ks_and_wasserstein_need_the_minimum_of_present_values() {
    let monitor = monitor(Window::count(10_000), 500);
    let mut counts = monitor.new_counts();
    let now = quanta::Instant::now();
    // 600 rows of `a`, 10 of them present: enough rows, too few values.
    for row in 0..600u32 {
        let a = (row % 60 == 0).then(|| f64::from(row % 100));
        count_row(&monitor, &mut counts, &[a, Some(f64::from(row % 10))], now);
    }
    lock(&monitor.ring).absorb(&counts, 0);
    let report = monitor.report_at(now);
    let a = &report.features[0];
    assert_eq!((a.observations, a.present), (600, 10));
    for method in [
        DriftMethod::KolmogorovSmirnov,
        DriftMethod::KolmogorovSmirnovPValue,
        DriftMethod::Wasserstein,
    ] {
        assert_eq!(a.value(method), None, "{} on 10 values", method.name());
    }
    let share = a.value(DriftMethod::MissingShare).expect("always reported");
    assert!((share - 590.0 / 600.0).abs() < 1e-12, "{share}");
    assert!(a.missing_detected);
    // `b`, complete, keeps every method.
    let b = &report.features[1];
    assert!(b.value(DriftMethod::KolmogorovSmirnov).is_some());
    assert_eq!(b.value(DriftMethod::MissingShare), Some(0.0));
    assert!(!b.missing_detected && !b.detected, "{b:?}");
}

#[test]
fn degenerate_windows_neither_panic_nor_lose_rows() {
    let now = quanta::Instant::now();
    for window in [
        Window::count(0),
        Window::Time {
            length: Duration::MAX,
            slices: 1,
        },
        Window::Time {
            length: Duration::ZERO,
            slices: 0,
        },
    ] {
        let monitor = monitor(window, 1);
        let mut counts = monitor.new_counts();
        count_row(&monitor, &mut counts, &[Some(1.0), Some(2.0)], now);
        lock(&monitor.ring).absorb(&counts, monitor.slice_at(now));
        assert_eq!(monitor.report_at(now).rows, 1, "{window:?}");
    }
}
