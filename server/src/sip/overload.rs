//! Call throttling, as CUCM's "Code Yellow": when the datagrams a cluster's SIP socket hands
//! over have waited too long in the socket's queue, new calls are refused with `503 Service
//! Unavailable` and `Retry-After` until the queue drains, so the calls already set up finish
//! and the achieved rate stays near what the cluster can do instead of every call timing out
//! (RFC 7339's motivation; CUCM's Call Throttling rejects new calls on expected delay).
//!
//! The delay is measured, not estimated: the kernel stamps each datagram as it arrives
//! (`SO_TIMESTAMPNS`) and [`recv_stamped`] gives how long it waited before it was read; the
//! kernel also counts the datagrams it dropped because the queue was full (`SO_RXQ_OVFL`).
//! [`Throttle`] averages the last [`SAMPLE_SIZE`] delays (CUCM's "System Throttle Sample
//! Size") and enters Code Yellow above the entry latency, or at once when the kernel dropped
//! datagrams (every recent datagram then counts as late); it leaves below the exit latency.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::UdpSocket;

use crate::sync::LockExt;

/// Queue delays averaged (CUCM's System Throttle Sample Size default, 10).
pub(super) const SAMPLE_SIZE: usize = 10;

/// Receive buffer asked of the kernel for a cluster's SIP socket (capped by the kernel's
/// `net.core.rmem_max`), so a burst queues and is measured rather than dropped.
const RECV_BUFFER: usize = 4 << 20;

/// How often the share of new calls refused moves, and by how much, and its ceiling (some
/// calls always go through, so a cluster slowed by something else than calls still serves).
const STEP_EVERY: Duration = Duration::from_millis(10);
const STEP: u32 = 10;
const MAX_REFUSED: u32 = 95;

/// Code Yellow state of one cluster's SIP side: a loss-based controller (RFC 7415's "loss"
/// algorithm, run inside the cluster). While the mean queue delay is over the entry latency
/// the share of new calls refused rises by [`STEP`] points every [`STEP_EVERY`]; below the
/// exit latency it falls the same way; between the two it holds. Refusing all calls at once
/// would swing between an idle cluster and a flooded one; a share that settles lets the
/// cluster carry what it can.
#[derive(Debug)]
pub(super) struct Throttle {
    entry: Duration,
    exit: Duration,
    state: std::sync::Mutex<State>,
    /// The share of new calls refused now, in percent (0: not throttling).
    refused_pct: AtomicU64,
    /// The mean queue delay of the last [`SAMPLE_SIZE`] datagrams, in microseconds.
    mean_us: AtomicU64,
    /// The kernel's count of datagrams dropped on a full queue, as last seen.
    dropped: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    micros: [u64; SAMPLE_SIZE],
    next: usize,
    sum: u64,
    refused: u32,
    last_step: Option<std::time::Instant>,
    /// Admission credit: each new call adds the share admitted; a call goes through when a
    /// whole one has built up (spreads refusals evenly, no randomness).
    credit: u32,
}

