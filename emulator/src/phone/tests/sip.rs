//! The SIP side of the phone's tasks: registration refreshes, and the restart NOTIFY.

use super::*;

/// A config file with a SIP proxy (the first call manager) and no lines.
fn sip_cnf() -> HttpResponse {
    HttpResponse::xml(sip_config().to_xml())
}

/// [`sip_cnf`] listing the EM service too (as after a login).
fn sip_em_cnf() -> HttpResponse {
    use emroam_protocol::devicecfg::PhoneService;
    let mut cfg = sip_config();
    cfg.services.push(PhoneService {
        service_type: 1,
        category: 0,
        name: "Extension Mobility".into(),
        url: SVC.into(),
    });
    HttpResponse::xml(cfg.to_xml())
}

fn sip_config() -> emroam_protocol::devicecfg::DeviceConfig {
    use emroam_protocol::devicecfg::{CallManager, DeviceConfig};
    DeviceConfig {
        device_protocol: "SIP".into(),
        call_managers: vec![CallManager {
            priority: 0,
            name: "cm1".into(),
            sip_port: 5060,
            secured_sip_port: 5061,
            process_node_name: "127.0.0.1".into(),
        }],
        ..DeviceConfig::default()
    }
}

/// The 200 OK a registrar gives `register`, granting `expires` seconds.
fn register_ok(register: &[u8], expires: u32) -> Vec<u8> {
    let m = emroam_protocol::sip::parse(register).unwrap();
    emroam_protocol::sip::Message::response_to(&m, 200, Some("reg"))
        .with(
            "Contact",
            format!("<sip:x@127.0.0.9:5062>;expires={expires}"),
        )
        .with("Expires", expires.to_string())
        .render()
}

