//! One phone, through the real driver, against the fake EM cluster on port 0.

use std::time::Duration;

use emroam_emulator::driver::{HttpClient, Quiet, run_task};
use emroam_emulator::phone::{
    Cause, Credentials, LoginType, Model, Phone, PhoneSpec, Success, Task, TaskOutcome,
};
use tokio::time::Instant;

use crate::util::{Fake, Knobs, dead_addr, seed_users, spawn_fake};

const DEV: &str = "SEP000000001001";

fn phone(fake: &Fake) -> Phone {
    Phone::new(PhoneSpec {
        device: DEV.into(),
        model: Model::default(),
        config_url: Some(fake.config_url(DEV)),
        service_url: Some(fake.service_url().into()),
    })
}

fn login(lt: LoginType, id: &str, pin: &str) -> Task {
    Task::Login(Credentials {
        login_type: lt,
        id: id.into(),
        pin: pin.into(),
        profile: None,
    })
}

async fn go(p: Phone, task: Task) -> (Phone, TaskOutcome) {
    let mut c = HttpClient::new(Duration::from_secs(5));
    run_task(p, task, Instant::now(), &mut c, &mut Quiet).await
}

#[tokio::test]
async fn uid_dn_sp_login_and_logout() {
    let fake = spawn_fake(seed_users(0), Knobs::default()).await;
    for (lt, id) in [
        (LoginType::Uid, "bob"),
        (LoginType::Dn, "1000001"),
        (LoginType::Sp, "1000001"),
    ] {
        let (p, o) = go(phone(&fake), Task::Boot).await;
        assert_eq!(o.result, Ok(Success::Booted));
        let (p, o) = go(p, login(lt, id, "12345")).await;
        assert_eq!(o.result, Ok(Success::LoggedIn), "{lt:?}");
        assert_eq!(
            fake.state
                .lock()
                .unwrap()
                .logged_in
                .get(DEV)
                .map(String::as_str),
            Some("bob")
        );
        let (p, o) = go(p, Task::Status).await;
        assert_eq!(o.result, Ok(Success::Status { logged_in: true }));
        let (_, o) = go(p, Task::Logout).await;
        assert_eq!(o.result, Ok(Success::LoggedOut));
    }
    let c = fake.counters();
    assert_eq!((c.logins_successful, c.logouts_successful), (3, 3));
    // boot + restart after each login and logout
    assert_eq!(c.config_fetches, 3 * 3);
    let headers = fake
        .state
        .lock()
        .unwrap()
        .last_headers
        .get(DEV)
        .cloned()
        .unwrap();
    let has = |n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
    assert!(has("x-ciscoipphonemodelname") && has("x-ciscoipphonedisplay") && has("user-agent"));
}

#[tokio::test]
async fn profile_choice_and_em_codes() {
    let fake = spawn_fake(seed_users(0), Knobs::default()).await;
    // alice has two profiles: the menu is answered with the first.
    let (_, o) = go(phone(&fake), login(LoginType::Uid, "alice", "12345")).await;
    assert_eq!(o.result, Ok(Success::LoggedIn));
    // Wrong PIN: 201; bob elsewhere while alice is on this device: already logged in.
    let other = Phone::new(PhoneSpec {
        device: "SEP000000001002".into(),
        ..phone(&fake).spec().clone()
    });
    let (_, o) = go(other, login(LoginType::Uid, "bob", "99999")).await;
    let f = o.result.unwrap_err();
    assert_eq!(f.cause, Cause::Em(201));
    assert_eq!(f.shown, "Please try to login again (201)");
    let (_, o) = go(phone(&fake), login(LoginType::Uid, "bob", "12345")).await;
    assert_eq!(o.result.unwrap_err().cause, Cause::AlreadyLoggedIn);
    // alice again on another device: 25 (multiple login not allowed).
    let third = Phone::new(PhoneSpec {
        device: "SEP000000001003".into(),
        ..phone(&fake).spec().clone()
    });
    let mut c = HttpClient::new(Duration::from_secs(5));
    let task = Task::Login(Credentials {
        login_type: LoginType::Uid,
        id: "alice".into(),
        pin: "12345".into(),
        profile: Some("alice-lab".into()),
    });
    let (_, o) = run_task(third, task, Instant::now(), &mut c, &mut Quiet).await;
    assert_eq!(o.result.unwrap_err().cause, Cause::Em(25));
}

