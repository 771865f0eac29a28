//! SIP messages (an RFC 3261 subset over UDP): parse one datagram into a [`Message`], render
//! one back, and build the few messages emroam needs (responses, REGISTER, the Cisco
//! `service-control` NOTIFY). Pure: no sockets, no clocks, no randomness (callers pass tags,
//! branches and Call-IDs in).
//!
//! Why not a crate: `rsip` 0.4 (the only maintained-looking SIP parser on crates.io) has had no
//! release since 2022, an unstated licence on crates.io, and a nom-based full grammar we do not
//! need; a datagram-sized, length-checked, allocation-light parser is a few hundred lines.
//! Limits: at most [`MAX_MESSAGE`] bytes, [`MAX_HEADERS`] headers; header folding (obsolete)
//! is refused; compact header names (`v f t i m l c e k s`) are expanded on parse.

pub mod digest;

use std::fmt::Write as _;

/// Largest datagram accepted (a UDP SIP message should fit a path MTU; RFC 3261 §18.1.1).
pub const MAX_MESSAGE: usize = 65_507;
/// Most header lines accepted in one message.
pub const MAX_HEADERS: usize = 128;

/// Why a datagram is not a SIP message we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SipError {
    /// More than [`MAX_MESSAGE`] bytes.
    #[error("message too large ({0} bytes)")]
    TooLarge(usize),
    /// No blank line ending the headers.
    #[error("no end of headers")]
    Incomplete,
    /// The start line is neither `METHOD uri SIP/2.0` nor `SIP/2.0 code reason`.
    #[error("bad start line")]
    StartLine,
    /// A header line without a colon, with a bad name, or folded.
    #[error("bad header line {0}")]
    Header(usize),
    /// More than [`MAX_HEADERS`] headers.
    #[error("too many headers")]
    TooManyHeaders,
    /// Headers or start line are not UTF-8.
    #[error("not UTF-8")]
    Utf8,
    /// `Content-Length` unparsable or larger than the body present.
    #[error("bad Content-Length")]
    ContentLength,
    /// A header every request and response must carry is missing or unparsable
    /// (`Via`, `From`, `To`, `Call-ID`, `CSeq`).
    #[error("missing or bad {0}")]
    Mandatory(&'static str),
}

/// The first line of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// `METHOD Request-URI SIP/2.0`.
    Request {
        /// Method, upper case as sent (`INVITE`, `REGISTER`, …).
        method: String,
        /// Request-URI as sent.
        uri: String,
    },
    /// `SIP/2.0 code reason`.
    Response {
        /// Status code, 100–699.
        code: u16,
        /// Reason phrase.
        reason: String,
    },
}

/// One SIP message: start line, headers in order (names canonicalised), body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Request or status line.
    pub start: StartLine,
    /// Headers in order; names in their long form (`Via`, `Call-ID`, …).
    pub headers: Vec<(String, String)>,
    /// Body (`Content-Length` bytes; rendering recomputes `Content-Length`).
    pub body: Vec<u8>,
}

fn expand_compact(name: &str) -> &str {
    match name {
        "v" | "V" => "Via",
        "f" | "F" => "From",
        "t" | "T" => "To",
        "i" | "I" => "Call-ID",
        "m" | "M" => "Contact",
        "l" | "L" => "Content-Length",
        "c" | "C" => "Content-Type",
        "e" | "E" => "Content-Encoding",
        "k" | "K" => "Supported",
        "s" | "S" => "Subject",
        "o" | "O" => "Event",
        _ => CANONICAL
            .iter()
            .find(|c| c.eq_ignore_ascii_case(name))
            .copied()
            .unwrap_or(name),
    }
}

/// Header names spelled as RFC 3261 spells them: names are case-insensitive on the wire
/// (`call-id`, `CALL-ID`), and a parsed message carries the canonical spelling, so code that
/// copies headers by name (a response copies Via, From, To, Call-ID, CSeq) never misses one.
const CANONICAL: &[&str] = &[
    "Via",
    "From",
    "To",
    "Call-ID",
    "CSeq",
    "Contact",
    "Content-Length",
    "Content-Type",
    "Content-Encoding",
    "Max-Forwards",
    "Record-Route",
    "Route",
    "Expires",
    "Event",
    "Subscription-State",
    "User-Agent",
    "Supported",
    "Allow",
    "Subject",
];

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

