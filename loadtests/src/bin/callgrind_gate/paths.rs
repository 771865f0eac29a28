//! The hot paths the gate measures. Each sets up outside the measured region (clusters, phones,
//! a warm-up), then runs its iterations inside [`callgrind_gate_measured`], the one function
//! callgrind collects in (`--collect-atstart=no --toggle-collect=*callgrind_gate_measured*`).
//! Network paths use real sockets on 127.0.0.1 port 0 and a current-thread tokio runtime, so the
//! clusters' tasks and the client run on the main thread, inside the measured call; callgrind
//! counts per thread, so work on other threads (the login database's `em-store` writer, a
//! server given a thread of its own) is not counted. Every path checks what it gets back and
//! panics on a wrong answer: a gate over a failing path would measure nothing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use emroam_emulator::driver::{Quiet, run_task, serve_idle};
use emroam_emulator::phone::Task;
use emroam_loadtests::emulated::{booted_phone, ready_phone, uid, uid_login};
use emroam_loadtests::http::{connect, get};
use emroam_protocol::cipxml;
use emroam_server::cluster::{Cluster, Origin};
use emroam_server::ops::Logout;
use emroam_server::params::{MultipleLoginBehavior, ParamsPatch};
use emroam_server::{ClusterListeners, Options, Running, Topology};
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;

/// One measured path.
pub(crate) struct HotPath {
    /// Its name in the baselines file.
    pub(crate) name: &'static str,
    /// What one iteration is (the comment a new baseline gets).
    pub(crate) description: &'static str,
    /// Measured iterations (a warm-up runs before, unmeasured).
    pub(crate) iters: u64,
    /// Whether the clusters' timed housekeeping ([`HOUSEKEEPING`]) runs on the measured thread
    /// and is left out (the path calls [`callgrind_gate_measured`] once).
    pub(crate) housekeeping: bool,
    run: fn(u64),
}

/// The SIP proxy's 50 ms housekeeping (transaction timeouts, and once a second a sweep of
/// every binding): how often it runs depends on wall time, not on the path, so the gate
/// toggles collection off inside it (`--toggle-collect` with the exact name: a wildcard would
/// also match its closures and toggle back on) and zeroes what was counted before the
/// measured call (`--zero-before`).
pub(crate) const HOUSEKEEPING: &str = "emroam_server::sip::Sip::expire";

impl HotPath {
    /// Sets up and measures `self.iters` iterations.
    pub(crate) fn run(&self) {
        (self.run)(self.iters);
    }
}

/// Every path, in the order the gate runs them.
pub(crate) const PATHS: &[HotPath] = &[
    HotPath {
        name: "cipxml_parse_login_page",
        description: "cipxml::parse of the EM login page (emroam_loadtests::em_login_page, 856 B), as a phone parses every page",
        iters: 1000,
        housekeeping: false,
        run: |n| parse(n, &emroam_loadtests::em_login_page()),
    },
    HotPath {
        name: "cipxml_parse_menu_100",
        description: "cipxml::parse of a 100-item CiscoIPPhoneMenu (emroam_loadtests::menu_100, 16 KB)",
        iters: 100,
        housekeeping: false,
        run: |n| parse(n, &emroam_loadtests::menu_100()),
    },
    HotPath {
        name: "em_pair_10k",
        description: "an EM login+logout pair (two GETs of /emapp/EMAppServlet on one keep-alive hyper connection) at cluster1 of load-3x10k.toml (10,000 users and phones), phones that never register over SIP; client and cluster on one thread, both counted",
        iters: 200,
        housekeeping: true,
        run: |n| em_pair(n, false),
    },
    HotPath {
        name: "em_pair_10k_sip",
        description: "the same pair with all 10,000 phones registered over SIP: each login and logout also costs the cluster a NOTIFY and the phone's new REGISTER, and the iteration waits for that REGISTER's 200",
        iters: 200,
        housekeeping: true,
        run: |n| em_pair(n, true),
    },
    HotPath {
        name: "fleet_login_journey",
        description: "one emulated phone's UID login journey (login page, parse, submit, success page) through the fleet's transport (PhoneLink over emroam's HTTP client) against seed.toml's cluster3, which runs on a thread of its own and is not counted; the logout between iterations is not measured",
        iters: 100,
        housekeeping: false,
        run: fleet_login,
    },
    HotPath {
        name: "sip_call_over_trunk",
        description: "a call over the cluster3 -> cluster2 SIP trunk (seed.toml): Kally's emulated phone calls Alice's (INVITE, 100, 180, 200, ACK, BYE, 200 through both clusters' proxies), hold 0; both phones and all three clusters on one thread, all counted",
        iters: 100,
        housekeeping: true,
        run: sip_call,
    },
    HotPath {
        name: "ils_delta_applied",
        description: "two ILS deltas applied at a home cluster: Alice (seed.toml, home cluster2) logs in at cluster1 and out again, and cluster2 reads each sealed location record off its ILS session, checks it, merges it and places her number (at cluster1, then home); cluster1 and the logins run on a thread of their own and are not counted",
        iters: 100,
        housekeeping: true,
        run: ils_delta,
    },
];

