//! Extension Mobility Roaming Across Clusters: ILS between reference clusters, the superuser
//! sync tool, and the roaming rules (where a superuser's numbers are, who logs out).
//!
//! - `table`: the replicated state as plain data (records, acks, superuser sets) and its merge.
//! - `state`: what a cluster holds for ILS (the table, sessions, switches, counters); it knows
//!   nothing of [`Cluster`], which holds it.
//! - this file: the roaming rules and ILS controls, as methods of [`Cluster`].
//! - [`net`]: the ILS listener, the dialers (spoke → hub, hub → hubs with a larger ID) and one
//!   session task pair per link; wire format in [`emroam_protocol::ils`].
//! - `gate`: handshake slots per source address, reserved for peers; throttled warnings.
//! - `handshake`: the password handshake over a socket (the dialer proves first); `wire`:
//!   frames off a stream, nonces; `tls`: ILS over TLS (mutual, certificates naming cluster
//!   IDs), the password handshake then running inside it.
//! - [`superusers`]: the superuser sync tool (schedule, Sync now).
//!
//! Roaming rules (the conflict rule): every EM login (and last logout) of a superuser writes a
//! location record versioned `(counter, cluster ID)`; the highest version wins everywhere. The
//! counter is a hybrid logical clock: above every version the cluster has seen (Lamport) and
//! at least the wall clock in milliseconds, so between concurrent changes made while clusters
//! could not see each other the later one wins, as a user expects. A cluster
//! that applies a record placing the user elsewhere logs out that user's devices there (at
//! once, or when it next syncs if it was down: a deferred logout). The cluster that took the
//! user over keeps the deferred logout pending (persisted) until the other cluster's ack,
//! relayed like everything else, reaches it. Two logins in the same millisecond at two clusters
//! get the same counter; the larger cluster ID wins and the other is logged out. Within one
//! cluster, Multiple Login Behavior applies.
//!
//! Locks: the table is a `std` mutex held for a merge, never across `.await`; durable writes go
//! through the cluster's store actor after the lock is released (the store keeps the newest
//! version per row, so the order writes land in does not matter).

mod gate;
mod handshake;
pub mod net;
pub(crate) mod state;
pub mod superusers;
pub(crate) mod table;
pub(crate) mod tls;
mod wire;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use emroam_protocol::ils::{self, ClusterInfo, Message, Role};
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::cluster::{Cluster, now_ms};
use crate::counters::{IlsCounterSnapshot, PeerSyncStatus};
use crate::store::StoreOp;
use crate::sync::{LockExt, RwLockExt};
use crate::topology::{DEFAULT_ILS_PASSWORD, IlsRole, Topology, User};
use state::body;
use table::Changes;

/// One cluster's ILS status (`GET /admin/clusters/{id}/ils`).
#[derive(Debug, Clone, Serialize)]
pub struct IlsStatus {
    /// Cluster ID.
    pub cluster: String,
    /// `hub`, `spoke`, or `standalone`.
    pub role: String,
    /// Advertised route string.
    pub route_string: String,
    /// ILS up (its own switch and the cluster's listeners).
    pub up: bool,
    /// The ILS listener's address.
    pub addr: Option<String>,
    /// Full sync interval, seconds.
    pub sync_interval_secs: f64,
    /// Peers whose link is cut.
    pub cut_links: Vec<String>,
    /// Cluster View: the peer info vectors known.
    pub clusters: Vec<ClusterInfo>,
    /// Location records (superusers).
    pub records: Vec<ils::LocationRecord>,
    /// Deferred logouts pending: `[user, cluster that must log out]`.
    pub deferred_logouts: Vec<(String, String)>,
    /// Counters, with sync status per peer.
    pub counters: IlsCounterSnapshot,
}

/// Where a directory number is registered now (`GET /admin/clusters/{id}/locate/{dn}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnLocation {
    /// The number.
    pub dn: String,
    /// The cluster it is registered at.
    pub cluster: String,
    /// That cluster's route string.
    pub route_string: String,
}

