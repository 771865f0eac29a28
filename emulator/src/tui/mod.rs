//! The live dashboard: per-cluster RTMT "Cisco Extension Mobility" counters, the fleet's
//! phones, latency and outcomes, on numbered screens, with controls. It renders and reacts;
//! it never starts a workload (the `emroam` commands wire a fleet to it).
//!
//! [`app`] is the state, [`event`] the one event source, [`mod@update`] the only state
//! transition (pure), [`ui`] the rendering (`impl Widget for &App`), [`terminal`] the terminal
//! guard, [`poll`] the cluster poller. Data flows one way: the fleet's aggregator and the
//! poller publish whole snapshots on `watch` channels; the dashboard only reads them, redraws
//! at [`event::FRAME_RATE`] when something changed, and sends controls back (admin calls to
//! the clusters, [`crate::fleet::Control`] to the fleet through [`Wiring::control`]).
//!
//! Every control is something a script can do too:
//!
//! | key | control | the same from a script |
//! |---|---|---|
//! | `d` / `u` | selected cluster down / up | `POST /admin/clusters/{id}/listeners/stop` / `start` (up goes through another cluster's port: any port addresses every cluster of the process) |
//! | `m` / `M` | its Maximum Concurrent Requests ÷2 / ×2 (1 to 100,000) | `POST /admin/clusters/{id}/params` `{"max_concurrent_requests": N}` |
//! | `x` / `h` | cut / heal its ILS link to its first peer | `POST /admin/clusters/{id}/ils/links/{peer}/cut` / `heal` |
//! | `s` | superuser sync now (the sync tool's "Sync now") | `POST /admin/superuser-sync` |
//! | `S` | ILS full sync from it to every peer now | `POST /admin/clusters/{id}/ils/sync` |
//! | `p` / `Space` | pause / resume starting work | `emroam fleet --control ADDR`: `POST /control/pause` / `resume` |
//! | `+` / `-` | arrival rate ×1.25 / ÷1.25 | `POST /control/rate?times=1.25` / `?times=0.8` (or `?factor=F`) |
//! | `6` | the roaming users: where the fleet and each cluster's ILS believe they are | `GET /admin/clusters/{id}/locate/{dn}` |
//! | `5`, `↑` `↓` | trace the selected phone (its last journey's messages on screen 5) | [`crate::fleet::Taps`]: `watch_device`, `trace` |
//! | `q` / `Ctrl-C` | quit: restore the terminal, drain, report; exit 0 after `q`, 130 after Ctrl-C | Ctrl-C (130) / SIGTERM (143) |
//!
//! The ILS sync status per peer comes from `/metrics.json`'s `ils.peers` (connected, up to
//! date); the role and peers from the topology. Logs go to `$EMROAM_LOG` (default `emroam.log`
//! in the temporary directory) while the dashboard owns the terminal.
//!
//! SIP is shown only where there is SIP, so a run without it looks as before:
//! - screen 2, per cluster from `/metrics.json`'s `sip` ([`app::SipCounters`]): line bindings,
//!   INVITEs/s, calls being set up (`invite_transactions`), INVITEs routed local/trunk, failed
//!   404/480/503, retransmissions absorbed, call throttling (Code Yellow and the share of new
//!   calls refused, calls throttled, the SIP queue delay, datagrams dropped), REGISTERs (refused 403/404), unregisters, expired,
//!   CANCEL/BYE forwarded, NOTIFYs, malformed; "no SIP" when `sip` is null (or the cluster, a
//!   lab CUCM, has no counters);
//! - screens 1 and 3, from the fleet's snapshots: calls attempted, ok, busy (486), failed,
//!   misrouted (red when any), dropped, answered, missed; call setup p50/p99 by route (local,
//!   trunk) and the register step; screens 1 and 5: phones in a call.

pub mod app;
pub mod event;
pub mod poll;
pub mod terminal;
pub mod ui;
pub mod update;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use emroam_schema::topology::{ClusterSpec, IlsRole};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::fleet::Control;
use crate::fleet::stats::Snapshot;
use crate::phone::Method;
pub use app::{App, ClusterView, FleetView};
use event::{Event, Sources};
use update::{Command, update};

/// How long a control's admin request may take, per cluster tried.
pub const ADMIN_TIMEOUT: Duration = Duration::from_secs(2);

