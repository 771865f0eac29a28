//! `sip-setup`: SIP call setups per second through the reference clusters, driven by SIPp.
//!
//! The seed's three clusters run in-process on loopback (ephemeral ports). Bob logs in on
//! SEP000000001001 at cluster1; a SIPp callee registers as that phone (its MAC in
//! `+sip.instance`) for 1000001 and answers every call (`loadtests/sipp/uas.xml`). A SIPp
//! caller (`uac.xml`, hold 0) places CALLS calls at RATE/s to 1000001 at `ROUTE`: `trunk`
//! (cluster3 → SIP trunk → cluster1 → phone, the ILS-located path) or `local` (cluster1).
//! A call setup is INVITE to 200 OK; SIPp's response-time repartition is printed with its
//! counts. In the same run, two emulated phones (the `emroam` phone machine) call back to
//! back: Kally at cluster3 calls Alice at cluster2 (trunk), and Alice's phone counts what it
//! answers, so a misrouted call shows. Needs `sipp` (Debian `sip-tester`) on PATH.
//!
//! With FLEET_RATE > 0 the clusters are `profiles/topologies/load-3x10k.toml` instead, SIPp's
//! callee is SEP00001000270F (c1u10000, 1110000) at cluster1, and in the same run
//! `emroam fleet` (the library's `fleet::run`) drives 1,000 phones a cluster: they boot and
//! register over the fleet's shared sockets, log in, then place FLEET_RATE calls/s to users
//! at other clusters (every call over a trunk), hold 0, for as long as SIPp runs; the fleet's
//! call figures (by route and status, misrouted, setup percentiles) are printed beside
//! SIPp's.
//!
//! With `fleet` as the route there is no SIPp: the fleet alone (same clusters, same phones)
//! places RATE calls/s until CALLS are offered, every call over a trunk; its achieved rate,
//! outcomes, setup percentiles and the process's CPU time are printed beside each cluster's
//! SIP counters (throttled calls, Code Yellow, queue delay, drops).
//!
//! Usage: `cargo run --release -p emroam-loadtests --bin sip-setup -- [RATE] [CALLS] [trunk|local|fleet] [FLEET_RATE]`

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use emroam_emulator::driver::{Quiet, run_task};
use emroam_emulator::fleet::{self, profile::Profile, report::Summary, stats::Snapshot};
use emroam_emulator::phone::{Step, Task};
use emroam_loadtests::emulated::{ready_phone, uid_login};
use emroam_server::{ClusterListeners, Options, Topology};
use tokio_util::sync::CancellationToken;

fn scenario(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sipp")
        .join(name)
        .display()
        .to_string()
}

