//! emroam's reference clusters: Cisco Unified CM 12.x-style Extension Mobility.
//!
//! Layout:
//! - [`topology`]: the TOML topology file (clusters, users, profiles, phones) and patterns.
//! - [`params`]: EM service parameters (and the SIP Station KeepAlive Interval), changeable at
//!   run time.
//! - [`cluster`]: one cluster's state ([`Cluster`], a cheap handle): directory, logins,
//!   switches, pending restarts. [`store`] persists logins in SQLite through a writer thread.
//! - [`ops`]: the EM operations, one module each (login, logout, logoutAll, the queries).
//! - [`em`]: EM codes and [`em::EmError`].
//! - [`counters`]: RTMT's "Cisco Extension Mobility" counters.
//! - HTTP front ends: [`emapp`] (phones), [`emservice`] (EM API), [`configsrv`] (config files),
//!   [`admin`] (admin and fault injection), all served by [`http`].
//! - [`ils`]: EM Roaming Across Clusters: ILS between clusters (hub mesh, spokes), the
//!   superuser sync tool, roaming logins and deferred logouts (the conflict rule is there).
//! - [`sip`]: each cluster's SIP registrar and proxy over UDP (REGISTER, INVITE routing
//!   local / over a trunk to where ILS says a number is / 404 / 480 / 503) and the
//!   `service-control` NOTIFY restarting phones after EM login and logout, registration expiry,
//!   UDP retransmissions, and the `emroam_sip_*` counters; statuses listed there.
//! - [`server`]: starting clusters on listeners, and [`run`] for `emroam server`.
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
//!
//! Choices where Cisco's behaviour is UNCONFIRMED (reference §8):
//! - An unknown device on the EM application: the first page and a logout answer code 11
//!   ("Device does not exist", `Login is unavailable(11)`); a submitted login checks the
//!   credentials first (201) and then answers 205, as observed on CUCM by CEM-PIN-Brute
//!   (reference §2.4). The EM API answers 11.
//! - The chosen device profile comes back as `deviceProfile=NAME`, with a single-use
//!   `ticket=` (valid 2 minutes) instead of the PIN, on the menu items' URLs.
//! - Login pages: a `CiscoIPPhoneInput` with `userid` and `seq` (flags `NP`); logout confirmation
//!   a `CiscoIPPhoneText` with a Yes softkey to `…&doLogout=true`; success a `CiscoIPPhoneText`
//!   `Login Successful` / `Logout Successful` with `Refresh: 3; url=Init:Services`.
//! - `exclusiveDuration/time` is minutes.
//! - RequestsHandled counts EM application and EM service HTTP requests; RequestsInProgress
//!   counts login/logout operations holding a throttle slot (so it never exceeds Maximum
//!   Concurrent Requests); Total Login/LogoutRequestsAttempted counts every login or logout
//!   operation started, throttled ones included.
//! - Counters: `GET /metrics` (Prometheus text,
//!   `cisco_extension_mobility{cluster="c1",counter="RequestsThrottled"} 3`, plus
//!   `emroam_em_code_total{cluster,code}`) and `GET /metrics.json` (= `/api/counters`):
//!   `{"cluster": "c1", "counters": {"RequestsHandled": n, …, "codes": {"26": n}}}`, with the
//!   ILS counters under `ils` and the SIP ones under `sip` (`emroam_sip_*` in the text; names
//!   in [`sip`]; `null` for a cluster without SIP).
//! - SIP registration: the granted expiry is min(asked, SIP Station KeepAlive Interval); the
//!   parameter's 120 s default is in Cisco's docs, its 60–7200 s range and the "min" rule (Cisco
//!   says the parameter sets the registration period) are not.
//! - Admin routes: see [`admin`].
//!
//! EM Roaming Across Clusters ([`ils`]; Cisco's wire format and several details are not public):
//! - ILS wire: emroam's own ([`emroam_protocol::ils`]): length-prefixed JSON frames, an HMAC-SHA256
//!   challenge/response over two nonces proving the shared ILS password (`[ils] password` in the
//!   topology; never sent), then per-direction sequence numbers and MACs under a session key.
//! - Conflict rule: a superuser's location record is versioned `(counter, cluster ID)`, the
//!   counter a hybrid logical clock (Lamport, raised to wall-clock milliseconds); the highest
//!   version wins everywhere: the later of two concurrent logins wins, and of two in the same
//!   millisecond the larger cluster ID.
//! - Only superusers' numbers are replicated (location records); an ordinary user's number is
//!   known at their home only. A record whose user is logged in nowhere routes the numbers home.
//! - "Learned DNs" counts numbers of location records placed at another cluster now.
//! - The superuser sync tool runs inside each cluster (at start, on its schedule, on Sync now,
//!   and when a user is made a superuser) and travels over ILS; PINs travel as
//!   `HMAC(ILS password, user, PIN)`. Removing a user from the group removes them from other
//!   clusters' directories at the next sync but does not log out a login they hold there.
//! - The default full sync interval is 10 minutes (reference §6, UNCONFIRMED), the tool's 1 hour.
//! - A cluster whose listeners are down (`listeners/stop`) is down for ILS too; `ils/stop` takes
//!   down ILS alone. A roaming login needs no ILS: the roaming cluster answers from its copy of
//!   the superuser and syncs when it can.

pub mod admin;
pub mod cluster;
pub mod configsrv;
pub mod counters;
pub mod em;
pub mod emapp;
pub mod emservice;
pub mod error;
pub mod http;
pub mod ils;
pub(crate) mod listener;
pub mod ops;
pub mod prometheus;
pub mod server;
pub mod sip;
pub mod store;
pub(crate) mod sync;

pub use cluster::Cluster;
pub use emroam_schema::{params, topology};
pub use error::ServerError;
pub use server::{ClusterListeners, Options, Running, bind_ephemeral, run, run_with, start};
pub use topology::Topology;
