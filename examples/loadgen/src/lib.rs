//! Load generator for the demo predictor (docs/predictor.md): steady, drifting, failing,
//! slow and A/B traffic over plain HTTP/1.1 keep-alive connections, and a summary of what
//! came back.
//!
//! ```no_run
//! let config = loadgen::Config {
//!     scenario: loadgen::Scenario::Drift,
//!     requests: Some(100),
//!     duration: None,
//!     batch: 20,
//!     ..loadgen::Config::default()
//! };
//! let summary = loadgen::run(&config)?;
//! println!("{summary}");
//! # Ok::<(), loadgen::Error>(())
//! ```
//!
//! The CLI (`cargo run --release -p loadgen -- --help`) takes the same settings as flags
//! ([`Flags`]).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub mod chat;
mod cli;
mod feedback;
mod http;
pub mod scenario;

pub use chat::ChatSummary;
pub use cli::Flags;
use http::{Client, Target};
use mlotel_testkit::SplitMix64;
use scenario::Iris;
pub use scenario::{ErrorCase, FEATURES, ramp};

/// The kinds of traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Rows drawn from the iris training distribution, balanced classes, to `POST /predict`.
    Steady,
    /// Like `steady`, with the chosen features shifted progressively (0 to the full shift over
    /// the first half of the run, then held).
    Drift,
    /// Like `steady`, with a share of bad requests cycling through the contract's error cases.
    Errors,
    /// Like `steady`, with a share of requests carrying `X-Debug-Delay-Ms` (the service must
    /// run with `--allow-debug-headers`).
    Spike,
    /// Like `steady`, with a share of requests carrying `X-Debug-Fail`: the model call fails
    /// and the service answers 500 (it must run with `--allow-debug-headers`).
    Faults,
    /// Alternates `POST /v1/predict` and `POST /v2/predict`.
    Ab,
    /// OpenAI-compatible chat completions to `POST /v1/chat/completions`, every other one
    /// streamed, instrumented as GenAI client calls ([`chat`]).
    Chat,
    /// Steady, with feedback whose true label for versicolor rows is virginica: the
    /// realised accuracy falls while inputs and confidence stay the same.
    Degrade,
}

impl Scenario {
    /// Every scenario, in the order `--help` lists them.
    pub const ALL: [Scenario; 8] = [
        Scenario::Steady,
        Scenario::Drift,
        Scenario::Errors,
        Scenario::Spike,
        Scenario::Faults,
        Scenario::Ab,
        Scenario::Chat,
        Scenario::Degrade,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Steady => "steady",
            Scenario::Drift => "drift",
            Scenario::Errors => "errors",
            Scenario::Spike => "spike",
            Scenario::Faults => "faults",
            Scenario::Ab => "ab",
            Scenario::Chat => "chat",
            Scenario::Degrade => "degrade",
        }
    }
}

impl FromStr for Scenario {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|scenario| scenario.name() == name)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "unknown scenario `{name}` (one of: steady, drift, errors, spike, faults, ab, chat, degrade)"
                ))
            })
    }
}

/// What to send, where, how fast and for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Base URL of the service, `http://host:port`.
    pub url: String,
    /// The kind of traffic.
    pub scenario: Scenario,
    /// Requests per second over all workers; 0 sends as fast as the workers can.
    pub rate: f64,
    /// Stop after this long (with `requests`, whichever comes first).
    pub duration: Option<Duration>,
    /// Stop after this many requests.
    pub requests: Option<u64>,
    /// Worker threads, each with its own keep-alive connection.
    pub concurrency: usize,
    /// Seed of the rows drawn: the same seed sends the same rows.
    pub seed: u64,
    /// Instances per prediction request.
    pub batch: usize,
    /// `drift`: the features shifted.
    pub shift_features: Vec<String>,
    /// `drift`: the full shift, in reference standard deviations of each feature.
    pub shift: f64,
    /// `errors`: share of requests that are bad.
    pub error_share: f64,
    /// `spike`: the delay asked for, milliseconds.
    pub delay_ms: u64,
    /// `spike`: share of requests that ask for it.
    pub delay_share: f64,
    /// `faults`: share of requests that ask for a failed model call.
    pub fault_share: f64,
    /// Share of predicted rows whose true label is sent back as feedback.
    pub feedback_share: f64,
    /// Time from a prediction to its feedback (the label delay).
    pub feedback_delay: Duration,
    /// Connect, read and write timeout of every request.
    pub timeout: Duration,
    /// `chat`: the model asked for.
    pub chat_model: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8080".to_owned(),
            scenario: Scenario::Steady,
            rate: 50.0,
            duration: Some(Duration::from_secs(60)),
            requests: None,
            concurrency: 4,
            seed: 1,
            batch: 1,
            shift_features: vec!["petal_length".to_owned(), "petal_width".to_owned()],
            shift: 2.0,
            error_share: 0.2,
            delay_ms: 300,
            delay_share: 0.1,
            fault_share: 0.2,
            feedback_share: 0.0,
            feedback_delay: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            chat_model: chat::DEFAULT_MODEL.to_owned(),
        }
    }
}

