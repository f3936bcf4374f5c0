//! Model inputs as seen by `#[instrument_ml(features = ...)]`: one row of numeric feature
//! values ([`FeatureRow`]) or a batch of rows ([`FeatureRows`]). A missing value is `None`
//! or NaN.

/// One row of feature values, in the model's feature order.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a row of feature values, so #[instrument_ml(features = ...)] cannot read it",
    label = "the features argument",
    note = "`features` expects `[f64; N]`, `&[f64]`, `Vec<f64>` (or `f32`, or `Option<f64>` for missing values); for a batch add `batch`"
)]
pub trait FeatureRow {
    /// Calls `visit(index, value)` for each feature; `None` is a missing value.
    fn for_each_feature(&self, visit: impl FnMut(usize, Option<f64>));
}

/// A batch of rows.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a batch of feature rows, so #[instrument_ml(batch, features = ...)] cannot read it",
    label = "the features argument",
    note = "with `batch`, `features` expects `&[[f64; N]]`, `Vec<Vec<f64>>` or a slice of rows"
)]
pub trait FeatureRows {
    /// The type of one row.
    type Row: FeatureRow;
    /// The rows, in order.
    fn feature_rows(&self) -> &[Self::Row];
}

/// A number a row holds: `f64`, `f32`, or an `Option` of either for a missing value.
trait NumericValue: Copy {
    fn value(self) -> Option<f64>;
}
impl NumericValue for f64 {
    fn value(self) -> Option<f64> {
        Some(self)
    }
}
impl NumericValue for f32 {
    fn value(self) -> Option<f64> {
        Some(f64::from(self))
    }
}
impl<V: NumericValue> NumericValue for Option<V> {
    fn value(self) -> Option<f64> {
        self.and_then(NumericValue::value)
    }
}

fn visit_values<V: NumericValue>(values: &[V], mut visit: impl FnMut(usize, Option<f64>)) {
    for (index, value) in values.iter().enumerate() {
        visit(index, value.value().filter(|value| !value.is_nan()));
    }
}

macro_rules! rows_of {
    ($($value:ty),*) => {$(
        impl FeatureRow for [$value] {
            fn for_each_feature(&self, visit: impl FnMut(usize, Option<f64>)) {
                visit_values(self, visit);
            }
        }
        impl<const N: usize> FeatureRow for [$value; N] {
            fn for_each_feature(&self, visit: impl FnMut(usize, Option<f64>)) {
                visit_values(self, visit);
            }
        }
        impl FeatureRow for Vec<$value> {
            fn for_each_feature(&self, visit: impl FnMut(usize, Option<f64>)) {
                visit_values(self, visit);
            }
        }
    )*};
}
rows_of!(f64, f32, Option<f64>, Option<f32>);

impl<R: FeatureRow + ?Sized> FeatureRow for &R {
    fn for_each_feature(&self, visit: impl FnMut(usize, Option<f64>)) {
        (**self).for_each_feature(visit);
    }
}
impl<R: FeatureRow + ?Sized> FeatureRow for Box<R> {
    fn for_each_feature(&self, visit: impl FnMut(usize, Option<f64>)) {
        (**self).for_each_feature(visit);
    }
}

impl<R: FeatureRow> FeatureRows for [R] {
    type Row = R;
    fn feature_rows(&self) -> &[R] {
        self
    }
}
impl<R: FeatureRow, const N: usize> FeatureRows for [R; N] {
    type Row = R;
    fn feature_rows(&self) -> &[R] {
        self
    }
}
impl<R: FeatureRow> FeatureRows for Vec<R> {
    type Row = R;
    fn feature_rows(&self) -> &[R] {
        self
    }
}
impl<B: FeatureRows + ?Sized> FeatureRows for &B {
    type Row = B::Row;
    fn feature_rows(&self) -> &[B::Row] {
        (**self).feature_rows()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(row: &impl FeatureRow) -> Vec<Option<f64>> {
        let mut values = Vec::new();
        row.for_each_feature(|index, value| {
            assert_eq!(index, values.len());
            values.push(value);
        });
        values
    }

    #[test]
    fn nan_and_none_are_missing() {
        assert_eq!(collect(&[1.0, f64::NAN]), [Some(1.0), None]);
        assert_eq!(collect(&vec![Some(2.0_f32), None]), [Some(2.0), None]);
        assert_eq!(collect(&&[3.0][..]), [Some(3.0)]);
        let batch = vec![[1.0, 2.0], [3.0, 4.0]];
        assert_eq!(batch.feature_rows().len(), 2);
    }
}
