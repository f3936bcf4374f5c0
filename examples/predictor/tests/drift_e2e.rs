//! End to end, as an operator sees drift: the real predictor binary on a free port, the load
//! generator's `drift` scenario shifting `petal_length` and `petal_width` by 3 reference
//! standard deviations, then `GET /metrics` until the drift gauges say so. The shifted
//! features are detected (PSI ≥ 0.1) and the untouched sepal features are not (PSI < 0.1),
//! on both model versions, and `GET /api/summary` (what the live page shows) says the same.
//! A `steady` run against a fresh service detects nothing.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use loadgen::{Config, Scenario};
use mlotel_tests::{ServiceProcess, raw_request};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);
const VERSIONS: [&str; 2] = ["1.0.0", "2.0.0"];
const SHIFTED: [&str; 2] = ["petal_length", "petal_width"];
const UNSHIFTED: [&str; 2] = ["sepal_length", "sepal_width"];

/// A port nothing listens on, for the OTLP endpoint: exports fail and are counted, which the
/// service must shrug off.
fn unused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    listener.local_addr().expect("an address").port()
}

/// Starts the binary on a free port and waits for `/health/ready` (both versions trained).
fn start() -> (ServiceProcess, SocketAddr) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_predictor"));
    command
        .env("PORT", "0")
        .env("HOST", "127.0.0.1")
        .env("WORKERS", "2")
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{}", unused_port()),
        )
        .env("RUST_LOG", "warn,predictor=info");
    let service = ServiceProcess::spawn(command, WAIT);
    let address = service.address();
    let deadline = Instant::now() + WAIT;
    while get(address, "/health/ready").0 != 200 {
        assert!(Instant::now() < deadline, "not ready after {WAIT:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    (service, address)
}

/// `GET path` on a fresh connection: `(status, body)`.
fn get(address: SocketAddr, path: &str) -> (u16, String) {
    let response = raw_request(address, "GET", path, &[], b"", WAIT);
    (response.status, response.body)
}

/// One sample of the Prometheus text exposition.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the Prometheus text format (0.0.4): `name{label="value",...} value [timestamp]`,
/// label values with `\\`, `\"` and `\n` escapes, `# HELP` / `# TYPE` and blank lines skipped.
fn parse_prometheus(text: &str) -> Result<Vec<Sample>, String> {
    let mut samples = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fail = |what: &str| format!("line {}: {what}: {line}", number + 1);
        let name_end = line.find(['{', ' ']).ok_or_else(|| fail("no value"))?;
        let name = line[..name_end].to_owned();
        let mut labels = BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(inner) = rest.strip_prefix('{') {
            let mut chars = inner.char_indices().peekable();
            let close = loop {
                // Skip separators, then `}` or `key="value"`.
                while chars.next_if(|(_, c)| *c == ',' || *c == ' ').is_some() {}
                let Some(&(start, c)) = chars.peek() else {
                    return Err(fail("unterminated label set"));
                };
                if c == '}' {
                    break start;
                }
                let mut key_end = start;
                for (i, c) in chars.by_ref() {
                    if c == '=' {
                        key_end = i;
                        break;
                    }
                }
                let key = inner[start..key_end].trim().to_owned();
                if key.is_empty() || chars.next().map(|(_, c)| c) != Some('"') {
                    return Err(fail("bad label"));
                }
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, 'n')) => value.push('\n'),
                            Some((_, other)) => value.push(other),
                            None => return Err(fail("bad escape")),
                        },
                        Some((_, c)) => value.push(c),
                        None => return Err(fail("unterminated label value")),
                    }
                }
                labels.insert(key, value);
            };
            rest = &inner[close + 1..];
        }
        let value = rest
            .split_whitespace()
            .next()
            .ok_or_else(|| fail("no value"))?;
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            other => other.parse().map_err(|_| fail("bad value"))?,
        };
        samples.push(Sample {
            name,
            labels,
            value,
        });
    }
    Ok(samples)
}

/// The drift figures of one version of iris, from `/metrics`.
#[derive(Debug, Default)]
struct Drift {
    psi: BTreeMap<String, f64>,
    detected: BTreeMap<String, f64>,
    window: Option<f64>,
}

