//! The replicated roaming state of one cluster, as plain data: no locks, no I/O, no clocks.
//!
//! Three merge-friendly parts, so any order of delivery converges:
//! - location records, one per superuser, last-writer-wins by [`Version`]
//!   (Lamport counter, then cluster ID);
//! - acks, `(user, cluster) → highest version that cluster applied` (grow-only max);
//! - superuser sets, one per home cluster, highest version wins.
//!
//! Deferred logouts are local bookkeeping on top: the cluster that took a user over remembers
//! which cluster must log them out, until that cluster's ack reaches it.

use std::collections::{BTreeMap, HashMap};

use emroam_protocol::ils::{Ack, ClusterInfo, LocationRecord, SuperuserSet, Version};

use crate::store::{RoamRows, StoreOp};

/// What a change did, for the caller to persist, enforce and forward.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    /// Records that changed here (to forward).
    pub(crate) records: Vec<LocationRecord>,
    /// Acks that changed here (to forward).
    pub(crate) acks: Vec<Ack>,
    /// Superuser sets that changed here (to forward and rebuild the synced directory).
    pub(crate) superusers: Vec<SuperuserSet>,
    /// Peer info vectors that were new.
    pub(crate) clusters: Vec<ClusterInfo>,
    /// Users whose record now points away from this cluster: log them out here.
    pub(crate) evict: Vec<String>,
    /// Durable writes.
    pub(crate) ops: Vec<StoreOp>,
    /// Deferred logouts acknowledged by this change.
    pub(crate) cleared: usize,
}

impl Changes {
    /// Whether there is anything to forward.
    pub(crate) fn is_empty(&self) -> bool {
        self.records.is_empty()
            && self.acks.is_empty()
            && self.superusers.is_empty()
            && self.clusters.is_empty()
    }
}

/// One cluster's roaming state.
#[derive(Debug)]
pub(crate) struct RoamTable {
    me: String,
    clock: u64,
    records: HashMap<String, LocationRecord>,
    acks: HashMap<(String, String), Version>,
    /// `(user, cluster that must log out)` → the version that moved the user.
    pending: HashMap<(String, String), Version>,
    superusers: HashMap<String, SuperuserSet>,
    clusters: BTreeMap<String, ClusterInfo>,
    /// DN → user, over every record.
    by_dn: HashMap<String, String>,
}

impl RoamTable {
    /// An empty table for cluster `me` (knowing itself).
    pub(crate) fn new(me: ClusterInfo) -> RoamTable {
        let mut clusters = BTreeMap::new();
        let id = me.cluster_id.clone();
        clusters.insert(id.clone(), me);
        RoamTable {
            me: id,
            clock: 0,
            records: HashMap::new(),
            acks: HashMap::new(),
            pending: HashMap::new(),
            superusers: HashMap::new(),
            clusters,
            by_dn: HashMap::new(),
        }
    }

    /// Restores persisted state.
    pub(crate) fn restore(&mut self, rows: RoamRows) {
        for r in rows.records {
            self.observe(&r.version);
            self.install(r);
        }
        for a in rows.acks {
            self.observe(&a.version);
            self.acks.insert((a.user, a.cluster), a.version);
        }
        for p in rows.pending {
            let key = (p.user, p.cluster);
            // Writes may land out of order: an ack already covering it wins.
            if self.acks.get(&key).is_none_or(|a| *a < p.version) {
                self.pending.insert(key, p.version);
            }
        }
        for s in rows.superusers {
            self.superusers.insert(s.origin.clone(), s);
        }
    }

    fn observe(&mut self, v: &Version) {
        self.clock = self.clock.max(v.counter);
    }

    fn next_version(&mut self) -> Version {
        self.clock += 1;
        Version {
            counter: self.clock,
            cluster: self.me.clone(),
        }
    }

    fn install(&mut self, r: LocationRecord) {
        if let Some(old) = self.records.get(&r.user) {
            for d in &old.dns {
                self.by_dn.remove(d);
            }
        }
        for d in &r.dns {
            self.by_dn.insert(d.clone(), r.user.clone());
        }
        self.records.insert(r.user.clone(), r);
    }

    fn route_of(&self, cluster: &str) -> String {
        self.clusters
            .get(cluster)
            .map_or_else(|| format!("{cluster}.route"), |c| c.route_string.clone())
    }

    /// The record of a user.
    pub(crate) fn record(&self, user: &str) -> Option<&LocationRecord> {
        self.records.get(user)
    }

    /// Every record, sorted by user.
    pub(crate) fn records(&self) -> Vec<LocationRecord> {
        let mut v: Vec<_> = self.records.values().cloned().collect();
        v.sort_by(|a, b| a.user.cmp(&b.user));
        v
    }

    /// Where a directory number is registered now: `(cluster, route string)`, if a record has it.
    pub(crate) fn locate(&self, dn: &str) -> Option<(String, String)> {
        let r = self.records.get(self.by_dn.get(dn)?)?;
        let at = r.at.clone().unwrap_or_else(|| r.home.clone());
        let route = r.route_string.clone().unwrap_or_else(|| self.route_of(&at));
        Some((at, route))
    }

