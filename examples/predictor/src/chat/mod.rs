//! `POST /v1/chat/completions`: an OpenAI-compatible chat endpoint served by the in-process
//! [`model::BigramModel`], streaming (server-sent events) and not, with `usage` in the
//! answer. Generation is instrumented with `#[instrument_genai(side = server)]`: time to
//! first token, time per output token, tokens, finish reasons (docs/predictor.md, "Chat").

mod model;

use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::web::Bytes;
use actix_web::{HttpResponse, http::StatusCode, web};
use futures_core::Stream;
use mlotel::genai::{GenAiChunk, PriceTable, PromptContent, TokenUsage};
use mlotel::instrument_genai;
use serde::Deserialize;
use serde_json::json;

use model::{BigramModel, MODEL_NAME, Random};

/// Trained once, when the first worker starts.
static MODEL: LazyLock<BigramModel> = LazyLock::new(BigramModel::train);

/// The model computes in microseconds; answers are paced like a small hosted LLM so that
/// time to first token and per output token have a shape to watch: a prefill of 20 ms plus
/// 0.2 ms per prompt token, then 15 ms per output token.
const PREFILL: Duration = Duration::from_millis(20);
const PREFILL_PER_TOKEN: Duration = Duration::from_micros(200);
const PER_TOKEN: Duration = Duration::from_millis(15);
/// The demo model's notional price, US dollars per million input and output tokens.
pub(crate) const DEMO_INPUT_PRICE: f64 = 0.5;
pub(crate) const DEMO_OUTPUT_PRICE: f64 = 1.5;
/// Output tokens when the request does not say.
const DEFAULT_MAX_TOKENS: u32 = 48;
const MAX_TOKENS: u32 = 1024;
/// Answers stop at the first sentence end after this many tokens.
const MIN_TOKENS_BEFORE_STOP: u32 = 8;

/// Adds the route.
pub(crate) fn configure(config: &mut web::ServiceConfig) {
    LazyLock::force(&MODEL);
    // Notional prices, so the cost panels and the daily budget alert have numbers to show.
    if let Ok(prices) = PriceTable::new().with(MODEL_NAME, DEMO_INPUT_PRICE, DEMO_OUTPUT_PRICE) {
        mlotel::genai::set_prices(prices);
    }
    config.service(web::resource("/v1/chat/completions").route(web::post().to(chat_completions)));
}

#[derive(Deserialize)]
struct ChatRequest {
    #[serde(default)]
    model: Option<String>,
    messages: Vec<Message>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default, alias = "max_completion_tokens")]
    max_tokens: Option<u32>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    n: Option<u32>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Deserialize)]
struct Message {
    role: String,
    content: serde_json::Value,
}

impl Message {
    /// The text of `content`: a string, or the text parts of a list of parts.
    fn text(&self) -> Option<String> {
        match &self.content {
            serde_json::Value::String(text) => Some(text.clone()),
            serde_json::Value::Array(parts) => parts
                .iter()
                .map(
                    |part| match (part["type"].as_str(), part["text"].as_str()) {
                        (Some("text"), Some(text)) => Some(text.to_owned()),
                        _ => None,
                    },
                )
                .collect::<Option<Vec<_>>>()
                .map(|texts| texts.join("\n")),
            serde_json::Value::Null => Some(String::new()),
            _ => None,
        }
    }
}

/// The prompt as generation sees it: (role, text) per message.
struct Prompt(Vec<(String, String)>);

impl PromptContent for Prompt {
    fn for_each_message(&self, message: &mut dyn FnMut(&str, &str)) {
        self.0.for_each_message(message);
    }
}

impl Prompt {
    fn tokens(&self) -> u64 {
        self.0
            .iter()
            .map(|(_, text)| model::tokens(text).count() as u64)
            .sum()
    }

    fn last_user_text(&self) -> &str {
        self.0
            .iter()
            .rev()
            .find(|(role, _)| role == "user")
            .map_or("", |(_, text)| text.as_str())
    }
}

/// An OpenAI-shaped error answer.
fn error(status: StatusCode, code: &str, param: Option<&str>, message: String) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "error": {
            "message": message,
            "type": if status == StatusCode::NOT_FOUND { "not_found_error" } else { "invalid_request_error" },
            "param": param,
            "code": code,
        }
    }))
}

struct Parameters {
    max_tokens: u32,
    temperature: f64,
    seed: u64,
}

/// [`error`], boxed (a refusal is rare; the `Ok` path stays small).
fn refuse(
    status: StatusCode,
    code: &str,
    param: Option<&str>,
    message: String,
) -> Box<HttpResponse> {
    Box::new(error(status, code, param, message))
}