fn sip_sent(actions: &[PhoneAction]) -> Vec<Vec<u8>> {
    actions
        .iter()
        .filter_map(|a| match a {
            PhoneAction::SendSip { datagram, .. } => Some(datagram.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_registered_phone_refreshes_before_its_grant_runs_out() {
    let t0 = Instant::now();
    let phone = Phone::new(spec(true)).with_sip("127.0.0.9:5062");
    let (phone, acts) = phone.step(
        PhoneEvent::Start {
            task: Task::Boot,
            intended: t0,
        },
        t0,
    );
    assert!(matches!(acts[0], PhoneAction::Send(_)));
    let (phone, acts) = phone.step(PhoneEvent::Response(Ok(sip_cnf())), t0);
    let reg = sip_sent(&acts).remove(0);
    let (phone, acts) = phone.step(PhoneEvent::Sip(register_ok(&reg, 120)), t0);
    assert!(
        acts.iter()
            .any(|a| matches!(a, PhoneAction::Done(o) if o.result == Ok(Success::Booted)))
    );
    // 90 % of the 120 s granted.
    let due = phone.refresh_due().unwrap();
    assert_eq!(due, t0 + Duration::from_secs(108));
    let (phone, acts) = phone.step(
        PhoneEvent::Start {
            task: Task::Refresh,
            intended: due,
        },
        due,
    );
    let again = sip_sent(&acts).remove(0);
    let (first, second) = (
        emroam_protocol::sip::parse(&reg).unwrap(),
        emroam_protocol::sip::parse(&again).unwrap(),
    );
    assert_eq!(
        first.call_id(),
        second.call_id(),
        "a refresh keeps the Call-ID"
    );
    assert_eq!(second.cseq(), Some((102, "REGISTER")));
    // No answer for a while: sent again on timer E.
    let (phone, acts) = phone.step(PhoneEvent::Wake, due + Duration::from_millis(500));
    assert_eq!(sip_sent(&acts).len(), 1);
    let later = due + Duration::from_millis(700);
    let (phone, acts) = phone.step(PhoneEvent::Sip(register_ok(&again, 60)), later);
    assert!(
        acts.iter()
            .any(|a| matches!(a, PhoneAction::Done(o) if o.result == Ok(Success::Refreshed))),
        "{acts:?}"
    );
    assert_eq!(phone.refresh_due(), Some(later + Duration::from_secs(54)));
    assert_eq!(phone.sip().unwrap().retransmissions(), 1);
}

#[test]
fn a_refresh_the_registrar_refuses_fails_the_task() {
    let t0 = Instant::now();
    let phone = Phone::new(spec(true)).with_sip("127.0.0.9:5062");
    let (phone, _) = phone.step(
        PhoneEvent::Start {
            task: Task::Boot,
            intended: t0,
        },
        t0,
    );
    let (phone, acts) = phone.step(PhoneEvent::Response(Ok(sip_cnf())), t0);
    let reg = sip_sent(&acts).remove(0);
    let (phone, _) = phone.step(PhoneEvent::Sip(register_ok(&reg, 120)), t0);
    let (phone, acts) = phone.step(
        PhoneEvent::Start {
            task: Task::Refresh,
            intended: t0,
        },
        t0,
    );
    let again = emroam_protocol::sip::parse(&sip_sent(&acts)[0]).unwrap();
    let refused = emroam_protocol::sip::Message::response_to(&again, 403, Some("r")).render();
    let (phone, acts) = phone.step(PhoneEvent::Sip(refused), t0);
    let done = acts.iter().find_map(|a| match a {
        PhoneAction::Done(o) => Some(o.clone()),
        _ => None,
    });
    assert_eq!(
        done.unwrap().result.unwrap_err().cause,
        Cause::RegisterRefused(403)
    );
    assert!(phone.is_idle());
    assert!(
        !phone.sip().unwrap().is_registered(),
        "the registration is lost"
    );
    assert_eq!(phone.refresh_due(), None);
}

/// Boots `phone` (with SIP) at `now`: the config file, then one REGISTER answered 200.
/// Returns the booted phone and its REGISTER.
fn boot_registered(phone: Phone, now: Instant) -> (Phone, Vec<u8>) {
    let boot = PhoneEvent::Start {
        task: Task::Boot,
        intended: now,
    };
    let (phone, _) = phone.step(boot, now);
    let (phone, acts) = phone.step(PhoneEvent::Response(Ok(sip_cnf())), now);
    let reg = sip_sent(&acts).remove(0);
    let (phone, acts) = phone.step(PhoneEvent::Sip(register_ok(&reg, 3600)), now);
    assert!(
        acts.iter()
            .any(|a| matches!(a, PhoneAction::Done(o) if o.result == Ok(Success::Booted)))
    );
    (phone, reg)
}

/// The cluster's restart NOTIFY for the phone that sent `register`.
fn restart_notify(register: &[u8]) -> Vec<u8> {
    use emroam_protocol::sip;
    let reg = sip::parse(register).unwrap();
    sip::service_control_notify(&sip::ServiceControl {
        action: sip::ServiceAction::Restart,
        contact: "sip:00000000-0000-0000-0000-000000001001@127.0.0.9:5062",
        register_call_id: reg.call_id(),
        local: "127.0.0.1:5060",
        branch: "-n",
        tag: "t",
        call_id: "n1",
    })
    .render()
}

/// Logs in up to the login result: the service page, the form, then `result`.
fn login_until_result(
    phone: Phone,
    result: Result<HttpResponse, HttpFailure>,
    now: Instant,
) -> (Phone, Vec<PhoneAction>) {
    let login = PhoneEvent::Start {
        task: Task::Login(creds(LoginType::Uid, "bob")),
        intended: now,
    };
    let (phone, _) = phone.step(login, now);
    let (phone, _) = phone.step(PhoneEvent::Response(Ok(form(""))), now);
    phone.step(PhoneEvent::Response(result), now)
}

#[test]
fn a_restart_notify_during_a_refresh_wait_is_taken_by_that_task_only() {
    let t0 = Instant::now();
    let wait = || text("Please wait").with_header("Refresh", "1; url=http://10.0.0.1:8080/r");
    let phone = Phone::new(spec(true)).with_sip("127.0.0.9:5062");
    let (phone, reg) = boot_registered(phone, t0);
    // The NOTIFY comes while the login waits out the result page's Refresh: the wait is cut
    // short, and the login's restart goes ahead without waiting for another NOTIFY.
    let (phone, acts) = login_until_result(phone, Ok(wait()), t0);
    assert!(matches!(acts.last(), Some(PhoneAction::SleepUntil(_))));
    let (phone, acts) = phone.step(PhoneEvent::Sip(restart_notify(&reg)), t0);
    assert!(matches!(acts.last(), Some(PhoneAction::Send(r)) if r.url.ends_with("/r")));
    let (phone, acts) = phone.step(PhoneEvent::Response(Ok(text("Login Successful"))), t0);
    assert!(matches!(acts.last(), Some(PhoneAction::Send(r)) if r.url == CNF));
    let (phone, acts) = phone.step(PhoneEvent::Response(Ok(sip_em_cnf())), t0);
    let reg = sip_sent(&acts).remove(0);
    let (phone, acts) = phone.step(PhoneEvent::Sip(register_ok(&reg, 3600)), t0);
    assert!(
        acts.iter()
            .any(|a| matches!(a, PhoneAction::Done(o) if o.result == Ok(Success::LoggedIn)))
    );
    // The same early NOTIFY, but the login fails before its restart: the next login (after a
    // boot) still waits for its own NOTIFY.
    let (phone, acts) = login_until_result(phone, Ok(wait()), t0);
    assert!(matches!(acts.last(), Some(PhoneAction::SleepUntil(_))));
    let (phone, _) = phone.step(PhoneEvent::Sip(restart_notify(&reg)), t0);
    let (phone, acts) = phone.step(PhoneEvent::Response(Err(HttpFailure::Timeout)), t0);
    assert!(matches!(acts.last(), Some(PhoneAction::Done(o)) if o.result.is_err()));
    let (phone, _) = boot_registered(phone, t0);
    let (phone, acts) = login_until_result(phone, Ok(text("Login Successful")), t0);
    assert_eq!(
        acts.last(),
        Some(&PhoneAction::SleepUntil(t0 + sipua::RESTART_WAIT)),
        "{acts:?}"
    );
    assert!(!phone.is_idle());
}
