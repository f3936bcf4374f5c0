//! Reference profiles: what each feature (and the model's predictions) looked like in the
//! training data, in the bins the online drift windows count into.
//!
//! A [`Reference`] is fitted offline — from rows ([`Reference::fit`], [`Reference::fit_numeric`])
//! or from a CSV file ([`Reference::from_csv_path`]) — saved as versioned JSON
//! ([`Reference::save`]) and loaded at start-up ([`Reference::load`], which validates it).
//!
//! * A numeric feature ([`NumericProfile`]) is cut at reference quantiles (numpy's default
//!   linear interpolation, duplicates collapsed) into value bins with open outer bins, plus one
//!   bin for missing values (NaN).
//! * A categorical feature ([`CategoricalProfile`]) keeps its most frequent categories; every
//!   other value shares an "other" bin, and missing values have their own bin.
//!
//! On the prediction path a value is mapped to its bin with [`NumericProfile::bin`] (a binary
//! search, no allocation) or [`CategoricalProfile::bin`].
//!
//! ```
//! use mlotel::drift::reference::{FitOptions, Reference};
//!
//! let rows = [[1.0, 10.0], [2.0, 20.0], [3.0, f64::NAN], [4.0, 40.0]];
//! let reference = Reference::fit_numeric(rows, &["a", "b"], FitOptions { bins: 2, ..FitOptions::default() })?;
//! let json = reference.to_json();
//! let loaded = Reference::from_json(&json)?;
//! assert_eq!(loaded, reference);
//! # Ok::<(), mlotel::drift::reference::ReferenceError>(())
//! ```

mod csv;
mod fit;
mod json;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use self::csv::{CSV_MISSING, CsvOptions};

/// Version of the JSON layout written by [`Reference::to_json`]. [`Reference::from_json`]
/// reads it and every version from [`OLDEST_SCHEMA_VERSION`] on, and refuses any other.
///
/// * 1: the first layout.
/// * 2: adds two optional fields, absent from version 1 files (read as `None`):
///   `tail_means` of numeric profiles and `calibration` of every profile.
pub const SCHEMA_VERSION: u32 = 2;
/// The oldest JSON layout [`Reference::from_json`] still reads; a file of that version is
/// read as the current version with the fields it lacks absent.
pub const OLDEST_SCHEMA_VERSION: u32 = 1;
/// Default number of quantile bins for a numeric feature ([`FitOptions::bins`]).
pub const DEFAULT_BINS: usize = 10;
/// Default number of categories kept for a categorical feature ([`FitOptions::top_categories`]).
pub const DEFAULT_TOP_CATEGORIES: usize = 20;
/// Largest accepted [`FitOptions::bins`].
pub const MAX_BINS: usize = 10_000;

/// Whether a feature is binned by value (quantile bins) or by category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    /// Real-valued; NaN is missing.
    Numeric,
    /// A string category.
    Categorical,
}

impl std::fmt::Display for FeatureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FeatureKind::Numeric => "numeric",
            FeatureKind::Categorical => "categorical",
        })
    }
}

/// The ordered features of a model input, each with its [`FeatureKind`].
///
/// ```
/// use mlotel::drift::reference::{FeatureKind, Schema};
/// let schema = Schema::new().numeric("age").categorical("country");
/// assert_eq!(schema.names().collect::<Vec<_>>(), ["age", "country"]);
/// assert_eq!(schema.kind(1), Some(FeatureKind::Categorical));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schema {
    features: Vec<(String, FeatureKind)>,
}

impl Schema {
    /// An empty schema.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a numeric feature.
    pub fn numeric(self, name: impl Into<String>) -> Self {
        self.with(name, FeatureKind::Numeric)
    }

    /// Appends a categorical feature.
    pub fn categorical(self, name: impl Into<String>) -> Self {
        self.with(name, FeatureKind::Categorical)
    }

    /// Appends a feature of the given kind.
    pub fn with(mut self, name: impl Into<String>, kind: FeatureKind) -> Self {
        self.features.push((name.into(), kind));
        self
    }

    /// Feature names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.features.iter().map(|(name, _)| name.as_str())
    }

    /// Features as `(name, kind)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, FeatureKind)> {
        self.features
            .iter()
            .map(|(name, kind)| (name.as_str(), *kind))
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// Whether the schema has no features.
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// Kind of the feature at `index`.
    pub fn kind(&self, index: usize) -> Option<FeatureKind> {
        self.features.get(index).map(|(_, kind)| *kind)
    }
}

