//! HTTP plumbing shared by a cluster's ports: the accept loop with graceful shutdown (behind
//! the cluster's listener switch), request reading with limits, query/form decoding, and the
//! one mapping from [`HttpError`] to a response.
//!
//! Handlers are plain async functions over a [`Req`] (already read, size-limited), so tests call
//! them without a socket; [`serve`] is the only code that touches connections.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Body;
use hyper::header::{ALLOW, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::listener::{Event, SwitchedListener};

/// The response type of every handler.
pub type Resp = Response<Full<Bytes>>;

/// Largest request body accepted: the EM API's form limit (one number for both; EM API XML is
/// usually a few hundred bytes).
pub const MAX_BODY: usize = emroam_protocol::emapi::MAX_FORM_BYTES;
/// Most of an oversized body read and thrown away (never kept) before answering 413, so a
/// client that writes its whole body before reading sees the answer instead of a reset.
/// Longer declared bodies are answered at once and the connection closed.
pub const MAX_DRAIN: usize = 4 * 1024 * 1024;
/// Longest request URI accepted.
pub const MAX_URI: usize = 8 * 1024;

/// Connection-level limits of a listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A client must send a request's headers within this (also closes idle keep-alive
    /// connections, and slow-loris clients).
    pub header_read_timeout: Duration,
    /// A client must send a request's body within this of its headers (408 and close
    /// otherwise).
    pub body_read_timeout: Duration,
    /// Open connections beyond this are closed at once.
    pub max_connections: usize,
    /// How long shutdown waits for in-flight requests before closing connections.
    pub drain_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            drain_deadline: Duration::from_secs(5),
        }
    }
}

/// A request read in full: what handlers see.
#[derive(Debug, Clone)]
pub struct Req {
    /// Method.
    pub method: Method,
    /// Path (no query).
    pub path: String,
    /// Raw query string (no `?`).
    pub query: String,
    /// Headers.
    pub headers: HeaderMap,
    /// The peer address.
    pub peer: SocketAddr,
    /// The body (at most [`MAX_BODY`]).
    pub body: Bytes,
}

impl Req {
    /// A bodiless request (tests and internal callers).
    pub fn get(path_and_query: &str, peer: SocketAddr) -> Req {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        Req {
            method: Method::GET,
            path: path.to_owned(),
            query: query.to_owned(),
            headers: HeaderMap::new(),
            peer,
            body: Bytes::new(),
        }
    }

