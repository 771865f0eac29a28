//! Data collection for the dashboard: one task polls every cluster's `/metrics.json` and
//! `/admin/clusters/{id}` once a second, each with a short timeout, and publishes one whole
//! `Arc<Vec<ClusterObs>>` on a `watch` channel. A cluster that does not answer is down; the
//! poller carries on. It never draws and never blocks on the dashboard.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::app::{ClusterObs, MAX_LOCATE, Rtmt, SipCounters};
use crate::driver::HttpClient;
use crate::phone::{HttpRequest, Method};

/// How long one poll request may take before the cluster counts as down.
pub const POLL_TIMEOUT: Duration = Duration::from_millis(500);

/// How often the clusters are polled (the data refresh rate, apart from the redraw rate).
pub const POLL_EVERY: Duration = Duration::from_secs(1);

/// A cluster to poll: its ID and the base URL of its HTTP port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Cluster ID.
    pub id: String,
    /// `http://host:port`.
    pub base: String,
}

/// Sends one admin or metrics request; the body on 2xx, otherwise why not.
///
/// # Errors
/// A transport failure or a non-2xx status, as text for the status line.
pub async fn call(
    method: Method,
    url: &str,
    body: Option<&str>,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let req = HttpRequest {
        method,
        url: url.to_owned(),
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: (method == Method::Post).then(|| body.unwrap_or_default().to_owned()),
        secrets: vec![],
    };
    match HttpClient::new(timeout).send(&req).await {
        Ok(r) if (200..300).contains(&r.status) => Ok(r.body),
        Ok(r) => Err(format!("HTTP {}", r.status)),
        Err(e) => Err(transport_words(&e, url)),
    }
}

/// A transport failure in a load tester's words, with where (`connection refused:
/// 127.0.0.2:8080`); the phone's own words ("Host Not Found" for a refused connection too)
/// would hide which it was.
fn transport_words(e: &crate::phone::HttpFailure, url: &str) -> String {
    use crate::phone::HttpFailure as F;
    let at = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest.split('/').next().unwrap_or(rest));
    match e {
        F::Refused => format!("connection refused: {at}"),
        F::HostNotFound => format!("host not found: {at}"),
        F::Timeout => format!("timeout: {at}"),
        F::ConnectionFailed(why) => format!("connection failed: {at}: {why}"),
        F::TooLarge => format!("response too large: {at}"),
        F::BadUrl(u) => format!("bad URL: {u}"),
    }
}

/// What a `/metrics.json` document says: RTMT counters, EM answers by code, ILS sync status
/// per peer, SIP figures (none: `sip` is null or absent, a cluster without SIP).
pub type Metrics = (
    Rtmt,
    std::collections::BTreeMap<String, u64>,
    std::collections::BTreeMap<String, String>,
    Option<SipCounters>,
);

/// An ILS peer's sync status as the dashboard words it, from the server's
/// `{"cluster", "connected", "up_to_date"}`.
fn peer_status(p: &serde_json::Value) -> Option<(String, String)> {
    let id = p.get("cluster")?.as_str()?.to_owned();
    let b = |k: &str| {
        p.get(k)
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false)
    };
    let s = match (b("connected"), b("up_to_date")) {
        (true, true) => "up to date",
        (true, false) => "connected, syncing",
        (false, _) => "NOT CONNECTED",
    };
    Some((id, s.to_owned()))
}

/// Parses a `/metrics.json` document.
///
/// # Errors
/// A document that is not the counters JSON (a broken feed shows the cluster down, no panic).
pub fn parse_metrics(body: &[u8]) -> Result<Metrics, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("bad JSON: {e}"))?;
    let c = v.get("counters").ok_or("no `counters` in /metrics.json")?;
    let rtmt: Rtmt = serde_json::from_value(c.clone()).map_err(|e| format!("bad counters: {e}"))?;
    let codes = c
        .get("codes")
        .and_then(|c| c.as_object())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_u64()?)))
                .collect()
        })
        .unwrap_or_default();
    let peers = v
        .pointer("/ils/peers")
        .and_then(serde_json::Value::as_array)
        .map(|a| a.iter().filter_map(peer_status).collect())
        .unwrap_or_default();
    // A `sip` object that does not parse is shown as no SIP; the EM counters still show.
    let sip = v
        .get("sip")
        .filter(|s| s.is_object())
        .and_then(|s| serde_json::from_value(s.clone()).ok());
    Ok((rtmt, codes, peers, sip))
}

