//! Registration expiry as CUCM grants it: at most the SIP Station KeepAlive Interval (120 s by
//! default, changeable at run time and per cluster in the topology); a binding not refreshed
//! in time is gone. Tokio's clock is paused and advanced by hand; phones are real UDP sockets.

use std::time::Duration;

use emroam_protocol::sip;
use hyper::{Method, StatusCode};

use crate::sip::Ua;
use crate::sip_metrics::{ctx_of, http, scrape};
use crate::util::{Live, P1, P2, TOPO, live};

/// Bob logs in on P1 (so P1 may register his line 1000001); returns the live cluster, its SIP
/// address and Bob's phone.
async fn bob_logged_in(topo: &str) -> (Live, std::net::SocketAddr, Ua) {
    let l = live(topo, emroam_server::Options::default()).await;
    let ctx = ctx_of(&l);
    let (_, page) = http(
        &ctx,
        Method::GET,
        &format!("/emapp/EMAppServlet?device={P1}&userid=bob&seq=12345"),
        "",
    )
    .await;
    assert!(page.contains("Successful"), "{page}");
    // Let the SIP task see the login's pending restart first: P1 is not registered, so it
    // stays pending and no NOTIFY drops the binding made next.
    tokio::task::yield_now().await;
    let at = l.running.as_ref().unwrap().sip("c1").unwrap().1;
    let bob = Ua::new(P1, at).await;
    (l, at, bob)
}

fn sip_of(l: &Live) -> emroam_server::sip::Sip {
    l.sip().expect("c1 serves SIP")
}

/// The granted expiry of a 200 to a REGISTER, as (Contact `expires=`, `Expires`).
fn granted(ok: &sip::Message) -> (u32, u32) {
    assert_eq!(ok.code(), Some(200));
    let contact = sip::param(ok.header("Contact").unwrap(), "expires")
        .unwrap()
        .parse()
        .unwrap();
    (contact, ok.expires().unwrap())
}

/// Advances the paused clock, then lets the SIP task's timer run.
async fn advance(secs: u64) {
    tokio::time::advance(Duration::from_secs(secs)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
}

#[tokio::test(start_paused = true)]
async fn a_binding_not_refreshed_is_gone_after_the_keepalive_interval() {
    let (l, at, mut bob) = bob_logged_in(TOPO).await;
    let sip = sip_of(&l);
    // Asked 3600, granted CUCM's default interval.
    let ok = bob.register_for("1000001", "b1", 3600).await;
    assert_eq!(granted(&ok), (120, 120));
    advance(119).await;
    assert_eq!(sip.registered_device("1000001").as_deref(), Some(P1));
    advance(2).await;
    assert_eq!(
        sip.registered_device("1000001"),
        None,
        "not refreshed: gone"
    );
    assert_eq!(sip.binding_count(), 0);
    let s = scrape(&ctx_of(&l)).await;
    assert_eq!(s.json["registrations_expired"], 1);
    assert_eq!(s.json["bindings"], 0);
    // Bob's number is this cluster's, with nobody registered: 480.
    let mut caller = Ua::new(P2, at).await;
    assert_eq!(crate::sip::call(&mut caller, "1000001", None).await, 480);
    // Asking less than the interval gets what was asked; asking 0 removes the binding.
    let ok = bob.register_for("1000001", "b1", 90).await;
    assert_eq!(granted(&ok), (90, 90));
    assert_eq!(sip.binding_count(), 1);
    let ok = bob.register_for("1000001", "b1", 0).await;
    assert_eq!(ok.code(), Some(200));
    assert_eq!(sip.binding_count(), 0);
    let c = sip.counters();
    assert_eq!(
        (c.registers, c.unregisters, c.registrations_expired),
        (2, 1, 1)
    );
    l.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_binding_refreshed_in_time_stays() {
    let (l, at, mut bob) = bob_logged_in(TOPO).await;
    let sip = sip_of(&l);
    assert_eq!(bob.register("1000001", "b1").await, 200);
    for _ in 0..3 {
        advance(100).await;
        assert_eq!(bob.register("1000001", "b1").await, 200, "refresh");
    }
    advance(100).await;
    assert_eq!(sip.registered_device("1000001").as_deref(), Some(P1));
    // 400 s after the first REGISTER the binding still takes calls.
    let mut caller = Ua::new(P2, at).await;
    let inv = caller.invite("1000001");
    caller.send(&inv, at).await;
    let got = crate::sip::ring(&bob).await;
    assert_eq!(got.call_id(), inv.call_id());
    assert_eq!(sip.counters().registrations_expired, 0);
    l.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_keepalive_interval_changed_at_run_time_applies_to_new_grants() {
    let (l, _, mut bob) = bob_logged_in(TOPO).await;
    let ctx = ctx_of(&l);
    let sip = sip_of(&l);
    let ok = bob.register_for("1000001", "b1", 3600).await;
    assert_eq!(granted(&ok), (120, 120));
    let (st, body) = http(
        &ctx,
        Method::PUT,
        "/admin/clusters/c1/params",
        r#"{"sip_station_keepalive_interval": 600}"#,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["sip_station_keepalive_interval"], 600);
    // Out of range: refused, nothing changes.
    let (st, body) = http(
        &ctx,
        Method::PUT,
        "/admin/clusters/c1/params",
        r#"{"sip_station_keepalive_interval": 59}"#,
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(l.cluster().params().sip_station_keepalive_interval, 600);
    // The refresh gets the new interval; it lasts 600 s, not 120.
    let ok = bob.register_for("1000001", "b1", 3600).await;
    assert_eq!(granted(&ok), (600, 600));
    advance(590).await;
    assert_eq!(sip.registered_device("1000001").as_deref(), Some(P1));
    advance(20).await;
    assert_eq!(sip.registered_device("1000001"), None);
    l.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn the_topology_sets_a_clusters_keepalive_interval() {
    let topo = TOPO.replace(
        "em = { max_concurrent_requests = 5 }",
        "em = { max_concurrent_requests = 5, sip_station_keepalive_interval = 300 }",
    );
    let (l, _, mut bob) = bob_logged_in(&topo).await;
    let ok = bob.register_for("1000001", "b1", 3600).await;
    assert_eq!(granted(&ok), (300, 300));
    let bad = TOPO.replace(
        "em = { max_concurrent_requests = 5 }",
        "em = { sip_station_keepalive_interval = 7201 }",
    );
    let e = emroam_server::Topology::parse(&bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("sip_station_keepalive_interval"), "{e}");
    l.shutdown().await;
}
