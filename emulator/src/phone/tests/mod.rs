//! Transitions without I/O: scripted responses in, actions out.

use emroam_protocol::codes;

use super::*;

const SVC: &str = "http://10.0.0.1:8080/emapp/EMAppServlet?device=#DEVICENAME#";
const CNF: &str = "http://10.0.0.1:6970/SEP000000001001.cnf.xml";

fn spec(config: bool) -> PhoneSpec {
    PhoneSpec {
        device: "SEP000000001001".into(),
        model: Model::default(),
        config_url: config.then(|| CNF.to_owned()),
        service_url: Some(SVC.into()),
    }
}

fn creds(lt: LoginType, id: &str) -> Credentials {
    Credentials {
        login_type: lt,
        id: id.into(),
        pin: "12345".into(),
        profile: None,
    }
}

fn form(lt: &str) -> HttpResponse {
    HttpResponse::xml(format!(
        r#"<CiscoIPPhoneInput><Title>Extension Mobility</Title><Prompt>Enter ID and PIN</Prompt><URL>http://10.0.0.1:8080/emapp/EMAppServlet?device=SEP000000001001{lt}</URL><InputItem><DisplayName>User ID</DisplayName><QueryStringParam>userid</QueryStringParam><InputFlags>A</InputFlags></InputItem><InputItem><DisplayName>PIN</DisplayName><QueryStringParam>seq</QueryStringParam><InputFlags>NP</InputFlags></InputItem></CiscoIPPhoneInput>"#
    ))
}

fn text(t: &str) -> HttpResponse {
    HttpResponse::xml(format!(
        "<CiscoIPPhoneText><Title>Extension Mobility</Title><Text>{t}</Text></CiscoIPPhoneText>"
    ))
}

fn confirm() -> HttpResponse {
    HttpResponse::xml(
        r#"<CiscoIPPhoneText><Prompt>Logged in as bob</Prompt><Text>Do you want to log out?</Text><SoftKeyItem><Name>Yes</Name><URL>http://10.0.0.1:8080/emapp/EMAppServlet?device=SEP000000001001&amp;doLogout=true</URL><Position>1</Position></SoftKeyItem><SoftKeyItem><Name>No</Name><URL>SoftKey:Exit</URL><Position>2</Position></SoftKeyItem></CiscoIPPhoneText>"#,
    )
}

fn cnf_with(service: Option<&str>) -> HttpResponse {
    use emroam_protocol::devicecfg::{DeviceConfig, PhoneService};
    let cfg = DeviceConfig {
        device_protocol: "SIP".into(),
        services: service
            .map(|url| PhoneService {
                service_type: 1,
                category: 0,
                name: "Extension Mobility".into(),
                url: url.into(),
            })
            .into_iter()
            .collect(),
        ..DeviceConfig::default()
    };
    HttpResponse::xml(cfg.to_xml())
}

fn cnf() -> HttpResponse {
    cnf_with(Some(SVC))
}

/// Runs one task, answering each request from `script`; returns the phone, the URLs it
/// requested, the samples and the outcome.
fn run(
    phone: Phone,
    task: Task,
    script: Vec<Result<HttpResponse, HttpFailure>>,
) -> (Phone, Vec<String>, Vec<StepSample>, TaskOutcome) {
    let t0 = Instant::now();
    let mut now = t0;
    let mut script = script.into_iter();
    let (mut phone, mut actions) = phone.step(PhoneEvent::Start { task, intended: t0 }, now);
    let (mut urls, mut samples) = (Vec::new(), Vec::new());
    loop {
        let mut next = None;
        for a in actions {
            match a {
                PhoneAction::Send(req) => {
                    urls.push(req.url.clone());
                    now += Duration::from_millis(10);
                    next = Some(PhoneEvent::Response(script.next().expect("script ran out")));
                }
                PhoneAction::SleepUntil(t) => {
                    now = t;
                    next = Some(PhoneEvent::Wake);
                }
                PhoneAction::SendSip { .. } => {}
                PhoneAction::Record(s) => samples.push(s),
                PhoneAction::Show(_) => {}
                PhoneAction::Done(o) => {
                    assert!(phone.is_idle());
                    assert!(script.next().is_none(), "unused script");
                    return (phone, urls, samples, o);
                }
            }
        }
        let ev = next.expect("no action to wait for");
        (phone, actions) = phone.step(ev, now);
    }
}

