//! Real sockets: throttling under concurrency, the config server, counters endpoints,
//! listeners taken down and back, and graceful shutdown draining in-flight requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use emroam_protocol::cipxml::{self, Object};
use emroam_protocol::devicecfg::DeviceConfig;
use emroam_server::Options;
use emroam_server::params::ParamsPatch;
use hyper::StatusCode;

use crate::util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_exact_under_real_concurrency() {
    let s = live(TOPO, Options::default()).await;
    s.cluster()
        .update_params(&ParamsPatch {
            max_concurrent_requests: Some(3),
            service_time: Some("40ms".into()),
            ..Default::default()
        })
        .unwrap();
    let busy = Arc::new(AtomicU64::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for n in 1..=120u32 {
        let (busy, ok, addr) = (busy.clone(), ok.clone(), s.http);
        tasks.push(tokio::spawn(async move {
            let q = format!(
                "/emapp/EMAppServlet?device={}&userid=u{n:03}&seq=1234",
                phone(n)
            );
            let (st, body) = get(addr, &q).await;
            assert_eq!(st, StatusCode::OK);
            let Ok(Object::Text(t)) = cipxml::parse(body.as_bytes()) else {
                panic!("{body}")
            };
            match t.text.as_str() {
                "Login is unavailable(26)" => busy.fetch_add(1, Ordering::Relaxed),
                "Login Successful" => ok.fetch_add(1, Ordering::Relaxed),
                other => panic!("unexpected page {other}"),
            };
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let c = s.cluster().counters().snapshot();
    let (busy, ok) = (busy.load(Ordering::Relaxed), ok.load(Ordering::Relaxed));
    assert!(busy > 0, "no request was throttled");
    assert_eq!(busy + ok, 120);
    assert_eq!(c.requests_throttled, busy);
    assert_eq!(c.codes[&26], busy);
    assert_eq!(c.logins_successful, ok);
    assert!(
        c.requests_in_progress_peak <= 3,
        "peak {}",
        c.requests_in_progress_peak
    );
    assert_eq!(c.requests_in_progress, 0);
    assert_eq!(s.cluster().logins().len() as u64, ok);
    // The counters endpoints agree.
    let (_, text) = get(s.http, "/metrics").await;
    assert!(
        text.contains(&format!(
            "cisco_extension_mobility{{cluster=\"c1\",counter=\"RequestsThrottled\"}} {busy}"
        )),
        "{text}"
    );
    let (_, json) = get(s.http, "/metrics.json").await;
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["counters"]["RequestsThrottled"], busy);
    assert_eq!(v["counters"]["Total Login/LogoutRequestsAttempted"], 120);
    s.shutdown().await;
}

#[tokio::test]
async fn config_file_follows_the_login() {
    let s = live(TOPO, Options::default()).await;
    let (st, body) = get(s.config, &format!("/{P1}.cnf.xml")).await;
    assert_eq!(st, StatusCode::OK);
    let cfg = DeviceConfig::parse(body.as_bytes()).unwrap();
    assert_eq!(cfg.lines[0].name, "9000001");
    let em = cfg.em_service_url().unwrap().to_owned();
    assert_eq!(
        em,
        format!("http://{}/emapp/EMAppServlet?device=#DEVICENAME#", s.http)
    );
    // The cluster's bound SIP address (port 0 in tests), where phones register.
    let sip = s.cluster().sip_addr();
    assert_eq!(cfg.sip_proxy(), Some(("127.0.0.1", sip.port())));
    assert_ne!(sip.port(), 0);
    // Follow the URL from the config file like a phone.
    let url = em.replace("#DEVICENAME#", P1);
    let pq = url.split_once(&s.http.to_string()).unwrap().1.to_owned();
    let (_, page) = get(s.http, &format!("{pq}&userid=bob&seq=12345")).await;
    assert!(page.contains("Login Successful"), "{page}");
    let (_, body) = get(
        s.config,
        &format!("/{}.cnf.xml", P1.to_ascii_lowercase().replace("sep", "SEP")),
    )
    .await;
    let cfg = DeviceConfig::parse(body.as_bytes()).unwrap();
    assert_eq!(cfg.lines[0].name, "1000001");
    assert_eq!(cfg.user_id.as_deref(), Some("bob"));
    assert_eq!(
        get(s.config, "/SEP0000000BEEF0.cnf.xml").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(s.config, "/nonsense").await.0, StatusCode::NOT_FOUND);
    let post = http(
        s.config,
        hyper::Method::POST,
        &format!("/{P1}.cnf.xml"),
        Vec::new(),
    )
    .await
    .unwrap();
    assert_eq!(post.0, StatusCode::METHOD_NOT_ALLOWED);
    // The EM application is not served on the config port, nor config files on the HTTP port.
    assert_eq!(
        get(s.config, "/emapp/EMAppServlet?device=x").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(s.http, &format!("/{P1}.cnf.xml")).await.0,
        StatusCode::NOT_FOUND
    );
    s.shutdown().await;
}

#[tokio::test]
async fn listeners_down_refuse_connections_and_come_back() {
    let s = live(TOPO, Options::default()).await;
    assert_eq!(get(s.http, "/metrics").await.0, StatusCode::OK);
    let (st, _, _) = http(
        s.http,
        hyper::Method::POST,
        "/admin/clusters/c1/listeners/stop",
        Vec::new(),
    )
    .await
    .unwrap();
    assert_eq!(st, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let refused = tokio::net::TcpStream::connect(s.http).await;
    assert!(refused.is_err(), "still accepting");
    assert!(tokio::net::TcpStream::connect(s.config).await.is_err());
    s.cluster().set_listeners_up(true);
    let mut up = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(s.http).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(up, "listener did not come back");
    assert_eq!(get(s.http, "/metrics").await.0, StatusCode::OK);
    assert_eq!(
        get(s.config, &format!("/{P1}.cnf.xml")).await.0,
        StatusCode::OK
    );
    s.shutdown().await;
}

#[tokio::test]
async fn shutdown_drains_in_flight_logins() {
    let s = live(TOPO, Options::default()).await;
    s.cluster()
        .update_params(&ParamsPatch {
            service_time: Some("300ms".into()),
            ..Default::default()
        })
        .unwrap();
    let addr = s.http;
    let inflight = tokio::spawn(async move {
        get(
            addr,
            &format!("/emapp/EMAppServlet?device={P1}&userid=bob&seq=12345"),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let cluster = s.cluster().clone();
    let t0 = std::time::Instant::now();
    s.shutdown().await;
    let (st, body) = inflight.await.unwrap();
    assert_eq!(st, StatusCode::OK);
    assert!(body.contains("Login Successful"), "{body}");
    assert!(cluster.login_on(P1).is_some());
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn logins_survive_a_restart_on_the_same_data_dir() {
    let dir = scratch("restart");
    let opts = Options {
        data_dir: Some(dir.clone()),
        ..Default::default()
    };
    let s = live(TOPO, opts.clone()).await;
    let (_, page) = get(
        s.http,
        &format!("/emapp/EMAppServlet?device={P1}&userid=bob&seq=12345"),
    )
    .await;
    assert!(page.contains("Login Successful"));
    s.shutdown().await;
    let s = live(TOPO, opts).await;
    assert_eq!(s.cluster().login_on(P1).unwrap().user, "bob");
    let (_, page) = get(
        s.http,
        &format!("/emapp/EMAppServlet?device={P2}&userid=bob&seq=12345"),
    )
    .await;
    assert!(page.contains("Multi-Login Not Allowed (25)"), "{page}");
    s.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_seed_runs_three_clusters_in_one_process() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles/topologies/seed.toml");
    let topo = emroam_server::Topology::load(&path).unwrap();
    let mut listeners = Vec::new();
    for c in &topo.clusters {
        listeners.push((
            c.id.clone(),
            emroam_server::ClusterListeners::ephemeral().await.unwrap(),
        ));
    }
    let token = tokio_util::sync::CancellationToken::new();
    let running = emroam_server::start(&topo, listeners, &Options::default(), token)
        .await
        .unwrap();
    let addr = |id: &str| running.addrs(id).unwrap();
    for (id, device, user) in [
        ("cluster1", "SEP000000001001", "bob"),
        ("cluster2", "SEP000000002001", "alice"),
        ("cluster3", "SEP000000003001", "kally"),
    ] {
        let (http, config) = addr(id);
        let (_, page) = get(
            http,
            &format!("/emapp/EMAppServlet?device={device}&userid={user}&seq=12345"),
        )
        .await;
        assert!(page.contains("Login Successful"), "{id}: {page}");
        let (_, cfg) = get(config, &format!("/{device}.cnf.xml")).await;
        let cfg = DeviceConfig::parse(cfg.as_bytes()).unwrap();
        assert_eq!(cfg.user_id.as_deref(), Some(user));
        assert!(cfg.em_service_url().unwrap().contains(&http.to_string()));
    }
    // A user who is not a superuser is known in their home cluster only.
    let (_, page) = get(
        addr("cluster2").0,
        "/emapp/EMAppServlet?device=SEP000000002002&userid=kally&seq=12345",
    )
    .await;
    assert!(page.contains("(201)"), "{page}");
    // EM disabled on SEP000000001010.
    let (_, page) = get(
        addr("cluster1").0,
        "/emapp/EMAppServlet?device=SEP000000001010",
    )
    .await;
    assert!(page.contains("Login is unavailable(22)"), "{page}");
    // The admin API on cluster2's port controls cluster1.
    let (st, _, _) = http(
        addr("cluster2").0,
        hyper::Method::POST,
        "/admin/clusters/cluster1/emapp/stop",
        Vec::new(),
    )
    .await
    .unwrap();
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        get(
            addr("cluster1").0,
            "/emapp/EMAppServlet?device=SEP000000001002"
        )
        .await
        .0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    running.shutdown().await;
}

#[tokio::test]
async fn a_failed_database_write_answers_6_and_changes_nothing() {
    let dir = scratch("dbfail");
    let opts = Options {
        data_dir: Some(dir.clone()),
        ..Default::default()
    };
    let s = live(TOPO, opts).await;
    let login =
        |d: &str, u: &str, p: &str| format!("/emapp/EMAppServlet?device={d}&userid={u}&seq={p}");
    let (_, page) = get(s.http, &login(P1, "bob", "12345")).await;
    assert!(page.contains("Login Successful"));
    // Break the database under the server's feet.
    let conn = rusqlite::Connection::open(dir.join("c1.db")).unwrap();
    conn.execute_batch("DROP TABLE em_login;").unwrap();
    drop(conn);
    let (_, page) = get(s.http, &login(P2, "u001", "1234")).await;
    assert!(page.contains("Login is unavailable(6)"), "{page}");
    assert!(s.cluster().login_on(P2).is_none());
    assert!(s.cluster().devices_of("u001").is_empty());
    let (_, page) = get(
        s.http,
        &format!("/emapp/EMAppServlet?device={P1}&doLogout=true"),
    )
    .await;
    assert!(page.contains("Logout is unavailable(6)"), "{page}");
    assert_eq!(s.cluster().login_on(P1).unwrap().user, "bob");
    assert_eq!(s.cluster().counters().snapshot().codes[&6], 2);
    s.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
