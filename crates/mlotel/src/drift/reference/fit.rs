//! Fitting profiles from columns of reference values.

use std::collections::{HashMap, HashSet};

use super::{
    CategoricalProfile, FeatureKind, FeatureProfile, FeatureValue, FitOptions, MAX_BINS,
    NumericProfile, Reference, ReferenceError, SCHEMA_VERSION, Schema,
};

/// One feature's reference values, transposed out of the rows.
pub(super) enum Column<'a> {
    /// NaN = missing; every other value finite.
    Numeric(Vec<f64>),
    /// `None` = missing.
    Categorical(Vec<Option<&'a str>>),
}

impl Reference {
    /// Fits a reference from training rows, one [`FeatureValue`] per schema feature in schema
    /// order.
    ///
    /// Numeric features take [`FeatureValue::Number`] (NaN is missing; ±∞ is an error) or
    /// [`FeatureValue::Missing`]; categorical features take [`FeatureValue::Category`] or
    /// [`FeatureValue::Missing`]. A feature whose values are all missing is fine (a single
    /// value bin, missing proportion 1); no rows at all is [`ReferenceError::Empty`].
    ///
    /// Cost: one sort per numeric feature, O(n log n).
    pub fn fit<'a, R: AsRef<[FeatureValue<'a>]>>(
        rows: impl IntoIterator<Item = R>,
        schema: &Schema,
        options: FitOptions,
    ) -> Result<Reference, ReferenceError> {
        check_options(options)?;
        check_names(schema.names())?;
        let mut columns: Vec<Column<'a>> = schema
            .iter()
            .map(|(_, kind)| match kind {
                FeatureKind::Numeric => Column::Numeric(Vec::new()),
                FeatureKind::Categorical => Column::Categorical(Vec::new()),
            })
            .collect();
        let mut row_count: u64 = 0;
        for row in rows {
            let row = row.as_ref();
            if row.len() != schema.len() {
                return Err(ReferenceError::RowLength {
                    row: row_count,
                    expected: schema.len(),
                    found: row.len(),
                });
            }
            for ((column, value), (name, _)) in columns.iter_mut().zip(row).zip(schema.iter()) {
                let wrong = |message: String| ReferenceError::Value {
                    row: row_count,
                    feature: name.to_owned(),
                    message,
                };
                match (column, value) {
                    (Column::Numeric(values), FeatureValue::Number(x)) => {
                        if x.is_infinite() {
                            return Err(wrong(format!("infinite value {x}")));
                        }
                        values.push(*x);
                    }
                    (Column::Numeric(values), FeatureValue::Missing) => values.push(f64::NAN),
                    (Column::Categorical(values), FeatureValue::Category(c)) => {
                        values.push(Some(*c));
                    }
                    (Column::Categorical(values), FeatureValue::Missing) => values.push(None),
                    (Column::Numeric(_), FeatureValue::Category(c)) => {
                        return Err(wrong(format!("numeric feature given category `{c}`")));
                    }
                    (Column::Categorical(_), FeatureValue::Number(x)) => {
                        return Err(wrong(format!("categorical feature given number {x}")));
                    }
                }
            }
            row_count += 1;
        }
        if row_count == 0 {
            return Err(ReferenceError::Empty {
                what: "no rows".to_owned(),
            });
        }
        from_columns(schema.names().zip(columns), row_count, options)
    }

    /// Fits a reference whose features are all numeric, named `names` in row order; NaN is
    /// missing. See [`fit`](Self::fit).
    pub fn fit_numeric<R: AsRef<[f64]>>(
        rows: impl IntoIterator<Item = R>,
        names: &[&str],
        options: FitOptions,
    ) -> Result<Reference, ReferenceError> {
        let schema = names
            .iter()
            .fold(Schema::new(), |schema, name| schema.numeric(*name));
        let rows = rows.into_iter().map(|row| {
            row.as_ref()
                .iter()
                .map(|x| FeatureValue::Number(*x))
                .collect::<Vec<_>>()
        });
        Self::fit(rows, &schema, options)
    }

    /// Adds the reference distributions of the model's predictions: `labels` fit the
    /// categorical [`label`](Self::label) profile (named `label`), `confidences` the numeric
    /// [`confidence`](Self::confidence) profile (named `confidence`; NaN is missing, ±∞ an
    /// error). An empty iterator leaves its profile unset (`None`), so either may be fitted
    /// alone. The two need not come from the same rows as the features.
    pub fn with_predictions<'a>(
        mut self,
        labels: impl IntoIterator<Item = &'a str>,
        confidences: impl IntoIterator<Item = f64>,
        options: FitOptions,
    ) -> Result<Reference, ReferenceError> {
        check_options(options)?;
        let labels: Vec<Option<&str>> = labels.into_iter().map(Some).collect();
        if !labels.is_empty() {
            self.label = Some(fit_categorical("label", &labels, options.top_categories));
        }
        let mut values = Vec::new();
        for (row, x) in confidences.into_iter().enumerate() {
            if x.is_infinite() {
                return Err(ReferenceError::Value {
                    row: row as u64,
                    feature: "confidence".to_owned(),
                    message: format!("infinite value {x}"),
                });
            }
            values.push(x);
        }
        if !values.is_empty() {
            self.confidence = Some(fit_numeric("confidence", &values, options.bins));
        }
        self.validate()?;
        Ok(self)
    }
}

