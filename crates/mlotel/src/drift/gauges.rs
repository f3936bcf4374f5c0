//! The drift gauges. Their callbacks run at collection time (an OTLP export or a
//! Prometheus scrape): each asks its [`DriftSources`] for every model's report; the first
//! gauge of a collection has the stripes handed over and the report computed, the others
//! reuse it. The fleet-wide bin series (`fleet`) are registered here too: each bin's
//! running count, read after the same hand-over, and the reference's share.

use std::sync::Arc;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Meter, ObservableCounter, ObservableGauge};

use super::fleet::{BinOf, ExportedBin};
use super::report::{DistributionDrift, DriftReport};
use crate::names::{self, InstrumentSpec, attr};

/// One model version's report, with the attributes that name the model.
pub(crate) struct ReportedDrift<'a> {
    pub(crate) model_attributes: &'a [KeyValue],
    pub(crate) report: &'a DriftReport,
}

/// One model version's bins for fleet-wide drift: each bin's running count, in the order
/// of `bins`.
pub(crate) struct BinTotals<'a> {
    pub(crate) model_attributes: &'a [KeyValue],
    pub(crate) bins: &'a [ExportedBin],
    pub(crate) totals: &'a [u64],
}

/// What the gauges read: the drift report of each model version being collected, and the
/// running bin counts of those that export them.
pub(crate) trait DriftSources: Send + Sync {
    fn for_each_report(&self, visit: &mut dyn FnMut(ReportedDrift<'_>));
    fn for_each_bin_totals(&self, visit: &mut dyn FnMut(BinTotals<'_>));
}

/// Registers every drift gauge on `meter`, reporting what `models` give.
pub(crate) fn observe_on(meter: &Meter, models: Arc<dyn DriftSources>) {
    let models = &models;
    observe_bins_on(meter, models);
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

/// Registers the fleet-wide bin series: the running count of every bin as a counter, the
/// reference's share of it as a gauge, features and predictions apart.
fn observe_bins_on(meter: &Meter, models: &Arc<dyn DriftSources>) {
    for (of, counts, reference) in [
        (
            BinOf::Feature,
            names::FEATURE_BIN_OBSERVATIONS,
            names::FEATURE_BIN_REFERENCE,
        ),
        (
            BinOf::Prediction,
            names::PREDICTION_BIN_OBSERVATIONS,
            names::PREDICTION_BIN_REFERENCE,
        ),
    ] {
        let sources = Arc::clone(models);
        let _counter: ObservableCounter<u64> = meter
            .u64_observable_counter(counts.name)
            .with_unit(counts.unit)
            .with_description(counts.description)
            .with_callback(move |observer| {
                sources.for_each_bin_totals(&mut |model| {
                    for (bin, &total) in model.bins.iter().zip(model.totals) {
                        if bin.of == of {
                            observer.observe(
                                total,
                                &with(model.model_attributes, bin.attributes.clone()),
                            );
                        }
                    }
                });
            })
            .build();
        let sources = Arc::clone(models);
        let _gauge: ObservableGauge<f64> = meter
            .f64_observable_gauge(reference.name)
            .with_unit(reference.unit)
            .with_description(reference.description)
            .with_callback(move |observer| {
                sources.for_each_bin_totals(&mut |model| {
                    for bin in model.bins.iter().filter(|bin| bin.of == of) {
                        observer.observe(
                            bin.reference,
                            &with(model.model_attributes, bin.attributes.clone()),
                        );
                    }
                });
            })
            .build();
    }
}

/// The model's name and version followed by `extra`.
fn with<const N: usize>(model_attributes: &[KeyValue], extra: [KeyValue; N]) -> Vec<KeyValue> {
    model_attributes.iter().cloned().chain(extra).collect()
}

/// Observes one value with its attributes.
type Observe<'a> = &'a mut dyn FnMut(f64, Vec<KeyValue>);

/// What one gauge reports of a model's drift report.
type Report = fn(&[KeyValue], &DriftReport, Observe<'_>);

fn gauge(meter: &Meter, spec: InstrumentSpec, models: &Arc<dyn DriftSources>, report: Report) {
    let models = Arc::clone(models);
    let _gauge: ObservableGauge<f64> = meter
        .f64_observable_gauge(spec.name)
        .with_unit(spec.unit)
        .with_description(spec.description)
        .with_callback(move |observer| {
            models.for_each_report(&mut |drift| {
                report(
                    drift.model_attributes,
                    drift.report,
                    &mut |value, attributes| {
                        observer.observe(value, &attributes);
                    },
                );
            });
        })
        .build();
}
