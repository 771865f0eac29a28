//! The fleet: many phones driven by a [`Profile`], paced against absolute time, recorded into
//! HdrHistograms, reconciled with the cluster at the end.
//!
//! Shape: one scheduler (phases: open-model arrivals from [`schedule::Arrivals`], closed-model
//! phone counts) → shards (each owns a disjoint set of phones and users and runs their
//! journeys as tasks, recording into its own [`stats::Recorder`]) → one aggregator (merges
//! deltas each second, writes the interval log and CSV, publishes [`stats::Snapshot`]s).
//! Latency is measured from each journey's intended start. Cancellation: stop starting work,
//! give in-flight journeys [`Profile::drain`], abandon the rest, report.

pub mod profile;
pub mod reconcile;
pub mod report;
pub mod schedule;
pub mod stats;

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::driver::{HttpClient, Observer, Transport, run_task};
use crate::phone::{
    Cause, Credentials, LoginType, Model as PhoneModel, Phone, PhoneSpec, StepSample, Task,
    TaskKind, TaskOutcome,
};
use profile::{Model, Profile, Think, UserSpec};
use schedule::{Arrivals, Rng};
use stats::{Recorder, Snapshot};

/// How often the aggregator writes an interval (log line, CSV row, snapshot).
pub const INTERVAL: Duration = Duration::from_secs(1);

/// How often shards hand their recorders to the aggregator: a quarter interval, with the
/// aggregator's ticks half a flush after theirs, so each sample lands in its own interval.
pub const FLUSH: Duration = Duration::from_millis(250);

/// Phones per shard before another shard is added (at most [`MAX_SHARDS`]).
pub const PHONES_PER_SHARD: usize = 64;

/// Most shards a run uses.
pub const MAX_SHARDS: usize = 8;

/// Why a run could not happen (a failed threshold is not an error: see [`report`]).
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// Output files could not be written.
    #[error("writing {path}: {source}")]
    Output {
        /// Which file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

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
}

/// One fault as fired.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FaultResult {
    /// Seconds into the run.
    pub at_s: f64,
    /// Method and URL.
    pub request: String,
    /// Status, or the failure.
    pub result: String,
}

enum ShardCmd {
    Arrival {
        task: TaskKind,
        intended: Instant,
    },
    Closed {
        phones: usize,
        think: Think,
        until: Instant,
    },
}

enum AggMsg {
    Delta {
        shard: usize,
        rec: Recorder,
        in_flight: u64,
        /// Phones believed logged in, per cluster.
        logged_in: Vec<u64>,
    },
    Phase(String),
}

struct Slot<T> {
    phone: Option<Phone>,
    client: Option<T>,
    cluster: usize,
    /// Index into the shard's users of who the fleet believes is logged in here.
    user: Option<usize>,
    /// Someone outside the fleet's users (or unknown) is logged in here: found at the start
    /// or told by a login attempt; the phone logs them out when its turn comes.
    foreign: bool,
    /// Whether its state is unknown (journey abandoned).
    unknown: bool,
    closed_until: Option<(Instant, Think)>,
}

struct UserSlot {
    spec: UserSpec,
    cluster: usize,
    busy: bool,
}

struct JourneyEnd<T> {
    slot: usize,
    phone: Phone,
    client: T,
    outcome: TaskOutcome,
    samples: Vec<StepSample>,
    user: Option<usize>,
    lag: Duration,
}

/// Collects a journey's step samples (at most a handful) for the shard to record.
#[derive(Default)]
struct Collect(Vec<StepSample>);
impl Observer for Collect {
    fn sample(&mut self, s: &StepSample) {
        self.0.push(*s);
    }
}

