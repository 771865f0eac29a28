//! The admin API: routes, JSON shapes, and who may use it.

use bytes::Bytes;
use emroam_server::http::Req;
use hyper::{Method, StatusCode};
use serde_json::Value;

use crate::util::*;

fn req(method: Method, pq: &str, peer: &str, body: &str) -> Req {
    let mut r = Req::get(pq, peer.parse().unwrap());
    r.method = method;
    r.body = Bytes::from(body.to_owned());
    r
}

async fn json(s: &InProc, r: Req) -> (StatusCode, Value) {
    let (st, _, body) = s.req(r).await;
    (
        st,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

#[tokio::test]
async fn routes_and_shapes() {
    let s = inproc(TOPO).await;
    let (st, v) = json(&s, req(Method::GET, "/admin/clusters", PEER, "")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v[0]["id"], "c1");
    assert_eq!(v[0]["em_app"], true);
    assert_eq!(v[0]["params"]["max_concurrent_requests"], 5);
    assert_eq!(v[0]["params"]["multiple_login_behavior"], "not-allowed");

    let (st, v) = json(
        &s,
        req(
            Method::PUT,
            "/admin/clusters/c1/params",
            PEER,
            r#"{"max_concurrent_requests": 9, "multiple_login_behavior": "Auto Logout"}"#,
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["max_concurrent_requests"], 9);
    assert_eq!(s.cluster().params().max_concurrent_requests, 9);
    let (st, _) = json(
        &s,
        req(
            Method::PUT,
            "/admin/clusters/c1/params",
            PEER,
            r#"{"max_concurrent_requests": 0}"#,
        ),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let (st, _) = json(
        &s,
        req(
            Method::PUT,
            "/admin/clusters/c1/params",
            PEER,
            r#"{"bogus": 1}"#,
        ),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(s.cluster().params().max_concurrent_requests, 9);

    let (st, _) = json(
        &s,
        req(Method::POST, "/admin/clusters/c1/emservice/stop", PEER, ""),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(!s.cluster().em_service_running());
    json(
        &s,
        req(Method::POST, "/admin/clusters/c1/emservice/start", PEER, ""),
    )
    .await;
    let (_, v) = json(
        &s,
        req(Method::POST, "/admin/clusters/c1/emapp/stop", PEER, ""),
    )
    .await;
    assert_eq!(v["em_app"], false);
    json(
        &s,
        req(Method::POST, "/admin/clusters/c1/emapp/start", PEER, ""),
    )
    .await;

    let page = s.emapp(&format!("device={P1}&userid=bob&seq=12345")).await;
    assert_eq!(text_of(&page), "Login Successful");
    let (_, v) = json(&s, req(Method::GET, "/admin/clusters/c1/logins", PEER, "")).await;
    assert_eq!(v[0]["device"], P1);
    assert_eq!(v[0]["user"], "bob");
    assert_eq!(v[0]["profile"], "bob-udp");
    let (_, v) = json(
        &s,
        req(Method::GET, "/admin/clusters/c1/restarts", PEER, ""),
    )
    .await;
    assert_eq!(v[0]["action"], "restart");
    let (_, v) = json(
        &s,
        req(Method::GET, "/admin/clusters/c1/counters", PEER, ""),
    )
    .await;
    assert_eq!(v["counters"]["LoginsSuccessful"], 1);

    assert_eq!(
        json(&s, req(Method::GET, "/admin/clusters/nope", PEER, ""))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        json(&s, req(Method::GET, "/admin/frob", PEER, "")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        json(
            &s,
            req(Method::DELETE, "/admin/clusters/c1/params", PEER, "")
        )
        .await
        .0,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn non_loopback_needs_the_token() {
    let s = inproc(TOPO).await;
    let far = "192.0.2.7:5555";
    assert_eq!(
        json(&s, req(Method::GET, "/admin/clusters", far, ""))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let mut r = req(Method::GET, "/admin/clusters", far, "");
    r.headers
        .insert("authorization", "Bearer wrong".parse().unwrap());
    assert_eq!(json(&s, r.clone()).await.0, StatusCode::FORBIDDEN);
    r.headers
        .insert("authorization", "Bearer sekret".parse().unwrap());
    assert_eq!(json(&s, r).await.0, StatusCode::OK);
    // Phones elsewhere still use the EM application.
    let (st, _, _) = s
        .req(req(
            Method::GET,
            &format!("/emapp/EMAppServlet?device={P1}"),
            far,
            "",
        ))
        .await;
    assert_eq!(st, StatusCode::OK);
}

#[tokio::test]
async fn a_wrong_token_is_refused_from_loopback_too() {
    let s = inproc(TOPO).await;
    let near = "127.0.0.1:5555";
    // No token at all from loopback: the tools on the box.
    let r = req(Method::GET, "/admin/clusters", near, "");
    assert_eq!(json(&s, r.clone()).await.0, StatusCode::OK);
    let with = |token: &str| {
        let mut r = r.clone();
        r.headers.insert("authorization", token.parse().unwrap());
        r
    };
    assert_eq!(
        json(&s, with("Bearer wrong")).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        json(&s, with("Basic c2VrcmV0")).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(json(&s, with("Bearer sekret")).await.0, StatusCode::OK);
}

#[tokio::test]
async fn metrics_answer_get_and_head_only() {
    let s = inproc(TOPO).await;
    for path in ["/metrics", "/metrics.json", "/api/counters"] {
        for m in [Method::GET, Method::HEAD] {
            assert_eq!(
                s.req(req(m, path, "127.0.0.1:5555", "")).await.0,
                StatusCode::OK
            );
        }
        for m in [Method::POST, Method::PUT, Method::DELETE] {
            let (st, headers, _) = s.req(req(m, path, "127.0.0.1:5555", "")).await;
            assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED, "{path}");
            assert_eq!(headers.get("allow").unwrap(), "GET, HEAD", "{path}");
        }
    }
}
