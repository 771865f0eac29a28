//! The state a run finds at its start: logins already on the profile's phones, or of its
//! users on other phones (a person, an earlier run), asked through each cluster's EM API and
//! then dealt with as the profile says ([`FoundLoggedIn`]): logged out (the default), adopted,
//! or a refusal to start.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::profile::{FoundLoggedIn, Profile};
use super::reconcile;
use crate::driver::HttpClient;

/// One login found at the start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FoundLogin {
    /// The cluster that said so.
    pub cluster: String,
    /// The device.
    pub device: String,
    /// Who is logged in on it.
    pub user: String,
    /// Whether the device is one of the fleet's phones (else: one of its users on a phone
    /// outside the fleet).
    pub fleet_phone: bool,
    /// What was done: `logged out`, `adopted`, or why the logout failed.
    pub done: String,
}

/// What the run found at its start and what it did about it (in `summary.json` as `start`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StartState {
    /// The profile's `found_logged_in`.
    pub policy: FoundLoggedIn,
    /// Every login found.
    pub found: Vec<FoundLogin>,
    /// How many of them were logged out.
    pub logged_out: usize,
    /// Clusters without EM API access in the profile: their state was not checked.
    pub unchecked: Vec<String>,
    /// Queries that failed (the state of what they asked about is unknown).
    pub errors: Vec<String>,
}

impl StartState {
    /// Lines for the final table (empty when nothing was found and everything was checked).
    pub fn lines(&self) -> String {
        let mut o = String::new();
        if !self.found.is_empty() {
            let _ = writeln!(
                o,
                "found logged in at the start: {} (found_logged_in = \"{}\"{})",
                self.found.len(),
                self.policy.name(),
                match self.policy {
                    FoundLoggedIn::Logout => format!(", {} logged out", self.logged_out),
                    _ => String::new(),
                }
            );
            for f in self.found.iter().take(10) {
                let _ = writeln!(o, "  {}", f.describe());
            }
            if self.found.len() > 10 {
                let _ = writeln!(
                    o,
                    "  … and {} more (summary.json: start)",
                    self.found.len() - 10
                );
            }
        }
        if !self.unchecked.is_empty() {
            let _ = writeln!(
                o,
                "state at the start not checked on {} (no EM API access in the profile)",
                self.unchecked.join(", ")
            );
        }
        for e in &self.errors {
            let _ = writeln!(o, "checking the state at the start: {e}");
        }
        o
    }

    /// Why the run refused to start (with `found_logged_in = "refuse"`).
    pub fn refusal(&self) -> String {
        let mut o = format!(
            "{} login(s) found before the run and found_logged_in = \"refuse\":",
            self.found.len()
        );
        for f in self.found.iter().take(10) {
            let _ = write!(o, "\n  {}", f.describe());
        }
        if self.found.len() > 10 {
            let _ = write!(o, "\n  … and {} more", self.found.len() - 10);
        }
        o.push_str(
            "\nlog them out, or set found_logged_in = \"logout\" (the fleet logs them out) or \
             \"adopt\" (it keeps them) in the profile",
        );
        o
    }
}

impl FoundLogin {
    fn describe(&self) -> String {
        format!(
            "{}: {} on {}{}: {}",
            self.cluster,
            self.user,
            self.device,
            if self.fleet_phone {
                ""
            } else {
                " (not a fleet phone)"
            },
            self.done
        )
    }
}

/// What the run starts with: who is logged in on each fleet phone (devices whose state is
/// known), and the profile's users who stay busy for the whole run (adopted on phones
/// outside the fleet, or whose logout failed).
#[derive(Debug, Default)]
pub(super) struct Initial {
    pub(super) devices: HashMap<String, Option<String>>,
    pub(super) busy_users: HashSet<String>,
}

/// Asks each cluster with EM API access who is logged in on the fleet's phones and where its
/// users are logged in, then does what `profile.found_logged_in` says. With `Refuse` and
/// something found, returns the state as the error.
pub(super) async fn prepare(
    profile: &Profile,
    timeout: Duration,
) -> Result<(StartState, Initial), StartState> {
    let mut state = StartState {
        policy: profile.found_logged_in,
        ..StartState::default()
    };
    state.unchecked = profile
        .targets
        .iter()
        .filter(|t| t.emservice_url.is_none() || t.app_user.is_none())
        .map(|t| t.cluster.clone())
        .collect();
    let mut client = HttpClient::new(timeout);
    let devices = reconcile::query(profile, &mut client, &mut state.errors).await;
    let (_, elsewhere) = reconcile::users_elsewhere(profile, &mut client, &mut state.errors).await;
    // (target index, device, user, fleet phone)
    let mut found: Vec<(usize, String, String, bool)> = Vec::new();
    for (ti, t) in profile.targets.iter().enumerate() {
        for d in &t.devices {
            if let Some(Some(u)) = devices.get(d) {
                found.push((ti, d.clone(), u.clone(), true));
            }
        }
    }
    for (ti, u) in elsewhere {
        for d in u.devices {
            found.push((ti, d, u.user.clone(), false));
        }
    }
    let mut initial = Initial {
        devices,
        busy_users: HashSet::new(),
    };
    for (ti, device, user, fleet_phone) in found {
        let t = &profile.targets[ti];
        // What was done, and whether the login is gone.
        let (done, gone) = match state.policy {
            FoundLoggedIn::Refuse => ("refused".to_owned(), false),
            FoundLoggedIn::Adopt => ("adopted".to_owned(), false),
            FoundLoggedIn::Logout => {
                let (Some(url), Some(app)) = (&t.emservice_url, &t.app_user) else {
                    unreachable!("found only through the EM API");
                };
                match reconcile::log_out(&mut client, url, app, &device).await {
                    Ok(()) => ("logged out".to_owned(), true),
                    Err(e) => (format!("logout failed, adopted: {e}"), false),
                }
            }
        };
        if gone {
            state.logged_out += 1;
            if fleet_phone {
                initial.devices.insert(device.clone(), None);
            }
        } else if !fleet_phone {
            initial.busy_users.insert(user.clone());
        }
        state.found.push(FoundLogin {
            cluster: t.cluster.clone(),
            device,
            user,
            fleet_phone,
            done,
        });
    }
    if state.policy == FoundLoggedIn::Refuse && !state.found.is_empty() {
        return Err(state);
    }
    Ok((state, initial))
}
