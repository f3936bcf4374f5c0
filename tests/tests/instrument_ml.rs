//! `#[instrument_ml]` over the real OTLP wire (gRPC): the spans it opens (name, kind,
//! attributes, status, parents and children), the metrics it records (duration,
//! predictions by outcome and bounded label, confidence, in-flight calls, missing
//! features), batches, errors, panics, cancellation, async bodies, recorded arguments and
//! unsampled parents.
//!
//! The attribute records through the installed telemetry, so this binary installs it once;
//! every test has a model name of its own (`t_*`) and looks only at that model's data.

mod instrument_ml_support;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::LazyLock;
use std::task::{Context as TaskContext, Waker};
use std::time::Duration;

use instrument_ml_support::{Harness, OK_SPAN_KEYS, close, key_set, keys, point_keys};
use mlotel::names::{self, attr, outcome};
use mlotel::{ErrorType, Model, instrument_ml};
use mlotel_tests::proto::trace::v1::span::SpanKind;
use mlotel_tests::proto::trace::v1::status::StatusCode;
use mlotel_tests::{Attributes as _, OtlpReceiver, ReceivedSpan, number_i64};
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::install(OtlpReceiver::grpc(), &[]));

fn harness() -> &'static Harness {
    &HARNESS
}

const IRIS_LABELS: [&str; 3] = ["setosa", "versicolor", "virginica"];

fn model(name: &'static str) -> (&'static str, &'static str) {
    (attr::MODEL_NAME, name)
}

const V1: (&str, &str) = (attr::MODEL_VERSION, "1");
const OK: (&str, &str) = (attr::PREDICTION_OUTCOME, outcome::OK);

fn label(value: &'static str) -> (&'static str, &'static str) {
    (attr::PREDICTION_LABEL, value)
}

/// A `tracing` span opened now is a root: the prediction span (or its context) is no
/// longer current once the instrumented call is over.
fn assert_context_restored(name: &'static str) {
    tracing::info_span!("context check", otel.name = name).in_scope(|| {});
    let after = harness().span(name);
    assert!(
        after.is_root(),
        "a finished prediction is still current: {after:?}"
    );
}

/// A multi-thread runtime with two workers, so futures can move between threads.
fn two_worker_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn spans_of_model(name: &'static str, count: usize) -> Vec<ReceivedSpan> {
    harness().spans_where(
        move |span| {
            span.name() == names::prediction_span_name(name)
                && span.attr_str(attr::MODEL_NAME) == Some(name)
        },
        count,
    )
}

// ---------------------------------------------------------------------------------------------
// The span
// ---------------------------------------------------------------------------------------------

#[instrument_ml(model = "t_span", version = "2.0.0")]
fn predict_span(row: &[f64; 3]) -> Vec<f64> {
    let total: f64 = row.iter().sum();
    row.iter().map(|value| value / total).collect()
}

#[test]
fn span_has_the_model_name_kind_and_prediction_attributes() {
    let harness = harness();
    Model::builder("t_span")
        .version("2.0.0")
        .labels(IRIS_LABELS)
        .register();

    let output = predict_span(&[1.0, 7.0, 2.0]);
    assert_eq!(
        output,
        vec![0.1, 0.7, 0.2],
        "the output is returned unchanged"
    );

    let span = harness.span("predict t_span");
    assert_eq!(span.kind(), SpanKind::Internal);
    assert_eq!(span.scope_name, names::SCOPE_NAME);
    assert!(span.is_root(), "no span was current: {span:?}");
    assert_eq!(span.attr_str(attr::MODEL_NAME), Some("t_span"));
    assert_eq!(span.attr_str(attr::MODEL_VERSION), Some("2.0.0"));
    assert_eq!(span.attr_str(attr::PREDICTION_OUTCOME), Some("ok"));
    assert_eq!(
        span.attr_str(attr::PREDICTION_LABEL),
        Some("versicolor"),
        "argmax 1 is the second declared label"
    );
    assert_eq!(span.attr_f64(attr::PREDICTION_CONFIDENCE), Some(0.7));
    assert_eq!(span.attr_i64(attr::PREDICTION_BATCH_SIZE), Some(1));
    assert_eq!(span.status_code(), StatusCode::Unset);
    assert_eq!(keys(&span.span.attributes), key_set(OK_SPAN_KEYS));
    assert_eq!(
        span.resource_attr_str("service.name"),
        Some("instrument-ml-test")
    );
    assert_context_restored("t_span_after");
}

#[instrument_ml(model = "t_named", version = "1", name = "classify t_named")]
fn predict_named(text: &str) -> (&'static str, f64) {
    if text.contains("spam") {
        ("spam", 0.95)
    } else {
        ("ham", 0.6)
    }
}

#[instrument_ml(model = "t_default_version")]
fn predict_default_version(value: i64) -> bool {
    value > 0
}

