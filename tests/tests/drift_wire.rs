//! Drift over the real wire: models registered with a reference fitted from synthetic
//! training data, fed through `#[instrument_ml(features = ..)]`, report `ml.feature.drift`,
//! `ml.feature.drift.detected`, `ml.dataset.drift_share`, `ml.prediction.drift` and the
//! window gauges to an in-process OTLP receiver and on the Prometheus exposition: a shifted
//! feature crosses its threshold, unshifted ones and an unshifted model do not, and a window
//! below the minimum reports nothing but its size.

mod instrument_ml_support;

use std::sync::LazyLock;

use instrument_ml_support::{Harness, WAIT};
use mlotel::drift::Window;
use mlotel::drift::reference::{FitOptions, Reference};
use mlotel::names::{self, attr};
use mlotel::{Model, instrument_ml};
use mlotel_tests::proto::metrics::v1::NumberDataPoint;
use mlotel_tests::{OtlpReceiver, SplitMix64, attr_str, number_f64};

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::install(OtlpReceiver::grpc(), &[]));

const FEATURES: [&str; 3] = ["age", "income", "score"];
const LABELS: [&str; 2] = ["approve", "deny"];
const WINDOW: u64 = 2_000;

/// One row of a deterministic normal sample (the same rows every run for a seed): age ~
/// N(40, 10), income ~ N(50, 15), score ~ N(0, 1); `shift` is added to age in standard
/// deviations.
fn row(rng: &mut SplitMix64, shift: f64) -> [f64; 3] {
    [
        40.0 + 10.0 * (rng.normal() + shift),
        50.0 + 15.0 * rng.normal(),
        rng.normal(),
    ]
}

/// What the model answers: approve when the score is positive, with a confidence that
/// grows with the score.
fn decide(row: &[f64; 3]) -> (&'static str, f64) {
    let confidence = 0.5 + 0.5 * (row[2].abs() / 3.0).min(1.0);
    (if row[2] > 0.0 { LABELS[0] } else { LABELS[1] }, confidence)
}

fn reference() -> Reference {
    let mut rng = SplitMix64::new(7);
    let rows: Vec<[f64; 3]> = (0..10_000).map(|_| row(&mut rng, 0.0)).collect();
    let predictions: Vec<(&str, f64)> = rows.iter().map(decide).collect();
    Reference::fit_numeric(&rows, &FEATURES, FitOptions::default())
        .and_then(|reference| {
            reference.with_predictions(
                predictions.iter().map(|(label, _)| *label),
                predictions.iter().map(|(_, confidence)| *confidence),
                FitOptions::default(),
            )
        })
        .expect("the reference fits")
}

fn register(name: &str) -> Model {
    let _ = &*HARNESS;
    Model::builder(name)
        .version("1")
        .labels(LABELS)
        .reference(reference())
        .drift_window(Window::count(WINDOW))
        .try_register()
        .expect("the reference matches the model")
}

#[instrument_ml(model = "d_shifted", version = "1", features = row)]
fn predict_shifted(row: &[f64; 3]) -> (&'static str, f64) {
    decide(row)
}

#[instrument_ml(model = "d_steady", version = "1", features = row)]
fn predict_steady(row: &[f64; 3]) -> (&'static str, f64) {
    decide(row)
}

#[instrument_ml(model = "d_prom", version = "1", features = row)]
fn predict_prom(row: &[f64; 3]) -> (&'static str, f64) {
    decide(row)
}

#[instrument_ml(model = "d_small", version = "1", features = row)]
fn predict_small(row: &[f64; 3]) -> (&'static str, f64) {
    decide(row)
}

/// The latest point of gauge `name` for `model` whose attributes include `want`, waiting
/// (and flushing) until there is one.
fn gauge(name: &str, model: &str, want: &[(&str, &str)]) -> NumberDataPoint {
    gauge_when(name, model, want, |_| true)
}

