//! The EM API servlet: every operation and every code an API client can provoke.

use emroam_protocol::emapi::Response;
use hyper::{Method, StatusCode};

use crate::util::*;

fn login_op(device: &str, user: &str, extra: &str) -> String {
    format!("<login><deviceName>{device}</deviceName><userID>{user}</userID>{extra}</login>")
}

fn code(r: &Response) -> Option<u16> {
    r.error_code()
}

#[tokio::test]
async fn login_query_logout_as_proxy_application_user() {
    let s = inproc(TOPO).await;
    let r = s
        .api(&doc(
            "request",
            EMAPI,
            &login_op(P1, "carol", "<deviceProfile>carol-fr</deviceProfile>"),
        ))
        .await;
    assert_eq!(r, Response::Success);
    assert_eq!(s.cluster().login_on(P1).unwrap().profile, "carol-fr");

    let q = doc(
        "query",
        EMAPI,
        &format!(
            "<deviceUserQuery><deviceName>{P1}</deviceName><deviceName>{P2}</deviceName><deviceName>SEP0000000BEEF0</deviceName></deviceUserQuery>"
        ),
    );
    let Response::DeviceUserResults(d) = s.api(&q).await else {
        panic!()
    };
    assert_eq!(d[0].current_user(), Some("carol"));
    assert!(d[1].none && !d[1].does_not_exist);
    assert!(d[2].does_not_exist);

    let q = doc(
        "query",
        EMAPI,
        "<userDevicesQuery><userID>carol</userID><userID>bob</userID><userID>ghost</userID></userDevicesQuery>",
    );
    let Response::UserDevicesResults(u) = s.api(&q).await else {
        panic!()
    };
    assert_eq!(u[0].device_names, vec![P1.to_owned()]);
    assert!(u[1].none);
    assert!(u[2].does_not_exist);

    let q = doc(
        "query",
        EMAPI,
        "<userDeviceProfileQuery><userID>carol</userID></userDeviceProfileQuery>",
    );
    let Response::DeviceProfileResults(p) = s.api(&q).await else {
        panic!()
    };
    assert_eq!(p[0].profiles.len(), 2);
    assert!(p[0].profiles[0].is_default && !p[0].profiles[1].is_default);

    let out = doc(
        "request",
        EMAPI,
        &format!("<logout><deviceName>{P1}</deviceName></logout>"),
    );
    assert_eq!(s.api(&out).await, Response::Success);
    assert_eq!(code(&s.api(&out).await), Some(19));
    let c = s.counters();
    assert_eq!(
        (c.logins_successful, c.logouts_successful, c.attempted),
        (1, 1, 3)
    );
}

#[tokio::test]
async fn api_error_codes() {
    let s = inproc(TOPO).await;
    let bad_pw = doc("request", ("emapi", "nope"), &login_op(P1, "bob", ""));
    assert_eq!(code(&s.api(&bad_pw).await), Some(3));
    let unknown = doc("request", ("ghost", "x"), &login_op(P1, "bob", ""));
    assert_eq!(code(&s.api(&unknown).await), Some(3));
    let no_proxy = doc(
        "request",
        ("reader", "reader-secret"),
        &login_op(P1, "bob", ""),
    );
    assert_eq!(code(&s.api(&no_proxy).await), Some(10));
    // An end user acts for themselves only.
    let own = doc("request", ("bob", "bob-password"), &login_op(P1, "bob", ""));
    assert_eq!(s.api(&own).await, Response::Success);
    let other = doc(
        "request",
        ("bob", "bob-password"),
        &login_op(P2, "carol", ""),
    );
    assert_eq!(code(&s.api(&other).await), Some(10));
    assert_eq!(
        code(
            &s.api(&doc(
                "request",
                EMAPI,
                &login_op("SEP0000000BEEF0", "carol", "")
            ))
            .await
        ),
        Some(11)
    );
    assert_eq!(
        code(
            &s.api(&doc(
                "request",
                EMAPI,
                &login_op(P2, "carol", "<deviceProfile>bob-udp</deviceProfile>")
            ))
            .await
        ),
        Some(12)
    );
    assert_eq!(
        code(
            &s.api(&doc("request", EMAPI, &login_op(P2, "frank", "")))
                .await
        ),
        Some(12)
    );
    assert_eq!(
        code(
            &s.api(&doc("request", EMAPI, &login_op(P1, "carol", "")))
                .await
        ),
        Some(18)
    );
    assert_eq!(
        code(
            &s.api(&doc("request", EMAPI, &login_op(P2, "bob", "")))
                .await
        ),
        Some(25)
    );
    assert_eq!(
        code(
            &s.api(&doc("request", EMAPI, &login_op(OFF, "carol", "")))
                .await
        ),
        Some(22)
    );
    assert_eq!(
        code(
            &s.api(&doc("request", EMAPI, &login_op(P2, "ghost", "")))
                .await
        ),
        Some(23)
    );
    assert_eq!(
        code(
            &s.api(&doc(
                "request",
                EMAPI,
                &format!("<logout><deviceName>{OFF}</deviceName></logout>")
            ))
            .await
        ),
        Some(5)
    );
    // Malformed → 1; unknown query → 8.
    assert_eq!(code(&s.api("<request><appInfo>").await), Some(1));
    assert_eq!(code(&s.api("not xml at all").await), Some(1));
    assert_eq!(
        code(
            &s.api(&doc(
                "query",
                EMAPI,
                "<checkUser><userID>x</userID></checkUser>"
            ))
            .await
        ),
        Some(8)
    );
    // A form without the xml field → 1.
    let mut r = emroam_server::http::Req::get("/emservice/EMServiceServlet", PEER.parse().unwrap());
    r.method = Method::POST;
    r.body = bytes::Bytes::from_static(b"foo=bar");
    let (st, _, body) = s.req(r.clone()).await;
    assert_eq!(st, StatusCode::OK);
    assert!(body.contains("code=\"1\""), "{body}");
    r.method = Method::GET;
    assert_eq!(s.req(r).await.0, StatusCode::METHOD_NOT_ALLOWED);
    let c = s.counters();
    assert_eq!(c.codes[&3], 2);
    assert_eq!(c.codes[&1], 3);
    assert_eq!(c.logins_successful, 1);
}

