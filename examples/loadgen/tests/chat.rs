//! The `chat` scenario against a small in-test OpenAI-compatible server: streamed and whole
//! answers, usage and finish reasons read, time to first token measured from the wire,
//! keep-alive kept across streamed answers, errors tallied, and the GenAI client metrics
//! (with cost) recorded when telemetry is installed.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use loadgen::{Config, Scenario};

/// The delay before the first token of a streamed answer.
const FIRST_TOKEN: Duration = Duration::from_millis(40);
/// Output tokens per answer (fewer when `max_tokens` is smaller).
const TOKENS: u64 = 12;
const INPUT_TOKENS: u64 = 9;

#[derive(Default)]
struct Seen {
    streamed: u64,
    include_usage: u64,
    whole: u64,
    connections: u64,
}

struct Mock {
    address: SocketAddr,
    seen: Arc<Mutex<Seen>>,
}

fn mock() -> Mock {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
    let address = listener.local_addr().expect("an address");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let shared = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let seen = Arc::clone(&shared);
            seen.lock().expect("lock").connections += 1;
            std::thread::spawn(move || serve(stream, &seen));
        }
    });
    Mock { address, seen }
}

fn serve(stream: TcpStream, seen: &Mutex<Seen>) {
    let mut writer = stream.try_clone().expect("clones");
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if answer(&mut writer, &request_line, &body, seen).is_err() {
            return;
        }
    }
}

