//! Every GenAI name mlotel emits, in one place: the OpenTelemetry GenAI semantic
//! conventions' metric names, units, bucket boundaries and attribute keys (pinned to
//! [`SEMCONV_VERSION`]), and the few instruments of our own (`ml.gen_ai.*`) for what the
//! conventions do not cover (cost, unpriced tokens, finish reasons, server token counts).
//!
//! When the conventions rename something, this is the one file to change; docs/genai.md is
//! checked against [`CATALOGUE`] by the tests.

use crate::names::{InstrumentKind, InstrumentSpec};

/// The version of the OpenTelemetry semantic conventions whose GenAI metrics and span
/// attributes mlotel follows (`docs/gen-ai/gen-ai-metrics.md` and `gen-ai-spans.md` of
/// that release; status Development).
pub const SEMCONV_VERSION: &str = "1.41.0";

/// Attribute keys.
pub mod attr {
    /// `chat`, `text_completion`, `embeddings`, `generate_content`, ...
    pub const OPERATION_NAME: &str = "gen_ai.operation.name";
    /// `openai`, `anthropic`, `aws.bedrock`, ... (the conventions' well-known values).
    pub const PROVIDER_NAME: &str = "gen_ai.provider.name";
    /// The model a request asked for.
    pub const REQUEST_MODEL: &str = "gen_ai.request.model";
    /// The model that produced the response.
    pub const RESPONSE_MODEL: &str = "gen_ai.response.model";
    /// `input` or `output`.
    pub const TOKEN_TYPE: &str = "gen_ai.token.type";
    /// Why generation stopped, one entry per choice (span attribute, string array).
    pub const RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
    /// The provider's id of the completion (span attribute).
    pub const RESPONSE_ID: &str = "gen_ai.response.id";
    /// Input tokens of the call (span attribute).
    pub const USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
    /// Output tokens of the call (span attribute).
    pub const USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
    /// Whether the call streamed its answer (span attribute).
    pub const REQUEST_STREAM: &str = "gen_ai.request.stream";
    /// Seconds to the first chunk of a streamed answer (span attribute).
    pub const RESPONSE_TIME_TO_FIRST_CHUNK: &str = "gen_ai.response.time_to_first_chunk";
    /// The prompt, when content capture is on (attribute of the content event).
    pub const INPUT_MESSAGES: &str = "gen_ai.input.messages";
    /// The completion, when content capture is on (attribute of the content event).
    pub const OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
    /// Semantic-convention error class.
    pub const ERROR_TYPE: &str = "error.type";
    /// One finish reason on the finish-reason counter (ours: a metric attribute cannot be
    /// the conventions' string array).
    pub const FINISH_REASON: &str = "ml.gen_ai.finish_reason";
}

/// Span event names.
pub mod event {
    /// The event that carries the captured prompt and completion (opt-in only).
    pub const OPERATION_DETAILS: &str = "gen_ai.client.inference.operation.details";
}

/// Well-known attribute values.
pub mod value {
    /// `gen_ai.token.type` of prompt tokens.
    pub const TOKEN_INPUT: &str = "input";
    /// `gen_ai.token.type` of completion tokens.
    pub const TOKEN_OUTPUT: &str = "output";
    /// `error.type` of a call dropped before it finished (a cancelled future, a stream
    /// dropped before its end).
    pub const CANCELLED: &str = "cancelled";
    /// `error.type` of a call whose body panicked.
    pub const PANIC: &str = "panic";
    /// The conventions' fallback value: a model name past the cardinality cap, an
    /// unknown finish reason.
    pub const OTHER: &str = "_OTHER";
}

/// `gen_ai.client.token.usage`.
pub const CLIENT_TOKEN_USAGE: &str = "gen_ai.client.token.usage";
/// `gen_ai.client.operation.duration`.
pub const CLIENT_OPERATION_DURATION: &str = "gen_ai.client.operation.duration";
/// `gen_ai.client.operation.time_to_first_chunk`.
pub const CLIENT_TIME_TO_FIRST_CHUNK: &str = "gen_ai.client.operation.time_to_first_chunk";
/// `gen_ai.client.operation.time_per_output_chunk`.
pub const CLIENT_TIME_PER_OUTPUT_CHUNK: &str = "gen_ai.client.operation.time_per_output_chunk";
/// `gen_ai.server.request.duration`.
pub const SERVER_REQUEST_DURATION: &str = "gen_ai.server.request.duration";
/// `gen_ai.server.time_to_first_token`.
pub const SERVER_TIME_TO_FIRST_TOKEN: &str = "gen_ai.server.time_to_first_token";
/// `gen_ai.server.time_per_output_token`.
pub const SERVER_TIME_PER_OUTPUT_TOKEN: &str = "gen_ai.server.time_per_output_token";
/// Ours: tokens a server generated or read, shaped as `gen_ai.client.token.usage` (the
/// conventions define no server token metric).
pub const SERVER_TOKEN_USAGE: &str = "ml.gen_ai.server.token.usage";
/// Ours: money spent, from the price table, by model and token type.
pub const COST: &str = "ml.gen_ai.cost.usd";
/// Ours: tokens of models the price table does not list (never priced by a guess).
pub const UNPRICED_TOKENS: &str = "ml.gen_ai.unpriced.tokens";
/// Ours: answers by finish reason.
pub const FINISH_REASONS: &str = "ml.gen_ai.finish_reasons";

