//! Tests over whole documents: Cisco's documented samples, hostile input, and round-trip properties.

use proptest::prelude::*;

use super::*;
use crate::codes;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/emapi/",
            $name
        ))
    };
}

fn app() -> AppInfo {
    AppInfo::with_password("appid", "apppasswd")
}

// ---- The samples of cisco-em.md §2.2 ------------------------------------------------------

#[test]
fn sample_login() {
    let env = parse_request(fixture!("login.xml")).unwrap();
    let expected = Envelope {
        app_info: app(),
        request: Request::Login(Login {
            device_profile: Some("UserDevProf".into()),
            exclusive_duration: Some(ExclusiveDuration::Time(60)),
            ..Login::new("SEP003094C25B15", "john")
        }),
    };
    assert_eq!(env, expected);
    assert_eq!(env.request.root(), Root::Request);
}

#[test]
fn sample_logout_and_logout_all() {
    assert_eq!(
        parse_request(fixture!("logout.xml")).unwrap(),
        Envelope {
            app_info: app(),
            request: Request::Logout(Logout::new("SEP003094C25B15")),
        }
    );
    assert_eq!(
        parse_request(fixture!("logout-all.xml")).unwrap(),
        Envelope {
            app_info: app(),
            request: Request::LogoutAll(LogoutAll::default()),
        }
    );
}

#[test]
fn sample_queries() {
    let device_user = parse_request(fixture!("device-user-query.xml")).unwrap();
    assert_eq!(
        device_user.request,
        Request::DeviceUserQuery(DeviceUserQuery::new("SEP003094C25B15"))
    );
    assert_eq!(device_user.request.root(), Root::Query);
    assert_eq!(
        parse_request(fixture!("user-devices-query.xml"))
            .unwrap()
            .request,
        Request::UserDevicesQuery(UserDevicesQuery::new("john"))
    );
    // The example's `userDeviceProfileQuery` spelling, rendered back with the DTD's.
    let profiles = parse_request(fixture!("user-device-profile-query.xml")).unwrap();
    assert_eq!(
        profiles.request,
        Request::DeviceProfileQuery(DeviceProfileQuery::new("john"))
    );
    assert!(
        profiles
            .to_xml()
            .contains("<deviceProfileQuery><userID>john</userID>")
    );
}

#[test]
fn sample_emapp_query_from_tac_212083() {
    let env = parse_request(fixture!("emapp-device-user-query-tac212083.xml")).unwrap();
    assert_eq!(env.app_info.app_id, "CCMSysUser");
    assert_eq!(
        env.app_info.credential,
        Credential::EncryptedCertificate("xxxxxxx".into())
    );
    assert_eq!(
        env.request,
        Request::DeviceUserQuery(DeviceUserQuery {
            device_names: vec!["SEP74A02FC09CDF".into()],
            login_type: Some("DN".into()),
            remote_ip_addr: Some("10.106.99.235".into()),
        })
    );
    assert_eq!(parse_request(env.to_xml().as_bytes()).unwrap(), env);
}

#[test]
fn sample_responses() {
    assert_eq!(
        parse_response(fixture!("response-success.xml")).unwrap(),
        Response::Success
    );
    assert_eq!(
        parse_response(fixture!("response-failure.xml")).unwrap(),
        Response::Failure {
            code: 3,
            message: "Could not authenticate 'appid'".into()
        }
    );
    assert_eq!(
        parse_response(fixture!("response-failure-how-it-works.xml")).unwrap(),
        Response::Failure {
            code: 3,
            message: "DB Query Error: Application Authentication Error: Could not authenticate\""
                .into()
        }
    );
    assert_eq!(
        parse_response(fixture!("device-user-results-none.xml")).unwrap(),
        Response::DeviceUserResults(vec![DeviceUser {
            device_name: "SEP003094C25B15".into(),
            user_id: Some("one".into()),
            none: true,
            ..DeviceUser::default()
        }])
    );
    assert_eq!(
        parse_response(fixture!("device-user-results-lastlogin.xml")).unwrap(),
        Response::DeviceUserResults(vec![DeviceUser {
            device_name: "SEP402CF4915265".into(),
            user_id: Some("em@cisco.com".into()),
            last_login: Some("em".into()),
            emcc_device: Some(false),
            ..DeviceUser::default()
        }])
    );
    assert_eq!(
        parse_response(fixture!("user-devices-results.xml")).unwrap(),
        Response::UserDevicesResults(vec![UserDevices {
            user_id: "em@cisco.com".into(),
            device_names: vec!["SEP402CF4915265".into()],
            ..UserDevices::default()
        }])
    );
    let profile = |name: &str| DeviceProfile {
        name: name.into(),
        is_default: false,
    };
    assert_eq!(
        parse_response(fixture!("device-profile-results.xml")).unwrap(),
        Response::DeviceProfileResults(vec![UserDeviceProfiles {
            user_id: "em@cisco.com".into(),
            profiles: vec![
                profile("EM-SCCP-Profile-7970"),
                profile("EM-SCCP-7975-Profile")
            ],
            ..UserDeviceProfiles::default()
        }])
    );
}

