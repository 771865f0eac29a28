//! One file per command, and what every command shares: the exit codes, the one tokio runtime
//! builder and the one shutdown signal.
//!
//! A command takes its parsed arguments, returns an [`Exit`], and prints for a person; the
//! work itself is in the libraries (`emroam-emulator`, `emroam-server`).

pub mod control;
pub mod demo;
pub mod fleet;
pub mod phone;
pub mod server;
pub mod tui;
pub mod xml;

use std::process::ExitCode;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, Command};

/// The exit codes emroam documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything worked and every threshold was met.
    Ok = 0,
    /// Anything else went wrong (I/O, a server, a target that cannot be reached).
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
        Command::Xml(args) => xml::run(&args, &mut std::io::stdout().lock()),
        Command::Demo(args) => runtime()?.block_on(demo::run(&args)),
        Command::Server(args) => server::run(&args),
        Command::Phone(args) => runtime()?.block_on(async {
            let stdout = std::io::stdout();
            phone::run(&args, &mut stdout.lock()).await
        }),
        Command::Fleet(args) => runtime()?.block_on(fleet::run(&args)),
        Command::Tui(args) => runtime()?.block_on(tui::run(&args)),
    }
}

/// The tokio runtime every async command runs on.
///
/// # Errors
/// The runtime cannot start (no threads, no timers).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM: the one shutdown signal of every command.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// Spawns the task that cancels `token` on the shutdown signal, calling `note` first (to say
/// what stopping means for this command). The task ends quietly when `token` is cancelled
/// some other way.
pub fn cancel_on_signal(
    token: CancellationToken,
    note: impl FnOnce() + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::select! {
            () = shutdown_signal() => {}
            () = token.cancelled() => return,
        }
        note();
        token.cancel();
    })
}

/// Whether an error is a closed stdout (`emroam xml ... | head`), which exits quietly.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
