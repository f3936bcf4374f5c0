//! Prediction spans: when one is worth starting (the [`SpanPolicy`] decided from the
//! sampler and the parent), the installed tracer read through a per-thread cache, and how a
//! span ends with the outcome of its call.

use std::cell::RefCell;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::SdkTracer;

use crate::names::attr;
use crate::output::valid_confidence;

/// What deciding on and starting a span needs.
#[derive(Debug)]
pub(crate) struct TracingState {
    pub(crate) tracer: SdkTracer,
    pub(crate) policy: SpanPolicy,
}

/// When a span would be dropped by the sampler anyway, decided from the sampler's kind and
/// the parent alone, so an unsampled call builds nothing (the SDK builds a non-recording
/// span and its attribute list first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpanPolicy {
    /// No span is ever exported: no span processor, or the `always_off` sampler.
    Never,
    /// A parent-based sampler whose root decision may keep a span: a child of an
    /// unsampled parent is dropped.
    FollowParent,
    /// `parentbased_always_off`: only children of sampled parents are kept.
    OnlySampledParent,
    /// The SDK's sampler decides (`always_on`, `traceidratio`).
    Sdk,
}

impl SpanPolicy {
    pub(crate) fn drops_child_of(self, parent: &Context) -> bool {
        let parent_sampled = || {
            let span = parent.span();
            let context = span.span_context();
            context.is_valid().then_some(context.is_sampled())
        };
        match self {
            Self::Never => true,
            Self::Sdk => false,
            Self::FollowParent => parent_sampled() == Some(false),
            Self::OnlySampledParent => parent_sampled() != Some(true),
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            Self::Never => 0,
            Self::FollowParent => 1,
            Self::OnlySampledParent => 2,
            Self::Sdk => 3,
        }
    }

    fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::FollowParent,
            2 => Self::OnlySampledParent,
            3 => Self::Sdk,
            _ => Self::Never,
        }
    }
}

/// Attributes a prediction span can carry: the model's two, then up to five at its end.
const SPAN_ATTRIBUTES: usize = 7;

impl TracingState {
    /// Starts a span under `parent` with `attributes`, unless the sampler would drop it.
    pub(crate) fn start_span(
        &self,
        span_name: &'static str,
        parent: &Context,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) -> Option<Context> {
        if self.policy.drops_child_of(parent) {
            return None;
        }
        // Room for the attributes set when the span ends, so they do not grow the list.
        let mut all_attributes = Vec::with_capacity(SPAN_ATTRIBUTES);
        all_attributes.extend(attributes);
        let span = self
            .tracer
            .span_builder(span_name)
            .with_kind(SpanKind::Internal)
            .with_attributes(all_attributes)
            .start_with_context(&self.tracer, parent);
        Some(parent.with_span(span))
    }
}

/// Sets the attributes and status that describe how the call ended, then ends the span.
/// Takes the label as a ready attribute value so a declared label is shared, not copied.
pub(crate) fn end_prediction_span(
    context: &Context,
    rows: u64,
    outcome: &'static str,
    label: Option<Value>,
    confidence: Option<f64>,
    error_type: Option<&'static str>,
) {
    let span = context.span();
    if span.is_recording() {
        let ending = [
            Some(KeyValue::new(attr::PREDICTION_OUTCOME, outcome)),
            Some(KeyValue::new(
                attr::PREDICTION_BATCH_SIZE,
                i64::try_from(rows).unwrap_or(i64::MAX),
            )),
            label.map(|label| KeyValue::new(attr::PREDICTION_LABEL, label)),
            valid_confidence(confidence)
                .map(|confidence| KeyValue::new(attr::PREDICTION_CONFIDENCE, confidence)),
            error_type.map(|error_type| KeyValue::new(attr::ERROR_TYPE, error_type)),
        ];
        if let Some(error_type) = error_type {
            span.set_status(Status::error(error_type));
        }
        span.set_attributes(ending.into_iter().flatten());
    }
    span.end();
}

