//! Logging setup: `tracing` to stderr, filtered by `RUST_LOG` or `-v`.
//!
//! Logs never go to stdout, which belongs to the command's output (reports, JSON, traces).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; `verbose` counts `-v` flags (0 = warnings only).
pub fn init(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // A second init (tests calling `run` repeatedly) is harmless, so the error is ignored.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
