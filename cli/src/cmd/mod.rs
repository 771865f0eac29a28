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
    /// A run stopped by Ctrl-C (SIGINT), its report written (128 + 2, the shells' convention).
    Interrupted = 130,
    /// A run stopped by SIGTERM, its report written (128 + 15).
    Terminated = 143,
}

/// The signal that stopped a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Ctrl-C (SIGINT).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl Signal {
    /// The exit code of a run this signal stopped.
    pub fn exit(self) -> Exit {
        match self {
            Signal::Interrupt => Exit::Interrupted,
            Signal::Terminate => Exit::Terminated,
        }
    }
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

/// Resolves on Ctrl-C (SIGINT) or SIGTERM, saying which: the one shutdown signal of every
/// command.
pub async fn shutdown_signal() -> Signal {
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
        () = ctrl_c => Signal::Interrupt,
        () = term => Signal::Terminate,
    }
}

/// What [`cancel_on_signal`] saw: the signal that cancelled the work, if one did.
#[derive(Debug, Clone, Default)]
pub struct Stopped(std::sync::Arc<std::sync::OnceLock<Signal>>);

impl Stopped {
    /// The signal that stopped the command, if any.
    pub fn signal(&self) -> Option<Signal> {
        self.0.get().copied()
    }

    /// `exit`, unless a signal stopped the run: then that signal's code (130 or 143), the
    /// report having been written all the same.
    pub fn or(&self, exit: Exit) -> Exit {
        self.signal().map_or(exit, Signal::exit)
    }
}

/// Spawns the task that cancels `token` on the shutdown signal, calling `note` first (to say
/// what stopping means for this command). A second signal quits at once, without waiting
/// for the drain or writing a report. The task ends quietly when `token` is cancelled some
/// other way. The returned [`Stopped`] says whether a signal came.
pub fn cancel_on_signal(token: CancellationToken, note: impl FnOnce() + Send + 'static) -> Stopped {
    let stopped = Stopped::default();
    let seen = stopped.clone();
    tokio::spawn(async move {
        let signal = tokio::select! {
            s = shutdown_signal() => s,
            () = token.cancelled() => return,
        };
        let _ = seen.0.set(signal);
        note();
        token.cancel();
        let again = shutdown_signal().await;
        eprintln!("emroam: second signal: quitting now, without the report");
        quit_now(again.exit());
    });
    stopped
}

/// Ends the process at once with `exit`'s code (the second signal: the user asked twice).
#[allow(
    clippy::exit,
    reason = "the user's second signal means stop now, without unwinding"
)]
fn quit_now(exit: Exit) -> ! {
    emroam_emulator::tui::restore_terminal();
    std::process::exit(exit as i32)
}

/// Whether an error is a closed stdout (`emroam xml ... | head`), which exits quietly.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
