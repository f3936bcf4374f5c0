//! What a prediction function's output tells mlotel: the predicted label and the model's
//! confidence ([`PredictionOutput`]), the rows of a batch ([`BatchOutput`]) and the class
//! of an error ([`ErrorType`]). Implemented for the shapes models usually return.

use std::borrow::Cow;

/// A predicted label, as the output holds it. Turned into the bounded
/// `ml.prediction.label` attribute by the model's label set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Label<'a> {
    /// A class name.
    Text(&'a str),
    /// A class index (e.g. the argmax of class probabilities); mapped to the model's
    /// declared label at that index, or written as the number when none are declared.
    Index(usize),
    /// An integer class id, written as the number.
    Integer(i64),
    /// A yes/no prediction, written as `true` / `false`.
    Bool(bool),
}

/// A confidence as recorded anywhere: NaN and ±∞ are no confidence, finite values are
/// clamped into `0..=1` (docs/metrics.md).
pub(crate) fn valid_confidence(confidence: Option<f64>) -> Option<f64> {
    confidence
        .filter(|value| value.is_finite())
        .map(|value| value.clamp(0.0, 1.0))
}

/// What one prediction says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Prediction<'a> {
    /// The predicted label, if the model gives one (regressions do not).
    pub label: Option<Label<'a>>,
    /// The model's confidence in `0..=1`, if it gives one.
    pub confidence: Option<f64>,
}

impl<'a> Prediction<'a> {
    /// A prediction with a label and a confidence.
    pub fn new(label: impl IntoLabel<'a>, confidence: impl IntoConfidence) -> Self {
        Self {
            label: label.into_label(),
            confidence: confidence.into_confidence(),
        }
    }

    /// A prediction with a label and no confidence.
    pub fn label(label: impl IntoLabel<'a>) -> Self {
        Self {
            label: label.into_label(),
            confidence: None,
        }
    }

    /// A prediction that carries neither label nor confidence (a regression, an abstention).
    pub fn unlabelled() -> Self {
        Self::default()
    }
}

/// Tells `#[instrument_ml]` the label and confidence of a function's output.
///
/// Implemented for class probabilities (`Vec<f64>`, `[f32; N]`, slices: label = index of
/// the largest, confidence = the largest), `(label, score)` tuples, class names and ids,
/// numbers (a regression: no label), `bool`, `Option<T>` and `Result<T, E>`. For your own
/// type write a three-line impl:
///
/// ```
/// use mlotel::{Prediction, PredictionOutput};
///
/// struct Scored { class: String, probability: f64 }
///
/// impl PredictionOutput for Scored {
///     fn prediction(&self) -> Prediction<'_> {
///         Prediction::new(self.class.as_str(), self.probability)
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `mlotel::PredictionOutput`, so #[instrument_ml] cannot read its label and confidence",
    label = "the prediction output type",
    note = "implement `mlotel::PredictionOutput` for `{Self}` (see its docs), or give #[instrument_ml] `label = |out| ...` / `confidence = |out| ...`, or `skip_output`"
)]
pub trait PredictionOutput {
    /// The label and confidence of this output.
    fn prediction(&self) -> Prediction<'_>;
}

/// A value that names a label: class names, class ids, `bool`, and `Option`s of these.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a label",
    label = "not a label",
    note = "a label is a class name (`&str`, `&String`), a class index (`usize`), an integer class id, a `bool`, a `mlotel::Label`, or an `Option` of these; a score belongs in `confidence`"
)]
pub trait IntoLabel<'a> {
    /// The label, or `None` when there is none.
    fn into_label(self) -> Option<Label<'a>>;
}

impl<'a> IntoLabel<'a> for Label<'a> {
    fn into_label(self) -> Option<Label<'a>> {
        Some(self)
    }
}
impl<'a> IntoLabel<'a> for &'a str {
    fn into_label(self) -> Option<Label<'a>> {
        Some(Label::Text(self))
    }
}
impl<'a> IntoLabel<'a> for &'a String {
    fn into_label(self) -> Option<Label<'a>> {
        Some(Label::Text(self))
    }
}
impl<'a> IntoLabel<'a> for &'a Cow<'a, str> {
    fn into_label(self) -> Option<Label<'a>> {
        Some(Label::Text(self))
    }
}
impl<'a> IntoLabel<'a> for usize {
    fn into_label(self) -> Option<Label<'a>> {
        Some(Label::Index(self))
    }
}
impl<'a> IntoLabel<'a> for bool {
    fn into_label(self) -> Option<Label<'a>> {
        Some(Label::Bool(self))
    }
}
macro_rules! integer_labels {
    ($($int:ty),*) => {$(
        impl<'a> IntoLabel<'a> for $int {
            fn into_label(self) -> Option<Label<'a>> {
                i64::try_from(self).ok().map(Label::Integer)
            }
        }
    )*};
}
integer_labels!(i8, i16, i32, i64, u8, u16, u32, u64, isize);

