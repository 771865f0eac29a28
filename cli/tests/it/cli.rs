//! The `emroam` binary end to end against the fake cluster: exit codes (0, 1, 2, 99), output
//! files, SIGTERM.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::util::{Fake, Knobs, seed_users, spawn_fake};

fn write_profile(fake: &Fake, name: &str, extra: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("emroam-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.toml"));
    let src = format!(
        r##"name = "{name}"
request_timeout = "5s"
drain = "3s"
[[target]]
cluster = "c1"
service_url = "{svc}"
config_url = "http://{addr}/#DEVICENAME#.cnf.xml"
emservice_url = "http://{addr}/emservice/EMServiceServlet"
app_user = {{ id = "emapi", password = "secret" }}
devices = {{ first = "SEP000000009001", count = 4 }}
users = {{ prefix = "user", first = 0, count = 4, width = 5, pin = "12345" }}
{extra}
"##,
        svc = fake.service_url(),
        addr = fake.addr,
    );
    std::fs::write(&path, src).unwrap();
    path
}

async fn emroam(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_emroam"))
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

const CYCLE: &str = r#"
[[phase]]
duration = "1s"
phones = 4
think = { dist = "constant", value = "50ms" }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_exit_codes_and_files() {
    let fake = spawn_fake(seed_users(4), Knobs::default()).await;
    let ok = write_profile(
        &fake,
        "ok",
        &format!("{CYCLE}\n[slo]\nsuccess_ratio = 0.9\n"),
    );
    let out_dir = ok.parent().unwrap().join("out");
    let o = emroam(vec![
        "fleet".into(),
        ok.display().to_string(),
        "--out".into(),
        out_dir.display().to_string(),
    ])
    .await;
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("SLO ✔ success_ratio"), "{stdout}");
    assert!(
        stdout.contains("reconcile: 4 devices checked, 4 agree, 0 leaked, 0 missing"),
        "{stdout}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(json["schema"], "emroam.fleet.summary");
    assert!(json["totals"]["logins_ok"].as_u64().unwrap() > 0);
    assert!(out_dir.join("latency.hlog").exists() && out_dir.join("timeseries.csv").exists());
    // The report says where the files went.
    assert!(
        stdout.contains(&format!(
            "wrote {}, {} and {}",
            out_dir.join("summary.json").display(),
            out_dir.join("latency.hlog").display(),
            out_dir.join("timeseries.csv").display()
        )),
        "{stdout}"
    );

    let strict = write_profile(
        &fake,
        "strict",
        &format!("{CYCLE}\n[slo]\np99 = {{ journey = \"1us\" }}\n"),
    );
    let o = emroam(vec!["fleet".into(), strict.display().to_string()]).await;
    assert_eq!(
        o.status.code(),
        Some(99),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("SLO ✘ p99.journey"));
    // Under the table, what its words mean (EM words; SIP ones only with SIP).
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("what the words mean:"), "{out}");
    assert!(
        out.contains("  dropped: arrivals the schedule asked for"),
        "{out}"
    );
    assert!(!out.contains("  misrouted:"), "no SIP in this run: {out}");

    let bad = write_profile(&fake, "bad", "[[phase]]\nduration = \"1s\"\n");
    let o = emroam(vec!["fleet".into(), bad.display().to_string()]).await;
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.toml:12:1: phase `phase1`: give login_rate/logout_rate"),
        "{err}"
    );
    for p in [ok, strict, bad] {
        let _ = std::fs::remove_dir_all(p.parent().unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_fleet_and_still_reports() {
    let fake = spawn_fake(seed_users(4), Knobs::default()).await;
    let (child, long) = long_fleet(&fake, "long");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    signal(&child, "TERM");
    let started = std::time::Instant::now();
    let o = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    let stdout = String::from_utf8_lossy(&o.stdout);
    // Stopped by a signal: not a success, 128 + 15, and the report is still there.
    assert_eq!(o.status.code(), Some(143), "{stdout}");
    assert!(stdout.contains("(cancelled)"), "{stdout}");
    assert!(stdout.contains("0 leaked, 0 missing"), "{stdout}");
    let _ = std::fs::remove_dir_all(long.parent().unwrap());
}

/// Starts `emroam fleet` on a 60 s closed-model profile against `fake`.
fn long_fleet(fake: &Fake, name: &str) -> (std::process::Child, std::path::PathBuf) {
    let long = write_profile(
        fake,
        name,
        "[[phase]]\nduration = \"60s\"\nphones = 4\nthink = { dist = \"constant\", value = \"50ms\" }\n",
    );
    let child = Command::new(env!("CARGO_BIN_EXE_emroam"))
        .args(["fleet", &long.display().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    (child, long)
}

fn signal(child: &std::process::Child, sig: &str) {
    // Through the shell's builtin, which every CI image has.
    let _ = Command::new("sh")
        .args(["-c", &format!("kill -{sig} {}", child.id())])
        .status();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_the_fleet_with_130_and_still_reports() {
    let fake = spawn_fake(seed_users(4), Knobs::default()).await;
    let (child, long) = long_fleet(&fake, "sigint");
    tokio::time::sleep(Duration::from_millis(2000)).await;
    signal(&child, "INT");
    let o = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(130), "{stdout}");
    assert!(stdout.contains("(cancelled)"), "{stdout}");
    let _ = std::fs::remove_dir_all(long.parent().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_quits_at_once_without_the_report() {
    // Every login submit takes 4 s, longer than the profile's 3 s drain: after the first
    // signal the fleet would wait out the drain, then reconcile and report.
    let fake = spawn_fake(
        seed_users(4),
        Knobs {
            submit_delay: Duration::from_secs(4),
            ..Knobs::default()
        },
    )
    .await;
    let (child, long) = long_fleet(&fake, "twice");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    signal(&child, "TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    signal(&child, "INT");
    let o = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "quit in {:?}, not after the drain",
        started.elapsed()
    );
    assert_eq!(o.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("second signal: quitting now"), "{stderr}");
    assert!(!stdout.contains("reconcile:"), "no report: {stdout}");
    let _ = std::fs::remove_dir_all(long.parent().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_exit_code_says_whether_it_worked() {
    let fake = spawn_fake(seed_users(0), Knobs::default()).await;
    let base = |action: &str, pin: &str| {
        vec![
            "phone".to_owned(),
            action.to_owned(),
            "--service".to_owned(),
            fake.service_url(),
            "--device".to_owned(),
            "SEP000000001001".to_owned(),
            "--id".to_owned(),
            "bob".to_owned(),
            "--pin".to_owned(),
            pin.to_owned(),
        ]
    };
    let o = emroam(base("login", "99999")).await;
    assert_eq!(o.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("Please try to login again (201)"),
        "{stdout}"
    );
    assert!(!stdout.contains("99999"), "PIN leaked: {stdout}");
    let o = emroam(base("login", "12345")).await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = emroam(base("status", "")).await;
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("logged_in: true"));
    let o = emroam(vec!["phone".into(), "login".into()]).await;
    assert_eq!(o.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_ends_by_itself_with_the_report() {
    let o = emroam(vec![
        "demo".into(),
        "--headless".into(),
        "--duration".into(),
        "3s".into(),
    ])
    .await;
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("emroam fleet `demo`: "), "{stdout}");
    assert!(
        stdout.contains("reconcile: 9 devices checked, 9 agree, 0 leaked, 0 missing"),
        "{stdout}"
    );
    assert!(stdout.contains("cluster3: LoginsSuccessful"), "{stdout}");
}

/// `POST` (or `GET`) `path` on a loopback HTTP port; the whole answer as text.
fn http(addr: &str, method: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_pauses_and_resumes_the_fleet_over_its_control_port() {
    use std::io::BufRead;
    let fake = spawn_fake(seed_users(4), Knobs::default()).await;
    let long = write_profile(
        &fake,
        "ctl",
        "[[phase]]\nduration = \"60s\"\nphones = 4\nthink = { dist = \"constant\", value = \"20ms\" }\n",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_emroam"))
        .args([
            "fleet",
            &long.display().to_string(),
            "--control",
            "127.0.0.1:0",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The fleet says where its controls are on stderr; the rest of stderr is drained so its
    // later lines ("stopping: ...") never meet a closed pipe.
    let stderr = child.stderr.take().unwrap();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.split("controls at http://").nth(1) {
                let _ = addr_tx.send(rest.trim_end_matches("/control").to_owned());
            }
        }
    });
    let addr = tokio::task::spawn_blocking(move || {
        addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the control address on stderr")
    })
    .await
    .unwrap();
    let requests = || fake.state.lock().unwrap().counters.requests;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(requests() > 0, "the fleet is working");

    let a = addr.clone();
    let paused = tokio::task::spawn_blocking(move || http(&a, "POST", "/control/pause"))
        .await
        .unwrap();
    assert!(paused.starts_with("HTTP/1.1 200"), "{paused}");
    assert!(paused.contains("\"paused\":true"), "{paused}");
    // In-flight journeys finish (a journey is 3 requests, a phone thinks 20 ms between them).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let at_pause = requests();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(requests(), at_pause, "no new work while paused");

    let a = addr.clone();
    let resumed = tokio::task::spawn_blocking(move || {
        (
            http(&a, "POST", "/control/resume"),
            http(&a, "POST", "/control/rate?factor=abc"),
        )
    })
    .await
    .unwrap();
    assert!(resumed.0.contains("\"paused\":false"), "{}", resumed.0);
    assert!(resumed.1.starts_with("HTTP/1.1 400"), "{}", resumed.1);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(requests() > at_pause, "work starts again after resume");

    signal(&child, "TERM");
    let started = std::time::Instant::now();
    let o = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "SIGTERM stops the run"
    );
    assert_eq!(o.status.code(), Some(143));
    let _ = std::fs::remove_dir_all(long.parent().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_fails_at_once_with_exit_1_naming_the_address() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("emroam-cli-{}-nobody", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("nobody.toml");
    std::fs::write(
        &path,
        format!(
            r#"name = "nobody"
[[target]]
cluster = "c1"
service_url = "http://127.0.0.1:{port}/emapp/EMAppServlet?device=#DEVICENAME#"
devices = {{ first = "SEP000000009001", count = 2 }}
users = {{ prefix = "user", first = 0, count = 2, width = 5, pin = "12345" }}
[[phase]]
duration = "3m"
login_rate = 5.0
"#
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let o = emroam(vec!["fleet".into(), path.display().to_string()]).await;
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "not the profile's 3 minutes"
    );
    assert!(
        err.contains(&format!(
            "cannot reach c1 at 127.0.0.1:{port}: connection refused"
        )),
        "{err}"
    );
    assert!(err.contains("nothing was run"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_goes_away_mid_run_stops_it_with_exit_1_naming_the_address() {
    let fake = spawn_fake(seed_users(4), Knobs::default()).await;
    let path = write_profile(
        &fake,
        "goes-away",
        "[[phase]]\nduration = \"60s\"\nphones = 4\nthink = { dist = \"constant\", value = \"50ms\" }\n",
    );
    let src = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("stop_when_unreachable = \"2s\"\n{src}")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_emroam"))
        .args(["fleet", &path.display().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let addr = fake.addr;
    drop(fake);
    let o = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "stopped early: c1 at {addr} refused every connection"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("is it still running?"), "{stdout}");
    // Well before the profile's 60 s: the report's own clock says so.
    let secs: f64 = stdout
        .split("`goes-away`: ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert!(secs < 30.0, "{stdout}");
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}
