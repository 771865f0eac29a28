//! The ILS handshake over a socket: [`accept`] on the listener, [`dial`] on the dialer. The
//! steps are `emroam_protocol::ils::{Accept, Dial}`: the dialer proves the password first.
//!
//! A handshake that fails is counted (`handshakes_failed` by reason on the listener;
//! ILSPwdAuthenticationFailed and refusals as before) and warned about at most once per
//! [`LOG_EVERY`] per side, with the number held back; never with the password or a proof.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use emroam_protocol::ils::{AUTH_FAILED, Accept, Dial, Frame, Handshake, HandshakeError, MAC_LEN};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

use super::state::LOG_EVERY;
use super::wire::{FrameReader, ReadError, nonce, send};
use crate::cluster::Cluster;

/// Time a listener gives a dialer to prove the password (short: until then it is a stranger
/// holding a slot).
pub(super) const ACCEPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Time a dialer allows for connecting, and then for the whole handshake.
const DIAL_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest handshake frame.
pub(super) const HANDSHAKE_MAX: usize = 16 * 1024;

/// Why a handshake on the listener ended without a session.
#[derive(Debug)]
struct Failed {
    /// A reason of [`crate::counters::ILS_HANDSHAKE_FAILURES`].
    reason: &'static str,
    /// What happened, for the log.
    detail: String,
}

impl Failed {
    fn closed() -> Failed {
        Failed {
            reason: "closed",
            detail: "the dialer closed the connection".into(),
        }
    }
}

/// Counts a failed handshake on the listener and warns (throttled).
pub(super) fn accept_failed(
    c: &Cluster,
    reason: &'static str,
    from: IpAddr,
    peer: Option<&str>,
    detail: &str,
) {
    let s = c.ils();
    s.counters.handshake_failed(reason);
    if let Some(held_back) = s.accept_log.pass(Instant::now()) {
        tracing::warn!(
            cluster = %c.id(), %from, peer = peer.unwrap_or("-"), reason, detail, held_back,
            "ILS handshake failed (logged at most every {}s; `held_back` were not)",
            LOG_EVERY.as_secs()
        );
    }
}

/// Listener side: the peer's cluster ID and the session key, or `None` (counted and logged).
pub(super) async fn accept(
    c: &Cluster,
    stream: &mut TcpStream,
    reader: &mut FrameReader,
    from: IpAddr,
) -> Option<(String, [u8; MAC_LEN])> {
    let mut claimed = None;
    let r = tokio::time::timeout(
        ACCEPT_TIMEOUT,
        accept_steps(c, stream, reader, &mut claimed),
    )
    .await;
    let f = match r {
        Ok(Ok(done)) => return Some(done),
        Ok(Err(f)) => f,
        Err(_) => Failed {
            reason: "timeout",
            detail: format!(
                "no proof of the password within {}s",
                ACCEPT_TIMEOUT.as_secs()
            ),
        },
    };
    accept_failed(c, f.reason, from, claimed.as_deref(), &f.detail);
    None
}

async fn read(
    c: &Cluster,
    stream: &mut TcpStream,
    reader: &mut FrameReader,
) -> Result<Frame, Failed> {
    match reader.next(stream).await {
        Ok(f) => Ok(f),
        Err(ReadError::Ils(e)) => {
            c.ils().counters.rejected(e.kind());
            Err(Failed {
                reason: "bad_input",
                detail: e.to_string(),
            })
        }
        Err(ReadError::Eof | ReadError::Io) => Err(Failed::closed()),
    }
}

/// Counts a step that failed on what the dialer sent; answers `Refused` to another version.
async fn refuse_or_drop(c: &Cluster, stream: &mut TcpStream, e: HandshakeError) -> Failed {
    c.ils().counters.rejected(e.kind().unwrap_or("malformed"));
    let detail = e.to_string();
    if matches!(e, HandshakeError::Version(_)) {
        send(
            stream,
            &Handshake::Refused {
                reason: detail.clone(),
            },
        )
        .await;
        return Failed {
            reason: "refused",
            detail,
        };
    }
    Failed {
        reason: "bad_input",
        detail,
    }
}