    /// Directory numbers learned through ILS that are registered at another cluster now.
    pub(crate) fn learned_dns(&self) -> usize {
        self.records
            .values()
            .filter(|r| r.at.as_deref().unwrap_or(&r.home) != self.me)
            .map(|r| r.dns.len())
            .sum()
    }

    /// Deferred logouts not yet acknowledged: `(user, cluster)`.
    pub(crate) fn pending(&self) -> Vec<(String, String)> {
        let mut v: Vec<_> = self.pending.keys().cloned().collect();
        v.sort();
        v
    }

    /// Peer info vectors known.
    pub(crate) fn clusters(&self) -> Vec<ClusterInfo> {
        self.clusters.values().cloned().collect()
    }

    /// The superuser sets known, by origin.
    pub(crate) fn superuser_sets(&self) -> Vec<SuperuserSet> {
        let mut v: Vec<_> = self.superusers.values().cloned().collect();
        v.sort_by(|a, b| a.origin.cmp(&b.origin));
        v
    }

    /// The whole state as `(clusters, records, acks, superusers)` for a full sync.
    pub(crate) fn full(&self) -> Changes {
        Changes {
            clusters: self.clusters(),
            records: self.records.values().cloned().collect(),
            acks: self
                .acks
                .iter()
                .map(|((u, c), v)| Ack {
                    user: u.clone(),
                    cluster: c.clone(),
                    version: v.clone(),
                })
                .collect(),
            superusers: self.superusers.values().cloned().collect(),
            ..Changes::default()
        }
    }

    fn ack_here(&mut self, user: &str, version: &Version, ch: &mut Changes) {
        let a = Ack {
            user: user.to_owned(),
            cluster: self.me.clone(),
            version: version.clone(),
        };
        self.merge_ack(a, ch);
    }

    fn merge_ack(&mut self, a: Ack, ch: &mut Changes) {
        let key = (a.user.clone(), a.cluster.clone());
        if self.acks.get(&key).is_some_and(|v| *v >= a.version) {
            return;
        }
        self.observe(&a.version);
        self.acks.insert(key.clone(), a.version.clone());
        if self.pending.get(&key).is_some_and(|p| *p <= a.version) {
            self.pending.remove(&key);
            ch.cleared += 1;
            ch.ops.push(StoreOp::DeletePending(a.clone()));
        }
        ch.ops.push(StoreOp::PutAck(a.clone()));
        ch.acks.push(a);
    }

    /// A record is newer than what this cluster holds: take it, ack it, and say whether the
    /// user must be logged out here.
    fn take_record(&mut self, r: LocationRecord, ch: &mut Changes) {
        self.observe(&r.version);
        let away = r.at.as_deref() != Some(self.me.as_str());
        let (user, version) = (r.user.clone(), r.version.clone());
        ch.ops.push(StoreOp::PutRecord(r.clone()));
        self.install(r.clone());
        ch.records.push(r);
        self.ack_here(&user, &version, ch);
        if away {
            ch.evict.push(user);
        }
    }

    /// A superuser of home `home` with numbers `dns` logged in here. The new record wins over
    /// everything this cluster has seen; the cluster that held the user before (or the home,
    /// when nothing is known) owes a deferred logout until it acks.
    pub(crate) fn local_login(&mut self, user: &str, home: &str, dns: Vec<String>) -> Changes {
        let mut ch = Changes::default();
        let before = self
            .records
            .get(user)
            .map(|r| r.at.clone())
            .unwrap_or_else(|| Some(home.to_owned()));
        let version = self.next_version();
        if let Some(prev) = before.filter(|p| *p != self.me) {
            let key = (user.to_owned(), prev.clone());
            if self.acks.get(&key).is_none_or(|v| *v < version) {
                self.pending.insert(key, version.clone());
                ch.ops.push(StoreOp::PutPending(Ack {
                    user: user.to_owned(),
                    cluster: prev,
                    version: version.clone(),
                }));
            }
        }
        let r = LocationRecord {
            user: user.to_owned(),
            home: home.to_owned(),
            dns,
            at: Some(self.me.clone()),
            route_string: Some(self.route_of(&self.me)),
            version,
        };
        self.take_record(r, &mut ch);
        ch.evict.clear();
        ch
    }

    /// A superuser's last login here ended. If the record still places them here, they are now
    /// nowhere (their numbers route home again); otherwise nothing changes.
    pub(crate) fn local_logout(&mut self, user: &str) -> Changes {
        let mut ch = Changes::default();
        let Some(r) = self.records.get(user) else {
            return ch;
        };
        if r.at.as_deref() != Some(self.me.as_str()) {
            return ch;
        }
        let mut r = r.clone();
        r.at = None;
        r.route_string = None;
        r.version = self.next_version();
        self.take_record(r, &mut ch);
        ch.evict.clear();
        ch
    }

