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

mod hostile {
    //! Whatever a server sends, at whatever point, the phone ends its task with an outcome
    //! within [`MAX_HOPS`] requests and never panics.

    use proptest::prelude::*;

    use super::*;

    fn response() -> impl Strategy<Value = Result<HttpResponse, HttpFailure>> {
        let body = prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            Just(form("").body),
            Just(confirm().body),
            Just(text("Login Successful").body),
            Just(text("Login is unavailable(26)").body),
            Just(cnf().body),
            "<CiscoIPPhone(Text|Menu|Input)>[a-z<>/&;]{0,60}".prop_map(String::into_bytes),
        ];
        let headers = proptest::collection::vec(
            (
                prop_oneof![
                    Just("content-type".to_owned()),
                    Just("refresh".to_owned()),
                    Just("set-cookie".to_owned())
                ],
                "[ -~]{0,40}",
            ),
            0..3,
        );
        prop_oneof![
            8 => (prop_oneof![Just(200u16), Just(302), Just(404), Just(503), 100u16..600], headers, body)
                .prop_map(|(status, headers, body)| Ok(HttpResponse { status, headers, body })),
            1 => Just(Err(HttpFailure::Timeout)),
            1 => Just(Err(HttpFailure::HostNotFound)),
        ]
    }

    fn task() -> impl Strategy<Value = Task> {
        prop_oneof![
            Just(Task::Boot),
            Just(Task::Logout),
            Just(Task::Status),
            Just(Task::Login(creds(LoginType::Dn, "1000001"))),
        ]
    }

    proptest! {
        #[test]
        fn any_server_behaviour_ends_in_an_outcome(
            task in task(),
            config in any::<bool>(),
            script in proptest::collection::vec(response(), MAX_HOPS as usize + 1),
        ) {
            let t0 = Instant::now();
            let mut now = t0;
            let mut script = script.into_iter();
            let (mut phone, mut actions) =
                Phone::new(spec(config)).step(PhoneEvent::Start { task, intended: t0 }, now);
            let mut sent = 0;
            'run: loop {
                let mut next = None;
                for a in actions {
                    match a {
                        PhoneAction::Send(_) => {
                            sent += 1;
                            now += Duration::from_millis(1);
                            next = Some(PhoneEvent::Response(script.next().unwrap()));
                        }
                        PhoneAction::SleepUntil(t) => {
                            now = now.max(t);
                            next = Some(PhoneEvent::Wake);
                        }
                        PhoneAction::Done(_) => break 'run,
                        PhoneAction::Record(s) => prop_assert!(s.end >= s.start),
                        PhoneAction::Show(_) | PhoneAction::SendSip { .. } => {}
                    }
                }
                let ev = next.expect("an action to wait for, or Done");
                (phone, actions) = phone.step(ev, now);
            }
            prop_assert!(phone.is_idle());
            prop_assert!(sent <= MAX_HOPS as usize);
        }
    }
}

mod hostile_sip {
    //! Whatever arrives on a phone's SIP socket (garbage, truncated or mutated messages,
    //! calls, cancels, hang-ups, NOTIFYs in any order), the phone never panics, only ever
    //! waits forward in time, and any call it took ends once time passes.

    use emroam_protocol::sip::Message;
    use proptest::prelude::*;

    use super::*;
    use crate::phone::sipua::AnswerPolicy;

    const ME: &str = "sip:00000000-0000-0000-0000-000000001001@127.0.0.9:5062";

