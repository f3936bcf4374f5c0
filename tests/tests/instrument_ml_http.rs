//! `#[instrument_ml]` over OTLP HTTP/protobuf: the prediction span nested in a `tracing`
//! span, errors, missing features, `label`/`confidence` closures on an async batch method
//! and `skip_output`, as they arrive at an HTTP receiver.

mod instrument_ml_support;

use std::sync::LazyLock;

use instrument_ml_support::{Harness, OK_SPAN_KEYS, close, key_set, keys, point_keys};
use mlotel::names::{self, attr, outcome};
use mlotel::{ErrorType, Model, instrument_ml};
use mlotel_tests::proto::trace::v1::span::SpanKind;
use mlotel_tests::proto::trace::v1::status::StatusCode;
use mlotel_tests::{Attributes as _, OtlpReceiver, number_i64};

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::install(OtlpReceiver::http(), &[]));

fn harness() -> &'static Harness {
    &HARNESS
}

#[derive(Debug)]
enum PredictError {
    Timeout,
}

impl ErrorType for PredictError {
    fn error_type(&self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
        }
    }
}

#[instrument_ml(model = "h_iris", version = "2.0.0", features = row)]
fn predict(row: &[f64; 3]) -> Result<[f64; 3], PredictError> {
    if row[0] < 0.0 {
        return Err(PredictError::Timeout);
    }
    Ok([0.05, 0.15, 0.8])
}

#[test]
fn span_and_metrics_arrive_over_http() {
    let harness = harness();
    Model::builder("h_iris")
        .version("2.0.0")
        .labels(["setosa", "versicolor", "virginica"])
        .features(["sepal_length", "sepal_width", "petal_length"])
        .register();
    let request = tracing::info_span!("h_request");
    request.in_scope(|| {
        assert!(predict(&[5.1, f64::NAN, 1.4]).is_ok());
        assert!(predict(&[-1.0, 3.0, 1.4]).is_err());
    });
    drop(request);

    let request = harness.span("h_request");
    let spans = harness.spans_where(|span| span.name() == "predict h_iris", 2);
    let ok = spans
        .iter()
        .find(|span| span.status_code() == StatusCode::Unset)
        .expect("the ok span");
    assert!(ok.is_child_of(&request));
    assert_eq!(ok.kind(), SpanKind::Internal);
    assert_eq!(keys(&ok.span.attributes), key_set(OK_SPAN_KEYS));
    assert_eq!(ok.attr_str(attr::MODEL_VERSION), Some("2.0.0"));
    assert_eq!(ok.attr_str(attr::PREDICTION_LABEL), Some("virginica"));
    assert_eq!(ok.attr_f64(attr::PREDICTION_CONFIDENCE), Some(0.8));
    let failed = spans
        .iter()
        .find(|span| span.status_code() == StatusCode::Error)
        .expect("the failed span");
    assert!(failed.is_child_of(&request));
    assert_eq!(failed.attr_str(attr::ERROR_TYPE), Some("timeout"));
    assert_eq!(failed.attr_str(attr::PREDICTION_OUTCOME), Some("error"));

    let m = (attr::MODEL_NAME, "h_iris");
    let v = (attr::MODEL_VERSION, "2.0.0");
    let ok_duration = harness.histogram_point(
        names::PREDICTION_DURATION.name,
        &[m, v, (attr::PREDICTION_OUTCOME, outcome::OK)],
        1,
    );
    assert_eq!(ok_duration.count, 1);
    let error = [
        m,
        v,
        (attr::PREDICTION_OUTCOME, outcome::ERROR),
        (attr::ERROR_TYPE, "timeout"),
    ];
    let error_duration = harness.histogram_point(names::PREDICTION_DURATION.name, &error, 1);
    assert_eq!(error_duration.count, 1);
    let errors = harness.sum_point(names::PREDICTIONS.name, &error, 1);
    assert_eq!(number_i64(&errors), Some(1));
    let virginica = harness.sum_point(
        names::PREDICTIONS.name,
        &[m, v, (attr::PREDICTION_LABEL, "virginica")],
        1,
    );
    assert_eq!(number_i64(&virginica), Some(1));
    let confidence = harness.histogram_point(names::PREDICTION_CONFIDENCE.name, &[m, v], 1);
    assert_eq!(confidence.count, 1);
    assert_eq!(confidence.sum, Some(0.8));
    // The row of the failed call is read too: it had no missing value.
    let missing = harness.sum_point(
        names::FEATURE_MISSING.name,
        &[m, v, (attr::FEATURE_NAME, "sepal_width")],
        1,
    );
    assert_eq!(number_i64(&missing), Some(1));
    assert_eq!(
        point_keys(&missing),
        key_set(&[attr::MODEL_NAME, attr::MODEL_VERSION, attr::FEATURE_NAME])
    );
    let active = harness.active_becomes("h_iris", 0);
    assert_eq!(number_i64(&active), Some(0));
}

