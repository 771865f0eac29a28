//! Profiles parsed whole: good ones, errors at their lines, topologies, faults, think times.

use std::path::Path;
use std::time::Duration;

use super::{Model, Profile, Think};
use crate::phone::Step;

const GOOD: &str = r##"
name = "t"
request_timeout = "2s"

[[target]]
cluster = "c1"
service_url = "http://127.0.0.1:8080/emapp/EMAppServlet?device=#DEVICENAME#"
devices = { first = "SEP000000001001", count = 3 }
users = { prefix = "user", first = 1, count = 3, width = 3, pin = "12345", dn_first = 9000001 }

[mix]
uid = 1
dn = 1

[[phase]]
name = "ramp"
duration = "10s"
login_rate = [1.0, 5.0]

[[phase]]
duration = "1m"
phones = 2
think = { dist = "uniform", min = "1s", max = "2s" }

[slo]
success_ratio = 0.99
p99 = { journey = "2s" }
"##;

#[test]
fn a_good_profile() {
    let p = Profile::parse(GOOD, "t.toml", None).unwrap();
    assert_eq!(p.phases.len(), 2);
    assert_eq!(p.duration(), Duration::from_secs(70));
    assert_eq!(p.targets[0].devices[2], "SEP000000001003");
    assert_eq!(p.targets[0].users[0].id, "user001");
    assert_eq!(p.targets[0].users[0].dn.as_deref(), Some("9000001"));
    assert_eq!(p.slo.p99[&Step::Journey], Duration::from_secs(2));
    assert!(matches!(p.phases[1].model, Model::Closed { phones: 2, .. }));
}

#[test]
fn errors_name_the_line() {
    let bad = GOOD.replace("phones = 2", "phones = 2\nlogin_rate = 3.0");
    let e = Profile::parse(&bad, "t.toml", None).unwrap_err();
    assert_eq!(e.line, 20, "{e}");
    assert!(
        e.to_string().starts_with("t.toml:20:1: phase `phase2`"),
        "{e}"
    );
    let bad = GOOD.replace("duration = \"1m\"", "duration = \"1 fortnight\"");
    assert_eq!(Profile::parse(&bad, "t.toml", None).unwrap_err().line, 20);
    // One grammar with the topology and the flags: a bare number is refused, not seconds.
    let bad = GOOD.replace("duration = \"1m\"", "duration = \"20\"");
    let e = Profile::parse(&bad, "t.toml", None).unwrap_err();
    assert!(e.to_string().starts_with("t.toml:20:"), "{e}");
    assert!(e.message.contains("`20` has no unit"), "{e}");
    let bad = GOOD.replace("request_timeout = \"2s\"", "request_timeout = \"3\"");
    let e = Profile::parse(&bad, "t.toml", None).unwrap_err();
    assert_eq!((e.line, e.column), (3, 19), "{e}");
    assert!(
        e.message.contains("request_timeout: `3` has no unit"),
        "{e}"
    );
    let bad = GOOD.replace("journey = \"2s\"", "jorney = \"2s\"");
    let e = Profile::parse(&bad, "t.toml", None).unwrap_err();
    assert!(e.message.contains("unknown step `jorney`"), "{e}");
    let bad = GOOD.replace("request_timeout", "request_timeuot");
    let e = Profile::parse(&bad, "t.toml", None).unwrap_err();
    assert_eq!(e.line, 3, "{e}");
    let bad = GOOD.replace("count = 3, width", "count = 3, widht");
    let e = Profile::parse(&bad, "t.toml", None).unwrap_err();
    assert_eq!(e.line, 9, "{e}");
    assert!(e.message.contains("users: expected"), "{e}");
    let bad = GOOD.replace("phones = 2", "phones = 4");
    assert!(
        Profile::parse(&bad, "t.toml", None)
            .unwrap_err()
            .message
            .contains("1..=3")
    );
}

#[test]
fn targets_from_a_topology() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles");
    let src = "topology = \"topologies/seed.toml\"\n[population]\nclusters = [\"cluster2\"]\ndevices_per_cluster = 4\n[[phase]]\nduration = \"1s\"\nlogin_rate = 1.0\n";
    let p = Profile::parse(src, "p.toml", Some(&dir)).unwrap();
    assert_eq!(p.targets.len(), 1);
    let t = &p.targets[0];
    assert_eq!(t.cluster, "cluster2");
    assert_eq!(
        t.devices,
        [
            "SEP000000002001",
            "SEP000000002002",
            "SEP000000002003",
            "SEP000000002004"
        ]
    );
    assert_eq!(t.users[0].id, "alice");
    assert_eq!(t.users[0].dn.as_deref(), Some("2000001"));
    assert_eq!(
        t.service_url,
        "http://127.0.0.2:8080/emapp/EMAppServlet?device=#DEVICENAME#"
    );
    assert_eq!(
        t.config_url.as_deref(),
        Some("http://127.0.0.2:6970/#DEVICENAME#.cnf.xml")
    );
    assert!(t.app_user.is_some());
    // The topology's clusters stay with the profile (the dashboard names their ILS roles),
    // all of them, whatever the population selects; explicit targets have none.
    let ids: Vec<&str> = p.clusters.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["cluster1", "cluster2", "cluster3"]);
    assert!(
        Profile::parse(GOOD, "t.toml", None)
            .unwrap()
            .clusters
            .is_empty()
    );
    let bad = src.replace("cluster2", "cluster9");
    let e = Profile::parse(&bad, "p.toml", Some(&dir)).unwrap_err();
    assert_eq!(e.line, 2, "{e}");
    // More devices or users than the topology has: an error naming what is there.
    let bad = src.replace("devices_per_cluster = 4", "devices_per_cluster = 400");
    let e = Profile::parse(&bad, "p.toml", Some(&dir)).unwrap_err();
    assert_eq!(e.line, 2, "{e}");
    assert!(
        e.message
            .contains("devices_per_cluster = 400, but cluster2 has"),
        "{e}"
    );
    let bad = src.replace(
        "devices_per_cluster = 4",
        "devices_per_cluster = 4\nusers_per_cluster = 5000",
    );
    let e = Profile::parse(&bad, "p.toml", Some(&dir)).unwrap_err();
    assert!(
        e.message
            .contains("users_per_cluster = 5000, but cluster2 has"),
        "{e}"
    );
    let e = Profile::parse(
        "topology = \"nope.toml\"\n[[phase]]\nduration = \"1s\"\nlogin_rate = 1.0\n",
        "p.toml",
        Some(&dir),
    )
    .unwrap_err();
    assert_eq!(e.line, 1, "{e}");
}

