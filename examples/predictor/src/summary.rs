//! `GET /api/summary`: what the live page shows (docs/predictor.md, "The live page and
//! `/api/summary`"). Requests, system and model figures are `/health/detailed`'s (the same
//! `Health`); rate, latency and history come from the service's ring of recent slots.

use std::sync::atomic::Ordering;

use actix_web::{HttpRequest, HttpResponse, web};
use mlotel::drift::stats::DriftMethod;
use mlotel_actix::BearerToken;
use serde_json::{Value, json};

use crate::api::AppState;
use crate::iris::{FEATURES, LABELS, Version};

/// Adds `GET /api/summary`, requiring `token` when given (`--protect-details`).
pub(crate) fn configure(config: &mut web::ServiceConfig, token: Option<BearerToken>) {
    config.service(
        web::resource("/api/summary")
            .app_data(web::Data::new(SummaryAccess(token)))
            .route(web::get().to(summary)),
    );
}

/// The token `/api/summary` requires, if any.
#[derive(Debug)]
struct SummaryAccess(Option<BearerToken>);

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

async fn summary(
    request: HttpRequest,
    state: web::Data<AppState>,
    access: web::Data<SummaryAccess>,
) -> HttpResponse {
    if let Some(token) = &access.0
        && let Some(refused) = token.refusal(&request, "/api/summary")
    {
        return refused;
    }
    HttpResponse::Ok().json(document(&state))
}

/// The summary document.
pub(crate) fn document(state: &AppState) -> Value {
    let detailed = state.health.detailed();
    let recent = state.recent.summary();

    let requests = detailed.requests.as_ref().map(|requests| {
        json!({
            "total": requests.total,
            "failed": requests.failed,
            "client_errors": requests.client_errors,
            "error_rate_percent": requests.error_rate_percent,
            "client_error_rate_percent": if requests.total == 0 {
                0.0
            } else {
                round(requests.client_errors as f64 * 100.0 / requests.total as f64, 3)
            },
            "rate_per_second": recent.rate_per_second,
        })
    });

    let system = json!({
        "cpu_percent": detailed.system.as_ref().map(|system| system.cpu_percent),
        "memory_mb": detailed.system.as_ref().map(|system| system.memory_mb),
    });

    let models: Vec<Value> = detailed
        .models
        .iter()
        .map(|report| {
            let served = Version::parse(&report.version)
                .filter(|_| report.name == crate::iris::MODEL)
                .map(|version| (version, state.models.get(version)));
            let class_mix: serde_json::Map<String, Value> = LABELS
                .iter()
                .enumerate()
                .map(|(class, label)| {
                    let count = served.map_or(0, |(version, _)| {
                        state.class_mix[version.index()][class].load(Ordering::Relaxed)
                    });
                    ((*label).to_owned(), json!(count))
                })
                .collect();
            let drift_report = served.and_then(|(_, classifier)| classifier.model.drift_report());
            let drift: Vec<Value> = drift_report
                .iter()
                .flat_map(|report| report.features.iter())
                .filter(|feature| FEATURES.contains(&feature.name.as_str()))
                .map(|feature| {
                    json!({
                        "feature": feature.name,
                        "psi": feature.value(DriftMethod::Psi).map(|psi| round(psi, 4)),
                        "detected": feature.detected,
                    })
                })
                .collect();
            json!({
                "name": report.name,
                "version": report.version,
                "loaded": report.loaded,
                "predictions": report.predictions,
                "mean_confidence": report.mean_confidence,
                "class_mix": class_mix,
                "drift_status": report.drift_status,
                "drift_window": drift_report.as_ref().map(|report| report.rows),
                "drift_min_window": drift_report.as_ref().map(|report| report.min_observations),
                "drift": drift,
            })
        })
        .collect();

    json!({
        "service": detailed.service,
        "version": detailed.version,
        "status": detailed.status,
        "uptime_seconds": round(detailed.uptime.seconds, 1),
        "requests": requests,
        "latency_ms": recent.latency,
        "system": system,
        "models": models,
        "history": recent.history,
        "links": {
            "metrics": "/metrics",
            "health": "/health/detailed",
            "jaeger": state.jaeger_url,
            "grafana": state.grafana_url,
        },
    })
}