pub(super) fn check_options(options: FitOptions) -> Result<(), ReferenceError> {
    if options.bins == 0 || options.bins > MAX_BINS {
        return Err(ReferenceError::Options {
            what: "bins".to_owned(),
            message: format!("must be between 1 and {MAX_BINS}, got {}", options.bins),
        });
    }
    Ok(())
}

pub(super) fn check_names<'n>(names: impl Iterator<Item = &'n str>) -> Result<(), ReferenceError> {
    let mut seen = HashSet::new();
    for (index, name) in names.enumerate() {
        let problem = if name.is_empty() {
            "empty feature name".to_owned()
        } else if !seen.insert(name) {
            format!("duplicate feature name `{name}`")
        } else {
            continue;
        };
        return Err(ReferenceError::Options {
            what: format!("schema[{index}]"),
            message: problem,
        });
    }
    Ok(())
}

/// Builds (and validates) a reference from already-checked columns of `rows` values each.
pub(super) fn from_columns<'n, 'a>(
    columns: impl IntoIterator<Item = (&'n str, Column<'a>)>,
    rows: u64,
    options: FitOptions,
) -> Result<Reference, ReferenceError> {
    let features = columns
        .into_iter()
        .map(|(name, column)| match column {
            Column::Numeric(values) => {
                FeatureProfile::Numeric(fit_numeric(name, &values, options.bins))
            }
            Column::Categorical(values) => {
                FeatureProfile::Categorical(fit_categorical(name, &values, options.top_categories))
            }
        })
        .collect();
    let reference = Reference {
        schema_version: SCHEMA_VERSION,
        rows,
        features,
        label: None,
        confidence: None,
    };
    // Catches what fitting cannot rule out cheaply, e.g. a mean overflowing to infinity.
    reference.validate()?;
    Ok(reference)
}

/// Fits a numeric profile; `values` are finite or NaN (missing), at least one of them.
pub(super) fn fit_numeric(name: &str, values: &[f64], bins: usize) -> NumericProfile {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    sorted.sort_unstable_by(f64::total_cmp);
    let count = sorted.len();
    let missing = values.len() - count;
    let mut profile = NumericProfile {
        name: name.to_owned(),
        edges: Vec::new(),
        proportions: Vec::new(),
        count: count as u64,
        missing: missing as u64,
        mean: 0.0,
        std: 0.0,
        min: 0.0,
        max: 0.0,
        tail_means: None,
        calibration: None,
    };
    if let (Some(min), Some(max)) = (sorted.first(), sorted.last()) {
        profile.min = *min;
        profile.max = *max;
        let (mean, std) = mean_std(&sorted);
        profile.mean = mean;
        profile.std = std;
        profile.edges = quantile_edges(&sorted, bins);
        profile.tail_means = tail_means(&sorted, &profile.edges);
    }
    let mut counts = vec![0u64; profile.bins()];
    for x in values {
        counts[profile.bin(*x)] += 1;
    }
    profile.proportions = proportions(&counts, values.len());
    profile
}

