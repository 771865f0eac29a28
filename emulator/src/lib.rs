//! emroam: a fleet emulator of Cisco-style IP phones and a load tester for Extension Mobility
//! roaming across clusters.
//!
//! Layout:
//! - [`cli`]: the command line (clap derive), one subcommand per job.
//! - [`xmlcmd`]: `emroam xml`, what a phone shows for a CiscoIPPhone document.
//! - [`phone`]: one phone as a sans-IO state machine ([`phone::Phone::step`]).
//! - [`driver`]: the thin async driver carrying out a phone's actions; [`httpc`] is its
//!   HTTP/1.1 connection.
//! - [`phonecmd`]: `emroam phone`, one phone with a full trace.
//! - [`demo`]: `emroam demo`, the seed clusters in-process and the demo profile.
//! - [`fleet`]: profiles, pacing, shards, statistics, reports, reconciliation; [`fleetcmd`]
//!   is `emroam fleet`.
//! - [`units`]: durations on the command line and in profiles.
//! - [`servercmd`]: `emroam server`, reference clusters from a topology file.
//! - [`tui`]: the live dashboard (`emroam tui`, `emroam fleet --tui`, `emroam demo`).
//!
//! How they connect: a [`phone::Phone`] is a value; [`phone::Phone::step`] takes a
//! [`phone::PhoneEvent`] and the time and returns [`phone::PhoneAction`]s (send this request,
//! sleep until then, record this step, done). [`driver::run_task`] carries them out over a
//! [`driver::Transport`] ([`driver::HttpClient`] on TCP, or a script under tokio's paused
//! clock). `emroam phone` runs one phone with a [`phonecmd::Tracer`]; `emroam fleet` turns a
//! [`fleet::profile::Profile`] into shards of phones paced against absolute time
//! ([`fleet::run`]), whose [`fleet::stats::Recorder`]s an aggregator merges into
//! [`fleet::stats::Snapshot`]s and, at the end, a [`fleet::report::Summary`], after
//! [`fleet::reconcile`] has compared the fleet's beliefs with the clusters'.
//!
//! [`run`] is what `main` calls; tests call it too.

pub mod cli;
pub mod control;
pub mod demo;
pub mod driver;
pub mod fleet;
pub mod fleetcmd;
pub mod httpc;
pub mod logging;
pub mod phone;
pub mod phonecmd;
pub mod servercmd;
pub mod tui;
pub mod units;
pub mod xmlcmd;

use std::process::ExitCode;

use cli::{Cli, Command};

/// The exit codes emroam documents (DESIGN.md, "Outputs and exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything worked and every threshold was met.
    Ok = 0,
    /// Anything else went wrong (I/O, a server, a command not built yet).
    Other = 1,
    /// Bad arguments or a bad profile; or a document a phone would reject (`emroam xml`).
    BadInput = 2,
    /// A load run finished but a threshold failed.
    ThresholdFailed = 99,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// Runs one parsed command line to completion.
///
/// # Errors
/// Anything that stops the command from doing its job; `main` prints it and exits 1.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Xml(args) => xmlcmd::run(&args, &mut std::io::stdout().lock()),
        Command::Demo(args) => runtime()?.block_on(demo::run(&args)),
        Command::Server(args) => servercmd::run(&args),
        Command::Phone(args) => runtime()?.block_on(async {
            let stdout = std::io::stdout();
            phonecmd::run(&args, &mut stdout.lock()).await
        }),
        Command::Fleet(args) => runtime()?.block_on(fleetcmd::run(&args)),
        Command::Tui(args) => runtime()?.block_on(tui::watch(&args)),
    }
}

/// The tokio runtime the async commands run on.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context as _;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")
}

/// Resolves on Ctrl-C or SIGTERM: the one shutdown signal of every command.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = term => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Whether an error is a closed stdout (`emroam xml ... | head`), which exits quietly.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