#[test]
fn name_overrides_the_span_name_and_version_defaults_to_the_crate_version() {
    let harness = harness();
    assert_eq!(predict_named("buy spam now"), ("spam", 0.95));
    assert!(predict_default_version(3));

    let named = harness.span("classify t_named");
    assert_eq!(named.attr_str(attr::MODEL_NAME), Some("t_named"));
    assert_eq!(named.attr_str(attr::MODEL_VERSION), Some("1"));
    assert_eq!(named.attr_str(attr::PREDICTION_LABEL), Some("spam"));
    assert_eq!(named.attr_f64(attr::PREDICTION_CONFIDENCE), Some(0.95));

    let versioned = harness.span("predict t_default_version");
    assert_eq!(
        versioned.attr_str(attr::MODEL_VERSION),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(versioned.attr_str(attr::PREDICTION_LABEL), Some("true"));
    assert_eq!(versioned.attr(attr::PREDICTION_CONFIDENCE), None);

    // Everything queued before this flush has arrived: no span kept the default name.
    harness.flush();
    assert!(
        harness.receiver.spans_named("predict t_named").is_empty(),
        "{:?}",
        harness.receiver.span_names()
    );
    let points = harness.sum_point(
        names::PREDICTIONS.name,
        &[model("t_named"), V1, OK, label("spam")],
        1,
    );
    assert_eq!(number_i64(&points), Some(1));
}

struct Served {
    name: String,
}

impl Served {
    #[instrument_ml(model = self.name, version = "3")]
    fn predict(&self, row: Vec<f64>) -> Vec<f64> {
        row
    }
}

#[test]
fn model_given_as_an_expression_is_looked_up_per_call() {
    let harness = harness();
    let first = Served {
        name: "t_expr_a".to_owned(),
    };
    let second = Served {
        name: "t_expr_b".to_owned(),
    };
    first.predict(vec![0.2, 0.8]);
    second.predict(vec![0.9, 0.1]);
    second.predict(vec![0.9, 0.1]);

    let span = harness.span("predict t_expr_a");
    assert_eq!(span.attr_str(attr::MODEL_NAME), Some("t_expr_a"));
    assert_eq!(span.attr_str(attr::MODEL_VERSION), Some("3"));
    assert_eq!(span.attr_str(attr::PREDICTION_LABEL), Some("1"));
    assert_eq!(spans_of_model("t_expr_b", 2).len(), 2);
    let b = harness.sum_point(
        names::PREDICTIONS.name,
        &[model("t_expr_b"), (attr::MODEL_VERSION, "3"), label("0")],
        2,
    );
    assert_eq!(number_i64(&b), Some(2));
}

// ---------------------------------------------------------------------------------------------
// Parents and children
// ---------------------------------------------------------------------------------------------

#[instrument_ml(stage = "preprocess")]
fn scale(row: [f64; 2]) -> [f64; 2] {
    tracing::info_span!("t_parent_inside_stage").in_scope(|| row.map(|value| value / 10.0))
}

#[instrument_ml(stage = "postprocess", model = "t_parent", version = "1")]
fn normalise(scores: Vec<f64>) -> Vec<f64> {
    let total: f64 = scores.iter().sum();
    scores.into_iter().map(|score| score / total).collect()
}

#[instrument_ml(model = "t_parent", version = "1")]
fn predict_parent(row: [f64; 2]) -> Vec<f64> {
    let scaled = scale(row);
    let scores = tracing::info_span!("t_parent_inside_body").in_scope(|| scaled.to_vec());
    normalise(scores)
}

#[test]
fn prediction_span_nests_under_the_tracing_span_and_parents_what_the_body_opens() {
    let harness = harness();
    let request = tracing::info_span!("t_parent_request");
    let output = {
        let _entered = request.enter();
        predict_parent([2.0, 6.0])
    };
    drop(request);
    assert!(
        close(output[0], 0.25) && close(output[1], 0.75),
        "{output:?}"
    );

    let request = harness.span("t_parent_request");
    let trace = request.trace_id_hex();
    let in_trace = harness.spans_where(|span| span.trace_id_hex() == trace, 6);
    let find = |name: &str| {
        in_trace
            .iter()
            .find(|span| span.name() == name)
            .unwrap_or_else(|| panic!("span {name} in trace {trace}: {in_trace:#?}"))
    };
    let prediction = find("predict t_parent");
    let body = find("t_parent_inside_body");
    let preprocess = find("preprocess");
    let inside_stage = find("t_parent_inside_stage");
    let postprocess = find("postprocess t_parent");

    assert!(request.is_root());
    assert_eq!(prediction.trace_id_hex(), trace);
    assert_eq!(
        prediction.parent_span_id_hex(),
        request.span_id_hex(),
        "the prediction span is a child of the entered tracing span"
    );
    assert!(body.is_child_of(prediction), "tracing span in the body");
    assert!(
        preprocess.is_child_of(prediction),
        "stage called from the body"
    );
    assert!(postprocess.is_child_of(prediction), "stage with a model");
    assert!(
        inside_stage.is_child_of(preprocess),
        "tracing span inside a stage"
    );

    assert_eq!(preprocess.attr_str(attr::STAGE), Some("preprocess"));
    assert_eq!(preprocess.kind(), SpanKind::Internal);
    assert_eq!(preprocess.status_code(), StatusCode::Unset);
    assert_eq!(postprocess.attr_str(attr::STAGE), Some("postprocess"));
    assert_eq!(postprocess.attr_str(attr::MODEL_NAME), Some("t_parent"));
    assert_eq!(postprocess.attr_str(attr::MODEL_VERSION), Some("1"));
    for stage in [preprocess, postprocess] {
        assert_eq!(
            stage.attr(attr::PREDICTION_OUTCOME),
            None,
            "a stage is not a prediction: {stage:?}"
        );
    }

    // Stages record no prediction metrics: one call, one duration.
    let duration = harness.histogram_point(
        names::PREDICTION_DURATION.name,
        &[model("t_parent"), V1, OK],
        1,
    );
    assert_eq!(duration.count, 1);
    let predictions = harness
        .receiver
        .latest_metric(names::PREDICTIONS.name)
        .expect("predictions exported");
    let total: i64 = predictions
        .sum_points()
        .iter()
        .filter(|point| point.attr_str(attr::MODEL_NAME) == Some("t_parent"))
        .filter_map(number_i64)
        .sum();
    assert_eq!(total, 1);
}

#[instrument_ml(model = "t_inner", version = "1")]
fn predict_inner(row: &[f64]) -> Vec<f64> {
    row.to_vec()
}

#[instrument_ml(model = "t_ensemble", version = "1")]
fn predict_ensemble(row: &[f64]) -> Vec<f64> {
    let first = predict_inner(row);
    let second = predict_inner(&[row[1], row[0]]);
    first
        .iter()
        .zip(second)
        .map(|(a, b)| (a + b) / 2.0)
        .collect()
}

#[test]
fn prediction_called_from_a_prediction_is_its_child() {
    let harness = harness();
    assert_eq!(predict_ensemble(&[0.2, 0.8]), vec![0.5, 0.5]);

    let outer = harness.span("predict t_ensemble");
    let inner = spans_of_model("t_inner", 2);
    for span in &inner {
        assert!(span.is_child_of(&outer), "{span:?}");
    }
    assert_ne!(inner[0].span_id_hex(), inner[1].span_id_hex());
    let labels: Vec<_> = inner
        .iter()
        .filter_map(|span| span.attr_str(attr::PREDICTION_LABEL))
        .collect();
    assert!(labels.contains(&"0") && labels.contains(&"1"), "{labels:?}");
    // Each model counts its own calls.
    let inner_calls =
        harness.histogram_point(names::PREDICTION_DURATION.name, &[model("t_inner"), OK], 2);
    assert_eq!(inner_calls.count, 2);
    let outer_calls = harness.histogram_point(
        names::PREDICTION_DURATION.name,
        &[model("t_ensemble"), OK],
        1,
    );
    assert_eq!(outer_calls.count, 1);
}

#[derive(Debug)]
struct ShapeMismatch;

#[instrument_ml(stage = "validate", model = "t_stage_error", version = "1")]
fn validate(row: &[f64]) -> Result<(), ShapeMismatch> {
    if row.len() == 2 {
        Ok(())
    } else {
        Err(ShapeMismatch)
    }
}

#[instrument_ml(model = "t_stage_error", version = "1")]
fn predict_validated(row: &[f64]) -> Result<Vec<f64>, ShapeMismatch> {
    validate(row)?;
    Ok(row.to_vec())
}

#[test]
fn failing_stage_has_an_error_status_and_the_error_propagates() {
    let harness = harness();
    assert!(matches!(
        predict_validated(&[1.0, 2.0, 3.0]),
        Err(ShapeMismatch)
    ));

    let stage = harness.span("validate t_stage_error");
    let prediction = harness.span("predict t_stage_error");
    assert!(stage.is_child_of(&prediction));
    assert_eq!(stage.status_code(), StatusCode::Error);
    assert_eq!(stage.attr_str(attr::ERROR_TYPE), Some("ShapeMismatch"));
    assert_eq!(prediction.status_code(), StatusCode::Error);
    assert_eq!(prediction.attr_str(attr::ERROR_TYPE), Some("ShapeMismatch"));
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
enum ScoreError {
    BadShape,
}

impl ErrorType for ScoreError {
    fn error_type(&self) -> &'static str {
        match self {
            Self::BadShape => "invalid_input",
        }
    }
}

#[instrument_ml(model = "t_err_typed", version = "1")]
fn predict_typed(row: &[f64]) -> Result<Vec<f64>, ScoreError> {
    if row.len() != 2 {
        return Err(ScoreError::BadShape);
    }
    Ok(vec![row[0], row[1]])
}

#[instrument_ml(model = "t_err_named", version = "1")]
fn predict_parsed(input: &str) -> Result<u32, ShapeMismatch> {
    let class = input.parse::<u32>().map_err(|_| ShapeMismatch)?;
    Ok(class)
}

#[test]
fn err_sets_error_status_and_error_type_from_the_trait_on_span_and_metrics() {
    let harness = harness();
    assert!(predict_typed(&[1.0]).is_err());
    assert!(predict_typed(&[1.0, 2.0, 3.0]).is_err());
    assert_eq!(predict_typed(&[0.4, 0.6]).ok(), Some(vec![0.4, 0.6]));

    let spans = spans_of_model("t_err_typed", 3);
    let failed: Vec<_> = spans
        .iter()
        .filter(|span| span.attr_str(attr::PREDICTION_OUTCOME) == Some("error"))
        .collect();
    assert_eq!(failed.len(), 2, "{spans:#?}");
    for span in failed {
        assert_eq!(span.status_code(), StatusCode::Error);
        assert_eq!(span.status_message(), "invalid_input");
        assert_eq!(span.attr_str(attr::ERROR_TYPE), Some("invalid_input"));
        assert_eq!(span.attr(attr::PREDICTION_LABEL), None);
        assert_eq!(span.attr(attr::PREDICTION_CONFIDENCE), None);
        assert_eq!(span.attr_i64(attr::PREDICTION_BATCH_SIZE), Some(1));
    }
    let ok = spans
        .iter()
        .find(|span| span.attr_str(attr::PREDICTION_OUTCOME) == Some("ok"))
        .expect("the ok span");
    assert_eq!(ok.status_code(), StatusCode::Unset);
    assert_eq!(ok.attr(attr::ERROR_TYPE), None);

    let error = [
        model("t_err_typed"),
        V1,
        (attr::PREDICTION_OUTCOME, outcome::ERROR),
        (attr::ERROR_TYPE, "invalid_input"),
    ];
    let duration = harness.histogram_point(names::PREDICTION_DURATION.name, &error, 2);
    assert_eq!(duration.count, 2);
    assert_eq!(
        point_keys(&duration),
        key_set(&[
            attr::MODEL_NAME,
            attr::MODEL_VERSION,
            attr::PREDICTION_OUTCOME,
            attr::ERROR_TYPE
        ])
    );
    let ok_duration = harness.histogram_point(
        names::PREDICTION_DURATION.name,
        &[model("t_err_typed"), OK],
        1,
    );
    assert_eq!(ok_duration.count, 1);
    let predictions = harness.sum_point(names::PREDICTIONS.name, &error, 2);
    assert_eq!(number_i64(&predictions), Some(2));
    assert_eq!(
        point_keys(&predictions),
        key_set(&[
            attr::MODEL_NAME,
            attr::MODEL_VERSION,
            attr::PREDICTION_OUTCOME,
            attr::ERROR_TYPE
        ]),
        "an error has no label"
    );
    let confidence = harness.histogram_point(
        names::PREDICTION_CONFIDENCE.name,
        &[model("t_err_typed")],
        1,
    );
    assert_eq!(confidence.count, 1, "only the ok call has a confidence");
    assert_eq!(confidence.sum, Some(0.6));
}

#[test]
fn err_without_error_type_impl_is_named_by_its_type() {
    let harness = harness();
    assert_eq!(predict_parsed("2").ok(), Some(2));
    assert!(predict_parsed("two").is_err());

    let spans = spans_of_model("t_err_named", 2);
    let failed = spans
        .iter()
        .find(|span| span.status_code() == StatusCode::Error)
        .expect("the failed call's span");
    assert_eq!(failed.attr_str(attr::ERROR_TYPE), Some("ShapeMismatch"));
    assert_eq!(failed.attr_str(attr::PREDICTION_OUTCOME), Some("error"));
    let ok = spans
        .iter()
        .find(|span| span.status_code() != StatusCode::Error)
        .expect("the ok call's span");
    assert_eq!(ok.attr_str(attr::PREDICTION_LABEL), Some("2"));

    let error = [
        model("t_err_named"),
        (attr::PREDICTION_OUTCOME, outcome::ERROR),
        (attr::ERROR_TYPE, "ShapeMismatch"),
    ];
    let duration = harness.histogram_point(names::PREDICTION_DURATION.name, &error, 1);
    assert_eq!(duration.count, 1);
    let predictions = harness.sum_point(names::PREDICTIONS.name, &error, 1);
    assert_eq!(number_i64(&predictions), Some(1));
}

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

#[instrument_ml(model = "t_metrics", version = "1", features = row)]
fn predict_metrics(row: &[f64; 2], probabilities: &[f64], in_flight: impl FnOnce()) -> Vec<f64> {
    in_flight();
    probabilities.to_vec()
}

#[instrument_ml(model = "t_metrics", version = "1")]
fn predict_metrics_text(label: &'static str) -> (&'static str, f64) {
    (label, 0.5)
}

#[test]
fn every_metric_arrives_with_its_attributes_and_values() {
    let harness = harness();
    Model::builder("t_metrics")
        .version("1")
        .labels(IRIS_LABELS)
        .features(["sepal_length", "sepal_width"])
        .register();
    let m = model("t_metrics");

    // The first call stays in flight until an export shows it as active.
    predict_metrics(&[5.1, 3.5], &[0.9, 0.05, 0.05], || {
        let active = harness.active_becomes("t_metrics", 1);
        assert_eq!(
            point_keys(&active),
            key_set(&[attr::MODEL_NAME, attr::MODEL_VERSION])
        );
    });
    predict_metrics(&[6.0, f64::NAN], &[0.2, 0.7, 0.1], || {});
    predict_metrics(&[6.5, 3.0], &[0.1, 0.1, 0.8], || {});
    predict_metrics(&[f64::NAN, f64::NAN], &[0.6, 0.3, 0.1], || {});
    // Class index 3 is outside the three declared labels.
    predict_metrics(&[1.0, 1.0], &[0.1, 0.1, 0.1, 0.7], || {});
    // Text labels: one declared, one not.
    predict_metrics_text("virginica");
    predict_metrics_text("dragonfly");

    // ml.prediction.duration: one value per call, catalogue buckets.
    let duration = harness.histogram_point(names::PREDICTION_DURATION.name, &[m, V1, OK], 7);
    assert_eq!(duration.count, 7);
    assert_eq!(duration.explicit_bounds, names::PREDICTION_DURATION_BUCKETS);
    assert_eq!(
        point_keys(&duration),
        key_set(&[
            attr::MODEL_NAME,
            attr::MODEL_VERSION,
            attr::PREDICTION_OUTCOME
        ])
    );
    assert!(duration.sum.expect("duration sum") > 0.0);

    // ml.predictions: by outcome and bounded label.
    let metric = harness.metric_where(names::PREDICTIONS.name, &[m], |metric| {
        metric
            .sum_points()
            .iter()
            .filter(|point| point.attr_str(attr::MODEL_NAME) == Some("t_metrics"))
            .filter_map(number_i64)
            .sum::<i64>()
            >= 7
    });
    assert_eq!(metric.is_monotonic(), Some(true));
    assert_eq!(metric.unit(), names::PREDICTIONS.unit);
    let count = |name: &'static str| {
        metric
            .sum_point(&[m, V1, OK, label(name)])
            .and_then(number_i64)
    };
    assert_eq!(count("setosa"), Some(2));
    assert_eq!(count("versicolor"), Some(1));
    assert_eq!(count("virginica"), Some(2));
    assert_eq!(count(names::OTHER_LABEL), Some(2));
    assert_eq!(count("dragonfly"), None, "undeclared labels are not series");
    assert_eq!(
        count("3"),
        None,
        "out-of-range class indexes are not series"
    );
    let series: Vec<_> = metric
        .sum_points()
        .iter()
        .filter(|point| point.attr_str(attr::MODEL_NAME) == Some("t_metrics"))
        .collect();
    assert_eq!(series.len(), 4, "{series:#?}");
    for point in series {
        assert_eq!(
            point_keys(point),
            key_set(&[
                attr::MODEL_NAME,
                attr::MODEL_VERSION,
                attr::PREDICTION_OUTCOME,
                attr::PREDICTION_LABEL
            ])
        );
    }

    // ml.prediction.confidence: count and sum of the seven confidences.
    let confidence = harness.histogram_point(names::PREDICTION_CONFIDENCE.name, &[m, V1], 7);
    assert_eq!(confidence.count, 7);
    let sum = confidence.sum.expect("confidence sum");
    assert!(close(sum, 0.9 + 0.7 + 0.8 + 0.6 + 0.7 + 0.5 + 0.5), "{sum}");
    assert_eq!(confidence.explicit_bounds, names::CONFIDENCE_BUCKETS);
    assert_eq!(confidence.min, Some(0.5));
    assert_eq!(confidence.max, Some(0.9));
    assert_eq!(
        point_keys(&confidence),
        key_set(&[attr::MODEL_NAME, attr::MODEL_VERSION])
    );

    // ml.feature.missing: by the registered feature names.
    let missing = |feature: &'static str, expected: i64| {
        let point = harness.sum_point(
            names::FEATURE_MISSING.name,
            &[m, V1, (attr::FEATURE_NAME, feature)],
            expected,
        );
        assert_eq!(number_i64(&point), Some(expected), "{feature}");
        assert_eq!(
            point_keys(&point),
            key_set(&[attr::MODEL_NAME, attr::MODEL_VERSION, attr::FEATURE_NAME])
        );
    };
    missing("sepal_length", 1);
    missing("sepal_width", 2);

    // ml.predictions.active: back to 0 once the calls returned (it was 1 above).
    let active = harness.active_becomes("t_metrics", 0);
    assert_eq!(number_i64(&active), Some(0));

    // Spans keep the label the model gave, metrics the bounded one.
    let spans = spans_of_model("t_metrics", 7);
    let labels: Vec<_> = spans
        .iter()
        .filter_map(|span| span.attr_str(attr::PREDICTION_LABEL))
        .collect();
    for expected in ["setosa", "versicolor", "virginica", "dragonfly"] {
        assert!(labels.contains(&expected), "{expected} in {labels:?}");
    }
}

