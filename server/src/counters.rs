//! Counters mirroring RTMT's "Cisco Extension Mobility" PerfMon object, plus counts by EM code.
//!
//! Plain atomics, bumped on the request path without locks; [`Counters::snapshot`] reads them
//! for `/metrics` (Prometheus text) and `/metrics.json`. RequestsThrottled is bumped exactly
//! once per code-26 answer, by [`Counters::try_begin`], so it equals the 26s clients see.
//!
//! The throttle is a compare-and-swap gauge rather than a `tokio::sync::Semaphore`: it is the
//! same non-queueing `try_acquire`, but its limit is read per request, so Maximum Concurrent
//! Requests can change at run time (admin API) without re-sizing permits, and the gauge *is*
//! RequestsInProgress, so the two can never disagree.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

// The snapshot types are the `/metrics.json` document's, shared with the dashboard that
// reads it back.
pub use emroam_schema::counters::{
    COUNTER_NAMES, EmCounters as CounterSnapshot, IlsCounters as IlsCounterSnapshot, PeerSyncStatus,
};

/// Codes are < 256 (EM service 0–47, EM application 201–216).
const CODE_SLOTS: usize = 256;

/// One cluster's counters.
#[derive(Debug)]
pub struct Counters {
    requests_handled: AtomicU64,
    in_progress: AtomicU64,
    /// Highest RequestsInProgress seen (emroam's check that the throttle holds).
    in_progress_peak: AtomicU64,
    throttled: AtomicU64,
    logins: AtomicU64,
    logouts: AtomicU64,
    attempted: AtomicU64,
    by_code: [AtomicU64; CODE_SLOTS],
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            requests_handled: AtomicU64::new(0),
            in_progress: AtomicU64::new(0),
            in_progress_peak: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            logins: AtomicU64::new(0),
            logouts: AtomicU64::new(0),
            attempted: AtomicU64::new(0),
            by_code: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// A held throttle slot: one login/logout in progress; released on drop.
#[derive(Debug)]
pub struct InProgress<'a> {
    counters: &'a Counters,
}

impl Drop for InProgress<'_> {
    fn drop(&mut self) {
        self.counters.in_progress.fetch_sub(1, Relaxed);
    }
}

impl Counters {
    /// Counts one EM HTTP request handled.
    pub fn request_handled(&self) {
        self.requests_handled.fetch_add(1, Relaxed);
    }

    /// Counts one login or logout attempt.
    pub fn attempted(&self) {
        self.attempted.fetch_add(1, Relaxed);
    }

    /// Counts a successful login.
    pub fn login_ok(&self) {
        self.logins.fetch_add(1, Relaxed);
    }

    /// Counts successful logouts.
    pub fn logouts_ok(&self, n: u64) {
        self.logouts.fetch_add(n, Relaxed);
    }

    /// Counts one answer with an EM error code.
    pub fn code(&self, code: u16) {
        if let Some(c) = self.by_code.get(usize::from(code)) {
            c.fetch_add(1, Relaxed);
        }
    }

    /// Takes a throttle slot if fewer than `max` operations are in progress; otherwise counts
    /// the request as throttled (the caller answers 26) and returns `None`. Never waits.
    pub fn try_begin(&self, max: u32) -> Option<InProgress<'_>> {
        let max = u64::from(max);
        let mut cur = self.in_progress.load(Relaxed);
        loop {
            if cur >= max {
                self.throttled.fetch_add(1, Relaxed);
                return None;
            }
            match self
                .in_progress
                .compare_exchange_weak(cur, cur + 1, Relaxed, Relaxed)
            {
                Ok(_) => {
                    self.in_progress_peak.fetch_max(cur + 1, Relaxed);
                    return Some(InProgress { counters: self });
                }
                Err(now) => cur = now,
            }
        }
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            requests_handled: self.requests_handled.load(Relaxed),
            requests_in_progress: self.in_progress.load(Relaxed),
            requests_throttled: self.throttled.load(Relaxed),
            logins_successful: self.logins.load(Relaxed),
            logouts_successful: self.logouts.load(Relaxed),
            attempted: self.attempted.load(Relaxed),
            requests_in_progress_peak: self.in_progress_peak.load(Relaxed),
            codes: self
                .by_code
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    let v = c.load(Relaxed);
                    (v > 0).then_some((i as u16, v))
                })
                .collect(),
        }
    }
}

/// ILS message refusal kinds, as [`emroam_protocol::ils::IlsError::kind`] names them, plus
/// `refused` (a handshake from a cluster that is not a peer, over a cut link, of another
/// version, or with no handshake slot free for its address).
pub const ILS_REJECT_KINDS: [&str; 7] = [
    "oversized",
    "malformed",
    "replayed",
    "unauthenticated",
    "invalid",
    "refused",
    "tls",
];

