//! The SDK instruments a model version's stripes are handed to, and the hand-over itself:
//! what a stripe holds becomes SDK measurements with the model's attributes.

use opentelemetry::metrics::{BoundHistogram, Counter, Gauge, Histogram, Meter};
use opentelemetry::{KeyValue, Value};

use super::stripes::Stripe;
use crate::bounded_names::BoundedNames;
use crate::names::{self, InstrumentSpec, attr, outcome};

/// The SDK instruments a model's stripes are handed to; rebuilt when telemetry is installed.
#[derive(Debug)]
pub(crate) struct SdkInstruments {
    duration: Histogram<f64>,
    duration_ok: BoundHistogram<f64>,
    predictions: Counter<u64>,
    confidence: BoundHistogram<f64>,
    missing: Counter<u64>,
    out_of_range: Counter<u64>,
    pub(crate) loaded: Gauge<u64>,
    pub(crate) load_duration: Gauge<f64>,
}

impl SdkInstruments {
    pub(crate) fn new(meter: &Meter, model_attributes: &[KeyValue; 2]) -> Self {
        let duration = histogram(meter, names::PREDICTION_DURATION);
        let with_ok: Vec<KeyValue> = model_attributes
            .iter()
            .cloned()
            .chain([KeyValue::new(attr::PREDICTION_OUTCOME, outcome::OK)])
            .collect();
        meter
            .u64_gauge(names::MODEL_INFO.name)
            .with_unit(names::MODEL_INFO.unit)
            .with_description(names::MODEL_INFO.description)
            .build()
            .record(1, model_attributes);
        Self {
            duration_ok: duration.bind(&with_ok),
            duration,
            predictions: counter(meter, names::PREDICTIONS),
            confidence: histogram(meter, names::PREDICTION_CONFIDENCE).bind(model_attributes),
            missing: counter(meter, names::FEATURE_MISSING),
            out_of_range: counter(meter, names::FEATURE_OUT_OF_RANGE),
            loaded: meter
                .u64_gauge(names::MODEL_LOADED.name)
                .with_unit(names::MODEL_LOADED.unit)
                .with_description(names::MODEL_LOADED.description)
                .build(),
            load_duration: meter
                .f64_gauge(names::MODEL_LOAD_DURATION.name)
                .with_unit(names::MODEL_LOAD_DURATION.unit)
                .with_description(names::MODEL_LOAD_DURATION.description)
                .build(),
        }
    }
}

fn histogram(meter: &Meter, spec: InstrumentSpec) -> Histogram<f64> {
    meter
        .f64_histogram(spec.name)
        .with_unit(spec.unit)
        .with_description(spec.description)
        .with_boundaries(spec.buckets.to_vec())
        .build()
}

fn counter(meter: &Meter, spec: InstrumentSpec) -> Counter<u64> {
    meter
        .u64_counter(spec.name)
        .with_unit(spec.unit)
        .with_description(spec.description)
        .build()
}

/// What the hand-over needs of the model version: its attributes and its label and
/// feature names by slot.
pub(crate) struct HandOver<'a> {
    pub(crate) sdk: Option<&'a SdkInstruments>,
    pub(crate) model_attributes: &'a [KeyValue; 2],
    pub(crate) labels: &'a BoundedNames,
    pub(crate) features: &'a BoundedNames,
}

impl HandOver<'_> {
    /// Hands a stripe's failures to the SDK: the only hand-over on a recording thread.
    pub(crate) fn failures(&self, stripe: &mut Stripe) {
        let Some(sdk) = self.sdk else {
            stripe.failures.clear();
            return;
        };
        let [name, version] = self.model_attributes;
        for failure in stripe.failures.drain(..) {
            let attributes = [
                name.clone(),
                version.clone(),
                KeyValue::new(attr::PREDICTION_OUTCOME, failure.outcome),
                KeyValue::new(attr::ERROR_TYPE, failure.error_type),
            ];
            sdk.duration.record(failure.seconds, &attributes);
            sdk.predictions.add(failure.rows, &attributes);
        }
    }

    /// Hands everything a stripe holds to the SDK and empties it.
    pub(crate) fn everything(&self, stripe: &mut Stripe) {
        self.failures(stripe);
        let Some(sdk) = self.sdk else {
            // Nothing installed yet: like the OpenTelemetry API without an SDK, drop it.
            *stripe = stripe.empty_like();
            return;
        };
        stripe
            .ok_durations
            .drain_into(|seconds| sdk.duration_ok.record(seconds));
        stripe
            .confidences
            .drain_into(|confidence| sdk.confidence.record(confidence));
        let [name, version] = self.model_attributes;
        for (slot, count) in stripe.ok_counts.iter_mut().enumerate() {
            if *count == 0 {
                continue;
            }
            let ok = KeyValue::new(attr::PREDICTION_OUTCOME, outcome::OK);
            match self.labels.name(slot) {
                Some(label) => sdk.predictions.add(
                    *count,
                    &[
                        name.clone(),
                        version.clone(),
                        ok,
                        KeyValue::new(attr::PREDICTION_LABEL, Value::String(label.into())),
                    ],
                ),
                None => sdk
                    .predictions
                    .add(*count, &[name.clone(), version.clone(), ok]),
            }
            *count = 0;
        }
        for (counts, counter) in [
            (&mut stripe.missing, &sdk.missing),
            (&mut stripe.out_of_range, &sdk.out_of_range),
        ] {
            for (slot, count) in counts.iter_mut().enumerate() {
                if let (true, Some(feature)) = (*count > 0, self.features.name(slot)) {
                    counter.add(
                        *count,
                        &[
                            name.clone(),
                            version.clone(),
                            KeyValue::new(attr::FEATURE_NAME, Value::String(feature.into())),
                        ],
                    );
                }
                *count = 0;
            }
        }
    }
}
