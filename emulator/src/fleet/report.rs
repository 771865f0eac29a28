//! The end of a run: SLO evaluation, the final table, and the JSON summary.
//!
//! # JSON summary schema (`summary.json`, `schema` = `emroam.fleet.summary`, version 1)
//!
//! ```text
//! {
//!   "schema": "emroam.fleet.summary", "schema_version": 1,
//!   "profile": str, "elapsed_s": f64, "cancelled": bool,
//!   "latency_from": "intended_start",            // no coordinated omission
//!   "totals": Counts & { "attempted", "succeeded", "success_ratio", "busy_ratio",
//!                        "journeys_per_s", "logins_ok_per_s" },
//!   "steps":    [StepStats],                      // all clusters merged
//!   "clusters": [{ "cluster": str, "counts": Counts, "steps": [StepStats] }],
//!   "slo":      [{ "name": str, "threshold": f64, "actual": f64, "passed": bool }],
//!   "reconcile": null | { "checked", "agree", "leaked": [..], "missing": [..],
//!                         "unknown", "users_checked", "users_elsewhere": [..],
//!                         "skipped": [..], "errors": [..] },
//!   "faults":   [{ "at_s", "request", "result" }],
//!   "call_setup_by_route": [StepStats],         // step = "call_setup.local" | ".trunk"
//!   "start": { "policy": "logout" | "adopt" | "refuse",   // found_logged_in
//!              "found": [{ "cluster", "device", "user", "fleet_phone", "done" }],
//!              "logged_out", "unchecked": [cluster], "errors": [str] },
//!   "stopped_early": null | { "cluster", "address", "since_s", "at_s" },  // target lost
//!   "arrivals": null | { "intended", "started", "intended_per_s", "achieved_per_s", "ratio" },
//!   "story": [{ "at_s", "step", "say"?, "ok", "detail" }],  // [[story]] steps, in order
//!   "sip_ring_ms": null | f64                   // [sip] ring: inside every answered call's setup
//! }
//! Counts    = { logins_attempted, logins_ok, logouts_attempted, logouts_ok, roaming_attempted,
//!               roaming_ok, busy, failed, late_starts, arrivals_started, dropped, abandoned,
//!               dropped_by: { "no_idle_phone" | "all_phones_logged_in" | "nobody_logged_in"
//!                             | "no_free_user": n },
//!               by_cause: { "em_26": n, "timeout": n, ... }, sip: SipCounts }
//! SipCounts = { boots_ok, boots_failed, refreshes_ok, refreshes_failed, restarts,
//!               calls_attempted, calls_ok, calls_busy, calls_failed, calls_misrouted,
//!               calls_unverified, calls_dropped, answered, missed, retransmissions,
//!               by_route: { "local" | "trunk": { attempted, ok,
//!                                                by_status: { "200": n, "486": n,
//!                                                             "timeout": n, ... } } } }
//! StepStats = { step, count, min_ms, mean_ms, p50_ms, p90_ms, p99_ms, p999_ms, max_ms }
//! ```
//!
//! Busy (26) is counted apart: `success_ratio` = succeeded / (attempted − busy − abandoned),
//! `busy_ratio` = busy / attempted. An SLO's `threshold` and `actual` are exact (ms for
//! `p99.*`, a fraction 0..=1 for `*_ratio`); the table rounds them. Adding fields keeps the
//! version; renaming or removing one bumps it.

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

mod slo;

pub use slo::SloResult;
use slo::{evaluate, short, slo_figures};

use super::reconcile::Reconciliation;
use super::start::StartState;
use super::stats::{Counts, Recorder};
use super::story::{self, StoryResult};
use super::watchdog::Lost;
use super::{FaultResult, RunResult};
use crate::phone::Step;

/// The schema name in `summary.json`.
pub const SCHEMA: &str = "emroam.fleet.summary";
/// The schema version in `summary.json`.
pub const SCHEMA_VERSION: u32 = 1;

