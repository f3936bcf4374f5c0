//! A raw HTTP/1.1 client for tests of HTTP servers: one request per connection, exact bytes
//! on the wire (so tests can send malformed or oversized bodies), the response read whole.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response as it came over the wire.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body (lossily decoded as UTF-8).
    pub body: String,
}

impl RawResponse {
    /// The first header with this name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Sends one request to `addr` (`Connection: close`, `User-Agent: mlotel-test/1.0`) and
/// reads the response to the end, waiting at most `timeout` for each read. Sends
/// `Content-Length` unless `headers` has `Transfer-Encoding` (then `body` goes as is). A
/// server may answer and close before reading the whole body (a 413): that is not an error.
///
/// # Panics
/// When the server cannot be reached or sends no complete response: the test fails.
pub fn raw_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> RawResponse {
    let mut stream = TcpStream::connect(addr).expect("connects to the server");
    stream
        .set_read_timeout(Some(timeout))
        .expect("read timeout set");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: mlotel-test/1.0\r\nConnection: close\r\n"
    );
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("transfer-encoding"))
    {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("request sent");
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_response(&raw)
        .unwrap_or_else(|| panic!("no complete response: {:?}", String::from_utf8_lossy(&raw)))
}

/// Parses the bytes a server sent back (status line, headers, body); `None` when they hold
/// no complete response head.
pub fn parse_response(raw: &[u8]) -> Option<RawResponse> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Some(RawResponse {
        status,
        headers,
        body: body.to_owned(),
    })
}
