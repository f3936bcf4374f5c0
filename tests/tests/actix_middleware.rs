//! The `RequestTelemetry` actix-web middleware over the real wire: a real `HttpServer` on
//! loopback (and one `actix_web::test` service) sending to an in-process OTLP receiver. The
//! server span (name, kind, attributes, route template, status), trace context continued
//! from `traceparent` and returned in `traceresponse`, prediction and `tracing` spans as
//! children of the request span, and every `http.server.*` metric.
//!
//! Telemetry is installed globally once for this binary; each test uses routes of its own
//! and looks only at their data.

mod instrument_ml_support;

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, MessageBody};
use actix_web::web::{self, Bytes};
use actix_web::{App, HttpResponse};
use instrument_ml_support::{Harness, HttpRequestKey, WAIT, spawn_actix_server};
use mlotel::instrument_ml;
use mlotel::names::{self, attr};
use mlotel_actix::{RequestTelemetry, TRACE_RESPONSE_HEADER, UNMATCHED_ROUTE};
use mlotel_tests::proto::metrics::v1::HistogramDataPoint;
use mlotel_tests::proto::trace::v1::span::SpanKind;
use mlotel_tests::proto::trace::v1::status::StatusCode;
use mlotel_tests::{OtlpReceiver, attr_str, number_i64};
use mlotel_tests::{RawResponse as Response, raw_request};

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::install(OtlpReceiver::grpc(), &[]));

fn harness() -> &'static Harness {
    &HARNESS
}

/// Released by `active_requests_count_in_flight_requests_and_return_to_zero`.
static GATE: tokio::sync::Notify = tokio::sync::Notify::const_new();

const PREDICT_ROUTE: &str = "/v1/models/{model}:predict";
/// The route of `client_strings_on_the_span_are_cut_to_the_limit`.
const LONG_ROUTE: &str = "/long/{name}";
const CHUNK: &[u8] = b"0123456789abcdef";
const CHUNKS: usize = 3;
const CHUNK_DELAY: Duration = Duration::from_millis(100);

#[instrument_ml(model = "t_actix", version = "1")]
fn predict(row: &[f64; 2]) -> Vec<f64> {
    let total: f64 = row.iter().sum();
    row.iter().map(|value| value / total).collect()
}

async fn predict_handler(model: web::Path<String>, body: Bytes) -> HttpResponse {
    // Across an await point the request span is still current.
    actix_web::rt::task::yield_now().await;
    let output = predict(&[1.0, 3.0]);
    tracing::info_span!("handler work", otel.name = "handler work").in_scope(|| {});
    HttpResponse::Ok().body(format!(
        "model={} body={} output={output:?}",
        model.into_inner(),
        body.len()
    ))
}

/// A body that sends `CHUNKS` chunks, `CHUNK_DELAY` apart, after the handler returned.
struct SlowBody {
    sent: usize,
    delay: Option<Pin<Box<actix_web::rt::time::Sleep>>>,
}

impl MessageBody for SlowBody {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        if self.sent == CHUNKS {
            return Poll::Ready(None);
        }
        let delay = self
            .delay
            .get_or_insert_with(|| Box::pin(actix_web::rt::time::sleep(CHUNK_DELAY)));
        if delay.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.delay = None;
        self.sent += 1;
        Poll::Ready(Some(Ok(Bytes::from_static(CHUNK))))
    }
}

fn app_routes(config: &mut web::ServiceConfig) {
    config
        .route(PREDICT_ROUTE, web::post().to(predict_handler))
        .route(LONG_ROUTE, web::get().to(HttpResponse::Ok))
        .route(
            "/fail",
            web::get().to(|| async { HttpResponse::InternalServerError().body("boom") }),
        )
        .route(
            "/slow-body",
            web::get().to(|| async {
                HttpResponse::Ok().body(SlowBody {
                    sent: 0,
                    delay: None,
                })
            }),
        )
        .route(
            "/gate",
            web::patch().to(|| async {
                GATE.notified().await;
                HttpResponse::Ok().body("released")
            }),
        )
        .service(
            web::scope("/tenants/{tenant}")
                .route("/items/{id}", web::get().to(HttpResponse::Ok))
                .route("/items/{id}/history", web::get().to(HttpResponse::Ok))
                .service(
                    web::scope("/inner")
                        .wrap(RequestTelemetry::new())
                        .route("/{leaf}", web::get().to(HttpResponse::Ok)),
                ),
        );
}

