//! What `#[instrument_ml]` reads an output with: the probes that find a prediction, an
//! error's type or a `Result`'s success by auto-ref precedence, and the helpers that give
//! closures and `async` bodies their types. Not a public API (`mlotel::__private`): names
//! and signatures change without notice.

use crate::output::{
    BatchOutput, ErrorType, IntoConfidence, IntoLabel, Label, Prediction, PredictionOutput,
    short_type_name,
};

/// The label and confidence of an output, through [`PredictionOutput`].
pub fn prediction_of<T: PredictionOutput + ?Sized>(output: &T) -> Prediction<'_> {
    output.prediction()
}

/// Returns `future` unchanged. Passing an `async` body through it gives the body its
/// output type before the body is checked, so that `?` inside knows what to convert into.
pub fn typed_future<T, F: Future<Output = T>>(future: F) -> F {
    future
}

/// The rows of a batch output, through [`BatchOutput`].
pub fn batch_rows<B: BatchOutput + ?Sized>(output: &B) -> &[B::Row] {
    output.rows()
}

/// Applies a `label = |output| ...` closure; the closure's argument type is inferred from
/// `success`.
pub fn label_with<'a, S: ?Sized, L: IntoLabel<'a>>(
    success: &'a S,
    label: impl FnOnce(&'a S) -> L,
) -> Option<Label<'a>> {
    label(success).into_label()
}

/// Applies a `confidence = |output| ...` closure.
pub fn confidence_with<'a, S: ?Sized, C: IntoConfidence>(
    success: &'a S,
    confidence: impl FnOnce(&'a S) -> C,
) -> Option<f64> {
    confidence(success).into_confidence()
}

/// Wraps an output so that `(&&&ErrorProbe(&output)).mlotel_error_type()` picks, by
/// auto-ref precedence, the most specific way to name an `Err`: the error's
/// [`ErrorType`], else its type name; anything that is not a `Result` has no error.
#[derive(Debug)]
pub struct ErrorProbe<'a, T: ?Sized>(pub &'a T);

#[allow(missing_docs)]
pub trait ErrorTypeFromTrait {
    fn mlotel_error_type(&self) -> Option<&'static str>;
}
impl<T, E: ErrorType> ErrorTypeFromTrait for &&ErrorProbe<'_, Result<T, E>> {
    fn mlotel_error_type(&self) -> Option<&'static str> {
        self.0.as_ref().err().map(ErrorType::error_type)
    }
}

#[allow(missing_docs)]
pub trait ErrorTypeFromName {
    fn mlotel_error_type(&self) -> Option<&'static str>;
}
impl<T, E> ErrorTypeFromName for &ErrorProbe<'_, Result<T, E>> {
    fn mlotel_error_type(&self) -> Option<&'static str> {
        self.0.as_ref().err().map(|_| short_type_name::<E>())
    }
}

#[allow(missing_docs)]
pub trait NoErrorType {
    fn mlotel_error_type(&self) -> Option<&'static str>;
}
impl<T: ?Sized> NoErrorType for ErrorProbe<'_, T> {
    fn mlotel_error_type(&self) -> Option<&'static str> {
        None
    }
}

/// Wraps an output so that `(&&SuccessProbe(&output)).mlotel_success()` gives the value a
/// prediction is read from: the `Ok` value of a `Result`, else the output itself.
#[derive(Debug)]
pub struct SuccessProbe<'a, T: ?Sized>(pub &'a T);

#[allow(missing_docs)]
pub trait SuccessOfResult<'a> {
    type Success: ?Sized;
    fn mlotel_success(&self) -> Option<&'a Self::Success>;
}
impl<'a, T, E> SuccessOfResult<'a> for &SuccessProbe<'a, Result<T, E>> {
    type Success = T;
    fn mlotel_success(&self) -> Option<&'a T> {
        self.0.as_ref().ok()
    }
}

#[allow(missing_docs)]
pub trait SuccessOfAny<'a> {
    type Success: ?Sized;
    fn mlotel_success(&self) -> Option<&'a Self::Success>;
}
impl<'a, T: ?Sized> SuccessOfAny<'a> for SuccessProbe<'a, T> {
    type Success = T;
    fn mlotel_success(&self) -> Option<&'a T> {
        Some(self.0)
    }
}

#[cfg(test)]
#[allow(clippy::needless_borrow)] // the probes' extra borrows are how they choose
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Timeout;
    impl ErrorType for Timeout {
        fn error_type(&self) -> &'static str {
            "timeout"
        }
    }
    #[derive(Debug)]
    struct BadShape;

    #[test]
    fn error_probe_prefers_the_error_type_trait_then_the_type_name() {
        let classified: Result<f64, Timeout> = Err(Timeout);
        assert_eq!(
            (&&&ErrorProbe(&classified)).mlotel_error_type(),
            Some("timeout")
        );
        let named: Result<f64, BadShape> = Err(BadShape);
        assert_eq!(
            (&&&ErrorProbe(&named)).mlotel_error_type(),
            Some("BadShape")
        );
        let fine: Result<f64, BadShape> = Ok(1.0);
        assert_eq!((&&&ErrorProbe(&fine)).mlotel_error_type(), None);
        assert_eq!((&&&ErrorProbe(&0.5)).mlotel_error_type(), None);
    }

    #[test]
    fn success_probe_unwraps_results_only() {
        let ok: Result<[f64; 2], BadShape> = Ok([0.3, 0.7]);
        assert_eq!((&&SuccessProbe(&ok)).mlotel_success(), Some(&[0.3, 0.7]));
        let some = Some(2_u32);
        assert_eq!((&&SuccessProbe(&some)).mlotel_success(), Some(&Some(2)));
    }
}
