//! The fleet against the fake cluster: counts agree exactly with the server's counters, the
//! intended-time latency shows a server stall, reconciliation finds leaks.

use std::sync::Arc;
use std::time::Duration;

use emroam_emulator::fleet::profile::Profile;
use emroam_emulator::fleet::report::Summary;
use emroam_emulator::fleet::{self, RunOptions, reconcile};
use emroam_emulator::phone::Step;
use tokio_util::sync::CancellationToken;

use crate::util::{Fake, Knobs, seed_users, spawn_fake};

fn profile(fake: &Fake, devices: usize, phases: &str) -> Profile {
    let src = format!(
        r##"
name = "it"
request_timeout = "5s"
drain = "5s"
[[target]]
cluster = "c1"
service_url = "{svc}"
config_url = "http://{addr}/#DEVICENAME#.cnf.xml"
emservice_url = "http://{addr}/emservice/EMServiceServlet"
app_user = {{ id = "emapi", password = "secret" }}
devices = {{ first = "SEP000000009001", count = {devices} }}
users = {{ prefix = "user", first = 0, count = {devices}, width = 5, pin = "12345", dn_first = 9000000 }}
[mix]
uid = 1
dn = 1
{phases}
"##,
        svc = fake.service_url(),
        addr = fake.addr,
    );
    Profile::parse(&src, "it.toml", None).unwrap()
}

