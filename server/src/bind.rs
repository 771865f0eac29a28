//! Binding a cluster's addresses: [`ClusterListeners`] (listening, what [`crate::start`]
//! serves on), and [`ClusterSockets`], the topology's addresses bound but not yet listening.
//!
//! `emroam server` binds first (a port in use is reported before anything slow happens) and
//! listens only once its clusters are loaded: until then a client's connection is refused,
//! which it can retry at once, instead of being accepted by the kernel and left unanswered for
//! as long as loading takes (docs/decisions.md, "Listen when ready").

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket, UdpSocket};

use crate::error::ServerError;
use crate::topology::{ClusterSpec, IlsRole, Topology};

/// Pending connections the kernel queues on each listener (what `TcpListener::bind` uses).
const BACKLOG: u32 = 1024;

/// One TCP address of a cluster, bound but not listening: connections to it are refused.
#[derive(Debug)]
struct Bound {
    cluster: String,
    addr: SocketAddr,
    socket: TcpSocket,
}

impl Bound {
    fn new(cluster: &str, addr: SocketAddr) -> Result<Bound, ServerError> {
        let failed = |source| ServerError::Bind {
            cluster: cluster.to_owned(),
            addr,
            source,
        };
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(failed)?;
        // As `TcpListener::bind` does: a restart need not wait out TIME_WAIT.
        socket.set_reuseaddr(true).map_err(failed)?;
        socket.bind(addr).map_err(failed)?;
        Ok(Bound {
            cluster: cluster.to_owned(),
            addr,
            socket,
        })
    }

    fn listen(self) -> Result<TcpListener, ServerError> {
        self.socket
            .listen(BACKLOG)
            .map_err(|source| ServerError::Bind {
                cluster: self.cluster,
                addr: self.addr,
                source,
            })
    }
}

/// A cluster's topology addresses, bound and not yet listening ([`ClusterSockets::listen`]).
#[derive(Debug)]
pub struct ClusterSockets {
    http: Bound,
    config: Bound,
    ils: Option<Bound>,
    sip: Option<UdpSocket>,
}

impl ClusterSockets {
    /// Binds the topology's addresses without listening. A cluster whose SIP port is taken
    /// still serves EM (warned), so topologies that give no SIP ports (5060 everywhere) keep
    /// starting.
    ///
    /// # Errors
    /// [`ServerError::Bind`].
    pub async fn bind(spec: &ClusterSpec) -> Result<ClusterSockets, ServerError> {
        let at = |port: u16| Bound::new(&spec.id, SocketAddr::new(spec.address, port));
        let ils = if spec.ils == IlsRole::Standalone {
            None
        } else {
            Some(at(spec.ports.ils)?)
        };
        let sip_addr = SocketAddr::new(spec.address, spec.ports.sip);
        let sip = match UdpSocket::bind(sip_addr).await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(cluster = %spec.id, addr = %sip_addr, error = %e, "SIP port unavailable; this cluster runs without SIP");
                None
            }
        };
        Ok(ClusterSockets {
            http: at(spec.ports.http)?,
            config: at(spec.ports.config)?,
            ils,
            sip,
        })
    }

    /// Starts listening: from here the kernel accepts connections.
    ///
    /// # Errors
    /// [`ServerError::Bind`] (another socket bound the same address meanwhile and listened first).
    pub fn listen(self) -> Result<ClusterListeners, ServerError> {
        Ok(ClusterListeners {
            http: self.http.listen()?,
            config: self.config.listen()?,
            ils: self.ils.map(Bound::listen).transpose()?,
            sip: self.sip,
        })
    }
}

/// The listeners of one cluster.
#[derive(Debug)]
pub struct ClusterListeners {
    /// HTTP port (8080).
    pub http: TcpListener,
    /// Config-file port (6970).
    pub config: TcpListener,
    /// ILS port (7502); `None` for a standalone cluster.
    pub ils: Option<TcpListener>,
    /// SIP port (5060, UDP); `None`: no SIP (registrar and proxy off).
    pub sip: Option<UdpSocket>,
}

impl ClusterListeners {
    /// Binds four ephemeral ports on 127.0.0.1 (tests; SIP on UDP); a standalone cluster
    /// ignores the ILS one.
    ///
    /// # Errors
    /// The bind failed.
    pub async fn ephemeral() -> std::io::Result<ClusterListeners> {
        Ok(ClusterListeners {
            http: TcpListener::bind("127.0.0.1:0").await?,
            config: TcpListener::bind("127.0.0.1:0").await?,
            ils: Some(TcpListener::bind("127.0.0.1:0").await?),
            sip: Some(UdpSocket::bind("127.0.0.1:0").await?),
        })
    }
}

/// Binds every cluster of `topo` on its own address with OS-chosen ports and rewrites the
/// topology's ports to match, so phones and profiles see the real URLs (the demo, tests and
/// benchmarks). ILS peers dial each other at the topology's ILS ports, so those are rewritten
/// too.
///
/// # Errors
/// [`ServerError::Bind`].
pub async fn bind_ephemeral(
    topo: &mut Topology,
) -> Result<Vec<(String, ClusterListeners)>, ServerError> {
    let mut out = Vec::new();
    for c in &mut topo.clusters {
        let addr = SocketAddr::new(c.address, 0);
        let failed = |source| ServerError::Bind {
            cluster: c.id.clone(),
            addr,
            source,
        };
        let bind = || async { TcpListener::bind(addr).await };
        let http = bind().await.map_err(failed)?;
        let config = bind().await.map_err(failed)?;
        let ils = if c.ils == IlsRole::Standalone {
            None
        } else {
            Some(bind().await.map_err(failed)?)
        };
        let sip = UdpSocket::bind(addr).await.map_err(failed)?;
        let port = |r: std::io::Result<SocketAddr>| r.map(|a| a.port()).map_err(failed);
        c.ports.http = port(http.local_addr())?;
        c.ports.config = port(config.local_addr())?;
        if let Some(l) = &ils {
            c.ports.ils = port(l.local_addr())?;
        }
        c.ports.sip = port(sip.local_addr())?;
        out.push((
            c.id.clone(),
            ClusterListeners {
                http,
                config,
                ils,
                sip: Some(sip),
            },
        ));
    }
    Ok(out)
}
