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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::UdpSocket;

use crate::sync::LockExt;

/// Queue delays averaged (CUCM's System Throttle Sample Size default, 10).
pub(super) const SAMPLE_SIZE: usize = 10;

/// Receive buffer asked of the kernel for a cluster's SIP socket (capped by the kernel's
/// `net.core.rmem_max`), so a burst queues and is measured rather than dropped.
const RECV_BUFFER: usize = 4 << 20;

/// Code Yellow state of one cluster's SIP side.
#[derive(Debug)]
pub(super) struct Throttle {
    entry: Duration,
    exit: Duration,
    window: std::sync::Mutex<Window>,
    yellow: AtomicBool,
    /// The mean queue delay of the last [`SAMPLE_SIZE`] datagrams, in microseconds.
    mean_us: AtomicU64,
    /// The kernel's count of datagrams dropped on a full queue, as last seen.
    dropped: AtomicU64,
}

#[derive(Debug, Default)]
struct Window {
    micros: [u64; SAMPLE_SIZE],
    next: usize,
    sum: u64,
}

impl Throttle {
    /// Enters Code Yellow when the mean delay exceeds `entry`, leaves when it falls below
    /// `exit_percent` of it (CUCM's Code Yellow Entry Latency and Exit Latency).
    pub(super) fn new(entry: Duration, exit_percent: u32) -> Throttle {
        Throttle {
            entry,
            exit: entry * exit_percent.min(100) / 100,
            window: std::sync::Mutex::new(Window::default()),
            yellow: AtomicBool::new(false),
            mean_us: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// Records one datagram's queue delay and the kernel's drop count read with it (`None`
    /// where unknown); true when new calls are to be refused now.
    pub(super) fn observe(&self, waited: Duration, dropped: Option<u64>) -> bool {
        let new_drops = dropped.is_some_and(|d| self.dropped.swap(d, Ordering::Relaxed) < d);
        let mean = {
            let mut w = self.window.locked();
            if new_drops {
                // A full queue: count every recent datagram as late, so it takes a window of
                // quick ones to leave.
                let late = u64::try_from((self.entry * 2).as_micros()).unwrap_or(u64::MAX / 16);
                w.micros = [late; SAMPLE_SIZE];
                w.sum = late * SAMPLE_SIZE as u64;
            }
            let us = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX / 16);
            let i = w.next;
            w.sum = w.sum - w.micros[i] + us;
            w.micros[i] = us;
            w.next = (i + 1) % SAMPLE_SIZE;
            let mean = w.sum / SAMPLE_SIZE as u64;
            self.mean_us.store(mean, Ordering::Relaxed);
            Duration::from_micros(mean)
        };
        let yellow = self.yellow.load(Ordering::Relaxed);
        let now = if new_drops || mean > self.entry {
            true
        } else if mean < self.exit {
            false
        } else {
            yellow
        };
        if now != yellow {
            self.yellow.store(now, Ordering::Relaxed);
            if now {
                tracing::warn!(mean_delay = ?mean, new_drops, "SIP: Code Yellow: refusing new calls with 503");
            } else {
                tracing::info!(mean_delay = ?mean, "SIP: Code Yellow over: accepting new calls");
            }
        }
        now
    }

    /// In Code Yellow now.
    pub(super) fn yellow(&self) -> bool {
        self.yellow.load(Ordering::Relaxed)
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
    fn code_yellow_is_entered_on_the_mean_delay_and_left_below_the_exit_latency() {
        let t = Throttle::new(20 * MS, 40);
        // One late datagram among quick ones does not throttle: the mean of ten is 10 ms.
        assert!(!t.observe(100 * MS, None));
        for _ in 0..8 {
            assert!(!t.observe(Duration::ZERO, None));
        }
        // A queue that stays 30 ms behind does.
        let entered = (0..SAMPLE_SIZE).any(|_| t.observe(30 * MS, None));
        assert!(entered && t.yellow());
        // Between exit (8 ms) and entry (20 ms) it stays yellow; below 8 ms it leaves.
        for _ in 0..SAMPLE_SIZE {
            t.observe(10 * MS, None);
        }
        assert!(t.yellow());
        for _ in 0..SAMPLE_SIZE {
            t.observe(MS, None);
        }
        assert!(!t.yellow());
    }

    #[test]
    fn datagrams_dropped_by_the_kernel_throttle_at_once() {
        let t = Throttle::new(20 * MS, 40);
        assert!(!t.observe(Duration::ZERO, Some(0)));
        assert!(
            t.observe(Duration::ZERO, Some(3)),
            "3 drops since the last datagram"
        );
        assert_eq!(t.dropped(), 3);
        // No new drops and a window of quick datagrams: over.
        assert!(t.observe(Duration::ZERO, Some(3)));
        for _ in 0..SAMPLE_SIZE {
            t.observe(Duration::ZERO, Some(3));
        }
        assert!(!t.yellow());
    }
}