#[instrument_ml(model = "t_concurrent", version = "1")]
fn predict_concurrent(call: usize) -> Result<(&'static str, f64), ScoreError> {
    if call.is_multiple_of(10) {
        return Err(ScoreError::BadShape);
    }
    Ok(if call.is_multiple_of(2) {
        ("a", 0.25)
    } else {
        ("b", 0.75)
    })
}

#[test]
fn concurrent_calls_on_many_threads_are_all_counted() {
    let harness = harness();
    Model::builder("t_concurrent")
        .version("1")
        .labels(["a", "b"])
        .register();
    const THREADS: usize = 4;
    const CALLS: usize = 400;
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                // Unsampled: thousands of spans would only slow the other tests down.
                let _parent = remote_parent(1, 1, TraceFlags::default()).attach();
                for call in 0..CALLS {
                    let _ = predict_concurrent(call);
                }
            });
        }
    });
    // Per thread: 40 errors (multiples of 10), 160 "a" (other evens), 200 "b" (odds).
    let m = model("t_concurrent");
    let a = harness.sum_point(names::PREDICTIONS.name, &[m, label("a")], 640);
    let b = harness.sum_point(names::PREDICTIONS.name, &[m, label("b")], 800);
    let errors = harness.sum_point(
        names::PREDICTIONS.name,
        &[m, (attr::ERROR_TYPE, "invalid_input")],
        160,
    );
    assert_eq!(number_i64(&a), Some(640));
    assert_eq!(number_i64(&b), Some(800));
    assert_eq!(number_i64(&errors), Some(160));
    let ok_duration = harness.histogram_point(names::PREDICTION_DURATION.name, &[m, OK], 1440);
    assert_eq!(ok_duration.count, 1440);
    assert_eq!(ok_duration.bucket_counts.iter().sum::<u64>(), 1440);
    let error_duration = harness.histogram_point(
        names::PREDICTION_DURATION.name,
        &[m, (attr::PREDICTION_OUTCOME, outcome::ERROR)],
        160,
    );
    assert_eq!(error_duration.count, 160);
    let confidence = harness.histogram_point(names::PREDICTION_CONFIDENCE.name, &[m], 1440);
    assert_eq!(confidence.count, 1440);
    assert!(close(
        confidence.sum.expect("sum"),
        640.0 * 0.25 + 800.0 * 0.75
    ));
    assert_eq!(
        number_i64(&harness.active_becomes("t_concurrent", 0)),
        Some(0)
    );
}

