//! The live page in a real browser: the predictor binary on a free port, known traffic, then
//! headless Chromium loads `GET /` and runs its script, and the numbers the page shows (each
//! in a `data-value` attribute) must equal `/health/detailed` and `/api/summary`. Also writes
//! the screenshot docs/dashboard.png. Needs `chromium` (scripts/test.sh installs it).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mlotel_tests::{OtlpReceiver, RawResponse, ServiceProcess, SplitMix64, raw_request};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);
/// Predictions sent to each version before the page is read (below the drift minimum).
const TO_V1: usize = 7;
const TO_V2: usize = 5;
const BAD_REQUESTS: usize = 3;
const JAEGER: &str = "http://localhost:16686/";

/// Starts the binary on a free port.
fn start(receiver: &OtlpReceiver) -> ServiceProcess {
    start_with(receiver, &[])
}

/// Starts the binary on a free port with `args`.
fn start_with(receiver: &OtlpReceiver, args: &[&str]) -> ServiceProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_predictor"));
    command
        .args(args)
        .env("PORT", "0")
        .env("WORKERS", "2")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env("JAEGER_URL", JAEGER)
        .env_remove("GRAFANA_URL")
        .env("RUST_LOG", "warn,predictor=info,mlotel_actix=info");
    ServiceProcess::spawn(command, WAIT)
}

fn json(response: &RawResponse) -> Value {
    serde_json::from_str(&response.body)
        .unwrap_or_else(|error| panic!("not JSON ({error}): {}", response.body))
}

fn get_json(address: SocketAddr, path: &str) -> Value {
    let response = raw_request(address, "GET", path, &[], b"", WAIT);
    assert_eq!(response.status, 200, "GET {path}: {}", response.body);
    json(&response)
}

fn post(address: SocketAddr, path: &str, body: &str) -> RawResponse {
    raw_request(
        address,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
        WAIT,
    )
}

/// The Chromium binary, or a failure saying how to install it.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "this test needs headless Chromium and found neither `chromium` nor `chromium-browser` \
         on PATH: run scripts/test.sh (it installs it) or `apt-get install --no-install-recommends chromium`"
    );
}

/// Runs headless Chromium with `args` on `url` in a fresh profile, killing it after `WAIT`.
fn run_chromium(args: &[&str], url: &str) -> Output {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let profile = std::env::temp_dir().join(format!(
        "mlotel-dashboard-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let child = Command::new(chromium())
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--hide-scrollbars",
            "--virtual-time-budget=8000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let pid = child.id();
    let (sender, outputs) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    let output = outputs.recv_timeout(WAIT).unwrap_or_else(|_| {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        panic!("chromium {args:?} {url} did not finish within {WAIT:?}")
    });
    let _ = std::fs::remove_dir_all(&profile);
    let output = output.expect("chromium's output is read");
    assert!(
        output.status.success(),
        "chromium {args:?} {url}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The attributes of every element of a serialized DOM that has an `id` or a `data-value`.
fn valued_elements(dom: &str) -> Vec<HashMap<String, String>> {
    let mut elements = Vec::new();
    let mut rest = dom;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        if !rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
            continue;
        }
        let (attributes, after) = start_tag_attributes(rest);
        rest = after;
        if attributes.contains_key("data-value") || attributes.contains_key("id") {
            elements.push(attributes);
        }
    }
    elements
}

/// Parses `tag a="1" b>...` (as Chromium serializes: double-quoted values) into attributes.
fn start_tag_attributes(tag: &str) -> (HashMap<String, String>, &str) {
    let mut attributes = HashMap::new();
    let mut rest = tag.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '-');
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return (attributes, rest);
        }
        if let Some(after) = rest.strip_prefix('>') {
            return (attributes, after);
        }
        if let Some(after) = rest.strip_prefix("/>") {
            return (attributes, after);
        }
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '>' || c == '/')
            .unwrap_or(rest.len())
            .max(1);
        let name = rest[..name_end].to_ascii_lowercase();
        rest = &rest[name_end..];
        let mut value = String::new();
        if let Some(after) = rest.strip_prefix("=\"") {
            let end = after.find('"').unwrap_or(after.len());
            value = unescape(&after[..end]);
            rest = after.get(end + 1..).unwrap_or("");
        }
        attributes.insert(name, value);
    }
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// What the page showed: its numbers by `id` and by (model, version, field).
#[derive(Debug)]
struct Page {
    dom: String,
    elements: Vec<HashMap<String, String>>,
}

