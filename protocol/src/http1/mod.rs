//! HTTP/1.1 as a phone's client speaks it (RFC 9112), sans-IO: [`write_request`] renders one
//! request into a buffer, and [`ResponseDecoder`] turns the bytes a server sends back into one
//! [`Response`] (head by `httparse`, body by `Content-Length`, chunked, or until close).
//!
//! Pure: no sockets, no clocks; the caller reads and writes (`emroam::httpc`). Limits: a head
//! of at most [`Limits::max_head`] bytes and [`MAX_HEADERS`] headers, a body of at most
//! [`Limits::max_body`] bytes (checked against `Content-Length` before any of it is read).
//! Only responses to GET and POST are decoded (no `HEAD`, no upgrades).

use std::io::Write as _;

/// Most header lines accepted in a response head (hyper's default too).
pub const MAX_HEADERS: usize = 100;
/// Longest chunk-size line accepted (size plus extensions), and longest trailer section.
pub const MAX_CHUNK_LINE: usize = 4096;

/// Why the bytes are not a response we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Http1Error {
    /// The status line or a header line is malformed (httparse's reason).
    #[error("malformed response head: {0}")]
    Head(String),
    /// More than [`MAX_HEADERS`] header lines.
    #[error("more than {MAX_HEADERS} response headers")]
    TooManyHeaders,
    /// The head did not end within [`Limits::max_head`] bytes.
    #[error("response head larger than {0} bytes")]
    HeadTooLarge(usize),
    /// `Content-Length` is not a number, or two of them disagree.
    #[error("bad Content-Length")]
    ContentLength,
    /// A `101 Switching Protocols`, which a phone never asks for.
    #[error("unexpected protocol switch")]
    Upgrade,
    /// A chunk-size line or a chunk's end is malformed, or a chunk line or the trailers are
    /// longer than [`MAX_CHUNK_LINE`].
    #[error("bad chunked body")]
    Chunk,
    /// The body is (or says it will be) larger than [`Limits::max_body`].
    #[error("body larger than {0} bytes")]
    BodyTooLarge(usize),
    /// Requests only: a method, path, header name or value that cannot go on the wire as it
    /// is (control characters, spaces in the path, a name that is not a token).
    #[error("cannot send {0}")]
    Request(&'static str),
}

/// What a decoder accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest response head (status line and headers), in bytes.
    pub max_head: usize,
    /// Largest body, in bytes.
    pub max_body: usize,
}

/// One response, read in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers in the order received, names lower-cased, values as text (invalid UTF-8
    /// replaced).
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// Whether the connection may carry another request: HTTP/1.1 without
    /// `Connection: close`, or HTTP/1.0 with `Connection: keep-alive`, and a body whose end
    /// was not the connection's.
    pub keep_alive: bool,
}

