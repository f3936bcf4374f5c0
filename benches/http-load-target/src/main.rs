//! The server `scripts/http-load.sh` drives with `wrk`: one trivial handler,
//! `GET /hello/{name}`, served by actix-web in one of three modes.
//!
//! - `bare`: plain actix-web, no middleware.
//! - `mlotel`: `mlotel::Telemetry::builder().service_name("http-load").install()` and
//!   `mlotel_actix::RequestTelemetry`. Metrics go to the Prometheus pull reader (never
//!   scraped during the run); every span is sampled (`parentbased_always_on`, the default)
//!   and handed to a `BatchSpanProcessor` (SDK defaults) in front of an exporter that counts
//!   and drops spans. The OTLP exporters are off (`OTEL_TRACES_EXPORTER=none`,
//!   `OTEL_METRICS_EXPORTER=prometheus`), so nothing goes over the network.
//! - `otel-actix`: `opentelemetry-instrumentation-actix-web`'s `RequestTracing` and
//!   `RequestMetrics`, on an SDK tracer provider (sampler `AlwaysOn`, the same batch
//!   processor and discarding exporter) and an SDK meter provider with a Prometheus reader.
//!
//! Usage: `http-load-target [--mode bare|mlotel|otel-actix] [--workers N] [--port P]`.
//! The first line on stdout is `listening on 127.0.0.1:PORT` (port 0, the default, lets the
//! OS choose). On SIGINT/SIGTERM the server stops and the number of spans the exporter got
//! is printed on stderr as `spans exported: N`.

use std::io::Write as _;
use std::net::TcpListener;
use std::process::ExitCode;

use actix_web::{App, HttpResponse, HttpServer, web};
use mlotel_testkit::DiscardSpans;
use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchSpanProcessor, Sampler, SdkTracerProvider};

/// Which instrumentation wraps the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bare,
    Mlotel,
    OtelActix,
}

impl Mode {
    fn parse(value: &str) -> Result<Self, String> {
        match value {
            "bare" => Ok(Self::Bare),
            "mlotel" => Ok(Self::Mlotel),
            "otel-actix" => Ok(Self::OtelActix),
            other => Err(format!(
                "unknown --mode {other:?}: expected bare, mlotel or otel-actix"
            )),
        }
    }
}

/// Command-line options.
#[derive(Debug)]
struct Options {
    mode: Mode,
    workers: usize,
    port: u16,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut options = Self {
            mode: Mode::Bare,
            workers: 1,
            port: 0,
        };
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--mode" => options.mode = Mode::parse(&value()?)?,
                "--workers" => {
                    options.workers = value()?
                        .parse()
                        .ok()
                        .filter(|workers| *workers > 0)
                        .ok_or("--workers takes a positive integer")?;
                }
                "--port" => {
                    options.port = value()?
                        .parse()
                        .map_err(|_| "--port takes a port number (0: any free port)")?;
                }
                "-h" | "--help" => {
                    return Err(
                        "usage: http-load-target [--mode bare|mlotel|otel-actix] [--workers N] [--port P]"
                            .to_owned(),
                    );
                }
                other => return Err(format!("unknown argument {other:?} (see --help)")),
            }
        }
        Ok(options)
    }
}

/// The one handler: a short text body.
async fn hello(name: web::Path<String>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(format!("hello {name}\n"))
}

/// The telemetry a mode keeps alive while the server runs, shut down (flushed) at the end.
enum Installed {
    None,
    Mlotel(Box<mlotel::Telemetry>),
    OtelActix(SdkTracerProvider, SdkMeterProvider),
}

fn install(mode: Mode, spans: &DiscardSpans) -> Result<Installed, String> {
    match mode {
        Mode::Bare => Ok(Installed::None),
        Mode::Mlotel => mlotel::Telemetry::builder()
            .service_name("http-load")
            .traces_exporter("none")
            .metrics_exporter("prometheus")
            .span_processor(BatchSpanProcessor::builder(spans.clone()).build())
            .install()
            .map(|telemetry| Installed::Mlotel(Box::new(telemetry)))
            .map_err(|error| format!("mlotel telemetry: {error}")),
        Mode::OtelActix => {
            let resource = Resource::builder_empty()
                .with_attribute(KeyValue::new("service.name", "http-load"))
                .build();
            let tracer_provider = SdkTracerProvider::builder()
                .with_resource(resource.clone())
                .with_sampler(Sampler::AlwaysOn)
                .with_span_processor(BatchSpanProcessor::builder(spans.clone()).build())
                .build();
            let reader = opentelemetry_prometheus::exporter()
                .with_registry(prometheus::Registry::new())
                .build()
                .map_err(|error| format!("prometheus exporter: {error}"))?;
            let meter_provider = SdkMeterProvider::builder()
                .with_resource(resource)
                .with_reader(reader)
                .build();
            opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
            opentelemetry::global::set_tracer_provider(tracer_provider.clone());
            opentelemetry::global::set_meter_provider(meter_provider.clone());
            Ok(Installed::OtelActix(tracer_provider, meter_provider))
        }
    }
}

async fn serve(options: &Options, listener: TcpListener) -> std::io::Result<()> {
    let route = "/hello/{name}";
    match options.mode {
        Mode::Bare => {
            HttpServer::new(move || App::new().route(route, web::get().to(hello)))
                .workers(options.workers)
                .listen(listener)?
                .run()
                .await
        }
        Mode::Mlotel => {
            HttpServer::new(move || {
                App::new()
                    .wrap(mlotel_actix::RequestTelemetry::new())
                    .route(route, web::get().to(hello))
            })
            .workers(options.workers)
            .listen(listener)?
            .run()
            .await
        }
        Mode::OtelActix => {
            use opentelemetry_instrumentation_actix_web::{RequestMetrics, RequestTracing};
            HttpServer::new(move || {
                App::new()
                    .wrap(RequestTracing::new())
                    .wrap(RequestMetrics::default())
                    .route(route, web::get().to(hello))
            })
            .workers(options.workers)
            .listen(listener)?
            .run()
            .await
        }
    }
}

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    // Bound before the telemetry is installed, so `listening on` is the first stdout line
    // even though mlotel's log subscriber writes JSON lines to stdout.
    let listener = match TcpListener::bind(("127.0.0.1", options.port)) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("cannot bind 127.0.0.1:{}: {error}", options.port);
            return ExitCode::FAILURE;
        }
    };
    let address = match listener.local_addr() {
        Ok(address) => address,
        Err(error) => {
            eprintln!("no local address: {error}");
            return ExitCode::FAILURE;
        }
    };
    {
        let mut stdout = std::io::stdout().lock();
        // A closed stdout only loses the banner; the server still runs.
        let _ = writeln!(stdout, "listening on {address}");
        let _ = stdout.flush();
    }

    let spans = DiscardSpans::default();
    let installed = match install(options.mode, &spans) {
        Ok(installed) => installed,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let served = actix_web::rt::System::new().block_on(serve(&options, listener));

    match installed {
        Installed::None => {}
        Installed::Mlotel(telemetry) => {
            if let Err(error) = telemetry.shutdown() {
                eprintln!("mlotel shutdown: {error}");
            }
        }
        Installed::OtelActix(tracer_provider, meter_provider) => {
            if let Err(error) = tracer_provider.shutdown() {
                eprintln!("tracer provider shutdown: {error}");
            }
            if let Err(error) = meter_provider.shutdown() {
                eprintln!("meter provider shutdown: {error}");
            }
        }
    }
    eprintln!("spans exported: {}", spans.exported());
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("server: {error}");
            ExitCode::FAILURE
        }
    }
}