impl Cluster {
    /// ILS counters and per-peer sync status.
    pub fn ils_counters(&self) -> IlsCounterSnapshot {
        let s = self.ils();
        let mut snap = s.counters.snapshot();
        {
            let t = s.lock();
            snap.learned_dns = t.learned_dns() as u64;
            snap.deferred_logouts_pending = t.pending().len() as u64;
        }
        snap.peers = s
            .status()
            .iter()
            .map(|(p, st)| PeerSyncStatus {
                cluster: p.clone(),
                connected: st.connected,
                up_to_date: st.connected && st.got_full && !st.dropped,
                last_sync_ms: st.last_sync_ms,
            })
            .collect();
        snap
    }

    /// The ILS status.
    pub fn ils_status(&self) -> IlsStatus {
        let s = self.ils();
        let (clusters, records, deferred) = {
            let t = s.lock();
            (t.clusters(), t.records(), t.pending())
        };
        let mut cut: Vec<String> = s.cut.locked().iter().cloned().collect();
        cut.sort();
        IlsStatus {
            cluster: self.id().to_owned(),
            role: match (&s.standalone, s.me.role) {
                (true, _) => "standalone",
                (false, Role::Hub) => "hub",
                (false, Role::Spoke) => "spoke",
            }
            .to_owned(),
            route_string: s.me.route_string.clone(),
            up: *s.up.borrow(),
            addr: self.ils_addr().map(|a| a.to_string()),
            sync_interval_secs: s.sync_interval.borrow().as_secs_f64(),
            cut_links: cut,
            clusters,
            records,
            deferred_logouts: deferred,
            counters: self.ils_counters(),
        }
    }

    /// Where a directory number is registered now: a location record's cluster, else this
    /// cluster for its own users' numbers; `None` if unknown.
    pub fn locate_dn(&self, dn: &str) -> Option<DnLocation> {
        if let Some((cluster, route_string)) = self.ils().lock().locate(dn) {
            return Some(DnLocation {
                dn: dn.to_owned(),
                cluster,
                route_string,
            });
        }
        let own = self
            .users_by_extension(dn)
            .iter()
            .any(|u| self.user(u).is_some_and(|u| u.home == self.id()));
        own.then(|| DnLocation {
            dn: dn.to_owned(),
            cluster: self.id().to_owned(),
            route_string: self.spec().route_string.clone(),
        })
    }

    /// Changes whenever a location record changes here (a directory number moved).
    pub fn watch_locations(&self) -> watch::Receiver<u64> {
        self.ils().changed.subscribe()
    }

    /// Whether ILS alone is switched on.
    pub fn ils_running(&self) -> bool {
        self.ils().switch.load(Ordering::Relaxed)
    }

    /// Stops or starts ILS alone (its listener and every session; EM keeps answering).
    pub fn set_ils_running(&self, on: bool) {
        self.ils().switch.store(on, Ordering::Relaxed);
        self.ils().recompute_up(self.listeners_up());
    }

    /// Cuts (or heals) this cluster's end of the ILS link with `peer`.
    pub fn set_link_cut(&self, peer: &str, cut: bool) {
        let s = self.ils();
        {
            let mut c = s.cut.locked();
            if cut {
                c.insert(peer.to_owned());
            } else {
                c.remove(peer);
            }
        }
        s.cut_seq.send_modify(|n| *n += 1);
    }

    /// Whether `peer` is an ILS peer of this cluster (hub mesh or hub–spoke).
    pub fn is_ils_peer(&self, peer: &str) -> bool {
        self.ils().peers.contains(peer)
    }

    /// Changes the full sync interval.
    pub fn set_sync_interval(&self, d: Duration) {
        self.ils().sync_interval.send_replace(d);
    }

    /// Sends a full sync to every connected peer now.
    pub fn ils_sync_now(&self) {
        let s = self.ils();
        let b = s.full_body();
        self.send_to_peers(&b, None);
    }

    /// The address a peer's ILS listens on.
    pub(crate) fn ils_peer_addr(&self, peer: &str) -> Option<SocketAddr> {
        self.ils().addrs.read_locked().get(peer).copied()
    }

    /// Records where peers' ILS listeners are (bound addresses of clusters in this process).
    pub(crate) fn set_ils_peer_addrs(&self, addrs: &HashMap<String, SocketAddr>) {
        self.ils()
            .addrs
            .write_locked()
            .extend(addrs.iter().map(|(k, v)| (k.clone(), *v)));
    }

