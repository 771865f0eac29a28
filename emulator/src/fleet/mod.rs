//! The fleet: many phones driven by a [`Profile`], paced against absolute time, recorded into
//! HdrHistograms, reconciled with the cluster at the end.
//!
//! Shape: one scheduler (phases: open-model arrivals from [`schedule::Arrivals`], closed-model
//! phone counts) → shards (each owns a disjoint set of phones and users and runs their
//! journeys as tasks, recording into its own [`stats::Recorder`]) → one aggregator (merges
//! deltas each second, writes the interval log and CSV, publishes [`stats::Snapshot`]s).
//! Latency is measured from each journey's intended start. Cancellation: stop starting work,
//! give in-flight journeys [`Profile::drain`], abandon the rest, report.

pub mod directory;
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

use crate::driver::{HttpClient, Observer, Transport, drive, run_task, serve_idle};
use crate::phone::sipua::addressee;
use crate::phone::{
    Cause, Credentials, LoginType, Model as PhoneModel, Phone, PhoneAction, PhoneEvent, PhoneSpec,
    Step, StepSample, Task, TaskKind, TaskOutcome,
};
use directory::Directory;
use profile::{Model, Profile, SipSpec, Think, UserSpec};
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

/// The fleet's control channel: what the dashboard (or a script holding the sender) asks of a
/// running fleet. Read with `watch::Receiver::borrow` where work starts, never awaited on, so
/// controlling the fleet cannot slow it down.
///
/// - `paused`: no journey starts: open-model arrivals are skipped (not counted as dropped),
///   closed-model phones wait (checking every [`RETRY_MIN`]) and go on when resumed. Journeys
///   in flight finish.
/// - `rate_factor`: open-model arrival rates times this (1.0: the profile's). Above 1, each
///   arrival of the profile's schedule starts `floor(f)` journeys plus one more with
///   probability `frac(f)`; below 1, each starts with probability `f` (thinning): the mean
///   rate is exact, the extra arrivals share the scheduled instants. Closed-model phases are
///   not affected.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Control {
    /// Start no new work.
    pub paused: bool,
    /// Multiplier of the profile's open-model arrival rates.
    pub rate_factor: f64,
}

impl Default for Control {
    fn default() -> Self {
        Self {
            paused: false,
            rate_factor: 1.0,
        }
    }
}

impl Control {
    /// How many journeys one scheduled arrival starts, given a uniform `u` in [0, 1).
    pub fn copies(&self, u: f64) -> usize {
        if self.paused || self.rate_factor.is_nan() || self.rate_factor <= 0.0 {
            return 0;
        }
        let f = self.rate_factor.min(1000.0);
        let whole = f.floor();
        whole as usize + usize::from(u < f - whole)
    }
}

/// The last journey's messages of one phone the dashboard watches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhoneTrace {
    /// The device.
    pub device: String,
    /// Requests, responses and the outcome, oldest first (PINs redacted).
    pub lines: Vec<String>,
}

/// How a run is steered and watched from outside (the dashboard; a script can hold the same
/// senders): the [`Control`], which one phone's messages to keep, and where they go.
#[derive(Debug)]
pub struct Taps {
    /// Pause and arrival-rate factor.
    pub control: watch::Receiver<Control>,
    /// The device whose journeys are traced (none: no phone is).
    pub watch_device: watch::Receiver<Option<String>>,
    /// The traced phone's last journey, published when it ends.
    pub trace: watch::Sender<Arc<PhoneTrace>>,
}

impl Taps {
    /// Taps nobody steers or reads.
    pub fn none() -> Self {
        Self {
            control: watch::channel(Control::default()).1,
            watch_device: watch::channel(None).1,
            trace: watch::channel(Arc::default()).0,
        }
    }
}

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
    /// A shard's SIP socket could not be bound.
    #[error("binding the phones' SIP socket at {addr}: {source}")]
    SipBind {
        /// The `[sip] bind` address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Phones booting at once per shard before the first phase.
pub const BOOT_PARALLEL: usize = 32;

/// Datagrams queued for one phone in a journey before more are dropped (UDP: the sender's
/// retransmissions cover a drop).
pub const INBOX: usize = 32;

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
    /// Boot every phone (config file, REGISTER); answer when all are done.
    Boot(tokio::sync::oneshot::Sender<()>),
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
        /// Phones by state, per cluster.
        states: Vec<stats::PhoneStates>,
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
    /// The messages, when this phone is the one traced.
    lines: Option<Vec<String>>,
    /// For a call: whom it was meant for.
    call: Option<CallPlan>,
    /// Tasks the phone ran on its own while waiting to start (answered calls, refreshes).
    side: Vec<TaskOutcome>,
    /// Datagrams the phone sent again during the journey.
    retransmissions: u64,
}

