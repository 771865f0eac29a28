//! A [`Recorder`]: what one shard records between flushes (an HdrHistogram per step and
//! cluster, counts by outcome and cause), merged by the aggregator. Never a list of samples.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::counts::{CallResult, Counts, Route};
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

    /// Counts an open-model arrival that started a journey.
    pub fn arrival_started(&mut self, cluster: usize) {
        if let Some(c) = self.clusters.get_mut(cluster) {
            c.counts.arrivals_started += 1;
        }
    }

    /// Counts an arrival nobody could take, and why.
    pub fn dropped(&mut self, cluster: usize, why: super::counts::Dropped) {
        if let Some(c) = self.clusters.get_mut(cluster) {
            c.counts.dropped += 1;
            *c.counts.dropped_by.entry(why.key().to_owned()).or_default() += 1;
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

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::phone::Success;

    fn sample(step: Step, ms: u64) -> StepSample {
        let t = Instant::now();
        StepSample {
            step,
            start: t,
            end: t + Duration::from_millis(ms),
        }
    }

    fn fail(cause: Cause) -> TaskOutcome {
        TaskOutcome::failed_at(TaskKind::Login, Step::LoginSubmit, cause)
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
}
