//! The counters document a reference cluster serves at `/metrics.json` (and
//! `/admin/clusters/{id}/counters`), and that the dashboard reads back.
//!
//! One definition for the writer and the reader. Every struct reads with missing fields as
//! zero, so a newer or older server still shows what it has. Pure data: no Prometheus text
//! here (the server writes that).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// RTMT's "Cisco Extension Mobility" counter names, in the order CUCM lists them.
pub const COUNTER_NAMES: [&str; 6] = [
    "RequestsHandled",
    "RequestsInProgress",
    "RequestsThrottled",
    "LoginsSuccessful",
    "LogoutsSuccessful",
    "Total Login/LogoutRequestsAttempted",
];

/// The whole document of one cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CountersDoc {
    /// Cluster ID.
    pub cluster: String,
    /// RTMT counters by exact name, the in-progress peak, and `codes` (EM code → count).
    pub counters: EmCounters,
    /// ILS and roaming counters: learned DNs, sync status per peer, roaming logins in and out,
    /// deferred logouts pending, refused input.
    pub ils: IlsCounters,
    /// SIP registrar and proxy counters; `null` for a cluster without SIP.
    pub sip: Option<SipCounters>,
}

impl CountersDoc {
    /// Reads a `/metrics.json` body.
    ///
    /// # Errors
    /// Not JSON, or not this document's shape.
    pub fn from_json(body: &[u8]) -> Result<CountersDoc, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

/// The counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EmCounters {
    /// `RequestsHandled`: EM HTTP requests handled (EM application and EM service).
    #[serde(rename = "RequestsHandled")]
    pub requests_handled: u64,
    /// `RequestsInProgress`: login/logout operations in progress now.
    #[serde(rename = "RequestsInProgress")]
    pub requests_in_progress: u64,
    /// `RequestsThrottled`: login/logout requests answered 26.
    #[serde(rename = "RequestsThrottled")]
    pub requests_throttled: u64,
    /// `LoginsSuccessful`.
    #[serde(rename = "LoginsSuccessful")]
    pub logins_successful: u64,
    /// `LogoutsSuccessful` (including automatic logouts).
    #[serde(rename = "LogoutsSuccessful")]
    pub logouts_successful: u64,
    /// `Total Login/LogoutRequestsAttempted`.
    #[serde(rename = "Total Login/LogoutRequestsAttempted")]
    pub attempted: u64,
    /// Highest RequestsInProgress since start (not an RTMT counter).
    pub requests_in_progress_peak: u64,
    /// Answers by EM code (errors only; success has no code).
    pub codes: BTreeMap<u16, u64>,
}

impl EmCounters {
    /// The six RTMT counters as (name, value), in [`COUNTER_NAMES`]' order.
    pub fn rtmt(&self) -> [(&'static str, u64); 6] {
        [
            (COUNTER_NAMES[0], self.requests_handled),
            (COUNTER_NAMES[1], self.requests_in_progress),
            (COUNTER_NAMES[2], self.requests_throttled),
            (COUNTER_NAMES[3], self.logins_successful),
            (COUNTER_NAMES[4], self.logouts_successful),
            (COUNTER_NAMES[5], self.attempted),
        ]
    }
}

/// A peer's sync status as the counters show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PeerSyncStatus {
    /// Peer cluster ID.
    pub cluster: String,
    /// Session established now.
    pub connected: bool,
    /// Connected, a full sync received since, and no update dropped ("Up to Date").
    pub up_to_date: bool,
    /// Last full sync received, Unix milliseconds.
    pub last_sync_ms: Option<i64>,
}

/// ILS and roaming counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IlsCounters {
    /// Superusers of other homes who logged in here.
    pub roaming_logins_in: u64,
    /// Users logged out here because they logged in elsewhere (deferred ones included).
    pub roaming_logins_out: u64,
    /// ILSPwdAuthenticationFailed alerts.
    pub ils_pwd_authentication_failed: u64,
    /// Sealed messages accepted.
    pub messages_in: u64,
    /// Sealed messages queued to peers.
    pub messages_out: u64,
    /// Deltas dropped on a full peer queue.
    pub deltas_dropped: u64,
    /// Refused input by kind (`tls`: a dialer's TLS handshake failed, its peer's certificate
    /// refused or its own).
    pub rejected: BTreeMap<String, u64>,
    /// ILS handshakes on this cluster's listener that did not become a session, by reason:
    /// `timeout` (the dialer did not prove the password in time), `closed` (it went away
    /// first), `bad_proof` (a wrong password), `refused` (version, not a peer, link cut),
    /// `bad_input` (bytes that are not the handshake), `busy` (no handshake slot for its
    /// address: closed at once), `tls` (ILS over TLS: not TLS, no certificate, one the CA did
    /// not sign, or one not naming the cluster the dialer claims to be).
    pub handshakes_failed: BTreeMap<String, u64>,
    /// Directory numbers learned through ILS that are registered at another cluster now.
    pub learned_dns: u64,
    /// Deferred logouts this cluster still waits for another cluster to acknowledge.
    pub deferred_logouts_pending: u64,
    /// Sync status per peer.
    pub peers: Vec<PeerSyncStatus>,
}