    /// This cluster's own ILS address.
    pub fn ils_addr(&self) -> Option<SocketAddr> {
        (!self.ils().standalone)
            .then(|| self.ils_peer_addr(self.id()))
            .flatten()
    }

    fn send_to_peer(&self, peer: &str, body: &Arc<Vec<u8>>) {
        let tx = self.ils().sessions.locked().get(peer).map(|s| s.tx.clone());
        if let Some(tx) = tx {
            if tx.try_send(body.clone()).is_ok() {
                self.ils().counters.message_out();
            } else {
                self.ils().counters.dropped();
            }
        }
    }

    fn send_to_peers(&self, body: &Arc<Vec<u8>>, except: Option<&str>) {
        let s = self.ils();
        let targets: Vec<(String, mpsc::Sender<Arc<Vec<u8>>>)> = s
            .sessions
            .locked()
            .iter()
            .filter(|(p, _)| Some(p.as_str()) != except)
            .map(|(p, sess)| (p.clone(), sess.tx.clone()))
            .collect();
        for (p, tx) in targets {
            if tx.try_send(body.clone()).is_ok() {
                s.counters.message_out();
            } else {
                s.counters.dropped();
                if let Some(st) = s.status().get_mut(&p) {
                    st.dropped = true;
                }
            }
        }
    }

    /// Forwards, persists and enforces a change. Records and others' acks are forwarded first
    /// (a relay does not wait for its own disk: peers can always send them again); this
    /// cluster's own acks go out only after its logouts are done and durable, to every peer
    /// including `from`, the peer the change came from.
    async fn settle(&self, mut ch: Changes, from: Option<&str>) {
        if !ch.superusers.is_empty() {
            self.rebuild_synced();
        }
        if !ch.records.is_empty() {
            self.ils().changed.send_modify(|n| *n += 1);
        }
        let standalone = self.ils().standalone;
        let own: Vec<ils::Ack> = ch
            .acks
            .iter()
            .filter(|a| a.cluster == self.id())
            .cloned()
            .collect();
        // With logouts to do here, this cluster's acks wait until they are done.
        let defer = !ch.evict.is_empty();
        if defer {
            ch.acks.retain(|a| a.cluster != self.id());
        }
        if !ch.is_empty() && !standalone {
            self.send_to_peers(&Arc::new(body(&ch, false)), from);
        }
        let acks_only = |to: Option<&str>| {
            let acks = Changes {
                acks: own.clone(),
                ..Changes::default()
            };
            let b = Arc::new(body(&acks, false));
            match to {
                Some(p) => self.send_to_peer(p, &b),
                None => self.send_to_peers(&b, None),
            }
        };
        if !defer
            && !own.is_empty()
            && !standalone
            && let Some(from) = from
        {
            acks_only(Some(from));
        }
        let ops = std::mem::take(&mut ch.ops);
        if !ops.is_empty()
            && let Err(e) = self.store().commit(ops).await
        {
            // The next full sync from a peer brings the same state again.
            tracing::error!(cluster = %self.id(), error = %e, "roaming state not persisted");
        }
        for user in std::mem::take(&mut ch.evict) {
            self.evict_roamed(&user).await;
        }
        if defer && !own.is_empty() && !standalone {
            acks_only(None);
        }
    }

    /// Applies a message a peer sent.
    pub(crate) async fn ils_apply(&self, from: &str, msg: Message) {
        let Message::Sync {
            full,
            clusters,
            records,
            acks,
            superusers,
        } = msg;
        self.ils().counters.message_in();
        let ch = self.ils().lock().merge(clusters, records, acks, superusers);
        if full && let Some(st) = self.ils().status().get_mut(from) {
            st.got_full = true;
            st.dropped = false;
            st.last_sync_ms = Some(now_ms());
        }
        self.settle(ch, Some(from)).await;
    }