/// Runs `f` where callgrind collects. Never inlined, so that callgrind sees it by name.
#[inline(never)]
pub(crate) fn callgrind_gate_measured(f: &mut dyn FnMut()) {
    f();
    std::hint::black_box(());
}

fn topology(file: &str) -> Topology {
    let p: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "profiles",
        "topologies",
        file,
    ]
    .iter()
    .collect();
    Topology::load(&p).expect("topology")
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Starts `ids` of `topo` on ephemeral loopback ports.
async fn start(topo: &Topology, ids: &[&str], token: &CancellationToken) -> Running {
    let mut listeners = Vec::new();
    for id in ids {
        listeners.push((
            (*id).to_owned(),
            ClusterListeners::ephemeral().await.expect("bind"),
        ));
    }
    emroam_server::start(topo, listeners, &Options::default(), token.clone())
        .await
        .expect("start clusters")
}

fn parse(iters: u64, doc: &str) {
    let bytes = doc.as_bytes();
    for _ in 0..iters / 10 {
        std::hint::black_box(cipxml::parse(std::hint::black_box(bytes)).expect("parses"));
    }
    callgrind_gate_measured(&mut || {
        for _ in 0..iters {
            std::hint::black_box(cipxml::parse(std::hint::black_box(bytes)).expect("parses"));
        }
    });
}

const WARM_UP: u64 = 20;

/// load-3x10k.toml with cluster1's users, profiles and phones only: the cluster is the same,
/// and the setup outside the measured region is shorter (building the clusters' table of
/// numbers' homes compares every user's profile names with every profile's).
fn load_cluster1() -> Topology {
    let mut t = topology("load-3x10k.toml");
    let others: std::collections::HashSet<String> = t
        .users
        .iter()
        .filter(|u| u.home != "cluster1")
        .flat_map(|u| u.profiles.iter().cloned())
        .collect();
    t.users.retain(|u| u.home == "cluster1");
    t.profiles.retain(|p| !others.contains(&p.name));
    t.phones.retain(|p| p.cluster == "cluster1");
    t
}

