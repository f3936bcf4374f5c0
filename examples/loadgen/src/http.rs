//! A minimal HTTP/1.1 client over `std::net`: one keep-alive connection per worker, bodies
//! framed by `Content-Length` or chunked encoding. Enough for a JSON service on `http://`;
//! no TLS, no redirects, no proxies. Sending raw bytes is the point: the `errors` scenario
//! needs bodies no JSON library would write.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Where requests go: `http://host[:port][/base]`.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The `Host` header: `host[:port]` as written in the URL.
    host: String,
    addrs: Vec<SocketAddr>,
    /// Path prefix without a trailing slash (usually empty).
    base: String,
}

impl Target {
    /// Parses and resolves `url`. Only `http://` is supported.
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("`{url}`: only http:// URLs are supported"))?;
        let (authority, base) = match rest.find('/') {
            Some(slash) => (&rest[..slash], rest[slash..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(format!("`{url}`: no host"));
        }
        let with_port = if authority
            .rsplit_once(':')
            .is_some_and(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
        {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        let addrs: Vec<SocketAddr> = with_port
            .to_socket_addrs()
            .map_err(|error| format!("`{url}`: cannot resolve `{authority}`: {error}"))?
            .collect();
        if addrs.is_empty() {
            return Err(format!("`{url}`: `{authority}` resolves to no address"));
        }
        Ok(Self {
            host: authority.to_owned(),
            addrs,
            base: base.to_owned(),
        })
    }
}

/// One response, body read in full.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// A keep-alive connection that reconnects when the server closed it.
pub(crate) struct Client {
    target: Target,
    timeout: Duration,
    stream: Option<BufReader<TcpStream>>,
}

impl Client {
    pub(crate) fn new(target: Target, timeout: Duration) -> Self {
        Self {
            target,
            timeout,
            stream: None,
        }
    }

    fn connect(&self) -> io::Result<BufReader<TcpStream>> {
        let mut last = None;
        for addr in &self.target.addrs {
            match TcpStream::connect_timeout(addr, self.timeout) {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    stream.set_read_timeout(Some(self.timeout))?;
                    stream.set_write_timeout(Some(self.timeout))?;
                    return Ok(BufReader::new(stream));
                }
                Err(error) => last = Some(error),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no address")))
    }

    /// Sends one request and reads its response. A reused connection that turns out to be
    /// closed (the write fails, or EOF before the status line) is replaced once, so an idle
    /// keep-alive timeout on the server is not counted as a transport error.
    pub(crate) fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Response> {
        let bytes = self.encode(method, path, headers, body);
        let (mut stream, mut response) = self.send_with_retry(&bytes)?;
        read_body(&mut response, &mut stream)?;
        self.keep(stream, &response);
        Ok(response)
    }

    /// Sends one request; a 2xx `text/event-stream` answer is returned as it arrives, event
    /// by event ([`Answer::Events`]), any other answer read in full ([`Answer::Whole`]).
    pub(crate) fn request_events(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Answer<'_>> {
        let bytes = self.encode(method, path, headers, body);
        let (mut stream, mut response) = self.send_with_retry(&bytes)?;
        let events = (200..300).contains(&response.status)
            && response
                .header("content-type")
                .is_some_and(|value| value.starts_with("text/event-stream"));
        if !events {
            read_body(&mut response, &mut stream)?;
            self.keep(stream, &response);
            return Ok(Answer::Whole(response));
        }
        let framing = framing(&response)?;
        Ok(Answer::Events(EventStream {
            client: self,
            stream: Some(stream),
            head: response,
            framing,
            pending: Vec::new(),
            ended: false,
        }))
    }

    fn encode(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
        let mut head = format!(
            "{method} {}{path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.target.base,
            self.target.host,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(name);
            head.push_str(": ");
            head.push_str(value);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        bytes
    }

    fn send_with_retry(&mut self, bytes: &[u8]) -> io::Result<(BufReader<TcpStream>, Response)> {
        let reused = self.stream.is_some();
        match self.send(bytes) {
            Err(Failure::BeforeResponse(_)) if reused => {
                self.stream = None;
                self.send(bytes).map_err(Failure::into_io)
            }
            other => other.map_err(Failure::into_io),
        }
    }

    /// Writes the request and reads the status line and headers.
    fn send(&mut self, request: &[u8]) -> Result<(BufReader<TcpStream>, Response), Failure> {
        let mut stream = match self.stream.take() {
            Some(stream) => stream,
            None => self.connect().map_err(Failure::Connect)?,
        };
        stream
            .get_mut()
            .write_all(request)
            .map_err(Failure::BeforeResponse)?;
        let mut status_line = String::new();
        match stream.read_line(&mut status_line) {
            Ok(0) => {
                return Err(Failure::BeforeResponse(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed before the response",
                )));
            }
            Ok(_) => {}
            Err(error) => return Err(Failure::BeforeResponse(error)),
        }
        let response = read_head(&status_line, &mut stream).map_err(Failure::During)?;
        Ok((stream, response))
    }

    /// Keeps the connection for the next request unless the server closes it.
    fn keep(&mut self, stream: BufReader<TcpStream>, response: &Response) {
        let close = response
            .header("connection")
            .is_some_and(|value| value.eq_ignore_ascii_case("close"));
        if !close {
            self.stream = Some(stream);
        }
    }
}

/// An answer to [`Client::request_events`].
pub(crate) enum Answer<'c> {
    /// A 2xx `text/event-stream`: its events, read as they arrive.
    Events(EventStream<'c>),
    /// Anything else, read in full.
    Whole(Response),
}

/// How a body's end is known.
#[derive(Debug, Clone, Copy)]
enum Framing {
    Chunked,
    Length(usize),
    UntilClose,
}

fn framing(response: &Response) -> io::Result<Framing> {
    if response
        .header("transfer-encoding")
        .is_some_and(|value| value.to_ascii_lowercase().contains("chunked"))
    {
        return Ok(Framing::Chunked);
    }
    match response.header("content-length") {
        Some(length) => length
            .parse()
            .map(Framing::Length)
            .map_err(|_| invalid(format!("bad Content-Length {length:?}"))),
        None => Ok(Framing::UntilClose),
    }
}

/// The server-sent events of one response, read from the connection as they arrive (a
/// read blocks until the next event is in). The connection goes back to the client when
/// the body ends; dropped before, it is closed.
pub(crate) struct EventStream<'c> {
    client: &'c mut Client,
    stream: Option<BufReader<TcpStream>>,
    head: Response,
    framing: Framing,
    /// Body bytes received and not yet returned as events, `\r` removed.
    pending: Vec<u8>,
    ended: bool,
}

impl EventStream<'_> {
    /// The next event's data (its `data:` lines joined by `\n`), `None` at the end of the
    /// body. Events without data (comments, keep-alives) are skipped.
    pub(crate) fn next_data(&mut self) -> io::Result<Option<String>> {
        loop {
            if let Some(end) = self.pending.windows(2).position(|pair| pair == b"\n\n") {
                let event: Vec<u8> = self.pending.drain(..end + 2).collect();
                let event = String::from_utf8_lossy(&event);
                let data: Vec<&str> = event
                    .lines()
                    .filter_map(|line| line.strip_prefix("data:"))
                    .map(|data| data.strip_prefix(' ').unwrap_or(data))
                    .collect();
                if !data.is_empty() {
                    return Ok(Some(data.join("\n")));
                }
                continue;
            }
            if self.ended {
                return Ok(None);
            }
            self.read_more()?;
        }
    }

    fn read_more(&mut self) -> io::Result<()> {
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| invalid("the event stream failed before"))?;
        let mut bytes = Vec::new();
        match &mut self.framing {
            Framing::Chunked => {
                let mut size_line = String::new();
                if stream.read_line(&mut size_line)? == 0 {
                    return Err(invalid("connection closed in a chunked body"));
                }
                let size = chunk_size(&size_line)?;
                if size == 0 {
                    skip_trailers(stream)?;
                    self.ended = true;
                } else {
                    bytes.resize(size, 0);
                    stream.read_exact(&mut bytes)?;
                    let mut crlf = [0; 2];
                    stream.read_exact(&mut crlf)?;
                }
            }
            Framing::Length(left) => {
                if *left > 0 {
                    let available = stream.fill_buf()?;
                    if available.is_empty() {
                        return Err(invalid("connection closed in the body"));
                    }
                    let take = available.len().min(*left);
                    bytes.extend_from_slice(&available[..take]);
                    stream.consume(take);
                    *left -= take;
                }
                self.ended = *left == 0;
            }
            Framing::UntilClose => {
                let available = stream.fill_buf()?;
                bytes.extend_from_slice(available);
                let taken = bytes.len();
                stream.consume(taken);
                if taken == 0 {
                    self.ended = true;
                    self.stream = None;
                }
            }
        }
        self.pending
            .extend(bytes.into_iter().filter(|byte| *byte != b'\r'));
        if self.ended
            && let Some(stream) = self.stream.take()
            && !matches!(self.framing, Framing::UntilClose)
        {
            self.client.keep(stream, &self.head);
        }
        Ok(())
    }
}