    /// The user's directory numbers (lines of their profiles).
    fn dns_of(&self, user: &User) -> Vec<String> {
        let mut v: Vec<String> = user
            .profiles
            .iter()
            .filter_map(|p| self.profile(p))
            .flat_map(|p| p.lines.into_iter().map(|l| l.dn))
            .collect();
        if v.is_empty()
            && let Some(dn) = &user.primary_extension
        {
            v.push(dn.clone());
        }
        v.sort();
        v.dedup();
        v
    }

    /// Before a superuser's login is written: the new location record (its durable writes go
    /// into the login's own transaction). `None` for other users or a standalone cluster.
    pub(crate) fn roam_login_begin(&self, user: &User) -> Option<RoamLogin> {
        if self.ils().standalone || !self.is_superuser(&user.id) {
            return None;
        }
        let dns = self.dns_of(user);
        let ch = {
            let mut table = self.ils().lock();
            table.advance_to(wall_clock_ms());
            table.local_login(&user.id, &user.home, dns)
        };
        Some(RoamLogin {
            user: user.id.clone(),
            roaming: user.home != self.id(),
            changes: ch,
        })
    }

    /// After the login was written (`ok`) or rolled back.
    pub(crate) async fn roam_login_end(&self, mut r: RoamLogin, ok: bool) {
        if !ok {
            self.roam_after_logout(&r.user).await;
            return;
        }
        if r.roaming {
            self.ils().counters.roaming_login_in();
        }
        r.changes.ops.clear();
        self.settle(r.changes, None).await;
        // A newer record placing the user elsewhere may have arrived meanwhile: it wins.
        let away = self
            .ils()
            .lock()
            .record(&r.user)
            .is_some_and(|rec| rec.at.as_deref() != Some(self.id()));
        if away {
            self.evict_roamed(&r.user).await;
        }
    }

    /// After a user's login here ended (logout, automatic logout, logoutAll): if it was their
    /// last one, their numbers route home again.
    pub(crate) async fn roam_after_logout(&self, user: &str) {
        if self.ils().standalone {
            return;
        }
        // The table lock is held while looking at the logins (lock order: table, then logins),
        // so a login starting now records its location after this logout, never before.
        let ch = {
            let mut table = self.ils().lock();
            if !self.lock_logins().user_devices(user).is_empty() {
                return;
            }
            table.advance_to(wall_clock_ms());
            table.local_logout(user)
        };
        if !ch.records.is_empty() {
            self.settle(ch, None).await;
        }
    }

    /// Logs a user out of every device here because they are logged in at another cluster.
    async fn evict_roamed(&self, user: &str) {
        let taken: Vec<(String, crate::cluster::logins::Entry)> = {
            // Decided when the record arrived, done now: look again, under the table lock (then
            // the logins lock), in case the user has logged in here since and won.
            let table = self.ils().lock();
            if table
                .record(user)
                .is_none_or(|r| r.at.as_deref() == Some(self.id()))
            {
                return;
            }
            let mut t = self.lock_logins();
            let devices: Vec<String> = t
                .user_devices(user)
                .into_iter()
                .filter(|(_, committed)| *committed)
                .map(|(d, _)| d)
                .collect();
            devices
                .into_iter()
                .filter_map(|d| t.take(&d).map(|e| (d, e)))
                .collect()
        };
        if taken.is_empty() {
            return;
        }
        let ops = taken
            .iter()
            .map(|(d, _)| StoreOp::Delete(d.clone()))
            .collect();
        if let Err(e) = self.store().commit(ops).await {
            // The rows stay; after a restart the next sync evicts them again.
            tracing::error!(cluster = %self.id(), %user, error = %e, "roaming logout not persisted");
        }
        self.counters().logouts_ok(taken.len() as u64);
        self.ils().counters.roaming_login_out();
        for (d, e) in &taken {
            let k = self.restart_kind(d, Some(&e.profile), None);
            self.push_restart(d, k);
        }
        tracing::info!(cluster = %self.id(), %user, devices = taken.len(), "logged out: the user logged in at another cluster");
    }
}

/// A superuser login's roaming part, between [`Cluster::roam_login_begin`] and
/// [`Cluster::roam_login_end`].
#[derive(Debug)]
pub(crate) struct RoamLogin {
    user: String,
    roaming: bool,
    changes: Changes,
}

