//! The drift gauges. Their callbacks run at collection time (an OTLP export or a
//! Prometheus scrape): each asks every live model for its report; the first hands the
//! stripes over and computes it, the others of that collection reuse it.

use std::sync::Arc;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Meter, ObservableGauge};

use super::monitor::{DistributionDrift, DriftReport};
use crate::model::{ModelSet, ModelState};
use crate::names::{self, InstrumentSpec, attr};

/// Registers every drift gauge on `meter`, reporting the live models of `models`.
pub(crate) fn register(meter: &Meter, models: &Arc<ModelSet>) {
    gauge(
        meter,
        names::FEATURE_DRIFT,
        models,
        |model, report, observe| {
            for feature in &report.features {
                for &(method, value) in &feature.values {
                    observe(
                        value,
                        with(
                            model,
                            [
                                KeyValue::new(attr::FEATURE_NAME, feature.name.clone()),
                                KeyValue::new(attr::DRIFT_METHOD, method.name()),
                            ],
                        ),
                    );
                }
            }
        },
    );
    gauge(
        meter,
        names::FEATURE_DRIFT_DETECTED,
        models,
        |model, report, observe| {
            for feature in &report.features {
                observe(
                    f64::from(u8::from(feature.detected)),
                    with(
                        model,
                        [KeyValue::new(attr::FEATURE_NAME, feature.name.clone())],
                    ),
                );
            }
        },
    );
    gauge(
        meter,
        names::PREDICTION_DRIFT,
        models,
        |model, report, observe| {
            let signals: [Option<&DistributionDrift>; 2] =
                [report.label.as_ref(), report.confidence.as_ref()];
            for drift in signals.into_iter().flatten() {
                for &(method, value) in &drift.values {
                    observe(
                        value,
                        with(
                            model,
                            [
                                KeyValue::new(attr::DRIFT_SIGNAL, drift.name.clone()),
                                KeyValue::new(attr::DRIFT_METHOD, method.name()),
                            ],
                        ),
                    );
                }
            }
        },
    );
    gauge(
        meter,
        names::DATASET_DRIFT_SHARE,
        models,
        |model, report, observe| {
            if let Some(share) = report.drift_share {
                observe(share, with(model, []));
            }
        },
    );
    gauge(
        meter,
        names::CONFIDENCE_MEAN,
        models,
        |model, report, observe| {
            if let Some(mean) = report.confidence_mean {
                observe(mean, with(model, []));
            }
        },
    );
    gauge(
        meter,
        names::CONFIDENCE_MEAN_CHANGE,
        models,
        |model, report, observe| {
            if let Some(change) = report.confidence_mean_change {
                observe(change, with(model, []));
            }
        },
    );
    gauge(
        meter,
        names::DRIFT_WINDOW_OBSERVATIONS,
        models,
        |model, report, observe| {
            for (signal, count) in [
                ("features", report.rows),
                ("predictions", report.predictions),
            ] {
                observe(
                    count as f64,
                    with(model, [KeyValue::new(attr::DRIFT_SIGNAL, signal)]),
                );
            }
        },
    );
}

/// The model's name and version followed by `extra`.
fn with<const N: usize>(model: &ModelState, extra: [KeyValue; N]) -> Vec<KeyValue> {
    model
        .model_attributes
        .iter()
        .cloned()
        .chain(extra)
        .collect()
}

/// Observes one value with its attributes.
type Observe<'a> = &'a mut dyn FnMut(f64, Vec<KeyValue>);

/// What one gauge reports of a model's drift report.
type Report = fn(&ModelState, &DriftReport, Observe<'_>);

fn gauge(meter: &Meter, spec: InstrumentSpec, models: &Arc<ModelSet>, report: Report) {
    let models = Arc::clone(models);
    let _gauge: ObservableGauge<f64> = meter
        .f64_observable_gauge(spec.name)
        .with_unit(spec.unit)
        .with_description(spec.description)
        .with_callback(move |observer| {
            for model in models.live() {
                if let Some(drift) = model.drift_report_for_collection() {
                    report(&model, &drift, &mut |value, attributes| {
                        observer.observe(value, &attributes);
                    });
                }
            }
        })
        .build();
}
