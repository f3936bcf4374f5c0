//! What the benches share: the tiny model they instrument, the installation of mlotel's
//! telemetry for `#[instrument_ml]`, and the span exporter that discards what it gets
//! (`mlotel_testkit::DiscardSpans`, re-exported).

// Each bench uses part of this module.
#![allow(dead_code)]

use mlotel::{Model, Sampler, Telemetry};
pub(crate) use mlotel_testkit::DiscardSpans;
use opentelemetry_sdk::trace::BatchSpanProcessor;

pub(crate) const LABELS: [&str; 3] = ["setosa", "versicolor", "virginica"];
pub(crate) const FEATURES: [&str; 4] =
    ["sepal_length", "sepal_width", "petal_length", "petal_width"];
/// An iris flower (versicolor).
pub(crate) const ROW: [f64; 4] = [5.9, 3.0, 4.2, 1.5];

/// Multinomial logistic regression on the four iris features: `softmax(W·x + b)`.
const WEIGHTS: [[f64; 4]; 3] = [
    [0.42, 1.39, -2.21, -0.97],
    [0.53, -0.32, -0.21, -0.94],
    [-0.95, -1.07, 2.42, 1.91],
];
const BIASES: [f64; 3] = [0.26, 1.08, -1.34];

/// The model every variant runs: 12 multiply-adds, 3 `exp`, class probabilities out.
#[inline(always)]
pub(crate) fn logistic(row: &[f64; 4]) -> [f64; 3] {
    let logits: [f64; 3] = std::array::from_fn(|class| {
        WEIGHTS[class]
            .iter()
            .zip(row)
            .fold(BIASES[class], |sum, (weight, value)| sum + weight * value)
    });
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exp = logits.map(|logit| (logit - max).exp());
    let sum: f64 = exp.iter().sum();
    exp.map(|value| value / sum)
}

/// The predicted class and its probability.
#[inline(always)]
pub(crate) fn argmax(probabilities: &[f64; 3]) -> (usize, f64) {
    probabilities.iter().copied().enumerate().fold(
        (0, f64::NEG_INFINITY),
        |best, (class, probability)| {
            if probability > best.1 {
                (class, probability)
            } else {
                best
            }
        },
    )
}

/// A batch span processor in front of `exporter`, with the SDK's default settings.
pub(crate) fn batch_processor(exporter: &DiscardSpans) -> BatchSpanProcessor {
    BatchSpanProcessor::builder(exporter.clone()).build()
}

/// Installs mlotel's telemetry for `#[instrument_ml]`: metrics to a Prometheus reader only,
/// spans (when `exporter` is given) through a batch processor to it, nothing on the network.
/// The newest installation is the one the attribute records to.
pub(crate) fn install_mlotel(sampler: Sampler, exporter: Option<&DiscardSpans>) -> Telemetry {
    let mut builder = Telemetry::builder()
        .service_name("mlotel-benches")
        .install_logging(false)
        .env_vars([
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "prometheus"),
            ("OTEL_LOGS_EXPORTER", "none"),
        ])
        .sampler(sampler);
    if let Some(exporter) = exporter {
        builder = builder.span_processor(batch_processor(exporter));
    }
    let telemetry = builder.install().expect("telemetry installs");
    Model::builder("iris")
        .version("2.0.0")
        .labels(LABELS)
        .features(FEATURES)
        .register();
    telemetry
}

/// A drift reference fitted from 5 000 synthetic rows of `features` numeric features
/// (deterministic values spread over a few units), with label and confidence profiles.
pub(crate) fn synthetic_reference(features: usize) -> mlotel::drift::reference::Reference {
    use mlotel::drift::reference::{FitOptions, Reference};
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let rows: Vec<Vec<f64>> = (0..5_000)
        .map(|_| {
            (0..features)
                .map(|feature| feature as f64 + 4.0 * next())
                .collect()
        })
        .collect();
    let names: Vec<String> = (0..features).map(|feature| format!("f{feature}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let labels: Vec<&str> = (0..5_000).map(|row| LABELS[row % LABELS.len()]).collect();
    let confidences: Vec<f64> = (0..5_000).map(|_| 0.5 + 0.5 * next()).collect();
    Reference::fit_numeric(&rows, &names, FitOptions::default())
        .and_then(|reference| {
            reference.with_predictions(labels, confidences, FitOptions::default())
        })
        .expect("the synthetic reference fits")
}
