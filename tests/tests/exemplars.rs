//! Exemplars over the wire: a real actix-web server with `RequestTelemetry` and
//! `MetricsEndpoint`, predictions made under a caller's `traceparent`, the exposition read
//! back over HTTP. A sampled call leaves its trace and span id on the bucket its value fell
//! in, for `ml.prediction.duration`, `ml.prediction.confidence` and
//! `http.server.request.duration`, and those spans reached the OTLP receiver; an unsampled
//! call never leaves one; a scraper that does not ask for OpenMetrics gets the classic
//! format with the same samples and no exemplar.

mod instrument_ml_support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::LazyLock;

use actix_web::{App, HttpResponse, web};
use instrument_ml_support::{Harness, WAIT, spawn_actix_server};
use mlotel::{Model, Prediction};
use mlotel_actix::{MetricsEndpoint, RequestTelemetry};
use mlotel_tests::{OtlpReceiver, RawResponse, raw_request};

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::install(OtlpReceiver::grpc(), &[]));

const SAMPLED_MODEL: &str = "t_exemplar_sampled";
const UNSAMPLED_MODEL: &str = "t_exemplar_unsampled";
/// The model of the format comparison, on a route of its own so its sampled call never
/// replaces the other test's exemplars.
const CLASSIC_MODEL: &str = "t_exemplar_classic";
const CONFIDENCE: f64 = 0.93;
/// What Prometheus 3 sends by default.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

static MODELS: LazyLock<BTreeMap<&'static str, Model>> = LazyLock::new(|| {
    [SAMPLED_MODEL, UNSAMPLED_MODEL, CLASSIC_MODEL]
        .into_iter()
        .map(|name| {
            let builder = Model::builder(name).version("1").labels(["yes", "no"]);
            (name, HARNESS.telemetry.model(builder))
        })
        .collect()
});

async fn predict(model: web::Path<String>) -> HttpResponse {
    let Some(model) = MODELS.get(model.as_str()) else {
        return HttpResponse::NotFound().finish();
    };
    let call = model.start_call();
    // A measurable duration, well inside one bucket's width at this scale.
    std::thread::sleep(std::time::Duration::from_millis(3));
    let _ = call.finish_prediction(Prediction::new("yes", CONFIDENCE));
    HttpResponse::Ok().body("yes")
}

static SERVER: LazyLock<SocketAddr> = LazyLock::new(|| {
    let handle = HARNESS
        .telemetry
        .prometheus()
        .expect("the prometheus exporter is on");
    LazyLock::force(&MODELS);
    spawn_actix_server(move || {
        let metrics = MetricsEndpoint::new(handle.clone());
        App::new()
            .wrap(RequestTelemetry::new())
            .route("/sampled/{model}", web::post().to(predict))
            .route("/unsampled/{model}", web::post().to(predict))
            .route("/classic/{model}", web::post().to(predict))
            .configure(|config| metrics.configure(config))
    })
});

fn request(method: &str, path: &str, headers: &[(&str, &str)]) -> RawResponse {
    raw_request(*SERVER, method, path, headers, b"", WAIT)
}

/// One sample line: name, labels (sorted, `le` as a number) and value, and the exemplar's
/// labels, value and timestamp after ` # `.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
    exemplar: Option<(BTreeMap<String, String>, f64, f64)>,
}

impl Sample {
    fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }

    /// The key both formats share: name and labels, `le` as a float.
    fn key(&self) -> String {
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(name, value)| match name.as_str() {
                "le" => format!("le={}", value.parse::<f64>().expect("le is a float")),
                _ => format!("{name}={value}"),
            })
            .collect();
        format!("{}{{{}}}", self.name, labels.join(","))
    }
}

/// Parses `{a="x",b="y"}` at the start of `text`; returns the labels and the rest.
fn labels(text: &str) -> (BTreeMap<String, String>, &str) {
    let mut labels = BTreeMap::new();
    let Some(mut rest) = text.strip_prefix('{') else {
        return (labels, text);
    };
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return (labels, after);
        }
        rest = rest.strip_prefix(',').unwrap_or(rest);
        let (name, after) = rest.split_once("=\"").expect("label name");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect("closing quote") {
                (_, '\\') => value.push(chars.next().expect("escaped").1),
                (index, '"') => break index,
                (_, c) => value.push(c),
            }
        };
        labels.insert(name.to_owned(), value);
        rest = &after[end + 1..];
    }
}

