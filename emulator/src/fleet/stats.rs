//! Fleet statistics: per-shard [`Recorder`]s (an HdrHistogram per step and cluster, outcome
//! counts by EM code and failure cause, busy apart), merged by one aggregator into
//! immutable [`Snapshot`]s. Never a list of samples.
//!
//! Pure apart from [`Sinks`], which the aggregator writes interval by interval.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::phone::{Cause, Step, StepSample, TaskKind, TaskOutcome};

/// Latencies are recorded in microseconds, from 1 µs to 10 minutes, 3 significant digits.
pub const HIST_MAX_US: u64 = 600_000_000;

/// A start this much after its intended time counts as late.
pub const LATE_AFTER: Duration = Duration::from_millis(10);

/// A histogram that grows with the largest latency it has seen (up to [`HIST_MAX_US`], as
/// samples are clamped): one sized for 10 minutes from the start is ~300 KiB of counts, which
/// every interval's merge and reset would walk; one that has seen 50 ms is a tenth of that.
fn new_hist() -> Histogram<u64> {
    let mut h = Histogram::new_with_bounds(1, 2, 3).expect("valid histogram bounds");
    h.auto(true);
    h
}

/// Counts for one cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Login journeys started.
    pub logins_attempted: u64,
    /// Login journeys that ended logged in.
    pub logins_ok: u64,
    /// Logout journeys started.
    pub logouts_attempted: u64,
    /// Logout journeys that ended logged out.
    pub logouts_ok: u64,
    /// Logins by a superuser homed on another cluster (EM roaming), attempted.
    pub roaming_attempted: u64,
    /// Roaming logins that succeeded.
    pub roaming_ok: u64,
    /// Journeys answered with 26 (busy): designed back-pressure, not failures.
    pub busy: u64,
    /// Journeys that failed (any other cause).
    pub failed: u64,
    /// Journeys started later than [`LATE_AFTER`] after their intended time.
    pub late_starts: u64,
    /// Open-model arrivals with no idle phone or free user to take them.
    pub dropped: u64,
    /// Journeys abandoned at the shutdown deadline.
    pub abandoned: u64,
    /// Busy and failures by cause key (`em_26`, `em_201`, `http_503`, `timeout`, ...).
    pub by_cause: BTreeMap<String, u64>,
    /// SIP: registrations and calls (all zero when the profile has no `[sip]`).
    pub sip: SipCounts,
}

/// How a call went from one cluster to its callee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The callee is logged in at the caller's cluster.
    Local,
    /// The callee is at another cluster: over the SIP trunk.
    Trunk,
}

impl Route {
    /// `local` or `trunk`.
    pub fn name(self) -> &'static str {
        match self {
            Route::Local => "local",
            Route::Trunk => "trunk",
        }
    }
}

/// Calls by route.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RouteCounts {
    /// Calls placed.
    pub attempted: u64,
    /// Answered by the phone where the callee is logged in, held and hung up.
    pub ok: u64,
    /// Final answers by SIP status (`200`, `404`, `480`, `486`, `503`, ...; `timeout`: none).
    pub by_status: BTreeMap<String, u64>,
}

impl RouteCounts {
    fn merge(&mut self, o: &RouteCounts) {
        self.attempted += o.attempted;
        self.ok += o.ok;
        for (k, v) in &o.by_status {
            *self.by_status.entry(k.clone()).or_default() += v;
        }
    }
}

/// SIP figures of the phones on one cluster: their registrations, the calls they placed
/// (by route and status) and the calls they took.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SipCounts {
    /// Phones booted before the first phase (config file, then REGISTER).
    pub boots_ok: u64,
    /// Boots that failed (by cause in `by_cause`, prefixed `boot_`).
    pub boots_failed: u64,
    /// Registration refreshes that were answered 200.
    pub refreshes_ok: u64,
    /// Refreshes that failed.
    pub refreshes_failed: u64,
    /// Restarts the cluster asked for while the phone was idle (someone else logged the
    /// user out: a roaming login elsewhere, auto-logout, an administrator).
    pub restarts: u64,
    /// Calls placed.
    pub calls_attempted: u64,
    /// Calls answered by the phone where the callee really is, held, and hung up.
    pub calls_ok: u64,
    /// Calls answered 486 Busy Here (callee in a call or declining): not failures.
    pub calls_busy: u64,
    /// Calls that failed: any other status, no answer, or misrouted.
    pub calls_failed: u64,
    /// Calls answered by a phone other than the one where the callee was logged in.
    pub calls_misrouted: u64,
    /// Calls answered by something that is not one of this fleet's phones.
    pub calls_unverified: u64,
    /// Call arrivals that found no registered idle caller or no callee logged in.
    pub calls_dropped: u64,
    /// Calls placed, by route.
    pub by_route: BTreeMap<String, RouteCounts>,
    /// Incoming calls this cluster's phones answered (the caller hung up).
    pub answered: u64,
    /// Incoming calls that rang until the caller gave up.
    pub missed: u64,
    /// Datagrams phones sent again (no answer in time: RFC 3261 timers).
    pub retransmissions: u64,
}