/// The dashboard's view of a topology's clusters: ID, base URL, ILS role and peers.
pub fn cluster_views(clusters: &[ClusterSpec]) -> Vec<ClusterView> {
    clusters
        .iter()
        .map(|c| {
            let (role, peers) = match &c.ils {
                IlsRole::Standalone => ("standalone".to_string(), vec![]),
                IlsRole::Hub => (
                    "hub".to_string(),
                    clusters
                        .iter()
                        .filter(|o| {
                            o.id != c.id
                                && match &o.ils {
                                    IlsRole::Hub => true,
                                    IlsRole::Spoke { hub } => *hub == c.id,
                                    IlsRole::Standalone => false,
                                }
                        })
                        .map(|o| o.id.clone())
                        .collect(),
                ),
                IlsRole::Spoke { hub } => (format!("spoke>{hub}"), vec![hub.clone()]),
            };
            ClusterView::new(
                &c.id,
                &format!(
                    "http://{}",
                    std::net::SocketAddr::new(c.address, c.ports.http)
                ),
                &role,
                peers,
            )
        })
        .collect()
}

/// What the dashboard is wired to.
#[derive(Debug)]
pub struct Wiring {
    /// The fleet's snapshots, if there is a fleet.
    pub stats: Option<watch::Receiver<Arc<Snapshot>>>,
    /// Where fleet controls go, if there is a fleet.
    pub control: Option<watch::Sender<Control>>,
    /// Which phone the fleet traces (the one selected on screen 5).
    pub watch_device: Option<watch::Sender<Option<String>>>,
    /// The traced phone's last journey.
    pub trace: Option<watch::Receiver<Arc<crate::fleet::PhoneTrace>>>,
    /// Events from outside (the fleet's end); the dashboard also sends its controls'
    /// outcomes here.
    pub done: (mpsc::Sender<Event>, mpsc::Receiver<Event>),
}

impl Wiring {
    /// Wiring with no fleet.
    pub fn watch_only() -> Self {
        Self {
            stats: None,
            control: None,
            watch_device: None,
            trace: None,
            done: mpsc::channel(16),
        }
    }
}

/// Carries out one admin control: tries each base URL until one answers; the outcome goes
/// to the status line.
async fn admin_call(
    method: Method,
    path: String,
    body: String,
    via: Vec<String>,
    what: String,
) -> String {
    let mut last = "no cluster to send it through".to_string();
    for base in via {
        let url = format!("{base}{path}");
        match poll::call(
            method,
            &url,
            (!body.is_empty()).then_some(body.as_str()),
            ADMIN_TIMEOUT,
        )
        .await
        {
            Ok(_) => return format!("{what}: done"),
            Err(e) if e.starts_with("HTTP ") => return format!("{what}: {e}"),
            Err(e) => last = format!("{what}: {e} via {base}"),
        }
    }
    last
}

/// How the dashboard closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// The user quit with `q`.
    Quit,
    /// The user quit with Ctrl-C (a key in the dashboard's raw mode, the user's interrupt).
    Interrupted,
    /// `token` was cancelled (the work ended, or a signal).
    Cancelled,
}

