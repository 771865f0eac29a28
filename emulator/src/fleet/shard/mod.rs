//! A shard: a disjoint set of phones and users, their journeys run as tasks, recorded into
//! the shard's own [`Recorder`] and flushed to the aggregator every [`FLUSH`]. The run loop
//! takes the scheduler's commands, the shard's SIP datagrams and the journeys' ends; at the
//! end it stops starting work and gives journeys in flight the drain deadline.
//!
//! Who takes an arrival is in [`assign`]; SIP routing and calls are in [`calls`].

mod assign;
mod calls;
mod story;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::aggregate::{AggMsg, FLUSH};
use super::control::{Control, PhoneTrace};
use super::directory::{Directory, Login};
use super::journey::{CallPlan, Journey, JourneyEnd, Leaving, SipShare, Work};
use super::profile::{Profile, SipSpec, StoryStep, Think, UserSpec};
use super::reconcile;
use super::schedule::{Rng, ShardCmd};
use super::stats::{PhoneStates, Recorder};
use super::story::StoryLog;
use crate::driver::Transport;
use crate::phone::{Cause, LoginType, Phone, Step, StepSample, TaskKind, TaskOutcome};

/// Phones booting at once per shard before the first phase.
const BOOT_PARALLEL: usize = 32;

/// Datagrams queued for one phone in a journey before more are dropped (UDP: the sender's
/// retransmissions cover a drop).
const INBOX: usize = 32;

/// One phone of a shard, with what the fleet believes about it.
pub(super) struct Slot<T> {
    /// The phone and its transport; taken while a journey runs.
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
    /// Kept for the profile's story (the random load never uses it): its device name, for
    /// the story to find it while its phone is away on a journey. `None` for every other
    /// phone, which keeps no copy of its name beside the phone's own.
    story: Option<Box<str>>,
}

impl<T> Slot<T> {
    /// A phone of the `cluster`-th target: `user` (an index into the shard's users) or a
    /// `foreign` user logged in on it at the start.
    pub(super) fn new(
        phone: Phone,
        client: T,
        cluster: usize,
        user: Option<usize>,
        foreign: bool,
    ) -> Self {
        Self {
            phone: Some(phone),
            client: Some(client),
            cluster,
            user,
            foreign,
            unknown: false,
            closed_until: None,
            story: None,
        }
    }

    /// Kept for the profile's story.
    #[must_use]
    pub(super) fn reserved(mut self, reserved: bool) -> Self {
        self.story = reserved
            .then(|| Some(self.phone.as_ref()?.spec().device.as_str().into()))
            .flatten();
        self
    }

    /// Whether it is kept for the profile's story.
    fn is_reserved(&self) -> bool {
        self.story.is_some()
    }

    /// Its target's index.
    pub(super) fn cluster(&self) -> usize {
        self.cluster
    }
}

/// One user of a shard.
pub(super) struct UserSlot {
    /// Shared with the profile's target.
    spec: Arc<UserSpec>,
    cluster: usize,
    /// Logged in, or on the way (or kept for the story): the random load does not pick it.
    busy: bool,
    /// Kept for the profile's story: busy for the random load all along.
    reserved: bool,
}

impl UserSlot {
    /// A user homed on the `cluster`-th target; `busy` if logged in at the start, or for the
    /// whole run when `reserved` for the story.
    pub(super) fn new(spec: Arc<UserSpec>, cluster: usize, busy: bool, reserved: bool) -> Self {
        Self {
            spec,
            cluster,
            busy: busy || reserved,
            reserved,
        }
    }

    /// Logged out (or never got in): free again, unless kept for the story.
    fn release(&mut self) {
        self.busy = self.reserved;
    }
}

/// A shard's SIP side: one socket for all its phones, and where each datagram goes.
struct ShardSip {
    socket: Arc<tokio::net::UdpSocket>,
    /// MAC (as a number: 8 bytes, not a string per phone) → slot.
    by_mac: HashMap<u64, u32>,
    /// Slot → the inbox of its journey in flight.
    inboxes: HashMap<usize, mpsc::Sender<Vec<u8>>>,
    spec: SipSpec,
}

/// What every shard of a run shares.
pub(super) struct Shared {
    /// Pause: read, never awaited.
    pub(super) control: watch::Receiver<Control>,
    /// Which device to trace: read when a journey starts.
    pub(super) watch_device: watch::Receiver<Option<String>>,
    /// Where the traced phone's journeys go.
    pub(super) trace: Arc<watch::Sender<Arc<PhoneTrace>>>,
    /// Where the fleet believes numbers are.
    pub(super) dir: Arc<Directory>,
    /// What came of the story's steps.
    pub(super) story: StoryLog,
}

/// What the fleet believes of one phone at the end: device, user logged in, and whether
/// its state is unknown (journey abandoned).
pub(super) type Belief = (String, Option<String>, bool);