#[test]
fn sample_responses_render_in_the_samples_shape() {
    let strip = |b: &[u8]| {
        std::str::from_utf8(b)
            .unwrap()
            .split_whitespace()
            .collect::<String>()
    };
    for sample in [
        &fixture!("response-success.xml")[..],
        fixture!("response-failure.xml"),
        fixture!("device-user-results-none.xml"),
        fixture!("device-user-results-lastlogin.xml"),
        fixture!("user-devices-results.xml"),
        fixture!("device-profile-results.xml"),
    ] {
        let rendered = parse_response(sample).unwrap().to_xml();
        // Only whitespace and the escaping of `'` differ from Cisco's text.
        assert_eq!(
            strip(rendered.replace("&apos;", "'").as_bytes()),
            strip(sample),
            "{rendered}"
        );
    }
    for sample in [
        &fixture!("login.xml")[..],
        fixture!("logout.xml"),
        fixture!("logout-all.xml"),
        fixture!("device-user-query.xml"),
        fixture!("user-devices-query.xml"),
    ] {
        let rendered = parse_request(sample).unwrap().to_xml();
        assert_eq!(strip(rendered.as_bytes()), strip(sample), "{rendered}");
    }
}

#[test]
fn emcc_check_user_reply_is_refused_cleanly() {
    let err = parse_response(fixture!("emcc-check-user-response-tac214535.xml")).unwrap_err();
    assert!(matches!(err, EmApiError::UnexpectedRoot { .. }), "{err}");
}

// ---- Routing and error codes ------------------------------------------------------------

#[test]
fn unknown_operations_answer_code_8() {
    let cases: [&[u8]; 5] = [
        b"<query><appInfo><appID>a</appID><appCertificate>p</appCertificate></appInfo>\
          <checkUser><userID>u</userID></checkUser></query>",
        b"<request><appInfo><appID>a</appID><appCertificate>p</appCertificate></appInfo>\
          <frobnicate/></request>",
        // A query sent in <request> and a request sent in <query>.
        b"<request><appInfo><appID>a</appID><appCertificate>p</appCertificate></appInfo>\
          <deviceUserQuery><deviceName>d</deviceName></deviceUserQuery></request>",
        b"<query><appInfo><appID>a</appID><appCertificate>p</appCertificate></appInfo>\
          <logoutAll/></query>",
        b"<query><appInfo><appID>a</appID><appCertificate>p</appCertificate></appInfo></query>",
    ];
    for xml in cases {
        let err = parse_request(xml).unwrap_err();
        assert_eq!(err.em_code(), codes::QUERY_TYPE_UNDETERMINED, "{err}");
    }
}