fn cause(o: &TaskOutcome) -> Cause {
    o.result.clone().unwrap_err().cause
}

#[test]
fn uid_login_then_restart_then_logout() {
    let phone = Phone::new(spec(true));
    let (phone, urls, samples, o) = run(
        phone,
        Task::Login(creds(LoginType::Uid, "bob")),
        vec![Ok(form("")), Ok(text("Login Successful")), Ok(cnf())],
    );
    assert_eq!(o.result, Ok(Success::LoggedIn));
    assert_eq!(
        urls,
        [
            "http://10.0.0.1:8080/emapp/EMAppServlet?device=SEP000000001001",
            "http://10.0.0.1:8080/emapp/EMAppServlet?device=SEP000000001001&userid=bob&seq=12345",
            CNF,
        ]
    );
    let steps: Vec<Step> = samples.iter().map(|s| s.step).collect();
    assert_eq!(
        steps,
        [
            Step::EmPage,
            Step::LoginSubmit,
            Step::Restart,
            Step::Journey
        ]
    );
    assert_eq!(samples[3].latency(), Duration::from_millis(30));
    assert_eq!(phone.logged_in_user(), Some("bob"));

    let (phone, urls, _, o) = run(
        phone,
        Task::Logout,
        vec![Ok(confirm()), Ok(text("Logout Successful")), Ok(cnf())],
    );
    assert_eq!(o.result, Ok(Success::LoggedOut));
    assert!(urls[1].ends_with("&doLogout=true"));
    assert_eq!(phone.logged_in_user(), None);
}

#[test]
fn dn_and_sp_add_login_type() {
    for (lt, p) in [(LoginType::Dn, "DN"), (LoginType::Sp, "SP")] {
        let (_, urls, _, o) = run(
            Phone::new(spec(false)),
            Task::Login(creds(lt, "1000001")),
            vec![
                Ok(form(&format!("&amp;loginType={p}"))),
                Ok(text("Login Successful")),
            ],
        );
        assert_eq!(o.result, Ok(Success::LoggedIn));
        assert!(urls[0].ends_with(&format!("&loginType={p}")));
        assert!(urls[1].ends_with(&format!("loginType={p}&userid=1000001&seq=12345")));
    }
}

#[test]
fn profile_choice_is_answered() {
    let menu = HttpResponse::xml(
        r#"<CiscoIPPhoneMenu><Prompt>Select a device profile</Prompt><MenuItem><Name>bob-udp</Name><URL>http://10.0.0.1:8080/emapp/EMAppServlet?device=SEP000000001001&amp;ticket=7&amp;deviceProfile=bob-udp</URL></MenuItem><MenuItem><Name>bob-lab</Name><URL>http://10.0.0.1:8080/emapp/EMAppServlet?device=SEP000000001001&amp;ticket=7&amp;deviceProfile=bob-lab</URL></MenuItem></CiscoIPPhoneMenu>"#,
    );
    let mut c = creds(LoginType::Uid, "bob");
    c.profile = Some("bob-lab".into());
    let (_, urls, samples, o) = run(
        Phone::new(spec(false)),
        Task::Login(c),
        vec![Ok(form("")), Ok(menu), Ok(text("Login Successful"))],
    );
    assert_eq!(o.result, Ok(Success::LoggedIn));
    assert!(urls[2].ends_with("deviceProfile=bob-lab"));
    assert!(samples.iter().any(|s| s.step == Step::ProfileChoice));
}

#[test]
fn every_em_code_page_is_a_named_outcome() {
    for code in [
        1u16, 6, 22, 23, 25, 26, 201, 202, 204, 205, 207, 208, 215, 216,
    ] {
        let shown = codes::login_display_text(code);
        let (_, _, samples, o) = run(
            Phone::new(spec(false)),
            Task::Login(creds(LoginType::Uid, "bob")),
            vec![Ok(form("")), Ok(text(&shown))],
        );
        let f = o.result.unwrap_err();
        assert_eq!(f.cause, Cause::Em(code), "{shown}");
        assert_eq!(f.shown, shown);
        assert_eq!(f.step, Step::LoginSubmit);
        assert_eq!(f.cause.is_busy(), code == 26);
        assert!(samples.iter().all(|s| s.step != Step::Journey));
    }
    // A code on the first page (e.g. the EM service is down: 208).
    let (_, _, _, o) = run(
        Phone::new(spec(false)),
        Task::Logout,
        vec![Ok(text(&codes::logout_display_text(208)))],
    );
    assert_eq!(cause(&o), Cause::Em(208));
}