// ---------------------------------------------------------------------------------------------
// Batches
// ---------------------------------------------------------------------------------------------

#[instrument_ml(model = "t_batch", version = "1", batch, features = rows)]
fn predict_batch(rows: &[[f64; 2]]) -> Vec<Vec<f64>> {
    rows.iter().map(|row| row.to_vec()).collect()
}

#[test]
fn batch_records_one_duration_and_a_prediction_per_row() {
    let harness = harness();
    Model::builder("t_batch")
        .version("1")
        .labels(["neg", "pos"])
        .features(["f0", "f1"])
        .register();
    let m = model("t_batch");

    let rows = [
        [0.9, 0.1],
        [0.2, 0.8],
        [0.3, 0.7],
        [0.6, f64::NAN],
        [0.1, 0.9],
    ];
    assert_eq!(predict_batch(&rows).len(), 5);

    let duration = harness.histogram_point(names::PREDICTION_DURATION.name, &[m, V1, OK], 1);
    assert_eq!(duration.count, 1, "one duration for the whole batch");
    let neg = harness.sum_point(names::PREDICTIONS.name, &[m, OK, label("neg")], 2);
    let pos = harness.sum_point(names::PREDICTIONS.name, &[m, OK, label("pos")], 3);
    assert_eq!(number_i64(&neg), Some(2));
    assert_eq!(number_i64(&pos), Some(3));
    let confidence = harness.histogram_point(names::PREDICTION_CONFIDENCE.name, &[m], 5);
    assert_eq!(confidence.count, 5);
    assert!(close(confidence.sum.expect("sum"), 3.9));
    let missing = harness.sum_point(
        names::FEATURE_MISSING.name,
        &[m, (attr::FEATURE_NAME, "f1")],
        1,
    );
    assert_eq!(number_i64(&missing), Some(1));

    let span = harness.span("predict t_batch");
    assert_eq!(span.attr_i64(attr::PREDICTION_BATCH_SIZE), Some(5));
    assert_eq!(span.attr_str(attr::PREDICTION_OUTCOME), Some("ok"));
    let mean = span
        .attr_f64(attr::PREDICTION_CONFIDENCE)
        .expect("mean confidence");
    assert!(close(mean, 3.9 / 5.0), "{mean}");
}

