//! The prediction and model routes (docs/predictor.md, "Routes" and "Errors").

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use mlotel::instrument_ml;
use mlotel_actix::{ApiError, Health};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::iris::{
    self, Classifier, FEATURES, FarOutOfRange, LABELS, MAX_DEBUG_DELAY, MODEL, Models, Version,
};
use crate::recent::Recent;
use crate::request_body::{self, Form};

/// Request and response header naming the model version.
pub(crate) const VERSION_HEADER: &str = "x-model-version";
/// Request header asking for a slower prediction (with `--allow-debug-headers`).
pub(crate) const DELAY_HEADER: &str = "x-debug-delay-ms";
/// A prediction at least this slow is logged (a warning with the model, its version and
/// the duration): the dashboards' p95 turns yellow here, half the latency objective. Faster
/// predictions log nothing, so the log volume follows the slow share, not the traffic.
pub(crate) const SLOW_PREDICTION: Duration = Duration::from_millis(250);

/// Request header asking for a failed model call (with `--allow-debug-headers`).
pub(crate) const FAIL_HEADER: &str = "x-debug-fail";

/// What every worker shares.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) models: Models,
    pub(crate) split: f64,
    pub(crate) max_batch: usize,
    pub(crate) allow_debug_headers: bool,
    pub(crate) jaeger_url: Option<String>,
    pub(crate) grafana_url: Option<String>,
    /// The health endpoints' own `Health`: `/api/summary` reports its numbers.
    pub(crate) health: Health,
    pub(crate) recent: Arc<Recent>,
    /// Predicted labels per version: `[version][label]`.
    pub(crate) class_mix: [[AtomicU64; 3]; 2],
    /// Requests `POST /predict` has routed by the split.
    split_counter: AtomicU64,
}

impl AppState {
    /// The shared state of a service.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        models: Models,
        split: f64,
        max_batch: usize,
        allow_debug_headers: bool,
        jaeger_url: Option<String>,
        grafana_url: Option<String>,
        health: Health,
        recent: Arc<Recent>,
    ) -> Self {
        Self {
            models,
            split,
            max_batch,
            allow_debug_headers,
            jaeger_url,
            grafana_url,
            health,
            recent,
            class_mix: Default::default(),
            split_counter: AtomicU64::new(0),
        }
    }

    /// The version the split picks for the next `POST /predict`: exactly `split` of every
    /// run of requests go to 2.0.0, spread evenly.
    fn split_version(&self) -> Version {
        let n = self.split_counter.fetch_add(1, Ordering::Relaxed) as f64;
        if ((n + 1.0) * self.split).floor() > (n * self.split).floor() {
            Version::V2
        } else {
            Version::V1
        }
    }
}

/// Adds the prediction and model routes. Each path is one resource (no method guard on
/// the resource), so a wrong method gets 405 with `Allow` instead of falling through to
/// another resource (`GET /v1/models/iris:predict` would match `/v1/models/{model}`).
pub(crate) fn configure(config: &mut web::ServiceConfig) {
    config
        .service(web::resource("/v1/models").route(web::get().to(list_models)))
        .service(prediction("/v1/models/{model}:predict").route(web::post().to(predict_default)))
        .service(
            prediction("/v1/models/{model}/versions/{version}:predict")
                .route(web::post().to(predict_version)),
        )
        .service(web::resource("/v1/models/{model}").route(web::get().to(model_status)))
        .service(prediction("/v1/predict").route(web::post().to(predict_v1_route)))
        .service(prediction("/v2/predict").route(web::post().to(predict_v2_route)))
        .service(prediction("/predict").route(web::post().to(predict_split)))
        .service(
            web::resource("/v1/models/{model}/feedback")
                .route(web::post().to(crate::feedback::record)),
        );
}

/// Marks the resources of prediction routes (for latency in the ring): read from the
/// request once the router has run, without matching the path again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PredictionRoute;

fn prediction(path: &str) -> actix_web::Resource {
    web::resource(path).app_data(PredictionRoute)
}

/// Whether the router sent `request` to a prediction route.
pub(crate) fn is_prediction_route(request: &HttpRequest) -> bool {
    request.app_data::<PredictionRoute>().is_some()
}

/// The answer to a request no route matches: 404 `route_not_found`.
pub(crate) async fn route_not_found(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let path = request.path();
    let shown: String = path.chars().take(80).collect();
    let more = if shown.len() < path.len() { "..." } else { "" };
    Err(ApiError::not_found(
        "route_not_found",
        format!(
            "no route for {} {shown:?}{more}; the routes are listed in docs/predictor.md",
            request.method()
        ),
    ))
}