impl<'a, L: IntoLabel<'a>> IntoLabel<'a> for Option<L> {
    fn into_label(self) -> Option<Label<'a>> {
        self.and_then(IntoLabel::into_label)
    }
}

/// A value that gives a confidence: `f64`, `f32` and `Option`s of these.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a confidence",
    label = "not a confidence",
    note = "a confidence is an `f64` or `f32` in `0..=1`, or an `Option` of these"
)]
pub trait IntoConfidence {
    /// The confidence, or `None` when there is none.
    fn into_confidence(self) -> Option<f64>;
}
impl IntoConfidence for f64 {
    fn into_confidence(self) -> Option<f64> {
        Some(self)
    }
}
impl IntoConfidence for f32 {
    fn into_confidence(self) -> Option<f64> {
        Some(f64::from(self))
    }
}
impl<C: IntoConfidence> IntoConfidence for Option<C> {
    fn into_confidence(self) -> Option<f64> {
        self.and_then(IntoConfidence::into_confidence)
    }
}

/// Class probabilities: the label is the index of the largest finite value, the confidence
/// that value. Empty or all-NaN input gives no prediction.
fn argmax<T: Copy + Into<f64>>(probabilities: &[T]) -> Prediction<'static> {
    let best = probabilities
        .iter()
        .map(|&value| value.into())
        .enumerate()
        .filter(|(_, value)| value.is_finite())
        .fold(
            None,
            |best: Option<(usize, f64)>, (index, value)| match best {
                Some((_, top)) if top >= value => best,
                _ => Some((index, value)),
            },
        );
    match best {
        Some((index, value)) => Prediction {
            label: Some(Label::Index(index)),
            confidence: Some(value),
        },
        None => Prediction::unlabelled(),
    }
}

macro_rules! probabilities {
    ($($float:ty),*) => {$(
        impl PredictionOutput for [$float] {
            fn prediction(&self) -> Prediction<'_> {
                argmax(self)
            }
        }
        impl<const N: usize> PredictionOutput for [$float; N] {
            fn prediction(&self) -> Prediction<'_> {
                argmax(self)
            }
        }
        impl PredictionOutput for Vec<$float> {
            fn prediction(&self) -> Prediction<'_> {
                argmax(self)
            }
        }
        /// A regression: the value is not a class, so no label and no confidence.
        impl PredictionOutput for $float {
            fn prediction(&self) -> Prediction<'_> {
                Prediction::unlabelled()
            }
        }
    )*};
}
probabilities!(f64, f32);

macro_rules! class_ids {
    ($($int:ty),*) => {$(
        impl PredictionOutput for $int {
            fn prediction(&self) -> Prediction<'_> {
                Prediction::label(*self)
            }
        }
    )*};
}
class_ids!(i8, i16, i32, i64, u8, u16, u32, u64, isize, usize, bool);

impl PredictionOutput for str {
    fn prediction(&self) -> Prediction<'_> {
        Prediction::label(self)
    }
}
impl PredictionOutput for String {
    fn prediction(&self) -> Prediction<'_> {
        Prediction::label(self.as_str())
    }
}
impl PredictionOutput for Cow<'_, str> {
    fn prediction(&self) -> Prediction<'_> {
        Prediction::label(self.as_ref())
    }
}

/// `(label, score)`: a label with its confidence.
impl<L, C> PredictionOutput for (L, C)
where
    for<'a> &'a L: IntoLabel<'a>,
    C: IntoConfidence + Copy,
{
    fn prediction(&self) -> Prediction<'_> {
        Prediction {
            label: (&self.0).into_label(),
            confidence: self.1.into_confidence(),
        }
    }
}

impl<'l> IntoLabel<'l> for &'l &str {
    fn into_label(self) -> Option<Label<'l>> {
        Some(Label::Text(self))
    }
}
macro_rules! label_refs {
    ($($int:ty),*) => {$(
        impl<'l> IntoLabel<'l> for &'l $int {
            fn into_label(self) -> Option<Label<'l>> {
                (*self).into_label()
            }
        }
    )*};
}
label_refs!(i8, i16, i32, i64, u8, u16, u32, u64, isize, usize, bool);

/// `None` is a call that made no prediction: counted, without label or confidence.
impl<T: PredictionOutput> PredictionOutput for Option<T> {
    fn prediction(&self) -> Prediction<'_> {
        self.as_ref()
            .map(PredictionOutput::prediction)
            .unwrap_or_default()
    }
}

/// `Err` makes no prediction; `#[instrument_ml]` records it as an error whose
/// `error.type` comes from [`ErrorType`] or the error's type name.
impl<T: PredictionOutput, E> PredictionOutput for Result<T, E> {
    fn prediction(&self) -> Prediction<'_> {
        self.as_ref()
            .map(PredictionOutput::prediction)
            .unwrap_or_default()
    }
}