fn whole(writer: &mut TcpStream, status: u16, body: &str) -> std::io::Result<()> {
    write!(
        writer,
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn chunk(writer: &mut TcpStream, event: &str) -> std::io::Result<()> {
    let data = format!("data: {event}\n\n");
    write!(writer, "{:x}\r\n{data}\r\n", data.len())?;
    writer.flush()
}

fn answer(
    writer: &mut TcpStream,
    request_line: &str,
    body: &[u8],
    seen: &Mutex<Seen>,
) -> std::io::Result<()> {
    if request_line.starts_with("GET /v1/models/iris ") {
        return whole(writer, 200, "{}");
    }
    if !request_line.starts_with("POST /v1/chat/completions ") {
        return whole(writer, 404, r#"{"error":{"type":"not_found"}}"#);
    }
    let Ok(request) = serde_json::from_slice::<serde_json::Value>(body) else {
        return whole(writer, 400, r#"{"error":{"code":"invalid_json"}}"#);
    };
    let model = request["model"].as_str().unwrap_or_default().to_owned();
    if !model.starts_with("mock-") {
        return whole(
            writer,
            404,
            r#"{"error":{"code":"model_not_found","type":"invalid_request_error"}}"#,
        );
    }
    let max_tokens = request["max_tokens"].as_u64().unwrap_or(48);
    let (tokens, finish) = if max_tokens < TOKENS {
        (max_tokens, "length")
    } else {
        (TOKENS, "stop")
    };
    if request["stream"].as_bool() != Some(true) {
        seen.lock().expect("lock").whole += 1;
        let answer = serde_json::json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "w ".repeat(tokens as usize)}, "finish_reason": finish}],
            "usage": {"prompt_tokens": INPUT_TOKENS, "completion_tokens": tokens, "total_tokens": INPUT_TOKENS + tokens},
        });
        return whole(writer, 200, &answer.to_string());
    }
    let include_usage = request["stream_options"]["include_usage"].as_bool() == Some(true);
    {
        let mut seen = seen.lock().expect("lock");
        seen.streamed += 1;
        seen.include_usage += u64::from(include_usage);
    }
    write!(
        writer,
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )?;
    let event = |delta: serde_json::Value, finish: Option<&str>| {
        serde_json::json!({"id": "chatcmpl-2", "object": "chat.completion.chunk", "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        .to_string()
    };
    chunk(
        writer,
        &event(
            serde_json::json!({"role": "assistant", "content": ""}),
            None,
        ),
    )?;
    std::thread::sleep(FIRST_TOKEN);
    for _ in 0..tokens {
        chunk(writer, &event(serde_json::json!({"content": "w "}), None))?;
    }
    chunk(writer, &event(serde_json::json!({}), Some(finish)))?;
    if include_usage {
        let usage = serde_json::json!({"id": "chatcmpl-2", "model": model, "choices": [],
            "usage": {"prompt_tokens": INPUT_TOKENS, "completion_tokens": tokens, "total_tokens": INPUT_TOKENS + tokens}});
        chunk(writer, &usage.to_string())?;
    }
    chunk(writer, "[DONE]")?;
    write!(writer, "0\r\n\r\n")?;
    writer.flush()
}

fn config(mock: &Mock, model: &str, requests: u64, concurrency: usize) -> Config {
    Config {
        url: format!("http://{}", mock.address),
        scenario: Scenario::Chat,
        rate: 0.0,
        duration: None,
        requests: Some(requests),
        concurrency,
        timeout: Duration::from_secs(5),
        chat_model: model.to_owned(),
        ..Config::default()
    }
}

#[test]
fn chat_streams_every_other_request_and_reads_what_comes_back() {
    let mock = mock();
    let summary = loadgen::run(&config(&mock, "mock-model", 40, 4)).expect("runs");
    assert_eq!((summary.sent, summary.ok), (40, 40), "{summary}");
    assert_eq!(summary.unexpected, 0, "{summary}");
    let chat = summary.chat.as_ref().expect("a chat summary");
    assert_eq!((chat.streamed, chat.whole), (20, 20), "{summary}");
    {
        let seen = mock.seen.lock().expect("lock");
        assert_eq!(
            (seen.streamed, seen.include_usage, seen.whole),
            (20, 20, 20)
        );
    }
    assert_eq!(chat.input_tokens, 40 * INPUT_TOKENS, "{summary}");
    let answers: u64 = chat.finish_reasons.values().sum();
    assert_eq!(answers, 40, "{summary}");
    assert!(
        chat.finish_reasons.contains_key("length") && chat.finish_reasons.contains_key("stop"),
        "both finish reasons: {summary}"
    );
    assert!(
        chat.output_tokens > 0 && chat.output_tokens <= 40 * TOKENS,
        "{summary}"
    );
    // The first token is read as it arrives: after the mock's delay, well before the end.
    assert!(
        chat.time_to_first_token_p50_ms >= FIRST_TOKEN.as_secs_f64() * 1000.0,
        "{summary}"
    );
    let printed = summary.to_string();
    assert!(
        printed.contains("answers           20 streamed, 20 whole"),
        "{printed}"
    );
}

#[test]
fn streamed_answers_keep_the_connection() {
    let mock = mock();
    let summary = loadgen::run(&config(&mock, "mock-model", 8, 1)).expect("runs");
    assert_eq!(summary.ok, 8, "{summary}");
    // The probe's connection, then one for the worker, reused after every streamed answer.
    assert_eq!(mock.seen.lock().expect("lock").connections, 2, "{summary}");
}

#[test]
fn refused_calls_are_tallied_by_error_code() {
    let mock = mock();
    let summary = loadgen::run(&config(&mock, "gpt-unknown", 6, 2)).expect("runs");
    assert_eq!((summary.sent, summary.ok), (6, 0), "{summary}");
    assert_eq!(
        summary.client_errors.get("model_not_found"),
        Some(&6),
        "{summary}"
    );
    assert_eq!(summary.unexpected, 6, "{summary}");
}

#[test]
fn client_metrics_and_cost_are_recorded_with_telemetry() {
    let telemetry = mlotel::Telemetry::builder()
        .service_name("loadgen-test")
        .install_logging(false)
        .env_vars([
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "prometheus"),
            ("OTEL_LOGS_EXPORTER", "none"),
        ])
        .install()
        .expect("telemetry installs");
    mlotel::genai::set_prices(
        mlotel::genai::PriceTable::new()
            .with("mock-priced", 1.0, 2.0)
            .expect("valid prices"),
    );
    let mock = mock();
    let summary = loadgen::run(&config(&mock, "mock-priced", 10, 2)).expect("runs");
    assert_eq!(summary.ok, 10, "{summary}");
    let chat = summary.chat.clone().expect("a chat summary");
    let text = telemetry
        .prometheus()
        .expect("a Prometheus reader")
        .render()
        .expect("renders");
    // The series of this test's model only (other tests of this binary use other models).
    let value = |metric: &str, also: &str| -> f64 {
        text.lines()
            .filter(|line| {
                line.starts_with(metric)
                    && line.contains(r#"gen_ai_request_model="mock-priced""#)
                    && line.contains(also)
            })
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    assert_eq!(
        value("gen_ai_client_operation_duration_seconds_count", ""),
        10.0,
        "{text}"
    );
    assert_eq!(
        value(
            "gen_ai_client_operation_time_to_first_chunk_seconds_count",
            ""
        ),
        5.0,
        "{text}"
    );
    assert_eq!(
        value(
            "gen_ai_client_token_usage_sum",
            r#"gen_ai_token_type="output""#
        ),
        chat.output_tokens as f64,
        "{text}"
    );
    let cost = value("ml_gen_ai_cost_usd_total", "");
    let expected = (chat.input_tokens as f64 * 1.0 + chat.output_tokens as f64 * 2.0) / 1e6;
    assert!(
        (cost - expected).abs() < 1e-9,
        "cost {cost} ≠ {expected}: {text}"
    );
    assert!(
        text.contains(r#"gen_ai_provider_name="mlotel""#)
            && text.contains(r#"gen_ai_response_model="mock-priced""#),
        "{text}"
    );
    telemetry.shutdown().expect("shutdown");
}