/// One real server for the whole binary, wrapped with `RequestTelemetry::new()` (the global
/// providers the harness installed).
static SERVER: LazyLock<SocketAddr> = LazyLock::new(|| {
    let _ = harness();
    spawn_actix_server(|| {
        App::new()
            .wrap(RequestTelemetry::new())
            .configure(app_routes)
    })
});

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    raw_request(*SERVER, method, path, headers, body, WAIT)
}

/// Waits until histogram `name` has a point for `method`, `route` and `status` (and the
/// status code as `error.type` on a 5xx) counting at least `count` values; returns it.
fn http_point(
    name: &str,
    method: &str,
    route: &str,
    status: i64,
    count: u64,
) -> HistogramDataPoint {
    let status_text = status.to_string();
    let key = HttpRequestKey {
        method,
        route,
        status,
        error_type: (status >= 500).then_some(status_text.as_str()),
    };
    harness().http_point(name, key, count)
}

/// The attribute keys of a point, sorted.
fn point_keys(point: &HistogramDataPoint) -> Vec<&str> {
    let mut keys: Vec<&str> = point.attributes.iter().map(|kv| kv.key.as_str()).collect();
    keys.sort_unstable();
    keys
}

#[test]
fn request_span_continues_the_callers_trace_and_parents_the_prediction() {
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let body = br#"{"row":[1.0,3.0]}"#;
    let response = request(
        "POST",
        "/v1/models/iris:predict",
        &[("traceparent", &format!("00-{trace_id}-{caller_span}-01"))],
        body,
    );
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(
        response.body.starts_with("model=iris body=17"),
        "{}",
        response.body
    );

    let span =
        harness().span_with_path("POST /v1/models/{model}:predict", "/v1/models/iris:predict");
    assert_eq!(span.kind(), SpanKind::Server);
    assert_eq!(span.scope_name, names::SCOPE_NAME);
    assert_eq!(
        span.trace_id_hex(),
        trace_id,
        "the caller's trace continues"
    );
    assert_eq!(span.parent_span_id_hex(), caller_span);
    assert_eq!(span.attr_str(attr::HTTP_REQUEST_METHOD), Some("POST"));
    assert_eq!(span.attr_str(attr::HTTP_ROUTE), Some(PREDICT_ROUTE));
    assert_eq!(span.attr_str(attr::URL_SCHEME), Some("http"));
    assert_eq!(span.attr_str(attr::NETWORK_PROTOCOL_VERSION), Some("1.1"));
    assert_eq!(span.attr_i64(attr::HTTP_RESPONSE_STATUS_CODE), Some(200));
    assert_eq!(span.attr_str(attr::SERVER_ADDRESS), Some("127.0.0.1"));
    assert_eq!(
        span.attr_i64(attr::SERVER_PORT),
        Some(i64::from(SERVER.port()))
    );
    assert_eq!(
        span.attr_str(attr::USER_AGENT_ORIGINAL),
        Some("mlotel-test/1.0")
    );
    assert_eq!(span.attr_str(attr::ERROR_TYPE), None);
    assert_eq!(span.status_code(), StatusCode::Unset);

    assert_eq!(
        response.header(TRACE_RESPONSE_HEADER),
        Some(format!("00-{trace_id}-{}-01", span.span_id_hex()).as_str()),
        "traceresponse names the exported request span"
    );

    let prediction = harness().span("predict t_actix");
    prediction.assert_child_of(&span);
    let work = harness().span("handler work");
    work.assert_child_of(&span);

    // Metrics carry the template, never the concrete path.
    let duration = http_point(
        names::HTTP_SERVER_REQUEST_DURATION.name,
        "POST",
        PREDICT_ROUTE,
        200,
        1,
    );
    assert_eq!(duration.count, 1);
    assert_eq!(
        point_keys(&duration),
        [
            attr::HTTP_REQUEST_METHOD,
            attr::HTTP_RESPONSE_STATUS_CODE,
            attr::HTTP_ROUTE,
            attr::NETWORK_PROTOCOL_VERSION,
            attr::URL_SCHEME,
        ]
    );
    assert_eq!(
        attr_str(&duration.attributes, attr::NETWORK_PROTOCOL_VERSION),
        Some("1.1")
    );
    assert_eq!(
        attr_str(&duration.attributes, attr::URL_SCHEME),
        Some("http")
    );
    assert_eq!(
        duration.explicit_bounds,
        names::HTTP_DURATION_BUCKETS,
        "semantic-convention buckets"
    );
    let seconds = duration.sum.expect("a sum");
    assert!(seconds > 0.0 && seconds < WAIT.as_secs_f64(), "{seconds}");

    let request_size = http_point(
        names::HTTP_SERVER_REQUEST_BODY_SIZE.name,
        "POST",
        PREDICT_ROUTE,
        200,
        1,
    );
    assert_eq!(request_size.sum, Some(body.len() as f64));
    let response_size = http_point(
        names::HTTP_SERVER_RESPONSE_BODY_SIZE.name,
        "POST",
        PREDICT_ROUTE,
        200,
        1,
    );
    assert_eq!(response_size.sum, Some(response.body.len() as f64));

    let metric = harness()
        .receiver
        .latest_metric(names::HTTP_SERVER_REQUEST_DURATION.name)
        .expect("duration metric");
    assert_eq!(metric.unit(), "s");
    for point in metric.histogram_points() {
        let route = attr_str(&point.attributes, attr::HTTP_ROUTE).unwrap_or_default();
        assert!(!route.contains("iris"), "a raw path in metrics: {route}");
    }
}

