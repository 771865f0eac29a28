//! `emroam fleet PROFILE`: validate the profile, run it with a live progress line, reconcile,
//! print the final table, write `--out DIR`, and map the result to an exit code (0 thresholds
//! met, 99 a threshold failed, 2 bad profile or arguments, 1 anything else).

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use anyhow::Context as _;
use emroam_emulator::fleet::profile::Profile;
use emroam_emulator::fleet::report::Summary;
use emroam_emulator::fleet::stats::Snapshot;
use emroam_emulator::fleet::{self, Control, OutFiles, RunOptions, reconcile};
use emroam_emulator::httpc;
use emroam_emulator::phone::http::split_http_url;
use emroam_emulator::phone::{HttpFailure, Step};
use emroam_emulator::tui::{self, App, ClusterView, FleetView, Wiring, event::Event};
use tokio::sync::mpsc;

use super::Exit;
use crate::cli::FleetArgs;

/// A validated `emroam fleet` invocation.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// The profile.
    pub profile: Profile,
    /// Where to write the summary, interval log and CSV.
    pub out: Option<OutFiles>,
    /// Show the progress line.
    pub progress: bool,
    /// Show the live dashboard instead of the progress line.
    pub tui: bool,
}

impl FleetConfig {
    /// Validates the arguments (the profile is read and checked here).
    ///
    /// # Errors
    /// A message naming the profile line, or the bad argument.
    pub fn from_args(a: &FleetArgs) -> Result<Self, String> {
        let mut profile = Profile::load(&a.profile).map_err(|e| e.to_string())?;
        if let Some(d) = a.duration {
            profile.scale_to(d);
        }
        Ok(Self {
            profile,
            out: a.out.clone().map(|dir| OutFiles { dir }),
            progress: !a.tui,
            tui: a.tui,
        })
    }
}

/// One progress line from a snapshot.
pub fn progress_line(s: &Snapshot) -> String {
    let t = s.total.totals();
    let p99 = s.total.step_all(Step::Journey).map_or("-".into(), |h| {
        format!("{:.1}ms", h.value_at_quantile(0.99) as f64 / 1000.0)
    });
    format!(
        "{:>6.1}s {:<10} logins {}/{} logouts {}/{} busy {} failed {} late {} dropped {} in-flight {} logged-in {} journey p99 {}",
        s.elapsed.as_secs_f64(),
        s.phase,
        t.logins_ok,
        t.logins_attempted,
        t.logouts_ok,
        t.logouts_attempted,
        t.busy,
        t.failed,
        t.late_starts,
        t.dropped,
        s.in_flight,
        s.logged_in.iter().sum::<u64>(),
        p99
    )
}

