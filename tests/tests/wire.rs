//! Telemetry over the real OTLP wire: spans and every prediction instrument arrive with the
//! right names, units, attributes and buckets over gRPC and HTTP; shutdown flushes; a
//! receiver that comes up late still gets data; tracing spans nest with prediction spans.

use std::time::{Duration, Instant};

use mlotel::names::{self, InstrumentSpec, attr};
use mlotel::{Model, Outcome, Telemetry};
use mlotel_tests::proto::trace::v1::span::SpanKind;
use mlotel_tests::proto::trace::v1::status::StatusCode;
use mlotel_tests::{OtlpReceiver, ReceivedMetric};
use tracing_subscriber::layer::SubscriberExt as _;

const WAIT: Duration = Duration::from_secs(15);

fn protocol_name(receiver: &OtlpReceiver) -> &'static str {
    match receiver.protocol() {
        mlotel_tests::Protocol::Grpc => "grpc",
        mlotel_tests::Protocol::HttpProtobuf => "http/protobuf",
    }
}

/// Telemetry sending to `receiver`, with a long metric interval so only flushes export.
fn telemetry_for(receiver: &OtlpReceiver, extra: &[(&str, &str)]) -> Telemetry {
    let endpoint = receiver.endpoint();
    let mut env = vec![
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol_name(receiver)),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_METRIC_EXPORT_INTERVAL", "3600000"),
        ("OTEL_SERVICE_NAME", "wire-test"),
    ];
    env.extend_from_slice(extra);
    Telemetry::builder()
        .env_vars(
            env.iter()
                .map(|&(key, value)| (key.to_owned(), value.to_owned())),
        )
        .build()
        .expect("telemetry builds")
}

fn iris(telemetry: &Telemetry) -> Model {
    telemetry.model(
        Model::builder("iris")
            .version("2.0.0")
            .features(["sepal_length", "petal_width"])
            .labels(["setosa", "versicolor", "virginica"]),
    )
}

/// One prediction the way the macro will record it: active, span, metrics.
fn predict(model: &Model, outcome: Outcome<'_>) {
    let started = Instant::now();
    let _active = model.track_active();
    let ((), span) = model.in_span(|| ());
    span.end(1, outcome);
    model.record_prediction(started.elapsed(), 1, outcome);
}

fn record_everything(model: &Model) {
    model.set_load_duration(Duration::from_millis(250));
    model.set_loaded(true);
    for _ in 0..3 {
        predict(
            model,
            Outcome::Ok {
                label: Some("setosa"),
                confidence: Some(0.9),
            },
        );
    }
    predict(
        model,
        Outcome::Ok {
            label: Some("unseen-class"),
            confidence: Some(0.4),
        },
    );
    predict(
        model,
        Outcome::Error {
            error_type: "InvalidInput",
        },
    );
    model.record_missing_feature("petal_width");
    model.record_out_of_range_feature("sepal_length");
}

fn assert_spec(metric: &ReceivedMetric, spec: InstrumentSpec) {
    assert_eq!(metric.unit(), spec.unit, "unit of {}", spec.name);
    assert_eq!(
        metric.description(),
        spec.description,
        "description of {}",
        spec.name
    );
    assert_eq!(metric.scope_name, names::SCOPE_NAME);
    assert_eq!(metric.resource_attr_str("service.name"), Some("wire-test"));
}

const MODEL: (&str, &str) = (attr::MODEL_NAME, "iris");
const VERSION: (&str, &str) = (attr::MODEL_VERSION, "2.0.0");

