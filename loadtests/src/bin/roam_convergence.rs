//! `roam-convergence`: EM Roaming Across Clusters convergence time — from a superuser's login
//! answered success at one cluster to every cluster placing their number there — and ILS
//! messages per login, with 3 clusters (`seed.toml`) and 5 clusters (`five-clusters.toml`)
//! in-process on loopback (real TCP ILS sessions, password handshake, sealed messages).
//!
//! The superuser alternates between two clusters that are not their home; with 5 clusters
//! those are spokes of different hubs (cluster3 on cluster2, cluster4 on cluster1), the longest
//! ILS path (spoke → hub → hub → spoke). Before the next login the old cluster's logout
//! (eviction) is awaited too, unmeasured. Latencies go into an HdrHistogram (µs).
//!
//! `durable` as the second argument keeps each cluster's state in SQLite files
//! (`synchronous=FULL`) in a temporary directory instead of in memory.
//!
//! Usage: `cargo run --release -p emroam-loadtests --bin roam-convergence -- [LOGINS] [durable]`

use std::path::Path;
use std::time::{Duration, Instant};

use emroam_server::cluster::{Cluster, Origin};
use emroam_server::ops::{Credential, Login, LoginDuration, LoginType};
use emroam_server::{ClusterListeners, Options, Topology};
use hdrhistogram::Histogram;
use tokio_util::sync::CancellationToken;

struct Case {
    name: &'static str,
    file: &'static str,
    user: &'static str,
    dn: &'static str,
    a: (&'static str, &'static str),
    b: (&'static str, &'static str),
}

async fn wait_until(c: &Cluster, f: impl Fn(&Cluster) -> bool) {
    let mut rx = c.watch_locations();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !f(c) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        // The watch wakes us on record changes; evictions finish just after, so poll lightly too.
        let _ = tokio::time::timeout(left.min(Duration::from_millis(1)), rx.changed()).await;
        assert!(
            tokio::time::Instant::now() < deadline,
            "no convergence within 10 s"
        );
    }
}

async fn run(case: &Case, logins: usize, durable: bool) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../profiles/topologies")
        .join(case.file);
    let topo = Topology::load(&path).expect("topology");
    let mut listeners = Vec::new();
    for c in &topo.clusters {
        listeners.push((
            c.id.clone(),
            ClusterListeners::ephemeral().await.expect("bind"),
        ));
    }
    let token = CancellationToken::new();
    let dir = std::env::temp_dir().join(format!("roam-convergence-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let opts = Options {
        data_dir: durable.then(|| dir.clone()),
        ..Options::default()
    };
    let running = emroam_server::start(&topo, listeners, &opts, token)
        .await
        .expect("start");
    let all: Vec<Cluster> = running.clusters().to_vec();
    for c in &all {
        wait_until(c, |c| {
            c.ils_counters().peers.iter().all(|p| p.up_to_date) && c.user(case.user).is_some()
        })
        .await;
    }
    let out = |all: &[Cluster]| -> u64 { all.iter().map(|c| c.ils_counters().messages_out).sum() };
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
    let msgs0 = out(&all);
    for i in 0..logins {
        let (cid, device) = if i % 2 == 0 { case.a } else { case.b };
        let (old, _) = if i % 2 == 0 { case.b } else { case.a };
        let c = all.iter().find(|c| c.id() == cid).expect("cluster");
        let login = Login {
            device: device.into(),
            credential: Credential::Phone {
                login_type: LoginType::Uid,
                id: case.user.into(),
                pin: "12345".into(),
            },
            profile: None,
            duration: LoginDuration::Default,
            origin: Origin::default(),
        };
        login.apply(c).await.expect("login");
        let t0 = Instant::now();
        for other in &all {
            wait_until(other, |o| {
                o.locate_dn(case.dn).is_some_and(|l| l.cluster == cid)
            })
            .await;
        }
        hist.record(t0.elapsed().as_micros() as u64)
            .expect("record");
        let oldc = all.iter().find(|c| c.id() == old).expect("cluster");
        wait_until(oldc, |o| o.devices_of(case.user).is_empty()).await;
    }
    let per_login = (out(&all) - msgs0) as f64 / logins as f64;
    println!(
        "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} |",
        case.name,
        hist.len(),
        hist.value_at_quantile(0.5) as f64 / 1000.0,
        hist.value_at_quantile(0.99) as f64 / 1000.0,
        hist.value_at_quantile(0.999) as f64 / 1000.0,
        hist.max() as f64 / 1000.0,
        per_login
    );
    running.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let logins: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let durable = std::env::args().nth(2).as_deref() == Some("durable");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "state: {}",
        if durable {
            "SQLite files, synchronous=FULL"
        } else {
            "in memory"
        }
    );
    println!(
        "| clusters | logins | p50 ms | p99 ms | p99.9 ms | max ms | ILS messages per login |"
    );
    println!("|---|---|---|---|---|---|---|");
    rt.block_on(async {
        run(
            &Case {
                name: "3 (seed: bob, cluster2 ↔ cluster3)",
                file: "seed.toml",
                user: "bob",
                dn: "1000001",
                a: ("cluster2", "SEP000000002001"),
                b: ("cluster3", "SEP000000003001"),
            },
            logins,
            durable,
        )
        .await;
        run(
            &Case {
                name: "5 (su1, cluster3 ↔ cluster4)",
                file: "five-clusters.toml",
                user: "su1",
                dn: "1000001",
                a: ("cluster3", "SEP000000031001"),
                b: ("cluster4", "SEP000000041001"),
            },
            logins,
            durable,
        )
        .await;
    });
}
