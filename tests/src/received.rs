//! Flattened views of received spans, metrics and logs, plus attribute helpers.

use std::time::Duration;

use opentelemetry_proto::tonic::{
    collector::{
        logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
        trace::v1::ExportTraceServiceRequest,
    },
    common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value},
    logs::v1::{LogRecord, SeverityNumber},
    metrics::v1::{
        AggregationTemporality, ExponentialHistogramDataPoint, HistogramDataPoint, Metric,
        NumberDataPoint, SummaryDataPoint, metric, number_data_point,
    },
    resource::v1::Resource,
    trace::v1::{
        Span,
        span::{Event, SpanKind},
        status::StatusCode,
    },
};

// ---------------------------------------------------------------------------------------------
// Attribute helpers
// ---------------------------------------------------------------------------------------------

/// The value of attribute `key` (first match), if present.
pub fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

/// The string value of attribute `key`; `None` if absent or not a string.
pub fn attr_str<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attr(attrs, key)?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s),
        _ => None,
    }
}

/// The integer value of attribute `key`; `None` if absent or not an integer.
pub fn attr_i64(attrs: &[KeyValue], key: &str) -> Option<i64> {
    match attr(attrs, key)?.value.as_ref()? {
        any_value::Value::IntValue(i) => Some(*i),
        _ => None,
    }
}

/// The double value of attribute `key`; `None` if absent or not a double (integers are not
/// converted, so a type mismatch shows up in the test).
pub fn attr_f64(attrs: &[KeyValue], key: &str) -> Option<f64> {
    match attr(attrs, key)?.value.as_ref()? {
        any_value::Value::DoubleValue(d) => Some(*d),
        _ => None,
    }
}

/// The boolean value of attribute `key`; `None` if absent or not a boolean.
pub fn attr_bool(attrs: &[KeyValue], key: &str) -> Option<bool> {
    match attr(attrs, key)?.value.as_ref()? {
        any_value::Value::BoolValue(b) => Some(*b),
        _ => None,
    }
}

/// Renders a value for messages: strings as-is, scalars with `Display`, arrays and maps in
/// brackets, bytes as hex.
pub fn any_value_to_string(value: &AnyValue) -> String {
    match &value.value {
        None => String::new(),
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BytesValue(b)) => hex(b),
        // Only used by the profiles signal's string table.
        Some(any_value::Value::StringValueStrindex(i)) => format!("<strindex {i}>"),
        Some(any_value::Value::ArrayValue(a)) => {
            let items: Vec<String> = a.values.iter().map(any_value_to_string).collect();
            format!("[{}]", items.join(", "))
        }
        Some(any_value::Value::KvlistValue(kvs)) => {
            let items: Vec<String> = kvs
                .values
                .iter()
                .map(|kv| {
                    let v = kv.value.as_ref().map(any_value_to_string);
                    format!("{}={}", kv.key, v.unwrap_or_default())
                })
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// Lower-case hex of `bytes` (trace and span ids).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Whether `attrs` contains every `(key, string value)` pair of `want`.
fn contains_all(attrs: &[KeyValue], want: &[(&str, &str)]) -> bool {
    want.iter().all(|(k, v)| attr_str(attrs, k) == Some(*v))
}

/// Anything carrying OTLP attributes: data points of every kind, and the received views.
///
/// Bring it into scope (`use mlotel_tests::Attributes;`) for the typed getters on data points.
pub trait Attributes {
    /// The raw attribute list.
    fn attributes(&self) -> &[KeyValue];

    /// The value of attribute `key`.
    fn attr(&self, key: &str) -> Option<&AnyValue> {
        attr(self.attributes(), key)
    }

    /// The string value of attribute `key`.
    fn attr_str(&self, key: &str) -> Option<&str> {
        attr_str(self.attributes(), key)
    }

    /// The integer value of attribute `key`.
    fn attr_i64(&self, key: &str) -> Option<i64> {
        attr_i64(self.attributes(), key)
    }

    /// The double value of attribute `key`.
    fn attr_f64(&self, key: &str) -> Option<f64> {
        attr_f64(self.attributes(), key)
    }

    /// The boolean value of attribute `key`.
    fn attr_bool(&self, key: &str) -> Option<bool> {
        attr_bool(self.attributes(), key)
    }

    /// Whether every `(key, string value)` pair of `want` is among the attributes.
    fn has_attrs(&self, want: &[(&str, &str)]) -> bool {
        contains_all(self.attributes(), want)
    }
}

macro_rules! impl_attributes {
    ($($ty:ty => |$s:ident| $field:expr;)*) => {
        $(impl Attributes for $ty {
            fn attributes(&self) -> &[KeyValue] {
                let $s = self;
                &$field
            }
        })*
    };
}

impl_attributes! {
    NumberDataPoint => |p| p.attributes;
    HistogramDataPoint => |p| p.attributes;
    ExponentialHistogramDataPoint => |p| p.attributes;
    SummaryDataPoint => |p| p.attributes;
    Event => |e| e.attributes;
    ReceivedSpan => |s| s.span.attributes;
    ReceivedLog => |l| l.record.attributes;
}

/// The first point whose attributes contain every `(key, string value)` pair of `want`.
pub fn find_point<'a, P: Attributes>(points: &'a [P], want: &[(&str, &str)]) -> Option<&'a P> {
    points.iter().find(|p| p.has_attrs(want))
}