fn find_headers_end(b: &[u8]) -> Option<(usize, usize)> {
    if let Some(i) = memchr::memmem::find(b, b"\r\n\r\n") {
        return Some((i, i + 4));
    }
    // Tolerate bare LF line ends (some test tools send them).
    memchr::memmem::find(b, b"\n\n").map(|i| (i, i + 2))
}

/// Parses one datagram.
///
/// # Errors
/// [`SipError`] for anything malformed; the caller answers 400 (requests) or drops it.
pub fn parse(datagram: &[u8]) -> Result<Message, SipError> {
    if datagram.len() > MAX_MESSAGE {
        return Err(SipError::TooLarge(datagram.len()));
    }
    // RFC 3261 §7.5: ignore leading CRLFs (keep-alives).
    let start = datagram
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .ok_or(SipError::Incomplete)?;
    let datagram = &datagram[start..];
    let (head_end, body_start) = find_headers_end(datagram).ok_or(SipError::Incomplete)?;
    let head = std::str::from_utf8(&datagram[..head_end]).map_err(|_| SipError::Utf8)?;
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let first = lines.next().ok_or(SipError::StartLine)?;
    let start = parse_start(first)?;
    let mut headers = Vec::new();
    for (i, line) in lines.enumerate() {
        if line.starts_with([' ', '\t']) {
            return Err(SipError::Header(i + 1));
        }
        let (name, value) = line.split_once(':').ok_or(SipError::Header(i + 1))?;
        let name = name.trim_end();
        if name.is_empty() || !name.bytes().all(is_token_char) {
            return Err(SipError::Header(i + 1));
        }
        if headers.len() >= MAX_HEADERS {
            return Err(SipError::TooManyHeaders);
        }
        headers.push((expand_compact(name).to_owned(), value.trim().to_owned()));
    }
    let rest = &datagram[body_start..];
    let body = match headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Content-Length"))
    {
        Some((_, v)) => {
            let n: usize = v.parse().map_err(|_| SipError::ContentLength)?;
            if n > rest.len() {
                return Err(SipError::ContentLength);
            }
            rest[..n].to_vec()
        }
        None => rest.to_vec(),
    };
    let msg = Message {
        start,
        headers,
        body,
    };
    for h in ["Via", "From", "To", "Call-ID"] {
        if msg.header(h).is_none_or(str::is_empty) {
            return Err(SipError::Mandatory(h));
        }
    }
    msg.cseq().ok_or(SipError::Mandatory("CSeq"))?;
    Ok(msg)
}

fn parse_start(line: &str) -> Result<StartLine, SipError> {
    if let Some(rest) = line.strip_prefix("SIP/2.0 ") {
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        if code.len() != 3 {
            return Err(SipError::StartLine);
        }
        let code: u16 = code.parse().map_err(|_| SipError::StartLine)?;
        if !(100..=699).contains(&code) {
            return Err(SipError::StartLine);
        }
        return Ok(StartLine::Response {
            code,
            reason: reason.to_owned(),
        });
    }
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some("SIP/2.0"), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SipError::StartLine);
    };
    if method.is_empty() || !method.bytes().all(is_token_char) || uri.is_empty() {
        return Err(SipError::StartLine);
    }
    Ok(StartLine::Request {
        method: method.to_owned(),
        uri: uri.to_owned(),
    })
}

