//! Where the fleet believes each user's number is now: which cluster, which phone (by MAC).
//! Shards write it when a login or logout succeeds and read it to choose a callee, so the
//! caller knows which phone should answer and a misrouted call can be told apart.
//!
//! Shared by the shards behind one short std mutex (never held across `.await`); every
//! operation is O(1), so a pick costs the same with 100 users or 100,000.
//!
//! It also keeps, for the dashboard, who each phone carries and where the users who roamed
//! are ([`Directory::logged_in`], [`Directory::logged_out`]), read by the aggregator into
//! each snapshot ([`Directory::roamers`], [`Directory::carried`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::time::Instant;

use super::profile::CalleeMix;
use super::stats::{Move, Roamer};

/// How many roaming users the directory keeps for the dashboard (the most recent movers): more
/// than any screen shows, so memory stays bounded whatever the population.
pub const ROAMERS_KEPT: usize = 32;

/// Whom a call goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalleeKind {
    /// Someone logged in at the caller's cluster.
    SameCluster,
    /// Someone logged in at another cluster.
    OtherCluster,
    /// Someone logged in away from their home cluster (EM roaming).
    Roamed,
}

/// A callee the fleet chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callee {
    /// The number to call.
    pub dn: String,
    /// The cluster where the user is logged in.
    pub cluster: usize,
    /// The MAC of the phone that should answer.
    pub mac: String,
}

#[derive(Debug)]
struct Entry {
    cluster: usize,
    mac: String,
    /// Position in `by_cluster[cluster]`.
    idx: usize,
    /// Position in `roamed`, when the user is away from home.
    roam_idx: Option<usize>,
}

#[derive(Debug, Default)]
struct Dir {
    at: HashMap<String, Entry>,
    by_cluster: Vec<Vec<String>>,
    roamed: Vec<String>,
    /// Numbers kept for the profile's story: placed (the story calls them where they are),
    /// never picked for the random load's calls.
    kept: std::collections::HashSet<String>,
}

/// A user's last login as the fleet saw it.
#[derive(Debug)]
struct Seen {
    /// The cluster of their last login (kept after they log out: where a move starts from).
    cluster: usize,
    /// The phone they are logged in on now; `None`: logged out.
    device: Option<String>,
}

/// A roaming user with the time of their last move (a tokio instant, turned into the
/// snapshots' clock when read).
#[derive(Debug)]
struct Roaming {
    roamer: Roamer,
    moved: Option<(Option<usize>, usize, Instant)>,
}

/// Who is where, for the dashboard: every user's last login (bounded by the population), who
/// each phone carries (bounded by the phones), the last [`ROAMERS_KEPT`] roaming users.
#[derive(Debug, Default)]
struct Whereabouts {
    seen: HashMap<String, Seen>,
    /// Copied on write: a snapshot holding the previous map costs one copy on the next change.
    carried: Arc<HashMap<String, String>>,
    /// Most recent move last.
    roaming: Vec<Roaming>,
}

/// A user logging in, as [`Directory::logged_in`] takes it.
#[derive(Debug, Clone, Copy)]
pub struct Login<'a> {
    /// User ID.
    pub user: &'a str,
    /// Their number, if any.
    pub dn: Option<&'a str>,
    /// Their home cluster (target index).
    pub home: usize,
    /// Where they logged in (target index).
    pub cluster: usize,
    /// On which phone.
    pub device: &'a str,
}

/// The fleet's view of where numbers are (see the module docs).
#[derive(Debug)]
pub struct Directory {
    inner: Mutex<Dir>,
    /// Apart from `inner`: the dashboard's reads never hold up a callee pick.
    whereabouts: Mutex<Whereabouts>,
}

impl Directory {
    /// An empty directory of `clusters` clusters.
    pub fn new(clusters: usize) -> Self {
        Self {
            inner: Mutex::new(Dir {
                by_cluster: vec![Vec::new(); clusters],
                ..Dir::default()
            }),
            whereabouts: Mutex::default(),
        }
    }

