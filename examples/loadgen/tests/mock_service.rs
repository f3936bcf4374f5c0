//! `loadgen::run` against a small in-test HTTP/1.1 server that speaks enough of
//! docs/predictor.md: request counts, rate limiting, the drift ramp on the wire, the error
//! tally, the ignored-delay note, reconnection after the server closes, and the unreachable
//! error.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use loadgen::{Config, Error, Scenario};

/// What the mock saw: every prediction row it accepted, in arrival order, with the index of
/// the request (from a header-free counter: arrival order).
#[derive(Default)]
struct Seen {
    rows: Vec<[f64; 4]>,
    requests: u64,
}

struct Mock {
    address: SocketAddr,
    seen: Arc<Mutex<Seen>>,
}

/// Starts the mock; it closes each connection after `close_after` requests (0: never).
fn mock(close_after: u64) -> Mock {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
    let address = listener.local_addr().expect("an address");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let shared = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let seen = Arc::clone(&shared);
            std::thread::spawn(move || serve(stream, &seen, close_after));
        }
    });
    Mock { address, seen }
}

fn serve(stream: TcpStream, seen: &Mutex<Seen>, close_after: u64) {
    let mut writer = stream.try_clone().expect("clones");
    let mut reader = BufReader::new(stream);
    let mut served = 0;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        let mut content_type = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "content-type" => content_type = value.trim().to_owned(),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        served += 1;
        let (status, answer) = answer(&request_line, &content_type, &body, seen);
        let close = close_after > 0 && served % close_after == 0;
        let response = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-model-version: 2.0.0\r\n{}\r\n{answer}",
            answer.len(),
            if close { "connection: close\r\n" } else { "" }
        );
        if writer.write_all(response.as_bytes()).is_err() || close {
            return;
        }
    }
}

fn error(status: u16, kind: &str) -> (u16, String) {
    (
        status,
        format!(r#"{{"error":{{"type":"{kind}","message":"mock"}}}}"#),
    )
}

fn answer(
    request_line: &str,
    content_type: &str,
    body: &[u8],
    seen: &Mutex<Seen>,
) -> (u16, String) {
    if request_line.starts_with("GET /v1/models/iris ") {
        return (
            200,
            r#"{"name":"iris","versions":[{"version":"2.0.0","features":[
                {"name":"sepal_length","mean":5.8,"std":0.8},{"name":"sepal_width","mean":3.0,"std":0.4},
                {"name":"petal_length","mean":3.8,"std":2.0},{"name":"petal_width","mean":1.2,"std":0.8}]}]}"#
                .to_owned(),
        );
    }
    if !content_type.starts_with("application/json") {
        return error(415, "unsupported_media_type");
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return error(400, "malformed_json");
    };
    if !request_line.starts_with("POST /predict ") {
        return error(404, "not_here");
    }
    let Some(instances) = value["instances"].as_array() else {
        return error(400, "invalid_request");
    };
    let mut rows = Vec::new();
    for instance in instances {
        let values: Vec<f64> = instance
            .as_array()
            .map(|row| row.iter().filter_map(serde_json::Value::as_f64).collect())
            .unwrap_or_default();
        match <[f64; 4]>::try_from(values) {
            Ok(row) => rows.push(row),
            Err(_) => return error(400, "invalid_features"),
        }
    }
    if rows.is_empty() {
        return error(400, "empty_batch");
    }
    if let Ok(mut seen) = seen.lock() {
        seen.requests += 1;
        seen.rows.extend(rows);
    }
    (200, r#"{"predictions":[]}"#.to_owned())
}

fn config(mock: &Mock, scenario: Scenario, requests: u64) -> Config {
    Config {
        url: format!("http://{}", mock.address),
        scenario,
        rate: 0.0,
        duration: None,
        requests: Some(requests),
        concurrency: 4,
        timeout: Duration::from_secs(5),
        ..Config::default()
    }
}

#[test]
fn steady_sends_exactly_the_requests_asked_and_counts_them() {
    let mock = mock(0);
    let summary = loadgen::run(&Config {
        batch: 3,
        ..config(&mock, Scenario::Steady, 200)
    })
    .expect("runs");
    assert_eq!(
        (summary.sent, summary.ok, summary.rows_ok),
        (200, 200, 600),
        "{summary}"
    );
    assert_eq!(summary.by_version.get("2.0.0"), Some(&200));
    assert_eq!(
        summary.transport_errors + summary.unexpected,
        0,
        "{summary}"
    );
    assert_eq!(summary.reference_source, "service");
    assert!(summary.p50_ms > 0.0 && summary.p99_ms >= summary.p50_ms);
    let seen = mock.seen.lock().expect("lock");
    assert_eq!((seen.requests, seen.rows.len()), (200, 600));
}

