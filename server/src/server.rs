//! Starting clusters: on listeners the caller bound ([`start`], what tests use with
//! `127.0.0.1:0`), or on the topology's addresses ([`run`], what `emroam server` calls).
//! Both load the clusters first (each database locked, [`crate::datalock`], then opened), then
//! serve; [`run`] binds before loading and listens after ([`crate::bind`]), so nobody is
//! accepted before a cluster can answer.
//!
//! Each cluster serves HTTP (EM application, EM service, counters, admin), config files, ILS
//! (TCP, unless standalone) and SIP (UDP). Several clusters can run in one process, each on its
//! own addresses. Shutdown: the root token is cancelled → listeners stop accepting and
//! in-flight requests drain (up to the deadline) → cluster timers stop → the trackers are
//! awaited.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use hyper::StatusCode;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use crate::bind::{ClusterListeners, ClusterSockets, bind_ephemeral};
use crate::cluster::Cluster;
use crate::error::ServerError;
use crate::http::{self, HttpError, Limits, Req, Resp, into_response, respond};
use crate::sip::Sip;
use crate::topology::Topology;
use crate::{admin, configsrv, emapp, emservice};

/// Server-wide options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Where each cluster keeps `<id>.db` (`None`: in memory, logins lost at exit).
    pub data_dir: Option<PathBuf>,
    /// Token that lets non-loopback peers use `/admin/` (`Authorization: Bearer ...`).
    pub admin_token: Option<String>,
    /// Connection limits and the drain deadline.
    pub limits: Limits,
    /// How hard a login commit holds (SQLite `synchronous`): survives a crash by default.
    pub durability: crate::store::Durability,
    /// SIP timers.
    pub sip: crate::sip::SipOptions,
}

/// Request context of a cluster's HTTP port.
#[derive(Debug, Clone)]
pub struct HttpCtx {
    /// The cluster this port belongs to.
    pub cluster: Cluster,
    /// Every cluster of the process (for the admin API).
    pub all: Arc<[Cluster]>,
    /// The SIP side of every cluster of the process that runs one, by cluster ID (for the
    /// counters).
    pub sips: Arc<HashMap<String, Sip>>,
    /// Admin token.
    pub admin_token: Option<Arc<str>>,
}

/// Routes one request of a cluster's HTTP port; callable without a socket.
pub async fn handle_http(ctx: &HttpCtx, req: &Req) -> Resp {
    let c = &ctx.cluster;
    let sip = || ctx.sips.get(c.id()).map(Sip::counters);
    let readonly = matches!(
        req.path.as_str(),
        "/metrics" | "/metrics.json" | "/api/counters"
    );
    if readonly && req.method != hyper::Method::GET && req.method != hyper::Method::HEAD {
        return into_response(HttpError::MethodNotAllowedHere("GET, HEAD"));
    }
    match req.path.as_str() {
        emapp::PATH => emapp::handle(c, req).await,
        emservice::PATH => emservice::handle(c, req).await,
        "/metrics" => {
            let text = crate::prometheus::cluster_text(c, sip().as_ref());
            respond(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                text,
            )
        }
        "/metrics.json" | "/api/counters" => {
            http::json(StatusCode::OK, &admin::counters_doc(c, sip()))
        }
        p if p == "/admin" || p.starts_with("/admin/") => {
            admin::handle(&ctx.all, &ctx.sips, ctx.admin_token.as_deref(), req).await
        }
        _ => into_response(HttpError::NotFound),
    }
}

/// Clusters being served; dropping it does not stop them (cancel the token given to [`start`]).
#[derive(Debug)]
pub struct Running {
    clusters: Arc<[Cluster]>,
    sips: Vec<Option<(Sip, SocketAddr)>>,
    ctxs: Vec<HttpCtx>,
    addrs: Vec<(SocketAddr, SocketAddr)>,
    serving: TaskTracker,
    shutdown: CancellationToken,
    deadline: std::time::Duration,
}