/// Reads what the dashboard wants from `/admin/clusters/{id}` into `obs` (missing fields are
/// left alone: an older or newer server still shows its counters).
pub fn apply_status(obs: &mut ClusterObs, body: &[u8]) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    obs.max_concurrent = v
        .pointer("/params/max_concurrent_requests")
        .and_then(serde_json::Value::as_u64)
        .and_then(|n| u32::try_from(n).ok());
    let b = |k: &str| v.get(k).and_then(serde_json::Value::as_bool);
    if let (Some(a), Some(s), Some(l)) = (b("em_app"), b("em_service"), b("listeners")) {
        obs.switches = Some((a, s, l));
    }
    obs.logins = v
        .get("logins")
        .and_then(serde_json::Value::as_u64)
        .map(|n| n as usize);
    // ILS sync status per peer, when the server reports it (`"ils": {"peers": {..}}` or a
    // list of `{"peer": .., "status": ..}`).
    if let Some(peers) = v.pointer("/ils/peers") {
        let text = |x: &serde_json::Value| match x {
            serde_json::Value::String(s) => s.clone(),
            other => other
                .get("status")
                .and_then(|s| s.as_str())
                .map_or_else(|| other.to_string(), str::to_owned),
        };
        if let Some(m) = peers.as_object() {
            obs.ils_peers = m.iter().map(|(k, x)| (k.clone(), text(x))).collect();
        } else if let Some(a) = peers.as_array() {
            obs.ils_peers = a
                .iter()
                .filter_map(|x| Some((x.get("peer")?.as_str()?.to_owned(), text(x))))
                .collect();
        }
    }
}

/// Polls one cluster once: down when it does not answer; up without counters when it
/// answers without them (a broken feed, or a lab CUCM with no `/metrics.json`). Where it has
/// the admin API, also asks its ILS where each of `dns` is (the roaming view's users).
pub async fn poll_one(t: &Target, timeout: Duration, dns: &[String]) -> ClusterObs {
    let mut obs = ClusterObs {
        id: t.id.clone(),
        ..ClusterObs::default()
    };
    let get = |path: String| {
        let url = format!("{}{path}", t.base);
        async move { call(Method::Get, &url, None, timeout).await }
    };
    match get("/metrics.json".into()).await {
        Ok(mut body) => {
            obs.up = true;
            // A port several clusters share answers for its own: ask for this one by ID.
            let other = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("cluster")?.as_str().map(str::to_owned))
                .is_some_and(|c| c != t.id);
            if other {
                body = get(format!("/admin/clusters/{}/counters", t.id))
                    .await
                    .unwrap_or_default();
            }
            match parse_metrics(&body) {
                Ok((c, codes, peers, sip)) => {
                    obs.counters = Some(c);
                    obs.codes = codes;
                    obs.ils_peers = peers;
                    obs.sip = sip;
                }
                Err(e) => obs.error = Some(format!("no counters: {e}")),
            }
        }
        // It answered, without counters (a lab CUCM has no /metrics.json): up, no counters.
        Err(e) if e.starts_with("HTTP ") => {
            obs.up = true;
            obs.error = Some(format!("no counters: /metrics.json {e}"));
        }
        Err(e) => obs.error = Some(e),
    }
    if obs.up
        && let Ok(body) = call(
            Method::Get,
            &format!("{}/admin/clusters/{}", t.base, t.id),
            None,
            timeout,
        )
        .await
    {
        apply_status(&mut obs, &body);
        // It has the admin API: ask its ILS where the numbers shown are.
        obs.located = Some(locate(t, dns, timeout).await);
    }
    obs
}

/// Where `t`'s ILS places each of `dns` (`GET /admin/clusters/{id}/locate/{dn}`): its cluster,
/// or `None` when it answers that it does not know the number (or does not answer).
async fn locate(
    t: &Target,
    dns: &[String],
    timeout: Duration,
) -> std::collections::BTreeMap<String, Option<String>> {
    let mut out = std::collections::BTreeMap::new();
    for dn in dns {
        let url = format!("{}/admin/clusters/{}/locate/{dn}", t.base, t.id);
        let at = call(Method::Get, &url, None, timeout)
            .await
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| Some(v.get("cluster")?.as_str()?.to_owned()));
        out.insert(dn.clone(), at);
    }
    out
}

