//! The phone's SIP side against the reference cluster (in-process on 127.0.0.1:0): it
//! registers at boot, the cluster restarts it with a NOTIFY after EM login and logout, and it
//! registers its new profile's lines.

use std::time::Duration;

use emroam_emulator::driver::{PhoneLink, Quiet, run_task};
use emroam_emulator::phone::{Credentials, LoginType, Phone, Step, Success, Task};
use emroam_server::{Options, Topology};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const SEED: &str = include_str!("../../../profiles/topologies/seed.toml");

/// Records the steps a task took.
#[derive(Default)]
struct Steps(Vec<Step>, usize);
impl emroam_emulator::driver::Observer for Steps {
    fn sample(&mut self, s: &emroam_emulator::phone::StepSample) {
        self.0.push(s.step);
    }
    fn sip(&mut self, _out: bool, _d: &[u8]) {
        self.1 += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_registers_at_boot_and_after_the_restart_notify() {
    let mut topo = Topology::parse(SEED).unwrap();
    let listeners = emroam_server::bind_ephemeral(&mut topo).await.unwrap();
    let token = CancellationToken::new();
    let running = emroam_server::start(&topo, listeners, &Options::default(), token.clone())
        .await
        .unwrap();
    let device = "SEP000000001001";
    let (phone, mut client) = sip_phone(&topo.clusters[0], device).await;
    let (sip, _) = running.sip("cluster1").unwrap();

    let mut obs = Steps::default();
    let (phone, o) = run_task(phone, Task::Boot, Instant::now(), &mut client, &mut obs).await;
    assert_eq!(o.result, Ok(Success::Booted));
    assert!(obs.0.contains(&Step::Register), "{:?}", obs.0);
    assert_eq!(phone.sip().unwrap().registered_lines(), [device]);
    assert_eq!(sip.registered_device(device).as_deref(), Some(device));

    let creds = Credentials {
        id: "bob".into(),
        pin: "12345".into(),
        login_type: LoginType::Uid,
        profile: None,
    };
    let mut obs = Steps::default();
    let (phone, o) = run_task(
        phone,
        Task::Login(creds),
        Instant::now(),
        &mut client,
        &mut obs,
    )
    .await;
    assert_eq!(o.result, Ok(Success::LoggedIn), "{o:?}");
    assert_eq!(phone.sip().unwrap().registered_lines(), ["1000001"]);
    assert_eq!(sip.registered_device("1000001").as_deref(), Some(device));
    assert_eq!(sip.counters().notifies, 1);
    assert!(obs.0.contains(&Step::Restart) && obs.0.contains(&Step::Register));

    let (phone, o) = run_task(phone, Task::Logout, Instant::now(), &mut client, &mut Quiet).await;
    assert_eq!(o.result, Ok(Success::LoggedOut), "{o:?}");
    assert_eq!(phone.sip().unwrap().registered_lines(), [device]);
    assert_eq!(sip.registered_device("1000001"), None);
    assert_eq!(sip.counters().notifies, 2);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emroam_phone_sip_prints_the_sip_trace() {
    let (topo, running) = crate::util::seed_clusters().await;
    let c = &topo.clusters[0];
    let device = "SEP000000001002";
    let mut cfg = crate::util::sip_phone_config(
        c,
        device,
        vec![
            Task::Boot,
            Task::Login(Credentials {
                id: "bob".into(),
                pin: "12345".into(),
                login_type: LoginType::Uid,
                profile: None,
            }),
            // Kally is registered nowhere: cluster1 sends the call to her home, which
            // answers 480.
            Task::Call {
                dn: "3000001".into(),
                hold: Duration::ZERO,
            },
        ],
    );
    cfg.answer_for = Some(Duration::from_millis(50));
    let mut out = Vec::new();
    let exit = emroam::cmd::phone::run_config(cfg, &mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(exit, emroam::cmd::Exit::Other, "{text}");
    assert!(text.contains("SIP > INVITE sip:3000001@"), "{text}");
    assert!(
        text.contains("SIP < SIP/2.0 480 Temporarily Unavailable"),
        "{text}"
    );
    assert!(text.contains("[sip_480]"), "{text}");
    assert!(text.contains("SIP > REGISTER sip:"), "{text}");
    assert!(text.contains("SIP < NOTIFY sip:"), "{text}");
    assert!(text.contains("SIP < Event: service-control"), "{text}");
    assert!(text.contains("registered: [1000001]"), "{text}");
    running.shutdown().await;
}

/// A phone of cluster `c` with SIP on a socket of its own, not yet booted.
pub(crate) async fn sip_phone(
    c: &emroam_server::topology::ClusterSpec,
    device: &str,
) -> (Phone, PhoneLink) {
    let sock = tokio::net::UdpSocket::bind((c.address, 0)).await.unwrap();
    let contact = sock.local_addr().unwrap().to_string();
    let client = PhoneLink::with_own_socket(Duration::from_secs(5), sock);
    let phone = Phone::new(crate::util::booting_spec(c, device)).with_sip(&contact);
    (phone, client)
}

/// A booted, logged-in, registered phone with its own socket.
async fn ready_phone(
    topo: &Topology,
    cluster: usize,
    device: &str,
    user: &str,
) -> (Phone, PhoneLink) {
    let (phone, mut client) = sip_phone(&topo.clusters[cluster], device).await;
    let (phone, o) = run_task(phone, Task::Boot, Instant::now(), &mut client, &mut Quiet).await;
    assert_eq!(o.result, Ok(Success::Booted));
    let creds = Credentials {
        id: user.into(),
        pin: "12345".into(),
        login_type: LoginType::Uid,
        profile: None,
    };
    let (phone, o) = run_task(
        phone,
        Task::Login(creds),
        Instant::now(),
        &mut client,
        &mut Quiet,
    )
    .await;
    assert_eq!(o.result, Ok(Success::LoggedIn), "{o:?}");
    (phone, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phones_call_each_other_across_clusters() {
    let (topo, running) = crate::util::seed_clusters().await;
    let (bob, mut bob_client) = ready_phone(&topo, 0, "SEP000000001001", "bob").await;
    let (kally, mut kally_client) = ready_phone(&topo, 2, "SEP000000003001", "kally").await;
    // Bob's phone answers while idle.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let bob_side = tokio::spawn(async move {
        let stop = async {
            let _ = stop_rx.await;
        };
        emroam_emulator::driver::serve_idle(bob, &mut bob_client, &mut Quiet, stop).await
    });
    crate::util::until_placed(&running, "cluster3", "1000001", "cluster1").await;
    let mut obs = Steps::default();
    let call = Task::Call {
        dn: "1000001".into(),
        hold: Duration::from_millis(50),
    };
    let (kally, o) = run_task(kally, call, Instant::now(), &mut kally_client, &mut obs).await;
    assert_eq!(o.result, Ok(Success::Called), "{o:?}");
    assert!(obs.0.contains(&Step::CallSetup), "{:?}", obs.0);
    // An unknown number: 404.
    let call = Task::Call {
        dn: "9999999".into(),
        hold: Duration::ZERO,
    };
    let (_kally, o) = run_task(kally, call, Instant::now(), &mut kally_client, &mut Quiet).await;
    assert_eq!(
        o.result.unwrap_err().cause,
        emroam_emulator::phone::Cause::CallFailed(404)
    );
    stop_tx.send(()).unwrap();
    let bob = bob_side.await.unwrap();
    assert_eq!(bob.sip().unwrap().answered_calls(), 1);
    assert!(!bob.sip().unwrap().in_call(), "Kally hung up");
    let (sip3, _) = running.sip("cluster3").unwrap();
    assert_eq!(sip3.counters().routed_trunk, 1);
    running.shutdown().await;
}

/// Prints every SIP datagram (for the trace of a failing test).
#[derive(Default)]
struct Wire(Vec<String>);
impl emroam_emulator::driver::Observer for Wire {
    fn sip(&mut self, out: bool, d: &[u8]) {
        let first = String::from_utf8_lossy(d)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned();
        self.0
            .push(format!("{} {first}", if out { "→" } else { "←" }));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_call_is_cancelled_across_the_trunk() {
    let (topo, running) = crate::util::seed_clusters().await;
    let (bob, mut bob_client) = ready_phone(&topo, 0, "SEP000000001001", "bob").await;
    let bob = bob.with_answer_policy(emroam_emulator::phone::sipua::AnswerPolicy {
        auto_answer: false,
        ..Default::default()
    });
    let (kally, mut kally_client) = ready_phone(&topo, 2, "SEP000000003001", "kally").await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let bob_side = tokio::spawn(async move {
        let stop = async {
            let _ = stop_rx.await;
        };
        let mut wire = Wire::default();
        let bob = emroam_emulator::driver::serve_idle(bob, &mut bob_client, &mut wire, stop).await;
        (bob, wire)
    });
    crate::util::until_placed(&running, "cluster3", "1000001", "cluster1").await;
    let call = Task::Call {
        dn: "1000001".into(),
        hold: Duration::ZERO,
    };
    let mut wire = Wire::default();
    let (_kally, o) = run_task(kally, call, Instant::now(), &mut kally_client, &mut wire).await;
    assert_eq!(
        o.result.unwrap_err().cause,
        emroam_emulator::phone::Cause::CallTimeout,
        "{:?}",
        wire.0
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop_tx.send(()).unwrap();
    let (bob, bob_wire) = bob_side.await.unwrap();
    assert!(
        !bob.sip().unwrap().in_call(),
        "the CANCEL reached Bob's phone: caller {:?} callee {:?}",
        wire.0,
        bob_wire.0
    );
    assert_eq!(bob.sip().unwrap().answered_calls(), 0);
    running.shutdown().await;
}

/// A phone that never registers over SIP keeps at most one restart pending however many
/// times it is logged in and out, so what the cluster holds (and what the SIP side looks at)
/// does not grow with past logins; `em-throughput` measures the cost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_for_a_phone_that_never_registers_stay_one_per_device() {
    use emroam_emulator::driver::HttpClient;
    use emroam_emulator::phone::{HttpRequest, Method};
    let (topo, running) = crate::util::seed_clusters().await;
    let c1 = topo.clusters.iter().find(|c| c.id == "cluster1").unwrap();
    let mut http = HttpClient::new(Duration::from_secs(5));
    let base = format!(
        "http://{}:{}/emapp/EMAppServlet?device=SEP000000001002",
        c1.address, c1.ports.http
    );
    for _ in 0..40 {
        for q in ["&loginType=DN&userid=1000001&seq=12345", "&doLogout=true"] {
            let req = HttpRequest {
                method: Method::Get,
                url: format!("{base}{q}"),
                headers: vec![],
                body: None,
                secrets: vec!["12345".into()],
            };
            let r = http.send(&req).await.unwrap();
            assert_eq!(r.status, 200);
        }
    }
    let pending = running.cluster("cluster1").unwrap().pending_restarts();
    assert_eq!(
        pending.iter().map(|(d, _)| d.as_str()).collect::<Vec<_>>(),
        ["SEP000000001002"],
        "{pending:?}"
    );
    assert_eq!(
        running
            .cluster("cluster1")
            .unwrap()
            .counters()
            .snapshot()
            .logins_successful,
        40
    );
}
