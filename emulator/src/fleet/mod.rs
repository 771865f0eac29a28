//! The fleet: many phones driven by a [`Profile`] through one [`run`].
//!
//! A scheduler ([`schedule`]) sends arrivals and closed-model phases to shards, each owning a
//! disjoint set of phones and users and running their journeys as tasks; one aggregator
//! merges the shards' [`stats::Recorder`]s into [`stats::Snapshot`]s and the run's total.

mod aggregate;
mod control;
pub mod directory;
mod error;
mod faults;
pub mod glossary;
mod journey;
mod placement;
pub mod profile;
pub mod reconcile;
pub mod report;
pub mod schedule;
mod shard;
pub mod start;
pub mod stats;
pub mod story;
pub mod watchdog;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::driver::{HttpClient, Transport};
use directory::Directory;
use profile::Profile;
use shard::{Shard, Shared};
use stats::{Recorder, Snapshot};

pub use aggregate::{FLUSH, INTERVAL, OutFiles};
pub use control::{Control, PhoneTrace, Taps};
pub use error::FleetError;
pub use faults::FaultResult;
pub use placement::{MAX_SHARDS, PHONES_PER_SHARD};

/// What a run produced.
#[derive(Debug)]
pub struct RunResult {
    /// The profile as run.
    pub profile: Profile,
    /// Everything recorded.
    pub total: Recorder,
    /// Wall time from the first phase's start to the end of the drain.
    pub elapsed: Duration,
    /// Whether it was cut short (Ctrl-C).
    pub cancelled: bool,
    /// What the fleet believes at the end: device → user logged in (`None`: nobody;
    /// absent: unknown because its journey was abandoned).
    pub beliefs: HashMap<String, Option<String>>,
    /// The faults fired, with what the admin interface answered.
    pub faults: Vec<FaultResult>,
    /// What the run found logged in at its start, and what it did about it.
    pub start: start::StartState,
    /// The target whose loss stopped the run before its end, if one did.
    pub lost: Option<watchdog::Lost>,
    /// The profile's story, step by step.
    pub story: Vec<story::StoryResult>,
}

/// How the fleet gets each phone's HTTP transport.
pub trait Connect {
    /// The transport a phone uses.
    type Transport: Transport + 'static;
    /// A transport for a phone of the profile's `cluster`-th target.
    fn connect(&self, cluster: usize, profile: &Profile) -> Self::Transport;
}

/// Each phone gets its own [`HttpClient`] with the profile's request timeout.
#[derive(Debug, Clone, Copy, Default)]
pub struct Http;

impl Connect for Http {
    type Transport = HttpClient;
    fn connect(&self, _cluster: usize, profile: &Profile) -> HttpClient {
        HttpClient::new(profile.request_timeout)
    }
}

/// Any `Fn(cluster index) -> transport`, e.g. a scripted one under tokio's paused clock.
impl<T: Transport + 'static, F: Fn(usize) -> T> Connect for F {
    type Transport = T;
    fn connect(&self, cluster: usize, _profile: &Profile) -> T {
        self(cluster)
    }
}

/// What a run is given besides its profile. [`RunOptions::default`] writes no files, is never
/// cancelled, publishes nothing, takes no control and speaks HTTP.
pub struct RunOptions<C = Http> {
    /// Where to write the interval log and the CSV time series (none: no files).
    pub out: Option<OutFiles>,
    /// Cancelling it stops the run: no new journeys, in-flight ones get [`Profile::drain`].
    pub token: CancellationToken,
    /// Receives a fresh [`Snapshot`] each [`INTERVAL`] (progress line, dashboard).
    pub snapshots: Option<watch::Sender<Arc<Snapshot>>>,
    /// Pause, arrival-rate factor, one phone traced.
    pub taps: Taps,
    /// Each phone's transport.
    pub transport: C,
}

impl Default for RunOptions<Http> {
    fn default() -> Self {
        Self {
            out: None,
            token: CancellationToken::new(),
            snapshots: None,
            taps: Taps::none(),
            transport: Http,
        }
    }
}

impl<C> std::fmt::Debug for RunOptions<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("out", &self.out)
            .field("token", &self.token)
            .field("snapshots", &self.snapshots.is_some())
            .field("taps", &self.taps)
            .finish_non_exhaustive()
    }
}

impl<C> RunOptions<C> {
    /// Writes the interval log and the CSV time series into `out`.
    #[must_use]
    pub fn out(mut self, out: OutFiles) -> Self {
        self.out = Some(out);
        self
    }

    /// Stops the run when `token` is cancelled.
    #[must_use]
    pub fn token(mut self, token: CancellationToken) -> Self {
        self.token = token;
        self
    }

    /// Publishes a [`Snapshot`] on `tx` each [`INTERVAL`].
    #[must_use]
    pub fn snapshots(mut self, tx: watch::Sender<Arc<Snapshot>>) -> Self {
        self.snapshots = Some(tx);
        self
    }

    /// Steered and watched through `taps`.
    #[must_use]
    pub fn taps(mut self, taps: Taps) -> Self {
        self.taps = taps;
        self
    }

