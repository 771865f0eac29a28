//! Logging setup: `tracing` to stderr, filtered by `RUST_LOG` or `-v`; to a file instead while
//! a dashboard owns the terminal.
//!
//! Logs never go to stdout, which belongs to the command's output (reports, JSON, traces).

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; `verbose` counts `-v` flags (0 = warnings only); `file`:
/// append there instead of stderr (stderr if it cannot be opened, said once).
pub fn init(verbose: u8, file: Option<&std::path::Path>) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // A second init (tests calling `run` repeatedly) is harmless, so the error is ignored.
    let opened = file.map(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .map_err(|e| {
                eprintln!(
                    "emroam: logging to stderr: cannot open {}: {e}",
                    p.display()
                )
            })
    });
    match opened {
        Some(Ok(f)) => {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(f))
                .try_init();
        }
        _ => {
            // Colours only for a person at a terminal, not in a file or a pipe.
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(std::io::stderr().is_terminal())
                .with_writer(std::io::stderr)
                .try_init();
        }
    }
}