#[test]
fn transport_and_http_errors() {
    let cases: Vec<(Result<HttpResponse, HttpFailure>, Cause, &str)> = vec![
        (
            Err(HttpFailure::HostNotFound),
            Cause::HostNotFound,
            "Host Not Found",
        ),
        // Refused and unresolved read the same on the phone, and count apart.
        (
            Err(HttpFailure::Refused),
            Cause::ConnectionRefused,
            "Host Not Found",
        ),
        (
            Err(HttpFailure::Timeout),
            Cause::Timeout,
            "Connection failed",
        ),
        (
            Err(HttpFailure::ConnectionFailed("reset".into())),
            Cause::ConnectionFailed,
            "Connection failed",
        ),
        (
            Ok(HttpResponse {
                status: 503,
                headers: vec![],
                body: b"down".to_vec(),
            }),
            Cause::HttpStatus(503),
            "HTTP Error (503)",
        ),
        (
            Ok(HttpResponse::xml("<CiscoIPPhoneMenu><MenuItem>")),
            Cause::Xml(4),
            "XML Error [4]: Parse Error",
        ),
        (
            Ok(HttpResponse::xml("<html><body>hi</body></html>")),
            Cause::Xml(5),
            "XML Error [5]: Unsupported XML Object",
        ),
        (
            Ok(HttpResponse::xml("")),
            Cause::EmptyPage,
            "No services configured",
        ),
        (
            Err(HttpFailure::TooLarge),
            Cause::TooLarge,
            "Data too large!",
        ),
    ];
    for (resp, want, shown) in cases {
        let (_, _, _, o) = run(
            Phone::new(spec(false)),
            Task::Login(creds(LoginType::Uid, "bob")),
            vec![resp],
        );
        let f = o.result.unwrap_err();
        assert_eq!(f.cause, want);
        assert_eq!(f.shown, shown);
        assert_eq!(f.step, Step::EmPage);
    }
}

#[test]
fn malformed_pages_mid_flow_and_at_restart() {
    let (_, _, _, o) = run(
        Phone::new(spec(false)),
        Task::Login(creds(LoginType::Uid, "bob")),
        vec![
            Ok(form("")),
            Ok(HttpResponse::xml(
                "<CiscoIPPhoneText><Text>&bogus;</Text></CiscoIPPhoneText>",
            )),
        ],
    );
    assert_eq!(cause(&o), Cause::Xml(4));
    let (_, _, _, o) = run(
        Phone::new(spec(true)),
        Task::Login(creds(LoginType::Uid, "bob")),
        vec![
            Ok(form("")),
            Ok(text("Login Successful")),
            Ok(HttpResponse {
                status: 404,
                headers: vec![],
                body: vec![],
            }),
        ],
    );
    let f = o.result.unwrap_err();
    assert_eq!((f.cause, f.step), (Cause::HttpStatus(404), Step::Restart));
    let (_, _, _, o) = run(
        Phone::new(spec(true)),
        Task::Boot,
        vec![Ok(HttpResponse::xml("not a config"))],
    );
    assert_eq!(cause(&o), Cause::BadConfig);
}

