//! `Model::start_call` over the real OTLP wire: a call started by hand records what
//! `#[instrument_ml]` records (it is the same `PredictionCall`): the span with the model's
//! attributes, label, confidence and outcome, the duration and prediction count per
//! outcome, the batch's rows, and a dropped call as cancelled; the active count returns to
//! zero.

use std::time::Duration;

use mlotel::names::{self, attr};
use mlotel::{Label, Model, Outcome, Prediction, Telemetry};
use mlotel_tests::OtlpReceiver;
use mlotel_tests::proto::trace::v1::status::StatusCode;

const WAIT: Duration = Duration::from_secs(15);
const MODEL: (&str, &str) = (attr::MODEL_NAME, "calls");
const VERSION: (&str, &str) = (attr::MODEL_VERSION, "1.0.0");

fn telemetry_for(receiver: &OtlpReceiver) -> Telemetry {
    let endpoint = receiver.endpoint();
    Telemetry::builder()
        .service_name("prediction-call-test")
        .install_logging(false)
        .env_vars([
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_METRIC_EXPORT_INTERVAL", "3600000"),
        ])
        .build()
        .expect("telemetry builds")
}

#[test]
fn a_call_started_by_hand_records_what_the_attribute_records() {
    let receiver = OtlpReceiver::grpc();
    let telemetry = telemetry_for(&receiver);
    let model = telemetry.model(
        Model::builder("calls")
            .version("1.0.0")
            .labels(["cat", "dog"]),
    );

    let call = model.start_call();
    assert!(
        call.context().is_some(),
        "always_on samples the call's span"
    );
    call.finish_prediction(Prediction {
        label: Some(Label::Index(1)),
        confidence: Some(0.8),
    });

    model.start_call().finish(Outcome::Ok {
        label: Some("cat"),
        confidence: Some(0.6),
    });
    model.start_call().finish(Outcome::Error {
        error_type: "Timeout",
    });

    let mut batch = model.start_call();
    batch.record_row(Prediction {
        label: Some(Label::Text("cat")),
        confidence: Some(0.9),
    });
    batch.record_row(Prediction {
        label: Some(Label::Text("parrot")),
        confidence: Some(0.5),
    });
    batch.finish_batch(2);

    drop(model.start_call());
    telemetry.shutdown().expect("flushes to a live receiver");

    let spans = receiver.wait_for_spans(|span| span.name() == "predict calls", 5, WAIT);
    let dog = spans
        .iter()
        .find(|span| span.attr_str(attr::PREDICTION_LABEL) == Some("dog"))
        .expect("the index 1 is the declared label dog");
    assert_eq!(dog.attr_str(attr::MODEL_NAME), Some("calls"));
    assert_eq!(dog.attr_str(attr::MODEL_VERSION), Some("1.0.0"));
    assert_eq!(dog.attr_f64(attr::PREDICTION_CONFIDENCE), Some(0.8));
    assert_eq!(dog.attr_str(attr::PREDICTION_OUTCOME), Some("ok"));
    let failed = spans
        .iter()
        .find(|span| span.attr_str(attr::ERROR_TYPE) == Some("Timeout"))
        .expect("the failed call's span");
    assert_eq!(failed.status_code(), StatusCode::Error);
    let batch = spans
        .iter()
        .find(|span| span.attr_i64(attr::PREDICTION_BATCH_SIZE) == Some(2))
        .expect("the batch's span");
    let mean = batch.attr_f64(attr::PREDICTION_CONFIDENCE).expect("mean");
    assert!((mean - 0.7).abs() < 1e-9, "batch mean confidence {mean}");
    assert!(
        spans
            .iter()
            .any(|span| span.attr_str(attr::PREDICTION_OUTCOME) == Some("cancelled")),
        "a dropped call is cancelled"
    );

    let predictions = receiver.wait_for_metric(names::PREDICTIONS.name, WAIT);
    let count = |outcome: &str, label: Option<&str>| {
        let mut want = vec![MODEL, VERSION, (attr::PREDICTION_OUTCOME, outcome)];
        if let Some(label) = label {
            want.push((attr::PREDICTION_LABEL, label));
        }
        predictions
            .sum_point(&want)
            .and_then(mlotel_tests::number_i64)
    };
    assert_eq!(count("ok", Some("dog")), Some(1));
    assert_eq!(count("ok", Some("cat")), Some(2), "one call, one batch row");
    assert_eq!(count("ok", Some(names::OTHER_LABEL)), Some(1));
    assert_eq!(count("error", None), Some(1));
    assert_eq!(count("cancelled", None), Some(1));

    let duration = receiver.wait_for_metric(names::PREDICTION_DURATION.name, WAIT);
    let ok = duration
        .histogram_point(&[MODEL, VERSION, (attr::PREDICTION_OUTCOME, "ok")])
        .expect("ok durations");
    assert_eq!(ok.count, 3, "one duration per call, the batch's once");

    let active = receiver.wait_for_metric(names::PREDICTIONS_ACTIVE.name, WAIT);
    let point = active.sum_point(&[MODEL, VERSION]).expect("active point");
    assert_eq!(mlotel_tests::number_i64(point), Some(0), "every call ended");
}
