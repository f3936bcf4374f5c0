//! `cargo run --release -p loadgen -- --scenario drift --rate 50 --duration 60`: sends the
//! scenario's traffic to the demo predictor, then prints a summary. `--help` lists the flags.

use std::process::ExitCode;

use clap::Parser as _;
use loadgen::{Error, Flags};

fn main() -> ExitCode {
    // clap prints --help and exits 0, or prints a usage error naming the flag and exits 2.
    let flags = Flags::parse();
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
    match loadgen::run(&config) {
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
