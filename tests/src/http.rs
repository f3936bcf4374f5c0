//! OTLP/HTTP (protobuf) server on axum: `POST /v1/{traces,metrics,logs}`, recording into the store.

use std::{future::Future, sync::Arc};

use ::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    response::{IntoResponse, Response},
    routing::post,
};
use opentelemetry_proto::tonic::collector::{
    logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse},
    metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse},
    trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse},
};
use prost::Message;

use crate::{
    receiver::Protocol,
    store::{Payload, Rejection, Signal, Store, header_list},
};

/// Largest request body the receiver accepts (axum's default is 2 MiB).
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

const PROTOBUF: &str = "application/x-protobuf";

/// Serves OTLP/HTTP on `listener` until `shutdown` completes, then drops the listener at once
/// (open connections are aborted when the caller drops the runtime).
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    store: Arc<Store>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), String> {
    let app = Router::new()
        .route("/v1/traces", post(traces))
        .route("/v1/metrics", post(metrics))
        .route("/v1/logs", post(logs))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(store);
    let server = std::future::IntoFuture::into_future(axum::serve(listener, app));
    tokio::select! {
        result = server => result.map_err(|e| e.to_string()),
        () = shutdown => Ok(()),
    }
}

async fn traces(State(store): State<Arc<Store>>, headers: HeaderMap, body: Bytes) -> Response {
    export::<ExportTraceServiceRequest, ExportTraceServiceResponse>(
        &store,
        Signal::Traces,
        &headers,
        &body,
        Payload::Traces,
    )
}

async fn metrics(State(store): State<Arc<Store>>, headers: HeaderMap, body: Bytes) -> Response {
    export::<ExportMetricsServiceRequest, ExportMetricsServiceResponse>(
        &store,
        Signal::Metrics,
        &headers,
        &body,
        Payload::Metrics,
    )
}

async fn logs(State(store): State<Arc<Store>>, headers: HeaderMap, body: Bytes) -> Response {
    export::<ExportLogsServiceRequest, ExportLogsServiceResponse>(
        &store,
        Signal::Logs,
        &headers,
        &body,
        Payload::Logs,
    )
}