#[test]
fn document_problems_answer_code_1() {
    let cases: [&[u8]; 8] = [
        b"",
        b"not xml",
        b"<request><appInfo>",
        b"<response><success/></response>",
        b"<request><login><deviceName>d</deviceName><userID>u</userID></login></request>",
        b"<request><appInfo><appID>a</appID></appInfo><logoutAll/></request>",
        b"<request><appInfo><appID>a</appID><appCertificate>p</appCertificate></appInfo>\
          <login><deviceName>d</deviceName></login></request>",
        b"<request><appInfo><appID>a</appID><appCertificate>p</appCertificate></appInfo>\
          <login><deviceName>d</deviceName><userID>u</userID><exclusiveDuration><time>-1</time>\
          </exclusiveDuration></login></request>",
    ];
    for xml in cases {
        let err = parse_request(xml).unwrap_err();
        assert_eq!(err.em_code(), codes::PARSE_ERROR, "{err}");
    }
    assert_eq!(EmApiError::MissingFormField.em_code(), codes::PARSE_ERROR);
}

#[test]
fn tolerates_declaration_bom_comments_order_and_unknown_children() {
    let xml = "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- from a script -->\n\
               <request><login><userID>em%40cisco.com</userID><deviceName>SEP1</deviceName>\
               <futureField>x</futureField></login>\
               <appInfo><appID>a</appID><appCertificate>p</appCertificate></appInfo></request>";
    let env = parse_request(xml.as_bytes()).unwrap();
    assert_eq!(
        env.request,
        Request::Login(Login::new("SEP1", "em@cisco.com"))
    );
}

#[test]
fn user_ids_raw_or_encoded() {
    for raw in ["em%40cisco.com", "em@cisco.com"] {
        let xml = format!(
            "<query><appInfo><appID>a</appID><appCertificate>p</appCertificate></appInfo>\
             <userDevicesQuery><userID>{raw}</userID></userDevicesQuery></query>"
        );
        assert_eq!(
            parse_request(xml.as_bytes()).unwrap().request,
            Request::UserDevicesQuery(UserDevicesQuery::new("em@cisco.com"))
        );
    }
    let env = Envelope {
        app_info: app(),
        request: Request::UserDevicesQuery(UserDevicesQuery::new("jöhn doe@x")),
    };
    assert!(
        env.to_xml()
            .contains("<userID>j%C3%B6hn%20doe%40x</userID>")
    );
}

#[test]
fn envelope_debug_never_shows_the_password() {
    let env = parse_request(fixture!("login.xml")).unwrap();
    let shown = format!("{env:?}{env:#?}");
    assert!(!shown.contains("apppasswd"), "{shown}");
    assert!(shown.contains("<redacted>"));
}

#[test]
fn through_the_form_transport() {
    let env = parse_request(fixture!("device-profile-results.xml"));
    assert!(env.is_err());
    let env = Envelope {
        app_info: app(),
        request: Request::UserDevicesQuery(UserDevicesQuery::new("em@cisco.com")),
    };
    let body = form_body(&env.to_xml());
    assert!(body.contains("em%2540cisco.com"), "{body}");
    let xml = xml_from_form(body.as_bytes()).unwrap();
    assert_eq!(parse_request(xml.as_bytes()).unwrap(), env);
}

// ---- Hostile input ------------------------------------------------------------------------

#[test]
fn oversized_input_is_refused_before_parsing() {
    let mut huge = b"<request><appInfo><appID>".to_vec();
    huge.resize(10 * 1024 * 1024, b'a');
    let err = parse_request(&huge).unwrap_err();
    assert!(matches!(err, EmApiError::TooLarge { len, .. } if len == huge.len()));
    assert_eq!(err.em_code(), codes::PARSE_ERROR);
    assert!(matches!(
        parse_response(&huge),
        Err(EmApiError::TooLarge { .. })
    ));
    assert!(matches!(
        xml_from_form(&huge),
        Err(EmApiError::TooLarge { .. })
    ));
}

#[test]
fn deep_nesting_is_refused() {
    let depth = 100_000;
    let xml = format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth));
    assert_eq!(
        parse_request(xml.as_bytes()),
        Err(EmApiError::TooDeep { max: MAX_DEPTH })
    );
}

#[test]
fn too_many_elements_are_refused() {
    let xml = format!("<query>{}</query>", "<x/>".repeat(MAX_ELEMENTS + 1));
    assert_eq!(
        parse_request(xml.as_bytes()),
        Err(EmApiError::TooManyElements { max: MAX_ELEMENTS })
    );
}

