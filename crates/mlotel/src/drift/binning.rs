//! Where an observation is counted: the flat bin index of a feature value, a predicted
//! label or a confidence, found on the recording path. The common case (a numeric value
//! within the reference's range, few edges) takes a fixed-size lookup ([`Binning::hot_bin`]).

use super::reference::{
    CategoricalProfile, FeatureProfile, FeatureValue, NumericProfile, Reference,
};

/// Where one feature's bins lie in the flat counters, and how to find a value's bin.
#[derive(Debug)]
struct FeatureSlot {
    offset: usize,
    lookup: Lookup,
}

#[derive(Debug)]
enum Lookup {
    Numeric(NumericProfile),
    /// Categories whose names are numbers, sorted by value, for values that arrive as
    /// numbers (`#[instrument_ml(features = ...)]` reads numbers); others go to "other".
    Categorical {
        by_value: Vec<(f64, usize)>,
        profile: CategoricalProfile,
    },
}

/// What binning a value of a numeric feature with few edges needs, in one fixed-size
/// block: the common case of an observation takes this path ([`DriftMonitor::hot_bin`]).
#[derive(Debug, Clone, Copy)]
struct HotNumeric {
    /// The edges, padded with NaN (never `<=` anything), so that counting them is a fixed
    /// number of vector compares with no loop tail.
    edges: [f64; HOT_EDGES],
    min: f64,
    max: f64,
    offset: usize,
}

/// Edges a [`HotNumeric`] holds: the default 10 bins have 9.
const HOT_EDGES: usize = 12;

/// Where an observation of one feature goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Binned {
    pub(crate) index: usize,
    pub(crate) out_of_range: bool,
}

/// One reference's bins laid out in one flat array of counters: each feature's, then the
/// label's and the confidence's.
#[derive(Debug)]
pub(crate) struct Binning {
    features: Vec<FeatureSlot>,
    /// Per feature, the fixed-size lookup of numeric features with up to [`HOT_EDGES`]
    /// edges.
    hot: Vec<Option<HotNumeric>>,
    label: Option<(usize, CategoricalProfile)>,
    confidence: Option<(usize, NumericProfile)>,
    bins: usize,
}

impl Binning {
    pub(crate) fn new(reference: &Reference) -> Self {
        let mut bins = 0;
        let features: Vec<FeatureSlot> = reference
            .features
            .iter()
            .map(|profile| {
                let offset = bins;
                bins += profile.bins();
                let lookup = match profile {
                    FeatureProfile::Numeric(numeric) => Lookup::Numeric(numeric.clone()),
                    FeatureProfile::Categorical(categorical) => {
                        let mut by_value: Vec<(f64, usize)> = categorical
                            .categories
                            .iter()
                            .enumerate()
                            .filter_map(|(bin, name)| {
                                name.trim().parse::<f64>().ok().map(|value| (value, bin))
                            })
                            .collect();
                        by_value.sort_by(|a, b| a.0.total_cmp(&b.0));
                        Lookup::Categorical {
                            by_value,
                            profile: categorical.clone(),
                        }
                    }
                };
                FeatureSlot { offset, lookup }
            })
            .collect();
        let hot = features
            .iter()
            .map(|slot| match &slot.lookup {
                Lookup::Numeric(profile) if profile.edges.len() <= HOT_EDGES => {
                    let mut edges = [f64::NAN; HOT_EDGES];
                    edges[..profile.edges.len()].copy_from_slice(&profile.edges);
                    Some(HotNumeric {
                        edges,
                        min: profile.min,
                        max: profile.max,
                        offset: slot.offset,
                    })
                }
                _ => None,
            })
            .collect();
        let label = reference.label.clone().map(|profile| {
            let offset = bins;
            bins += profile.bins();
            (offset, profile)
        });
        let confidence = reference.confidence.clone().map(|profile| {
            let offset = bins;
            bins += profile.bins();
            (offset, profile)
        });
        Self {
            features,
            hot,
            label,
            confidence,
            bins,
        }
    }

