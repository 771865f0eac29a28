//! Login: a user onto a device, with the user's device profile.
//!
//! Order of checks: throttle (26), origin (28/30), device (11, or for a phone's form the
//! credentials then 205; 22), credentials (201, 202, 23, 216), profile (205 / 12, or a choice
//! among several), service time, then the login table (18, 25 or Auto Logout), the durable
//! write (6), and finally the answer.

use std::time::Duration;

use crate::cluster::{Cluster, Origin, RestartKind};
use crate::em::{EmError, code};
use crate::params::MultipleLoginBehavior;
use crate::store::StoreOp;

pub use emroam_schema::LoginType;

/// Who is logging in, and how they proved it.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// A phone's login form: identifier of the login type, and the PIN.
    Phone {
        /// Login type of the form.
        login_type: LoginType,
        /// User ID, primary extension or self-service ID.
        id: String,
        /// The PIN (never logged).
        pin: String,
    },
    /// A profile choice after an authenticated login (the ticket the menu carried).
    Ticket {
        /// The ticket.
        ticket: String,
    },
    /// Already authorised (EM API: the application user has proxy rights, or is the user).
    Authorized {
        /// User ID.
        user: String,
    },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Phone { login_type, id, .. } => f
                .debug_struct("Phone")
                .field("login_type", login_type)
                .field("id", id)
                .finish_non_exhaustive(),
            Credential::Ticket { .. } => f.write_str("Ticket"),
            Credential::Authorized { user } => {
                f.debug_struct("Authorized").field("user", user).finish()
            }
        }
    }
}

/// How long the login lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginDuration {
    /// The cluster's Intra-cluster Maximum Login Time if enforced, else unlimited.
    Default,
    /// EM API `exclusiveDuration/time`.
    Time(Duration),
    /// EM API `exclusiveDuration/indefinite`.
    Indefinite,
}

/// A login request.
#[derive(Debug, Clone)]
pub struct Login {
    /// Device name.
    pub device: String,
    /// Who.
    pub credential: Credential,
    /// The chosen device profile (`None`: the only one or the default).
    pub profile: Option<String>,
    /// How long.
    pub duration: LoginDuration,
    /// Where the request came from.
    pub origin: Origin,
}

/// A login's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Logged in and durably recorded.
    LoggedIn {
        /// User ID.
        user: String,
        /// Device profile now on the device.
        profile: String,
        /// What the device must do.
        restart: RestartKind,
        /// Devices logged out by Auto Logout.
        logged_out: Vec<String>,
    },
    /// The user has several profiles: the phone shows a menu (nothing changed yet).
    ChooseProfile {
        /// User ID.
        user: String,
        /// The user's profiles.
        profiles: Vec<String>,
        /// Ticket the choice must carry back.
        ticket: String,
    },
}

impl Login {
    /// Performs the login.
    ///
    /// # Errors
    /// The EM code to show.
    pub async fn apply(self, c: &Cluster) -> Result<LoginOutcome, EmError> {
        let c2 = c.clone();
        super::steps::detached(c, async move { self.run(&c2).await }).await
    }