impl Running {
    /// The clusters, in start order.
    pub fn clusters(&self) -> &[Cluster] {
        &self.clusters
    }

    /// A cluster by ID.
    pub fn cluster(&self, id: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.id() == id)
    }

    /// (HTTP, config) addresses of a cluster.
    pub fn addrs(&self, id: &str) -> Option<(SocketAddr, SocketAddr)> {
        self.clusters
            .iter()
            .position(|c| c.id() == id)
            .map(|i| self.addrs[i])
    }

    /// A cluster's SIP state and bound SIP address (`None`: no SIP socket).
    pub fn sip(&self, id: &str) -> Option<(&Sip, SocketAddr)> {
        let i = self.clusters.iter().position(|c| c.id() == id)?;
        self.sips[i].as_ref().map(|(s, a)| (s, *a))
    }

    /// The context a cluster's HTTP port serves with ([`handle_http`] without a socket).
    pub fn http_ctx(&self, id: &str) -> Option<&HttpCtx> {
        let i = self.clusters.iter().position(|c| c.id() == id)?;
        self.ctxs.get(i)
    }

    /// Waits until the shutdown token is cancelled and everything has drained (each step
    /// bounded by the drain deadline).
    pub async fn wait(self) {
        self.shutdown.cancelled().await;
        self.serving.close();
        if tokio::time::timeout(self.deadline * 2, self.serving.wait())
            .await
            .is_err()
        {
            tracing::warn!("listeners did not stop within the deadline");
        }
        for c in self.clusters.iter() {
            c.token().cancel();
            c.tracker().close();
        }
        for c in self.clusters.iter() {
            if tokio::time::timeout(self.deadline, c.tracker().wait())
                .await
                .is_err()
            {
                tracing::warn!(cluster = %c.id(), "cluster tasks did not finish within the deadline");
            }
        }
    }

    /// Cancels the shutdown token and waits for the drain.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        self.wait().await;
    }
}

/// Starts the named clusters of `topo` on listeners the caller bound.
///
/// # Errors
/// An unknown cluster ID, a cluster database another process holds ([`ServerError::Locked`]),
/// or a database that cannot be opened.
pub async fn start(
    topo: &Topology,
    listeners: Vec<(String, ClusterListeners)>,
    opts: &Options,
    shutdown: CancellationToken,
) -> Result<Running, ServerError> {
    let ids: Vec<String> = listeners.iter().map(|(id, _)| id.clone()).collect();
    let loaded = open(topo, &ids, opts, &shutdown).await?;
    serve(topo, loaded, listeners, opts, shutdown)
}

/// Clusters loaded and not yet serving, with what serving them needs that takes time to build.
struct Loaded {
    clusters: Vec<Cluster>,
    /// Every number's home cluster, for SIP ([`Sip::homes_of`]).
    homes: Arc<HashMap<String, String>>,
}

/// Loads the clusters `ids` of `topo`: locks their databases (all of them before opening
/// any), opens them and resumes their logins. Nothing is served yet.
async fn open(
    topo: &Topology,
    ids: &[String],
    opts: &Options,
    shutdown: &CancellationToken,
) -> Result<Loaded, ServerError> {
    let mut locks = Vec::new();
    if let Some(dir) = &opts.data_dir {
        std::fs::create_dir_all(dir).map_err(|source| ServerError::DataDir {
            path: dir.clone(),
            source,
        })?;
        for id in ids {
            locks.push(Some(crate::datalock::DataLock::acquire(dir, id)?));
        }
    }
    locks.resize_with(ids.len(), || None);
    crate::ils::warn_if_default_password(topo, ids.iter().map(String::as_str));
    let mut clusters = Vec::new();
    for (id, lock) in ids.iter().zip(locks) {
        let spec = topo
            .cluster(id)
            .ok_or_else(|| ServerError::UnknownCluster(id.clone()))?;
        let c = Cluster::open_with(
            topo,
            spec,
            opts.data_dir.as_deref(),
            opts.durability,
            shutdown.child_token(),
        )
        .await?;
        // The database stays locked until the cluster stops (or the process dies).
        if let Some(lock) = lock {
            let stopped = c.token().clone();
            c.tracker().spawn(async move {
                stopped.cancelled().await;
                drop(lock);
            });
        }
        clusters.push(c);
    }
    Ok(Loaded {
        clusters,
        homes: Arc::new(Sip::homes_of(topo)),
    })
}

