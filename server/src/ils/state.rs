//! The ILS state one cluster holds: the roaming table, sessions with peers and their status,
//! the ILS switches, the superuser sync tool's schedule, and the ILS counters. Plain state with
//! short `std` locks; what drives it (sessions, the roaming rules, the tool) is elsewhere in
//! [`crate::ils`], and knows the cluster.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use emroam_protocol::ils::{self, ClusterInfo, Message, Role};
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::gate::Throttle;
use super::table::{Changes, RoamTable};
use super::tls::IlsTls;
use crate::counters::IlsCounters;
use crate::store::RoamRows;
use crate::sync::LockExt;
use crate::topology::{ClusterSpec, IlsRole, Topology};

/// The shortest time between two warnings about failed ILS handshakes (per side).
pub(super) const LOG_EVERY: Duration = Duration::from_secs(10);

/// A live session with a peer.
#[derive(Debug)]
pub(super) struct Session {
    pub(super) id: u64,
    pub(super) tx: mpsc::Sender<Arc<Vec<u8>>>,
    pub(super) cancel: CancellationToken,
}

/// What this cluster knows of its link with one peer.
#[derive(Debug, Default, Clone)]
pub(super) struct PeerState {
    pub(super) connected: bool,
    pub(super) got_full: bool,
    pub(super) dropped: bool,
    pub(super) last_sync_ms: Option<i64>,
}

/// The superuser sync tool's schedule.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct ToolState {
    pub(super) last_ms: Option<i64>,
    pub(super) next_ms: Option<i64>,
    pub(super) syncs: u64,
}

/// One cluster's ILS state: the roaming table, sessions, switches and counters.
pub(crate) struct IlsState {
    pub(super) password: String,
    /// ILS over TLS (`None`: plain TCP).
    pub(super) tls: Option<IlsTls>,
    pub(super) me: ClusterInfo,
    pub(super) standalone: bool,
    /// Peers this cluster dials.
    pub(super) dials: Vec<String>,
    /// Peers this cluster talks to at all (dials plus those it accepts).
    pub(super) peers: HashSet<String>,
    pub(super) table: Mutex<RoamTable>,
    pub(super) sessions: Mutex<HashMap<String, Session>>,
    pub(super) status: Mutex<BTreeMap<String, PeerState>>,
    /// ILS alone switched on (the admin's "ILS stop/start").
    pub(super) switch: AtomicBool,
    /// ILS effectively up: the switch and the cluster's listeners.
    pub(super) up: watch::Sender<bool>,
    /// Peers whose link is cut; bumping `cut_seq` makes sessions look again.
    pub(super) cut: Mutex<HashSet<String>>,
    pub(super) cut_seq: watch::Sender<u64>,
    pub(super) sync_interval: watch::Sender<Duration>,
    pub(super) tool: Mutex<ToolState>,
    pub(super) tool_interval: watch::Sender<Duration>,
    pub(super) tool_now: Notify,
    /// Peer cluster ID → ILS address (bound addresses for clusters in this process).
    pub(super) addrs: RwLock<HashMap<String, SocketAddr>>,
    /// The topology's addresses of the peers: their handshakes get reserved slots.
    pub(super) peer_ips: Vec<IpAddr>,
    /// This cluster's own address: the dialers connect from it, so peers know them by it.
    pub(super) source: IpAddr,
    /// Failed handshakes on the listener: warned at most once per [`LOG_EVERY`].
    pub(super) accept_log: Throttle,
    /// Failed dials (a peer refusing, a password mismatch): the same.
    pub(super) dial_log: Throttle,
    pub(super) counters: IlsCounters,
    pub(super) session_seq: AtomicU64,
    /// Bumped whenever a location record changes here (tests and benchmarks wait on it).
    pub(super) changed: watch::Sender<u64>,
}

impl std::fmt::Debug for IlsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IlsState")
            .field("me", &self.me.cluster_id)
            .finish_non_exhaustive()
    }
}

fn role_of(r: &IlsRole) -> Role {
    match r {
        IlsRole::Spoke { .. } => Role::Spoke,
        _ => Role::Hub,
    }
}

