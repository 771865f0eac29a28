//! ILS transport: the listener ([`serve`]), the dialers, the handshake and the session tasks.
//!
//! Each link has one TCP connection, dialed by the spoke (to its hub) or by the hub with the
//! smaller cluster ID (to the other hub). After the handshake a session has a reader (this
//! task: frames → [`Opener`] → `Cluster::ils_apply`) and a writer task fed by a bounded
//! channel. Anything a peer sends that fails to decode, authenticate or validate is counted
//! and the connection is closed; nothing from it is applied. Sessions end when ILS or the
//! cluster goes down, when the link is cut, or at shutdown; dialers retry with backoff, and
//! every new session starts with a full sync both ways, so a spoke whose hub was down catches
//! up by itself.

use std::sync::Arc;
use std::time::Duration;

use emroam_protocol::ils::{
    self, Direction, Frame, Handshake, IlsError, MAC_LEN, NONCE_LEN, Opener, Sealer, Transcript,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::state::Session;
use crate::cluster::Cluster;
use crate::listener::{Event, SwitchedListener};
use crate::sync::LockExt;

/// Bodies queued to one peer's writer; a full queue drops deltas (the next full sync repairs).
const SESSION_QUEUE: usize = 1024;

/// Time allowed for the whole handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest handshake frame.
const HANDSHAKE_MAX: usize = 16 * 1024;
/// A peer that does not take a frame within this long is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections allowed in the handshake at once (more are closed at once and counted).
const MAX_HANDSHAKES: usize = 64;
/// Dialer backoff bounds.
const RETRY_MIN: Duration = Duration::from_millis(20);
const RETRY_MAX: Duration = Duration::from_millis(500);

/// Why reading a frame stopped.
#[derive(Debug)]
enum ReadError {
    Io,
    Eof,
    Ils(IlsError),
}

/// Buffers bytes from a stream and cuts them into frames.
#[derive(Debug)]
struct FrameReader {
    buf: Vec<u8>,
    max: usize,
}

impl FrameReader {
    fn new() -> FrameReader {
        FrameReader {
            buf: Vec::with_capacity(8 * 1024),
            max: ils::MAX_FRAME,
        }
    }

    /// The next frame.
    ///
    /// # Cancel safety
    /// Bytes read before cancellation stay buffered for the next call.
    async fn next<R: AsyncRead + Unpin>(&mut self, r: &mut R) -> Result<Frame, ReadError> {
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
                Err(_) => return Err(ReadError::Io),
            }
        }
    }
}

fn nonce() -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    if getrandom::fill(&mut n).is_err() {
        // No OS randomness: fall back to the process-keyed hasher (unique, if not secret).
        for (i, chunk) in n.chunks_mut(8).enumerate() {
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(i);
            h.write_i64(crate::cluster::now_ms());
            chunk.copy_from_slice(&h.finish().to_be_bytes());
        }
    }
    n
}

/// Serves ILS on `listener` until `shutdown`: refuses connections while ILS or the cluster is
/// down (closing the listener, then rebinding the same address when it comes back up).
pub async fn serve(listener: TcpListener, c: Cluster, shutdown: CancellationToken) {
    let mut listener = SwitchedListener::new(listener, c.ils().up.subscribe());
    let handshakes = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
    while let Some(event) = listener.next(&shutdown).await {
        let Event::Accepted(stream, _peer) = event else {
            continue;
        };
        let Ok(permit) = handshakes.clone().try_acquire_owned() else {
            c.ils().counters.rejected("refused");
            continue;
        };
        let c2 = c.clone();
        let token = c.token().clone();
        c.tracker().spawn(async move {
            tokio::select! {
                () = token.cancelled() => {}
                () = accept_one(c2, stream, permit) => {}
            }
        });
    }
}

async fn send(stream: &mut TcpStream, h: &Handshake) -> bool {
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&h.encode())).await,
        Ok(Ok(()))
    )
}

/// Reads one handshake frame; counts and answers `None` for anything else.
async fn read_handshake(
    c: &Cluster,
    stream: &mut TcpStream,
    reader: &mut FrameReader,
) -> Option<Handshake> {
    match reader.next(stream).await {
        Ok(f) => match Handshake::parse(&f) {
            Ok(h) => Some(h),
            Err(e) => {
                c.ils().counters.rejected(e.kind());
                tracing::warn!(cluster = %c.id(), error = %e, "ILS handshake refused");
                None
            }
        },
        Err(ReadError::Ils(e)) => {
            c.ils().counters.rejected(e.kind());
            tracing::warn!(cluster = %c.id(), error = %e, "ILS handshake refused");
            None
        }
        Err(_) => None,
    }
}

fn raise_pwd_alert(c: &Cluster, peer: &str) {
    c.ils().counters.pwd_auth_failed();
    tracing::warn!(cluster = %c.id(), %peer, alert = "ILSPwdAuthenticationFailed", "decryptData failed: ILS password mismatch");
}

