//! The dashboard end to end: the real `emroam tui` binary in a tmux pane (send-keys,
//! capture-pane) watching the seed clusters, run in-process on OS-chosen ports. It must show
//! RequestsThrottled rising under a login storm, cluster1 down after `d`, and exit 0 on `q`
//! with the terminal restored. Skipped (with a message) when `tmux` is not on PATH.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use emroam_emulator::driver::{HttpClient, Quiet, run_task};
use emroam_emulator::phone::{Credentials, LoginType, Model, Phone, PhoneSpec, Task};
use emroam_server::{Options, Topology};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().expect("tmux runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn have_tmux() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Kills the session however the test ends.
struct Session(String);
impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .output();
    }
}

impl Session {
    /// Runs `emroam ARGS` in a detached tmux session `name` of `width`×`height`, logging to
    /// `log`; the pane prints `EXIT=<code>` when it ends, and stays for a while to be read.
    fn start(name: &str, (width, height): (u16, u16), args: &str, log: &std::path::Path) -> Self {
        let cmd = format!(
            "EMROAM_LOG={} {} {args}; echo EXIT=$?; sleep 30",
            log.display(),
            env!("CARGO_BIN_EXE_emroam"),
        );
        let (w, h) = (width.to_string(), height.to_string());
        tmux(&["new-session", "-d", "-s", name, "-x", &w, "-y", &h, &cmd]);
        Session(name.to_owned())
    }

    fn screen(&self) -> String {
        tmux(&["capture-pane", "-p", "-t", &self.0])
    }

    fn keys(&self, k: &str) {
        tmux(&["send-keys", "-t", &self.0, k]);
    }