#[instrument_ml(model = "t_batch_error", version = "1", batch, features = rows)]
fn predict_batch_checked(rows: &[Vec<f64>]) -> Result<Vec<Vec<f64>>, ShapeMismatch> {
    if rows.iter().any(|row| row.len() != 2) {
        return Err(ShapeMismatch);
    }
    Ok(rows.to_vec())
}

#[test]
fn failed_batch_counts_an_error_per_row_and_one_duration() {
    let harness = harness();
    let rows = vec![vec![0.5, 0.5], vec![0.1], vec![0.9, 0.1], vec![0.3, 0.7]];
    assert!(predict_batch_checked(&rows).is_err());

    let error = [
        model("t_batch_error"),
        (attr::PREDICTION_OUTCOME, outcome::ERROR),
        (attr::ERROR_TYPE, "ShapeMismatch"),
    ];
    let duration = harness.histogram_point(names::PREDICTION_DURATION.name, &error, 1);
    assert_eq!(duration.count, 1);
    let predictions = harness.sum_point(names::PREDICTIONS.name, &error, 4);
    assert_eq!(
        number_i64(&predictions),
        Some(4),
        "each of the four rows failed"
    );
    let span = harness.span("predict t_batch_error");
    assert_eq!(span.attr_i64(attr::PREDICTION_BATCH_SIZE), Some(4));
    assert_eq!(span.status_code(), StatusCode::Error);
    assert_eq!(span.attr_str(attr::ERROR_TYPE), Some("ShapeMismatch"));
}

