//! emroam's reference clusters: Cisco Unified CM 12.x-style Extension Mobility.
//!
//! Layout:
//! - [`topology`]: the TOML topology file (clusters, users, profiles, phones) and patterns.
//! - [`params`]: EM service parameters, changeable at run time.
//! - [`cluster`]: one cluster's state ([`Cluster`], a cheap handle): directory, logins,
//!   switches, pending restarts. [`store`] persists logins in SQLite through a writer thread.
//! - [`ops`]: the EM operations, one module each (login, logout, logoutAll, the queries).
//! - [`em`]: EM codes and [`em::EmError`].
//! - [`counters`]: RTMT's "Cisco Extension Mobility" counters.
//! - HTTP front ends: [`emapp`] (phones), [`emservice`] (EM API), [`configsrv`] (config files),
//!   [`admin`] (admin and fault injection), all served by [`http`].
//! - [`server`]: starting clusters on listeners, and [`run`] for `emroam server`.

pub mod admin;
pub mod cluster;
pub mod configsrv;
pub mod counters;
pub mod em;
pub mod emapp;
pub mod emservice;
pub mod error;
pub mod http;
pub mod ops;
pub mod params;
pub mod server;
pub mod store;
pub mod topology;

pub use cluster::Cluster;
pub use error::ServerError;
pub use server::{ClusterListeners, Options, Running, run, run_with, start};
pub use topology::Topology;