/// Mean and population standard deviation of non-empty finite `values`: two passes, the
/// mean corrected by the mean residual (exact for constant data).
fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let sum: f64 = values.iter().sum();
    let mut mean = if sum.is_finite() {
        sum / n
    } else {
        // Values near f64::MAX: dividing first keeps the sum finite.
        values.iter().map(|x| x / n).sum()
    };
    let correction: f64 = values.iter().map(|x| (x - mean) / n).sum();
    mean += if correction.is_finite() {
        correction
    } else {
        // A deviation beyond f64::MAX (values of both signs near it): divide first.
        values.iter().map(|x| x / n - mean / n).sum()
    };
    let var = values.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    if var.is_finite() {
        return (mean, var.sqrt());
    }
    // Squared deviations overflow (found by the reference_csv fuzz target on 1e308 and
    // 1.1e9): the standard deviation of half the deviations, scaled by the largest one so
    // that no square overflows, times two. It cannot exceed f64::MAX for finite values.
    let halves: Vec<f64> = values.iter().map(|x| x / 2.0 - mean / 2.0).collect();
    let scale = halves
        .iter()
        .fold(0.0_f64, |largest, d| largest.max(d.abs()));
    let scaled = halves
        .iter()
        .map(|d| (d / scale) * (d / scale))
        .sum::<f64>()
        / n;
    (mean, (2.0 * scale * scaled.sqrt()).min(f64::MAX))
}

/// Means of the sorted values below the first edge and at or above the last one; a tail
/// without values gets its edge (it adds no distance). `None` without edges.
fn tail_means(sorted: &[f64], edges: &[f64]) -> Option<[f64; 2]> {
    let (first, last) = (*edges.first()?, *edges.last()?);
    let below = sorted.partition_point(|x| *x < first);
    let above = sorted.partition_point(|x| *x < last);
    let mean_or = |values: &[f64], empty: f64| {
        if values.is_empty() {
            empty
        } else {
            mean_std(values).0
        }
    };
    Some([
        mean_or(&sorted[..below], first),
        mean_or(&sorted[above..], last),
    ])
}

/// Inner edges for `bins` quantile bins of non-empty sorted finite `sorted`: the quantiles
/// i/bins (i = 1..bins-1) with numpy's default (linear) method, duplicates dropped.
pub(super) fn quantile_edges(sorted: &[f64], bins: usize) -> Vec<f64> {
    let mut edges: Vec<f64> = Vec::with_capacity(bins.saturating_sub(1));
    for i in 1..bins {
        let q = i as f64 / bins as f64;
        let edge = quantile_linear(sorted, q);
        // Strictly increasing: ties (and any rounding wobble) collapse.
        if edges.last().is_none_or(|last| edge > *last) {
            edges.push(edge);
        }
    }
    // A constant feature (every value on one side of every edge) keeps no edges: the only
    // edge could be min itself, which would leave an always-empty bin below it.
    if sorted.first() == sorted.last() {
        edges.clear();
    }
    edges
}

/// `numpy.quantile(sorted, q)` with `method="linear"` for non-empty sorted data and q in
/// [0, 1]: virtual index (n - 1)·q, then numpy's `_lerp` between its neighbours.
pub(super) fn quantile_linear(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    let last = n.saturating_sub(1);
    let virtual_index = last as f64 * q;
    let below = virtual_index.floor();
    let gamma = virtual_index - below;
    let lo = (below as usize).min(last);
    let hi = (lo + 1).min(last);
    let (a, b) = (sorted[lo], sorted[hi]);
    let diff = b - a;
    if !diff.is_finite() {
        // Neighbours of both signs near f64::MAX: numpy's formula overflows to ±∞; this one
        // cannot (numpy's result whenever that is finite is kept above).
        return a * (1.0 - gamma) + b * gamma;
    }
    if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    }
}