    fn where_(&self) -> std::sync::MutexGuard<'_, Whereabouts> {
        self.whereabouts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A user logged in (a login journey succeeded, or found logged in at the start) at `now`.
    /// A login at another cluster than their last is a move; a user away from home, or one who
    /// was, is a roaming user.
    pub fn logged_in(&self, l: Login<'_>, now: Instant) {
        let mut w = self.where_();
        let before = w.seen.insert(
            l.user.to_owned(),
            Seen {
                cluster: l.cluster,
                device: Some(l.device.to_owned()),
            },
        );
        let carried = Arc::make_mut(&mut w.carried);
        if let Some(old) = before.as_ref().and_then(|b| b.device.as_deref())
            && old != l.device
            && carried.get(old).is_some_and(|u| u == l.user)
        {
            carried.remove(old);
        }
        carried.insert(l.device.to_owned(), l.user.to_owned());
        let at = w.roaming.iter().position(|r| r.roamer.user == l.user);
        if at.is_none() && l.cluster == l.home {
            return;
        }
        let mut r = match at {
            Some(i) => w.roaming.remove(i),
            None => Roaming {
                roamer: Roamer {
                    user: l.user.to_owned(),
                    dn: l.dn.map(str::to_owned),
                    home: l.home,
                    now: None,
                    last_move: None,
                },
                moved: None,
            },
        };
        r.roamer.now = Some((l.cluster, l.device.to_owned()));
        let from = before.map(|b| b.cluster);
        if let (Some(i), Some(_)) = (at, r.moved)
            && from == Some(l.cluster)
        {
            // Logged in again where they were: no move, and their place in the order stays.
            w.roaming.insert(i, r);
            return;
        }
        r.moved = Some((from, l.cluster, now));
        w.roaming.push(r);
        if w.roaming.len() > ROAMERS_KEPT {
            w.roaming.remove(0);
        }
    }

    /// A login or logout journey of `l.user` on `l.device` ended (`ok`: it succeeded): a login
    /// that worked places them; a logout, whatever its end, leaves the phone without them (as
    /// the callee index does).
    pub fn journey_ended(&self, l: Login<'_>, task: crate::phone::TaskKind, ok: bool) {
        match task {
            crate::phone::TaskKind::Login if ok => self.logged_in(l, Instant::now()),
            crate::phone::TaskKind::Logout => self.logged_out(l.user, l.device),
            _ => {}
        }
    }

    /// `user` is no longer logged in on `device` (a later login elsewhere is left alone).
    pub fn logged_out(&self, user: &str, device: &str) {
        let mut w = self.where_();
        match w.seen.get_mut(user) {
            Some(s) if s.device.as_deref() == Some(device) => s.device = None,
            _ => return,
        }
        if w.carried.get(device).is_some_and(|u| u == user) {
            Arc::make_mut(&mut w.carried).remove(device);
        }
        if let Some(r) = w.roaming.iter_mut().find(|r| r.roamer.user == user) {
            r.roamer.now = None;
        }
    }

    /// The roaming users, most recent move first, their moves' times since `start`.
    pub fn roamers(&self, start: Instant) -> Vec<Roamer> {
        self.where_()
            .roaming
            .iter()
            .rev()
            .map(|r| Roamer {
                last_move: r.moved.map(|(from, to, at)| Move {
                    from,
                    to,
                    at: at.saturating_duration_since(start),
                }),
                ..r.roamer.clone()
            })
            .collect()
    }

