//! ILS transport: the listener ([`serve`]), the dialers and the session tasks (the handshake
//! is `handshake`; who may start one, `gate`).
//!
//! Each link has one TCP connection (TLS over it when the topology says so), dialed by the spoke (to its hub) or by the hub with the
//! smaller cluster ID (to the other hub). After the handshake a session has a reader (this
//! task: frames → [`Opener`] → `Cluster::ils_apply`) and a writer task fed by a bounded
//! channel. Anything a peer sends that fails to decode, authenticate or validate is counted
//! and the connection is closed; nothing from it is applied. Sessions end when ILS or the
//! cluster goes down, when the link is cut, or at shutdown; dialers retry with backoff, and
//! every new session starts with a full sync both ways, so a spoke whose hub was down catches
//! up by itself.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use emroam_protocol::ils::{self, Direction, MAC_LEN, Opener, Sealer};
use tokio::io::{AsyncWriteExt, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::gate::{Gate, Slot};
use super::handshake;
use super::state::Session;
use super::wire::{Conn, FrameReader, ReadError, WRITE_TIMEOUT};
use crate::cluster::Cluster;
use crate::listener::{Event, SwitchedListener};
use crate::sync::LockExt;

/// Bodies queued to one peer's writer; a full queue drops deltas (the next full sync repairs).
const SESSION_QUEUE: usize = 1024;
/// Dialer backoff bounds.
const RETRY_MIN: Duration = Duration::from_millis(20);
const RETRY_MAX: Duration = Duration::from_millis(500);

/// Serves ILS on `listener` until `shutdown`: refuses connections while ILS or the cluster is
/// down (closing the listener, then rebinding the same address when it comes back up).
pub async fn serve(listener: TcpListener, c: Cluster, shutdown: CancellationToken) {
    let mut listener = SwitchedListener::new(listener, c.ils().up.subscribe());
    let gate = Gate::new(c.ils().peer_ips.iter().copied());
    while let Some(event) = listener.next(&shutdown).await {
        let Event::Accepted(stream, from) = event else {
            continue;
        };
        let Some(slot) = gate.admit(from.ip()) else {
            // Closed at once (dropped): the address has its share in progress, or every slot
            // it may take is held.
            c.ils().counters.rejected("refused");
            handshake::accept_failed(&c, "busy", from.ip(), None, "no handshake slot free");
            continue;
        };
        let c2 = c.clone();
        let token = c.token().clone();
        c.tracker().spawn(async move {
            tokio::select! {
                () = token.cancelled() => {}
                () = accept_one(c2, stream, from, slot) => {}
            }
        });
    }
}

/// Listener side of one connection: the handshake (TLS included) in its slot, then the
/// session.
async fn accept_one(c: Cluster, stream: TcpStream, from: SocketAddr, slot: Slot) {
    let _ = stream.set_nodelay(true);
    let hs = handshake::accept(&c, stream, from.ip()).await;
    drop(slot);
    let Some((peer, stream, mut reader, key)) = hs else {
        return;
    };
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
            d = handshake::dial(&c, &peer) => d,
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
    mut w: WriteHalf<Conn>,
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
    stream: Conn,
    mut reader: FrameReader,
    key: [u8; MAC_LEN],
    out: Direction,
    inbound: Direction,
) {
    let s = c.ils();
    let (mut rd, wr) = tokio::io::split(stream);
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
                    Err(ReadError::Eof | ReadError::Io(_)) => break,
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