fn em_pair(iters: u64, with_sip: bool) {
    let rt = runtime();
    let topo = load_cluster1();
    let token = CancellationToken::new();
    let (running, addr) = rt.block_on(async {
        let running = start(&topo, &["cluster1"], &token).await;
        let c = &running.clusters()[0];
        // No peer runs: ILS off, so no dialer retries in the measured region.
        c.set_ils_running(false);
        c.update_params(&ParamsPatch {
            service_time: Some("0ms".into()),
            multiple_login_behavior: Some(MultipleLoginBehavior::Allowed),
            ..Default::default()
        })
        .expect("params");
        let addr = running.addrs("cluster1").expect("addrs").0;
        (running, addr)
    });
    let device = |n: u64| format!("SEP{:012X}", 0x0000_1000_0000u64 + n);
    let sip = with_sip.then(|| {
        let proxy = running.sip("cluster1").expect("SIP").1;
        let (tally, _task) = rt.block_on(emroam_loadtests::sip_phones::register_all(
            proxy,
            10_000,
            |n| device(n as u64),
            |n| (1_100_000 + n).to_string(),
        ));
        let ok = tally.registered.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(ok, 10_000, "every phone registers before the run");
        tally
    });
    let host = addr.to_string();
    let mut tx = rt.block_on(connect(addr));
    let mut regs = sip.as_ref().map_or(0, |t| {
        t.registered.load(std::sync::atomic::Ordering::Relaxed)
    });
    let mut pairs = |from: u64, to: u64| {
        rt.block_on(async {
            for n in from..to {
                let dev = device(n);
                let steps = [
                    (
                        format!("device={dev}&userid=c1u{n:05}&seq=12345"),
                        "Login Successful",
                    ),
                    (format!("device={dev}&doLogout=true"), "Logout Successful"),
                ];
                for (query, want) in steps {
                    let body = get(&mut tx, &host, &format!("/emapp/EMAppServlet?{query}")).await;
                    assert!(body.contains(want), "{n}: {body}");
                    // A registered phone restarts and registers its new line: wait for the 200.
                    if let Some(t) = &sip {
                        regs += 1;
                        t.registered_at_least(regs).await;
                    }
                }
            }
        });
    };
    pairs(1, 1 + WARM_UP);
    callgrind_gate_measured(&mut || pairs(1 + WARM_UP, 1 + WARM_UP + iters));
    drop(running);
}

/// seed.toml's cluster3 on a thread of its own; its config and HTTP addresses.
fn cluster3_elsewhere(token: CancellationToken) -> (SocketAddr, std::thread::JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        runtime().block_on(async {
            let running = start(&topology("seed.toml"), &["cluster3"], &token).await;
            running.clusters()[0].set_ils_running(false);
            let _ = tx.send(running.addrs("cluster3").expect("addrs").1);
            token.cancelled().await;
            running.shutdown().await;
        });
    });
    (rx.recv().expect("cluster3 started"), thread)
}

fn fleet_login(iters: u64) {
    let token = CancellationToken::new();
    let (config, server) = cluster3_elsewhere(token.clone());
    let rt = runtime();
    let (phone, mut link) = rt.block_on(booted_phone(config, "SEP000000003001", false));
    let mut phone = Some(phone);
    let mut step = |task: Task| {
        rt.block_on(async {
            let now = tokio::time::Instant::now();
            let p = phone.take().expect("the phone is back");
            let (p, o) = run_task(p, task, now, &mut link, &mut Quiet).await;
            assert!(o.result.is_ok(), "{o:?}");
            phone = Some(p);
        });
    };
    for i in 0..WARM_UP + iters {
        if i < WARM_UP {
            step(Task::Login(uid("kally")));
        } else {
            callgrind_gate_measured(&mut || step(Task::Login(uid("kally"))));
        }
        step(Task::Logout);
    }
    token.cancel();
    let _ = server.join();
}

fn sip_call(iters: u64) {
    let rt = runtime();
    let token = CancellationToken::new();
    let topo = topology("seed.toml");
    let (running, (phone, mut link)) = rt.block_on(async {
        let running = start(&topo, &["cluster1", "cluster2", "cluster3"], &token).await;
        let alice = ready_phone(&running, "cluster2", "SEP000000002001", "alice").await;
        let kally = ready_phone(&running, "cluster3", "SEP000000003001", "kally").await;
        for c in running.clusters() {
            // No full ILS sync falls in the measured region.
            c.set_sync_interval(Duration::from_secs(24 * 3600));
        }
        let (phone, mut link) = alice;
        tokio::spawn(async move {
            serve_idle(phone, &mut link, &mut Quiet, std::future::pending()).await
        });
        (running, kally)
    });
    let mut phone = Some(phone);
    let mut calls = |n: u64| {
        rt.block_on(async {
            for i in 0..n {
                let task = Task::Call {
                    dn: "2000001".into(),
                    hold: Duration::ZERO,
                };
                let now = tokio::time::Instant::now();
                let p = phone.take().expect("the phone is back");
                let (p, o) = run_task(p, task, now, &mut link, &mut Quiet).await;
                assert!(o.result.is_ok(), "call {i}: {o:?}");
                phone = Some(p);
            }
        });
    };
    calls(WARM_UP);
    callgrind_gate_measured(&mut || calls(iters));
    drop(running);
}