#[test]
fn the_rate_is_held() {
    let mock = mock(0);
    let summary = loadgen::run(&Config {
        rate: 100.0,
        ..config(&mock, Scenario::Steady, 50)
    })
    .expect("runs");
    assert_eq!(summary.sent, 50);
    // The 50th request is due at 0.49 s.
    let seconds = summary.elapsed.as_secs_f64();
    assert!((0.48..2.0).contains(&seconds), "{seconds}");
    // Unlimited by count, limited by time.
    let summary = loadgen::run(&Config {
        rate: 40.0,
        requests: None,
        duration: Some(Duration::from_millis(500)),
        ..config(&mock, Scenario::Steady, 1)
    })
    .expect("runs");
    assert_eq!(summary.sent, 20, "{summary}");
}

#[test]
fn drift_moves_the_chosen_features_on_the_wire() {
    let mock = mock(0);
    let summary = loadgen::run(&Config {
        concurrency: 1,
        batch: 10,
        shift: 2.0,
        ..config(&mock, Scenario::Drift, 200)
    })
    .expect("runs");
    assert_eq!(summary.ok, 200, "{summary}");
    let seen = mock.seen.lock().expect("lock");
    let mean =
        |rows: &[[f64; 4]], f: usize| rows.iter().map(|r| r[f]).sum::<f64>() / rows.len() as f64;
    let (first, last) = (&seen.rows[..200], &seen.rows[1000..]);
    // Full shift: 2 std of the service's reference (2.0 and 0.8 in the mock) on the petals,
    // reached at request 100; the first 20 requests carry 0.095 of it on average.
    let moved = |f: usize| mean(last, f) - mean(first, f);
    assert!((moved(2) - 0.905 * 4.0).abs() < 0.4, "{}", moved(2));
    assert!((moved(3) - 0.905 * 1.6).abs() < 0.2, "{}", moved(3));
    assert!(
        moved(0).abs() < 0.3 && moved(1).abs() < 0.15,
        "{} {}",
        moved(0),
        moved(1)
    );
}

#[test]
fn errors_are_tallied_by_type_and_the_share_is_exact() {
    let mock = mock(0);
    let summary = loadgen::run(&Config {
        error_share: 0.25,
        ..config(&mock, Scenario::Errors, 200)
    })
    .expect("runs");
    assert_eq!(summary.sent, 200);
    // 50 bad requests, 5 of each case. The mock is not the contract: it has no version
    // header or batch limit (those 10 come back 200), a 400 where a 422 goes, ...
    assert_eq!(summary.ok + summary.client_error_total(), 200, "{summary}");
    assert_eq!(summary.client_error_total(), 40, "{summary}");
    for kind in [
        "malformed_json",
        "invalid_features",
        "empty_batch",
        "unsupported_media_type",
    ] {
        assert!(
            summary.client_errors.contains_key(kind),
            "{kind}: {summary}"
        );
    }
    assert!(summary.unexpected >= 10, "{summary}");
    assert!(!summary.unexpected_examples.is_empty());
}

#[test]
fn spike_notes_that_the_delay_was_ignored() {
    let mock = mock(0);
    let summary = loadgen::run(&Config {
        delay_share: 0.5,
        delay_ms: 200,
        ..config(&mock, Scenario::Spike, 40)
    })
    .expect("runs");
    assert_eq!(
        (summary.delayed, summary.delayed_fast),
        (20, 20),
        "{summary}"
    );
    assert!(
        summary
            .notes
            .iter()
            .any(|note| note.contains("--allow-debug-headers")),
        "{summary}"
    );
}

#[test]
fn faults_are_asked_for_at_the_share_and_noted_when_ignored() {
    let mock = mock(0);
    let summary = loadgen::run(&Config {
        fault_share: 0.25,
        ..config(&mock, Scenario::Faults, 40)
    })
    .expect("runs");
    assert_eq!(
        (
            summary.faulted,
            summary.faulted_failed,
            summary.server_errors
        ),
        (10, 0, 0),
        "{summary}"
    );
    assert!(
        summary
            .notes
            .iter()
            .any(|note| note.contains("--allow-debug-headers")),
        "{summary}"
    );
}

#[test]
fn connections_closed_by_the_server_are_reopened() {
    let mock = mock(3);
    let summary = loadgen::run(&config(&mock, Scenario::Ab, 100)).expect("runs");
    assert_eq!(
        (summary.sent, summary.transport_errors),
        (100, 0),
        "{summary}"
    );
}

#[test]
fn an_unreachable_service_is_an_error() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
        listener.local_addr().expect("an address").port()
    };
    let result = loadgen::run(&Config {
        url: format!("http://127.0.0.1:{port}"),
        requests: Some(1),
        duration: None,
        ..Config::default()
    });
    match result {
        Err(error @ Error::Unreachable { .. }) => {
            assert!(error.to_string().contains("unreachable"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        loadgen::run(&Config {
            batch: 0,
            ..Config::default()
        }),
        Err(Error::Usage(_))
    ));
}
