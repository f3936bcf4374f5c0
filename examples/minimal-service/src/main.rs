//! The smallest complete ML service instrumented with mlotel: one model behind
//! `POST /predict`, the request middleware, `/metrics`, `/health`, `/health/ready` and
//! `/health/detailed`, JSON errors for bad input, telemetry flushed on shutdown.
//!
//! `cargo run -p minimal-service` listens on 127.0.0.1:8080 (`PORT` changes it), then:
//! `curl -s localhost:8080/predict -H 'content-type: application/json'
//! -d '{"features": [5.1, 3.5, 1.4, 0.2]}'`

use std::time::Instant;

use actix_web::{App, HttpResponse, HttpServer, web};
use mlotel::{Model, instrument_ml};
use mlotel_actix::{ApiError, RequestLimits, ServiceTelemetry, json_config};

const LABELS: [&str; 3] = ["setosa", "versicolor", "virginica"];
const FEATURES: [&str; 4] = ["sepal_length", "sepal_width", "petal_length", "petal_width"];

/// Mean measurements of each iris species (Fisher's data): the whole "model".
const CENTROIDS: [[f64; 4]; 3] = [
    [5.006, 3.428, 1.462, 0.246],
    [5.936, 2.770, 4.260, 1.326],
    [6.588, 2.974, 5.552, 2.026],
];

/// Class probabilities: a softmax over the negative distances to each species' centroid.
/// `#[instrument_ml]` records the span, latency, predicted label and confidence.
#[instrument_ml(model = "iris", version = "1.0.0", features = row)]
fn predict(row: &[f64; 4]) -> Vec<f64> {
    let scores: Vec<f64> = CENTROIDS
        .iter()
        .map(|centroid| {
            let distance: f64 = centroid
                .iter()
                .zip(row)
                .map(|(mean, value)| (mean - value).powi(2))
                .sum();
            (-distance.sqrt()).exp()
        })
        .collect();
    let total: f64 = scores.iter().sum();
    scores.iter().map(|score| score / total).collect()
}

#[derive(serde::Deserialize)]
struct PredictRequest {
    features: Vec<f64>,
}

async fn predict_handler(body: web::Json<PredictRequest>) -> Result<HttpResponse, ApiError> {
    let row: [f64; 4] = body.features.as_slice().try_into().map_err(|_| {
        ApiError::bad_request(
            "invalid_features",
            format!(
                "expected {} features ({}), got {}",
                FEATURES.len(),
                FEATURES.join(", "),
                body.features.len()
            ),
        )
    })?;
    if let Some(index) = row.iter().position(|value| !value.is_finite()) {
        return Err(ApiError::bad_request(
            "invalid_features",
            format!("feature {} is not a finite number", FEATURES[index]),
        ));
    }
    let probabilities = predict(&row);
    let (class, confidence) =
        probabilities
            .iter()
            .copied()
            .enumerate()
            .fold(
                (0, f64::MIN),
                |best, (class, p)| if p > best.1 { (class, p) } else { best },
            );
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "label": LABELS[class],
        "confidence": confidence,
        "probabilities": probabilities,
    })))
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // OTLP to localhost:4317 and Prometheus on /metrics by default; OTEL_* variables change it.
    // With no collector running the service works the same; failed exports are counted.
    let telemetry = mlotel::Telemetry::builder()
        .service_name("minimal-service")
        .service_version(env!("CARGO_PKG_VERSION"))
        .install()?;

    // Register the model before serving; readiness waits until it reports itself loaded.
    let loading = Instant::now();
    let model = Model::builder("iris")
        .version("1.0.0")
        .labels(LABELS)
        .features(FEATURES)
        .register();
    model.set_load_duration(loading.elapsed());
    model.set_loaded(true);

    let service = ServiceTelemetry::new(&telemetry)?;
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .map_err(|_| format!("PORT={port:?} is not a port"))?,
        Err(_) => 8080,
    };
    let server = HttpServer::new(move || {
        App::new()
            // Inner: overlong paths, compressed bodies and stalled uploads are refused
            // before routing, and still counted and traced by the outer telemetry.
            .wrap(RequestLimits::new())
            .wrap(service.request_telemetry())
            .configure(|config| service.configure(config))
            .app_data(json_config(16 * 1024))
            .route("/predict", web::post().to(predict_handler))
    })
    .bind(("127.0.0.1", port))?;
    for address in server.addrs() {
        tracing::info!("listening on http://{address}");
    }
    // Runs until SIGINT or SIGTERM; in-flight requests finish first.
    server.run().await?;

    // Flushes what is still buffered (blocking: off the async runtime).
    actix_web::rt::task::spawn_blocking(move || telemetry.shutdown()).await??;
    Ok(())
}