fn drift_from_metrics(samples: &[Sample], version: &str) -> Drift {
    let mut drift = Drift::default();
    let of_version = |sample: &&Sample| {
        sample.labels.get("ml_model_name").map(String::as_str) == Some("iris")
            && sample.labels.get("ml_model_version").map(String::as_str) == Some(version)
    };
    for sample in samples.iter().filter(of_version) {
        let feature = sample.labels.get("ml_feature_name").cloned();
        match (sample.name.as_str(), feature) {
            ("ml_feature_drift_ratio", Some(feature))
                if sample.labels.get("ml_drift_method").map(String::as_str) == Some("psi") =>
            {
                drift.psi.insert(feature, sample.value);
            }
            ("ml_feature_drift_detected_ratio", Some(feature)) => {
                drift.detected.insert(feature, sample.value);
            }
            ("ml_drift_window_observations", None)
                if sample.labels.get("ml_drift_signal").map(String::as_str) == Some("features") =>
            {
                drift.window = Some(sample.value);
            }
            _ => {}
        }
    }
    drift
}

/// Polls `/metrics` until `ready` holds for the drift of every version (or the deadline).
fn poll_drift(address: SocketAddr, ready: impl Fn(&Drift) -> bool) -> (Vec<Drift>, Duration) {
    let started = Instant::now();
    loop {
        let (status, body) = get(address, "/metrics");
        assert_eq!(status, 200, "{body}");
        let samples = parse_prometheus(&body).unwrap_or_else(|error| panic!("{error}"));
        let drifts: Vec<Drift> = VERSIONS
            .iter()
            .map(|version| drift_from_metrics(&samples, version))
            .collect();
        if drifts.iter().all(&ready) || started.elapsed() > WAIT {
            return (drifts, started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `/api/summary`'s `models[]` entry of `version`.
fn summary_model(summary: &Value, version: &str) -> Value {
    summary["models"]
        .as_array()
        .and_then(|models| {
            models
                .iter()
                .find(|model| model["name"] == "iris" && model["version"] == version)
        })
        .cloned()
        .unwrap_or_else(|| panic!("no iris {version} in {summary:#}"))
}

/// `drift[]` of a summary model, feature name to `(psi, detected)`.
fn summary_drift(model: &Value) -> BTreeMap<String, (f64, bool)> {
    model["drift"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter_map(|entry| {
                    Some((
                        entry["feature"].as_str()?.to_owned(),
                        (entry["psi"].as_f64()?, entry["detected"].as_bool()?),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn load(address: SocketAddr, scenario: Scenario) -> loadgen::Summary {
    let config = Config {
        url: format!("http://{address}"),
        scenario,
        rate: 0.0,
        duration: None,
        // 2000 rows: ~1000 per version through POST /predict's 50/50 split, twice the
        // minimum window of 500.
        requests: Some(100),
        batch: 20,
        concurrency: 4,
        seed: 42,
        shift_features: SHIFTED.iter().map(|name| (*name).to_owned()).collect(),
        shift: 3.0,
        ..Config::default()
    };
    let summary = loadgen::run(&config).expect("the load generator runs");
    eprintln!("{summary}");
    assert_eq!(
        (summary.sent, summary.ok, summary.rows_ok),
        (100, 100, 2000),
        "{summary}"
    );
    assert_eq!(summary.reference_source, "service", "{summary}");
    for version in VERSIONS {
        let answered = summary.by_version.get(version).copied().unwrap_or(0);
        assert!(answered >= 30, "{version}: {answered} requests of 100");
    }
    summary
}

#[test]
fn drifted_petals_are_detected_and_sepals_are_not() {
    let started = Instant::now();
    let (_service, address) = start();
    let startup = started.elapsed();
    let load_started = Instant::now();
    load(address, Scenario::Drift);
    let load_time = load_started.elapsed();

    let (drifts, detection) = poll_drift(address, |drift| {
        drift.detected.get("petal_length") == Some(&1.0)
    });
    let (_, summary) = get(address, "/api/summary");
    let summary: Value = serde_json::from_str(&summary).expect("summary JSON");
    for (version, drift) in VERSIONS.iter().zip(&drifts) {
        eprintln!(
            "iris {version}: window {:?}, PSI {:?}, detected {:?} ({detection:?} after the load)",
            drift.window, drift.psi, drift.detected
        );
        assert!(
            drift.window.is_some_and(|rows| rows >= 600.0),
            "{version}: {drift:?}"
        );
        for feature in SHIFTED {
            let psi = drift.psi.get(feature).copied().unwrap_or(f64::NAN);
            assert!(psi >= 0.1, "{version} {feature}: PSI {psi}");
            assert_eq!(
                drift.detected.get(feature),
                Some(&1.0),
                "{version} {feature}"
            );
        }
        for feature in UNSHIFTED {
            let psi = drift.psi.get(feature).copied().unwrap_or(f64::NAN);
            assert!(psi < 0.1, "{version} {feature}: PSI {psi}");
            assert_eq!(
                drift.detected.get(feature),
                Some(&0.0),
                "{version} {feature}"
            );
        }

        // The live page's JSON says the same, per feature.
        let model = summary_model(&summary, version);
        assert_eq!(model["drift_status"], "drift", "{model:#}");
        let entries = summary_drift(&model);
        for feature in SHIFTED.iter().chain(&UNSHIFTED) {
            let (psi, detected) = entries
                .get(*feature)
                .copied()
                .unwrap_or_else(|| panic!("{version}: no drift entry for {feature} in {model:#}"));
            assert_eq!(detected, SHIFTED.contains(feature), "{version} {feature}");
            assert_eq!(psi >= 0.1, detected, "{version} {feature}: PSI {psi}");
            // Same window, collected a moment later: the same figure up to the rows that
            // may have slid out of the window in between (none here: no traffic since).
            let metric = drift.psi.get(*feature).copied().unwrap_or(f64::NAN);
            assert!(
                (psi - metric).abs() < 0.02 * metric.max(0.05),
                "{version} {feature}: summary {psi} vs metrics {metric}"
            );
        }
    }
    eprintln!(
        "start-up {startup:?}, load {load_time:?}, detection {detection:?}, total {:?}",
        started.elapsed()
    );
}

#[test]
fn steady_traffic_detects_nothing() {
    let (_service, address) = start();
    load(address, Scenario::Steady);
    let (drifts, _) = poll_drift(address, |drift| drift.detected.len() == 4);
    let (_, summary) = get(address, "/api/summary");
    let summary: Value = serde_json::from_str(&summary).expect("summary JSON");
    for (version, drift) in VERSIONS.iter().zip(&drifts) {
        eprintln!("iris {version} steady: PSI {:?}", drift.psi);
        assert_eq!(drift.detected.len(), 4, "{version}: {drift:?}");
        for (feature, detected) in &drift.detected {
            let psi = drift.psi.get(feature).copied().unwrap_or(f64::NAN);
            assert_eq!(*detected, 0.0, "{version} {feature}: PSI {psi}");
            assert!(psi < 0.1, "{version} {feature}: PSI {psi}");
        }
        let model = summary_model(&summary, version);
        assert_eq!(model["drift_status"], "ok", "{model:#}");
        assert!(
            summary_drift(&model)
                .values()
                .all(|(_, detected)| !detected),
            "{model:#}"
        );
    }
}

#[test]
fn the_prometheus_parser_reads_label_sets() {
    let text = "# HELP x y\n# TYPE ml_feature_drift_ratio gauge\n\
        ml_feature_drift_ratio{ml_drift_method=\"psi\",ml_feature_name=\"petal_length\",ml_model_name=\"iris\",ml_model_version=\"2.0.0\"} 1.25\n\
        odd{a=\"x,y}\",b=\"q\\\"uote\\\\\\n\",} 3 1700000000\n\
        plain 2\n\
        inf{le=\"+Inf\"} +Inf\n";
    let samples = parse_prometheus(text).expect("parses");
    assert_eq!(samples.len(), 4);
    assert_eq!(samples[0].labels["ml_feature_name"], "petal_length");
    assert_eq!(samples[0].value, 1.25);
    assert_eq!(samples[1].labels["a"], "x,y}");
    assert_eq!(samples[1].labels["b"], "q\"uote\\\n");
    assert_eq!((samples[2].name.as_str(), samples[2].value), ("plain", 2.0));
    assert!(samples[3].value.is_infinite());
    assert!(parse_prometheus("broken{a=\"x} 1").is_err());
    let drift = drift_from_metrics(&samples, "2.0.0");
    assert_eq!(drift.psi.get("petal_length"), Some(&1.25));
}