impl Message {
    /// A request with no headers yet.
    pub fn request(method: &str, uri: &str) -> Message {
        Message {
            start: StartLine::Request {
                method: method.to_owned(),
                uri: uri.to_owned(),
            },
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A response to `req`: its Via(s), From, To (with `to_tag` added if it has none),
    /// Call-ID and CSeq copied, as RFC 3261 §8.2.6.2 asks.
    pub fn response_to(req: &Message, code: u16, to_tag: Option<&str>) -> Message {
        let mut headers = Vec::new();
        for (n, v) in &req.headers {
            match n.as_str() {
                "Via" | "From" | "Call-ID" | "CSeq" => headers.push((n.clone(), v.clone())),
                "To" => {
                    let mut v = v.clone();
                    if let Some(t) = to_tag
                        && param(&v, "tag").is_none()
                    {
                        let _ = write!(v, ";tag={t}");
                    }
                    headers.push((n.clone(), v));
                }
                _ => {}
            }
        }
        Message {
            start: StartLine::Response {
                code,
                reason: reason_phrase(code).to_owned(),
            },
            headers,
            body: Vec::new(),
        }
    }

    /// Appends a header.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Message {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Sets the body and its `Content-Type`.
    pub fn with_body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Message {
        self.headers
            .push(("Content-Type".to_owned(), content_type.to_owned()));
        self.body = body.into();
        self
    }

    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header, in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Replaces every value of a header with one (or adds it).
    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        if let Some(i) = self
            .headers
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            self.headers[i].1 = value;
            let mut k = 0;
            self.headers.retain(|(n, _)| {
                !n.eq_ignore_ascii_case(name) || {
                    k += 1;
                    k == 1
                }
            });
        } else {
            self.headers.push((name.to_owned(), value));
        }
    }

    /// Removes every value of a header.
    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The method of a request, or of the request a response answers (from CSeq).
    pub fn method(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => self.cseq().map(|(_, m)| m),
        }
    }

    /// The status code of a response.
    pub fn code(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// `CSeq` as (number, method).
    pub fn cseq(&self) -> Option<(u32, &str)> {
        let v = self.header("CSeq")?;
        let (n, m) = v.split_once(char::is_whitespace)?;
        let m = m.trim();
        if m.is_empty() || !m.bytes().all(is_token_char) {
            return None;
        }
        Some((n.trim().parse().ok()?, m))
    }

    /// `Call-ID`.
    pub fn call_id(&self) -> &str {
        self.header("Call-ID").unwrap_or("")
    }

    /// The `branch` parameter of the top `Via` (the first of a comma-separated list).
    pub fn top_branch(&self) -> Option<&str> {
        param(first_in_list(self.header("Via")?)?, "branch")
    }

    /// The `Expires` header as seconds.
    pub fn expires(&self) -> Option<u32> {
        self.header("Expires")?.parse().ok()
    }

    /// Renders the message, with a correct `Content-Length`.
    pub fn render(&self) -> Vec<u8> {
        let head: usize = self
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 4)
            .sum();
        let mut out = Vec::with_capacity(64 + head + self.body.len());
        match &self.start {
            StartLine::Request { method, uri } => {
                for part in [method.as_bytes(), b" ", uri.as_bytes(), b" SIP/2.0\r\n"] {
                    out.extend_from_slice(part);
                }
            }
            StartLine::Response { code, reason } => {
                let _ = std::io::Write::write_fmt(&mut out, format_args!("SIP/2.0 {code} "));
                out.extend_from_slice(reason.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
        for (n, v) in &self.headers {
            if n.eq_ignore_ascii_case("Content-Length") {
                continue;
            }
            for part in [n.as_bytes(), b": ", v.as_bytes(), b"\r\n"] {
                out.extend_from_slice(part);
            }
        }
        let _ = std::io::Write::write_fmt(
            &mut out,
            format_args!("Content-Length: {}\r\n\r\n", self.body.len()),
        );
        out.extend_from_slice(&self.body);
        out
    }
}

/// A `;name=value` parameter of a header value (case-insensitive name; quotes kept).
/// Parameters inside `<…>` belong to the URI and are not searched.
pub fn param<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = &value[params_start(value)..];
    while let Some(semi) = memchr::memchr(b';', rest.as_bytes()) {
        rest = &rest[semi + 1..];
        let end = param_end(rest);
        let p = &rest[..end];
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        if k.trim().eq_ignore_ascii_case(name) {
            return Some(v.trim());
        }
        rest = &rest[end..];
    }
    None
}

/// Where a header value's own parameters start: after the `<…>` of a name-addr (skipping a
/// quoted display name), else at the start. (Every delimiter is ASCII, so a byte scan never
/// stops inside a multi-byte character.)
fn params_start(value: &str) -> usize {
    let b = value.as_bytes();
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, &c) in b.iter().enumerate() {
        match c {
            _ if escaped => escaped = false,
            b'\\' if in_quotes => escaped = true,
            b'"' => in_quotes = !in_quotes,
            b'<' if !in_quotes => {
                return memchr::memchr(b'>', &b[i..]).map_or(value.len(), |r| i + r + 1);
            }
            b';' if !in_quotes => return i,
            _ => {}
        }
    }
    value.len()
}

