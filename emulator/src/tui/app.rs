//! The dashboard's state: what the clusters and the fleet looked like at the last refresh,
//! the screen, the selection and the last control's outcome. No terminal, no I/O, no tokio:
//! [`super::update::update`] changes it, [`super::ui`] reads it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use crate::fleet::profile::{Model, Phase};
use crate::fleet::stats::Snapshot;

/// The most numbers the poller asks each cluster's ILS about per poll (the roaming users on
/// view, most recent first).
pub const MAX_LOCATE: usize = 8;

/// How many per-second samples a cluster keeps for its rates and sparklines (5 minutes).
pub const HISTORY: usize = 300;

/// The numbered screens, as SIPp users know them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Screen {
    /// 1: clusters at a glance and the fleet's totals.
    #[default]
    Overview,
    /// 2: every RTMT counter of every cluster, with rates and sparklines.
    Clusters,
    /// 3: step and journey latency percentiles, last interval and whole run.
    Latency,
    /// 4: outcomes by EM code and failure cause, busy (26) apart.
    Errors,
    /// 5: phones by state, per cluster, and who each phone carries.
    Phones,
    /// 6: the roaming users: where the fleet and each cluster's ILS believe they are.
    Roaming,
}

impl Screen {
    /// All screens, in key order (`1`..`6`).
    pub const ALL: [Screen; 6] = [
        Screen::Overview,
        Screen::Clusters,
        Screen::Latency,
        Screen::Errors,
        Screen::Phones,
        Screen::Roaming,
    ];

    /// Its tab title.
    pub fn title(self) -> &'static str {
        match self {
            Screen::Overview => "1 Overview",
            Screen::Clusters => "2 Clusters",
            Screen::Latency => "3 Latency",
            Screen::Errors => "4 Errors",
            Screen::Phones => "5 Phones",
            Screen::Roaming => "6 Roaming",
        }
    }

    /// Its tab title where the header is narrow (`1 Ovr`).
    pub fn short_title(self) -> &'static str {
        match self {
            Screen::Overview => "1 Ovr",
            Screen::Clusters => "2 Clu",
            Screen::Latency => "3 Lat",
            Screen::Errors => "4 Err",
            Screen::Phones => "5 Pho",
            Screen::Roaming => "6 Roam",
        }
    }
}

/// RTMT's "Cisco Extension Mobility" counters of one cluster at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
pub struct Rtmt {
    /// EM requests answered.
    #[serde(rename = "RequestsHandled", default)]
    pub requests_handled: u64,
    /// EM requests being served now (a gauge against Maximum Concurrent Requests).
    #[serde(rename = "RequestsInProgress", default)]
    pub requests_in_progress: u64,
    /// EM requests refused with 26 (busy) because of Maximum Concurrent Requests.
    #[serde(rename = "RequestsThrottled", default)]
    pub requests_throttled: u64,
    /// Successful logins.
    #[serde(rename = "LoginsSuccessful", default)]
    pub logins_successful: u64,
    /// Successful logouts.
    #[serde(rename = "LogoutsSuccessful", default)]
    pub logouts_successful: u64,
    /// Login and logout requests attempted.
    #[serde(rename = "Total Login/LogoutRequestsAttempted", default)]
    pub attempted: u64,
}

