//! The instruments outcomes are recorded on, and the calibration bins. Every one is a
//! counter or a histogram, so the metrics backend sums them over replicas and recording
//! rules compute accuracy, F1, ECE, MAE and RMSE from the sums (docs/ground-truth.md).

use std::sync::Arc;

use opentelemetry::metrics::{Counter, Histogram, Meter};
use opentelemetry::{KeyValue, Value};

use super::store::PredictionStore;
use crate::names::{self, InstrumentSpec, attr};

/// Upper edges of the calibration bins: ten of equal width, each `(lower, upper]`, the
/// first one also holding 0. They are `numpy.linspace(0, 1, 11)[1:]` to the last bit, the
/// bins of scikit-learn's `calibration_curve(strategy="uniform")`, so that a confidence on
/// an edge falls in the same bin as there (0.3 is below that edge's 0.30000000000000004).
#[allow(clippy::excessive_precision, clippy::unreadable_literal)]
pub(crate) const CONFIDENCE_BIN_EDGES: [f64; 10] = [
    0.1,
    0.2,
    0.30000000000000004,
    0.4,
    0.5,
    0.6000000000000001,
    0.7000000000000001,
    0.8,
    0.9,
    1.0,
];
/// The `ml.confidence.bin` value of each bin: its upper edge as written above.
const CONFIDENCE_BIN_NAMES: [&str; 10] = [
    "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "1.0",
];

/// The calibration bin of a confidence in `0..=1`: the first whose upper edge is at least
/// the confidence.
pub(crate) fn confidence_bin(confidence: f64) -> usize {
    CONFIDENCE_BIN_EDGES
        .iter()
        .position(|&upper| confidence <= upper)
        .unwrap_or(CONFIDENCE_BIN_EDGES.len() - 1)
}

/// The SDK instruments of outcomes; rebuilt when telemetry is installed.
#[derive(Debug)]
pub(crate) struct OutcomeInstruments {
    outcomes: Counter<u64>,
    calibration: Counter<u64>,
    calibration_confidence: Counter<f64>,
    absolute_error: Histogram<f64>,
    squared_error: Counter<f64>,
    delay: Histogram<f64>,
    unmatched: Counter<u64>,
}

fn u64_counter(meter: &Meter, spec: InstrumentSpec) -> Counter<u64> {
    meter
        .u64_counter(spec.name)
        .with_unit(spec.unit)
        .with_description(spec.description)
        .build()
}

fn f64_counter(meter: &Meter, spec: InstrumentSpec) -> Counter<f64> {
    meter
        .f64_counter(spec.name)
        .with_unit(spec.unit)
        .with_description(spec.description)
        .build()
}

fn histogram(meter: &Meter, spec: InstrumentSpec) -> Histogram<f64> {
    meter
        .f64_histogram(spec.name)
        .with_unit(spec.unit)
        .with_description(spec.description)
        .with_boundaries(spec.buckets.to_vec())
        .build()
}

/// One classification outcome, with its labels as recorded (bounded by the model's set).
#[derive(Debug)]
pub(crate) struct Classified {
    pub(crate) predicted: Option<Arc<str>>,
    pub(crate) actual: Option<Arc<str>>,
    pub(crate) correct: bool,
    pub(crate) confidence: Option<f64>,
    pub(crate) delay_seconds: Option<f64>,
}

impl OutcomeInstruments {
    pub(crate) fn new(meter: &Meter) -> Self {
        Self {
            outcomes: u64_counter(meter, names::OUTCOMES),
            calibration: u64_counter(meter, names::OUTCOME_CALIBRATION),
            calibration_confidence: f64_counter(meter, names::OUTCOME_CALIBRATION_CONFIDENCE),
            absolute_error: histogram(meter, names::OUTCOME_ABSOLUTE_ERROR),
            squared_error: f64_counter(meter, names::OUTCOME_SQUARED_ERROR),
            delay: histogram(meter, names::OUTCOME_DELAY),
            unmatched: u64_counter(meter, names::OUTCOMES_UNMATCHED),
        }
    }

