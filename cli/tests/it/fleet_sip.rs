//! The fleet with SIP against the seed's three reference clusters (in-process, every port
//! chosen by the OS): phones boot and register over shared UDP sockets, log in (superusers
//! roaming), place calls to where their callees are now, and the fleet's call figures agree
//! with what the clusters routed.

use std::sync::Arc;

use emroam_emulator::fleet::{
    self, RunOptions, profile::Profile, report::Summary, stats::Snapshot,
};
use emroam_server::Topology;
use tokio::sync::watch;

async fn seed() -> (Topology, emroam_server::Running) {
    crate::util::seed_clusters().await
}

/// Users log in at home for 1.5 s, then call 3 a second for 1 s.
const LOG_IN_THEN_CALL: &str = "[[phase]]\nduration = \"1500ms\"\nlogin_rate = 3.0\n\
    [[phase]]\nduration = \"1s\"\ncall_rate = 3.0\n";

/// Runs a profile of one phone per seed cluster (`top` keys, then `tables`) against the
/// seed's clusters: the summary, and the clusters still running.
async fn one_phone_each(top: &str, tables: &str) -> (Summary, emroam_server::Running) {
    let (topo, running) = seed().await;
    let src = format!(
        "topology = \"inline\"\nrequest_timeout = \"5s\"\ndrain = \"5s\"\n{top}\
         [population]\ndevices_per_cluster = 1\n{tables}"
    );
    (run(&src, &topo).await, running)
}