struct Shard<T> {
    idx: usize,
    slots: Vec<Slot<T>>,
    users: Vec<UserSlot>,
    rec: Recorder,
    rng: Rng,
    mix: Vec<(LoginType, u32)>,
    /// Share of logins by superusers homed on another cluster.
    roaming: f64,
    /// Next phone to take an arrival, per kind (login, logout).
    cursor: [usize; 2],
    user_cursor: usize,
    running: JoinSet<JourneyEnd<T>>,
    /// slot → (cluster, task) of each journey in flight, to count abandoned ones.
    in_flight: HashMap<usize, (usize, TaskKind)>,
    /// Emptied recorders coming back from the aggregator, so flushing allocates nothing.
    spare: mpsc::Receiver<Recorder>,
    /// Task id → slot of each journey in flight, to find the slot of a journey that panicked.
    tasks: HashMap<tokio::task::Id, usize>,
    /// Closed-model phones waiting to try again (no free user), earliest first.
    retry: std::collections::BinaryHeap<std::cmp::Reverse<(Instant, usize)>>,
}

/// A closed-model phone that found no free user waits at least this long to try again.
pub const RETRY_MIN: Duration = Duration::from_millis(100);

impl<T: Transport + 'static> Shard<T> {
    fn pick_login_type(&mut self) -> LoginType {
        let total: u32 = self.mix.iter().map(|(_, w)| w).sum();
        let mut x = (self.rng.unit() * f64::from(total)) as u32;
        for (lt, w) in &self.mix {
            if x < *w {
                return *lt;
            }
            x -= w;
        }
        LoginType::Uid
    }

    /// A free user for a login on `cluster`'s phone: homed there, or (roaming) a superuser
    /// homed elsewhere.
    fn free_user(&mut self, cluster: usize, roaming: bool) -> Option<usize> {
        let n = self.users.len();
        for k in 0..n {
            let i = (self.user_cursor + k) % n;
            let u = &self.users[i];
            let fits = if roaming {
                u.cluster != cluster && u.spec.superuser
            } else {
                u.cluster == cluster
            };
            if !u.busy && fits {
                self.user_cursor = i + 1;
                return Some(i);
            }
        }
        None
    }

    fn credentials(&mut self, user: usize) -> Credentials {
        let lt = self.pick_login_type();
        let u = &self.users[user].spec;
        let (login_type, id) = match lt {
            LoginType::Dn => {
                u.dn.clone()
                    .map_or((LoginType::Uid, u.id.clone()), |d| (LoginType::Dn, d))
            }
            LoginType::Sp => u
                .self_service_id
                .clone()
                .map_or((LoginType::Uid, u.id.clone()), |d| (LoginType::Sp, d)),
            LoginType::Uid => (LoginType::Uid, u.id.clone()),
        };
        Credentials {
            login_type,
            id,
            pin: u.pin.clone(),
            profile: None,
        }
    }

    /// Starts `task` on slot `i` at `intended`; false if it cannot (no free user).
    fn start(&mut self, i: usize, task: TaskKind, intended: Instant) -> bool {
        let cluster = self.slots[i].cluster;
        let (task, user) = match task {
            TaskKind::Login => {
                let roam = self.roaming > 0.0 && self.rng.unit() < self.roaming;
                let u = roam
                    .then(|| self.free_user(cluster, true))
                    .flatten()
                    .or_else(|| self.free_user(cluster, false));
                let Some(u) = u else {
                    return false;
                };
                self.users[u].busy = true;
                (Task::Login(self.credentials(u)), Some(u))
            }
            TaskKind::Logout => (Task::Logout, self.slots[i].user),
            _ => (Task::Status, None),
        };
        let (Some(phone), Some(mut client)) =
            (self.slots[i].phone.take(), self.slots[i].client.take())
        else {
            return false;
        };
        self.in_flight.insert(i, (cluster, task.kind()));
        let handle = self.running.spawn(async move {
            tokio::time::sleep_until(intended).await;
            let lag = Instant::now().saturating_duration_since(intended);
            let mut obs = Collect::default();
            let (phone, outcome) = run_task(phone, task, intended, &mut client, &mut obs).await;
            client.idle();
            JourneyEnd {
                slot: i,
                phone,
                client,
                outcome,
                samples: obs.0,
                user,
                lag,
            }
        });
        self.tasks.insert(handle.id(), i);
        true
    }

    fn logged_in(&self, i: usize) -> bool {
        self.slots[i].user.is_some() || self.slots[i].foreign
    }

    fn idle(&self, i: usize) -> bool {
        let s = &self.slots[i];
        s.phone.is_some() && s.closed_until.is_none() && !s.unknown
    }

    /// An open-model arrival: its cluster comes from cycling over the (cluster-interleaved)
    /// phones, so each cluster's arrival rate is its share of the phones whatever happens to
    /// its journeys; then the first phone of that cluster in the right state takes it (any
    /// cluster's, if that one has none).
    fn arrival(&mut self, task: TaskKind, intended: Instant) {
        let n = self.slots.len();
        if n == 0 {
            return;
        }
        let k = usize::from(task == TaskKind::Logout);
        let from = self.cursor[k] % n;
        self.cursor[k] = from + 1;
        let want = self.slots[from].cluster;
        for same_cluster in [true, false] {
            for step in 0..n {
                let i = (from + step) % n;
                if same_cluster && self.slots[i].cluster != want {
                    continue;
                }
                let fits = self.idle(i)
                    && match task {
                        TaskKind::Login => !self.logged_in(i),
                        _ => self.logged_in(i),
                    };
                if fits && self.start(i, task, intended) {
                    return;
                }
            }
        }
        self.rec.dropped(want);
    }

    fn closed(&mut self, phones: usize, think: Think, until: Instant) {
        let now = Instant::now();
        let mut started = 0;
        for i in 0..self.slots.len() {
            if started == phones {
                break;
            }
            if self.slots[i].closed_until.is_some() || self.slots[i].unknown {
                continue;
            }
            self.slots[i].closed_until = Some((until, think));
            started += 1;
            if self.slots[i].phone.is_some() {
                self.next_closed(i, now);
            }
        }
    }

    /// A closed-model phone's next journey after `think`, or its release at the phase end.
    fn next_closed(&mut self, i: usize, from: Instant) {
        let Some((until, think)) = self.slots[i].closed_until else {
            return;
        };
        let intended = from + think.sample(self.rng.unit());
        if intended >= until {
            self.slots[i].closed_until = None;
            return;
        }
        let task = if self.logged_in(i) {
            TaskKind::Logout
        } else {
            TaskKind::Login
        };
        if !self.start(i, task, intended) {
            // No free user now: counted, and the phone tries again a think time later.
            self.rec.dropped(self.slots[i].cluster);
            let at = intended.max(Instant::now() + RETRY_MIN);
            self.retry.push(std::cmp::Reverse((at, i)));
        }
    }

    fn retry_due(&mut self, now: Instant) {
        while let Some(std::cmp::Reverse((at, i))) = self.retry.peek().copied() {
            if at > now {
                break;
            }
            self.retry.pop();
            if self.slots[i].phone.is_some() {
                self.next_closed(i, at);
            }
        }
    }

    fn finish(&mut self, end: JourneyEnd<T>, restart: bool) {
        let i = end.slot;
        let (cluster, _) = self.in_flight.remove(&i).unwrap_or((0, end.outcome.task));
        self.rec.started(cluster, end.outcome.task, end.lag);
        for s in &end.samples {
            self.rec.sample(cluster, s);
        }
        self.rec.outcome(cluster, &end.outcome);
        if end.outcome.task == TaskKind::Login
            && end.user.is_some_and(|u| self.users[u].cluster != cluster)
        {
            self.rec.roamed(cluster, end.outcome.result.is_ok());
        }
        if let Err(f) = &end.outcome.result {
            tracing::debug!(device = %end.phone.spec().device, task = ?end.outcome.task, step = %f.step, cause = %f.cause.key(), shown = %f.shown, "journey failed");
        }
        let slot = &mut self.slots[i];
        match (&end.outcome.task, &end.outcome.result) {
            (TaskKind::Login, Ok(_)) => slot.user = end.user,
            (TaskKind::Login, Err(f)) => {
                // Someone is on this phone after all: it logs them out next time.
                slot.foreign |= f.cause == Cause::AlreadyLoggedIn;
                if let Some(u) = end.user {
                    self.users[u].busy = false;
                }
            }
            (TaskKind::Logout, Ok(_)) => {
                slot.foreign = false;
                if let Some(u) = slot.user.take() {
                    self.users[u].busy = false;
                }
            }
            (TaskKind::Logout, Err(f)) if f.cause == Cause::NotLoggedIn => {
                slot.foreign = false;
                if let Some(u) = slot.user.take() {
                    self.users[u].busy = false;
                }
            }
            _ => {}
        }
        let slot = &mut self.slots[i];
        slot.phone = Some(end.phone);
        slot.client = Some(end.client);
        if restart {
            self.next_closed(i, Instant::now());
        } else {
            self.slots[i].closed_until = None;
        }
    }

    async fn run(
        mut self,
        mut rx: mpsc::Receiver<ShardCmd>,
        agg: mpsc::Sender<AggMsg>,
        token: CancellationToken,
        drain: Duration,
    ) -> Vec<(String, Option<String>, bool)> {
        let mut flush = tokio::time::interval(FLUSH);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(ShardCmd::Arrival { task, intended }) => self.arrival(task, intended),
                    Some(ShardCmd::Closed { phones, think, until }) => self.closed(phones, think, until),
                    None => break,
                },
                Some(r) = self.running.join_next_with_id(), if !self.running.is_empty() => {
                    self.joined(r, !token.is_cancelled());
                }
                _ = flush.tick() => self.flush(&agg).await,
                () = tokio::time::sleep_until(self.retry.peek().map_or_else(Instant::now, |r| r.0.0)),
                    if !self.retry.is_empty() => self.retry_due(Instant::now()),
                () = token.cancelled() => break,
            }
        }
        self.retry.clear();
        // Stop starting work; let what is in flight finish, within the deadline.
        for s in &mut self.slots {
            if s.phone.is_some() {
                s.closed_until = None;
            }
        }
        let deadline = tokio::time::sleep(drain);
        tokio::pin!(deadline);
        // Closed-model journeys still thinking have not begun: they are not worth waiting for.
        while !self.running.is_empty() {
            tokio::select! {
                Some(r) = self.running.join_next_with_id() => self.joined(r, false),
                () = &mut deadline => {
                    self.running.abort_all();
                    while self.running.join_next().await.is_some() {}
                    self.tasks.clear();
                    for (slot, (cluster, task)) in std::mem::take(&mut self.in_flight) {
                        self.slots[slot].unknown = true;
                        self.rec.started(cluster, task, Duration::ZERO);
                        self.rec.outcome(cluster, &TaskOutcome {
                            task,
                            result: Err(crate::phone::Failure {
                                cause: Cause::Abandoned,
                                step: crate::phone::Step::Journey,
                                shown: "Abandoned".into(),
                            }),
                        });
                    }
                    break;
                }
                _ = flush.tick() => self.flush(&agg).await,
            }
        }
        self.flush(&agg).await;
        self.slots
            .iter()
            .filter_map(|s| {
                let phone = s.phone.as_ref()?;
                let user = match (s.user, s.foreign) {
                    (Some(u), _) => Some(self.users[u].spec.id.clone()),
                    (None, true) => Some(reconcile::SOMEONE.to_owned()),
                    (None, false) => None,
                };
                Some((phone.spec().device.clone(), user, s.unknown))
            })
            .collect()
    }

    /// A journey task ended: normally, or by a panic (a bug), which costs that phone only.
    fn joined(
        &mut self,
        r: Result<(tokio::task::Id, JourneyEnd<T>), tokio::task::JoinError>,
        restart: bool,
    ) {
        match r {
            Ok((id, end)) => {
                self.tasks.remove(&id);
                self.finish(end, restart);
            }
            Err(e) => {
                let Some(i) = self.tasks.remove(&e.id()) else {
                    return;
                };
                let (cluster, task) = self.in_flight.remove(&i).unwrap_or((0, TaskKind::Status));
                tracing::error!(slot = i, error = %e, "a journey task failed; its phone is retired");
                self.slots[i].unknown = true;
                self.slots[i].closed_until = None;
                self.rec.started(cluster, task, Duration::ZERO);
                self.rec.outcome(
                    cluster,
                    &TaskOutcome {
                        task,
                        result: Err(crate::phone::Failure {
                            cause: Cause::Internal,
                            step: crate::phone::Step::Journey,
                            shown: "Internal error".into(),
                        }),
                    },
                );
            }
        }
    }

    async fn flush(&mut self, agg: &mpsc::Sender<AggMsg>) {
        let rec = match self.spare.try_recv() {
            Ok(spare) => std::mem::replace(&mut self.rec, spare),
            Err(_) => self.rec.take(),
        };
        let mut logged_in = vec![0u64; self.rec.clusters().len()];
        for (i, s) in self.slots.iter().enumerate() {
            if self.logged_in(i)
                && let Some(n) = logged_in.get_mut(s.cluster)
            {
                *n += 1;
            }
        }
        let _ = agg
            .send(AggMsg::Delta {
                shard: self.idx,
                rec,
                in_flight: self.running.len() as u64,
                logged_in,
            })
            .await;
    }
}