/// Serves loaded clusters on their listeners (in the same order). Nothing slow happens here:
/// `emroam server` is already listening.
fn serve(
    topo: &Topology,
    Loaded { clusters, homes }: Loaded,
    listeners: Vec<(String, ClusterListeners)>,
    opts: &Options,
    shutdown: CancellationToken,
) -> Result<Running, ServerError> {
    for (c, (_, l)) in clusters.iter().zip(&listeners) {
        if let Ok(a) = l.http.local_addr() {
            c.set_http_addr(a);
        }
        if let Some(a) = l.sip.as_ref().and_then(|s| s.local_addr().ok()) {
            c.set_sip_addr(a);
        }
    }
    let all: Arc<[Cluster]> = clusters.into();
    // Peers in this process are reached on their bound ILS addresses (port 0 in tests).
    let ils_addrs: HashMap<String, SocketAddr> = listeners
        .iter()
        .filter_map(|(id, l)| Some((id.clone(), l.ils.as_ref()?.local_addr().ok()?)))
        .collect();
    for c in all.iter() {
        c.set_ils_peer_addrs(&ils_addrs);
    }
    // SIP trunks: every topology cluster at its address, in-process ones at their bound port.
    let mut sip_peers: HashMap<String, SocketAddr> = topo
        .clusters
        .iter()
        .map(|c| (c.id.clone(), SocketAddr::new(c.address, c.ports.sip)))
        .collect();
    for (id, l) in &listeners {
        if let Some(a) = l.sip.as_ref().and_then(|s| s.local_addr().ok()) {
            sip_peers.insert(id.clone(), a);
        }
    }
    let mut sips = Vec::new();
    for ((_, l), c) in listeners.iter().zip(all.iter()) {
        let sip = match &l.sip {
            Some(sock) => {
                let addr = sock
                    .local_addr()
                    .map_err(|e| ServerError::Internal(e.to_string()))?;
                let sip = Sip::new(c.clone(), sip_peers.clone(), homes.clone(), opts.sip);
                Some((sip, addr))
            }
            None => None,
        };
        sips.push(sip);
    }
    let sip_of: Arc<HashMap<String, Sip>> = Arc::new(
        all.iter()
            .zip(&sips)
            .filter_map(|(c, s)| Some((c.id().to_owned(), s.as_ref()?.0.clone())))
            .collect(),
    );
    // Each HTTP and config listener gets its share of the open-file budget.
    let limits = Limits {
        max_connections: crate::fds::per_listener_cap(
            crate::fds::limit(),
            listeners.len(),
            2 * listeners.len(),
            opts.limits.max_connections,
        ),
        ..opts.limits
    };
    tracing::debug!(
        open_file_limit = ?crate::fds::limit(),
        per_listener = limits.max_connections,
        "connection caps"
    );
    let mut ctxs = Vec::new();
    let serving = TaskTracker::new();
    let token: Option<Arc<str>> = opts.admin_token.as_deref().map(Arc::from);
    let mut addrs = Vec::new();
    for (((_, l), c), sip) in listeners.into_iter().zip(all.iter()).zip(&sips) {
        let http_addr = l
            .http
            .local_addr()
            .map_err(|e| ServerError::Internal(e.to_string()))?;
        let config_addr = l
            .config
            .local_addr()
            .map_err(|e| ServerError::Internal(e.to_string()))?;
        addrs.push((http_addr, config_addr));
        let ctx = HttpCtx {
            cluster: c.clone(),
            all: all.clone(),
            sips: sip_of.clone(),
            admin_token: token.clone(),
        };
        ctxs.push(ctx.clone());
        let body_timeout = opts.limits.body_read_timeout;
        let http_handler = move |req: hyper::Request<hyper::body::Incoming>, peer: SocketAddr| {
            let ctx = ctx.clone();
            async move {
                match http::read_request(req, peer, body_timeout).await {
                    Ok(r) => handle_http(&ctx, &r).await,
                    Err(e) => into_response(e),
                }
            }
        };
        let cc = c.clone();
        let config_handler = move |req: hyper::Request<hyper::body::Incoming>, peer: SocketAddr| {
            let cc = cc.clone();
            async move {
                match http::read_request(req, peer, body_timeout).await {
                    Ok(r) => configsrv::handle(&cc, &r).await,
                    Err(e) => into_response(e),
                }
            }
        };
        serving.spawn(http::serve(
            l.http,
            http_handler,
            limits,
            c.watch_listeners(),
            shutdown.clone(),
        ));
        serving.spawn(http::serve(
            l.config,
            config_handler,
            limits,
            c.watch_listeners(),
            shutdown.clone(),
        ));
        if let (Some(sock), Some((sip, _))) = (l.sip, sip) {
            serving.spawn(crate::sip::serve(sock, sip.clone(), shutdown.clone()));
        }
        if let (Some(l), Some(_)) = (l.ils, c.ils_addr()) {
            serving.spawn(crate::ils::net::serve(l, c.clone(), shutdown.clone()));
            crate::ils::net::spawn_dialers(c);
        }
        let c2 = c.clone();
        c.tracker()
            .spawn(async move { crate::ils::superusers::run_tool(c2).await });
        tracing::info!(cluster = %c.id(), http = %http_addr, config = %config_addr, ils = ?c.ils_addr(), "cluster serving");
    }
    Ok(Running {
        clusters: all,
        sips,
        ctxs,
        addrs,
        serving,
        shutdown,
        deadline: opts.limits.drain_deadline,
    })
}

