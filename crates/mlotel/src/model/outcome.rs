//! How a prediction call ended, as the public API says it ([`Outcome`]) and as it is
//! recorded ([`Ending`]).

use crate::names::outcome;

/// How a prediction call ended, with what the runtime learned from its output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome<'a> {
    /// The call returned a prediction.
    Ok {
        /// Predicted label; labels outside the model's label set are recorded as
        /// [`OTHER_LABEL`](crate::names::OTHER_LABEL).
        label: Option<&'a str>,
        /// Confidence in `0..=1`, when the model gives one.
        confidence: Option<f64>,
    },
    /// The call returned an error of this class (a short, bounded name: the error type).
    Error {
        /// Value of the `error.type` attribute.
        error_type: &'static str,
    },
    /// The call panicked.
    Panic,
    /// The call's future was dropped before it completed.
    Cancelled,
}

impl Outcome<'_> {
    /// The `ml.prediction.outcome` value.
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            Self::Ok { .. } => outcome::OK,
            Self::Error { .. } => outcome::ERROR,
            Self::Panic => outcome::PANIC,
            Self::Cancelled => outcome::CANCELLED,
        }
    }

    /// The `error.type` of a call that failed.
    pub(crate) fn error_type(&self) -> Option<&'static str> {
        match self {
            Self::Ok { .. } => None,
            Self::Error { error_type } => Some(error_type),
            Self::Panic | Self::Cancelled => Some(self.as_str()),
        }
    }
}