/// One cell of a training row given to [`Reference::fit`].
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureValue<'a> {
    /// A value of a numeric feature; NaN counts as missing.
    Number(f64),
    /// A value of a categorical feature.
    Category(&'a str),
    /// No value (either kind).
    Missing,
}

impl From<f64> for FeatureValue<'_> {
    fn from(value: f64) -> Self {
        FeatureValue::Number(value)
    }
}

impl<'a> From<&'a str> for FeatureValue<'a> {
    fn from(value: &'a str) -> Self {
        FeatureValue::Category(value)
    }
}

impl<'a, T: Into<FeatureValue<'a>>> From<Option<T>> for FeatureValue<'a> {
    fn from(value: Option<T>) -> Self {
        value.map_or(FeatureValue::Missing, Into::into)
    }
}

/// How profiles are fitted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// Quantile bins per numeric feature (before ties collapse them), 1..=[`MAX_BINS`].
    pub bins: usize,
    /// Categories kept per categorical feature; the rest share the "other" bin. May be 0.
    pub top_categories: usize,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            bins: DEFAULT_BINS,
            top_categories: DEFAULT_TOP_CATEGORIES,
        }
    }
}

/// How [`Reference::calibrate`] fits thresholds for a false-alarm rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibrationOptions {
    /// Observations per simulated window: the window size the service will see (the
    /// thresholds are carried to other sizes, less exactly the further they are).
    pub window: u64,
    /// Windows simulated per profile (at least 100).
    pub windows: u32,
    /// Quantile of each statistic taken as its threshold, in (0, 1): 0.99 aims at 1 %
    /// false alarms. The threshold is the `⌈quantile · (windows + 1)⌉`-th smallest simulated
    /// value, which a window from the reference exceeds with probability at most
    /// `1 − quantile` however few windows were simulated.
    pub quantile: f64,
    /// Seed of the simulation (the same seed gives the same thresholds).
    pub seed: u64,
}

impl Default for CalibrationOptions {
    fn default() -> Self {
        Self {
            window: 1_000,
            windows: 2_000,
            quantile: 0.99,
            seed: 0x5EED_CA1B,
        }
    }
}

/// Reference distribution of a numeric feature (or of the prediction confidence).
///
/// Bins: value bin `i` holds `edges[i-1] <= x < edges[i]` (the first and last are open), then
/// one bin for missing values. A value exactly on an edge belongs to the bin above it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericProfile {
    /// Feature name.
    pub name: String,
    /// Inner bin edges, finite and strictly increasing; empty for a constant (or all-missing)
    /// feature, which has a single value bin.
    pub edges: Vec<f64>,
    /// Reference share of every bin: `edges.len() + 1` value bins, then the missing bin. Sums
    /// to 1 over all reference rows (missing ones included).
    pub proportions: Vec<f64>,
    /// Non-missing reference values.
    pub count: u64,
    /// Missing reference values.
    pub missing: u64,
    /// Mean of the non-missing values (0 when there are none).
    pub mean: f64,
    /// Population standard deviation (ddof 0) of the non-missing values (0 when there are none).
    pub std: f64,
    /// Smallest non-missing value (0 when there are none).
    pub min: f64,
    /// Largest non-missing value (0 when there are none).
    pub max: f64,
    /// Mean of the reference values in the lowest and in the highest value bin (below the
    /// first edge, at or above the last), which the normalised Wasserstein distance needs
    /// for the open outer bins (see `stats::wasserstein_interpolated`). `None` in profiles of
    /// schema version 1 and without edges; then [`tail_means`](Self::tail_means) falls back to
    /// the midpoints of `[min, first edge]` and `[last edge, max]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail_means: Option<[f64; 2]>,
    /// Thresholds calibrated on this profile for a false-alarm rate
    /// ([`Reference::calibrate`]); `None` until calibrated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
}

impl NumericProfile {
    /// Number of value bins: `edges.len() + 1`.
    pub fn value_bins(&self) -> usize {
        self.edges.len() + 1
    }

    /// Index of the missing-value bin (the last one).
    pub fn missing_bin(&self) -> usize {
        self.value_bins()
    }

    /// Number of bins, missing bin included.
    pub fn bins(&self) -> usize {
        self.value_bins() + 1
    }

