//! `/health`, `/health/detailed`, `/metrics` with a bearer token and the system saturation
//! gauges over the real wire: a real `HttpServer` on loopback built with
//! `ServiceTelemetry`, sending to an in-process OTLP receiver. Readiness has a binary of its
//! own (`actix_readiness.rs`) because it depends on every model in the process registry.

mod instrument_ml_support;

use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::{Duration, Instant, SystemTime};

use actix_web::{App, HttpResponse, web};
use instrument_ml_support::{Harness, HttpRequestKey, WAIT, spawn_actix_server};
use mlotel::names;
use mlotel::{Model, instrument_ml};
use mlotel_actix::ServiceTelemetry;
use mlotel_tests::{OtlpReceiver, RawResponse, number_f64, raw_request};
use serde_json::Value;

const TOKEN: &str = "s3cret-token";

static HARNESS: LazyLock<Harness> = LazyLock::new(|| {
    Harness::install(
        OtlpReceiver::grpc(),
        &[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.version=1.2.3,deployment.environment.name=staging",
        )],
    )
});

static MODEL: LazyLock<Model> = LazyLock::new(|| {
    let model = Model::builder("h_detail").version("4").register();
    model.set_load_duration(Duration::from_millis(250));
    model.set_loaded(true);
    model
});

#[instrument_ml(model = "h_detail", version = "4")]
fn predict(score: f64) -> (&'static str, f64) {
    ("yes", score)
}

static SERVER: LazyLock<SocketAddr> = LazyLock::new(|| {
    serve(
        ServiceTelemetry::new(&HARNESS.telemetry)
            .expect("the sampler thread starts")
            .metrics_bearer_token(TOKEN),
    )
});

/// A server of its own for the test that counts requests exactly (tests run in parallel),
/// without a system sampler.
static COUNTED_SERVER: LazyLock<SocketAddr> = LazyLock::new(|| {
    serve(
        ServiceTelemetry::new(&HARNESS.telemetry)
            .expect("the sampler thread starts")
            .without_system_sampler(),
    )
});

fn serve(service: ServiceTelemetry) -> SocketAddr {
    let _ = &*MODEL;
    spawn_actix_server(move || {
        App::new()
            .wrap(service.request_telemetry())
            .configure(|config| service.configure(config))
            .route(
                "/ok",
                web::get().to(|| async { HttpResponse::Ok().body("ok") }),
            )
            .route(
                "/fail",
                web::get().to(|| async { HttpResponse::ServiceUnavailable().body("down") }),
            )
    })
}

fn get(path: &str, headers: &[(&str, &str)]) -> RawResponse {
    raw_request(*SERVER, "GET", path, headers, b"", WAIT)
}

fn get_counted(path: &str) -> RawResponse {
    raw_request(*COUNTED_SERVER, "GET", path, &[], b"", WAIT)
}

fn json(response: &RawResponse) -> Value {
    serde_json::from_str(&response.body)
        .unwrap_or_else(|error| panic!("not JSON ({error}): {}", response.body))
}

fn detailed() -> Value {
    parse_detailed(get("/health/detailed", &[]))
}

fn parse_detailed(response: RawResponse) -> Value {
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.header("content-type"), Some("application/json"));
    json(&response)
}