/// A number point's value as `f64` (integer points are converted).
pub fn number_f64(point: &NumberDataPoint) -> Option<f64> {
    match point.value? {
        number_data_point::Value::AsDouble(d) => Some(d),
        number_data_point::Value::AsInt(i) => Some(i as f64),
    }
}

/// A number point's value if it is an integer point.
pub fn number_i64(point: &NumberDataPoint) -> Option<i64> {
    match point.value? {
        number_data_point::Value::AsInt(i) => Some(i),
        number_data_point::Value::AsDouble(_) => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------------------------

fn resource_attributes(resource: Option<&Resource>) -> Vec<KeyValue> {
    resource.map(|r| r.attributes.clone()).unwrap_or_default()
}

fn scope_parts(scope: Option<&InstrumentationScope>) -> (String, String) {
    scope
        .map(|s| (s.name.clone(), s.version.clone()))
        .unwrap_or_default()
}

/// One received span with the resource and instrumentation scope it was exported under.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedSpan {
    /// The span as it arrived.
    pub span: Span,
    /// Attributes of the resource the span belongs to.
    pub resource_attributes: Vec<KeyValue>,
    /// Instrumentation scope name (tracer name).
    pub scope_name: String,
    /// Instrumentation scope version (may be empty).
    pub scope_version: String,
}

impl ReceivedSpan {
    /// The span name.
    pub fn name(&self) -> &str {
        &self.span.name
    }

    /// Trace id as 32 lower-case hex digits.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.span.trace_id)
    }

    /// Span id as 16 lower-case hex digits.
    pub fn span_id_hex(&self) -> String {
        hex(&self.span.span_id)
    }

    /// Parent span id as hex; empty string for a root span.
    pub fn parent_span_id_hex(&self) -> String {
        hex(&self.span.parent_span_id)
    }

    /// Whether the span has no parent.
    pub fn is_root(&self) -> bool {
        self.span.parent_span_id.is_empty()
    }

    /// Whether `self` is a direct child of `parent` (same trace, parent id = its span id).
    pub fn is_child_of(&self, parent: &ReceivedSpan) -> bool {
        !parent.span.span_id.is_empty()
            && self.span.trace_id == parent.span.trace_id
            && self.span.parent_span_id == parent.span.span_id
    }

    /// Asserts that `self` is a direct child of `parent` ([`is_child_of`](Self::is_child_of)),
    /// naming both spans and their ids when it is not.
    #[track_caller]
    pub fn assert_child_of(&self, parent: &ReceivedSpan) {
        assert!(
            self.is_child_of(parent),
            "span `{}` (trace {}, parent {:?}) is not a child of span `{}` (trace {}, id {})",
            self.name(),
            self.trace_id_hex(),
            self.parent_span_id_hex(),
            parent.name(),
            parent.trace_id_hex(),
            parent.span_id_hex(),
        );
    }

    /// The value of span attribute `key`.
    pub fn attr(&self, key: &str) -> Option<&AnyValue> {
        attr(&self.span.attributes, key)
    }

    /// The string value of span attribute `key`.
    pub fn attr_str(&self, key: &str) -> Option<&str> {
        attr_str(&self.span.attributes, key)
    }

    /// The integer value of span attribute `key`.
    pub fn attr_i64(&self, key: &str) -> Option<i64> {
        attr_i64(&self.span.attributes, key)
    }

    /// The double value of span attribute `key`.
    pub fn attr_f64(&self, key: &str) -> Option<f64> {
        attr_f64(&self.span.attributes, key)
    }

    /// The boolean value of span attribute `key`.
    pub fn attr_bool(&self, key: &str) -> Option<bool> {
        attr_bool(&self.span.attributes, key)
    }

    /// The string value of resource attribute `key`.
    pub fn resource_attr_str(&self, key: &str) -> Option<&str> {
        attr_str(&self.resource_attributes, key)
    }

    /// The span status code (`Unset` when absent or unknown).
    pub fn status_code(&self) -> StatusCode {
        self.span
            .status
            .as_ref()
            .and_then(|s| StatusCode::try_from(s.code).ok())
            .unwrap_or(StatusCode::Unset)
    }

    /// The span status message (empty when absent).
    pub fn status_message(&self) -> &str {
        self.span.status.as_ref().map_or("", |s| s.message.as_str())
    }

    /// The span kind (`Unspecified` when unknown).
    pub fn kind(&self) -> SpanKind {
        SpanKind::try_from(self.span.kind).unwrap_or(SpanKind::Unspecified)
    }

    /// End minus start time (zero if the clock went backwards).
    pub fn duration(&self) -> Duration {
        Duration::from_nanos(
            self.span
                .end_time_unix_nano
                .saturating_sub(self.span.start_time_unix_nano),
        )
    }

    /// The first event named `name`.
    pub fn event(&self, name: &str) -> Option<&Event> {
        self.span.events.iter().find(|e| e.name == name)
    }

    /// Names of all events, in order.
    pub fn event_names(&self) -> Vec<&str> {
        self.span.events.iter().map(|e| e.name.as_str()).collect()
    }
}