impl Page {
    fn load(url: &str) -> Self {
        let output = run_chromium(&["--dump-dom"], url);
        let dom = String::from_utf8_lossy(&output.stdout).into_owned();
        let elements = valued_elements(&dom);
        Self { dom, elements }
    }

    /// The `data-value` of the element with this `id`, if it is not empty.
    fn by_id(&self, id: &str) -> Option<&str> {
        self.elements
            .iter()
            .find(|element| element.get("id").map(String::as_str) == Some(id))
            .and_then(|element| element.get("data-value"))
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }

    /// An attribute of the element with this `id`.
    fn attribute(&self, id: &str, name: &str) -> Option<&str> {
        self.elements
            .iter()
            .find(|element| element.get("id").map(String::as_str) == Some(id))
            .and_then(|element| element.get(name))
            .map(String::as_str)
    }

    /// The `data-value`s of a model version's elements for this `data-field`.
    fn fields(&self, model: &str, version: &str, field: &str) -> Vec<&HashMap<String, String>> {
        let is = |element: &HashMap<String, String>, key: &str, value: &str| {
            element.get(key).map(String::as_str) == Some(value)
        };
        self.elements
            .iter()
            .filter(|element| {
                is(element, "data-model", model)
                    && is(element, "data-version", version)
                    && is(element, "data-field", field)
            })
            .collect()
    }

    fn field(&self, model: &str, version: &str, field: &str) -> &str {
        match self.fields(model, version, field).as_slice() {
            [element] => element.get("data-value").map_or("", String::as_str),
            other => panic!(
                "expected one {field} of {model} {version} on the page, found {}:\n{}",
                other.len(),
                self.dom
            ),
        }
    }

    fn number(&self, id: &str) -> f64 {
        let value = self
            .by_id(id)
            .unwrap_or_else(|| panic!("#{id} has no value:\n{}", self.dom));
        value
            .parse()
            .unwrap_or_else(|error| panic!("#{id} = {value:?}: {error}"))
    }

    fn state(&self) -> Option<String> {
        let start = self.dom.find("<body")?;
        let (attributes, _) = start_tag_attributes(&self.dom[start + 1..]);
        attributes.get("data-state").cloned()
    }
}

/// Re-loads the page until `ready` accepts it (each load runs its script for 8 s of virtual
/// time, so the first poll of `/api/summary` has been rendered when it returns).
fn load_until(url: &str, what: &str, ready: impl Fn(&Page) -> bool) -> Page {
    let deadline = Instant::now() + WAIT;
    loop {
        let page = Page::load(url);
        if ready(&page) {
            return page;
        }
        assert!(
            Instant::now() < deadline,
            "the page did not show {what} within {WAIT:?} (state {:?}):\n{}",
            page.state(),
            page.dom
        );
    }
}

fn as_f64(value: &Value, what: &str) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {value}"))
}

/// `value` (the page's) equals `expected` (a JSON number, a string, a bool or null).
fn assert_same(page_value: &str, expected: &Value, what: &str) {
    match expected {
        Value::Number(number) => {
            let expected = number.as_f64().unwrap_or(f64::NAN);
            let shown: f64 = page_value
                .parse()
                .unwrap_or_else(|error| panic!("{what}: {page_value:?} ({error})"));
            assert!(
                (shown - expected).abs() <= 1e-9 * expected.abs().max(1.0),
                "{what}: the page shows {shown}, the service says {expected}"
            );
        }
        Value::String(text) => assert_eq!(page_value, text, "{what}"),
        Value::Bool(flag) => assert_eq!(page_value, flag.to_string(), "{what}"),
        Value::Null => assert_eq!(page_value, "", "{what}"),
        other => panic!("{what}: unexpected {other}"),
    }
}

/// Rows around each species' mean (Fisher's iris: means and standard deviations per class),
/// with deterministic noise: traffic that looks like the training data.
fn iris_like_rows(count: usize) -> Vec<[f64; 4]> {
    const MEANS: [[f64; 4]; 3] = [
        [5.006, 3.428, 1.462, 0.246],
        [5.936, 2.770, 4.260, 1.326],
        [6.588, 2.974, 5.552, 2.026],
    ];
    const STDS: [[f64; 4]; 3] = [
        [0.352, 0.379, 0.174, 0.105],
        [0.516, 0.314, 0.470, 0.198],
        [0.636, 0.322, 0.552, 0.275],
    ];
    let mut rng = SplitMix64::new(1);
    (0..count)
        .map(|row| {
            let class = row % 3;
            std::array::from_fn(|feature| {
                let value = MEANS[class][feature] + STDS[class][feature] * rng.normal();
                (value * 10.0).round().max(1.0) / 10.0
            })
        })
        .collect()
}