#[test]
fn server_errors_set_error_status_and_error_type() {
    let response = request("GET", "/fail", &[], b"");
    assert_eq!(response.status, 500);
    assert!(response.header(TRACE_RESPONSE_HEADER).is_some());

    let span = harness().span_with_path("GET /fail", "/fail");
    assert_eq!(span.status_code(), StatusCode::Error);
    assert_eq!(span.attr_str(attr::ERROR_TYPE), Some("500"));
    assert_eq!(span.attr_i64(attr::HTTP_RESPONSE_STATUS_CODE), Some(500));
    assert!(span.is_root(), "no traceparent: a new trace");

    let point = http_point(
        names::HTTP_SERVER_REQUEST_DURATION.name,
        "GET",
        "/fail",
        500,
        1,
    );
    assert_eq!(point.count, 1);
    assert_eq!(attr_str(&point.attributes, attr::ERROR_TYPE), Some("500"));
    let response_size = http_point(
        names::HTTP_SERVER_RESPONSE_BODY_SIZE.name,
        "GET",
        "/fail",
        500,
        1,
    );
    assert_eq!(response_size.sum, Some(4.0), "\"boom\"");
}

/// The middleware remembers each path's route per worker (it runs before the router):
/// repeated paths, other paths in the same scope and nested scopes must each get their own
/// full template, and a middleware on an inner scope (the router already ran) the same.
#[test]
fn scoped_routes_get_their_full_template_every_time() {
    let cases = [
        ("/tenants/a/items/1", "/tenants/{tenant}/items/{id}"),
        ("/tenants/a/items/1", "/tenants/{tenant}/items/{id}"),
        (
            "/tenants/b/items/1/history",
            "/tenants/{tenant}/items/{id}/history",
        ),
        ("/tenants/a/items/2", "/tenants/{tenant}/items/{id}"),
        (
            "/tenants/a/items/1/history",
            "/tenants/{tenant}/items/{id}/history",
        ),
        ("/tenants/a/items/1", "/tenants/{tenant}/items/{id}"),
    ];
    for (path, route) in cases {
        let response = request("GET", path, &[], b"");
        assert_eq!(response.status, 200, "{path}");
        let trace_response = response
            .header(TRACE_RESPONSE_HEADER)
            .expect("traceresponse")
            .to_owned();
        let span = harness()
            .spans_where(
                move |span| {
                    span.attr_str(attr::URL_PATH) == Some(path)
                        && trace_response.contains(&span.span_id_hex())
                },
                1,
            )
            .remove(0);
        assert_eq!(span.attr_str(attr::HTTP_ROUTE), Some(route), "{path}");
        assert_eq!(span.name(), format!("GET {route}"), "{path}");
    }

    // Nested: the application's middleware and the inner scope's both name the full route.
    let path = "/tenants/c/inner/leaf-9";
    let route = "/tenants/{tenant}/inner/{leaf}";
    assert_eq!(request("GET", path, &[], b"").status, 200);
    let spans = harness().spans_where(move |span| span.attr_str(attr::URL_PATH) == Some(path), 2);
    assert_eq!(spans.len(), 2, "one span per middleware");
    for span in &spans {
        assert_eq!(span.attr_str(attr::HTTP_ROUTE), Some(route));
    }
}