// ---------------------------------------------------------------------------------------------
// Panics and cancellation
// ---------------------------------------------------------------------------------------------

#[instrument_ml(model = "t_panic", version = "1")]
fn predict_panics(in_flight: impl FnOnce()) -> Vec<f64> {
    in_flight();
    panic!("model exploded")
}

fn assert_abandoned(model_name: &'static str, kind: &'static str) {
    let harness = harness();
    let abandoned = [
        model(model_name),
        V1,
        (attr::PREDICTION_OUTCOME, kind),
        (attr::ERROR_TYPE, kind),
    ];
    let duration = harness.histogram_point(names::PREDICTION_DURATION.name, &abandoned, 1);
    assert_eq!(duration.count, 1);
    let predictions = harness.sum_point(names::PREDICTIONS.name, &abandoned, 1);
    assert_eq!(number_i64(&predictions), Some(1));
    let active = harness.active_becomes(model_name, 0);
    assert_eq!(number_i64(&active), Some(0));

    let span = harness.span(&names::prediction_span_name(model_name));
    assert_eq!(span.attr_str(attr::PREDICTION_OUTCOME), Some(kind));
    assert_eq!(span.attr_str(attr::ERROR_TYPE), Some(kind));
    assert_eq!(span.status_code(), StatusCode::Error);
}

#[test]
fn panic_is_recorded_and_propagates() {
    let harness = harness();
    let payload = catch_unwind(AssertUnwindSafe(|| {
        predict_panics(|| {
            harness.active_becomes("t_panic", 1);
        })
    }))
    .expect_err("the panic propagates out of the instrumented function");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"model exploded"));
    assert_abandoned("t_panic", outcome::PANIC);
    assert_context_restored("t_panic_after");
}

#[instrument_ml(model = "t_cancel", version = "1")]
async fn predict_forever(row: Vec<f64>) -> Vec<f64> {
    std::future::pending::<()>().await;
    row
}

#[test]
fn future_dropped_before_completion_is_recorded_as_cancelled() {
    let harness = harness();
    {
        let mut future = pin!(predict_forever(vec![0.5, 0.5]));
        let mut context = TaskContext::from_waker(Waker::noop());
        assert!(future.as_mut().poll(&mut context).is_pending());
        harness.active_becomes("t_cancel", 1);
    } // dropped here, never finished
    assert_abandoned("t_cancel", outcome::CANCELLED);
    assert_context_restored("t_cancel_after");
}

#[instrument_ml(model = "t_async_panic", version = "1")]
async fn predict_async_panics(row: Vec<f64>) -> Vec<f64> {
    tokio::task::yield_now().await;
    if row.is_empty() {
        panic!("empty row");
    }
    row
}

#[test]
fn panic_in_an_async_body_is_recorded_as_panic() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let joined = runtime.block_on(async { tokio::spawn(predict_async_panics(Vec::new())).await });
    let error = joined.expect_err("the task panicked");
    assert!(error.is_panic());
    assert_abandoned("t_async_panic", outcome::PANIC);
}

#[instrument_ml(model = "t_timeout", version = "1")]
async fn predict_slowly(row: Vec<f64>) -> Vec<f64> {
    tokio::time::sleep(Duration::from_secs(30)).await;
    row
}

#[test]
fn tokio_timeout_cancels_the_prediction() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let result = runtime.block_on(async {
        tokio::time::timeout(Duration::from_millis(20), predict_slowly(vec![1.0])).await
    });
    assert!(result.is_err(), "the timeout fires first");
    assert_abandoned("t_timeout", outcome::CANCELLED);
}

// ---------------------------------------------------------------------------------------------
// Async bodies
// ---------------------------------------------------------------------------------------------

#[instrument_ml(model = "t_async", version = "1")]
async fn predict_async(row: Vec<f64>) -> Vec<f64> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    tokio::task::yield_now().await;
    tracing::info_span!("t_async_after_await").in_scope(|| row)
}

#[async_trait::async_trait]
trait Scorer {
    async fn score(&self, row: Vec<f64>) -> Result<Vec<f64>, ScoreError>;
}

struct Remote;

#[async_trait::async_trait]
impl Scorer for Remote {
    #[instrument_ml(model = "t_async_trait", version = "1")]
    async fn score(&self, row: Vec<f64>) -> Result<Vec<f64>, ScoreError> {
        tokio::task::yield_now().await;
        tracing::info_span!("t_async_trait_after_await").in_scope(|| Ok(row))
    }
}