    /// Who each phone carries (device → user ID).
    pub fn carried(&self) -> Arc<HashMap<String, String>> {
        self.where_().carried.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Dir> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `dn` is now logged in at `cluster` on the phone `mac`; `roamed`: away from home.
    pub fn set(&self, dn: &str, cluster: usize, mac: &str, roamed: bool) {
        let mut d = self.lock();
        d.remove(dn);
        let Some(list) = d.by_cluster.get_mut(cluster) else {
            return;
        };
        list.push(dn.to_owned());
        let idx = list.len() - 1;
        let roam_idx = roamed.then(|| {
            d.roamed.push(dn.to_owned());
            d.roamed.len() - 1
        });
        d.at.insert(
            dn.to_owned(),
            Entry {
                cluster,
                mac: mac.to_owned(),
                idx,
                roam_idx,
            },
        );
    }

    /// Keeps `dn` for the profile's story: never picked for a random call.
    pub fn keep(&self, dn: &str) {
        self.lock().kept.insert(dn.to_owned());
    }

    /// `dn` is no longer logged in on `mac` (a later login elsewhere is left alone).
    pub fn remove(&self, dn: &str, mac: &str) {
        let mut d = self.lock();
        if d.at.get(dn).is_some_and(|e| e.mac == mac) {
            d.remove(dn);
        }
    }

    /// Where `dn` is now: (cluster, MAC).
    pub fn locate(&self, dn: &str) -> Option<(usize, String)> {
        self.lock().at.get(dn).map(|e| (e.cluster, e.mac.clone()))
    }

    /// How many numbers are placed.
    pub fn len(&self) -> usize {
        self.lock().at.len()
    }

    /// Whether no number is placed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Chooses a callee of `kind` for a caller at `cluster` on phone `caller_mac`, from two
    /// uniform draws in [0, 1); falls back to any placed number but the caller's own.
    pub fn pick(
        &self,
        kind: CalleeKind,
        cluster: usize,
        caller_mac: &str,
        u: f64,
        v: f64,
    ) -> Option<Callee> {
        let d = self.lock();
        let n_clusters = d.by_cluster.len();
        let from = |list: &[String], u: f64| -> Option<Callee> {
            if list.is_empty() {
                return None;
            }
            let start = ((u * list.len() as f64) as usize).min(list.len() - 1);
            // A few probes past the caller's own numbers.
            (0..list.len().min(4)).find_map(|k| {
                let dn = &list[(start + k) % list.len()];
                let e = d.at.get(dn)?;
                (e.mac != caller_mac && !d.kept.contains(dn)).then(|| Callee {
                    dn: dn.clone(),
                    cluster: e.cluster,
                    mac: e.mac.clone(),
                })
            })
        };
        let chosen = match kind {
            CalleeKind::SameCluster => d.by_cluster.get(cluster).and_then(|l| from(l, u)),
            CalleeKind::OtherCluster if n_clusters > 1 => {
                let k = ((v * (n_clusters - 1) as f64) as usize).min(n_clusters - 2);
                let other = (cluster + 1 + k) % n_clusters;
                (0..n_clusters - 1).find_map(|j| {
                    let c = (other + j) % n_clusters;
                    if c == cluster {
                        return None;
                    }
                    from(&d.by_cluster[c], u)
                })
            }
            CalleeKind::OtherCluster => None,
            CalleeKind::Roamed => from(&d.roamed, u),
        };
        chosen.or_else(|| {
            (0..n_clusters).find_map(|j| from(&d.by_cluster[(cluster + j) % n_clusters], u))
        })
    }
}

impl Dir {
    fn remove(&mut self, dn: &str) {
        let Some(e) = self.at.remove(dn) else {
            return;
        };
        let list = &mut self.by_cluster[e.cluster];
        list.swap_remove(e.idx);
        if let Some(moved) = list.get(e.idx).cloned()
            && let Some(m) = self.at.get_mut(&moved)
        {
            m.idx = e.idx;
        }
        if let Some(r) = e.roam_idx {
            self.roamed.swap_remove(r);
            if let Some(moved) = self.roamed.get(r).cloned()
                && let Some(m) = self.at.get_mut(&moved)
            {
                m.roam_idx = Some(r);
            }
        }
    }
}

impl CalleeMix {
    /// The kind of callee a uniform draw `u` in [0, 1) picks.
    pub fn kind(&self, u: f64) -> CalleeKind {
        let total = f64::from(self.same_cluster + self.other_cluster + self.roamed);
        let x = u * total;
        if x < f64::from(self.same_cluster) {
            CalleeKind::SameCluster
        } else if x < f64::from(self.same_cluster + self.other_cluster) {
            CalleeKind::OtherCluster
        } else {
            CalleeKind::Roamed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_by_kind_and_never_the_caller() {
        let d = Directory::new(3);
        d.set("1000", 0, "aaaaaaaaaaa0", false);
        d.set("1001", 0, "aaaaaaaaaaa1", false);
        d.set("2000", 1, "bbbbbbbbbbb0", false);
        d.set("3000", 2, "ccccccccccc0", true);
        for i in 0..20 {
            let u = f64::from(i) / 20.0;
            let c = d
                .pick(CalleeKind::SameCluster, 0, "aaaaaaaaaaa0", u, u)
                .unwrap();
            assert_eq!(c.dn, "1001");
            let c = d
                .pick(CalleeKind::OtherCluster, 0, "aaaaaaaaaaa0", u, u)
                .unwrap();
            assert_ne!(c.cluster, 0);
            let c = d.pick(CalleeKind::Roamed, 1, "bbbbbbbbbbb0", u, u).unwrap();
            assert_eq!((c.dn.as_str(), c.mac.as_str()), ("3000", "ccccccccccc0"));
        }
    }

    #[test]
    fn moves_and_removals_keep_the_indexes_right() {
        let d = Directory::new(2);
        for i in 0..50 {
            d.set(&format!("{i}"), i % 2, &format!("{i:012}"), i % 3 == 0);
        }
        // The user of 10 roams to cluster 1 on another phone; the old phone's logout does
        // not remove the new location.
        d.set("10", 1, "newphone0010", true);
        d.remove("10", &format!("{:012}", 10));
        assert_eq!(d.locate("10"), Some((1, "newphone0010".into())));
        for i in (0..50).step_by(2) {
            if i != 10 {
                d.remove(&format!("{i}"), &format!("{i:012}"));
            }
        }
        assert_eq!(d.len(), 26);
        for i in 0..200 {
            let u = f64::from(i) / 200.0;
            let c = d.pick(CalleeKind::SameCluster, 0, "x", u, u).unwrap();
            assert_eq!(d.locate(&c.dn), Some((c.cluster, c.mac.clone())));
            let r = d.pick(CalleeKind::Roamed, 0, "x", u, u).unwrap();
            assert_eq!(d.locate(&r.dn).map(|l| l.1), Some(r.mac));
        }
        // Nobody placed: nothing to pick.
        let e = Directory::new(2);
        assert_eq!(e.pick(CalleeKind::SameCluster, 0, "x", 0.5, 0.5), None);
    }

    fn login<'a>(user: &'a str, home: usize, cluster: usize, device: &'a str) -> Login<'a> {
        Login {
            user,
            dn: Some("2000"),
            home,
            cluster,
            device,
        }
    }

    #[test]
    fn roamers_moves_and_who_each_phone_carries() {
        let d = Directory::new(3);
        let t0 = Instant::now();
        let s = std::time::Duration::from_secs;
        // Bob at home on cluster 0: not a roamer, but his phone carries him.
        d.logged_in(login("bob", 0, 0, "SEP1"), t0);
        d.logged_in(login("kally", 2, 2, "SEP3"), t0);
        assert!(d.roamers(t0).is_empty());
        assert_eq!(d.carried().get("SEP1").map(String::as_str), Some("bob"));
        // He roams to cluster 1; his home phone's logout comes after and changes nothing.
        d.logged_in(login("bob", 0, 1, "SEP2"), t0 + s(5));
        d.logged_out("bob", "SEP1");
        let r = d.roamers(t0);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].now, Some((1, "SEP2".into())));
        assert_eq!(
            r[0].last_move,
            Some(Move {
                from: Some(0),
                to: 1,
                at: s(5)
            })
        );
        let c = d.carried();
        assert_eq!(c.get("SEP2").map(String::as_str), Some("bob"));
        assert!(!c.contains_key("SEP1"));
        // Logged out: still a roamer, nowhere now; home again: the move back is recorded.
        d.logged_out("bob", "SEP2");
        assert_eq!(d.roamers(t0)[0].now, None);
        d.logged_in(login("bob", 0, 0, "SEP1"), t0 + s(9));
        let m = d.roamers(t0)[0].last_move.unwrap();
        assert_eq!((m.from, m.to, m.at), (Some(1), 0, s(9)));
        // Most recent move first; bounded.
        d.logged_in(login("alice", 1, 0, "SEP4"), t0 + s(10));
        assert_eq!(d.roamers(t0)[0].user, "alice");
        for i in 0..(ROAMERS_KEPT + 5) {
            d.logged_in(login(&format!("u{i}"), 1, 2, &format!("D{i}")), t0 + s(11));
        }
        let r = d.roamers(t0);
        assert_eq!(r.len(), ROAMERS_KEPT);
        assert_eq!(r[0].user, format!("u{}", ROAMERS_KEPT + 4));
        assert!(!r.iter().any(|x| x.user == "bob"));
        // Someone else's logout of a phone leaves its user alone.
        d.logged_out("kally", "SEP9");
        assert_eq!(d.carried().get("SEP3").map(String::as_str), Some("kally"));
    }

    #[test]
    fn the_mix_weights_choose_kinds() {
        let m = CalleeMix {
            same_cluster: 1,
            other_cluster: 2,
            roamed: 1,
        };
        assert_eq!(m.kind(0.1), CalleeKind::SameCluster);
        assert_eq!(m.kind(0.5), CalleeKind::OtherCluster);
        assert_eq!(m.kind(0.9), CalleeKind::Roamed);
    }
}