impl SipCounts {
    fn merge(&mut self, o: &SipCounts) {
        self.boots_ok += o.boots_ok;
        self.boots_failed += o.boots_failed;
        self.refreshes_ok += o.refreshes_ok;
        self.refreshes_failed += o.refreshes_failed;
        self.restarts += o.restarts;
        self.calls_attempted += o.calls_attempted;
        self.calls_ok += o.calls_ok;
        self.calls_busy += o.calls_busy;
        self.calls_failed += o.calls_failed;
        self.calls_misrouted += o.calls_misrouted;
        self.calls_unverified += o.calls_unverified;
        self.calls_dropped += o.calls_dropped;
        for (k, v) in &o.by_route {
            self.by_route.entry(k.clone()).or_default().merge(v);
        }
        self.answered += o.answered;
        self.missed += o.missed;
        self.retransmissions += o.retransmissions;
    }

    /// calls_ok / (calls_attempted − calls_busy); 1 when nothing counted.
    pub fn call_success_ratio(&self) -> f64 {
        let d = self.calls_attempted.saturating_sub(self.calls_busy);
        if d == 0 {
            1.0
        } else {
            self.calls_ok as f64 / d as f64
        }
    }
}

/// How one placed call ended, as the fleet judged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallResult {
    /// Answered by the phone where the callee is (`verified`: the answerer was identified).
    Ok {
        /// Whether the answering phone was identified as one of the fleet's.
        verified: bool,
    },
    /// Answered by another of the fleet's phones than the callee's.
    Misrouted,
    /// A final status other than 2xx.
    Status(u16),
    /// No final answer in time.
    Timeout,
    /// Failed for another reason (not registered, abandoned, ...): the cause key.
    Other(String),
}

impl Counts {
    fn merge(&mut self, o: &Counts) {
        self.logins_attempted += o.logins_attempted;
        self.logins_ok += o.logins_ok;
        self.logouts_attempted += o.logouts_attempted;
        self.logouts_ok += o.logouts_ok;
        self.roaming_attempted += o.roaming_attempted;
        self.roaming_ok += o.roaming_ok;
        self.busy += o.busy;
        self.failed += o.failed;
        self.late_starts += o.late_starts;
        self.dropped += o.dropped;
        self.abandoned += o.abandoned;
        for (k, v) in &o.by_cause {
            *self.by_cause.entry(k.clone()).or_default() += v;
        }
        self.sip.merge(&o.sip);
    }

    /// Journeys attempted (login + logout).
    pub fn attempted(&self) -> u64 {
        self.logins_attempted + self.logouts_attempted
    }

    /// Journeys that succeeded.
    pub fn succeeded(&self) -> u64 {
        self.logins_ok + self.logouts_ok
    }
}

/// One cluster's histograms (allocated on first sample) and counts.
#[derive(Debug, Clone, Default)]
pub struct ClusterStats {
    hists: Vec<Option<Histogram<u64>>>,
    /// Call setup (INVITE to 200 OK) by route: local, trunk.
    route_hists: [Option<Histogram<u64>>; 2],
    /// Its counts.
    pub counts: Counts,
}

impl ClusterStats {
    /// Call setup latency of calls placed on `route`, if any.
    pub fn route_hist(&self, route: Route) -> Option<&Histogram<u64>> {
        self.route_hists[route as usize]
            .as_ref()
            .filter(|h| !h.is_empty())
    }

    /// The histogram of a step, if it has samples.
    pub fn hist(&self, step: Step) -> Option<&Histogram<u64>> {
        self.hists
            .get(step.index())
            .and_then(Option::as_ref)
            .filter(|h| !h.is_empty())
    }
}

/// What a shard records between flushes; merged by the aggregator.
#[derive(Debug, Clone)]
pub struct Recorder {
    clusters: Vec<ClusterStats>,
}