    async fn run(self, c: &Cluster) -> Result<LoginOutcome, EmError> {
        let params = c.params();
        let _slot = super::steps::begin(c, &params, &self.origin)?;
        let device = self.device.as_str();
        let from_phone = !matches!(self.credential, Credential::Authorized { .. });
        let Some(phone) = c.phone(device) else {
            if from_phone {
                // Observed on CUCM (by CEM-PIN-Brute): a phone-side login on an
                // unknown device still checks the credentials (201), then fails for want of
                // a profile on that device (205).
                authenticate(c, device, &self.credential)?;
                return Err(EmError::new(
                    code::USER_PROFILE_ABSENT,
                    "device does not exist",
                ));
            }
            return Err(EmError::new(
                code::DEVICE_NOT_FOUND,
                "device does not exist",
            ));
        };
        if !phone.em_enabled {
            return Err(EmError::new(
                code::DEVICE_LOGON_DISABLED,
                "Extension Mobility not enabled on the device",
            ));
        }
        let user_id = authenticate(c, device, &self.credential)?;
        let user = c
            .user(&user_id)
            .ok_or(EmError::new(code::USER_NOT_FOUND, "user does not exist"))?;
        let no_profile = if from_phone {
            EmError::new(code::USER_PROFILE_ABSENT, "user has no such device profile")
        } else {
            EmError::new(code::DEVICE_PROFILE_NOT_FOUND, "device profile not found")
        };
        let profile = match &self.profile {
            Some(p) if user.profiles.contains(p) => p.clone(),
            Some(_) => return Err(no_profile),
            None if from_phone && user.profiles.len() > 1 => {
                return Ok(LoginOutcome::ChooseProfile {
                    user: user.id.clone(),
                    profiles: user.profiles.clone(),
                    ticket: c.issue_ticket(device, &user.id),
                });
            }
            None => user
                .default_profile
                .clone()
                .or_else(|| user.profiles.first().cloned())
                .ok_or(no_profile)?,
        };
        super::steps::service_time(c, &params).await;

        let duration = match self.duration {
            LoginDuration::Default => params.default_login_duration(),
            LoginDuration::Time(d) => Some(d),
            LoginDuration::Indefinite => None,
        };
        let since = c.now_ms();
        let expires = duration
            .map(|d| since.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)));
        let (generation, row, evicted) = {
            let mut t = c.lock_logins();
            if t.get(device).is_some() {
                return Err(EmError::new(
                    code::ANOTHER_USER_LOGGED_IN,
                    "another user is logged in on the device",
                ));
            }
            let others = t.user_devices(&user.id);
            let mut evicted = Vec::new();
            match params.multiple_login_behavior {
                MultipleLoginBehavior::NotAllowed if !others.is_empty() => {
                    return Err(EmError::new(
                        code::MULTI_LOGIN_NOT_ALLOWED,
                        "user logged in elsewhere",
                    ));
                }
                MultipleLoginBehavior::AutoLogout => {
                    if others.iter().any(|(_, committed)| !committed) {
                        return Err(EmError::new(
                            code::MULTI_LOGIN_NOT_ALLOWED,
                            "another login of the user is in progress",
                        ));
                    }
                    for (d, _) in others {
                        if let Some(e) = t.take(&d) {
                            evicted.push((d, e));
                        }
                    }
                }
                _ => {}
            }
            let generation = t.reserve(device, &user.id, &profile, since, expires);
            let row = t.get(device).map(|e| e.row(device));
            (generation, row, evicted)
        };
        let mut ops: Vec<StoreOp> = row.into_iter().map(StoreOp::Put).collect();
        ops.extend(evicted.iter().map(|(d, _)| StoreOp::Delete(d.clone())));
        // A superuser's new location goes into the same transaction as the login.
        let roam = c.roam_login_begin(&user);
        ops.extend(roam.iter().flat_map(crate::ils::RoamLogin::ops));
        if let Err(e) = c.store().commit(ops).await {
            tracing::error!(cluster = %c.id(), %device, error = %e, "login not persisted");
            {
                let mut t = c.lock_logins();
                t.cancel(device, generation);
                for (d, e) in evicted {
                    t.put_back(&d, e);
                }
            }
            if let Some(r) = roam {
                c.roam_login_end(r, false).await;
            }
            return Err(EmError::new(code::DATABASE_ERROR, "database error"));
        }
        c.lock_logins().commit(device, generation);
        if let Some(d) = duration {
            c.schedule_expiry(device.to_owned(), generation, d);
        }
        c.counters().login_ok();
        c.counters().logouts_ok(evicted.len() as u64);
        let restart = c.restart_kind(device, None, Some(&profile));
        c.push_restart(device, restart);
        let mut logged_out = Vec::new();
        for (d, e) in evicted {
            let k = c.restart_kind(&d, Some(&e.profile), None);
            c.push_restart(&d, k);
            logged_out.push(d);
        }
        tracing::info!(cluster = %c.id(), %device, user = %user.id, %profile, "login");
        if let Some(r) = roam {
            c.roam_login_end(r, true).await;
        }
        Ok(LoginOutcome::LoggedIn {
            user: user.id.clone(),
            profile,
            restart,
            logged_out,
        })
    }
}

/// Resolves the credential to a user ID.
fn authenticate(c: &Cluster, device: &str, cred: &Credential) -> Result<String, EmError> {
    let auth = EmError::new(code::AUTH_FAILED, "wrong user ID or PIN");
    match cred {
        Credential::Authorized { user } => Ok(user.clone()),
        Credential::Ticket { ticket } => c.redeem_ticket(ticket, device).ok_or(auth),
        Credential::Phone {
            login_type,
            id,
            pin,
        } => {
            if id.trim().is_empty() || pin.is_empty() {
                return Err(EmError::new(
                    code::BLANK_USERID_OR_PIN,
                    "blank user ID or PIN",
                ));
            }
            let user = match login_type {
                LoginType::Uid => c.user(id).ok_or(auth)?,
                LoginType::Dn | LoginType::Sp => {
                    let ids = if *login_type == LoginType::Dn {
                        c.users_by_extension(id)
                    } else {
                        c.users_by_self_service_id(id)
                    };
                    match ids.as_slice() {
                        [] => {
                            return Err(EmError::new(
                                code::USER_NOT_FOUND,
                                "no user with that identifier",
                            ));
                        }
                        [one] => c.user(one).ok_or(auth)?,
                        _ => {
                            return Err(EmError::new(
                                code::DN_HAS_MULTIPLE_USERS,
                                "identifier belongs to several users",
                            ));
                        }
                    }
                }
            };
            if !c.pin_matches(&user, pin) {
                return Err(auth);
            }
            Ok(user.id.clone())
        }
    }
}