#[test]
fn async_body_keeps_the_span_current_across_await_on_tokio() {
    let harness = harness();
    let runtime = two_worker_runtime();
    let (plain, scored) = runtime.block_on(async {
        let plain = tokio::spawn(predict_async(vec![0.3, 0.7]));
        let scored = tokio::spawn(async { Remote.score(vec![0.8, 0.2]).await });
        (plain.await.expect("task"), scored.await.expect("task").ok())
    });
    assert_eq!(plain, vec![0.3, 0.7]);
    assert_eq!(scored, Some(vec![0.8, 0.2]));

    let prediction = harness.span("predict t_async");
    let inner = harness.span("t_async_after_await");
    assert!(
        inner.is_child_of(&prediction),
        "tracing span after .await: {inner:?}"
    );
    assert!(prediction.is_root());
    assert!(
        prediction.duration() >= Duration::from_millis(20),
        "the span covers the awaited sleep: {:?}",
        prediction.duration()
    );
    assert_eq!(prediction.attr_str(attr::PREDICTION_LABEL), Some("1"));
    let duration =
        harness.histogram_point(names::PREDICTION_DURATION.name, &[model("t_async"), OK], 1);
    assert_eq!(duration.count, 1);
    assert!(
        (0.020..15.0).contains(&duration.sum.expect("sum")),
        "the duration covers the awaited 20 ms sleep, in seconds: {:?}",
        duration.sum
    );

    let trait_prediction = harness.span("predict t_async_trait");
    let trait_inner = harness.span("t_async_trait_after_await");
    assert!(trait_inner.is_child_of(&trait_prediction));
    assert_eq!(trait_prediction.attr_str(attr::PREDICTION_LABEL), Some("0"));
}

#[instrument_ml(model = "t_async_nested", version = "1")]
async fn predict_async_nested(row: Vec<f64>) -> Vec<f64> {
    tokio::task::yield_now().await;
    row
}

#[test]
fn async_prediction_nests_under_an_instrumented_tracing_span() {
    use tracing::Instrument as _;
    let harness = harness();
    let runtime = two_worker_runtime();
    let output = runtime.block_on(async {
        tokio::spawn(
            async { predict_async_nested(vec![0.6, 0.4]).await }
                .instrument(tracing::info_span!("t_async_nested_request")),
        )
        .await
    });
    assert_eq!(output.expect("task"), vec![0.6, 0.4]);

    let request = harness.span("t_async_nested_request");
    let prediction = harness.span("predict t_async_nested");
    prediction.assert_child_of(&request);
}

#[instrument_ml(model = "t_spawned", version = "1")]
async fn predict_spawned(row: Vec<f64>) -> Vec<f64> {
    tokio::task::yield_now().await;
    row
}

/// The span of an `async fn` starts at its first poll, under the context current then (as
/// with `tracing::instrument`): a future spawned onto another task keeps the request as
/// its parent when it carries the request's span along.
#[test]
fn spawned_async_prediction_nests_when_the_future_carries_the_span() {
    use tracing::Instrument as _;
    let harness = harness();
    let runtime = two_worker_runtime();
    let output = runtime.block_on(
        async { tokio::spawn(predict_spawned(vec![0.6, 0.4]).in_current_span()).await }
            .instrument(tracing::info_span!("t_spawned_request")),
    );
    assert_eq!(output.expect("task"), vec![0.6, 0.4]);

    let request = harness.span("t_spawned_request");
    let prediction = harness.span("predict t_spawned");
    prediction.assert_child_of(&request);
}

// ---------------------------------------------------------------------------------------------
// Recorded arguments
// ---------------------------------------------------------------------------------------------

#[instrument_ml(model = "t_record", version = "1", record = [customer_id, note])]
fn predict_recorded(customer_id: u64, note: &str, secret_row: &[f64; 2]) -> f64 {
    secret_row[0] + note.len() as f64
}

#[instrument_ml(model = "t_no_record", version = "1")]
fn predict_unrecorded(customer_id: u64, note: &str, secret_row: &[f64; 2]) -> f64 {
    secret_row[0] + customer_id as f64 + note.len() as f64
}

#[test]
fn record_puts_named_arguments_on_the_span_and_nothing_else() {
    let harness = harness();
    predict_recorded(4242, "hello", &[31.5, 27.25]);
    let long_note = "x".repeat(300);
    predict_recorded(7, &long_note, &[31.5, 27.25]);
    predict_unrecorded(4242, "hello", &[31.5, 27.25]);

    let recorded = spans_of_model("t_record", 2);
    let short = recorded
        .iter()
        .find(|span| span.attr_str("ml.input.customer_id") == Some("4242"))
        .expect("the first call's span");
    assert_eq!(short.attr_str("ml.input.note"), Some("\"hello\""));
    assert_eq!(
        short.attr(&format!("{}secret_row", attr::INPUT_PREFIX)),
        None
    );
    let long = recorded
        .iter()
        .find(|span| span.attr_str("ml.input.customer_id") == Some("7"))
        .expect("the second call's span");
    let expected = format!("\"{}…", "x".repeat(255));
    assert_eq!(
        long.attr_str("ml.input.note"),
        Some(expected.as_str()),
        "Debug form cut at 256 bytes"
    );

    let plain = harness.span("predict t_no_record");
    assert_eq!(
        keys(&plain.span.attributes),
        key_set(&[
            attr::MODEL_NAME,
            attr::MODEL_VERSION,
            attr::PREDICTION_OUTCOME,
            attr::PREDICTION_BATCH_SIZE,
        ]),
        "a regression output has no label or confidence, and no argument is recorded"
    );
    for kv in &plain.span.attributes {
        let value = kv
            .value
            .as_ref()
            .map(mlotel_tests::any_value_to_string)
            .unwrap_or_default();
        assert!(
            !value.contains("4242") && !value.contains("hello") && !value.contains("31.5"),
            "argument value leaked into {}: {value}",
            kv.key
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Sampling
// ---------------------------------------------------------------------------------------------

#[instrument_ml(model = "t_sampling", version = "1")]
fn predict_sampling(row: &[f64]) -> Vec<f64> {
    tracing::info_span!("t_sampling_inside").in_scope(|| row.to_vec())
}

fn remote_parent(trace: u128, span: u64, flags: TraceFlags) -> opentelemetry::Context {
    opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(trace),
        SpanId::from(span),
        flags,
        true,
        TraceState::default(),
    ))
}

#[test]
fn unsampled_parent_exports_no_span_but_the_metrics() {
    let harness = harness();
    let unsampled_trace = 0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c_u128;
    let sampled_trace = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128;
    {
        let _parent = remote_parent(
            unsampled_trace,
            0xb7ad_6b71_6920_3331,
            TraceFlags::default(),
        )
        .attach();
        predict_sampling(&[0.1, 0.9]);
    }
    {
        let _parent =
            remote_parent(sampled_trace, 0x00f0_67aa_0ba9_02b7, TraceFlags::SAMPLED).attach();
        predict_sampling(&[0.8, 0.2]);
    }

    // The sampled call's span arrives as a child of its remote parent...
    let sampled = harness.span("predict t_sampling");
    assert_eq!(sampled.trace_id_hex(), format!("{sampled_trace:032x}"));
    assert_eq!(sampled.parent_span_id_hex(), "00f067aa0ba902b7");
    assert_eq!(sampled.attr_str(attr::PREDICTION_LABEL), Some("0"));
    // ... and by then the unsampled call's span (queued first) would have arrived too.
    harness.flush();
    let unsampled_hex = format!("{unsampled_trace:032x}");
    let leaked: Vec<_> = harness
        .receiver
        .spans()
        .into_iter()
        .filter(|span| span.trace_id_hex() == unsampled_hex)
        .collect();
    assert!(leaked.is_empty(), "unsampled spans exported: {leaked:#?}");
    assert_eq!(harness.receiver.spans_named("predict t_sampling").len(), 1);
    let inside = harness.receiver.spans_named("t_sampling_inside");
    assert_eq!(inside.len(), 1, "{inside:#?}");
    assert!(inside[0].is_child_of(&sampled));

    // Both calls are counted.
    let m = model("t_sampling");
    let duration = harness.histogram_point(names::PREDICTION_DURATION.name, &[m, OK], 2);
    assert_eq!(duration.count, 2);
    let unsampled_label = harness.sum_point(names::PREDICTIONS.name, &[m, label("1")], 1);
    assert_eq!(number_i64(&unsampled_label), Some(1));
    let sampled_label = harness.sum_point(names::PREDICTIONS.name, &[m, label("0")], 1);
    assert_eq!(number_i64(&sampled_label), Some(1));
}

// ---------------------------------------------------------------------------------------------
// Found in review
// ---------------------------------------------------------------------------------------------

/// A user's row type whose reading records to the same model (here: out-of-range values).
struct SelfReportingRow<'a> {
    values: [Option<f64>; 2],
    model: &'a Model,
}

