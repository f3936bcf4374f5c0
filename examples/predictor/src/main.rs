//! The mlotel demo service (docs/predictor.md): two versions of an iris classifier
//! (multinomial logistic regression with linfa, trained at start-up) behind a KServe-style
//! HTTP API, instrumented only through mlotel and mlotel-actix, with a live page.
//!
//! `cargo run --release -p predictor`, then open <http://127.0.0.1:8080/>, or:
//! `curl -s localhost:8080/v1/models/iris:predict -H 'content-type: application/json'
//! -d '{"instances": [[5.1, 3.5, 1.4, 0.2]]}'`. No collector is needed. `--help` lists the
//! flags.

mod api;
mod chat;
mod cli;
mod dashboard;
mod feedback;
mod iris;
mod recent;
mod request_body;
mod summary;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use actix_web::dev::Service as _;
use actix_web::{App, HttpServer, web};
use clap::Parser as _;
use mlotel_actix::{BearerToken, RequestLimits, ServiceTelemetry, json_config, path_config};

use crate::api::AppState;
use crate::recent::Recent;

/// Largest request body accepted.
const BODY_LIMIT: usize = 64 * 1024;

fn main() -> ExitCode {
    let started = Instant::now();
    // Exits 2 with clap's message on an invalid flag or variable.
    let args = cli::Args::parse();
    match actix_web::rt::System::new().block_on(run(args, started)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("predictor: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// Why the service stopped: a message and the exit code.
struct Failure {
    message: String,
    code: u8,
}

impl Failure {
    /// Bad configuration (an `OTEL_*` variable): exit code 2, as for a bad flag.
    fn config(message: impl std::fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            code: 2,
        }
    }

    /// Anything else: exit code 1.
    fn runtime(message: impl std::fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            code: 1,
        }
    }
}

async fn run(args: cli::Args, started: Instant) -> Result<(), Failure> {
    // OTLP (localhost by default) and Prometheus on /metrics; OTEL_* variables change it.
    let telemetry = mlotel::Telemetry::builder()
        .service_name("predictor")
        .service_version(env!("CARGO_PKG_VERSION"))
        .shutdown_timeout(args.flush_timeout())
        .install()
        .map_err(Failure::config)?;

    let models = iris::train(iris::DriftWatch {
        window: args.drift_window,
        min_observations: args.drift_min_observations,
        store_capacity: args.prediction_store_capacity as usize,
        store_max_age: args.prediction_store_max_age,
    })
    .map_err(Failure::runtime)?;
    for version in iris::Version::ALL {
        let classifier = models.get(version);
        tracing::info!(
            ml.model.name = iris::MODEL,
            ml.model.version = version.as_str(),
            l2_alpha = classifier.alpha,
            holdout_accuracy = classifier.accuracy,
            train_mean_confidence = classifier.train_mean_confidence,
            load_seconds = classifier.model.snapshot().load_duration_seconds,
            "trained iris {}: hold-out accuracy {:.3}, mean confidence on the training rows {:.3}",
            version.as_str(),
            classifier.accuracy,
            classifier.train_mean_confidence,
        );
    }

    // `/api/summary` reports the numbers of the health endpoints' own `Health`.
    let mut health = None;
    let mut service = ServiceTelemetry::new(&telemetry)
        .map_err(|error| Failure::runtime(format!("starting the system sampler: {error}")))?;
    if let Some(token) = &args.metrics_token {
        service = service.metrics_bearer_token(token.clone());
        if args.protect_details {
            service = service.detailed_health_bearer_token(token.clone());
        }
    }
    let summary_token = args
        .metrics_token
        .clone()
        .filter(|_| args.protect_details)
        .map(BearerToken::new);
    let service = service.health(|inner| {
        health = Some(inner.clone());
        inner
    });
    let health = health.ok_or_else(|| Failure::runtime("no health endpoints"))?;
    let recent = Arc::new(Recent::new());
    let state = web::Data::new(AppState::new(
        models,
        args.split,
        args.max_batch as usize,
        args.allow_debug_headers,
        args.jaeger_url.clone(),
        args.grafana_url.clone(),
        health,
        recent.clone(),
    ));

    let limits = RequestLimits::new()
        .max_path_bytes(args.max_path_bytes as usize)
        .body_timeout(Some(args.body_timeout));
    let mut server = HttpServer::new(move || {
        let recent = recent.clone();
        App::new()
            // Innermost: refuses overlong paths, compressed and non-UTF-8 bodies before the
            // router, bounds the body read, gives empty error answers a JSON body.
            .wrap(limits)
            // Counts every request in the ring, with the latency of the prediction routes
            // (known from the resource the router picked: no second route match).
            .wrap_fn(move |request, service| {
                let begun = Instant::now();
                let response = service.call(request);
                let recent = recent.clone();
                async move {
                    let response = response.await;
                    let (status, prediction) = match &response {
                        Ok(response) => (
                            response.status().as_u16(),
                            api::is_prediction_route(response.request()),
                        ),
                        Err(error) => (error.as_response_error().status_code().as_u16(), false),
                    };
                    recent.record_request(status, prediction.then(|| begun.elapsed()));
                    response
                }
            })
            .wrap(service.request_telemetry())
            .app_data(state.clone())
            .app_data(json_config(BODY_LIMIT))
            .app_data(path_config())
            .configure(|config| service.configure(config))
            .configure(api::configure)
            .configure(chat::configure)
            .configure(|config| summary::configure(config, summary_token.clone()))
            .configure(dashboard::configure)
            .default_service(web::to(api::route_not_found))
    })
    .client_request_timeout(args.client_request_timeout)
    .max_connections(args.max_connections as usize);
    if let Some(workers) = args.workers {
        server = server.workers(usize::from(workers));
    }
    server = server.shutdown_timeout(args.drain_seconds());
    let server = server
        .bind((args.host.as_str(), args.port))
        .map_err(|error| {
            Failure::runtime(format!(
                "cannot listen on {}:{}: {error}",
                args.host, args.port
            ))
        })?;
    for address in server.addrs() {
        tracing::info!(
            startup_ms = started.elapsed().as_secs_f64() * 1000.0,
            "listening on http://{address}"
        );
    }
    // Runs until SIGINT or SIGTERM; in-flight requests get the first half of the shutdown
    // timeout to finish.
    server
        .run()
        .await
        .map_err(|error| Failure::runtime(format!("server: {error}")))?;

    // Flushes what is still buffered within the rest of the timeout (blocking: off the
    // async runtime). Telemetry that cannot be delivered is lost, not a failure of the
    // service: it is logged and the exit code stays 0.
    let flushed = actix_web::rt::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .map_err(|error| Failure::runtime(format!("telemetry shutdown: {error}")))?;
    match flushed {
        Ok(()) => tracing::info!("stopped; all telemetry delivered"),
        Err(lost) => tracing::warn!(error = %lost, "stopped; some telemetry was not delivered"),
    }
    Ok(())
}
