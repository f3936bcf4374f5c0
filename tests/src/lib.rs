//! Wire-level test harness for mlotel: an in-process OTLP receiver that records what arrives.
//!
//! [`OtlpReceiver`] speaks OTLP over gRPC ([`OtlpReceiver::grpc`]) or HTTP/protobuf
//! ([`OtlpReceiver::http`]) on `127.0.0.1`. It runs its own tokio runtime on a background
//! thread, so tests are plain synchronous `#[test]` functions and the code under test (which
//! does blocking flushes) never shares a runtime with the receiver. Dropping the receiver, or
//! calling [`OtlpReceiver::stop`], shuts the server down and frees the port.
//!
//! ```no_run
//! use std::time::Duration;
//! use mlotel_tests::OtlpReceiver;
//!
//! let receiver = OtlpReceiver::grpc();
//! // ... point the exporter at `receiver.endpoint()` and emit telemetry ...
//! let span = receiver.wait_for_span("predict", Duration::from_secs(5));
//! assert_eq!(span.attr_str("ml.model.name"), Some("iris"));
//! ```
//!
//! Every request is recorded with its headers (HTTP headers or gRPC metadata) and can be
//! queried as flattened views ([`ReceivedSpan`], [`ReceivedMetric`], [`ReceivedLog`]) that
//! carry the resource attributes and instrumentation scope they arrived with.
//!
//! It also re-exports what `mlotel-testkit` shares with crates that cannot take this one
//! (mlotel's own tests, the load generator, the HTTP load target): [`SplitMix64`], the
//! seeded generator of every simulation, and [`DiscardSpans`], the span exporter that counts
//! and drops.

mod doc_tables;
mod grpc;
mod http;
mod raw_http;
mod received;
mod receiver;
mod service_process;
mod store;
#[cfg(test)]
mod testutil;
mod wait;

/// The generated OTLP protobuf types (`opentelemetry_proto::tonic`), re-exported so tests can
/// build and inspect messages without depending on `opentelemetry-proto` themselves.
pub use opentelemetry_proto::tonic as proto;

pub use doc_tables::{backticked, read_doc, table_rows};
pub use mlotel_testkit::{DiscardSpans, SplitMix64};
pub use raw_http::{RawResponse, parse_response, raw_request};
pub use received::{
    Attributes, MetricKind, ReceivedLog, ReceivedMetric, ReceivedSpan, any_value_to_string, attr,
    attr_bool, attr_f64, attr_i64, attr_str, find_point, hex, number_f64, number_i64,
};
pub use receiver::{OtlpReceiver, Protocol};
pub use service_process::ServiceProcess;
pub use store::{Payload, RecordedRequest, Rejection, Signal};

/// A loopback port that was free a moment ago, for a receiver that starts later (or never:
/// an endpoint where nothing listens).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("the OS hands out a free loopback port")
}