    /// Waits up to `secs` for the screen to satisfy `ok`; panics with the screen otherwise.
    async fn wait_for(&self, what: &str, secs: u64, ok: impl Fn(&str) -> bool) -> String {
        let end = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            if std::time::Instant::now() > end {
                panic!("timed out waiting for {what}; the screen:\n{s}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The seed topology with each cluster's ports replaced by the ones bound.
fn rewritten(topo: &Topology) -> String {
    let mut src = emroam::cmd::demo::SEED_TOPOLOGY.to_owned();
    for c in &topo.clusters {
        src = src.replacen(
            "ports = { http = 8080, config = 6970,",
            &format!(
                "ports = {{ http = {}, config = {},",
                c.ports.http, c.ports.config
            ),
            1,
        );
    }
    src
}

/// The value of RTMT counter `name` on screen 2's detail lines.
fn counter(screen: &str, name: &str) -> Option<u64> {
    let line = screen
        .lines()
        .find(|l| l.starts_with(&format!("│{name} ")))?;
    line.trim_start_matches('│')[name.len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Logins of bob on cluster1 from `n` phones at once, again and again until cancelled.
async fn storm(topo: Topology, n: usize, token: CancellationToken) {
    let c = &topo.clusters[0];
    let config = format!("http://{}:{}", c.address, c.ports.config);
    while !token.is_cancelled() {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..n {
            let device = format!("SEP0000000010{:02}", 1 + i % 9);
            let config = config.clone();
            set.spawn(async move {
                let phone = Phone::new(PhoneSpec {
                    config_url: Some(format!("{config}/{device}.cnf.xml")),
                    device,
                    model: Model::from_topology_name("Cisco 8865"),
                    service_url: None,
                });
                let mut http = HttpClient::new(Duration::from_secs(5));
                let (phone, _) =
                    run_task(phone, Task::Boot, Instant::now(), &mut http, &mut Quiet).await;
                let creds = Credentials {
                    login_type: LoginType::Uid,
                    id: "bob".into(),
                    pin: "12345".into(),
                    profile: None,
                };
                let _ = run_task(
                    phone,
                    Task::Login(creds),
                    Instant::now(),
                    &mut http,
                    &mut Quiet,
                )
                .await;
            });
        }
        while set.join_next().await.is_some() {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_throttling_a_cluster_down_and_exits_cleanly() {
    if !have_tmux() {
        eprintln!(
            "SKIPPED dashboard_shows_throttling_a_cluster_down_and_exits_cleanly: `tmux` is not on PATH (apt-get install -y tmux)"
        );
        return;
    }
    let mut topo = Topology::parse(emroam::cmd::demo::SEED_TOPOLOGY).unwrap();
    let listeners = emroam_server::bind_ephemeral(&mut topo).await.unwrap();
    let token = CancellationToken::new();
    let running = emroam_server::start(&topo, listeners, &Options::default(), token.clone())
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("emroam-tui-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file: PathBuf = dir.join("seed.toml");
    std::fs::write(&file, rewritten(&topo)).unwrap();
    // A slow, narrow cluster1: one request at a time, each 300 ms, so a storm is throttled.
    let c1 = &topo.clusters[0];
    let admin = format!(
        "http://{}:{}/admin/clusters/cluster1/params",
        c1.address, c1.ports.http
    );
    let mut http = HttpClient::new(Duration::from_secs(5));
    let r = http
        .send(&emroam_emulator::phone::HttpRequest {
            method: emroam_emulator::phone::Method::Post,
            url: admin,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: Some(r#"{"max_concurrent_requests":1,"service_time":"300ms"}"#.into()),
            secrets: vec![],
        })
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    let name = format!("emroam-tui-{}", std::process::id());
    let session = Session::start(
        &name,
        (100, 30),
        &format!("tui --topology {}", file.display()),
        &dir.join("emroam.log"),
    );
    session
        .wait_for("three clusters up", 15, |s| {
            s.lines()
                .filter(|l| l.contains("cluster") && l.contains(" UP "))
                .count()
                == 3
        })
        .await;
    session.keys("2");
    let before = session
        .wait_for("screen 2", 5, |s| counter(s, "RequestsThrottled").is_some())
        .await;
    let t0 = counter(&before, "RequestsThrottled").unwrap();
    // The seed clusters run SIP: the selected one's SIP block, from the server's own JSON.
    let s = session
        .wait_for("the SIP block", 5, |s| {
            s.contains("SIP  bindings") && s.contains("calls in progress")
        })
        .await;
    assert!(s.contains("routed local"), "{s}");

    let storm_token = CancellationToken::new();
    let st = tokio::spawn(storm(topo.clone(), 20, storm_token.clone()));
    let s = session
        .wait_for("RequestsThrottled rising", 20, |s| {
            counter(s, "RequestsThrottled").is_some_and(|n| n > t0 + 5)
        })
        .await;
    assert!(s.contains("RequestsThrottled"), "{s}");
    storm_token.cancel();
    let _ = st.await;

    // Take cluster1 (selected) down with the key; the dashboard shows it and keeps going.
    session.keys("1");
    session.keys("d");
    let s = session
        .wait_for("cluster1 DOWN", 10, |s| {
            s.lines()
                .any(|l| l.contains("▶cluster1") && l.contains("DOWN"))
        })
        .await;
    assert!(
        s.lines()
            .any(|l| l.contains("cluster2") && l.contains(" UP ")),
        "{s}"
    );
    // ... and back up through another cluster's port.
    session.keys("u");
    session
        .wait_for("cluster1 UP again", 10, |s| {
            s.lines()
                .any(|l| l.contains("▶cluster1") && l.contains(" UP "))
        })
        .await;

    // A resize is followed: too small, then back.
    tmux(&["resize-window", "-t", &name, "-x", "40", "-y", "10"]);
    session
        .wait_for("the too-small screen", 10, |s| {
            s.contains("terminal too small")
        })
        .await;
    tmux(&["resize-window", "-t", &name, "-x", "100", "-y", "30"]);
    session
        .wait_for("the overview again", 10, |s| s.contains("1 Overview"))
        .await;

    session.keys("q");
    let s = session
        .wait_for("a clean exit", 10, |s| s.contains("EXIT="))
        .await;
    assert!(s.contains("EXIT=0"), "{s}");
    assert!(!s.contains("panicked"), "{s}");
    // The terminal is back in cooked mode: the shell's echo shows the command's output
    // on the main screen (not the dashboard's alternate screen).
    assert!(!s.contains("1 Overview"), "{s}");

    token.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), running.wait()).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// `emroam demo` shows the dashboard by default; the run ends (FINISHED), `q` restores the
/// terminal, prints the report and exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_under_the_dashboard_and_q_prints_the_report() {
    if !have_tmux() {
        eprintln!(
            "SKIPPED demo_runs_under_the_dashboard_and_q_prints_the_report: `tmux` is not on PATH (apt-get install -y tmux)"
        );
        return;
    }
    let name = format!("emroam-demo-{}", std::process::id());
    let log = std::env::temp_dir().join(format!("emroam-demo-{}.log", std::process::id()));
    let session = Session::start(&name, (80, 24), "demo --duration 20s", &log);
    session
        .wait_for("the dashboard", 15, |s| {
            s.contains("1 Ov") && s.contains("fleet: demo")
        })
        .await;
    session
        .wait_for("the run's end", 40, |s| s.contains("run finished"))
        .await;
    // The roaming view and the errors screen draw in the real terminal too.
    session.keys("6");
    session
        .wait_for("screen 6", 10, |s| {
            s.contains("roaming users") && s.contains("ILS")
                || s.contains("nobody has logged in away from home yet")
        })
        .await;
    session.keys("4");
    session
        .wait_for("screen 4", 10, |s| s.contains("the dashboard's polls"))
        .await;
    session.keys("q");
    let s = session
        .wait_for("the report and a clean exit", 15, |s| s.contains("EXIT="))
        .await;
    let all = tmux(&["capture-pane", "-p", "-S", "-200", "-t", &name]);
    assert!(s.contains("EXIT=0"), "{all}");
    assert!(all.contains("journey"), "the report: {all}");
    assert!(
        all.contains("LoginsSuccessful"),
        "the clusters' counters: {all}"
    );
    let _ = std::fs::remove_file(&log);
}

/// Ctrl-C in the dashboard is a key (raw mode), but still the user's interrupt: 130, as a
/// shell expects, where `q` exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_in_the_dashboard_exits_130() {
    if !have_tmux() {
        eprintln!(
            "SKIPPED ctrl_c_in_the_dashboard_exits_130: `tmux` is not on PATH (apt-get install -y tmux)"
        );
        return;
    }
    // No cluster needs to run: the watcher shows them as not answering.
    let dir = std::env::temp_dir().join(format!("emroam-tui-cc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file: PathBuf = dir.join("seed.toml");
    std::fs::write(&file, emroam::cmd::demo::SEED_TOPOLOGY).unwrap();
    let session = Session::start(
        &format!("emroam-tui-cc-{}", std::process::id()),
        (100, 30),
        &format!("tui --topology {}", file.display()),
        &dir.join("emroam.log"),
    );
    session
        .wait_for("the dashboard", 15, |s| s.contains("1 Overview"))
        .await;
    session.keys("C-c");
    let s = session
        .wait_for("the exit", 10, |s| s.contains("EXIT="))
        .await;
    assert!(s.contains("EXIT=130"), "{s}");
    let _ = std::fs::remove_dir_all(dir);
}