impl Config {
    /// Checks the settings hang together; `run` calls it too.
    pub fn validate(&self) -> Result<(), Error> {
        let usage = |message: &str| Err(Error::Usage(message.to_owned()));
        if !(self.rate.is_finite() && self.rate >= 0.0) {
            return usage("--rate must be a number ≥ 0");
        }
        if self.duration.is_none() && self.requests.is_none() {
            return usage("give --duration or --requests");
        }
        if self.duration.is_some_and(|d| d.is_zero()) || self.requests == Some(0) {
            return usage("--duration and --requests must be above 0");
        }
        if self.concurrency == 0 || self.concurrency > 1024 {
            return usage("--concurrency must be between 1 and 1024");
        }
        if self.batch == 0 {
            return usage("--batch must be at least 1");
        }
        for (name, share) in [
            ("--error-share", self.error_share),
            ("--delay-share", self.delay_share),
            ("--fault-share", self.fault_share),
            ("--feedback-share", self.feedback_share),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return Err(Error::Usage(format!("{name} must be between 0 and 1")));
            }
        }
        if !self.shift.is_finite() {
            return usage("--shift must be a finite number");
        }
        if self.delay_ms > 2000 {
            return usage("--delay-ms: the service honours at most 2000");
        }
        if self.scenario == Scenario::Degrade && self.feedback_share == 0.0 {
            return usage(
                "--scenario degrade flips feedback labels: give --feedback-share above 0",
            );
        }
        if self.timeout.is_zero() {
            return usage("--timeout must be above 0");
        }
        if self.chat_model.trim().is_empty() {
            return usage("--chat-model must name a model");
        }
        if self.scenario == Scenario::Drift {
            if self.shift_features.is_empty() {
                return usage("--shift-features names no feature");
            }
            for name in &self.shift_features {
                if !FEATURES.contains(&name.as_str()) {
                    return Err(Error::Usage(format!(
                        "--shift-features: unknown feature `{name}` (one of: {})",
                        FEATURES.join(", ")
                    )));
                }
            }
        }
        Target::parse(&self.url).map_err(|error| Error::Usage(format!("--url {error}")))?;
        Ok(())
    }

    /// Offset from the start at which request `index` is due: `index / rate`; `None` when
    /// the rate is unlimited.
    pub fn due(&self, index: u64) -> Option<Duration> {
        (self.rate > 0.0).then(|| Duration::from_secs_f64(index as f64 / self.rate))
    }

    /// How far through the run request `index`, due (or sent) at `offset`, is: from the
    /// request count when `--requests` bounds the run, else from the time.
    pub fn progress(&self, index: u64, offset: Duration) -> f64 {
        match (self.requests, self.duration) {
            (Some(requests), _) => index as f64 / requests as f64,
            (None, Some(duration)) => offset.as_secs_f64() / duration.as_secs_f64(),
            (None, None) => 0.0,
        }
    }
}