/// Why an ILS handshake on the listener did not become a session (see
/// [`IlsCounterSnapshot::handshakes_failed`]).
pub const ILS_HANDSHAKE_FAILURES: [&str; 7] = [
    "timeout",
    "closed",
    "bad_proof",
    "refused",
    "bad_input",
    "busy",
    "tls",
];

/// One cluster's ILS and EM roaming counters (emroam's own; CUCM has no PerfMon object for them).
#[derive(Debug, Default)]
pub struct IlsCounters {
    roaming_in: AtomicU64,
    roaming_out: AtomicU64,
    pwd_auth_failed: AtomicU64,
    messages_in: AtomicU64,
    messages_out: AtomicU64,
    dropped: AtomicU64,
    rejected: [AtomicU64; ILS_REJECT_KINDS.len()],
    handshakes_failed: [AtomicU64; ILS_HANDSHAKE_FAILURES.len()],
}

impl IlsCounters {
    /// A superuser of another home logged in here.
    pub fn roaming_login_in(&self) {
        self.roaming_in.fetch_add(1, Relaxed);
    }

    /// A user was logged out here because they logged in at another cluster.
    pub fn roaming_login_out(&self) {
        self.roaming_out.fetch_add(1, Relaxed);
    }

    /// The ILSPwdAuthenticationFailed alert was raised.
    pub fn pwd_auth_failed(&self) {
        self.pwd_auth_failed.fetch_add(1, Relaxed);
    }

    /// A sealed message was accepted.
    pub fn message_in(&self) {
        self.messages_in.fetch_add(1, Relaxed);
    }

    /// A sealed message was queued to a peer.
    pub fn message_out(&self) {
        self.messages_out.fetch_add(1, Relaxed);
    }

    /// A delta was dropped because a peer's queue was full (the next full sync repairs it).
    pub fn dropped(&self) {
        self.dropped.fetch_add(1, Relaxed);
    }

    /// Something a peer sent was refused (`kind` from [`ILS_REJECT_KINDS`]).
    pub fn rejected(&self, kind: &str) {
        if let Some(i) = ILS_REJECT_KINDS.iter().position(|k| *k == kind) {
            self.rejected[i].fetch_add(1, Relaxed);
        }
    }

    /// A handshake on the listener ended without a session (`reason` from
    /// [`ILS_HANDSHAKE_FAILURES`]).
    pub fn handshake_failed(&self, reason: &str) {
        if let Some(i) = ILS_HANDSHAKE_FAILURES.iter().position(|k| *k == reason) {
            self.handshakes_failed[i].fetch_add(1, Relaxed);
        }
    }

    /// Reads the counters; the caller adds the gauges it computes from state.
    pub fn snapshot(&self) -> IlsCounterSnapshot {
        IlsCounterSnapshot {
            roaming_logins_in: self.roaming_in.load(Relaxed),
            roaming_logins_out: self.roaming_out.load(Relaxed),
            ils_pwd_authentication_failed: self.pwd_auth_failed.load(Relaxed),
            messages_in: self.messages_in.load(Relaxed),
            messages_out: self.messages_out.load(Relaxed),
            deltas_dropped: self.dropped.load(Relaxed),
            rejected: ILS_REJECT_KINDS
                .iter()
                .zip(&self.rejected)
                .map(|(k, v)| ((*k).to_owned(), v.load(Relaxed)))
                .collect(),
            handshakes_failed: ILS_HANDSHAKE_FAILURES
                .iter()
                .zip(&self.handshakes_failed)
                .map(|(k, v)| ((*k).to_owned(), v.load(Relaxed)))
                .collect(),
            learned_dns: 0,
            deferred_logouts_pending: 0,
            peers: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_counts_exactly() {
        let c = Counters::default();
        let a = c.try_begin(2).unwrap();
        let b = c.try_begin(2).unwrap();
        assert!(c.try_begin(2).is_none());
        drop(a);
        let _d = c.try_begin(2).unwrap();
        drop(b);
        let s = c.snapshot();
        assert_eq!(s.requests_throttled, 1);
        assert_eq!(s.requests_in_progress, 1);
        assert_eq!(s.requests_in_progress_peak, 2);
    }

    #[test]
    fn prometheus_names_are_rtmt_names() {
        let c = Counters::default();
        c.code(26);
        c.code(201);
        let mut text = String::new();
        crate::prometheus::em(&mut text, "cluster1", &c.snapshot());
        assert!(text.contains("cisco_extension_mobility{cluster=\"cluster1\",counter=\"Total Login/LogoutRequestsAttempted\"} 0"));
        assert!(text.contains("emroam_em_code_total{cluster=\"cluster1\",code=\"201\"} 1"));
        let json = serde_json::to_value(c.snapshot()).unwrap();
        assert_eq!(json["RequestsThrottled"], 0);
        assert_eq!(json["codes"]["26"], 1);
    }
}