enum Failure {
    Connect(io::Error),
    BeforeResponse(io::Error),
    During(io::Error),
}

impl Failure {
    fn into_io(self) -> io::Error {
        match self {
            Failure::Connect(error) | Failure::BeforeResponse(error) | Failure::During(error) => {
                error
            }
        }
    }
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// The status line's code and the headers; the body is left on the stream.
fn read_head(status_line: &str, stream: &mut impl BufRead) -> io::Result<Response> {
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .filter(|_| status_line.starts_with("HTTP/1."))
        .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line)? == 0 {
            return Err(invalid("connection closed in the headers"));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    Ok(Response {
        status,
        headers,
        body: Vec::new(),
    })
}

/// Reads the body of `response`, whose head was just read from `stream`.
fn read_body(response: &mut Response, stream: &mut impl BufRead) -> io::Result<()> {
    let status = response.status;
    match framing(response)? {
        Framing::Chunked => response.body = read_chunked(stream)?,
        Framing::Length(length) => {
            let mut body = vec![0; length];
            stream.read_exact(&mut body)?;
            response.body = body;
        }
        Framing::UntilClose
            if !(status == 204 || status == 304 || (100..200).contains(&status)) =>
        {
            // No framing: the body runs to the end of the connection.
            stream.read_to_end(&mut response.body)?;
            response.headers.push(("connection".into(), "close".into()));
        }
        Framing::UntilClose => {}
    }
    Ok(())
}

#[cfg(test)]
fn read_response(status_line: &str, stream: &mut impl BufRead) -> io::Result<Response> {
    let mut response = read_head(status_line, stream)?;
    read_body(&mut response, stream)?;
    Ok(response)
}

fn chunk_size(size_line: &str) -> io::Result<usize> {
    size_line
        .trim()
        .split(';')
        .next()
        .and_then(|hex| usize::from_str_radix(hex.trim(), 16).ok())
        .ok_or_else(|| invalid(format!("bad chunk size {size_line:?}")))
}

/// The trailers after the last chunk, then the empty line.
fn skip_trailers(stream: &mut impl BufRead) -> io::Result<()> {
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line)? == 0 || line.trim().is_empty() {
            return Ok(());
        }
    }
}

