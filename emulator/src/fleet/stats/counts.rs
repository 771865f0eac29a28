//! What the fleet counts per cluster: journeys and their outcomes ([`Counts`]), SIP
//! registrations and calls ([`SipCounts`], by [`Route`]), and how a placed call is judged
//! ([`CallResult`]).

use std::collections::BTreeMap;

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
    /// Journeys started later than `LATE_AFTER` (10 ms) after their intended time.
    pub late_starts: u64,
    /// Open-model arrivals (logins and logouts at the phases' rates) that started a journey.
    pub arrivals_started: u64,
    /// Arrivals with no idle phone or free user to take them.
    pub dropped: u64,
    /// Dropped arrivals by why ([`Dropped::key`]).
    pub dropped_by: BTreeMap<String, u64>,
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
    pub(super) fn merge(&mut self, o: &Counts) {
        self.logins_attempted += o.logins_attempted;
        self.logins_ok += o.logins_ok;
        self.logouts_attempted += o.logouts_attempted;
        self.logouts_ok += o.logouts_ok;
        self.roaming_attempted += o.roaming_attempted;
        self.roaming_ok += o.roaming_ok;
        self.busy += o.busy;
        self.failed += o.failed;
        self.late_starts += o.late_starts;
        self.arrivals_started += o.arrivals_started;
        self.dropped += o.dropped;
        for (k, v) in &o.dropped_by {
            *self.dropped_by.entry(k.clone()).or_default() += v;
        }
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

/// Why an arrival was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// Every phone was in a journey (or its state unknown).
    NoIdlePhone,
    /// A login, but every idle phone already had someone logged in.
    AllLoggedIn,
    /// A logout, but nobody was logged in on an idle phone.
    NobodyLoggedIn,
    /// A phone was free but every user was busy or logged in elsewhere.
    NoFreeUser,
}

impl Dropped {
    /// The key in `dropped_by`.
    pub fn key(self) -> &'static str {
        match self {
            Dropped::NoIdlePhone => "no_idle_phone",
            Dropped::AllLoggedIn => "all_phones_logged_in",
            Dropped::NobodyLoggedIn => "nobody_logged_in",
            Dropped::NoFreeUser => "no_free_user",
        }
    }
}
