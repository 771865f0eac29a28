//! `emroam demo`: the seed topology's three clusters in-process (each on its own loopback
//! address, ports chosen by the OS), `profiles/demo.toml` run against them under the live
//! dashboard (`--headless`: a progress line), the report, and a clean shutdown. Both files are built into the binary, so it runs anywhere.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use emroam_server::{ClusterListeners, Options, Topology};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::Exit;
use crate::cli::DemoArgs;
use crate::fleet::profile::Profile;
use crate::fleetcmd::{self, FleetConfig};

/// The seed topology (`profiles/topologies/seed.toml`).
pub const SEED_TOPOLOGY: &str = include_str!("../../profiles/topologies/seed.toml");
/// The demo profile (`profiles/demo.toml`).
pub const DEMO_PROFILE: &str = include_str!("../../profiles/demo.toml");

/// Binds every cluster of `topo` on its own address with OS-chosen ports and rewrites the
/// topology's ports to match, so phones and profiles see the real URLs.
///
/// # Errors
/// A bind failure.
pub async fn bind_ephemeral(
    topo: &mut Topology,
) -> anyhow::Result<Vec<(String, ClusterListeners)>> {
    let mut out = Vec::new();
    for c in &mut topo.clusters {
        let bind = |ip| async move {
            TcpListener::bind(SocketAddr::new(ip, 0))
                .await
                .with_context(|| format!("binding {ip}:0"))
        };
        let http = bind(c.address).await?;
        let config = bind(c.address).await?;
        c.ports.http = http.local_addr()?.port();
        c.ports.config = config.local_addr()?.port();
        // ILS peers dial each other at the topology's ILS ports, so those are rewritten too.
        let ils = if c.ils == emroam_server::topology::IlsRole::Standalone {
            None
        } else {
            let l = bind(c.address).await?;
            c.ports.ils = l.local_addr()?.port();
            Some(l)
        };
        let sip = tokio::net::UdpSocket::bind(SocketAddr::new(c.address, 0))
            .await
            .with_context(|| format!("binding {}:0 (UDP)", c.address))?;
        c.ports.sip = sip.local_addr()?.port();
        out.push((
            c.id.clone(),
            ClusterListeners {
                http,
                config,
                ils,
                sip: Some(sip),
            },
        ));
    }
    Ok(out)
}

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
    let t = fleet_token.clone();
    let signal = tokio::spawn(async move {
        crate::shutdown_signal().await;
        t.cancel();
    });
    let cfg = FleetConfig {
        profile,
        out: None,
        progress: headless,
        tui: !headless,
    };
    let (summary, ended) = if headless {
        (fleetcmd::run_config(cfg, fleet_token).await?, true)
    } else {
        let views = crate::tui::target_views(&cfg.profile, Some(&topo));
        crate::tui::with_fleet(cfg, views, fleet_token).await?
    };
    signal.abort();
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
    // Quit from the dashboard before the end: the user's choice, exit 0 with the report.
    Ok(if summary.passed() || !ended {
        Exit::Ok
    } else {
        Exit::ThresholdFailed
    })
}