#[tokio::test]
async fn logout_all_needs_proxy_rights() {
    let s = inproc(TOPO).await;
    for n in 1..=5 {
        let r = s
            .api(&doc(
                "request",
                EMAPI,
                &login_op(&phone(n), &format!("u{n:03}"), ""),
            ))
            .await;
        assert_eq!(r, Response::Success);
    }
    let all = |app| doc("request", app, "<logoutAll></logoutAll>");
    assert_eq!(code(&s.api(&all(("bob", "bob-password"))).await), Some(10));
    assert_eq!(s.api(&all(EMAPI)).await, Response::Success);
    assert!(s.cluster().logins().is_empty());
    assert_eq!(s.cluster().pending_restarts().len(), 5);
    assert_eq!(s.counters().logouts_successful, 5);
}

#[tokio::test]
async fn exclusive_duration_ends_the_login() {
    tokio::time::pause();
    let s = inproc(TOPO).await;
    // Paused time auto-advances while a request waits for the database thread, so the
    // unlimited login goes first and the timed one is checked right after it commits.
    let r = s
        .api(&doc(
            "request",
            EMAPI,
            &login_op(
                P2,
                "u001",
                "<exclusiveDuration><indefinite/></exclusiveDuration>",
            ),
        ))
        .await;
    assert_eq!(r, Response::Success);
    let r = s
        .api(&doc(
            "request",
            EMAPI,
            &login_op(
                P1,
                "bob",
                "<exclusiveDuration><time>2</time></exclusiveDuration>",
            ),
        ))
        .await;
    assert_eq!(r, Response::Success);
    let l = s.cluster().login_on(P1).unwrap();
    assert_eq!(l.expires_ms.unwrap() - l.since_ms, 120_000);
    tokio::time::sleep(std::time::Duration::from_secs(121)).await;
    for _ in 0..100 {
        if s.cluster().login_on(P1).is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    assert!(s.cluster().login_on(P1).is_none());
    assert!(s.cluster().login_on(P2).is_some());
}

#[tokio::test]
async fn remote_ip_and_via_from_the_request_are_validated() {
    let s = inproc(TOPO).await;
    s.cluster()
        .update_params(&emroam_server::params::ParamsPatch {
            validate_ip: Some(true),
            trusted_ips: Some(vec!["10.9.9.9".into()]),
            allow_proxy: Some(false),
            ..Default::default()
        })
        .unwrap();
    let from = |extra: &str| doc("request", EMAPI, &login_op(P1, "bob", extra));
    assert_eq!(code(&s.api(&from("")).await), Some(28));
    assert_eq!(
        code(&s.api(&from("<remoteIPAddr>10.9.9.8</remoteIPAddr>")).await),
        Some(28)
    );
    let via = "<remoteIPAddr>10.9.9.9</remoteIPAddr><isViaHeaderSet>true</isViaHeaderSet>";
    assert_eq!(code(&s.api(&from(via)).await), Some(30));
    assert_eq!(
        s.api(&from("<remoteIPAddr>10.9.9.9</remoteIPAddr>")).await,
        Response::Success
    );
    assert_eq!(s.counters().requests_throttled, 0);
}

#[tokio::test]
async fn a_stopped_em_service_answers_503() {
    let s = inproc(TOPO).await;
    s.cluster().set_em_service_running(false);
    let mut r = emroam_server::http::Req::get("/emservice/EMServiceServlet", PEER.parse().unwrap());
    r.method = Method::POST;
    r.body = bytes::Bytes::from(emroam_protocol::emapi::form_body(&doc(
        "request",
        EMAPI,
        &login_op(P1, "bob", ""),
    )));
    assert_eq!(s.req(r.clone()).await.0, StatusCode::SERVICE_UNAVAILABLE);
    s.cluster().set_em_service_running(true);
    assert_eq!(s.req(r).await.0, StatusCode::OK);
    assert_eq!(s.counters().logins_successful, 1);
}

#[tokio::test]
async fn an_end_user_may_not_ask_who_is_on_a_device() {
    let s = inproc(TOPO).await;
    let login = doc("request", EMAPI, &login_op(P1, "carol", ""));
    assert_eq!(s.api(&login).await, Response::Success);
    let who = |app| {
        doc(
            "query",
            app,
            &format!("<deviceUserQuery><deviceName>{P1}</deviceName></deviceUserQuery>"),
        )
    };
    // Bob would learn that carol is on P1: refused as CUCM refuses acting for another user.
    assert_eq!(code(&s.api(&who(("bob", "bob-password"))).await), Some(10));
    let Response::DeviceUserResults(d) = s.api(&who(EMAPI)).await else {
        panic!("the proxy application user is answered")
    };
    assert_eq!(d[0].current_user(), Some("carol"));
}
