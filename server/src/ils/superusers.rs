//! The superuser sync tool: copies each cluster's superusers (members of "Standard EM Roaming
//! Across Clusters Super Users") and their device profiles to every other cluster, on the
//! schedule the administrator sets and on demand ("Sync now").
//!
//! Cisco ships it as a separate web tool (details UNCONFIRMED: docs/decisions.md). Here each
//! cluster runs its part: at start, on every interval, on "Sync now", and when a user is made
//! a superuser, it snapshots its home superusers into a versioned set that ILS carries to
//! every cluster (relayed by hubs, persisted by each receiver, so a roaming cluster still
//! knows the superusers while their home is down). PINs travel only as
//! `HMAC(ILS password, user, PIN)`.

use std::time::Duration;

use emroam_protocol::ils::{self, LineEntry, ProfileEntry, SuperuserEntry, SuperuserSet};
use serde::Serialize;

use crate::cluster::{Cluster, now_ms};
use crate::sync::LockExt;

/// The superuser sync tool's state for one cluster (`GET /admin/superuser-sync`).
#[derive(Debug, Clone, Serialize)]
pub struct ToolStatus {
    /// Cluster ID.
    pub cluster: String,
    /// Its own superusers (copied from here).
    pub superusers: Vec<String>,
    /// Superusers of other clusters known here.
    pub synced: Vec<String>,
    /// Last sync, Unix milliseconds.
    pub last_sync_ms: Option<i64>,
    /// Next scheduled sync, Unix milliseconds.
    pub next_sync_ms: Option<i64>,
    /// The schedule, seconds.
    pub interval_secs: f64,
    /// Syncs run since start.
    pub syncs: u64,
}

impl Cluster {
    /// The superuser sync tool's state here.
    pub fn superuser_tool_status(&self) -> ToolStatus {
        let t = *self.ils().tool.locked();
        ToolStatus {
            cluster: self.id().to_owned(),
            superusers: self.home_superusers().into_iter().map(|u| u.id).collect(),
            synced: self.synced_superusers(),
            last_sync_ms: t.last_ms,
            next_sync_ms: t.next_ms,
            interval_secs: self.ils().tool_interval.borrow().as_secs_f64(),
            syncs: t.syncs,
        }
    }

    /// Asks the tool to sync now (returns at once).
    pub fn superuser_sync_now(&self) {
        self.ils().tool_now.notify_one();
    }

    /// Changes the tool's schedule.
    pub fn set_superuser_sync_interval(&self, d: Duration) {
        self.ils().tool_interval.send_replace(d);
    }

    /// Adds or removes a home user from the superuser group, then syncs superusers at once
    /// (which starts an ILS sync). `false`: no such home user.
    pub fn make_superuser(&self, user: &str, on: bool) -> bool {
        if !self.set_superuser(user, on) {
            return false;
        }
        self.superuser_sync_now();
        true
    }

    /// This cluster's superuser set now.
    pub(crate) fn superuser_set(&self) -> SuperuserSet {
        let pw = self.ils().password().to_owned();
        let users = self
            .home_superusers()
            .into_iter()
            .map(|u| SuperuserEntry {
                pin_digest: ils::pin_digest(&pw, &u.id, &u.pin),
                profiles: u
                    .profiles
                    .iter()
                    .filter_map(|p| self.profile(p))
                    .map(|p| ProfileEntry {
                        name: p.name,
                        locale: p.locale,
                        lines: p
                            .lines
                            .into_iter()
                            .map(|l| LineEntry {
                                dn: l.dn,
                                label: l.label,
                                display_name: l.display_name,
                            })
                            .collect(),
                        services: p.services,
                    })
                    .collect(),
                id: u.id,
                home: u.home,
                primary_extension: u.primary_extension,
                self_service_id: u.self_service_id,
                default_profile: u.default_profile,
            })
            .filter(|e| !e.profiles.is_empty())
            .collect();
        SuperuserSet {
            origin: self.id().to_owned(),
            version: u64::try_from(now_ms()).unwrap_or(0),
            users,
        }
    }

    /// One sync of the tool: publish this cluster's superusers.
    pub(crate) async fn superuser_sync(&self) {
        let set = self.superuser_set();
        let n = set.users.len();
        let ch = self.ils().lock().local_superusers(set);
        {
            let mut t = self.ils().tool.locked();
            t.last_ms = Some(now_ms());
            t.syncs += 1;
        }
        self.settle(ch, None).await;
        tracing::info!(cluster = %self.id(), superusers = n, "superuser sync");
    }
}

/// Runs the tool for one cluster until the cluster shuts down.
pub(crate) async fn run_tool(c: Cluster) {
    let token = c.token().clone();
    let mut interval = c.ils().tool_interval.subscribe();
    loop {
        // A cluster that is down cannot be read by the tool: skip, try at the next tick.
        if c.listeners_up() {
            c.superuser_sync().await;
        }
        let mut wait = *interval.borrow_and_update();
        loop {
            let next = tokio::time::Instant::now() + wait;
            c.ils().tool.locked().next_ms =
                Some(now_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
            tokio::select! {
                () = token.cancelled() => return,
                () = tokio::time::sleep_until(next) => break,
                () = c.ils().tool_now.notified() => break,
                r = interval.changed() => {
                    if r.is_err() { return }
                    wait = *interval.borrow_and_update();
                }
            }
        }
    }
}
