//! SIP counters in `/metrics` and `/metrics.json`: a REGISTER and a call through one cluster
//! change exactly the counters they should, in both. The phones are real UDP sockets; the HTTP
//! handler is called without a socket.

use std::collections::BTreeMap;

use emroam_server::Options;
use emroam_server::http::Req;
use emroam_server::server::{HttpCtx, handle_http};
use http_body_util::BodyExt;
use hyper::{Method, StatusCode};

use crate::sip::{Ua, hang_up, pick_up, ring};
use crate::util::{Live, P1, P2, PEER, TOPO, live};

/// The HTTP context of the live cluster `c1`.
pub fn ctx_of(l: &Live) -> HttpCtx {
    let running = l.running.as_ref().unwrap();
    running.http_ctx(l.cluster().id()).unwrap().clone()
}

/// One request to the cluster's HTTP handler (no socket).
pub async fn http(ctx: &HttpCtx, method: Method, pq: &str, body: &str) -> (StatusCode, String) {
    let mut req = Req::get(pq, PEER.parse().unwrap());
    req.method = method;
    req.body = bytes::Bytes::from(body.to_owned());
    let r = handle_http(ctx, &req).await;
    let s = r.status();
    let b = r.into_body().collect().await.unwrap().to_bytes();
    (s, String::from_utf8_lossy(&b).into_owned())
}

/// The SIP figures as both documents show them: `/metrics.json`'s `sip` object flattened
/// (`retransmissions_absorbed.INVITE`), and `/metrics`' `emroam_sip_*` samples.
#[derive(Debug, Clone)]
pub struct Scrape {
    pub json: BTreeMap<String, u64>,
    pub prom: BTreeMap<String, u64>,
}

pub async fn scrape(ctx: &HttpCtx) -> Scrape {
    let (s, body) = http(ctx, Method::GET, "/metrics.json", "").await;
    assert_eq!(s, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut json = BTreeMap::new();
    for (k, x) in v["sip"].as_object().expect("a `sip` object") {
        match x {
            serde_json::Value::Object(m) => {
                for (m, n) in m {
                    json.insert(format!("{k}.{m}"), n.as_u64().unwrap());
                }
            }
            n => {
                json.insert(k.clone(), n.as_u64().unwrap());
            }
        }
    }
    let (s, text) = http(ctx, Method::GET, "/metrics", "").await;
    assert_eq!(s, StatusCode::OK);
    let prom = text
        .lines()
        .filter(|l| l.starts_with("emroam_sip_"))
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_owned(), v.parse().unwrap())
        })
        .collect();
    Scrape { json, prom }
}

/// What changed from `a` to `b`, by how much (the queue delay gauge, which any datagram
/// moves, left out).
pub fn diff(a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>) -> BTreeMap<String, i64> {
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the same series"
    );
    a.iter()
        .filter(|(k, v)| b[*k] != **v && !k.contains("queue_delay"))
        .map(|(k, v)| (k.clone(), b[k] as i64 - *v as i64))
        .collect()
}

pub fn deltas(items: &[(&str, i64)]) -> BTreeMap<String, i64> {
    items.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_register_and_a_call_change_exactly_their_sip_counters() {
    let l = live(TOPO, Options::default()).await;
    let ctx = ctx_of(&l);
    let at = l.running.as_ref().unwrap().sip("c1").unwrap().1;
    let s0 = scrape(&ctx).await;
    let names: Vec<&str> = s0.json.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "auth_challenges",
            "auth_malformed",
            "auth_stale",
            "auth_wrong",
            "bindings",
            "byes_forwarded",
            "cancels_forwarded",
            "code_yellow",
            "datagrams_dropped",
            "invite_transactions",
            "invites",
            "malformed",
            "not_found",
            "notifies",
            "queue_delay_us",
            "register_refused_403",
            "register_refused_404",
            "registers",
            "registrations_expired",
            "retransmissions_absorbed.BYE",
            "retransmissions_absorbed.CANCEL",
            "retransmissions_absorbed.INVITE",
            "retransmissions_absorbed.REGISTER",
            "routed_local",
            "routed_trunk",
            "throttle_percent",
            "throttled",
            "trunk_down",
            "trunk_throttled",
            "unavailable",
            "unregisters",
        ]
    );
    assert!(s0.json.values().all(|v| *v == 0), "{:?}", s0.json);
    assert_eq!(
        s0.prom.len(),
        31,
        "one sample per JSON figure: {:?}",
        s0.prom
    );

    // The lobby phone registers its logout profile's line.
    let mut lobby = Ua::new(P1, at).await;
    assert_eq!(lobby.register("9000001", "r1").await, 200);
    let s1 = scrape(&ctx).await;
    assert_eq!(
        diff(&s0.json, &s1.json),
        deltas(&[("bindings", 1), ("registers", 1)])
    );
    assert_eq!(
        diff(&s0.prom, &s1.prom),
        deltas(&[
            (r#"emroam_sip_bindings{cluster="c1"}"#, 1),
            (r#"emroam_sip_registers_total{cluster="c1"}"#, 1),
        ])
    );

    // Another phone calls it: while it rings, one INVITE transaction is in progress.
    let mut caller = Ua::new(P2, at).await;
    let inv = caller.invite("9000001");
    caller.send(&inv, at).await;
    let got = ring(&lobby).await;
    caller.response(180).await;
    let s2 = scrape(&ctx).await;
    assert_eq!(
        diff(&s1.json, &s2.json),
        deltas(&[
            ("invite_transactions", 1),
            ("invites", 1),
            ("routed_local", 1)
        ])
    );
    assert_eq!(
        diff(&s1.prom, &s2.prom),
        deltas(&[
            (r#"emroam_sip_invite_transactions{cluster="c1"}"#, 1),
            (
                r#"emroam_sip_invites_routed_total{cluster="c1",route="local"}"#,
                1
            ),
            (r#"emroam_sip_invites_total{cluster="c1"}"#, 1),
        ])
    );

    // Answered, ACKed, hung up: the transaction is over, one BYE went through.
    pick_up(&lobby, &got).await;
    let ok = caller.response(200).await;
    hang_up(&mut caller, &inv, &ok, &lobby).await;
    let s3 = scrape(&ctx).await;
    assert_eq!(
        diff(&s1.json, &s3.json),
        deltas(&[("byes_forwarded", 1), ("invites", 1), ("routed_local", 1)])
    );
    assert_eq!(
        diff(&s1.prom, &s3.prom),
        deltas(&[
            (r#"emroam_sip_byes_forwarded_total{cluster="c1"}"#, 1),
            (
                r#"emroam_sip_invites_routed_total{cluster="c1",route="local"}"#,
                1
            ),
            (r#"emroam_sip_invites_total{cluster="c1"}"#, 1),
        ])
    );
    // The admin API's counters are the same document.
    let (st, body) = http(&ctx, Method::GET, "/admin/clusters/c1/counters", "").await;
    assert_eq!(st, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["sip"]["byes_forwarded"], 1);
    l.shutdown().await;
}

#[tokio::test]
async fn a_cluster_without_sip_shows_null_and_no_sip_samples() {
    let s = crate::util::inproc(TOPO).await;
    let (_, _, body) = s.get("/metrics.json").await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["sip"].is_null(), "{body}");
    let (_, _, text) = s.get("/metrics").await;
    assert!(!text.contains("emroam_sip_"), "{text}");
}
