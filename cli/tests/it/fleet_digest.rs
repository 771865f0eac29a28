//! The fleet and `emroam phone` against clusters whose phones have a security profile with digest
//! authentication on: every phone answers the registrar's challenge with its digest user's
//! credentials from the topology and registers; a phone whose credentials the cluster does not
//! share fails its boot with the cause `boot_sip_digest_refused`, counted in the report.

use emroam_emulator::fleet::{self, RunOptions, profile::Profile, report::Summary};
use emroam_server::Topology;

/// The seed with every phone on a digest security profile, its digest user the cluster's own
/// user (bob, alice, kally), each with digest credentials.
fn seed_with_digest() -> String {
    let mut t = include_str!("../../../profiles/topologies/seed.toml").to_owned();
    t.push_str(
        "\n[[security_profile]]\nname = \"Cisco 8865 - Digest\"\ndigest_authentication = true\n",
    );
    for (n, user, secret) in [
        (1, "bob", "bob-digest"),
        (2, "alice", "alice-digest"),
        (3, "kally", "kally-digest"),
    ] {
        t = t
            .replace(
                &format!("logout_profile = \"cluster{n}-logout\"\n"),
                &format!("logout_profile = \"cluster{n}-logout\"\nsecurity_profile = \"Cisco 8865 - Digest\"\ndigest_user = \"{user}\"\n"),
            )
            .replace(
                &format!("id = \"{user}\"\n"),
                &format!("id = \"{user}\"\ndigest_credentials = \"{secret}\"\n"),
            );
    }
    t
}

/// Three phones a cluster boot and log in; the fleet reads `fleet_topo`.
async fn run(fleet_topo: &Topology) -> Summary {
    let src = "name = \"digest\"\ntopology = \"inline\"\nrequest_timeout = \"5s\"\ndrain = \"5s\"\n\
        [population]\ndevices_per_cluster = 3\n[sip]\n\
        [[phase]]\nduration = \"1500ms\"\nlogin_rate = 4.0\n";
    let p = Profile::parse_with(src, "digest.toml", None, Some(fleet_topo)).unwrap();
    let r = fleet::run(p, RunOptions::default()).await.unwrap();
    Summary::of(&r, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_registers_every_phone_with_digest_and_names_wrong_credentials() {
    let (topo, running) = crate::util::start_clusters(&seed_with_digest()).await;
    assert!(
        topo.phones.iter().all(|p| p.digest),
        "every phone has digest on"
    );
    let s = run(&topo).await;
    let table = s.table();
    let sip = &s.totals.counts.sip;
    assert_eq!(sip.boots_ok, 9, "{table}");
    assert_eq!(sip.boots_failed, 0, "{table}");
    for c in ["cluster1", "cluster2", "cluster3"] {
        let n = running.sip(c).unwrap().0.counters();
        assert!(n.auth_challenges >= 3, "{c} challenged its phones: {n:?}");
        assert_eq!(n.auth_wrong, 0, "{c}: {n:?}");
        assert!(n.registers >= 3, "{c}: {n:?}");
    }

    // The fleet's copy says kally's digest credentials are other than cluster3's.
    let mut wrong = topo.clone();
    for u in wrong.users.iter_mut().filter(|u| u.id == "kally") {
        u.digest_credentials = Some("not-kallys".into());
    }
    let s = run(&wrong).await;
    let table = s.table();
    let sip = &s.totals.counts.sip;
    assert_eq!(sip.boots_ok, 6, "{table}");
    assert_eq!(sip.boots_failed, 3, "{table}");
    assert_eq!(
        s.totals.counts.by_cause.get("boot_sip_digest_refused"),
        Some(&3),
        "{table}"
    );
    assert!(table.contains("boot_sip_digest_refused=3"), "{table}");
    assert!(running.sip("cluster3").unwrap().0.counters().auth_wrong >= 3);
    running.shutdown().await;
}

/// `emroam phone --sip` on a digest phone: boots with its digest user's credentials, the
/// trace shows the challenge and hides the response; a wrong password is a failed boot that
/// says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emroam_phone_answers_the_challenge_and_hides_the_response() {
    use emroam_emulator::phone::Task;
    use emroam_emulator::phone::sipua::DigestCredentials;
    let (topo, running) = crate::util::start_clusters(&seed_with_digest()).await;
    let c = &topo.clusters[0];
    let device = "SEP000000001002";
    let boot = |password: &str| emroam::cmd::phone::PhoneConfig {
        digest: Some(std::sync::Arc::new(DigestCredentials {
            user: "bob".into(),
            password: password.into(),
        })),
        ..crate::util::sip_phone_config(c, device, vec![Task::Boot])
    };
    let mut out = Vec::new();
    let exit = emroam::cmd::phone::run_config(boot("bob-digest"), &mut out)
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(exit, emroam::cmd::Exit::Ok, "{text}");
    assert!(text.contains("SIP < SIP/2.0 401 Unauthorized"), "{text}");
    assert!(
        text.contains("SIP < WWW-Authenticate: Digest realm=\"ccmsipline\""),
        "{text}"
    );
    assert!(text.contains("SIP < SIP/2.0 200 OK"), "{text}");
    let answers: Vec<&str> = text.lines().filter(|l| l.contains("response=")).collect();
    assert!(!answers.is_empty(), "{text}");
    assert!(
        answers.iter().all(|l| l.contains("response=\"*****\"")),
        "{answers:?}"
    );

    let mut out = Vec::new();
    let exit = emroam::cmd::phone::run_config(boot("guess"), &mut out)
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_ne!(exit, emroam::cmd::Exit::Ok, "{text}");
    assert!(text.contains("sip_digest_refused"), "{text}");
    assert!(
        !text.contains("guess"),
        "the password is never printed: {text}"
    );
    running.shutdown().await;
}