/// Waits (at most 10 s) until `f` holds for `c`, looking every millisecond (set-up only).
async fn until(c: &Cluster, f: impl Fn(&Cluster) -> bool) {
    for _ in 0..10_000 {
        if f(c) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("not within 10 s");
}

/// Waits (at most 10 s) until `f` holds for `c`, woken by its location-record watch.
async fn until_located(c: &Cluster, f: impl Fn(&Cluster) -> bool) {
    let mut rx = c.watch_locations();
    tokio::time::timeout(Duration::from_secs(10), async {
        while !f(c) {
            rx.changed().await.expect("the cluster runs");
        }
    })
    .await
    .expect("ILS converges within 10 s");
}

fn ils_delta(iters: u64) {
    // cluster2 listens for ILS on a port bound here; cluster1 (another process, as far as
    // cluster2 knows) dials it at the topology's address, rewritten to that port.
    let std_ils = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    std_ils.set_nonblocking(true).expect("nonblocking");
    let mut topo = topology("seed.toml");
    for c in &mut topo.clusters {
        if c.id == "cluster2" {
            c.address = std::net::Ipv4Addr::LOCALHOST.into();
            c.ports.ils = std_ils.local_addr().expect("addr").port();
        }
    }
    let token = CancellationToken::new();
    // cluster1 on a thread of its own, logging Alice in (true) or out (false) on command.
    let (cmd_tx, mut cmd_rx) = tokio::sync::mpsc::unbounded_channel::<bool>();
    let topo1 = topo.clone();
    let token1 = token.clone();
    let visited = std::thread::spawn(move || {
        runtime().block_on(async {
            let running = start(&topo1, &["cluster1"], &token1).await;
            let c1 = running.clusters()[0].clone();
            c1.set_sync_interval(Duration::from_secs(24 * 3600));
            until(&c1, |c| c.user("alice").is_some()).await;
            while let Some(login) = cmd_rx.recv().await {
                let device = "SEP000000001001".to_owned();
                if login {
                    uid_login(&device, "alice")
                        .apply(&c1)
                        .await
                        .expect("Alice logs in at cluster1");
                } else {
                    Logout {
                        device,
                        acting_user: None,
                        origin: Origin::default(),
                    }
                    .apply(&c1)
                    .await
                    .expect("Alice logs out at cluster1");
                }
            }
            running.shutdown().await;
        });
    });
    let rt = runtime();
    let running = rt.block_on(async {
        let mut l = ClusterListeners::ephemeral().await.expect("bind");
        l.ils = Some(tokio::net::TcpListener::from_std(std_ils).expect("ILS listener"));
        let running = emroam_server::start(
            &topo,
            vec![("cluster2".into(), l)],
            &Options::default(),
            token.clone(),
        )
        .await
        .expect("start cluster2");
        let c2 = running.clusters()[0].clone();
        c2.set_sync_interval(Duration::from_secs(24 * 3600));
        until(&c2, |c| c.ils_counters().peers.iter().any(|p| p.up_to_date)).await;
        running
    });
    let c2 = running.clusters()[0].clone();
    let at = |c: &Cluster| c.locate_dn("2000001").map(|l| l.cluster);
    let round_trips = |n: u64| {
        rt.block_on(async {
            for _ in 0..n {
                cmd_tx.send(true).expect("cluster1 runs");
                until_located(&c2, |c| at(c).as_deref() == Some("cluster1")).await;
                cmd_tx.send(false).expect("cluster1 runs");
                until_located(&c2, |c| at(c).as_deref() != Some("cluster1")).await;
            }
        });
    };
    round_trips(WARM_UP);
    callgrind_gate_measured(&mut || round_trips(iters));
    drop(cmd_tx);
    token.cancel();
    let _ = visited.join();
    drop(running);
}