/// Where a run writes its files.
#[derive(Debug, Clone)]
pub struct OutFiles {
    /// Directory.
    pub dir: PathBuf,
}

impl OutFiles {
    /// `summary.json`.
    pub fn summary(&self) -> PathBuf {
        self.dir.join("summary.json")
    }
    /// `latency.hlog`.
    pub fn hlog(&self) -> PathBuf {
        self.dir.join("latency.hlog")
    }
    /// `timeseries.csv`.
    pub fn csv(&self) -> PathBuf {
        self.dir.join("timeseries.csv")
    }
}

fn create(path: &Path) -> Result<Box<dyn std::io::Write + Send>, FleetError> {
    let f = std::fs::File::create(path).map_err(|source| FleetError::Output {
        path: path.to_owned(),
        source,
    })?;
    Ok(Box::new(std::io::BufWriter::new(f)))
}

async fn aggregate(
    mut rx: mpsc::Receiver<AggMsg>,
    spares: Vec<mpsc::Sender<Recorder>>,
    clusters: Vec<String>,
    start: Instant,
    out: Option<OutFiles>,
    snap: watch::Sender<Arc<Snapshot>>,
) -> Result<Recorder, FleetError> {
    let n = clusters.len();
    let (mut hlog_file, mut csv_file) = match &out {
        Some(o) => {
            std::fs::create_dir_all(&o.dir).map_err(|source| FleetError::Output {
                path: o.dir.clone(),
                source,
            })?;
            (Some(create(&o.hlog())?), Some(create(&o.csv())?))
        }
        None => (None, None),
    };
    let mut ser = hdrhistogram::serialization::V2DeflateSerializer::new();
    let now_sys = std::time::SystemTime::now();
    let io_err = |path: PathBuf| move |source: std::io::Error| FleetError::Output { path, source };
    let hlog_path = out.as_ref().map(OutFiles::hlog).unwrap_or_default();
    let hlog = match hlog_file.as_mut() {
        Some(f) => Some(
            hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder::new()
                .add_comment("emroam fleet: latency in microseconds (max column in ms) from each journey's intended start; tag = <step>.<cluster>")
                .with_max_value_divisor(1000.0)
                .with_start_time(now_sys)
                .with_base_time(now_sys)
                .begin_log_with(f, &mut ser)
                .map_err(io_err(hlog_path.clone()))?,
        ),
        None => None,
    };
    if let Some(c) = csv_file.as_mut() {
        c.write_all(stats::CSV_HEADER.as_bytes())
            .map_err(io_err(out.as_ref().map(OutFiles::csv).unwrap_or_default()))?;
    }
    let mut sinks = stats::Sinks {
        hlog,
        csv: csv_file,
        clusters,
    };
    let mut total = Recorder::new(n);
    let mut interval = Recorder::new(n);
    let mut in_flight: HashMap<usize, u64> = HashMap::new();
    let mut logged_in: HashMap<usize, Vec<u64>> = HashMap::new();
    let mut phase = String::new();
    let mut last = Duration::ZERO;
    let mut tick = tokio::time::interval_at(start + INTERVAL + FLUSH / 2, INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut write_interval = |interval: &mut Recorder,
                              total: &Recorder,
                              in_flight: u64,
                              logged_in: Vec<u64>,
                              phase: &str,
                              last: &mut Duration| {
        let elapsed = start.elapsed();
        let delta = interval.take();
        let r = sinks.interval(*last, elapsed.saturating_sub(*last), &delta, in_flight);
        *last = elapsed;
        snap.send_replace(Arc::new(Snapshot {
            elapsed,
            total: total.clone(),
            in_flight,
            phase: phase.to_owned(),
            logged_in,
        }));
        r
    };
    let per_cluster = |m: &HashMap<usize, Vec<u64>>| {
        let mut v = vec![0u64; n];
        for li in m.values() {
            for (a, b) in v.iter_mut().zip(li) {
                *a += b;
            }
        }
        v
    };
    loop {
        tokio::select! {
            m = rx.recv() => match m {
                Some(AggMsg::Delta { shard, rec, in_flight: f, logged_in: li }) => {
                    logged_in.insert(shard, li);
                    total.merge(&rec);
                    interval.merge(&rec);
                    let mut rec = rec;
                    rec.reset();
                    if let Some(back) = spares.get(shard) {
                        let _ = back.try_send(rec);
                    }
                    in_flight.insert(shard, f);
                }
                Some(AggMsg::Phase(p)) => phase = p,
                None => break,
            },
            _ = tick.tick() => {
                let f = in_flight.values().sum();
                write_interval(&mut interval, &total, f, per_cluster(&logged_in), &phase, &mut last)
                    .map_err(io_err(hlog_path.clone()))?;
            }
        }
    }
    write_interval(
        &mut interval,
        &total,
        0,
        per_cluster(&logged_in),
        &phase,
        &mut last,
    )
    .map_err(io_err(hlog_path))?;
    if let Some(c) = sinks.csv.as_mut() {
        let _ = c.flush();
    }
    if let Some(f) = hlog_file.as_mut() {
        let _ = f.flush();
    }
    Ok(total)
}

/// Fires a fault request; returns what came back.
async fn fire(f: &profile::Fault, timeout: Duration) -> String {
    let method = match f.method.as_str() {
        "GET" => crate::phone::Method::Get,
        _ => crate::phone::Method::Post,
    };
    let req = crate::phone::HttpRequest {
        method,
        url: f.url.clone(),
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: (method == crate::phone::Method::Post).then(|| f.body.clone()),
        secrets: vec![],
    };
    match HttpClient::new(timeout).send(&req).await {
        Ok(r) => format!("HTTP {}", r.status),
        Err(e) => format!("{e} ({e:?})"),
    }
}

/// Runs a profile to its end (or to cancellation) and returns what was recorded.
///
/// `snap` receives a fresh [`Snapshot`] each [`INTERVAL`] (progress line, TUI).
///
/// # Errors
/// Only when output files cannot be written.
pub async fn run(
    profile: Profile,
    out: Option<OutFiles>,
    token: CancellationToken,
    snap: watch::Sender<Arc<Snapshot>>,
) -> Result<RunResult, FleetError> {
    let timeout = profile.request_timeout;
    run_with(profile, out, token, snap, move |_| HttpClient::new(timeout)).await
}

/// [`run`] with another transport per phone (`transport(cluster index)`), e.g. a scripted
/// one under tokio's paused clock.
///
/// # Errors
/// Only when output files cannot be written.
pub async fn run_with<T: Transport + 'static>(
    profile: Profile,
    out: Option<OutFiles>,
    token: CancellationToken,
    snap: watch::Sender<Arc<Snapshot>>,
    transport: impl Fn(usize) -> T,
) -> Result<RunResult, FleetError> {
    let clusters: Vec<String> = profile.targets.iter().map(|t| t.cluster.clone()).collect();
    let n_phones: usize = profile.targets.iter().map(|t| t.devices.len()).sum();
    let n_shards = n_phones.div_ceil(PHONES_PER_SHARD).clamp(1, MAX_SHARDS);
    let (spare_txs, mut spare_rxs): (Vec<_>, Vec<_>) =
        (0..n_shards).map(|_| mpsc::channel::<Recorder>(2)).unzip();
    let mut shards: Vec<Shard<T>> = (0..n_shards)
        .map(|i| Shard {
            spare: spare_rxs.remove(0),
            idx: i,
            slots: Vec::new(),
            users: Vec::new(),
            rec: Recorder::new(clusters.len()),
            rng: Rng::new(profile.seed.wrapping_add(i as u64 * 7919)),
            mix: profile.mix.clone(),
            roaming: profile.roaming,
            cursor: [0; 2],
            user_cursor: 0,
            running: JoinSet::new(),
            in_flight: HashMap::new(),
            tasks: HashMap::new(),
            retry: std::collections::BinaryHeap::new(),
        })
        .collect();
    // Who is logged in already (a previous run, a person): asked through the EM API where
    // configured, so phones start with the right belief.
    let initial = reconcile::query(&profile, profile.request_timeout).await;
    for (ci, t) in profile.targets.iter().enumerate() {
        let mut placed = std::collections::HashSet::new();
        for (j, d) in t.devices.iter().enumerate() {
            let spec = PhoneSpec {
                device: d.clone(),
                model: PhoneModel::default(),
                config_url: t.config_url.as_ref().map(|u| u.replace("#DEVICENAME#", d)),
                service_url: Some(t.service_url.clone()),
            };
            let shard = &mut shards[j % n_shards];
            let on = initial.get(d).cloned().flatten();
            let mine = on.as_ref().and_then(|id| {
                let k = t.users.iter().position(|u| &u.id == id)?;
                placed.insert(k).then_some(k)
            });
            let user = mine.map(|k| {
                shard.users.push(UserSlot {
                    spec: t.users[k].clone(),
                    cluster: ci,
                    busy: true,
                });
                shard.users.len() - 1
            });
            let mut phone = Phone::new(spec);
            phone.set_logged_in_user(on.clone());
            shard.slots.push(Slot {
                phone: Some(phone),
                client: Some(transport(ci)),
                cluster: ci,
                user,
                foreign: on.is_some() && user.is_none(),
                unknown: false,
                closed_until: None,
            });
        }
        for (j, u) in t.users.iter().enumerate() {
            if placed.contains(&j) {
                continue;
            }
            shards[j % n_shards].users.push(UserSlot {
                spec: u.clone(),
                cluster: ci,
                busy: false,
            });
        }
    }

    // Interleave clusters (c1 d1, c2 d1, c3 d1, c1 d2, …) so that a closed phase of N phones
    // and open arrivals spread over every cluster.
    for shard in &mut shards {
        let mut rank = vec![0usize; clusters.len()];
        let mut keyed: Vec<(usize, usize, Slot<T>)> = shard
            .slots
            .drain(..)
            .map(|s| {
                let r = rank[s.cluster];
                rank[s.cluster] += 1;
                (r, s.cluster, s)
            })
            .collect();
        keyed.sort_by_key(|(r, c, _)| (*r, *c));
        shard.slots = keyed.into_iter().map(|(_, _, s)| s).collect();
    }

    let tracker = TaskTracker::new();
    let (agg_tx, agg_rx) = mpsc::channel(64);
    let start = Instant::now();
    let agg = tracker.spawn(aggregate(
        agg_rx,
        spare_txs,
        clusters.clone(),
        start,
        out,
        snap,
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
    let fault_token = token.child_token();
    let faults = {
        let fs = profile.faults.clone();
        let t = fault_token.clone();
        let timeout = profile.request_timeout;
        tracker.spawn(async move {
            let mut done = Vec::new();
            for f in fs {
                tokio::select! {
                    () = tokio::time::sleep_until(start + f.at) => {}
                    () = t.cancelled() => break,
                }
                let result = fire(&f, timeout).await;
                tracing::info!(url = %f.url, %result, "fault fired");
                done.push(FaultResult {
                    at_s: start.elapsed().as_secs_f64(),
                    request: format!("{} {}", f.method, f.url),
                    result,
                });
            }
            done
        })
    };

    // The scheduler: phases back to back, every arrival at start + offset.
    let mut phase_start = start;
    // One round-robin per kind: a shared counter would alias (3 logins then 1 logout over 8
    // shards sends every logout to the 2 shards that never get a login).
    let mut rr = [0usize; 2];
    'phases: for phase in &profile.phases {
        let _ = agg_tx.send(AggMsg::Phase(phase.name.clone())).await;
        let phase_end = phase_start + phase.duration;
        match &phase.model {
            Model::Open { login, logout } => {
                let mut logins = Arrivals::new(*login, phase.duration).peekable();
                let mut logouts = Arrivals::new(*logout, phase.duration).peekable();
                loop {
                    let (offset, task) = match (logins.peek(), logouts.peek()) {
                        (Some(a), Some(b)) if b < a => (logouts.next(), TaskKind::Logout),
                        (Some(_), _) => (logins.next(), TaskKind::Login),
                        (None, Some(_)) => (logouts.next(), TaskKind::Logout),
                        (None, None) => break,
                    };
                    let Some(offset) = offset else { break };
                    let intended = phase_start + offset;
                    tokio::select! {
                        () = tokio::time::sleep_until(intended) => {}
                        () = token.cancelled() => break 'phases,
                    }
                    let k = usize::from(task == TaskKind::Logout);
                    let tx = &txs[rr[k] % txs.len()];
                    rr[k] += 1;
                    let _ = tx.send(ShardCmd::Arrival { task, intended }).await;
                }
            }
            Model::Closed { phones, think } => {
                let per = phones / txs.len();
                let extra = phones % txs.len();
                for (i, tx) in txs.iter().enumerate() {
                    let n = per + usize::from(i < extra);
                    if n > 0 {
                        let _ = tx
                            .send(ShardCmd::Closed {
                                phones: n,
                                think: *think,
                                until: phase_end,
                            })
                            .await;
                    }
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep_until(phase_end) => {}
            () = token.cancelled() => break 'phases,
        }
        phase_start = phase_end;
    }
    let cancelled = token.is_cancelled();
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
    let total = match agg.await {
        Ok(r) => r?,
        Err(_) => Recorder::new(clusters.len()),
    };
    tracker.wait().await;
    Ok(RunResult {
        elapsed: start.elapsed(),
        profile,
        total,
        cancelled,
        beliefs,
        faults,
    })
}