fn prediction_telemetry_arrives(receiver: OtlpReceiver) {
    let telemetry = telemetry_for(&receiver, &[]);
    let model = iris(&telemetry);
    record_everything(&model);
    telemetry.shutdown().expect("flushes to a live receiver");

    // Spans: name, kind, model attributes, label/confidence, error status.
    let spans = receiver.wait_for_spans(|span| span.name() == "predict iris", 5, WAIT);
    let ok = spans
        .iter()
        .find(|span| span.attr_str(attr::PREDICTION_LABEL) == Some("setosa"))
        .expect("an ok span with its label");
    assert_eq!(ok.kind(), SpanKind::Internal);
    assert_eq!(ok.attr_str(attr::MODEL_NAME), Some("iris"));
    assert_eq!(ok.attr_str(attr::MODEL_VERSION), Some("2.0.0"));
    assert_eq!(ok.attr_f64(attr::PREDICTION_CONFIDENCE), Some(0.9));
    assert_eq!(ok.attr_i64(attr::PREDICTION_BATCH_SIZE), Some(1));
    assert_eq!(ok.status_code(), StatusCode::Unset);
    // Resource: who sent it.
    assert_eq!(ok.resource_attr_str("service.name"), Some("wire-test"));
    assert_eq!(ok.resource_attr_str("telemetry.sdk.language"), Some("rust"));
    assert_eq!(
        ok.resource_attr_str("telemetry.distro.name"),
        Some("mlotel")
    );
    assert!(
        ok.resource_attr_str("service.instance.id")
            .is_some_and(|id| id.len() == 36)
    );
    assert!(mlotel_tests::attr_i64(&ok.resource_attributes, "process.pid").is_some());
    let failed = spans
        .iter()
        .find(|span| span.attr_str(attr::PREDICTION_OUTCOME) == Some("error"))
        .expect("the error span");
    assert_eq!(failed.status_code(), StatusCode::Error);
    assert_eq!(failed.attr_str(attr::ERROR_TYPE), Some("InvalidInput"));

    // Duration histogram: buckets from the catalogue, one point per outcome.
    let duration = receiver.wait_for_metric(names::PREDICTION_DURATION.name, WAIT);
    assert_spec(&duration, names::PREDICTION_DURATION);
    let ok_point = duration
        .histogram_point(&[MODEL, VERSION, (attr::PREDICTION_OUTCOME, "ok")])
        .expect("ok duration point");
    assert_eq!(ok_point.count, 4);
    assert_eq!(ok_point.explicit_bounds, names::PREDICTION_DURATION_BUCKETS);
    let error_point = duration
        .histogram_point(&[
            (attr::PREDICTION_OUTCOME, "error"),
            (attr::ERROR_TYPE, "InvalidInput"),
        ])
        .expect("error duration point");
    assert_eq!(error_point.count, 1);

    // Prediction counter: labels bounded to the declared set plus __other__.
    let predictions = receiver.wait_for_metric(names::PREDICTIONS.name, WAIT);
    assert_spec(&predictions, names::PREDICTIONS);
    assert_eq!(predictions.is_monotonic(), Some(true));
    let count = |label: &str| {
        predictions
            .sum_point(&[
                MODEL,
                VERSION,
                (attr::PREDICTION_OUTCOME, "ok"),
                (attr::PREDICTION_LABEL, label),
            ])
            .and_then(mlotel_tests::number_i64)
    };
    assert_eq!(count("setosa"), Some(3));
    assert_eq!(count(names::OTHER_LABEL), Some(1));
    assert_eq!(
        count("unseen-class"),
        None,
        "undeclared labels must not become series"
    );

    let confidence = receiver.wait_for_metric(names::PREDICTION_CONFIDENCE.name, WAIT);
    assert_spec(&confidence, names::PREDICTION_CONFIDENCE);
    let point = confidence
        .histogram_point(&[MODEL, VERSION])
        .expect("confidence point");
    assert_eq!(point.count, 4);
    assert_eq!(point.explicit_bounds, names::CONFIDENCE_BUCKETS);
    assert!((point.sum.expect("sum") - 3.1).abs() < 1e-9);

    let active = receiver.wait_for_metric(names::PREDICTIONS_ACTIVE.name, WAIT);
    assert_spec(&active, names::PREDICTIONS_ACTIVE);
    assert_eq!(active.is_monotonic(), Some(false));
    let point = active.sum_point(&[MODEL, VERSION]).expect("active point");
    assert_eq!(
        mlotel_tests::number_i64(point),
        Some(0),
        "every guard was dropped"
    );

    for (spec, expected) in [
        (names::MODEL_LOADED, 1.0),
        (names::MODEL_INFO, 1.0),
        (names::MODEL_LOAD_DURATION, 0.25),
    ] {
        let gauge = receiver.wait_for_metric(spec.name, WAIT);
        assert_spec(&gauge, spec);
        let point = gauge.gauge_point(&[MODEL, VERSION]).expect("gauge point");
        let value = mlotel_tests::number_f64(point)
            .or_else(|| mlotel_tests::number_i64(point).map(|value| value as f64));
        assert_eq!(value, Some(expected), "{}", spec.name);
    }
    for (spec, feature) in [
        (names::FEATURE_MISSING, "petal_width"),
        (names::FEATURE_OUT_OF_RANGE, "sepal_length"),
    ] {
        let counter = receiver.wait_for_metric(spec.name, WAIT);
        assert_spec(&counter, spec);
        let point = counter
            .sum_point(&[MODEL, VERSION, (attr::FEATURE_NAME, feature)])
            .expect("feature point");
        assert_eq!(mlotel_tests::number_i64(point), Some(1));
    }
}

