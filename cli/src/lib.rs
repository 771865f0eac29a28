//! `emroam`, the one binary: a thin layer of commands over the emulator (`emroam-emulator`)
//! and the reference clusters (`emroam-server`), and the only crate that links both.
//!
//! Layout:
//! - [`cli`]: the command line (clap derive), one subcommand per job.
//! - [`cmd`]: one file per command (`xml`, `phone`, `fleet`, `server`, `demo`, `tui`), the
//!   fleet's HTTP control port, the exit codes, the one runtime and the one shutdown signal.
//! - [`help`]: the closing sections of `--help` (exit codes, files, keys, the demo's length),
//!   computed from what they describe.
//! - [`logging`]: tracing to stderr, or to a file while the dashboard owns the terminal.
//!
//! [`help::parse`] and [`cmd::run`] are what `main` calls; tests call `cmd::run` too.

pub mod cli;
pub mod cmd;
pub mod help;
pub mod logging;
