//! The `chat` scenario: an OpenAI-compatible client of the predictor's
//! `POST /v1/chat/completions`, every other request streamed (server-sent events, with
//! `stream_options.include_usage`), the others answered whole. Each call is instrumented
//! with `#[instrument_genai(side = client)]`: when loadgen has telemetry (`--otlp-endpoint`)
//! it exports the client side of the GenAI conventions (operation duration, token usage,
//! time to first chunk, time per output chunk) and the cost from its price table.
//!
//! The HTTP client is blocking (one thread per worker), so the streamed answer is a
//! `Stream` whose every poll blocks until the next event is in and is never `Pending`; it is
//! drained with a no-op waker, no executor needed.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures_core::Stream;
use mlotel::ErrorType;
use mlotel::genai::{GenAiChunk, GenAiResponse, PriceTable, TokenUsage};
use mlotel::instrument_genai;
use mlotel_testkit::SplitMix64;
use serde_json::json;

use crate::http::{Answer, Client, EventStream, Target};
use crate::{Config, Summary, percentile};

/// The model the demo predictor serves (`--chat-model` default).
pub const DEFAULT_MODEL: &str = "mlotel-wonderland";
/// The demo model's notional price, US dollars per million input and output tokens, the
/// same as the predictor's: loadgen's client-side cost then matches the server's.
pub const DEFAULT_INPUT_PRICE: f64 = 0.5;
/// See [`DEFAULT_INPUT_PRICE`].
pub const DEFAULT_OUTPUT_PRICE: f64 = 1.5;
const PATH: &str = "/v1/chat/completions";

/// Prompts, drawn per request.
const PROMPTS: [&str; 6] = [
    "Tell me about the white rabbit.",
    "What did the caterpillar say to Alice?",
    "Describe the mad tea party.",
    "Who is the queen of hearts?",
    "Why was Alice growing and shrinking?",
    "What happened at the croquet ground?",
];
/// `max_tokens`, drawn per request: the small ones end with `length`, the others mostly
/// with `stop`, so that the finish reasons have more than one value.
const MAX_TOKENS: [u32; 4] = [6, 16, 32, 48];
const SYSTEM: &str = "You answer in one or two sentences.";

/// The price table loadgen prices its calls with: the demo model's notional price, or the
/// file given (`--chat-prices`, the format of docs/genai.md).
pub fn prices(file: Option<&std::path::Path>) -> Result<PriceTable, crate::Error> {
    match file {
        Some(path) => PriceTable::from_json_file(path)
            .map_err(|error| crate::Error::Usage(format!("--chat-prices: {error}"))),
        None => PriceTable::new()
            .with(DEFAULT_MODEL, DEFAULT_INPUT_PRICE, DEFAULT_OUTPUT_PRICE)
            .map_err(|error| crate::Error::Usage(error.to_string())),
    }
}

/// What the `chat` scenario saw, beside the counts of [`Summary`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatSummary {
    /// Answers read as server-sent events.
    pub streamed: u64,
    /// Answers read whole.
    pub whole: u64,
    /// Input tokens, as the answers' `usage` reported them.
    pub input_tokens: u64,
    /// Output tokens, as the answers' `usage` reported them.
    pub output_tokens: u64,
    /// Answers by their finish reason.
    pub finish_reasons: BTreeMap<String, u64>,
    /// Streamed answers: median time to the first chunk with content, milliseconds.
    pub time_to_first_token_p50_ms: f64,
    /// Streamed answers: 95th percentile of the same.
    pub time_to_first_token_p95_ms: f64,
}

impl fmt::Display for ChatSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "answers           {} streamed, {} whole",
            self.streamed, self.whole
        )?;
        writeln!(
            f,
            "tokens            {} in, {} out",
            self.input_tokens, self.output_tokens
        )?;
        for (reason, count) in &self.finish_reasons {
            writeln!(f, "  finish {reason:<16} {count}")?;
        }
        writeln!(
            f,
            "first token       p50 {:.2} ms, p95 {:.2} ms (streamed)",
            self.time_to_first_token_p50_ms, self.time_to_first_token_p95_ms
        )
    }
}

