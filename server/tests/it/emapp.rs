//! The phone-facing EM application: every code a phone can provoke, the pages, the counters,
//! the config file and the pending restarts.

use emroam_protocol::cipxml::Object;
use emroam_protocol::devicecfg::DeviceConfig;
use emroam_server::cluster::RestartKind;
use emroam_server::params::ParamsPatch;
use hyper::StatusCode;

use crate::util::*;

async fn login(s: &InProc, device: &str, userid: &str, pin: &str) -> String {
    text_of(
        &s.emapp(&format!("device={device}&userid={userid}&seq={pin}"))
            .await,
    )
}

#[tokio::test]
async fn login_form_asks_for_the_login_types_identifier_and_pin() {
    let s = inproc(TOPO).await;
    for (lt, label) in [
        ("", "User ID"),
        ("&loginType=UID", "User ID"),
        ("&loginType=DN", "Primary Extension"),
        ("&loginType=sp", "Self-service User ID"),
    ] {
        let Object::Input(i) = s.emapp(&format!("device={P1}{lt}")).await else {
            panic!("not an Input")
        };
        assert_eq!(i.items.len(), 2);
        assert_eq!(i.items[0].display_name, label);
        assert_eq!(i.items[0].query_string_param, "userid");
        assert_eq!(i.items[1].query_string_param, "seq");
        assert!(i.items[1].flags.password);
        assert!(
            i.url.contains(&format!("/emapp/EMAppServlet?device={P1}")),
            "{}",
            i.url
        );
        if !lt.is_empty() {
            assert!(
                i.url
                    .to_ascii_lowercase()
                    .contains(&lt[1..].to_ascii_lowercase()),
                "{}",
                i.url
            );
        }
    }
    assert_eq!(s.counters().requests_handled, 4);
    assert_eq!(s.counters().attempted, 0);
}

#[tokio::test]
async fn first_page_errors() {
    let s = inproc(TOPO).await;
    assert_eq!(
        text_of(&s.emapp("device=").await),
        "Login is unavailable(207)"
    );
    assert_eq!(
        text_of(&s.emapp("loginType=UID").await),
        "Login is unavailable(207)"
    );
    assert_eq!(
        text_of(&s.emapp(&format!("device={P1}&loginType=XYZ")).await),
        "LoginType invalid(215)"
    );
    // Unknown device: 11, "Device does not exist" (our choice; see the crate docs).
    assert_eq!(
        text_of(&s.emapp("device=SEP123456789ABC").await),
        "Login is unavailable(11)"
    );
    assert_eq!(
        text_of(&s.emapp(&format!("device={OFF}")).await),
        "Login is unavailable(22)"
    );
    let c = s.counters();
    for code in [207, 215, 11, 22] {
        assert!(c.codes[&code] >= 1, "{code}: {:?}", c.codes);
    }
    assert_eq!(c.codes[&207], 2);
}

#[tokio::test]
async fn submit_errors_show_exact_texts() {
    let s = inproc(TOPO).await;
    assert_eq!(
        login(&s, P1, "", "12345").await,
        "Please try to login again (202)"
    );
    assert_eq!(
        login(&s, P1, "bob", "").await,
        "Please try to login again (202)"
    );
    assert_eq!(
        login(&s, P1, "bob", "99999").await,
        "Please try to login again (201)"
    );
    assert_eq!(
        login(&s, P1, "nobody", "12345").await,
        "Please try to login again (201)"
    );
    let dn = |id: &str, pin: &str| format!("device={P1}&loginType=DN&userid={id}&seq={pin}");
    assert_eq!(
        text_of(&s.emapp(&dn("5000", "3333")).await),
        "DN has multiple users(216)"
    );
    assert_eq!(
        text_of(&s.emapp(&dn("4242", "3333")).await),
        "Login is Unavailable (23)"
    );
    let sp = format!("device={P1}&loginType=SP&userid=1234&seq=5555");
    assert_eq!(text_of(&s.emapp(&sp).await), "Login is Unavailable (23)");
    assert_eq!(
        login(&s, P1, "frank", "5555").await,
        "Login is unavailable (205)"
    );
    assert_eq!(
        login(&s, OFF, "bob", "12345").await,
        "Login is unavailable(22)"
    );
    // Unknown device: credentials first (201), then 205, as observed on CUCM.
    assert_eq!(
        login(&s, "SEP0000000BEEF0", "bob", "12345").await,
        "Login is unavailable (205)"
    );
    assert_eq!(
        login(&s, "SEP0000000BEEF0", "bob", "1").await,
        "Please try to login again (201)"
    );
    let c = s.counters();
    assert_eq!(c.logins_successful, 0);
    assert_eq!(c.attempted, 11);
    assert_eq!(c.codes[&202], 2);
    assert_eq!(c.codes[&201], 3);
    assert_eq!(c.codes[&216], 1);
    assert_eq!(c.codes[&23], 2);
    assert_eq!(c.codes[&205], 2);
    assert!(s.cluster().logins().is_empty());
}