/// Why a run did not happen.
#[derive(Debug)]
pub enum Error {
    /// Bad flags or settings.
    Usage(String),
    /// Nothing answers at the URL when the run starts.
    Unreachable {
        /// The URL tried.
        url: String,
        /// What went wrong.
        source: std::io::Error,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(message) => write!(f, "{message}"),
            Error::Unreachable { url, source } => write!(
                f,
                "the service at {url} is unreachable ({source}); start it with \
                 `cargo run --release -p predictor` or pass --url"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Usage(_) => None,
            Error::Unreachable { source, .. } => Some(source),
        }
    }
}

/// What came back.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// The scenario run.
    pub scenario: Option<Scenario>,
    /// Requests sent (answered or not).
    pub sent: u64,
    /// 2xx answers.
    pub ok: u64,
    /// Instances in the 2xx answers.
    pub rows_ok: u64,
    /// 4xx answers by the `error.type` of their body (`http_NNN` when it has none).
    pub client_errors: BTreeMap<String, u64>,
    /// 5xx answers.
    pub server_errors: u64,
    /// Requests with no HTTP answer (refused, reset, timed out, garbled).
    pub transport_errors: u64,
    /// Answers that are not what the contract promises for the request sent: an error for a
    /// good request, or another status or type than expected for a bad one.
    pub unexpected: u64,
    /// A few examples of `unexpected`, `what was sent: what came back`.
    pub unexpected_examples: Vec<String>,
    /// 2xx answers by their `X-Model-Version` header.
    pub by_version: BTreeMap<String, u64>,
    /// `spike`: requests that asked for a delay.
    pub delayed: u64,
    /// `spike`: of those, answered sooner than the delay asked for.
    pub delayed_fast: u64,
    /// `faults`: requests that asked for a failed model call.
    pub faulted: u64,
    /// `faults`: of those, answered 500 `model_failure` as asked.
    pub faulted_failed: u64,
    /// Feedback items sent.
    pub feedback_sent: u64,
    /// Of those, recorded (their request answered 200).
    pub feedback_recorded: u64,
    /// Refused feedback requests, by error `type`.
    pub feedback_refused: BTreeMap<String, u64>,
    /// Feedback requests that got no answer.
    pub feedback_transport_errors: u64,
    /// Median latency of answered requests, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency of answered requests, milliseconds.
    pub p99_ms: f64,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
    /// `sent / elapsed`.
    pub achieved_rate: f64,
    /// Where the shift unit came from: `service` (`GET /v1/models/iris`) or `built-in`.
    pub reference_source: String,
    /// Things worth saying (ignored debug delays, built-in reference, ...).
    pub notes: Vec<String>,
    /// `chat`: tokens, finish reasons, time to first token.
    pub chat: Option<ChatSummary>,
}

impl Summary {
    /// Total 4xx answers.
    pub fn client_error_total(&self) -> u64 {
        self.client_errors.values().sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scenario = self.scenario.map_or("?", Scenario::name);
        writeln!(f, "scenario          {scenario}")?;
        writeln!(
            f,
            "sent              {} in {:.1} s ({:.1} req/s achieved)",
            self.sent,
            self.elapsed.as_secs_f64(),
            self.achieved_rate
        )?;
        writeln!(f, "ok (2xx)          {} ({} rows)", self.ok, self.rows_ok)?;
        for (version, count) in &self.by_version {
            writeln!(f, "  version {version:<9} {count}")?;
        }
        writeln!(f, "client errors     {}", self.client_error_total())?;
        for (kind, count) in &self.client_errors {
            writeln!(f, "  {kind:<23} {count}")?;
        }
        writeln!(f, "server errors     {}", self.server_errors)?;
        writeln!(f, "transport errors  {}", self.transport_errors)?;
        if self.unexpected > 0 {
            writeln!(f, "not as contracted {}", self.unexpected)?;
            for example in &self.unexpected_examples {
                writeln!(f, "  {example}")?;
            }
        }
        if self.scenario == Some(Scenario::Spike) {
            writeln!(
                f,
                "delayed           {} ({} answered faster than the delay)",
                self.delayed, self.delayed_fast
            )?;
        }
        if self.scenario == Some(Scenario::Faults) {
            writeln!(
                f,
                "faults asked      {} ({} answered 500 model_failure)",
                self.faulted, self.faulted_failed
            )?;
        }
        if self.feedback_sent > 0 {
            writeln!(
                f,
                "feedback          {} sent, {} recorded, {} requests failed",
                self.feedback_sent, self.feedback_recorded, self.feedback_transport_errors
            )?;
            for (kind, count) in &self.feedback_refused {
                writeln!(f, "  refused {kind:<15} {count} requests")?;
            }
        }
        if let Some(chat) = &self.chat {
            write!(f, "{chat}")?;
        }
        writeln!(
            f,
            "latency           p50 {:.2} ms, p99 {:.2} ms",
            self.p50_ms, self.p99_ms
        )?;
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        Ok(())
    }
}