/// The aggregation type of a received metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// `Gauge`.
    Gauge,
    /// `Sum` (counter / up-down counter).
    Sum,
    /// Explicit-bucket `Histogram`.
    Histogram,
    /// `ExponentialHistogram`.
    ExponentialHistogram,
    /// `Summary`.
    Summary,
    /// No data set.
    Empty,
}

/// One received metric instance with the resource and instrumentation scope it was exported
/// under. Cumulative metrics arrive again every export interval, one instance each time.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedMetric {
    /// The metric as it arrived.
    pub metric: Metric,
    /// Attributes of the resource the metric belongs to.
    pub resource_attributes: Vec<KeyValue>,
    /// Instrumentation scope name (meter name).
    pub scope_name: String,
    /// Instrumentation scope version (may be empty).
    pub scope_version: String,
}

impl ReceivedMetric {
    /// The metric name.
    pub fn name(&self) -> &str {
        &self.metric.name
    }

    /// The metric unit (may be empty).
    pub fn unit(&self) -> &str {
        &self.metric.unit
    }

    /// The metric description (may be empty).
    pub fn description(&self) -> &str {
        &self.metric.description
    }

    /// The string value of resource attribute `key`.
    pub fn resource_attr_str(&self, key: &str) -> Option<&str> {
        attr_str(&self.resource_attributes, key)
    }

    /// The aggregation type.
    pub fn kind(&self) -> MetricKind {
        match &self.metric.data {
            Some(metric::Data::Gauge(_)) => MetricKind::Gauge,
            Some(metric::Data::Sum(_)) => MetricKind::Sum,
            Some(metric::Data::Histogram(_)) => MetricKind::Histogram,
            Some(metric::Data::ExponentialHistogram(_)) => MetricKind::ExponentialHistogram,
            Some(metric::Data::Summary(_)) => MetricKind::Summary,
            None => MetricKind::Empty,
        }
    }

    /// Data points if this is a gauge, else empty.
    pub fn gauge_points(&self) -> &[NumberDataPoint] {
        match &self.metric.data {
            Some(metric::Data::Gauge(g)) => &g.data_points,
            _ => &[],
        }
    }

    /// Data points if this is a sum, else empty (see [`is_monotonic`](Self::is_monotonic) and
    /// [`temporality`](Self::temporality)).
    pub fn sum_points(&self) -> &[NumberDataPoint] {
        match &self.metric.data {
            Some(metric::Data::Sum(s)) => &s.data_points,
            _ => &[],
        }
    }

    /// Data points of a sum or a gauge, else empty.
    pub fn number_points(&self) -> &[NumberDataPoint] {
        match &self.metric.data {
            Some(metric::Data::Sum(s)) => &s.data_points,
            Some(metric::Data::Gauge(g)) => &g.data_points,
            _ => &[],
        }
    }

