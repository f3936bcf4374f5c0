//! The two iris classifiers: multinomial logistic regression (linfa-logistic) trained at
//! start-up on 80 % of the iris data set linfa-datasets embeds, each registered with mlotel
//! with its labels, features and a drift reference fitted from its training rows and its own
//! predictions on them.

use std::time::{Duration, Instant};

use linfa::prelude::*;
use linfa_logistic::{MultiFittedLogisticRegression, MultiLogisticRegression};
use mlotel::drift::Window;
use mlotel::drift::reference::{FitOptions, Reference};
use mlotel::{Label, Model, Prediction, PredictionOutput as _};
use ndarray::{Array1, Array2};

/// The model name, in routes and telemetry.
pub(crate) const MODEL: &str = "iris";
/// Class labels, in the order of the data set's class ids.
pub(crate) const LABELS: [&str; 3] = ["setosa", "versicolor", "virginica"];
/// Feature names, in the order of a row (centimetres).
pub(crate) const FEATURES: [&str; 4] =
    ["sepal_length", "sepal_width", "petal_length", "petal_width"];
/// Seed of the shuffle before the 80/20 split: the same split at every start.
const SHUFFLE_SEED: u64 = 0x6d6c_6f74_656c;
/// Share of the rows used for training.
const TRAIN_SHARE: f64 = 0.8;
/// L2 weight of version 2.0.0.
const ALPHA_V2: f64 = 6.0;
/// Optimiser iterations.
const MAX_ITERATIONS: u64 = 100;

/// A served version of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    /// `1.0.0`: almost no regularisation.
    V1,
    /// `2.0.0` (the default): strong L2 regularisation.
    V2,
}

impl Version {
    /// Every version, oldest first.
    pub(crate) const ALL: [Version; 2] = [Version::V1, Version::V2];
    /// What `/v1/models/{model}:predict` uses.
    pub(crate) const DEFAULT: Version = Version::V2;

    /// The version string.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Version::V1 => "1.0.0",
            Version::V2 => "2.0.0",
        }
    }

    /// Position in [`Version::ALL`].
    pub(crate) fn index(self) -> usize {
        match self {
            Version::V1 => 0,
            Version::V2 => 1,
        }
    }

    /// The version named `text`, if it is served.
    pub(crate) fn parse(text: &str) -> Option<Version> {
        Version::ALL
            .into_iter()
            .find(|version| version.as_str() == text)
    }

    /// The L2 weight of this version's training.
    fn alpha(self) -> f64 {
        match self {
            Version::V1 => 1e-4,
            Version::V2 => ALPHA_V2,
        }
    }
}

/// One trained version.
pub(crate) struct Classifier {
    /// Which version.
    pub(crate) version: Version,
    /// L2 weight it was trained with.
    pub(crate) alpha: f64,
    /// Hold-out accuracy (share of the 20 % test rows classified right).
    pub(crate) accuracy: f64,
    /// Rows trained on, and rows held out.
    pub(crate) train_rows: usize,
    /// Rows held out.
    pub(crate) test_rows: usize,
    /// Mean confidence on the training rows.
    pub(crate) train_mean_confidence: f64,
    /// mlotel's handle of this version.
    pub(crate) model: Model,
    /// `[min, max]` of each feature over the training rows.
    ranges: [(f64, f64); 4],
    fitted: MultiFittedLogisticRegression<f64, usize>,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("version", &self.version)
            .field("alpha", &self.alpha)
            .field("accuracy", &self.accuracy)
            .finish_non_exhaustive()
    }
}

impl Classifier {
    /// Class probabilities of each row, in [`LABELS`] order.
    pub(crate) fn probabilities(&self, rows: &[[f64; 4]]) -> Vec<[f64; 3]> {
        probabilities(&self.fitted, rows)
    }

    /// The values of `row` more than [`FAR_OUT_OF_RANGE_WIDTHS`] widths of their feature's
    /// training range below its minimum or above its maximum.
    pub(crate) fn far_out_of_range(&self, row: &[f64; 4]) -> Vec<FarOutOfRange> {
        row.iter()
            .zip(self.ranges)
            .enumerate()
            .filter_map(|(feature, (&value, (min, max)))| {
                let margin = (max - min) * FAR_OUT_OF_RANGE_WIDTHS;
                (value < min - margin || value > max + margin).then_some(FarOutOfRange {
                    feature,
                    value,
                    reference_min: min,
                    reference_max: max,
                })
            })
            .collect()
    }
}