/// Renders a request: request line, `Host`, `headers` as given, `Content-Length` when there
/// is a body or the method is POST, the blank line, the body. `buf` is cleared first.
///
/// # Errors
/// [`Http1Error::Request`] when a part cannot go on the wire unchanged (it is never escaped).
pub fn write_request(
    buf: &mut Vec<u8>,
    method: &str,
    authority: &str,
    path: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> Result<(), Http1Error> {
    buf.clear();
    if method.is_empty() || !method.bytes().all(is_token) {
        return Err(Http1Error::Request("the method"));
    }
    if path.is_empty() || !path.bytes().all(|b| b.is_ascii_graphic() || b >= 0x80) {
        return Err(Http1Error::Request("the path"));
    }
    if !is_value(authority) {
        return Err(Http1Error::Request("the host"));
    }
    buf.extend_from_slice(method.as_bytes());
    buf.push(b' ');
    buf.extend_from_slice(path.as_bytes());
    buf.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    buf.extend_from_slice(authority.as_bytes());
    buf.extend_from_slice(b"\r\n");
    for (n, v) in headers {
        if n.is_empty() || !n.bytes().all(is_token) {
            return Err(Http1Error::Request("a header name"));
        }
        if !is_value(v) {
            return Err(Http1Error::Request("a header value"));
        }
        buf.extend_from_slice(n.as_bytes());
        buf.extend_from_slice(b": ");
        buf.extend_from_slice(v.as_bytes());
        buf.extend_from_slice(b"\r\n");
    }
    if body.is_some() || method == "POST" {
        let len = body.map_or(0, <[u8]>::len);
        let _ = write!(buf, "Content-Length: {len}\r\n");
    }
    buf.extend_from_slice(b"\r\n");
    if let Some(b) = body {
        buf.extend_from_slice(b);
    }
    Ok(())
}

/// RFC 9110 `tchar`.
fn is_token(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// [`is_token`] as a table: one load a byte (header names are checked on every request).
const TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    t
};

/// A field value: no control characters but tab (so no CR/LF smuggling).
fn is_value(v: &str) -> bool {
    v.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// The end of the first blank line (`\n\n` or `\n\r\n`) that ends after `from`, if any
/// (one that ends at `from` exactly was seen already; one that starts just before it was not).
fn blank_line(input: &[u8], from: usize) -> Option<usize> {
    let mut i = from.saturating_sub(2);
    while let Some(p) = input.get(i..)?.iter().position(|&b| b == b'\n') {
        let nl = i + p;
        let end = match (input.get(nl + 1), input.get(nl + 2)) {
            (Some(b'\n'), _) => Some(nl + 2),
            (Some(b'\r'), Some(b'\n')) => Some(nl + 3),
            _ => None,
        };
        match end {
            Some(end) if end > from => return Some(end),
            _ => i = nl + 1,
        }
    }
    None
}

/// How the body of a response ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// This many bytes still to come.
    Length(u64),
    /// Chunked, at this point of a chunk.
    Chunked(Chunk),
    /// Everything until the server closes.
    UntilClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// This many data bytes still to come in the current chunk.
    Data(u64),
    /// Expecting the CRLF that ends a chunk's data.
    DataEnd,
    /// After the last (zero-size) chunk: trailer lines up to a blank line.
    Trailers,
}

#[derive(Debug)]
enum State {
    Head,
    Body(Body),
    Done,
}

/// Decodes one response from the bytes a server sends, however they are split.
///
/// Feed it what has been read with [`ResponseDecoder::feed`]; it says how many bytes it used,
/// and the caller keeps the rest and feeds it again with more appended (a head is parsed only
/// once it is all there). When the server closes, call [`ResponseDecoder::eof`]. Interim
/// `1xx` responses are skipped.
#[derive(Debug)]
pub struct ResponseDecoder {
    limits: Limits,
    state: State,
    /// How far into the (unused) input no end of head was found: the head is parsed once its
    /// blank line is there, so a head that trickles in byte by byte costs linear time.
    scanned: usize,
    /// The head, once parsed (the body is added to it).
    resp: Option<Response>,
}

impl ResponseDecoder {
    /// A decoder for one response.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            state: State::Head,
            scanned: 0,
            resp: None,
        }
    }

    /// Whether the response is complete.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Whether the head has been read (so the server has answered, whatever comes next).
    pub fn has_head(&self) -> bool {
        self.resp.is_some()
    }

    /// Uses what it can of `input` and returns how many bytes it used; bytes after a complete
    /// response are left alone.
    ///
    /// # Errors
    /// [`Http1Error`] when the response is malformed or over a limit; the decoder must not be
    /// fed again after that.
    pub fn feed(&mut self, input: &[u8]) -> Result<usize, Http1Error> {
        let mut used = 0;
        loop {
            let rest = &input[used..];
            // Each step uses at least one byte, or says it needs more (None).
            let step = match self.state {
                State::Done => None,
                State::Head => self.head(rest)?,
                State::Body(_) if rest.is_empty() => None,
                State::Body(Body::Length(left)) => {
                    let n = usize::try_from(left).map_or(rest.len(), |l| l.min(rest.len()));
                    self.body_mut().extend_from_slice(&rest[..n]);
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::Done
                    } else {
                        State::Body(Body::Length(left))
                    };
                    Some(n)
                }
                State::Body(Body::UntilClose) => {
                    self.push_body(rest)?;
                    Some(rest.len())
                }
                State::Body(Body::Chunked(c)) => self.chunk(c, rest)?,
            };
            match step {
                Some(n) => used += n,
                None => return Ok(used),
            }
        }
    }

    /// The server closed the connection: completes a body that runs until close.
    ///
    /// # Errors
    /// [`Http1Error::Head`] if the head was not complete (or never came), [`Http1Error::Chunk`]
    /// inside a chunked body, [`Http1Error::ContentLength`] before `Content-Length` bytes came.
    pub fn eof(&mut self) -> Result<(), Http1Error> {
        match self.state {
            State::Done => Ok(()),
            State::Body(Body::UntilClose) => {
                self.state = State::Done;
                Ok(())
            }
            State::Head => Err(Http1Error::Head("connection closed before the head".into())),
            State::Body(Body::Chunked(_)) => Err(Http1Error::Chunk),
            State::Body(Body::Length(_)) => Err(Http1Error::ContentLength),
        }
    }

    /// The response, once [`ResponseDecoder::is_done`].
    pub fn into_response(self) -> Option<Response> {
        match self.state {
            State::Done => self.resp,
            _ => None,
        }
    }

    fn body_mut(&mut self) -> &mut Vec<u8> {
        &mut self.resp.as_mut().expect("body after head").body
    }

    fn push_body(&mut self, data: &[u8]) -> Result<(), Http1Error> {
        let max = self.limits.max_body;
        let body = self.body_mut();
        if body.len() + data.len() > max {
            return Err(Http1Error::BodyTooLarge(max));
        }
        body.extend_from_slice(data);
        Ok(())
    }

    /// Parses a head at the start of `input`: `Some(bytes used)`, or `None` until it is all
    /// there.
    fn head(&mut self, input: &[u8]) -> Result<Option<usize>, Http1Error> {
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut slots);
        let len = loop {
            let Some(end) = blank_line(input, self.scanned) else {
                self.scanned = input.len();
                if input.len() > self.limits.max_head {
                    return Err(Http1Error::HeadTooLarge(self.limits.max_head));
                }
                return Ok(None);
            };
            match parsed.parse(input) {
                Ok(httparse::Status::Complete(len)) => break len,
                // A blank line that does not end the head (leading empty lines): look on.
                Ok(httparse::Status::Partial) => self.scanned = end,
                Err(httparse::Error::TooManyHeaders) => return Err(Http1Error::TooManyHeaders),
                Err(e) => return Err(Http1Error::Head(e.to_string())),
            }
        };
        self.scanned = 0;
        if len > self.limits.max_head {
            return Err(Http1Error::HeadTooLarge(self.limits.max_head));
        }
        let status = parsed.code.unwrap_or(0);
        match status {
            101 => return Err(Http1Error::Upgrade),
            // An interim response (100 Continue, 103 Early Hints): the real one follows.
            100..=199 => return Ok(Some(len)),
            _ => {}
        }
        let http10 = parsed.version == Some(0);
        let mut content_length: Option<u64> = None;
        let mut chunked = None;
        let mut close = http10;
        let mut headers = Vec::with_capacity(parsed.headers.len());
        for h in parsed.headers.iter() {
            let name = h.name.to_ascii_lowercase();
            let value = String::from_utf8_lossy(h.value).into_owned();
            match name.as_str() {
                "content-length" => {
                    for v in value.split(',') {
                        let v = v.trim();
                        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                            return Err(Http1Error::ContentLength);
                        }
                        let n: u64 = v.parse().map_err(|_| Http1Error::ContentLength)?;
                        if content_length.is_some_and(|c| c != n) {
                            return Err(Http1Error::ContentLength);
                        }
                        content_length = Some(n);
                    }
                }
                "transfer-encoding" => {
                    // Only the last coding says how the body ends.
                    if let Some(last) = value.rsplit(',').map(str::trim).find(|c| !c.is_empty()) {
                        chunked = Some(last.eq_ignore_ascii_case("chunked"));
                    }
                }
                "connection" => {
                    for token in value.split(',').map(str::trim) {
                        if token.eq_ignore_ascii_case("close") {
                            close = true;
                        } else if token.eq_ignore_ascii_case("keep-alive") && http10 {
                            close = false;
                        }
                    }
                }
                _ => {}
            }
            headers.push((name, value));
        }
        // RFC 9112 §6.3: no body for 204 and 304; Transfer-Encoding over Content-Length
        // (and then the connection must not be reused); otherwise until close.
        let body = if status == 204 || status == 304 {
            None
        } else if let Some(chunked) = chunked {
            if content_length.is_some() {
                close = true;
            }
            Some(if chunked {
                Body::Chunked(Chunk::Size)
            } else {
                Body::UntilClose
            })
        } else if let Some(n) = content_length {
            if n > self.limits.max_body as u64 {
                return Err(Http1Error::BodyTooLarge(self.limits.max_body));
            }
            (n > 0).then_some(Body::Length(n))
        } else {
            Some(Body::UntilClose)
        };
        if body == Some(Body::UntilClose) {
            close = true;
        }
        let capacity = match body {
            Some(Body::Length(n)) => n as usize,
            _ => 0,
        };
        self.resp = Some(Response {
            status,
            headers,
            body: Vec::with_capacity(capacity),
            keep_alive: !close,
        });
        self.state = body.map_or(State::Done, State::Body);
        Ok(Some(len))
    }

    /// One step of a chunked body: `Some(bytes used)`, or `None` until more input comes.
    fn chunk(&mut self, c: Chunk, input: &[u8]) -> Result<Option<usize>, Http1Error> {
        match c {
            Chunk::Size => {
                let Some(&first) = input.first() else {
                    return Ok(None);
                };
                if !first.is_ascii_hexdigit() {
                    return Err(Http1Error::Chunk);
                }
                match httparse::parse_chunk_size(input) {
                    // As long as it would be refused if it came in pieces.
                    Ok(httparse::Status::Complete((used, _))) if used > MAX_CHUNK_LINE => {
                        Err(Http1Error::Chunk)
                    }
                    Ok(httparse::Status::Complete((used, 0))) => {
                        self.state = State::Body(Body::Chunked(Chunk::Trailers));
                        Ok(Some(used))
                    }
                    Ok(httparse::Status::Complete((used, size))) => {
                        let room = self.limits.max_body - self.body_mut().len();
                        if size > room as u64 {
                            return Err(Http1Error::BodyTooLarge(self.limits.max_body));
                        }
                        self.state = State::Body(Body::Chunked(Chunk::Data(size)));
                        Ok(Some(used))
                    }
                    Ok(httparse::Status::Partial) if input.len() > MAX_CHUNK_LINE => {
                        Err(Http1Error::Chunk)
                    }
                    Ok(httparse::Status::Partial) => Ok(None),
                    Err(_) => Err(Http1Error::Chunk),
                }
            }
            Chunk::Data(left) => {
                if input.is_empty() {
                    return Ok(None);
                }
                // `left` is bounded by max_body (checked at the size line).
                let n = (left as usize).min(input.len());
                self.body_mut().extend_from_slice(&input[..n]);
                let left = left - n as u64;
                self.state = State::Body(Body::Chunked(if left == 0 {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(left)
                }));
                Ok(Some(n))
            }
            Chunk::DataEnd => match input {
                [b'\r', b'\n', ..] => {
                    self.state = State::Body(Body::Chunked(Chunk::Size));
                    Ok(Some(2))
                }
                [] | [b'\r'] => Ok(None),
                _ => Err(Http1Error::Chunk),
            },
            Chunk::Trailers => {
                let mut slots = [httparse::EMPTY_HEADER; 16];
                match httparse::parse_headers(input, &mut slots) {
                    Ok(httparse::Status::Complete((used, _))) if used <= MAX_CHUNK_LINE => {
                        self.state = State::Done;
                        Ok(Some(used))
                    }
                    Ok(httparse::Status::Partial) if input.len() <= MAX_CHUNK_LINE => Ok(None),
                    _ => Err(Http1Error::Chunk),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