    /// Bin of `value`: NaN goes to [`missing_bin`](Self::missing_bin), anything else (±∞
    /// included) to a value bin by binary search over the edges; a value equal to an edge
    /// goes to the bin above it. No allocation.
    #[inline]
    pub fn bin(&self, value: f64) -> usize {
        if value.is_nan() {
            self.missing_bin()
        } else {
            self.edges.partition_point(|edge| *edge <= value)
        }
    }

    /// Centre of every value bin, the open outer bins closed by `min` and `max`:
    /// `[(min + e0) / 2, (e0 + e1) / 2, …, (e_last + max) / 2]`; `[min]` without edges.
    pub fn centres(&self) -> Vec<f64> {
        let (Some(first), Some(last)) = (self.edges.first(), self.edges.last()) else {
            return vec![self.min];
        };
        let mut centres = Vec::with_capacity(self.value_bins());
        centres.push(midpoint(self.min, *first));
        centres.extend(self.edges.windows(2).map(|pair| midpoint(pair[0], pair[1])));
        centres.push(midpoint(*last, self.max));
        centres
    }

    /// The reference's mean below the first edge and at or above the last one:
    /// [`tail_means`](Self::tail_means) when fitted, else the midpoints of
    /// `[min, first edge]` and `[last edge, max]` (profiles of schema version 1); `[min, max]`
    /// without edges.
    pub fn tail_means(&self) -> [f64; 2] {
        if let Some(means) = self.tail_means {
            return means;
        }
        match (self.edges.first(), self.edges.last()) {
            (Some(first), Some(last)) => [midpoint(self.min, *first), midpoint(*last, self.max)],
            _ => [self.min, self.max],
        }
    }

    /// Whether a finite `value` lies outside the reference range `[min, max]`; NaN and ±∞ are
    /// not judged (false).
    pub fn is_out_of_range(&self, value: f64) -> bool {
        value.is_finite() && (value < self.min || value > self.max)
    }
}

/// Midpoint that cannot overflow for finite inputs.
fn midpoint(a: f64, b: f64) -> f64 {
    a / 2.0 + b / 2.0
}

/// Reference distribution of a categorical feature (or of the predicted label).
///
/// Bins: one per kept category (in the order of `categories`), then "other", then "missing".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalProfile {
    /// Feature name.
    pub name: String,
    /// The most frequent reference categories, most frequent first (ties by name), at most
    /// [`FitOptions::top_categories`] of them.
    pub categories: Vec<String>,
    /// Reference share of every bin: `categories.len()` bins, then "other", then "missing".
    pub proportions: Vec<f64>,
    /// Non-missing reference values.
    pub count: u64,
    /// Missing reference values.
    pub missing: u64,
    /// Thresholds calibrated on this profile for a false-alarm rate
    /// ([`Reference::calibrate`]); `None` until calibrated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
}

/// Thresholds of the effect-size methods (`psi`, `jensenshannon`, `wasserstein_normed`)
/// fitted on a profile by [`Reference::calibrate`]: the `quantile` of each statistic over
/// windows of `window` observations drawn from the reference itself, widened for the
/// reference being a sample too. A decision made with
/// [`Decision::calibrated`](crate::drift::Decision::calibrated) uses them, carried to the
/// window's actual size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Window size (observations) the thresholds are for.
    pub window: u64,
    /// Quantile of the statistic under no drift, e.g. 0.99 for a 1 % false-alarm rate.
    pub quantile: f64,
    /// Windows simulated.
    pub windows: u32,
    /// Threshold per method, by its `ml.drift.method` name.
    pub thresholds: std::collections::BTreeMap<String, f64>,
}

impl Calibration {
    /// The threshold of `method` for a window of `observations`, from a reference of
    /// `reference_count`: the stored one scaled by how the method's null spread grows with
    /// `1/n + 1/m` (squared deviations for PSI, plain ones for the distances). `None` when
    /// the method was not calibrated.
    pub fn threshold(
        &self,
        method: crate::drift::stats::DriftMethod,
        observations: u64,
        reference_count: u64,
    ) -> Option<f64> {
        let stored = *self.thresholds.get(method.name())?;
        let inverse = |n: u64| 1.0 / n.max(1) as f64;
        let (m, n, at) = (
            inverse(reference_count),
            inverse(observations),
            inverse(self.window),
        );
        Some(stored * ((n + m) / (at + m)).powf(method.deviation_power() / 2.0))
    }
}

impl CategoricalProfile {
    /// Index of the "other" bin (categories not kept, or never seen).
    pub fn other_bin(&self) -> usize {
        self.categories.len()
    }