#[test]
fn faults_by_action_path_or_url() {
    let with = |fault: &str| {
        let src = GOOD.replace(
            "[[target]]\ncluster = \"c1\"\n",
            "[[target]]\ncluster = \"c1\"\nadmin_url = \"http://127.0.0.1:8080\"\n",
        );
        Profile::parse(
            &format!("{src}\n[[fault]]\nat = \"5s\"\n{fault}\n"),
            "t.toml",
            None,
        )
    };
    let p = with("action = \"emservice-stop\"").unwrap();
    assert_eq!(
        p.faults[0].url,
        "http://127.0.0.1:8080/admin/clusters/c1/emservice/stop"
    );
    assert_eq!(p.faults[0].method, "POST");
    let p = with("action = \"params\"\nbody = '{\"max_concurrent_requests\": 1}'").unwrap();
    assert!(p.faults[0].url.ends_with("/admin/clusters/c1/params"));
    let p = with("url = \"http://10.0.0.1:8080/x\"\nmethod = \"get\"").unwrap();
    assert_eq!(
        (p.faults[0].method.as_str(), p.faults[0].url.as_str()),
        ("GET", "http://10.0.0.1:8080/x")
    );
    let e = with("action = \"reboot\"").unwrap_err();
    assert!(e.message.contains("unknown action `reboot`"), "{e}");
    assert_eq!(e.line, 30, "the [[fault]] table: {e}");
    assert!(with("action = \"emapp-stop\"\npath = \"/x\"").is_err());
    assert!(with("method = \"DELETE\"\npath = \"/x\"").is_err());
}

#[test]
fn think_distributions() {
    let c = Think::Constant(Duration::from_secs(1));
    assert_eq!(c.sample(0.7), Duration::from_secs(1));
    let u = Think::Uniform(Duration::from_secs(1), Duration::from_secs(3));
    assert_eq!(u.sample(0.5), Duration::from_secs(2));
    let e = Think::Exponential(Duration::from_secs(2));
    let mean: f64 = (0..1000)
        .map(|i| e.sample((i as f64 + 0.5) / 1000.0).as_secs_f64())
        .sum::<f64>()
        / 1000.0;
    assert!((mean - 2.0).abs() < 0.1, "{mean}");
}

#[test]
fn shipped_profiles_validate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "toml") {
            Profile::load(&p).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 4 || !dir.exists(), "{n} profiles in {}", dir.display());
}

#[test]
fn a_story_is_checked_against_the_profiles_phones_users_and_phases() {
    let with = |story: &str| format!("{GOOD}\n{story}");
    let good = with(
        "[[story]]\nat = \"20s\"\nsay = \"back\"\nlogout = \"SEP000000001002\"\n\
         [[story]]\nat = \"5s\"\nlogin = { user = \"user002\", device = \"SEP000000001002\" }\n",
    );
    let p = Profile::parse(&good, "t.toml", None).unwrap();
    // In time order, whatever the file's order.
    assert_eq!(p.story.len(), 2);
    assert_eq!(p.story[0].at, Duration::from_secs(5));
    assert_eq!(p.story[0].user(), Some("user002"));
    assert_eq!(p.story[1].device(), "SEP000000001002");
    assert_eq!(p.story[1].say.as_deref(), Some("back"));
    for (story, says) in [
        (
            "[[story]]\nat = \"5s\"\nlogout = \"SEP000000009999\"",
            "SEP000000009999 is not one of the profile's phones",
        ),
        (
            "[[story]]\nat = \"5s\"\nlogin = { user = \"nobody\", device = \"SEP000000001001\" }",
            "nobody is not one of the profile's users",
        ),
        (
            "[[story]]\nat = \"70s\"\nlogout = \"SEP000000001001\"",
            "at 70s is not within the phases (70s in all)",
        ),
        (
            "[[story]]\nat = \"5s\"\ncall = { from = \"SEP000000001001\", to = \"user001\" }",
            "a call needs [sip]",
        ),
        (
            "[[story]]\nat = \"5s\"\nlogout = \"SEP000000001001\"\ncall = { from = \"SEP000000001001\", to = \"user001\" }",
            "give one of login, logout or call per step",
        ),
    ] {
        let e = Profile::parse(&with(story), "t.toml", None).unwrap_err();
        assert!(e.message.contains(says), "{story}: {e}");
        assert_eq!(e.line, GOOD.lines().count() + 2, "{e}");
    }
}