/// `/health/detailed` polled until `ready` holds, or the test fails with the last document.
fn detailed_when(ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let document = detailed();
        if ready(&document) {
            return document;
        }
        assert!(
            Instant::now() < deadline,
            "condition not met in {WAIT:?}: {document:#}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn u64_at(document: &Value, pointer: &str) -> u64 {
    document
        .pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{pointer} is not a count in {document:#}"))
}

fn f64_at(document: &Value, pointer: &str) -> f64 {
    document
        .pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{pointer} is not a number in {document:#}"))
}

fn time_at(document: &Value, pointer: &str) -> SystemTime {
    let text = document
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{pointer} is not a string in {document:#}"));
    humantime::parse_rfc3339(text)
        .unwrap_or_else(|error| panic!("{pointer} = {text:?} is not RFC 3339: {error}"))
}

#[test]
fn liveness_answers_ok_as_json() {
    let response = get("/health", &[]);
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(json(&response), serde_json::json!({ "status": "ok" }));
}

#[test]
fn detailed_health_counts_known_traffic_and_reports_service_system_models_and_exporters() {
    // Registered (and loaded) before its first prediction, as a service does.
    let _ = &*MODEL;
    // Predictions the model section must count: 3 rows at confidence 0.5, 0.7, 0.9.
    for score in [0.5, 0.7, 0.9] {
        predict(score);
    }
    let before = parse_detailed(get_counted("/health/detailed"));
    for _ in 0..6 {
        assert_eq!(get_counted("/ok").status, 200);
    }
    for _ in 0..2 {
        assert_eq!(get_counted("/fail").status, 503);
    }
    for _ in 0..3 {
        assert_eq!(get_counted("/no-such-route").status, 404);
    }
    let after = parse_detailed(get_counted("/health/detailed"));

    // Requests: 11 sent between the two documents, plus the second document's own request.
    assert_eq!(
        u64_at(&after, "/requests/total") - u64_at(&before, "/requests/total"),
        12,
        "{after:#}"
    );
    assert_eq!(
        u64_at(&after, "/requests/failed") - u64_at(&before, "/requests/failed"),
        2
    );
    assert_eq!(
        u64_at(&after, "/requests/client_errors") - u64_at(&before, "/requests/client_errors"),
        3
    );
    let rate = f64_at(&after, "/requests/error_rate_percent");
    let expected_rate = u64_at(&after, "/requests/failed") as f64 * 100.0
        / u64_at(&after, "/requests/total") as f64;
    assert!(
        (rate - expected_rate).abs() < 1e-3,
        "{rate} vs {expected_rate}"
    );
    assert!(rate > 0.0);
    assert!(time_at(&after, "/requests/last_request_at") >= time_at(&before, "/timestamp"));

    // Service, from the resource.
    assert_eq!(after["service"], "instrument-ml-test");
    assert_eq!(after["version"], "1.2.3");
    assert_eq!(after["environment"], "staging");
    assert!(time_at(&after, "/timestamp") >= time_at(&before, "/timestamp"));

    // Uptime: consistent units, growing, started before now.
    let seconds = f64_at(&after, "/uptime/seconds");
    assert!(seconds >= f64_at(&before, "/uptime/seconds"), "{after:#}");
    assert!((f64_at(&after, "/uptime/hours") - seconds / 3600.0).abs() < 1e-3);
    assert!((f64_at(&after, "/uptime/days") - seconds / 86_400.0).abs() < 1e-4);
    assert!(time_at(&after, "/uptime/started_at") <= time_at(&after, "/timestamp"));

    // Model: registered, loaded, its predictions and mean confidence.
    let model = after["models"]
        .as_array()
        .and_then(|models| models.iter().find(|model| model["name"] == "h_detail"))
        .unwrap_or_else(|| panic!("no h_detail model in {after:#}"));
    assert_eq!(model["version"], "4");
    assert_eq!(model["loaded"], true);
    assert_eq!(model["load_duration_seconds"], 0.25);
    assert_eq!(model["predictions"], 3);
    let mean = model["mean_confidence"].as_f64().unwrap_or(f64::NAN);
    assert!((mean - 0.7).abs() < 1e-4, "mean confidence {mean}");
    assert_eq!(model["drift_status"], mlotel_actix::DRIFT_NOT_MONITORED);
    assert_eq!(after["status"], "ok", "{after:#}");
    assert_eq!(after["missing"], serde_json::json!([]));
    assert_eq!(after["system"], Value::Null, "no sampler on this server");
}

#[test]
fn detailed_health_reports_the_latest_system_sample() {
    let document = detailed_when(|document| !document["system"].is_null());
    assert_eq!(
        u64_at(&document, "/system/pid"),
        u64::from(std::process::id())
    );
    let memory = f64_at(&document, "/system/memory_mb");
    assert!(
        (1.0..100_000.0).contains(&memory),
        "process memory {memory} MiB"
    );
    let threads = u64_at(&document, "/system/threads");
    assert_threads_plausible(threads);
    let host_cpu = f64_at(&document, "/system/system_cpu_percent");
    assert!((0.0..=100.0).contains(&host_cpu), "host CPU {host_cpu} %");
    assert!(f64_at(&document, "/system/system_memory_mb") >= memory);
    assert!(time_at(&document, "/system/sampled_at") <= time_at(&document, "/timestamp"));

    // The process CPU follows load: with one thread spinning, a later sample shows it.
    let spinning = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let spinner = {
        let spinning = std::sync::Arc::clone(&spinning);
        std::thread::spawn(move || {
            let mut x = 0u64;
            while spinning.load(std::sync::atomic::Ordering::Relaxed) {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
        })
    };
    let busy = detailed_when(|document| {
        document
            .pointer("/system/cpu_percent")
            .and_then(Value::as_f64)
            .is_some_and(|cpu| cpu >= 30.0)
    });
    spinning.store(false, std::sync::atomic::Ordering::Relaxed);
    let _ = spinner.join();
    let busy_cpu = f64_at(&busy, "/system/cpu_percent");
    assert!(busy_cpu <= 100.0 * 1024.0, "process CPU {busy_cpu} %");
}

/// The thread count agrees with the kernel's (Linux), give or take threads other tests
/// start or stop between the two readings.
fn assert_threads_plausible(threads: u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let Some(now) = status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|count| count.trim().parse::<u64>().ok())
    else {
        return;
    };
    assert!(
        threads.abs_diff(now) <= 6 && threads >= 4,
        "{threads} threads reported, the kernel counts {now}"
    );
}

#[test]
fn detailed_health_reports_each_exporter_and_its_last_success() {
    let endpoint = HARNESS.receiver.endpoint();
    let document = detailed_when(|document| {
        document["exporters"].as_array().is_some_and(|exporters| {
            exporters.iter().any(|exporter| {
                exporter["signal"] == "metrics" && !exporter["last_success_at"].is_null()
            })
        })
    });
    let exporters = document["exporters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let signals: Vec<&str> = exporters
        .iter()
        .filter_map(|exporter| exporter["signal"].as_str())
        .collect();
    assert!(
        signals.contains(&"traces") && signals.contains(&"metrics"),
        "{document:#}"
    );
    for exporter in &exporters {
        assert_eq!(
            exporter["endpoint"].as_str(),
            Some(endpoint.as_str()),
            "{exporter}"
        );
        assert!(
            exporter["type"]
                .as_str()
                .is_some_and(|kind| kind.starts_with("otlp_grpc_")),
            "{exporter}"
        );
        assert_eq!(exporter["failing"], false, "{exporter}");
        assert_eq!(exporter["dropped"], 0, "{exporter}");
    }
    let metrics = exporters
        .iter()
        .find(|exporter| exporter["signal"] == "metrics")
        .cloned()
        .unwrap_or_default();
    assert!(metrics["exported"].as_u64().unwrap_or(0) > 0, "{metrics}");
    assert!(time_at(&metrics, "/last_success_at") <= time_at(&document, "/timestamp"));
}

#[test]
fn metrics_needs_the_bearer_token() {
    for headers in [
        vec![],
        vec![("Authorization", "Bearer wrong")],
        vec![("Authorization", "Basic czNjcmV0LXRva2Vu")],
        vec![("Authorization", "Bearer s3cret-token-and-more")],
    ] {
        let response = get("/metrics", &headers);
        assert_eq!(response.status, 401, "{headers:?}: {}", response.body);
        assert_eq!(response.header("www-authenticate"), Some("Bearer"));
        assert_eq!(json(&response)["error"]["type"], "unauthorized");
        assert!(!response.body.contains("http_server"), "nothing leaks");
    }
    let authorization = format!("Bearer {TOKEN}");
    let deadline = Instant::now() + WAIT;
    let response = loop {
        let response = get("/metrics", &[("Authorization", &authorization)]);
        assert_eq!(response.status, 200, "{}", response.body);
        // The sampler's first sample arrives shortly after start.
        if response.body.contains("process_memory_usage_bytes") || Instant::now() > deadline {
            break response;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        response
            .header("content-type")
            .is_some_and(|value| value.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        response.header("content-type")
    );
    for family in [
        "http_server_request_duration_seconds_bucket",
        "process_memory_usage_bytes",
        "process_cpu_utilization_ratio",
        "process_uptime_seconds",
        "process_thread_count",
        "system_cpu_utilization_ratio",
        "system_memory_usage_bytes",
    ] {
        assert!(
            response.body.contains(family),
            "{family} missing from /metrics"
        );
    }

    // The refusals are recorded with error.type "unauthorized".
    let refused = HttpRequestKey {
        method: "GET",
        route: "/metrics",
        status: 401,
        error_type: Some("unauthorized"),
    };
    HARNESS.http_point(names::HTTP_SERVER_REQUEST_DURATION.name, refused, 4);
}

#[test]
fn saturation_gauges_arrive_over_the_wire_with_plausible_values() {
    let _ = *SERVER;
    let harness = &*HARNESS;
    let gauge = |name: &str| -> f64 {
        harness.receiver.wait_until(WAIT, |receiver| {
            let value = receiver.latest_metric(name).and_then(|metric| {
                metric.gauge_points().first().and_then(|point| {
                    number_f64(point).or_else(|| mlotel_tests::number_i64(point).map(|v| v as f64))
                })
            });
            if value.is_none() {
                let _ = harness.telemetry.force_flush();
            }
            value
        })
    };
    let memory = gauge(names::PROCESS_MEMORY_USAGE.name);
    assert!(memory > 1024.0 * 1024.0, "process memory {memory} B");
    let cpu = gauge(names::PROCESS_CPU_UTILIZATION.name);
    assert!((0.0..=1.0).contains(&cpu), "process CPU utilization {cpu}");
    let uptime = gauge(names::PROCESS_UPTIME.name);
    assert!((0.0..3600.0).contains(&uptime), "process uptime {uptime} s");
    let threads = gauge(names::PROCESS_THREAD_COUNT.name);
    assert_threads_plausible(threads as u64);
    let host_cpu = gauge(names::SYSTEM_CPU_UTILIZATION.name);
    assert!(
        (0.0..=1.0).contains(&host_cpu),
        "host CPU utilization {host_cpu}"
    );
    let host_memory = gauge(names::SYSTEM_MEMORY_USAGE.name);
    assert!(
        host_memory >= memory,
        "host memory {host_memory} B < process {memory} B"
    );

    // Units and descriptions are the catalogue's.
    let received = harness.receiver.wait_until(WAIT, |receiver| {
        receiver.latest_metric(names::PROCESS_MEMORY_USAGE.name)
    });
    assert_eq!(received.unit(), names::PROCESS_MEMORY_USAGE.unit);
    assert_eq!(
        received.description(),
        names::PROCESS_MEMORY_USAGE.description
    );
}
