//! `/health/ready` over the real wire. A binary of its own: readiness depends on every model
//! in the process registry, so no other test may register models here.

mod instrument_ml_support;

use std::net::SocketAddr;
use std::sync::LazyLock;

use actix_web::App;
use instrument_ml_support::{Harness, WAIT, spawn_actix_server};
use mlotel::{Model, instrument_ml};
use mlotel_actix::ServiceTelemetry;
use mlotel_tests::{OtlpReceiver, RawResponse, raw_request};
use serde_json::{Value, json};

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::install(OtlpReceiver::grpc(), &[]));

static SERVER: LazyLock<SocketAddr> = LazyLock::new(|| {
    let service = ServiceTelemetry::new(&HARNESS.telemetry)
        .expect("the sampler thread starts")
        .health(|health| health.expect_model("r_late"));
    spawn_actix_server(move || {
        App::new()
            .wrap(service.request_telemetry())
            .configure(|config| service.configure(config))
    })
});

/// Never registered with `Model::builder`: registered on first use, so nobody reports it
/// loaded and readiness must not wait for it.
#[instrument_ml(model = "r_auto", version = "1")]
fn auto_registered(score: f64) -> f64 {
    score
}

fn get(path: &str) -> (RawResponse, Value) {
    let response = raw_request(*SERVER, "GET", path, &[], b"", WAIT);
    let body = serde_json::from_str(&response.body)
        .unwrap_or_else(|error| panic!("not JSON ({error}): {}", response.body));
    (response, body)
}

#[test]
fn readiness_waits_for_every_registered_and_expected_model_and_names_what_is_missing() {
    let _ = *SERVER;
    auto_registered(0.5);

    // Nothing registered yet, but `r_late` is expected.
    let (response, body) = get("/health/ready");
    assert_eq!(response.status, 503, "{body:#}");
    assert_eq!(body["status"], "not_ready");
    assert_eq!(
        body["missing"],
        json!([{ "name": "r_late", "reason": "not registered" }])
    );
    assert_eq!(
        body["message"],
        "waiting for models: r_late (not registered)"
    );

    // Registered, not loaded: named with its version.
    let iris = Model::builder("r_iris").version("2.0.0").register();
    let (response, body) = get("/health/ready");
    assert_eq!(response.status, 503, "{body:#}");
    assert_eq!(
        body["missing"],
        json!([
            { "name": "r_iris", "version": "2.0.0", "reason": "not loaded" },
            { "name": "r_late", "reason": "not registered" },
        ])
    );
    assert_eq!(
        body["message"],
        "waiting for models: r_iris 2.0.0 (not loaded), r_late (not registered)"
    );
    let (_, detailed) = get("/health/detailed");
    assert_eq!(detailed["status"], "not_ready");
    assert_eq!(detailed["missing"], body["missing"]);

    iris.set_loaded(true);
    let late = Model::builder("r_late").version("1").register();
    let (response, body) = get("/health/ready");
    assert_eq!(response.status, 503, "{body:#}");
    assert_eq!(
        body["missing"],
        json!([{ "name": "r_late", "version": "1", "reason": "not loaded" }])
    );

    late.set_loaded(true);
    let (response, body) = get("/health/ready");
    assert_eq!(response.status, 200, "{body:#}");
    assert_eq!(body["status"], "ready");
    let mut models = body["models"].as_array().cloned().unwrap_or_default();
    models.sort_by_key(|model| model["name"].as_str().map(str::to_owned));
    assert_eq!(
        models,
        vec![
            json!({ "name": "r_iris", "version": "2.0.0", "loaded": true }),
            json!({ "name": "r_late", "version": "1", "loaded": true }),
        ],
        "the auto-registered model is not listed"
    );

    // A model reported unloaded again (reloading) makes the service unready again.
    iris.set_loaded(false);
    let (response, _) = get("/health/ready");
    assert_eq!(response.status, 503);
    iris.set_loaded(true);
    let (response, _) = get("/health/ready");
    assert_eq!(response.status, 200);

    // A version used before it was registered: once registered explicitly, readiness
    // waits for its load state too.
    let auto = Model::builder("r_auto").version("1").register();
    assert!(!auto.registered_on_first_use());
    let (response, body) = get("/health/ready");
    assert_eq!(response.status, 503, "{body:#}");
    assert_eq!(
        body["missing"],
        json!([{ "name": "r_auto", "version": "1", "reason": "not loaded" }])
    );
    auto.set_loaded(true);
    let (response, _) = get("/health/ready");
    assert_eq!(response.status, 200);
}

/// `expect_model` is satisfied by a loaded model of that name only, not by one that merely
/// exists. (A model made with `Telemetry::model`, so the registry the other test reads
/// does not see it.)
#[test]
fn an_expected_model_must_be_loaded_not_only_registered() {
    let model = HARNESS
        .telemetry
        .model(Model::builder("r_expected").version("3"));
    let health = mlotel_actix::Health::new("svc")
        .models([model.clone()])
        .expect_model("r_expected");
    let readiness = health.readiness();
    assert!(!readiness.is_ready());
    assert_eq!(readiness.missing.len(), 1, "{:?}", readiness.missing);
    assert_eq!(readiness.missing[0].reason, "not loaded");
    model.set_loaded(true);
    assert!(health.readiness().is_ready());
}
