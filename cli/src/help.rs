//! The closing sections of `--help` (not of `-h`, which stays short) for the commands that
//! run: what must be running, the files written, the dashboard's keys, the demo's length and
//! the exit codes. Each is computed from what it describes (the [`Exit`] codes, [`OutFiles`],
//! the dashboard's [`KEYS`], the built-in demo profile), so the help cannot drift from the
//! code. Kept apart from `cli` (raw arguments only), which `cmd` depends on.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{CommandFactory as _, FromArgMatches as _};
use emroam_emulator::fleet::OutFiles;
use emroam_emulator::fleet::profile::Profile;
use emroam_emulator::tui::ui::KEYS;
use emroam_schema::duration::format as dur;

use crate::cli::Cli;
use crate::cmd::Exit;
use crate::cmd::demo::{DEMO_PROFILE, SEED_TOPOLOGY};

/// The whole command line, with the closing sections of `--help`.
pub fn command() -> clap::Command {
    Cli::command()
        .mut_subcommand("fleet", |c| c.after_long_help(fleet()))
        .mut_subcommand("demo", |c| c.after_long_help(demo()))
        .mut_subcommand("tui", |c| c.after_long_help(tui()))
        .mut_subcommand("server", |c| c.after_long_help(server()))
}

/// Parses the process's arguments as `main` does; `--help`, `--version` and bad arguments
/// print and exit here, as clap's `Cli::parse` does.
pub fn parse() -> Cli {
    let matches = command().get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// A titled section of rows, `  left  right`, the left column padded to its widest; a `\n`
/// in `right` continues it on a line of its own, under its start.
fn section(title: &str, rows: &[(String, &str)]) -> String {
    let width = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = format!("{title}:\n");
    for (left, right) in rows {
        let mut lines = right.lines();
        let pad = width - left.chars().count();
        let _ = writeln!(out, "  {left}{:pad$}  {}", "", lines.next().unwrap_or(""));
        for more in lines {
            let _ = writeln!(out, "  {:width$}  {more}", "");
        }
    }
    out
}

/// The exit codes section.
fn exit_codes(rows: &[(Exit, &str)]) -> String {
    let rows: Vec<_> = rows
        .iter()
        .map(|&(e, what)| ((e as u8).to_string(), what))
        .collect();
    section("Exit codes", &rows)
}

/// The dashboard's keys, as its help overlay lists them.
pub fn keys() -> String {
    let rows: Vec<_> = KEYS.iter().map(|&(k, what)| (k.to_owned(), what)).collect();
    section("Keys", &rows)
}

/// `emroam fleet --help`'s closing sections.
pub fn fleet() -> String {
    let out = OutFiles {
        dir: PathBuf::from("DIR"),
    };
    let files = [
        (
            out.summary(),
            "the report as JSON (what the final table says, and more)",
        ),
        (
            out.hlog(),
            "latency histograms per interval (HdrHistogram log)",
        ),
        (out.csv(), "counts and rates per interval (a time series)"),
    ]
    .map(|(p, what)| (p.display().to_string(), what));
    format!(
        "Before it runs:\n  \
         The clusters the profile drives must be up. For the reference clusters, start\n  \
         them first with the profile's topology file, e.g. for profiles/smoke.toml:\n    \
         emroam server --topology profiles/topologies/seed.toml\n  \
         A cluster that cannot be reached stops the fleet before anything runs.\n  \
         Logins found at the start on the profile's phones, or of its users, are\n  \
         logged out first, unless its found_logged_in says otherwise.\n\n\
         {}\n{}",
        section("Files written with --out DIR", &files),
        exit_codes(&[
            (
                Exit::Ok,
                "the run ended and every SLO held (or q quit the dashboard)"
            ),
            (
                Exit::Other,
                "a cluster cannot be reached (at the start, or for stop_when_unreachable\n\
                 during the run); logins found at the start with found_logged_in =\n\
                 \"refuse\"; --tui without a terminal; --out cannot be written",
            ),
            (
                Exit::BadInput,
                "bad arguments, or a profile (or its topology) refused"
            ),
            (Exit::ThresholdFailed, "the run ended and an SLO failed"),
            (
                Exit::Interrupted,
                "stopped by Ctrl-C, the report written (again: quit at once, no report)",
            ),
            (Exit::Terminated, "stopped by SIGTERM, the report written"),
        ]),
    )
}

/// The built-in demo profile against the built-in seed topology.
///
/// # Errors
/// Only if the files built into the binary are bad (a test parses them).
pub fn demo_profile() -> Result<Profile, String> {
    let topo = emroam_schema::Topology::parse(SEED_TOPOLOGY).map_err(|e| e.to_string())?;
    Profile::parse_with(DEMO_PROFILE, "demo.toml", None, Some(&topo)).map_err(|e| e.to_string())
}

/// How long the demo runs by default: its phases (one a line, with their lengths) after the
/// phones boot, then the drain.
pub fn demo_length() -> String {
    let p = match demo_profile() {
        Ok(p) => p,
        Err(e) => return format!("  (the built-in demo profile is bad: {e})\n"),
    };
    let width = p.phases.iter().map(|ph| ph.name.chars().count()).max();
    let mut out = format!(
        "  {} of phases, after the phones boot:\n",
        dur(p.duration())
    );
    for ph in &p.phases {
        let _ = writeln!(
            out,
            "    {:w$}  {}",
            ph.name,
            dur(ph.duration),
            w = width.unwrap_or(0)
        );
    }
    let _ = writeln!(
        out,
        "  then up to {} for the journeys in flight to finish.",
        dur(p.drain)
    );
    out
}

/// `emroam demo --help`'s closing sections.
pub fn demo() -> String {
    format!(
        "What it runs:\n  \
         The seed topology's three clusters (profiles/topologies/seed.toml) in this\n  \
         process, and profiles/demo.toml against them, under the dashboard (without a\n  \
         terminal on stdout, or with --headless: a progress line), then the report.\n\n\
         How long it runs:\n\
         {}  \
         --duration scales the phases to the length given, the boot and drain aside.\n\n\
         {}\n{}",
        demo_length(),
        keys(),
        exit_codes(&[
            (
                Exit::Ok,
                "the demo ended and every SLO held (or q quit the dashboard early)",
            ),
            (
                Exit::Other,
                "the clusters cannot start, or the terminal cannot be used",
            ),
            (Exit::BadInput, "bad arguments"),
            (
                Exit::ThresholdFailed,
                "the demo ran to its end and an SLO failed"
            ),
            (
                Exit::Interrupted,
                "stopped by Ctrl-C, the report written (again: quit at once, no report)",
            ),
            (Exit::Terminated, "stopped by SIGTERM, the report written"),
        ]),
    )
}

/// `emroam tui --help`'s closing sections.
pub fn tui() -> String {
    format!(
        "The topology's clusters must be running (emroam server --topology FILE, the\n\
         same file); one that does not answer shows DOWN.\n\n\
         {}\n{}",
        keys(),
        exit_codes(&[
            (Exit::Ok, "q quit the dashboard"),
            (
                Exit::Other,
                "the terminal cannot be used (stdout is not one)"
            ),
            (Exit::BadInput, "bad arguments, or the topology refused"),
            (Exit::Interrupted, "stopped by Ctrl-C"),
            (Exit::Terminated, "stopped by SIGTERM"),
        ]),
    )
}

/// `emroam server --help`'s closing sections.
pub fn server() -> String {
    format!(
        "Each cluster's database in --data-dir is locked (<cluster>.lock, holding the PID) while\n\
         a server runs it; the OS drops the lock when the process ends, kill -9 included. The\n\
         ports are bound first and listened on once the clusters are loaded: until the\n\
         `cluster ...` lines are printed, connections are refused.\n\n\
         {}",
        exit_codes(&[
            (
                Exit::Ok,
                "stopped by Ctrl-C or SIGTERM, in-flight requests drained"
            ),
            (
                Exit::Other,
                "a port cannot be bound, the data directory or a database is unusable"
            ),
            (
                Exit::BadInput,
                "bad arguments, the topology refused, or a cluster database another server holds"
            ),
            (
                Exit::Interrupted,
                "a second Ctrl-C during the drain: quit at once"
            ),
            (
                Exit::Terminated,
                "a second SIGTERM during the drain: quit at once"
            ),
        ]),
    )
}
