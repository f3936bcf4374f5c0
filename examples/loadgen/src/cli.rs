//! The command line (clap): the flags, their defaults and `--help`, turned into a [`Config`].

use std::time::Duration;

use clap::Parser;

use crate::{Config, Error, Scenario};

/// What `--help` says after the flags.
const AFTER_HELP: &str = "\
SCENARIOS (--scenario)
  steady   rows drawn from the iris training distribution (balanced classes) to POST /predict
  drift    steady, with --shift-features moved by --shift reference std, ramped from 0 over
           the first half of the run, then held
  errors   steady, with --error-share bad requests cycling through the contract's error cases
           (malformed JSON, wrong feature count, string value, empty batch, unknown version,
           unknown model, no instances, not JSON, unknown X-Model-Version, batch too large)
  spike    steady, with --delay-share requests carrying X-Debug-Delay-Ms: --delay-ms.
           The service honours it only when started with --allow-debug-headers
           (ALLOW_DEBUG_HEADERS=true); the summary says when it did not. A delayed request
           holds its worker: raise --concurrency to keep --rate through the spike
  faults   steady, with --fault-share requests carrying X-Debug-Fail: the model call fails
           and the service answers 500 model_failure (also only with --allow-debug-headers;
           the summary says when it did not)
  ab       alternates POST /v1/predict (1.0.0) and POST /v2/predict (2.0.0)
  chat     OpenAI-compatible chat completions to POST /v1/chat/completions (--chat-model),
           every other one streamed; each call is a GenAI client call (#[instrument_genai]):
           with --otlp-endpoint, loadgen exports gen_ai.client.* metrics, spans and the
           cost from its price table (--chat-prices, default the demo model's price)
  degrade  steady, with feedback (every prediction's by default) whose true label for
           versicolor rows is virginica: the model's realised accuracy falls by a third
           (ModelAccuracyDrop), while its inputs and confidence stay as they were

FEEDBACK (--feedback-share, any scenario)
  the true label of that share of the predicted rows is sent by its prediction_id to
  POST /v1/models/iris/feedback, --feedback-delay seconds after the prediction, batched

TELEMETRY
  None unless --otlp-endpoint (or OTEL_EXPORTER_OTLP_ENDPOINT) is given: then loadgen
  installs mlotel's telemetry (service loadgen, OTLP, the other OTEL_* variables apply)
  and flushes it before exiting.

Exits 0 after printing the summary whatever the service answered; 2 on bad flags, 1 when
the service cannot be reached at start.";

/// loadgen: traffic for the demo predictor (docs/predictor.md), then a summary.
///
/// `Flags::parse()` prints `--help` and exits 0, or prints a usage error naming the flag and
/// exits 2; [`Flags::into_config`] then checks that the values hang together.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "loadgen",
    // --help says the first line above, not the note for callers.
    long_about = None,
    after_help = AFTER_HELP,
    // A repeated flag takes its last value.
    args_override_self = true,
    // `--shift -1` is a shift down; `--rate -1` reaches the range check below.
    allow_negative_numbers = true
)]
pub struct Flags {
    /// The kind of traffic (SCENARIOS below): steady, drift, errors, spike, faults, ab, chat or degrade
    #[arg(long, value_name = "NAME", default_value = "steady")]
    pub scenario: Scenario,

    /// Service base URL, http:// only
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,

    /// Requests per second over all workers, 0 = as fast as possible
    #[arg(long, value_name = "N", default_value = "50")]
    pub rate: f64,

    /// Seconds to run [default: 60, none when --requests is given]
    #[arg(long, value_name = "S")]
    pub duration: Option<f64>,

    /// Stop after N requests (with --duration, whichever comes first) [default: no limit]
    #[arg(long, value_name = "N")]
    pub requests: Option<u64>,

    /// Worker threads, one keep-alive connection each (1 to 1024)
    #[arg(long, value_name = "N", default_value = "4")]
    pub concurrency: usize,

    /// Seed of the rows drawn: the same seed sends the same rows
    #[arg(long, value_name = "N", default_value = "1")]
    pub seed: u64,

    /// Instances per prediction request
    #[arg(long, value_name = "N", default_value = "1")]
    pub batch: usize,

    /// drift: features to shift, comma-separated
    #[arg(long, value_name = "A,B", default_value = "petal_length,petal_width")]
    pub shift_features: String,

    /// drift: full shift in reference std units
    #[arg(long, value_name = "X", default_value = "2.0")]
    pub shift: f64,

    /// errors: share of bad requests (0 to 1)
    #[arg(long, value_name = "X", default_value = "0.2")]
    pub error_share: f64,

    /// spike: X-Debug-Delay-Ms value (at most 2000)
    #[arg(long, value_name = "N", default_value = "300")]
    pub delay_ms: u64,

    /// spike: share of delayed requests (0 to 1)
    #[arg(long, value_name = "X", default_value = "0.1")]
    pub delay_share: f64,

    /// faults: share of requests asking for a failure (0 to 1)
    #[arg(long, value_name = "X", default_value = "0.2")]
    pub fault_share: f64,

    /// Share of predicted rows whose true label is sent back (0 to 1) [default: 0; 1 for degrade]
    #[arg(long, value_name = "X")]
    pub feedback_share: Option<f64>,

    /// Seconds from a prediction to its feedback (the label delay)
    #[arg(long, value_name = "S", default_value = "5")]
    pub feedback_delay: f64,

    /// Per-request connect, read and write timeout, seconds
    #[arg(long, value_name = "S", default_value = "10")]
    pub timeout: f64,

    /// chat: the model asked for
    #[arg(long, value_name = "NAME", default_value = crate::chat::DEFAULT_MODEL)]
    pub chat_model: String,

    /// chat: price table, JSON (docs/genai.md) [default: the demo model at 0.5/1.5 USD per
    /// million input/output tokens]
    #[arg(long, value_name = "FILE")]
    pub chat_prices: Option<std::path::PathBuf>,

    /// Export loadgen's own telemetry (the chat client calls) over OTLP to this endpoint
    /// [default: none]
    #[arg(long, value_name = "URL", env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
}

impl Flags {
    /// The run the flags describe, checked ([`Config::validate`]); an error names the flag.
    pub fn into_config(self) -> Result<Config, Error> {
        let duration = match (self.duration, self.requests) {
            (Some(seconds), _) => Some(seconds_flag("--duration", seconds)?),
            (None, Some(_)) => None,
            (None, None) => Config::default().duration,
        };
        let config = Config {
            url: self.url,
            scenario: self.scenario,
            rate: self.rate,
            duration,
            requests: self.requests,
            concurrency: self.concurrency,
            seed: self.seed,
            batch: self.batch,
            shift_features: self
                .shift_features
                .split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .collect(),
            shift: self.shift,
            error_share: self.error_share,
            delay_ms: self.delay_ms,
            delay_share: self.delay_share,
            fault_share: self.fault_share,
            feedback_share: self
                .feedback_share
                .unwrap_or(if self.scenario == Scenario::Degrade {
                    1.0
                } else {
                    0.0
                }),
            feedback_delay: seconds_flag("--feedback-delay", self.feedback_delay)?,
            timeout: seconds_flag("--timeout", self.timeout)?,
            chat_model: self.chat_model,
        };
        config.validate()?;
        Ok(config)
    }
}

/// `seconds` as a duration, or a usage error naming `flag` (negative, NaN or too large).
fn seconds_flag(flag: &str, seconds: f64) -> Result<Duration, Error> {
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| Error::Usage(format!("{flag} must be a number of seconds ≥ 0")))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::CommandFactory as _;
    use clap::Parser as _;
    use clap::error::ErrorKind;

    use super::Flags;
    use crate::{Config, Error, Scenario};

    /// The config of `args`, or the message of the usage error (clap's or the range check's).
    fn parse(args: &[&str]) -> Result<Config, String> {
        let flags = Flags::try_parse_from(std::iter::once("loadgen").chain(args.iter().copied()))
            .map_err(|error| error.to_string())?;
        flags.into_config().map_err(|error| match error {
            Error::Usage(message) => message,
            other => panic!("not a usage error: {other}"),
        })
    }

    #[test]
    fn the_flags_are_consistent() {
        Flags::command().debug_assert();
    }

    #[test]
    fn flags_parse_with_defaults() {
        assert_eq!(
            parse(&[]),
            Ok(Config::default()),
            "clap's defaults are Config's"
        );
        let config = parse(&[
            "--scenario",
            "drift",
            "--url=http://127.0.0.1:9000",
            "--rate",
            "50",
            "--duration",
            "60",
            "--concurrency",
            "4",
            "--shift-features",
            "petal_width",
            "--shift",
            "3",
        ])
        .expect("valid flags");
        assert_eq!(config.scenario, Scenario::Drift);
        assert_eq!(config.url, "http://127.0.0.1:9000");
        assert_eq!(config.duration, Some(Duration::from_secs(60)));
        assert_eq!(config.shift_features, ["petal_width"]);
        assert_eq!(config.shift, 3.0);
        assert_eq!(config.batch, 1);
        let config = parse(&["--requests", "10"]).expect("valid");
        assert_eq!((config.requests, config.duration), (Some(10), None));
        let config = parse(&["--requests", "10", "--duration", "5"]).expect("valid");
        assert_eq!(
            (config.requests, config.duration),
            (Some(10), Some(Duration::from_secs(5)))
        );
        let config = parse(&["--shift", "-1.5", "--seed", "3", "--seed", "4"]).expect("valid");
        assert_eq!(
            (config.shift, config.seed),
            (-1.5, 4),
            "negative, last wins"
        );
        assert_eq!(
            Flags::try_parse_from(["loadgen", "--help"])
                .map_err(|error| error.kind())
                .err(),
            Some(ErrorKind::DisplayHelp)
        );
    }

    #[test]
    fn bad_flags_are_usage_errors_naming_the_flag() {
        for (bad, names) in [
            (&["--scenario", "chaos"][..], "--scenario"),
            (&["--rate", "-1"], "--rate"),
            (&["--rate"], "--rate"),
            (&["--rate", "fast"], "--rate"),
            (&["--batch", "0"], "--batch"),
            (&["--url", "https://x"], "--url"),
            (&["--error-share", "1.5"], "--error-share"),
            (
                &["--scenario", "drift", "--shift-features", "petal_size"],
                "--shift-features",
            ),
            (&["--duration", "-1"], "--duration"),
            (&["--timeout", "NaN"], "--timeout"),
            (&["--bogus", "1"], "--bogus"),
            (&["stray"], "stray"),
        ] {
            match parse(bad) {
                Err(message) => assert!(message.contains(names), "{bad:?}: {message}"),
                Ok(config) => panic!("{bad:?} accepted: {config:?}"),
            }
        }
    }

    #[test]
    fn help_lists_every_flag_with_its_default() {
        let help = Flags::command().render_long_help().to_string();
        // One entry per flag: from its `-x`/`--x` line to the next one or the next section,
        // whitespace collapsed (clap may wrap a line anywhere).
        let mut entries: Vec<String> = Vec::new();
        let mut in_options = false;
        for line in help.lines() {
            if !line.starts_with(' ') && !line.is_empty() {
                in_options = line.starts_with("Options");
            } else if in_options && line.trim_start().starts_with('-') {
                entries.push(line.trim().to_owned());
            } else if in_options && let Some(entry) = entries.last_mut() {
                entry.push(' ');
                entry.push_str(line.trim());
            }
        }
        let entries: Vec<String> = entries
            .iter()
            .map(|entry| entry.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(entries.len(), 21, "20 flags and --help: {entries:#?}");
        for (flag, default) in [
            ("--scenario", "steady"),
            ("--url", "http://127.0.0.1:8080"),
            ("--rate", "50"),
            ("--duration", "60"),
            ("--requests", "no limit"),
            ("--concurrency", "4"),
            ("--seed", "1"),
            ("--batch", "1"),
            ("--shift-features", "petal_length,petal_width"),
            ("--shift", "2.0"),
            ("--error-share", "0.2"),
            ("--delay-ms", "300"),
            ("--delay-share", "0.1"),
            ("--fault-share", "0.2"),
            ("--feedback-share", "0; 1 for degrade"),
            ("--feedback-delay", "5"),
            ("--timeout", "10"),
            ("--chat-model", "mlotel-wonderland"),
            ("--chat-prices", "the demo model"),
            ("--otlp-endpoint", "none"),
        ] {
            let entry = entries
                .iter()
                .find(|entry| entry.starts_with(&format!("{flag} ")))
                .unwrap_or_else(|| panic!("{flag} missing from:\n{help}"));
            assert!(
                entry.contains(&format!("[default: {default}")),
                "{flag}: {entry}"
            );
        }
    }
}