async fn run(src: &str, topo: &Topology) -> Summary {
    let p = Profile::parse_with(src, "calls.toml", None, Some(topo)).unwrap();
    let r = fleet::run(p, RunOptions::default()).await.unwrap();
    Summary::of(&r, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roamed_users_are_called_where_they_are_now_and_the_clusters_agree() {
    let (s, running) = one_phone_each(
        "name = \"calls\"\nseed = 3\nroaming = 1.0\n",
        r#"
[sip]
ring = "50ms"
hold = { dist = "constant", value = "100ms" }
callee = { other_cluster = 1, roamed = 1 }
[[phase]]
name = "logins"
duration = "1500ms"
login_rate = 3.0
[[phase]]
name = "calls"
duration = "2s"
call_rate = 5.0
[slo]
call_success_ratio = 1.0
"#,
    )
    .await;
    let table = s.table();
    let t = &s.totals.counts;
    let sip = &t.sip;
    assert_eq!(sip.boots_ok, 3, "{table}");
    assert_eq!(t.logins_ok, 3, "{table}");
    assert!(t.roaming_ok >= 1, "{table}");
    assert!(sip.calls_attempted >= 8, "{table}");
    assert_eq!(sip.calls_failed, 0, "{table}");
    assert_eq!(sip.calls_misrouted, 0, "{table}");
    assert_eq!(sip.calls_unverified, 0, "{table}");
    assert_eq!(
        sip.calls_ok + sip.calls_busy,
        sip.calls_attempted,
        "{table}"
    );
    assert!(sip.calls_ok > 0, "{table}");
    // Every answered call was taken by a fleet phone, which counted it.
    assert_eq!(sip.answered, sip.calls_ok, "{table}");
    // Every callee was at another cluster: each call crossed a trunk once.
    let trunk = &sip.by_route["trunk"];
    assert_eq!(trunk.attempted, sip.calls_attempted, "{table}");
    let routed_trunk: u64 = ["cluster1", "cluster2", "cluster3"]
        .iter()
        .map(|c| running.sip(c).unwrap().0.counters().routed_trunk)
        .sum();
    assert_eq!(routed_trunk, trunk.attempted, "{table}");
    assert!(s.passed(), "{table}");
    assert!(
        table.contains("calls: ") && table.contains("trunk"),
        "{table}"
    );
    // Call setup says what it is made of: the 50 ms the callee's phone rang, and more.
    assert!(
        table.contains("(an answered call's includes the callee's 50 ms ring, [sip] ring)"),
        "{table}"
    );
    assert_eq!(s.sip_ring_ms, Some(50.0));
    assert!(
        s.call_setup_by_route
            .iter()
            .any(|r| r.step == "call_setup.trunk" && r.count == sip.calls_ok + sip.calls_busy),
        "{table}"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callee_that_never_answers_is_cancelled_and_a_busy_one_declines() {
    let (topo, running) = seed().await;
    // Kally (cluster3, not a superuser) and the others log in at home; nobody answers.
    let src = format!(
        r#"
name = "no-answer"
topology = "inline"
request_timeout = "5s"
drain = "10s"
[population]
devices_per_cluster = 1
[sip]
auto_answer = false
callee = {{ same_cluster = 0, other_cluster = 1 }}
{LOG_IN_THEN_CALL}"#
    );
    let s = run(&src, &topo).await;
    let table = s.table();
    let sip = &s.totals.counts.sip;
    assert!(sip.calls_attempted >= 1, "{table}");
    // The caller gives up after CALL_WAIT and cancels; the callee's phone counts it missed.
    // A second call to a phone that is ringing already gets 486.
    let timeouts = sip.by_route["trunk"]
        .by_status
        .get("timeout")
        .copied()
        .unwrap_or(0);
    assert!(timeouts >= 1, "{table}");
    assert_eq!(timeouts + sip.calls_busy, sip.calls_attempted, "{table}");
    assert_eq!(sip.missed, timeouts, "{table}");
    assert_eq!(sip.answered, 0, "{table}");
    assert!(
        !s.totals.counts.by_cause.contains_key("abandoned_answer"),
        "{table}"
    );

    // Every call declined: 486, busy, not a failure.
    let src = src
        .replace("auto_answer = false", "busy = 1.0")
        .replace("no-answer", "declined");
    let s = run(&src, &topo).await;
    let table = s.table();
    let sip = &s.totals.counts.sip;
    assert!(sip.calls_attempted >= 1, "{table}");
    assert_eq!(sip.calls_busy, sip.calls_attempted, "{table}");
    assert_eq!(sip.calls_failed, 0, "{table}");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phones_boot_before_the_first_phase_when_asked() {
    let (topo, running) = seed().await;
    let src = r#"
name = "boot"
topology = "inline"
boot = true
[population]
devices_per_cluster = 2
[[phase]]
duration = "1s"
login_rate = 2.0
"#;
    let s = run(src, &topo).await;
    let table = s.table();
    let t = &s.totals.counts;
    assert_eq!(t.sip.boots_ok, 6, "{table}");
    // Each phone read its config at boot, and again at each restart after a login.
    let config = s.steps.iter().find(|x| x.step == "config").unwrap();
    assert_eq!(config.count, 6, "{table}");
    let restart = s.steps.iter().find(|x| x.step == "restart").unwrap();
    assert_eq!(restart.count, t.logins_ok, "{table}");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callees_declining_486_past_call_busy_ratio_fail_the_run() {
    let (s, running) = one_phone_each(
        "name = \"all-busy\"\n",
        &format!(
            r#"
[sip]
busy = 1.0
callee = {{ other_cluster = 1 }}
{LOG_IN_THEN_CALL}[slo]
call_success_ratio = 1.0
call_busy_ratio = 0.5
"#
        ),
    )
    .await;
    let table = s.table();
    let sip = &s.totals.counts.sip;
    assert!(sip.calls_attempted >= 1, "{table}");
    assert_eq!(sip.calls_busy, sip.calls_attempted, "{table}");
    // Every call declined: the success ratio leaves 486s out and holds; the busy SLO fails
    // the run (exit 99), its figures exact in summary.json and with units in the table.
    assert!(!s.passed(), "{table}");
    let busy = s.slo.iter().find(|r| r.name == "call_busy_ratio").unwrap();
    assert_eq!(
        (busy.actual, busy.threshold, busy.passed),
        (1.0, 0.5, false)
    );
    assert!(
        s.slo
            .iter()
            .any(|r| r.name == "call_success_ratio" && r.passed),
        "{table}"
    );
    assert!(
        table.contains("SLO ✘ call_busy_ratio: 100 % (threshold 50 %)"),
        "{table}"
    );
    running.shutdown().await;
}

#[test]
fn sip_profile_errors_name_the_line() {
    let base = "topology = \"inline\"\n[[target]]\ncluster = \"c\"\nservice_url = \"http://127.0.0.1:1/x?device=#DEVICENAME#\"\ndevices = [\"SEP000000000001\"]\nusers = [{ id = \"u\", pin = \"1\" }]\n";
    let topo: Option<&Topology> = None;
    for (extra, want) in [
        (
            "[[phase]]\nduration = \"1s\"\ncall_rate = 1.0\n",
            "call_rate needs a [sip] table",
        ),
        ("[sip]\nbind = \"nowhere\"\n", "sip.bind"),
        ("[sip]\nbind = \"0.0.0.0:0\"\n", "is every address"),
        ("[sip]\nbusy = 1.5\n", "sip.busy"),
        ("[sip]\nring = \"30s\"\n", "sip.ring"),
        ("[sip]\ncallee = { everyone = 1 }\n", "unknown kind"),
        ("[sip]\ncallee = { same_cluster = 0 }\n", "add up to 0"),
        ("[slo]\ncall_success_ratio = 2.0\n", "call_success_ratio"),
        (
            "[slo]\ncall_busy_ratio = 1.5\n",
            "slo.call_busy_ratio must be within 0..=1",
        ),
        ("boot = false\n@@[sip]\n", "SIP phones boot"),
    ] {
        // `top@@rest`: `top` goes before the tables.
        let (top, extra) = extra.split_once("@@").unwrap_or(("", extra));
        let src = format!(
            "{top}{}{extra}",
            base.replace("topology = \"inline\"\n", "")
        );
        let src = if src.contains("[[phase]]") {
            src
        } else {
            format!("{src}[[phase]]\nduration = \"1s\"\nlogin_rate = 1.0\n")
        };
        let e = Profile::parse_with(&src, "p.toml", None, topo).unwrap_err();
        assert!(e.to_string().contains(want), "{extra}: {e}");
        assert!(e.line > 0, "{extra}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_whose_user_roams_away_restarts_and_the_fleet_lets_go_of_the_user() {
    use emroam_server::cluster::Origin;
    use emroam_server::ops::{Credential, Login, LoginDuration, LoginType};
    let (topo, running) = seed().await;
    // The fleet drives cluster1's first phone only: Bob logs in on it.
    let src = r#"
name = "evicted"
topology = "inline"
drain = "5s"
[population]
clusters = ["cluster1"]
devices_per_cluster = 1
[sip]
[[phase]]
name = "login"
duration = "1s"
login_rate = 2.0
[[phase]]
name = "idle"
duration = "3s"
login_rate = 0.0
"#;
    let p = Profile::parse_with(src, "evicted.toml", None, Some(&topo)).unwrap();
    let (tx, mut rx) = watch::channel(Arc::new(Snapshot::empty(1)));
    let fleet = tokio::spawn(fleet::run(p, RunOptions::default().snapshots(tx)));
    while rx.borrow().phase != "idle" {
        rx.changed().await.unwrap();
    }
    let c1 = running.cluster("cluster1").unwrap();
    assert_eq!(
        c1.login_on("SEP000000001001").map(|l| l.user).as_deref(),
        Some("bob"),
        "the fleet logged Bob in"
    );
    // Someone outside the fleet: Bob, a roaming superuser, logs in at cluster2. ILS tells
    // cluster1, which logs him out of the fleet's phone and restarts it by NOTIFY.
    Login {
        device: "SEP000000002002".into(),
        credential: Credential::Phone {
            login_type: LoginType::Uid,
            id: "bob".into(),
            pin: "12345".into(),
        },
        profile: None,
        duration: LoginDuration::Default,
        origin: Origin::default(),
    }
    .apply(running.cluster("cluster2").unwrap())
    .await
    .unwrap();
    let r = fleet.await.unwrap().unwrap();
    let s = Summary::of(&r, None);
    let table = s.table();
    assert_eq!(s.totals.counts.sip.restarts, 1, "{table}");
    assert_eq!(
        r.beliefs.get("SEP000000001001"),
        Some(&None),
        "the fleet no longer believes Bob is on its phone"
    );
    assert!(c1.login_on("SEP000000001001").is_none());
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_whose_restart_never_comes_is_still_believed_and_reconciles() {
    use emroam_emulator::driver::{Quiet, run_task};
    use emroam_emulator::fleet::reconcile;
    use emroam_emulator::phone::{Success, Task};
    use std::time::Duration;
    use tokio::time::Instant;
    let (topo, running) = seed().await;
    // The fleet's one phone boots and registers, then logs Bob in.
    let src = r#"
name = "no-restart"
topology = "inline"
boot = true
drain = "10s"
[population]
clusters = ["cluster1"]
devices_per_cluster = 1
[sip]
[[phase]]
name = "wait"
duration = "2s"
login_rate = 0.0
[[phase]]
name = "login"
duration = "1s"
login_rate = 2.0
"#;
    let p = Profile::parse_with(src, "no-restart.toml", None, Some(&topo)).unwrap();
    let fleet = tokio::spawn(fleet::run(p, RunOptions::default()));
    // The phone boots before the first phase: once the cluster has its REGISTER, during
    // the 2 s without logins, ...
    let sip1 = running.sip("cluster1").unwrap().0;
    for _ in 0..500 {
        if sip1.counters().registers >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sip1.counters().registers, 1, "the fleet's phone registered");
    // ... the same device registers from another socket (the cluster keeps one binding
    // per device and line): the restart NOTIFY after the login goes there, and the fleet's
    // phone waits for it in vain.
    let (other, mut link) = crate::sip::sip_phone(&topo.clusters[0], "SEP000000001001").await;
    let (_other, o) = run_task(other, Task::Boot, Instant::now(), &mut link, &mut Quiet).await;
    assert_eq!(o.result, Ok(Success::Booted));
    let r = fleet.await.unwrap().unwrap();
    let rec = reconcile::reconcile(&r.profile, &r.beliefs, Duration::from_secs(5)).await;
    let s = Summary::of(&r, Some(rec));
    let table = s.table();
    let c = &s.totals.counts;
    assert_eq!(c.by_cause.get("no_restart"), Some(&1), "{table}");
    // The cluster logged Bob in; so does the fleet believe, and the two agree.
    let c1 = running.cluster("cluster1").unwrap();
    assert_eq!(
        c1.login_on("SEP000000001001").map(|l| l.user).as_deref(),
        Some("bob")
    );
    assert_eq!(
        r.beliefs.get("SEP000000001001"),
        Some(&Some("bob".to_owned())),
        "{table}"
    );
    let rec = s.reconcile.as_ref().unwrap();
    assert!(rec.leaked.is_empty() && rec.missing.is_empty(), "{table}");
    running.shutdown().await;
}