    /// Index of the missing-value bin (the last one).
    pub fn missing_bin(&self) -> usize {
        self.categories.len() + 1
    }

    /// Number of bins, "other" and missing included.
    pub fn bins(&self) -> usize {
        self.categories.len() + 2
    }

    /// Bin of `value`: `None` is missing, a kept category its own bin, anything else "other".
    /// A linear scan: cheap for the default 20 categories; with many more, build a map from
    /// [`categories`](Self::categories) once.
    #[inline]
    pub fn bin(&self, value: Option<&str>) -> usize {
        match value {
            None => self.missing_bin(),
            Some(value) => self
                .categories
                .iter()
                .position(|category| category == value)
                .unwrap_or(self.other_bin()),
        }
    }
}

/// Reference profile of one feature, tagged by `kind` in JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeatureProfile {
    /// A numeric feature.
    Numeric(NumericProfile),
    /// A categorical feature.
    Categorical(CategoricalProfile),
}

impl FeatureProfile {
    /// Feature name.
    pub fn name(&self) -> &str {
        match self {
            FeatureProfile::Numeric(profile) => &profile.name,
            FeatureProfile::Categorical(profile) => &profile.name,
        }
    }

    /// Feature kind.
    pub fn kind(&self) -> FeatureKind {
        match self {
            FeatureProfile::Numeric(_) => FeatureKind::Numeric,
            FeatureProfile::Categorical(_) => FeatureKind::Categorical,
        }
    }

    /// Reference share of every bin, missing bin last.
    pub fn proportions(&self) -> &[f64] {
        match self {
            FeatureProfile::Numeric(profile) => &profile.proportions,
            FeatureProfile::Categorical(profile) => &profile.proportions,
        }
    }

    /// Number of bins, missing bin included.
    pub fn bins(&self) -> usize {
        match self {
            FeatureProfile::Numeric(profile) => profile.bins(),
            FeatureProfile::Categorical(profile) => profile.bins(),
        }
    }

    /// The numeric profile, if numeric.
    pub fn as_numeric(&self) -> Option<&NumericProfile> {
        match self {
            FeatureProfile::Numeric(profile) => Some(profile),
            FeatureProfile::Categorical(_) => None,
        }
    }

    /// The categorical profile, if categorical.
    pub fn as_categorical(&self) -> Option<&CategoricalProfile> {
        match self {
            FeatureProfile::Numeric(_) => None,
            FeatureProfile::Categorical(profile) => Some(profile),
        }
    }
}

/// Reference profiles of a model: every input feature, in input order, and optionally the
/// predicted labels and confidences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// Layout version, [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Reference rows the feature profiles were fitted on.
    pub rows: u64,
    /// One profile per input feature, in input order.
    pub features: Vec<FeatureProfile>,
    /// Reference distribution of predicted labels.
    pub label: Option<CategoricalProfile>,
    /// Reference distribution of prediction confidence.
    pub confidence: Option<NumericProfile>,
}

impl Reference {
    /// Parses and [validates](Self::validate) a reference written by [`to_json`](Self::to_json).
    pub fn from_json(text: &str) -> Result<Reference, ReferenceError> {
        json::from_json(text)
    }

    /// The reference as pretty JSON, fields in declaration order.
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: string keys only, and non-finite floats are
        // written as null by serde_json rather than rejected.
        serde_json::to_string_pretty(self).expect("a Reference always serializes")
    }

    /// Reads and validates a reference JSON file.
    pub fn load(path: impl AsRef<Path>) -> Result<Reference, ReferenceError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ReferenceError::Io {
            path: Some(path.to_path_buf()),
            source,
        })?;
        Self::from_json(&text)
    }

    /// Writes the reference as JSON (with a final newline).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ReferenceError> {
        let path = path.as_ref();
        let mut text = self.to_json();
        text.push('\n');
        std::fs::write(path, text).map_err(|source| ReferenceError::Io {
            path: Some(path.to_path_buf()),
            source,
        })
    }

    /// Feature names, in input order.
    pub fn feature_names(&self) -> impl Iterator<Item = &str> {
        self.features.iter().map(FeatureProfile::name)
    }

    /// The features as a [`Schema`].
    pub fn schema(&self) -> Schema {
        self.features.iter().fold(Schema::new(), |schema, feature| {
            schema.with(feature.name(), feature.kind())
        })
    }

    /// The profile of the feature called `name`.
    pub fn feature(&self, name: &str) -> Option<&FeatureProfile> {
        self.features.iter().find(|feature| feature.name() == name)
    }

    /// Checks that the reference describes exactly `expected` features, in that order;
    /// otherwise [`ReferenceError::FeatureMismatch`] names the first position that differs.
    pub fn check_features(&self, expected: &[&str]) -> Result<(), ReferenceError> {
        let mut found = self.feature_names();
        let mut expected = expected.iter().copied();
        for index in 0.. {
            match (expected.next(), found.next()) {
                (None, None) => return Ok(()),
                (Some(e), Some(f)) if e == f => {}
                (e, f) => {
                    return Err(ReferenceError::FeatureMismatch {
                        index,
                        expected: e.map(str::to_owned),
                        found: f.map(str::to_owned),
                    });
                }
            }
        }
        Ok(())
    }

    /// Checks internal consistency (done by [`from_json`](Self::from_json) and after
    /// fitting): supported schema version; feature names non-empty and unique; per profile,
    /// one proportion per bin, each in [0, 1], summing to 1 ± 1e-6; edges finite and strictly
    /// increasing; mean/min/max finite, `std >= 0`, `min <= max`; categories unique; every
    /// feature profile counting `rows` rows.
    pub fn validate(&self) -> Result<(), ReferenceError> {
        json::validate(self)
    }
}