/// Listener side of one connection.
async fn accept_one(c: Cluster, mut stream: TcpStream, permit: tokio::sync::OwnedSemaphorePermit) {
    let _ = stream.set_nodelay(true);
    let mut reader = FrameReader::new();
    reader.max = HANDSHAKE_MAX;
    let hs = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        let Some(Handshake::Hello {
            version,
            cluster_id,
            nonce: cn,
            ..
        }) = read_handshake(&c, &mut stream, &mut reader).await
        else {
            return None;
        };
        let refuse = if version != ils::VERSION {
            Some("unsupported version")
        } else if !c.is_ils_peer(&cluster_id) {
            Some("not an ILS peer of this cluster")
        } else if c.ils().is_cut(&cluster_id) {
            Some("link cut")
        } else {
            None
        };
        if let Some(reason) = refuse {
            c.ils().counters.rejected("refused");
            tracing::warn!(cluster = %c.id(), peer = %cluster_id, reason, "ILS peer refused");
            send(
                &mut stream,
                &Handshake::Refused {
                    reason: reason.into(),
                },
            )
            .await;
            return None;
        }
        let cn = ils::decode_hex(&cn)?;
        let sn = nonce();
        let tr = Transcript {
            client_nonce: &cn,
            server_nonce: &sn,
            client_id: &cluster_id,
            server_id: c.id(),
        };
        let pw = c.ils().password();
        let me = &c.ils().me;
        let challenge = Handshake::Challenge {
            cluster_id: me.cluster_id.clone(),
            route_string: me.route_string.clone(),
            role: me.role,
            nonce: ils::hex(&sn),
            proof: tr.server_proof(pw),
        };
        if !send(&mut stream, &challenge).await {
            return None;
        }
        let Some(Handshake::Auth { proof }) = read_handshake(&c, &mut stream, &mut reader).await
        else {
            return None;
        };
        if !tr.verify_client(pw, &proof) {
            raise_pwd_alert(&c, &cluster_id);
            send(
                &mut stream,
                &Handshake::Refused {
                    reason: "authentication failed".into(),
                },
            )
            .await;
            return None;
        }
        let key = tr.session_key(pw);
        if !send(&mut stream, &Handshake::Welcome).await {
            return None;
        }
        Some((cluster_id, key))
    })
    .await;
    drop(permit);
    let Ok(Some((peer, key))) = hs else { return };
    reader.max = ils::MAX_FRAME;
    run_session(
        c,
        peer,
        stream,
        reader,
        key,
        Direction::ToDialer,
        Direction::ToListener,
    )
    .await;
}

/// Dialer side: connect and authenticate; `None` if refused or unreachable.
async fn dial(c: &Cluster, peer: &str) -> Option<(TcpStream, FrameReader, [u8; MAC_LEN])> {
    let addr = c.ils_peer_addr(peer)?;
    let mut stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let _ = stream.set_nodelay(true);
    let mut reader = FrameReader::new();
    reader.max = HANDSHAKE_MAX;
    let key = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        let cn = nonce();
        let me = &c.ils().me;
        let hello = Handshake::Hello {
            version: ils::VERSION,
            cluster_id: me.cluster_id.clone(),
            route_string: me.route_string.clone(),
            role: me.role,
            nonce: ils::hex(&cn),
        };
        if !send(&mut stream, &hello).await {
            return None;
        }
        let h = read_handshake(c, &mut stream, &mut reader).await?;
        let Handshake::Challenge {
            cluster_id,
            nonce: sn,
            proof,
            ..
        } = h
        else {
            if let Handshake::Refused { reason } = h {
                tracing::debug!(cluster = %c.id(), %peer, %reason, "ILS peer refused us");
            }
            return None;
        };
        if cluster_id != peer {
            c.ils().counters.rejected("refused");
            return None;
        }
        let sn = ils::decode_hex(&sn)?;
        let tr = Transcript {
            client_nonce: &cn,
            server_nonce: &sn,
            client_id: c.id(),
            server_id: peer,
        };
        let pw = c.ils().password();
        if !tr.verify_server(pw, &proof) {
            raise_pwd_alert(c, peer);
            return None;
        }
        if !send(
            &mut stream,
            &Handshake::Auth {
                proof: tr.client_proof(pw),
            },
        )
        .await
        {
            return None;
        }
        match read_handshake(c, &mut stream, &mut reader).await? {
            Handshake::Welcome => Some(tr.session_key(pw)),
            _ => None,
        }
    })
    .await
    .ok()??;
    reader.max = ils::MAX_FRAME;
    Some((stream, reader, key))
}

/// Starts this cluster's dialers (one per peer it dials) on its tracker.
pub(crate) fn spawn_dialers(c: &Cluster) {
    for peer in c.ils().dials.clone() {
        let c2 = c.clone();
        c.tracker().spawn(async move { dial_loop(c2, peer).await });
    }
}

