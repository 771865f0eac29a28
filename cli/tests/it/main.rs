//! Integration tests for the `emroam` binary and library: one binary, shared helpers in `util`.

mod cli;
mod fleet;
mod fleet_digest;
mod fleet_sip;
mod help;
mod honesty;
mod httpc;
mod ils_password;
mod messages;
mod pacing;
mod phone;
mod reference;
mod roaming_view;
mod server;
mod server_limits;
mod server_process;
mod sip;
mod tui;
mod util;
mod xml;