fn validate(request: &ChatRequest) -> Result<(Prompt, Parameters), Box<HttpResponse>> {
    if let Some(model) = &request.model
        && !model.is_empty()
        && model != MODEL_NAME
    {
        return Err(refuse(
            StatusCode::NOT_FOUND,
            "model_not_found",
            Some("model"),
            format!("the model {model:?} does not exist; this server serves {MODEL_NAME:?}"),
        ));
    }
    if request.messages.is_empty() {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "empty_messages",
            Some("messages"),
            "`messages` must hold at least one message".to_owned(),
        ));
    }
    let mut messages = Vec::with_capacity(request.messages.len());
    for (index, message) in request.messages.iter().enumerate() {
        if !matches!(
            message.role.as_str(),
            "system" | "developer" | "user" | "assistant" | "tool"
        ) {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "invalid_role",
                Some(&format!("messages[{index}].role")),
                format!(
                    "messages[{index}].role is {:?}; it must be system, developer, user, assistant or tool",
                    message.role
                ),
            ));
        }
        let Some(text) = message.text() else {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "invalid_content",
                Some(&format!("messages[{index}].content")),
                format!("messages[{index}].content must be a string or a list of text parts"),
            ));
        };
        messages.push((message.role.clone(), text));
    }
    let max_tokens = request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    if max_tokens == 0 || max_tokens > MAX_TOKENS {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "invalid_max_tokens",
            Some("max_tokens"),
            format!("max_tokens is {max_tokens}; it must be between 1 and {MAX_TOKENS}"),
        ));
    }
    let temperature = request.temperature.unwrap_or(1.0);
    if !temperature.is_finite() || !(0.0..=2.0).contains(&temperature) {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "invalid_temperature",
            Some("temperature"),
            format!("temperature is {temperature}; it must be between 0 and 2"),
        ));
    }
    if request.n.is_some_and(|n| n != 1) {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "invalid_n",
            Some("n"),
            "this server generates one choice per request (n = 1)".to_owned(),
        ));
    }
    let seed = request.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |now| now.as_nanos() as u64)
    });
    Ok((
        Prompt(messages),
        Parameters {
            max_tokens,
            temperature,
            seed,
        },
    ))
}

async fn chat_completions(body: web::Bytes) -> HttpResponse {
    let request: ChatRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(problem) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                None,
                format!("the body is not a chat completion request: {problem}"),
            );
        }
    };
    let (prompt, parameters) = match validate(&request) {
        Ok(valid) => valid,
        Err(answer) => return *answer,
    };
    let include_usage = request
        .stream_options
        .as_ref()
        .is_some_and(|options| options.include_usage);
    let id = format!("chatcmpl-{:016x}", parameters.seed);
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |now| now.as_secs());
    let tokens = generate(MODEL_NAME, &prompt, parameters);
    if request.stream {
        return HttpResponse::Ok()
            .content_type("text/event-stream")
            .insert_header(("Cache-Control", "no-cache"))
            .streaming(ServerSentEvents {
                tokens,
                id,
                created,
                include_usage,
                state: SseState::Role,
                finish: None,
                usage: None,
            });
    }
    let mut tokens = tokens;
    let mut text = String::new();
    let (mut finish, mut usage) = ("stop", TokenUsage::default());
    while let Some(token) = std::future::poll_fn(|cx| Pin::new(&mut tokens).poll_next(cx)).await {
        text.push_str(&token.text);
        if let Some(reason) = token.finish {
            finish = reason;
        }
        if let Some(reported) = token.usage {
            usage = reported;
        }
    }
    let (prompt_tokens, completion_tokens) = (
        usage.input_tokens.unwrap_or(0),
        usage.output_tokens.unwrap_or(0),
    );
    HttpResponse::Ok().json(json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": MODEL_NAME,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": finish,
            "logprobs": null,
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }))
}

/// One generated token; the last one says why generation stopped and the usage.
struct Token {
    text: String,
    finish: Option<&'static str>,
    usage: Option<TokenUsage>,
}

impl GenAiChunk for Token {
    fn usage(&self) -> Option<TokenUsage> {
        self.usage
    }
    fn finish_reason(&self) -> Option<&str> {
        self.finish
    }
    fn response_model(&self) -> Option<&str> {
        Some(MODEL_NAME)
    }
    fn text(&self) -> Option<&str> {
        Some(&self.text)
    }
}