impl Recorder {
    /// An empty recorder for `n` clusters.
    pub fn new(n: usize) -> Self {
        Self {
            clusters: (0..n)
                .map(|_| ClusterStats {
                    hists: vec![None; Step::ALL.len()],
                    route_hists: [None, None],
                    counts: Counts::default(),
                })
                .collect(),
        }
    }

    /// Per-cluster stats, in target order.
    pub fn clusters(&self) -> &[ClusterStats] {
        &self.clusters
    }

    /// Records a completed step.
    pub fn sample(&mut self, cluster: usize, s: &StepSample) {
        let Some(c) = self.clusters.get_mut(cluster) else {
            return;
        };
        let us = (s.latency().as_micros() as u64).clamp(1, HIST_MAX_US);
        c.hists[s.step.index()]
            .get_or_insert_with(new_hist)
            .record(us)
            .unwrap_or(()); // auto-resizing: it grows; nothing past HIST_MAX_US comes
    }

    /// Counts a journey's start (late if it began after its intended time + [`LATE_AFTER`]).
    pub fn started(&mut self, cluster: usize, task: TaskKind, lag: Duration) {
        let Some(c) = self.clusters.get_mut(cluster) else {
            return;
        };
        match task {
            TaskKind::Login => c.counts.logins_attempted += 1,
            TaskKind::Logout => c.counts.logouts_attempted += 1,
            _ => {}
        }
        if lag > LATE_AFTER {
            c.counts.late_starts += 1;
        }
    }

    /// Counts a journey's end.
    pub fn outcome(&mut self, cluster: usize, o: &TaskOutcome) {
        let Some(c) = self.clusters.get_mut(cluster) else {
            return;
        };
        match &o.result {
            Ok(_) => match o.task {
                TaskKind::Login => c.counts.logins_ok += 1,
                TaskKind::Logout => c.counts.logouts_ok += 1,
                _ => {}
            },
            Err(f) => {
                if f.cause == Cause::Abandoned {
                    c.counts.abandoned += 1;
                } else if f.cause.is_busy() {
                    c.counts.busy += 1;
                } else {
                    c.counts.failed += 1;
                }
                *c.counts.by_cause.entry(f.cause.key()).or_default() += 1;
            }
        }
    }

    /// Counts a roaming login (a user homed on another cluster) and whether it worked.
    pub fn roamed(&mut self, cluster: usize, ok: bool) {
        if let Some(c) = self.clusters.get_mut(cluster) {
            c.counts.roaming_attempted += 1;
            c.counts.roaming_ok += u64::from(ok);
        }
    }

    /// Counts the end of a phone's SIP housekeeping: boot, refresh, idle restart, or a call it
    /// took (answer).
    pub fn sip_task(&mut self, cluster: usize, o: &TaskOutcome) {
        let Some(c) = self.clusters.get_mut(cluster) else {
            return;
        };
        let s = &mut c.counts.sip;
        let ok = o.result.is_ok();
        match o.task {
            TaskKind::Boot if ok => s.boots_ok += 1,
            TaskKind::Boot => s.boots_failed += 1,
            TaskKind::Refresh if ok => s.refreshes_ok += 1,
            TaskKind::Refresh => s.refreshes_failed += 1,
            TaskKind::Restart => s.restarts += 1,
            TaskKind::Answer => match &o.result {
                Ok(crate::phone::Success::Missed) => s.missed += 1,
                Ok(_) => s.answered += 1,
                Err(_) => s.missed += 1,
            },
            _ => {}
        }
        if let Err(f) = &o.result
            && f.cause != Cause::Abandoned
        {
            *c.counts
                .by_cause
                .entry(format!("{}_{}", o.task.name(), f.cause.key()))
                .or_default() += 1;
        }
    }