/// Validates, decodes and records one export; answers with the encoded (empty) response.
fn export<Req, Resp>(
    store: &Store,
    signal: Signal,
    headers: &HeaderMap,
    body: &[u8],
    wrap: fn(Req) -> Payload,
) -> Response
where
    Req: Message + Default,
    Resp: Message + Default,
{
    let reject = |status: StatusCode, reason: String| {
        store.reject(Rejection {
            signal,
            status: status.as_u16(),
            reason: reason.clone(),
            headers: header_list(headers),
        });
        (status, reason).into_response()
    };

    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let is_protobuf = content_type.as_deref().is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|media| media.trim().eq_ignore_ascii_case(PROTOBUF))
    });
    if !is_protobuf {
        return reject(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("content-type must be {PROTOBUF}, got {content_type:?}"),
        );
    }

    if let Some(encoding) = headers.get(header::CONTENT_ENCODING) {
        let encoding = String::from_utf8_lossy(encoding.as_bytes());
        if !encoding.trim().eq_ignore_ascii_case("identity") {
            return reject(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("content-encoding {encoding:?} is not supported by the test receiver"),
            );
        }
    }

    let request = match Req::decode(body) {
        Ok(request) => request,
        Err(error) => {
            return reject(
                StatusCode::BAD_REQUEST,
                format!("cannot decode {signal:?} export request: {error}"),
            );
        }
    };
    store.record(Protocol::HttpProtobuf, header_list(headers), wrap(request));

    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(PROTOBUF))],
        Resp::default().encode_to_vec(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
    use prost::Message;

    use crate::{
        OtlpReceiver, Protocol, Signal,
        testutil::{http_post, logs_request, metrics_request, trace_request},
    };

    const TIMEOUT: Duration = Duration::from_secs(5);

    #[test]
    fn records_protobuf_posts_with_headers() {
        let receiver = OtlpReceiver::http();
        assert_eq!(receiver.protocol(), Protocol::HttpProtobuf);
        assert_eq!(
            receiver.traces_url(),
            format!("http://127.0.0.1:{}/v1/traces", receiver.port())
        );
        assert_eq!(
            receiver.metrics_url(),
            format!("{}/v1/metrics", receiver.endpoint())
        );
        assert_eq!(
            receiver.logs_url(),
            format!("{}/v1/logs", receiver.endpoint())
        );

        let headers = [
            ("Content-Type", "application/x-protobuf"),
            ("X-Api-Key", "secret-123"),
        ];
        let (status, body) = http_post(
            receiver.addr(),
            "/v1/traces",
            &headers,
            &trace_request().encode_to_vec(),
        );
        assert_eq!(status, 200);
        assert_eq!(
            ExportTraceServiceResponse::decode(body.as_slice()).expect("protobuf response"),
            ExportTraceServiceResponse::default()
        );
        let with_params = [("content-type", "application/x-protobuf; charset=binary")];
        let (status, _) = http_post(
            receiver.addr(),
            "/v1/metrics",
            &with_params,
            &metrics_request(3).encode_to_vec(),
        );
        assert_eq!(status, 200);
        let (status, _) = http_post(
            receiver.addr(),
            "/v1/logs",
            &headers,
            &logs_request().encode_to_vec(),
        );
        assert_eq!(status, 200);

        let span = receiver.wait_for_span("preprocess", TIMEOUT);
        assert_eq!(span.attr_i64("rows"), Some(42));
        assert_eq!(receiver.wait_for_metric("latency", TIMEOUT).unit(), "s");
        assert_eq!(receiver.logs()[0].body_str(), Some("model loaded"));

        let requests = receiver.requests();
        assert_eq!(requests.len(), 3);
        assert!(
            requests
                .iter()
                .all(|r| r.protocol == Protocol::HttpProtobuf)
        );
        assert_eq!(requests[1].signal(), Signal::Metrics);
        // Header names are recorded lower-case; lookups are case-insensitive.
        assert_eq!(requests[0].header("x-api-key"), Some("secret-123"));
        assert_eq!(requests[0].header("X-API-KEY"), Some("secret-123"));
        assert_eq!(requests[1].header("x-api-key"), None);
        assert_eq!(receiver.header_values("x-api-key"), ["secret-123"; 2]);
        assert!(receiver.headers()[0].contains(&("x-api-key".to_owned(), "secret-123".to_owned())));
        assert!(receiver.rejections().is_empty());
    }

    #[test]
    fn wrong_content_type_is_415_and_not_recorded() {
        let receiver = OtlpReceiver::http();
        let body = trace_request().encode_to_vec();
        let (status, _) = http_post(
            receiver.addr(),
            "/v1/traces",
            &[("content-type", "application/json")],
            &body,
        );
        assert_eq!(status, 415);
        let (status, _) = http_post(receiver.addr(), "/v1/traces", &[], &body);
        assert_eq!(status, 415, "missing content type");
        let (status, _) = http_post(
            receiver.addr(),
            "/v1/traces",
            &[
                ("content-type", "application/x-protobuf"),
                ("content-encoding", "gzip"),
            ],
            &body,
        );
        assert_eq!(status, 415, "unsupported content encoding");

        assert_eq!(receiver.request_count(), 0);
        let rejections = receiver.rejections();
        assert_eq!(rejections.len(), 3);
        assert!(
            rejections
                .iter()
                .all(|r| r.status == 415 && r.signal == Signal::Traces)
        );
        assert!(
            rejections[0].reason.contains("application/json"),
            "{rejections:?}"
        );
    }

    #[test]
    fn undecodable_body_is_400_and_unknown_path_is_404() {
        let receiver = OtlpReceiver::http();
        let protobuf = [("content-type", "application/x-protobuf")];
        let (status, _) = http_post(receiver.addr(), "/v1/logs", &protobuf, &[0xff, 0xff, 0xff]);
        assert_eq!(status, 400);
        let (status, _) = http_post(receiver.addr(), "/v1/other", &protobuf, &[]);
        assert_eq!(status, 404);
        assert_eq!(receiver.request_count(), 0);
        assert_eq!(receiver.rejections()[0].signal, Signal::Logs);
        assert_eq!(receiver.rejections()[0].status, 400);

        // An empty body is a valid (empty) export request.
        let (status, _) = http_post(receiver.addr(), "/v1/logs", &protobuf, &[]);
        assert_eq!(status, 200);
        assert_eq!(receiver.request_count(), 1);
        assert!(receiver.logs().is_empty());
    }

    #[test]
    fn drop_frees_the_port_and_busy_port_is_an_error() {
        let receiver = OtlpReceiver::http();
        let port = receiver.port();

        let busy = OtlpReceiver::start(Protocol::HttpProtobuf, port);
        assert!(busy.is_err(), "bound a port that is in use");
        let panic = std::panic::catch_unwind(|| OtlpReceiver::http_on(port))
            .expect_err("http_on on a busy port must panic");
        let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");

        // A request leaves a finished connection behind; dropping must still free the port.
        let (status, _) = http_post(
            receiver.addr(),
            "/v1/traces",
            &[("content-type", "application/x-protobuf")],
            &[],
        );
        assert_eq!(status, 200);
        drop(receiver);

        let rebound = std::net::TcpListener::bind(("127.0.0.1", port));
        assert!(
            rebound.is_ok(),
            "port {port} still busy after drop: {rebound:?}"
        );
        drop(rebound);
        let revived = OtlpReceiver::http_on(port);
        assert_eq!(revived.port(), port);
    }
}