impl mlotel::FeatureRow for SelfReportingRow<'_> {
    fn for_each_feature(&self, mut visit: impl FnMut(usize, Option<f64>)) {
        for (index, value) in self.values.iter().enumerate() {
            if value.is_some_and(|value| value > 100.0) {
                self.model.record_out_of_range_feature("x");
            }
            visit(index, *value);
        }
    }
}

#[instrument_ml(model = "t_row_reports", version = "1", features = row, skip_output)]
fn predict_reporting_row(row: &SelfReportingRow<'_>) -> usize {
    row.values.len()
}

#[test]
fn a_row_type_that_records_to_its_model_does_not_deadlock() {
    let harness = harness();
    let registered = Model::builder("t_row_reports")
        .version("1")
        .features(["x", "y"])
        .register();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let row = SelfReportingRow {
            values: [Some(500.0), None],
            model: &registered,
        };
        let _ = done.send(predict_reporting_row(&row));
    });
    let rows = finished
        .recv_timeout(Duration::from_secs(10))
        .expect("the call returns: reading the row does not hold the model's lock");
    assert_eq!(rows, 2);
    let out_of_range = harness.sum_point(
        names::FEATURE_OUT_OF_RANGE.name,
        &[model("t_row_reports"), (attr::FEATURE_NAME, "x")],
        1,
    );
    assert_eq!(number_i64(&out_of_range), Some(1));
    let missing = harness.sum_point(
        names::FEATURE_MISSING.name,
        &[model("t_row_reports"), (attr::FEATURE_NAME, "y")],
        1,
    );
    assert_eq!(number_i64(&missing), Some(1));
}

#[instrument_ml(model = "t_skip_batch", version = "1", batch, features = rows, skip_output)]
fn embed_batch(rows: &[[f64; 2]]) -> Vec<Vec<f32>> {
    rows.iter().map(|row| vec![row[0] as f32]).collect()
}

#[instrument_ml(model = "t_option_batch", version = "1", batch)]
fn maybe_batch(rows: &[[f64; 2]]) -> Option<Vec<[f64; 2]>> {
    (!rows.is_empty()).then(|| rows.to_vec())
}

#[test]
fn skipped_batches_count_their_rows_and_optional_batches_their_predictions() {
    let harness = harness();
    assert_eq!(embed_batch(&[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]).len(), 3);
    let embedded = harness.sum_point(names::PREDICTIONS.name, &[model("t_skip_batch"), OK], 3);
    assert_eq!(number_i64(&embedded), Some(3), "one prediction per row");

    assert!(maybe_batch(&[[0.2, 0.8], [0.9, 0.1]]).is_some());
    assert!(maybe_batch(&[]).is_none());
    let ok = [model("t_option_batch"), OK];
    let labelled = [label("1"), label("0")].map(|label| {
        let mut want = ok.to_vec();
        want.push(label);
        number_i64(&harness.sum_point(names::PREDICTIONS.name, &want, 1))
    });
    assert_eq!(
        labelled,
        [Some(1), Some(1)],
        "argmax of each row; None adds none"
    );
    let duration = harness.histogram_point(names::PREDICTION_DURATION.name, &ok, 2);
    assert_eq!(duration.count, 2, "one duration per call, None included");
}

#[instrument_ml(model = "t_class_id")]
fn classify_id(row: &[f64; 2]) -> u32 {
    u32::from(row[0] > row[1])
}

#[test]
fn integer_class_ids_name_declared_labels_and_the_version_defaults_to_the_registered_one() {
    let harness = harness();
    Model::builder("t_class_id")
        .version("7.1.0")
        .labels(["cat", "dog"])
        .register();
    assert_eq!(classify_id(&[0.9, 0.1]), 1);
    let dogs = harness.sum_point(
        names::PREDICTIONS.name,
        &[
            model("t_class_id"),
            (attr::MODEL_VERSION, "7.1.0"),
            OK,
            label("dog"),
        ],
        1,
    );
    assert_eq!(number_i64(&dogs), Some(1));
}