async fn accept_steps(
    c: &Cluster,
    stream: &mut TcpStream,
    reader: &mut FrameReader,
    claimed: &mut Option<String>,
) -> Result<(String, [u8; MAC_LEN]), Failed> {
    let s = c.ils();
    let mut acc = Accept::new(s.me.clone(), nonce());
    let f = read(c, stream, reader).await?;
    let peer = match acc.hello(&f) {
        Ok(h) => h.cluster_id,
        Err(e) => return Err(refuse_or_drop(c, stream, e).await),
    };
    *claimed = Some(peer.clone());
    let refuse = if !c.is_ils_peer(&peer) {
        Some("not an ILS peer of this cluster")
    } else if s.is_cut(&peer) {
        Some("link cut")
    } else {
        None
    };
    if let Some(reason) = refuse {
        s.counters.rejected("refused");
        send(
            stream,
            &Handshake::Refused {
                reason: reason.into(),
            },
        )
        .await;
        return Err(Failed {
            reason: "refused",
            detail: reason.into(),
        });
    }
    if !send(stream, &acc.challenge()).await {
        return Err(Failed::closed());
    }
    let f = read(c, stream, reader).await?;
    match acc.auth(&f, s.password()) {
        Ok((welcome, key)) => {
            if send(stream, &welcome).await {
                Ok((peer, key))
            } else {
                Err(Failed::closed())
            }
        }
        Err(HandshakeError::BadProof) => {
            s.counters.pwd_auth_failed();
            send(
                stream,
                &Handshake::Refused {
                    reason: AUTH_FAILED.into(),
                },
            )
            .await;
            Err(Failed {
                reason: "bad_proof",
                detail: "ILSPwdAuthenticationFailed: ILS password mismatch".into(),
            })
        }
        Err(e) => Err(refuse_or_drop(c, stream, e).await),
    }
}

/// Connects to `to` from this cluster's own address (so the peer knows the dialer by its
/// topology address), or from any address if that one cannot be used here.
async fn connect_from(source: IpAddr, to: SocketAddr) -> io::Result<TcpStream> {
    if !source.is_unspecified() && source.is_ipv4() == to.is_ipv4() {
        let sock = if to.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }?;
        if sock.bind(SocketAddr::new(source, 0)).is_ok()
            && let Ok(s) = sock.connect(to).await
        {
            return Ok(s);
        }
    }
    TcpStream::connect(to).await
}

/// Dialer side: connect and authenticate; `None` if refused or unreachable.
pub(super) async fn dial(
    c: &Cluster,
    peer: &str,
) -> Option<(TcpStream, FrameReader, [u8; MAC_LEN])> {
    let addr = c.ils_peer_addr(peer)?;
    let mut stream = tokio::time::timeout(DIAL_TIMEOUT, connect_from(c.ils().source, addr))
        .await
        .ok()?
        .ok()?;
    let _ = stream.set_nodelay(true);
    let mut reader = FrameReader::new(HANDSHAKE_MAX);
    let r = tokio::time::timeout(DIAL_TIMEOUT, dial_steps(c, peer, &mut stream, &mut reader))
        .await
        .ok()?;
    match r {
        Ok(key) => Some((stream, reader, key)),
        Err(Some(e)) => {
            dial_failed(c, peer, &e);
            None
        }
        // The listener closed or stalled: the peer is down or busy; the dialer retries.
        Err(None) => None,
    }
}

async fn dial_steps(
    c: &Cluster,
    peer: &str,
    stream: &mut TcpStream,
    reader: &mut FrameReader,
) -> Result<[u8; MAC_LEN], Option<HandshakeError>> {
    let s = c.ils();
    let mut d = Dial::new(s.me.clone(), peer, nonce());
    if !send(stream, &d.hello()).await {
        return Err(None);
    }
    let next = |r: Result<Frame, ReadError>| match r {
        Ok(f) => Ok(f),
        Err(ReadError::Ils(e)) => Err(Some(HandshakeError::Ils(e))),
        Err(ReadError::Eof | ReadError::Io) => Err(None),
    };
    let f = next(reader.next(stream).await)?;
    let auth = d.challenge(&f, s.password()).map_err(Some)?;
    if !send(stream, &auth).await {
        return Err(None);
    }
    let f = next(reader.next(stream).await)?;
    d.welcome(&f, s.password()).map_err(Some)
}

/// Counts and warns (throttled) about a handshake the peer refused or failed.
fn dial_failed(c: &Cluster, peer: &str, e: &HandshakeError) {
    let s = c.ils();
    let mismatch = match e {
        HandshakeError::BadProof => true,
        HandshakeError::Refused(r) => r == AUTH_FAILED,
        _ => false,
    };
    if mismatch {
        s.counters.pwd_auth_failed();
    } else if let Some(kind) = e.kind() {
        s.counters.rejected(kind);
    }
    if let Some(held_back) = s.dial_log.pass(Instant::now()) {
        let alert = if mismatch {
            "ILSPwdAuthenticationFailed"
        } else {
            "-"
        };
        tracing::warn!(
            cluster = %c.id(), %peer, error = %e, alert, held_back,
            "ILS handshake with a peer failed (logged at most every {}s; `held_back` were not)",
            LOG_EVERY.as_secs()
        );
    }
}
