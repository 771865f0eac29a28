//! The emulator: Cisco-style IP phones, the fleet that loads clusters with them, and the live
//! dashboard. It works against any CUCM: it never links the reference server, and reads
//! topologies and the counters document through `emroam-schema`.
//!
//! Layout:
//! - [`phone`]: one phone as a sans-IO state machine ([`phone::Phone::step`]); no tokio,
//!   sockets or clocks.
//! - [`driver`]: the thin async driver carrying out a phone's actions; [`httpc`] is its
//!   HTTP/1.1 connection.
//! - [`fleet`]: load profiles, pacing, shards of phones, statistics, reports, reconciliation.
//! - [`tui`]: the live dashboard; it renders and reacts, and never starts a workload.
//!
//! How they connect: a [`phone::Phone`] is a value; [`phone::Phone::step`] takes a
//! [`phone::PhoneEvent`] and the time and returns [`phone::PhoneAction`]s (send this request,
//! sleep until then, record this step, done). [`driver::run_task`] carries them out over a
//! [`driver::Transport`] ([`driver::HttpClient`] on TCP, or a script under tokio's paused
//! clock). A fleet turns a [`fleet::profile::Profile`] into shards of phones paced against
//! absolute time ([`fleet::run`]), whose [`fleet::stats::Recorder`]s an aggregator merges into
//! [`fleet::stats::Snapshot`]s and, at the end, a [`fleet::report::Summary`], after
//! [`fleet::reconcile`] has compared the fleet's beliefs with the clusters'. The dashboard
//! reads those snapshots and the clusters' counters; the commands that wire them together
//! live in the `emroam` binary crate.

pub mod driver;
pub mod fleet;
pub mod httpc;
pub mod phone;
pub mod tui;
