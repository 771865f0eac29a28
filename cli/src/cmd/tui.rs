//! `emroam tui --topology FILE`: the dashboard watching running clusters, no fleet.

use emroam_emulator::tui::{self, App, Wiring};
use emroam_schema::Topology;
use tokio_util::sync::CancellationToken;

use super::Exit;
use crate::cli::TuiArgs;

/// Runs `emroam tui`.
///
/// # Errors
/// The terminal cannot be used. A topology that cannot be read exits 2.
pub async fn run(args: &TuiArgs) -> anyhow::Result<Exit> {
    let topo = match Topology::load(&args.topology) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("emroam tui: {e}");
            return Ok(Exit::BadInput);
        }
    };
    let token = CancellationToken::new();
    let stopped = super::cancel_on_signal(token.clone(), || {});
    let closed = tui::run(
        App::new(tui::cluster_views(&topo.clusters), None),
        Wiring::watch_only(),
        token,
    )
    .await?;
    // Ctrl-C (the key in the dashboard, or the signal) exits 130 as a shell expects; `q` 0.
    Ok(match closed {
        tui::Closed::Interrupted => Exit::Interrupted,
        _ => stopped.or(Exit::Ok),
    })
}