impl Rtmt {
    /// The counters with their exact RTMT names, in RTMT's order.
    pub fn named(&self) -> [(&'static str, u64); 6] {
        [
            ("RequestsInProgress", self.requests_in_progress),
            ("RequestsThrottled", self.requests_throttled),
            ("RequestsHandled", self.requests_handled),
            ("LoginsSuccessful", self.logins_successful),
            ("LogoutsSuccessful", self.logouts_successful),
            ("Total Login/LogoutRequestsAttempted", self.attempted),
        ]
    }
}

/// A reference cluster's SIP registrar and proxy figures at one moment (`/metrics.json`'s
/// `sip`, `null` there when the cluster runs without SIP). emroam's own figures, not an RTMT
/// object: a lab CUCM has none.
pub use emroam_schema::counters::SipCounters;

/// What one poll of one cluster saw (the poller's output, the dashboard's input).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterObs {
    /// Cluster ID.
    pub id: String,
    /// Whether it answered `/metrics.json`.
    pub up: bool,
    /// Its counters, when it answered.
    pub counters: Option<Rtmt>,
    /// EM answers by code, when it answered.
    pub codes: BTreeMap<String, u64>,
    /// Its SIP figures, when it answered counters with a `sip` object (none: no SIP, or no
    /// counters at all).
    pub sip: Option<SipCounters>,
    /// Maximum Concurrent Requests, from `/admin/clusters/{id}` (when that answered).
    pub max_concurrent: Option<u32>,
    /// EM application, EM service, listeners running (from the admin status).
    pub switches: Option<(bool, bool, bool)>,
    /// Committed logins (from the admin status).
    pub logins: Option<usize>,
    /// ILS sync status per peer (`peer → status`), when the cluster reports it.
    pub ils_peers: BTreeMap<String, String>,
    /// Where its ILS places the numbers the dashboard asked about (`dn → cluster`; `None`:
    /// not known there); `None` altogether: it has no admin API to ask (a lab CUCM) or is down.
    pub located: Option<BTreeMap<String, Option<String>>>,
    /// Why it is shown as down.
    pub error: Option<String>,
}

/// One cluster as the dashboard shows it.
#[derive(Debug, Clone)]
pub struct ClusterView {
    /// Cluster ID.
    pub id: String,
    /// Base URL of its HTTP port (`http://127.0.0.1:8080`).
    pub base: String,
    /// Its ILS role (`hub`, `spoke of cluster2`, `standalone`, `?`).
    pub ils_role: String,
    /// Its ILS peers (the other hubs, or a spoke's hub): whom `x` cuts it from.
    pub ils_peers: Vec<String>,
    /// The latest poll (none yet: "waiting").
    pub last: Option<ClusterObs>,
    /// Counters once a second while it answered, newest last; at most [`HISTORY`].
    pub history: VecDeque<Rtmt>,
    /// SIP figures once a second while it answered with them, newest last; at most
    /// [`HISTORY`]. Emptied when it answers counters without SIP, so "no SIP" is shown rather
    /// than stale figures; kept while it is down, like `history`.
    pub sip_history: VecDeque<SipCounters>,
}

impl ClusterView {
    /// A cluster not polled yet.
    pub fn new(id: &str, base: &str, ils_role: &str, ils_peers: Vec<String>) -> Self {
        Self {
            id: id.into(),
            base: base.into(),
            ils_role: ils_role.into(),
            ils_peers,
            last: None,
            history: VecDeque::new(),
            sip_history: VecDeque::new(),
        }
    }

    /// Whether the last poll got an answer.
    pub fn is_up(&self) -> bool {
        self.last.as_ref().is_some_and(|o| o.up)
    }

    /// The latest counters (kept from the last answer while it is down).
    pub fn counters(&self) -> Option<Rtmt> {
        self.history.back().copied()
    }

    /// The latest SIP figures (kept from the last answer while it is down); `None`: the
    /// cluster has no SIP (or has not answered counters yet).
    pub fn sip(&self) -> Option<&SipCounters> {
        self.sip_history.back()
    }

    /// A counter's increase per second over the last `secs` samples (a gauge's is meaningless;
    /// callers do not ask). Counters going backwards (a restart) count from zero.
    pub fn rate(&self, f: fn(&Rtmt) -> u64, secs: usize) -> f64 {
        rate_of(&self.history, f, secs)
    }

    /// [`Self::rate`] of a SIP counter.
    pub fn sip_rate(&self, f: fn(&SipCounters) -> u64, secs: usize) -> f64 {
        rate_of(&self.sip_history, f, secs)
    }

    /// A counter's per-second increases (or a gauge's values), oldest first, for a sparkline.
    pub fn series(&self, f: fn(&Rtmt) -> u64, gauge: bool) -> Vec<u64> {
        if gauge {
            return self.history.iter().map(f).collect();
        }
        self.history
            .iter()
            .zip(self.history.iter().skip(1))
            .map(|(a, b)| f(b).saturating_sub(f(a)))
            .collect()
    }
}