/// Like [`gauge`], waiting until the latest matching point's value satisfies `ready` (a
/// collection may have read the window while the test was still feeding it).
fn gauge_when(
    name: &str,
    model: &str,
    want: &[(&str, &str)],
    ready: impl Fn(f64) -> bool,
) -> NumberDataPoint {
    let harness = &*HARNESS;
    harness.receiver.wait_until(WAIT, |receiver| {
        let found = receiver.latest_metric(name).and_then(|metric| {
            metric
                .gauge_points()
                .iter()
                .find(|point| {
                    attr_str(&point.attributes, attr::MODEL_NAME) == Some(model)
                        && want
                            .iter()
                            .all(|(key, value)| attr_str(&point.attributes, key) == Some(value))
                })
                .filter(|point| ready(value(point)))
                .cloned()
        });
        if found.is_none() {
            let _ = harness.telemetry.force_flush();
        }
        found
    })
}

/// Waits until an export saw every row fed to `model` (later exports see them too), so the
/// gauges read next describe the whole window.
fn whole_window_exported(model: &str) {
    gauge_when(
        names::DRIFT_WINDOW_OBSERVATIONS.name,
        model,
        &[(attr::DRIFT_SIGNAL, "features")],
        |observations| observations == WINDOW as f64,
    );
}

fn value(point: &NumberDataPoint) -> f64 {
    number_f64(point).unwrap_or(f64::NAN)
}

#[test]
fn a_shifted_feature_crosses_its_threshold_and_the_others_do_not() {
    let model = register("d_shifted");
    let mut rng = SplitMix64::new(11);
    for _ in 0..WINDOW {
        predict_shifted(&row(&mut rng, 1.0));
    }
    whole_window_exported("d_shifted");
    let psi = |feature: &str| {
        value(&gauge(
            names::FEATURE_DRIFT.name,
            "d_shifted",
            &[(attr::FEATURE_NAME, feature), (attr::DRIFT_METHOD, "psi")],
        ))
    };
    let detected = |feature: &str| {
        value(&gauge(
            names::FEATURE_DRIFT_DETECTED.name,
            "d_shifted",
            &[(attr::FEATURE_NAME, feature)],
        ))
    };
    let age = psi("age");
    assert!(age > 0.25, "a one-std shift gives PSI {age}");
    assert_eq!(detected("age"), 1.0);
    for feature in ["income", "score"] {
        let unshifted = psi(feature);
        assert!(unshifted < 0.05, "{feature}: PSI {unshifted}");
        assert_eq!(detected(feature), 0.0, "{feature}");
    }
    let share = value(&gauge(names::DATASET_DRIFT_SHARE.name, "d_shifted", &[]));
    assert!((share - 1.0 / 3.0).abs() < 1e-9, "drift share {share}");

    // Every method is reported for a numeric feature, each within its range.
    for method in [
        "psi",
        "jensenshannon",
        "ks",
        "ks_pvalue",
        "wasserstein_normed",
        "chisquare",
        "chisquare_pvalue",
    ] {
        let point = gauge(
            names::FEATURE_DRIFT.name,
            "d_shifted",
            &[(attr::FEATURE_NAME, "age"), (attr::DRIFT_METHOD, method)],
        );
        assert!(
            value(&point).is_finite() && value(&point) >= 0.0,
            "{method}"
        );
    }
    let ks_p = value(&gauge(
        names::FEATURE_DRIFT.name,
        "d_shifted",
        &[
            (attr::FEATURE_NAME, "age"),
            (attr::DRIFT_METHOD, "ks_pvalue"),
        ],
    ));
    assert!(
        ks_p < 1e-6,
        "KS p-value of a one-std shift over {WINDOW} rows: {ks_p}"
    );

    // The model's own report agrees with what was exported.
    let report = model.drift_report().expect("the model has a reference");
    assert_eq!(report.rows, WINDOW);
    assert_eq!(model.drift_status(), "drift");
}