    /// Phones get their transport from `transport`.
    pub fn transport<D: Connect>(self, transport: D) -> RunOptions<D> {
        RunOptions {
            out: self.out,
            token: self.token,
            snapshots: self.snapshots,
            taps: self.taps,
            transport,
        }
    }
}

/// Runs a profile to its end (or to cancellation) and returns what was recorded.
///
/// Phones boot first when the profile says so; then the phases run back to back from one
/// start instant, each journey's latency measured from its intended start. Cancelling
/// [`RunOptions::token`] stops new work and gives journeys in flight [`Profile::drain`].
///
/// # Errors
/// Output files cannot be written, the phones' SIP socket cannot be bound, or logins were
/// found at the start and the profile refuses to start then.
pub async fn run<C: Connect>(
    profile: Profile,
    options: RunOptions<C>,
) -> Result<RunResult, FleetError> {
    let RunOptions {
        out,
        token,
        snapshots,
        taps,
        transport,
    } = options;
    // The run's own token: the caller's cancels it, and so does a target that went away.
    let (user_token, token) = (token.clone(), token.child_token());
    let clusters: Vec<String> = profile.targets.iter().map(|t| t.cluster.clone()).collect();
    let snap =
        snapshots.unwrap_or_else(|| watch::channel(Arc::new(Snapshot::empty(clusters.len()))).0);
    let n_shards = placement::shard_count(&profile);
    let sockets = placement::bind_sockets(&profile, n_shards).await?;
    let dir = Arc::new(Directory::new(clusters.len()));
    // Who is logged in already (a previous run, a person): asked through the EM API where
    // configured, and logged out, adopted or refused as the profile says.
    let (start_state, initial) = start::prepare(&profile, profile.request_timeout)
        .await
        .map_err(|found| FleetError::FoundLoggedIn(Box::new(found)))?;
    let placed = placement::place(&profile, n_shards, &sockets, &initial, &dir, |c| {
        transport.connect(c, &profile)
    });
    let control = taps.control.clone();
    let trace = Arc::new(taps.trace);
    let story_log: story::StoryLog =
        Arc::new(std::sync::Mutex::new(vec![None; profile.story.len()]));
    let (spare_txs, spare_rxs): (Vec<_>, Vec<_>) =
        (0..n_shards).map(|_| mpsc::channel::<Recorder>(2)).unzip();
    let shards: Vec<Shard<C::Transport>> = placed
        .into_iter()
        .zip(spare_rxs)
        .enumerate()
        .map(|(i, (placed, spare))| {
            let shared = Shared {
                control: taps.control.clone(),
                watch_device: taps.watch_device.clone(),
                trace: trace.clone(),
                dir: dir.clone(),
                story: story_log.clone(),
            };
            Shard::new(i, &profile, placed, sockets.get(i).cloned(), spare, shared)
        })
        .collect();

    let tracker = TaskTracker::new();
    let (agg_tx, agg_rx) = mpsc::channel(64);
    let agg = tracker.spawn(aggregate::aggregate(
        agg_rx,
        aggregate::AggSetup {
            spares: spare_txs,
            clusters: clusters.clone(),
            start: Instant::now(),
            out,
            snap,
            dir: dir.clone(),
            watchdog: watchdog::Watchdog::new(&profile),
            stop: token.clone(),
        },
    ));
    let mut txs = Vec::new();
    let mut shard_handles = Vec::new();
    for s in shards {
        let (tx, rx) = mpsc::channel(1024);
        txs.push(tx);
        shard_handles.push(tracker.spawn(s.run(
            rx,
            agg_tx.clone(),
            token.child_token(),
            profile.drain,
        )));
    }
    // Phones boot (config file; REGISTER with SIP) before the first phase, as a phone does
    // when it powers on; the phases' clock starts after.
    if profile.boot {
        schedule::boot(&txs, &agg_tx, &token).await;
    }
    let start = Instant::now();
    let fault_token = token.child_token();
    let faults = tracker.spawn(faults::fire_all(
        profile.faults.clone(),
        start,
        profile.request_timeout,
        fault_token.clone(),
    ));
    let story_token = token.child_token();
    if let Some(first) = txs.first().filter(|_| !profile.story.is_empty()) {
        tracker.spawn(story::tell(
            profile.story.iter().map(|s| s.at).collect(),
            start,
            first.clone(),
            story_token.clone(),
        ));
    }
    schedule::phases(&profile, start, &txs, &agg_tx, &control, &token).await;
    // The story ends with the phases: its sender must go for the first shard to end.
    story_token.cancel();
    let cancelled = user_token.is_cancelled();
    drop(txs);
    drop(agg_tx);
    let mut beliefs = HashMap::new();
    for h in shard_handles {
        if let Ok(list) = h.await {
            for (device, user, unknown) in list {
                if !unknown {
                    beliefs.insert(device, user);
                }
            }
        }
    }
    fault_token.cancel();
    let faults = faults.await.unwrap_or_default();
    tracker.close();
    let (total, lost) = match agg.await {
        Ok(r) => r?,
        Err(_) => (Recorder::new(clusters.len()), None),
    };
    tracker.wait().await;
    let story = story::results(&profile, &story_log);
    Ok(RunResult {
        elapsed: start.elapsed(),
        profile,
        total,
        cancelled,
        beliefs,
        faults,
        start: start_state,
        lost,
        story,
    })
}