    /// Counts one placed call on `route`, with its setup time when it was answered.
    pub fn call(
        &mut self,
        cluster: usize,
        route: Route,
        result: &CallResult,
        setup: Option<Duration>,
    ) {
        let Some(c) = self.clusters.get_mut(cluster) else {
            return;
        };
        if let Some(d) = setup {
            let us = (d.as_micros() as u64).clamp(1, HIST_MAX_US);
            c.route_hists[route as usize]
                .get_or_insert_with(new_hist)
                .record(us)
                .unwrap_or(()); // auto-resizing: it grows; nothing past HIST_MAX_US comes
        }
        let s = &mut c.counts.sip;
        s.calls_attempted += 1;
        let r = s.by_route.entry(route.name().to_owned()).or_default();
        r.attempted += 1;
        let status = match result {
            CallResult::Ok { verified } => {
                s.calls_ok += 1;
                r.ok += 1;
                s.calls_unverified += u64::from(!verified);
                "200".to_owned()
            }
            CallResult::Misrouted => {
                s.calls_misrouted += 1;
                s.calls_failed += 1;
                "200_misrouted".to_owned()
            }
            CallResult::Status(486) => {
                s.calls_busy += 1;
                "486".to_owned()
            }
            CallResult::Status(code) => {
                s.calls_failed += 1;
                code.to_string()
            }
            CallResult::Timeout => {
                s.calls_failed += 1;
                "timeout".to_owned()
            }
            CallResult::Other(key) => {
                s.calls_failed += 1;
                key.clone()
            }
        };
        *r.by_status.entry(status).or_default() += 1;
    }

    /// Counts a SIP task (boot, refresh, restart, call, answer) abandoned at the shutdown
    /// deadline, by cause `abandoned_<task>`.
    pub fn abandoned_other(&mut self, cluster: usize, task: TaskKind) {
        if let Some(c) = self.clusters.get_mut(cluster) {
            *c.counts
                .by_cause
                .entry(format!("abandoned_{}", task.name()))
                .or_default() += 1;
        }
    }

    /// Counts a call arrival that found no caller or no callee.
    pub fn call_dropped(&mut self, cluster: usize) {
        if let Some(c) = self.clusters.get_mut(cluster) {
            c.counts.sip.calls_dropped += 1;
        }
    }

    /// Counts datagrams phones sent again.
    pub fn retransmitted(&mut self, cluster: usize, n: u64) {
        if let Some(c) = self.clusters.get_mut(cluster) {
            c.counts.sip.retransmissions += n;
        }
    }

    /// Counts an arrival nobody could take.
    pub fn dropped(&mut self, cluster: usize) {
        if let Some(c) = self.clusters.get_mut(cluster) {
            c.counts.dropped += 1;
        }
    }

    /// Adds another recorder's contents.
    pub fn merge(&mut self, o: &Recorder) {
        for (mine, theirs) in self.clusters.iter_mut().zip(&o.clusters) {
            for (h, t) in mine
                .hists
                .iter_mut()
                .chain(mine.route_hists.iter_mut())
                .zip(theirs.hists.iter().chain(theirs.route_hists.iter()))
            {
                if let Some(t) = t.as_ref().filter(|t| !t.is_empty()) {
                    match h {
                        Some(h) => {
                            let _ = h.add(t);
                        }
                        None => *h = Some(t.clone()),
                    }
                }
            }
            mine.counts.merge(&theirs.counts);
        }
    }

    /// Empties it, keeping its histograms' memory (a recycled recorder allocates nothing).
    pub fn reset(&mut self) {
        for c in &mut self.clusters {
            // An empty histogram is already zero: resetting it would still walk its counts.
            for h in c.hists.iter_mut().chain(c.route_hists.iter_mut()).flatten() {
                if !h.is_empty() {
                    h.reset();
                }
            }
            c.counts = Counts::default();
        }
    }

    /// Takes the contents, leaving an empty recorder.
    pub fn take(&mut self) -> Recorder {
        let n = self.clusters.len();
        std::mem::replace(self, Recorder::new(n))
    }

    /// Totals across clusters.
    pub fn totals(&self) -> Counts {
        let mut t = Counts::default();
        for c in &self.clusters {
            t.merge(&c.counts);
        }
        t
    }

    /// A step's histogram merged across clusters.
    pub fn step_all(&self, step: Step) -> Option<Histogram<u64>> {
        let mut out: Option<Histogram<u64>> = None;
        for c in &self.clusters {
            if let Some(h) = c.hist(step) {
                match &mut out {
                    Some(o) => {
                        let _ = o.add(h);
                    }
                    None => out = Some(h.clone()),
                }
            }
        }
        out
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.clusters.iter().all(|c| {
            c.hists.iter().flatten().all(Histogram::is_empty) && c.counts == Counts::default()
        })
    }
}

