//! OpenTelemetry instrumentation for machine-learning services.
//!
//! mlotel gives a prediction service traces, latency, outcome, confidence and drift metrics
//! over OTLP (to a Collector, Jaeger, Prometheus) and on a Prometheus `/metrics` page, with
//! one set-up call and one handle per model.
//!
//! # Getting started
//!
//! ```
//! use std::time::{Duration, Instant};
//! use mlotel::{ModelInstruments, Outcome, Telemetry};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Reads the standard OTEL_* variables; works with no collector running.
//! let telemetry = Telemetry::builder()
//!     .service_name("predictor")
//!     .service_version(env!("CARGO_PKG_VERSION"))
//! #   .env_vars([("OTEL_TRACES_EXPORTER", "none"), ("OTEL_METRICS_EXPORTER", "prometheus")])
//!     .build()?; // or .install()? to also set the globals and the JSON log subscriber
//!
//! let iris = telemetry.model(
//!     ModelInstruments::builder("iris")
//!         .version("2.0.0")
//!         .labels(["setosa", "versicolor", "virginica"]),
//! );
//!
//! let started = Instant::now();
//! let _active = iris.track_active();
//! let (probabilities, span) = iris.in_span(|| [0.9, 0.07, 0.03]);
//! let outcome = Outcome::Ok { label: Some("setosa"), confidence: Some(probabilities[0]) };
//! span.end(1, outcome);
//! iris.record_prediction(started.elapsed(), 1, outcome);
//!
//! let exposition = telemetry.prometheus().expect("prometheus exporter on").render()?;
//! assert!(exposition.contains("ml_predictions_total"));
//! telemetry.shutdown()?; // flushes; dropping the guard does the same
//! # Ok(())
//! # }
//! ```
//!
//! The `#[instrument_ml]` attribute, which writes the recording calls above for you, is
//! re-exported here once it lands.
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
//! Rust 1.88 (edition 2024).

mod config;
mod error;
mod export_health;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod export_wrappers;
mod logging;
mod model;
pub mod names;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod otlp;
#[cfg(feature = "prometheus")]
mod prometheus;
mod resource;
mod telemetry;

pub use config::{Protocol, Sampler};
pub use error::{ConfigError, InstallError};
pub use export_health::ExporterStatus;
pub use logging::JsonLogFormat;
pub use model::{ActiveGuard, ModelInstruments, ModelInstrumentsBuilder, Outcome, PredictionSpan};
#[cfg(feature = "prometheus")]
pub use prometheus::{PROMETHEUS_CONTENT_TYPE, PrometheusHandle, RenderError};
pub use telemetry::{ShutdownError, Telemetry, TelemetryBuilder};
