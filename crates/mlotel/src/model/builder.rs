//! [`ModelBuilder`]: what describes a model version before it is registered: name,
//! version, labels, features, drift reference and drift settings.

use std::sync::Arc;
use std::time::Duration;

use crate::drift::reference::{Reference, ReferenceError};
use crate::drift::stats::DriftMethod;
use crate::drift::{Decision, DriftSettings, Window};
use crate::ground_truth::store::StoreSettings;

/// Describes a model version: pass it to [`register`](Self::register) (for
/// `#[instrument_ml]` and the installed telemetry) or to
/// [`Telemetry::model`](crate::Telemetry::model).
#[derive(Debug, Clone)]
pub struct ModelBuilder {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) labels: Vec<String>,
    pub(crate) features: Vec<String>,
    /// Registered by a call, not by the user: default settings.
    pub(crate) automatic: bool,
    pub(crate) reference: Option<Arc<Reference>>,
    pub(crate) drift: DriftSettings,
    pub(crate) prediction_store: Option<StoreSettings>,
    pub(crate) reference_accuracy: Option<f64>,
}

impl ModelBuilder {
    pub(crate) fn new(name: String) -> Self {
        Self {
            name,
            version: "unversioned".to_owned(),
            labels: Vec::new(),
            features: Vec::new(),
            automatic: false,
            reference: None,
            drift: DriftSettings::default(),
            prediction_store: None,
            reference_accuracy: None,
        }
    }

    /// The model version (`ml.model.version`), e.g. `2.0.0`. Default `unversioned`.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// The labels the model can predict. They bound the `ml.prediction.label` attribute:
    /// any other label is recorded as `__other__`, and a class index `i` (e.g. the argmax
    /// of class probabilities) is recorded as the `i`-th label. Without a declaration the
    /// first 32 distinct labels seen are kept and later ones are `__other__`.
    pub fn labels<I, L>(mut self, labels: I) -> Self
    where
        I: IntoIterator<Item = L>,
        L: Into<String>,
    {
        self.labels = labels.into_iter().map(Into::into).collect();
        self
    }

    /// The model's input features, in input order: they name `ml.feature.name`, and other
    /// names are counted as `__other__`. Without them features are named by their index in
    /// the row (`0`, `1`, ...) or the name given to [`Model::record_missing_feature`](crate::Model::record_missing_feature), the
    /// first 64 distinct ones, then `__other__`.
    pub fn features<I, F>(mut self, features: I) -> Self
    where
        I: IntoIterator<Item = F>,
        F: Into<String>,
    {
        self.features = features.into_iter().map(Into::into).collect();
        self
    }

    /// The drift reference of this model version (`Reference::fit`, `Reference::load`):
    /// its features are tracked for drift, and its prediction profiles (if any) for
    /// prediction drift. Without [`features`](Self::features) the reference names them;
    /// with them, the two must list the same names in the same order.
    pub fn reference(mut self, reference: Reference) -> Self {
        self.reference = Some(Arc::new(reference));
        self
    }

    /// The observations compared with the reference (default: the last 5 minutes, in 10
    /// slices).
    pub fn drift_window(mut self, window: Window) -> Self {
        self.drift.window = window;
        self
    }

    /// Below this many observations in the window no drift is reported (default 500).
    pub fn drift_min_observations(mut self, observations: u64) -> Self {
        self.drift.min_observations = observations;
        self
    }

    /// The statistic and threshold deciding whether a feature drifted (default PSI ≥ 0.1).
    pub fn drift_threshold(mut self, method: DriftMethod, threshold: f64) -> Self {
        self.drift.decision = Decision::with_threshold(method, threshold);
        self
    }

    /// The drift decision of every feature, e.g. `Decision::calibrated(DriftMethod::Psi)`
    /// for the thresholds the reference was calibrated with (`Reference::calibrate`).
    pub fn drift_decision(mut self, decision: Decision) -> Self {
        self.drift.decision = decision;
        self
    }

    /// A feature's (or `label`'s / `confidence`'s) decision, overriding
    /// [`drift_decision`](Self::drift_decision).
    pub fn feature_drift_decision(
        mut self,
        feature: impl Into<String>,
        decision: Decision,
    ) -> Self {
        let feature = feature.into();
        self.drift
            .feature_decisions
            .retain(|(name, _)| *name != feature);
        self.drift.feature_decisions.push((feature, decision));
        self
    }

