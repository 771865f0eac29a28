//! The phones and users of a profile: from `[[target]]` tables, or from a topology's
//! clusters (selected by `[population]`).

use std::collections::HashMap;
use std::sync::Arc;

use emroam_schema::{Topology, em_url};
use toml::Spanned;

use super::raw::{
    RawDevicePattern, RawDevices, RawPopulation, RawTarget, RawUserPattern, RawUsers,
};
use super::types::{AppUser, ProfileError, Target, UserSpec};
use super::validate::Validator;
use crate::phone::sipua::DigestCredentials;

impl Validator<'_> {
    /// One target per selected cluster of the topology: its EM-enabled phones and the users
    /// homed there, its URLs from its address and ports.
    pub(super) fn topology_targets(
        &self,
        topo: &Topology,
        pop: Option<&Spanned<RawPopulation>>,
    ) -> Result<Vec<Target>, ProfileError> {
        let at = pop.map_or(usize::MAX, |p| p.span().start);
        let pop = pop.map(Spanned::get_ref);
        let wanted = pop.and_then(|p| p.clusters.clone());
        if let Some(w) = &wanted {
            for id in w {
                if topo.cluster(id).is_none() {
                    return Err(self.err(
                        at,
                        format!("[population]: no cluster `{id}` in the topology"),
                    ));
                }
            }
        }
        let mut targets = Vec::new();
        for c in &topo.clusters {
            if wanted.as_ref().is_some_and(|w| !w.contains(&c.id)) {
                continue;
            }
            let host = match c.address {
                std::net::IpAddr::V6(a) => format!("[{a}]"),
                a @ std::net::IpAddr::V4(_) => a.to_string(),
            };
            let http = format!("http://{host}:{}", c.ports.http);
            let app_user = topo
                .app_users
                .iter()
                .find(|a| a.proxy_rights && (a.clusters.is_empty() || a.clusters.contains(&c.id)))
                .map(|a| AppUser {
                    id: a.id.clone(),
                    password: a.password.clone(),
                });
            let max_dev = pop
                .and_then(|p| p.devices_per_cluster)
                .unwrap_or(usize::MAX);
            let max_users = pop.and_then(|p| p.users_per_cluster).unwrap_or(usize::MAX);
            let devices: Vec<String> = topo
                .phones
                .iter()
                .filter(|p| p.cluster == c.id && p.em_enabled)
                .take(max_dev)
                .map(|p| p.name.clone())
                .collect();
            let users: Vec<Arc<UserSpec>> = topo
                .users
                .iter()
                .filter(|u| u.home == c.id)
                .take(max_users)
                .map(|u| {
                    Arc::new(UserSpec {
                        id: u.id.clone(),
                        pin: u.pin.clone(),
                        dn: u.primary_extension.clone(),
                        self_service_id: u.self_service_id.clone(),
                        superuser: u.superuser,
                    })
                })
                .collect();
            // Asking for more than the topology has is a mistake, not a smaller run: said
            // for every cluster the run would use (or that the population names).
            let named = wanted.as_ref().is_some_and(|w| w.contains(&c.id));
            if named || !(devices.is_empty() || users.is_empty()) {
                for (key, asked, found, what) in [
                    (
                        "devices_per_cluster",
                        max_dev,
                        devices.len(),
                        "EM-enabled phones",
                    ),
                    (
                        "users_per_cluster",
                        max_users,
                        users.len(),
                        "users homed there",
                    ),
                ] {
                    if asked != usize::MAX && found < asked {
                        return Err(self.err(
                            at,
                            format!(
                                "[population]: {key} = {asked}, but {} has {found} {what}",
                                c.id
                            ),
                        ));
                    }
                }
            }
            if devices.is_empty() || users.is_empty() {
                continue;
            }
            targets.push(Target {
                cluster: c.id.clone(),
                service_url: em_url::em_service_url(&http),
                config_url: Some(em_url::config_url_template(&host, c.ports.config)),
                emservice_url: app_user.as_ref().map(|_| em_url::emapi_url(&http)),
                app_user,
                admin_url: Some(http),
                digest: digest_of(topo, &devices),
                devices,
                users,
            });
        }
        if targets.is_empty() {
            return Err(self.err(
                at,
                "the topology selection has no EM-enabled phones with users",
            ));
        }
        Ok(targets)
    }

    pub(super) fn target(&self, t: &Spanned<RawTarget>) -> Result<Target, ProfileError> {
        let at = t.span().start;
        let r = t.get_ref();
        for (k, u) in [
            ("service_url", Some(&r.service_url)),
            ("config_url", r.config_url.as_ref()),
            ("emservice_url", r.emservice_url.as_ref()),
            ("admin_url", r.admin_url.as_ref()),
        ] {
            if let Some(u) = u
                && !u.starts_with("http://")
            {
                return Err(self.err(
                    at,
                    format!("target `{}`: {k} must be an http:// URL", r.cluster),
                ));
            }
        }
        if !r.service_url.contains(em_url::DEVICE_NAME_MACRO) {
            return Err(self.err(
                at,
                format!(
                    "target `{}`: service_url needs #DEVICENAME# (the phone substitutes it)",
                    r.cluster
                ),
            ));
        }
        if r.emservice_url.is_some() != r.app_user.is_some() {
            return Err(self.err(
                at,
                format!(
                    "target `{}`: emservice_url and app_user go together",
                    r.cluster
                ),
            ));
        }
        let devices = match &r.devices {
            RawDevices::List(v) => v.clone(),
            RawDevices::Pattern(RawDevicePattern { first, count }) => {
                let hex = first.strip_prefix("SEP").filter(|h| h.len() == 12);
                let Some(n) = hex.and_then(|h| u64::from_str_radix(h, 16).ok()) else {
                    return Err(self.err(
                        at,
                        format!("devices.first `{first}` is not SEP + 12 hex digits"),
                    ));
                };
                (0..*count as u64)
                    .map(|i| format!("SEP{:012X}", n + i))
                    .collect()
            }
        };
        for d in &devices {
            let ok = d.len() == 15
                && d.starts_with("SEP")
                && d[3..].bytes().all(|b| b.is_ascii_hexdigit());
            if !ok {
                return Err(self.err(at, format!("device `{d}` is not SEP + 12 hex digits")));
            }
        }
        let users: Vec<Arc<UserSpec>> = match &r.users {
            RawUsers::List(v) => v
                .iter()
                .map(|u| {
                    Arc::new(UserSpec {
                        id: u.id.clone(),
                        pin: u.pin.clone(),
                        dn: u.dn.clone(),
                        self_service_id: u.self_service_id.clone().or_else(|| u.dn.clone()),
                        superuser: u.superuser,
                    })
                })
                .collect(),
            RawUsers::Pattern(RawUserPattern {
                prefix,
                first,
                count,
                width,
                pin,
                dn_first,
                superuser,
            }) => (0..*count as u64)
                .map(|i| {
                    let dn = dn_first.map(|d| (d + i).to_string());
                    Arc::new(UserSpec {
                        id: format!("{prefix}{:0width$}", first + i, width = *width),
                        pin: pin.clone(),
                        self_service_id: dn.clone(),
                        dn,
                        superuser: *superuser,
                    })
                })
                .collect(),
        };
        if devices.is_empty() || users.is_empty() {
            return Err(self.err(
                at,
                format!("target `{}`: needs devices and users", r.cluster),
            ));
        }
        Ok(Target {
            cluster: r.cluster.clone(),
            service_url: r.service_url.clone(),
            config_url: r.config_url.clone(),
            emservice_url: r.emservice_url.clone(),
            app_user: r.app_user.clone(),
            admin_url: r.admin_url.clone(),
            devices,
            users,
            digest: HashMap::new(),
        })
    }
}

/// The digest credentials of those of `devices` whose security profile has digest on: the
/// phone's digest user and that user's digest credentials (the topology checked both exist).
fn digest_of(topo: &Topology, devices: &[String]) -> HashMap<String, Arc<DigestCredentials>> {
    let wanted: std::collections::HashSet<&str> = devices.iter().map(String::as_str).collect();
    let phones: Vec<_> = topo
        .phones
        .iter()
        .filter(|p| p.digest && wanted.contains(p.name.as_str()))
        .collect();
    if phones.is_empty() {
        return HashMap::new();
    }
    let secrets: HashMap<&str, &str> = topo
        .users
        .iter()
        .filter_map(|u| Some((u.id.as_str(), u.digest_credentials.as_deref()?)))
        .collect();
    phones
        .into_iter()
        .filter_map(|p| {
            let user = p.digest_user.as_deref()?;
            let password = secrets.get(user)?;
            Some((
                p.name.clone(),
                Arc::new(DigestCredentials {
                    user: user.to_owned(),
                    password: (*password).to_owned(),
                }),
            ))
        })
        .collect()
}