fn features_body(row: &[f64; 4]) -> String {
    serde_json::json!({ "features": row }).to_string()
}

/// A model version of a `/health/detailed` or `/api/summary` document.
fn model<'a>(document: &'a Value, version: &str) -> &'a Value {
    document["models"]
        .as_array()
        .and_then(|models| {
            models
                .iter()
                .find(|model| model["name"] == "iris" && model["version"] == version)
        })
        .unwrap_or_else(|| panic!("no iris {version} in {document:#}"))
}

#[test]
fn the_live_page_shows_what_the_service_reports() {
    let started = Instant::now();
    let receiver = OtlpReceiver::grpc();
    let service = start(&receiver);
    let address = service.address();
    let url = format!("http://{address}/");

    let deadline = Instant::now() + WAIT;
    while raw_request(address, "GET", "/health/ready", &[], b"", WAIT).status != 200 {
        assert!(Instant::now() < deadline, "not ready within {WAIT:?}");
        std::thread::yield_now();
    }

    // Known traffic: predictions on both versions, and client errors.
    let rows = iris_like_rows(TO_V1 + TO_V2);
    for (index, row) in rows.iter().enumerate() {
        let path = if index < TO_V1 {
            "/v1/predict"
        } else {
            "/v2/predict"
        };
        let answer = post(address, path, &features_body(row));
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    }
    for (path, body) in [
        ("/v1/predict", r#"{"features": [1.0, 2.0"#),
        ("/v2/predict", r#"{"features": [1.0, 2.0]}"#),
        (
            "/v1/models/iris/versions/9.9.9:predict",
            r#"{"instances": [[5.1, 3.5, 1.4, 0.2]]}"#,
        ),
    ] {
        let refused = post(address, path, body);
        assert!(
            (400..500).contains(&refused.status),
            "{path} {body}: {} {}",
            refused.status,
            refused.body
        );
    }

    let before = get_json(address, "/health/detailed");
    let page = load_until(&url, "both model versions", |page| {
        page.state().as_deref() == Some("ok")
            && page.by_id("requests-total").is_some()
            && !page.fields("iris", "1.0.0", "predictions").is_empty()
            && !page.fields("iris", "2.0.0", "predictions").is_empty()
    });
    let after = get_json(address, "/health/detailed");
    let summary = get_json(address, "/api/summary");

    // Request counts move with the page's own requests: the page's lie between the two.
    for (id, key) in [
        ("requests-total", "total"),
        ("client-errors", "client_errors"),
        ("requests-failed", "failed"),
    ] {
        let shown = page.number(id);
        let low = as_f64(&before["requests"][key], key);
        let high = as_f64(&after["requests"][key], key);
        assert!(
            low <= shown && shown <= high,
            "#{id}: the page shows {shown}, /health/detailed said {low} before and {high} after"
        );
    }
    // The page asks for no /favicon.ico: opening it adds no 4xx.
    assert_eq!(page.number("client-errors"), BAD_REQUESTS as f64);
    assert_eq!(after["requests"]["client_errors"], BAD_REQUESTS);
    assert_eq!(page.number("requests-failed"), 0.0);
    assert_eq!(page.by_id("service-name"), Some("predictor"));
    assert_eq!(page.by_id("service-version"), after["version"].as_str());
    assert!(page.by_id("service-status").is_some());
    // Links: the service's own pages, Jaeger (configured), not Grafana (not configured).
    assert_eq!(page.attribute("link-metrics", "href"), Some("/metrics"));
    assert_eq!(
        page.attribute("link-health", "href"),
        Some("/health/detailed")
    );
    assert_eq!(page.attribute("link-jaeger", "href"), Some(JAEGER));
    assert_eq!(page.attribute("link-jaeger", "hidden"), None);
    assert_eq!(page.attribute("link-grafana", "hidden"), Some(""));
    assert_eq!(page.attribute("error-banner", "hidden"), Some(""));
    for id in [
        "uptime",
        "request-rate",
        "error-rate",
        "client-error-rate",
        "last-updated",
    ] {
        assert!(page.number(id) >= 0.0, "#{id}");
    }

    // Per model version: nothing predicted in between, so the numbers are equal.
    for (version, sent) in [("1.0.0", TO_V1), ("2.0.0", TO_V2)] {
        let health = model(&after, version);
        let what = |field: &str| format!("iris {version} {field}");
        for (field, key) in [
            ("predictions", "predictions"),
            ("mean-confidence", "mean_confidence"),
            ("loaded", "loaded"),
            ("drift-status", "drift_status"),
        ] {
            assert_same(
                page.field("iris", version, field),
                &health[key],
                &what(field),
            );
        }
        assert_same(
            page.field("iris", version, "predictions"),
            &sent.into(),
            &what("predictions sent"),
        );
        assert_eq!(page.field("iris", version, "loaded"), "true");
        assert_eq!(
            page.field("iris", version, "drift-status"),
            "insufficient_data"
        );
        let in_summary = model(&summary, version);
        assert_same(
            page.field("iris", version, "drift-window"),
            &in_summary["drift_window"],
            &what("drift window"),
        );
        let mix = in_summary["class_mix"]
            .as_object()
            .unwrap_or_else(|| panic!("class_mix of {version}: {summary:#}"));
        let shown: Vec<_> = page.fields("iris", version, "class-count");
        assert_eq!(shown.len(), mix.len(), "{}", what("class mix"));
        for (label, count) in mix {
            let element = shown
                .iter()
                .find(|element| element.get("data-label") == Some(label))
                .unwrap_or_else(|| panic!("{}: no {label}", what("class mix")));
            assert_same(
                element.get("data-value").map_or("", String::as_str),
                count,
                &what(label),
            );
        }
    }
    assert!(
        page.dom.contains("collecting data (") && page.dom.contains(" of 500)"),
        "the drift windows are not full: the page says it is collecting data"
    );

    // Enough traffic for 2.0.0's drift window: the page shows its per-feature table.
    for chunk in iris_like_rows(600).chunks(100) {
        let body = serde_json::json!({ "instances": chunk }).to_string();
        let answer = post(address, "/v1/models/iris/versions/2.0.0:predict", &body);
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let page = load_until(&url, "2.0.0's drift table", |page| {
        page.fields("iris", "2.0.0", "psi").len() == 4
    });
    let summary = get_json(address, "/api/summary");
    let after = get_json(address, "/health/detailed");
    let v2 = model(&summary, "2.0.0");
    assert_same(
        page.field("iris", "2.0.0", "drift-status"),
        &model(&after, "2.0.0")["drift_status"],
        "iris 2.0.0 drift status",
    );
    assert_same(
        page.field("iris", "2.0.0", "predictions"),
        &(TO_V2 + 600).into(),
        "iris 2.0.0 predictions",
    );
    for feature in v2["drift"].as_array().into_iter().flatten() {
        let name = feature["feature"].as_str().unwrap_or_default();
        for (field, key) in [("psi", "psi"), ("drift-detected", "detected")] {
            let element = page
                .fields("iris", "2.0.0", field)
                .into_iter()
                .find(|element| element.get("data-feature").map(String::as_str) == Some(name))
                .unwrap_or_else(|| panic!("no {field} of {name}:\n{}", page.dom));
            assert_same(
                element.get("data-value").map_or("", String::as_str),
                &feature[key],
                &format!("{name} {field}"),
            );
        }
    }

    // The screenshot in the docs, taken from this run.
    let screenshot = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/dashboard.png");
    let _ = std::fs::remove_file(&screenshot);
    run_chromium(
        &[
            &format!("--screenshot={}", screenshot.display()),
            "--window-size=1280,900",
        ],
        &url,
    );
    let size = std::fs::metadata(&screenshot)
        .map(|metadata| metadata.len())
        .unwrap_or_else(|error| panic!("{}: {error}", screenshot.display()));
    assert!(
        size > 10_000,
        "{} is only {size} bytes",
        screenshot.display()
    );
    eprintln!("the live page test took {:?}", started.elapsed());
}

/// With `--protect-details` the summary needs the token: the page without it says so (and
/// how to give it), the page opened as `/#token=...` shows the service's numbers.
#[test]
fn the_page_of_a_protected_summary_takes_the_token_from_its_address() {
    let receiver = OtlpReceiver::grpc();
    let service = start_with(
        &receiver,
        &["--metrics-token", "s3cret", "--protect-details"],
    );
    let base = format!("http://{}/", service.address());

    let refused = load_until(&base, "the refusal", |page| {
        page.state().as_deref() == Some("error")
    });
    assert!(
        refused.dom.contains("HTTP 401") && refused.dom.contains("#token="),
        "the banner does not say how to give the token:\n{}",
        refused.dom
    );
    assert_eq!(
        refused.by_id("requests-total"),
        None,
        "no numbers without the token"
    );

    let shown = load_until(&format!("{base}#token=s3cret"), "the summary", |page| {
        page.state().as_deref() == Some("ok") && page.by_id("requests-total").is_some()
    });
    assert!(shown.number("requests-total") >= 1.0);
    assert_eq!(shown.by_id("service-status"), Some("ok"));
}
