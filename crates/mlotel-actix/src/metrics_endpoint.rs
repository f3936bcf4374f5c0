//! [`MetricsEndpoint`]: `/metrics`, optionally behind a bearer token.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::BearerToken;

/// The Prometheus exposition as a route (OpenMetrics with exemplars for scrapers that ask
/// for it, the classic text format otherwise), optionally protected by a bearer token:
///
/// ```no_run
/// # fn app(handle: mlotel::PrometheusHandle) {
/// use mlotel_actix::MetricsEndpoint;
///
/// let metrics = MetricsEndpoint::new(handle).bearer_token("s3cret");
/// let app = actix_web::App::new().configure(|config| metrics.configure(config));
/// # }
/// ```
///
/// A wrong or missing token gets 401, a JSON error body and `WWW-Authenticate: Bearer`.
#[derive(Debug, Clone)]
pub struct MetricsEndpoint {
    handle: mlotel::PrometheusHandle,
    token: Option<BearerToken>,
    path: String,
}

impl MetricsEndpoint {
    /// Serves `handle` at `/metrics`, unprotected.
    pub fn new(handle: mlotel::PrometheusHandle) -> Self {
        Self {
            handle,
            token: None,
            path: "/metrics".to_owned(),
        }
    }

    /// Requires `Authorization: Bearer {token}` (compared in constant time). An empty token
    /// (say, from an unset variable) is logged as an error and refuses every request rather
    /// than letting requests without a token through.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        let token = token.into();
        if token.is_empty() {
            tracing::error!(
                target: "mlotel",
                path = %self.path,
                "empty bearer token for the metrics endpoint: every request will be refused"
            );
        }
        self.token = Some(BearerToken::new(token));
        self
    }

    /// Serves at `path` instead of `/metrics`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Adds the route, for `App::configure`.
    pub fn configure(&self, config: &mut web::ServiceConfig) {
        let path = self.path.clone();
        let endpoint = web::Data::new(self.clone());
        config.service(
            web::resource(path)
                .app_data(endpoint)
                .route(web::get().to(serve)),
        );
    }

    /// The response to `request`: the exposition, or 401.
    pub fn respond(&self, request: &HttpRequest) -> HttpResponse {
        if let Some(token) = &self.token
            && let Some(refused) = token.refusal(request, &self.path)
        {
            return refused;
        }
        crate::metrics_response(&self.handle, request)
    }
}

async fn serve(request: HttpRequest, endpoint: web::Data<MetricsEndpoint>) -> HttpResponse {
    endpoint.respond(&request)
}
