//! Recording of received OTLP requests (and rejected ones) behind a mutex.

use std::sync::{Mutex, MutexGuard, PoisonError};

use opentelemetry_proto::tonic::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    trace::v1::ExportTraceServiceRequest,
};

use crate::receiver::Protocol;

/// The OTLP signal a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// `ExportTraceServiceRequest` (`/v1/traces`).
    Traces,
    /// `ExportMetricsServiceRequest` (`/v1/metrics`).
    Metrics,
    /// `ExportLogsServiceRequest` (`/v1/logs`).
    Logs,
}

/// The decoded body of an accepted export request.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// A trace export.
    Traces(ExportTraceServiceRequest),
    /// A metrics export.
    Metrics(ExportMetricsServiceRequest),
    /// A logs export.
    Logs(ExportLogsServiceRequest),
}

impl Payload {
    /// The signal of this payload.
    pub fn signal(&self) -> Signal {
        match self {
            Self::Traces(_) => Signal::Traces,
            Self::Metrics(_) => Signal::Metrics,
            Self::Logs(_) => Signal::Logs,
        }
    }
}

/// One accepted export request, as it arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// The transport it arrived over.
    pub protocol: Protocol,
    /// HTTP headers, or for gRPC the request metadata (which includes the HTTP/2 headers);
    /// names are lower case, values lossily decoded as UTF-8, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The decoded request.
    pub payload: Payload,
}

impl RecordedRequest {
    /// The signal this request carried.
    pub fn signal(&self) -> Signal {
        self.payload.signal()
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// An HTTP request the receiver refused (wrong content type, undecodable body, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The signal of the endpoint it was sent to.
    pub signal: Signal,
    /// The HTTP status the receiver answered with (415 or 400).
    pub status: u16,
    /// Why it was refused.
    pub reason: String,
    /// The request headers.
    pub headers: Vec<(String, String)>,
}

/// First value of header `name` (case-insensitive) in a recorded header list.
pub(crate) fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Converts an `http::HeaderMap` into the recorded `(name, value)` list.
pub(crate) fn header_list(headers: &::http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

#[derive(Debug, Default)]
struct Inner {
    requests: Vec<RecordedRequest>,
    rejections: Vec<Rejection>,
    server_error: Option<String>,
}

/// Shared between the server tasks (writers) and the test thread (reader).
#[derive(Debug, Default)]
pub(crate) struct Store {
    inner: Mutex<Inner>,
}

impl Store {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave `Inner` half-updated (only pushes),
        // so a poisoned lock is still good to read.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn record(
        &self,
        protocol: Protocol,
        headers: Vec<(String, String)>,
        payload: Payload,
    ) {
        self.lock().requests.push(RecordedRequest {
            protocol,
            headers,
            payload,
        });
    }

    pub(crate) fn reject(&self, rejection: Rejection) {
        self.lock().rejections.push(rejection);
    }

    pub(crate) fn set_server_error(&self, error: String) {
        self.lock().server_error = Some(error);
    }

    pub(crate) fn server_error(&self) -> Option<String> {
        self.lock().server_error.clone()
    }

    /// Runs `f` on the recorded requests without cloning them all.
    pub(crate) fn with_requests<T>(&self, f: impl FnOnce(&[RecordedRequest]) -> T) -> T {
        f(&self.lock().requests)
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    pub(crate) fn rejections(&self) -> Vec<Rejection> {
        self.lock().rejections.clone()
    }

    pub(crate) fn clear(&self) {
        let mut inner = self.lock();
        inner.requests.clear();
        inner.rejections.clear();
    }
}
