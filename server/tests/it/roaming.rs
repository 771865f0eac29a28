//! EM Roaming Across Clusters: ILS sync, superuser sync, roaming login, deferred logout,
//! convergence, faults, bad ILS input. Clusters run in-process on 127.0.0.1:0 listeners.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use emroam_protocol::ils::{self, Handshake, Role, Transcript};
use emroam_server::cluster::Origin;
use emroam_server::http::Req;
use emroam_server::ops::Logout;
use emroam_server::server::{HttpCtx, handle_http};
use emroam_server::{Cluster, ClusterListeners, Options, Running, Topology};
use http_body_util::BodyExt;
use hyper::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
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
        let mut listeners = Vec::new();
        for c in &topo.clusters {
            listeners.push((c.id.clone(), ClusterListeners::ephemeral().await.unwrap()));
        }
        let opts = Options {
            data_dir,
            ..Options::default()
        };
        let running = emroam_server::start(topo, listeners, &opts, CancellationToken::new())
            .await
            .unwrap();
        let all: Arc<[Cluster]> = running.clusters().to_vec().into();
        let net = Net {
            running: Some(running),
            all,
            topo: topo.clone(),
        };
        net.converged_setup().await;
        net
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
        until("ILS links up and superusers synced", || {
            self.all.iter().all(|c| {
                c.ils_counters().peers.iter().all(|p| p.up_to_date)
                    && supers.iter().all(|u| c.user(u).is_some())
            })
        })
        .await;
    }

    pub async fn http(&self, cluster: &str, method: Method, pq: &str) -> (StatusCode, String) {
        let ctx = HttpCtx {
            cluster: self.c(cluster).clone(),
            all: self.all.clone(),
            admin_token: None,
        };
        let mut req = Req::get(pq, PEER.parse().unwrap());
        req.method = method;
        let r = handle_http(&ctx, &req).await;
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
        self.http(&self.all[0].id().to_owned(), method, pq).await
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

/// Polls `f` every 5 ms for up to 10 s.
pub async fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

const BOB_C1: &str = "SEP000000001001";
const BOB_C2: &str = "SEP000000002001";

/// The seed (reference/em-roaming-feature-guide.zh.txt): Bob, homed on cluster 1, logs in on a
/// cluster 2 phone while cluster 1 is down; cluster 3 learns 1000001 is at cluster 2; cluster 1
/// comes back and logs Bob out there.
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