/// Call-setup samples (µs) of the emulated caller.
struct Setups(hdrhistogram::Histogram<u64>);
impl emroam_emulator::driver::Observer for Setups {
    fn sample(&mut self, s: &emroam_emulator::phone::StepSample) {
        if s.step == Step::CallSetup {
            let _ = self.0.record(s.latency().as_micros() as u64);
        }
    }
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free UDP port")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rate: u32 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let calls: u32 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let route = args.get(3).map_or("trunk", String::as_str);
    let alone = route == "fleet";
    let fleet_rate: f64 = if alone {
        f64::from(rate)
    } else {
        args.get(4).and_then(|a| a.parse().ok()).unwrap_or(0.0)
    };
    let with_fleet = fleet_rate > 0.0;
    // (topology, SIPp callee device, its user, its number, its MAC)
    let (topo_file, device, user, dn, mac) = if with_fleet {
        (
            "load-3x10k.toml",
            "SEP00001000270F",
            "c1u10000",
            "1110000",
            "00001000270F",
        )
    } else {
        (
            "seed.toml",
            "SEP000000001001",
            "bob",
            "1000001",
            "000000001001",
        )
    };
    let mut topo = Topology::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../profiles/topologies")
            .join(topo_file),
    )
    .expect("topology");
    let listeners: Vec<(String, ClusterListeners)> = if with_fleet {
        emroam_server::bind_ephemeral(&mut topo)
            .await
            .expect("bind")
    } else {
        let mut l = Vec::new();
        for c in &topo.clusters {
            l.push((
                c.id.clone(),
                ClusterListeners::ephemeral().await.expect("bind"),
            ));
        }
        l
    };
    let token = CancellationToken::new();
    let running = emroam_server::start(&topo, listeners, &Options::default(), token.clone())
        .await
        .expect("clusters");
    if alone {
        let secs = f64::from(calls) / f64::from(rate.max(1));
        fleet_alone(&topo, fleet_rate, secs, &running).await;
        running.shutdown().await;
        return;
    }
    let c1 = running.cluster("cluster1").expect("cluster1").clone();
    uid_login(device, user).apply(&c1).await.expect("login");
    let c3 = running.cluster("cluster3").expect("cluster3").clone();
    let t = Instant::now();
    // Seed: Bob is a superuser, so ILS places his number; load-3x10k's users are not, and
    // the clusters route them by their home (Global Dial Plan Replication's role).
    while !with_fleet && c3.locate_dn(dn).map(|l| l.cluster).as_deref() != Some("cluster1") {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "ILS did not converge"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let sip1 = running.sip("cluster1").expect("sip").1;
    let target = match route {
        "local" => sip1,
        _ => running.sip("cluster3").expect("sip").1,
    };
    let dir = std::env::temp_dir().join(format!("emroam-sip-setup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let port = free_udp_port();
    let sipp = |extra: &[&str], to: std::net::SocketAddr, port: u16| {
        let mut cmd = Command::new("sipp");
        cmd.arg(to.to_string())
            .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-nostdin"])
            .args(extra)
            .current_dir(&dir)
            .stdin(Stdio::null());
        cmd
    };
    let reg = sipp(
        &[
            "-sf",
            &scenario("register.xml"),
            "-m",
            "1",
            "-key",
            "line",
            dn,
            "-key",
            "mac",
            mac,
            "-timeout",
            "10s",
        ],
        sip1,
        port,
    )
    .stdout(Stdio::null())
    .status()
    .expect("sipp (apt-get install sip-tester)");
    assert!(reg.success(), "SIPp could not register");
    let mut uas = sipp(&["-sf", &scenario("uas.xml")], sip1, port)
        .stdout(Stdio::null())
        .spawn()
        .expect("sipp uas");
    tokio::time::sleep(Duration::from_millis(300)).await;
    if with_fleet {
        let secs = f64::from(calls) / f64::from(rate.max(1));
        fleet_beside_sipp(
            &topo, fleet_rate, secs, rate, calls, target, port, &dir, dn, &running,
        )
        .await;
        let _ = uas.kill();
        let _ = uas.wait();
        running.shutdown().await;
        return;
    }
    // Emulated phones in the same run: Kally (cluster3) calls Alice (cluster2) back to back;
    // Alice's phone counts what it answers, so a call that reached another phone shows.
    let alice = ready_phone(&running, "cluster2", "SEP000000002001", "alice").await;
    let kally = ready_phone(&running, "cluster3", "SEP000000003001", "kally").await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let alice_side = tokio::spawn(async move {
        let (phone, mut client) = alice;
        let stop = async {
            let _ = stop_rx.await;
        };
        emroam_emulator::driver::serve_idle(phone, &mut client, &mut Quiet, stop).await
    });
    let emu_stop = CancellationToken::new();
    let emu_token = emu_stop.clone();
    let kally_side = tokio::spawn(async move {
        let (mut phone, mut client) = kally;
        let mut obs = Setups(hdrhistogram::Histogram::new(3).expect("histogram"));
        let (mut ok, mut failed) = (0u64, std::collections::BTreeMap::<String, u64>::new());
        while !emu_token.is_cancelled() {
            let task = Task::Call {
                dn: "2000001".into(),
                hold: Duration::ZERO,
            };
            let (p, o) = run_task(
                phone,
                task,
                tokio::time::Instant::now(),
                &mut client,
                &mut obs,
            )
            .await;
            phone = p;
            match o.result {
                Ok(_) => ok += 1,
                Err(f) => *failed.entry(f.cause.key()).or_default() += 1,
            }
        }
        (ok, failed, obs.0)
    });
    let mut uac = sipp(
        &[
            "-sf",
            &scenario("uac.xml"),
            "-s",
            dn,
            "-r",
            &rate.to_string(),
            "-m",
            &calls.to_string(),
            "-d",
            "0",
            "-l",
            "5000",
            "-timeout",
            "120s",
            "-trace_stat",
            "-fd",
            "1",
        ],
        target,
        free_udp_port(),
    );
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || uac.output())
        .await
        .expect("join")
        .expect("sipp uac");
    emu_stop.cancel();
    let emu_elapsed = started.elapsed();
    let (emu_ok, emu_failed, hist) = kally_side.await.expect("kally");
    let _ = stop_tx.send(());
    let alice = alice_side.await.expect("alice");
    let answered = alice.sip().map_or(0, |u| u.answered_calls());
    println!(
        "emulator: Kally (cluster3) → Alice (cluster2) back to back: {emu_ok} ok, failed {emu_failed:?}, {:.0} calls/s; setup p50 {} µs p99 {} µs max {} µs; Alice answered {answered} (misrouted: {})",
        emu_ok as f64 / emu_elapsed.as_secs_f64(),
        hist.value_at_quantile(0.5),
        hist.value_at_quantile(0.99),
        hist.max(),
        emu_ok.saturating_sub(answered),
    );
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    let last_screen = text
        .rsplit("------------------------------ Scenario Screen")
        .next()
        .unwrap_or("");
    for line in last_screen.lines().chain(
        text.lines()
            .filter(|l| l.contains("Successful call") || l.contains("Failed call")),
    ) {
        if line.contains("Successful call")
            || line.contains("Failed call")
            || line.contains("Call Rate")
            || line.contains("Response Time")
            || line.contains("ms <=")
            || line.contains("ms <")
            || line.contains("ms >=")
        {
            println!("sipp: {}", line.trim());
        }
    }
    let s1 = running.sip("cluster1").expect("sip").0.counters();
    let s3 = running.sip("cluster3").expect("sip").0.counters();
    println!(
        "route {route}: {calls} calls offered at {rate}/s in {:.2} s = {:.0} calls/s (SIPp exit {:?}); cluster1 routed_local {} ; cluster3 routed_trunk {} ; 480 {} 503 {}\n{s1:?}\n{s3:?}",
        elapsed.as_secs_f64(),
        f64::from(calls) / elapsed.as_secs_f64(),
        out.status.code(),
        s1.routed_local,
        s3.routed_trunk,
        s1.unavailable + s3.unavailable,
        s1.trunk_down + s3.trunk_down,
    );
    // The callee SIPp is this process's child: stop it by its id.
    let _ = uas.kill();
    let _ = uas.wait();
    running.shutdown().await;
}

/// The fleet's profile: 1,000 phones a cluster boot, register and log in, then place
/// `fleet_rate` calls/s to users at other clusters for `secs` seconds.
fn fleet_profile(topo: &Topology, fleet_rate: f64, secs: f64) -> Profile {
    let src = format!(
        r#"
name = "sip-setup-fleet"
topology = "inline"
request_timeout = "5s"
drain = "5s"
[population]
devices_per_cluster = 1000
users_per_cluster = 1000
[sip]
hold = {{ dist = "constant", value = "0ms" }}
callee = {{ other_cluster = 1 }}
[[phase]]
name = "logins"
duration = "3s"
login_rate = 1000.0
[[phase]]
name = "calls"
duration = "{secs:.3}s"
call_rate = {fleet_rate}
"#
    );
    Profile::parse_with(&src, "sip-setup-fleet.toml", None, Some(topo)).expect("fleet profile")
}

/// Starts the fleet; returns its task once the call phase begins.
async fn start_fleet(
    profile: Profile,
) -> tokio::task::JoinHandle<Result<fleet::RunResult, fleet::FleetError>> {
    let (tx, mut rx) = tokio::sync::watch::channel(std::sync::Arc::new(Snapshot::empty(3)));
    let task = tokio::spawn(fleet::run(
        profile,
        fleet::RunOptions::default().snapshots(tx),
    ));
    while rx.borrow().phase != "calls" {
        if rx.changed().await.is_err() {
            break;
        }
    }
    task
}

/// The fleet's call figures: placed, achieved, by outcome, route and setup percentiles.
fn print_fleet(r: &fleet::RunResult, fleet_rate: f64) {
    let s = Summary::of(r, None);
    let sip = &s.totals.counts.sip;
    let calls_phase = r.profile.phases[1].duration.as_secs_f64();
    println!(
        "fleet: {} phones booted, {} logins ok; {} calls placed in {:.1} s ({:.0}/s offered {fleet_rate}/s): {} ok ({:.0}/s achieved), busy {}, failed {}, misrouted {}, unverified {}, dropped {}; retransmissions {}",
        sip.boots_ok,
        s.totals.counts.logins_ok,
        sip.calls_attempted,
        calls_phase,
        sip.calls_attempted as f64 / calls_phase,
        sip.calls_ok,
        sip.calls_ok as f64 / calls_phase,
        sip.calls_busy,
        sip.calls_failed,
        sip.calls_misrouted,
        sip.calls_unverified,
        sip.calls_dropped,
        sip.retransmissions,
    );
    for (route, rc) in &sip.by_route {
        println!("fleet route {route}: {rc:?}");
    }
    for st in &s.call_setup_by_route {
        println!(
            "fleet {}: n {} p50 {:.3} ms p90 {:.3} ms p99 {:.3} ms p99.9 {:.3} ms max {:.3} ms",
            st.step, st.count, st.p50_ms, st.p90_ms, st.p99_ms, st.p999_ms, st.max_ms
        );
    }
}

/// Every cluster's trunk total and SIP counters.
fn print_clusters(running: &emroam_server::Running) {
    let routed: u64 = ["cluster1", "cluster2", "cluster3"]
        .iter()
        .map(|c| running.sip(c).expect("sip").0.counters().routed_trunk)
        .sum();
    println!("clusters: {routed} INVITEs routed over trunks in all");
    for c in ["cluster1", "cluster2", "cluster3"] {
        println!("{c}: {:?}", running.sip(c).expect("sip").0.counters());
    }
}

/// The fleet alone placing `fleet_rate` calls/s for `secs` seconds, every call over a trunk:
/// the generator is emroam's own phones, no SIPp.
async fn fleet_alone(
    topo: &Topology,
    fleet_rate: f64,
    secs: f64,
    running: &emroam_server::Running,
) {
    let cpu0 = cpu_secs();
    let fleet_task = start_fleet(fleet_profile(topo, fleet_rate, secs)).await;
    let r = fleet_task.await.expect("fleet").expect("fleet run");
    print_fleet(&r, fleet_rate);
    println!(
        "process CPU: {:.1} s (clusters and fleet together)",
        cpu_secs() - cpu0
    );
    print_clusters(running);
}

/// This process's user + system CPU time so far, in seconds.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(") ").map_or("", |x| x.1);
    let f: Vec<f64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0
}

