//! Exemplars: per histogram bucket, the latest sampled measurement with its trace and span
//! id, so a point on a latency or confidence panel opens the trace behind it.
//!
//! Only sampled calls offer one (a trace exists to link to); the unsampled hot path never
//! reaches this module. Each bucket keeps its latest exemplar, as the OpenTelemetry
//! specification's `AlignedHistogramBucketExemplarReservoir` and Prometheus' Go client do:
//! a scrape every 15 s then shows the freshest trace per bucket, while a rare slow bucket
//! keeps its exemplar until a newer one arrives (a reservoir would replace it at random
//! and cost a random draw per sampled call for no gain a scraper can see).
//!
//! The OpenTelemetry Rust SDK cannot carry these on its own data points (they are built
//! inside the SDK with an empty exemplar list and reach exporters read-only), so the
//! exemplars live here, keyed by the series they belong to, and the OpenMetrics exposition
//! ([`PrometheusHandle::render_openmetrics`](crate::PrometheusHandle::render_openmetrics))
//! joins them to the SDK's buckets by metric name and labels.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanContext, SpanId, TraceId};

use crate::names::InstrumentSpec;

/// One sampled measurement and the span it was taken in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exemplar {
    /// The measured value (seconds, a confidence...).
    pub value: f64,
    /// The trace the measurement belongs to.
    pub trace_id: TraceId,
    /// The span that took it.
    pub span_id: SpanId,
    /// When, in seconds since the Unix epoch.
    pub unix_seconds: f64,
}

/// The exemplars of one histogram series (one metric, one set of attributes): per bucket,
/// the latest one. Get it with [`histogram_exemplars`]; offering is for sampled spans only.
#[derive(Debug)]
pub struct ExemplarSeries {
    bounds: &'static [f64],
    latest: Mutex<Box<[Option<Exemplar>]>>,
}

impl ExemplarSeries {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            latest: Mutex::new(vec![None; bounds.len() + 1].into_boxed_slice()),
        }
    }

    /// Keeps `value` as its bucket's exemplar if `context` is sampled and `value` finite
    /// (non-finite values are not recorded by histograms either).
    pub fn offer(&self, value: f64, context: &SpanContext) {
        // Checked before reading the clock: most callers are not sampled.
        if context.is_sampled() && value.is_finite() {
            self.offer_at(value, context, unix_now());
        }
    }

    /// [`offer`](Self::offer) with the time already read (one reading for a call's
    /// several exemplars).
    pub(crate) fn offer_at(&self, value: f64, context: &SpanContext, unix_seconds: f64) {
        if !context.is_sampled() || !value.is_finite() {
            return;
        }
        // The SDK's rule: bucket `i` holds values above `bounds[i - 1]` up to `bounds[i]`.
        let bucket = self.bounds.partition_point(|&bound| bound < value);
        if let Some(slot) = lock(&self.latest).get_mut(bucket) {
            *slot = Some(Exemplar {
                value,
                trace_id: context.trace_id(),
                span_id: context.span_id(),
                unix_seconds,
            });
        }
    }

    /// The exemplar of the bucket whose upper bound is `upper_bound` (`f64::INFINITY` for
    /// the last), if one was offered.
    pub fn for_bucket(&self, upper_bound: f64) -> Option<Exemplar> {
        let bucket = if upper_bound == f64::INFINITY {
            self.bounds.len()
        } else {
            self.bounds.iter().position(|&bound| bound == upper_bound)?
        };
        lock(&self.latest).get(bucket).copied().flatten()
    }
}

/// Seconds since the Unix epoch, now.
pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

/// A series as the Prometheus exposition names it: metric family and sorted labels.
type SeriesKey = (String, Vec<(String, String)>);