#[tokio::test]
async fn http_and_transport_failures_are_named() {
    let fake = spawn_fake(
        seed_users(0),
        Knobs {
            status: Some(503),
            ..Knobs::default()
        },
    )
    .await;
    let (_, o) = go(phone(&fake), Task::Status).await;
    let f = o.result.unwrap_err();
    assert_eq!(
        (f.cause, f.shown.as_str()),
        (Cause::HttpStatus(503), "HTTP Error (503)")
    );

    let dead = dead_addr().await;
    let p = Phone::new(PhoneSpec {
        device: DEV.into(),
        model: Model::default(),
        config_url: None,
        service_url: Some(format!("http://{dead}/emapp/EMAppServlet?device=#DEVICENAME#").into()),
    });
    let (_, o) = go(p, Task::Status).await;
    let f = o.result.unwrap_err();
    // The phone's words, and the load tester's cause.
    assert_eq!(f.shown, "Host Not Found");
    assert_eq!(f.cause, Cause::ConnectionRefused);
    assert_eq!(f.cause.key(), "connection_refused");
    let p = Phone::new(PhoneSpec {
        device: DEV.into(),
        model: Model::default(),
        config_url: None,
        service_url: Some(
            "http://no-such-host.invalid/emapp/EMAppServlet?device=#DEVICENAME#".into(),
        ),
    });
    let (_, o) = go(p, Task::Status).await;
    assert_eq!(o.result.unwrap_err().cause, Cause::HostNotFound);

    let bad = spawn_fake(
        seed_users(0),
        Knobs {
            first_page: Some("<CiscoIPPhoneMenu><MenuItem>".into()),
            ..Knobs::default()
        },
    )
    .await;
    let (_, o) = go(phone(&bad), Task::Status).await;
    assert_eq!(o.result.unwrap_err().shown, "XML Error [4]: Parse Error");
}

#[tokio::test]
async fn timeout_is_a_named_outcome() {
    let fake = spawn_fake(
        seed_users(0),
        Knobs {
            submit_delay: Duration::from_secs(3),
            ..Knobs::default()
        },
    )
    .await;
    let mut c = HttpClient::new(Duration::from_millis(300));
    let (_, o) = run_task(
        phone(&fake),
        login(LoginType::Uid, "bob", "12345"),
        Instant::now(),
        &mut c,
        &mut Quiet,
    )
    .await;
    let f = o.result.unwrap_err();
    assert_eq!(f.cause, Cause::Timeout);
    assert_eq!(f.step, emroam_emulator::phone::Step::LoginSubmit);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pin_can_come_from_emroam_pin_instead_of_the_command_line() {
    let fake = spawn_fake(seed_users(0), Knobs::default()).await;
    let (service, config) = (fake.service_url(), fake.config_url(DEV));
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_emroam"))
            .args([
                "phone",
                "login-logout",
                "--service",
                &service,
                "--config-url",
            ])
            .args([config.as_str(), "--device", DEV, "--id", "bob"])
            .env("EMROAM_PIN", "12345")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Login Successful"), "{text}");
    assert!(!text.contains("12345"), "{text}");
}

#[tokio::test]
async fn phone_command_prints_trace_and_redacts_pin() {
    let fake = spawn_fake(seed_users(0), Knobs::default()).await;
    let cli = <emroam::cli::Cli as clap::Parser>::try_parse_from([
        "emroam",
        "phone",
        "login-logout",
        "--service",
        &fake.service_url(),
        "--config-url",
        &fake.config_url(DEV),
        "--device",
        DEV,
        "--id",
        "bob",
        "--pin",
        "12345",
    ])
    .unwrap();
    let emroam::cli::Command::Phone(args) = cli.command else {
        panic!()
    };
    let mut out = Vec::new();
    let exit = emroam::cmd::phone::run(&args, &mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(exit, emroam::cmd::Exit::Ok, "{text}");
    assert!(!text.contains("12345"), "{text}");
    assert!(text.contains("seq=*****"));
    assert!(text.contains("x-CiscoIPPhoneModelName: CP-8865"));
    assert!(text.contains("== Extension Mobility =="));
    assert!(text.contains("login_submit took"));
    assert!(text.contains("Login Successful"));
    assert!(text.contains("✔ Login: logged in\n"), "{text}");
    assert!(text.contains("✔ Logout: logged out\n"), "{text}");
}