/// Per-feature reference mean and std, from the service or built in.
#[derive(Debug, Clone)]
struct ReferenceStats {
    std: [f64; 4],
    from_service: bool,
}

/// Finds `{name: <feature>, mean: x, std: y}`-like objects anywhere in the model's status
/// JSON (the contract names the fields but not their nesting). `None` unless every feature
/// is found.
fn reference_from_status(status: &serde_json::Value) -> Option<[f64; 4]> {
    fn visit(value: &serde_json::Value, found: &mut [Option<f64>; 4]) {
        match value {
            serde_json::Value::Object(object) => {
                let name = ["name", "feature", "feature_name"]
                    .iter()
                    .find_map(|key| object.get(*key).and_then(|v| v.as_str()));
                let std = ["std", "reference_std", "stddev", "std_dev"]
                    .iter()
                    .find_map(|key| object.get(*key).and_then(|v| v.as_f64()));
                if let (Some(name), Some(std)) = (name, std)
                    && let Some(index) = FEATURES.iter().position(|f| *f == name)
                    && std.is_finite()
                    && std > 0.0
                    && found[index].is_none()
                {
                    found[index] = Some(std);
                }
                for (key, child) in object {
                    // `{"petal_length": {"mean": .., "std": ..}}`
                    if let Some(index) = FEATURES.iter().position(|f| f == key)
                        && let Some(std) = child.get("std").and_then(|v| v.as_f64())
                        && std.is_finite()
                        && std > 0.0
                        && found[index].is_none()
                    {
                        found[index] = Some(std);
                    }
                    visit(child, found);
                }
            }
            serde_json::Value::Array(items) => {
                for item in items {
                    visit(item, found);
                }
            }
            _ => {}
        }
    }
    let mut found = [None; 4];
    visit(status, &mut found);
    Some([found[0]?, found[1]?, found[2]?, found[3]?])
}

/// One request, ready to send.
struct Planned {
    path: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    rows: u64,
    /// What the contract says comes back, for a bad request.
    expect_error: Option<ErrorCase>,
    delayed: bool,
    /// `faults`: asked for a failed model call.
    faulted: bool,
    /// The true class of each row (an index into `scenario::LABELS`).
    classes: Vec<usize>,
}

fn plan(
    config: &Config,
    iris: &Iris,
    stats: &ReferenceStats,
    index: u64,
    progress: f64,
) -> Planned {
    let mut rng = SplitMix64::for_stream(config.seed, index);
    if config.scenario == Scenario::Errors
        && let Some(rank) = scenario::pick(index, config.error_share)
    {
        let case = ErrorCase::nth(rank);
        let (path, headers, body) = case.request();
        return Planned {
            path,
            headers: headers
                .into_iter()
                .map(|(name, value)| (name, value.to_owned()))
                .collect(),
            body,
            rows: 0,
            expect_error: Some(case),
            delayed: false,
            faulted: false,
            classes: Vec::new(),
        };
    }
    let mut shift = [0.0; 4];
    if config.scenario == Scenario::Drift {
        let amount = config.shift * ramp(progress);
        for (f, name) in FEATURES.iter().enumerate() {
            if config.shift_features.iter().any(|chosen| chosen == name) {
                shift[f] = amount * stats.std[f];
            }
        }
    }
    let (classes, rows): (Vec<usize>, Vec<[f64; 4]>) = (0..config.batch)
        .map(|_| iris.draw_labelled(&mut rng, &shift))
        .unzip();
    let path = match config.scenario {
        Scenario::Ab if index.is_multiple_of(2) => "/v1/predict",
        Scenario::Ab => "/v2/predict",
        _ => "/predict",
    };
    let mut headers = vec![("Content-Type", "application/json".to_owned())];
    let delayed =
        config.scenario == Scenario::Spike && scenario::pick(index, config.delay_share).is_some();
    if delayed {
        headers.push(("X-Debug-Delay-Ms", config.delay_ms.to_string()));
    }
    let faulted =
        config.scenario == Scenario::Faults && scenario::pick(index, config.fault_share).is_some();
    if faulted {
        headers.push(("X-Debug-Fail", "true".to_owned()));
    }
    Planned {
        path,
        headers,
        body: scenario::instances_body(&rows),
        rows: rows.len() as u64,
        expect_error: None,
        delayed,
        faulted,
        classes,
    }
}

