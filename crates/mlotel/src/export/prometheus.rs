//! The Prometheus pull path: the same instruments, rendered for a `/metrics` handler in the
//! Prometheus text format, or in OpenMetrics with exemplars when the scraper asks for it.

use std::fmt;

use prometheus::{Encoder, TextEncoder};

/// `Content-Type` of [`PrometheusHandle::render`]'s output.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders every instrument of the installed meter provider in the Prometheus text format.
///
/// Cheap to clone; hand one to your `/metrics` handler. Rendering collects the current values
/// at call time (observable gauges such as drift are computed then, not per observation).
#[derive(Clone)]
pub struct PrometheusHandle {
    registry: prometheus::Registry,
}

impl fmt::Debug for PrometheusHandle {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("PrometheusHandle")
    }
}

/// Rendering the exposition failed (a metric family the text format cannot encode).
#[derive(Debug, thiserror::Error)]
#[error("could not render the Prometheus exposition: {0}")]
pub struct RenderError(String);

impl PrometheusHandle {
    pub(crate) fn new()
    -> Result<(Self, opentelemetry_prometheus::PrometheusExporter), crate::error::InstallError>
    {
        let registry = prometheus::Registry::new();
        let exporter = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .build()
            .map_err(|error| crate::error::InstallError::Prometheus(error.to_string()))?;
        Ok((Self { registry }, exporter))
    }

    /// The current values of every instrument, in the Prometheus text format 0.0.4 (no
    /// exemplars: the format has no place for them).
    pub fn render(&self) -> Result<String, RenderError> {
        let families = self.registry.gather();
        let mut buffer = Vec::with_capacity(16 * 1024);
        TextEncoder::new()
            .encode(&families, &mut buffer)
            .map_err(|error| RenderError(error.to_string()))?;
        String::from_utf8(buffer).map_err(|error| RenderError(error.to_string()))
    }

    /// The current values of every instrument in the OpenMetrics 1.0 text format
    /// ([`OPENMETRICS_CONTENT_TYPE`](crate::OPENMETRICS_CONTENT_TYPE)), with the exemplars
    /// of sampled calls on the buckets of `ml.prediction.duration`,
    /// `ml.prediction.confidence` and `http.server.request.duration`, ending with `# EOF`.
    /// Serve it to scrapers whose `Accept` header asks for `application/openmetrics-text`.
    pub fn render_openmetrics(&self) -> String {
        super::openmetrics::render(&self.registry.gather())
    }
}
