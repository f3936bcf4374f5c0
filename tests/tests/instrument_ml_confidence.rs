//! Confidences that are not probabilities, from any user model, over the real OTLP wire: a
//! NaN or infinite confidence is recorded as no confidence (the prediction still counts,
//! with its label), a finite one outside `0..=1` is clamped into it, so the confidence
//! histogram, the span attribute, a batch's mean and the model's mean confidence only ever
//! see values in `0..=1` (docs/metrics.md, "Attribute values").

mod instrument_ml_support;

use std::sync::LazyLock;

use instrument_ml_support::{Harness, close};
use mlotel::names::{self, attr, outcome};
use mlotel::{Model, instrument_ml};
use mlotel_tests::{OtlpReceiver, number_i64};

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::install(OtlpReceiver::grpc(), &[]));

const LABELS: [&str; 3] = ["setosa", "versicolor", "virginica"];
const OK: (&str, &str) = (attr::PREDICTION_OUTCOME, outcome::OK);

#[instrument_ml(model = "t_confidence", version = "1", record = [case])]
fn scored(case: &str, label: &'static str, confidence: f64) -> (&'static str, f64) {
    let _ = case;
    (label, confidence)
}

#[test]
fn non_finite_confidences_are_dropped_and_out_of_range_ones_clamped() {
    let harness = &*HARNESS;
    let model = Model::builder("t_confidence")
        .version("1")
        .labels(LABELS)
        .register();
    let cases = [
        ("nan", "setosa", f64::NAN),
        ("inf", "setosa", f64::INFINITY),
        ("neg_inf", "setosa", f64::NEG_INFINITY),
        ("above", "versicolor", 1.5),
        ("most_negative", "versicolor", f64::MIN),
        ("quarter", "virginica", 0.25),
    ];
    for (case, label, confidence) in cases {
        scored(case, label, confidence);
    }
    let m = (attr::MODEL_NAME, "t_confidence");

    // Every call is an ok prediction with its label.
    for (label, count) in [("setosa", 3), ("versicolor", 2), ("virginica", 1)] {
        let point = harness.sum_point(
            names::PREDICTIONS.name,
            &[m, OK, (attr::PREDICTION_LABEL, label)],
            count,
        );
        assert_eq!(number_i64(&point), Some(count), "{label}");
    }
    // The histogram holds the three finite ones, clamped: 1.0, 0.0 and 0.25.
    let histogram = harness.histogram_point(names::PREDICTION_CONFIDENCE.name, &[m], 3);
    assert_eq!(histogram.count, 3, "{histogram:?}");
    assert_eq!(histogram.sum, Some(1.25));
    assert_eq!(histogram.min, Some(0.0));
    assert_eq!(histogram.max, Some(1.0));
    assert_eq!(
        histogram.bucket_counts.iter().sum::<u64>(),
        3,
        "{histogram:?}"
    );
    // The mean the health endpoints and the demo's page show.
    let mean = model.snapshot().mean_confidence.expect("a mean confidence");
    assert!(close(mean, 1.25 / 3.0), "{mean}");

    // Spans: no confidence attribute for NaN and ±∞, the clamped value otherwise.
    let spans = harness.spans_where(
        |span| span.attr_str(attr::MODEL_NAME) == Some("t_confidence"),
        cases.len(),
    );
    let confidence_of = |case: &str| {
        let quoted = format!("{case:?}");
        let span = spans
            .iter()
            .find(|span| span.attr_str("ml.input.case") == Some(quoted.as_str()))
            .unwrap_or_else(|| panic!("no span for {case}"));
        assert_eq!(span.attr_str(attr::PREDICTION_OUTCOME), Some(outcome::OK));
        assert!(span.attr_str(attr::PREDICTION_LABEL).is_some(), "{case}");
        span.attr_f64(attr::PREDICTION_CONFIDENCE)
    };
    assert_eq!(confidence_of("nan"), None);
    assert_eq!(confidence_of("inf"), None);
    assert_eq!(confidence_of("neg_inf"), None);
    assert_eq!(confidence_of("above"), Some(1.0));
    assert_eq!(confidence_of("most_negative"), Some(0.0));
    assert_eq!(confidence_of("quarter"), Some(0.25));
}

#[instrument_ml(model = "t_confidence_batch", version = "1", batch)]
fn scored_batch(rows: &[(&'static str, f64)]) -> Vec<(&'static str, f64)> {
    rows.to_vec()
}

#[test]
fn a_batch_mean_confidence_is_the_mean_of_the_recorded_confidences() {
    let harness = &*HARNESS;
    Model::builder("t_confidence_batch")
        .version("1")
        .labels(LABELS)
        .register();
    // Recorded: 0.0 (clamped) and 0.9; the NaN is not a confidence.
    scored_batch(&[("setosa", f64::MIN), ("setosa", 0.9), ("setosa", f64::NAN)]);
    let m = (attr::MODEL_NAME, "t_confidence_batch");
    let histogram = harness.histogram_point(names::PREDICTION_CONFIDENCE.name, &[m], 2);
    assert_eq!(histogram.count, 2, "{histogram:?}");
    assert_eq!(histogram.sum, Some(0.9));
    let span = harness.span("predict t_confidence_batch");
    let mean = span
        .attr_f64(attr::PREDICTION_CONFIDENCE)
        .expect("a mean confidence");
    assert!(close(mean, 0.45), "{mean}");
}

#[instrument_ml(model = "t_confidence_probabilities", version = "1", record = [case])]
fn probabilities(case: &str, values: [f64; 3]) -> [f64; 3] {
    let _ = case;
    values
}

#[test]
fn class_probabilities_that_are_all_nan_give_no_label_and_no_confidence() {
    let harness = &*HARNESS;
    Model::builder("t_confidence_probabilities")
        .version("1")
        .labels(LABELS)
        .register();
    probabilities("all_nan", [f64::NAN; 3]);
    probabilities("one_nan", [f64::NAN, 0.3, 0.7]);
    let m = (attr::MODEL_NAME, "t_confidence_probabilities");
    let histogram = harness.histogram_point(names::PREDICTION_CONFIDENCE.name, &[m], 1);
    assert_eq!(histogram.count, 1, "only the finite argmax: {histogram:?}");
    assert_eq!(histogram.sum, Some(0.7));
    let spans = harness.spans_where(
        |span| span.attr_str(attr::MODEL_NAME) == Some("t_confidence_probabilities"),
        2,
    );
    let all_nan = spans
        .iter()
        .find(|span| span.attr_str("ml.input.case") == Some("\"all_nan\""))
        .expect("the all-NaN call's span");
    assert_eq!(
        all_nan.attr_str(attr::PREDICTION_OUTCOME),
        Some(outcome::OK)
    );
    assert_eq!(all_nan.attr_str(attr::PREDICTION_LABEL), None);
    assert_eq!(all_nan.attr_f64(attr::PREDICTION_CONFIDENCE), None);
}
