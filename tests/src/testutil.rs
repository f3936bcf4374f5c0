//! Fixtures for the crate's own unit tests: hand-built OTLP requests and tiny blocking clients.

use std::{
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpStream},
    time::Duration,
};

use opentelemetry_proto::tonic::{
    collector::{
        logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
        trace::v1::ExportTraceServiceRequest,
    },
    common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value},
    logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber},
    metrics::v1::{
        AggregationTemporality, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
        ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
    },
    resource::v1::Resource,
    trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span, status},
};

pub(crate) const TRACE_ID: [u8; 16] = [0xab; 16];
pub(crate) const ROOT_ID: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
pub(crate) const CHILD_ID: [u8; 8] = [9, 10, 11, 12, 13, 14, 15, 16];

pub(crate) fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

pub(crate) fn kv_str(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.to_owned()))
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![kv_str("service.name", "test-svc")],
        ..Default::default()
    })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "mlotel-test".to_owned(),
        version: "1.2.3".to_owned(),
        ..Default::default()
    })
}

/// A root span `predict` and its child `preprocess` (typed attributes, error status, event).
pub(crate) fn trace_request() -> ExportTraceServiceRequest {
    let root = Span {
        trace_id: TRACE_ID.to_vec(),
        span_id: ROOT_ID.to_vec(),
        name: "predict".to_owned(),
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: 1_000,
        end_time_unix_nano: 5_000,
        attributes: vec![kv_str("ml.model.name", "iris")],
        ..Default::default()
    };
    let child = Span {
        trace_id: TRACE_ID.to_vec(),
        span_id: CHILD_ID.to_vec(),
        parent_span_id: ROOT_ID.to_vec(),
        name: "preprocess".to_owned(),
        kind: span::SpanKind::Internal as i32,
        start_time_unix_nano: 2_000,
        end_time_unix_nano: 3_000,
        attributes: vec![
            kv_str("stage", "scale"),
            kv("rows", any_value::Value::IntValue(42)),
            kv("ratio", any_value::Value::DoubleValue(0.5)),
            kv("cached", any_value::Value::BoolValue(true)),
        ],
        events: vec![span::Event {
            name: "exception".to_owned(),
            attributes: vec![kv_str("exception.type", "ValueError")],
            ..Default::default()
        }],
        status: Some(Status {
            code: status::StatusCode::Error as i32,
            message: "bad input".to_owned(),
        }),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(),
            scope_spans: vec![ScopeSpans {
                scope: scope(),
                spans: vec![root, child],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A monotonic cumulative sum `requests` (two points, one worth `value`) and a histogram
/// `latency`.
pub(crate) fn metrics_request(value: i64) -> ExportMetricsServiceRequest {
    let sum = Metric {
        name: "requests".to_owned(),
        description: "Requests served".to_owned(),
        unit: "{request}".to_owned(),
        data: Some(metric::Data::Sum(Sum {
            data_points: vec![
                NumberDataPoint {
                    attributes: vec![kv_str("model", "other")],
                    value: Some(number_data_point::Value::AsInt(1)),
                    ..Default::default()
                },
                NumberDataPoint {
                    attributes: vec![kv_str("model", "iris"), kv_str("outcome", "ok")],
                    value: Some(number_data_point::Value::AsInt(value)),
                    ..Default::default()
                },
            ],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        })),
        ..Default::default()
    };
    let histogram = Metric {
        name: "latency".to_owned(),
        unit: "s".to_owned(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                attributes: vec![kv_str("model", "iris")],
                count: 3,
                sum: Some(0.6),
                bucket_counts: vec![1, 2, 0],
                explicit_bounds: vec![0.1, 0.5],
                ..Default::default()
            }],
            aggregation_temporality: AggregationTemporality::Delta as i32,
        })),
        ..Default::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(),
            scope_metrics: vec![ScopeMetrics {
                scope: scope(),
                metrics: vec![sum, histogram],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// One WARN record with body `model loaded`, correlated with the root span.
pub(crate) fn logs_request() -> ExportLogsServiceRequest {
    let record = LogRecord {
        severity_number: SeverityNumber::Warn as i32,
        severity_text: "WARN".to_owned(),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue("model loaded".to_owned())),
        }),
        attributes: vec![kv_str("model", "iris")],
        trace_id: TRACE_ID.to_vec(),
        span_id: ROOT_ID.to_vec(),
        ..Default::default()
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(),
            scope_logs: vec![ScopeLogs {
                scope: scope(),
                log_records: vec![record],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A runtime for async clients, separate from the receiver's.
pub(crate) fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build client runtime")
}

/// A minimal blocking HTTP/1.1 POST; returns the status code and the response body.
pub(crate) fn http_post(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connect to receiver");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set read timeout");
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .expect("write request head");
    stream.write_all(body).expect("write request body");

    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read response");
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response has a header/body separator");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {head:?}"));
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "chunked responses are not handled by this test client: {head}"
    );
    (status, response[split + 4..].to_vec())
}