/// SIPp's caller at `rate`/s for `calls` calls, and in the same run the fleet placing
/// `fleet_rate` calls/s across clusters; prints both.
#[allow(clippy::too_many_arguments)]
async fn fleet_beside_sipp(
    topo: &Topology,
    fleet_rate: f64,
    secs: f64,
    rate: u32,
    calls: u32,
    target: std::net::SocketAddr,
    _uas_port: u16,
    dir: &Path,
    dn: &str,
    running: &emroam_server::Running,
) {
    // SIPp starts with the fleet's call phase.
    let fleet_task = start_fleet(fleet_profile(topo, fleet_rate, secs + 1.0)).await;
    let started = Instant::now();
    let out = tokio::task::spawn_blocking({
        let dir = dir.to_owned();
        let dn = dn.to_owned();
        move || {
            Command::new("sipp")
                .arg(target.to_string())
                .args([
                    "-i",
                    "127.0.0.1",
                    "-p",
                    &free_udp_port().to_string(),
                    "-nostdin",
                ])
                .args(["-sf", &scenario("uac.xml"), "-s", &dn])
                .args(["-r", &rate.to_string(), "-m", &calls.to_string(), "-d", "0"])
                .args(["-l", "5000", "-timeout", "120s", "-trace_stat", "-fd", "1"])
                .current_dir(dir)
                .stdin(Stdio::null())
                .output()
        }
    })
    .await
    .expect("join")
    .expect("sipp uac");
    let sipp_secs = started.elapsed().as_secs_f64();
    let r = fleet_task.await.expect("fleet").expect("fleet run");
    print_fleet(&r, fleet_rate);
    let text = String::from_utf8_lossy(&out.stdout);
    let last_screen = text
        .rsplit("------------------------------ Scenario Screen")
        .next()
        .unwrap_or("");
    for line in last_screen.lines().filter(|l| {
        l.contains("Successful call")
            || l.contains("Failed call")
            || l.contains("Response Time")
            || l.contains("ms <")
            || l.contains("ms >=")
    }) {
        println!("sipp: {}", line.trim());
    }
    println!(
        "sipp: {calls} calls offered at {rate}/s, finished in {sipp_secs:.2} s ({:.0}/s; exit {:?})",
        f64::from(calls) / sipp_secs,
        out.status.code()
    );
    print_clusters(running);
}