#[test]
fn unmatched_requests_use_the_fixed_route_value() {
    let raw_path = "/no/such/path/7391";
    let response = request("GET", raw_path, &[], b"");
    assert_eq!(response.status, 404);

    let span = harness().span_with_path(&format!("GET {UNMATCHED_ROUTE}"), raw_path);
    assert_eq!(span.attr_str(attr::HTTP_ROUTE), Some(UNMATCHED_ROUTE));
    assert_eq!(span.attr_i64(attr::HTTP_RESPONSE_STATUS_CODE), Some(404));
    assert_eq!(
        span.status_code(),
        StatusCode::Unset,
        "4xx is not a server error"
    );
    assert_eq!(
        response.header(TRACE_RESPONSE_HEADER),
        Some(format!("00-{}-{}-01", span.trace_id_hex(), span.span_id_hex()).as_str())
    );

    let point = http_point(
        names::HTTP_SERVER_REQUEST_DURATION.name,
        "GET",
        UNMATCHED_ROUTE,
        404,
        1,
    );
    assert_eq!(attr_str(&point.attributes, attr::ERROR_TYPE), None);
    let metric = harness()
        .receiver
        .latest_metric(names::HTTP_SERVER_REQUEST_DURATION.name)
        .expect("duration metric");
    assert!(
        metric
            .histogram_points()
            .iter()
            .all(|point| attr_str(&point.attributes, attr::HTTP_ROUTE) != Some(raw_path)),
        "the raw path reached the metrics"
    );
}

#[test]
fn duration_and_span_end_when_the_body_is_finished() {
    let response = request("GET", "/slow-body", &[], b"");
    assert_eq!(response.status, 200);
    assert!(response.body.contains("0123456789abcdef"));

    let minimum = CHUNK_DELAY * CHUNKS as u32;
    let span = harness().span_with_path("GET /slow-body", "/slow-body");
    assert!(
        span.duration() >= minimum,
        "the span ended before the body was sent: {:?}",
        span.duration()
    );
    let duration = http_point(
        names::HTTP_SERVER_REQUEST_DURATION.name,
        "GET",
        "/slow-body",
        200,
        1,
    );
    assert!(
        duration.sum.expect("a sum") >= minimum.as_secs_f64(),
        "{:?}",
        duration.sum
    );
    let size = http_point(
        names::HTTP_SERVER_RESPONSE_BODY_SIZE.name,
        "GET",
        "/slow-body",
        200,
        1,
    );
    assert_eq!(size.sum, Some((CHUNK.len() * CHUNKS) as f64));
    assert_eq!(
        size.explicit_bounds,
        names::HTTP_BODY_SIZE_BUCKETS,
        "the catalogue's byte buckets"
    );
}

fn active_patch_becomes(value: i64) {
    let harness = harness();
    let want = [
        (attr::HTTP_REQUEST_METHOD, "PATCH"),
        (attr::URL_SCHEME, "http"),
    ];
    harness.receiver.wait_until(WAIT, |receiver| {
        receiver
            .latest_metric(names::HTTP_SERVER_ACTIVE_REQUESTS.name)
            .filter(|metric| {
                metric.is_monotonic() == Some(false)
                    && metric.sum_point(&want).and_then(number_i64) == Some(value)
            })
    });
}