/// What the progress line, the TUI and the report read: whole and immutable.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Time since the run started.
    pub elapsed: Duration,
    /// Everything so far.
    pub total: Recorder,
    /// Journeys in flight, or waiting for their intended start (closed-model think time).
    pub in_flight: u64,
    /// The name of the current phase.
    pub phase: String,
    /// Phones the fleet believes logged in, per cluster (target order): the state population.
    pub logged_in: Vec<u64>,
    /// Phones by state, per cluster (target order), as of the shards' last flush.
    pub states: Vec<PhoneStates>,
}

/// How many phones of a cluster are in each state (counted by the shards at each flush).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhoneStates {
    /// Idle, nobody logged in (the logout profile).
    pub logged_out: u64,
    /// A login journey in flight (EM page, submit, restart, re-register).
    pub logging_in: u64,
    /// Idle, a user logged in.
    pub logged_in: u64,
    /// A logout journey in flight.
    pub logging_out: u64,
    /// Another journey in flight (boot, status, a registration refresh).
    pub busy_other: u64,
    /// In a call, placed or answered (ringing included).
    pub in_call: u64,
    /// Unknown: its journey was abandoned at a deadline.
    pub unknown: u64,
}

impl PhoneStates {
    /// Adds another count.
    pub fn add(&mut self, o: &PhoneStates) {
        self.logged_out += o.logged_out;
        self.logging_in += o.logging_in;
        self.logged_in += o.logged_in;
        self.logging_out += o.logging_out;
        self.busy_other += o.busy_other;
        self.in_call += o.in_call;
        self.unknown += o.unknown;
    }
}

impl Snapshot {
    /// The snapshot before anything ran, for `n` clusters.
    pub fn empty(n: usize) -> Self {
        Self {
            elapsed: Duration::ZERO,
            total: Recorder::new(n),
            in_flight: 0,
            phase: String::new(),
            logged_in: vec![0; n],
            states: vec![PhoneStates::default(); n],
        }
    }
}

/// Where the aggregator writes each interval: the HdrHistogram interval log and the CSV
/// time series (both optional).
pub struct Sinks<'a> {
    /// Standard interval log (`Tag=<step>.<cluster>,start,duration,max,histogram`).
    pub hlog: Option<
        hdrhistogram::serialization::interval_log::IntervalLogWriter<
            'a,
            'a,
            Box<dyn Write + Send>,
            hdrhistogram::serialization::V2DeflateSerializer,
        >,
    >,
    /// CSV rows, one per interval.
    pub csv: Option<Box<dyn Write + Send>>,
    /// Cluster names, in target order.
    pub clusters: Vec<String>,
}

impl std::fmt::Debug for Sinks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sinks")
            .field("hlog", &self.hlog.is_some())
            .field("csv", &self.csv.is_some())
            .finish()
    }
}