    pub(crate) fn classification(&self, model: &[KeyValue; 2], outcome: &Classified) {
        let [name, version] = model;
        // A string, not a boolean: OTLP consumers then see the value Prometheus shows.
        let correct = KeyValue::new(
            attr::OUTCOME_CORRECT,
            if outcome.correct { "true" } else { "false" },
        );
        let mut attributes = Vec::with_capacity(5);
        attributes.extend([name.clone(), version.clone(), correct.clone()]);
        if let Some(predicted) = &outcome.predicted {
            attributes.push(KeyValue::new(
                attr::PREDICTION_LABEL,
                Value::String(Arc::clone(predicted).into()),
            ));
        }
        if let Some(actual) = &outcome.actual {
            attributes.push(KeyValue::new(
                attr::OUTCOME_LABEL,
                Value::String(Arc::clone(actual).into()),
            ));
        }
        self.outcomes.add(1, &attributes);
        if let Some(confidence) = crate::output::valid_confidence(outcome.confidence) {
            let bin = KeyValue::new(
                attr::CONFIDENCE_BIN,
                CONFIDENCE_BIN_NAMES[confidence_bin(confidence)],
            );
            self.calibration
                .add(1, &[name.clone(), version.clone(), bin.clone(), correct]);
            self.calibration_confidence
                .add(confidence, &[name.clone(), version.clone(), bin]);
        }
        self.delay_of(model, outcome.delay_seconds);
    }

    pub(crate) fn regression(
        &self,
        model: &[KeyValue; 2],
        predicted: f64,
        actual: f64,
        delay_seconds: Option<f64>,
    ) {
        let error = actual - predicted;
        if error.is_finite() {
            self.absolute_error.record(error.abs(), model);
            self.squared_error.add(error * error, model);
        }
        self.delay_of(model, delay_seconds);
    }

    fn delay_of(&self, model: &[KeyValue; 2], delay_seconds: Option<f64>) {
        if let Some(seconds) =
            delay_seconds.filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
        {
            self.delay.record(seconds, model);
        }
    }

    pub(crate) fn unmatched(&self, model: &[KeyValue; 2], reason: &'static str) {
        let [name, version] = model;
        self.unmatched.add(
            1,
            &[
                name.clone(),
                version.clone(),
                KeyValue::new(attr::OUTCOME_UNMATCHED_REASON, reason),
            ],
        );
    }
}

/// Where the store gauges read the models' stores (the model set of a meter provider).
pub(crate) trait StoreSources: Send + Sync {
    /// Calls `visit` with the attributes and store of every live model that has one.
    fn for_each_store(&self, visit: &mut dyn FnMut(&[KeyValue; 2], &PredictionStore));
}

/// Registers `ml.prediction_store.evictions` and `ml.prediction_store.capacity` on `meter`,
/// read from `sources` at each collection.
pub(crate) fn observe_stores_on(meter: &Meter, sources: Arc<dyn StoreSources>) {
    let evictions = Arc::clone(&sources);
    let spec = names::PREDICTION_STORE_EVICTIONS;
    let _evictions = meter
        .u64_observable_counter(spec.name)
        .with_unit(spec.unit)
        .with_description(spec.description)
        .with_callback(move |observer| {
            evictions
                .for_each_store(&mut |model, store| observer.observe(store.evictions(), model));
        })
        .build();
    let spec = names::PREDICTION_STORE_CAPACITY;
    let _capacity = meter
        .u64_observable_gauge(spec.name)
        .with_unit(spec.unit)
        .with_description(spec.description)
        .with_callback(move |observer| {
            sources.for_each_store(&mut |model, store| {
                observer.observe(store.capacity() as u64, model)
            });
        })
        .build();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_closed_above_and_hold_zero_in_the_first() {
        assert_eq!(confidence_bin(0.0), 0);
        assert_eq!(confidence_bin(0.1), 0);
        assert_eq!(confidence_bin(0.100_000_000_000_001), 1);
        assert_eq!(
            confidence_bin(0.3),
            2,
            "numpy's edge is 0.30000000000000004"
        );
        assert_eq!(confidence_bin(0.6000000000000001), 5);
        assert_eq!(confidence_bin(0.6000000000000002), 6);
        assert_eq!(confidence_bin(0.95), 9);
        assert_eq!(confidence_bin(1.0), 9);
    }
}
