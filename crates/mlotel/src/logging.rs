//! Structured logs: one JSON object per line on stdout, carrying the `trace_id` and `span_id`
//! of the current span so a log line leads to its trace; level from `RUST_LOG`.

use std::fmt;

use opentelemetry::trace::TraceContextExt;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Crates whose own logs would echo every export attempt (or loop through the OTLP log
/// exporter); they are silenced unless `RUST_LOG` names them.
pub(crate) const NOISY_TARGETS: &[&str] = &[
    "opentelemetry",
    "opentelemetry_sdk",
    "opentelemetry_otlp",
    "opentelemetry_http",
    "tonic",
    "h2",
    "hyper",
    "hyper_util",
    "reqwest",
    "tower",
];

/// `RUST_LOG` (default `info`), with the exporters' own chatter turned off unless named.
pub(crate) fn env_filter(rust_log: Option<&str>) -> EnvFilter {
    let mut directives = rust_log
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .unwrap_or("info")
        .to_owned();
    let named: Vec<String> = directives
        .split(',')
        .filter_map(|directive| directive.split('=').next())
        .map(|target| {
            target
                .split("::")
                .next()
                .unwrap_or(target)
                .trim()
                .to_owned()
        })
        .collect();
    for target in NOISY_TARGETS {
        if !named.iter().any(|name| name == target) {
            directives.push_str(&format!(",{target}=off"));
        }
    }
    // An invalid directive is reported by `parse_lossy` on stderr and skipped, instead of
    // refusing to start over a typo in a log level.
    EnvFilter::builder().parse_lossy(directives)
}

/// Whether a log event comes from the export machinery (never re-exported over OTLP logs).
pub(crate) fn is_export_internal(target: &str) -> bool {
    target.starts_with("mlotel::export")
        || NOISY_TARGETS
            .iter()
            .any(|noisy| target == *noisy || target.starts_with(&format!("{noisy}::")))
}

/// Formats each event as a JSON object on one line:
/// `{"timestamp":..,"level":..,"target":..,"message":..,"fields":{..},"span":..,"trace_id":..,"span_id":..}`.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonLogFormat;

impl<S, N> FormatEvent<S, N> for JsonLogFormat
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
    N: for<'writer> FormatFields<'writer> + 'static,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;

        let mut fields = FieldCollector::default();
        event.record(&mut fields);

        let mut line = Map::new();
        line.insert("timestamp".into(), Value::String(timestamp));
        line.insert("level".into(), Value::String(metadata.level().to_string()));
        line.insert("target".into(), Value::String(metadata.target().to_owned()));
        line.insert(
            "message".into(),
            fields.message.map_or(Value::Null, Value::String),
        );
        if !fields.fields.is_empty() {
            line.insert("fields".into(), Value::Object(fields.fields));
        }
        if let Some(span) = context.lookup_current() {
            line.insert("span".into(), Value::String(span.name().to_owned()));
        }
        let current = opentelemetry::Context::current();
        let span_context = current.span().span_context().clone();
        if span_context.is_valid() {
            line.insert(
                "trace_id".into(),
                Value::String(span_context.trace_id().to_string()),
            );
            line.insert(
                "span_id".into(),
                Value::String(span_context.span_id().to_string()),
            );
        }
        let text = serde_json::to_string(&Value::Object(line)).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

#[derive(Default)]
struct FieldCollector {
    message: Option<String>,
    fields: Map<String, Value>,
}

impl FieldCollector {
    fn insert(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                Value::String(text) => text,
                other => other.to_string(),
            });
        } else {
            self.fields.insert(field.name().to_owned(), value);
        }
    }
}

impl Visit for FieldCollector {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let value = serde_json::Number::from_f64(value)
            .map_or_else(|| Value::String(value.to_string()), Value::Number);
        self.insert(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, Value::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, Value::String(value.to_owned()));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.insert(field, Value::String(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.insert(field, Value::String(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noisy_targets_are_off_unless_named() {
        let filter = env_filter(Some("debug")).to_string();
        assert!(filter.contains("opentelemetry_sdk=off"), "{filter}");
        let filter = env_filter(Some("debug,opentelemetry_sdk=debug")).to_string();
        assert!(!filter.contains("opentelemetry_sdk=off"), "{filter}");
        assert!(
            filter.contains("opentelemetry=off"),
            "only the named crate: {filter}"
        );
        let filter = env_filter(Some("my_tower_app=debug")).to_string();
        assert!(filter.contains("tower=off"), "{filter}");
        assert!(is_export_internal("opentelemetry_sdk::trace"));
        assert!(is_export_internal("mlotel::export"));
        assert!(!is_export_internal("predictor"));
        assert!(!is_export_internal("h2o"));
    }
}
