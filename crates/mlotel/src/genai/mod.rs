//! Generative models: the OpenTelemetry GenAI conventions (`gen_ai.*` spans and metrics),
//! time to first token and per output token of streamed answers, cost from a price table,
//! and no prompt or completion recorded unless asked.
//!
//! ```
//! use mlotel::genai::{self, PriceTable, TokenUsage};
//! use mlotel::instrument_genai;
//!
//! #[instrument_genai(operation = "chat", provider = "openai", model = model)]
//! fn ask(model: &str, prompt: &str) -> Result<TokenUsage, std::io::Error> {
//!     Ok(TokenUsage::new(12, 30)) // a real client returns the provider's usage
//! }
//!
//! genai::set_prices(PriceTable::new().with("gpt-4o", 2.5, 10.0).expect("valid prices"));
//! ask("gpt-4o", "hello").expect("answered");
//! ```
//!
//! The names are in [`names`] (pinned to [`names::SEMCONV_VERSION`]); docs/genai.md lists
//! them with their Prometheus names.

mod call;
mod instruments;
pub mod names;
mod pricing;
mod settings;
mod stream;
mod usage;

pub use call::{GenAiCall, Side};
pub use instruments::install;
pub use pricing::{Price, PriceTable, PriceTableError};
pub use settings::{
    CAPTURE_CONTENT_VAR, ContentCapture, GenAiSettings, Redactor, configure, current as settings,
    set_prices,
};
pub use stream::GenAiStream;
pub use usage::{GenAiChunk, GenAiResponse, PromptContent, TokenUsage};

/// What `#[instrument_genai]` expands to that is not public API.
#[doc(hidden)]
pub mod __private {
    use super::{GenAiCall, GenAiResponse, GenAiStream};

    /// The model argument as a string, whatever string-like type it has.
    pub fn model_name<M: AsRef<str> + ?Sized>(model: &M) -> &str {
        model.as_ref()
    }

    /// Ends `call` with the output of a non-streaming function: the error's type, else the
    /// success read through [`GenAiResponse`].
    pub fn finish<R: GenAiResponse + ?Sized>(call: GenAiCall, success: &R) {
        call.finish_response(success);
    }

    /// Runs a sync function's body. Taking it as `FnOnce` makes the closure one, so the
    /// body may return a borrow through a `&mut` parameter it captured (a stream that
    /// reads from `&mut self`), which a closure called in place (inferred `FnMut`) may not.
    #[inline(always)]
    pub fn call_once<R>(body: impl FnOnce() -> R) -> R {
        body()
    }

    /// Wraps the stream a `stream` function returned.
    pub fn wrap_stream<S>(call: GenAiCall, stream: S) -> GenAiStream<S> {
        call.stream(stream)
    }
}