    /// Data points (explicit bounds, bucket counts, count, sum, min, max) if this is an
    /// explicit-bucket histogram, else empty.
    pub fn histogram_points(&self) -> &[HistogramDataPoint] {
        match &self.metric.data {
            Some(metric::Data::Histogram(h)) => &h.data_points,
            _ => &[],
        }
    }

    /// Data points if this is an exponential histogram, else empty.
    pub fn exponential_histogram_points(&self) -> &[ExponentialHistogramDataPoint] {
        match &self.metric.data {
            Some(metric::Data::ExponentialHistogram(h)) => &h.data_points,
            _ => &[],
        }
    }

    /// `Some(is_monotonic)` for a sum, `None` for other kinds.
    pub fn is_monotonic(&self) -> Option<bool> {
        match &self.metric.data {
            Some(metric::Data::Sum(s)) => Some(s.is_monotonic),
            _ => None,
        }
    }

    /// Aggregation temporality of a sum or (exponential) histogram; `None` for other kinds.
    pub fn temporality(&self) -> Option<AggregationTemporality> {
        let raw = match &self.metric.data {
            Some(metric::Data::Sum(s)) => s.aggregation_temporality,
            Some(metric::Data::Histogram(h)) => h.aggregation_temporality,
            Some(metric::Data::ExponentialHistogram(h)) => h.aggregation_temporality,
            _ => return None,
        };
        AggregationTemporality::try_from(raw).ok()
    }

    /// The first histogram point whose attributes contain every `(key, value)` of `want`.
    pub fn histogram_point(&self, want: &[(&str, &str)]) -> Option<&HistogramDataPoint> {
        find_point(self.histogram_points(), want)
    }

    /// The first sum point whose attributes contain every `(key, value)` of `want`.
    pub fn sum_point(&self, want: &[(&str, &str)]) -> Option<&NumberDataPoint> {
        find_point(self.sum_points(), want)
    }

    /// The first gauge point whose attributes contain every `(key, value)` of `want`.
    pub fn gauge_point(&self, want: &[(&str, &str)]) -> Option<&NumberDataPoint> {
        find_point(self.gauge_points(), want)
    }

    /// The first sum-or-gauge point whose attributes contain every `(key, value)` of `want`.
    pub fn number_point(&self, want: &[(&str, &str)]) -> Option<&NumberDataPoint> {
        find_point(self.number_points(), want)
    }
}

/// One received log record with the resource and instrumentation scope it was exported under.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedLog {
    /// The record as it arrived.
    pub record: LogRecord,
    /// Attributes of the resource the record belongs to.
    pub resource_attributes: Vec<KeyValue>,
    /// Instrumentation scope name (logger name / target).
    pub scope_name: String,
    /// Instrumentation scope version (may be empty).
    pub scope_version: String,
}

impl ReceivedLog {
    /// The body if it is a string value.
    pub fn body_str(&self) -> Option<&str> {
        match self.record.body.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s),
            _ => None,
        }
    }

    /// The body rendered as text (any value type; empty if absent).
    pub fn body_text(&self) -> String {
        self.record
            .body
            .as_ref()
            .map(any_value_to_string)
            .unwrap_or_default()
    }

    /// The severity text (may be empty).
    pub fn severity_text(&self) -> &str {
        &self.record.severity_text
    }

    /// The severity number (`Unspecified` when unknown).
    pub fn severity_number(&self) -> SeverityNumber {
        SeverityNumber::try_from(self.record.severity_number).unwrap_or(SeverityNumber::Unspecified)
    }

    /// Trace id as hex; empty when the record is not correlated with a span.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.record.trace_id)
    }

    /// Span id as hex; empty when the record is not correlated with a span.
    pub fn span_id_hex(&self) -> String {
        hex(&self.record.span_id)
    }

    /// The value of log attribute `key`.
    pub fn attr(&self, key: &str) -> Option<&AnyValue> {
        attr(&self.record.attributes, key)
    }

    /// The string value of log attribute `key`.
    pub fn attr_str(&self, key: &str) -> Option<&str> {
        attr_str(&self.record.attributes, key)
    }

    /// The integer value of log attribute `key`.
    pub fn attr_i64(&self, key: &str) -> Option<i64> {
        attr_i64(&self.record.attributes, key)
    }

    /// The double value of log attribute `key`.
    pub fn attr_f64(&self, key: &str) -> Option<f64> {
        attr_f64(&self.record.attributes, key)
    }

    /// The boolean value of log attribute `key`.
    pub fn attr_bool(&self, key: &str) -> Option<bool> {
        attr_bool(&self.record.attributes, key)
    }

    /// The string value of resource attribute `key`.
    pub fn resource_attr_str(&self, key: &str) -> Option<&str> {
        attr_str(&self.resource_attributes, key)
    }
}