#[test]
fn active_requests_count_in_flight_requests_and_return_to_zero() {
    let client = std::thread::spawn(|| request("PATCH", "/gate", &[], b""));
    active_patch_becomes(1);
    GATE.notify_one();
    let response = client.join().expect("client thread");
    assert_eq!(response.status, 200);
    assert_eq!(response.body, "released");
    active_patch_becomes(0);
    let point = http_point(
        names::HTTP_SERVER_REQUEST_DURATION.name,
        "PATCH",
        "/gate",
        200,
        1,
    );
    assert_eq!(point.count, 1);
}

#[test]
fn with_telemetry_records_through_the_given_telemetry() {
    let harness = harness();
    actix_web::rt::System::new().block_on(async {
        let app = actix_web::test::init_service(
            App::new()
                .wrap(RequestTelemetry::with_telemetry(&harness.telemetry))
                .route(
                    "/v1/echo/{id}",
                    web::get().to(|| async { HttpResponse::Ok().body("echo") }),
                ),
        )
        .await;
        let request = actix_web::test::TestRequest::get()
            .uri("/v1/echo/42")
            .to_request();
        let response = actix_web::test::call_service(&app, request).await;
        assert_eq!(response.status(), 200);
        let header = response
            .headers()
            .get(TRACE_RESPONSE_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
            .expect("a traceresponse header");
        let body = actix_web::test::read_body(response).await;
        assert_eq!(body, "echo");

        let span = harness.span_with_path("GET /v1/echo/{id}", "/v1/echo/42");
        assert_eq!(span.kind(), SpanKind::Server);
        assert_eq!(
            header,
            format!("00-{}-{}-01", span.trace_id_hex(), span.span_id_hex())
        );
    });
    let point = http_point(
        names::HTTP_SERVER_REQUEST_DURATION.name,
        "GET",
        "/v1/echo/{id}",
        200,
        1,
    );
    assert_eq!(point.count, 1);
}

/// The string attributes taken from the request are cut to
/// `DEFAULT_MAX_ATTRIBUTE_BYTES` on a character boundary: a client does not decide how
/// much memory a span holds. The route of a path seen for the first time (read from what
/// the router recorded, not matched beforehand) is the template all the same.
#[test]
fn client_strings_on_the_span_are_cut_to_the_limit() {
    let limit = mlotel_actix::DEFAULT_MAX_ATTRIBUTE_BYTES;
    // Header values and paths on the wire are ASCII (a path's other bytes come
    // percent-encoded); the cut on a character boundary is unit-tested in path_cache.rs.
    let model = "m".repeat(limit);
    let raw_path = format!("/long/{model}");
    let agent = format!("agent-{}", "u".repeat(3 * limit));
    // By hand: `raw_request` sends its own User-Agent.
    {
        use std::io::{Read as _, Write as _};
        let mut stream = std::net::TcpStream::connect(*SERVER).expect("connects");
        stream.set_read_timeout(Some(WAIT)).expect("timeout set");
        let head = format!(
            "GET {raw_path} HTTP/1.1\r\nHost: test\r\nUser-Agent: {agent}\r\n\
             Connection: close\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).expect("sent");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    let span = harness()
        .spans_where(
            |span| {
                span.name() == format!("GET {LONG_ROUTE}")
                    && span
                        .attr_str(attr::URL_PATH)
                        .is_some_and(|path| path.starts_with("/long/mmm"))
            },
            1,
        )
        .remove(0);
    assert_eq!(span.attr_str(attr::HTTP_ROUTE), Some(LONG_ROUTE));
    let path = span.attr_str(attr::URL_PATH).unwrap_or_default();
    assert_eq!(path.len(), limit);
    assert!(raw_path.starts_with(path));
    let recorded_agent = span.attr_str("user_agent.original").unwrap_or_default();
    assert_eq!(recorded_agent.len(), limit);
    assert!(agent.starts_with(recorded_agent));
}
