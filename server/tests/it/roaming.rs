//! EM Roaming Across Clusters: ILS sync, superuser sync, roaming login, deferred logout,
//! convergence, faults (bad ILS input: `ils_input`). Clusters run in-process on 127.0.0.1:0
//! listeners; [`Net`] is the harness.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use emroam_server::cluster::Origin;
use emroam_server::http::Req;
use emroam_server::ops::Logout;
use emroam_server::server::handle_http;
use emroam_server::{Cluster, ClusterListeners, Options, Running, Topology};
use http_body_util::BodyExt;
use hyper::{Method, StatusCode};
use tokio_util::sync::CancellationToken;

use crate::util::{PEER, scratch};

pub fn topo_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../profiles/topologies/{name}"))
}

/// Clusters of a topology running in one process.
pub struct Net {
    pub running: Option<Running>,
    pub all: Arc<[Cluster]>,
    pub topo: Topology,
}

impl Net {
    pub async fn start(topo: &Topology, data_dir: Option<PathBuf>) -> Net {
        let net = Net::start_only(topo, data_dir, &[]).await;
        net.converged_setup().await;
        net
    }

    /// The clusters `ids` of `topo` (every one when empty), as one process, without waiting
    /// for their ILS links: peers not in it are dialed at their topology addresses.
    pub async fn start_only(topo: &Topology, data_dir: Option<PathBuf>, ids: &[&str]) -> Net {
        let mut listeners = Vec::new();
        for c in &topo.clusters {
            if ids.is_empty() || ids.contains(&c.id.as_str()) {
                listeners.push((c.id.clone(), ClusterListeners::ephemeral().await.unwrap()));
            }
        }
        let opts = Options {
            data_dir,
            ..Options::default()
        };
        let running = emroam_server::start(topo, listeners, &opts, CancellationToken::new())
            .await
            .unwrap();
        let all: Arc<[Cluster]> = running.clusters().to_vec().into();
        Net {
            running: Some(running),
            all,
            topo: topo.clone(),
        }
    }

    pub async fn seed() -> Net {
        Net::start(&Topology::load(&topo_path("seed.toml")).unwrap(), None).await
    }

    pub fn c(&self, id: &str) -> &Cluster {
        self.all.iter().find(|c| c.id() == id).unwrap()
    }

