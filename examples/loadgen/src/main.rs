//! `cargo run --release -p loadgen -- --scenario drift --rate 50 --duration 60`: sends the
//! scenario's traffic to the demo predictor, then prints a summary. `--help` lists the flags.

use std::process::ExitCode;

use clap::Parser as _;
use loadgen::{Error, Flags};

fn main() -> ExitCode {
    // clap prints --help and exits 0, or prints a usage error naming the flag and exits 2.
    let flags = Flags::parse();
    let (otlp_endpoint, chat_prices) = (flags.otlp_endpoint.clone(), flags.chat_prices.clone());
    let config = match flags.into_config() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("loadgen: {error}\n(loadgen --help lists the flags)");
            return ExitCode::from(2);
        }
    };
    let limit = match (config.requests, config.duration) {
        (Some(n), Some(d)) => format!("{n} requests or {:.0} s", d.as_secs_f64()),
        (Some(n), None) => format!("{n} requests"),
        (None, Some(d)) => format!("{:.0} s", d.as_secs_f64()),
        (None, None) => String::new(),
    };
    let rate = if config.rate > 0.0 {
        format!("{} req/s", config.rate)
    } else {
        "as fast as possible".to_owned()
    };
    eprintln!(
        "loadgen: {} against {}, {rate}, {limit}, {} workers, batch {}",
        config.scenario.name(),
        config.url,
        config.concurrency,
        config.batch
    );
    let telemetry = match otlp_endpoint.as_deref().filter(|url| !url.is_empty()) {
        None => None,
        Some(endpoint) => match telemetry(endpoint, chat_prices.as_deref()) {
            Ok(telemetry) => Some(telemetry),
            Err(error) => {
                eprintln!("loadgen: {error}");
                return ExitCode::from(2);
            }
        },
    };
    let result = loadgen::run(&config);
    if let Some(telemetry) = telemetry
        && let Err(error) = telemetry.shutdown()
    {
        eprintln!("loadgen: telemetry not flushed: {error}");
    }
    match result {
        Ok(summary) => {
            print!("{summary}");
            ExitCode::SUCCESS
        }
        Err(error @ Error::Usage(_)) => {
            eprintln!("loadgen: {error}");
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("loadgen: {error}");
            ExitCode::from(1)
        }
    }
}

/// mlotel's telemetry for loadgen's own calls (the `chat` scenario's), exported over OTLP
/// to `endpoint`; the other `OTEL_*` variables apply. Calls are priced with the
/// `--chat-prices` table.
fn telemetry(
    endpoint: &str,
    prices: Option<&std::path::Path>,
) -> Result<mlotel::Telemetry, String> {
    let prices = loadgen::chat::prices(prices).map_err(|error| error.to_string())?;
    let telemetry = mlotel::Telemetry::builder()
        .service_name("loadgen")
        .otlp_endpoint(endpoint)
        .install_logging(false)
        .install()
        .map_err(|error| format!("--otlp-endpoint {endpoint}: {error}"))?;
    mlotel::genai::set_prices(prices);
    eprintln!("loadgen: telemetry to {endpoint}");
    Ok(telemetry)
}