/// Why a chat call failed; its `error.type` is the HTTP status or what went wrong.
#[derive(Debug)]
pub enum ChatError {
    /// No HTTP answer.
    Transport(io::Error),
    /// An answer other than 2xx, with the `error.type` of its body.
    Status {
        /// The HTTP status.
        status: u16,
        /// `error.code` or `error.type` of the body, `http_NNN` when it has none.
        kind: String,
    },
    /// A 2xx answer that is not a chat completion.
    Protocol(String),
}

impl fmt::Display for ChatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChatError::Transport(error) => write!(f, "no answer: {error}"),
            ChatError::Status { status, kind } => write!(f, "{status} {kind}"),
            ChatError::Protocol(problem) => write!(f, "not a chat completion: {problem}"),
        }
    }
}

impl std::error::Error for ChatError {}

impl ErrorType for ChatError {
    fn error_type(&self) -> &'static str {
        // The HTTP status code, as the conventions suggest for HTTP failures; a small fixed
        // set, so that the attribute stays bounded.
        match self {
            ChatError::Transport(_) => "transport",
            ChatError::Protocol(_) => "protocol",
            ChatError::Status { status, .. } => match status {
                400 => "400",
                404 => "404",
                408 => "408",
                413 => "413",
                415 => "415",
                422 => "422",
                429 => "429",
                500 => "500",
                502 => "502",
                503 => "503",
                504 => "504",
                _ => "_OTHER",
            },
        }
    }
}

/// A whole answer.
#[derive(Debug, Clone)]
pub struct Completion {
    id: Option<String>,
    model: Option<String>,
    finish_reason: Option<String>,
    text: String,
    usage: Option<TokenUsage>,
}

impl GenAiResponse for Completion {
    fn usage(&self) -> Option<TokenUsage> {
        self.usage
    }
    fn response_model(&self) -> Option<&str> {
        self.model.as_deref()
    }
    fn finish_reason(&self) -> Option<&str> {
        self.finish_reason.as_deref()
    }
    fn response_id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    fn output_text(&self) -> Option<&str> {
        Some(&self.text)
    }
}

/// One event of a streamed answer (the role-only opening event is not one).
#[derive(Debug, Clone, Default)]
pub struct ChatChunk {
    text: String,
    model: Option<String>,
    finish_reason: Option<String>,
    usage: Option<TokenUsage>,
}

impl GenAiChunk for ChatChunk {
    fn output_tokens(&self) -> u64 {
        // The predictor sends one token per content event; the finish and usage events
        // carry none.
        u64::from(!self.text.is_empty())
    }
    fn usage(&self) -> Option<TokenUsage> {
        self.usage
    }
    fn response_model(&self) -> Option<&str> {
        self.model.as_deref()
    }
    fn finish_reason(&self) -> Option<&str> {
        self.finish_reason.as_deref()
    }
    fn text(&self) -> Option<&str> {
        Some(&self.text)
    }
}

fn request_body(model: &str, messages: &[(&str, &str)], max_tokens: u32, stream: bool) -> Vec<u8> {
    let messages: Vec<serde_json::Value> = messages
        .iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect();
    let mut body = json!({"model": model, "messages": messages, "max_tokens": max_tokens});
    if stream {
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
    }
    body.to_string().into_bytes()
}

fn status_error(status: u16, body: &[u8]) -> ChatError {
    let value = serde_json::from_slice::<serde_json::Value>(body).unwrap_or_default();
    let kind = ["code", "type"]
        .iter()
        .find_map(|key| value["error"][key].as_str())
        .map_or_else(|| format!("http_{status}"), str::to_owned);
    ChatError::Status { status, kind }
}

fn usage_of(value: &serde_json::Value) -> Option<TokenUsage> {
    let usage = value.get("usage").filter(|usage| usage.is_object())?;
    Some(TokenUsage {
        input_tokens: usage["prompt_tokens"].as_u64(),
        output_tokens: usage["completion_tokens"].as_u64(),
    })
}

