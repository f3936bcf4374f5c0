//! Run with: `OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 cargo run -p otlp-smoke`
//!
//! Installs mlotel from the `OTEL_*` variables, records a few predictions of an `iris`
//! model inside a `tracing` span (one of them an error), and shuts down, which flushes
//! everything. Exits non-zero if set-up or the flush fails, so scripts can rely on it.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use mlotel::{Model, Outcome, Telemetry};

fn main() -> ExitCode {
    let telemetry = match Telemetry::builder()
        .service_name("otlp-smoke")
        .service_version(env!("CARGO_PKG_VERSION"))
        .install()
    {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("otlp-smoke: {error}");
            return ExitCode::from(2);
        }
    };
    let iris = telemetry.model(Model::builder("iris").version("2.0.0").labels([
        "setosa",
        "versicolor",
        "virginica",
    ]));
    iris.set_load_duration(Duration::from_millis(12));
    iris.set_loaded(true);

    let request = tracing::info_span!("handle_request", route = "/v1/predict");
    request.in_scope(|| {
        for (label, confidence) in [("setosa", 0.97), ("virginica", 0.81), ("versicolor", 0.66)] {
            predict(
                &iris,
                Outcome::Ok {
                    label: Some(label),
                    confidence: Some(confidence),
                },
            );
        }
        predict(
            &iris,
            Outcome::Error {
                error_type: "InvalidInput",
            },
        );
        iris.record_missing_feature("petal_width");
        iris.record_out_of_range_feature("sepal_length");
    });

    match telemetry.shutdown() {
        Ok(()) => {
            println!("otlp-smoke: sent 4 predictions of iris 2.0.0 and flushed");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("otlp-smoke: {error}");
            ExitCode::FAILURE
        }
    }
}

fn predict(model: &Model, outcome: Outcome<'_>) {
    let started = Instant::now();
    let _active = model.track_active();
    let ((), span) = model.in_span(|| {
        tracing::info_span!("preprocess").in_scope(|| tracing::debug!("scaled 4 features"));
    });
    span.end(1, outcome);
    model.record_prediction(started.elapsed(), 1, outcome);
}