/// A refused input, recorded with its `type` as `error.type` on the `preprocess` span.
#[derive(Debug)]
struct Rejected(ApiError);

impl mlotel::ErrorType for Rejected {
    fn error_type(&self) -> &'static str {
        self.0.kind()
    }
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Validates the body and converts it to rows (`request_body::parse_rows`), in a `preprocess` span.
#[instrument_ml(stage = "preprocess")]
fn preprocess(body: &str, form: Form, max_batch: usize) -> Result<Vec<[f64; 4]>, Rejected> {
    request_body::parse_rows(body, form, max_batch, &FEATURES).map_err(|refused| {
        Rejected(match refused.status {
            request_body::Status::BadRequest => {
                ApiError::bad_request(refused.kind, refused.message)
            }
            request_body::Status::Unprocessable => {
                ApiError::unprocessable(refused.kind, refused.message)
            }
        })
    })
}

/// What the debug headers asked of one prediction (`--allow-debug-headers`).
#[derive(Debug, Clone, Copy, Default)]
struct DebugRequest {
    /// `X-Debug-Delay-Ms`, at most 2 s.
    delay: Option<Duration>,
    /// `X-Debug-Fail`: the model call fails.
    fail: bool,
}

/// A failed model call.
#[derive(Debug)]
enum ModelFailure {
    /// `X-Debug-Fail` asked for it, so that the failure path (500, `error.type`, alerts)
    /// can be exercised.
    Asked,
    /// The model gave a probability that is not a finite number for this instance (inputs
    /// so far outside the training range that the model's arithmetic overflows).
    NonFiniteOutput { instance: usize },
}

impl mlotel::ErrorType for ModelFailure {
    fn error_type(&self) -> &'static str {
        match self {
            ModelFailure::Asked => "model_failure",
            ModelFailure::NonFiniteOutput { .. } => "non_finite_output",
        }
    }
}

impl std::fmt::Display for ModelFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelFailure::Asked => f.write_str("the model call failed (asked for by X-Debug-Fail)"),
            ModelFailure::NonFiniteOutput { instance } => write!(
                f,
                "instance {instance}: the model's probabilities are not finite numbers, so no \
                 prediction was made"
            ),
        }
    }
}

#[instrument_ml(model = "iris", version = "1.0.0", batch, features = rows)]
async fn predict_v1(
    classifier: &Classifier,
    rows: &[[f64; 4]],
    debug: DebugRequest,
) -> Result<Vec<[f64; 3]>, ModelFailure> {
    score(classifier, rows, debug).await
}

#[instrument_ml(model = "iris", version = "2.0.0", batch, features = rows)]
async fn predict_v2(
    classifier: &Classifier,
    rows: &[[f64; 4]],
    debug: DebugRequest,
) -> Result<Vec<[f64; 3]>, ModelFailure> {
    score(classifier, rows, debug).await
}

/// The model's work, plus what the debug headers asked for (inside the prediction span).
/// Output that is not a finite probability fails the call: it is no prediction, and a
/// made-up label from it would be recorded nowhere else.
async fn score(
    classifier: &Classifier,
    rows: &[[f64; 4]],
    debug: DebugRequest,
) -> Result<Vec<[f64; 3]>, ModelFailure> {
    if let Some(delay) = debug.delay {
        actix_web::rt::time::sleep(delay).await;
    }
    if debug.fail {
        return Err(ModelFailure::Asked);
    }
    let scored = classifier.probabilities(rows);
    if let Some(instance) = scored
        .iter()
        .position(|probabilities| probabilities.iter().any(|p| !p.is_finite()))
    {
        return Err(ModelFailure::NonFiniteOutput { instance });
    }
    Ok(scored)
}

