//! `docs/metrics.md` is true: every instrument of the catalogue is documented with its kind,
//! unit and attributes, and every Prometheus name it lists is what `/metrics` really shows.

use std::collections::BTreeSet;
use std::time::Duration;

use mlotel::names::{CATALOGUE, InstrumentKind};
use mlotel::{Model, Outcome, Telemetry};
use mlotel_tests::{backticked, read_doc, table_rows};

struct Row {
    name: String,
    kind: String,
    unit: String,
    attributes: BTreeSet<String>,
    prometheus: Option<String>,
}

fn documented_rows() -> Vec<Row> {
    table_rows(&read_doc("metrics.md"), &["`"], 5)
        .into_iter()
        .map(|cells| Row {
            name: backticked(&cells[0]).remove(0),
            kind: cells[1].clone(),
            unit: backticked(&cells[2]).first().cloned().unwrap_or_default(),
            attributes: backticked(&cells[3]).into_iter().collect(),
            prometheus: cells[4]
                .starts_with('`')
                .then(|| backticked(&cells[4]).remove(0)),
        })
        .collect()
}

fn kind_name(kind: InstrumentKind) -> &'static str {
    match kind {
        InstrumentKind::Counter => "counter",
        InstrumentKind::UpDownCounter => "up-down counter",
        InstrumentKind::Histogram => "histogram",
        InstrumentKind::Gauge => "gauge",
    }
}

/// Renders `/metrics` after recording through every instrument mlotel creates today
/// (the `http.server.*` ones through one request to the actix middleware, the `process.*`
/// and `system.*` ones from a system sampler).
fn exposition() -> String {
    let port = mlotel_tests::free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let telemetry = Telemetry::builder()
        .env_vars([
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_METRICS_EXPORTER", "otlp,prometheus"),
            ("OTEL_LOGS_EXPORTER", "otlp"),
        ])
        .build()
        .expect("builds");
    let model = telemetry.model(
        Model::builder("iris")
            .labels(["setosa"])
            .features(["petal_width"]),
    );
    model.set_loaded(true);
    model.set_load_duration(Duration::from_millis(5));
    let _active = model.track_active();
    model.record_prediction(
        Duration::from_millis(2),
        1,
        Outcome::Ok {
            label: Some("setosa"),
            confidence: Some(0.9),
        },
    );
    model.record_missing_feature("petal_width");
    // A model with a drift reference and a window past its minimum reports every drift gauge.
    let reference = mlotel::drift::reference::Reference::fit_numeric(
        [[1.0], [2.0], [3.0], [4.0]],
        &["petal_width"],
        mlotel::drift::reference::FitOptions::default(),
    )
    .and_then(|reference| {
        reference.with_predictions(
            ["setosa", "setosa", "virginica", "virginica"],
            [0.9, 0.8, 0.7, 0.6],
            mlotel::drift::reference::FitOptions::default(),
        )
    })
    .expect("fits");
    let drifting = telemetry.model(
        Model::builder("iris_drift")
            .labels(["setosa", "virginica"])
            .reference(reference)
            .drift_min_observations(1),
    );
    drifting.observe_features(&[2.5]);
    drifting.record_prediction(
        Duration::from_millis(1),
        1,
        Outcome::Ok {
            label: Some("setosa"),
            confidence: Some(0.9),
        },
    );
    model.record_out_of_range_feature("petal_width");
    // Outcomes: one by id (a store), one direct regression, one unmatched.
    let judged = telemetry.model(
        Model::builder("iris_truth")
            .labels(["setosa"])
            .prediction_store(1024, Duration::from_secs(60))
            .reference_accuracy(0.9),
    );
    let id = judged
        .remember_prediction(Some("setosa"), Some(0.9))
        .expect("a store hands out ids");
    judged.record_actual_label(id, "setosa").expect("stored");
    let _ = judged.record_actual_label(id, "setosa");
    judged.record_regression(1.0, 1.5, None);
    let ((), span) = model.in_span(|| ());
    span.end(
        1,
        Outcome::Ok {
            label: None,
            confidence: None,
        },
    );
    // One request through the actix middleware records every `http.server.*` instrument.
    actix_web::rt::System::new().block_on(async {
        let app = actix_web::test::init_service(
            actix_web::App::new()
                .wrap(mlotel_actix::RequestTelemetry::with_telemetry(&telemetry))
                .route(
                    "/v1/models/{model}:predict",
                    actix_web::web::post().to(|| async { "ok" }),
                ),
        )
        .await;
        let request = actix_web::test::TestRequest::post()
            .uri("/v1/models/iris:predict")
            .insert_header(("content-length", "2"))
            .set_payload("{}")
            .to_request();
        let response = actix_web::test::call_service(&app, request).await;
        assert_eq!(actix_web::test::read_body(response).await, "ok");
    });
    // The process and system gauges report the sampler's latest sample.
    let sampler = mlotel_actix::SystemSampler::start(&telemetry.meter()).expect("sampler starts");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while sampler.latest().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "no system sample in 15 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Nothing listens: the flush fails, which creates the failure series too.
    let _ = telemetry.force_flush();
    telemetry
        .prometheus()
        .expect("prometheus on")
        .render()
        .expect("renders")
}

#[test]
fn every_catalogue_instrument_is_documented_as_defined() {
    let rows = documented_rows();
    for spec in CATALOGUE {
        let row = rows
            .iter()
            .find(|row| row.name == spec.name)
            .unwrap_or_else(|| panic!("{} is missing from docs/metrics.md", spec.name));
        assert_eq!(row.kind, kind_name(spec.kind), "kind of {}", spec.name);
        assert_eq!(row.unit, spec.unit, "unit of {}", spec.name);
        let attributes: BTreeSet<String> = spec
            .attributes
            .iter()
            .map(|key| (*key).to_owned())
            .collect();
        assert_eq!(row.attributes, attributes, "attributes of {}", spec.name);
    }
    assert_eq!(
        rows.len(),
        CATALOGUE.len(),
        "docs list an instrument the catalogue lacks"
    );
}

#[test]
fn documented_prometheus_names_are_the_exposed_ones() {
    let exposition = exposition();
    let exposed: BTreeSet<&str> = exposition
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split(' ').next())
        .filter(|name| {
            ["ml_", "otel_sdk_", "http_", "process_", "system_"]
                .iter()
                .any(|prefix| name.starts_with(prefix))
        })
        .collect();
    let documented: BTreeSet<String> = documented_rows()
        .into_iter()
        .filter_map(|row| row.prometheus)
        .collect();
    let documented: BTreeSet<&str> = documented.iter().map(String::as_str).collect();
    assert_eq!(
        documented, exposed,
        "docs/metrics.md Prometheus names differ from the exposition:\n{exposition}"
    );
}