/// Runs clusters of a topology on their own addresses until `shutdown` is cancelled, then
/// drains and returns. `only`: cluster IDs to run (empty: all). A port of 0 in the topology
/// binds an ephemeral port.
///
/// # Errors
/// Unknown cluster, bind failure, unusable data directory or database.
pub async fn run(
    topo: &Topology,
    only: &[String],
    opts: &Options,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    run_with(topo, only, opts, shutdown, |_| {}).await
}

/// [`run`], calling `ready` once every cluster is serving (to print the bound addresses).
///
/// # Errors
/// As [`run`].
pub async fn run_with(
    topo: &Topology,
    only: &[String],
    opts: &Options,
    shutdown: CancellationToken,
    ready: impl FnOnce(&Running),
) -> Result<(), ServerError> {
    let ids: Vec<String> = if only.is_empty() {
        topo.clusters.iter().map(|c| c.id.clone()).collect()
    } else {
        for id in only {
            if topo.cluster(id).is_none() {
                return Err(ServerError::UnknownCluster(id.clone()));
            }
        }
        let mut ids = only.to_vec();
        ids.sort();
        ids.dedup();
        ids
    };
    crate::fds::raise_limit();
    // Bind now, so a port in use is said before loading; listen once loaded, so a client is
    // refused (and retries) rather than accepted and left unanswered while the clusters load.
    let mut sockets = Vec::new();
    for id in &ids {
        let spec = topo
            .cluster(id)
            .ok_or_else(|| ServerError::UnknownCluster(id.clone()))?;
        sockets.push(ClusterSockets::bind(spec).await?);
    }
    tracing::info!(
        clusters = ids.len(),
        "addresses bound; loading the clusters"
    );
    let loaded = open(topo, &ids, opts, &shutdown).await?;
    let mut listeners = Vec::new();
    for (id, s) in ids.iter().zip(sockets) {
        listeners.push((id.clone(), s.listen()?));
    }
    let running = serve(topo, loaded, listeners, opts, shutdown)?;
    ready(&running);
    running.wait().await;
    Ok(())
}