fn string_at(value: &serde_json::Value, key: &str) -> Option<String> {
    value[key].as_str().map(str::to_owned)
}

const JSON: (&str, &str) = ("Content-Type", "application/json");

/// One chat completion answered whole.
#[instrument_genai(side = client, provider = "mlotel", model = model, prompt = messages)]
pub(crate) fn complete(
    client: &mut Client,
    model: &str,
    messages: &[(&str, &str)],
    max_tokens: u32,
) -> Result<Completion, ChatError> {
    let body = request_body(model, messages, max_tokens, false);
    let response = client
        .request("POST", PATH, &[JSON], &body)
        .map_err(ChatError::Transport)?;
    if !(200..300).contains(&response.status) {
        return Err(status_error(response.status, &response.body));
    }
    let value: serde_json::Value = serde_json::from_slice(&response.body)
        .map_err(|error| ChatError::Protocol(error.to_string()))?;
    let choice = &value["choices"][0];
    let text = choice["message"]["content"]
        .as_str()
        .ok_or_else(|| ChatError::Protocol("no choices[0].message.content".to_owned()))?;
    Ok(Completion {
        id: string_at(&value, "id"),
        model: string_at(&value, "model"),
        finish_reason: string_at(choice, "finish_reason"),
        text: text.to_owned(),
        usage: usage_of(&value),
    })
}

/// One streamed chat completion: the request is sent and the answer's head read here; the
/// events are read as the stream is polled.
#[instrument_genai(side = client, provider = "mlotel", model = model, stream, prompt = messages)]
pub(crate) fn complete_streaming<'c>(
    client: &'c mut Client,
    model: &str,
    messages: &[(&str, &str)],
    max_tokens: u32,
) -> Result<impl Stream<Item = Result<ChatChunk, ChatError>> + use<'c>, ChatError> {
    let body = request_body(model, messages, max_tokens, true);
    match client
        .request_events("POST", PATH, &[JSON], &body)
        .map_err(ChatError::Transport)?
    {
        Answer::Events(events) => Ok(Chunks {
            events,
            ended: false,
        }),
        Answer::Whole(response) if (200..300).contains(&response.status) => Err(
            ChatError::Protocol("a 2xx answer that is not text/event-stream".to_owned()),
        ),
        Answer::Whole(response) => Err(status_error(response.status, &response.body)),
    }
}

/// The chunks of a streamed answer, read from its events; ends at `[DONE]` or the end of
/// the body, and after the first error.
struct Chunks<'c> {
    events: EventStream<'c>,
    ended: bool,
}

impl Chunks<'_> {
    /// The next chunk worth a `GenAiChunk`: events with neither content, finish reason nor
    /// usage (the opening role-only event) are skipped, so that the first chunk is the
    /// first token.
    fn next_chunk(&mut self) -> Option<Result<ChatChunk, ChatError>> {
        loop {
            let data = match self.events.next_data() {
                Ok(Some(data)) => data,
                Ok(None) => return None,
                Err(error) => return Some(Err(ChatError::Transport(error))),
            };
            if data.trim() == "[DONE]" {
                // Read to the end of the body, so that the connection is kept.
                while let Ok(Some(_)) = self.events.next_data() {}
                return None;
            }
            let value: serde_json::Value = match serde_json::from_str(&data) {
                Ok(value) => value,
                Err(error) => return Some(Err(ChatError::Protocol(error.to_string()))),
            };
            if value.get("error").is_some() {
                return Some(Err(ChatError::Protocol(format!("error event: {data}"))));
            }
            let choice = &value["choices"][0];
            let chunk = ChatChunk {
                text: choice["delta"]["content"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                model: string_at(&value, "model"),
                finish_reason: string_at(choice, "finish_reason"),
                usage: usage_of(&value),
            };
            if !chunk.text.is_empty() || chunk.finish_reason.is_some() || chunk.usage.is_some() {
                return Some(Ok(chunk));
            }
        }
    }
}

impl Stream for Chunks<'_> {
    type Item = Result<ChatChunk, ChatError>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let next = self.next_chunk();
        self.ended = !matches!(next, Some(Ok(_)));
        Poll::Ready(next)
    }
}