    /// A feature is also reported as drifted when its window's share of missing values
    /// exceeds the reference's by at least `threshold` (default 0.1; the `missing_share`
    /// value of `ml.feature.drift`).
    pub fn drift_missing_share_threshold(mut self, threshold: f64) -> Self {
        self.drift.missing_share_threshold = threshold;
        self
    }

    /// Whether to export each drift bin's running count and the reference's share of it
    /// (`ml.feature.bin.*`, `ml.prediction.bin.*`; default on), which the fleet-wide drift
    /// rules sum over replicas. Off saves their series (reference bins per feature, label
    /// and confidence, twice) when one process sees all the traffic.
    pub fn drift_bin_counters(mut self, on: bool) -> Self {
        self.drift.bin_counters = on;
        self
    }

    /// The statistic and threshold for one feature (or `label` / `confidence` for
    /// prediction drift), overriding [`drift_threshold`](Self::drift_threshold).
    pub fn feature_drift_threshold(
        mut self,
        feature: impl Into<String>,
        method: DriftMethod,
        threshold: f64,
    ) -> Self {
        let feature = feature.into();
        self.drift
            .feature_decisions
            .retain(|(name, _)| *name != feature);
        self.drift
            .feature_decisions
            .push((feature, Decision::with_threshold(method, threshold)));
        self
    }

    /// Keeps the model's recent predictions so that their outcomes can be recorded later by
    /// id alone ([`Model::record_actual_label`](crate::Model::record_actual_label)): every
    /// prediction then gets a [`PredictionId`](crate::PredictionId)
    /// ([`last_prediction_id`](crate::last_prediction_id) after an `#[instrument_ml]` call,
    /// the return value of [`PredictionCall::finish_prediction`](crate::PredictionCall::finish_prediction)).
    ///
    /// The store is a ring of `capacity` predictions (rounded up to a power of two, at
    /// least 1024 and at most 2^26), 32 bytes each, allocated once: the oldest prediction is
    /// overwritten by the newest (counted in `ml.prediction_store.evictions` when its outcome
    /// never came), and an outcome more than `max_age` after its prediction is refused as
    /// expired. Size it to the predictions made within the label delay you wait for. Without
    /// this call no store is kept and predictions cost what they did.
    pub fn prediction_store(mut self, capacity: usize, max_age: Duration) -> Self {
        self.prediction_store = Some(StoreSettings { capacity, max_age });
        self
    }

    /// The model version's accuracy on held-out data when it was trained
    /// (`ml.model.reference_accuracy`): the alert on realised accuracy compares the accuracy
    /// of recorded outcomes with it. A value outside `0..=1` is ignored.
    pub fn reference_accuracy(mut self, accuracy: f64) -> Self {
        self.reference_accuracy = (0.0..=1.0).contains(&accuracy).then_some(accuracy);
        self
    }

    /// Leaves out (and logs) a drift reference whose features differ from the model's.
    pub(crate) fn dropping_mismatched_reference(mut self) -> Self {
        if let Err(error) = self.check_reference() {
            tracing::error!(
                target: "mlotel",
                model = %self.name,
                version = %self.version,
                error = %error,
                "drift reference does not match the model; the model goes without drift"
            );
            self.reference = None;
        }
        self
    }

    /// Checks the reference against the declared features; takes the reference's feature
    /// names when none are declared.
    ///
    /// Without declared labels the reference's label categories become the label set, so
    /// the label window and the reference share their bins; declared labels that miss a
    /// reference category are logged (that category's predictions would look like drift).
    pub(crate) fn check_reference(&mut self) -> Result<(), ReferenceError> {
        let Some(reference) = &self.reference else {
            return Ok(());
        };
        reference.validate()?;
        if let Some(label) = &reference.label {
            if self.labels.is_empty() {
                self.labels = label.categories.clone();
            } else if let Some(absent) = label
                .categories
                .iter()
                .find(|category| !self.labels.contains(category))
            {
                tracing::warn!(
                    target: "mlotel",
                    model = %self.name,
                    version = %self.version,
                    label = %absent,
                    "the drift reference has a label the model does not declare: its \
                     predictions are counted as other and look like label drift"
                );
            }
        }
        if self.features.is_empty() {
            self.features = reference.feature_names().map(str::to_owned).collect();
            return Ok(());
        }
        let expected: Vec<&str> = self.features.iter().map(String::as_str).collect();
        reference.check_features(&expected)
    }
}