/// A counter's increase per second over the last `secs` of once-a-second samples.
fn rate_of<T>(history: &VecDeque<T>, f: fn(&T) -> u64, secs: usize) -> f64 {
    let n = history.len();
    if n < 2 {
        return 0.0;
    }
    let k = secs.min(n - 1).max(1);
    let (a, b) = (f(&history[n - 1 - k]), f(&history[n - 1]));
    b.saturating_sub(a) as f64 / k as f64
}

/// The fleet as the dashboard shows it (absent in `emroam tui`).
#[derive(Debug, Clone)]
pub struct FleetView {
    /// The profile's name.
    pub name: String,
    /// The profile's phases (for the intended arrival rate).
    pub phases: Vec<Phase>,
    /// Phones per cluster, in target order.
    pub phones: Vec<u64>,
    /// The latest snapshot.
    pub snap: Arc<Snapshot>,
    /// The one before it (for the last interval's rates and latency).
    pub prev: Arc<Snapshot>,
    /// Starting work is paused (the control the dashboard last sent).
    pub paused: bool,
    /// The arrival-rate factor the dashboard last sent (1.0: the profile's).
    pub rate_factor: f64,
    /// The run ended (drained, reported); the dashboard stays until `q`.
    pub finished: bool,
    /// Device names per cluster (target order), for screen 5's list.
    pub devices: Vec<Vec<String>>,
    /// The selected phone on screen 5 (index into the selected cluster's devices).
    pub phone: usize,
    /// The traced phone's last journey.
    pub trace: Arc<crate::fleet::PhoneTrace>,
    /// Arrivals so far (the open phases' arrivals, started or dropped) and journeys started
    /// so far (closed-model ones too) at each snapshot's `elapsed`, newest last, over the last
    /// [`RATE_WINDOW`] and one more: the rates' window.
    pub arrivals: VecDeque<(Duration, u64, u64)>,
}

/// The window the fleet's arrival rate is measured over: one second holds 0, 1 or 2 arrivals
/// of a 1/s process, so a one-interval rate mostly reads 0 or 2.
pub const RATE_WINDOW: Duration = Duration::from_secs(5);

impl FleetView {
    /// A fleet before its first snapshot.
    pub fn new(name: &str, phases: Vec<Phase>, phones: Vec<u64>) -> Self {
        let empty = Arc::new(Snapshot::empty(phones.len()));
        Self {
            name: name.into(),
            phases,
            phones,
            snap: empty.clone(),
            prev: empty,
            paused: false,
            rate_factor: 1.0,
            finished: false,
            devices: Vec::new(),
            phone: 0,
            trace: Arc::default(),
            arrivals: VecDeque::new(),
        }
    }

    /// Takes a new snapshot: the last one becomes `prev`, its arrivals join the window.
    pub fn push(&mut self, s: Arc<Snapshot>) {
        let t = s.total.totals();
        self.arrivals
            .push_back((s.elapsed, t.arrivals_started + t.dropped, t.attempted()));
        while self
            .arrivals
            .front()
            .zip(self.arrivals.get(1))
            .is_some_and(|(_, next)| s.elapsed.saturating_sub(next.0) >= RATE_WINDOW)
        {
            self.arrivals.pop_front();
        }
        self.prev = std::mem::replace(&mut self.snap, s);
    }

    /// The phases' total length (the profile's durations; boot and drain apart).
    pub fn total(&self) -> Duration {
        self.phases.iter().map(|p| p.duration).sum()
    }

    /// Time since the first phase began (`None` while the phones boot), at most [`Self::total`].
    pub fn run_clock(&self) -> Option<Duration> {
        let from = self.snap.phases_from?;
        Some(self.snap.elapsed.saturating_sub(from).min(self.total()))
    }

    /// The phase running at `t` on the phases' clock: its index, the phase, and its start.
    fn phase_at(&self, t: Duration) -> Option<(usize, &Phase, Duration)> {
        let mut start = Duration::ZERO;
        for (i, p) in self.phases.iter().enumerate() {
            let end = start + p.duration;
            if t < end {
                return Some((i, p, start));
            }
            start = end;
        }
        None
    }

