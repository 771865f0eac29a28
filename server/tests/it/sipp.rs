//! Interop with SIPp (Debian package `sip-tester`): SIPp registers as a Cisco phone (its MAC in
//! `+sip.instance`) at cluster1 for Bob's line, and a SIPp caller at cluster3 calls Bob through
//! the trunk; SIPp answers a digest challenge. Skipped, with a message, when `sipp` is not on
//! PATH.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::roaming::{Net, until};

fn sipp() -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join("sipp"))
        .find(|p| p.is_file())
}

fn scenario(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../loadtests/sipp")
        .join(name)
        .display()
        .to_string()
}

/// A free UDP port on 127.0.0.1 (the OS picks it; SIPp then binds it).
fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(sipp: &Path, args: &[String], dir: &Path) -> std::process::Child {
    Command::new(sipp)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting sipp")
}

fn show(what: &str, o: &Output) -> String {
    format!(
        "{what}: {:?}\n{}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .join("\n"),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn base(target: std::net::SocketAddr, port: u16) -> Vec<String> {
    [
        target.to_string(),
        "-i".into(),
        "127.0.0.1".into(),
        "-p".into(),
        port.to_string(),
        "-nostdin".into(),
        "-timeout".into(),
        "15s".into(),
    ]
    .into_iter()
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_registers_and_calls_through_the_reference_clusters() {
    let Some(sipp) = sipp() else {
        eprintln!("SKIPPED sipp interop: `sipp` is not on PATH (apt-get install -y sip-tester)");
        return;
    };
    let net = Net::seed().await;
    let dir = crate::util::scratch("sipp");
    std::fs::create_dir_all(&dir).unwrap();
    let running = net.running.as_ref().unwrap();
    let c1 = running.sip("cluster1").unwrap().1;
    let c3 = running.sip("cluster3").unwrap().1;
    assert!(
        net.login("cluster1", "SEP000000001001", "bob")
            .await
            .contains("Successful")
    );
    until("cluster3 places 1000001 at cluster1", || {
        net.located("cluster3", "1000001").as_deref() == Some("cluster1")
    })
    .await;

    // SIPp registers Bob's line as SEP000000001001, then answers on the same port.
    let callee_port = free_udp_port();
    let mut reg = base(c1, callee_port);
    reg.extend(
        [
            "-sf",
            &scenario("register.xml"),
            "-m",
            "1",
            "-key",
            "line",
            "1000001",
            "-key",
            "mac",
            "000000001001",
        ]
        .map(String::from),
    );
    let (sipp2, dir2) = (sipp.clone(), dir.clone());
    let out = tokio::task::spawn_blocking(move || run(&sipp2, &reg, &dir2).wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success(), "{}", show("register", &out));
    let (sip1, _) = running.sip("cluster1").unwrap();
    assert_eq!(
        sip1.registered_device("1000001").as_deref(),
        Some("SEP000000001001")
    );

    let mut uas = base(c1, callee_port);
    uas.extend(["-sf", &scenario("uas.xml"), "-m", "1"].map(String::from));
    let (sipp2, dir2) = (sipp.clone(), dir.clone());
    let callee = tokio::task::spawn_blocking(move || run(&sipp2, &uas, &dir2).wait_with_output());
    tokio::time::sleep(Duration::from_millis(300)).await;

    // SIPp calls 1000001 at cluster3: the trunk takes it to cluster1, then to SIPp's callee.
    let mut uac = base(c3, free_udp_port());
    uac.extend(
        [
            "-sf",
            &scenario("uac.xml"),
            "-s",
            "1000001",
            "-m",
            "1",
            "-d",
            "10",
        ]
        .map(String::from),
    );
    let (sipp2, dir2) = (sipp.clone(), dir.clone());
    let caller = tokio::task::spawn_blocking(move || run(&sipp2, &uac, &dir2).wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(caller.status.success(), "{}", show("uac", &caller));
    let callee = callee.await.unwrap().unwrap();
    assert!(callee.status.success(), "{}", show("uas", &callee));
    let s3 = running.sip("cluster3").unwrap().0.counters();
    assert_eq!(s3.routed_trunk, 1, "{s3:?}");
    assert_eq!(sip1.counters().routed_local, 1);
    net.shutdown().await;
}

/// SIPp registers as a phone whose security profile has digest on: with the digest user's
/// credentials (`-au`/`-ap`, SIPp's `[authentication]`, qop=auth) it is registered; with a
/// wrong password its second REGISTER is refused and nothing is registered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_answers_the_digest_challenge_and_a_wrong_password_is_refused() {
    let Some(sipp) = sipp() else {
        eprintln!("SKIPPED sipp digest: `sipp` is not on PATH (apt-get install -y sip-tester)");
        return;
    };
    let l = crate::util::live(
        &crate::sip_digest::topo(),
        emroam_server::Options::default(),
    )
    .await;
    let (sip, addr) = {
        let r = l.running.as_ref().unwrap();
        let (s, a) = r.sip(l.cluster().id()).unwrap();
        (s.clone(), a)
    };
    let dir = crate::util::scratch("sipp-digest");
    std::fs::create_dir_all(&dir).unwrap();
    let register = |password: &str| {
        let mut a = base(addr, free_udp_port());
        a.extend(
            [
                "-sf",
                &scenario("register-digest.xml"),
                "-m",
                "1",
                "-key",
                "line",
                "9000001",
                "-key",
                "mac",
                &crate::sip_digest::SECURE[3..],
                "-au",
                "frank",
                "-ap",
                password,
            ]
            .map(String::from),
        );
        let (sipp, dir) = (sipp.clone(), dir.clone());
        tokio::task::spawn_blocking(move || run(&sipp, &a, &dir).wait_with_output())
    };
    let wrong = register("not-franks").await.unwrap().unwrap();
    assert!(
        !wrong.status.success(),
        "{}",
        show("wrong password", &wrong)
    );
    assert_eq!(sip.registered_device("9000001"), None);
    assert!(sip.counters().auth_wrong >= 1);
    let right = register("frank-digest").await.unwrap().unwrap();
    assert!(right.status.success(), "{}", show("register", &right));
    assert_eq!(
        sip.registered_device("9000001").as_deref(),
        Some(crate::sip_digest::SECURE)
    );
    l.shutdown().await;
}
