//! OpenTelemetry instrumentation for machine-learning services.
//!
//! mlotel gives a prediction service traces, latency, outcome, confidence and drift metrics
//! over OTLP (to a Collector, Jaeger, Prometheus) and on a Prometheus `/metrics` page, with
//! one set-up call and one handle per model.
//!
//! # Getting started
//!
//! ```
//! use mlotel::{instrument_ml, Model, Telemetry};
//!
//! #[instrument_ml(model = "iris", version = "2.0.0", features = row)]
//! fn predict(row: &[f64; 4]) -> Vec<f64> {
//!     vec![0.9, 0.07, 0.03] // class probabilities: label = argmax, confidence = max
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Reads the standard OTEL_* variables; works with no collector running.
//! let telemetry = Telemetry::builder()
//!     .service_name("predictor")
//! #   .install_logging(false)
//! #   .env_vars([("OTEL_TRACES_EXPORTER", "none"), ("OTEL_METRICS_EXPORTER", "prometheus")])
//!     .install()?;
//! Model::builder("iris")
//!     .version("2.0.0")
//!     .labels(["setosa", "versicolor", "virginica"])
//!     .register();
//!
//! predict(&[5.1, 3.5, 1.4, 0.2]);
//!
//! let exposition = telemetry.prometheus().expect("prometheus exporter on").render()?;
//! assert!(exposition.contains(r#"ml_prediction_label="setosa""#));
//! telemetry.shutdown()?; // flushes; dropping it does the same
//! # Ok(())
//! # }
//! ```
//!
//! Code that cannot take an attribute records through [`Model`] directly
//! ([`Model::record_prediction`], [`Model::in_span`]).
//!
//! # Configuration
//!
//! Every builder value can be overridden by its standard variable (`OTEL_SERVICE_NAME`,
//! `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_TRACES_SAMPLER`, ...):
//! the README lists them all. An invalid value is an [`InstallError`] naming the variable.
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `otlp-grpc` | yes | OTLP over gRPC (tonic), on a one-thread runtime of its own |
//! | `otlp-http` | yes | OTLP over HTTP/protobuf (blocking reqwest on the exporter threads) |
//! | `prometheus` | yes | [`PrometheusHandle`]: the Prometheus text exposition for `/metrics` |
//!
//! # Minimum supported Rust version
//!
//! Rust 1.89 (edition 2024).

/// The README's Rust examples, compiled and run as doctests so they cannot drift from
/// the code.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeExamples;

mod bounded_names;
mod call_site;
mod config;
pub mod drift;
mod error;
pub mod exemplars;
mod export;
mod features;
pub mod genai;
mod ground_truth;
mod logging;
mod model;
pub mod names;
mod output;
mod probes;
mod redact;
mod spans;
mod stage;
mod telemetry;

/// What `#[instrument_ml]` expands to that is not public API: the call site's model
/// lookup, the sub-step span and the output probes. Names and signatures change without
/// notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::call_site::{
        CallSite, SiteModel, model, model_with_default_version, start_call,
    };
    pub use crate::probes::*;
    pub use crate::stage::StageGuard;
    pub use opentelemetry::context::FutureExt;
}

/// Instruments a generative call (client or in-process server) with the OpenTelemetry
/// GenAI conventions; see [`genai`].
pub use mlotel_macros::instrument_genai;
#[doc = include_str!("instrument_ml.md")]
pub use mlotel_macros::instrument_ml;

pub use bounded_names::UNDECLARED_LABEL_CAP;
pub use config::{Protocol, Sampler};
pub use error::{ConfigError, InstallError};
pub use export::{ExportMonitor, ExporterStatus};
#[cfg(feature = "prometheus")]
pub use export::{
    OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, PrometheusHandle, RenderError,
};
pub use features::{FeatureRow, FeatureRows};
pub use ground_truth::{
    OutcomeError, ParsePredictionIdError, PredictionId, last_prediction_id, take_prediction_ids,
};
pub use logging::JsonLogFormat;
pub use model::{
    ActiveGuard, Model, ModelBuilder, ModelSnapshot, Outcome, PredictionCall, PredictionSpan,
    StoredPrediction, UNNAMED_FEATURE_CAP, registered_models,
};
pub use output::{
    BatchOutput, ErrorType, IntoConfidence, IntoLabel, Label, Prediction, PredictionOutput,
};
pub use telemetry::{ShutdownError, Telemetry, TelemetryBuilder};
