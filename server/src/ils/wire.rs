//! ILS bytes on a socket: cutting frames out of a stream, writing with a deadline, nonces.

use std::io;
use std::time::Duration;

use emroam_protocol::ils::{self, Frame, Handshake, IlsError, NONCE_LEN};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A byte stream ILS runs on: plain TCP, or TLS over it.
pub(super) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A connection with a peer (boxed: one session code for TCP and TLS; a virtual call per
/// read or write is nothing beside the system call under it).
pub(super) type Conn = Box<dyn Io>;

/// The TLS failure inside an I/O error (a certificate refused, an alert), if it is one.
pub(super) fn tls_failure(e: &io::Error) -> Option<String> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .map(ToString::to_string)
}

/// A peer that does not take a frame within this long is dropped.
pub(super) const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why reading a frame stopped.
#[derive(Debug)]
pub(super) enum ReadError {
    Io(io::Error),
    Eof,
    Ils(IlsError),
}

/// Buffers bytes from a stream and cuts them into frames.
#[derive(Debug)]
pub(super) struct FrameReader {
    buf: Vec<u8>,
    /// Largest frame accepted: small during the handshake, [`ils::MAX_FRAME`] after.
    pub(super) max: usize,
}

impl FrameReader {
    pub(super) fn new(max: usize) -> FrameReader {
        FrameReader {
            buf: Vec::with_capacity(8 * 1024),
            max,
        }
    }

    /// The next frame.
    ///
    /// # Cancel safety
    /// Bytes read before cancellation stay buffered for the next call.
    pub(super) async fn next<R: AsyncRead + Unpin>(
        &mut self,
        r: &mut R,
    ) -> Result<Frame, ReadError> {
        loop {
            match ils::decode_frame(&self.buf, self.max) {
                Ok(Some((f, used))) => {
                    self.buf.drain(..used);
                    return Ok(f);
                }
                Ok(None) => {}
                Err(e) => return Err(ReadError::Ils(e)),
            }
            self.buf.reserve(8 * 1024);
            match r.read_buf(&mut self.buf).await {
                Ok(0) => return Err(ReadError::Eof),
                Ok(_) => {}
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
    }
}

/// Writes one handshake message; `false` if the peer did not take it in time.
pub(super) async fn send<W: AsyncWrite + Unpin + ?Sized>(stream: &mut W, h: &Handshake) -> bool {
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&h.encode())).await,
        Ok(Ok(()))
    )
}

/// A fresh nonce from the OS.
pub(super) fn nonce() -> [u8; NONCE_LEN] {
    crate::secret::random()
}