/// The length of one parameter: up to the next `;` outside quotes.
fn param_end(s: &str) -> usize {
    let mut in_quotes = false;
    for (i, &c) in s.as_bytes().iter().enumerate() {
        match c {
            b'"' => in_quotes = !in_quotes,
            b';' if !in_quotes => return i,
            _ => {}
        }
    }
    s.len()
}

/// The URI of a name-addr (`"Bob" <sip:1001@h>;tag=x` → `sip:1001@h`) or addr-spec.
pub fn addr_uri(value: &str) -> &str {
    if let Some(l) = value.find('<')
        && let Some(r) = value[l..].find('>')
    {
        return &value[l + 1..l + r];
    }
    value.split(';').next().unwrap_or("").trim()
}

/// The user part of a SIP URI (`sip:1001@10.0.0.1:5060;transport=udp` → `1001`).
pub fn uri_user(uri: &str) -> Option<&str> {
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))?;
    let (user, _) = rest.split_once('@')?;
    let user = user.split(';').next().unwrap_or(user);
    (!user.is_empty()).then_some(user)
}

/// The host and port of a SIP URI (`sip:1001@10.0.0.1:5070;transport=udp` → (`10.0.0.1`, 5070)).
pub fn uri_host_port(uri: &str) -> Option<(&str, u16)> {
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))?;
    let hostport = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let hostport = hostport.split([';', '?']).next().unwrap_or("");
    if let Some(r) = hostport.strip_prefix('[') {
        let (h, p) = r.split_once(']')?;
        let port = match p.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => 5060,
        };
        return Some((h, port));
    }
    match hostport.rsplit_once(':') {
        Some((h, p)) => Some((h, p.parse().ok()?)),
        None => (!hostport.is_empty()).then_some((hostport, 5060)),
    }
}

/// Splits a comma-separated header value (`Record-Route`, `Route`, `Via`) at commas outside
/// `<…>` and quotes.
pub fn split_list(value: &str) -> Vec<&str> {
    list_items(value).collect()
}

/// The first item of a comma-separated header value ([`split_list`]'s first), without
/// collecting the others.
pub fn first_in_list(value: &str) -> Option<&str> {
    list_items(value).next()
}

/// The non-empty items of a comma-separated header value, trimmed, in order.
fn list_items(value: &str) -> impl Iterator<Item = &str> {
    let mut from = 0;
    std::iter::from_fn(move || {
        while from <= value.len() {
            let rest = &value[from..];
            let (mut angle, mut quote) = (false, false);
            let mut end = rest.len();
            for (i, &c) in rest.as_bytes().iter().enumerate() {
                match c {
                    b'"' if !angle => quote = !quote,
                    b'<' if !quote => angle = true,
                    b'>' if !quote => angle = false,
                    b',' if !angle && !quote => {
                        end = i;
                        break;
                    }
                    _ => {}
                }
            }
            let item = rest[..end].trim();
            from += end + 1;
            if !item.is_empty() {
                return Some(item);
            }
        }
        None
    })
}

/// Where a response to this `Via` goes: `received`/`rport` when present, else the sent-by
/// host and port (default 5060).
pub fn via_target(via: &str) -> Option<(&str, u16)> {
    let rest = via.strip_prefix("SIP/2.0/")?;
    let (_, rest) = rest.split_once(char::is_whitespace)?;
    let sent_by = rest.split(';').next()?.trim();
    let (host, port) = match sent_by.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && !h.starts_with('[') || h.ends_with(']') => (
            h.trim_start_matches('[').trim_end_matches(']'),
            p.parse().ok()?,
        ),
        _ => (sent_by, 5060),
    };
    let host = param(via, "received")
        .filter(|h| !h.is_empty())
        .unwrap_or(host);
    let port = param(via, "rport")
        .and_then(|p| p.parse().ok())
        .unwrap_or(port);
    (!host.is_empty()).then_some((host, port))
}

