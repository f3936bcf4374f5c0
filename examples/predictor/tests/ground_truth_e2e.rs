//! The realised-performance loop end to end: the real predictor and the load generator
//! sending feedback for its predictions after a delay. With steady traffic the accuracy of
//! the recorded outcomes stays near each version's hold-out accuracy (ModelAccuracyDrop's
//! condition does not hold); with the `degrade` scenario (the truth of versicolor rows
//! reported as virginica) it falls more than 10 points below it (the condition holds, on
//! more than the alert's 50 outcomes). The accuracy is computed from `/metrics` exactly as
//! the recording rule does (right outcomes / outcomes); the rule itself is checked against
//! scikit-learn by promtool (deploy/prometheus/tests/ground_truth_test.yml), and the alert
//! with Prometheus in scripts/stack_e2e.py.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use loadgen::{Config, Scenario};
use mlotel_tests::{ServiceProcess, raw_request};

const WAIT: Duration = Duration::from_secs(20);
const VERSIONS: [&str; 2] = ["1.0.0", "2.0.0"];

fn start() -> (ServiceProcess, SocketAddr) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_predictor"));
    command
        .env("PORT", "0")
        .env("WORKERS", "2")
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{}", mlotel_tests::free_port()),
        )
        .env("RUST_LOG", "warn,predictor=info");
    let service = ServiceProcess::spawn(command, WAIT);
    let address = service.address();
    let deadline = Instant::now() + WAIT;
    while raw_request(address, "GET", "/health/ready", &[], b"", WAIT).status != 200 {
        assert!(Instant::now() < deadline, "not ready after {WAIT:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    (service, address)
}

/// The sum of the samples of `family` whose labels contain every fragment.
fn metric(address: SocketAddr, family: &str, fragments: &[&str]) -> f64 {
    let text = raw_request(address, "GET", "/metrics", &[], b"", WAIT).body;
    text.lines()
        .filter(|line| line.starts_with(&format!("{family}{{")))
        .filter(|line| fragments.iter().all(|fragment| line.contains(fragment)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Runs `scenario` with feedback for every prediction, 1 s after it, and returns per version
/// (outcomes, realised accuracy, hold-out accuracy).
fn run(scenario: Scenario) -> Vec<(f64, f64, f64)> {
    let (_service, address) = start();
    let summary = loadgen::run(&Config {
        url: format!("http://{address}"),
        scenario,
        rate: 0.0,
        duration: None,
        requests: Some(300),
        concurrency: 4,
        batch: 2,
        feedback_share: 1.0,
        feedback_delay: Duration::from_secs(1),
        ..Config::default()
    })
    .expect("the load generator runs");
    assert_eq!(summary.ok, 300, "{summary}");
    assert_eq!(summary.feedback_sent, 600, "{summary}");
    assert_eq!(
        summary.feedback_recorded, 600,
        "every feedback recorded: {summary}"
    );
    VERSIONS
        .iter()
        .map(|version| {
            let version = format!("ml_model_version=\"{version}\"");
            let outcomes = metric(address, "ml_outcomes_total", &[&version]);
            let right = metric(
                address,
                "ml_outcomes_total",
                &[&version, "ml_outcome_correct=\"true\""],
            );
            let delays = metric(address, "ml_outcome_delay_seconds_count", &[&version]);
            assert_eq!(delays, outcomes, "one delay per outcome joined by id");
            assert!(
                metric(address, "ml_outcome_delay_seconds_sum", &[&version]) >= 0.9 * outcomes,
                "each outcome came about 1 s after its prediction"
            );
            let reference = metric(address, "ml_model_reference_accuracy_ratio", &[&version]);
            (outcomes, right / outcomes, reference)
        })
        .collect()
}

#[test]
fn steady_feedback_keeps_the_hold_out_accuracy_and_degrade_drops_below_the_alert_line() {
    for (outcomes, accuracy, reference) in run(Scenario::Steady) {
        assert!(outcomes >= 50.0, "{outcomes} outcomes");
        assert!(
            accuracy >= reference - 0.1,
            "steady: realised accuracy {accuracy:.3} against hold-out {reference:.3}"
        );
    }
    for (outcomes, accuracy, reference) in run(Scenario::Degrade) {
        assert!(outcomes >= 50.0, "{outcomes} outcomes");
        assert!(
            accuracy < reference - 0.1,
            "degrade: realised accuracy {accuracy:.3} against hold-out {reference:.3}"
        );
    }
}