// ---------------------------------------------------------------------------------------------
// Flattening
// ---------------------------------------------------------------------------------------------

pub(crate) fn spans_of(request: &ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut out = Vec::new();
    for rs in &request.resource_spans {
        let resource = resource_attributes(rs.resource.as_ref());
        for ss in &rs.scope_spans {
            let (scope_name, scope_version) = scope_parts(ss.scope.as_ref());
            out.extend(ss.spans.iter().map(|span| ReceivedSpan {
                span: span.clone(),
                resource_attributes: resource.clone(),
                scope_name: scope_name.clone(),
                scope_version: scope_version.clone(),
            }));
        }
    }
    out
}

pub(crate) fn metrics_of(request: &ExportMetricsServiceRequest) -> Vec<ReceivedMetric> {
    let mut out = Vec::new();
    for rm in &request.resource_metrics {
        let resource = resource_attributes(rm.resource.as_ref());
        for sm in &rm.scope_metrics {
            let (scope_name, scope_version) = scope_parts(sm.scope.as_ref());
            out.extend(sm.metrics.iter().map(|metric| ReceivedMetric {
                metric: metric.clone(),
                resource_attributes: resource.clone(),
                scope_name: scope_name.clone(),
                scope_version: scope_version.clone(),
            }));
        }
    }
    out
}