#[test]
fn an_unshifted_stream_shows_no_drift_and_its_predictions_match_the_reference() {
    let model = register("d_steady");
    let mut rng = SplitMix64::new(23);
    for _ in 0..WINDOW {
        predict_steady(&row(&mut rng, 0.0));
    }
    whole_window_exported("d_steady");
    for feature in FEATURES {
        let detected = value(&gauge(
            names::FEATURE_DRIFT_DETECTED.name,
            "d_steady",
            &[(attr::FEATURE_NAME, feature)],
        ));
        assert_eq!(detected, 0.0, "{feature}");
    }
    assert_eq!(
        value(&gauge(names::DATASET_DRIFT_SHARE.name, "d_steady", &[])),
        0.0
    );
    let label_psi = value(&gauge(
        names::PREDICTION_DRIFT.name,
        "d_steady",
        &[(attr::DRIFT_SIGNAL, "label"), (attr::DRIFT_METHOD, "psi")],
    ));
    assert!(label_psi < 0.05, "label PSI {label_psi}");
    let confidence_js = value(&gauge(
        names::PREDICTION_DRIFT.name,
        "d_steady",
        &[
            (attr::DRIFT_SIGNAL, "confidence"),
            (attr::DRIFT_METHOD, "jensenshannon"),
        ],
    ));
    assert!(confidence_js < 0.1, "confidence JS {confidence_js}");
    let change = value(&gauge(names::CONFIDENCE_MEAN_CHANGE.name, "d_steady", &[]));
    assert!(change.abs() < 0.02, "mean confidence change {change}");
    let mean = value(&gauge(names::CONFIDENCE_MEAN.name, "d_steady", &[]));
    assert!((0.5..=1.0).contains(&mean), "mean confidence {mean}");
    assert_eq!(model.drift_status(), "ok");
}

#[test]
fn below_the_minimum_window_only_the_window_size_is_reported() {
    let model = register("d_small");
    let mut rng = SplitMix64::new(31);
    for _ in 0..100 {
        predict_small(&row(&mut rng, 3.0));
    }
    let _ = HARNESS.telemetry.force_flush();
    gauge_when(
        names::DRIFT_WINDOW_OBSERVATIONS.name,
        "d_small",
        &[(attr::DRIFT_SIGNAL, "features")],
        |observations| observations == 100.0,
    );
    let report = model.drift_report().expect("the model has a reference");
    assert!(report.features.is_empty() && report.drift_share.is_none());
    assert_eq!(model.drift_status(), "insufficient_data");
    let harness = &*HARNESS;
    let _ = harness.telemetry.force_flush();
    let drift_points = harness
        .receiver
        .metrics()
        .into_iter()
        .filter(|metric| metric.name() == names::FEATURE_DRIFT.name)
        .flat_map(|metric| metric.gauge_points().to_vec())
        .filter(|point| attr_str(&point.attributes, attr::MODEL_NAME) == Some("d_small"))
        .count();
    assert_eq!(drift_points, 0, "no drift values below the minimum window");
}

#[test]
fn the_prometheus_exposition_carries_the_drift_gauges() {
    let _model = register("d_prom");
    let mut rng = SplitMix64::new(41);
    for _ in 0..WINDOW {
        predict_prom(&row(&mut rng, 1.0));
    }
    let text = HARNESS
        .telemetry
        .prometheus()
        .expect("prometheus is on by default")
        .render()
        .expect("renders");
    for needle in [
        "ml_feature_drift_ratio{",
        "ml_drift_method=\"psi\"",
        "ml_feature_drift_detected_ratio{",
        "ml_dataset_drift_share_ratio{",
        "ml_prediction_drift_ratio{",
        "ml_drift_window_observations{",
    ] {
        assert!(text.contains(needle), "{needle} missing from /metrics");
    }
    let age_detected = text
        .lines()
        .find(|line| {
            line.starts_with("ml_feature_drift_detected_ratio{")
                && line.contains("ml_model_name=\"d_prom\"")
                && line.contains("ml_feature_name=\"age\"")
        })
        .unwrap_or_else(|| panic!("no age detection line in:\n{text}"));
    assert!(age_detected.ends_with(" 1"), "{age_detected}");
}