#[tokio::test]
async fn successful_login_commits_restarts_and_changes_the_config() {
    let s = inproc(TOPO).await;
    let before = emroam_server::configsrv::device_config(s.cluster(), P1).unwrap();
    assert_eq!(before.lines[0].name, "9000001");
    assert_eq!(before.user_id, None);
    let (st, headers, body) = s
        .get(&format!(
            "/emapp/EMAppServlet?device={P1}&userid=bob&seq=12345"
        ))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(body.contains("Login Successful"), "{body}");
    assert_eq!(headers["refresh"], "3; url=Init:Services");
    let l = s.cluster().login_on(P1).unwrap();
    assert_eq!((l.user.as_str(), l.profile.as_str()), ("bob", "bob-udp"));
    assert_eq!(
        s.cluster().pending_restarts(),
        vec![(P1.to_owned(), RestartKind::Restart)]
    );
    let after = DeviceConfig::parse(
        emroam_server::configsrv::device_config(s.cluster(), P1)
            .unwrap()
            .to_xml()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(after.lines[0].name, "1000001");
    assert_eq!(after.user_id.as_deref(), Some("bob"));
    let c = s.counters();
    assert_eq!(
        (c.logins_successful, c.attempted, c.requests_handled),
        (1, 1, 1)
    );

    // Now the service shows the logout confirmation, whose Yes logs out.
    let Object::Text(t) = s.emapp(&format!("device={P1}")).await else {
        panic!()
    };
    assert!(t.text.contains("bob"));
    let yes = t
        .softkeys
        .iter()
        .find(|k| k.name == "Yes")
        .unwrap()
        .url
        .clone()
        .unwrap();
    assert!(yes.ends_with("&doLogout=true"), "{yes}");
    let path = yes
        .split_once("127.0.0.1:8080")
        .map_or(yes.as_str(), |(_, p)| p)
        .to_owned();
    let (_, headers, body) = s.get(&path).await;
    assert!(body.contains("Logout Successful"), "{body}");
    assert!(headers.contains_key("refresh"));
    assert!(s.cluster().login_on(P1).is_none());
    assert_eq!(
        s.cluster().take_pending_restarts(),
        vec![(P1.to_owned(), RestartKind::Restart)]
    );
    assert_eq!(s.counters().logouts_successful, 1);
    // Logging out an empty device: 19.
    assert_eq!(
        text_of(&s.emapp(&format!("device={P1}&doLogout=true")).await),
        "Logout is unavailable(19)"
    );
}

#[tokio::test]
async fn dn_and_sp_logins() {
    let s = inproc(TOPO).await;
    let t = text_of(
        &s.emapp(&format!(
            "device={P1}&loginType=DN&userid=1000001&seq=12345"
        ))
        .await,
    );
    assert_eq!(t, "Login Successful");
    let t = text_of(
        &s.emapp(&format!("device={P2}&loginType=SP&userid=2000007&seq=1234"))
            .await,
    );
    assert_eq!(t, "Login Successful");
    assert_eq!(s.cluster().login_on(P2).unwrap().user, "u007");
}

#[tokio::test]
async fn several_profiles_give_a_menu_and_a_locale_change_resets() {
    let s = inproc(TOPO).await;
    let Object::Menu(m) = s.emapp(&format!("device={P1}&userid=carol&seq=2222")).await else {
        panic!("no menu")
    };
    assert_eq!(
        m.items.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
        ["carol-en", "carol-fr"]
    );
    assert!(s.cluster().login_on(P1).is_none());
    let url = m.items[1].url.clone().unwrap();
    assert!(
        url.contains("deviceProfile=carol-fr") && !url.contains("2222"),
        "{url}"
    );
    let q = url.split_once('?').unwrap().1;
    assert_eq!(text_of(&s.emapp(q).await), "Login Successful");
    assert_eq!(s.cluster().login_on(P1).unwrap().profile, "carol-fr");
    assert_eq!(
        s.cluster().take_pending_restarts(),
        vec![(P1.to_owned(), RestartKind::Reset)]
    );
    // The ticket is single-use.
    assert_eq!(
        text_of(&s.emapp(&q.replace(P1, P2)).await),
        "Please try to login again (201)"
    );
    // A profile that is not the user's: 205.
    let bad = format!("device={P2}&userid=bob&seq=12345&deviceProfile=carol-en");
    assert_eq!(text_of(&s.emapp(&bad).await), "Login is unavailable (205)");
}

#[tokio::test]
async fn multiple_login_behaviors() {
    let s = inproc(TOPO).await;
    assert_eq!(login(&s, P1, "bob", "12345").await, "Login Successful");
    // Someone is on P1: a second login there is 18.
    assert_eq!(
        login(&s, P1, "u001", "1234").await,
        "Login is unavailable(18)"
    );
    // Not allowed (default): 25.
    assert_eq!(
        login(&s, P2, "bob", "12345").await,
        "Multi-Login Not Allowed (25)"
    );
    // Allowed: both stay.
    let set = |b: &str| ParamsPatch {
        multiple_login_behavior: Some(
            serde_json::from_value(serde_json::Value::String(b.into())).unwrap(),
        ),
        ..Default::default()
    };
    s.cluster().update_params(&set("allowed")).unwrap();
    assert_eq!(login(&s, P2, "bob", "12345").await, "Login Successful");
    assert_eq!(
        s.cluster().devices_of("bob"),
        vec![P1.to_owned(), P2.to_owned()]
    );
    // Auto Logout: the others are logged out.
    s.cluster().update_params(&set("auto-logout")).unwrap();
    let p3 = phone(3);
    s.cluster().take_pending_restarts();
    assert_eq!(login(&s, &p3, "bob", "12345").await, "Login Successful");
    assert_eq!(s.cluster().devices_of("bob"), vec![p3.clone()]);
    let restarts: Vec<String> = s
        .cluster()
        .take_pending_restarts()
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    assert_eq!(restarts, vec![P1.to_owned(), P2.to_owned(), p3]);
    let c = s.counters();
    assert_eq!((c.logins_successful, c.logouts_successful), (3, 2));
    assert_eq!(c.codes[&25], 1);
    assert_eq!(c.codes[&18], 1);
}

#[tokio::test]
async fn stopped_service_gives_208_and_stopped_app_503() {
    let s = inproc(TOPO).await;
    s.cluster().set_em_service_running(false);
    assert_eq!(
        text_of(&s.emapp(&format!("device={P1}")).await),
        "Login is unavailable(208)"
    );
    assert_eq!(
        login(&s, P1, "bob", "12345").await,
        "Login is unavailable(208)"
    );
    assert_eq!(
        text_of(&s.emapp(&format!("device={P1}&doLogout=true")).await),
        "Logout is unavailable(208)"
    );
    s.cluster().set_em_service_running(true);
    s.cluster().set_em_app_running(false);
    let (st, _, _) = s.get(&format!("/emapp/EMAppServlet?device={P1}")).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(s.counters().codes[&208], 3);
}

#[tokio::test]
async fn validate_ip_and_proxy() {
    let s = inproc(TOPO).await;
    s.cluster()
        .update_params(&ParamsPatch {
            validate_ip: Some(true),
            trusted_ips: Some(vec!["10.1.1.1".into()]),
            allow_proxy: Some(false),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        login(&s, P1, "bob", "12345").await,
        "Login is unavailable(28)"
    );
    let mut r = emroam_server::http::Req::get(
        &format!("/emapp/EMAppServlet?device={P1}&userid=bob&seq=12345"),
        "10.1.1.1:5000".parse().unwrap(),
    );
    r.headers.insert("via", "1.1 proxy".parse().unwrap());
    let (_, _, body) = s.req(r.clone()).await;
    assert!(body.contains("Login is unavailable(30)"), "{body}");
    r.headers.remove("via");
    let (_, _, body) = s.req(r).await;
    assert!(body.contains("Login Successful"), "{body}");
}

#[tokio::test]
async fn max_login_time_logs_out_by_itself() {
    tokio::time::pause();
    let s = inproc(TOPO).await;
    s.cluster()
        .update_params(&ParamsPatch {
            max_login_time: Some("0:30".into()),
            ..Default::default()
        })
        .unwrap();
    assert!(s.cluster().params().enforce_max_login_time);
    assert_eq!(login(&s, P1, "bob", "12345").await, "Login Successful");
    s.cluster().take_pending_restarts();
    tokio::time::sleep(std::time::Duration::from_secs(29 * 60)).await;
    assert!(s.cluster().login_on(P1).is_some());
    tokio::time::sleep(std::time::Duration::from_secs(61)).await;
    // Let the timer task finish its database write.
    for _ in 0..100 {
        if s.cluster().login_on(P1).is_none() && !s.cluster().pending_restarts().is_empty() {
            break;
        }
        // Real time: the database thread is outside tokio, and paused time would race past it.
        tokio::task::spawn_blocking(|| std::thread::sleep(std::time::Duration::from_millis(1)))
            .await
            .unwrap();
    }
    assert!(s.cluster().login_on(P1).is_none());
    assert_eq!(
        s.cluster().pending_restarts(),
        vec![(P1.to_owned(), RestartKind::Restart)]
    );
    assert_eq!(s.counters().logouts_successful, 1);
    // A new login on the same device is not ended by an old timer.
    assert_eq!(login(&s, P1, "bob", "12345").await, "Login Successful");
}

#[tokio::test]
async fn service_time_is_spent_per_login() {
    tokio::time::pause();
    let s = inproc(TOPO).await;
    s.cluster()
        .update_params(&ParamsPatch {
            service_time: Some("250ms".into()),
            ..Default::default()
        })
        .unwrap();
    let t0 = tokio::time::Instant::now();
    assert_eq!(login(&s, P1, "bob", "12345").await, "Login Successful");
    assert!(t0.elapsed() >= std::time::Duration::from_millis(250));
}

#[tokio::test]
async fn remember_the_last_user_and_lastlogin() {
    let s = inproc(TOPO).await;
    assert_eq!(login(&s, P1, "bob", "12345").await, "Login Successful");
    assert_eq!(
        text_of(&s.emapp(&format!("device={P1}&doLogout=true")).await),
        "Logout Successful"
    );
    let Object::Input(i) = s.emapp(&format!("device={P1}")).await else {
        panic!()
    };
    assert_eq!(i.items[0].default_value, "", "off by default");
    s.cluster()
        .update_params(&ParamsPatch {
            remember_last_user: Some(true),
            ..Default::default()
        })
        .unwrap();
    let Object::Input(i) = s.emapp(&format!("device={P1}")).await else {
        panic!()
    };
    assert_eq!(i.items[0].default_value, "bob");
    let Object::Input(i) = s.emapp(&format!("device={P1}&loginType=DN")).await else {
        panic!()
    };
    assert_eq!(i.items[0].default_value, "", "UID only");
    let q = doc(
        "query",
        EMAPI,
        &format!("<deviceUserQuery><deviceName>{P1}</deviceName></deviceUserQuery>"),
    );
    let emroam_protocol::emapi::Response::DeviceUserResults(d) = s.api(&q).await else {
        panic!()
    };
    assert!(d[0].none);
    assert_eq!(d[0].last_login.as_deref(), Some("bob"));
}