/// A call the fleet placed: the callee it chose and where it believed them to be.
#[derive(Debug, Clone)]
struct CallPlan {
    dn: String,
    mac: String,
    route: stats::Route,
}

/// What a journey does: a task from the start, or the rest of one the phone began itself
/// (an incoming call, a restart the cluster asked for).
enum Work {
    Start(Task),
    Continue(Vec<PhoneAction>),
}

impl Work {
    async fn run<T: Transport>(
        self,
        kind: TaskKind,
        phone: Phone,
        intended: Instant,
        client: &mut T,
        obs: &mut Collect,
    ) -> (Phone, TaskOutcome) {
        match self {
            Work::Start(task) => run_task(phone, task, intended, client, obs).await,
            Work::Continue(actions) => {
                let (p, o) = drive(phone, actions, client, obs).await;
                // A phone that went idle without ending its task would be a bug: say so.
                let o = o.unwrap_or(TaskOutcome {
                    task: kind,
                    result: Err(crate::phone::Failure {
                        cause: Cause::Internal,
                        step: Step::Journey,
                        shown: "Internal error".into(),
                    }),
                });
                (p, o)
            }
        }
    }
}

/// A fleet phone's transport in a journey: its HTTP client, the shard's shared SIP socket,
/// and the journey's inbox (the datagrams the shard routed to this phone).
struct SipLink<T> {
    inner: T,
    socket: Arc<tokio::net::UdpSocket>,
    inbox: mpsc::Receiver<Vec<u8>>,
}

impl<T: Transport> Transport for SipLink<T> {
    fn send(
        &mut self,
        req: &crate::phone::HttpRequest,
    ) -> impl std::future::Future<
        Output = Result<crate::phone::HttpResponse, crate::phone::HttpFailure>,
    > + Send {
        self.inner.send(req)
    }

    fn idle(&mut self) {
        self.inner.idle();
    }

    async fn send_sip(&mut self, to: &str, datagram: &[u8]) {
        if let Err(e) = self.socket.send_to(datagram, to).await {
            tracing::debug!(%to, error = %e, "SIP send failed");
        }
    }

    async fn recv_sip(&mut self) -> Option<Vec<u8>> {
        self.inbox.recv().await
    }
}

/// A shard's SIP side: one socket for all its phones, and where each datagram goes.
struct ShardSip {
    socket: Arc<tokio::net::UdpSocket>,
    /// Lower-case MAC → slot.
    by_mac: HashMap<String, usize>,
    /// Slot → the inbox of its journey in flight.
    inboxes: HashMap<usize, mpsc::Sender<Vec<u8>>>,
    spec: SipSpec,
}

/// Collects a journey's step samples (at most a handful) for the shard to record, and its
/// messages when the phone is the one traced.
#[derive(Default)]
struct Collect {
    samples: Vec<StepSample>,
    /// The messages, when this phone is the one traced.
    lines: Option<Vec<String>>,
    /// Tasks the phone ran on its own while waiting (answered calls, refreshes, restarts).
    side: Vec<TaskOutcome>,
    /// When the last of those ended.
    side_end: Option<Instant>,
}

impl Collect {
    /// A failed EM journey's time, from its intended start (a failure's latency is what the
    /// user waited for the error).
    fn failed(&mut self, o: &TaskOutcome, intended: Instant) {
        if matches!(o.task, TaskKind::Login | TaskKind::Logout)
            && o.result
                .as_ref()
                .is_err_and(|f| f.cause != Cause::Abandoned && !f.cause.is_busy())
        {
            self.samples.push(StepSample {
                step: Step::FailedJourney,
                start: intended.into_std(),
                end: Instant::now().into_std(),
            });
        }
    }
}

