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
}

impl SwitchedListener {
    /// Follows `up` with `listener` (bound, so the switch is taken to be up).
    pub(crate) fn new(listener: TcpListener, up: watch::Receiver<bool>) -> SwitchedListener {
        SwitchedListener {
            addr: listener.local_addr().ok(),
            listener: Some(listener),
            up,
        }
    }

    /// The next connection, or the switch going down. While down it waits for the switch to
    /// come back and binds again. `None`: `shutdown` was cancelled, or the switch is gone.
    /// Failed accepts (out of file descriptors and the like) are logged and retried after a
    /// pause.
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
                    Ok((stream, peer)) => return Some(Event::Accepted(stream, peer)),
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                },
            }
        }
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
