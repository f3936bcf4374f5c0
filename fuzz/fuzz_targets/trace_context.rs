//! Incoming `traceparent`, `tracestate` and `baggage` headers through the real
//! `mlotel_actix::RequestTelemetry` middleware, with the propagators
//! `mlotel::Telemetry::install()` sets: the extraction the middleware does, the span it
//! starts under the extracted parent and the `traceresponse` header it writes.
//!
//! Input: lines; line `i` is a value of header `i % 3` (traceparent, tracestate, baggage),
//! so repeated headers occur too. Lines that are not valid header values (actix's parser
//! would have refused the request) are skipped. Properties: no panic, and the handler's
//! 200 reaches the client whatever the headers say.

#![no_main]

use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::OnceLock;

use actix_web::dev::Service as _;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::rt::SystemRunner;
use actix_web::{App, HttpResponse, test, web};
use libfuzzer_sys::fuzz_target;
use mlotel_actix::RequestTelemetry;

const HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("traceparent"),
    HeaderName::from_static("tracestate"),
    HeaderName::from_static("baggage"),
];

/// Sends a request through the middleware; resolves to the status the client gets once
/// the body was read (the request span ends with the body).
type Call = Rc<dyn Fn(test::TestRequest) -> Pin<Box<dyn Future<Output = u16>>>>;

/// Installs telemetry without exporters or logging (propagators, tracer and meter as a
/// service has them), and builds a service wrapped in `RequestTelemetry`.
fn build() -> (SystemRunner, Call) {
    let telemetry = mlotel::Telemetry::builder()
        .env_vars([
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
        ])
        .install_logging(false)
        .install()
        .expect("telemetry without exporters installs");
    // Kept for the life of the process (dropping it shuts telemetry down), where the leak
    // checker sees it.
    if TELEMETRY.set(telemetry).is_err() {
        panic!("telemetry installed twice");
    }
    let runner = actix_web::rt::System::new();
    let service = runner.block_on(test::init_service(
        App::new().wrap(RequestTelemetry::new()).route(
            "/predict",
            web::post().to(|| async { HttpResponse::Ok().body("ok") }),
        ),
    ));
    let service = Rc::new(service);
    let call: Call = Rc::new(move |request: test::TestRequest| {
        let service = Rc::clone(&service);
        Box::pin(async move {
            match service.call(request.to_request()).await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let _ = test::read_body(response).await;
                    status
                }
                Err(error) => error.as_response_error().status_code().as_u16(),
            }
        })
    });
    (runner, call)
}

static TELEMETRY: OnceLock<mlotel::Telemetry> = OnceLock::new();

thread_local! {
    // Never dropped: at exit, actix's own thread-locals (its request pool) may be gone
    // before this one, and dropping the service needs them.
    static SERVICE: ManuallyDrop<(SystemRunner, Call)> = ManuallyDrop::new(build());
}

fuzz_target!(|data: &[u8]| {
    let mut request = test::TestRequest::post().uri("/predict");
    for (index, line) in data.split(|&byte| byte == b'\n').enumerate() {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            request = request.append_header((HEADERS[index % HEADERS.len()].clone(), value));
        }
    }
    let status = SERVICE.with(|service| {
        let (runner, call) = &**service;
        runner.block_on(call(request))
    });
    assert_eq!(status, 200);
});