/// Latency statistics of one step.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StepStats {
    /// Step name.
    pub step: &'static str,
    /// Samples.
    pub count: u64,
    /// Minimum (ms).
    pub min_ms: f64,
    /// Mean (ms).
    pub mean_ms: f64,
    /// Median (ms).
    pub p50_ms: f64,
    /// 90th percentile (ms).
    pub p90_ms: f64,
    /// 99th percentile (ms).
    pub p99_ms: f64,
    /// 99.9th percentile (ms).
    pub p999_ms: f64,
    /// Maximum (ms).
    pub max_ms: f64,
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl StepStats {
    fn of(step: Step, h: &Histogram<u64>) -> Self {
        Self::named(step.name(), h)
    }

    fn named(step: &'static str, h: &Histogram<u64>) -> Self {
        Self {
            step,
            count: h.len(),
            min_ms: ms(h.min()),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// Totals with derived ratios and rates.
#[derive(Debug, Clone, Serialize)]
pub struct Totals {
    /// The raw counts.
    #[serde(flatten)]
    pub counts: Counts,
    /// Logins + logouts started.
    pub attempted: u64,
    /// Logins + logouts that succeeded.
    pub succeeded: u64,
    /// succeeded / (attempted − busy − abandoned); 1 when nothing counted.
    pub success_ratio: f64,
    /// busy / attempted; 0 when nothing was attempted.
    pub busy_ratio: f64,
    /// Journeys finished per second.
    pub journeys_per_s: f64,
    /// Successful logins per second.
    pub logins_ok_per_s: f64,
}

impl Totals {
    fn of(c: Counts, secs: f64) -> Self {
        let attempted = c.attempted();
        let succeeded = c.succeeded();
        let denom = attempted.saturating_sub(c.busy + c.abandoned);
        let per_s = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        Self {
            attempted,
            succeeded,
            success_ratio: if denom == 0 {
                1.0
            } else {
                succeeded as f64 / denom as f64
            },
            busy_ratio: if attempted == 0 {
                0.0
            } else {
                c.busy as f64 / attempted as f64
            },
            journeys_per_s: per_s(attempted),
            logins_ok_per_s: per_s(c.logins_ok),
            counts: c,
        }
    }
}

/// One cluster's part.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterSummary {
    /// Cluster name.
    pub cluster: String,
    /// Its counts.
    pub counts: Counts,
    /// Its steps.
    pub steps: Vec<StepStats>,
}

/// The open phases' arrivals: how many the profile intended (logins and logouts at its rates,
/// up to where the run got) and how many started a journey.
#[derive(Debug, Clone, Serialize)]
pub struct ArrivalRate {
    /// Arrivals the rates intend.
    pub intended: f64,
    /// Arrivals that started a journey.
    pub started: u64,
    /// Intended per second of open phases.
    pub intended_per_s: f64,
    /// Started per second of open phases.
    pub achieved_per_s: f64,
    /// `started / intended`.
    pub ratio: f64,
}

impl ArrivalRate {
    fn of(run: &RunResult) -> Option<Self> {
        let p = &run.profile;
        let ran = run.elapsed.min(p.duration());
        let intended = p.intended_arrivals(ran);
        let secs = p.open_time(ran).as_secs_f64();
        if intended <= 0.0 || secs <= 0.0 {
            return None;
        }
        let started = run.total.totals().arrivals_started;
        Some(Self {
            intended,
            started,
            intended_per_s: intended / secs,
            achieved_per_s: started as f64 / secs,
            ratio: started as f64 / intended,
        })
    }

    fn line(&self) -> String {
        format!(
            "arrivals (open phases): {} started of {:.0} intended ({:.1} %): {:.1}/s achieved of {:.1}/s intended",
            self.started,
            self.intended,
            self.ratio * 100.0,
            self.achieved_per_s,
            self.intended_per_s
        )
    }
}

/// The JSON summary (see the module docs for the schema).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Profile name.
    pub profile: String,
    /// Wall time.
    pub elapsed_s: f64,
    /// Cut short by Ctrl-C.
    pub cancelled: bool,
    /// Always `intended_start`.
    pub latency_from: &'static str,
    /// Totals.
    pub totals: Totals,
    /// Steps, all clusters merged.
    pub steps: Vec<StepStats>,
    /// Per cluster.
    pub clusters: Vec<ClusterSummary>,
    /// Thresholds.
    pub slo: Vec<SloResult>,
    /// Reconciliation.
    pub reconcile: Option<Reconciliation>,
    /// Faults fired.
    pub faults: Vec<FaultResult>,
    /// Call setup (INVITE to the final answer) by route, all clusters merged.
    pub call_setup_by_route: Vec<StepStats>,
    /// What the run found logged in at its start and what it did about it.
    pub start: StartState,
    /// The target whose loss stopped the run before its end (`null`: none did).
    pub stopped_early: Option<Lost>,
    /// The open phases' intended and achieved arrivals (`null`: no open phase ran).
    pub arrivals: Option<ArrivalRate>,
    /// The profile's story, step by step (empty without `[[story]]`).
    pub story: Vec<StoryResult>,
    /// The profile's `[sip] ring` (ms): how long a called phone rings before it answers, so a
    /// part of every answered call's setup. `None` without SIP.
    pub sip_ring_ms: Option<f64>,
}

impl Summary {
    /// Builds the summary of a run.
    pub fn of(run: &RunResult, reconcile: Option<Reconciliation>) -> Self {
        let secs = run.elapsed.as_secs_f64();
        let steps = steps_of(&run.total, None);
        let clusters = run
            .profile
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| ClusterSummary {
                cluster: t.cluster.clone(),
                counts: run.total.clusters()[i].counts.clone(),
                steps: steps_of(&run.total, Some(i)),
            })
            .collect();
        let totals = Totals::of(run.total.totals(), secs);
        let arrivals = ArrivalRate::of(run);
        let slo = evaluate(run, &totals, arrivals.as_ref());
        Self {
            schema: SCHEMA,
            schema_version: SCHEMA_VERSION,
            profile: run.profile.name.clone(),
            elapsed_s: secs,
            cancelled: run.cancelled,
            latency_from: "intended_start",
            totals,
            steps,
            clusters,
            slo,
            reconcile,
            faults: run.faults.clone(),
            call_setup_by_route: route_setups(&run.total),
            start: run.start.clone(),
            stopped_early: run.lost.clone(),
            arrivals,
            story: run.story.clone(),
            sip_ring_ms: run
                .profile
                .sip
                .as_ref()
                .map(|s| s.answer.ring.as_secs_f64() * 1000.0),
        }
    }

    /// Whether every threshold held and the run was not stopped early by a lost target.
    pub fn passed(&self) -> bool {
        self.stopped_early.is_none() && self.slo.iter().all(|s| s.passed)
    }

    /// The final table for a terminal.
    pub fn table(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "emroam fleet `{}`: {:.1} s{}; latency measured from each journey's intended start",
            self.profile,
            self.elapsed_s,
            if self.cancelled { " (cancelled)" } else { "" }
        );
        if let Some(l) = &self.stopped_early {
            let _ = writeln!(o, "{}", l.line());
        }
        o.push_str(&self.start.lines());
        let _ = writeln!(
            o,
            "\n{:<15} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}   (ms)",
            "step", "count", "p50", "p90", "p99", "p99.9", "max"
        );
        for s in &self.steps {
            let _ = writeln!(
                o,
                "{:<15} {:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                s.step, s.count, s.p50_ms, s.p90_ms, s.p99_ms, s.p999_ms, s.max_ms
            );
        }
        let t = &self.totals;
        let c = &t.counts;
        let _ = writeln!(
            o,
            "\nlogins {}/{} ok, logouts {}/{} ok, {:.1} journeys/s, {:.1} logins/s",
            c.logins_ok,
            c.logins_attempted,
            c.logouts_ok,
            c.logouts_attempted,
            t.journeys_per_s,
            t.logins_ok_per_s
        );
        let _ = writeln!(
            o,
            "busy (26): {}  failed: {}  late starts: {}  dropped: {}  abandoned: {}  success ratio: {:.4}",
            c.busy, c.failed, c.late_starts, c.dropped, c.abandoned, t.success_ratio
        );
        if let Some(a) = &self.arrivals {
            let _ = writeln!(o, "{}", a.line());
        }
        if !c.dropped_by.is_empty() {
            let why: Vec<String> = c
                .dropped_by
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let _ = writeln!(o, "dropped by why: {}", why.join("  "));
        }
        if c.roaming_attempted > 0 {
            let _ = writeln!(
                o,
                "roaming logins (superusers on another cluster's phones): {}/{} ok, {:.0} % of the run's {} logins",
                c.roaming_ok,
                c.roaming_attempted,
                100.0 * c.roaming_attempted as f64 / c.logins_attempted.max(1) as f64,
                c.logins_attempted
            );
        }
        let sip = &c.sip;
        if sip.boots_ok + sip.boots_failed + sip.calls_attempted + sip.answered > 0 {
            let _ = writeln!(
                o,
                "SIP: {} phones booted ({} failed), {} refreshes ({} failed), {} restarts asked by a cluster, {} retransmissions",
                sip.boots_ok,
                sip.boots_failed,
                sip.refreshes_ok,
                sip.refreshes_failed,
                sip.restarts,
                sip.retransmissions
            );
            let _ = writeln!(
                o,
                "calls: {}/{} ok, busy (486) {}, failed {}, misrouted {}, unverified {}, dropped {}; answered {}, missed {}; success ratio {:.4}",
                sip.calls_ok,
                sip.calls_attempted,
                sip.calls_busy,
                sip.calls_failed,
                sip.calls_misrouted,
                sip.calls_unverified,
                sip.calls_dropped,
                sip.answered,
                sip.missed,
                sip.call_success_ratio()
            );
            if let Some(setup) = self.steps.iter().find(|s| s.step == "call_setup") {
                let _ = writeln!(
                    o,
                    "call setup p50 {} ms, p99 {} ms{}",
                    short(setup.p50_ms),
                    short(setup.p99_ms),
                    self.sip_ring_ms
                        .filter(|r| *r > 0.0)
                        .map(|r| format!(
                            " (an answered call's includes the callee's {} ms ring, [sip] ring)",
                            short(r)
                        ))
                        .unwrap_or_default()
                );
            }
            for (route, r) in &sip.by_route {
                let st: Vec<String> = r
                    .by_status
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let setup = self
                    .call_setup_by_route
                    .iter()
                    .find(|s| s.step.ends_with(route.as_str()))
                    .map_or("-".into(), |s| {
                        format!("setup p50 {:.1} / p99 {:.1} ms", s.p50_ms, s.p99_ms)
                    });
                let _ = writeln!(
                    o,
                    "  {route:<6} {}/{} ok, {setup}; by status: {}",
                    r.ok,
                    r.attempted,
                    st.join("  ")
                );
            }
        }
        if !c.by_cause.is_empty() {
            let causes: Vec<String> = c.by_cause.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(o, "outcomes by cause: {}", causes.join("  "));
        }
        if self.clusters.len() > 1 {
            for cl in &self.clusters {
                let j = cl.steps.iter().find(|s| s.step == "journey");
                let _ = writeln!(
                    o,
                    "  {:<12} logins {}/{}  logouts {}/{}  busy {}  failed {}  journey p99 {}",
                    cl.cluster,
                    cl.counts.logins_ok,
                    cl.counts.logins_attempted,
                    cl.counts.logouts_ok,
                    cl.counts.logouts_attempted,
                    cl.counts.busy,
                    cl.counts.failed,
                    j.map_or("-".into(), |s| format!("{:.1} ms", s.p99_ms))
                );
            }
        }
        if self.story.is_empty() {
            for f in &self.faults {
                let _ = writeln!(o, "fault at {:.1} s: {} → {}", f.at_s, f.request, f.result);
            }
        } else {
            // The faults are part of the story: told in their place among its steps.
            o.push_str(&story::lines(&self.story, &self.faults));
        }
        match &self.reconcile {
            Some(r) => {
                let _ = writeln!(
                    o,
                    "reconcile: {} devices checked, {} agree, {} leaked, {} missing, {} unknown{}{}",
                    r.checked,
                    r.agree,
                    r.leaked.len(),
                    r.missing.len(),
                    r.unknown,
                    if r.skipped.is_empty() {
                        String::new()
                    } else {
                        format!(", no EM API for {}", r.skipped.join(", "))
                    },
                    if r.errors.is_empty() {
                        String::new()
                    } else {
                        format!(", errors: {}", count_repeats(&r.errors))
                    },
                );
                if r.users_checked > 0 {
                    let _ = writeln!(
                        o,
                        "reconcile: {} users checked, {} logged in on devices outside the fleet",
                        r.users_checked,
                        r.users_elsewhere.len()
                    );
                }
                for u in r.users_elsewhere.iter().take(10) {
                    let _ = writeln!(o, "  {} is logged in on {}", u.user, u.devices.join(", "));
                }
                for m in r.leaked.iter().chain(&r.missing).take(10) {
                    let _ = writeln!(
                        o,
                        "  {}: fleet thinks {:?}, cluster says {:?}",
                        m.device, m.fleet, m.cluster
                    );
                }
            }
            None => {
                let _ = writeln!(o, "reconcile: not run");
            }
        }
        for s in &self.slo {
            let (actual, threshold) = slo_figures(s);
            let _ = writeln!(
                o,
                "SLO {} {}: {actual} (threshold {threshold}){}",
                if s.passed { "✔" } else { "✘" },
                s.name,
                s.note
                    .as_deref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            );
        }
        let c = &self.totals.counts;
        let with_sip =
            c.sip.boots_ok + c.sip.boots_failed + c.sip.calls_attempted + c.sip.answered > 0;
        let _ = writeln!(o, "\nwhat the words mean:");
        for l in super::glossary::lines(with_sip) {
            let _ = writeln!(o, "{l}");
        }
        o
    }
}