/// Queues the true labels of the picked rows of a 200 answer to `planned` (request `index`).
fn queue_feedback(
    config: &Config,
    index: u64,
    planned: &Planned,
    body: &[u8],
    feedback: &std::sync::mpsc::Sender<feedback::Pending>,
) {
    let due = Instant::now() + config.feedback_delay;
    for (row, (id, class)) in feedback::prediction_ids(body)
        .into_iter()
        .zip(&planned.classes)
        .enumerate()
    {
        let Some(prediction_id) = id else { continue };
        if scenario::pick(
            index * config.batch as u64 + row as u64,
            config.feedback_share,
        )
        .is_none()
        {
            continue;
        }
        let actual = if config.scenario == Scenario::Degrade && *class == scenario::DEGRADED_CLASS {
            scenario::DEGRADED_AS
        } else {
            *class
        };
        let _ = feedback.send(feedback::Pending {
            due,
            prediction_id,
            actual: scenario::LABELS[actual],
        });
    }
}

/// One worker's tally, merged at the end.
#[derive(Default)]
struct Tally {
    summary: Summary,
    latencies_us: Vec<u64>,
}

fn error_type(body: &[u8], status: u16) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|value| value["error"]["type"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("http_{status}"))
}

fn record(
    tally: &mut Tally,
    planned: &Planned,
    result: std::io::Result<http::Response>,
    took: Duration,
    delay_ms: u64,
) {
    let summary = &mut tally.summary;
    summary.sent += 1;
    if planned.delayed {
        summary.delayed += 1;
    }
    if planned.faulted {
        summary.faulted += 1;
    }
    let response = match result {
        Ok(response) => response,
        Err(_) => {
            summary.transport_errors += 1;
            return;
        }
    };
    tally
        .latencies_us
        .push(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
    if planned.delayed && took < Duration::from_millis(delay_ms) {
        summary.delayed_fast += 1;
    }
    let status = response.status;
    let mut unexpected = None;
    match status {
        200..=299 => {
            summary.ok += 1;
            summary.rows_ok += planned.rows;
            if let Some(version) = response.header("x-model-version") {
                *summary.by_version.entry(version.to_owned()).or_default() += 1;
            }
            if let Some(case) = planned.expect_error {
                unexpected = Some(format!("{case:?}: {status}"));
            }
        }
        400..=499 => {
            let kind = error_type(&response.body, status);
            match planned.expect_error {
                Some(case) if case.expected() == (status, kind.as_str()) => {}
                Some(case) => unexpected = Some(format!("{case:?}: {status} {kind}")),
                None => unexpected = Some(format!("{} prediction: {status} {kind}", planned.path)),
            }
            *summary.client_errors.entry(kind).or_default() += 1;
        }
        _ => {
            summary.server_errors += 1;
            if planned.faulted && error_type(&response.body, status) == "model_failure" {
                summary.faulted_failed += 1;
            } else {
                unexpected = Some(format!("{} prediction: {status}", planned.path));
            }
        }
    }
    if let Some(example) = unexpected {
        summary.unexpected += 1;
        if summary.unexpected_examples.len() < 5 && !summary.unexpected_examples.contains(&example)
        {
            summary.unexpected_examples.push(example);
        }
    }
}

fn percentile(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64 / 1000.0
}

/// Runs the scenario against the service and returns what came back. Fails only on bad
/// settings or when the service does not answer `GET /v1/models/iris` at start.
pub fn run(config: &Config) -> Result<Summary, Error> {
    config.validate()?;
    let target = Target::parse(&config.url).map_err(Error::Usage)?;
    let mut probe = Client::new(target.clone(), config.timeout);
    let status = probe
        .request("GET", "/v1/models/iris", &[], b"")
        .map_err(|source| Error::Unreachable {
            url: config.url.clone(),
            source,
        })?;
    let mut notes = Vec::new();
    let served = (status.status == 200)
        .then(|| serde_json::from_slice::<serde_json::Value>(&status.body).ok())
        .flatten()
        .and_then(|value| reference_from_status(&value));
    let stats = match served {
        Some(std) => ReferenceStats {
            std,
            from_service: true,
        },
        None => {
            if config.scenario == Scenario::Drift {
                notes.push(format!(
                    "GET /v1/models/iris (status {}) gave no reference std per feature; \
                     shifting in units of the iris data set's std",
                    status.status
                ));
            }
            ReferenceStats {
                std: scenario::FALLBACK_STD,
                from_service: false,
            }
        }
    };
    drop(probe);
    if config.scenario == Scenario::Chat {
        return Ok(chat::run(config, &target));
    }
    let iris = Iris::load();

    let next = AtomicU64::new(0);
    let tallies = Mutex::new(Vec::new());
    let start = Instant::now();
    let (feedback_sender, feedback_queue) = std::sync::mpsc::channel();
    let feedback_tally = std::thread::scope(|scope| {
        let feedback_thread = (config.feedback_share > 0.0).then(|| {
            let target = target.clone();
            scope.spawn(move || feedback::send_until_done(target, config.timeout, feedback_queue))
        });
        for _ in 0..config.concurrency {
            let feedback_sender = feedback_sender.clone();
            let (next, tallies, iris, stats, target) = (&next, &tallies, &iris, &stats, &target);
            scope.spawn(move || {
                let mut client = Client::new(target.clone(), config.timeout);
                let mut tally = Tally::default();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if config.requests.is_some_and(|n| index >= n) {
                        break;
                    }
                    let offset = match config.due(index) {
                        Some(due) => due,
                        None => start.elapsed(),
                    };
                    if config.duration.is_some_and(|limit| offset >= limit) {
                        break;
                    }
                    let wait = (start + offset).saturating_duration_since(Instant::now());
                    if !wait.is_zero() {
                        std::thread::sleep(wait);
                    }
                    let planned = plan(config, iris, stats, index, config.progress(index, offset));
                    let headers: Vec<(&str, &str)> = planned
                        .headers
                        .iter()
                        .map(|(name, value)| (*name, value.as_str()))
                        .collect();
                    let sent = Instant::now();
                    let result = client.request("POST", planned.path, &headers, &planned.body);
                    if let (Ok(response), true) = (&result, config.feedback_share > 0.0)
                        && response.status == 200
                    {
                        queue_feedback(config, index, &planned, &response.body, &feedback_sender);
                    }
                    record(
                        &mut tally,
                        &planned,
                        result,
                        sent.elapsed(),
                        config.delay_ms,
                    );
                }
                if let Ok(mut tallies) = tallies.lock() {
                    tallies.push(tally);
                }
            });
        }
        // The workers hold the other senders: the feedback thread ends after the last one.
        drop(feedback_sender);
        feedback_thread
            .and_then(|thread| thread.join().ok())
            .unwrap_or_default()
    });
    let elapsed = start.elapsed();

    let mut summary = Summary {
        scenario: Some(config.scenario),
        elapsed,
        reference_source: if stats.from_service {
            "service"
        } else {
            "built-in"
        }
        .to_owned(),
        notes,
        feedback_sent: feedback_tally.sent,
        feedback_recorded: feedback_tally.recorded,
        feedback_refused: feedback_tally.refused,
        feedback_transport_errors: feedback_tally.transport_errors,
        ..Summary::default()
    };
    let mut latencies = Vec::new();
    for tally in tallies.into_inner().unwrap_or_default() {
        let part = tally.summary;
        summary.sent += part.sent;
        summary.ok += part.ok;
        summary.rows_ok += part.rows_ok;
        summary.server_errors += part.server_errors;
        summary.transport_errors += part.transport_errors;
        summary.unexpected += part.unexpected;
        summary.delayed += part.delayed;
        summary.delayed_fast += part.delayed_fast;
        summary.faulted += part.faulted;
        summary.faulted_failed += part.faulted_failed;
        for example in part.unexpected_examples {
            if summary.unexpected_examples.len() < 5
                && !summary.unexpected_examples.contains(&example)
            {
                summary.unexpected_examples.push(example);
            }
        }
        for (kind, count) in part.client_errors {
            *summary.client_errors.entry(kind).or_default() += count;
        }
        for (version, count) in part.by_version {
            *summary.by_version.entry(version).or_default() += count;
        }
        latencies.extend(tally.latencies_us);
    }
    latencies.sort_unstable();
    summary.p50_ms = percentile(&latencies, 0.50);
    summary.p99_ms = percentile(&latencies, 0.99);
    summary.achieved_rate = summary.sent as f64 / elapsed.as_secs_f64().max(1e-9);
    if summary.delayed > 0 && summary.delayed_fast == summary.delayed {
        summary.notes.push(format!(
            "every delayed request came back faster than {} ms: start the service with \
             --allow-debug-headers (ALLOW_DEBUG_HEADERS=true)",
            config.delay_ms
        ));
    }
    if summary.faulted > 0 && summary.faulted_failed == 0 {
        summary.notes.push(
            "no request asking for a failure got 500 model_failure: start the service with \
             --allow-debug-headers (ALLOW_DEBUG_HEADERS=true)"
                .to_owned(),
        );
    }
    if summary.transport_errors == summary.sent && summary.sent > 0 {
        summary
            .notes
            .push("no request got an answer: did the service stop?".to_owned());
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::{Config, percentile, reference_from_status};
    use std::time::Duration;

    #[test]
    fn rate_limiting_and_progress() {
        let config = Config {
            rate: 50.0,
            ..Config::default()
        };
        assert_eq!(config.due(0), Some(Duration::ZERO));
        assert_eq!(config.due(50), Some(Duration::from_secs(1)));
        assert_eq!(config.due(25), Some(Duration::from_millis(500)));
        // 60 s at 50/s: the last request due is number 2999, at 59.98 s.
        let due: Vec<u64> = (0..4000)
            .filter(|i| config.due(*i).is_some_and(|d| d < Duration::from_secs(60)))
            .collect();
        assert_eq!(due.len(), 3000);
        assert!((config.progress(0, Duration::from_secs(30)) - 0.5).abs() < 1e-12);
        let unlimited = Config {
            rate: 0.0,
            requests: Some(200),
            ..Config::default()
        };
        assert_eq!(unlimited.due(7), None);
        assert!((unlimited.progress(50, Duration::from_secs(99)) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let sorted: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentile(&sorted, 0.5), 50.0);
        assert_eq!(percentile(&sorted, 0.99), 99.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn reference_std_is_found_in_the_model_status() {
        let status = serde_json::json!({
            "name": "iris",
            "versions": [{
                "version": "2.0.0",
                "features": [
                    {"name": "sepal_length", "mean": 5.8, "std": 0.8},
                    {"name": "sepal_width", "mean": 3.0, "std": 0.4},
                    {"name": "petal_length", "mean": 3.7, "std": 1.7},
                    {"name": "petal_width", "reference_mean": 1.2, "reference_std": 0.7}
                ]
            }]
        });
        assert_eq!(reference_from_status(&status), Some([0.8, 0.4, 1.7, 0.7]));
        let keyed = serde_json::json!({"reference": {
            "sepal_length": {"mean": 5.8, "std": 0.8}, "sepal_width": {"mean": 3.0, "std": 0.4},
            "petal_length": {"mean": 3.7, "std": 1.7}, "petal_width": {"mean": 1.2, "std": 0.7}
        }});
        assert_eq!(reference_from_status(&keyed), Some([0.8, 0.4, 1.7, 0.7]));
        assert_eq!(
            reference_from_status(&serde_json::json!({"features": ["sepal_length"]})),
            None
        );
    }
}