pub(crate) fn logs_of(request: &ExportLogsServiceRequest) -> Vec<ReceivedLog> {
    let mut out = Vec::new();
    for rl in &request.resource_logs {
        let resource = resource_attributes(rl.resource.as_ref());
        for sl in &rl.scope_logs {
            let (scope_name, scope_version) = scope_parts(sl.scope.as_ref());
            out.extend(sl.log_records.iter().map(|record| ReceivedLog {
                record: record.clone(),
                resource_attributes: resource.clone(),
                scope_name: scope_name.clone(),
                scope_version: scope_version.clone(),
            }));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::{
        common::v1::{ArrayValue, any_value::Value},
        logs::v1::SeverityNumber,
        metrics::v1::AggregationTemporality,
        trace::v1::{span::SpanKind, status::StatusCode},
    };

    use super::*;
    use crate::testutil::{kv, kv_str, logs_request, metrics_request, trace_request};

    #[test]
    fn typed_attribute_getters_are_strict() {
        let attrs = vec![
            kv_str("s", "text"),
            kv("i", Value::IntValue(3)),
            kv("d", Value::DoubleValue(1.5)),
            kv("b", Value::BoolValue(false)),
        ];
        assert_eq!(attr_str(&attrs, "s"), Some("text"));
        assert_eq!(attr_i64(&attrs, "i"), Some(3));
        assert_eq!(attr_f64(&attrs, "d"), Some(1.5));
        assert_eq!(attr_bool(&attrs, "b"), Some(false));
        assert!(attr(&attrs, "missing").is_none());
        // No silent conversions between types.
        assert_eq!(attr_str(&attrs, "i"), None);
        assert_eq!(attr_f64(&attrs, "i"), None);
        assert_eq!(attr_i64(&attrs, "d"), None);
    }

    #[test]
    fn any_value_rendering_and_hex() {
        let array = AnyValue {
            value: Some(Value::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(Value::IntValue(1)),
                    },
                    AnyValue {
                        value: Some(Value::StringValue("a".to_owned())),
                    },
                ],
            })),
        };
        assert_eq!(any_value_to_string(&array), "[1, a]");
        assert_eq!(hex(&[0x00, 0xab, 0x10]), "00ab10");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn span_view() {
        let spans = spans_of(&trace_request());
        assert_eq!(spans.len(), 2);
        let (root, child) = (&spans[0], &spans[1]);

        assert_eq!(root.name(), "predict");
        assert!(root.is_root());
        assert_eq!(root.parent_span_id_hex(), "");
        assert_eq!(root.trace_id_hex(), "ab".repeat(16));
        assert_eq!(root.span_id_hex(), "0102030405060708");
        assert_eq!(root.kind(), SpanKind::Server);
        assert_eq!(root.status_code(), StatusCode::Unset);
        assert_eq!(root.duration(), Duration::from_nanos(4_000));
        assert_eq!(root.attr_str("ml.model.name"), Some("iris"));

        assert!(child.is_child_of(root));
        assert!(!root.is_child_of(child));
        assert!(!child.is_child_of(child));
        assert_eq!(child.parent_span_id_hex(), root.span_id_hex());
        child.assert_child_of(root);
        let refused = std::panic::catch_unwind(|| root.assert_child_of(child))
            .expect_err("a root is no child");
        let message = refused
            .downcast_ref::<String>()
            .expect("a formatted message");
        assert!(
            message.contains("span `predict`")
                && message.contains("of span `preprocess`")
                && message.contains(&child.span_id_hex()),
            "{message}"
        );
        assert_eq!(child.status_code(), StatusCode::Error);
        assert_eq!(child.status_message(), "bad input");
        assert_eq!(child.attr_i64("rows"), Some(42));
        assert_eq!(child.attr_f64("ratio"), Some(0.5));
        assert_eq!(child.attr_bool("cached"), Some(true));
        assert!(child.has_attrs(&[("stage", "scale")]));
        assert_eq!(child.event_names(), ["exception"]);
        let event = child.event("exception").expect("exception event");
        assert_eq!(event.attr_str("exception.type"), Some("ValueError"));

        for span in &spans {
            assert_eq!(span.resource_attr_str("service.name"), Some("test-svc"));
            assert_eq!(span.scope_name, "mlotel-test");
            assert_eq!(span.scope_version, "1.2.3");
        }
    }

    #[test]
    fn metric_view() {
        let metrics = metrics_of(&metrics_request(9));
        let (sum, histogram) = (&metrics[0], &metrics[1]);

        assert_eq!(sum.name(), "requests");
        assert_eq!(sum.unit(), "{request}");
        assert_eq!(sum.description(), "Requests served");
        assert_eq!(sum.kind(), MetricKind::Sum);
        assert_eq!(sum.is_monotonic(), Some(true));
        assert_eq!(sum.temporality(), Some(AggregationTemporality::Cumulative));
        assert_eq!(sum.sum_points().len(), 2);
        assert_eq!(sum.number_points().len(), 2);
        assert!(sum.gauge_points().is_empty());
        assert!(sum.histogram_points().is_empty());
        let point = sum.sum_point(&[("model", "iris")]).expect("iris point");
        assert_eq!(number_i64(point), Some(9));
        assert_eq!(number_f64(point), Some(9.0));
        assert!(
            sum.sum_point(&[("model", "iris"), ("outcome", "ok")])
                .is_some()
        );
        assert!(
            sum.sum_point(&[("model", "iris"), ("outcome", "error")])
                .is_none()
        );
        assert!(sum.number_point(&[("model", "other")]).is_some());
        assert!(sum.gauge_point(&[]).is_none());
        assert_eq!(sum.resource_attr_str("service.name"), Some("test-svc"));

        assert_eq!(histogram.kind(), MetricKind::Histogram);
        assert_eq!(histogram.is_monotonic(), None);
        assert_eq!(histogram.temporality(), Some(AggregationTemporality::Delta));
        let point = histogram
            .histogram_point(&[("model", "iris")])
            .expect("histogram point");
        assert_eq!(point.explicit_bounds, [0.1, 0.5]);
        assert_eq!(point.bucket_counts, [1, 2, 0]);
        assert_eq!(point.count, 3);
        assert_eq!(point.sum, Some(0.6));
        assert_eq!(point.attr_str("model"), Some("iris"));
        assert!(find_point(histogram.histogram_points(), &[("model", "x")]).is_none());
    }

    #[test]
    fn log_view() {
        let logs = logs_of(&logs_request());
        let log = &logs[0];
        assert_eq!(log.body_str(), Some("model loaded"));
        assert_eq!(log.body_text(), "model loaded");
        assert_eq!(log.severity_text(), "WARN");
        assert_eq!(log.severity_number(), SeverityNumber::Warn);
        assert_eq!(log.trace_id_hex(), "ab".repeat(16));
        assert_eq!(log.span_id_hex(), "0102030405060708");
        assert_eq!(log.attr_str("model"), Some("iris"));
        assert_eq!(log.resource_attr_str("service.name"), Some("test-svc"));
        assert_eq!(log.scope_name, "mlotel-test");
    }
}
