//! Shared by the `instrument_ml*` test binaries: one installed (global) telemetry per binary
//! sending to an in-process OTLP receiver, and waits on what arrives.
//!
//! `#[instrument_ml]` records through the installed telemetry, so each binary installs it
//! once (in a `LazyLock`) and each test uses a model name of its own: tests run in parallel
//! and only look at the data of their model.

#![allow(dead_code)] // each binary uses a different subset

use std::collections::BTreeSet;
use std::time::Duration;

use mlotel::Telemetry;
use mlotel::names::attr;
use mlotel_tests::proto::common::v1::KeyValue;
use mlotel_tests::proto::metrics::v1::{HistogramDataPoint, NumberDataPoint};
use mlotel_tests::{OtlpReceiver, ReceivedMetric, ReceivedSpan};

/// Longest wait for anything to arrive; a wait that runs out fails the test with a summary
/// of what did arrive.
pub(crate) const WAIT: Duration = Duration::from_secs(15);

/// The attribute keys of every `predict` span that ends with `ok` and has a label and a
/// confidence.
pub(crate) const OK_SPAN_KEYS: &[&str] = &[
    attr::MODEL_NAME,
    attr::MODEL_VERSION,
    attr::PREDICTION_OUTCOME,
    attr::PREDICTION_BATCH_SIZE,
    attr::PREDICTION_LABEL,
    attr::PREDICTION_CONFIDENCE,
];

/// The receiver and the telemetry installed to send to it.
pub(crate) struct Harness {
    pub(crate) receiver: OtlpReceiver,
    pub(crate) telemetry: Telemetry,
}

impl Harness {
    /// Installs telemetry (globally: OpenTelemetry providers, the `tracing` subscriber with
    /// the tracing-opentelemetry bridge) sending to `receiver`, metrics every 200 ms.
    /// `extra` adds or overrides variables.
    pub(crate) fn install(receiver: OtlpReceiver, extra: &[(&str, &str)]) -> Self {
        let protocol = match receiver.protocol() {
            mlotel_tests::Protocol::Grpc => "grpc",
            mlotel_tests::Protocol::HttpProtobuf => "http/protobuf",
        };
        let endpoint = receiver.endpoint();
        let mut env = vec![
            ("OTEL_SERVICE_NAME", "instrument-ml-test"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            // Spans: the batch span processor reads OTEL_BSP_SCHEDULE_DELAY from the process
            // environment only (not from these variables), which a test cannot set safely
            // while other tests run; the span waits flush the processor instead.
            ("OTEL_METRIC_EXPORT_INTERVAL", "200"),
            // Test spans are info spans; mlotel's own info lines ("model used before it was
            // registered", "telemetry installed") would only clutter stdout.
            ("RUST_LOG", "info,mlotel=warn"),
        ];
        env.extend_from_slice(extra);
        let telemetry = Telemetry::builder()
            .env_vars(
                env.iter()
                    .map(|&(key, value)| (key.to_owned(), value.to_owned())),
            )
            .install()
            .expect("telemetry installs (once per test binary)");
        Self {
            receiver,
            telemetry,
        }
    }

    /// Waits until at least `count` received spans satisfy `predicate` and returns them all,
    /// flushing the span processor between looks.
    pub(crate) fn spans_where(
        &self,
        predicate: impl Fn(&ReceivedSpan) -> bool,
        count: usize,
    ) -> Vec<ReceivedSpan> {
        self.receiver.wait_until(WAIT, |receiver| {
            let mut spans = receiver.spans();
            spans.retain(|span| predicate(span));
            if spans.len() >= count {
                return Some(spans);
            }
            // Hand queued spans to the exporter now instead of after the batch delay.
            let _ = self.telemetry.force_flush();
            None
        })
    }

    /// Waits for the first span named `name`.
    pub(crate) fn span(&self, name: &str) -> ReceivedSpan {
        self.spans_where(|span| span.name() == name, 1)
            .into_iter()
            .next()
            .expect("one span")
    }

    /// The first span named `name` for the request to `path` (`url.path`).
    pub(crate) fn span_with_path(&self, name: &str, path: &str) -> ReceivedSpan {
        let (name, path) = (name.to_owned(), path.to_owned());
        self.spans_where(
            move |span| span.name() == name && span.attr_str(attr::URL_PATH) == Some(&path),
            1,
        )
        .remove(0)
    }

    /// Everything queued is exported when this returns (the exporters are waited for).
    pub(crate) fn flush(&self) {
        self.telemetry
            .force_flush()
            .expect("flush to a live receiver");
    }

    /// Waits until the latest export of metric `name` has a point with the `want`
    /// attributes that satisfies `done`; returns that metric instance.
    pub(crate) fn metric_where(
        &self,
        name: &str,
        want: &[(&str, &str)],
        done: impl Fn(&ReceivedMetric) -> bool,
    ) -> ReceivedMetric {
        self.receiver.wait_until(WAIT, |receiver| {
            receiver
                .latest_metric(name)
                .filter(|metric| {
                    metric.number_point(want).is_some() || metric.histogram_point(want).is_some()
                })
                .filter(|metric| done(metric))
        })
    }

    /// Waits until the sum point of `name` with the `want` attributes reaches `at_least`;
    /// returns the point (whose value may be higher: assert on it).
    pub(crate) fn sum_point(
        &self,
        name: &str,
        want: &[(&str, &str)],
        at_least: i64,
    ) -> NumberDataPoint {
        let metric = self.metric_where(name, want, |metric| {
            metric
                .sum_point(want)
                .and_then(mlotel_tests::number_i64)
                .is_some_and(|value| value >= at_least)
        });
        metric.sum_point(want).expect("sum point").clone()
    }

    /// Waits until the histogram point of `name` with the `want` attributes counts at least
    /// `at_least` values; returns the point.
    pub(crate) fn histogram_point(
        &self,
        name: &str,
        want: &[(&str, &str)],
        at_least: u64,
    ) -> HistogramDataPoint {
        let metric = self.metric_where(name, want, |metric| {
            metric
                .histogram_point(want)
                .is_some_and(|point| point.count >= at_least)
        });
        metric
            .histogram_point(want)
            .expect("histogram point")
            .clone()
    }

    /// Waits until the latest export shows `ml.predictions.active` = `value` for `model`.
    /// Exports arrive in order, so after seeing 1, a 0 is from a later collection.
    pub(crate) fn active_becomes(&self, model: &str, value: i64) -> NumberDataPoint {
        let want = [(attr::MODEL_NAME, model)];
        let metric = self.metric_where(mlotel::names::PREDICTIONS_ACTIVE.name, &want, |metric| {
            metric.sum_point(&want).and_then(mlotel_tests::number_i64) == Some(value)
        });
        metric.sum_point(&want).expect("active point").clone()
    }
}

/// The sorted attribute keys of a point or span.
pub(crate) fn keys(attributes: &[KeyValue]) -> BTreeSet<&str> {
    attributes.iter().map(|kv| kv.key.as_str()).collect()
}

/// `keys` of the expected set, for comparing with [`keys`].
pub(crate) fn key_set<'a>(expected: &[&'a str]) -> BTreeSet<&'a str> {
    expected.iter().copied().collect()
}