/// A cluster's SIP registrar and proxy counters and gauges at one moment (emroam's own:
/// CUCM's RTMT objects differ).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SipCounters {
    /// REGISTERs accepted (refreshes included, retransmissions not).
    pub registers: u64,
    /// REGISTERs refused with 403 (unknown device or no `+sip.instance`).
    pub register_refused_403: u64,
    /// REGISTERs refused with 404 (a line the device's profile does not have).
    pub register_refused_404: u64,
    /// Requests without credentials from a phone whose security profile has digest
    /// authentication on, answered with a challenge (401 REGISTER, 407 INVITE).
    pub auth_challenges: u64,
    /// Digest credentials refused: wrong user, password or nonce (challenged again).
    pub auth_wrong: u64,
    /// Digest credentials with an expired or replayed nonce (challenged with `stale=true`).
    pub auth_stale: u64,
    /// Authentication headers that did not parse (400).
    pub auth_malformed: u64,
    /// Bindings removed by `Expires: 0`.
    pub unregisters: u64,
    /// Bindings dropped because the phone did not refresh them within the granted expiry.
    pub registrations_expired: u64,
    /// Gauge: line bindings registered now.
    pub bindings: u64,
    /// Initial INVITEs received (new calls; retransmissions not).
    pub invites: u64,
    /// INVITEs sent to a phone registered here.
    pub routed_local: u64,
    /// INVITEs sent over a trunk to another cluster.
    pub routed_trunk: u64,
    /// INVITEs answered 404.
    pub not_found: u64,
    /// INVITEs answered 480 (unregistered number or phone not answering).
    pub unavailable: u64,
    /// INVITEs answered 503 (trunk not answering).
    pub trunk_down: u64,
    /// New calls refused with 503 and Retry-After because the cluster was throttling calls
    /// (Code Yellow: its SIP queue delay over the entry latency, or datagrams dropped).
    pub throttled: u64,
    /// New calls refused here with 503 and Retry-After because the trunk peer they would go
    /// to reported overload (RFC 7339 `oc` in the Via: it refuses that share before it costs
    /// the peer anything).
    pub trunk_throttled: u64,
    /// Gauge: 1 while the cluster throttles new calls (Code Yellow), else 0.
    pub code_yellow: u64,
    /// Gauge: the share of new calls the cluster refuses now, in percent (0–95).
    pub throttle_percent: u64,
    /// Gauge: the mean time the last ten datagrams waited in the SIP socket's queue before
    /// the cluster read them, in microseconds (what Code Yellow is judged on).
    pub queue_delay_us: u64,
    /// Datagrams the kernel dropped because the cluster's SIP socket queue was full.
    pub datagrams_dropped: u64,
    /// Gauge: INVITEs forwarded whose final response has not come yet.
    pub invite_transactions: u64,
    /// CANCELs forwarded to where their INVITE went (retransmissions not).
    pub cancels_forwarded: u64,
    /// BYEs forwarded (retransmissions not).
    pub byes_forwarded: u64,
    /// service-control NOTIFYs sent.
    pub notifies: u64,
    /// Datagrams that did not parse (requests answered 400 when possible).
    pub malformed: u64,
    /// Retransmissions recognised and not handled as new, by method (INVITE, REGISTER, BYE,
    /// CANCEL; every method present).
    pub retransmissions_absorbed: BTreeMap<String, u64>,
}

impl SipCounters {
    /// Retransmissions absorbed, all methods.
    pub fn retransmissions(&self) -> u64 {
        self.retransmissions_absorbed.values().sum()
    }

    /// REGISTERs refused, 403 and 404.
    pub fn registers_refused(&self) -> u64 {
        self.register_refused_403 + self.register_refused_404
    }

    /// INVITEs answered 404, 480 or 503 by the cluster.
    pub fn invites_failed(&self) -> u64 {
        self.not_found + self.unavailable + self.trunk_down
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_document_reads_with_zeros() {
        let d = CountersDoc::from_json(
            br#"{"cluster":"c1","counters":{"RequestsThrottled":3,"codes":{"26":3}},"sip":null}"#,
        )
        .unwrap();
        assert_eq!(d.counters.requests_throttled, 3);
        assert_eq!(d.counters.codes.get(&26), Some(&3));
        assert_eq!(d.sip, None);
        assert!(d.ils.peers.is_empty());
        assert!(CountersDoc::from_json(b"[1,2]").is_err());
        assert!(CountersDoc::from_json(b"{\"counters\":").is_err());
    }

    #[test]
    fn round_trip() {
        let mut d = CountersDoc {
            cluster: "c2".into(),
            ..CountersDoc::default()
        };
        d.counters.logins_successful = 7;
        d.ils.peers.push(PeerSyncStatus {
            cluster: "c1".into(),
            connected: true,
            up_to_date: false,
            last_sync_ms: Some(5),
        });
        d.sip = Some(SipCounters {
            bindings: 4,
            ..SipCounters::default()
        });
        let j = serde_json::to_vec(&d).unwrap();
        assert_eq!(CountersDoc::from_json(&j).unwrap(), d);
    }
}
