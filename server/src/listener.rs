//! A TCP listener behind an up/down switch (a cluster's listeners, or its ILS alone): closed
//! while the switch is down, so connections are refused, and bound again on the same address
//! when it comes back up. The HTTP, config and ILS ports all accept through it.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// What [`SwitchedListener::next`] saw.
#[derive(Debug)]
pub(crate) enum Event {
    /// A connection and its peer.
    Accepted(TcpStream, SocketAddr),
    /// The switch went down: the listener is closed now.
    Down,
}

/// A listener following a switch.
#[derive(Debug)]
pub(crate) struct SwitchedListener {
    listener: Option<TcpListener>,
    /// The address to bind again (the first listener's).
    addr: Option<SocketAddr>,
    up: watch::Receiver<bool>,
    /// Failed accepts since the last warning, the pause before the next try, and when the
    /// last warning was written.
    failed: u64,
    backoff: Duration,
    warned: Option<tokio::time::Instant>,
}

/// The first pause after a failed accept; it doubles with each failure in a row.
const BACKOFF_MIN: Duration = Duration::from_millis(10);
/// The longest pause after failed accepts.
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// At most one `accept failed` warning this often (it says how many failed since).
const WARN_EVERY: Duration = Duration::from_secs(10);

impl SwitchedListener {
    /// Follows `up` with `listener` (bound, so the switch is taken to be up).
    pub(crate) fn new(listener: TcpListener, up: watch::Receiver<bool>) -> SwitchedListener {
        SwitchedListener {
            addr: listener.local_addr().ok(),
            listener: Some(listener),
            up,
            failed: 0,
            backoff: BACKOFF_MIN,
            warned: None,
        }
    }

    /// The next connection, or the switch going down. While down it waits for the switch to
    /// come back and binds again. `None`: `shutdown` was cancelled, or the switch is gone.
    /// Failed accepts (out of file descriptors and the like) back off (10 ms doubling to 1 s)
    /// and are counted; one warning every 10 s at most says how many failed.
    pub(crate) async fn next(&mut self, shutdown: &CancellationToken) -> Option<Event> {
        loop {
            let Some(l) = self.listener.as_ref() else {
                tokio::select! {
                    () = shutdown.cancelled() => return None,
                    r = self.up.wait_for(|u| *u) => if r.is_err() { return None },
                }
                let a = self.addr?;
                match bind_again(a).await {
                    Ok(l) => self.listener = Some(l),
                    Err(e) => {
                        tracing::error!(addr = %a, error = %e, "cannot rebind listener");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
                continue;
            };
            tokio::select! {
                () = shutdown.cancelled() => return None,
                r = self.up.changed() => {
                    if r.is_err() || !*self.up.borrow() {
                        self.listener = None;
                        return Some(Event::Down);
                    }
                }
                r = l.accept() => match r {
                    Ok((stream, peer)) => {
                        self.backoff = BACKOFF_MIN;
                        return Some(Event::Accepted(stream, peer));
                    }
                    Err(e) => self.accept_failed(&e).await,
                },
            }
        }
    }
}

impl SwitchedListener {
    /// Counts a failed accept, warns if none was written for [`WARN_EVERY`], and pauses.
    async fn accept_failed(&mut self, e: &std::io::Error) {
        self.failed += 1;
        let now = tokio::time::Instant::now();
        if self
            .warned
            .is_none_or(|w| now.duration_since(w) >= WARN_EVERY)
        {
            tracing::warn!(addr = ?self.addr, error = %e, failed = self.failed, "accept failed; backing off");
            self.failed = 0;
            self.warned = Some(now);
        }
        tokio::time::sleep(self.backoff).await;
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
    }
}

/// Binds `addr` again (with `SO_REUSEADDR`, so connections of the last listener in TIME_WAIT do
/// not stop it).
async fn bind_again(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let sock = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    sock.set_reuseaddr(true)?;
    sock.bind(addr)?;
    sock.listen(1024)
}
