//! The ILS handshake over a socket: [`accept`] on the listener, [`dial`] on the dialer. The
//! steps are `emroam_protocol::ils::{Accept, Dial}`: the dialer proves the password first.
//! With ILS over TLS the TLS handshake comes first (within the same deadline), and the
//! listener admits a dialer only if its certificate names the cluster ID its `Hello` claims.
//!
//! A handshake that fails is counted (`handshakes_failed` by reason on the listener;
//! ILSPwdAuthenticationFailed and refusals as before) and warned about at most once per
//! [`LOG_EVERY`] per side, with the number held back; never with the password or a proof.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use emroam_protocol::ils::{AUTH_FAILED, Accept, Dial, Frame, Handshake, HandshakeError, MAC_LEN};
use rustls_pki_types::CertificateDer;
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

use super::state::LOG_EVERY;
use super::tls;
use super::wire::{Conn, FrameReader, ReadError, nonce, send, tls_failure};
use crate::cluster::Cluster;

/// Time a listener gives a dialer to finish TLS (when on) and prove the password (short:
/// until then it is a stranger holding a slot).
pub(super) const ACCEPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Time a dialer allows for connecting, and then for the whole handshake (TLS included).
const DIAL_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest handshake frame.
pub(super) const HANDSHAKE_MAX: usize = 16 * 1024;

/// An authenticated connection: the peer's cluster ID, the stream, what was read past the
/// handshake, and the session key.
pub(super) type Accepted = (String, Conn, FrameReader, [u8; MAC_LEN]);

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

/// Listener side: TLS when on, then the password handshake, all within [`ACCEPT_TIMEOUT`];
/// `None` if it failed (counted and logged).
pub(super) async fn accept(c: &Cluster, tcp: TcpStream, from: IpAddr) -> Option<Accepted> {
    let mut claimed = None;
    let r = tokio::time::timeout(ACCEPT_TIMEOUT, accept_all(c, tcp, &mut claimed)).await;
    let f = match r {
        Ok(Ok(done)) => return Some(done),
        Ok(Err(f)) => f,
        Err(_) => Failed {
            reason: "timeout",
            detail: format!(
                "no {}proof of the password within {}s",
                if c.ils().tls.is_some() {
                    "TLS handshake and "
                } else {
                    ""
                },
                ACCEPT_TIMEOUT.as_secs()
            ),
        },
    };
    accept_failed(c, f.reason, from, claimed.as_deref(), &f.detail);
    None
}

async fn accept_all(
    c: &Cluster,
    tcp: TcpStream,
    claimed: &mut Option<String>,
) -> Result<Accepted, Failed> {
    let (mut conn, cert): (Conn, Option<CertificateDer<'static>>) = match &c.ils().tls {
        None => (Box::new(tcp), None),
        Some(t) => {
            let s = t.acceptor.accept(tcp).await.map_err(|e| {
                if tls_failure(&e).is_none() && e.kind() == io::ErrorKind::UnexpectedEof {
                    return Failed::closed();
                }
                Failed {
                    reason: "tls",
                    detail: format!("TLS handshake failed: {e}"),
                }
            })?;
            let cert = s
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.clone().into_owned());
            (Box::new(s), cert)
        }
    };
    let mut reader = FrameReader::new(HANDSHAKE_MAX);
    let (peer, key) = accept_steps(c, &mut conn, &mut reader, claimed, cert.as_ref()).await?;
    Ok((peer, conn, reader, key))
}

async fn read(c: &Cluster, stream: &mut Conn, reader: &mut FrameReader) -> Result<Frame, Failed> {
    match reader.next(stream).await {
        Ok(f) => Ok(f),
        Err(ReadError::Ils(e)) => {
            c.ils().counters.rejected(e.kind());
            Err(Failed {
                reason: "bad_input",
                detail: e.to_string(),
            })
        }
        Err(ReadError::Eof | ReadError::Io(_)) => Err(Failed::closed()),
    }
}