#[test]
fn prediction_span_and_every_instrument_arrive_over_grpc() {
    prediction_telemetry_arrives(OtlpReceiver::grpc());
}

#[test]
fn prediction_span_and_every_instrument_arrive_over_http() {
    prediction_telemetry_arrives(OtlpReceiver::http());
}

#[test]
fn tracing_spans_nest_around_and_inside_prediction_spans() {
    let receiver = OtlpReceiver::grpc();
    let telemetry = telemetry_for(&receiver, &[]);
    let model = iris(&telemetry);
    let subscriber = tracing_subscriber::registry().with(telemetry.tracing_layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("handle_request").in_scope(|| {
            let ((), span) = model.in_span(|| {
                tracing::info_span!("preprocess").in_scope(|| {});
            });
            span.end(
                1,
                Outcome::Ok {
                    label: None,
                    confidence: None,
                },
            );
        });
    });
    telemetry.shutdown().expect("flush");

    let request = receiver.wait_for_span("handle_request", WAIT);
    let prediction = receiver.wait_for_span("predict iris", WAIT);
    let preprocess = receiver.wait_for_span("preprocess", WAIT);
    assert!(request.is_root());
    assert!(
        prediction.is_child_of(&request),
        "prediction span under the request span"
    );
    assert!(
        preprocess.is_child_of(&prediction),
        "tracing span inside the body under the prediction span"
    );
}

#[test]
fn environment_variables_choose_service_headers_sampler_and_signal_endpoints() {
    let traces = OtlpReceiver::http();
    let metrics = OtlpReceiver::grpc();
    let traces_url = traces.traces_url();
    let metrics_endpoint = metrics.endpoint();
    let telemetry = Telemetry::builder()
        .service_name("set-in-code")
        .env_vars([
            ("OTEL_SERVICE_NAME", "from-env"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment.name=staging,team=ml%20platform",
            ),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=secret"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces_url.as_str()),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                metrics_endpoint.as_str(),
            ),
            ("OTEL_METRIC_EXPORT_INTERVAL", "100"),
        ])
        .build()
        .expect("telemetry builds");
    let model = iris(&telemetry);
    predict(
        &model,
        Outcome::Ok {
            label: Some("setosa"),
            confidence: Some(0.8),
        },
    );

    // The periodic reader pushes every 100 ms without any flush.
    let predictions = metrics.wait_for_metric(names::PREDICTIONS.name, WAIT);
    assert_eq!(
        predictions.resource_attr_str("service.name"),
        Some("from-env")
    );
    assert_eq!(
        predictions.resource_attr_str("deployment.environment.name"),
        Some("staging")
    );
    assert_eq!(predictions.resource_attr_str("team"), Some("ml platform"));
    assert!(
        metrics
            .header_values("x-api-key")
            .iter()
            .all(|value| value == "secret")
    );
    assert!(
        !metrics.header_values("x-api-key").is_empty(),
        "gRPC metadata carries the header"
    );
    assert!(
        metrics.spans().is_empty(),
        "traces went to their own endpoint"
    );

    telemetry.shutdown().expect("flush");
    let span = traces.wait_for_span("predict iris", WAIT);
    assert_eq!(span.resource_attr_str("service.name"), Some("from-env"));
    assert!(
        traces
            .header_values("x-api-key")
            .contains(&"secret".to_owned())
    );
    assert!(
        traces.metrics().is_empty(),
        "metrics went to their own endpoint"
    );
}

