//! The phone's HTTP/1.1 connection: one TCP stream owned by the phone's own task, a request
//! written in one `write`, the response read into a reused buffer and decoded by
//! [`emroam_protocol::http1`] (httparse for the head). [`crate::driver::HttpClient`] keeps one
//! and adds the timeout, the retry and keep-alive.
//!
//! Only what phones meet is spoken: GET and POST, `Content-Length`, chunked or until-close
//! bodies, keep-alive and `Connection: close`, no pipelining, no TLS. Why not hyper's client:
//! `docs/decisions.md`.

use emroam_protocol::http1::{self, Http1Error, Limits, ResponseDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::phone::http::MAX_BODY_BYTES;
use crate::phone::{HttpFailure, HttpRequest, HttpResponse};

/// What a response may be: the phone's body limit, and a 64 KiB head (the reference
/// server's own read buffer; real servers send a few hundred bytes).
const LIMITS: Limits = Limits {
    max_head: 64 * 1024,
    max_body: MAX_BODY_BYTES,
};

/// Free space wanted in the read buffer before each read: more than a typical response, so
/// that one read drains the socket (and tokio, seeing a short read, skips a useless one).
const READ_SPACE: usize = 8 * 1024;

/// One open connection to `authority`.
#[derive(Debug)]
pub struct Conn {
    authority: String,
    stream: TcpStream,
    /// Bytes read and not yet decoded; empty between responses.
    rbuf: Vec<u8>,
    /// The request being sent, kept to reuse its allocation.
    wbuf: Vec<u8>,
}

/// Why an exchange gave no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExchangeError {
    /// The connection was closed or reset before any byte of a response came: on a
    /// kept-alive connection, the server let it go meanwhile, and a new one may be tried.
    Closed,
    /// Anything else, as the phone would show it.
    Failed(HttpFailure),
}

impl From<HttpFailure> for ExchangeError {
    fn from(f: HttpFailure) -> Self {
        ExchangeError::Failed(f)
    }
}

fn decode_failure(e: Http1Error) -> ExchangeError {
    ExchangeError::Failed(match e {
        Http1Error::BodyTooLarge(_) => HttpFailure::TooLarge,
        e => HttpFailure::ConnectionFailed(e.to_string()),
    })
}

/// A closed or reset connection, as opposed to another I/O error.
fn is_closed(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    matches!(
        e.kind(),
        BrokenPipe | ConnectionReset | ConnectionAborted | UnexpectedEof
    )
}

impl Conn {
    /// Opens a connection to `authority` (`host`, `host:port` or `[v6]:port`; port 80 by
    /// default), with Nagle off.
    ///
    /// # Errors
    /// [`HttpFailure::HostNotFound`] when the name does not resolve, [`HttpFailure::Refused`]
    /// when nothing listens (both the phone's "Host Not Found"), else
    /// [`HttpFailure::ConnectionFailed`].
    pub async fn connect(authority: &str) -> Result<Self, HttpFailure> {
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => match p.parse::<u16>() {
                Ok(p) => (h, p),
                Err(_) => (authority, 80),
            },
            _ => (authority, 80),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addr = tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| HttpFailure::HostNotFound)?
            .next()
            .ok_or(HttpFailure::HostNotFound)?;
        let stream = TcpStream::connect(addr).await.map_err(|e| match e.kind() {
            // TSG: with Tomcat down (nothing listening) the phone shows "Host Not Found".
            std::io::ErrorKind::ConnectionRefused => HttpFailure::Refused,
            _ => HttpFailure::ConnectionFailed(e.to_string()),
        })?;
        let _ = stream.set_nodelay(true);
        Ok(Self {
            authority: authority.to_owned(),
            stream,
            rbuf: Vec::new(),
            wbuf: Vec::new(),
        })
    }

    /// The `host:port` this connection goes to.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Sends `req` for `path` (origin form: path and query, no fragment) and reads the whole
    /// response; the flag says whether the connection may carry another request.
    ///
    /// # Errors
    /// [`ExchangeError::Closed`] if the connection ends before the response starts; else
    /// [`HttpFailure::TooLarge`] for a body over [`MAX_BODY_BYTES`],
    /// [`HttpFailure::BadUrl`] for a request that cannot be written as it is, and
    /// [`HttpFailure::ConnectionFailed`] for a broken connection or a malformed response.
    ///
    /// # Cancel safety
    /// Not cancel safe: a request dropped midway leaves the connection in an unknown state,
    /// so drop the connection with it (as [`crate::driver::HttpClient`] does on timeout).
    pub async fn exchange(
        &mut self,
        req: &HttpRequest,
        path: &str,
    ) -> Result<(HttpResponse, bool), ExchangeError> {
        http1::write_request(
            &mut self.wbuf,
            req.method.as_str(),
            &self.authority,
            path,
            &req.headers,
            req.body.as_deref().map(str::as_bytes),
        )
        .map_err(|e| HttpFailure::BadUrl(e.to_string()))?;
        match self.stream.write_all(&self.wbuf).await {
            Ok(()) => {}
            Err(e) if is_closed(&e) => return Err(ExchangeError::Closed),
            Err(e) => return Err(HttpFailure::ConnectionFailed(e.to_string()).into()),
        }
        let resp = self.read_response().await?;
        // Bytes after the response were never asked for: do not read the next one from them.
        let keep = resp.keep_alive && self.rbuf.is_empty();
        Ok((
            HttpResponse {
                status: resp.status,
                headers: resp.headers,
                body: resp.body,
            },
            keep,
        ))
    }

    async fn read_response(&mut self) -> Result<http1::Response, ExchangeError> {
        let mut dec = ResponseDecoder::new(LIMITS);
        let mut received = false;
        loop {
            if !self.rbuf.is_empty() {
                let used = dec.feed(&self.rbuf).map_err(decode_failure)?;
                self.rbuf.drain(..used);
                if dec.is_done() {
                    break;
                }
            }
            if self.rbuf.capacity() - self.rbuf.len() < READ_SPACE {
                self.rbuf.reserve(READ_SPACE);
            }
            match self.stream.read_buf(&mut self.rbuf).await {
                Ok(0) if !received => return Err(ExchangeError::Closed),
                Ok(0) => {
                    dec.eof().map_err(decode_failure)?;
                    break;
                }
                Ok(_) => received = true,
                Err(e) if !received && is_closed(&e) => return Err(ExchangeError::Closed),
                Err(e) => return Err(HttpFailure::ConnectionFailed(e.to_string()).into()),
            }
        }
        Ok(dec
            .into_response()
            .expect("a finished decoder has a response"))
    }
}
