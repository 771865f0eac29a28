//! End-of-run reconciliation: what the fleet believes is logged in against what each cluster
//! says through the EM API, so leaked and missing logins are reported: `deviceUserQuery` for
//! the fleet's devices, `userDevicesQuery` for its users (a user logged in on a device the
//! fleet does not drive is a leak the device query cannot see).

use std::collections::HashMap;
use std::time::Duration;

use emroam_protocol::emapi::{
    self, AppInfo, DeviceUserQuery, Envelope, Response, UserDevicesQuery,
};

use super::profile::Profile;
use crate::driver::HttpClient;
use crate::phone::{HttpRequest, Method};

/// Devices per query.
pub const BATCH: usize = 50;

/// What the fleet believes when someone it does not know is logged in on a phone.
pub const SOMEONE: &str = "<someone>";

/// Who each target cluster says is logged in on its devices (targets with EM API access;
/// devices whose answer did not come are absent, and the failed queries are added to `errors`).
pub async fn query(
    profile: &Profile,
    client: &mut HttpClient,
    errors: &mut Vec<String>,
) -> HashMap<String, Option<String>> {
    let mut out = HashMap::new();
    for t in &profile.targets {
        let (Some(url), Some(app)) = (&t.emservice_url, &t.app_user) else {
            continue;
        };
        let ask: Vec<&String> = t.devices.iter().collect();
        for chunk in ask.chunks(BATCH) {
            match device_users(client, url, app, chunk).await {
                Ok(v) => {
                    for d in v {
                        let user = d.current_user().map(str::to_owned);
                        out.insert(d.device_name, user);
                    }
                }
                Err(e) => errors.push(format!("{}: {e}", t.cluster)),
            }
        }
    }
    out
}

async fn user_devices(
    client: &mut HttpClient,
    url: &str,
    app: &super::profile::AppUser,
    users: &[&String],
) -> Result<Vec<emapi::UserDevices>, String> {
    let mut q = UserDevicesQuery::new(users[0].clone());
    q.user_ids = users.iter().map(|u| (*u).clone()).collect();
    let env = Envelope::new(
        AppInfo::with_password(app.id.clone(), app.password.clone()),
        q,
    );
    match post(client, url, app, &env).await? {
        Response::UserDevicesResults(v) => Ok(v),
        other => Err(format!("unexpected answer {other:?}")),
    }
}

async fn post(
    client: &mut HttpClient,
    url: &str,
    app: &super::profile::AppUser,
    env: &Envelope,
) -> Result<Response, String> {
    let req = HttpRequest {
        method: Method::Post,
        url: url.to_owned(),
        headers: vec![(
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        )],
        body: Some(emapi::form_body(&env.to_xml())),
        secrets: vec![app.password.clone()],
    };
    let resp = match client.send(&req).await {
        Ok(resp) if resp.status == 200 => resp,
        Ok(resp) => return Err(format!("HTTP {}", resp.status)),
        Err(e) => return Err(e.to_string()),
    };
    emapi::parse_response(&resp.body).map_err(|e| e.to_string())
}

async fn device_users(
    client: &mut HttpClient,
    url: &str,
    app: &super::profile::AppUser,
    devices: &[&String],
) -> Result<Vec<emapi::DeviceUser>, String> {
    let mut q = DeviceUserQuery::new(devices[0].clone());
    q.device_names = devices.iter().map(|d| (*d).clone()).collect();
    let env = Envelope::new(
        AppInfo::with_password(app.id.clone(), app.password.clone()),
        q,
    );
    match post(client, url, app, &env).await? {
        Response::DeviceUserResults(v) => Ok(v),
        other => Err(format!("unexpected answer {other:?}")),
    }
}

/// A device where the fleet and the cluster disagree.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mismatch {
    /// The device.
    pub device: String,
    /// Who the fleet believes is logged in.
    pub fleet: Option<String>,
    /// Who the cluster says is logged in.
    pub cluster: Option<String>,
}

/// A fleet user logged in on devices outside the fleet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserElsewhere {
    /// The user.
    pub user: String,
    /// Where the cluster says they are.
    pub devices: Vec<String>,
}

/// The outcome of reconciliation.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Reconciliation {
    /// Devices compared.
    pub checked: usize,
    /// Devices where both agree.
    pub agree: usize,
    /// Logged in on the cluster, not in the fleet's belief (or someone else).
    pub leaked: Vec<Mismatch>,
    /// Logged in in the fleet's belief, not on the cluster.
    pub missing: Vec<Mismatch>,
    /// Devices whose state the fleet lost (abandoned journeys), not compared.
    pub unknown: usize,
    /// Users checked with `userDevicesQuery`.
    pub users_checked: usize,
    /// The fleet's users logged in on devices the fleet does not drive.
    pub users_elsewhere: Vec<UserElsewhere>,
    /// Clusters without EM API access configured.
    pub skipped: Vec<String>,
    /// Queries that failed.
    pub errors: Vec<String>,
}

