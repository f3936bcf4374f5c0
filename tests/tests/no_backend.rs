//! With no backend, or one that never answers, the service is unaffected: start-up works,
//! recording never waits on the exporter, the span queue stays bounded, and what is dropped
//! or failed is counted and exposed as `otel.sdk.*` metrics.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use mlotel::{InstallError, Model, Outcome, Telemetry};

#[test]
fn a_collector_that_never_answers_does_not_block_and_drops_are_counted() {
    // Accepts connections (the kernel completes the handshake) but never reads or answers.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", silent.local_addr().expect("address"));
    let export_timeout = Duration::from_secs(3);
    let telemetry = Telemetry::builder()
        .env_vars([
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "3000"),
            ("OTEL_METRICS_EXPORTER", "prometheus"),
        ])
        .build()
        .expect("start-up does not need the collector");
    let model = telemetry.model(Model::builder("iris").version("1"));

    let spans = 20_000;
    let started = Instant::now();
    for _ in 0..spans {
        let ((), span) = model.in_span(|| ());
        span.end(
            1,
            Outcome::Ok {
                label: None,
                confidence: None,
            },
        );
    }
    let elapsed = started.elapsed();
    // Had any call waited for the exporter it would have waited for the export timeout.
    assert!(
        elapsed < export_timeout,
        "recording {spans} spans took {elapsed:?}, as long as an export timeout"
    );

    let traces = telemetry
        .export_status()
        .into_iter()
        .find(|status| status.signal == "traces")
        .expect("trace exporter status");
    // At most the queue (2048) plus one batch in the exporter's hands can be held.
    assert!(
        traces.dropped >= spans - 2048 - 512,
        "dropped {} of {spans}",
        traces.dropped
    );

    let exposition = telemetry
        .prometheus()
        .expect("prometheus on")
        .render()
        .expect("render");
    let dropped_line = exposition
        .lines()
        .find(|line| {
            line.starts_with("otel_sdk_processor_span_processed_total")
                && line.contains("error_type=\"queue_full\"")
        })
        .unwrap_or_else(|| panic!("no dropped-span series in:\n{exposition}"));
    let exposed: f64 = dropped_line
        .rsplit(' ')
        .next()
        .and_then(|value| value.parse().ok())
        .expect("a value");
    assert!(exposed >= (spans - 2048 - 512) as f64, "{dropped_line}");
    drop(silent);
}

#[test]
fn nothing_listening_still_starts_and_records() {
    let port = mlotel_tests::free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    for protocol in ["grpc", "http/protobuf"] {
        let telemetry = Telemetry::builder()
            .env_vars([
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ])
            .build()
            .expect("start-up succeeds with nothing listening");
        let model = telemetry.model(Model::builder("iris"));
        model.record_prediction(Duration::from_millis(1), 1, Outcome::Panic);
        let exposition = telemetry
            .prometheus()
            .expect("on")
            .render()
            .expect("render");
        assert!(
            exposition.contains("ml_prediction_outcome=\"panic\""),
            "{exposition}"
        );
        let flushed = telemetry.force_flush();
        assert!(
            flushed.is_err(),
            "{protocol}: a failed export is reported by flush"
        );
        let failed: u64 = telemetry
            .export_status()
            .iter()
            .map(|status| status.failed)
            .sum();
        assert!(failed > 0, "{protocol}: {:?}", telemetry.export_status());
        // Shutdown reports the failure instead of hanging or panicking.
        assert!(telemetry.shutdown().is_err());
    }
}

#[test]
fn invalid_configuration_is_an_error_naming_the_variable() {
    let error = Telemetry::builder()
        .env_vars([("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317")])
        .build()
        .expect_err("an endpoint without scheme is rejected");
    assert!(matches!(error, InstallError::Config(_)));
    let message = error.to_string();
    assert!(
        message.contains("OTEL_EXPORTER_OTLP_ENDPOINT") && message.contains("collector:4317"),
        "{message}"
    );

    let error = Telemetry::builder()
        .otlp_endpoint("not a url")
        .env_vars(std::iter::empty::<(String, String)>())
        .build()
        .expect_err("a bad endpoint set in code is rejected");
    assert!(
        error
            .to_string()
            .contains("TelemetryBuilder::otlp_endpoint"),
        "{error}"
    );
}

#[test]
fn sdk_disabled_records_nothing_and_exports_nothing() {
    let telemetry = Telemetry::builder()
        .env_vars([("OTEL_SDK_DISABLED", "true")])
        .build()
        .expect("builds");
    assert!(telemetry.export_status().is_empty());
    assert!(telemetry.prometheus().is_none());
    let model = telemetry.model(Model::builder("iris"));
    let ((), span) = model.in_span(|| ());
    span.end(
        1,
        Outcome::Ok {
            label: None,
            confidence: None,
        },
    );
    telemetry.shutdown().expect("nothing to flush");
}