/// Why a reference could not be fitted, read or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReferenceError {
    /// Malformed JSON, or a field of the wrong type or missing.
    #[error("invalid reference JSON at `{path}` (line {line}, column {column}): {message}")]
    Json {
        /// Field path, e.g. `features[2].edges` (`.` for the document itself).
        path: String,
        /// 1-based line of the error in the JSON text.
        line: usize,
        /// 1-based column of the error in the JSON text.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The JSON was written for another layout version.
    #[error("unsupported reference schema_version {found} (this version reads {supported})")]
    UnsupportedSchemaVersion {
        /// Version in the file.
        found: u64,
        /// The version this code reads, [`SCHEMA_VERSION`].
        supported: u32,
    },
    /// Well-formed but inconsistent reference (see [`Reference::validate`]).
    #[error("invalid reference at `{path}`: {message}")]
    Invalid {
        /// Field path, e.g. `features[0].proportions`.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The reference's features are not the expected ones.
    #[error("feature {index}: expected {}, found {}", or_none(.expected), or_none(.found))]
    FeatureMismatch {
        /// 0-based position of the first difference.
        index: usize,
        /// Expected name there (`None`: the reference has more features).
        expected: Option<String>,
        /// Reference's name there (`None`: the reference has fewer features).
        found: Option<String>,
    },
    /// Unreadable CSV, or a cell or column that cannot be used.
    #[error("CSV{}: {message}", csv_location(*.line, .column.as_deref()))]
    Csv {
        /// 1-based line (the header is line 1), when known.
        line: Option<u64>,
        /// Column name, when known.
        column: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// A row given to [`Reference::fit`] does not have one value per feature.
    #[error("row {row}: expected {expected} values (one per feature), found {found}")]
    RowLength {
        /// 0-based row index.
        row: u64,
        /// Schema length.
        expected: usize,
        /// Row length.
        found: usize,
    },
    /// A value given to [`Reference::fit`] does not match its feature's kind, or is infinite.
    #[error("row {row}, feature `{feature}`: {message}")]
    Value {
        /// 0-based row index.
        row: u64,
        /// Feature name.
        feature: String,
        /// What is wrong.
        message: String,
    },
    /// A schema or option that cannot be fitted (duplicate or empty name, bins out of range).
    #[error("invalid {what}: {message}")]
    Options {
        /// What is invalid, e.g. `bins` or `schema[2]`.
        what: String,
        /// Why.
        message: String,
    },
    /// Nothing to fit.
    #[error("nothing to fit: {what}")]
    Empty {
        /// What is empty, e.g. `no rows`.
        what: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", .path.as_deref().map_or_else(|| "I/O error".to_owned(), |p| p.display().to_string()))]
    Io {
        /// The file, when reading or writing a path.
        path: Option<PathBuf>,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

fn or_none(name: &Option<String>) -> String {
    name.as_deref()
        .map_or_else(|| "no feature".to_owned(), |name| format!("`{name}`"))
}

fn csv_location(line: Option<u64>, column: Option<&str>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(" line {line}, column `{column}`"),
        (Some(line), None) => format!(" line {line}"),
        (None, Some(column)) => format!(" column `{column}`"),
        (None, None) => String::new(),
    }
}
