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

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_US, 3).expect("valid histogram bounds")
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
    /// Its counts.
    pub counts: Counts,
}

impl ClusterStats {
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
            .saturating_record(us);
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

    /// Counts an arrival nobody could take.
    pub fn dropped(&mut self, cluster: usize) {
        if let Some(c) = self.clusters.get_mut(cluster) {
            c.counts.dropped += 1;
        }
    }

    /// Adds another recorder's contents.
    pub fn merge(&mut self, o: &Recorder) {
        for (mine, theirs) in self.clusters.iter_mut().zip(&o.clusters) {
            for (h, t) in mine.hists.iter_mut().zip(&theirs.hists) {
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
            for h in c.hists.iter_mut().flatten() {
                h.reset();
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
