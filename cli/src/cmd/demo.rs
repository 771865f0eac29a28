//! `emroam demo`: the seed topology's three clusters in-process (each on its own loopback
//! address, ports chosen by the OS), `profiles/demo.toml` run against them under the live
//! dashboard (`--headless`: a progress line), the report, and a clean shutdown. Both files
//! are built into the binary, so it runs anywhere.

use std::time::Duration;

use anyhow::Context as _;
use emroam_server::{Options, Topology, bind_ephemeral};
use tokio_util::sync::CancellationToken;

use emroam_emulator::fleet::RunOptions;
use emroam_emulator::fleet::profile::Profile;
use emroam_emulator::tui;

use super::Exit;
use super::fleet::{self as fleetcmd, FleetConfig};
use crate::cli::DemoArgs;

/// The seed topology (`profiles/topologies/seed.toml`).
pub const SEED_TOPOLOGY: &str = include_str!("../../../profiles/topologies/seed.toml");
/// The demo profile (`profiles/demo.toml`).
pub const DEMO_PROFILE: &str = include_str!("../../../profiles/demo.toml");

/// Runs `emroam demo`.
///
/// # Errors
/// The clusters cannot start, or the report cannot be written.
pub async fn run(args: &DemoArgs) -> anyhow::Result<Exit> {
    let duration = args.duration;
    // The dashboard needs a terminal; piped or in CI, the demo runs headless rather than fail.
    let headless = args.headless || !std::io::IsTerminal::is_terminal(&std::io::stdout());
    if headless && !args.headless {
        eprintln!(
            "emroam demo: stdout is not a terminal, running headless (progress line and report)"
        );
    }
    let mut topo = Topology::parse(SEED_TOPOLOGY).context("the built-in seed topology")?;
    let listeners = bind_ephemeral(&mut topo).await?;
    let token = CancellationToken::new();
    let running = emroam_server::start(&topo, listeners, &Options::default(), token.child_token())
        .await
        .context("starting the seed clusters")?;
    for c in &topo.clusters {
        eprintln!(
            "emroam demo: {} at http://{}:{} (config :{})",
            c.id, c.address, c.ports.http, c.ports.config
        );
    }
    let mut profile = Profile::parse_with(DEMO_PROFILE, "demo.toml", None, Some(&topo))
        .map_err(|e| anyhow::anyhow!("the built-in demo profile: {e}"))?;
    if let Some(d) = duration {
        profile.scale_to(d);
    }
    let fleet_token = token.child_token();
    let stopped = super::cancel_on_signal(fleet_token.clone(), || {
        eprintln!("emroam demo: stopping (again to quit at once, without the report)");
    });
    let cfg = FleetConfig {
        profile,
        out: None,
        progress: headless,
        tui: !headless,
    };
    let (summary, ended, closed) = if headless {
        (
            fleetcmd::run_config(cfg, RunOptions::default().token(fleet_token)).await?,
            true,
            tui::Closed::Cancelled,
        )
    } else {
        let views = tui::target_views(&cfg.profile);
        let control = tokio::sync::watch::channel(emroam_emulator::fleet::Control::default()).0;
        fleetcmd::with_dashboard(cfg, views, fleet_token, control).await?
    };
    print!("{}", summary.table());
    for c in running.clusters() {
        let s = c.counters().snapshot();
        println!(
            "{}: LoginsSuccessful {} LogoutsSuccessful {} RequestsThrottled {} RequestsHandled {}",
            c.id(),
            s.logins_successful,
            s.logouts_successful,
            s.requests_throttled,
            s.requests_handled
        );
    }
    token.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), running.wait()).await;
    // Quit from the dashboard before the end: the user's choice, exit 0 with the report;
    // stopped by a signal: 130 or 143, with the report.
    if closed == tui::Closed::Interrupted {
        // Ctrl-C in the dashboard is the user's interrupt, as the signal is outside it.
        return Ok(Exit::Interrupted);
    }
    Ok(stopped.or(if ended {
        fleetcmd::verdict(&summary)
    } else {
        Exit::Ok
    }))
}
