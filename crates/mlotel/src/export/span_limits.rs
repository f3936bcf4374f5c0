//! Limits on what one span may hold (the specification's `OTEL_*_LIMIT` variables). The
//! SDK enforces the count limits; the value-length limit is applied here, to every span
//! before any processor queues it, because the SDK has no such limit.

use opentelemetry::{Array, StringValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanLimits, SpanProcessor};

pub(crate) use crate::config::span_limits::SpanLimitSettings;

impl SpanLimitSettings {
    /// The count limits, as the SDK enforces them while a span records.
    pub(crate) fn sdk(&self) -> SpanLimits {
        SpanLimits {
            max_events_per_span: self.event_count,
            max_attributes_per_span: self.attribute_count,
            max_links_per_span: self.link_count,
            max_attributes_per_event: self.event_attribute_count,
            max_attributes_per_link: self.link_attribute_count,
        }
    }

    /// Truncates the string values of the span's, its events' and its links' attributes to
    /// the value-length limit (on a character boundary; each string of an array alone).
    pub(crate) fn apply(&self, span: &mut SpanData) {
        let Some(max_chars) = self.attribute_value_length else {
            return;
        };
        let attribute_lists = std::iter::once(&mut span.attributes)
            .chain(
                span.events
                    .events
                    .iter_mut()
                    .map(|event| &mut event.attributes),
            )
            .chain(span.links.links.iter_mut().map(|link| &mut link.attributes));
        for attributes in attribute_lists {
            for attribute in attributes.iter_mut() {
                truncate_value(&mut attribute.value, max_chars);
            }
        }
    }
}

fn truncate_value(value: &mut Value, max_chars: usize) {
    match value {
        Value::String(text) => {
            if let Some(short) = truncated(text.as_str(), max_chars) {
                *text = StringValue::from(short);
            }
        }
        Value::Array(Array::String(texts)) => {
            for text in texts.iter_mut() {
                if let Some(short) = truncated(text.as_str(), max_chars) {
                    *text = StringValue::from(short);
                }
            }
        }
        _ => {}
    }
}

/// `text` cut to `max_chars` characters, or `None` when it is not longer.
fn truncated(text: &str, max_chars: usize) -> Option<String> {
    // A string of at most `max_chars` bytes has at most that many characters.
    if text.len() <= max_chars {
        return None;
    }
    let (end, _) = text.char_indices().nth(max_chars)?;
    Some(text[..end].to_owned())
}

/// A finished span with these attributes and events, for tests.
/// Lets a boxed processor from `TelemetryBuilder::span_processor` go where the SDK wants a
/// concrete type; its spans get the value-length limit as the OTLP pipeline's do.
#[derive(Debug)]
pub(crate) struct LimitedSpanProcessor {
    pub(crate) inner: Box<dyn SpanProcessor>,
    pub(crate) limits: SpanLimitSettings,
}

impl SpanProcessor for LimitedSpanProcessor {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &opentelemetry::Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, mut span: SpanData) {
        self.limits.apply(&mut span);
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(
        &self,
        timeout: std::time::Duration,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
pub(crate) fn test_span(
    attributes: Vec<opentelemetry::KeyValue>,
    events: Vec<opentelemetry::trace::Event>,
) -> SpanData {
    let mut span_events = opentelemetry_sdk::trace::SpanEvents::default();
    span_events.events = events;
    SpanData {
        span_context: opentelemetry::trace::SpanContext::empty_context(),
        parent_span_id: opentelemetry::trace::SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: opentelemetry::trace::SpanKind::Server,
        name: "GET /".into(),
        start_time: std::time::SystemTime::UNIX_EPOCH,
        end_time: std::time::SystemTime::UNIX_EPOCH,
        attributes,
        dropped_attributes_count: 0,
        events: span_events,
        links: opentelemetry_sdk::trace::SpanLinks::default(),
        status: opentelemetry::trace::Status::Unset,
        instrumentation_scope: opentelemetry::InstrumentationScope::builder("test").build(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::Event;
    use opentelemetry::{Key, KeyValue};
    use std::time::SystemTime;

    fn limit(chars: usize) -> SpanLimitSettings {
        SpanLimitSettings {
            attribute_value_length: Some(chars),
            ..SpanLimitSettings::default()
        }
    }

    #[test]
    fn long_strings_are_cut_on_a_character_boundary_and_others_kept() {
        let mut data = test_span(
            vec![
                KeyValue::new("url.path", "/".repeat(100)),
                KeyValue::new("short", "abc"),
                KeyValue::new("accents", "ééééé"),
                KeyValue::new("count", 123_456_789_i64),
                KeyValue::new(
                    Key::new("list"),
                    Value::Array(Array::String(vec!["xxxxxxxx".into(), "y".into()])),
                ),
            ],
            vec![Event::new(
                "exception",
                SystemTime::UNIX_EPOCH,
                vec![KeyValue::new("exception.message", "m".repeat(50))],
                0,
            )],
        );
        limit(4).apply(&mut data);
        let value = |key: &str| {
            data.attributes
                .iter()
                .find(|attribute| attribute.key.as_str() == key)
                .map(|attribute| attribute.value.clone())
                .expect("attribute kept")
        };
        assert_eq!(value("url.path"), Value::from("////"));
        assert_eq!(value("short"), Value::from("abc"));
        assert_eq!(value("accents"), Value::from("éééé"));
        assert_eq!(value("count"), Value::I64(123_456_789));
        assert_eq!(
            value("list"),
            Value::Array(Array::String(vec!["xxxx".into(), "y".into()]))
        );
        assert_eq!(
            data.events.events[0].attributes[0].value,
            Value::from("mmmm")
        );
    }

    #[test]
    fn without_a_limit_nothing_changes() {
        let mut data = test_span(vec![KeyValue::new("url.path", "/".repeat(10_000))], vec![]);
        SpanLimitSettings::default().apply(&mut data);
        assert_eq!(data.attributes[0].value.as_str().len(), 10_000);
    }
}