/// Fits a categorical profile; `values` has at least one entry, `None` is missing.
pub(super) fn fit_categorical(
    name: &str,
    values: &[Option<&str>],
    top_categories: usize,
) -> CategoricalProfile {
    let mut frequencies: HashMap<&str, u64> = HashMap::new();
    let mut missing = 0u64;
    for value in values {
        match value {
            Some(value) => *frequencies.entry(value).or_default() += 1,
            None => missing += 1,
        }
    }
    let mut ranked: Vec<(&str, u64)> = frequencies.into_iter().collect();
    ranked.sort_unstable_by(|(a, fa), (b, fb)| fb.cmp(fa).then_with(|| a.cmp(b)));
    let kept = ranked.len().min(top_categories);
    let categories: Vec<String> = ranked[..kept]
        .iter()
        .map(|(c, _)| (*c).to_owned())
        .collect();
    let mut counts: Vec<u64> = ranked[..kept].iter().map(|(_, n)| *n).collect();
    counts.push(ranked[kept..].iter().map(|(_, n)| n).sum());
    counts.push(missing);
    CategoricalProfile {
        name: name.to_owned(),
        categories,
        proportions: proportions(&counts, values.len()),
        count: values.len() as u64 - missing,
        missing,
        calibration: None,
    }
}

fn proportions(counts: &[u64], total: usize) -> Vec<f64> {
    let total = total as f64;
    counts.iter().map(|n| *n as f64 / total).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression tests for the `reference_csv` fuzz target's find: finite values near
    /// f64::MAX gave an infinite standard deviation (or edge, or mean), which the fit's own
    /// validation then refused.
    #[test]
    fn values_near_the_largest_float_fit_a_valid_reference() {
        for csv in [
            "x\n1e308\n11e08\n",
            "x\n1e308\n1.7e308\n-1.7e308\n",
            "x\n-1.7976931348623157e308\n1.7976931348623157e308\n",
        ] {
            let reference =
                Reference::from_csv_reader(csv.as_bytes(), super::super::CsvOptions::default())
                    .unwrap_or_else(|error| panic!("{csv:?}: {error}"));
            let profile = reference.features[0].as_numeric().expect("numeric");
            assert!(
                profile.mean.is_finite() && profile.std.is_finite(),
                "{profile:?}"
            );
            assert!(profile.std > 0.0, "{profile:?}");
            assert!(
                profile.edges.windows(2).all(|pair| pair[0] < pair[1]),
                "{profile:?}"
            );
            assert!(
                profile.edges.iter().all(|edge| edge.is_finite()),
                "{profile:?}"
            );
        }
        // Two values: the population standard deviation is half their distance.
        let (mean, std) = mean_std(&[1e308, 1.1e9]);
        assert!((mean / 5e307 - 1.0).abs() < 1e-12, "{mean}");
        assert!((std / 5e307 - 1.0).abs() < 1e-12, "{std}");
        let (mean, std) = mean_std(&[-1.7e308, 1.7e308]);
        assert_eq!(mean, 0.0);
        assert!((std / 1.7e308 - 1.0).abs() < 1e-12, "{std}");
    }

    #[test]
    fn quantiles_of_one_value_are_that_value() {
        assert_eq!(quantile_linear(&[3.0], 0.5), 3.0);
        assert_eq!(quantile_linear(&[3.0], 1.0), 3.0);
        assert!(quantile_edges(&[3.0], 10).is_empty());
    }

    #[test]
    fn lerp_switches_formula_at_one_half_like_numpy() {
        // numpy: q=0.5 over [0, 1] is b - (b - a) * 0.5.
        assert_eq!(quantile_linear(&[0.0, 1.0], 0.5), 0.5);
        assert_eq!(quantile_linear(&[1.0, 2.0, 4.0], 0.75), 3.0);
    }
}
