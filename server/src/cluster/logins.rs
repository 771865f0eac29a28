//! The in-memory login table and the automatic-logout timers.
//!
//! A login is first *reserved* (so concurrent requests see the device and user as taken),
//! then written to the database, then *committed*; a failed write rolls the reservation back.
//! Only committed logins are visible to queries, the config server and the admin API.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::{Cluster, LoginInfo, RestartKind, now_ms};
use crate::store::{LoginRow, StoreOp};
use crate::sync::LockExt;

/// One device's login (reserved or committed).
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) user: String,
    pub(crate) profile: String,
    pub(crate) since_ms: i64,
    pub(crate) expires_ms: Option<i64>,
    /// Distinguishes successive logins on one device (so an old timer cannot end a new login).
    pub(crate) generation: u64,
    pub(crate) committed: bool,
}

impl Entry {
    fn info(&self, device: &str) -> LoginInfo {
        LoginInfo {
            device: device.to_owned(),
            user: self.user.clone(),
            profile: self.profile.clone(),
            since_ms: self.since_ms,
            expires_ms: self.expires_ms,
        }
    }

    pub(crate) fn row(&self, device: &str) -> LoginRow {
        LoginRow {
            device: device.to_owned(),
            user: self.user.clone(),
            profile: self.profile.clone(),
            since_ms: self.since_ms,
            expires_ms: self.expires_ms,
        }
    }
}

/// Device → login, and user → devices.
#[derive(Debug, Default)]
pub(crate) struct LoginTable {
    by_device: HashMap<String, Entry>,
    by_user: HashMap<String, HashSet<String>>,
    /// Device → the last user who logged in there (kept after logout; CUCM's `lastuserid`).
    last_user: HashMap<String, String>,
    next_generation: u64,
}

impl LoginTable {
    pub(crate) fn restore(&mut self, r: LoginRow) {
        self.next_generation += 1;
        let e = Entry {
            user: r.user,
            profile: r.profile,
            since_ms: r.since_ms,
            expires_ms: r.expires_ms,
            generation: self.next_generation,
            committed: true,
        };
        self.last_user.insert(r.device.clone(), e.user.clone());
        self.insert(r.device, e);
    }

    fn insert(&mut self, device: String, e: Entry) {
        self.by_user
            .entry(e.user.clone())
            .or_default()
            .insert(device.clone());
        if let Some(old) = self.by_device.insert(device.clone(), e) {
            self.unlink(&device, &old.user);
        }
    }

    fn unlink(&mut self, device: &str, user: &str) {
        if let Some(set) = self.by_user.get_mut(user) {
            set.remove(device);
            if set.is_empty() {
                self.by_user.remove(user);
            }
        }
    }

    pub(crate) fn generation(&self, device: &str) -> Option<u64> {
        self.by_device.get(device).map(|e| e.generation)
    }

    pub(crate) fn get(&self, device: &str) -> Option<&Entry> {
        self.by_device.get(device)
    }

    pub(crate) fn committed(&self, device: &str) -> Option<LoginInfo> {
        self.by_device
            .get(device)
            .filter(|e| e.committed)
            .map(|e| e.info(device))
    }

    /// The last user who logged in on a device.
    pub(crate) fn last_user(&self, device: &str) -> Option<String> {
        self.last_user.get(device).cloned()
    }

    /// Devices of a user, reserved or committed: `(device, committed)`.
    pub(crate) fn user_devices(&self, user: &str) -> Vec<(String, bool)> {
        let mut v: Vec<_> = self
            .by_user
            .get(user)
            .into_iter()
            .flatten()
            .map(|d| {
                (
                    d.clone(),
                    self.by_device.get(d).is_some_and(|e| e.committed),
                )
            })
            .collect();
        v.sort();
        v
    }

    pub(crate) fn devices_of(&self, user: &str) -> Vec<String> {
        self.user_devices(user)
            .into_iter()
            .filter(|(_, c)| *c)
            .map(|(d, _)| d)
            .collect()
    }

    pub(crate) fn all_committed(&mut self) -> Vec<LoginInfo> {
        self.by_device
            .iter()
            .filter(|(_, e)| e.committed)
            .map(|(d, e)| e.info(d))
            .collect()
    }

