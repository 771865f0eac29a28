//! emroam: a fleet emulator of Cisco-style IP phones and a load tester for Extension Mobility
//! roaming across clusters.
//!
//! Layout:
//! - [`cli`]: the command line (clap derive), one subcommand per job.
//! - [`xmlcmd`]: `emroam xml`, what a phone shows for a CiscoIPPhone document.
//! - [`servercmd`]: `emroam server`, reference clusters from a topology file.
//!
//! [`run`] is what `main` calls; tests call it too.

pub mod cli;
pub mod logging;
pub mod servercmd;
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
        Command::Demo(_) => not_built("demo", "#4 (phone emulator) and #7 (TUI)"),
        Command::Server(args) => servercmd::run(&args),
        Command::Phone(_) => not_built("phone", "#4 (phone emulator)"),
        Command::Fleet(_) => not_built("fleet", "#4 (phone emulator)"),
        Command::Tui(_) => not_built("tui", "#7 (the QA dashboard)"),
    }
}

fn not_built(what: &str, issue: &str) -> anyhow::Result<Exit> {
    eprintln!("emroam {what}: not built yet (tracked in issue {issue}); `emroam xml` works today.");
    Ok(Exit::Other)
}

/// Whether an error is a closed stdout (`emroam xml ... | head`), which exits quietly.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
