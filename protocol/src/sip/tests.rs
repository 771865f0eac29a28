//! Tests of [`super`]: sip.

use super::*;

const REGISTER: &str = "REGISTER sip:10.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK1;rport\r\n\
From: <sip:1001@10.0.0.1>;tag=abc\r\n\
To: <sip:1001@10.0.0.1>\r\n\
Call-ID: 005056bd-1@10.0.0.9\r\n\
CSeq: 101 REGISTER\r\n\
Contact: <sip:1001@10.0.0.9:5060;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-0011aabbccdd>\";expires=3600\r\n\
Expires: 3600\r\n\
Content-Length: 0\r\n\r\n";

#[test]
fn parses_a_cisco_register() {
    let m = parse(REGISTER.as_bytes()).unwrap();
    assert_eq!(m.method(), Some("REGISTER"));
    assert_eq!(m.cseq(), Some((101, "REGISTER")));
    assert_eq!(m.expires(), Some(3600));
    assert_eq!(m.top_branch(), Some("z9hG4bK1"));
    let c = m.header("contact").unwrap();
    assert_eq!(instance_mac(c).as_deref(), Some("0011AABBCCDD"));
    assert_eq!(addr_uri(c), "sip:1001@10.0.0.9:5060;transport=udp");
    assert_eq!(uri_user(addr_uri(m.header("To").unwrap())), Some("1001"));
    assert_eq!(uri_host_port(addr_uri(c)), Some(("10.0.0.9", 5060)));
    assert_eq!(param(c, "expires"), Some("3600"));
}

#[test]
fn round_trips() {
    let m = parse(REGISTER.as_bytes()).unwrap();
    let again = parse(&m.render()).unwrap();
    assert_eq!(m, again);
}

#[test]
fn compact_names_and_bare_lf() {
    let raw = "OPTIONS sip:x@h SIP/2.0\nv: SIP/2.0/UDP h;branch=z9hG4bKa\nf: <sip:a@h>;tag=1\nt: <sip:x@h>\ni: c1\nCSeq: 1 OPTIONS\nl: 0\n\n";
    let m = parse(raw.as_bytes()).unwrap();
    assert_eq!(m.call_id(), "c1");
    assert_eq!(m.header("Via"), Some("SIP/2.0/UDP h;branch=z9hG4bKa"));
}

#[test]
fn header_names_in_any_case_are_canonical_so_a_response_keeps_them() {
    // Found by the phone's hostile-datagram proptest: `CAll-ID` parsed (names are
    // case-insensitive), but the response copied only an exact `Call-ID`, so it had none.
    let raw = "OPTIONS sip:x@h SIP/2.0\r\nvia: SIP/2.0/UDP h;branch=z9hG4bKa\r\nFROM: <sip:a@h>;tag=1\r\nto: <sip:x@h>\r\nCAll-ID: c1\r\ncseq: 1 OPTIONS\r\nX-Odd-Name: kept\r\n\r\n";
    let m = parse(raw.as_bytes()).unwrap();
    let names: Vec<&str> = m.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["Via", "From", "To", "Call-ID", "CSeq", "X-Odd-Name"]
    );
    let r = Message::response_to(&m, 200, Some("t")).render();
    let r = parse(&r).expect("the response is valid SIP");
    assert_eq!(r.call_id(), "c1");
    assert_eq!(r.cseq(), Some((1, "OPTIONS")));
}

#[test]
fn response_copies_dialog_headers_and_adds_tag() {
    let req = parse(REGISTER.as_bytes()).unwrap();
    let r = Message::response_to(&req, 200, Some("srv"));
    let r = parse(&r.render()).unwrap();
    assert_eq!(r.code(), Some(200));
    assert_eq!(r.method(), Some("REGISTER"));
    assert_eq!(param(r.header("To").unwrap(), "tag"), Some("srv"));
    assert_eq!(r.call_id(), req.call_id());
}

#[test]
fn body_is_content_length_bytes() {
    let raw = "INVITE sip:1002@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKb\r\nFrom: <sip:1001@h>;tag=1\r\nTo: <sip:1002@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 3\r\n\r\nv=0trailing";
    let m = parse(raw.as_bytes()).unwrap();
    assert_eq!(m.body, b"v=0");
}

#[test]
fn hostile_inputs_are_errors_not_panics() {
    let cases: &[&[u8]] = &[
        b"",
        b"\r\n\r\n",
        b"INVITE\r\n\r\n",
        b"INVITE sip:a@h SIP/3.0\r\n\r\n",
        b"SIP/2.0 99 Low\r\n\r\n",
        b"SIP/2.0 700 High\r\n\r\n",
        b"SIP/2.0 2000 OK\r\n\r\n",
        b"SIP/2.0 20x OK\r\n\r\n",
        b"INVITE sip:a@h SIP/2.0\r\nNoColon\r\n\r\n",
        b"INVITE sip:a@h SIP/2.0\r\n folded: x\r\n\r\n",
        b"INVITE sip:a@h SIP/2.0\r\nBad Name: x\r\n\r\n",
        b"INVITE sip:a@h SIP/2.0\r\nVia: x\r\n",
        b"INVITE sip:a@h SIP/2.0\r\nVia: x\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 99\r\n\r\nshort",
        b"INVITE sip:a@h SIP/2.0\r\nVia: x\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: -1\r\n\r\n",
        b"INVITE sip:a@h SIP/2.0\r\nVia: x\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: x INVITE\r\n\r\n",
        b"INVITE sip:a@h SIP/2.0\r\nVia: x\r\nFrom: a\r\nTo: b\r\nCSeq: 1 INVITE\r\n\r\n",
        b"INVITE sip:a@h SIP/2.0\r\nVia: x\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 99999999999 INVITE\r\n\r\n",
        b"\xff\xfe SIP/2.0\r\n\r\n",
        b"INVITE sip:\xc3(@h SIP/2.0\r\n\r\n",
    ];
    for c in cases {
        assert!(parse(c).is_err(), "{:?}", String::from_utf8_lossy(c));
    }
    let mut many = b"INVITE sip:a@h SIP/2.0\r\n".to_vec();
    for _ in 0..=MAX_HEADERS {
        many.extend_from_slice(b"X: y\r\n");
    }
    many.extend_from_slice(b"\r\n");
    assert_eq!(parse(&many), Err(SipError::TooManyHeaders));
    assert!(matches!(
        parse(&vec![b'a'; MAX_MESSAGE + 1]),
        Err(SipError::TooLarge(_))
    ));
}

