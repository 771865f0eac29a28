//! deviceUserQuery: who is logged in on each named device.

use crate::cluster::Cluster;

/// A deviceUserQuery.
#[derive(Debug, Clone)]
pub struct DeviceUserQuery {
    /// Device names.
    pub devices: Vec<String>,
}

/// One device's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceUser {
    /// No such device (`<doesNotExist/>`).
    DoesNotExist,
    /// Nobody logged in (`<none/>`).
    Nobody,
    /// This user is logged in (`<userID>`).
    User(String),
}

impl DeviceUserQuery {
    /// The last user who logged in on each device (`<lastlogin>`), in order.
    pub fn last_logins(&self, c: &Cluster) -> Vec<Option<String>> {
        self.devices.iter().map(|d| c.last_user(d)).collect()
    }

    /// Answers for each device, in order.
    pub fn apply(self, c: &Cluster) -> Vec<(String, DeviceUser)> {
        self.devices
            .into_iter()
            .map(|d| {
                let a = if c.phone(&d).is_none() {
                    DeviceUser::DoesNotExist
                } else {
                    c.login_on(&d)
                        .map_or(DeviceUser::Nobody, |l| DeviceUser::User(l.user))
                };
                (d, a)
            })
            .collect()
    }
}