    /// "phase 2/3 walk-up" (the phase now, counted from 1); "boot" before the first phase,
    /// "drain" after the last while the run finishes, "done" after.
    pub fn phase_label(&self) -> String {
        let Some(t) = self.run_clock() else {
            return if self.snap.phase.is_empty() {
                "starting".into()
            } else {
                self.snap.phase.clone()
            };
        };
        match self.phase_at(t) {
            _ if self.finished => "done".into(),
            Some((i, p, _)) => format!("phase {}/{} {}", i + 1, self.phases.len(), p.name),
            None => "drain".into(),
        }
    }

    /// The profile's intended arrival rate (logins + logouts per second) now, times the
    /// rate factor; `None` in a closed-model phase.
    pub fn intended_rate(&self) -> Option<f64> {
        let t = self.run_clock()?;
        let (_, p, start) = self.phase_at(t)?;
        let Model::Open { login, logout } = &p.model else {
            return None;
        };
        let x = if p.duration.is_zero() {
            0.0
        } else {
            ((t.saturating_sub(start)).as_secs_f64() / p.duration.as_secs_f64()).min(1.0)
        };
        let at = |r: &crate::fleet::profile::Rate| r.from + (r.to - r.from) * x;
        Some((at(login) + at(logout)) * self.rate_factor)
    }

    /// Whether the phase now is a closed model (phones with think time, no arrival rate).
    pub fn closed_now(&self) -> bool {
        self.run_clock()
            .and_then(|t| self.phase_at(t))
            .is_some_and(|(_, p, _)| matches!(p.model, Model::Closed { .. }))
    }

    /// Whether the run has SIP: anything registered, called or timed on a SIP step, or a phone
    /// in a call. Without it the dashboard hides its SIP lines and looks as it did before SIP.
    pub fn has_sip(&self) -> bool {
        let s = &self.snap;
        s.total.totals().sip != crate::fleet::stats::SipCounts::default()
            || s.states.iter().any(|p| p.in_call > 0)
            || s.total.clusters().iter().any(|c| {
                c.hist(crate::phone::Step::Register).is_some()
                    || c.hist(crate::phone::Step::CallSetup).is_some()
            })
    }

    /// Per second over the last [`RATE_WINDOW`]: arrivals (the open phases' arrivals, started
    /// or dropped: what the schedule offered) and journeys started (closed-model ones too);
    /// `None` before two snapshots.
    pub fn current_rate(&self) -> Option<(f64, f64)> {
        let ((t0, a0, s0), (t1, a1, s1)) = (self.arrivals.front()?, self.arrivals.back()?);
        let dt = t1.saturating_sub(*t0).as_secs_f64();
        let per_s = |a: u64, b: u64| b.saturating_sub(a) as f64 / dt;
        (dt > 0.0).then(|| (per_s(*a0, *a1), per_s(*s0, *s1)))
    }
}

/// The whole dashboard state.
#[derive(Debug, Clone, Default)]
pub struct App {
    /// The screen shown.
    pub screen: Screen,
    /// The help overlay is open.
    pub help: bool,
    /// With the help open: its second page, what the reported words mean.
    pub help_words: bool,
    /// The user quit with Ctrl-C (a key in raw mode): the command exits as if interrupted.
    pub interrupted: bool,
    /// The clusters, in topology (or target) order.
    pub clusters: Vec<ClusterView>,
    /// The selected cluster (index into `clusters`).
    pub selected: usize,
    /// The fleet, when there is one.
    pub fleet: Option<FleetView>,
    /// The last control sent and what came back, for the status line.
    pub status: String,
    /// Something changed since the last draw.
    pub dirty: bool,
    /// Quit was asked for.
    pub quitting: bool,
}

impl App {
    /// A dashboard for these clusters and, optionally, a fleet.
    pub fn new(clusters: Vec<ClusterView>, fleet: Option<FleetView>) -> Self {
        Self {
            clusters,
            fleet,
            status: String::new(),
            dirty: true,
            ..Self::default()
        }
    }