impl Observer for Collect {
    fn sample(&mut self, s: &StepSample) {
        self.samples.push(*s);
    }
    fn side_outcome(&mut self, o: &TaskOutcome) {
        self.side.push(o.clone());
        self.side_end = Some(Instant::now());
    }
    fn sip(&mut self, out: bool, d: &[u8]) {
        if let Some(l) = &mut self.lines {
            let first = d.split(|&b| b == b'\r').next().unwrap_or_default();
            l.push(format!(
                "{} SIP {}",
                if out { "→" } else { "←" },
                String::from_utf8_lossy(first)
            ));
        }
    }
    fn request(&mut self, req: &crate::phone::HttpRequest) {
        if let Some(l) = &mut self.lines {
            l.push(format!("→ {} {}", req.method.as_str(), req.redacted_url()));
        }
    }
    fn response(
        &mut self,
        r: &Result<crate::phone::HttpResponse, crate::phone::HttpFailure>,
        took: Duration,
    ) {
        if let Some(l) = &mut self.lines {
            let ms = took.as_secs_f64() * 1000.0;
            l.push(match r {
                Ok(r) => format!("← {} ({} B, {ms:.1} ms)", r.status, r.body.len()),
                Err(e) => format!("← {e} ({ms:.1} ms)"),
            });
        }
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
    /// Pause: read, never awaited.
    control: watch::Receiver<Control>,
    /// Which device to trace: read when a journey starts.
    watch_device: watch::Receiver<Option<String>>,
    /// Where the traced phone's journeys go (shared by the shards).
    trace: Arc<watch::Sender<Arc<PhoneTrace>>>,
    /// SIP, when the profile has `[sip]`.
    sip: Option<ShardSip>,
    /// Where the fleet believes numbers are (shared by the shards).
    dir: Arc<Directory>,
    /// Phones still to boot, and who waits for the boot to end.
    boot_queue: std::collections::VecDeque<usize>,
    boot_done: Option<tokio::sync::oneshot::Sender<()>>,
    /// Idle phones' registration refreshes, earliest first.
    refresh: std::collections::BinaryHeap<std::cmp::Reverse<(Instant, usize)>>,
    /// Next phone to place a call.
    call_cursor: usize,
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
            TaskKind::Boot => (Task::Boot, None),
            TaskKind::Refresh => (Task::Refresh, None),
            _ => (Task::Status, None),
        };
        let kind = task.kind();
        let started = self.spawn(i, kind, Work::Start(task), intended, user, None);
        if !started && let Some(u) = user.filter(|_| kind == TaskKind::Login) {
            self.users[u].busy = false;
        }
        started
    }

    /// Runs `work` on slot `i`'s phone as a journey task.
    fn spawn(
        &mut self,
        i: usize,
        kind: TaskKind,
        work: Work,
        intended: Instant,
        user: Option<usize>,
        call: Option<CallPlan>,
    ) -> bool {
        let cluster = self.slots[i].cluster;
        let (Some(phone), Some(mut client)) =
            (self.slots[i].phone.take(), self.slots[i].client.take())
        else {
            return false;
        };
        let traced = self
            .watch_device
            .borrow()
            .as_deref()
            .is_some_and(|d| d == phone.spec().device);
        self.in_flight.insert(i, (cluster, kind));
        let link = self.sip.as_mut().map(|s| {
            let (tx, rx) = mpsc::channel(INBOX);
            s.inboxes.insert(i, tx);
            (s.socket.clone(), rx)
        });
        // A logout's number leaves the directory when the journey begins, so no new call is
        // placed to a user on their way out.
        let leaving = (kind == TaskKind::Logout)
            .then(|| {
                let dn = user.and_then(|u| self.users[u].spec.dn.clone())?;
                let mac = phone.sip()?.mac().to_owned();
                Some((self.dir.clone(), dn, mac))
            })
            .flatten();
        let handle = self.running.spawn(async move {
            let mut obs = Collect {
                lines: traced.then(Vec::new),
                ..Collect::default()
            };
            let retx0 = phone.sip().map_or(0, |u| u.retransmissions());
            let (phone, lag, outcome, client) = match link {
                Some((socket, inbox)) => {
                    let mut l = SipLink {
                        inner: client,
                        socket,
                        inbox,
                    };
                    // Until the journey starts the phone is idle: it takes calls, refreshes.
                    // (One due now starts at once: a timer would cost a tick, up to 1 ms,
                    // on every answered call.)
                    let phone = if intended > Instant::now() {
                        serve_idle(phone, &mut l, &mut obs, tokio::time::sleep_until(intended))
                            .await
                    } else {
                        phone
                    };
                    // A call the phone took ran past the journey's start: the user could not
                    // log in or out while on the phone, so the journey is due from the
                    // call's end (the server did not delay it: not counted against it).
                    let intended = obs.side_end.map_or(intended, |t| t.max(intended));
                    let lag = Instant::now().saturating_duration_since(intended);
                    if let Some((dir, dn, mac)) = &leaving {
                        dir.remove(dn, mac);
                    }
                    let (p, o) = work.run(kind, phone, intended, &mut l, &mut obs).await;
                    obs.failed(&o, intended);
                    (p, lag, o, l.inner)
                }
                None => {
                    if intended > Instant::now() {
                        tokio::time::sleep_until(intended).await;
                    }
                    let lag = Instant::now().saturating_duration_since(intended);
                    let (p, o) = work.run(kind, phone, intended, &mut client, &mut obs).await;
                    obs.failed(&o, intended);
                    (p, lag, o, client)
                }
            };
            let mut client = client;
            client.idle();
            let retransmissions = phone
                .sip()
                .map_or(0, |u| u.retransmissions().saturating_sub(retx0));
            JourneyEnd {
                slot: i,
                phone,
                client,
                outcome,
                samples: obs.samples,
                user,
                lag,
                lines: obs.lines,
                call,
                side: obs.side,
                retransmissions,
            }
        });
        self.tasks.insert(handle.id(), i);
        true
    }

    /// A datagram on the shard's SIP socket: to the journey of its phone, else to the idle
    /// phone itself (which may begin answering a call or restarting).
    fn on_datagram(&mut self, d: &[u8]) {
        let Some(sip) = &self.sip else { return };
        let Some(i) = addressee(d).and_then(|m| sip.by_mac.get(&m).copied()) else {
            tracing::debug!("SIP datagram for no phone of this shard dropped");
            return;
        };
        if let Some(tx) = sip.inboxes.get(&i) {
            // Full: dropped, as a socket buffer would; the sender sends it again.
            let _ = tx.try_send(d.to_vec());
            return;
        }
        if self.slots[i].unknown {
            return;
        }
        let Some(phone) = self.slots[i].phone.take() else {
            return;
        };
        let now = Instant::now();
        let (phone, actions) = phone.step(PhoneEvent::Sip(d.to_vec()), now.into_std());
        if phone.is_idle() {
            for a in actions {
                if let PhoneAction::SendSip { to, datagram } = a
                    && let Ok(addr) = to.parse::<std::net::SocketAddr>()
                {
                    let _ = sip.socket.try_send_to(&datagram, addr);
                }
            }
            self.slots[i].phone = Some(phone);
            return;
        }
        let kind = if phone.sip().is_some_and(crate::phone::sipua::SipUa::in_call) {
            TaskKind::Answer
        } else {
            TaskKind::Restart
        };
        self.slots[i].phone = Some(phone);
        self.spawn(i, kind, Work::Continue(actions), now, None, None);
    }

    /// Boots every phone, [`BOOT_PARALLEL`] at a time; `done` is told when all have.
    fn boot(&mut self, done: tokio::sync::oneshot::Sender<()>) {
        self.boot_queue = (0..self.slots.len()).collect();
        self.boot_done = Some(done);
        self.boot_more();
    }

    fn boot_more(&mut self) {
        let booting = self
            .in_flight
            .values()
            .filter(|(_, k)| *k == TaskKind::Boot)
            .count();
        for _ in booting..BOOT_PARALLEL {
            let Some(i) = self.boot_queue.pop_front() else {
                break;
            };
            self.start(i, TaskKind::Boot, Instant::now());
        }
        let booting = self.in_flight.values().any(|(_, k)| *k == TaskKind::Boot);
        if self.boot_queue.is_empty()
            && !booting
            && let Some(done) = self.boot_done.take()
        {
            let _ = done.send(());
        }
    }

    /// Refreshes the registrations of idle phones that are due.
    fn refresh_due(&mut self, now: Instant) {
        while let Some(std::cmp::Reverse((at, i))) = self.refresh.peek().copied() {
            if at > now {
                break;
            }
            self.refresh.pop();
            let due = self.slots[i]
                .phone
                .as_ref()
                .and_then(Phone::refresh_due)
                .map(Instant::from_std);
            match due {
                Some(d) if d <= now && self.idle(i) => {
                    self.start(i, TaskKind::Refresh, now);
                }
                // Not yet (refreshed meanwhile), or busy: looked at again when due or when
                // its journey ends.
                Some(d) if d > now => self.refresh.push(std::cmp::Reverse((d, i))),
                _ => {}
            }
        }
    }

    /// A call arrival: an idle registered phone (one with a user logged in first) calls a
    /// number the directory places, chosen by the profile's callee mix.
    fn call_arrival(&mut self, intended: Instant) {
        let n = self.slots.len();
        let Some(spec) = self.sip.as_ref().map(|s| s.spec.clone()) else {
            return;
        };
        if n == 0 {
            return;
        }
        let from = self.call_cursor % n;
        self.call_cursor = from + 1;
        let registered = |s: &Slot<T>| {
            s.phone
                .as_ref()
                .and_then(Phone::sip)
                .is_some_and(crate::phone::sipua::SipUa::is_registered)
        };
        let caller = [true, false].into_iter().find_map(|with_user| {
            (0..n).map(|k| (from + k) % n).find(|&i| {
                self.idle(i)
                    && registered(&self.slots[i])
                    && (!with_user || self.slots[i].user.is_some())
            })
        });
        let want = self.slots[from].cluster;
        let Some(i) = caller else {
            self.rec.call_dropped(want);
            return;
        };
        let cluster = self.slots[i].cluster;
        let mac = self.slots[i]
            .phone
            .as_ref()
            .and_then(Phone::sip)
            .map(|u| u.mac().to_owned())
            .unwrap_or_default();
        let kind = spec.callee.kind(self.rng.unit());
        let (u, v) = (self.rng.unit(), self.rng.unit());
        let Some(callee) = self.dir.pick(kind, cluster, &mac, u, v) else {
            self.rec.call_dropped(cluster);
            return;
        };
        let hold = spec.hold.sample(self.rng.unit());
        let plan = CallPlan {
            route: if callee.cluster == cluster {
                stats::Route::Local
            } else {
                stats::Route::Trunk
            },
            dn: callee.dn.clone(),
            mac: callee.mac,
        };
        let task = Task::Call {
            dn: callee.dn,
            hold,
        };
        self.spawn(
            i,
            TaskKind::Call,
            Work::Start(task),
            intended,
            None,
            Some(plan),
        );
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
        if self.control.borrow().paused {
            // Paused: not started, not counted; the phone looks again a little later.
            let at = intended.max(Instant::now() + RETRY_MIN);
            self.retry.push(std::cmp::Reverse((at, i)));
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
        if let Some(mut lines) = end.lines {
            lines.push(match &end.outcome.result {
                Ok(s) => format!("{:?}: {s:?}", end.outcome.task),
                Err(f) => format!(
                    "{:?} failed at {}: {} ({})",
                    end.outcome.task,
                    f.step,
                    f.shown,
                    f.cause.key()
                ),
            });
            self.trace.send_replace(Arc::new(PhoneTrace {
                device: end.phone.spec().device.clone(),
                lines,
            }));
        }
        let (cluster, _) = self.in_flight.remove(&i).unwrap_or((0, end.outcome.task));
        if let Some(sip) = &mut self.sip {
            sip.inboxes.remove(&i);
        }
        for s in &end.samples {
            self.rec.sample(cluster, s);
        }
        self.rec.retransmitted(cluster, end.retransmissions);
        for o in &end.side {
            self.rec.sip_task(cluster, o);
        }
        match end.outcome.task {
            TaskKind::Login | TaskKind::Logout | TaskKind::Status => {
                self.rec.started(cluster, end.outcome.task, end.lag);
                self.rec.outcome(cluster, &end.outcome);
            }
            TaskKind::Call => {
                if let Some(plan) = &end.call {
                    let result = self.judge_call(&end.phone, plan, &end.outcome);
                    let setup = end
                        .samples
                        .iter()
                        .find(|s| s.step == Step::CallSetup)
                        .map(StepSample::latency);
                    self.rec.call(cluster, plan.route, &result, setup);
                }
            }
            _ => self.rec.sip_task(cluster, &end.outcome),
        }
        let mac = end
            .phone
            .sip()
            .map(|u| u.mac().to_owned())
            .unwrap_or_default();
        if end.outcome.task == TaskKind::Login
            && end.user.is_some_and(|u| self.users[u].cluster != cluster)
        {
            self.rec.roamed(cluster, end.outcome.result.is_ok());
        }
        if let Err(f) = &end.outcome.result {
            tracing::debug!(device = %end.phone.spec().device, task = ?end.outcome.task, step = %f.step, cause = %f.cause.key(), shown = %f.shown, "journey failed");
        }
        // A restart into the logout profile: someone else logged the user out here.
        if end.phone.logged_in_user().is_none()
            && matches!(end.outcome.task, TaskKind::Restart)
            && let Some(u) = self.slots[i].user.take()
        {
            if let Some(dn) = &self.users[u].spec.dn {
                self.dir.remove(dn, &mac);
            }
            self.users[u].busy = false;
        }
        if let Some(u) = end.user
            && let Some(dn) = self.users[u].spec.dn.clone()
        {
            match (&end.outcome.task, &end.outcome.result) {
                (TaskKind::Login, Ok(_)) => {
                    let roamed = self.users[u].cluster != cluster;
                    self.dir.set(&dn, cluster, &mac, roamed);
                }
                (TaskKind::Logout, _) => self.dir.remove(&dn, &mac),
                _ => {}
            }
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
        if let Some(due) = end.phone.refresh_due() {
            self.refresh
                .push(std::cmp::Reverse((Instant::from_std(due), i)));
        }
        let was_boot = end.outcome.task == TaskKind::Boot;
        let slot = &mut self.slots[i];
        slot.phone = Some(end.phone);
        slot.client = Some(end.client);
        if was_boot {
            self.boot_more();
        } else if restart {
            self.next_closed(i, Instant::now());
        } else {
            self.slots[i].closed_until = None;
        }
    }

    /// How a placed call went: answered by the phone where the callee is (or now is), by
    /// another of the fleet's phones (misrouted), or not at all.
    fn judge_call(&self, phone: &Phone, plan: &CallPlan, o: &TaskOutcome) -> stats::CallResult {
        use stats::CallResult;
        match &o.result {
            Ok(_) => match phone.sip().and_then(|u| u.last_answered_by()) {
                None | Some("") => CallResult::Ok { verified: false },
                Some(by) => {
                    let now_at = self.dir.locate(&plan.dn).map(|(_, m)| m);
                    if by == plan.mac || now_at.as_deref() == Some(by) {
                        CallResult::Ok { verified: true }
                    } else {
                        tracing::warn!(dn = %plan.dn, expected = %plan.mac, answered_by = %by, "misrouted call");
                        CallResult::Misrouted
                    }
                }
            },
            Err(f) => match &f.cause {
                Cause::CallFailed(code) => CallResult::Status(*code),
                Cause::CallTimeout => CallResult::Timeout,
                c => CallResult::Other(c.key()),
            },
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
        let socket = self.sip.as_ref().map(|s| s.socket.clone());
        let mut buf = vec![0u8; 65_536];
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(ShardCmd::Boot(done)) => self.boot(done),
                    Some(ShardCmd::Arrival { task: TaskKind::Call, intended }) => self.call_arrival(intended),
                    Some(ShardCmd::Arrival { task, intended }) => self.arrival(task, intended),
                    Some(ShardCmd::Closed { phones, think, until }) => self.closed(phones, think, until),
                    None => break,
                },
                n = recv_opt(socket.as_deref(), &mut buf) => {
                    if let Some(n) = n {
                        self.on_datagram(&buf[..n]);
                    }
                }
                () = tokio::time::sleep_until(self.refresh.peek().map_or_else(Instant::now, |r| r.0.0)),
                    if !self.refresh.is_empty() => self.refresh_due(Instant::now()),
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
                // Calls in flight still need their datagrams (BYE, CANCEL, 200 OK).
                n = recv_opt(socket.as_deref(), &mut buf) => {
                    if let Some(n) = n {
                        self.on_datagram(&buf[..n]);
                    }
                }
                () = &mut deadline => {
                    self.running.abort_all();
                    while self.running.join_next().await.is_some() {}
                    self.tasks.clear();
                    for (slot, (cluster, task)) in std::mem::take(&mut self.in_flight) {
                        self.slots[slot].unknown = true;
                        if !matches!(task, TaskKind::Login | TaskKind::Logout | TaskKind::Status) {
                            // Not an EM journey: counted apart, not in the EM ratios.
                            self.rec.abandoned_other(cluster, task);
                            continue;
                        }
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
        let mut states = vec![stats::PhoneStates::default(); self.rec.clusters().len()];
        for (i, s) in self.slots.iter().enumerate() {
            let on = self.logged_in(i);
            if on && let Some(n) = logged_in.get_mut(s.cluster) {
                *n += 1;
            }
            if let Some(st) = states.get_mut(s.cluster) {
                let n = match (s.unknown, self.in_flight.get(&i), on) {
                    (true, _, _) => &mut st.unknown,
                    (false, Some((_, TaskKind::Call | TaskKind::Answer)), _) => &mut st.in_call,
                    (false, Some((_, TaskKind::Login)), _) => &mut st.logging_in,
                    (false, Some((_, TaskKind::Logout)), _) => &mut st.logging_out,
                    (false, Some(_), _) => &mut st.busy_other,
                    (false, None, true) => &mut st.logged_in,
                    (false, None, false) => &mut st.logged_out,
                };
                *n += 1;
            }
        }
        let _ = agg
            .send(AggMsg::Delta {
                shard: self.idx,
                rec,
                in_flight: self.running.len() as u64,
                logged_in,
                states,
            })
            .await;
    }
}

/// The next datagram on `socket`, if there is one; never ready without a socket. A receive
/// error (an ICMP port unreachable from an earlier send) yields `None`.
async fn recv_opt(socket: Option<&tokio::net::UdpSocket>, buf: &mut [u8]) -> Option<usize> {
    match socket {
        Some(s) => s.recv_from(buf).await.ok().map(|(n, _)| n),
        None => std::future::pending().await,
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
    let mut states: HashMap<usize, Vec<stats::PhoneStates>> = HashMap::new();
    let mut phase = String::new();
    let mut last = Duration::ZERO;
    let mut tick = tokio::time::interval_at(start + INTERVAL + FLUSH / 2, INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut write_interval = |interval: &mut Recorder,
                              total: &Recorder,
                              in_flight: u64,
                              logged_in: Vec<u64>,
                              states: Vec<stats::PhoneStates>,
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
            states,
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
    let states_per_cluster = |m: &HashMap<usize, Vec<stats::PhoneStates>>| {
        let mut v = vec![stats::PhoneStates::default(); n];
        for st in m.values() {
            for (a, b) in v.iter_mut().zip(st) {
                a.add(b);
            }
        }
        v
    };
    loop {
        tokio::select! {
            m = rx.recv() => match m {
                Some(AggMsg::Delta { shard, rec, in_flight: f, logged_in: li, states: st }) => {
                    logged_in.insert(shard, li);
                    states.insert(shard, st);
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
                write_interval(&mut interval, &total, f, per_cluster(&logged_in), states_per_cluster(&states), &phase, &mut last)
                    .map_err(io_err(hlog_path.clone()))?;
            }
        }
    }
    write_interval(
        &mut interval,
        &total,
        0,
        per_cluster(&logged_in),
        states_per_cluster(&states),
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
/// # Errors
/// Output files cannot be written, or the phones' SIP socket cannot be bound.
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
    let snap = snapshots
        .unwrap_or_else(|| watch::channel(Arc::new(Snapshot::empty(profile.targets.len()))).0);
    let control = taps.control.clone();
    let trace = Arc::new(taps.trace);
    let clusters: Vec<String> = profile.targets.iter().map(|t| t.cluster.clone()).collect();
    let n_phones: usize = profile.targets.iter().map(|t| t.devices.len()).sum();
    let n_shards = n_phones.div_ceil(PHONES_PER_SHARD).clamp(1, MAX_SHARDS);
    let (spare_txs, mut spare_rxs): (Vec<_>, Vec<_>) =
        (0..n_shards).map(|_| mpsc::channel::<Recorder>(2)).unzip();
    let dir = Arc::new(Directory::new(clusters.len()));
    // One SIP socket per shard: its phones share it (their Contact address).
    let mut sockets = Vec::new();
    if let Some(spec) = &profile.sip {
        for _ in 0..n_shards {
            let sock = tokio::net::UdpSocket::bind(spec.bind)
                .await
                .map_err(|source| FleetError::SipBind {
                    addr: spec.bind,
                    source,
                })?;
            sockets.push(Arc::new(sock));
        }
    }
    let mut shards: Vec<Shard<C::Transport>> = (0..n_shards)
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
            control: taps.control.clone(),
            watch_device: taps.watch_device.clone(),
            trace: trace.clone(),
            sip: profile.sip.as_ref().map(|spec| ShardSip {
                socket: sockets[i].clone(),
                by_mac: HashMap::new(),
                inboxes: HashMap::new(),
                spec: spec.clone(),
            }),
            dir: dir.clone(),
            boot_queue: std::collections::VecDeque::new(),
            boot_done: None,
            refresh: std::collections::BinaryHeap::new(),
            call_cursor: 0,
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
                config_url: t
                    .config_url
                    .as_ref()
                    .map(|u| emroam_schema::em_url::device_url(u, d)),
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
            if let (Some(sip), Some(sock)) = (&profile.sip, sockets.get(j % n_shards)) {
                let contact = sock
                    .local_addr()
                    .map_or_else(|_| sip.bind.to_string(), |a| a.to_string());
                phone = phone.with_sip(&contact).with_answer_policy(sip.answer);
                let mac = d.trim_start_matches("SEP").to_ascii_lowercase();
                if let Some(dn) = user.and_then(|u| shard.users[u].spec.dn.clone()) {
                    dir.set(&dn, ci, &mac, false);
                }
            }
            phone.set_logged_in_user(on.clone());
            shard.slots.push(Slot {
                phone: Some(phone),
                client: Some(transport.connect(ci, &profile)),
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
        let mut keyed: Vec<(usize, usize, Slot<C::Transport>)> = shard
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
        let by_mac: HashMap<String, usize> = shard
            .slots
            .iter()
            .enumerate()
            .filter_map(|(k, s)| {
                let p = s.phone.as_ref()?;
                Some((p.sip()?.mac().to_owned(), k))
            })
            .collect();
        if let Some(ss) = &mut shard.sip {
            ss.by_mac = by_mac;
        }
    }

    let tracker = TaskTracker::new();
    let (agg_tx, agg_rx) = mpsc::channel(64);
    let agg = tracker.spawn(aggregate(
        agg_rx,
        spare_txs,
        clusters.clone(),
        Instant::now(),
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
    // Phones boot (config file; REGISTER with SIP) before the first phase, as a phone does
    // when it powers on; the phases' clock starts after.
    if profile.boot {
        let _ = agg_tx.send(AggMsg::Phase("boot".into())).await;
        let mut waits = Vec::new();
        for tx in &txs {
            let (done, wait) = tokio::sync::oneshot::channel();
            let _ = tx.send(ShardCmd::Boot(done)).await;
            waits.push(wait);
        }
        for w in waits {
            tokio::select! {
                _ = w => {}
                () = token.cancelled() => break,
            }
        }
    }
    let start = Instant::now();
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
    let mut rr = [0usize; 3];
    // Draws for the rate factor's thinning and extra arrivals (apart from the shards' draws,
    // so a run at factor 1 is the same run as before).
    let mut control_rng = Rng::new(profile.seed ^ 0x5eed_c0de);
    'phases: for phase in &profile.phases {
        let _ = agg_tx.send(AggMsg::Phase(phase.name.clone())).await;
        let phase_end = phase_start + phase.duration;
        let (login, logout) = match &phase.model {
            Model::Open { login, logout } => (*login, *logout),
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
                (profile::Rate::ZERO, profile::Rate::ZERO)
            }
        };
        // Open-model arrivals: logins, logouts and calls, merged in time order.
        let mut streams = [
            (
                Arrivals::new(login, phase.duration).peekable(),
                TaskKind::Login,
            ),
            (
                Arrivals::new(logout, phase.duration).peekable(),
                TaskKind::Logout,
            ),
            (
                Arrivals::new(phase.calls, phase.duration).peekable(),
                TaskKind::Call,
            ),
        ];
        loop {
            let next = streams
                .iter_mut()
                .enumerate()
                .filter_map(|(k, (a, _))| a.peek().map(|o| (*o, k)))
                .min_by(|x, y| x.0.cmp(&y.0));
            let Some((_, k)) = next else { break };
            let task = streams[k].1;
            let Some(offset) = streams[k].0.next() else {
                break;
            };
            let intended = phase_start + offset;
            tokio::select! {
                () = tokio::time::sleep_until(intended) => {}
                () = token.cancelled() => break 'phases,
            }
            let copies = control.borrow().copies(control_rng.unit());
            for _ in 0..copies {
                let tx = &txs[rr[k] % txs.len()];
                rr[k] += 1;
                let _ = tx.send(ShardCmd::Arrival { task, intended }).await;
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

#[cfg(test)]
mod control_tests {
    use super::Control;

    #[test]
    fn copies_keep_the_mean_rate() {
        let n = 10_000;
        let mean = |c: Control| {
            (0..n)
                .map(|i| c.copies((i as f64 + 0.5) / n as f64))
                .sum::<usize>() as f64
                / n as f64
        };
        let c = |paused, rate_factor| Control {
            paused,
            rate_factor,
        };
        assert!((mean(c(false, 1.0)) - 1.0).abs() < 1e-9);
        assert!((mean(c(false, 0.25)) - 0.25).abs() < 1e-3);
        assert!((mean(c(false, 2.5)) - 2.5).abs() < 1e-3);
        assert_eq!(mean(c(true, 2.0)), 0.0);
        assert_eq!(mean(c(false, f64::NAN)), 0.0);
    }
}