    /// Every link up and every cluster knowing every superuser.
    async fn converged_setup(&self) {
        let supers: Vec<String> = self
            .topo
            .users
            .iter()
            .filter(|u| u.superuser)
            .map(|u| u.id.clone())
            .collect();
        let ready = || {
            self.all.iter().all(|c| {
                c.ils_counters().peers.iter().all(|p| p.up_to_date)
                    && supers.iter().all(|u| c.user(u).is_some())
            })
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !ready() {
            if std::time::Instant::now() > deadline {
                let state: Vec<String> = self
                    .all
                    .iter()
                    .map(|c| {
                        format!(
                            "{}: peers {:?} known {:?}",
                            c.id(),
                            c.ils_counters().peers,
                            supers
                                .iter()
                                .filter(|u| c.user(u).is_some())
                                .collect::<Vec<_>>()
                        )
                    })
                    .collect();
                panic!(
                    "ILS links up and superusers synced: timed out\n{}",
                    state.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    pub async fn http(&self, cluster: &str, method: Method, pq: &str) -> (StatusCode, String) {
        let ctx = self.running.as_ref().unwrap().http_ctx(cluster).unwrap();
        let mut req = Req::get(pq, PEER.parse().unwrap());
        req.method = method;
        let r = handle_http(ctx, &req).await;
        let s = r.status();
        let b = r.into_body().collect().await.unwrap().to_bytes();
        (s, String::from_utf8_lossy(&b).into_owned())
    }

    /// A phone login through the EM application; the page's text.
    pub async fn login(&self, cluster: &str, device: &str, user: &str) -> String {
        let (_, page) = self
            .http(
                cluster,
                Method::GET,
                &format!("/emapp/EMAppServlet?device={device}&userid={user}&seq=12345"),
            )
            .await;
        match emroam_protocol::cipxml::parse(page.as_bytes()) {
            Ok(emroam_protocol::cipxml::Object::Text(t)) => t.text,
            _ => page,
        }
    }

    pub async fn logout(&self, cluster: &str, device: &str) -> bool {
        Logout {
            device: device.into(),
            acting_user: None,
            origin: Origin::default(),
        }
        .apply(self.c(cluster))
        .await
        .is_ok()
    }

    pub async fn admin(&self, method: Method, pq: &str) -> (StatusCode, String) {
        self.http(self.all[0].id(), method, pq).await
    }

    pub fn located(&self, cluster: &str, dn: &str) -> Option<String> {
        self.c(cluster).locate_dn(dn).map(|l| l.cluster)
    }

    pub async fn shutdown(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}

/// Polls `f` every 2 ms of real time for up to 10 s (real time even when tokio's clock is
/// paused: the database thread and sockets run outside it).
pub async fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(2)))
            .await
            .unwrap();
    }
}

pub const BOB_C1: &str = "SEP000000001001";
const BOB_C2: &str = "SEP000000002001";

/// The seed's story (after Cisco's EM Roaming feature guide): Bob, homed on cluster 1, logs in
/// on a cluster 2 phone while cluster 1 is down; cluster 3 learns 1000001 is at cluster 2;
/// cluster 1 comes back and logs Bob out there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_bob_roams_to_cluster2_while_cluster1_is_down() {
    let net = Net::seed().await;
    assert_eq!(net.login("cluster1", BOB_C1, "bob").await, login_ok());
    until("cluster3 learns bob at cluster1", || {
        net.located("cluster3", "1000001").as_deref() == Some("cluster1")
    })
    .await;
    let (st, _) = net
        .admin(Method::POST, "/admin/clusters/cluster1/listeners/stop")
        .await;
    assert_eq!(st, StatusCode::OK);
    until("cluster2 sees cluster1 down", || {
        !net.c("cluster2").ils_counters().peers[0].connected
    })
    .await;

    assert_eq!(net.login("cluster2", BOB_C2, "bob").await, login_ok());
    // The phone at cluster 2 registers there with Bob's profile.
    let cfg = emroam_server::configsrv::device_config(net.c("cluster2"), BOB_C2).unwrap();
    assert_eq!(cfg.user_id.as_deref(), Some("bob"));
    assert_eq!(cfg.lines[0].name, "1000001");
    until("cluster3 learns 1000001 is at cluster2", || {
        net.located("cluster3", "1000001").as_deref() == Some("cluster2")
    })
    .await;
    let c2 = net.c("cluster2").ils_counters();
    assert_eq!(c2.roaming_logins_in, 1);
    assert_eq!(c2.deferred_logouts_pending, 1);
    assert_eq!(
        net.c("cluster2").ils_status().deferred_logouts,
        vec![("bob".to_owned(), "cluster1".to_owned())]
    );
    assert!(net.c("cluster3").ils_counters().learned_dns >= 1);
    // Cluster 1 is down: Bob is still logged in there until it comes back.
    assert!(net.c("cluster1").login_on(BOB_C1).is_some());

    net.c("cluster1").set_listeners_up(true);
    until("cluster1 logs bob out when it comes back", || {
        net.c("cluster1").login_on(BOB_C1).is_none()
    })
    .await;
    until("cluster2's deferred logout is acknowledged", || {
        net.c("cluster2").ils_counters().deferred_logouts_pending == 0
    })
    .await;
    assert!(
        net.c("cluster1")
            .pending_restarts()
            .iter()
            .any(|(d, _)| d == BOB_C1)
    );
    assert_eq!(net.c("cluster1").ils_counters().roaming_logins_out, 1);
    assert!(net.c("cluster2").login_on(BOB_C2).is_some());
    for c in ["cluster1", "cluster2", "cluster3"] {
        assert_eq!(
            net.located(c, "1000001").as_deref(),
            Some("cluster2"),
            "{c}"
        );
    }
    net.shutdown().await;
}

pub fn login_ok() -> String {
    "Login Successful".to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_who_is_not_a_superuser_is_unknown_away_from_home() {
    let net = Net::seed().await;
    let page = net.login("cluster2", BOB_C2, "kally").await;
    assert!(page.contains("Please try to login again (201)"), "{page}");
    // Made a superuser, Kally is copied at once and can roam.
    let (st, _) = net
        .admin(
            Method::POST,
            "/admin/clusters/cluster3/users/kally/superuser?on=true",
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    until("cluster1 knows kally", || {
        net.c("cluster1").user("kally").is_some()
    })
    .await;
    assert_eq!(net.login("cluster1", BOB_C1, "kally").await, login_ok());
    until("cluster3 learns kally roamed", || {
        net.located("cluster3", "3000001").as_deref() == Some("cluster1")
    })
    .await;
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoke_behind_a_down_hub_waits_then_catches_up() {
    let net = Net::seed().await;
    let (st, _) = net
        .admin(Method::POST, "/admin/clusters/cluster2/ils/stop")
        .await;
    assert_eq!(st, StatusCode::OK);
    until("cluster3 loses its hub", || {
        !net.c("cluster3").ils_counters().peers[0].connected
    })
    .await;
    // Alice (home cluster2) roams to cluster1; EM at cluster2 still answers, ILS does not.
    assert_eq!(
        net.login("cluster1", "SEP000000001002", "alice").await,
        login_ok()
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_ne!(
        net.located("cluster3", "2000001").as_deref(),
        Some("cluster1")
    );
    assert!(!net.c("cluster3").ils_counters().peers[0].up_to_date);
    net.admin(Method::POST, "/admin/clusters/cluster2/ils/start")
        .await;
    until("cluster3 catches up through its hub", || {
        net.located("cluster3", "2000001").as_deref() == Some("cluster1")
    })
    .await;
    until("the spoke is up to date again", || {
        net.c("cluster3").ils_counters().peers[0].up_to_date
    })
    .await;
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_hub_link_stops_relaying_until_healed() {
    let topo = Topology::load(&topo_path("five-clusters.toml")).unwrap();
    let net = Net::start(&topo, None).await;
    let (st, _) = net
        .admin(
            Method::POST,
            "/admin/clusters/cluster1/ils/links/cluster2/cut",
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    until("hub link down", || {
        net.c("cluster2")
            .ils_counters()
            .peers
            .iter()
            .any(|p| p.cluster == "cluster1" && !p.connected)
    })
    .await;
    // su3 (home cluster3, a spoke of cluster2) roams to cluster4 (a spoke of cluster1).
    assert_eq!(
        net.login("cluster4", "SEP000000041001", "su3").await,
        login_ok()
    );
    until("cluster1 learns", || {
        net.located("cluster1", "3000001").as_deref() == Some("cluster4")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_ne!(
        net.located("cluster5", "3000001").as_deref(),
        Some("cluster4")
    );
    let (st, _) = net
        .admin(
            Method::POST,
            "/admin/clusters/cluster2/ils/links/cluster1/heal",
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    until("every cluster learns su3 is at cluster4", || {
        net.all.iter().all(|c| {
            c.locate_dn("3000001")
                .is_some_and(|l| l.cluster == "cluster4")
        })
    })
    .await;
    let (st, _) = net
        .admin(
            Method::POST,
            "/admin/clusters/cluster3/ils/links/cluster1/cut",
        )
        .await;
    assert_eq!(
        st,
        StatusCode::NOT_FOUND,
        "a spoke has one link, to its hub"
    );
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_logins_at_the_same_moment_converge_to_one_winner() {
    let net = Net::seed().await;
    for round in 0..5 {
        let (a, b) = tokio::join!(
            net.login("cluster1", "SEP000000001003", "alice"),
            net.login("cluster3", "SEP000000003003", "alice"),
        );
        assert_eq!((a, b), (login_ok(), login_ok()), "round {round}");
        until("one winner", || {
            let n = net
                .all
                .iter()
                .filter(|c| !c.devices_of("alice").is_empty())
                .count();
            let at: Vec<_> = net
                .all
                .iter()
                .map(|c| c.locate_dn("2000001").map(|l| l.cluster))
                .collect();
            n == 1 && at.iter().all(|x| *x == at[0])
        })
        .await;
        let winner = net
            .all
            .iter()
            .find(|c| !c.devices_of("alice").is_empty())
            .unwrap();
        assert_eq!(
            net.located("cluster2", "2000001").as_deref(),
            Some(winner.id())
        );
        let d = winner.devices_of("alice")[0].clone();
        assert!(net.logout(winner.id(), &d).await);
        until("alice's number routes home", || {
            net.all.iter().all(|c| {
                c.locate_dn("2000001")
                    .is_some_and(|l| l.cluster == "cluster2")
            })
        })
        .await;
    }
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_superuser_sync_page_interval_and_metrics() {
    let net = Net::seed().await;
    let (st, page) = net.admin(Method::GET, "/admin/superuser-sync").await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        page.contains("Sync now") && page.contains("cluster3"),
        "{page}"
    );
    assert!(page.contains("bob") && page.contains("alice"), "{page}");
    assert!(!page.contains("12345"), "no PIN on the page");
    let before = net.c("cluster1").superuser_tool_status().last_sync_ms;
    let (st, page) = net.admin(Method::POST, "/admin/superuser-sync").await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("Sync started"));
    until("a new superuser sync", || {
        net.c("cluster1").superuser_tool_status().last_sync_ms > before
    })
    .await;
    let (st, body) = net
        .admin(Method::POST, "/admin/superuser-sync/schedule?secs=120")
        .await;
    assert_eq!(st, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v[0]["interval_secs"], 120.0, "{body}");
    let (st, _) = net
        .admin(Method::POST, "/admin/superuser-sync/schedule?secs=-1")
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);

    // A short full-sync interval: cluster2 keeps hearing full syncs from cluster3.
    let (st, _) = net
        .admin(
            Method::POST,
            "/admin/clusters/cluster3/ils/sync-interval?secs=0.05",
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let last = || {
        net.c("cluster2")
            .ils_counters()
            .peers
            .iter()
            .find(|p| p.cluster == "cluster3")
            .and_then(|p| p.last_sync_ms)
    };
    let t0 = last();
    until("periodic full sync", || last() > t0).await;

    let (_, metrics) = net.http("cluster2", Method::GET, "/metrics").await;
    for want in [
        "emroam_ils_learned_dns{cluster=\"cluster2\"}",
        "emroam_ils_deferred_logouts_pending{cluster=\"cluster2\"} 0",
        "emroam_ils_peer_up_to_date{cluster=\"cluster2\",peer=\"cluster3\"} 1",
        "emroam_roaming_logins_in_total{cluster=\"cluster2\"} 0",
        "emroam_ils_rejected_total{cluster=\"cluster2\",kind=\"replayed\"} 0",
    ] {
        assert!(metrics.contains(want), "{want}\n{metrics}");
    }
    let (_, json) = net.http("cluster2", Method::GET, "/metrics.json").await;
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["ils"]["roaming_logins_out"], 0);
    assert_eq!(v["ils"]["peers"].as_array().unwrap().len(), 2);
    let (st, body) = net.admin(Method::GET, "/admin/ils").await;
    assert_eq!(st, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v[2]["role"], "spoke", "{body}");
    let (st, body) = net
        .admin(Method::GET, "/admin/clusters/cluster1/locate/1000001")
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (st, _) = net
        .admin(Method::GET, "/admin/clusters/cluster3/locate/1000001")
        .await;
    assert_eq!(
        st,
        StatusCode::NOT_FOUND,
        "no record yet: bob never logged in"
    );
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_logout_survives_restarts() {
    let topo = Topology::load(&topo_path("seed.toml")).unwrap();
    let dir = scratch("roam-restart");
    let net = Net::start(&topo, Some(dir.clone())).await;
    assert_eq!(net.login("cluster1", BOB_C1, "bob").await, login_ok());
    until("cluster2 learns bob at cluster1", || {
        net.located("cluster2", "1000001").as_deref() == Some("cluster1")
    })
    .await;
    net.c("cluster1").set_listeners_up(false);
    until("cluster1 gone", || {
        !net.c("cluster2").ils_counters().peers[0].connected
    })
    .await;
    assert_eq!(net.login("cluster2", BOB_C2, "bob").await, login_ok());
    assert_eq!(net.c("cluster2").ils_counters().deferred_logouts_pending, 1);
    // Everything restarts (cluster1 never heard of the roaming login).
    net.shutdown().await;
    let net = Net::start(&topo, Some(dir.clone())).await;
    until("cluster1 logs bob out after its restart", || {
        net.c("cluster1").login_on(BOB_C1).is_none()
            && net.c("cluster2").ils_counters().deferred_logouts_pending == 0
    })
    .await;
    assert!(net.c("cluster2").login_on(BOB_C2).is_some());
    assert_eq!(
        net.located("cluster3", "1000001").as_deref(),
        Some("cluster2")
    );
    net.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// SplitMix64: a tiny reproducible generator for the randomized test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Why the cluster network has not converged yet (`None`: it has).
fn divergence(net: &Net, ever: &std::collections::HashSet<u32>) -> Option<String> {
    for c in net.all.iter() {
        if let Some(p) = c.ils_counters().peers.iter().find(|p| !p.up_to_date) {
            return Some(format!("{} not up to date with {}", c.id(), p.cluster));
        }
    }
    for n in 1..=5u32 {
        let user = format!("su{n}");
        let dn = format!("{n}000001");
        let at: Vec<&str> = net
            .all
            .iter()
            .filter(|c| !c.devices_of(&user).is_empty())
            .map(|c| c.id())
            .collect();
        if at.len() > 1 {
            return Some(format!("{user} logged in at {at:?}"));
        }
        let want = at
            .first()
            .map_or_else(|| format!("cluster{n}"), |c| (*c).to_owned());
        for c in net.all.iter() {
            let got = c.locate_dn(&dn).map(|l| l.cluster);
            let ok = got.as_deref() == Some(want.as_str()) || (got.is_none() && !ever.contains(&n));
            if !ok {
                return Some(format!(
                    "{} places {dn} at {got:?}, {user} is at {want}",
                    c.id()
                ));
            }
        }
    }
    None
}

/// Random logins, logouts, cluster and ILS failures and link cuts on five clusters; after
/// quiescence every superuser is logged in at one cluster at most and every cluster places
/// every number where its user is. `EMROAM_SEED=N` replays one seed; `EMROAM_SEEDS=N` runs more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn randomized_roaming_converges() {
    let topo = Topology::load(&topo_path("five-clusters.toml")).unwrap();
    let seeds: Vec<u64> = match std::env::var("EMROAM_SEED") {
        Ok(s) => vec![s.parse().expect("EMROAM_SEED is a number")],
        Err(_) => {
            let n = std::env::var("EMROAM_SEEDS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(10);
            (0..n).collect()
        }
    };
    let links: Vec<(&str, &str)> = vec![
        ("cluster1", "cluster2"),
        ("cluster2", "cluster3"),
        ("cluster1", "cluster4"),
        ("cluster2", "cluster5"),
    ];
    let (mut roamed, mut evicted) = (0, 0);
    let many = seeds.len() >= 5;
    for seed in seeds {
        let mut rng = Rng(seed);
        let net = Net::start(&topo, None).await;
        for c in net.all.iter() {
            c.set_sync_interval(Duration::from_millis(300));
        }
        let mut ever = std::collections::HashSet::new();
        let mut log = Vec::new();
        for _ in 0..40 {
            let k = rng.below(5) as u32 + 1;
            let cid = format!("cluster{k}");
            let c = net.c(&cid);
            match rng.below(10) {
                0 => {
                    // The same superuser at two clusters at the same moment.
                    let u = rng.below(5) as u32 + 1;
                    let k2 = rng.below(5) as u32 + 1;
                    let (c2id, user) = (format!("cluster{k2}"), format!("su{u}"));
                    let d1 = format!("SEP0000000{k}100{}", rng.below(4) + 1);
                    let d2 = format!("SEP0000000{k2}100{}", rng.below(4) + 1);
                    if c.listeners_up() && net.c(&c2id).listeners_up() {
                        let (p1, p2) =
                            tokio::join!(net.login(&cid, &d1, &user), net.login(&c2id, &d2, &user));
                        if p1 == login_ok() || p2 == login_ok() {
                            ever.insert(u);
                        }
                        log.push(format!("login {user} {d1} | {d2}: {p1} | {p2}"));
                    }
                }
                1..=3 => {
                    let u = rng.below(5) as u32 + 1;
                    let device = format!("SEP0000000{k}100{}", rng.below(4) + 1);
                    if c.listeners_up() {
                        let page = net.login(&cid, &device, &format!("su{u}")).await;
                        if page == login_ok() {
                            ever.insert(u);
                        }
                        log.push(format!("login su{u} {device}: {page}"));
                    }
                }
                4 | 5 => {
                    let device = format!("SEP0000000{k}100{}", rng.below(4) + 1);
                    if c.listeners_up() {
                        let ok = net.logout(&cid, &device).await;
                        log.push(format!("logout {device}: {ok}"));
                    }
                }
                6 => {
                    let up = !c.listeners_up();
                    c.set_listeners_up(up);
                    log.push(format!("{cid} listeners {up}"));
                }
                7 => {
                    let up = !c.ils_running();
                    c.set_ils_running(up);
                    log.push(format!("{cid} ils {up}"));
                }
                8 => {
                    let (a, b) = links[rng.below(links.len() as u64) as usize];
                    let cut = rng.below(2) == 0;
                    net.c(a).set_link_cut(b, cut);
                    net.c(b).set_link_cut(a, cut);
                    log.push(format!("link {a}-{b} cut {cut}"));
                }
                _ => {
                    let ms = rng.below(20);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(rng.below(3))).await;
        }
        // Quiescence: everything back up, every link healed.
        for c in net.all.iter() {
            c.set_listeners_up(true);
            c.set_ils_running(true);
            for (a, b) in &links {
                c.set_link_cut(if c.id() == *a { b } else { a }, false);
            }
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while let Some(why) = divergence(&net, &ever) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "seed {seed} did not converge (replay with EMROAM_SEED={seed}): {why}\n{}",
                log.join("\n")
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for c in net.all.iter() {
            let s = c.ils_counters();
            roamed += s.roaming_logins_in;
            evicted += s.roaming_logins_out;
        }
        net.shutdown().await;
    }
    if many {
        assert!(
            roamed > 0 && evicted > 0,
            "the mix exercises roaming ({roamed} in, {evicted} out)"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multiple_login_behavior_rules_within_the_roaming_cluster() {
    // five-clusters: Auto Logout. su1 (home cluster1) on two phones of cluster3.
    let topo = Topology::load(&topo_path("five-clusters.toml")).unwrap();
    let net = Net::start(&topo, None).await;
    assert_eq!(
        net.login("cluster3", "SEP000000031001", "su1").await,
        login_ok()
    );
    assert_eq!(
        net.login("cluster3", "SEP000000031002", "su1").await,
        login_ok()
    );
    assert_eq!(
        net.c("cluster3").devices_of("su1"),
        vec!["SEP000000031002".to_owned()]
    );
    until("everyone places su1 at cluster3", || {
        net.all.iter().all(|c| {
            c.locate_dn("1000001")
                .is_some_and(|l| l.cluster == "cluster3")
        })
    })
    .await;
    net.shutdown().await;
    // seed: Multiple Logins Not Allowed. Bob's second phone at cluster2 is refused.
    let net = Net::seed().await;
    assert_eq!(net.login("cluster2", BOB_C2, "bob").await, login_ok());
    let page = net.login("cluster2", "SEP000000002002", "bob").await;
    assert!(page.contains("(25)") || page.contains("(18)"), "{page}");
    assert_eq!(net.c("cluster2").devices_of("bob"), vec![BOB_C2.to_owned()]);
    net.shutdown().await;
}

/// The superuser sync tool's schedule, in virtual time (a standalone cluster: no ILS sockets).
#[tokio::test(start_paused = true)]
async fn the_superuser_sync_tool_runs_on_its_schedule() {
    let live = crate::util::live(crate::util::TOPO, Options::default()).await;
    let c = live.cluster().clone();
    let syncs = || c.superuser_tool_status().syncs;
    until("the sync at start", || syncs() == 1).await;
    // The sync's durable write runs on a real thread; virtual time must not advance past the
    // schedule while the tool still waits for it, so wait until the tool is parked on its timer.
    until("the tool waits for its next tick", || {
        c.superuser_tool_status().next_sync_ms.is_some()
    })
    .await;
    c.set_superuser_sync_interval(Duration::from_secs(600));
    tokio::time::sleep(Duration::from_secs(599)).await;
    assert_eq!(syncs(), 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    until("the scheduled sync", || syncs() == 2).await;
    c.superuser_sync_now();
    until("Sync now", || syncs() == 3).await;
    live.shutdown().await;
}