#[test]
fn sampler_always_off_sends_metrics_but_no_spans() {
    let receiver = OtlpReceiver::grpc();
    let telemetry = telemetry_for(&receiver, &[("OTEL_TRACES_SAMPLER", "always_off")]);
    predict(
        &iris(&telemetry),
        Outcome::Ok {
            label: Some("setosa"),
            confidence: Some(0.8),
        },
    );
    telemetry.shutdown().expect("flush");
    receiver.wait_for_metric(names::PREDICTIONS.name, WAIT);
    assert!(
        receiver.spans().is_empty(),
        "unsampled spans are not exported"
    );
}

#[test]
fn shutdown_flushes_what_was_recorded_just_before() {
    for receiver in [OtlpReceiver::grpc(), OtlpReceiver::http()] {
        // Long batch delay and metric interval: only the shutdown flush can deliver.
        let telemetry = telemetry_for(&receiver, &[("OTEL_BSP_SCHEDULE_DELAY", "3600000")]);
        predict(
            &iris(&telemetry),
            Outcome::Ok {
                label: Some("virginica"),
                confidence: Some(0.7),
            },
        );
        telemetry.shutdown().expect("flush");
        // No waiting: shutdown returns only after the exporters delivered.
        let names = receiver.span_names();
        assert!(names.contains(&"predict iris".to_owned()), "{names:?}");
        let predictions = receiver
            .latest_metric(names::PREDICTIONS.name)
            .expect("prediction counter flushed at shutdown");
        let point = predictions
            .sum_point(&[(attr::PREDICTION_LABEL, "virginica")])
            .expect("point");
        assert_eq!(mlotel_tests::number_i64(point), Some(1));
    }
}

fn late_receiver_gets_data_without_restart(protocol: mlotel_tests::Protocol) {
    let port = mlotel_tests::free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let protocol_value = match protocol {
        mlotel_tests::Protocol::Grpc => "grpc",
        mlotel_tests::Protocol::HttpProtobuf => "http/protobuf",
    };
    let telemetry = Telemetry::builder()
        .env_vars([
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol_value),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_METRIC_EXPORT_INTERVAL", "200"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2000"),
        ])
        .build()
        .expect("start-up succeeds with nothing listening");
    let model = iris(&telemetry);
    predict(
        &model,
        Outcome::Ok {
            label: Some("setosa"),
            confidence: Some(0.9),
        },
    );
    assert!(telemetry.force_flush().is_err(), "nothing is listening yet");
    let failed: u64 = telemetry
        .export_status()
        .iter()
        .map(|status| status.failed)
        .sum();
    assert!(
        failed > 0,
        "failures are counted: {:?}",
        telemetry.export_status()
    );

    let receiver = OtlpReceiver::start(protocol, port).expect("receiver starts on the port");
    predict(
        &model,
        Outcome::Ok {
            label: Some("versicolor"),
            confidence: Some(0.6),
        },
    );
    // The periodic reader delivers on its own; spans need the next batch or a flush.
    receiver.wait_for_metric(names::PREDICTIONS.name, WAIT);
    receiver.wait_until(WAIT, |_| telemetry.force_flush().ok());
    let span = receiver.wait_for_span("predict iris", WAIT);
    assert_eq!(span.attr_str(attr::PREDICTION_LABEL), Some("versicolor"));
    let status = telemetry.export_status();
    assert!(
        status
            .iter()
            .all(|exporter| exporter.exported > 0 && exporter.last_success.is_some()),
        "{status:?}"
    );
}

#[test]
fn receiver_that_comes_up_late_receives_without_restart_grpc() {
    late_receiver_gets_data_without_restart(mlotel_tests::Protocol::Grpc);
}

#[test]
fn receiver_that_comes_up_late_receives_without_restart_http() {
    late_receiver_gets_data_without_restart(mlotel_tests::Protocol::HttpProtobuf);
}