    /// Counters in all.
    pub(crate) fn bins(&self) -> usize {
        self.bins
    }

    /// Where feature `feature`'s bins start.
    pub(crate) fn feature_offset(&self, feature: usize) -> Option<usize> {
        self.features.get(feature).map(|slot| slot.offset)
    }

    /// Where the label's bins start, with its profile.
    pub(crate) fn label(&self) -> Option<&(usize, CategoricalProfile)> {
        self.label.as_ref()
    }

    /// Where the confidence's bins start, with its profile.
    pub(crate) fn confidence(&self) -> Option<&(usize, NumericProfile)> {
        self.confidence.as_ref()
    }

    /// Where value `value` of feature `feature` is counted; `None` for a feature the
    /// reference does not have.
    #[inline]
    pub(crate) fn bin_of_feature(&self, feature: usize, value: Option<f64>) -> Option<Binned> {
        let slot = self.features.get(feature)?;
        let (bin, out_of_range) = match &slot.lookup {
            Lookup::Numeric(profile) => match value {
                Some(value) if !value.is_nan() => (
                    value_bin(&profile.edges, value),
                    profile.is_out_of_range(value),
                ),
                _ => (profile.missing_bin(), false),
            },
            Lookup::Categorical { by_value, profile } => match value.filter(|v| !v.is_nan()) {
                None => (profile.missing_bin(), false),
                Some(value) => {
                    let found = by_value
                        .binary_search_by(|(category, _)| category.total_cmp(&value))
                        .ok()
                        .map(|index| by_value[index].1);
                    (found.unwrap_or(profile.other_bin()), false)
                }
            },
        };
        Some(Binned {
            index: slot.offset + bin,
            out_of_range,
        })
    }

    /// The bin of `value` of feature `feature` when that is the common case: a numeric
    /// feature with up to [`HOT_EDGES`] edges and a value within the reference's range
    /// (so neither missing nor out of range). `None` otherwise: ask
    /// [`bin_of_feature`](Self::bin_of_feature). Same answer as `bin_of_feature` where both
    /// answer.
    #[inline]
    pub(crate) fn hot_bin(&self, feature: usize, value: f64) -> Option<usize> {
        let hot = self.hot.get(feature)?.as_ref()?;
        // False for NaN and for values outside min..=max (±∞ included).
        if !(value >= hot.min && value <= hot.max) {
            return None;
        }
        let bin: usize = hot
            .edges
            .iter()
            .map(|edge| usize::from(*edge <= value))
            .sum();
        Some(hot.offset + bin)
    }

    /// Where a value given as text is counted: its category for a categorical feature, its
    /// number for a numeric one (text that is not a number is missing there).
    pub(crate) fn bin_of_value(&self, feature: usize, value: &FeatureValue<'_>) -> Option<Binned> {
        let slot = self.features.get(feature)?;
        match (&slot.lookup, value) {
            (Lookup::Categorical { profile, .. }, FeatureValue::Category(category)) => {
                Some(Binned {
                    index: slot.offset + profile.bin(Some(category)),
                    out_of_range: false,
                })
            }
            (_, FeatureValue::Number(number)) => {
                self.bin_of_feature(feature, Some(*number).filter(|number| !number.is_nan()))
            }
            (_, FeatureValue::Category(text)) => {
                self.bin_of_feature(feature, text.trim().parse::<f64>().ok())
            }
            (_, FeatureValue::Missing) => self.bin_of_feature(feature, None),
        }
    }

    /// Where a predicted label is counted.
    #[inline]
    pub(crate) fn bin_of_label(&self, label: Option<&str>) -> Option<usize> {
        let (offset, profile) = self.label.as_ref()?;
        Some(offset + profile.bin(label))
    }

