//! `em-throughput`: how many EM logins + logouts per second one reference cluster sustains here,
//! beside the request rate of a trivial hyper handler measured the same way in the same run,
//! and the server's CPU time per login.
//!
//! The cluster is `cluster1` of `profiles/topologies/load-3x10k.toml` (10,000 users and
//! phones), durable (SQLite WAL in a temporary directory; `synchronous=NORMAL`, the server's
//! default, which survives `kill -9`, or `FULL` with `power-loss`), throttle at 100,
//! no service time. The server runs on its own runtime thread(s) named `em-server` (plus the
//! `em-store` writer thread), the driver on `em-client`; CPU is read per thread from
//! `/proc/self/task/*/stat`. Each driver connection is keep-alive and runs closed-loop: phone N
//! logs user N in (`userid`+`seq`), then out (`doLogout=true`).
//!
//! With `sip` as the fourth argument every phone also registers over SIP first (one socket
//! standing in for 10,000 phones, `emroam_loadtests::sip_phones`), so each login and logout
//! costs the server its NOTIFY and the phone's new REGISTER too; without it the phones never
//! register (an HTTP-only phone), and each restart stays pending.
//!
//! With `--devices N` (anywhere in the arguments) cluster1 has N users and phones instead of
//! 10,000 (`--devices 100000`: the population the EM goal names).
//!
//! Usage: `cargo run --release -p emroam-loadtests --bin em-throughput -- [SECS] [CONNS] [crash|power-loss] [sip] [--devices N]`

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use emroam_server::http::{Limits, respond};
use emroam_server::params::ParamsPatch;
use emroam_server::{ClusterListeners, Options, Topology};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio_util::sync::CancellationToken;

