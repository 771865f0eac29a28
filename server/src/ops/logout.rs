//! Logout: the device goes back to its logout profile.

use crate::cluster::{Cluster, Origin};
use crate::em::{EmError, code};
use crate::store::StoreOp;

/// A logout request.
#[derive(Debug, Clone)]
pub struct Logout {
    /// Device name.
    pub device: String,
    /// For an EM API end user acting for themselves: the device must be theirs (else 10).
    pub acting_user: Option<String>,
    /// Where the request came from.
    pub origin: Origin,
}

impl Logout {
    /// Performs the logout; returns the user who was logged out.
    ///
    /// # Errors
    /// The EM code to show (11, 5, 19, 10, 26, 6, 28, 30).
    pub async fn apply(self, c: &Cluster) -> Result<String, EmError> {
        let c2 = c.clone();
        super::steps::detached(c, async move { self.run(&c2).await }).await
    }

    async fn run(self, c: &Cluster) -> Result<String, EmError> {
        let params = c.params();
        let _slot = super::steps::begin(c, &params, &self.origin)?;
        let device = self.device.as_str();
        let phone = c.phone(device).ok_or(EmError::new(
            code::DEVICE_NOT_FOUND,
            "device does not exist",
        ))?;
        if !phone.em_enabled {
            return Err(EmError::new(
                code::LOGOUT_DEVICE_LOGON_DISABLED,
                "Extension Mobility not enabled on the device",
            ));
        }
        super::steps::service_time(c, &params).await;
        let entry = {
            let mut t = c.lock_logins();
            match t.get(device) {
                Some(e) if e.committed => {
                    if self.acting_user.as_ref().is_some_and(|u| *u != e.user) {
                        return Err(EmError::new(
                            code::NO_PROXY_RIGHTS,
                            "device is not the acting user's",
                        ));
                    }
                }
                _ => return Err(EmError::new(code::NO_USER_LOGGED_IN, "no user logged in")),
            }
            t.take(device)
        };
        let Some(entry) = entry else {
            return Err(EmError::new(code::NO_USER_LOGGED_IN, "no user logged in"));
        };
        if let Err(e) = c
            .store()
            .commit(vec![StoreOp::Delete(device.to_owned())])
            .await
        {
            tracing::error!(cluster = %c.id(), %device, error = %e, "logout not persisted");
            c.lock_logins().put_back(device, entry);
            return Err(EmError::new(code::DATABASE_ERROR, "database error"));
        }
        c.counters().logouts_ok(1);
        let kind = c.restart_kind(device, Some(&entry.profile), None);
        c.push_restart(device, kind);
        tracing::info!(cluster = %c.id(), %device, user = %entry.user, "logout");
        c.roam_after_logout(&entry.user).await;
        Ok(entry.user)
    }
}