/// A disjoint set of phones and users, and their journeys.
pub(super) struct Shard<T> {
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
    retry: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Pause, tracing, the directory.
    shared: Shared,
    /// SIP, when the profile has `[sip]`.
    sip: Option<ShardSip>,
    /// Phones still to boot, and who waits for the boot to end.
    boot_queue: VecDeque<usize>,
    boot_done: Option<oneshot::Sender<()>>,
    /// Idle phones' registration refreshes, earliest first.
    refresh: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Next phone to place a call.
    call_cursor: usize,
    /// The profile's story (run by the shard holding its phones).
    story: Vec<StoryStep>,
    /// Story steps waiting for their phone: (look again at, step, intended).
    story_wait: BinaryHeap<Reverse<(Instant, usize, Instant)>>,
    /// Slot → the story step its journey runs.
    story_running: HashMap<usize, usize>,
}

impl<T: Transport + 'static> Shard<T> {
    /// The `idx`-th shard of a run of `profile`, with its phones and users; `socket` is its
    /// SIP socket (with `[sip]`), `spare` where the aggregator hands emptied recorders back.
    pub(super) fn new(
        idx: usize,
        profile: &Profile,
        (slots, users): (Vec<Slot<T>>, Vec<UserSlot>),
        socket: Option<Arc<tokio::net::UdpSocket>>,
        spare: mpsc::Receiver<Recorder>,
        shared: Shared,
    ) -> Self {
        let sip = profile.sip.as_ref().zip(socket).map(|(spec, socket)| {
            let by_mac = slots
                .iter()
                .enumerate()
                .filter_map(|(k, s)| {
                    let p = s.phone.as_ref()?;
                    Some((mac_key(p.sip()?.mac())?, u32::try_from(k).ok()?))
                })
                .collect();
            ShardSip {
                socket,
                by_mac,
                inboxes: HashMap::new(),
                spec: spec.clone(),
            }
        });
        Self {
            idx,
            slots,
            users,
            rec: Recorder::new(profile.targets.len()),
            rng: Rng::new(profile.seed.wrapping_add(idx as u64 * 7919)),
            mix: profile.mix.clone(),
            roaming: profile.roaming,
            cursor: [0; 2],
            user_cursor: 0,
            running: JoinSet::new(),
            in_flight: HashMap::new(),
            spare,
            tasks: HashMap::new(),
            retry: BinaryHeap::new(),
            shared,
            sip,
            boot_queue: VecDeque::new(),
            boot_done: None,
            refresh: BinaryHeap::new(),
            call_cursor: 0,
            story: profile.story.clone(),
            story_wait: BinaryHeap::new(),
            story_running: HashMap::new(),
        }
    }

    /// Runs `work` on slot `i`'s phone as a journey task; false if the phone is busy.
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
        let (Some(phone), Some(client)) = (self.slots[i].phone.take(), self.slots[i].client.take())
        else {
            return false;
        };
        let traced = self
            .shared
            .watch_device
            .borrow()
            .as_deref()
            .is_some_and(|d| d == phone.spec().device);
        self.in_flight.insert(i, (cluster, kind));
        let sip = self.sip.as_mut().map(|s| {
            let (tx, inbox) = mpsc::channel(INBOX);
            s.inboxes.insert(i, tx);
            SipShare {
                socket: s.socket.clone(),
                inbox,
            }
        });
        // A logout's number leaves the directory when the journey begins, so no new call is
        // placed to a user on their way out.
        let leaving = (kind == TaskKind::Logout)
            .then(|| {
                let dn = user.and_then(|u| self.users[u].spec.dn.clone())?;
                let mac = phone.sip()?.mac().to_owned();
                Some(Leaving {
                    dir: self.shared.dir.clone(),
                    dn,
                    mac,
                })
            })
            .flatten();
        let journey = Journey {
            slot: i,
            kind,
            work,
            phone,
            client,
            intended,
            user,
            call,
            traced,
            sip,
            leaving,
        };
        let handle = self.running.spawn(journey.run());
        self.tasks.insert(handle.id(), i);
        true
    }

    /// Boots every phone, [`BOOT_PARALLEL`] at a time; `done` is told when all have.
    fn boot(&mut self, done: oneshot::Sender<()>) {
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

    /// A journey ended: record it, update what the fleet believes (users, directory), put
    /// the phone back, and start its next work (boot queue, closed-model cycle).
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
            self.shared.trace.send_replace(Arc::new(PhoneTrace {
                device: end.phone.spec().device.clone(),
                lines,
            }));
        }
        let (cluster, _) = self.in_flight.remove(&i).unwrap_or((0, end.outcome.task));
        let story = self.story_running.remove(&i);
        let mut call_result = None;
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
                    call_result = Some(result);
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
                self.shared.dir.remove(dn, &mac);
            }
            let device = &end.phone.spec().device;
            self.shared.dir.logged_out(&self.users[u].spec.id, device);
            self.users[u].release();
        }
        // The cluster answered the login or logout with success and only the restart that
        // follows never came (`no_restart`): the journey failed, but the login or logout
        // happened, and the fleet believes what the cluster did, else its reconciliation
        // would call the phone leaked or missing.
        let em_done = match &end.outcome.result {
            Ok(_) => true,
            Err(f) => f.cause == Cause::NoRestart,
        };
        if let Some(u) = end.user {
            let user = &self.users[u];
            let login = Login {
                user: &user.spec.id,
                dn: user.spec.dn.as_deref(),
                home: user.cluster,
                cluster,
                device: &end.phone.spec().device,
            };
            self.shared
                .dir
                .journey_ended(login, end.outcome.task, em_done);
        }
        if let Some(u) = end.user
            && let Some(dn) = self.users[u].spec.dn.clone()
        {
            match end.outcome.task {
                TaskKind::Login if em_done => {
                    let roamed = self.users[u].cluster != cluster;
                    self.shared.dir.set(&dn, cluster, &mac, roamed);
                }
                TaskKind::Logout => self.shared.dir.remove(&dn, &mac),
                _ => {}
            }
        }
        let slot = &mut self.slots[i];
        match (&end.outcome.task, &end.outcome.result) {
            (TaskKind::Login, _) if em_done => slot.user = end.user,
            (TaskKind::Login, Err(f)) => {
                // Someone is on this phone after all: it logs them out next time.
                slot.foreign |= f.cause == Cause::AlreadyLoggedIn;
                if let Some(u) = end.user {
                    self.users[u].release();
                }
            }
            (TaskKind::Logout, _) if em_done => {
                slot.foreign = false;
                if let Some(u) = slot.user.take() {
                    self.users[u].release();
                }
            }
            (TaskKind::Logout, Err(f)) if f.cause == Cause::NotLoggedIn => {
                slot.foreign = false;
                if let Some(u) = slot.user.take() {
                    self.users[u].release();
                }
            }
            _ => {}
        }
        if let Some(k) = story {
            self.story_done(k, &end.phone, &end.outcome, call_result.as_ref());
        }
        if let Some(due) = end.phone.refresh_due() {
            self.refresh.push(Reverse((Instant::from_std(due), i)));
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

    /// Runs the shard until the scheduler hangs up or `token` is cancelled, then drains
    /// within `drain`; returns what it believes of each phone.
    pub(super) async fn run(
        mut self,
        mut rx: mpsc::Receiver<ShardCmd>,
        agg: mpsc::Sender<AggMsg>,
        token: CancellationToken,
        drain: Duration,
    ) -> Vec<Belief> {
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
                    Some(ShardCmd::Story { step, intended }) => self.story_step(step, intended),
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
                () = tokio::time::sleep_until(self.story_wait.peek().map_or_else(Instant::now, |r| r.0.0)),
                    if !self.story_wait.is_empty() => self.story_wait_due(Instant::now()),
                () = token.cancelled() => break,
            }
        }
        self.retry.clear();
        self.story_wait.clear();
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
                    self.abandon_all().await;
                    break;
                }
                _ = flush.tick() => self.flush(&agg).await,
            }
        }
        self.flush(&agg).await;
        self.beliefs()
    }

    /// The drain deadline passed: journeys still in flight are abandoned, their phones'
    /// states unknown.
    async fn abandon_all(&mut self) {
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
            self.rec
                .outcome(cluster, &TaskOutcome::failed(task, Cause::Abandoned));
        }
    }

    /// What the shard believes of each phone it still holds.
    fn beliefs(&self) -> Vec<Belief> {
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
                self.rec
                    .outcome(cluster, &TaskOutcome::failed(task, Cause::Internal));
            }
        }
    }

    /// Hands the recorder (swapped for an emptied one) and the phones' states to the
    /// aggregator.
    async fn flush(&mut self, agg: &mpsc::Sender<AggMsg>) {
        let rec = match self.spare.try_recv() {
            Ok(spare) => std::mem::replace(&mut self.rec, spare),
            Err(_) => self.rec.take(),
        };
        let mut logged_in = vec![0u64; self.rec.clusters().len()];
        let mut states = vec![PhoneStates::default(); self.rec.clusters().len()];
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

/// A MAC as [`addressee`](crate::phone::sipua::addressee) gives it (12 hex digits), as a
/// number; `None` for anything else (no datagram is ever addressed to it).
fn mac_key(mac: &str) -> Option<u64> {
    (mac.len() == 12)
        .then(|| u64::from_str_radix(mac, 16).ok())
        .flatten()
}

/// The next datagram on `socket`, if there is one; never ready without a socket. A receive
/// error (an ICMP port unreachable from an earlier send) yields `None`.
async fn recv_opt(socket: Option<&tokio::net::UdpSocket>, buf: &mut [u8]) -> Option<usize> {
    match socket {
        Some(s) => s.recv_from(buf).await.ok().map(|(n, _)| n),
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::mac_key;

    #[test]
    fn a_mac_is_its_twelve_hex_digits_as_a_number() {
        assert_eq!(mac_key("0011aabbccdd"), Some(0x0011_aabb_ccdd));
        assert_eq!(mac_key("0011AABBCCDD"), mac_key("0011aabbccdd"));
        // Not a MAC a datagram can be addressed to: no key, so no clash with one that is.
        assert_eq!(mac_key("1"), None);
        assert_eq!(mac_key("0011aabbccdg"), None);
    }
}