impl RoamLogin {
    /// The durable writes to commit with the login.
    pub(crate) fn ops(&self) -> Vec<StoreOp> {
        self.changes.ops.clone()
    }
}

/// Warns once at start when a cluster about to run speaks ILS with the topology's default
/// password (`[ils] password` unset): it is published, so anyone could pose as a peer.
pub(crate) fn warn_if_default_password<'a>(
    topo: &Topology,
    ids: impl IntoIterator<Item = &'a str>,
) {
    if topo.ils.password != DEFAULT_ILS_PASSWORD {
        return;
    }
    let speaking: Vec<&str> = ids
        .into_iter()
        .filter(|id| {
            topo.cluster(id)
                .is_some_and(|c| c.ils != IlsRole::Standalone)
        })
        .collect();
    if !speaking.is_empty() {
        tracing::warn!(
            clusters = ?speaking,
            "ILS uses the default password, which is published: anyone who can reach an ILS \
             port can pose as a peer cluster; set `[ils] password` in the topology"
        );
    }
}

/// Milliseconds since the Unix epoch, for the hybrid logical clock of location versions.
fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::ops::{Credential, Login, LoginDuration};
    use crate::topology::Topology;

    const TOPO: &str = r#"
[[cluster]]
id = "c1"
address = "127.0.0.1"
ils = { role = "hub" }
[[cluster]]
id = "c2"
address = "127.0.0.1"
ils = { role = "hub" }
[[profile]]
name = "lobby"
[[profile]]
name = "bob-udp"
lines = [{ dn = "1000001", label = "Bob" }]
[[user]]
id = "bob"
pin = "12345"
home = "c1"
profiles = ["bob-udp"]
superuser = true
[[phone]]
name = "SEP000000000001"
cluster = "c2"
logout_profile = "lobby"
"#;

    fn record(at: &str, counter: u64) -> ils::LocationRecord {
        ils::LocationRecord {
            user: "bob".into(),
            home: "c1".into(),
            dns: vec!["1000001".into()],
            at: Some(at.into()),
            route_string: Some(format!("{at}.route")),
            version: ils::Version {
                counter,
                cluster: at.into(),
            },
        }
    }

    /// An eviction decided when an older record arrived must not end a login made since,
    /// whose newer record places the user here.
    #[tokio::test]
    async fn a_late_eviction_spares_a_login_that_won_since() {
        let topo = Topology::parse(TOPO).unwrap();
        let c2 = Cluster::open(&topo, &topo.clusters[1], None, CancellationToken::new())
            .await
            .unwrap();
        let c1_set = {
            let spec = &topo.clusters[0];
            let c1 = Cluster::open(&topo, spec, None, CancellationToken::new())
                .await
                .unwrap();
            c1.ils()
                .lock()
                .local_superusers(c1.superuser_set())
                .superusers
        };
        let sync = |records, superusers| Message::Sync {
            full: false,
            clusters: vec![],
            records,
            acks: vec![],
            superusers,
        };
        c2.ils_apply("c1", sync(vec![record("c1", 5)], c1_set))
            .await;
        assert!(c2.user("bob").is_some(), "superuser copied");
        Login {
            device: "SEP000000000001".into(),
            credential: Credential::Authorized { user: "bob".into() },
            profile: None,
            duration: LoginDuration::Default,
            origin: crate::cluster::Origin::default(),
        }
        .apply(&c2)
        .await
        .unwrap();
        assert_eq!(c2.locate_dn("1000001").unwrap().cluster, "c2");
        c2.evict_roamed("bob").await;
        assert_eq!(c2.devices_of("bob"), vec!["SEP000000000001".to_owned()]);
        assert_eq!(c2.ils_counters().roaming_logins_in, 1);
        // A newer record elsewhere does evict (newer than c2's hybrid clock, which is at
        // least the wall clock in ms).
        let newer = c2.ils().lock().record("bob").unwrap().version.counter + 1;
        c2.ils_apply("c1", sync(vec![record("c1", newer)], vec![]))
            .await;
        assert!(c2.devices_of("bob").is_empty());
        assert_eq!(c2.ils_counters().roaming_logins_out, 1);
        assert_eq!(c2.pending_restarts().len(), 1);
    }
}