/// The answer to a failed model call: 500 for a failure of the model itself, 422 for
/// output that is not finite (the same input always fails the same way; docs/predictor.md).
///
/// A 500 is logged once, here, with what a log search needs to group it (docs/operations.md,
/// "Logs"): the model, its version, `error.type` and the batch's shape, never the feature
/// values or the body. A 422 is the input's doing and is not logged (its answer says why).
fn model_error(
    failure: ModelFailure,
    classifier: &Classifier,
    version: Version,
    rows: &[[f64; 4]],
) -> ApiError {
    let kind = mlotel::ErrorType::error_type(&failure);
    match failure {
        ModelFailure::Asked => {
            tracing::error!(
                ml.model.name = MODEL,
                ml.model.version = version.as_str(),
                error.type = kind,
                ml.prediction.batch_size = rows.len(),
                "prediction failed, answered with 500: {failure}"
            );
            // Logged above: `ApiError::internal_with_type` would log it a second time.
            ApiError::new(
                actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
                kind,
                "internal server error",
            )
        }
        ModelFailure::NonFiniteOutput { instance } => {
            let far: Vec<String> = rows
                .get(instance)
                .map(|row| classifier.far_out_of_range(row))
                .unwrap_or_default()
                .iter()
                .map(FarOutOfRange::describe)
                .collect();
            let cause = if far.is_empty() {
                String::new()
            } else {
                format!(" ({})", far.join("; "))
            };
            ApiError::unprocessable(kind, format!("{failure}{cause}"))
        }
    }
}

/// The per-instance `warnings` of a response: values far outside the training range.
fn warnings(far: &[FarOutOfRange]) -> Vec<Value> {
    far.iter()
        .map(|far| {
            json!({
                "type": "far_out_of_range",
                "feature": FEATURES[far.feature],
                "value": far.value,
                "reference_min": far.reference_min,
                "reference_max": far.reference_max,
                "message": far.describe(),
            })
        })
        .collect()
}

/// What the debug headers ask for, when the flag allows them.
fn debug_request(state: &AppState, request: &HttpRequest) -> DebugRequest {
    if !state.allow_debug_headers {
        return DebugRequest::default();
    }
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
    };
    DebugRequest {
        delay: header(DELAY_HEADER)
            .and_then(|text| text.parse().ok())
            .map(|millis| Duration::from_millis(millis).min(MAX_DEBUG_DELAY)),
        fail: header(FAIL_HEADER).is_some_and(|text| matches!(text, "1" | "true" | "yes")),
    }
}

/// Preprocesses, predicts with `version` and answers.
async fn serve(
    state: &AppState,
    request: &HttpRequest,
    version: Version,
    body: &RawValue,
    form: Form,
) -> Result<HttpResponse, ApiError> {
    let rows = preprocess(body.get(), form, state.max_batch).map_err(|rejected| rejected.0)?;
    let debug = debug_request(state, request);
    let classifier = state.models.get(version);
    let started = Instant::now();
    let scored = match version {
        Version::V1 => predict_v1(classifier, &rows, debug).await,
        Version::V2 => predict_v2(classifier, &rows, debug).await,
    };
    // Read in the poll that finished the call, on its thread: one id per row.
    let ids = mlotel::take_prediction_ids();
    let scored = scored.map_err(|failure| model_error(failure, classifier, version, &rows))?;
    let took = started.elapsed();
    if took >= SLOW_PREDICTION {
        // Only the slow ones: a prediction within the budget logs nothing.
        tracing::warn!(
            ml.model.name = MODEL,
            ml.model.version = version.as_str(),
            ml.prediction.batch_size = rows.len(),
            duration_ms = took.as_secs_f64() * 1000.0,
            "slow prediction: {} ms (logged from {} ms)",
            took.as_millis(),
            SLOW_PREDICTION.as_millis()
        );
    }
    let mut classes = Vec::with_capacity(scored.len());
    let mut predictions = Vec::with_capacity(scored.len());
    for (index, (probabilities, row)) in scored.iter().zip(&rows).enumerate() {
        // `score` let only finite probabilities through, so every row has a class.
        let (class, confidence) = iris::argmax(probabilities)
            .ok_or_else(|| ApiError::internal("a scored row has no finite probability"))?;
        classes.push((class, confidence));
        let mut prediction = json!({
            "label": LABELS[class],
            "confidence": confidence,
            "probabilities": probabilities,
        });
        if let (Some(id), true) = (ids.get(index), ids.len() == scored.len()) {
            prediction["prediction_id"] = Value::from(id.to_string());
        }
        let far = classifier.far_out_of_range(row);
        if !far.is_empty() {
            prediction["warnings"] = Value::from(warnings(&far));
        }
        predictions.push(prediction);
    }
    let mix = &state.class_mix[version.index()];
    let mut confidence_sum = 0.0;
    for (class, confidence) in classes {
        mix[class].fetch_add(1, Ordering::Relaxed);
        confidence_sum += confidence;
    }
    state
        .recent
        .record_confidences(confidence_sum, predictions.len() as u64);
    Ok(HttpResponse::Ok()
        .insert_header((VERSION_HEADER, version.as_str()))
        .json(json!({
            "predictions": predictions,
            "model": MODEL,
            "version": version.as_str(),
        })))
}

