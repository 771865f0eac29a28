//! What both sides of emroam read from files, and the names they must agree on.
//!
//! The reference server and the emulator each read topology files, durations and login types;
//! this crate is the one definition of each, so the emulator can read a topology without the
//! server that imitates CUCM. Pure: no sockets, no tokio; [`topology::Topology::load`] is its
//! only file read.
//!
//! Layout:
//! - [`topology`]: the topology file (clusters, users, device profiles, phones), validated,
//!   with patterns expanded deterministically.
//! - [`params`]: a cluster's Extension Mobility service parameters, as the topology file and
//!   the admin API write them.
//! - [`duration`]: the one duration grammar of every file and flag (a unit is required).
//! - [`login_type`]: [`LoginType`], `loginType=UID|DN|SP`.
//! - [`counters`]: the `/metrics.json` document (RTMT, ILS and SIP counters of a cluster).
//! - [`em_url`]: EM's paths and CUCM's URL macros (`#DEVICENAME#`).

pub mod counters;
pub mod duration;
pub mod em_url;
pub mod login_type;
pub mod params;
pub mod place;
pub mod topology;

pub use login_type::LoginType;
pub use topology::{Topology, TopologyError};