/// Generates the answer token by token, paced (see [`PER_TOKEN`]).
#[instrument_genai(side = server, provider = "mlotel", model = model_name, stream, prompt = prompt)]
fn generate(
    model_name: &str,
    prompt: &Prompt,
    parameters: Parameters,
) -> impl Stream<Item = Token> + Unpin + use<> {
    let mut random = Random::new(parameters.seed);
    let current = MODEL.seed(prompt.last_user_text(), &mut random);
    let prefill = PREFILL + PREFILL_PER_TOKEN * prompt.tokens().min(10_000) as u32;
    Generation {
        sleep: Box::pin(actix_web::rt::time::sleep(prefill)),
        random,
        current,
        produced: 0,
        parameters,
        prompt_tokens: prompt.tokens(),
        done: false,
    }
}

struct Generation {
    sleep: Pin<Box<actix_web::rt::time::Sleep>>,
    random: Random,
    current: usize,
    produced: u32,
    parameters: Parameters,
    prompt_tokens: u64,
    done: bool,
}

impl Stream for Generation {
    type Item = Token;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Token>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        let this = &mut *self;
        let word = MODEL.next(this.current, this.parameters.temperature, &mut this.random);
        this.current = word;
        this.produced += 1;
        let finish = if MODEL.ends_sentence(word) && this.produced >= MIN_TOKENS_BEFORE_STOP {
            Some("stop")
        } else if this.produced >= this.parameters.max_tokens {
            Some("length")
        } else {
            None
        };
        let text = MODEL.word(word);
        let spaced =
            if this.produced == 1 || text.len() == 1 && !text.chars().all(char::is_alphanumeric) {
                text.to_owned()
            } else {
                format!(" {text}")
            };
        this.done = finish.is_some();
        let deadline = actix_web::rt::time::Instant::now() + PER_TOKEN;
        this.sleep.as_mut().reset(deadline);
        Poll::Ready(Some(Token {
            text: spaced,
            finish,
            usage: finish.map(|_| TokenUsage::new(this.prompt_tokens, u64::from(this.produced))),
        }))
    }
}

enum SseState {
    Role,
    Tokens,
    Usage,
    Done,
    Ended,
}

/// The token stream as OpenAI's server-sent events: a role chunk, a chunk per token, the
/// finish chunk, the usage chunk when asked, `[DONE]`.
struct ServerSentEvents<S> {
    tokens: S,
    id: String,
    created: u64,
    include_usage: bool,
    state: SseState,
    finish: Option<&'static str>,
    usage: Option<TokenUsage>,
}

impl<S> ServerSentEvents<S> {
    fn event(&self, delta: serde_json::Value, finish: Option<&str>) -> Bytes {
        let chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": MODEL_NAME,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}],
        });
        Bytes::from(format!("data: {chunk}\n\n"))
    }
}

impl<S: Stream<Item = Token> + Unpin> Stream for ServerSentEvents<S> {
    type Item = Result<Bytes, actix_web::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match this.state {
                SseState::Role => {
                    this.state = SseState::Tokens;
                    return Poll::Ready(Some(Ok(
                        this.event(json!({"role": "assistant", "content": ""}), None)
                    )));
                }
                SseState::Tokens => match Pin::new(&mut this.tokens).poll_next(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(token)) => {
                        if token.finish.is_some() {
                            this.finish = token.finish;
                            this.usage = token.usage;
                        }
                        return Poll::Ready(Some(Ok(
                            this.event(json!({"content": token.text}), None)
                        )));
                    }
                    Poll::Ready(None) => {
                        this.state = SseState::Usage;
                        return Poll::Ready(Some(Ok(
                            this.event(json!({}), Some(this.finish.unwrap_or("stop")))
                        )));
                    }
                },
                SseState::Usage => {
                    this.state = SseState::Done;
                    if this.include_usage {
                        let usage = this.usage.unwrap_or_default();
                        let (prompt, completion) = (
                            usage.input_tokens.unwrap_or(0),
                            usage.output_tokens.unwrap_or(0),
                        );
                        let chunk = json!({
                            "id": this.id,
                            "object": "chat.completion.chunk",
                            "created": this.created,
                            "model": MODEL_NAME,
                            "choices": [],
                            "usage": {
                                "prompt_tokens": prompt,
                                "completion_tokens": completion,
                                "total_tokens": prompt + completion,
                            },
                        });
                        return Poll::Ready(Some(Ok(Bytes::from(format!("data: {chunk}\n\n")))));
                    }
                }
                SseState::Done => {
                    this.state = SseState::Ended;
                    return Poll::Ready(Some(Ok(Bytes::from_static(b"data: [DONE]\n\n"))));
                }
                SseState::Ended => return Poll::Ready(None),
            }
        }
    }
}