/// The attribute keys of a data point.
pub(crate) fn point_keys(point: &impl mlotel_tests::Attributes) -> BTreeSet<&str> {
    keys(point.attributes())
}

/// Whether `a` and `b` are within 1e-9.
pub(crate) fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// One HTTP request's attributes on a `http.server.*` histogram point.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HttpRequestKey<'a> {
    pub(crate) method: &'a str,
    pub(crate) route: &'a str,
    pub(crate) status: i64,
    /// `error.type`, `None` when the point must not have one.
    pub(crate) error_type: Option<&'a str>,
}

impl HttpRequestKey<'_> {
    fn matches(&self, attributes: &[KeyValue]) -> bool {
        use mlotel_tests::{attr_i64, attr_str};
        attr_str(attributes, attr::HTTP_REQUEST_METHOD) == Some(self.method)
            && attr_str(attributes, attr::HTTP_ROUTE) == Some(self.route)
            && attr_i64(attributes, attr::HTTP_RESPONSE_STATUS_CODE) == Some(self.status)
            && attr_str(attributes, attr::ERROR_TYPE) == self.error_type
    }
}

impl Harness {
    /// Waits until histogram `name` has a point for `key` counting at least `count` values,
    /// flushing between looks; returns it.
    pub(crate) fn http_point(
        &self,
        name: &str,
        key: HttpRequestKey<'_>,
        count: u64,
    ) -> HistogramDataPoint {
        self.receiver.wait_until(WAIT, |receiver| {
            let found = receiver.latest_metric(name).and_then(|metric| {
                metric
                    .histogram_points()
                    .iter()
                    .find(|point| key.matches(&point.attributes) && point.count >= count)
                    .cloned()
            });
            if found.is_none() {
                let _ = self.telemetry.force_flush();
            }
            found
        })
    }
}

/// Starts a real actix-web server (2 workers, no signal handling) on a free loopback port,
/// on a thread of its own for the rest of the test binary, and returns its address.
pub(crate) fn spawn_actix_server<F, T, B>(app: F) -> std::net::SocketAddr
where
    F: Fn() -> actix_web::App<T> + Send + Clone + 'static,
    T: actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    B: actix_web::body::MessageBody + 'static,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    let addr = listener.local_addr().expect("bound address");
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            actix_web::HttpServer::new(app)
                .workers(2)
                .disable_signals()
                .listen(listener)
                .expect("listens")
                .run()
                .await
        })
    });
    addr
}