#[test]
fn attribute_floods_are_refused_quickly() {
    let attrs: String = (0..90_000).map(|i| format!(" a{i}=\"\"")).collect();
    let xml = format!("<response{attrs}><success/></response>");
    assert!(xml.len() <= MAX_XML_BYTES, "{}", xml.len());
    let started = std::time::Instant::now();
    assert!(matches!(
        parse_response(xml.as_bytes()),
        Err(EmApiError::Malformed(_))
    ));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn billion_laughs_is_never_expanded() {
    let xml = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<request><appInfo><appID>&lol9;</appID><appCertificate>p</appCertificate></appInfo><logoutAll/></request>"#;
    assert_eq!(parse_request(xml), Err(EmApiError::DoctypeRefused));
    // Without the DOCTYPE the reference is simply undefined.
    let xml = b"<request><appInfo><appID>&lol9;</appID><appCertificate>p</appCertificate>\
                </appInfo><logoutAll/></request>";
    assert_eq!(
        parse_request(xml),
        Err(EmApiError::EntityRefused("lol9".into()))
    );
    // External entities likewise.
    let xxe = br#"<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><request>&x;</request>"#;
    assert_eq!(parse_request(xxe), Err(EmApiError::DoctypeRefused));
}

#[test]
fn invalid_utf8_and_nul_are_errors() {
    let bad = b"<request><appInfo><appID>\xc3\x28</appID></appInfo></request>";
    assert!(matches!(
        parse_request(bad),
        Err(EmApiError::InvalidUtf8 { offset: 25 })
    ));
    let nul = b"<request><appInfo><appID>a\0b</appID></appInfo></request>";
    assert!(matches!(parse_request(nul), Err(EmApiError::Malformed(_))));
    assert!(matches!(
        parse_response(b"\0"),
        Err(EmApiError::Malformed(_))
    ));
}

#[test]
fn truncations_of_every_sample_never_panic_and_never_succeed_wrongly() {
    for sample in [
        &fixture!("login.xml")[..],
        fixture!("logout.xml"),
        fixture!("device-user-query.xml"),
        fixture!("emapp-device-user-query-tac212083.xml"),
    ] {
        let full = parse_request(sample).unwrap();
        for cut in 0..sample.len() {
            if let Ok(env) = parse_request(&sample[..cut]) {
                assert_eq!(env, full, "truncated at {cut} parsed to something else");
            }
        }
    }
    for sample in [
        &fixture!("device-profile-results.xml")[..],
        fixture!("device-user-results-lastlogin.xml"),
        fixture!("response-failure.xml"),
    ] {
        let full = parse_response(sample).unwrap();
        for cut in 0..sample.len() {
            if let Ok(r) = parse_response(&sample[..cut]) {
                assert_eq!(r, full, "truncated at {cut} parsed to something else");
            }
        }
    }
}

#[test]
fn error_messages_truncate_hostile_names() {
    let long = "x".repeat(10_000);
    let xml = format!("<{long}/>");
    let err = parse_request(xml.as_bytes()).unwrap_err();
    assert!(err.to_string().len() < 200, "{err}");
    let mismatched = format!("<request><{long}></request>");
    let err = parse_request(mismatched.as_bytes()).unwrap_err();
    assert!(err.to_string().len() < 200, "{err}");
    let unclosed = format!("<request><{long}>");
    let err = parse_request(unclosed.as_bytes()).unwrap_err();
    assert!(err.to_string().len() < 200, "{err}");
}

// ---- Properties ---------------------------------------------------------------------------

/// Text that survives trimming: no control characters, no whitespace at either end.
fn text() -> impl Strategy<Value = String> {
    "[^\\s\\p{C}]([^\\p{C}]{0,16}[^\\s\\p{C}])?"
}

/// User IDs are percent-encoded on the wire, so anything without control characters survives.
fn user_id() -> impl Strategy<Value = String> {
    "[^\\p{C}]{1,20}"
}

fn flag() -> impl Strategy<Value = Option<bool>> {
    proptest::option::of(any::<bool>())
}

fn app_info() -> impl Strategy<Value = AppInfo> {
    (text(), "[^\\p{C}]{0,20}", any::<bool>()).prop_map(|(app_id, secret, encrypted)| AppInfo {
        app_id,
        credential: if encrypted {
            Credential::EncryptedCertificate(secret)
        } else {
            Credential::Certificate(secret)
        },
    })
}

fn request() -> impl Strategy<Value = Request> {
    let duration = proptest::option::of(prop_oneof![
        any::<u32>().prop_map(ExclusiveDuration::Time),
        Just(ExclusiveDuration::Indefinite),
    ]);
    let opt = || proptest::option::of(text());
    prop_oneof![
        (text(), user_id(), opt(), duration, opt(), flag()).prop_map(
            |(device_name, user_id, device_profile, exclusive_duration, remote_ip_addr, via)| {
                Request::Login(Login {
                    device_name,
                    user_id,
                    device_profile,
                    exclusive_duration,
                    remote_ip_addr,
                    is_via_header_set: via,
                })
            }
        ),
        (text(), opt(), flag()).prop_map(|(device_name, remote_ip_addr, is_via_header_set)| {
            Request::Logout(Logout {
                device_name,
                remote_ip_addr,
                is_via_header_set,
            })
        }),
        (opt(), flag()).prop_map(|(remote_ip_addr, is_via_header_set)| {
            Request::LogoutAll(LogoutAll {
                remote_ip_addr,
                is_via_header_set,
            })
        }),
        (proptest::collection::vec(text(), 1..4), opt(), opt()).prop_map(
            |(device_names, login_type, remote_ip_addr)| {
                Request::DeviceUserQuery(DeviceUserQuery {
                    device_names,
                    login_type,
                    remote_ip_addr,
                })
            }
        ),
        (proptest::collection::vec(user_id(), 1..4), opt()).prop_map(
            |(user_ids, remote_ip_addr)| {
                Request::UserDevicesQuery(UserDevicesQuery {
                    user_ids,
                    remote_ip_addr,
                })
            }
        ),
        (proptest::collection::vec(user_id(), 1..4), opt(), flag()).prop_map(
            |(user_ids, remote_ip_addr, is_via_header_set)| {
                Request::DeviceProfileQuery(DeviceProfileQuery {
                    user_ids,
                    remote_ip_addr,
                    is_via_header_set,
                })
            }
        ),
    ]
}

fn response() -> impl Strategy<Value = Response> {
    let device = (
        text(),
        proptest::option::of(user_id()),
        proptest::option::of(text()),
        any::<bool>(),
        any::<bool>(),
        flag(),
    )
        .prop_map(
            |(device_name, user_id, last_login, none, does_not_exist, emcc_device)| DeviceUser {
                device_name,
                user_id,
                last_login,
                none,
                does_not_exist,
                emcc_device,
            },
        );
    let user_devices = (
        user_id(),
        proptest::collection::vec(text(), 0..3),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(user_id, device_names, none, does_not_exist)| UserDevices {
                user_id,
                device_names,
                none,
                does_not_exist,
            },
        );
    let profile =
        (text(), any::<bool>()).prop_map(|(name, is_default)| DeviceProfile { name, is_default });
    let user_profiles = (
        user_id(),
        proptest::collection::vec(profile, 0..3),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(user_id, profiles, none, does_not_exist)| UserDeviceProfiles {
                user_id,
                profiles,
                none,
                does_not_exist,
            },
        );
    prop_oneof![
        Just(Response::Success),
        (any::<u16>(), proptest::option::of(text())).prop_map(|(code, message)| {
            Response::Failure {
                code,
                message: message.unwrap_or_default(),
            }
        }),
        proptest::collection::vec(device, 0..3).prop_map(Response::DeviceUserResults),
        proptest::collection::vec(user_devices, 0..3).prop_map(Response::UserDevicesResults),
        proptest::collection::vec(user_profiles, 0..3).prop_map(Response::DeviceProfileResults),
    ]
}

/// Random trees over the EM API vocabulary, to reach deep into every message parser.
fn em_tree() -> impl Strategy<Value = String> {
    const NAMES: &[&str] = &[
        "request",
        "query",
        "response",
        "appInfo",
        "appID",
        "appCertificate",
        "appEncryptedCertificate",
        "login",
        "logout",
        "logoutAll",
        "deviceUserQuery",
        "userDevicesQuery",
        "deviceProfileQuery",
        "userDeviceProfileQuery",
        "deviceName",
        "userID",
        "deviceProfile",
        "exclusiveDuration",
        "time",
        "indefinite",
        "remoteIPAddr",
        "isViaHeaderSet",
        "loginType",
        "success",
        "failure",
        "error",
        "errorMessage",
        "deviceUserResults",
        "userDevicesResults",
        "deviceProfileResults",
        "device",
        "user",
        "none",
        "doesNotExist",
        "lastlogin",
        "emccDevice",
        "deviceProfileName",
        "isDefaultDeviceProfile",
    ];
    const TEXTS: &[&str] = &[
        "",
        "60",
        "t",
        "f",
        "yes",
        "no",
        "true",
        "x",
        "em%40cisco.com",
        "-1",
        "&amp;",
    ];
    const ATTRS: &[&str] = &[
        "",
        " name=\"SEP1\"",
        " id=\"em%40cisco.com\"",
        " code=\"26\"",
        " code=\"x\"",
    ];
    let leaf = (0..NAMES.len(), 0..ATTRS.len(), 0..TEXTS.len())
        .prop_map(|(n, a, t)| format!("<{0}{1}>{2}</{0}>", NAMES[n], ATTRS[a], TEXTS[t]));
    leaf.prop_recursive(5, 64, 6, |inner| {
        (
            0..NAMES.len(),
            0..ATTRS.len(),
            proptest::collection::vec(inner, 0..6),
        )
            .prop_map(|(n, a, kids)| {
                format!("<{0}{1}>{2}</{0}>", NAMES[n], ATTRS[a], kids.concat())
            })
    })
}

proptest! {
    #[test]
    fn em_shaped_trees_never_panic_and_reparse_stably(tree in em_tree()) {
        let app = "<appInfo><appID>a</appID><appCertificate>p</appCertificate></appInfo>";
        for xml in [
            tree.clone(),
            format!("<request>{app}{tree}</request>"),
            format!("<query>{app}{tree}</query>"),
            format!("<response>{tree}</response>"),
        ] {
            if let Ok(env) = parse_request(xml.as_bytes()) {
                prop_assert_eq!(parse_request(env.to_xml().as_bytes())?, env);
            }
            if let Ok(r) = parse_response(xml.as_bytes()) {
                prop_assert_eq!(parse_response(r.to_xml().as_bytes())?, r);
            }
        }
    }

    #[test]
    fn requests_round_trip(app_info in app_info(), request in request()) {
        let env = Envelope { app_info, request };
        let xml = env.to_xml();
        prop_assert_eq!(parse_request(xml.as_bytes())?, env.clone());
        prop_assert_eq!(parse_request(xml_from_form(form_body(&xml).as_bytes())?.as_bytes())?, env);
    }

    #[test]
    fn responses_round_trip(response in response()) {
        prop_assert_eq!(parse_response(response.to_xml().as_bytes())?, response);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_request(&bytes);
        let _ = parse_response(&bytes);
        let _ = xml_from_form(&bytes);
    }

    #[test]
    fn mutated_samples_never_panic(
        at in 0usize..400,
        byte in any::<u8>(),
        which in 0usize..4,
    ) {
        let sample: &[u8] = [
            &fixture!("login.xml")[..],
            fixture!("device-profile-results.xml"),
            fixture!("emapp-device-user-query-tac212083.xml"),
            fixture!("device-user-results-lastlogin.xml"),
        ][which];
        let mut bytes = sample.to_vec();
        let at = at % bytes.len();
        bytes[at] = byte;
        if let Ok(env) = parse_request(&bytes) {
            let _ = parse_request(env.to_xml().as_bytes())?;
        }
        if let Ok(r) = parse_response(&bytes) {
            let _ = parse_response(r.to_xml().as_bytes())?;
        }
    }

    #[test]
    fn random_text_never_panics(s in "\\PC{0,200}") {
        let _ = parse_request(s.as_bytes());
        let _ = parse_response(s.as_bytes());
        let _ = xml_from_form(s.as_bytes());
    }
}