static BOARD: LazyLock<Mutex<HashMap<SeriesKey, Arc<ExemplarSeries>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The exemplars of the series of histogram `spec` with `attributes` (the same attributes
/// the histogram records with), shared by every caller that asks for the same series.
/// Ask once per series, not per measurement: it takes a process-wide lock.
pub fn histogram_exemplars(spec: &InstrumentSpec, attributes: &[KeyValue]) -> Arc<ExemplarSeries> {
    let labels = attributes
        .iter()
        .map(|pair| {
            (
                sanitize(pair.key.as_str()),
                pair.value.as_str().into_owned(),
            )
        })
        .collect();
    let key = (prometheus_family_name(spec), sorted(labels));
    lock(&BOARD)
        .entry(key)
        .or_insert_with(|| Arc::new(ExemplarSeries::new(spec.buckets)))
        .clone()
}

/// The exemplars of the exposed series `family` with `labels` (the exporter's
/// `otel_scope_*` labels are ignored: exemplars are kept per instrument attributes).
#[cfg(feature = "prometheus")]
pub(crate) fn exposed_series(family: &str, labels: &[(&str, &str)]) -> Option<Arc<ExemplarSeries>> {
    let board = lock(&BOARD);
    if board.is_empty() {
        return None;
    }
    let labels = labels
        .iter()
        .filter(|(name, _)| !name.starts_with("otel_scope_"))
        .map(|&(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    board.get(&(family.to_owned(), sorted(labels))).cloned()
}

fn sorted(mut labels: Vec<(String, String)>) -> Vec<(String, String)> {
    labels.sort_unstable();
    labels
}

/// The family name `opentelemetry-prometheus` gives a histogram: the name with every
/// character outside `[a-zA-Z0-9:]` replaced by `_`, then the unit's suffix.
fn prometheus_family_name(spec: &InstrumentSpec) -> String {
    let mut name = sanitize(spec.name);
    let suffix = match spec.unit {
        "s" => "seconds",
        "ms" => "milliseconds",
        "1" => "ratio",
        "By" => "bytes",
        _ => "",
    };
    if !suffix.is_empty() && !name.ends_with(suffix) {
        name.push('_');
        name.push_str(suffix);
    }
    name
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{TraceFlags, TraceState};

    use super::*;
    use crate::names;

    fn context(flags: TraceFlags) -> SpanContext {
        SpanContext::new(
            TraceId::from(0x1234_u128),
            SpanId::from(0x56_u64),
            flags,
            true,
            TraceState::default(),
        )
    }

    #[test]
    fn each_bucket_keeps_its_latest_sampled_value() {
        let series = ExemplarSeries::new(&[0.1, 1.0]);
        series.offer(0.05, &context(TraceFlags::SAMPLED));
        series.offer(0.1, &context(TraceFlags::SAMPLED));
        series.offer(0.5, &context(TraceFlags::default()));
        series.offer(f64::NAN, &context(TraceFlags::SAMPLED));
        series.offer(7.0, &context(TraceFlags::SAMPLED));
        assert_eq!(
            series.for_bucket(0.1).map(|e| e.value),
            Some(0.1),
            "0.1 is in the bucket up to 0.1 and replaces 0.05"
        );
        assert_eq!(
            series.for_bucket(1.0),
            None,
            "the unsampled 0.5 is not kept"
        );
        assert_eq!(series.for_bucket(f64::INFINITY).map(|e| e.value), Some(7.0));
        assert_eq!(series.for_bucket(0.5), None, "no bucket ends at 0.5");
        let kept = series.for_bucket(0.1).expect("kept");
        assert_eq!(kept.trace_id, TraceId::from(0x1234_u128));
        assert_eq!(kept.span_id, SpanId::from(0x56_u64));
    }

    #[test]
    #[cfg(feature = "prometheus")]
    fn series_are_found_by_exposed_name_and_labels_whatever_their_order() {
        let attributes = [
            KeyValue::new("ml.model.name", "exemplar-unit"),
            KeyValue::new("ml.model.version", "3"),
        ];
        let recorded = histogram_exemplars(&names::PREDICTION_DURATION, &attributes);
        let exposed = exposed_series(
            "ml_prediction_duration_seconds",
            &[
                ("otel_scope_name", "mlotel"),
                ("ml_model_version", "3"),
                ("ml_model_name", "exemplar-unit"),
            ],
        )
        .expect("found");
        assert!(Arc::ptr_eq(&recorded, &exposed));
        assert!(exposed_series("ml_prediction_duration_seconds", &[]).is_none());
        assert_eq!(
            prometheus_family_name(&names::PREDICTION_CONFIDENCE),
            "ml_prediction_confidence_ratio"
        );
    }
}
