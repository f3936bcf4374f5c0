//! [`GenAiCall`]: one generative call from start to end. `#[instrument_genai]` expands to
//! it; code that cannot take the attribute uses it directly. It opens the span, times the
//! call and its chunks, and at the end records duration, tokens, cost and finish reason.

use std::sync::Arc;

use opentelemetry::metrics::BoundHistogram;
use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Array, Context, ContextGuard, KeyValue, StringValue, Value};

use super::instruments::{self, Instruments};
use super::names::{attr, event, value};
use super::settings::{self, GenAiSettings};
use super::usage::{GenAiChunk, GenAiResponse, PromptContent, TokenUsage};

/// Which side of a generative call the instrumented code is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Calls a provider (span kind CLIENT, `gen_ai.client.*` metrics).
    Client,
    /// Generates in-process (span kind INTERNAL, as the conventions allow for a model in
    /// the same process; `gen_ai.server.*` metrics).
    Server,
}

/// Finish reasons recorded as themselves on the finish-reason counter; any other is
/// `_OTHER` (a provider's free text must not grow series).
const KNOWN_FINISH_REASONS: &[&str] = &[
    "stop",
    "length",
    "content_filter",
    "tool_calls",
    "function_call",
    "error",
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
];

/// One generative call. Finish it with [`finish_response`](Self::finish_response),
/// [`finish_error`](Self::finish_error) or by streaming it to its end
/// ([`GenAiCall::stream`]); dropped unfinished it records a cancelled call (`panic` while
/// panicking).
#[must_use = "finish the call; dropped, it counts as cancelled"]
pub struct GenAiCall {
    side: Side,
    operation: &'static str,
    provider: &'static str,
    request_model: Value,
    instruments: Arc<Instruments>,
    settings: Arc<GenAiSettings>,
    started: quanta::Instant,
    streamed: bool,
    first_chunk: Option<quanta::Instant>,
    previous_chunk: quanta::Instant,
    /// Bound at the first chunk: later chunks record without building attributes.
    chunk_timing: Option<BoundHistogram<f64>>,
    counted_output_tokens: u64,
    reported_usage: Option<TokenUsage>,
    response_model: Option<String>,
    finish_reason: Option<String>,
    response_id: Option<String>,
    chunk_error: Option<&'static str>,
    span: Option<Context>,
    captured_input: Option<String>,
    captured_output: Option<String>,
    finished: bool,
}