pub(crate) fn check_model(model: &str) -> Result<(), ApiError> {
    if model == MODEL {
        Ok(())
    } else {
        Err(ApiError::not_found(
            "model_not_found",
            format!("no model named {model:?}; this service serves {MODEL:?}"),
        ))
    }
}

fn parse_version(text: &str) -> Result<Version, ApiError> {
    Version::parse(text).ok_or_else(|| {
        let served: Vec<&str> = Version::ALL.iter().map(|v| v.as_str()).collect();
        ApiError::not_found(
            "version_not_found",
            format!(
                "model {MODEL:?} has no version {text:?}; served versions: {}",
                served.join(", ")
            ),
        )
    })
}

async fn predict_default(
    state: web::Data<AppState>,
    request: HttpRequest,
    model: web::Path<String>,
    body: web::Json<Box<RawValue>>,
) -> Result<HttpResponse, ApiError> {
    check_model(&model)?;
    serve(&state, &request, Version::DEFAULT, &body, Form::Instances).await
}

async fn predict_version(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<Box<RawValue>>,
) -> Result<HttpResponse, ApiError> {
    let (model, version) = path.into_inner();
    check_model(&model)?;
    let version = parse_version(&version)?;
    serve(&state, &request, version, &body, Form::Instances).await
}

async fn predict_v1_route(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Json<Box<RawValue>>,
) -> Result<HttpResponse, ApiError> {
    serve(
        &state,
        &request,
        Version::V1,
        &body,
        Form::InstancesOrFeatures,
    )
    .await
}

async fn predict_v2_route(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Json<Box<RawValue>>,
) -> Result<HttpResponse, ApiError> {
    serve(
        &state,
        &request,
        Version::V2,
        &body,
        Form::InstancesOrFeatures,
    )
    .await
}

async fn predict_split(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Json<Box<RawValue>>,
) -> Result<HttpResponse, ApiError> {
    let version = match request.headers().get(VERSION_HEADER) {
        Some(header) => parse_version(header.to_str().unwrap_or("(not text)").trim())?,
        None => state.split_version(),
    };
    serve(&state, &request, version, &body, Form::InstancesOrFeatures).await
}

async fn list_models(state: web::Data<AppState>) -> HttpResponse {
    let versions: Vec<Value> = Version::ALL
        .iter()
        .map(|version| {
            json!({
                "version": version.as_str(),
                "loaded": state.models.get(*version).model.is_loaded(),
            })
        })
        .collect();
    HttpResponse::Ok().json(json!({
        "models": [{
            "name": MODEL,
            "default_version": Version::DEFAULT.as_str(),
            "versions": versions,
        }],
    }))
}

async fn model_status(
    state: web::Data<AppState>,
    model: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    check_model(&model)?;
    let versions: Vec<Value> = Version::ALL
        .iter()
        .map(|version| {
            let classifier = state.models.get(*version);
            let snapshot = classifier.model.snapshot();
            let reference = classifier.model.reference();
            let features: Vec<Value> = FEATURES
                .iter()
                .map(|name| {
                    let profile = reference
                        .and_then(|reference| reference.feature(name))
                        .and_then(|feature| feature.as_numeric());
                    json!({
                        "name": name,
                        "unit": "cm",
                        "reference_mean": profile.map(|p| p.mean),
                        "reference_std": profile.map(|p| p.std),
                    })
                })
                .collect();
            json!({
                "version": version.as_str(),
                "state": if snapshot.loaded { "AVAILABLE" } else { "LOADING" },
                "loaded": snapshot.loaded,
                "default": *version == Version::DEFAULT,
                "algorithm": "multinomial logistic regression (linfa-logistic)",
                "l2_alpha": classifier.alpha,
                "train_rows": classifier.train_rows,
                "test_rows": classifier.test_rows,
                "holdout_accuracy": classifier.accuracy,
                "train_mean_confidence": classifier.train_mean_confidence,
                "load_duration_seconds": snapshot.load_duration_seconds,
                "predictions": snapshot.predictions,
                "features": features,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "name": MODEL,
        "default_version": Version::DEFAULT.as_str(),
        "labels": LABELS,
        "features": FEATURES,
        "versions": versions,
    })))
}