    fn request(method: &str, call: u8, tag: bool) -> Vec<u8> {
        let mut m = Message::request(method, ME)
            .with(
                "Via",
                format!("SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-x{call}"),
            )
            .with("Record-Route", "<sip:127.0.0.1:5060;lr>")
            .with("From", "<sip:2000@127.0.0.1>;tag=c")
            .with(
                "To",
                if tag {
                    "<sip:1000@127.0.0.1>;tag=000000001001a1".to_owned()
                } else {
                    "<sip:1000@127.0.0.1>".to_owned()
                },
            )
            .with("Call-ID", format!("call-{call}"))
            .with("CSeq", format!("1 {method}"))
            .with("Contact", "<sip:2000@127.0.0.8:5070>");
        if method == "NOTIFY" {
            m = m
                .with("Event", "service-control")
                .with_body("text/plain", "action=restart\r\nRegisterCallId={x}\r\n");
        }
        m.render()
    }

    fn datagram() -> impl Strategy<Value = Vec<u8>> {
        let method = prop_oneof![
            Just("INVITE"),
            Just("ACK"),
            Just("BYE"),
            Just("CANCEL"),
            Just("NOTIFY"),
            Just("OPTIONS"),
            Just("MESSAGE"),
        ];
        let valid = (method, 0u8..3, any::<bool>()).prop_map(|(m, c, t)| request(m, c, t));
        prop_oneof![
            4 => valid.clone(),
            2 => (valid.clone(), any::<prop::sample::Index>())
                .prop_map(|(d, i)| d[..i.index(d.len() + 1)].to_vec()),
            2 => (valid, any::<prop::sample::Index>(), any::<u8>()).prop_map(|(mut d, i, b)| {
                let k = i.index(d.len());
                d[k] = b;
                d
            }),
            1 => proptest::collection::vec(any::<u8>(), 0..200),
        ]
    }

    proptest! {
        #[test]
        fn any_datagram_sequence_is_survived(
            ring_ms in 0u64..2000,
            auto_answer in any::<bool>(),
            busy in prop_oneof![Just(0.0), Just(0.5), Just(1.0)],
            script in proptest::collection::vec((datagram(), 0u64..3000), 1..30),
        ) {
            let t0 = Instant::now();
            let mut now = t0;
            let mut phone = Phone::new(spec(true))
                .with_sip("127.0.0.9:5062")
                .with_answer_policy(AnswerPolicy {
                    ring: Duration::from_millis(ring_ms),
                    auto_answer,
                    busy_share: busy,
                });
            let mut wake: Option<Instant> = None;
            for (d, gap) in script {
                now += Duration::from_millis(gap);
                // A wait that ran out first is a Wake.
                while let Some(w) = wake.filter(|w| *w <= now) {
                    let (p, acts) = phone.step(PhoneEvent::Wake, w);
                    phone = p;
                    wake = check(&acts, w)?;
                }
                let (p, acts) = phone.step(PhoneEvent::Sip(d), now);
                phone = p;
                wake = check(&acts, now)?.or(wake.filter(|_| !phone.is_idle()));
                if phone.is_idle() {
                    wake = None;
                }
            }
            // Time passes: whatever the phone was doing ends (a callee's guard included).
            for _ in 0..200 {
                let Some(w) = wake else { break };
                let (p, acts) = phone.step(PhoneEvent::Wake, w);
                phone = p;
                wake = check(&acts, w)?;
                if phone.is_idle() {
                    wake = None;
                }
            }
            prop_assert!(phone.is_idle(), "the phone settles once time passes");
        }
    }

    /// The phone's next wait, checking it never waits into the past and only sends SIP.
    fn check(acts: &[PhoneAction], now: Instant) -> Result<Option<Instant>, TestCaseError> {
        let mut wake = None;
        for a in acts {
            match a {
                PhoneAction::SleepUntil(t) => {
                    prop_assert!(*t >= now, "a wait into the past");
                    wake = Some(*t);
                }
                PhoneAction::SendSip { datagram, .. } => {
                    prop_assert!(emroam_protocol::sip::parse(datagram).is_ok());
                }
                PhoneAction::Send(_) | PhoneAction::Done(_) | PhoneAction::Record(_) => {}
                PhoneAction::Show(_) => {}
            }
        }
        Ok(wake)
    }
}

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
