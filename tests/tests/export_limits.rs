//! What one span may hold and what may wait for export, over the real OTLP wire: the
//! specification's span limits, a byte budget for the export queue while a collector never
//! answers, a shutdown bounded by its timeout, and endpoints shown without credentials.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use mlotel::Telemetry;
use mlotel_tests::{OtlpReceiver, any_value_to_string};
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|&(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// Records one span named `name` with `attributes` through the SDK tracer.
fn record_span(telemetry: &Telemetry, name: &'static str, attributes: Vec<KeyValue>) {
    let tracer = telemetry.tracer_provider().tracer("export-limits-test");
    let mut span = tracer.start(name);
    span.set_attributes(attributes);
    span.end();
}

#[test]
fn attribute_values_and_counts_arrive_within_the_configured_limits() {
    let receiver = OtlpReceiver::http();
    let endpoint = receiver.endpoint();
    let telemetry = Telemetry::builder()
        .env_vars(env(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "32"),
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "4"),
        ]))
        .build()
        .expect("builds");
    let mut attributes = vec![
        KeyValue::new("url.path", format!("/{}", "a".repeat(100_000))),
        KeyValue::new("user_agent.original", "é".repeat(1_000)),
        KeyValue::new("http.response.status_code", 200_i64),
    ];
    attributes.extend((0..10).map(|index| KeyValue::new(format!("extra.{index}"), index)));
    record_span(&telemetry, "GET /{tail}", attributes);
    telemetry.shutdown().expect("delivered");

    let span = receiver
        .spans_named("GET /{tail}")
        .pop()
        .expect("the span arrived");
    let value = |key: &str| {
        span.attr(key)
            .map(any_value_to_string)
            .unwrap_or_else(|| panic!("{key} kept"))
    };
    assert_eq!(value("url.path"), format!("/{}", "a".repeat(31)));
    assert_eq!(value("user_agent.original"), "é".repeat(32));
    assert_eq!(value("http.response.status_code"), "200");
    assert_eq!(span.span.attributes.len(), 4);
    assert_eq!(span.span.dropped_attributes_count, 9);
}

#[test]
fn the_export_queue_is_bounded_in_bytes_while_the_collector_never_answers() {
    // Accepts connections (the kernel completes the handshake) but never reads or answers.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", silent.local_addr().expect("address"));
    let budget = 1024 * 1024;
    let attribute = 64 * 1024;
    let telemetry = Telemetry::builder()
        .env_vars(env(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "30000"),
            ("OTEL_BSP_SCHEDULE_DELAY", "10"),
        ]))
        .span_queue_max_bytes(budget)
        .shutdown_timeout(Duration::from_millis(500))
        .build()
        .expect("builds");
    let spans = 300;
    for _ in 0..spans {
        record_span(
            &telemetry,
            "GET /{tail}",
            vec![KeyValue::new("url.path", "/".repeat(attribute))],
        );
    }
    let traces = telemetry
        .export_status()
        .into_iter()
        .find(|status| status.signal == "traces")
        .expect("trace exporter");
    // The span count (2048) would admit all 300; the byte budget holds 15 of 64 KiB, queued
    // and in the exporter's hands together.
    let admitted = spans - traces.dropped;
    assert!(
        admitted <= (budget / attribute) as u64,
        "{admitted} spans of {attribute} B admitted under a {budget} B budget: {traces:?}"
    );
    assert!(admitted >= 1, "{traces:?}");
    drop(silent);
}

#[test]
fn shutdown_keeps_to_its_timeout_when_the_collector_never_answers() {
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", silent.local_addr().expect("address"));
    let timeout = Duration::from_secs(1);
    let telemetry = Telemetry::builder()
        .env_vars(env(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            // Each export would wait 10 s for an answer; three signals 30 s.
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "10000"),
            ("OTEL_LOGS_EXPORTER", "otlp"),
        ]))
        .shutdown_timeout(timeout)
        .build()
        .expect("builds");
    record_span(&telemetry, "work", Vec::new());
    let started = Instant::now();
    let error = telemetry
        .shutdown()
        .expect_err("nothing could be delivered");
    let elapsed = started.elapsed();
    // A deadline, not a speed: the margin is for a loaded machine's scheduling.
    assert!(
        elapsed < timeout + Duration::from_secs(2),
        "shutdown took {elapsed:?} with a {timeout:?} timeout"
    );
    let message = error.to_string();
    assert!(
        message.contains("traces:") && message.contains("shutdown timeout"),
        "{message}"
    );
    drop(silent);
}

#[test]
fn shutdown_with_nothing_listening_says_what_was_lost_and_where() {
    let port = mlotel_tests::free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let telemetry = Telemetry::builder()
        .env_vars(env(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_BSP_SCHEDULE_DELAY", "3600000"),
        ]))
        .build()
        .expect("builds");
    record_span(&telemetry, "work", Vec::new());
    record_span(&telemetry, "work", Vec::new());
    let message = telemetry
        .shutdown()
        .expect_err("nothing listens")
        .to_string();
    assert!(
        message.contains(&format!(
            "traces: 2 spans not delivered to http://127.0.0.1:{port}/v1/traces"
        )),
        "{message}"
    );
}

#[test]
fn endpoints_are_shown_without_user_info_or_query() {
    let port = mlotel_tests::free_port();
    let endpoint = format!("http://user:s3cret@127.0.0.1:{port}/?token=t0ken");
    let telemetry = Telemetry::builder()
        .env_vars(env(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &endpoint),
            ("OTEL_METRICS_EXPORTER", "none"),
        ]))
        .build()
        .expect("builds");
    record_span(&telemetry, "work", Vec::new());
    assert!(telemetry.force_flush().is_err(), "nothing listens");
    let status = telemetry
        .export_status()
        .into_iter()
        .find(|status| status.signal == "traces")
        .expect("trace exporter");
    assert_eq!(
        status.endpoint,
        format!("http://REDACTED@127.0.0.1:{port}/?REDACTED")
    );
    let last_error = status.last_error.clone().expect("the failure is recorded");
    let shutdown = telemetry.shutdown().map_err(|error| error.to_string());
    for shown in [format!("{status:?}"), last_error, format!("{shutdown:?}")] {
        assert!(
            !shown.contains("s3cret") && !shown.contains("t0ken"),
            "a credential is shown: {shown}"
        );
    }
}