/// Token counts: the conventions' boundaries for `gen_ai.client.token.usage`.
pub const TOKEN_BUCKETS: &[f64] = &[
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];
/// Durations: the conventions' boundaries for the operation and request durations and the
/// client's chunk timings.
pub const DURATION_BUCKETS: &[f64] = &[
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/// `gen_ai.server.time_to_first_token`: finer at the low end (prefill of a small prompt).
pub const TIME_TO_FIRST_TOKEN_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
/// `gen_ai.server.time_per_output_token`.
pub const TIME_PER_OUTPUT_TOKEN_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
];

use attr::{
    ERROR_TYPE, FINISH_REASON, OPERATION_NAME, PROVIDER_NAME, REQUEST_MODEL, RESPONSE_MODEL,
    TOKEN_TYPE,
};

const CALL: &[&str] = &[OPERATION_NAME, PROVIDER_NAME, REQUEST_MODEL, RESPONSE_MODEL];
const CALL_WITH_ERROR: &[&str] = &[
    OPERATION_NAME,
    PROVIDER_NAME,
    REQUEST_MODEL,
    RESPONSE_MODEL,
    ERROR_TYPE,
];
const TOKENS: &[&str] = &[
    OPERATION_NAME,
    PROVIDER_NAME,
    REQUEST_MODEL,
    RESPONSE_MODEL,
    TOKEN_TYPE,
];
const CHUNKS: &[&str] = &[OPERATION_NAME, PROVIDER_NAME, REQUEST_MODEL];
const FINISHES: &[&str] = &[
    OPERATION_NAME,
    PROVIDER_NAME,
    REQUEST_MODEL,
    RESPONSE_MODEL,
    FINISH_REASON,
];

const fn histogram(
    name: &'static str,
    unit: &'static str,
    description: &'static str,
    attributes: &'static [&'static str],
    buckets: &'static [f64],
) -> InstrumentSpec {
    InstrumentSpec {
        name,
        unit,
        description,
        kind: InstrumentKind::Histogram,
        attributes,
        buckets,
    }
}

const fn counter(
    name: &'static str,
    unit: &'static str,
    description: &'static str,
    attributes: &'static [&'static str],
) -> InstrumentSpec {
    InstrumentSpec {
        name,
        unit,
        description,
        kind: InstrumentKind::Counter,
        attributes,
        buckets: &[],
    }
}

/// Every GenAI instrument, with its unit, attributes and buckets.
pub const CATALOGUE: &[InstrumentSpec] = &[
    histogram(
        CLIENT_TOKEN_USAGE,
        "{token}",
        "Number of input and output tokens used.",
        TOKENS,
        TOKEN_BUCKETS,
    ),
    histogram(
        CLIENT_OPERATION_DURATION,
        "s",
        "GenAI operation duration.",
        CALL_WITH_ERROR,
        DURATION_BUCKETS,
    ),
    histogram(
        CLIENT_TIME_TO_FIRST_CHUNK,
        "s",
        "Time to receive the first chunk of a streamed response, from the request.",
        CHUNKS,
        DURATION_BUCKETS,
    ),
    histogram(
        CLIENT_TIME_PER_OUTPUT_CHUNK,
        "s",
        "Time from the end of the previous chunk to the end of this one, for each chunk after the first.",
        CHUNKS,
        DURATION_BUCKETS,
    ),
    histogram(
        SERVER_REQUEST_DURATION,
        "s",
        "Generative AI server request duration such as time-to-last byte or last output token.",
        CALL_WITH_ERROR,
        DURATION_BUCKETS,
    ),
    histogram(
        SERVER_TIME_TO_FIRST_TOKEN,
        "s",
        "Time to generate first token for successful responses.",
        CALL,
        TIME_TO_FIRST_TOKEN_BUCKETS,
    ),
    histogram(
        SERVER_TIME_PER_OUTPUT_TOKEN,
        "s",
        "Time per output token generated after the first token for successful responses.",
        CALL,
        TIME_PER_OUTPUT_TOKEN_BUCKETS,
    ),
    histogram(
        SERVER_TOKEN_USAGE,
        "{token}",
        "Number of input and output tokens a server read and generated.",
        TOKENS,
        TOKEN_BUCKETS,
    ),
    counter(
        COST,
        "{USD}",
        "Money spent on tokens, in US dollars, from the price table.",
        TOKENS,
    ),
    counter(
        UNPRICED_TOKENS,
        "{token}",
        "Tokens of models the price table does not list.",
        TOKENS,
    ),
    counter(
        FINISH_REASONS,
        "{choice}",
        "Answers by the reason generation stopped.",
        FINISHES,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_buckets_increase() {
        let mut names: Vec<_> = CATALOGUE.iter().map(|spec| spec.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CATALOGUE.len());
        for spec in CATALOGUE {
            assert!(
                spec.buckets.windows(2).all(|pair| pair[0] < pair[1]),
                "{}",
                spec.name
            );
        }
    }
}