fn read_chunked(stream: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        if stream.read_line(&mut size_line)? == 0 {
            return Err(invalid("connection closed in a chunked body"));
        }
        let size = chunk_size(&size_line)?;
        if size == 0 {
            skip_trailers(stream)?;
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        stream.read_exact(&mut body[start..])?;
        let mut crlf = [0; 2];
        stream.read_exact(&mut crlf)?;
    }
}

#[cfg(test)]
mod tests {
    use super::{Target, read_response};
    use std::io::{BufRead as _, Cursor};

    fn parse(raw: &str) -> super::Response {
        let mut cursor = Cursor::new(raw.as_bytes().to_vec());
        let mut status = String::new();
        cursor.read_line(&mut status).expect("a status line");
        read_response(&status, &mut cursor).expect("a response")
    }

    #[test]
    fn reads_length_and_chunked_bodies() {
        let response =
            parse("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nX-Model-Version: 2.0.0\r\n\r\n{}");
        assert_eq!(response.status, 200);
        assert_eq!(response.body, b"{}");
        assert_eq!(response.header("x-model-version"), Some("2.0.0"));
        let response = parse(
            "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        );
        assert_eq!(response.status, 404);
        assert_eq!(response.body, b"abcde");
    }

    #[test]
    fn parses_urls() {
        let target = Target::parse("http://127.0.0.1:8080/").expect("parses");
        assert_eq!(
            (target.host.as_str(), target.base.as_str()),
            ("127.0.0.1:8080", "")
        );
        assert_eq!(target.addrs[0].port(), 8080);
        let target = Target::parse("http://127.0.0.1/api/").expect("parses");
        assert_eq!((target.addrs[0].port(), target.base.as_str()), (80, "/api"));
        assert!(Target::parse("https://example.com").is_err());
        assert!(Target::parse("http:///x").is_err());
    }
}
