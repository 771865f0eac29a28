//! userDevicesQuery: on which devices each named user is logged in.

use crate::cluster::Cluster;

/// A userDevicesQuery.
#[derive(Debug, Clone)]
pub struct UserDevicesQuery {
    /// User IDs.
    pub users: Vec<String>,
}

/// One user's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserDevices {
    /// No such user.
    DoesNotExist,
    /// Not logged in anywhere.
    Nobody,
    /// Logged in on these devices.
    Devices(Vec<String>),
}

impl UserDevicesQuery {
    /// Answers for each user, in order.
    pub fn apply(self, c: &Cluster) -> Vec<(String, UserDevices)> {
        self.users
            .into_iter()
            .map(|u| {
                let a = if c.user(&u).is_none() {
                    UserDevices::DoesNotExist
                } else {
                    match c.devices_of(&u) {
                        d if d.is_empty() => UserDevices::Nobody,
                        d => UserDevices::Devices(d),
                    }
                };
                (u, a)
            })
            .collect()
    }
}