/// The MAC in a Cisco Contact's `+sip.instance="<urn:uuid:00000000-0000-0000-0000-AABBCCDDEEFF>"`,
/// upper case (the device is `SEP` + this).
pub fn instance_mac(contact: &str) -> Option<String> {
    let v = param(contact, "+sip.instance")?;
    let v = v.trim_matches('"');
    let v = v.strip_prefix('<')?.strip_suffix('>')?;
    let uuid = v.strip_prefix("urn:uuid:")?;
    let mac = uuid.strip_prefix("00000000-0000-0000-0000-")?;
    (mac.len() == 12 && mac.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| mac.to_ascii_uppercase())
}

/// The `+sip.instance` value a Cisco phone with this MAC sends.
pub fn instance_for_mac(mac: &str) -> String {
    format!(
        "\"<urn:uuid:00000000-0000-0000-0000-{}>\"",
        mac.to_ascii_lowercase()
    )
}

/// The reason phrase emroam sends with a status code.
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        500 => "Server Internal Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// What a `service-control` NOTIFY asks the phone to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceAction {
    /// `action=restart`: re-download config, re-register.
    Restart,
    /// `action=reset`: full reset (the locale changed).
    Reset,
}

impl ServiceAction {
    /// The `action=` value.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceAction::Restart => "restart",
            ServiceAction::Reset => "reset",
        }
    }
}

/// Parts of a `service-control` NOTIFY the caller chooses.
#[derive(Debug, Clone)]
pub struct ServiceControl<'a> {
    /// Restart or reset.
    pub action: ServiceAction,
    /// The phone's registered Contact URI (Request-URI and `To`).
    pub contact: &'a str,
    /// The Call-ID of the phone's REGISTER (the phone checks it, answering 400 on mismatch).
    pub register_call_id: &'a str,
    /// The cluster's `host:port`.
    pub local: &'a str,
    /// Via branch, From tag and Call-ID for this NOTIFY.
    pub branch: &'a str,
    /// From tag.
    pub tag: &'a str,
    /// Call-ID of the NOTIFY.
    pub call_id: &'a str,
}

/// Builds the CUCM `service-control` NOTIFY (reference cisco-em.md §1.4).
pub fn service_control_notify(sc: &ServiceControl<'_>) -> Message {
    let zero = "{00000000-0000-0000-0000-000000000000}";
    let body = format!(
        "action={}\r\nRegisterCallId={{{}}}\r\nConfigVersionStamp={zero}\r\nDialplanVersionStamp={zero}\r\nSoftkeyVersionStamp={zero}\r\n",
        sc.action.as_str(),
        sc.register_call_id
    );
    Message::request("NOTIFY", sc.contact)
        .with(
            "Via",
            format!("SIP/2.0/UDP {};branch=z9hG4bK{}", sc.local, sc.branch),
        )
        .with("From", format!("<sip:{}>;tag={}", sc.local, sc.tag))
        .with("To", format!("<{}>", sc.contact))
        .with("Call-ID", sc.call_id)
        .with("CSeq", "101 NOTIFY")
        .with("Max-Forwards", "70")
        .with("User-Agent", "Cisco-CUCM12.5")
        .with("Event", "service-control")
        .with("Subscription-State", "active")
        .with("Contact", format!("<sip:{}>", sc.local))
        .with_body("text/plain", body)
}

/// Reads a `service-control` NOTIFY body: (action, RegisterCallId without braces).
pub fn parse_service_control(body: &[u8]) -> Option<(ServiceAction, String)> {
    let text = std::str::from_utf8(body).ok()?;
    let mut action = None;
    let mut call_id = None;
    for line in text.lines() {
        let (k, v) = line.split_once('=').unwrap_or((line, ""));
        match k.trim() {
            "action" => {
                action = match v.trim() {
                    "restart" => Some(ServiceAction::Restart),
                    "reset" => Some(ServiceAction::Reset),
                    _ => None,
                }
            }
            "RegisterCallId" => {
                call_id = Some(
                    v.trim()
                        .trim_start_matches('{')
                        .trim_end_matches('}')
                        .to_owned(),
                );
            }
            _ => {}
        }
    }
    Some((action?, call_id?))
}

#[cfg(test)]
mod tests;