    /// The decoded query parameters, in order.
    pub fn query_params(&self) -> Vec<(String, String)> {
        parse_urlencoded(self.query.as_bytes())
    }

    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<String> {
        parse_urlencoded(self.query.as_bytes())
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Requests refused at the HTTP level, before any EM logic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// No such path.
    #[error("not found")]
    NotFound,
    /// Wrong method for the path.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Wrong method for a path that answers only these (the `Allow` header).
    #[error("method not allowed (allowed: {0})")]
    MethodNotAllowedHere(&'static str),
    /// The body did not arrive within [`Limits::body_read_timeout`] (the connection is closed).
    #[error("request body not received in time")]
    RequestTimeout,
    /// Body over [`MAX_BODY`].
    #[error("request body too large")]
    PayloadTooLarge,
    /// URI over [`MAX_URI`].
    #[error("request URI too long")]
    UriTooLong,
    /// Malformed request.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The service at this path is stopped (CUCM's Tomcat answers 503).
    #[error("service unavailable")]
    ServiceUnavailable,
    /// Admin from a non-loopback peer without the token.
    #[error("forbidden")]
    Forbidden,
    /// The body could not be read.
    #[error("body read failed: {0}")]
    BodyRead(String),
}

/// The one mapping from an HTTP-level error to what the client sees.
pub fn into_response(err: HttpError) -> Resp {
    let status = match &err {
        HttpError::NotFound => StatusCode::NOT_FOUND,
        HttpError::MethodNotAllowed | HttpError::MethodNotAllowedHere(_) => {
            StatusCode::METHOD_NOT_ALLOWED
        }
        HttpError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
        HttpError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        HttpError::UriTooLong => StatusCode::URI_TOO_LONG,
        HttpError::BadRequest(_) | HttpError::BodyRead(_) => StatusCode::BAD_REQUEST,
        HttpError::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        HttpError::Forbidden => StatusCode::FORBIDDEN,
    };
    if status.is_server_error() {
        tracing::warn!(error = %err, "request refused");
    } else {
        tracing::debug!(error = %err, "request refused");
    }
    let body = format!(
        "{} {}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let mut r = respond(status, "text/plain; charset=utf-8", body);
    if let HttpError::MethodNotAllowedHere(allow) = err {
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static(allow));
    }
    // The rest of these requests' bodies is not read: the connection cannot carry another.
    if matches!(err, HttpError::RequestTimeout | HttpError::PayloadTooLarge) {
        r.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

/// A response with a body and content type.
pub fn respond(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A `text/xml; charset=utf-8` 200 response (what phones and EM API clients expect).
pub fn xml(body: impl Into<Bytes>) -> Resp {
    respond(StatusCode::OK, "text/xml; charset=utf-8", body)
}

/// A JSON response.
pub fn json<T: serde::Serialize>(status: StatusCode, v: &T) -> Resp {
    match serde_json::to_vec_pretty(v) {
        Ok(b) => respond(status, "application/json", b),
        Err(e) => into_response(HttpError::BadRequest(e.to_string())),
    }
}

/// Decodes `application/x-www-form-urlencoded` (query strings and form bodies): `+` is a
/// space, `%XX` a byte; invalid UTF-8 is replaced, never an error.
pub fn parse_urlencoded(s: &[u8]) -> Vec<(String, String)> {
    s.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            (decode_component(k), decode_component(v))
        })
        .collect()
}

fn decode_component(s: &[u8]) -> String {
    let plus: Vec<u8> = s
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    let bytes: Vec<u8> = percent_encoding::percent_decode(&plus).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Percent-encodes a query component.
pub fn encode_component(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// Reads a hyper request into a [`Req`], enforcing [`MAX_URI`], [`MAX_BODY`], `Host` on
/// HTTP/1.1 (RFC 9112 §3.2) and `body_timeout` for the whole body.
///
/// An oversized body is read and dropped up to [`MAX_DRAIN`] before the 413, so a client
/// still writing it reads the answer rather than a reset.
///
/// # Errors
/// 414, 413, 408 or 400 as an [`HttpError`].
pub async fn read_request<B>(
    req: Request<B>,
    peer: SocketAddr,
    body_timeout: Duration,
) -> Result<Req, HttpError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let (parts, body) = req.into_parts();
    if parts.uri.to_string().len() > MAX_URI {
        return Err(HttpError::UriTooLong);
    }
    if parts.version == hyper::Version::HTTP_11 && !parts.headers.contains_key(HOST) {
        return Err(HttpError::BadRequest(
            "HTTP/1.1 request without Host".into(),
        ));
    }
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|l| l.to_str().ok())
        .and_then(|l| l.parse::<u64>().ok());
    if declared.is_some_and(|l| l > MAX_DRAIN as u64) {
        return Err(HttpError::PayloadTooLarge);
    }
    let body = match tokio::time::timeout(body_timeout, read_body(body)).await {
        Err(_) => return Err(HttpError::RequestTimeout),
        Ok(r) => r?,
    };
    Ok(Req {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts.headers,
        peer,
        body,
    })
}

/// The body, at most [`MAX_BODY`]; past that it is read and dropped up to [`MAX_DRAIN`], then
/// refused.
async fn read_body<B>(mut body: B) -> Result<Bytes, HttpError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let mut buf = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| HttpError::BodyRead(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen > MAX_DRAIN {
            return Err(HttpError::PayloadTooLarge);
        }
        if seen <= MAX_BODY {
            buf.extend_from_slice(&data);
        }
    }
    if seen > MAX_BODY {
        return Err(HttpError::PayloadTooLarge);
    }
    Ok(buf.freeze())
}

/// Serves HTTP/1.1 on `listener` until `shutdown` is cancelled, then stops accepting, lets
/// in-flight requests finish (up to `limits.drain_deadline`) and returns.
///
/// While `up` is `false` the listener is closed (connections refused) and open connections are
/// dropped; when it turns `true` again the same address is bound anew.
pub async fn serve<H, F>(
    listener: TcpListener,
    handler: H,
    limits: Limits,
    up: watch::Receiver<bool>,
    shutdown: CancellationToken,
) where
    H: Fn(Request<hyper::body::Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Resp> + Send + 'static,
{
    let mut listener = SwitchedListener::new(listener, up);
    let tracker = TaskTracker::new();
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(64 * 1024)
        .keep_alive(true);
    // Cancelled when the listener is taken down (open connections are dropped) or when the
    // drain deadline passes; deliberately not a child of `shutdown`, which must let in-flight
    // requests finish.
    let mut conns = CancellationToken::new();
    while let Some(event) = listener.next(&shutdown).await {
        let (stream, peer) = match event {
            Event::Accepted(stream, peer) => (stream, peer),
            Event::Down => {
                conns.cancel();
                conns = CancellationToken::new();
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "too many connections; closing");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let h = handler.clone();
        let svc = hyper::service::service_fn(move |req| {
            let h = h.clone();
            async move { Ok::<_, Infallible>(h(req, peer).await) }
        });
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), svc));
        let kill = conns.clone();
        tracker.spawn(async move {
            let _slot = slot;
            tokio::select! {
                r = conn => if let Err(e) = r { tracing::debug!(%peer, error = %e, "connection ended with error") },
                () = kill.cancelled() => {}
            }
        });
    }
    drop(listener);
    tracker.close();
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.drain_deadline) => {
            tracing::warn!("drain deadline passed; closing remaining connections");
        }
    }
    conns.cancel();
    tracker.wait().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_decoding() {
        let v = parse_urlencoded(b"device=SEP000000001001&userid=a+b&seq=%31%32&x&bad=%ff%fe");
        assert_eq!(v[0], ("device".into(), "SEP000000001001".into()));
        assert_eq!(v[1].1, "a b");
        assert_eq!(v[2].1, "12");
        assert_eq!(v[3], ("x".into(), String::new()));
        assert_eq!(v[4].1, "\u{fffd}\u{fffd}");
        assert_eq!(encode_component("a b&c"), "a%20b%26c");
    }
}