/// Class probabilities of each row under `fitted`, in [`LABELS`] order.
fn probabilities(
    fitted: &MultiFittedLogisticRegression<f64, usize>,
    rows: &[[f64; 4]],
) -> Vec<[f64; 3]> {
    if rows.is_empty() {
        return Vec::new();
    }
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    let Ok(records) = Array2::from_shape_vec((rows.len(), FEATURES.len()), flat) else {
        return Vec::new(); // unreachable: the shape is rows × 4 by construction
    };
    let scores = fitted.predict_probabilities(&records);
    let classes = fitted.classes();
    scores
        .rows()
        .into_iter()
        .map(|row| {
            let mut probabilities = [0.0; 3];
            for (column, &class) in classes.iter().enumerate() {
                if let (Some(slot), Some(p)) = (probabilities.get_mut(class), row.get(column)) {
                    *slot = *p;
                }
            }
            probabilities
        })
        .collect()
}

/// Both versions.
#[derive(Debug)]
pub(crate) struct Models {
    versions: [Classifier; 2],
}

impl Models {
    /// The classifier of `version`.
    pub(crate) fn get(&self, version: Version) -> &Classifier {
        &self.versions[version.index()]
    }
}

/// The predicted class and its probability, read by mlotel's own rule for class
/// probabilities (`mlotel::PredictionOutput`), so the response and the metrics always name
/// the same label; `None` when no probability is a finite number.
pub(crate) fn argmax(probabilities: &[f64; 3]) -> Option<(usize, f64)> {
    match probabilities.prediction() {
        Prediction {
            label: Some(Label::Index(class)),
            confidence: Some(confidence),
        } => Some((class, confidence)),
        _ => None,
    }
}

/// Widths of a feature's reference range (`max - min` of the training rows) a value may lie
/// beyond `min` or `max` before it is flagged as far out of range (docs/predictor.md).
pub(crate) const FAR_OUT_OF_RANGE_WIDTHS: f64 = 1.0;

/// A feature value far outside the range the model was trained on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FarOutOfRange {
    /// Index of the feature in [`FEATURES`].
    pub(crate) feature: usize,
    /// The value sent.
    pub(crate) value: f64,
    /// Smallest training value of the feature.
    pub(crate) reference_min: f64,
    /// Largest training value of the feature.
    pub(crate) reference_max: f64,
}

impl FarOutOfRange {
    /// `petal_width 100 is far outside the training range 0.1..2.5`.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{} {} is far outside the training range {}..{}",
            FEATURES[self.feature],
            readable(self.value),
            self.reference_min,
            self.reference_max
        )
    }
}

/// A number as people read it: `1e308` rather than its 309 digits.
fn readable(value: f64) -> String {
    if value != 0.0 && !(1e-4..1e6).contains(&value.abs()) {
        format!("{value:e}")
    } else {
        value.to_string()
    }
}

/// The `[min, max]` of each feature in the training rows, as the drift reference holds them.
fn reference_ranges(reference: &Reference) -> Result<[(f64, f64); 4], String> {
    let mut ranges = [(0.0, 0.0); 4];
    for (range, name) in ranges.iter_mut().zip(FEATURES) {
        let profile = reference
            .feature(name)
            .and_then(|feature| feature.as_numeric())
            .ok_or_else(|| format!("the drift reference has no numeric feature {name}"))?;
        *range = (profile.min, profile.max);
    }
    Ok(ranges)
}

/// How each version's drift is watched (`--drift-window`, `--drift-min-observations`)
/// and its predictions kept for feedback (`--prediction-store-*`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DriftWatch {
    pub(crate) window: Duration,
    pub(crate) min_observations: u64,
    pub(crate) store_capacity: usize,
    pub(crate) store_max_age: Duration,
}