#[test]
fn uri_helpers_on_odd_input() {
    assert_eq!(uri_user("sip:@h"), None);
    assert_eq!(uri_user("tel:1001"), None);
    assert_eq!(uri_host_port("sip:h:notaport"), None);
    assert_eq!(uri_host_port("sip:1@[::1]:5070"), Some(("::1", 5070)));
    assert_eq!(uri_host_port("sip:1@[::1"), None);
    assert_eq!(addr_uri("<unterminated"), "<unterminated");
    assert_eq!(
        instance_mac("<sip:a@h>;+sip.instance=\"<urn:uuid:1>\""),
        None
    );
    assert_eq!(instance_mac("<sip:a@h>"), None);
    assert_eq!(
        instance_mac(&format!(
            "<sip:a@h>;+sip.instance={}",
            instance_for_mac("0011AABBCCDD")
        ))
        .as_deref(),
        Some("0011AABBCCDD")
    );
}

#[test]
fn lists_and_vias() {
    assert_eq!(
        split_list("<sip:a;lr>, <sip:b,c;lr>,\"x,y\" <sip:d>"),
        vec!["<sip:a;lr>", "<sip:b,c;lr>", "\"x,y\" <sip:d>"]
    );
    assert_eq!(
        via_target("SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bK1"),
        Some(("10.0.0.9", 5070))
    );
    assert_eq!(
        via_target("SIP/2.0/UDP h;branch=z9hG4bK1;received=1.2.3.4;rport=9"),
        Some(("1.2.3.4", 9))
    );
    assert_eq!(
        via_target("SIP/2.0/UDP [::1]:5062;branch=x"),
        Some(("::1", 5062))
    );
    assert_eq!(via_target("garbage"), None);
    let joined = "INVITE sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP a:1;branch=z9hG4bKone, SIP/2.0/UDP b:2;branch=z9hG4bKtwo\r\nFrom: <sip:x@h>;tag=1\r\nTo: <sip:a@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n";
    assert_eq!(
        parse(joined.as_bytes()).unwrap().top_branch(),
        Some("z9hG4bKone")
    );
    assert_eq!(via_target("SIP/2.0/UDP h:x;branch=1"), None);
}

#[test]
fn service_control_notify_matches_the_cucm_envelope() {
    let n = service_control_notify(&ServiceControl {
        action: ServiceAction::Restart,
        contact: "sip:1001@10.0.0.9:5060",
        register_call_id: "005056bd-1@10.0.0.9",
        local: "10.0.0.1:5060",
        branch: "1",
        tag: "2",
        call_id: "3@10.0.0.1",
    });
    let text = String::from_utf8(n.render()).unwrap();
    assert!(text.starts_with("NOTIFY sip:1001@10.0.0.9:5060 SIP/2.0\r\n"));
    assert!(text.contains("Event: service-control\r\n"));
    assert!(text.contains("Subscription-State: active\r\n"));
    assert!(text.contains("Content-Type: text/plain\r\n"));
    let m = parse(text.as_bytes()).unwrap();
    assert_eq!(
        parse_service_control(&m.body),
        Some((ServiceAction::Restart, "005056bd-1@10.0.0.9".to_owned()))
    );
}

#[test]
fn the_tac_capture_parses() {
    let cap = "NOTIFY sip:0008@10.106.120.5:51038 SIP/2.0\r\nVia: SIP/2.0/TCP 10.106.120.2:5060;branch=z9hG4bK1273e54f34755\r\nFrom: <sip:10.106.120.2>;tag=1284645402\r\nTo: <sip:0008@10.106.120.5>\r\nCall-ID: e7fc3880-1ed10efb-12732-2786a0a@10.106.120.2\r\nCSeq: 101 NOTIFY\r\nMax-Forwards: 70\r\nDate: Fri, 30 Jul 2021 05:42:22 GMT\r\nUser-Agent: Cisco-CUCM12.5\r\nEvent: service-control\r\nSubscription-State: active\r\nContact: <sip:10.106.120.2:5060;transport=tcp>\r\nContent-Type: text/plain\r\nContent-Length: 86\r\n\r\naction=prt-report\r\nRegisterCallId={005056bd-e9d90009-00000f98-000014d7@10.106.120.5}\r\n";
    let m = parse(cap.as_bytes()).unwrap();
    assert_eq!(m.body.len(), 86);
    assert_eq!(m.header("Event"), Some("service-control"));
    // prt-report is not an action emroam phones act on.
    assert_eq!(parse_service_control(&m.body), None);
}