async fn dial_loop(c: Cluster, peer: String) {
    let token = c.token().clone();
    let mut up = c.ils().up.subscribe();
    let mut cut = c.ils().cut_seq.subscribe();
    let mut backoff = RETRY_MIN;
    while !token.is_cancelled() {
        // Wait until ILS is up and the link is not cut.
        loop {
            if *up.borrow_and_update() && !c.ils().is_cut(&peer) {
                break;
            }
            tokio::select! {
                () = token.cancelled() => return,
                _ = up.changed() => {}
                _ = cut.changed() => {}
            }
        }
        let dialed = tokio::select! {
            () = token.cancelled() => return,
            d = dial(&c, &peer) => d,
        };
        if let Some((stream, reader, key)) = dialed {
            backoff = RETRY_MIN;
            run_session(
                c.clone(),
                peer.clone(),
                stream,
                reader,
                key,
                Direction::ToListener,
                Direction::ToDialer,
            )
            .await;
        }
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(RETRY_MAX);
    }
}

async fn writer(
    mut w: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::Receiver<Arc<Vec<u8>>>,
    mut sealer: Sealer,
    cancel: CancellationToken,
) {
    loop {
        let body = tokio::select! {
            () = cancel.cancelled() => break,
            b = rx.recv() => match b { Some(b) => b, None => break },
        };
        let bytes = sealer.seal_body(body.as_ref().clone());
        match tokio::time::timeout(WRITE_TIMEOUT, w.write_all(&bytes)).await {
            Ok(Ok(())) => {}
            _ => break,
        }
    }
    cancel.cancel();
    let _ = w.shutdown().await;
}

/// One authenticated session with `peer` until either side ends it.
async fn run_session(
    c: Cluster,
    peer: String,
    stream: TcpStream,
    mut reader: FrameReader,
    key: [u8; MAC_LEN],
    out: Direction,
    inbound: Direction,
) {
    let s = c.ils();
    let (mut rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::channel(SESSION_QUEUE);
    let cancel = c.token().child_token();
    let id = s
        .session_seq
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    {
        let old = s.sessions.locked().insert(
            peer.clone(),
            Session {
                id,
                tx: tx.clone(),
                cancel: cancel.clone(),
            },
        );
        if let Some(old) = old {
            old.cancel.cancel();
        }
    }
    {
        let mut st = s.status();
        let e = st.entry(peer.clone()).or_default();
        e.connected = true;
        e.got_full = false;
        e.dropped = false;
    }
    tracing::info!(cluster = %c.id(), %peer, "ILS session up");
    c.tracker()
        .spawn(writer(wr, rx, Sealer::new(key, out), cancel.clone()));
    let mut opener = Opener::new(key, inbound);
    let mut up = s.up.subscribe();
    let mut cut = s.cut_seq.subscribe();
    let mut interval = s.sync_interval.subscribe();
    let full = s.full_body();
    if tx.send(full).await.is_ok() {
        s.counters.message_out();
    }
    let mut next_full = tokio::time::Instant::now() + *interval.borrow_and_update();
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = async { up.wait_for(|u| !*u).await.is_ok() } => break,
            _ = cut.changed() => if s.is_cut(&peer) { break },
            r = interval.changed() => {
                if r.is_err() { break }
                next_full = tokio::time::Instant::now() + *interval.borrow_and_update();
            }
            () = tokio::time::sleep_until(next_full) => {
                next_full = tokio::time::Instant::now() + *interval.borrow();
                if tx.try_send(s.full_body()).is_ok() {
                    s.counters.message_out();
                } else {
                    s.counters.dropped();
                }
            }
            f = reader.next(&mut rd) => {
                let f = match f {
                    Ok(f) => f,
                    Err(ReadError::Ils(e)) => {
                        s.counters.rejected(e.kind());
                        tracing::warn!(cluster = %c.id(), %peer, error = %e, "ILS peer sent garbage: disconnecting");
                        break;
                    }
                    Err(ReadError::Eof | ReadError::Io) => break,
                };
                match opener.open(&f) {
                    Ok(msg) => c.ils_apply(&peer, msg).await,
                    Err(e) => {
                        s.counters.rejected(e.kind());
                        tracing::warn!(cluster = %c.id(), %peer, error = %e, "ILS message refused: disconnecting");
                        break;
                    }
                }
            }
        }
    }
    cancel.cancel();
    {
        let mut m = s.sessions.locked();
        if m.get(&peer).is_some_and(|x| x.id == id) {
            m.remove(&peer);
            if let Some(st) = s.status().get_mut(&peer) {
                st.connected = false;
            }
        }
    }
    tracing::info!(cluster = %c.id(), %peer, "ILS session down");
}
