//! The OpenMetrics 1.0 text exposition of the gathered metric families, with the exemplars
//! [`crate::exemplars`] keeps on histogram buckets.
//!
//! Written here rather than by the `prometheus-client` crate: its encoder takes exemplars
//! only as `prometheus_client::metrics::exemplar::Exemplar` values, which have no public
//! constructor (only its own `HistogramWithExemplars::observe` makes one), so it cannot
//! encode histograms aggregated elsewhere — ours are aggregated in per-thread stripes and
//! the SDK. The format is small; `tests/tests/exemplars.rs` and the stack end-to-end run
//! check this output with Prometheus' own scrape and the `prometheus_client` Python parser.

use std::fmt::Write as _;

use prometheus::proto::{LabelPair, Metric, MetricFamily, MetricType};

use crate::exemplars::{self, Exemplar};

/// `Content-Type` of [`render`]'s output.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The families in the OpenMetrics text format, ending with `# EOF`.
pub(crate) fn render(families: &[MetricFamily]) -> String {
    let mut out = String::with_capacity(32 * 1024);
    for family in families {
        write_family(&mut out, family);
    }
    out.push_str("# EOF\n");
    out
}

fn write_family(out: &mut String, family: &MetricFamily) {
    let name = family.name();
    // `opentelemetry-prometheus` makes counters, gauges and histograms only.
    let (family_name, kind) = match family.get_field_type() {
        // The counter's family is named without `_total`; its samples carry it.
        MetricType::COUNTER => (name.strip_suffix("_total").unwrap_or(name), "counter"),
        MetricType::GAUGE => (name, "gauge"),
        MetricType::HISTOGRAM => (name, "histogram"),
        MetricType::SUMMARY | MetricType::UNTYPED => return,
    };
    let _ = writeln!(out, "# TYPE {family_name} {kind}");
    if !family.help().is_empty() {
        let _ = writeln!(out, "# HELP {family_name} {}", escape(family.help()));
    }
    for metric in family.get_metric() {
        let labels = metric.get_label();
        match family.get_field_type() {
            MetricType::COUNTER => {
                let value = metric.get_counter().get_value();
                sample(out, family_name, "_total", labels, value);
            }
            MetricType::HISTOGRAM => write_histogram(out, name, metric),
            _ => sample(out, name, "", labels, metric.get_gauge().get_value()),
        }
    }
}

fn write_histogram(out: &mut String, name: &str, metric: &Metric) {
    let labels = metric.get_label();
    let histogram = metric.get_histogram();
    let series = {
        let pairs: Vec<(&str, &str)> = labels
            .iter()
            .map(|pair| (pair.name(), pair.value()))
            .collect();
        exemplars::exposed_series(name, &pairs)
    };
    let mut saw_infinity = false;
    for bucket in histogram.get_bucket() {
        let bound = bucket.upper_bound();
        saw_infinity |= bound == f64::INFINITY;
        let exemplar = series.as_ref().and_then(|series| series.for_bucket(bound));
        bucket_line(
            out,
            name,
            labels,
            bound,
            bucket.cumulative_count(),
            exemplar,
        );
    }
    // OpenMetrics requires the +Inf bucket; the classic format leaves it implicit.
    if !saw_infinity {
        let exemplar = series
            .as_ref()
            .and_then(|series| series.for_bucket(f64::INFINITY));
        let total = histogram.get_sample_count();
        bucket_line(out, name, labels, f64::INFINITY, total, exemplar);
    }
    sample(out, name, "_sum", labels, histogram.get_sample_sum());
    count(out, name, labels, histogram.get_sample_count());
}

fn bucket_line(
    out: &mut String,
    name: &str,
    labels: &[LabelPair],
    bound: f64,
    cumulative: u64,
    exemplar: Option<Exemplar>,
) {
    series_name(out, name, "_bucket", labels, Some(("le", float(bound))));
    let _ = write!(out, " {cumulative}");
    if let Some(exemplar) = exemplar {
        let _ = write!(
            out,
            " # {{trace_id=\"{}\",span_id=\"{}\"}} {} {}",
            exemplar.trace_id,
            exemplar.span_id,
            float(exemplar.value),
            timestamp(exemplar.unix_seconds),
        );
    }
    out.push('\n');
}

fn count(out: &mut String, name: &str, labels: &[LabelPair], count: u64) {
    series_name(out, name, "_count", labels, None);
    let _ = writeln!(out, " {count}");
}

fn sample(out: &mut String, name: &str, suffix: &str, labels: &[LabelPair], value: f64) {
    series_name(out, name, suffix, labels, None);
    let _ = writeln!(out, " {}", float(value));
}

fn series_name(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &[LabelPair],
    extra: Option<(&str, String)>,
) {
    out.push_str(name);
    out.push_str(suffix);
    if labels.is_empty() && extra.is_none() {
        return;
    }
    out.push('{');
    let pairs = labels
        .iter()
        .map(|pair| (pair.name(), pair.value()))
        .chain(extra.as_ref().map(|(name, value)| (*name, value.as_str())));
    for (index, (label, value)) in pairs.enumerate() {
        if index > 0 {
            out.push(',');
        }
        let _ = write!(out, "{label}=\"{}\"", escape(value));
    }
    out.push('}');
}

/// A float as OpenMetrics spells it: `+Inf`, `-Inf`, `NaN`; finite values in Rust's
/// shortest round-trip form, which keeps a `.0` on integral values (the canonical form of
/// `le` and `quantile` values) and uses an exponent for very large or small ones.
fn float(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value == f64::INFINITY {
        "+Inf".to_owned()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{value:?}")
    }
}

/// Seconds since the epoch with millisecond precision (what Prometheus keeps).
fn timestamp(unix_seconds: f64) -> String {
    format!("{unix_seconds:.3}")
}

/// Escapes a label value or help text: backslash, double quote and line feed.
fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(['\\', '"', '\n']) {
        return text.into();
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            other => escaped.push(other),
        }
    }
    escaped.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_spelled_as_openmetrics_wants() {
        assert_eq!(float(1.0), "1.0");
        assert_eq!(float(0.005), "0.005");
        assert_eq!(float(f64::INFINITY), "+Inf");
        assert_eq!(float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(float(f64::NAN), "NaN");
        assert_eq!(float(1e300), "1e300");
        assert_eq!(float(2.5e-7), "2.5e-7");
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