/// Queries each target cluster about its devices and compares with `beliefs`.
pub async fn reconcile(
    profile: &Profile,
    beliefs: &HashMap<String, Option<String>>,
    timeout: Duration,
) -> Reconciliation {
    let mut r = Reconciliation::default();
    let mut client = HttpClient::new(timeout);
    for t in &profile.targets {
        let (Some(url), Some(app)) = (&t.emservice_url, &t.app_user) else {
            r.skipped.push(t.cluster.clone());
            continue;
        };
        let known: Vec<&String> = t
            .devices
            .iter()
            .filter(|d| beliefs.contains_key(*d))
            .collect();
        r.unknown += t.devices.len() - known.len();
        for chunk in known.chunks(BATCH) {
            let results = match device_users(&mut client, url, app, chunk).await {
                Ok(v) => v,
                Err(e) => {
                    r.errors.push(format!("{}: {e}", t.cluster));
                    continue;
                }
            };
            let said: HashMap<&str, Option<&str>> = results
                .iter()
                .map(|d| (d.device_name.as_str(), d.current_user()))
                .collect();
            for d in chunk {
                let fleet = beliefs.get(*d).cloned().flatten();
                let Some(cluster) = said.get(d.as_str()) else {
                    r.errors.push(format!("{}: no answer about {d}", t.cluster));
                    continue;
                };
                let cluster = cluster.map(str::to_owned);
                r.checked += 1;
                let m = Mismatch {
                    device: (*d).clone(),
                    fleet: fleet.clone(),
                    cluster: cluster.clone(),
                };
                match (&fleet, &cluster) {
                    (a, b) if a == b => r.agree += 1,
                    (Some(f), Some(_)) if f == SOMEONE => r.agree += 1,
                    (None, Some(_)) => r.leaked.push(m),
                    (Some(_), None) => r.missing.push(m),
                    (Some(_), Some(_)) => r.leaked.push(m),
                    _ => r.agree += 1,
                }
            }
        }
    }
    // Users: anyone of the fleet's logged in on a device it does not drive is a leak.
    let (users_checked, elsewhere) = users_elsewhere(profile, &mut client, &mut r.errors).await;
    r.users_checked = users_checked;
    r.users_elsewhere = elsewhere.into_iter().map(|(_, u)| u).collect();
    r
}

/// The profile's users logged in on devices the fleet does not drive, each with the index of
/// the target whose EM API said so, and how many users were checked; failed queries are added
/// to `errors`.
pub(super) async fn users_elsewhere(
    profile: &Profile,
    client: &mut HttpClient,
    errors: &mut Vec<String>,
) -> (usize, Vec<(usize, UserElsewhere)>) {
    let ours: std::collections::HashSet<&str> = profile
        .targets
        .iter()
        .flat_map(|t| t.devices.iter().map(String::as_str))
        .collect();
    let (mut checked, mut out) = (0, Vec::new());
    for (ti, t) in profile.targets.iter().enumerate() {
        let (Some(url), Some(app)) = (&t.emservice_url, &t.app_user) else {
            continue;
        };
        let ids: Vec<&String> = t.users.iter().map(|u| &u.id).collect();
        for chunk in ids.chunks(BATCH) {
            match user_devices(client, url, app, chunk).await {
                Ok(v) => {
                    checked += v.len();
                    for u in v {
                        let outside: Vec<String> = u
                            .device_names
                            .iter()
                            .filter(|d| !ours.contains(d.as_str()))
                            .cloned()
                            .collect();
                        if !outside.is_empty() {
                            out.push((
                                ti,
                                UserElsewhere {
                                    user: u.user_id,
                                    devices: outside,
                                },
                            ));
                        }
                    }
                }
                Err(e) => errors.push(format!("{}: users: {e}", t.cluster)),
            }
        }
    }
    (checked, out)
}

/// Logs whoever is on `device` out through the EM API (`<logout>`, proxy rights).
///
/// # Errors
/// The request failed or the cluster refused it (its code and message).
pub(super) async fn log_out(
    client: &mut HttpClient,
    url: &str,
    app: &super::profile::AppUser,
    device: &str,
) -> Result<(), String> {
    let env = Envelope::new(
        AppInfo::with_password(app.id.clone(), app.password.clone()),
        emapi::Logout::new(device),
    );
    match post(client, url, app, &env).await? {
        Response::Success => Ok(()),
        Response::Failure { code, message } => Err(format!("EM API error {code}: {message}")),
        other => Err(format!("unexpected answer {other:?}")),
    }
}
