//! Run with: `cargo run --release -p predictor`
//!
//! Stand-in for the demo service (an actix-web predictor arrives with its own issue): scores
//! a fixed 4-feature, 3-class logistic model on a stream of synthetic iris-like rows through
//! an `#[instrument_ml]` function, then prints the model's lines of the Prometheus
//! exposition. Works with no collector running; set `OTEL_EXPORTER_OTLP_ENDPOINT` to send
//! over OTLP too. `PREDICTIONS` sets how many rows are scored (default 2000).

use std::process::ExitCode;
use std::time::Instant;

use mlotel::{Model, Telemetry, instrument_ml};

const LABELS: [&str; 3] = ["setosa", "versicolor", "virginica"];
const FEATURES: [&str; 4] = ["sepal_length", "sepal_width", "petal_length", "petal_width"];
/// Weights and biases of a multinomial logistic regression fitted on the iris data set.
const WEIGHTS: [[f64; 4]; 3] = [
    [0.42, 0.97, -2.40, -1.07],
    [0.53, -0.32, -0.20, -0.94],
    [-0.95, -0.65, 2.60, 2.01],
];
const BIASES: [f64; 3] = [9.85, 2.24, -12.09];

fn main() -> ExitCode {
    let telemetry = match Telemetry::builder()
        .service_name("predictor")
        .service_version(env!("CARGO_PKG_VERSION"))
        .install()
    {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("predictor: {error}");
            return ExitCode::from(2);
        }
    };
    let rows: u64 = std::env::var("PREDICTIONS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(2000);

    let loading = Instant::now();
    let model = Model::builder("iris")
        .version("1.0.0")
        .labels(LABELS)
        .features(FEATURES)
        .register();
    model.set_load_duration(loading.elapsed());
    model.set_loaded(true);
    tracing::info!(rows, "scoring synthetic iris rows");

    for row in 0..rows {
        predict(&synthetic_row(row));
    }

    if let Some(exposition) = telemetry
        .prometheus()
        .and_then(|handle| handle.render().ok())
    {
        for line in exposition.lines().filter(|line| line.starts_with("ml_")) {
            println!("{line}");
        }
    }
    // With no collector running the final export fails; the demo still succeeded.
    if let Err(error) = telemetry.shutdown() {
        tracing::warn!(%error, "telemetry was not fully delivered (is a collector running?)");
    }
    ExitCode::SUCCESS
}

/// Deterministic rows spread over the three iris clusters.
fn synthetic_row(row: u64) -> [f64; 4] {
    let centres = [
        [5.0, 3.4, 1.5, 0.2],
        [5.9, 2.8, 4.3, 1.3],
        [6.6, 3.0, 5.6, 2.0],
    ];
    let centre = centres[(row % 3) as usize];
    let jitter =
        |salt: u64| (((row * 2654435761 + salt * 40503) % 1000) as f64 / 1000.0 - 0.5) * 0.6;
    [
        centre[0] + jitter(1),
        centre[1] + jitter(2),
        centre[2] + jitter(3),
        centre[3] + jitter(4) * 0.5,
    ]
}

/// Class probabilities: mlotel records the argmax as the label and its probability as the
/// confidence, and counts missing (NaN) features.
#[instrument_ml(model = "iris", version = "1.0.0", features = features)]
fn predict(features: &[f64; 4]) -> [f64; 3] {
    let mut logits = [0.0; 3];
    for (class, logit) in logits.iter_mut().enumerate() {
        *logit = BIASES[class]
            + WEIGHTS[class]
                .iter()
                .zip(features)
                .map(|(weight, value)| weight * value)
                .sum::<f64>();
    }
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps = logits.map(|logit| (logit - max).exp());
    let total: f64 = exps.iter().sum();
    exps.map(|value| value / total)
}