fn parse(body: &str) -> Vec<Sample> {
    body.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let name_end = line.find(['{', ' ']).expect("a name");
            let (labels_part, rest) = labels(&line[name_end..]);
            let (value_part, exemplar_part) = match rest.split_once(" # ") {
                Some((value, exemplar)) => (value, Some(exemplar)),
                None => (rest, None),
            };
            let value = value_part
                .split_whitespace()
                .next()
                .expect("a value")
                .replace("+Inf", "inf")
                .parse()
                .expect("a float value");
            let exemplar = exemplar_part.map(|text| {
                let (exemplar_labels, rest) = labels(text);
                let numbers: Vec<f64> = rest
                    .split_whitespace()
                    .map(|number| number.parse().expect("exemplar value and timestamp"))
                    .collect();
                assert_eq!(numbers.len(), 2, "value and timestamp in {line}");
                (exemplar_labels, numbers[0], numbers[1])
            });
            Sample {
                name: line[..name_end].to_owned(),
                labels: labels_part,
                value,
                exemplar,
            }
        })
        .collect()
}

/// The buckets of `family` whose `label` is `value`, in exposition order.
fn buckets<'a>(samples: &'a [Sample], family: &str, label: &str, value: &str) -> Vec<&'a Sample> {
    let name = format!("{family}_bucket");
    samples
        .iter()
        .filter(|sample| sample.name == name && sample.label(label) == value)
        .collect()
}

/// The one exemplar among `buckets`; asserts its value lies in its bucket.
fn only_exemplar(buckets: &[&Sample]) -> (BTreeMap<String, String>, f64) {
    let with: Vec<(usize, &Sample)> = buckets
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, bucket)| bucket.exemplar.is_some())
        .collect();
    assert_eq!(with.len(), 1, "one bucket with an exemplar: {buckets:#?}");
    let (index, bucket) = with[0];
    let (labels, value, timestamp) = bucket.exemplar.clone().expect("an exemplar");
    let upper: f64 = bucket
        .label("le")
        .replace("+Inf", "inf")
        .parse()
        .expect("le");
    let lower: f64 = match index {
        0 => f64::NEG_INFINITY,
        _ => buckets[index - 1].label("le").parse().expect("le"),
    };
    assert!(
        lower < value && value <= upper,
        "exemplar {value} in its bucket ({lower}, {upper}]"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after the epoch")
        .as_secs_f64();
    assert!(
        (now - 300.0..=now + 1.0).contains(&timestamp),
        "exemplar timestamp {timestamp} is recent (now {now})"
    );
    (labels, value)
}

