//! The fleet under tokio's paused clock with a scripted transport: pacing against absolute
//! time and latency from the intended start, exactly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use emroam_emulator::driver::Transport;
use emroam_emulator::fleet::profile::Profile;
use emroam_emulator::fleet::report::Summary;
use emroam_emulator::fleet::stats::Snapshot;
use emroam_emulator::fleet::{self, RunOptions};
use emroam_emulator::phone::{HttpFailure, HttpRequest, HttpResponse, Step};
use tokio::sync::watch;
use tokio::time::Instant;

/// An in-memory EM application: every request takes `service`; nothing is answered inside
/// the `stall` window until it ends.
#[derive(Clone)]
struct Scripted {
    logged_in: Arc<Mutex<HashMap<String, String>>>,
    stall: (Instant, Instant),
    service: Duration,
    /// A request for this device makes the transport panic (an emulator bug, simulated).
    panic_on: Option<&'static str>,
    /// Requests for devices starting with this answer HTTP 503.
    fail_on: Option<&'static str>,
}

impl Scripted {
    /// A transport answering every request after `service`, with no stall and no faults.
    fn new(service: Duration) -> Self {
        Scripted {
            logged_in: Arc::default(),
            stall: (Instant::now(), Instant::now()),
            service,
            panic_on: None,
            fail_on: None,
        }
    }
}

fn param<'a>(url: &'a str, k: &str) -> Option<&'a str> {
    url.split(['?', '&'])
        .find_map(|kv| kv.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
}

fn text(t: &str) -> HttpResponse {
    HttpResponse::xml(format!(
        "<CiscoIPPhoneText><Text>{t}</Text></CiscoIPPhoneText>"
    ))
}

impl Scripted {
    fn answer(&self, url: &str) -> HttpResponse {
        let device = param(url, "device").unwrap_or("").to_owned();
        let me = format!("http://mock/emapp?device={device}");
        let mut li = self.logged_in.lock().unwrap();
        if param(url, "doLogout") == Some("true") {
            li.remove(&device);
            return text("Logout Successful");
        }
        if let Some(user) = param(url, "userid") {
            li.insert(device, user.to_owned());
            return text("Login Successful");
        }
        match li.get(&device) {
            Some(_) => HttpResponse::xml(format!(
                "<CiscoIPPhoneText><Text>Log out?</Text><SoftKeyItem><Name>Yes</Name><URL>{me}&amp;doLogout=true</URL><Position>1</Position></SoftKeyItem></CiscoIPPhoneText>"
            )),
            None => HttpResponse::xml(format!(
                "<CiscoIPPhoneInput><URL>{me}</URL><InputItem><DisplayName>User ID</DisplayName><QueryStringParam>userid</QueryStringParam><InputFlags>A</InputFlags></InputItem><InputItem><DisplayName>PIN</DisplayName><QueryStringParam>seq</QueryStringParam><InputFlags>NP</InputFlags></InputItem></CiscoIPPhoneInput>"
            )),
        }
    }
}

impl Transport for Scripted {
    fn send(
        &mut self,
        req: &HttpRequest,
    ) -> impl std::future::Future<Output = Result<HttpResponse, HttpFailure>> + Send {
        let this = self.clone();
        let url = req.url.clone();
        async move {
            let now = Instant::now();
            if now >= this.stall.0 && now < this.stall.1 {
                tokio::time::sleep_until(this.stall.1).await;
            }
            tokio::time::sleep(this.service).await;
            if this.panic_on.is_some_and(|d| url.contains(d)) {
                panic!("simulated emulator bug");
            }
            if this
                .fail_on
                .is_some_and(|d| url.contains(&format!("device={d}")))
            {
                return Ok(HttpResponse {
                    status: 503,
                    headers: vec![],
                    body: vec![],
                });
            }
            Ok(this.answer(&url))
        }
    }
}

fn profile(phases: &str, devices: usize) -> Profile {
    let src = format!(
        r##"
name = "paced"
request_timeout = "5s"
drain = "5s"
[[target]]
cluster = "c1"
service_url = "http://mock/emapp?device=#DEVICENAME#"
devices = {{ first = "SEP000000009001", count = {devices} }}
users = {{ prefix = "u", first = 0, count = {devices}, width = 4, pin = "1" }}
{phases}
"##
    );
    Profile::parse(&src, "paced.toml", None).unwrap()
}

