//! emroam-server integration tests: one binary, one module per area, shared helpers in `util`.

// Helpers are `pub` for the sibling test modules; nothing here is a public API.
#![allow(unreachable_pub)]

mod admin;
mod badinput;
mod emapp;
mod emservice;
mod ils_flood;
mod ils_input;
mod ils_tls;
mod lifecycle;
mod roaming;
mod sip;
mod sip_digest;
mod sip_expiry;
mod sip_hostile;
mod sip_metrics;
mod sip_overload;
mod sip_retrans;
mod sipp;
mod util;