#[test]
fn pages_it_cannot_act_on() {
    let no_pin = HttpResponse::xml(
        r#"<CiscoIPPhoneInput><URL>http://h/x</URL><InputItem><DisplayName>Name</DisplayName><QueryStringParam>n</QueryStringParam><InputFlags>A</InputFlags></InputItem></CiscoIPPhoneInput>"#,
    );
    let (_, _, _, o) = run(
        Phone::new(spec(false)),
        Task::Login(creds(LoginType::Uid, "bob")),
        vec![Ok(no_pin)],
    );
    assert!(matches!(cause(&o), Cause::UnexpectedPage(_)));
    // Logging in where someone is logged in; logging out where nobody is.
    let (_, _, _, o) = run(
        Phone::new(spec(false)),
        Task::Login(creds(LoginType::Uid, "bob")),
        vec![Ok(confirm())],
    );
    assert_eq!(cause(&o), Cause::AlreadyLoggedIn);
    let (_, _, _, o) = run(Phone::new(spec(false)), Task::Logout, vec![Ok(form(""))]);
    assert_eq!(cause(&o), Cause::NotLoggedIn);
    let (_, _, _, o) = run(
        Phone::new(spec(false)),
        Task::Status,
        vec![Ok(text("Welcome to the services"))],
    );
    assert!(matches!(cause(&o), Cause::UnexpectedPage(t) if t.contains("Welcome")));
    // No service URL at all.
    let mut s = spec(false);
    s.service_url = None;
    let (p, a) = Phone::new(s).step(
        PhoneEvent::Start {
            task: Task::Logout,
            intended: Instant::now(),
        },
        Instant::now(),
    );
    assert!(p.is_idle());
    assert!(matches!(&a[..], [PhoneAction::Done(o)] if cause(o) == Cause::NoServiceUrl));
}

#[test]
fn refresh_is_honoured_and_loops_are_bounded() {
    let wait = text("Please wait").with_header("Refresh", "2; url=http://10.0.0.1:8080/next");
    let (_, urls, samples, o) = run(
        Phone::new(spec(false)),
        Task::Status,
        vec![Ok(wait), Ok(form(""))],
    );
    assert_eq!(o.result, Ok(Success::Status { logged_in: false }));
    assert_eq!(urls[1], "http://10.0.0.1:8080/next");
    assert!(samples.iter().all(|s| s.step != Step::Journey));
    let steps: Vec<Step> = samples.iter().map(|s| s.step).collect();
    assert_eq!(steps, [Step::EmPage, Step::Refresh]);
    assert_eq!(samples[1].latency(), Duration::from_millis(2010));
    // A page that refreshes to itself forever stops after MAX_HOPS.
    let again = || Ok(text("Please wait").with_header("Refresh", "1"));
    let script = (0..MAX_HOPS).map(|_| again()).collect();
    let (_, urls, _, o) = run(Phone::new(spec(false)), Task::Status, script);
    assert_eq!(urls.len(), MAX_HOPS as usize);
    assert!(matches!(cause(&o), Cause::UnexpectedPage(_)));
}

#[test]
fn headers_cookies_and_stray_events() {
    let t0 = Instant::now();
    let (p, a) = Phone::new(spec(false)).step(
        PhoneEvent::Start {
            task: Task::Status,
            intended: t0,
        },
        t0,
    );
    let PhoneAction::Send(req) = &a[0] else {
        panic!()
    };
    let names: Vec<&str> = req.headers.iter().map(|(n, _)| n.as_str()).collect();
    for h in [
        "x-CiscoIPPhoneModelName",
        "x-CiscoIPPhoneDisplay",
        "x-CiscoIPPhoneSDKVersion",
        "Accept",
        "Accept-Language",
        "Accept-Charset",
        "User-Agent",
    ] {
        assert!(names.contains(&h), "{h}");
    }
    let (p, a) = p.step(
        PhoneEvent::Response(Ok(text("Please wait")
            .with_header("Set-Cookie", "JSESSIONID=abc; Path=/emapp")
            .with_header("Refresh", "1"))),
        t0,
    );
    assert!(matches!(
        a[..],
        [PhoneAction::Record(_), PhoneAction::SleepUntil(_)]
    ));
    // A second task while busy is refused and does not disturb the first.
    let (p, a) = p.step(
        PhoneEvent::Start {
            task: Task::Logout,
            intended: t0,
        },
        t0,
    );
    assert!(matches!(&a[..], [PhoneAction::Done(o)] if o.task == TaskKind::Logout));
    let (p, a) = p.step(PhoneEvent::Wake, t0 + Duration::from_secs(1));
    let PhoneAction::Send(req) = &a[0] else {
        panic!()
    };
    assert!(
        req.headers
            .contains(&("Cookie".into(), "JSESSIONID=abc".into()))
    );
    // Abandon ends it; stray events on an idle phone do nothing.
    let (p, a) = p.step(PhoneEvent::Abandon, t0);
    assert!(matches!(&a[..], [PhoneAction::Done(o)] if cause(o) == Cause::Abandoned));
    let (p, a) = p.step(PhoneEvent::Wake, t0);
    assert!(a.is_empty() && p.is_idle());
    let (_, a) = p.step(PhoneEvent::Response(Err(HttpFailure::Timeout)), t0);
    assert!(a.is_empty());
}

