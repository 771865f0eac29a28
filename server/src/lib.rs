//! emroam's reference clusters: Cisco Unified CM 12.x-style Extension Mobility, EM Roaming
//! Across Clusters over ILS, and a SIP registrar and proxy, as a library (`emroam server` and
//! the tests run it in-process).
//!
//! Layout:
//! - [`cluster`]: one cluster's state ([`Cluster`], a cheap handle): directory, logins,
//!   switches, pending restarts; [`store`] persists logins in SQLite, [`counters`] are RTMT's.
//! - [`ops`]: the EM operations, one module each; [`em`]: EM codes and [`em::EmError`].
//! - HTTP front ends, all served by [`http`]: [`emapp`] (phones), [`emservice`] (EM API),
//!   [`configsrv`] (config files), [`admin`] (admin and fault injection), [`prometheus`] text.
//! - [`ils`]: ILS between clusters, the superuser sync tool, the roaming rules.
//! - [`sip`]: each cluster's SIP registrar and proxy, and the restart NOTIFYs.
//! - [`server`]: starting clusters on listeners ([`start`]), and [`run`] for `emroam server`;
//!   [`bind`]: binding their addresses; [`datalock`]: one process per cluster database.
//! - [`topology`] and [`params`]: `emroam_schema`'s, re-exported.
//!
//! Decisions, and what of Cisco's behaviour is UNCONFIRMED: `docs/decisions.md`.
//!
//! Starting clusters in-process (tests bind `127.0.0.1:0`):
//!
//! ```no_run
//! # async fn f() -> Result<(), emroam_server::ServerError> {
//! use emroam_server::{ClusterListeners, Options, Topology};
//! let topo = Topology::load("profiles/topologies/seed.toml".as_ref())?;
//! let l = ClusterListeners::ephemeral().await.expect("bind");
//! let token = tokio_util::sync::CancellationToken::new();
//! let running = emroam_server::start(&topo, vec![("cluster1".into(), l)], &Options::default(), token).await?;
//! let (http, config) = running.addrs("cluster1").expect("started");
//! # let _ = (http, config);
//! running.shutdown().await; // or cancel the token and `running.wait().await`
//! # Ok(()) }
//! ```

pub mod admin;
pub mod bind;
pub mod cluster;
pub mod configsrv;
pub mod counters;
pub mod datalock;
pub mod em;
pub mod emapp;
pub mod emservice;
pub mod error;
pub mod fds;
pub mod http;
pub mod ils;
pub(crate) mod listener;
pub mod ops;
pub mod prometheus;
pub mod secret;
pub mod server;
pub mod sip;
pub mod store;
pub(crate) mod sync;

pub use cluster::Cluster;
pub use emroam_schema::{params, topology};
pub use error::ServerError;
pub use server::{ClusterListeners, Options, Running, bind_ephemeral, run, run_with, start};
pub use topology::Topology;
