//! The span of a sub-step (`#[instrument_ml(stage = "...")]`): a child span with no
//! metrics. Not a public API (`mlotel::__private`).

use std::fmt::Debug;

use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, ContextGuard, KeyValue};

use crate::call_site::SiteModel;
use crate::model::state::ModelState;
use crate::names::{attr, outcome};
use crate::spans;

/// The span of a sub-step; ends with the step's error type, a panic or a cancellation.
#[derive(Debug)]
#[must_use]
pub struct StageGuard {
    span: Option<Context>,
    finished: bool,
}

/// Starts a span under the current context, unless the sampler would drop it: with the
/// model's attributes when the stage names a model.
fn start_span(model: Option<&'static ModelState>, span_name: &'static str) -> Option<Context> {
    let dropped = Context::map_current(|parent| match model {
        Some(model) => model.drops_child_of(parent),
        None => spans::installed_policy().drops_child_of(parent),
    });
    if dropped {
        return None;
    }
    let parent = Context::current();
    match model {
        Some(model) => model.start_span(span_name, &parent),
        None => spans::with_installed(|tracing| tracing.start_span(span_name, &parent, [])),
    }
}

impl StageGuard {
    #[allow(missing_docs)]
    pub fn start(model: Option<SiteModel>, span_name: &'static str, stage: &'static str) -> Self {
        let span = start_span(model.map(SiteModel::state), span_name);
        if let Some(span) = &span {
            span.span().set_attribute(KeyValue::new(attr::STAGE, stage));
        }
        Self {
            span,
            finished: false,
        }
    }

    #[allow(missing_docs)]
    pub fn attach(&self) -> Option<ContextGuard> {
        self.span.clone().map(Context::attach)
    }

    #[allow(missing_docs)]
    pub fn context(&self) -> Option<Context> {
        self.span.clone()
    }

    /// Records an argument on the span (`record = [..]`), only when the span is sampled.
    pub fn record_arg(&self, key: &'static str, value: &dyn Debug) {
        spans::record_arg(self.span.as_ref(), key, value);
    }

    #[allow(missing_docs)]
    pub fn finish(mut self, error_type: Option<&'static str>) {
        self.finished = true;
        self.end(error_type);
    }

    fn end(&self, error_type: Option<&'static str>) {
        if let Some(span) = &self.span {
            spans::end_stage_span(span, error_type);
        }
    }
}

impl Drop for StageGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.end(Some(if std::thread::panicking() {
                outcome::PANIC
            } else {
                outcome::CANCELLED
            }));
        }
    }
}