/// Counts a step that failed on what the dialer sent; answers `Refused` to another version.
async fn refuse_or_drop(c: &Cluster, stream: &mut Conn, e: HandshakeError) -> Failed {
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
    stream: &mut Conn,
    reader: &mut FrameReader,
    claimed: &mut Option<String>,
    cert: Option<&CertificateDer<'_>>,
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
        Some(("refused", "not an ILS peer of this cluster"))
    } else if s.is_cut(&peer) {
        Some(("refused", "link cut"))
    } else if s.tls.is_some() && !cert.is_some_and(|cert| tls::names_id(cert, &peer)) {
        Some((
            "tls",
            "its TLS certificate does not name the cluster it claims to be",
        ))
    } else {
        None
    };
    if let Some((counted, reason)) = refuse {
        if counted == "refused" {
            s.counters.rejected("refused");
        }
        send(
            stream,
            &Handshake::Refused {
                reason: reason.into(),
            },
        )
        .await;
        return Err(Failed {
            reason: counted,
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

/// Why a dial failed in a way worth counting and logging (a peer down or busy is not).
#[derive(Debug, thiserror::Error)]
enum DialError {
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// ILS over TLS: this side refused the peer's certificate, or the peer refused ours.
    #[error("TLS: {0}")]
    Tls(String),
}

/// An I/O error on the dialer: a TLS failure is worth logging; anything else means the peer
/// is down or busy (the dialer retries).
fn io_failure(e: &io::Error) -> Option<DialError> {
    tls_failure(e).map(DialError::Tls)
}

/// Dialer side: connect, TLS when on, and authenticate; `None` if refused or unreachable.
pub(super) async fn dial(c: &Cluster, peer: &str) -> Option<(Conn, FrameReader, [u8; MAC_LEN])> {
    let addr = c.ils_peer_addr(peer)?;
    let tcp = tokio::time::timeout(DIAL_TIMEOUT, connect_from(c.ils().source, addr))
        .await
        .ok()?
        .ok()?;
    let _ = tcp.set_nodelay(true);
    let r = tokio::time::timeout(DIAL_TIMEOUT, dial_all(c, peer, tcp))
        .await
        .ok()?;
    match r {
        Ok(done) => Some(done),
        Err(Some(e)) => {
            dial_failed(c, peer, &e);
            None
        }
        // The listener closed or stalled: the peer is down or busy; the dialer retries.
        Err(None) => None,
    }
}

async fn dial_all(
    c: &Cluster,
    peer: &str,
    tcp: TcpStream,
) -> Result<(Conn, FrameReader, [u8; MAC_LEN]), Option<DialError>> {
    let mut conn: Conn = match &c.ils().tls {
        None => Box::new(tcp),
        Some(t) => {
            let name = tls::dns_name(peer).map_err(|e| Some(DialError::Tls(e.to_string())))?;
            Box::new(
                t.connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| io_failure(&e))?,
            )
        }
    };
    let mut reader = FrameReader::new(HANDSHAKE_MAX);
    let key = dial_steps(c, peer, &mut conn, &mut reader).await?;
    Ok((conn, reader, key))
}

async fn dial_steps(
    c: &Cluster,
    peer: &str,
    stream: &mut Conn,
    reader: &mut FrameReader,
) -> Result<[u8; MAC_LEN], Option<DialError>> {
    let s = c.ils();
    let mut d = Dial::new(s.me.clone(), peer, nonce());
    if !send(stream, &d.hello()).await {
        return Err(None);
    }
    let next = |r: Result<Frame, ReadError>| match r {
        Ok(f) => Ok(f),
        Err(ReadError::Ils(e)) => Err(Some(HandshakeError::Ils(e).into())),
        Err(ReadError::Io(e)) => Err(io_failure(&e)),
        Err(ReadError::Eof) => Err(None),
    };
    let f = next(reader.next(stream).await)?;
    let auth = d.challenge(&f, s.password()).map_err(|e| Some(e.into()))?;
    if !send(stream, &auth).await {
        return Err(None);
    }
    let f = next(reader.next(stream).await)?;
    d.welcome(&f, s.password()).map_err(|e| Some(e.into()))
}

/// Counts and warns (throttled) about a handshake the peer refused or failed.
fn dial_failed(c: &Cluster, peer: &str, e: &DialError) {
    let s = c.ils();
    let mismatch = match e {
        DialError::Handshake(HandshakeError::BadProof) => true,
        DialError::Handshake(HandshakeError::Refused(r)) => r == AUTH_FAILED,
        _ => false,
    };
    if mismatch {
        s.counters.pwd_auth_failed();
    } else if let DialError::Tls(_) = e {
        s.counters.rejected("tls");
    } else if let DialError::Handshake(h) = e
        && let Some(kind) = h.kind()
    {
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