struct Churn;

impl Churn {
    #[instrument_ml(model = "h_churn", version = "1", batch, features = rows,
                    label = |score: &f64| *score > 0.5, confidence = |score: &f64| *score)]
    async fn score(&self, rows: &[[f64; 2]]) -> Vec<f64> {
        tokio::task::yield_now().await;
        rows.iter().map(|row| (row[0] + row[1]) / 2.0).collect()
    }
}

#[test]
fn async_batch_with_label_and_confidence_closures() {
    let harness = harness();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let rows = [[0.9, 0.7], [0.1, 0.3], [0.6, 0.8], [0.2, 0.2], [1.0, 0.8]];
    let scores = runtime.block_on(Churn.score(&rows));
    assert_eq!(scores.len(), 5);

    let m = (attr::MODEL_NAME, "h_churn");
    let duration = harness.histogram_point(names::PREDICTION_DURATION.name, &[m], 1);
    assert_eq!(duration.count, 1);
    let yes = harness.sum_point(
        names::PREDICTIONS.name,
        &[m, (attr::PREDICTION_LABEL, "true")],
        3,
    );
    let no = harness.sum_point(
        names::PREDICTIONS.name,
        &[m, (attr::PREDICTION_LABEL, "false")],
        2,
    );
    assert_eq!(number_i64(&yes), Some(3));
    assert_eq!(number_i64(&no), Some(2));
    let confidence = harness.histogram_point(names::PREDICTION_CONFIDENCE.name, &[m], 5);
    assert_eq!(confidence.count, 5);
    let expected_sum = 0.8 + 0.2 + 0.7 + 0.2 + 0.9;
    assert!(close(confidence.sum.expect("sum"), expected_sum));

    let span = harness.span("predict h_churn");
    assert_eq!(span.attr_i64(attr::PREDICTION_BATCH_SIZE), Some(5));
    let mean = span
        .attr_f64(attr::PREDICTION_CONFIDENCE)
        .expect("mean confidence");
    assert!(close(mean, expected_sum / 5.0), "{mean}");
}

/// An output type without `PredictionOutput`: `skip_output` needs none.
#[derive(Debug, PartialEq)]
struct Embedding(Vec<f32>);

#[instrument_ml(model = "h_embed", version = "1", skip_output)]
fn embed(text: &str) -> Embedding {
    Embedding(text.bytes().map(f32::from).collect())
}

#[test]
fn skip_output_counts_the_call_without_label_or_confidence() {
    let harness = harness();
    assert_eq!(embed("ab"), Embedding(vec![97.0, 98.0]));

    let span = harness.span("predict h_embed");
    assert_eq!(
        keys(&span.span.attributes),
        key_set(&[
            attr::MODEL_NAME,
            attr::MODEL_VERSION,
            attr::PREDICTION_OUTCOME,
            attr::PREDICTION_BATCH_SIZE,
        ])
    );
    let m = (attr::MODEL_NAME, "h_embed");
    let predictions = harness.sum_point(names::PREDICTIONS.name, &[m], 1);
    assert_eq!(number_i64(&predictions), Some(1));
    assert_eq!(predictions.attr(attr::PREDICTION_LABEL), None);
    assert_eq!(predictions.attr_str(attr::PREDICTION_OUTCOME), Some("ok"));
    let duration = harness.histogram_point(names::PREDICTION_DURATION.name, &[m], 1);
    assert_eq!(duration.count, 1);
}