impl<T: PredictionOutput + ?Sized> PredictionOutput for &T {
    fn prediction(&self) -> Prediction<'_> {
        (**self).prediction()
    }
}
impl<T: PredictionOutput + ?Sized> PredictionOutput for Box<T> {
    fn prediction(&self) -> Prediction<'_> {
        (**self).prediction()
    }
}

/// The rows of a batch prediction (`#[instrument_ml(batch)]`): one label and confidence
/// per row, one duration for the call.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a batch of predictions, so #[instrument_ml(batch)] cannot count its rows",
    label = "the batch output type",
    note = "`batch` expects the function to return `Vec<T>`, `[T; N]`, `Box<[T]>` or a slice of per-row predictions (inside `Result` or `Option` is fine)"
)]
pub trait BatchOutput {
    /// The type of one row's prediction.
    type Row;
    /// The rows, in order.
    fn rows(&self) -> &[Self::Row];
}
impl<T> BatchOutput for Vec<T> {
    type Row = T;
    fn rows(&self) -> &[T] {
        self
    }
}
impl<T> BatchOutput for [T] {
    type Row = T;
    fn rows(&self) -> &[T] {
        self
    }
}
impl<T, const N: usize> BatchOutput for [T; N] {
    type Row = T;
    fn rows(&self) -> &[T] {
        self
    }
}
impl<T> BatchOutput for Box<[T]> {
    type Row = T;
    fn rows(&self) -> &[T] {
        self
    }
}
/// `None` is a batch that made no prediction: no rows.
impl<B: BatchOutput> BatchOutput for Option<B> {
    type Row = B::Row;
    fn rows(&self) -> &[B::Row] {
        self.as_ref().map_or(&[], BatchOutput::rows)
    }
}
impl<B: BatchOutput + ?Sized> BatchOutput for &B {
    type Row = B::Row;
    fn rows(&self) -> &[B::Row] {
        (**self).rows()
    }
}

/// The `error.type` of an error: a short, bounded class name such as `invalid_input`.
/// Without an impl, `#[instrument_ml]` uses the error's type name (`PredictError`).
///
/// ```
/// enum PredictError { BadShape, Timeout }
///
/// impl mlotel::ErrorType for PredictError {
///     fn error_type(&self) -> &'static str {
///         match self {
///             Self::BadShape => "invalid_input",
///             Self::Timeout => "timeout",
///         }
///     }
/// }
/// ```
pub trait ErrorType {
    /// The error's class; keep the set of values small, it becomes a metric attribute.
    fn error_type(&self) -> &'static str;
}

/// `my_crate::errors::PredictError<T>` → `PredictError`: the type's own name, without its
/// module path or generic arguments, as OpenTelemetry's `error.type` recommends.
pub(crate) fn short_type_name<E: ?Sized>() -> &'static str {
    let full = std::any::type_name::<E>();
    let without_generics = full.split('<').next().unwrap_or(full);
    without_generics
        .rsplit("::")
        .next()
        .unwrap_or(without_generics)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of<T: PredictionOutput + ?Sized>(output: &T) -> Prediction<'_> {
        output.prediction()
    }

    #[test]
    fn class_probabilities_give_argmax_and_max() {
        assert_eq!(
            of(&vec![0.1, 0.7, 0.2]),
            Prediction {
                label: Some(Label::Index(1)),
                confidence: Some(0.7)
            }
        );
        assert_eq!(of(&[0.6_f32, 0.4]).label, Some(Label::Index(0)));
        assert_eq!(of(&[f64::NAN, 0.2, 0.1][..]).label, Some(Label::Index(1)));
        assert_eq!(of(&Vec::<f64>::new()), Prediction::unlabelled());
    }

    #[test]
    fn shapes_give_labels() {
        assert_eq!(of(&("setosa", 0.9)).label, Some(Label::Text("setosa")));
        assert_eq!(of(&(String::from("b"), 0.5_f32)).confidence, Some(0.5));
        assert_eq!(of(&(3_i64, 0.5)).label, Some(Label::Integer(3)));
        assert_eq!(of(&2.5_f64), Prediction::unlabelled());
        assert_eq!(of(&true).label, Some(Label::Bool(true)));
        assert_eq!(of(&Some("x")).label, Some(Label::Text("x")));
        assert_eq!(of(&None::<String>), Prediction::unlabelled());
        let failed: Result<Vec<f64>, String> = Err("no".into());
        assert_eq!(of(&failed), Prediction::unlabelled());
    }

    #[test]
    fn type_names_are_short() {
        struct PredictError;
        assert_eq!(short_type_name::<PredictError>(), "PredictError");
        assert_eq!(short_type_name::<Vec<std::io::Error>>(), "Vec");
        assert_eq!(short_type_name::<std::io::Error>(), "Error");
    }
}