/// Drains a stream that is never `Pending` (its polls block), with a no-op waker.
fn drain<S: Stream>(stream: S, mut each: impl FnMut(S::Item)) {
    let mut stream = std::pin::pin!(stream);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        match stream.as_mut().poll_next(&mut context) {
            Poll::Ready(Some(item)) => each(item),
            Poll::Ready(None) => return,
            Poll::Pending => unreachable!("the chunk stream blocks instead of returning Pending"),
        }
    }
}

/// What one request is: streamed or not, its prompt and `max_tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Planned {
    stream: bool,
    prompt: &'static str,
    max_tokens: u32,
}

fn plan(seed: u64, index: u64) -> Planned {
    let mut rng = SplitMix64::for_stream(seed, index);
    Planned {
        stream: index.is_multiple_of(2),
        prompt: PROMPTS[(rng.next_u64() % PROMPTS.len() as u64) as usize],
        max_tokens: MAX_TOKENS[(rng.next_u64() % MAX_TOKENS.len() as u64) as usize],
    }
}

/// One worker's tally.
#[derive(Default)]
struct Tally {
    summary: Summary,
    chat: ChatSummary,
    latencies_us: Vec<u64>,
    first_token_us: Vec<u64>,
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

impl Tally {
    fn error(&mut self, error: &ChatError) {
        match error {
            ChatError::Transport(_) => self.summary.transport_errors += 1,
            ChatError::Status { status, kind } if (400..500).contains(status) => {
                *self.summary.client_errors.entry(kind.clone()).or_default() += 1;
            }
            ChatError::Status { .. } => self.summary.server_errors += 1,
            ChatError::Protocol(_) => {}
        }
        if !matches!(error, ChatError::Transport(_)) {
            self.summary.unexpected += 1;
            let example = format!("chat: {error}");
            let examples = &mut self.summary.unexpected_examples;
            if examples.len() < 5 && !examples.contains(&example) {
                examples.push(example);
            }
        }
    }

    fn answered(&mut self, usage: Option<TokenUsage>, finish_reason: Option<String>) {
        self.summary.ok += 1;
        if let Some(usage) = usage {
            self.chat.input_tokens += usage.input_tokens.unwrap_or(0);
            self.chat.output_tokens += usage.output_tokens.unwrap_or(0);
        }
        let reason = finish_reason.unwrap_or_else(|| "(none)".to_owned());
        *self.chat.finish_reasons.entry(reason).or_default() += 1;
    }