/// Runs the dashboard in the terminal until `q`, Ctrl-C or `token` is cancelled; the
/// terminal is restored when it returns, whatever happened. Quitting cancels `token`.
///
/// The dashboard (event task, poller, drawing) runs on a thread and runtime of its own, so a
/// terminal that blocks on writes holds up only the dashboard, never the fleet's workers; it
/// talks to the fleet through `watch` channels only.
///
/// # Errors
/// The terminal cannot be used.
pub async fn run(app: App, wiring: Wiring, token: CancellationToken) -> anyhow::Result<Closed> {
    use std::io::IsTerminal as _;
    if !std::io::stdout().is_terminal() {
        token.cancel();
        anyhow::bail!(
            "the dashboard needs a terminal on stdout (`emroam demo --headless` or `emroam fleet` without --tui run without one)"
        );
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let t = token.clone();
    std::thread::Builder::new()
        .name("emroam-dashboard".into())
        .spawn(move || {
            let r = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the dashboard's runtime")
                .and_then(|rt| rt.block_on(dashboard(app, wiring, t)));
            let _ = tx.send(r);
        })
        .context("starting the dashboard's thread")?;
    let r = rx
        .await
        .unwrap_or_else(|_| Err(anyhow::anyhow!("the dashboard stopped unexpectedly")));
    // However it ended (a panic included), the work it watched stops too.
    token.cancel();
    r
}

async fn dashboard(
    mut app: App,
    wiring: Wiring,
    token: CancellationToken,
) -> anyhow::Result<Closed> {
    let targets: Vec<poll::Target> = app
        .clusters
        .iter()
        .map(|c| poll::Target {
            id: c.id.clone(),
            base: c.base.clone(),
        })
        .collect();
    let (obs_tx, obs_rx) = watch::channel(Arc::new(Vec::new()));
    let (dns_tx, dns_rx) = watch::channel(Vec::new());
    let ui_token = token.child_token();
    let poller = tokio::spawn(poll::run(targets, obs_tx, dns_rx, ui_token.clone()));
    let (done_tx, done_rx) = wiring.done;
    let mut events = event::spawn(
        Sources {
            stats: wiring.stats,
            trace: wiring.trace,
            clusters: obs_rx,
            done: done_rx,
            terminal: true,
        },
        ui_token.clone(),
    );
    let result = async {
        let mut term = terminal::Terminal::enter()
            .context("starting the dashboard (is stdout a terminal?)")?;
        term.draw(&app)?;
        while let Some(ev) = events.recv().await {
            let tick = matches!(ev, Event::Tick);
            if tick {
                // The fleet's HTTP control port may have changed pause or rate: show it.
                if let (Some(tx), Some(fv)) = (&wiring.control, app.fleet.as_mut()) {
                    let c = *tx.borrow();
                    if fv.paused != c.paused || fv.rate_factor != c.rate_factor {
                        fv.paused = c.paused;
                        fv.rate_factor = c.rate_factor;
                        app.dirty = true;
                    }
                }
            }
            match update(&mut app, ev) {
                Some(Command::Quit) => break,
                Some(Command::Fleet(c)) => {
                    if let Some(tx) = &wiring.control {
                        tx.send_replace(c);
                    }
                }
                Some(Command::WatchPhone(d)) => {
                    if let Some(tx) = &wiring.watch_device {
                        tx.send_replace(Some(d));
                    }
                }
                Some(Command::Admin {
                    method,
                    path,
                    body,
                    via,
                    what,
                }) => {
                    let tx = done_tx.clone();
                    tracing::info!(%path, "dashboard control");
                    tokio::spawn(async move {
                        let msg = admin_call(method, path, body, via, what).await;
                        let _ = tx.send(Event::Done(msg)).await;
                    });
                }
                None => {}
            }
            // The poller asks each cluster's ILS about the roaming users on view.
            let shown = app.roaming_dns();
            dns_tx.send_if_modified(|d| (*d != shown).then(|| *d = shown).is_some());
            if tick && app.dirty {
                app.dirty = false;
                term.draw(&app)?;
            }
        }
        anyhow::Ok(match (app.quitting, app.interrupted) {
            (true, true) => Closed::Interrupted,
            (true, false) => Closed::Quit,
            (false, _) => Closed::Cancelled,
        })
        // `term` drops here: the terminal is restored before anything else is printed.
    }
    .await;
    ui_token.cancel();
    token.cancel();
    let _ = poller.await;
    result
}

/// Restores the terminal if the dashboard holds it, for a process that exits at once (a
/// second Ctrl-C or SIGTERM); nothing otherwise.
pub fn restore_terminal() {
    terminal::restore_if_active();
}

/// The dashboard's clusters for a fleet: one per target, at its admin URL (or its EM
/// service's host and port), with ILS roles from `topo` when the topology is known.
pub fn target_views(profile: &crate::fleet::profile::Profile) -> Vec<ClusterView> {
    let known = cluster_views(&profile.clusters);
    profile
        .targets
        .iter()
        .map(|t| {
            let base = t
                .admin_url
                .clone()
                .unwrap_or_else(|| base_of(&t.service_url));
            match known.iter().find(|k| k.id == t.cluster) {
                Some(k) => ClusterView::new(
                    &t.cluster,
                    base.trim_end_matches('/'),
                    &k.ils_role,
                    k.ils_peers.clone(),
                ),
                None => ClusterView::new(&t.cluster, base.trim_end_matches('/'), "?", vec![]),
            }
        })
        .collect()
}

/// `http://host:port` of a URL.
fn base_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let host = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_topology_roles_and_peers() {
        let topo =
            emroam_schema::Topology::parse(include_str!("../../../profiles/topologies/seed.toml"))
                .unwrap();
        let v = cluster_views(&topo.clusters);
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].ils_role, "hub");
        assert_eq!(v[0].ils_peers, ["cluster2"]);
        assert_eq!(v[1].ils_peers, ["cluster1", "cluster3"]);
        assert_eq!(v[2].ils_role, "spoke>cluster2");
        assert_eq!(v[2].base, "http://127.0.0.3:8080");
    }

    #[tokio::test]
    async fn admin_calls_fall_through_dead_clusters_and_report() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dead = format!("http://{}", l.local_addr().unwrap());
        drop(l);
        let msg = admin_call(
            Method::Post,
            "/admin/clusters/c1/listeners/start".into(),
            String::new(),
            vec![dead.clone()],
            "c1 up".into(),
        )
        .await;
        assert!(msg.starts_with("c1 up: ") && msg.contains(&dead), "{msg}");
        let msg = admin_call(Method::Post, "/x".into(), String::new(), vec![], "x".into()).await;
        assert_eq!(msg, "no cluster to send it through");
    }
}
