//! deviceProfileQuery: each named user's device profiles and which is the default.

use crate::cluster::Cluster;

/// A deviceProfileQuery (also accepted as `userDeviceProfileQuery`).
#[derive(Debug, Clone)]
pub struct DeviceProfileQuery {
    /// User IDs.
    pub users: Vec<String>,
}

/// One user's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileResult {
    /// No such user.
    DoesNotExist,
    /// The profiles: (name, is default).
    Profiles(Vec<(String, bool)>),
}

impl DeviceProfileQuery {
    /// Answers for each user, in order.
    pub fn apply(self, c: &Cluster) -> Vec<(String, ProfileResult)> {
        self.users
            .into_iter()
            .map(|u| {
                let a = match c.user(&u) {
                    None => ProfileResult::DoesNotExist,
                    Some(user) => ProfileResult::Profiles(
                        user.profiles
                            .iter()
                            .map(|p| (p.clone(), user.default_profile.as_ref() == Some(p)))
                            .collect(),
                    ),
                };
                (u, a)
            })
            .collect()
    }
}