    /// The numbers of the roaming users on view (most recent first, at most
    /// [`MAX_LOCATE`]): what the poller asks each cluster's ILS about.
    pub fn roaming_dns(&self) -> Vec<String> {
        self.fleet.as_ref().map_or_else(Vec::new, |f| {
            f.snap
                .roamers
                .iter()
                .filter_map(|r| r.dn.clone())
                .take(MAX_LOCATE)
                .collect()
        })
    }

    /// A cluster's ID by the fleet's target index (`#i` when the dashboard has no such one).
    pub fn cluster_name(&self, i: usize) -> String {
        self.clusters
            .get(i)
            .map_or_else(|| format!("#{i}"), |c| c.id.clone())
    }

    /// The selected cluster, if there is any.
    pub fn selected_cluster(&self) -> Option<&ClusterView> {
        self.clusters.get(self.selected)
    }
}

/// A 10 s closed phase ("warm", 3 phones thinking 1 s), then an open one of `secs` at these
/// rates: the phases the dashboard's tests share.
#[cfg(test)]
pub(crate) fn warm_then_open(
    name: &str,
    secs: u64,
    login: crate::fleet::profile::Rate,
    logout: crate::fleet::profile::Rate,
) -> Vec<Phase> {
    use crate::fleet::profile::{Rate, Think};
    vec![
        Phase {
            name: "warm".into(),
            duration: Duration::from_secs(10),
            model: Model::Closed {
                phones: 3,
                think: Think::Constant(Duration::from_secs(1)),
            },
            calls: Rate::ZERO,
        },
        Phase {
            name: name.into(),
            duration: Duration::from_secs(secs),
            model: Model::Open { login, logout },
            calls: Rate::ZERO,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(handled: u64, inprog: u64) -> Rtmt {
        Rtmt {
            requests_handled: handled,
            requests_in_progress: inprog,
            ..Rtmt::default()
        }
    }

    #[test]
    fn rates_and_series_from_history() {
        let mut c = ClusterView::new("c1", "http://x", "hub", vec![]);
        assert_eq!(c.rate(|r| r.requests_handled, 10), 0.0);
        for (h, g) in [(0, 1), (10, 2), (30, 3), (60, 0)] {
            c.history.push_back(rt(h, g));
        }
        assert_eq!(c.rate(|r| r.requests_handled, 1), 30.0);
        assert_eq!(c.rate(|r| r.requests_handled, 60), 20.0);
        assert_eq!(c.series(|r| r.requests_handled, false), [10, 20, 30]);
        assert_eq!(c.series(|r| r.requests_in_progress, true), [1, 2, 3, 0]);
    }

    #[test]
    fn intended_rate_follows_the_phase_ramp_and_the_factor() {
        use crate::fleet::profile::Rate;
        let login = Rate {
            from: 0.0,
            to: 10.0,
        };
        let phases = warm_then_open("ramp", 10, login, Rate { from: 2.0, to: 2.0 });
        let mut f = FleetView::new("p", phases, vec![1]);
        let at = |f: &mut FleetView, secs: u64| {
            let mut s = Snapshot::empty(1);
            // The phones booted for 3 s: the phases' clock starts there.
            s.phases_from = Some(Duration::from_secs(3));
            s.elapsed = Duration::from_secs(secs + 3);
            f.snap = Arc::new(s);
            f.intended_rate()
        };
        assert_eq!(at(&mut f, 5), None);
        assert_eq!(at(&mut f, 15), Some(7.0));
        f.rate_factor = 2.0;
        assert_eq!(at(&mut f, 15), Some(14.0));
        assert_eq!(at(&mut f, 25), None);
    }

    #[test]
    fn counters_parse_from_metrics_json() {
        let doc = r#"{"RequestsHandled":5,"RequestsInProgress":1,"RequestsThrottled":2,
            "LoginsSuccessful":3,"LogoutsSuccessful":1,"Total Login/LogoutRequestsAttempted":7,
            "RequestsInProgressPeak":4,"codes":{"26":2}}"#;
        let r: Rtmt = serde_json::from_str(doc).unwrap();
        assert_eq!(r.named()[1], ("RequestsThrottled", 2));
        assert_eq!(r.attempted, 7);
    }
}