fn steps_of(total: &Recorder, cluster: Option<usize>) -> Vec<StepStats> {
    Step::ALL
        .iter()
        .filter_map(|&step| {
            let h = match cluster {
                Some(i) => total.clusters()[i].hist(step).cloned(),
                None => total.step_all(step),
            }?;
            (!h.is_empty()).then(|| StepStats::of(step, &h))
        })
        .collect()
}

fn route_setups(total: &Recorder) -> Vec<StepStats> {
    use super::stats::Route;
    [
        (Route::Local, "call_setup.local"),
        (Route::Trunk, "call_setup.trunk"),
    ]
    .into_iter()
    .filter_map(|(route, name)| {
        total
            .call_setup_all(Some(route))
            .map(|h| StepStats::named(name, &h))
    })
    .collect()
}

/// Joins error lines, folding repeats into one with a count (`cluster1: Host Not Found ×40`),
/// so a cluster that was down during reconciliation is one line, not one per batch.
fn count_repeats(errors: &[String]) -> String {
    let mut seen: Vec<(&str, usize)> = Vec::new();
    for e in errors {
        match seen.iter_mut().find(|(s, _)| *s == e.as_str()) {
            Some((_, n)) => *n += 1,
            None => seen.push((e, 1)),
        }
    }
    seen.iter()
        .map(|(e, n)| {
            if *n > 1 {
                format!("{e} ×{n}")
            } else {
                (*e).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn repeated_errors_are_folded_with_a_count() {
        let errs = vec![
            "c1: Host Not Found".to_owned(),
            "c1: users: x".to_owned(),
            "c1: Host Not Found".to_owned(),
        ];
        assert_eq!(
            super::count_repeats(&errs),
            "c1: Host Not Found ×2; c1: users: x"
        );
    }
}
