//! The EM operations, one module each, all the same shape: a struct describing the request
//! and `apply(self, &Cluster)` doing it and returning a typed result or an [`EmError`](crate::em::EmError).
//!
//! Both front ends call these: the phone-facing EM application (as CUCM's EMApp calls its
//! EMService) and the EM API servlet. No HTTP and no XML here.

pub mod device_profile_query;
pub mod device_user_query;
pub mod login;
pub mod logout;
pub mod logout_all;
mod steps;
pub mod user_devices_query;

pub use device_profile_query::{DeviceProfileQuery, ProfileResult};
pub use device_user_query::{DeviceUser, DeviceUserQuery};
pub use login::{Credential, Login, LoginDuration, LoginOutcome, LoginType};
pub use logout::Logout;
pub use logout_all::LogoutAll;
pub use user_devices_query::{UserDevices, UserDevicesQuery};