impl IlsState {
    /// The ILS state of `spec` in `topo`, with the roaming state read back from the store.
    pub(crate) fn new(
        topo: &Topology,
        spec: &ClusterSpec,
        rows: RoamRows,
        tls: Option<IlsTls>,
    ) -> IlsState {
        let me = ClusterInfo {
            cluster_id: spec.id.clone(),
            route_string: spec.route_string.clone(),
            role: role_of(&spec.ils),
        };
        let (dials, peers): (Vec<String>, HashSet<String>) = match &spec.ils {
            IlsRole::Standalone => (Vec::new(), HashSet::new()),
            IlsRole::Spoke { hub } => (vec![hub.clone()], HashSet::from([hub.clone()])),
            IlsRole::Hub => {
                let hubs = topo
                    .clusters
                    .iter()
                    .filter(|c| c.id != spec.id && c.ils == IlsRole::Hub);
                let dials = hubs
                    .clone()
                    .filter(|c| c.id > spec.id)
                    .map(|c| c.id.clone())
                    .collect();
                let mut peers: HashSet<String> = hubs.map(|c| c.id.clone()).collect();
                peers.extend(
                    topo.clusters
                        .iter()
                        .filter(|c| matches!(&c.ils, IlsRole::Spoke { hub } if *hub == spec.id))
                        .map(|c| c.id.clone()),
                );
                (dials, peers)
            }
        };
        let peer_ips = topo
            .clusters
            .iter()
            .filter(|c| peers.contains(&c.id))
            .map(|c| c.address)
            .collect();
        let mut table = RoamTable::new(me.clone());
        table.restore(rows);
        let addrs = topo
            .clusters
            .iter()
            .map(|c| (c.id.clone(), SocketAddr::new(c.address, c.ports.ils)))
            .collect();
        IlsState {
            password: topo.ils.password.clone(),
            tls,
            me,
            standalone: spec.ils == IlsRole::Standalone,
            dials,
            status: Mutex::new(
                peers
                    .iter()
                    .map(|p| (p.clone(), PeerState::default()))
                    .collect(),
            ),
            peers,
            table: Mutex::new(table),
            sessions: Mutex::new(HashMap::new()),
            switch: AtomicBool::new(true),
            up: watch::Sender::new(true),
            cut: Mutex::new(HashSet::new()),
            cut_seq: watch::Sender::new(0),
            sync_interval: watch::Sender::new(topo.ils.sync_interval),
            tool: Mutex::new(ToolState::default()),
            tool_interval: watch::Sender::new(topo.ils.superuser_sync_interval),
            tool_now: Notify::new(),
            addrs: RwLock::new(addrs),
            peer_ips,
            source: spec.address,
            accept_log: Throttle::new(LOG_EVERY),
            dial_log: Throttle::new(LOG_EVERY),
            counters: IlsCounters::default(),
            session_seq: AtomicU64::new(0),
            changed: watch::Sender::new(0),
        }
    }

    /// The shared ILS password.
    pub(crate) fn password(&self) -> &str {
        &self.password
    }

    /// The superuser sets known.
    pub(crate) fn superuser_sets(&self) -> Vec<ils::SuperuserSet> {
        self.lock().superuser_sets()
    }

    /// The roaming table.
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, RoamTable> {
        self.table.locked()
    }

    /// Each peer's link status.
    pub(super) fn status(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, PeerState>> {
        self.status.locked()
    }

    /// ILS is up when its own switch is on and the cluster's listeners are up.
    pub(crate) fn recompute_up(&self, listeners: bool) {
        let up = listeners && self.switch.load(Ordering::Relaxed);
        self.up.send_if_modified(|v| {
            let changed = *v != up;
            *v = up;
            changed
        });
    }

    /// Whether the link with `peer` is cut here.
    pub(super) fn is_cut(&self, peer: &str) -> bool {
        self.cut.locked().contains(peer)
    }

    /// A full sync message of the whole table.
    pub(super) fn full_body(&self) -> Arc<Vec<u8>> {
        let full = self.lock().full();
        Arc::new(body(&full, true))
    }
}

/// A sync message of `ch` (`full`: the whole table).
pub(super) fn body(ch: &Changes, full: bool) -> Vec<u8> {
    serde_json::to_vec(&Message::Sync {
        full,
        clusters: ch.clusters.clone(),
        records: ch.records.clone(),
        acks: ch.acks.clone(),
        superusers: ch.superusers.clone(),
    })
    .unwrap_or_default()
}