/// Shows snapshots as they come: an indicatif line on a terminal, a plain line every 5 s
/// otherwise (CI logs).
async fn show_progress(mut rx: watch::Receiver<Arc<Snapshot>>) {
    let tty = std::io::stderr().is_terminal();
    let bar = tty.then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.enable_steady_tick(Duration::from_millis(200));
        b
    });
    let mut last_print = Duration::ZERO;
    while rx.changed().await.is_ok() {
        let s = rx.borrow_and_update().clone();
        let line = progress_line(&s);
        match &bar {
            Some(b) => b.set_message(line),
            None if s.elapsed >= last_print + Duration::from_secs(5) => {
                last_print = s.elapsed;
                eprintln!("{line}");
            }
            None => {}
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
}

/// Runs a validated fleet to its end, reconciles, writes `summary.json` into `--out`; returns
/// the summary. The progress line, when the config asks for it, reads the run's snapshots.
///
/// # Errors
/// Output files that cannot be written.
pub async fn run_config(cfg: FleetConfig, options: RunOptions) -> anyhow::Result<Summary> {
    let mut options = options;
    if let Some(o) = cfg.out.clone() {
        options = options.out(o);
    }
    let progress = cfg.progress.then(|| {
        let tx = options.snapshots.get_or_insert_with(|| {
            watch::channel(Arc::new(Snapshot::empty(cfg.profile.targets.len()))).0
        });
        tokio::spawn(show_progress(tx.subscribe()))
    });
    let timeout = cfg.profile.request_timeout;
    let out = cfg.out;
    let result = fleet::run(cfg.profile, options).await?;
    if let Some(p) = progress {
        let _ = p.await;
    }
    let rec = reconcile::reconcile(&result.profile, &result.beliefs, timeout).await;
    let summary = Summary::of(&result, Some(rec));
    if let Some(o) = &out {
        let json = serde_json::to_string_pretty(&summary)?;
        std::fs::write(o.summary(), json)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", o.summary().display()))?;
    }
    Ok(summary)
}

/// Connects once to each target's EM service address before anything runs, as a phone
/// would ([`httpc::Conn::connect`]); returns a line for each that cannot be reached (refused,
/// no answer, name not resolved), naming the cluster, the address and the error. A run
/// against a server that is not there would otherwise spend its whole length failing every
/// journey.
async fn preflight(profile: &Profile) -> Vec<String> {
    let wait = profile.request_timeout.min(Duration::from_secs(5));
    let mut out = Vec::new();
    for t in &profile.targets {
        let Some((authority, _)) = split_http_url(&t.service_url) else {
            continue;
        };
        let why = match tokio::time::timeout(wait, httpc::Conn::connect(authority)).await {
            Ok(Ok(_)) => continue,
            Ok(Err(HttpFailure::Refused)) => "connection refused".to_owned(),
            Ok(Err(HttpFailure::HostNotFound)) => "the name does not resolve".to_owned(),
            Ok(Err(HttpFailure::ConnectionFailed(e))) => e,
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {}", emroam_schema::duration::format(wait)),
        };
        out.push(format!("cannot reach {} at {authority}: {why}", t.cluster));
    }
    out
}

/// The exit code of a run that ended on its own: 1 when a target went away and stopped it,
/// 99 when a threshold failed, else 0.
pub fn verdict(summary: &Summary) -> Exit {
    if summary.stopped_early.is_some() {
        Exit::Other
    } else if summary.passed() {
        Exit::Ok
    } else {
        Exit::ThresholdFailed
    }
}

/// Runs `emroam fleet`.
///
/// # Errors
/// Anything but a bad profile (exit 2) or a failed threshold (exit 99).
pub async fn run(args: &FleetArgs) -> anyhow::Result<Exit> {
    let cfg = match FleetConfig::from_args(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("emroam fleet: {e}");
            return Ok(Exit::BadInput);
        }
    };
    let unreachable = preflight(&cfg.profile).await;
    if !unreachable.is_empty() {
        for line in &unreachable {
            eprintln!("emroam fleet: {line}");
        }
        eprintln!(
            "emroam fleet: nothing was run. {}",
            if cfg.profile.clusters.is_empty() {
                "Check that the cluster is up and reachable from this machine (address, port, firewall)."
            } else {
                "Start the reference clusters first: emroam server --topology TOPOLOGY (the profile's topology file)."
            }
        );
        return Ok(Exit::Other);
    }
    let token = CancellationToken::new();
    let stopped = super::cancel_on_signal(token.clone(), || {
        eprintln!(
            "emroam fleet: stopping: no new journeys, in-flight ones get the drain deadline \
             (again to quit at once, without the report)"
        );
    });
    let control = tokio::sync::watch::channel(fleet::Control::default()).0;
    if let Some(addr) = args.control {
        match super::control::start(addr, control.clone(), token.child_token()).await {
            Ok(bound) => eprintln!("emroam fleet: controls at http://{bound}/control"),
            Err(e) => {
                eprintln!("emroam fleet: {e:#}");
                return Ok(Exit::BadInput);
            }
        }
    }
    let out = cfg.out.clone();
    let wrote = move || {
        if let Some(o) = &out {
            println!(
                "wrote {}, {} and {}",
                o.summary().display(),
                o.hlog().display(),
                o.csv().display()
            );
        }
    };
    let summary = if cfg.tui {
        let views = tui::target_views(&cfg.profile);
        let (summary, ended, closed) = with_dashboard(cfg, views, token, control).await?;
        if closed == tui::Closed::Interrupted {
            // Ctrl-C in the dashboard is the user's interrupt, as the signal is outside it.
            print!("{}", summary.table());
            wrote();
            return Ok(Exit::Interrupted);
        }
        if !ended {
            // Quit from the dashboard: the user's choice, exit 0 with the report (130 or 143
            // when a signal stopped it).
            print!("{}", summary.table());
            wrote();
            return Ok(stopped.or(Exit::Ok));
        }
        summary
    } else {
        let taps = fleet::Taps {
            control: control.subscribe(),
            ..fleet::Taps::none()
        };
        run_config(cfg, RunOptions::default().token(token).taps(taps)).await?
    };
    print!("{}", summary.table());
    wrote();
    Ok(stopped.or(verdict(&summary)))
}

/// Runs a fleet under the dashboard: the fleet in its own task (snapshots on a `watch`, a
/// [`Control`] channel back, shared with the HTTP control port), the dashboard in this one.
/// Quitting cancels the fleet, which drains and reports after the terminal is restored.
/// Returns the summary, whether the run had ended on its own before the user quit, and how
/// the dashboard closed.
///
/// # Errors
/// The terminal cannot be used, or the fleet's output cannot be written.
pub async fn with_dashboard(
    cfg: FleetConfig,
    clusters: Vec<ClusterView>,
    token: CancellationToken,
    control_tx: watch::Sender<Control>,
) -> anyhow::Result<(Summary, bool, tui::Closed)> {
    let n = cfg.profile.targets.len();
    let (snap_tx, snap_rx) = watch::channel(Arc::new(Snapshot::empty(n)));
    let control_rx = control_tx.subscribe();
    let (device_tx, device_rx) = watch::channel(None);
    let (trace_tx, trace_rx) = watch::channel(Arc::default());
    let (done_tx, done_rx) = mpsc::channel(16);
    let mut view = FleetView::new(
        &cfg.profile.name,
        cfg.profile.phases.clone(),
        cfg.profile
            .targets
            .iter()
            .map(|t| t.devices.len() as u64)
            .collect(),
    );
    view.devices = cfg
        .profile
        .targets
        .iter()
        .map(|t| t.devices.clone())
        .collect();
    let taps = fleet::Taps {
        control: control_rx,
        watch_device: device_rx,
        trace: trace_tx,
    };
    let drain = cfg.profile.drain;
    let fleet_token = token.child_token();
    let tx = done_tx.clone();
    let options = RunOptions::default()
        .token(fleet_token)
        .snapshots(snap_tx)
        .taps(taps);
    let fleet = tokio::spawn(async move {
        let r = run_config(cfg, options).await;
        let _ = tx.send(Event::FleetFinished).await;
        r
    });
    let wiring = Wiring {
        stats: Some(snap_rx),
        control: Some(control_tx),
        watch_device: Some(device_tx),
        trace: Some(trace_rx),
        done: (done_tx, done_rx),
    };
    let shown = tui::run(App::new(clusters, Some(view)), wiring, token).await;
    let ended = fleet.is_finished();
    if !ended {
        eprintln!(
            "emroam: stopping the fleet: in-flight journeys get {:.0}s to finish, then the report",
            drain.as_secs_f64()
        );
    }
    let summary = fleet.await.context("the fleet task")??;
    let closed = shown?;
    Ok((summary, ended, closed))
}