/// Polls every target each [`POLL_EVERY`] until cancelled, publishing whole snapshots; asks
/// each cluster's ILS about the numbers `dns` holds at the time (at most [`MAX_LOCATE`]).
pub async fn run(
    targets: Vec<Target>,
    tx: watch::Sender<Arc<Vec<ClusterObs>>>,
    dns: watch::Receiver<Vec<String>>,
    token: CancellationToken,
) {
    let mut tick = tokio::time::interval(POLL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            _ = tick.tick() => {}
        }
        let mut set = JoinSet::new();
        let asked: Arc<[String]> = dns.borrow().iter().take(MAX_LOCATE).cloned().collect();
        for (i, t) in targets.iter().cloned().enumerate() {
            let asked = asked.clone();
            set.spawn(async move { (i, poll_one(&t, POLL_TIMEOUT, &asked).await) });
        }
        let mut out: Vec<ClusterObs> = targets
            .iter()
            .map(|t| ClusterObs {
                id: t.id.clone(),
                error: Some("no answer".into()),
                ..ClusterObs::default()
            })
            .collect();
        let all = async {
            while let Some(r) = set.join_next().await {
                if let Ok((i, o)) = r {
                    out[i] = o;
                }
            }
        };
        tokio::select! {
            () = token.cancelled() => return,
            () = all => {}
        }
        if tx.send(Arc::new(out)).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_feeds_are_errors_not_panics() {
        assert!(parse_metrics(b"").is_err());
        assert!(parse_metrics(b"{\"cluster\":\"c1\"}").is_err());
        assert!(parse_metrics(b"{\"counters\":{\"RequestsHandled\":-1}}").is_err());
        assert!(parse_metrics(b"[1,2,3]").is_err());
        let (r, codes, peers, sip) = parse_metrics(
            br#"{"cluster":"c1","counters":{"RequestsThrottled":4,"codes":{"26":4,"x":"y"}},
                "ils":{"peers":[{"cluster":"c2","connected":true,"up_to_date":true},
                                {"cluster":"c3","connected":false,"up_to_date":false},
                                {"connected":true}]}}"#,
        )
        .unwrap();
        assert_eq!(r.requests_throttled, 4);
        assert_eq!(codes.len(), 1);
        assert_eq!(peers["c2"], "up to date");
        assert_eq!(peers["c3"], "NOT CONNECTED");
        assert_eq!(peers.len(), 2);
        assert!(sip.is_none(), "no `sip`: no SIP");
    }

    #[test]
    fn sip_figures_parse_by_the_servers_field_names_and_null_is_no_sip() {
        // The document type the server serialises into /metrics.json: the names agree.
        let mut server = emroam_schema::counters::SipCounters {
            bindings: 12,
            invites: 40,
            routed_local: 30,
            routed_trunk: 7,
            not_found: 1,
            unavailable: 2,
            trunk_down: 3,
            invite_transactions: 4,
            register_refused_404: 5,
            ..Default::default()
        };
        server
            .retransmissions_absorbed
            .extend([("INVITE".to_owned(), 6), ("REGISTER".to_owned(), 1)]);
        let doc = serde_json::json!({"cluster": "c1", "counters": {}, "sip": server});
        let (.., sip) = parse_metrics(doc.to_string().as_bytes()).unwrap();
        let sip = sip.expect("a sip object");
        assert_eq!(
            (
                sip.bindings,
                sip.invites,
                sip.routed_local,
                sip.routed_trunk
            ),
            (12, 40, 30, 7)
        );
        assert_eq!((sip.not_found, sip.unavailable, sip.trunk_down), (1, 2, 3));
        assert_eq!(sip.invites_failed(), 6);
        assert_eq!(sip.invite_transactions, 4);
        assert_eq!(sip.registers_refused(), 5);
        assert_eq!(sip.retransmissions(), 7);
        for doc in [
            r#"{"counters":{},"sip":null}"#,
            r#"{"counters":{},"sip":[1]}"#,
            r#"{"counters":{},"sip":{"bindings":"many"}}"#,
        ] {
            let (.., sip) = parse_metrics(doc.as_bytes()).unwrap();
            assert!(sip.is_none(), "{doc}");
        }
    }

    #[test]
    fn admin_status_fields_and_ils_peers() {
        let mut o = ClusterObs::default();
        apply_status(
            &mut o,
            br#"{"id":"c1","em_app":true,"em_service":false,"listeners":true,
                "params":{"max_concurrent_requests":5},"logins":2,
                "ils":{"peers":{"c2":"synced","c3":{"status":"behind"}}}}"#,
        );
        assert_eq!(o.max_concurrent, Some(5));
        assert_eq!(o.switches, Some((true, false, true)));
        assert_eq!(o.logins, Some(2));
        assert_eq!(o.ils_peers["c3"], "behind");
        apply_status(&mut o, b"not json");
        assert_eq!(o.max_concurrent, Some(5));
    }

    /// A one-port HTTP server answering each path with a fixed status and body.
    async fn serve(routes: Vec<(&'static str, u16, &'static str)>) -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut c, _)) = l.accept().await {
                let routes = routes.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let n = c.read(&mut buf).await.unwrap_or(0);
                    let req = String::from_utf8_lossy(&buf[..n]);
                    let path = req.split_whitespace().nth(1).unwrap_or("/");
                    let (status, body) = routes
                        .iter()
                        .find(|(p, ..)| *p == path)
                        .map_or((404, ""), |(_, s, b)| (*s, *b));
                    let resp = format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = c.write_all(resp.as_bytes()).await;
                });
            }
        });
        base
    }

    #[tokio::test]
    async fn a_shared_port_is_asked_by_cluster_id_and_no_counters_is_up() {
        let base = serve(vec![
            (
                "/metrics.json",
                200,
                r#"{"cluster":"c1","counters":{"RequestsHandled":1},"sip":{"bindings":2}}"#,
            ),
            (
                "/admin/clusters/c2/counters",
                200,
                r#"{"cluster":"c2","counters":{"RequestsHandled":9},"sip":null}"#,
            ),
        ])
        .await;
        let t = |id: &str| Target {
            id: id.into(),
            base: base.clone(),
        };
        let c1 = poll_one(&t("c1"), Duration::from_secs(2), &[]).await;
        assert_eq!(c1.counters.unwrap().requests_handled, 1);
        assert_eq!(c1.sip.unwrap().bindings, 2);
        let c2 = poll_one(&t("c2"), Duration::from_secs(2), &[]).await;
        assert_eq!(c2.counters.unwrap().requests_handled, 9);
        assert!(c2.sip.is_none());
        // A lab CUCM: it answers, without /metrics.json. Up, no counters, and why.
        let lab = serve(vec![]).await;
        let o = poll_one(
            &Target {
                id: "cucm".into(),
                base: lab,
            },
            Duration::from_secs(2),
            &[],
        )
        .await;
        assert!(o.up && o.counters.is_none(), "{o:?}");
        assert!(o.error.unwrap().contains("HTTP 404"));
    }

    #[tokio::test]
    async fn ils_is_asked_where_the_shown_numbers_are_where_there_is_an_admin_api() {
        let base = serve(vec![
            ("/metrics.json", 200, r#"{"cluster":"c1","counters":{}}"#),
            ("/admin/clusters/c1", 200, r#"{"id":"c1"}"#),
            (
                "/admin/clusters/c1/locate/1000",
                200,
                r#"{"dn":"1000","cluster":"c2","route_string":"c2.example"}"#,
            ),
        ])
        .await;
        let t = Target {
            id: "c1".into(),
            base,
        };
        let dns = ["1000".to_owned(), "2000".to_owned()];
        let o = poll_one(&t, Duration::from_secs(2), &dns).await;
        let at = o.located.expect("an admin API");
        assert_eq!(at["1000"].as_deref(), Some("c2"));
        assert_eq!(at["2000"], None, "404: not known there");
        // No admin API (a lab CUCM): nothing to ask, shown as such.
        let lab = serve(vec![("/metrics.json", 200, r#"{"counters":{}}"#)]).await;
        let t = Target {
            id: "cucm".into(),
            base: lab,
        };
        assert_eq!(
            poll_one(&t, Duration::from_secs(2), &dns).await.located,
            None
        );
    }

    #[tokio::test]
    async fn a_dead_cluster_is_down_with_a_reason() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let o = poll_one(
            &Target {
                id: "c1".into(),
                base: format!("http://{addr}"),
            },
            Duration::from_millis(300),
            &[],
        )
        .await;
        assert!(!o.up);
        // A load tester's words, not the phone's ("Host Not Found"), and where.
        assert_eq!(o.error, Some(format!("connection refused: {addr}")));
    }
}