async fn run(p: Profile) -> (fleet::RunResult, Summary) {
    let timeout = p.request_timeout;
    let r = fleet::run(p, RunOptions::default()).await.unwrap();
    let rec = reconcile::reconcile(&r.profile, &r.beliefs, timeout).await;
    let s = Summary::of(&r, Some(rec));
    (r, s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_agree_exactly_with_the_cluster() {
    let knobs = Knobs {
        max_concurrent: 2,
        submit_delay: Duration::from_millis(40),
        ..Knobs::default()
    };
    let fake = spawn_fake(seed_users(8), knobs).await;
    let p = profile(
        &fake,
        8,
        r#"
[[phase]]
duration = "2s"
phones = 8
think = { dist = "constant", value = "10ms" }
"#,
    );
    let (_, s) = run(p).await;
    let c = fake.counters();
    let t = &s.totals.counts;
    assert!(t.logins_attempted > 10, "{}", s.table());
    assert_eq!(t.logins_ok, c.logins_successful, "{}", s.table());
    assert_eq!(t.logouts_ok, c.logouts_successful, "{}", s.table());
    assert_eq!(t.busy, c.requests_throttled, "{}", s.table());
    assert!(t.busy > 0, "the throttle was hit: {}", s.table());
    assert_eq!(t.by_cause.get("em_26").copied().unwrap_or(0), t.busy);
    assert_eq!(t.failed, 0, "{}", s.table());
    assert_eq!(t.abandoned, 0);
    // Reconciled against the cluster's deviceUserQuery: no leaks, nothing missing.
    let r = s.reconcile.as_ref().unwrap();
    assert_eq!((r.checked, r.agree), (8, 8), "{r:?}");
    assert!(r.leaked.is_empty() && r.missing.is_empty());
    let steps: Vec<&str> = s.steps.iter().map(|x| x.step).collect();
    for st in [
        "em_page",
        "login_submit",
        "logout_confirm",
        "restart",
        "journey",
    ] {
        assert!(steps.contains(&st), "{steps:?}");
    }
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["latency_from"], "intended_start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_shows_in_intended_time_latency() {
    let knobs = Knobs {
        global_stall: Duration::from_secs(1),
        ..Knobs::default()
    };
    let fake = spawn_fake(seed_users(60), knobs).await;
    let p = profile(
        &fake,
        60,
        r#"
[[phase]]
duration = "2s"
login_rate = 20.0
"#,
    );
    let (r, s) = run(p).await;
    let h = r.total.step_all(Step::Journey).unwrap();
    // Journeys that arrived during the stall waited for it: their latency, counted from the
    // intended start, carries the wait; not just the one request that stalled.
    let slow = h.count_between(500_000, 10_000_000);
    assert!(slow >= 8, "{slow} slow journeys\n{}", s.table());
    assert!(h.max() >= 1_000_000, "{}", s.table());
    assert!(h.value_at_quantile(0.5) < 1_000_000);
    assert_eq!(s.totals.counts.logins_ok, fake.counters().logins_successful);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_reports_leaks_and_files_are_written() {
    let fake = spawn_fake(seed_users(4), Knobs::default()).await;
    // A login found at the start (the fleet learns it), and one made behind its back.
    fake.state
        .lock()
        .unwrap()
        .logged_in
        .insert("SEP000000009003".into(), "bob".into());
    let state = fake.state.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        state
            .lock()
            .unwrap()
            .logged_in
            .insert("SEP000000009004".into(), "alice".into());
    });
    let p = profile(
        &fake,
        4,
        r#"
[[phase]]
duration = "1s"
login_rate = 2.0
"#,
    );
    let dir = std::env::temp_dir().join(format!("emroam-it-{}", std::process::id()));
    let out = fleet::OutFiles { dir: dir.clone() };
    let r = fleet::run(p, RunOptions::default().out(out.clone()))
        .await
        .unwrap();
    let rec = reconcile::reconcile(&r.profile, &r.beliefs, Duration::from_secs(5)).await;
    assert_eq!(rec.leaked.len(), 1, "{rec:?}");
    assert_eq!(rec.leaked[0].device, "SEP000000009004");
    assert_eq!(rec.agree, 3, "{rec:?}");
    assert_eq!(
        r.beliefs["SEP000000009003"].as_deref(),
        Some(emroam_emulator::fleet::reconcile::SOMEONE)
    );
    let hlog = std::fs::read_to_string(out.hlog()).unwrap();
    assert!(hlog.contains("Tag=journey.c1,"), "{hlog}");
    let csv = std::fs::read_to_string(out.csv()).unwrap();
    assert!(csv.starts_with("time_utc,elapsed_s,"), "{csv}");
    assert!(csv.lines().count() >= 2);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_stops_starting_and_reports() {
    let fake = spawn_fake(seed_users(4), Knobs::default()).await;
    let p = profile(
        &fake,
        4,
        r#"
[[phase]]
duration = "60s"
phones = 4
think = { dist = "constant", value = "50ms" }
"#,
    );
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        t.cancel();
    });
    let started = std::time::Instant::now();
    let r = fleet::run(p, RunOptions::default().token(token))
        .await
        .unwrap();
    assert!(r.cancelled);
    assert!(started.elapsed() < Duration::from_secs(10));
    let s = Summary::of(&r, None);
    assert_eq!(s.totals.counts.logins_ok, fake.counters().logins_successful);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_pages_fail_journeys_not_the_fleet() {
    let knobs = Knobs {
        first_page: Some("<CiscoIPPhoneInput><URL>".into()),
        ..Knobs::default()
    };
    let fake = spawn_fake(seed_users(6), knobs).await;
    let p = profile(
        &fake,
        6,
        r#"
[[phase]]
duration = "1s"
phones = 6
think = { dist = "constant", value = "50ms" }
"#,
    );
    let (_, s) = run(p).await;
    let t = &s.totals.counts;
    assert!(t.failed > 10, "{}", s.table());
    assert_eq!(t.by_cause.get("xml_error_4").copied(), Some(t.failed));
    assert_eq!(t.logins_ok, 0);
    assert_eq!(t.abandoned, 0);
    assert!(!s.passed() || s.slo.is_empty());
}

/// A registrar that grants `expires` seconds to every REGISTER and records each distinct one
/// (Call-ID, CSeq number: 101 the first, 102 and up refreshes; a retransmission is the same).
async fn registrar(
    expires: u32,
) -> (
    std::net::SocketAddr,
    Arc<std::sync::Mutex<std::collections::BTreeSet<(String, u32)>>>,
) {
    use emroam_protocol::sip::{self, Message};
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let seen = Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let Ok(m) = sip::parse(&buf[..n]) else {
                continue;
            };
            if m.method() != Some("REGISTER") || m.code().is_some() {
                continue;
            }
            log.lock()
                .unwrap()
                .insert((m.call_id().to_owned(), m.cseq().map_or(0, |c| c.0)));
            let ok = Message::response_to(&m, 200, Some("reg"))
                .with("Contact", format!("<sip:x@{from}>;expires={expires}"))
                .with("Expires", expires.to_string());
            let _ = sock.send_to(&ok.render(), from).await;
        }
    });
    (addr, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_fleet_phones_refresh_their_registrations_before_they_expire() {
    // A registrar granting 2 s: phones refresh at 90 %, every 1.8 s.
    let (proxy, seen) = registrar(2).await;
    let knobs = Knobs {
        sip_proxy: Some(proxy),
        ..Knobs::default()
    };
    let fake = spawn_fake(seed_users(4), knobs).await;
    let mut p = profile(
        &fake,
        4,
        "[sip]\n[[phase]]\nname = \"idle\"\nduration = \"4s\"\nlogin_rate = 0.0\n",
    );
    p.drain = Duration::from_secs(1);
    let (_, s) = run(p).await;
    let table = s.table();
    let sip = &s.totals.counts.sip;
    assert_eq!(sip.boots_ok, 4, "{table}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.iter().filter(|c| c.1 == 101).count(), 4, "{seen:?}");
    // In 4 s: refreshes at ~1.8 s and ~3.6 s for each of the 4 phones.
    assert!(sip.refreshes_ok >= 8, "{table}\n{seen:?}");
    assert_eq!(sip.refreshes_failed, 0, "{table}");
    assert_eq!(
        seen.iter().filter(|c| c.1 > 101).count() as u64,
        sip.refreshes_ok,
        "every refresh the fleet counted reached the registrar: {seen:?}"
    );
}
