//! The phone and the fleet against the reference cluster (the server crate, in-process on
//! `127.0.0.1:0`): UID, DN and SP login, logout, profile choice, EM codes, a stopped EM
//! application and EM service, and a fleet whose counts agree exactly with the cluster's.

use std::sync::Arc;
use std::time::Duration;

use emroam_emulator::driver::{HttpClient, Quiet, run_task};
use emroam_emulator::fleet::profile::Profile;
use emroam_emulator::fleet::report::Summary;
use emroam_emulator::fleet::stats::Snapshot;
use emroam_emulator::fleet::{self, RunOptions, reconcile};
use emroam_emulator::phone::{Cause, Credentials, LoginType, Phone, Success, Task, TaskOutcome};
use emroam_server::{Options, Running, Topology};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const TOPO: &str = r#"
[[cluster]]
id = "c1"
address = "127.0.0.1"
em = { max_concurrent_requests = 3, multiple_login_behavior = "not-allowed" }

[[app_user]]
id = "emapi"
password = "emapi-secret"
proxy_rights = true

[[profile]]
name = "lobby"

[[profile]]
name = "bob-udp"
lines = [{ dn = "1000001", label = "Bob", display_name = "Bob" }]
services = ["Extension Mobility"]

[[profile]]
name = "bob-lab"
lines = [{ dn = "1000002", label = "Bob lab", display_name = "Bob" }]
services = ["Extension Mobility"]

[[profile]]
name = "carol-udp"
lines = [{ dn = "1000003", label = "Carol", display_name = "Carol" }]
services = []

[[user]]
id = "bob"
pin = "12345"
primary_extension = "1000001"
self_service_id = "1000001"
home = "c1"
profiles = ["bob-udp"]
default_profile = "bob-udp"

[[user]]
id = "dana"
pin = "12345"
primary_extension = "1000009"
home = "c1"
profiles = ["bob-udp", "bob-lab"]

[[user]]
id = "carol"
pin = "12345"
primary_extension = "1000003"
home = "c1"
profiles = ["carol-udp"]
default_profile = "carol-udp"

[[user]]
id = "erin"
pin = "12345"
home = "c1"
profiles = ["bob-udp"]
default_profile = "bob-udp"

[[phone]]
name = "SEP000000001001"
cluster = "c1"
model = "Cisco 8865"
em_enabled = true
logout_profile = "lobby"

[[phone]]
name = "SEP000000001002"
cluster = "c1"
model = "Cisco 8865"
em_enabled = true
logout_profile = "lobby"

[[phone]]
name = "SEP000000001010"
cluster = "c1"
model = "Cisco 8865"
em_enabled = false
logout_profile = "lobby"
"#;

struct Cluster {
    topo: Topology,
    running: Option<Running>,
    token: CancellationToken,
}

impl Cluster {
    async fn start(src: &str) -> Cluster {
        let mut topo = Topology::parse(src).unwrap();
        let listeners = emroam_server::bind_ephemeral(&mut topo).await.unwrap();
        let token = CancellationToken::new();
        let running = emroam_server::start(&topo, listeners, &Options::default(), token.clone())
            .await
            .unwrap();
        Cluster {
            topo,
            running: Some(running),
            token,
        }
    }

    fn http(&self) -> String {
        let c = &self.topo.clusters[0];
        format!("http://{}:{}", c.address, c.ports.http)
    }

    fn phone(&self, device: &str) -> Phone {
        let c = &self.topo.clusters[0];
        Phone::new(crate::util::booting_spec(c, device))
    }

    fn counters(&self) -> emroam_server::counters::CounterSnapshot {
        self.running.as_ref().unwrap().clusters()[0]
            .counters()
            .snapshot()
    }