impl std::fmt::Debug for GenAiCall {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("GenAiCall")
            .field("side", &self.side)
            .field("operation", &self.operation)
            .field("provider", &self.provider)
            .field("request_model", &self.request_model)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl GenAiCall {
    /// Starts a call of `operation` (`chat`, `text_completion`, ...) to `provider`
    /// (`openai`, ...) for `request_model`, under the current context. `streamed` says
    /// whether the answer comes as a stream of chunks.
    pub fn start(
        side: Side,
        operation: &'static str,
        provider: &'static str,
        request_model: &str,
        streamed: bool,
    ) -> Self {
        let settings = settings::current();
        let request_model_value = settings::bounded_model(request_model, settings.model_cap);
        let span = start_span(side, operation, provider, request_model, streamed);
        let now = quanta::Instant::now();
        Self {
            side,
            operation,
            provider,
            request_model: request_model_value,
            instruments: instruments::current(),
            settings,
            started: now,
            streamed,
            first_chunk: None,
            previous_chunk: now,
            chunk_timing: None,
            counted_output_tokens: 0,
            reported_usage: None,
            response_model: None,
            finish_reason: None,
            response_id: None,
            chunk_error: None,
            span,
            captured_input: None,
            captured_output: None,
            finished: false,
        }
    }

    /// The call's span as a context, to run its work in (`None` when unsampled).
    pub fn context(&self) -> Option<Context> {
        self.span.clone()
    }

    /// Makes the call's span current until the guard drops.
    pub fn attach(&self) -> Option<ContextGuard> {
        self.span.clone().map(Context::attach)
    }

    /// Keeps the prompt for the content event, when content capture is on; does nothing
    /// (reads nothing) otherwise.
    pub fn capture_prompt<P: PromptContent + ?Sized>(&mut self, prompt: &P) {
        let Some(capture) = &self.settings.capture else {
            return;
        };
        if !self.recording() {
            return;
        }
        let mut messages = Vec::new();
        prompt.for_each_message(&mut |role, text| {
            messages.push(serde_json::json!({
                "role": role,
                "parts": [{"type": "text", "content": capture.prepare(text)}],
            }));
        });
        self.captured_input = Some(serde_json::Value::Array(messages).to_string());
    }

    fn recording(&self) -> bool {
        self.span
            .as_ref()
            .is_some_and(|context| context.span().is_recording())
    }

    /// Records one chunk of a streamed answer: the first one's delay, the time since the
    /// previous one, its tokens. Allocates nothing once the first chunk is in (unless
    /// content capture is on, or the chunk names a new model or finish reason).
    pub fn chunk<C: GenAiChunk + ?Sized>(&mut self, chunk: &C) {
        let now = quanta::Instant::now();
        match self.first_chunk {
            None => {
                self.first_chunk = Some(now);
                if self.side == Side::Client {
                    let attributes = self.chunk_attributes();
                    self.instruments
                        .client_time_to_first_chunk
                        .record(seconds(now - self.started), &attributes);
                    self.chunk_timing = Some(
                        self.instruments
                            .client_time_per_output_chunk
                            .bind(&attributes),
                    );
                }
            }
            Some(_) => {
                if let Some(timing) = &self.chunk_timing {
                    timing.record(seconds(now - self.previous_chunk));
                }
            }
        }
        self.previous_chunk = now;
        self.counted_output_tokens = self
            .counted_output_tokens
            .saturating_add(chunk.output_tokens());
        if let Some(usage) = chunk.usage() {
            self.reported_usage = Some(usage);
        }
        if let Some(model) = chunk.response_model() {
            remember(&mut self.response_model, model);
        }
        if let Some(reason) = chunk.finish_reason() {
            remember(&mut self.finish_reason, reason);
        }
        if self.chunk_error.is_none() {
            self.chunk_error = chunk.error_type();
        }
        if self.settings.capture.is_some()
            && let Some(text) = chunk.text()
        {
            self.captured_output
                .get_or_insert_with(String::new)
                .push_str(text);
        }
    }

    fn chunk_attributes(&self) -> [KeyValue; 3] {
        [
            KeyValue::new(attr::OPERATION_NAME, self.operation),
            KeyValue::new(attr::PROVIDER_NAME, self.provider),
            KeyValue::new(attr::REQUEST_MODEL, self.request_model.clone()),
        ]
    }

    /// Ends the call with a whole answer (or the end of a stream's last item's data).
    pub fn finish_response<R: GenAiResponse + ?Sized>(mut self, response: &R) {
        if let Some(usage) = response.usage() {
            self.reported_usage = Some(usage);
        }
        if let Some(model) = response.response_model() {
            remember(&mut self.response_model, model);
        }
        if let Some(reason) = response.finish_reason() {
            remember(&mut self.finish_reason, reason);
        }
        if let Some(id) = response.response_id() {
            self.response_id = Some(id.to_owned());
        }
        if self.settings.capture.is_some()
            && let Some(text) = response.output_text()
        {
            self.captured_output = Some(text.to_owned());
        }
        self.end(None);
    }

    /// Ends the call as failed with `error_type` (`error.type`).
    pub fn finish_error(mut self, error_type: &str) {
        self.end(Some(error_type));
    }

    /// Ends a streamed call whose stream ended (called by the stream wrapper).
    pub(crate) fn finish_stream(&mut self) {
        let error = self.chunk_error;
        self.end(error);
    }

    fn usage(&self) -> TokenUsage {
        match self.reported_usage {
            Some(usage) => usage,
            None if self.streamed => TokenUsage {
                input_tokens: None,
                output_tokens: Some(self.counted_output_tokens),
            },
            None => TokenUsage::default(),
        }
    }

    fn end(&mut self, error_type: Option<&str>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let ended = quanta::Instant::now();
        let duration = seconds(ended - self.started);
        let response_model = self
            .response_model
            .as_deref()
            .map(|model| settings::bounded_model(model, self.settings.model_cap));
        let mut attributes = Vec::with_capacity(6);
        attributes.extend([
            KeyValue::new(attr::OPERATION_NAME, self.operation),
            KeyValue::new(attr::PROVIDER_NAME, self.provider),
            KeyValue::new(attr::REQUEST_MODEL, self.request_model.clone()),
        ]);
        if let Some(model) = &response_model {
            attributes.push(KeyValue::new(attr::RESPONSE_MODEL, model.clone()));
        }
        let instruments = Arc::clone(&self.instruments);
        let with_error = |attributes: &[KeyValue]| {
            let mut all = attributes.to_vec();
            if let Some(error) = error_type {
                all.push(KeyValue::new(attr::ERROR_TYPE, error.to_owned()));
            }
            all
        };
        let usage = self.usage();
        match self.side {
            Side::Client => {
                instruments
                    .client_duration
                    .record(duration, &with_error(&attributes));
            }
            Side::Server => {
                instruments
                    .server_duration
                    .record(duration, &with_error(&attributes));
                if error_type.is_none()
                    && let Some(first) = self.first_chunk
                {
                    let to_first = seconds(first - self.started);
                    instruments
                        .server_time_to_first_token
                        .record(to_first, &attributes);
                    if let Some(output) = usage.output_tokens
                        && output > 1
                    {
                        instruments.server_time_per_output_token.record(
                            (duration - to_first).max(0.0) / (output - 1) as f64,
                            &attributes,
                        );
                    }
                }
            }
        }
        self.record_tokens(usage, &attributes, response_model.as_ref());
        if let Some(reason) = &self.finish_reason {
            let bounded = KNOWN_FINISH_REASONS
                .iter()
                .find(|known| **known == reason.as_str())
                .copied()
                .unwrap_or(value::OTHER);
            let mut with_reason = attributes.clone();
            with_reason.push(KeyValue::new(attr::FINISH_REASON, bounded));
            instruments.finish_reasons.add(1, &with_reason);
        }
        self.end_span(error_type, usage);
    }

    fn record_tokens(
        &self,
        usage: TokenUsage,
        attributes: &[KeyValue],
        response_model: Option<&Value>,
    ) {
        let histogram = match self.side {
            Side::Client => &self.instruments.client_token_usage,
            Side::Server => &self.instruments.server_token_usage,
        };
        // The model that answered is priced when listed, else the one asked for; exact
        // names only.
        let prices = &self.settings.prices;
        let priced = [response_model, Some(&self.request_model)]
            .into_iter()
            .flatten()
            .find_map(|model| prices.price(model.as_str().as_ref()));
        for (count, token_type, per_million) in [
            (
                usage.input_tokens,
                value::TOKEN_INPUT,
                priced.map(|price| price.input_per_million_usd),
            ),
            (
                usage.output_tokens,
                value::TOKEN_OUTPUT,
                priced.map(|price| price.output_per_million_usd),
            ),
        ] {
            let Some(count) = count else { continue };
            let mut with_type = attributes.to_vec();
            with_type.push(KeyValue::new(attr::TOKEN_TYPE, token_type));
            histogram.record(count, &with_type);
            match per_million {
                Some(per_million) => self
                    .instruments
                    .cost
                    .add(count as f64 * per_million / 1e6, &with_type),
                None => self.instruments.unpriced_tokens.add(count, &with_type),
            }
        }
    }

    fn end_span(&mut self, error_type: Option<&str>, usage: TokenUsage) {
        let Some(context) = self.span.take() else {
            return;
        };
        let span = context.span();
        if span.is_recording() {
            let mut ending = Vec::with_capacity(8);
            if let Some(model) = &self.response_model {
                ending.push(KeyValue::new(attr::RESPONSE_MODEL, model.clone()));
            }
            if let Some(id) = &self.response_id {
                ending.push(KeyValue::new(attr::RESPONSE_ID, id.clone()));
            }
            if let Some(reason) = &self.finish_reason {
                ending.push(KeyValue::new(
                    attr::RESPONSE_FINISH_REASONS,
                    Value::Array(Array::String(vec![StringValue::from(reason.clone())])),
                ));
            }
            if let Some(input) = usage.input_tokens {
                ending.push(KeyValue::new(
                    attr::USAGE_INPUT_TOKENS,
                    saturating_i64(input),
                ));
            }
            if let Some(output) = usage.output_tokens {
                ending.push(KeyValue::new(
                    attr::USAGE_OUTPUT_TOKENS,
                    saturating_i64(output),
                ));
            }
            if let Some(first) = self.first_chunk {
                ending.push(KeyValue::new(
                    attr::RESPONSE_TIME_TO_FIRST_CHUNK,
                    seconds(first - self.started),
                ));
            }
            if let Some(error) = error_type {
                ending.push(KeyValue::new(attr::ERROR_TYPE, error.to_owned()));
                span.set_status(Status::error(error.to_owned()));
            }
            span.set_attributes(ending);
            if self.settings.capture.is_some() {
                let mut details = Vec::with_capacity(2);
                if let Some(input) = self.captured_input.take() {
                    details.push(KeyValue::new(attr::INPUT_MESSAGES, input));
                }
                if let (Some(output), Some(capture)) =
                    (self.captured_output.take(), &self.settings.capture)
                {
                    let message = serde_json::json!([{
                        "role": "assistant",
                        "parts": [{"type": "text", "content": capture.prepare(&output)}],
                        "finish_reason": self.finish_reason.as_deref().unwrap_or(""),
                    }]);
                    details.push(KeyValue::new(attr::OUTPUT_MESSAGES, message.to_string()));
                }
                if !details.is_empty() {
                    span.add_event(event::OPERATION_DETAILS, details);
                }
            }
        }
        span.end();
    }
}

impl Drop for GenAiCall {
    fn drop(&mut self) {
        if !self.finished {
            let kind = if std::thread::panicking() {
                value::PANIC
            } else {
                value::CANCELLED
            };
            self.end(Some(kind));
        }
    }
}

fn start_span(
    side: Side,
    operation: &'static str,
    provider: &'static str,
    request_model: &str,
    streamed: bool,
) -> Option<Context> {
    let parent = Context::current();
    // Decided before building anything (the name, the attributes, the SDK's span): an
    // unsampled call then costs a load and a comparison here.
    if crate::spans::global_drops_child_of(&parent) {
        return None;
    }
    let tracer = opentelemetry::global::tracer_provider().tracer_with_scope(instruments::scope());
    let span = tracer
        .span_builder(format!("{operation} {request_model}"))
        .with_kind(match side {
            Side::Client => SpanKind::Client,
            Side::Server => SpanKind::Internal,
        })
        .with_attributes([
            KeyValue::new(attr::OPERATION_NAME, operation),
            KeyValue::new(attr::PROVIDER_NAME, provider),
            KeyValue::new(attr::REQUEST_MODEL, request_model.to_owned()),
            KeyValue::new(attr::REQUEST_STREAM, streamed),
        ])
        .start_with_context(&tracer, &parent);
    if !span.span_context().is_sampled() && !span.is_recording() {
        return None;
    }
    Some(parent.with_span(span))
}

fn remember(slot: &mut Option<String>, value: &str) {
    if slot.as_deref() != Some(value) {
        *slot = Some(value.to_owned());
    }
}

fn seconds(duration: std::time::Duration) -> f64 {
    duration.as_secs_f64()
}

fn saturating_i64(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}
