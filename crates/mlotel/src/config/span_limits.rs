//! The resolved span limits (the specification's `OTEL_*_LIMIT` variables); how they are
//! applied is the export pipeline's business (`export::span_limits`).

/// The resolved span limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SpanLimitSettings {
    /// Longest string attribute value, in characters (`None`: unlimited, the spec's default).
    pub(crate) attribute_value_length: Option<usize>,
    pub(crate) attribute_count: u32,
    pub(crate) event_count: u32,
    pub(crate) link_count: u32,
    pub(crate) event_attribute_count: u32,
    pub(crate) link_attribute_count: u32,
}

/// The specification's default for every count limit.
pub(crate) const DEFAULT_COUNT_LIMIT: u32 = 128;

impl Default for SpanLimitSettings {
    fn default() -> Self {
        Self {
            attribute_value_length: None,
            attribute_count: DEFAULT_COUNT_LIMIT,
            event_count: DEFAULT_COUNT_LIMIT,
            link_count: DEFAULT_COUNT_LIMIT,
            event_attribute_count: DEFAULT_COUNT_LIMIT,
            link_attribute_count: DEFAULT_COUNT_LIMIT,
        }
    }
}