impl Throttle {
    /// Throttles when the mean delay exceeds `entry`, eases off below `exit_percent` of it
    /// (CUCM's Code Yellow Entry Latency and Exit Latency).
    pub(super) fn new(entry: Duration, exit_percent: u32) -> Throttle {
        Throttle {
            entry,
            exit: entry * exit_percent.min(100) / 100,
            state: std::sync::Mutex::new(State::default()),
            refused_pct: AtomicU64::new(0),
            mean_us: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// Records one datagram's queue delay and the kernel's drop count read with it (`None`
    /// where unknown).
    pub(super) fn observe(&self, waited: Duration, dropped: Option<u64>) {
        let new_drops = dropped.is_some_and(|d| self.dropped.swap(d, Ordering::Relaxed) < d);
        let now = std::time::Instant::now();
        let mut s = self.state.locked();
        if new_drops {
            // A full queue: count every recent datagram as late, so it takes a window of
            // quick ones to ease off.
            let late = u64::try_from((self.entry * 2).as_micros()).unwrap_or(u64::MAX / 16);
            s.micros = [late; SAMPLE_SIZE];
            s.sum = late * SAMPLE_SIZE as u64;
        }
        let us = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX / 16);
        let i = s.next;
        s.sum = s.sum - s.micros[i] + us;
        s.micros[i] = us;
        s.next = (i + 1) % SAMPLE_SIZE;
        let mean = s.sum / SAMPLE_SIZE as u64;
        self.mean_us.store(mean, Ordering::Relaxed);
        let mean = Duration::from_micros(mean);
        let due = s
            .last_step
            .is_none_or(|t| now.duration_since(t) >= STEP_EVERY);
        let before = s.refused;
        if mean > self.entry && (due || before == 0) {
            s.refused = (before + STEP).min(MAX_REFUSED);
        } else if mean < self.exit && due && before > 0 {
            s.refused = before.saturating_sub(STEP);
        }
        if s.refused != before {
            s.last_step = Some(now);
            self.refused_pct
                .store(u64::from(s.refused), Ordering::Relaxed);
            if before == 0 {
                s.credit = 0;
                tracing::warn!(mean_delay = ?mean, new_drops, "SIP: Code Yellow: refusing a share of new calls with 503");
            } else if s.refused == 0 {
                tracing::info!(mean_delay = ?mean, "SIP: Code Yellow over: accepting every new call");
            }
        }
    }

    /// Whether a new call goes through now (false: refuse it with 503).
    pub(super) fn admit(&self) -> bool {
        let mut s = self.state.locked();
        if s.refused == 0 {
            return true;
        }
        let refused = s.refused;
        take_credit(&mut s.credit, refused)
    }

    /// In Code Yellow now (refusing a share of new calls).
    pub(super) fn yellow(&self) -> bool {
        self.refused_pct() > 0
    }

    /// The share of new calls refused now, in percent.
    pub(super) fn refused_pct(&self) -> u64 {
        self.refused_pct.load(Ordering::Relaxed)
    }

    /// The mean queue delay of the last datagrams, in microseconds.
    pub(super) fn mean_delay_us(&self) -> u64 {
        self.mean_us.load(Ordering::Relaxed)
    }

    /// Datagrams the kernel dropped on this socket's full queue so far.
    pub(super) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// How long a trunk peer's overload report holds (RFC 7339's `oc-validity`, ms).
pub(super) const OC_VALIDITY_MS: u64 = 500;

/// What trunk peers asked of this cluster (RFC 7339 overload control): a peer that throttles
/// puts `oc=PERCENT` in the Via this cluster added, and this cluster then refuses that share
/// of new calls to it itself, before they cost the peer anything.
#[derive(Debug, Default)]
pub(super) struct PeerReports {
    by_peer: std::sync::Mutex<std::collections::HashMap<SocketAddr, PeerReport>>,
}

#[derive(Debug)]
struct PeerReport {
    refused: u32,
    until: std::time::Instant,
    credit: u32,
}

impl PeerReports {
    /// Records `peer`'s report: refuse `pct` % of new calls to it for `validity`.
    pub(super) fn record(&self, peer: SocketAddr, pct: u32, validity: Duration) {
        let mut m = self.by_peer.locked();
        if pct == 0 {
            m.remove(&peer);
            return;
        }
        let until = std::time::Instant::now() + validity;
        let e = m.entry(peer).or_insert(PeerReport {
            refused: 0,
            until,
            credit: 0,
        });
        e.refused = pct.min(100);
        e.until = until;
    }

    /// Whether a new call to `peer` goes on (false: refuse it here with 503).
    pub(super) fn admit(&self, peer: SocketAddr) -> bool {
        let mut m = self.by_peer.locked();
        let Some(r) = m.get_mut(&peer) else {
            return true;
        };
        if r.until <= std::time::Instant::now() {
            m.remove(&peer);
            return true;
        }
        take_credit(&mut r.credit, r.refused)
    }
}

/// Loss-based admission without randomness: each new call adds the share admitted
/// (`100 - refused`) to `credit`, and goes through when a whole call's worth has built up, so
/// refusals are spread evenly.
fn take_credit(credit: &mut u32, refused: u32) -> bool {
    *credit += 100 - refused.min(100);
    if *credit >= 100 {
        *credit -= 100;
        true
    } else {
        false
    }
}

/// One received datagram: its length, sender, how long it waited in the socket's queue
/// (zero where the kernel gives no timestamp) and the kernel's drop count (if known).
pub(super) struct Received {
    pub(super) len: usize,
    pub(super) from: SocketAddr,
    pub(super) waited: Duration,
    pub(super) dropped: Option<u64>,
}

/// Asks the kernel to stamp arrivals, count drops and queue more; best effort (a socket
/// without it is served, its delays read as zero).
pub(super) fn prepare(socket: &UdpSocket) {
    #[cfg(target_os = "linux")]
    {
        use nix::sys::socket::{setsockopt, sockopt};
        let fd = std::os::fd::AsFd::as_fd(socket);
        for (what, r) in [
            (
                "SO_TIMESTAMPNS",
                setsockopt(&fd, sockopt::ReceiveTimestampns, &true),
            ),
            ("SO_RXQ_OVFL", setsockopt(&fd, sockopt::RxqOvfl, &1)),
            ("SO_RCVBUF", setsockopt(&fd, sockopt::RcvBuf, &RECV_BUFFER)),
        ] {
            if let Err(e) = r {
                tracing::debug!(option = what, error = %e, "SIP socket option not set");
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = socket;
}

/// Receives one datagram into `buf`, with its queue delay.
#[cfg(target_os = "linux")]
pub(super) async fn recv_stamped(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<Received> {
    use std::io::IoSliceMut;
    use std::os::fd::AsRawFd;

    use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg};
    use nix::sys::time::TimeSpec;

    let mut cmsg = nix::cmsg_space!(TimeSpec, u32);
    socket
        .async_io(tokio::io::Interest::READABLE, || {
            let mut iov = [IoSliceMut::new(buf)];
            let msg = recvmsg::<SockaddrStorage>(
                socket.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_TRUNC,
            )?;
            let from = msg
                .address
                .and_then(|a| {
                    a.as_sockaddr_in()
                        .map(|v4| SocketAddr::from(std::net::SocketAddrV4::from(*v4)))
                        .or_else(|| {
                            a.as_sockaddr_in6()
                                .map(|v6| SocketAddr::from(std::net::SocketAddrV6::from(*v6)))
                        })
                })
                .ok_or_else(|| io::Error::other("datagram without an IP sender"))?;
            let mut waited = Duration::ZERO;
            let mut dropped = None;
            for c in msg.cmsgs()? {
                match c {
                    ControlMessageOwned::ScmTimestampns(ts) => {
                        let arrived = std::time::UNIX_EPOCH + Duration::from(ts);
                        waited = std::time::SystemTime::now()
                            .duration_since(arrived)
                            .unwrap_or_default();
                    }
                    ControlMessageOwned::RxqOvfl(n) => dropped = Some(u64::from(n)),
                    _ => {}
                }
            }
            Ok(Received {
                len: msg.bytes,
                from,
                waited,
                dropped,
            })
        })
        .await
}

/// Receives one datagram into `buf` (no queue delay known on this system).
#[cfg(not(target_os = "linux"))]
pub(super) async fn recv_stamped(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<Received> {
    let (len, from) = socket.recv_from(buf).await?;
    Ok(Received {
        len,
        from,
        waited: Duration::ZERO,
        dropped: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_late_queue_refuses_a_growing_share_of_new_calls_and_a_quick_one_eases_off() {
        let t = Throttle::new(20 * MS, 40);
        // One late datagram among quick ones does not throttle: the mean of ten is 10 ms.
        t.observe(100 * MS, None);
        for _ in 0..8 {
            t.observe(Duration::ZERO, None);
        }
        assert!(!t.yellow() && t.admit());
        // A queue that stays 30 ms behind does: 10 % at once, the next call refused.
        for _ in 0..SAMPLE_SIZE {
            t.observe(30 * MS, None);
        }
        assert_eq!(t.refused_pct(), 10);
        let admitted = (0..100).filter(|_| t.admit()).count();
        assert_eq!(admitted, 90, "one call in ten refused, spread evenly");
        // Still late a step later: 20 %.
        std::thread::sleep(STEP_EVERY);
        t.observe(30 * MS, None);
        assert_eq!(t.refused_pct(), 20);
        // Between exit (8 ms) and entry (20 ms) it holds; below 8 ms it eases off a step at
        // a time.
        for _ in 0..SAMPLE_SIZE {
            t.observe(10 * MS, None);
        }
        std::thread::sleep(STEP_EVERY);
        t.observe(10 * MS, None);
        assert_eq!(t.refused_pct(), 20);
        for _ in 0..SAMPLE_SIZE {
            t.observe(MS, None);
        }
        assert_eq!(t.refused_pct(), 10);
        std::thread::sleep(STEP_EVERY);
        t.observe(MS, None);
        assert!(!t.yellow() && t.admit());
    }

    #[test]
    fn the_share_refused_stops_below_all() {
        let t = Throttle::new(20 * MS, 40);
        for _ in 0..12 {
            t.observe(500 * MS, None);
            std::thread::sleep(STEP_EVERY);
        }
        assert_eq!(t.refused_pct(), u64::from(MAX_REFUSED));
        assert_eq!((0..100).filter(|_| t.admit()).count(), 5);
    }

    #[test]
    fn a_peers_report_refuses_its_share_until_it_lapses() {
        let r = PeerReports::default();
        let peer: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let other: SocketAddr = "127.0.0.1:5061".parse().unwrap();
        r.record(peer, 30, Duration::from_millis(50));
        assert_eq!((0..100).filter(|_| r.admit(peer)).count(), 70);
        assert!(
            (0..10).all(|_| r.admit(other)),
            "another peer is not reduced"
        );
        std::thread::sleep(Duration::from_millis(60));
        assert!((0..10).all(|_| r.admit(peer)), "lapsed");
        r.record(peer, 30, Duration::from_secs(5));
        r.record(peer, 0, Duration::from_secs(5));
        assert!((0..10).all(|_| r.admit(peer)), "oc=0 ends it");
    }

    #[test]
    fn datagrams_dropped_by_the_kernel_throttle_at_once() {
        let t = Throttle::new(20 * MS, 40);
        t.observe(Duration::ZERO, Some(0));
        assert!(!t.yellow());
        t.observe(Duration::ZERO, Some(3));
        assert!(t.yellow(), "3 drops since the last datagram");
        assert_eq!(t.dropped(), 3);
    }
}
