//! A cluster's directory: its own users, profiles, phones and application users, indexed by
//! primary extension and self-service ID ([`Directory`], read-only), and the superusers of
//! other clusters copied here by the superuser sync ([`SyncedDir`]).

use std::collections::HashMap;

use crate::topology::{AppUser, DeviceProfile, Line, Phone, Topology, User};

/// The cluster's read-only directory, indexed.
#[derive(Debug, Default)]
pub(super) struct Directory {
    pub(super) users: HashMap<String, User>,
    pub(super) by_dn: HashMap<String, Vec<String>>,
    pub(super) by_sp: HashMap<String, Vec<String>>,
    pub(super) profiles: HashMap<String, DeviceProfile>,
    pub(super) phones: HashMap<String, Phone>,
    pub(super) app_users: HashMap<String, AppUser>,
}

impl Directory {
    /// The users homed on cluster `id`, its phones and application users, and the profiles
    /// they use.
    pub(super) fn build(topo: &Topology, id: &str) -> Directory {
        let mut d = Directory::default();
        let all_profiles = topo.profile_map();
        let want = |name: &str, d: &mut Directory| {
            if let Some(p) = all_profiles.get(name) {
                d.profiles
                    .entry(name.to_owned())
                    .or_insert_with(|| (*p).clone());
            }
        };
        for u in topo.users.iter().filter(|u| u.home == id) {
            for p in &u.profiles {
                want(p, &mut d);
            }
            if let Some(dn) = &u.primary_extension {
                d.by_dn.entry(dn.clone()).or_default().push(u.id.clone());
            }
            if let Some(sp) = &u.self_service_id {
                d.by_sp.entry(sp.clone()).or_default().push(u.id.clone());
            }
            d.users.insert(u.id.clone(), u.clone());
        }
        for p in topo.phones.iter().filter(|p| p.cluster == id) {
            if let Some(lp) = &p.logout_profile {
                want(lp, &mut d);
            }
            d.phones.insert(p.name.clone(), p.clone());
        }
        for a in topo
            .app_users
            .iter()
            .filter(|a| a.clusters.is_empty() || a.clusters.iter().any(|c| c == id))
        {
            d.app_users.insert(a.id.clone(), a.clone());
        }
        d
    }
}

/// Superusers of other clusters and their device profiles, copied by the superuser sync
/// (replaced wholesale on every change; read far more often than written).
#[derive(Debug, Default)]
pub(super) struct SyncedDir {
    pub(super) users: HashMap<String, User>,
    /// User → [`emroam_protocol::ils::pin_digest`] of the PIN (the PIN itself never travels).
    pub(super) pin_digests: HashMap<String, String>,
    pub(super) by_dn: HashMap<String, Vec<String>>,
    pub(super) by_sp: HashMap<String, Vec<String>>,
    pub(super) profiles: HashMap<String, DeviceProfile>,
}

impl SyncedDir {
    /// Builds the synced directory from the superuser sets of other clusters, skipping users
    /// and profiles this cluster has of its own.
    pub(super) fn build(
        own: &Directory,
        sets: &[emroam_protocol::ils::SuperuserSet],
        me: &str,
    ) -> SyncedDir {
        let mut d = SyncedDir::default();
        for set in sets.iter().filter(|s| s.origin != me) {
            for u in &set.users {
                if own.users.contains_key(&u.id) || d.users.contains_key(&u.id) {
                    continue;
                }
                for p in &u.profiles {
                    if !own.profiles.contains_key(&p.name) {
                        d.profiles
                            .entry(p.name.clone())
                            .or_insert_with(|| DeviceProfile {
                                name: p.name.clone(),
                                locale: p.locale.clone(),
                                lines: p
                                    .lines
                                    .iter()
                                    .map(|l| Line {
                                        dn: l.dn.clone(),
                                        label: l.label.clone(),
                                        display_name: l.display_name.clone(),
                                    })
                                    .collect(),
                                services: p.services.clone(),
                            });
                    }
                }
                if let Some(dn) = &u.primary_extension {
                    d.by_dn.entry(dn.clone()).or_default().push(u.id.clone());
                }
                if let Some(sp) = &u.self_service_id {
                    d.by_sp.entry(sp.clone()).or_default().push(u.id.clone());
                }
                d.pin_digests.insert(u.id.clone(), u.pin_digest.clone());
                d.users.insert(
                    u.id.clone(),
                    User {
                        id: u.id.clone(),
                        // Never compared: a synced user's PIN is checked against its digest.
                        pin: String::new(),
                        primary_extension: u.primary_extension.clone(),
                        self_service_id: u.self_service_id.clone(),
                        home: u.home.clone(),
                        profiles: u.profiles.iter().map(|p| p.name.clone()).collect(),
                        default_profile: u.default_profile.clone(),
                        superuser: true,
                        password: None,
                        // A phone's digest user is an end user of the phone's own cluster.
                        digest_credentials: None,
                    },
                );
            }
        }
        d
    }
}
