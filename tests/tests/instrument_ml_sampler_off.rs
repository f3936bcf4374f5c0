//! `#[instrument_ml]` with `OTEL_TRACES_SAMPLER=always_off`: no span is exported (neither
//! the prediction's nor its stages' nor the `tracing` spans around and inside it), but
//! every metric is.

mod instrument_ml_support;

use std::sync::LazyLock;

use instrument_ml_support::Harness;
use mlotel::names::{self, attr, outcome};
use mlotel::{Model, instrument_ml};
use mlotel_tests::{OtlpReceiver, number_i64};

static HARNESS: LazyLock<Harness> = LazyLock::new(|| {
    Harness::install(
        OtlpReceiver::grpc(),
        &[("OTEL_TRACES_SAMPLER", "always_off")],
    )
});

#[instrument_ml(stage = "preprocess")]
fn scale(row: &[f64; 2]) -> [f64; 2] {
    row.map(|value| value / 10.0)
}

#[instrument_ml(model = "s_off", version = "1", features = row, record = [request_id])]
fn predict(request_id: u64, row: &[f64; 2]) -> Result<Vec<f64>, String> {
    if request_id == 0 {
        return Err("no request id".to_owned());
    }
    let scaled = tracing::info_span!("s_off_inside").in_scope(|| scale(row));
    Ok(scaled.to_vec())
}

#[test]
fn always_off_exports_metrics_but_no_spans() {
    let harness = &*HARNESS;
    Model::builder("s_off")
        .version("1")
        .labels(["a", "b"])
        .features(["x", "y"])
        .register();
    tracing::info_span!("s_off_request").in_scope(|| {
        assert_eq!(predict(1, &[1.0, 9.0]), Ok(vec![0.1, 0.9]));
        assert!(predict(2, &[8.0, f64::NAN]).is_ok());
        assert_eq!(predict(3, &[8.0, 2.0]), Ok(vec![0.8, 0.2]));
        assert!(predict(0, &[1.0, 1.0]).is_err());
    });

    let m = (attr::MODEL_NAME, "s_off");
    let ok = [m, (attr::PREDICTION_OUTCOME, outcome::OK)];
    let duration = harness.histogram_point(names::PREDICTION_DURATION.name, &ok, 3);
    assert_eq!(duration.count, 3);
    let b = harness.sum_point(
        names::PREDICTIONS.name,
        &[m, (attr::PREDICTION_LABEL, "b")],
        1,
    );
    assert_eq!(number_i64(&b), Some(1));
    let a = harness.sum_point(
        names::PREDICTIONS.name,
        &[m, (attr::PREDICTION_LABEL, "a")],
        2,
    );
    assert_eq!(number_i64(&a), Some(2));
    let error = harness.sum_point(
        names::PREDICTIONS.name,
        &[m, (attr::ERROR_TYPE, "String")],
        1,
    );
    assert_eq!(number_i64(&error), Some(1));
    let confidence = harness.histogram_point(names::PREDICTION_CONFIDENCE.name, &[m], 3);
    assert_eq!(confidence.count, 3);
    let missing = harness.sum_point(
        names::FEATURE_MISSING.name,
        &[m, (attr::FEATURE_NAME, "y")],
        1,
    );
    assert_eq!(number_i64(&missing), Some(1));

    // Whatever was queued is exported by the time the flush returns: nothing was.
    harness.flush();
    assert!(
        harness.receiver.spans().is_empty(),
        "spans exported with always_off: {:?}",
        harness.receiver.span_names()
    );
}