    fn send(&mut self, client: &mut Client, model: &str, planned: Planned) {
        self.summary.sent += 1;
        let messages = [("system", SYSTEM), ("user", planned.prompt)];
        let sent = Instant::now();
        if !planned.stream {
            let result = complete(client, model, &messages, planned.max_tokens);
            if !matches!(result, Err(ChatError::Transport(_))) {
                self.latencies_us.push(micros(sent.elapsed()));
            }
            match result {
                Ok(completion) => {
                    self.chat.whole += 1;
                    self.answered(completion.usage, completion.finish_reason);
                }
                Err(error) => self.error(&error),
            }
            return;
        }
        let chunks = match complete_streaming(client, model, &messages, planned.max_tokens) {
            Ok(chunks) => chunks,
            Err(error) => {
                if !matches!(error, ChatError::Transport(_)) {
                    self.latencies_us.push(micros(sent.elapsed()));
                }
                self.error(&error);
                return;
            }
        };
        let (mut first_token, mut usage, mut finish, mut failed) = (None, None, None, None);
        drain(chunks, |chunk| match chunk {
            Ok(chunk) => {
                if first_token.is_none() && !chunk.text.is_empty() {
                    first_token = Some(sent.elapsed());
                }
                usage = chunk.usage.or(usage);
                finish = chunk.finish_reason.or(finish.take());
            }
            Err(error) => failed = Some(error),
        });
        self.latencies_us.push(micros(sent.elapsed()));
        if let Some(error) = failed {
            self.error(&error);
            return;
        }
        self.chat.streamed += 1;
        if let Some(first) = first_token {
            self.first_token_us.push(micros(first));
        }
        self.answered(usage, finish);
    }
}

/// Runs the `chat` scenario (the service answered the probe already).
pub(crate) fn run(config: &Config, target: &Target) -> Summary {
    let next = AtomicU64::new(0);
    let tallies = Mutex::new(Vec::new());
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..config.concurrency {
            scope.spawn(|| {
                let mut client = Client::new(target.clone(), config.timeout);
                let mut tally = Tally::default();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if config.requests.is_some_and(|n| index >= n) {
                        break;
                    }
                    let offset = config.due(index).unwrap_or_else(|| start.elapsed());
                    if config.duration.is_some_and(|limit| offset >= limit) {
                        break;
                    }
                    let wait = (start + offset).saturating_duration_since(Instant::now());
                    if !wait.is_zero() {
                        std::thread::sleep(wait);
                    }
                    tally.send(&mut client, &config.chat_model, plan(config.seed, index));
                }
                if let Ok(mut tallies) = tallies.lock() {
                    tallies.push(tally);
                }
            });
        }
    });
    let elapsed = start.elapsed();
    let mut summary = Summary {
        scenario: Some(config.scenario),
        elapsed,
        ..Summary::default()
    };
    let mut chat = ChatSummary::default();
    let (mut latencies, mut first_tokens) = (Vec::new(), Vec::new());
    for tally in tallies.into_inner().unwrap_or_default() {
        let part = tally.summary;
        summary.sent += part.sent;
        summary.ok += part.ok;
        summary.server_errors += part.server_errors;
        summary.transport_errors += part.transport_errors;
        summary.unexpected += part.unexpected;
        for example in part.unexpected_examples {
            if summary.unexpected_examples.len() < 5
                && !summary.unexpected_examples.contains(&example)
            {
                summary.unexpected_examples.push(example);
            }
        }
        for (kind, count) in part.client_errors {
            *summary.client_errors.entry(kind).or_default() += count;
        }
        chat.streamed += tally.chat.streamed;
        chat.whole += tally.chat.whole;
        chat.input_tokens += tally.chat.input_tokens;
        chat.output_tokens += tally.chat.output_tokens;
        for (reason, count) in tally.chat.finish_reasons {
            *chat.finish_reasons.entry(reason).or_default() += count;
        }
        latencies.extend(tally.latencies_us);
        first_tokens.extend(tally.first_token_us);
    }
    latencies.sort_unstable();
    first_tokens.sort_unstable();
    summary.p50_ms = percentile(&latencies, 0.50);
    summary.p99_ms = percentile(&latencies, 0.99);
    chat.time_to_first_token_p50_ms = percentile(&first_tokens, 0.50);
    chat.time_to_first_token_p95_ms = percentile(&first_tokens, 0.95);
    summary.achieved_rate = summary.sent as f64 / elapsed.as_secs_f64().max(1e-9);
    if summary.transport_errors == summary.sent && summary.sent > 0 {
        summary
            .notes
            .push("no request got an answer: did the service stop?".to_owned());
    }
    summary.chat = Some(chat);
    summary
}

#[cfg(test)]
mod tests {
    use super::{ChatError, plan};
    use mlotel::ErrorType as _;

    #[test]
    fn plans_alternate_streaming_and_are_seeded() {
        assert!(plan(1, 0).stream && !plan(1, 1).stream);
        assert_eq!(plan(7, 5), plan(7, 5));
        let distinct: std::collections::BTreeSet<u32> =
            (0..64).map(|index| plan(1, index).max_tokens).collect();
        assert!(distinct.len() > 1, "{distinct:?}");
    }

    #[test]
    fn error_types_are_bounded() {
        let status = |status| ChatError::Status {
            status,
            kind: "x".to_owned(),
        };
        assert_eq!(status(429).error_type(), "429");
        assert_eq!(status(418).error_type(), "_OTHER");
        assert_eq!(ChatError::Protocol(String::new()).error_type(), "protocol");
    }
}
