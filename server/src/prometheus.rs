//! Prometheus text exposition of a cluster's counters (`/metrics`): the RTMT "Cisco Extension
//! Mobility" counters (RTMT's exact names as the `counter` label), ILS and roaming, and SIP.
//! One writer for every family.

use std::fmt::Write as _;

use emroam_schema::counters::{EmCounters, IlsCounters, SipCounters};

use crate::cluster::Cluster;

/// Every family of one cluster: EM, ILS, and SIP when the cluster runs it (`sip_counters`:
/// its SIP side's).
pub fn cluster_text(c: &Cluster, sip_counters: Option<&SipCounters>) -> String {
    let mut s = String::new();
    em(&mut s, c.id(), &c.counters().snapshot());
    ils(&mut s, c.id(), &c.ils_counters());
    if let Some(counters) = sip_counters {
        sip(&mut s, c.id(), counters);
    }
    s
}

/// One metric family: HELP, TYPE and one sample per `(labels, value)`; `labels` is empty or
/// starts with a comma (`,code="403"`).
fn family(
    s: &mut String,
    cluster: &str,
    name: &str,
    kind: &str,
    help: &str,
    samples: &[(&str, u64)],
) {
    let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, v) in samples {
        let _ = writeln!(s, "{name}{{cluster=\"{cluster}\"{labels}}} {v}");
    }
}

/// Owned labels for samples keyed by a string (`,key="value"`).
fn labelled<'a, K: std::fmt::Display + 'a>(
    key: &str,
    items: impl IntoIterator<Item = (K, u64)>,
) -> Vec<(String, u64)> {
    items
        .into_iter()
        .map(|(k, v)| (format!(",{key}=\"{k}\""), v))
        .collect()
}

fn borrowed(v: &[(String, u64)]) -> Vec<(&str, u64)> {
    v.iter().map(|(l, n)| (l.as_str(), *n)).collect()
}

/// The RTMT counters (RTMT's exact names as the `counter` label), the in-progress peak, and
/// answers by EM code.
pub fn em(s: &mut String, cluster: &str, c: &EmCounters) {
    let rtmt = labelled("counter", c.rtmt());
    family(
        s,
        cluster,
        "cisco_extension_mobility",
        "gauge",
        "RTMT \"Cisco Extension Mobility\" counters; `counter` is RTMT's exact name.",
        &borrowed(&rtmt),
    );
    family(
        s,
        cluster,
        "emroam_em_requests_in_progress_peak",
        "gauge",
        "Highest RequestsInProgress since start.",
        &[("", c.requests_in_progress_peak)],
    );
    let codes = labelled("code", c.codes.iter().map(|(k, v)| (*k, *v)));
    family(
        s,
        cluster,
        "emroam_em_code_total",
        "counter",
        "EM answers by EM error code.",
        &borrowed(&codes),
    );
}

/// ILS replication and roaming.
pub fn ils(s: &mut String, cluster: &str, c: &IlsCounters) {
    let mut gauge = |name: &str, help: &str, v: u64| {
        family(s, cluster, name, "gauge", help, &[("", v)]);
    };
    gauge(
        "emroam_ils_learned_dns",
        "Directory numbers learned through ILS registered at another cluster now.",
        c.learned_dns,
    );
    gauge(
        "emroam_ils_deferred_logouts_pending",
        "Deferred logouts not yet acknowledged.",
        c.deferred_logouts_pending,
    );
    gauge(
        "emroam_roaming_logins_in_total",
        "Roaming logins of other clusters' superusers here.",
        c.roaming_logins_in,
    );
    gauge(
        "emroam_roaming_logins_out_total",
        "Users logged out here because they logged in elsewhere.",
        c.roaming_logins_out,
    );
    gauge(
        "emroam_ils_pwd_authentication_failed_total",
        "ILSPwdAuthenticationFailed alerts.",
        c.ils_pwd_authentication_failed,
    );
    gauge(
        "emroam_ils_messages_in_total",
        "ILS messages accepted.",
        c.messages_in,
    );
    gauge(
        "emroam_ils_messages_out_total",
        "ILS messages sent.",
        c.messages_out,
    );
    let rejected = labelled("kind", c.rejected.iter().map(|(k, v)| (k, *v)));
    family(
        s,
        cluster,
        "emroam_ils_rejected_total",
        "counter",
        "ILS input refused, by kind.",
        &borrowed(&rejected),
    );
    let failed = labelled("reason", c.handshakes_failed.iter().map(|(k, v)| (k, *v)));
    family(
        s,
        cluster,
        "emroam_ils_handshakes_failed_total",
        "counter",
        "ILS handshakes on the listener that did not become a session, by reason.",
        &borrowed(&failed),
    );
    let up = labelled(
        "peer",
        c.peers
            .iter()
            .map(|p| (&p.cluster, u64::from(p.up_to_date))),
    );
    family(
        s,
        cluster,
        "emroam_ils_peer_up_to_date",
        "gauge",
        "1 if the peer is up to date.",
        &borrowed(&up),
    );
    let last = labelled(
        "peer",
        c.peers
            .iter()
            .filter_map(|p| Some((&p.cluster, u64::try_from(p.last_sync_ms?).ok()?))),
    );
    family(
        s,
        cluster,
        "emroam_ils_peer_last_sync_ms",
        "gauge",
        "Last full sync from the peer, Unix ms.",
        &borrowed(&last),
    );
}

