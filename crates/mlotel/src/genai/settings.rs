//! Process-wide GenAI settings: the price table, content capture (off unless asked), and
//! the cap on distinct model names. Read once per call, never per chunk.

use std::fmt;
use std::sync::{Arc, Mutex, RwLock};

use opentelemetry::{StringValue, Value};

use super::names::value::OTHER;
use super::pricing::PriceTable;

/// A redaction hook: gets one message's text, returns what may be recorded.
pub type Redactor = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// Opt-in capture of prompts and completions as a span event.
#[derive(Clone)]
pub struct ContentCapture {
    /// Characters kept of each message (after redaction); longer ones are cut and end
    /// with `…`.
    pub max_chars: usize,
    /// Applied to each message's text before the cap.
    pub redact: Option<Redactor>,
}

impl Default for ContentCapture {
    fn default() -> Self {
        Self {
            max_chars: 2048,
            redact: None,
        }
    }
}

impl fmt::Debug for ContentCapture {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ContentCapture")
            .field("max_chars", &self.max_chars)
            .field("redact", &self.redact.is_some())
            .finish()
    }
}

impl ContentCapture {
    /// `text` redacted and cut to `max_chars` characters.
    pub fn prepare(&self, text: &str) -> String {
        let redacted;
        let text = match &self.redact {
            Some(redact) => {
                redacted = redact(text);
                redacted.as_str()
            }
            None => text,
        };
        match text.char_indices().nth(self.max_chars) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text.to_owned(),
        }
    }
}

/// What [`configure`] sets.
#[derive(Debug, Clone)]
pub struct GenAiSettings {
    /// Prices by model; empty: every model is unpriced.
    pub prices: PriceTable,
    /// `None` (the default): no prompt or completion is ever recorded.
    pub capture: Option<ContentCapture>,
    /// Distinct request and response model names kept as attribute values; later ones are
    /// recorded as `_OTHER`, so model names taken from requests cannot grow series without
    /// bound.
    pub model_cap: usize,
}

impl Default for GenAiSettings {
    fn default() -> Self {
        Self {
            prices: PriceTable::default(),
            capture: None,
            model_cap: 64,
        }
    }
}

/// The variable the OpenTelemetry GenAI instrumentations read to capture message content.
pub const CAPTURE_CONTENT_VAR: &str = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT";

static SETTINGS: RwLock<Option<Arc<GenAiSettings>>> = RwLock::new(None);
static MODEL_NAMES: Mutex<Vec<StringValue>> = Mutex::new(Vec::new());

/// Sets the GenAI settings for the whole process (calls started later use them).
pub fn configure(settings: GenAiSettings) {
    *SETTINGS
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Arc::new(settings));
}

/// Replaces only the price table.
pub fn set_prices(prices: PriceTable) {
    let mut settings = (*current()).clone();
    settings.prices = prices;
    configure(settings);
}

/// The settings in force: those [`configure`]d, else the defaults, with content capture on
/// (default cap, no redaction) when `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` is
/// `true`.
pub fn current() -> Arc<GenAiSettings> {
    if let Some(settings) = SETTINGS
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .as_ref()
    {
        return Arc::clone(settings);
    }
    let mut settings = SETTINGS
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Arc::clone(settings.get_or_insert_with(|| {
        let capture = std::env::var(CAPTURE_CONTENT_VAR)
            .is_ok_and(|value| value.trim().eq_ignore_ascii_case("true"))
            .then(ContentCapture::default);
        Arc::new(GenAiSettings {
            capture,
            ..GenAiSettings::default()
        })
    }))
}

/// `name` as an attribute value, or `_OTHER` once `cap` other names were seen.
pub(crate) fn bounded_model(name: &str, cap: usize) -> Value {
    let mut names = MODEL_NAMES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(known) = names.iter().find(|known| known.as_str() == name) {
        return Value::String(known.clone());
    }
    if names.len() >= cap {
        return Value::String(StringValue::from(OTHER));
    }
    let value = StringValue::from(Arc::<str>::from(name));
    names.push(value.clone());
    Value::String(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_redacts_then_cuts_at_a_character() {
        let capture = ContentCapture {
            max_chars: 5,
            redact: Some(Arc::new(|text: &str| text.replace("secret", "[redacted]"))),
        };
        assert_eq!(capture.prepare("a secret"), "a [re…");
        assert_eq!(capture.prepare("héllo"), "héllo");
        assert_eq!(capture.prepare("héllo!"), "héllo…");
    }
}
