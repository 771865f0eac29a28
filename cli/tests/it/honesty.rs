//! A run that tells the truth, against the seed's three reference clusters (in-process, every
//! port chosen by the OS): what it found logged in at its start and what it did about it.

use std::time::Duration;

use emroam_emulator::driver::HttpClient;
use emroam_emulator::fleet::{self, FleetError, RunOptions, profile::Profile, report::Summary};
use emroam_emulator::phone::{HttpRequest, Method};
use emroam_server::Topology;

const SMOKE: &str = include_str!("../../../profiles/smoke.toml");

/// Logs `dn` in on `device` of `cluster` by hand, as the README's curl does.
async fn login_by_hand(topo: &Topology, cluster: &str, device: &str, dn: &str) {
    let c = topo.clusters.iter().find(|c| c.id == cluster).unwrap();
    let url = format!(
        "http://{}:{}/emapp/EMAppServlet?device={device}&loginType=DN&userid={dn}&seq=12345",
        c.address, c.ports.http
    );
    let req = HttpRequest {
        method: Method::Get,
        url,
        headers: vec![],
        body: None,
        secrets: vec!["12345".into()],
    };
    let r = HttpClient::new(Duration::from_secs(5))
        .send(&req)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
}

/// The smoke profile with `extra` lines after its name, shortened to 2 s.
fn smoke(topo: &Topology, extra: &str) -> Profile {
    let src = SMOKE.replacen("name = \"smoke\"", &format!("name = \"smoke\"\n{extra}"), 1);
    let mut p = Profile::parse_with(&src, "smoke.toml", None, Some(topo)).unwrap();
    p.scale_to(Duration::from_secs(2));
    p
}

fn logged_in(running: &emroam_server::Running, cluster: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = running
        .cluster(cluster)
        .unwrap()
        .logins()
        .into_iter()
        .map(|l| (l.device, l.user))
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_found_at_the_start_is_logged_out_and_every_cluster_works() {
    // The reproduction: alice (2000001) logged in by hand on one of smoke's phones. It used
    // to leave cluster2 with nothing to do (logins 0/0, every arrival dropped) and pass.
    let (topo, _running) = crate::util::seed_clusters().await;
    login_by_hand(&topo, "cluster2", "SEP000000002003", "2000001").await;
    let r = fleet::run(smoke(&topo, ""), RunOptions::default())
        .await
        .unwrap();
    let s = Summary::of(&r, None);
    let table = s.table();
    assert_eq!(s.start.found.len(), 1, "{table}");
    let f = &s.start.found[0];
    assert_eq!(
        (f.cluster.as_str(), f.device.as_str(), f.user.as_str()),
        ("cluster2", "SEP000000002003", "alice")
    );
    assert!(f.fleet_phone);
    assert_eq!(s.start.logged_out, 1);
    assert!(
        table.contains(
            "found logged in at the start: 1 (found_logged_in = \"logout\", 1 logged out)"
        ),
        "{table}"
    );
    assert!(
        table.contains("cluster2: alice on SEP000000002003: logged out"),
        "{table}"
    );
    assert!(s.clusters[1].counts.logins_ok > 0, "{table}");
    assert!(s.passed(), "{table}");
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["start"]["policy"], "logout");
    assert_eq!(json["start"]["found"][0]["done"], "logged out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuse_names_what_it_found_and_changes_nothing() {
    let (topo, running) = crate::util::seed_clusters().await;
    login_by_hand(&topo, "cluster2", "SEP000000002003", "2000001").await;
    let err = fleet::run(
        smoke(&topo, "found_logged_in = \"refuse\""),
        RunOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, FleetError::FoundLoggedIn(_)), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("cluster2: alice on SEP000000002003: refused"),
        "{msg}"
    );
    assert!(msg.contains("found_logged_in = \"logout\""), "{msg}");
    assert_eq!(
        logged_in(&running, "cluster2"),
        [("SEP000000002003".to_owned(), "alice".to_owned())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopt_leaves_a_user_on_a_phone_outside_the_fleet_and_says_why_the_cluster_idled() {
    // alice on a cluster2 phone smoke does not drive: adopted, she is never picked, and
    // cluster2 (whose only user she is) does nothing: the run fails and says why.
    let (topo, running) = crate::util::seed_clusters().await;
    login_by_hand(&topo, "cluster2", "SEP000000002005", "2000001").await;
    let r = fleet::run(
        smoke(&topo, "found_logged_in = \"adopt\""),
        RunOptions::default(),
    )
    .await
    .unwrap();
    let s = Summary::of(&r, None);
    let table = s.table();
    assert!(
        table.contains("cluster2: alice on SEP000000002005 (not a fleet phone): adopted"),
        "{table}"
    );
    assert_eq!(s.clusters[1].counts.logins_attempted, 0, "{table}");
    assert!(!s.passed(), "{table}");
    assert!(table.contains("no journey ran on cluster2"), "{table}");
    assert_eq!(
        logged_in(&running, "cluster2"),
        [("SEP000000002005".to_owned(), "alice".to_owned())]
    );
}