/// Ends a sub-step's span, with `error_type` as its status when it failed.
pub(crate) fn end_stage_span(context: &Context, error_type: Option<&'static str>) {
    let span = context.span();
    if let Some(error_type) = error_type {
        span.set_attribute(KeyValue::new(attr::ERROR_TYPE, error_type));
        span.set_status(Status::error(error_type));
    }
    span.end();
}

const MAX_RECORDED_ARG: usize = 256;

/// Records an argument on the span (`record = [..]`), only when the span is sampled.
pub(crate) fn record_arg(span: Option<&Context>, key: &'static str, value: &dyn Debug) {
    if let Some(span) = span {
        let span = span.span();
        if span.is_recording() {
            let mut text = format!("{value:?}");
            truncate(&mut text, MAX_RECORDED_ARG);
            span.set_attribute(KeyValue::new(key, text));
        }
    }
}

fn truncate(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
}

// The installed telemetry's tracing state: what models without a tracer of their own (those
// registered for `#[instrument_ml]`) start their spans with.
static TRACING: RwLock<Option<Arc<TracingState>>> = RwLock::new(None);
/// The installed telemetry's [`SpanPolicy`], readable without the per-thread cache.
static SPAN_POLICY: AtomicU8 = AtomicU8::new(0);
/// Bumped by each installation, so threads know to refresh their cached tracing state.
static GENERATION: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static CACHED_TRACING: RefCell<(u64, Option<Arc<TracingState>>)> =
        const { RefCell::new((0, None)) };
}

fn read_tracing() -> Option<Arc<TracingState>> {
    TRACING
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

/// Makes `tracing` the state every installed-telemetry span starts from.
pub(crate) fn install(tracing: Arc<TracingState>) {
    SPAN_POLICY.store(tracing.policy.to_u8(), Ordering::Release);
    *TRACING
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(tracing);
    GENERATION.fetch_add(1, Ordering::Release);
}

/// The installed telemetry's policy ([`SpanPolicy::Never`] before any installation).
pub(crate) fn installed_policy() -> SpanPolicy {
    SpanPolicy::from_u8(SPAN_POLICY.load(Ordering::Acquire))
}

/// Whether a span started from the global tracer provider under `parent` would be dropped:
/// the installed telemetry's policy, which is the global provider's since installing sets
/// both; `false` (ask the SDK) before any installation, when the global provider may be
/// someone else's.
pub(crate) fn global_drops_child_of(parent: &Context) -> bool {
    GENERATION.load(Ordering::Acquire) > 1 && installed_policy().drops_child_of(parent)
}

/// Runs `use_it` with the installed tracing state, read from a per-thread copy so the hot
/// path touches no shared lock or reference count. `None` before any installation.
pub(crate) fn with_installed<R>(use_it: impl FnOnce(&TracingState) -> Option<R>) -> Option<R> {
    let generation = GENERATION.load(Ordering::Acquire);
    let mut use_it = Some(use_it);
    let from_cache = CACHED_TRACING.try_with(|cached| {
        let stale = cached.borrow().0 != generation;
        if let (true, Ok(mut cached)) = (stale, cached.try_borrow_mut()) {
            *cached = (generation, read_tracing());
        }
        let cached = cached.borrow();
        let tracing = cached.1.as_deref()?;
        use_it.take().and_then(|use_it| use_it(tracing))
    });
    match (from_cache, use_it) {
        (Ok(output), _) => output,
        // The thread is exiting and its cache is gone: read the shared state instead.
        (Err(_), Some(use_it)) => use_it(read_tracing().as_deref()?),
        (Err(_), None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_arguments_are_cut_at_a_char_boundary() {
        let mut text = "é".repeat(200);
        truncate(&mut text, 5);
        assert_eq!(text, "éé…");
    }
}