fn cpu_ticks() -> u64 {
    let mut total = 0;
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    for t in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        if !(comm.starts_with("em-server") || comm.starts_with("em-store")) {
            continue;
        }
        let f: Vec<&str> = stat[close + 2..].split(' ').collect();
        // Fields after comm: state(0) ... utime(11) stime(12).
        let ut: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0);
        let st: u64 = f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
        total += ut + st;
    }
    total
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Sender {
    let s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let _ = s.set_nodelay(true);
    let (tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    tx
}

async fn get(tx: &mut Sender, host: &str, pq: &str) -> String {
    tx.ready().await.expect("connection ready");
    let req = hyper::Request::get(pq)
        .header("host", host)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let r = tx.send_request(req).await.expect("response");
    let b = r.into_body().collect().await.expect("body").to_bytes();
    String::from_utf8_lossy(&b).into_owned()
}

/// Runs `conns` closed-loop connections for `secs`; `job(conn, i)` returns the path(s) to GET
/// in order and the text each answer must contain. Returns completed jobs and failures.
async fn drive(
    addr: SocketAddr,
    conns: usize,
    secs: u64,
    job: impl Fn(usize, usize) -> Vec<(String, &'static str)> + Send + Sync + 'static,
) -> (u64, u64) {
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let job = Arc::new(job);
    let host = addr.to_string();
    let mut tasks = Vec::new();
    for c in 0..conns {
        let (done, failed, stop, job, host) = (
            done.clone(),
            failed.clone(),
            stop.clone(),
            job.clone(),
            host.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut tx = connect(addr).await;
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let mut ok = true;
                for (pq, want) in job(c, i) {
                    let body = get(&mut tx, &host, &pq).await;
                    ok &= body.contains(want);
                }
                if ok {
                    done.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    (done.load(Ordering::Relaxed), failed.load(Ordering::Relaxed))
}

fn main() {
    let mut args: Vec<String> = std::env::args().collect();
    let n_users: usize = match args.iter().position(|a| a == "--devices") {
        Some(i) => {
            let n = args.get(i + 1).and_then(|s| s.parse().ok());
            let n = n
                .filter(|&n| n > 0)
                .expect("--devices takes a positive count");
            args.drain(i..i + 2);
            n
        }
        None => 10_000,
    };
    let secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let conns: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(32);
    let durability = match args.get(3).map(String::as_str) {
        Some("power-loss") => emroam_server::store::Durability::PowerLoss,
        _ => emroam_server::store::Durability::Crash,
    };
    let with_sip = args.get(4).is_some_and(|a| a == "sip");
    let topo_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../profiles/topologies/load-3x10k.toml");
    // The file says 10,000 a cluster; cluster1 (the one measured) at another population.
    let mut topo_src = std::fs::read_to_string(&topo_path).expect("read topology");
    for owner in ["home", "cluster"] {
        let of_cluster1 = format!("{owner} = \"cluster1\"\ncount = ");
        topo_src = topo_src.replace(
            &format!("{of_cluster1}10000\n"),
            &format!("{of_cluster1}{n_users}\n"),
        );
    }
    let topo = Topology::parse(&topo_src).expect("parse topology");
    let data = std::env::temp_dir().join(format!("emroam-throughput-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);

    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("em-server")
        .enable_all()
        .build()
        .expect("server runtime");
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("em-client")
        .enable_all()
        .build()
        .expect("client runtime");

    let token = CancellationToken::new();
    let (em_addr, trivial_addr, running) = server_rt.block_on(async {
        let l = ClusterListeners::ephemeral().await.expect("bind");
        let opts = Options {
            data_dir: Some(data.clone()),
            durability,
            ..Options::default()
        };
        let running =
            emroam_server::start(&topo, vec![("cluster1".into(), l)], &opts, token.clone())
                .await
                .expect("start cluster1");
        let c = &running.clusters()[0];
        c.update_params(&ParamsPatch {
            max_concurrent_requests: Some(100),
            service_time: Some("0ms".into()),
            multiple_login_behavior: Some(emroam_server::params::MultipleLoginBehavior::Allowed),
            ..Default::default()
        })
        .expect("params");
        let em_addr = running.addrs("cluster1").expect("addrs").0;
        // The baseline: a trivial handler behind the same accept loop and connection settings.
        let tl = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let trivial_addr = tl.local_addr().expect("addr");
        let (_tx, up) = tokio::sync::watch::channel(true);
        tokio::spawn(emroam_server::http::serve(
            tl,
            |_req, _peer| async { respond(hyper::StatusCode::OK, "text/plain", "ok") },
            Limits::default(),
            up,
            token.clone(),
        ));
        std::mem::forget(_tx);
        (em_addr, trivial_addr, running)
    });

    let per = n_users / conns;
    let login_job = move |c: usize, i: usize| {
        let n = c * per + (i % per) + 1;
        let dev = format!("SEP{:012X}", 0x0000_1000_0000u64 + n as u64);
        vec![
            (
                format!("/emapp/EMAppServlet?device={dev}&userid=c1u{n:05}&seq=12345"),
                "Login Successful",
            ),
            (
                format!("/emapp/EMAppServlet?device={dev}&doLogout=true"),
                "Logout Successful",
            ),
        ]
    };
    let trivial_job = |_c: usize, _i: usize| vec![("/".to_owned(), "ok")];

    let device = |n: usize| format!("SEP{:012X}", 0x0000_1000_0000u64 + n as u64);
    let sip = with_sip.then(|| {
        let proxy = running.sip("cluster1").expect("cluster1 has SIP").1;
        client_rt.block_on(emroam_loadtests::sip_phones::register_all(
            proxy,
            n_users,
            device,
            |n| (1_100_000 + n).to_string(),
        ))
    });
    if let Some((tally, _)) = &sip {
        let ok = tally.registered.load(std::sync::atomic::Ordering::Relaxed);
        let refused = tally.refused.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(
            ok as usize, n_users,
            "every phone registers before the run ({refused} refused)"
        );
    }
    let sip_before = sip.as_ref().map(|(t, _)| {
        (
            t.registered.load(Ordering::Relaxed),
            t.notifies.load(Ordering::Relaxed),
        )
    });

    let cpu0 = cpu_ticks();
    let t0 = Instant::now();
    let (pairs, failed) = client_rt.block_on(drive(em_addr, conns, secs, login_job));
    let em_elapsed = t0.elapsed().as_secs_f64();
    let cpu_em = (cpu_ticks() - cpu0) as f64 / 100.0;
    let sip_during = sip.as_ref().zip(sip_before).map(|((t, _), (r0, n0))| {
        (
            t.registered.load(Ordering::Relaxed) - r0,
            t.notifies.load(Ordering::Relaxed) - n0,
            t.refused.load(Ordering::Relaxed),
        )
    });

    let cpu1 = cpu_ticks();
    let t1 = Instant::now();
    let (trivial, tfailed) = client_rt.block_on(drive(trivial_addr, conns, secs, trivial_job));
    let tr_elapsed = t1.elapsed().as_secs_f64();
    let cpu_tr = (cpu_ticks() - cpu1) as f64 / 100.0;

    let counters = running.clusters()[0].counters().snapshot();
    server_rt.block_on(async {
        token.cancel();
        running.wait().await;
    });
    let _ = std::fs::remove_dir_all(&data);

    let logins = pairs as f64;
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| run | {secs} s per phase, {conns} keep-alive connections, {n_users} users and phones, 1 server + 1 client runtime thread, durability {durability:?}{} |",
        if with_sip {
            ", phones registered over SIP"
        } else {
            ""
        }
    );
    println!(
        "| EM login+logout pairs/s | {:.0} ({} pairs, {} failed) |",
        logins / em_elapsed,
        pairs,
        failed
    );
    println!("| EM HTTP requests/s | {:.0} |", 2.0 * logins / em_elapsed);
    println!(
        "| trivial hyper handler requests/s | {:.0} ({} failed) |",
        trivial as f64 / tr_elapsed,
        tfailed
    );
    println!(
        "| server CPU per login+logout pair | {:.1} µs ({:.2} s CPU in {:.1} s) |",
        cpu_em / logins.max(1.0) * 1e6,
        cpu_em,
        em_elapsed
    );
    println!(
        "| server CPU per trivial request | {:.1} µs |",
        cpu_tr / (trivial as f64).max(1.0) * 1e6
    );
    match sip_during {
        Some((reg, notif, refused)) => println!(
            "| SIP (phones registered) | {notif} NOTIFYs answered, {reg} REGISTERs 200 during the run ({:.2} per pair), {refused} refused |",
            reg as f64 / logins.max(1.0)
        ),
        None => println!("| SIP | phones never register: each restart stays pending |"),
    }
    println!(
        "| counters | LoginsSuccessful {} LogoutsSuccessful {} RequestsThrottled {} peak in progress {} |",
        counters.logins_successful,
        counters.logouts_successful,
        counters.requests_throttled,
        counters.requests_in_progress_peak
    );
}