    /// Reserves a device for a login; returns its generation.
    pub(crate) fn reserve(
        &mut self,
        device: &str,
        user: &str,
        profile: &str,
        since_ms: i64,
        expires_ms: Option<i64>,
    ) -> u64 {
        self.next_generation += 1;
        let generation = self.next_generation;
        self.insert(
            device.to_owned(),
            Entry {
                user: user.to_owned(),
                profile: profile.to_owned(),
                since_ms,
                expires_ms,
                generation,
                committed: false,
            },
        );
        generation
    }

    /// Removes a device's login (reserved or committed).
    pub(crate) fn take(&mut self, device: &str) -> Option<Entry> {
        let e = self.by_device.remove(device)?;
        self.unlink(device, &e.user);
        Some(e)
    }

    /// Puts back a login taken by [`LoginTable::take`] (rollback).
    /// A device taken since (by a newer login) is left alone.
    pub(crate) fn put_back(&mut self, device: &str, e: Entry) {
        if !self.by_device.contains_key(device) {
            self.insert(device.to_owned(), e);
        }
    }

    /// Marks a reservation committed if it is still the same login.
    pub(crate) fn commit(&mut self, device: &str, generation: u64) {
        if let Some(e) = self.by_device.get_mut(device)
            && e.generation == generation
        {
            e.committed = true;
            self.last_user.insert(device.to_owned(), e.user.clone());
        }
    }

    /// Removes a reservation if it is still the same login.
    pub(crate) fn cancel(&mut self, device: &str, generation: u64) {
        if self
            .by_device
            .get(device)
            .is_some_and(|e| e.generation == generation)
        {
            self.take(device);
        }
    }

    /// Every committed login removed at once (logoutAll).
    pub(crate) fn take_all_committed(&mut self) -> Vec<(String, Entry)> {
        let devices: Vec<String> = self
            .by_device
            .iter()
            .filter(|(_, e)| e.committed)
            .map(|(d, _)| d.clone())
            .collect();
        devices
            .into_iter()
            .filter_map(|d| self.take(&d).map(|e| (d, e)))
            .collect()
    }
}

impl Cluster {
    pub(crate) fn lock_logins(&self) -> std::sync::MutexGuard<'_, LoginTable> {
        self.inner.logins.locked()
    }

    /// What a device must do after its profile changed from `from` to `to` (profile names;
    /// `None`: the logout profile).
    pub(crate) fn restart_kind(
        &self,
        device: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> RestartKind {
        let Some(phone) = self.phone(device) else {
            return RestartKind::Restart;
        };
        let logout = self.logout_locale(phone);
        let locale = |p: Option<&str>| {
            p.and_then(|p| self.profile(p))
                .map_or_else(|| logout.clone(), |p| p.locale.clone())
        };
        if locale(from) == locale(to) {
            RestartKind::Restart
        } else {
            RestartKind::Reset
        }
    }

    /// Ends `device`'s login `generation` after `after` unless it ended before.
    pub(crate) fn schedule_expiry(&self, device: String, generation: u64, after: Duration) {
        let c = self.clone();
        let token = self.token().clone();
        self.tracker().spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(after) => c.expire(&device, generation).await,
                () = token.cancelled() => {}
            }
        });
    }

    /// Automatic logout when the maximum login time passes.
    async fn expire(&self, device: &str, generation: u64) {
        let taken = {
            let mut t = self.lock_logins();
            match t.get(device) {
                Some(e) if e.generation == generation && e.committed => t.take(device),
                _ => None,
            }
        };
        let Some(entry) = taken else { return };
        if let Err(e) = self
            .store()
            .commit(vec![StoreOp::Delete(device.to_owned())])
            .await
        {
            // The row stays; on restart it is found expired and ended then.
            tracing::error!(cluster = %self.id(), %device, error = %e, "automatic logout not persisted");
        }
        tracing::info!(cluster = %self.id(), %device, user = %entry.user, "automatic logout (maximum login time)");
        self.counters().logouts_ok(1);
        let kind = self.restart_kind(device, Some(&entry.profile), None);
        self.push_restart(device, kind);
        self.roam_after_logout(&entry.user).await;
    }

    /// Unix time now in milliseconds.
    pub(crate) fn now_ms(&self) -> i64 {
        now_ms()
    }
}