/// The CSV time series header.
pub const CSV_HEADER: &str = "elapsed_s,interval_s,logins_attempted,logins_ok,logouts_attempted,logouts_ok,busy,failed,late_starts,dropped,in_flight,journey_p50_ms,journey_p99_ms,journey_max_ms\n";

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl Sinks<'_> {
    /// Writes one interval: its histograms to the log, a row to the CSV.
    ///
    /// # Errors
    /// I/O.
    pub fn interval(
        &mut self,
        start: Duration,
        len: Duration,
        delta: &Recorder,
        in_flight: u64,
    ) -> std::io::Result<()> {
        if let Some(log) = &mut self.hlog {
            for (ci, c) in delta.clusters().iter().enumerate() {
                for step in Step::ALL {
                    if let Some(h) = c.hist(step) {
                        let name = format!(
                            "{}.{}",
                            step.name(),
                            self.clusters.get(ci).map_or("?", String::as_str)
                        );
                        let tag = hdrhistogram::serialization::interval_log::Tag::new(&name);
                        log.write_histogram(h, start, len, tag)
                            .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
                    }
                }
            }
        }
        if let Some(csv) = &mut self.csv {
            let t = delta.totals();
            let j = delta.step_all(Step::Journey);
            let q = |p: f64| j.as_ref().map_or(0.0, |h| ms(h.value_at_quantile(p)));
            writeln!(
                csv,
                "{:.3},{:.3},{},{},{},{},{},{},{},{},{},{:.3},{:.3},{:.3}",
                (start + len).as_secs_f64(),
                len.as_secs_f64(),
                t.logins_attempted,
                t.logins_ok,
                t.logouts_attempted,
                t.logouts_ok,
                t.busy,
                t.failed,
                t.late_starts,
                t.dropped,
                in_flight,
                q(0.5),
                q(0.99),
                j.as_ref().map_or(0.0, |h| ms(h.max())),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::phone::{Failure, Success};

    fn sample(step: Step, ms: u64) -> StepSample {
        let t = Instant::now();
        StepSample {
            step,
            start: t,
            end: t + Duration::from_millis(ms),
        }
    }

    fn fail(cause: Cause) -> TaskOutcome {
        TaskOutcome {
            task: TaskKind::Login,
            result: Err(Failure {
                shown: cause.shown(TaskKind::Login),
                cause,
                step: Step::LoginSubmit,
            }),
        }
    }

    #[test]
    fn merge_keeps_busy_apart_and_percentiles_exact() {
        let mut a = Recorder::new(2);
        let mut b = Recorder::new(2);
        for i in 1..=100 {
            a.sample(0, &sample(Step::Journey, i));
        }
        b.sample(1, &sample(Step::Journey, 1000));
        a.outcome(0, &fail(Cause::Em(26)));
        b.outcome(0, &fail(Cause::Em(201)));
        b.outcome(1, &fail(Cause::Timeout));
        a.outcome(
            0,
            &TaskOutcome {
                task: TaskKind::Login,
                result: Ok(Success::LoggedIn),
            },
        );
        a.started(0, TaskKind::Login, Duration::from_millis(50));
        a.started(0, TaskKind::Login, Duration::ZERO);
        let mut total = Recorder::new(2);
        total.merge(&a.take());
        total.merge(&b);
        assert!(a.is_empty());
        let t = total.totals();
        assert_eq!(
            (
                t.busy,
                t.failed,
                t.logins_ok,
                t.late_starts,
                t.logins_attempted
            ),
            (1, 2, 1, 1, 2)
        );
        assert_eq!(t.by_cause["em_26"], 1);
        assert_eq!(t.by_cause["em_201"], 1);
        let h = total.clusters()[0].hist(Step::Journey).unwrap();
        assert_eq!(h.len(), 100);
        assert!((h.value_at_quantile(0.5) as f64 / 1000.0 - 50.0).abs() < 0.1);
        assert_eq!(total.step_all(Step::Journey).unwrap().len(), 101);
        assert!(total.clusters()[0].hist(Step::Config).is_none());
    }

    #[test]
    fn a_reset_recorder_is_empty_and_keeps_nothing_visible() {
        let mut r = Recorder::new(1);
        r.sample(0, &sample(Step::EmPage, 5));
        r.outcome(0, &fail(Cause::Timeout));
        r.reset();
        assert!(r.is_empty());
        assert!(r.clusters()[0].hist(Step::EmPage).is_none());
        assert!(r.step_all(Step::EmPage).is_none());
        let mut total = Recorder::new(1);
        total.merge(&r);
        assert!(total.is_empty());
        r.sample(0, &sample(Step::EmPage, 7));
        total.merge(&r);
        assert_eq!(total.clusters()[0].hist(Step::EmPage).unwrap().len(), 1);
    }

    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn csv_and_hlog_rows() {
        let mut r = Recorder::new(1);
        r.sample(0, &sample(Step::Journey, 20));
        let (log_buf, csv_buf) = (Shared::default(), Shared::default());
        let mut ser = hdrhistogram::serialization::V2DeflateSerializer::new();
        let mut out: Box<dyn Write + Send> = Box::new(log_buf.clone());
        let log = hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder::new()
            .with_max_value_divisor(1000.0)
            .begin_log_with(&mut out, &mut ser)
            .unwrap();
        let mut sinks = Sinks {
            hlog: Some(log),
            csv: Some(Box::new(csv_buf.clone())),
            clusters: vec!["c1".into()],
        };
        sinks
            .interval(Duration::ZERO, Duration::from_secs(1), &r, 3)
            .unwrap();
        drop(sinks);
        let log = String::from_utf8(log_buf.0.lock().unwrap().clone()).unwrap();
        assert!(
            log.contains("\nTag=journey.c1,0.000,1.000,20.015,"),
            "{log}"
        );
        let csv = String::from_utf8(csv_buf.0.lock().unwrap().clone()).unwrap();
        assert!(
            csv.starts_with("1.000,1.000,0,0,0,0,0,0,0,0,3,20."),
            "{csv}"
        );
        // The log parses back with the crate's reader.
        let n = hdrhistogram::serialization::interval_log::IntervalLogIterator::new(log.as_bytes())
            .filter(|e| e.is_ok())
            .count();
        assert_eq!(n, 1);
    }
}