async fn run(p: Profile, t: Scripted) -> fleet::RunResult {
    run_snap(p, t).await.0
}

async fn run_snap(p: Profile, t: Scripted) -> (fleet::RunResult, Arc<Snapshot>) {
    let (tx, rx) = watch::channel(Arc::new(Snapshot::empty(1)));
    let options = RunOptions::default()
        .snapshots(tx)
        .transport(move |_| t.clone());
    let r = fleet::run(p, options).await.unwrap();
    let last = rx.borrow().clone();
    (r, last)
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

#[tokio::test(start_paused = true)]
async fn open_model_latency_counts_from_the_intended_start() {
    let t0 = Instant::now();
    let t = Scripted {
        stall: (t0 + Duration::from_secs(2), t0 + Duration::from_secs(3)),
        ..Scripted::new(Duration::from_millis(20))
    };
    let (r, snap) = run_snap(
        profile("[[phase]]\nduration = \"10s\"\nlogin_rate = 10.0\n", 100),
        t,
    )
    .await;
    // The last snapshot: everything counted, 99 phones logged in, nothing in flight.
    assert_eq!(snap.logged_in, [99]);
    assert_eq!(snap.in_flight, 0);
    assert_eq!(snap.total.totals().logins_ok, 99);
    let c = r.total.totals();
    assert_eq!(
        (c.logins_attempted, c.logins_ok, c.late_starts, c.dropped),
        (99, 99, 0, 0)
    );
    let h = r.total.step_all(Step::Journey).unwrap();
    // Two requests of 20 ms each, except the arrivals at 2.0 s … 2.9 s, which wait for the
    // stall to end at 3.0 s: 1040, 940, …, 140 ms from their intended starts.
    assert!((ms(h.value_at_quantile(0.5)) - 40.0).abs() < 0.1);
    assert!((ms(h.max()) - 1040.0).abs() < 1.5, "{}", ms(h.max()));
    assert_eq!(h.count_between(500_000, 2_000_000), 6);
    assert_eq!(h.count_between(100_000, 2_000_000), 10);
    // Arrivals kept their schedule through the stall: 10 per second, none late.
    assert_eq!(r.total.step_all(Step::EmPage).unwrap().len(), 99);
}

#[tokio::test(start_paused = true)]
async fn closed_model_cycles_with_think_time() {
    let t = Scripted::new(Duration::from_millis(100));
    let p = profile(
        "[[phase]]\nduration = \"10s\"\nphones = 5\nthink = { dist = \"constant\", value = \"1s\" }\n",
        5,
    );
    let r = run(p, t.clone()).await;
    let c = r.total.totals();
    // Each phone: think 1 s, login 200 ms, think 1 s, logout 200 ms, … within 10 s:
    // journeys start at 1.0, 2.2, 3.4, 4.6, 5.8, 7.0, 8.2, 9.4 → 4 logins, 4 logouts.
    assert_eq!(
        (c.logins_ok, c.logouts_ok, c.failed, c.busy),
        (20, 20, 0, 0)
    );
    let h = r.total.step_all(Step::Journey).unwrap();
    assert!((ms(h.value_at_quantile(0.99)) - 200.0).abs() < 0.2);
    // Everyone logged out at the end, as the fleet believes.
    assert!(t.logged_in.lock().unwrap().is_empty());
    assert!(r.beliefs.values().all(Option::is_none));
    assert_eq!(r.beliefs.len(), 5);
}

#[tokio::test(start_paused = true)]
async fn closed_phones_without_a_free_user_wait_their_turn() {
    let t = Scripted::new(Duration::from_millis(10));
    // Three phones, one user: only one can be logged in at a time; the others retry.
    let src = r##"
name = "scarce"
[[target]]
cluster = "c1"
service_url = "http://mock/emapp?device=#DEVICENAME#"
devices = { first = "SEP000000009001", count = 3 }
users = [{ id = "solo", pin = "1" }]
[[phase]]
duration = "5s"
phones = 3
think = { dist = "constant", value = "200ms" }
"##;
    let r = run(Profile::parse(src, "scarce.toml", None).unwrap(), t.clone()).await;
    let c = r.total.totals();
    assert!(c.dropped > 0);
    // Why: a phone was free, the one user was not.
    assert_eq!(c.dropped_by.get("no_free_user"), Some(&c.dropped), "{c:?}");
    assert!(c.logins_ok >= 8, "{c:?}");
    assert_eq!(c.failed, 0);
    // At most one phone holds the user at the end.
    assert!(r.beliefs.values().filter(|u| u.is_some()).count() <= 1);
}

/// Every key path of a JSON value (`a.b`, arrays as `a[]`), maps of counts collapsed.
fn key_paths(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.push(p.clone());
                if k != "by_cause" {
                    key_paths(x, &p, out);
                }
            }
        }
        serde_json::Value::Array(a) => {
            if let Some(first) = a.first() {
                key_paths(first, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

#[tokio::test(start_paused = true)]
async fn the_json_summary_matches_its_documented_schema() {
    let t = Scripted::new(Duration::from_millis(5));
    let src = r#"
[[phase]]
duration = "2s"
login_rate = 5.0
[[fault]]
at = "1s"
url = "http://127.0.0.1:9/admin"
[slo]
success_ratio = 0.5
"#;
    let r = run(profile(src, 10), t).await;
    let s = emroam_emulator::fleet::report::Summary::of(&r, Some(Default::default()));
    let json = serde_json::to_value(&s).unwrap();
    let mut keys = Vec::new();
    key_paths(&json, "", &mut keys);
    keys.sort();
    keys.dedup();
    let got = keys.join("\n") + "\n";
    let golden = include_str!("summary-v1.keys");
    assert_eq!(
        got, golden,
        "summary.json changed shape: update tests/it/summary-v1.keys, the schema in \
         fleet/report.rs, and bump SCHEMA_VERSION if a field was renamed or removed"
    );
    assert_eq!(
        json["schema_version"],
        emroam_emulator::fleet::report::SCHEMA_VERSION
    );
}

#[tokio::test(start_paused = true)]
async fn a_journey_that_panics_costs_only_its_phone() {
    let t = Scripted {
        panic_on: Some("SEP000000009002"),
        ..Scripted::new(Duration::from_millis(10))
    };
    let p = profile(
        "[[phase]]\nduration = \"3s\"\nphones = 4\nthink = { dist = \"constant\", value = \"100ms\" }\n",
        4,
    );
    let r = run(p, t).await;
    let c = r.total.totals();
    assert_eq!(c.by_cause.get("internal_error"), Some(&1), "{c:?}");
    assert_eq!(c.failed, 1);
    assert!(c.logins_ok > 10, "{c:?}");
    assert!(!r.beliefs.contains_key("SEP000000009002"));
    assert_eq!(r.beliefs.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn roaming_logins_use_superusers_homed_elsewhere() {
    let t = Scripted::new(Duration::from_millis(10));
    let src = r##"
name = "roam"
roaming = 1.0
[[target]]
cluster = "c1"
service_url = "http://mock/emapp?device=#DEVICENAME#"
devices = { first = "SEP000000001001", count = 4 }
users = { prefix = "super", first = 1, count = 4, pin = "1", superuser = true }
[[target]]
cluster = "c2"
service_url = "http://mock/emapp?device=#DEVICENAME#"
devices = { first = "SEP000000002001", count = 4 }
users = { prefix = "plain", first = 1, count = 4, pin = "1" }
[[phase]]
duration = "2s"
login_rate = 4.0
"##;
    let r = run(Profile::parse(src, "roam.toml", None).unwrap(), t.clone()).await;
    let c1 = &r.total.clusters()[0].counts;
    let c2 = &r.total.clusters()[1].counts;
    // c2's phones get c1's superusers while any is free (then their own users); c1's phones
    // cannot roam (c2's users are not superusers) and log in their own.
    assert!(c2.roaming_ok > 0);
    assert_eq!(c2.roaming_attempted, c2.roaming_ok);
    assert_eq!(c1.roaming_attempted, 0);
    let li = t.logged_in.lock().unwrap();
    let roamed = li
        .iter()
        .filter(|(d, u)| d.starts_with("SEP000000002") && u.starts_with("super"))
        .count() as u64;
    assert_eq!(roamed, c2.roaming_ok);
    assert!(
        li.iter()
            .all(|(d, u)| !(d.starts_with("SEP000000001") && u.starts_with("plain")))
    );
}

#[tokio::test(start_paused = true)]
async fn logins_and_logouts_in_one_open_phase() {
    let t = Scripted::new(Duration::from_millis(10));
    // 512 phones: 8 shards. 3 logins then 1 logout, over and over: logouts must reach the
    // shards that hold logged-in phones.
    let r = run(
        profile(
            "[[phase]]\nduration = \"10s\"\nlogin_rate = 3.0\nlogout_rate = 1.0\n",
            512,
        ),
        t,
    )
    .await;
    let c = r.total.totals();
    assert_eq!((c.logins_ok, c.logouts_ok), (29, 9 - c.dropped), "{c:?}");
    assert!(c.dropped <= 2, "{c:?}");
}

#[tokio::test(start_paused = true)]
async fn a_failing_cluster_gets_its_share_of_arrivals_not_more() {
    let t = Scripted {
        fail_on: Some("SEP000000001"),
        ..Scripted::new(Duration::from_millis(10))
    };
    let src = r##"
name = "share"
[[target]]
cluster = "c1"
service_url = "http://mock/emapp?device=#DEVICENAME#"
devices = { first = "SEP000000001001", count = 20 }
users = { prefix = "a", first = 1, count = 20, pin = "1" }
[[target]]
cluster = "c2"
service_url = "http://mock/emapp?device=#DEVICENAME#"
devices = { first = "SEP000000002001", count = 20 }
users = { prefix = "b", first = 1, count = 20, pin = "1" }
[[phase]]
duration = "10s"
login_rate = 6.0
logout_rate = 3.0
"##;
    let r = run(Profile::parse(src, "share.toml", None).unwrap(), t).await;
    let (c1, c2) = (&r.total.clusters()[0].counts, &r.total.clusters()[1].counts);
    assert_eq!(c1.logins_ok, 0);
    assert_eq!(c1.by_cause.get("http_503"), Some(&c1.logins_attempted));
    assert!(
        c1.logins_attempted.abs_diff(c2.logins_attempted) <= 1,
        "{c1:?} {c2:?}"
    );
    assert_eq!(c1.logins_attempted + c2.logins_attempted, 59);
}

#[tokio::test(start_paused = true)]
async fn failed_journeys_have_their_own_latency_from_the_intended_start() {
    // Every request takes 40 ms; cluster c1's phones get HTTP 503 on their first page.
    let t = Scripted {
        fail_on: Some("SEP000000001"),
        ..Scripted::new(Duration::from_millis(40))
    };
    let src = r##"
name = "failures"
[[target]]
cluster = "c1"
service_url = "http://mock/emapp?device=#DEVICENAME#"
devices = { first = "SEP000000001001", count = 5 }
users = { prefix = "a", first = 1, count = 5, pin = "1" }
[[target]]
cluster = "c2"
service_url = "http://mock/emapp?device=#DEVICENAME#"
devices = { first = "SEP000000002001", count = 5 }
users = { prefix = "b", first = 1, count = 5, pin = "1" }
[[phase]]
duration = "2s"
login_rate = 4.0
"##;
    let r = run(Profile::parse(src, "failures.toml", None).unwrap(), t).await;
    let c1 = &r.total.clusters()[0];
    let failed = c1
        .hist(Step::FailedJourney)
        .expect("failed journeys recorded");
    assert_eq!(failed.len(), c1.counts.failed);
    assert!(c1.counts.failed > 0);
    // One page, 40 ms: the error after 40 ms (paused clock; within the histogram's 3 digits).
    assert!(
        (ms(failed.min()) - 40.0).abs() < 0.1,
        "{}",
        ms(failed.min())
    );
    assert!(
        (ms(failed.max()) - 40.0).abs() < 0.1,
        "{}",
        ms(failed.max())
    );
    assert!(
        c1.hist(Step::Journey).is_none(),
        "no journey succeeded on c1"
    );
    let c2 = &r.total.clusters()[1];
    assert!(c2.hist(Step::FailedJourney).is_none());
    assert_eq!(c2.hist(Step::Journey).unwrap().len(), c2.counts.logins_ok);
}

#[tokio::test(start_paused = true)]
async fn a_cluster_that_did_nothing_fails_the_run_unless_allowed() {
    let t = Scripted::new(Duration::from_millis(10));
    // c1 logs in and out; c2's phones are offered only logouts, and nobody is logged in
    // there: every c2 arrival is dropped and no journey runs on c2.
    let src = |slo: &str| {
        format!(
            r##"
name = "idle-cluster"
[[target]]
cluster = "c1"
service_url = "http://mock/emapp?device=#DEVICENAME#"
devices = {{ first = "SEP000000009001", count = 2 }}
users = {{ prefix = "a", first = 0, count = 2, width = 4, pin = "1" }}
[[target]]
cluster = "c2"
service_url = "http://mock2/emapp?device=#DEVICENAME#"
devices = {{ first = "SEP000000009101", count = 2 }}
users = {{ prefix = "b", first = 0, count = 2, width = 4, pin = "1" }}
[[phase]]
duration = "2s"
logout_rate = 4.0
{slo}
"##
        )
    };
    let r = run(
        Profile::parse(&src(""), "idle.toml", None).unwrap(),
        t.clone(),
    )
    .await;
    let s = Summary::of(&r, None);
    // Why they were dropped: logouts, with nobody logged in.
    let c2 = &r.total.clusters()[1].counts;
    assert_eq!(
        c2.dropped_by.get("nobody_logged_in"),
        Some(&c2.dropped),
        "{c2:?}"
    );
    assert!(
        s.table().contains("dropped by why: nobody_logged_in="),
        "{}",
        s.table()
    );
    let idle: Vec<_> = s.slo.iter().filter(|x| !x.passed).collect();
    assert!(
        idle.iter().any(|x| x.name == "cluster.c2.journeys"),
        "{:?}",
        s.slo
    );
    assert!(!s.passed());
    assert!(s.table().contains("no journey ran on c2"), "{}", s.table());
    // Accepted when the profile says so; a dropped-arrivals threshold can gate it instead.
    let r = run(
        Profile::parse(
            &src("[slo]\nallow_idle_clusters = true\ndropped_ratio = 0.5"),
            "idle.toml",
            None,
        )
        .unwrap(),
        t,
    )
    .await;
    let s = Summary::of(&r, None);
    assert!(
        !s.slo.iter().any(|x| x.name.starts_with("cluster.")),
        "{:?}",
        s.slo
    );
    let d = s.slo.iter().find(|x| x.name == "dropped_ratio").unwrap();
    assert!(!d.passed, "{d:?}");
}

#[tokio::test(start_paused = true)]
async fn achieved_rate_is_judged_against_the_profiles_intended_arrivals() {
    // A ramp 0 → 4 logins/s over 4 s intends 8 arrivals; phones never log out, so with 4
    // phones only 4 can start.
    let src = |devices: usize| {
        format!(
            r##"
name = "achieved"
[[target]]
cluster = "c1"
service_url = "http://mock/emapp?device=#DEVICENAME#"
devices = {{ first = "SEP000000009001", count = {devices} }}
users = {{ prefix = "a", first = 0, count = 10, width = 4, pin = "1" }}
[[phase]]
duration = "4s"
login_rate = [0.0, 4.0]
[slo]
achieved_rate = 0.8
"##
        )
    };
    let t = Scripted::new(Duration::from_millis(10));
    let r = run(Profile::parse(&src(10), "a.toml", None).unwrap(), t.clone()).await;
    let s = Summary::of(&r, None);
    let a = s.arrivals.as_ref().unwrap();
    assert!((a.intended - 8.0).abs() < 1e-9, "{a:?}");
    assert!((a.intended_per_s - 2.0).abs() < 1e-9, "{a:?}");
    assert!((7..=8).contains(&a.started), "{a:?}");
    let slo = s.slo.iter().find(|x| x.name == "achieved_rate").unwrap();
    assert!(slo.passed, "{slo:?}");

    let r = run(Profile::parse(&src(4), "a.toml", None).unwrap(), t).await;
    let s = Summary::of(&r, None);
    let a = s.arrivals.as_ref().unwrap();
    assert_eq!(a.started, 4, "{a:?}");
    let slo = s.slo.iter().find(|x| x.name == "achieved_rate").unwrap();
    assert!(!slo.passed && (slo.actual - 0.5).abs() < 1e-9, "{slo:?}");
    assert!(
        s.table()
            .contains("arrivals (open phases): 4 started of 8 intended (50.0 %): 1.0/s achieved of 2.0/s intended"),
        "{}",
        s.table()
    );
}