    /// Installs this cluster's own superuser set (the superuser sync tool ran here).
    pub(crate) fn local_superusers(&mut self, mut set: SuperuserSet) -> Changes {
        let mut ch = Changes::default();
        let prev = self.superusers.get(&set.origin).map_or(0, |s| s.version);
        set.version = set.version.max(prev + 1);
        ch.ops.push(StoreOp::PutSuperusers(set.clone()));
        self.superusers.insert(set.origin.clone(), set.clone());
        ch.superusers.push(set);
        ch
    }

    /// Merges what a peer sent; returns what changed here.
    pub(crate) fn merge(
        &mut self,
        clusters: Vec<ClusterInfo>,
        records: Vec<LocationRecord>,
        acks: Vec<Ack>,
        superusers: Vec<SuperuserSet>,
    ) -> Changes {
        let mut ch = Changes::default();
        for c in clusters {
            if c.cluster_id != self.me && self.clusters.get(&c.cluster_id) != Some(&c) {
                self.clusters.insert(c.cluster_id.clone(), c.clone());
                ch.clusters.push(c);
            }
        }
        for r in records {
            let newer = self
                .records
                .get(&r.user)
                .is_none_or(|old| r.version > old.version);
            if newer {
                self.take_record(r, &mut ch);
            }
        }
        for a in acks {
            self.merge_ack(a, &mut ch);
        }
        for s in superusers {
            // A cluster is the only source of its own set.
            if s.origin == self.me {
                continue;
            }
            if self
                .superusers
                .get(&s.origin)
                .is_none_or(|old| s.version > old.version)
            {
                ch.ops.push(StoreOp::PutSuperusers(s.clone()));
                self.superusers.insert(s.origin.clone(), s.clone());
                ch.superusers.push(s);
            }
        }
        ch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emroam_protocol::ils::Role;

    fn table(id: &str) -> RoamTable {
        RoamTable::new(ClusterInfo {
            cluster_id: id.into(),
            route_string: format!("{id}.emroam"),
            role: Role::Hub,
        })
    }

    fn send(from: &RoamTable, to: &mut RoamTable) -> Changes {
        let f = from.full();
        to.merge(f.clusters, f.records, f.acks, f.superusers)
    }

    #[test]
    fn roaming_login_moves_the_number_and_evicts_the_old_cluster() {
        let (mut c1, mut c2, mut c3) = (table("c1"), table("c2"), table("c3"));
        c1.local_login("bob", "c1", vec!["1000001".into()]);
        send(&c1, &mut c2);
        send(&c1, &mut c3);
        assert_eq!(c3.locate("1000001").unwrap().0, "c1");
        // c1 goes down; bob logs in at c2.
        c2.local_login("bob", "c1", vec!["1000001".into()]);
        assert_eq!(c2.pending(), vec![("bob".into(), "c1".into())]);
        send(&c2, &mut c3);
        assert_eq!(
            c3.locate("1000001").unwrap(),
            ("c2".into(), "c2.emroam".into())
        );
        assert_eq!(c3.learned_dns(), 1);
        // c1 comes back: it must log bob out, and its ack clears c2's pending logout.
        let ch = send(&c2, &mut c1);
        assert_eq!(ch.evict, vec!["bob".to_owned()]);
        let ch = send(&c1, &mut c2);
        assert_eq!(ch.cleared, 1);
        assert!(c2.pending().is_empty());
    }

    #[test]
    fn concurrent_logins_converge_on_the_highest_version() {
        let (mut a, mut b) = (table("c1"), table("c2"));
        a.local_login("bob", "c1", vec!["1".into()]);
        b.local_login("bob", "c1", vec!["1".into()]);
        let ea = send(&b, &mut a).evict;
        let eb = send(&a, &mut b).evict;
        // Same counter: the higher cluster ID wins, the other logs out.
        assert_eq!(ea, vec!["bob".to_owned()]);
        assert!(eb.is_empty());
        assert_eq!(a.record("bob"), b.record("bob"));
        assert_eq!(a.record("bob").unwrap().at.as_deref(), Some("c2"));
    }

    #[test]
    fn logout_routes_numbers_home_and_stale_records_are_ignored() {
        let (mut a, mut b) = (table("c1"), table("c2"));
        b.local_login("bob", "c1", vec!["1".into()]);
        let old = b.full();
        b.local_logout("bob");
        send(&b, &mut a);
        assert_eq!(a.locate("1").unwrap().0, "c1");
        let ch = a.merge(vec![], old.records, vec![], vec![]);
        assert!(ch.records.is_empty() && ch.evict.is_empty());
        assert_eq!(a.record("bob").unwrap().at, None);
    }

    #[test]
    fn own_superuser_set_is_only_set_locally() {
        let (mut a, mut b) = (table("c1"), table("c2"));
        let set = |o: &str, v| SuperuserSet {
            origin: o.into(),
            version: v,
            users: vec![],
        };
        a.local_superusers(set("c1", 5));
        assert_eq!(send(&a, &mut b).superusers.len(), 1);
        let ch = a.merge(vec![], vec![], vec![], vec![set("c1", 99)]);
        assert!(ch.superusers.is_empty());
        assert!(send(&a, &mut b).is_empty(), "nothing new the second time");
    }
}