#[test]
fn sampled_calls_leave_exemplars_in_openmetrics_and_unsampled_ones_never_do() {
    let trace_id = "5bf92f3577b34da6a3ce929d0e0e4736";
    let unsampled_trace = "6bf92f3577b34da6a3ce929d0e0e4736";
    let caller = "00f067aa0ba902b7";
    let sampled = request(
        "POST",
        &format!("/sampled/{SAMPLED_MODEL}"),
        &[("traceparent", &format!("00-{trace_id}-{caller}-01"))],
    );
    assert_eq!(sampled.status, 200, "{}", sampled.body);
    let unsampled = request(
        "POST",
        &format!("/unsampled/{UNSAMPLED_MODEL}"),
        &[("traceparent", &format!("00-{unsampled_trace}-{caller}-00"))],
    );
    assert_eq!(unsampled.status, 200, "{}", unsampled.body);

    let prediction_span = HARNESS.span(&format!("predict {SAMPLED_MODEL}"));
    let server_span = HARNESS.span("POST /sampled/{model}");
    assert_eq!(prediction_span.trace_id_hex(), trace_id);
    assert_eq!(server_span.trace_id_hex(), trace_id);

    let scrape = request("GET", "/metrics", &[("accept", PROMETHEUS_ACCEPT)]);
    assert_eq!(scrape.status, 200, "{}", scrape.body);
    assert_eq!(
        scrape.header("content-type"),
        Some(mlotel::OPENMETRICS_CONTENT_TYPE)
    );
    assert!(scrape.body.ends_with("# EOF\n"), "ends with # EOF");
    let samples = parse(&scrape.body);

    let model = "ml_model_name";
    let duration = buckets(
        &samples,
        "ml_prediction_duration_seconds",
        model,
        SAMPLED_MODEL,
    );
    let (labels, seconds) = only_exemplar(&duration);
    assert_eq!(labels["trace_id"], trace_id, "the caller's trace");
    assert_eq!(
        labels["span_id"],
        prediction_span.span_id_hex(),
        "the prediction span"
    );
    assert!(seconds >= 0.003, "the call slept 3 ms, exemplar {seconds}");

    let confidence = buckets(
        &samples,
        "ml_prediction_confidence_ratio",
        model,
        SAMPLED_MODEL,
    );
    let (labels, value) = only_exemplar(&confidence);
    assert_eq!(labels["trace_id"], trace_id);
    assert_eq!(labels["span_id"], prediction_span.span_id_hex());
    assert!((value - CONFIDENCE).abs() < 1e-12, "{value}");

    let route = "http_route";
    let http = buckets(
        &samples,
        "http_server_request_duration_seconds",
        route,
        "/sampled/{model}",
    );
    let (labels, _) = only_exemplar(&http);
    assert_eq!(labels["trace_id"], trace_id);
    assert_eq!(
        labels["span_id"],
        server_span.span_id_hex(),
        "the server span"
    );

    for (family, label, value) in [
        ("ml_prediction_duration_seconds", model, UNSAMPLED_MODEL),
        ("ml_prediction_confidence_ratio", model, UNSAMPLED_MODEL),
        (
            "http_server_request_duration_seconds",
            route,
            "/unsampled/{model}",
        ),
    ] {
        let unsampled = buckets(&samples, family, label, value);
        assert!(!unsampled.is_empty(), "{family} has the unsampled series");
        assert!(
            unsampled.iter().all(|bucket| bucket.exemplar.is_none()),
            "no exemplar from an unsampled call: {unsampled:#?}"
        );
    }
}

#[test]
fn scrapers_that_do_not_ask_for_openmetrics_get_the_same_samples_without_exemplars() {
    let sampled = request(
        "POST",
        &format!("/classic/{CLASSIC_MODEL}"),
        &[(
            "traceparent",
            "00-7bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )],
    );
    assert_eq!(sampled.status, 200, "{}", sampled.body);
    // This model's series only: `/metrics` requests themselves add to the HTTP histograms,
    // process gauges move and the other test predicts between two scrapes.
    let stable = |sample: &&Sample| sample.label("ml_model_name") == CLASSIC_MODEL;
    for accept in [None, Some("*/*"), Some("text/plain;version=0.0.4")] {
        let openmetrics = request("GET", "/metrics", &[("accept", PROMETHEUS_ACCEPT)]);
        let headers: Vec<(&str, &str)> =
            accept.map(|value| ("accept", value)).into_iter().collect();
        let classic = request("GET", "/metrics", &headers);
        assert_eq!(classic.status, 200);
        assert_eq!(
            classic.header("content-type"),
            Some(mlotel::PROMETHEUS_CONTENT_TYPE),
            "Accept {accept:?}"
        );
        assert!(!classic.body.contains("# EOF"), "no OpenMetrics marker");
        let classic_samples = parse(&classic.body);
        assert!(
            classic_samples
                .iter()
                .all(|sample| sample.exemplar.is_none()),
            "no exemplar in the classic format"
        );
        let openmetrics: BTreeMap<String, f64> = parse(&openmetrics.body)
            .iter()
            .filter(stable)
            .map(|sample| (sample.key(), sample.value))
            .collect();
        let classic: BTreeMap<String, f64> = classic_samples
            .iter()
            .filter(stable)
            .map(|sample| (sample.key(), sample.value))
            .collect();
        assert!(classic.len() > 20, "the test models' samples: {classic:#?}");
        assert_eq!(classic, openmetrics, "the same samples in both formats");
    }
}