    /// Where a confidence is counted (a prediction without one is not).
    #[inline]
    pub(crate) fn bin_of_confidence(&self, confidence: Option<f64>) -> Option<usize> {
        let (offset, profile) = self.confidence.as_ref()?;
        Some(offset + profile.bin(confidence?))
    }
}

/// Edges up to which counting beats a binary search.
const COUNTED_EDGES: usize = 32;

/// The value bin of a non-NaN `value`: the number of edges at or below it, which for sorted
/// edges is their `partition_point`. Up to [`COUNTED_EDGES`] edges are counted with
/// independent comparisons the compiler turns into vector code, with no chain of dependent
/// loads as in a binary search (about 3 ns against 12 ns for 9 edges here); more are
/// searched.
#[inline]
fn value_bin(edges: &[f64], value: f64) -> usize {
    if edges.len() <= COUNTED_EDGES {
        edges.iter().map(|edge| usize::from(*edge <= value)).sum()
    } else {
        edges.partition_point(|edge| *edge <= value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::reference::FitOptions;

    /// Two numeric features: `a` uniform over 0..100, `b` uniform over 0..10.
    fn reference() -> Reference {
        let rows: Vec<[f64; 2]> = (0..1_000)
            .map(|row| [f64::from(row % 100), f64::from(row % 10)])
            .collect();
        Reference::fit_numeric(&rows, &["a", "b"], FitOptions::default()).expect("fits")
    }

    /// The fixed-size path answers exactly where `bin_of_feature` says "this bin, in range",
    /// and leaves every other case (NaN, ±∞, out of range, too many edges) to it.
    #[test]
    fn the_hot_path_agrees_with_the_general_lookup() {
        let rows: Vec<[f64; 3]> = (0..1_000)
            .map(|row| {
                [
                    f64::from(row % 100),
                    f64::from(row % 10),
                    f64::from(row) / 7.0,
                ]
            })
            .collect();
        let mut binnings = vec![Binning::new(&reference())];
        for bins in [1, 4, 13, 40] {
            let reference = Reference::fit_numeric(
                &rows,
                &["a", "b", "c"],
                FitOptions {
                    bins,
                    ..FitOptions::default()
                },
            )
            .expect("fits");
            binnings.push(Binning::new(&reference));
        }
        let mut values = vec![
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            1e300,
            -1e300,
        ];
        values.extend((-200..1_600).map(|step| f64::from(step) / 10.0));
        for binning in &binnings {
            for feature in 0..binning.features.len() {
                let Lookup::Numeric(profile) = &binning.features[feature].lookup else {
                    unreachable!("numeric reference")
                };
                values.extend(profile.edges.iter().copied());
                values.extend([profile.min, profile.max]);
                for &value in &values {
                    let general = binning.bin_of_feature(feature, Some(value));
                    let in_range = general.is_some_and(|binned| !binned.out_of_range)
                        && value >= profile.min
                        && value <= profile.max;
                    let expected = (in_range && profile.edges.len() <= HOT_EDGES)
                        .then(|| general.map(|binned| binned.index))
                        .flatten();
                    assert_eq!(
                        binning.hot_bin(feature, value),
                        expected,
                        "feature {feature}, {} edges, value {value}",
                        profile.edges.len()
                    );
                }
            }
        }
    }

    #[test]
    fn counting_edges_finds_the_same_bin_as_searching_them() {
        for edges in [
            vec![],
            vec![1.0],
            vec![-2.0, 0.0, 0.5, 3.0],
            (0..40).map(f64::from).collect::<Vec<_>>(),
        ] {
            for value in [
                -10.0,
                -2.0,
                -1.0,
                0.0,
                0.25,
                0.5,
                3.0,
                3.5,
                39.0,
                100.0,
                f64::INFINITY,
                f64::NEG_INFINITY,
            ] {
                assert_eq!(
                    value_bin(&edges, value),
                    edges.partition_point(|edge| *edge <= value),
                    "{value} in {edges:?}"
                );
            }
        }
    }
}