#[test]
fn pin_never_printed() {
    let c = creds(LoginType::Uid, "bob");
    assert!(!format!("{c:?}").contains("12345"));
    let (p, _) = Phone::new(spec(false)).step(
        PhoneEvent::Start {
            task: Task::Login(c),
            intended: Instant::now(),
        },
        Instant::now(),
    );
    let (_, a) = p.step(PhoneEvent::Response(Ok(form(""))), Instant::now());
    let PhoneAction::Send(req) = &a[1] else {
        panic!("{a:?}")
    };
    assert!(req.url.contains("seq=12345"));
    assert!(!req.redacted_url().contains("12345"));
}

#[test]
fn services_unavailable_after_login_or_logout() {
    let (_, _, _, o) = run(
        Phone::new(spec(true)),
        Task::Login(creds(LoginType::Uid, "bob")),
        vec![
            Ok(form("")),
            Ok(text("Login Successful")),
            Ok(cnf_with(None)),
        ],
    );
    let f = o.result.unwrap_err();
    assert_eq!(f.cause, Cause::ServicesUnavailable(TaskKind::Login));
    assert_eq!(
        (f.shown.as_str(), f.step),
        ("Services Unavailable", Step::Restart)
    );
    assert_eq!(f.cause.key(), "services_unavailable_after_login");
    let (_, _, _, o) = run(
        Phone::new(spec(true)),
        Task::Logout,
        vec![
            Ok(confirm()),
            Ok(text("Logout Successful")),
            Ok(cnf_with(None)),
        ],
    );
    assert_eq!(cause(&o).key(), "services_unavailable_after_logout");
}

#[test]
fn the_service_url_comes_from_the_config_file() {
    let mut s = spec(true);
    s.service_url = None;
    let (p, _, _, o) = run(
        Phone::new(s),
        Task::Boot,
        vec![Ok(cnf_with(Some(
            "http://10.9.9.9:8080/emapp/EMAppServlet?device=#DEVICENAME#",
        )))],
    );
    assert_eq!(o.result, Ok(Success::Booted));
    let (_, urls, _, _) = run(p, Task::Status, vec![Ok(form(""))]);
    assert_eq!(
        urls[0],
        "http://10.9.9.9:8080/emapp/EMAppServlet?device=SEP000000001001"
    );
}

#[test]
fn an_operator_pause_is_left_out_of_the_timings() {
    let t0 = Instant::now();
    let (mut p, _) = Phone::new(spec(false)).step(
        PhoneEvent::Start {
            task: Task::Login(creds(LoginType::Uid, "bob")),
            intended: t0,
        },
        t0,
    );
    p.exclude_pause(Duration::from_secs(5));
    let t1 = t0 + Duration::from_secs(5) + Duration::from_millis(10);
    let (p, a) = p.step(PhoneEvent::Response(Ok(form(""))), t1);
    assert!(matches!(&a[0], PhoneAction::Record(s) if s.latency() == Duration::from_millis(10)));
    let (_, a) = p.step(
        PhoneEvent::Response(Ok(text("Login Successful"))),
        t1 + Duration::from_millis(10),
    );
    let journey = a.iter().find_map(|a| match a {
        PhoneAction::Record(s) if s.step == Step::Journey => Some(s.latency()),
        _ => None,
    });
    assert_eq!(journey, Some(Duration::from_millis(20)));
}

#[test]
fn boot_fetches_config() {
    let (_, urls, samples, o) = run(Phone::new(spec(true)), Task::Boot, vec![Ok(cnf())]);
    assert_eq!(o.result, Ok(Success::Booted));
    assert_eq!(urls, [CNF]);
    assert_eq!(samples[0].step, Step::Config);
    let (_, urls, _, o) = run(Phone::new(spec(false)), Task::Boot, vec![]);
    assert_eq!(o.result, Ok(Success::Booted));
    assert!(urls.is_empty());
}

mod hostile;
mod hostile_sip;
mod sip;