    async fn admin(&self, path: &str) {
        let req = emroam_emulator::phone::HttpRequest {
            method: emroam_emulator::phone::Method::Post,
            url: format!("{}{path}", self.http()),
            headers: vec![],
            body: Some(String::new()),
            secrets: vec![],
        };
        let r = HttpClient::new(Duration::from_secs(5))
            .send(&req)
            .await
            .unwrap();
        assert_eq!(
            r.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.token.cancel();
        drop(self.running.take());
    }
}

fn login(lt: LoginType, id: &str, pin: &str, profile: Option<&str>) -> Task {
    Task::Login(Credentials {
        login_type: lt,
        id: id.into(),
        pin: pin.into(),
        profile: profile.map(str::to_owned),
    })
}

async fn go(p: Phone, task: Task) -> (Phone, TaskOutcome) {
    let mut c = HttpClient::new(Duration::from_secs(5));
    run_task(p, task, Instant::now(), &mut c, &mut Quiet).await
}

async fn booted(c: &Cluster, device: &str) -> Phone {
    let (p, o) = go(c.phone(device), Task::Boot).await;
    assert_eq!(o.result, Ok(Success::Booted));
    p
}

fn cause(o: &TaskOutcome) -> Cause {
    o.result.clone().unwrap_err().cause
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uid_dn_sp_login_and_logout() {
    let c = Cluster::start(TOPO).await;
    for (lt, id) in [
        (LoginType::Uid, "bob"),
        (LoginType::Dn, "1000001"),
        (LoginType::Sp, "1000001"),
    ] {
        let p = booted(&c, "SEP000000001001").await;
        let (p, o) = go(p, login(lt, id, "12345", None)).await;
        assert_eq!(o.result, Ok(Success::LoggedIn), "{lt:?}");
        let (p, o) = go(p, Task::Status).await;
        assert_eq!(o.result, Ok(Success::Status { logged_in: true }));
        let (_, o) = go(p, Task::Logout).await;
        assert_eq!(o.result, Ok(Success::LoggedOut), "{lt:?}");
    }
    let s = c.counters();
    assert_eq!((s.logins_successful, s.logouts_successful), (3, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_choice_is_answered() {
    let c = Cluster::start(TOPO).await;
    let p = booted(&c, "SEP000000001001").await;
    let (p, o) = go(p, login(LoginType::Uid, "dana", "12345", Some("bob-lab"))).await;
    assert_eq!(o.result, Ok(Success::LoggedIn));
    let logins = c.running.as_ref().unwrap().clusters()[0].logins();
    let json = serde_json::to_string(&logins).unwrap();
    assert!(json.contains("bob-lab"), "{json}");
    let (_, o) = go(p, Task::Logout).await;
    assert_eq!(o.result, Ok(Success::LoggedOut));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn em_codes_are_named_outcomes() {
    let c = Cluster::start(TOPO).await;
    let p = booted(&c, "SEP000000001001").await;
    // 201: wrong PIN.
    let (p, o) = go(p, login(LoginType::Uid, "bob", "00000", None)).await;
    let f = o.result.unwrap_err();
    assert_eq!(
        (f.cause, f.shown.as_str()),
        (Cause::Em(201), "Please try to login again (201)")
    );
    // 23: SP login for a user without a self-service ID.
    let (p, o) = go(p, login(LoginType::Sp, "9999999", "12345", None)).await;
    assert!(matches!(cause(&o), Cause::Em(_)), "{o:?}");
    // 25: bob logged in on one phone, then on another (multiple login not allowed).
    let (_p, o) = go(p, login(LoginType::Uid, "bob", "12345", None)).await;
    assert_eq!(o.result, Ok(Success::LoggedIn));
    let q = booted(&c, "SEP000000001002").await;
    let (_, o) = go(q, login(LoginType::Uid, "bob", "12345", None)).await;
    assert_eq!(cause(&o), Cause::Em(25));
    // 22: a phone with EM disabled.
    let r = c.phone("SEP000000001010");
    let (r, _) = go(r, Task::Boot).await;
    let (_, o) = go(r, login(LoginType::Uid, "erin", "12345", None)).await;
    assert_eq!(cause(&o), Cause::Em(22));
    // Logging out a phone nobody is logged in on.
    let q = booted(&c, "SEP000000001002").await;
    let (_, o) = go(q, Task::Logout).await;
    assert_eq!(cause(&o), Cause::NotLoggedIn);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_unavailable_after_login() {
    let c = Cluster::start(TOPO).await;
    // carol's device profile subscribes to no services: after the restart, no EM service.
    let p = booted(&c, "SEP000000001001").await;
    let (_, o) = go(p, login(LoginType::Uid, "carol", "12345", None)).await;
    let f = o.result.unwrap_err();
    assert_eq!(f.cause.key(), "services_unavailable_after_login");
    assert_eq!(f.shown, "Services Unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_em_application_and_service() {
    let c = Cluster::start(TOPO).await;
    let p = booted(&c, "SEP000000001001").await;
    c.admin("/admin/clusters/c1/emapp/stop").await;
    let (p, o) = go(p, Task::Status).await;
    assert_eq!(o.result.unwrap_err().shown, "HTTP Error (503)");
    c.admin("/admin/clusters/c1/emapp/start").await;
    c.admin("/admin/clusters/c1/emservice/stop").await;
    let (p, o) = go(p, login(LoginType::Uid, "bob", "12345", None)).await;
    assert_eq!(cause(&o), Cause::Em(208));
    c.admin("/admin/clusters/c1/emservice/start").await;
    let (_, o) = go(p, login(LoginType::Uid, "bob", "12345", None)).await;
    assert_eq!(o.result, Ok(Success::LoggedIn));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_counts_agree_exactly_with_the_cluster_counters() {
    // 40 users and phones, 3 concurrent EM requests and a real service time: busy guaranteed.
    let topo = r#"
[[cluster]]
id = "c1"
address = "127.0.0.1"
em = { max_concurrent_requests = 3, multiple_login_behavior = "not-allowed", service_time = "20ms" }

[[app_user]]
id = "emapi"
password = "emapi-secret"
proxy_rights = true

[[profile]]
name = "lobby"

[[user_pattern]]
home = "c1"
count = 40
id = "u{n:03}"
pin = "1234"
extension = 2000001

[[phone_pattern]]
cluster = "c1"
count = 40
first = "SEP000000000001"
logout_profile = "lobby"
"#;
    let c = Cluster::start(topo).await;
    let profile_src = r#"
name = "exact"
topology = "inline"
request_timeout = "5s"
drain = "5s"
[mix]
uid = 1
dn = 1
sp = 1
[[phase]]
duration = "2s"
phones = 30
think = { dist = "uniform", min = "0ms", max = "20ms" }
[[phase]]
duration = "1s"
login_rate = 10.0
logout_rate = 10.0
"#;
    let p = Profile::parse_with(profile_src, "exact.toml", None, Some(&c.topo)).unwrap();
    let before = c.counters();
    let r = fleet::run(p, RunOptions::default()).await.unwrap();
    let rec = reconcile::reconcile(&r.profile, &r.beliefs, Duration::from_secs(5)).await;
    let s = Summary::of(&r, Some(rec));
    let after = c.counters();
    let t = &s.totals.counts;
    let table = s.table();
    assert!(t.busy > 0, "the throttle was hit\n{table}");
    assert_eq!(
        t.logins_ok,
        after.logins_successful - before.logins_successful,
        "{table}"
    );
    assert_eq!(
        t.logouts_ok,
        after.logouts_successful - before.logouts_successful,
        "{table}"
    );
    assert_eq!(
        t.busy,
        after.requests_throttled - before.requests_throttled,
        "{table}"
    );
    assert_eq!(t.abandoned, 0, "{table}");
    let rec = s.reconcile.as_ref().unwrap();
    assert_eq!(rec.checked, 40, "{table}");
    assert!(rec.leaked.is_empty() && rec.missing.is_empty(), "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_schedule_goes_through_the_admin_interface() {
    let c = Cluster::start(TOPO).await;
    let src = r#"
name = "faulty"
topology = "inline"
request_timeout = "5s"
drain = "5s"
[population]
devices_per_cluster = 2
[[phase]]
duration = "3s"
login_rate = 4.0
logout_rate = 4.0
[[fault]]
at = "1s"
cluster = "c1"
action = "emapp-stop"
[[fault]]
at = "2s"
path = "/admin/clusters/c1/emapp/start"
"#;
    let p = Profile::parse_with(src, "faulty.toml", None, Some(&c.topo)).unwrap();
    let r = fleet::run(p, RunOptions::default()).await.unwrap();
    let s = Summary::of(&r, None);
    assert_eq!(s.faults.len(), 2, "{}", s.table());
    assert!(
        s.faults.iter().all(|f| f.result == "HTTP 200"),
        "{:?}",
        s.faults
    );
    let t = &s.totals.counts;
    assert!(
        t.by_cause.get("http_503").copied().unwrap_or(0) > 0,
        "{}",
        s.table()
    );
    assert!(t.logins_ok > 0, "{}", s.table());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_finds_a_user_logged_in_outside_the_fleet() {
    let c = Cluster::start(TOPO).await;
    // bob logs in on a phone the fleet does not drive.
    let p = booted(&c, "SEP000000001002").await;
    let (_, o) = go(p, login(LoginType::Uid, "bob", "12345", None)).await;
    assert_eq!(o.result, Ok(Success::LoggedIn));
    let src = r#"
name = "small"
topology = "inline"
found_logged_in = "adopt"
[population]
devices_per_cluster = 1
[[phase]]
duration = "1s"
login_rate = 2.0
"#;
    // Adopted at the start (the default would log bob out), so he is still there at the end.
    let p = Profile::parse_with(src, "small.toml", None, Some(&c.topo)).unwrap();
    let r = fleet::run(p, RunOptions::default()).await.unwrap();
    let rec = reconcile::reconcile(&r.profile, &r.beliefs, Duration::from_secs(5)).await;
    assert!(rec.errors.is_empty(), "{rec:?}");
    assert_eq!(rec.users_checked, 4);
    assert_eq!(rec.users_elsewhere.len(), 1, "{rec:?}");
    assert_eq!(rec.users_elsewhere[0].user, "bob");
    assert_eq!(rec.users_elsewhere[0].devices, ["SEP000000001002"]);
}

/// The fleet's taps: paused, no journey starts (and none counts as dropped); resumed,
/// arrivals start again; a rate factor of 2 doubles them; the watched phone is traced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_fleet_starts_nothing_until_resumed() {
    let c = Cluster::start(TOPO).await;
    let src = r#"
name = "controlled"
topology = "inline"
request_timeout = "5s"
drain = "2s"
[[phase]]
duration = "3s"
login_rate = 10.0
logout_rate = 10.0
"#;
    let p = Profile::parse_with(src, "controlled.toml", None, Some(&c.topo)).unwrap();
    let (tx, rx) = watch::channel(Arc::new(Snapshot::empty(1)));
    let (ctl, ctl_rx) = watch::channel(fleet::Control {
        paused: true,
        rate_factor: 1.0,
    });
    let traced = p.targets[0].devices[0].clone();
    let (_device, device_rx) = watch::channel(Some(traced.clone()));
    let (trace_tx, trace_rx) = watch::channel(Arc::default());
    let taps = fleet::Taps {
        control: ctl_rx,
        watch_device: device_rx,
        trace: trace_tx,
    };
    let run = tokio::spawn(fleet::run(
        p,
        RunOptions::default().snapshots(tx).taps(taps),
    ));
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let t = rx.borrow().total.totals();
    assert_eq!((t.attempted(), t.dropped), (0, 0), "{t:?}");
    ctl.send_replace(fleet::Control {
        paused: false,
        rate_factor: 2.0,
    });
    let r = run.await.unwrap().unwrap();
    let t = r.total.totals();
    // About 1.7 s of 20 arrivals/s doubled; some logouts find nobody logged in (dropped).
    assert!(t.attempted() + t.dropped >= 40, "{t:?}");
    assert!(t.attempted() + t.dropped <= 100, "{t:?}");
    // The watched phone's last journey was traced: its requests, answers and outcome.
    let trace = trace_rx.borrow().clone();
    assert_eq!(trace.device, traced);
    assert!(
        trace.lines.iter().any(|l| l.starts_with("→ GET http://")),
        "{trace:?}"
    );
    assert!(
        trace.lines.iter().any(|l| l.starts_with("← 200")),
        "{trace:?}"
    );
    assert!(
        !trace.lines.iter().any(|l| l.contains("12345")),
        "a PIN in {trace:?}"
    );
}