/// The SIP registrar and proxy.
pub fn sip(s: &mut String, cluster: &str, c: &SipCounters) {
    let counter = "counter";
    let gauge = "gauge";
    let mut f = |name: &str, kind: &str, help: &str, samples: &[(&str, u64)]| {
        family(s, cluster, name, kind, help, samples);
    };
    f(
        "emroam_sip_registers_total",
        counter,
        "SIP REGISTERs accepted (refreshes included, retransmissions not).",
        &[("", c.registers)],
    );
    f(
        "emroam_sip_registers_refused_total",
        counter,
        "SIP REGISTERs refused, by status (403 unknown device, 404 line not in its profile).",
        &[
            (",code=\"403\"", c.register_refused_403),
            (",code=\"404\"", c.register_refused_404),
        ],
    );
    f(
        "emroam_sip_auth_challenges_total",
        counter,
        "SIP requests from digest-authenticated phones answered with a challenge (no credentials).",
        &[("", c.auth_challenges)],
    );
    f(
        "emroam_sip_auth_failures_total",
        counter,
        "SIP digest credentials refused, by reason (wrong user/password/nonce, stale nonce, malformed header).",
        &[
            (",reason=\"wrong\"", c.auth_wrong),
            (",reason=\"stale\"", c.auth_stale),
            (",reason=\"malformed\"", c.auth_malformed),
        ],
    );
    f(
        "emroam_sip_unregisters_total",
        counter,
        "SIP bindings removed by expires=0.",
        &[("", c.unregisters)],
    );
    f(
        "emroam_sip_registrations_expired_total",
        counter,
        "SIP bindings dropped because the phone did not refresh them in time.",
        &[("", c.registrations_expired)],
    );
    f(
        "emroam_sip_bindings",
        gauge,
        "SIP line bindings registered now.",
        &[("", c.bindings)],
    );
    f(
        "emroam_sip_invites_total",
        counter,
        "New calls: initial SIP INVITEs (retransmissions not).",
        &[("", c.invites)],
    );
    f(
        "emroam_sip_invites_routed_total",
        counter,
        "INVITEs sent on, to a phone registered here (local) or over a trunk.",
        &[
            (",route=\"local\"", c.routed_local),
            (",route=\"trunk\"", c.routed_trunk),
        ],
    );
    f(
        "emroam_sip_invites_failed_total",
        counter,
        "INVITEs answered by the cluster with a failure, by status (404 unknown, 480 unavailable, 503 trunk down).",
        &[
            (",code=\"404\"", c.not_found),
            (",code=\"480\"", c.unavailable),
            (",code=\"503\"", c.trunk_down),
        ],
    );
    f(
        "emroam_sip_invites_throttled_total",
        counter,
        "New calls refused with 503 and Retry-After while the cluster throttled calls (Code Yellow).",
        &[("", c.throttled)],
    );
    f(
        "emroam_sip_trunk_throttled_total",
        counter,
        "New calls refused here with 503 because their trunk peer reported overload (RFC 7339 oc).",
        &[("", c.trunk_throttled)],
    );
    f(
        "emroam_sip_code_yellow",
        gauge,
        "1 while the cluster throttles new calls: its SIP queue delay is over the Code Yellow entry latency.",
        &[("", c.code_yellow)],
    );
    f(
        "emroam_sip_throttle_percent",
        gauge,
        "Share of new calls the cluster refuses now (Code Yellow), in percent.",
        &[("", c.throttle_percent)],
    );
    f(
        "emroam_sip_queue_delay_microseconds",
        gauge,
        "Mean time the last ten SIP datagrams waited in the socket's queue before the cluster read them.",
        &[("", c.queue_delay_us)],
    );
    f(
        "emroam_sip_datagrams_dropped_total",
        counter,
        "Datagrams the kernel dropped because the cluster's SIP socket queue was full.",
        &[("", c.datagrams_dropped)],
    );
    f(
        "emroam_sip_invite_transactions",
        gauge,
        "INVITEs forwarded whose final response has not come yet.",
        &[("", c.invite_transactions)],
    );
    f(
        "emroam_sip_cancels_forwarded_total",
        counter,
        "CANCELs forwarded (retransmissions not).",
        &[("", c.cancels_forwarded)],
    );
    f(
        "emroam_sip_byes_forwarded_total",
        counter,
        "BYEs forwarded (retransmissions not).",
        &[("", c.byes_forwarded)],
    );
    f(
        "emroam_sip_notifies_total",
        counter,
        "service-control NOTIFYs sent (restarts and resets after EM login/logout).",
        &[("", c.notifies)],
    );
    f(
        "emroam_sip_malformed_total",
        counter,
        "SIP datagrams that did not parse.",
        &[("", c.malformed)],
    );
    let retransmitted = labelled(
        "method",
        c.retransmissions_absorbed.iter().map(|(k, v)| (k, *v)),
    );
    f(
        "emroam_sip_retransmissions_absorbed_total",
        counter,
        "UDP retransmissions recognised and not handled as new requests, by method.",
        &borrowed(&retransmitted),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_has_every_figure_with_its_cluster() {
        let mut c = SipCounters {
            registers: 3,
            register_refused_404: 1,
            bindings: 2,
            unavailable: 4,
            throttled: 6,
            code_yellow: 1,
            auth_challenges: 7,
            auth_stale: 8,
            ..SipCounters::default()
        };
        c.retransmissions_absorbed = ["INVITE", "REGISTER", "BYE", "CANCEL"]
            .iter()
            .map(|m| ((*m).to_owned(), 0))
            .collect();
        c.retransmissions_absorbed.insert("INVITE".into(), 5);
        let mut text = String::new();
        sip(&mut text, "cluster1", &c);
        for line in [
            "emroam_sip_registers_total{cluster=\"cluster1\"} 3",
            "emroam_sip_registers_refused_total{cluster=\"cluster1\",code=\"404\"} 1",
            "emroam_sip_bindings{cluster=\"cluster1\"} 2",
            "emroam_sip_invites_failed_total{cluster=\"cluster1\",code=\"480\"} 4",
            "emroam_sip_retransmissions_absorbed_total{cluster=\"cluster1\",method=\"INVITE\"} 5",
            "emroam_sip_retransmissions_absorbed_total{cluster=\"cluster1\",method=\"BYE\"} 0",
            "emroam_sip_invites_throttled_total{cluster=\"cluster1\"} 6",
            "emroam_sip_code_yellow{cluster=\"cluster1\"} 1",
            "emroam_sip_datagrams_dropped_total{cluster=\"cluster1\"} 0",
            "emroam_sip_auth_challenges_total{cluster=\"cluster1\"} 7",
            "emroam_sip_auth_failures_total{cluster=\"cluster1\",reason=\"stale\"} 8",
            "emroam_sip_auth_failures_total{cluster=\"cluster1\",reason=\"wrong\"} 0",
            "# TYPE emroam_sip_code_yellow gauge",
            "# TYPE emroam_sip_bindings gauge",
            "# TYPE emroam_sip_invite_transactions gauge",
            "# TYPE emroam_sip_byes_forwarded_total counter",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        let samples = text.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(samples, 31);
    }
}