/// Trains both versions and registers each with mlotel (loaded, with its load time).
pub(crate) fn train(drift: DriftWatch) -> Result<Models, String> {
    let dataset = linfa_datasets::iris();
    let records = dataset.records().to_owned();
    let targets = dataset.targets().to_owned();
    let order = permutation(records.nrows(), SHUFFLE_SEED);
    let split = (records.nrows() as f64 * TRAIN_SHARE).round() as usize;
    let (train_order, test_order) = order.split_at(split);
    let take = |order: &[usize]| -> (Array2<f64>, Array1<usize>) {
        (
            records.select(ndarray::Axis(0), order),
            targets.select(ndarray::Axis(0), order),
        )
    };
    let (train_x, train_y) = take(train_order);
    let (test_x, test_y) = take(test_order);
    let train_set = Dataset::new(train_x.clone(), train_y);
    let train_rows: Vec<[f64; 4]> = train_x
        .rows()
        .into_iter()
        .map(|row| [row[0], row[1], row[2], row[3]])
        .collect();
    let test_rows: Vec<[f64; 4]> = test_x
        .rows()
        .into_iter()
        .map(|row| [row[0], row[1], row[2], row[3]])
        .collect();

    let mut trained = Vec::with_capacity(Version::ALL.len());
    for version in Version::ALL {
        let started = Instant::now();
        let fitted = MultiLogisticRegression::default()
            .alpha(version.alpha())
            .max_iterations(MAX_ITERATIONS)
            .fit(&train_set)
            .map_err(|error| format!("training iris {}: {error}", version.as_str()))?;
        // Hold-out accuracy.
        let correct = probabilities(&fitted, &test_rows)
            .iter()
            .zip(test_y.iter())
            .filter(|(probabilities, class)| {
                argmax(probabilities).is_some_and(|(predicted, _)| predicted == **class)
            })
            .count();
        let accuracy = correct as f64 / test_rows.len().max(1) as f64;
        // The drift reference: training rows and the model's own predictions on them.
        let predicted: Vec<(usize, f64)> = probabilities(&fitted, &train_rows)
            .iter()
            .filter_map(argmax)
            .collect();
        let train_mean_confidence =
            predicted.iter().map(|(_, p)| p).sum::<f64>() / predicted.len().max(1) as f64;
        let reference = Reference::fit_numeric(&train_rows, &FEATURES, FitOptions::default())
            .and_then(|reference| {
                reference.with_predictions(
                    predicted.iter().map(|(class, _)| LABELS[*class]),
                    predicted.iter().map(|(_, confidence)| *confidence),
                    FitOptions::default(),
                )
            })
            .map_err(|error| format!("drift reference of iris {}: {error}", version.as_str()))?;
        let ranges = reference_ranges(&reference)?;
        let model = Model::builder(MODEL)
            .version(version.as_str())
            .labels(LABELS)
            .features(FEATURES)
            .reference(reference)
            .drift_window(Window::time(drift.window))
            .drift_min_observations(drift.min_observations)
            .prediction_store(drift.store_capacity, drift.store_max_age)
            .reference_accuracy(accuracy)
            .try_register()
            .map_err(|error| format!("registering iris {}: {error}", version.as_str()))?;
        model.set_load_duration(started.elapsed());
        model.set_loaded(true);
        let classifier = Classifier {
            version,
            alpha: version.alpha(),
            accuracy,
            train_rows: train_rows.len(),
            test_rows: test_rows.len(),
            train_mean_confidence,
            model,
            ranges,
            fitted,
        };
        trained.push(classifier);
    }
    let versions: [Classifier; 2] = trained
        .try_into()
        .map_err(|_| "expected two trained versions".to_owned())?;
    Ok(Models { versions })
}

/// A permutation of `0..n` from a fixed seed (Fisher-Yates over SplitMix64).
fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

/// The time to wait before answering, from `X-Debug-Delay-Ms` (at most 2 s).
pub(crate) const MAX_DEBUG_DELAY: Duration = Duration::from_millis(2000);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_and_tiny_numbers_are_written_short() {
        assert_eq!(readable(1e308), "1e308");
        assert_eq!(readable(-2.5e-9), "-2.5e-9");
        assert_eq!(readable(100.0), "100");
        assert_eq!(readable(0.0), "0");
    }

    #[test]
    fn argmax_is_mlotels_rule_and_refuses_non_finite_rows() {
        assert_eq!(argmax(&[0.2, 0.5, 0.3]), Some((1, 0.5)));
        assert_eq!(
            argmax(&[0.4, 0.4, 0.2]),
            Some((0, 0.4)),
            "the first of a tie"
        );
        assert_eq!(argmax(&[f64::NAN; 3]), None);
    }

    #[test]
    fn the_permutation_is_fixed_and_complete() {
        let order = permutation(150, SHUFFLE_SEED);
        assert_eq!(order, permutation(150, SHUFFLE_SEED));
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..150).collect::<Vec<_>>());
        assert_ne!(order, sorted);
    }
}
