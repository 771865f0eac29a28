//! The user agent alone: datagrams in, datagrams out.

use super::call::tag_mac;
use super::*;

fn sent(out: &[PhoneAction]) -> Vec<Message> {
    out.iter()
        .filter_map(|a| match a {
            PhoneAction::SendSip { datagram, .. } => Some(sip::parse(datagram).unwrap()),
            _ => None,
        })
        .collect()
}

fn t0() -> Instant {
    Instant::now()
}

#[test]
fn registers_each_line_with_its_mac_and_reads_the_answers() {
    let now = t0();
    let mut ua = SipUa::new("SEP0011AABBCCDD", "127.0.0.9:5062");
    let mut out = Vec::new();
    let ids = ua.register_all(
        "127.0.0.1:5060",
        &["1000".into(), "1001".into()],
        now,
        &mut out,
    );
    let regs = sent(&out);
    assert_eq!(regs.len(), 2);
    let c = regs[0].header("Contact").unwrap();
    assert_eq!(sip::instance_mac(c).as_deref(), Some("0011AABBCCDD"));
    assert!(c.contains("+u.sip!devicename.ccm.cisco.com=\"SEP0011AABBCCDD\""));
    assert!(!ua.is_registered());
    let ok = Message::response_to(&regs[0], 200, Some("s"))
        .with("Contact", "<sip:x@127.0.0.9:5062>;expires=120")
        .render();
    let got = ua.on_datagram(&ok, now, &mut Vec::new());
    assert_eq!(
        got,
        SipInput::RegisterAnswer {
            call_id: ids[0].clone(),
            code: 200
        }
    );
    assert_eq!(ua.registered_lines(), ["1000"]);
    // 90 % of the 120 s granted.
    assert_eq!(ua.refresh_at(), Some(now + Duration::from_secs(108)));
    // No lines: the device name registers.
    let mut out = Vec::new();
    ua.register_all("127.0.0.1:5060", &[], now, &mut out);
    assert_eq!(
        sip::uri_user(sip::addr_uri(sent(&out)[0].header("To").unwrap())),
        Some("SEP0011AABBCCDD")
    );
}

#[test]
fn a_refresh_keeps_the_call_id_and_raises_the_cseq() {
    let now = t0();
    let mut ua = SipUa::new("SEP0011AABBCCDD", "127.0.0.9:5062");
    let mut out = Vec::new();
    ua.register_all("127.0.0.1:5060", &["1000".into()], now, &mut out);
    let first = sent(&out).remove(0);
    let mut out = Vec::new();
    let ids = ua.refresh(now, &mut out);
    let again = sent(&out).remove(0);
    assert_eq!(ids, [first.call_id().to_owned()]);
    assert_eq!(again.call_id(), first.call_id());
    assert_eq!(again.cseq(), Some((102, "REGISTER")));
    assert_ne!(again.top_branch(), first.top_branch());
    // Never registered: nothing to refresh.
    let mut fresh = SipUa::new("SEP0011AABBCCDE", "127.0.0.9:5062");
    assert!(fresh.refresh(now, &mut Vec::new()).is_empty());
}

#[test]
fn requests_are_sent_again_on_rfc3261_timers_until_answered() {
    let now = t0();
    let mut ua = SipUa::new("SEP0011AABBCCDD", "127.0.0.9:5062");
    let mut out = Vec::new();
    ua.register_all("127.0.0.1:5060", &["1000".into()], now, &mut out);
    let reg = sent(&out).remove(0);
    let ms = |n| now + Duration::from_millis(n);
    // Non-INVITE: 0.5, 1, 2, 4 s apart, capped at T2, until REGISTER_WAIT.
    let mut at = Vec::new();
    let mut t = now;
    while let Some(next) = ua.next_timer() {
        t = next;
        let mut out = Vec::new();
        ua.on_timer(t, &mut out);
        if out.is_empty() {
            break;
        }
        assert_eq!(sent(&out)[0].top_branch(), reg.top_branch());
        at.push(t);
    }
    assert_eq!(at, [ms(500), ms(1500), ms(3500)]);
    assert!(t >= ms(5000) || ua.next_timer().is_none());
    assert_eq!(ua.retransmissions(), 3);
    // An answer stops it.
    let mut out = Vec::new();
    ua.register_all("127.0.0.1:5060", &["1000".into()], now, &mut out);
    let reg = sent(&out).remove(0);
    let ok = Message::response_to(&reg, 200, Some("s")).render();
    ua.on_datagram(&ok, now, &mut Vec::new());
    assert_eq!(ua.next_timer(), None);
}

#[test]
fn an_invite_is_sent_again_uncapped_until_a_provisional_answer() {
    let now = t0();
    let mut ua = SipUa::new("SEP0011AABBCCDD", "127.0.0.9:5062");
    let mut out = Vec::new();
    ua.register_all("127.0.0.1:5060", &["1000".into()], now, &mut out);
    let ok = Message::response_to(&sent(&out)[0], 200, Some("s")).render();
    ua.on_datagram(&ok, now, &mut Vec::new());
    let mut out = Vec::new();
    assert!(ua.invite("2000", Duration::ZERO, now, &mut out));
    let inv = sent(&out).remove(0);
    let mut times = Vec::new();
    for _ in 0..4 {
        let t = ua.next_timer().unwrap();
        ua.on_timer(t, &mut Vec::new());
        times.push(t.duration_since(now).as_millis());
    }
    assert_eq!(times, [500, 1500, 3500, 7500]);
    let trying = Message::response_to(&inv, 100, None).render();
    assert_eq!(
        ua.on_datagram(&trying, now, &mut Vec::new()),
        SipInput::CallAnswer { code: 100 }
    );
    assert_eq!(ua.next_timer(), None);
}

#[test]
fn a_notify_restarts_only_with_our_register_call_id() {
    let now = t0();
    let mut ua = SipUa::new("SEP0011AABBCCDD", "127.0.0.9:5062");
    let mut out = Vec::new();
    let ids = ua.register_all("127.0.0.1:5060", &["1000".into()], now, &mut out);
    let notify = |id: &str| {
        sip::service_control_notify(&sip::ServiceControl {
            action: sip::ServiceAction::Restart,
            contact: "sip:00000000-0000-0000-0000-0011aabbccdd@127.0.0.9:5062",
            register_call_id: id,
            local: "127.0.0.1:5060",
            branch: "-x",
            tag: "t",
            call_id: "n1",
        })
        .render()
    };
    assert_eq!(addressee(&notify("x")).as_deref(), Some("0011aabbccdd"));
    let mut out = Vec::new();
    assert_eq!(
        ua.on_datagram(&notify("someone-else"), now, &mut out),
        SipInput::Other
    );
    assert_eq!(sent(&out)[0].code(), Some(400));
    let mut out = Vec::new();
    assert_eq!(
        ua.on_datagram(&notify(&ids[0]), now, &mut out),
        SipInput::Restart
    );
    assert_eq!(sent(&out)[0].code(), Some(200));
    assert!(matches!(&out[0], PhoneAction::SendSip { to, .. } if to == "127.0.0.1:5060"));
    assert_eq!(
        ua.on_datagram(b"garbage", now, &mut Vec::new()),
        SipInput::Other
    );
}

fn invite(call_id: &str) -> Vec<u8> {
    Message::request(
        "INVITE",
        "sip:00000000-0000-0000-0000-0011aabbccdd@127.0.0.9:5062",
    )
    .with("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-em-1")
    .with("Record-Route", "<sip:127.0.0.1:5060;lr>")
    .with("From", "<sip:2000@127.0.0.1>;tag=c")
    .with("To", "<sip:1000@127.0.0.1>")
    .with("Call-ID", call_id)
    .with("CSeq", "1 INVITE")
    .with("Contact", "<sip:2000@127.0.0.8:5070>")
    .render()
}

#[test]
fn rings_answers_after_the_ring_time_and_is_busy_for_a_second_call() {
    let now = t0();
    let mut ua = SipUa::new("SEP0011AABBCCDD", "127.0.0.9:5062");
    assert_eq!(addressee(&invite("one")).as_deref(), Some("0011aabbccdd"));
    let mut out = Vec::new();
    assert_eq!(
        ua.on_datagram(&invite("one"), now, &mut out),
        SipInput::Offered
    );
    assert!(out.is_empty());
    assert!(!ua.offer_is_declined());
    assert!(ua.ring(&mut out));
    assert_eq!(sent(&out)[0].code(), Some(180));
    // A retransmitted INVITE gets the 180 again; a second call gets 486.
    let mut out = Vec::new();
    ua.on_datagram(&invite("one"), now, &mut out);
    assert_eq!(sent(&out)[0].code(), Some(180));
    let mut out = Vec::new();
    ua.on_datagram(&invite("two"), now, &mut out);
    assert_eq!(sent(&out)[0].code(), Some(486));
    let mut out = Vec::new();
    assert!(ua.answer(now, &mut out));
    let ok = sent(&out).remove(0);
    assert_eq!(ok.code(), Some(200));
    assert!(ok.header("Record-Route").is_some());
    assert_eq!(
        tag_mac(ok.header("To").unwrap()).as_deref(),
        Some("0011aabbccdd")
    );
    // The 200 is sent again until the ACK.
    let t = ua.next_timer().unwrap();
    let mut out = Vec::new();
    ua.on_timer(t, &mut out);
    assert_eq!(sent(&out)[0].code(), Some(200));
    let ack = Message::request("ACK", "sip:x@127.0.0.9:5062")
        .with("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-em-3")
        .with("From", "<sip:2000@127.0.0.1>;tag=c")
        .with("To", "<sip:1000@127.0.0.1>;tag=x")
        .with("Call-ID", "one")
        .with("CSeq", "1 ACK")
        .render();
    assert_eq!(ua.on_datagram(&ack, now, &mut Vec::new()), SipInput::Ack);
    assert_eq!(ua.next_timer(), None);
    assert_eq!(ua.answered_calls(), 1);
    let bye = Message::request("BYE", "sip:x@127.0.0.9:5062")
        .with("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-em-2")
        .with("From", "<sip:2000@127.0.0.1>;tag=c")
        .with("To", "<sip:1000@127.0.0.1>;tag=x")
        .with("Call-ID", "one")
        .with("CSeq", "2 BYE")
        .render();
    let mut out = Vec::new();
    assert_eq!(ua.on_datagram(&bye, now, &mut out), SipInput::ByeReceived);
    assert_eq!(sent(&out)[0].code(), Some(200));
    assert!(!ua.in_call());
}

#[test]
fn a_cancelled_ringing_call_gets_200_and_487() {
    let now = t0();
    let mut ua = SipUa::new("SEP0011AABBCCDD", "127.0.0.9:5062");
    ua.on_datagram(&invite("one"), now, &mut Vec::new());
    ua.ring(&mut Vec::new());
    let cancel = Message::request("CANCEL", "sip:x@127.0.0.9:5062")
        .with("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-em-1")
        .with("From", "<sip:2000@127.0.0.1>;tag=c")
        .with("To", "<sip:1000@127.0.0.1>")
        .with("Call-ID", "one")
        .with("CSeq", "1 CANCEL")
        .render();
    let mut out = Vec::new();
    assert_eq!(ua.on_datagram(&cancel, now, &mut out), SipInput::Cancelled);
    let codes: Vec<_> = sent(&out).iter().filter_map(Message::code).collect();
    assert_eq!(codes, [487, 200]);
    assert!(!ua.in_call());
}

#[test]
fn the_busy_share_declines_that_share_of_calls_repeatably() {
    let now = t0();
    let mut ua = SipUa::new("SEP0011AABBCCDD", "127.0.0.9:5062");
    ua.set_policy(AnswerPolicy {
        busy_share: 0.25,
        ..AnswerPolicy::default()
    });
    let mut declined = 0;
    for i in 0..2000 {
        ua.on_datagram(&invite(&format!("call-{i}")), now, &mut Vec::new());
        if ua.offer_is_declined() {
            declined += 1;
        }
        let mut out = Vec::new();
        ua.reject(486, &mut out);
        assert_eq!(sent(&out)[0].code(), Some(486));
    }
    assert!((400..600).contains(&declined), "{declined}");
}

#[test]
fn responses_are_addressed_by_our_via_branch_or_call_id() {
    let now = t0();
    let mut ua = SipUa::new("SEP0011AABBCCDD", "127.0.0.9:5062");
    let mut out = Vec::new();
    ua.register_all("127.0.0.1:5060", &["1000".into()], now, &mut out);
    let ok = Message::response_to(&sent(&out)[0], 200, Some("s")).render();
    assert_eq!(addressee(&ok).as_deref(), Some("0011aabbccdd"));
    for hostile in [
        &b""[..],
        b"SIP/2.0 200 OK\r\n\r\n",
        b"INVITE sip:short@x SIP/2.0\r\nCall-ID: 1\r\n\r\n",
        b"INVITE sip:zzzzzzzzzzzz@x SIP/2.0\r\nVia: SIP/2.0/UDP a:1;branch=z9hG4bK1\r\nCall-ID: 1\r\nCSeq: 1 INVITE\r\nFrom: <sip:a@b>\r\nTo: <sip:c@d>\r\n\r\n",
    ] {
        assert_eq!(addressee(hostile), None);
    }
}

#[test]
fn a_digest_challenge_is_answered_once_with_the_next_cseq() {
    use emroam_protocol::sip::digest::{Challenge, Credentials};
    let now = t0();
    let mut ua = SipUa::new("SEP0011AABBCCDD", "127.0.0.9:5062");
    ua.set_digest(Arc::new(DigestCredentials {
        user: "bob".into(),
        password: "pw".into(),
    }));
    let challenge = |req: &Message, nonce: &str, stale: bool| {
        let ch = Challenge {
            realm: "ccmsipline".into(),
            nonce: nonce.into(),
            opaque: None,
            qop_auth: true,
            stale,
        };
        Message::response_to(req, 401, Some("s"))
            .with("WWW-Authenticate", ch.to_string())
            .render()
    };
    let mut out = Vec::new();
    let ids = ua.register_all("127.0.0.1:5060", &["1000".into()], now, &mut out);
    let first = sent(&out).remove(0);
    assert_eq!(first.header("Authorization"), None);
    // 401: sent again at once with credentials, CSeq 102; not an answer for the phone yet.
    let mut out = Vec::new();
    let got = ua.on_datagram(&challenge(&first, "n1", false), now, &mut out);
    assert_eq!(got, SipInput::Other);
    let second = sent(&out).remove(0);
    assert_eq!(second.cseq(), Some((102, "REGISTER")));
    assert_eq!(second.call_id(), first.call_id());
    let cred = Credentials::parse(second.header("Authorization").unwrap()).unwrap();
    assert_eq!((cred.username.as_str(), cred.nonce.as_str()), ("bob", "n1"));
    assert_eq!(cred.uri, "sip:127.0.0.1:5060");
    assert_eq!(cred.response, cred.expected("pw", "REGISTER"));
    // A stale nonce: once more with the new one.
    let mut out = Vec::new();
    assert_eq!(
        ua.on_datagram(&challenge(&second, "n2", true), now, &mut out),
        SipInput::Other
    );
    let third = sent(&out).remove(0);
    assert_eq!(third.cseq(), Some((103, "REGISTER")));
    // Refused again, not stale: the credentials are wrong; the phone is told 401.
    let got = ua.on_datagram(&challenge(&third, "n3", false), now, &mut Vec::new());
    assert_eq!(
        got,
        SipInput::RegisterAnswer {
            call_id: ids[0].clone(),
            code: 401
        }
    );
    assert!(!ua.is_registered());
    // A refresh carries the last nonce with the next nonce count, before any challenge.
    let ok = Message::response_to(&third, 200, Some("s")).render();
    ua.on_datagram(&ok, now, &mut Vec::new());
    let mut out = Vec::new();
    ua.refresh(now, &mut out);
    let refresh = sent(&out).remove(0);
    let cred = Credentials::parse(refresh.header("Authorization").unwrap()).unwrap();
    assert_eq!((cred.nonce.as_str(), cred.nc()), ("n3", Some(1)));
    // Without credentials a 401 is the phone's answer at once.
    let mut plain = SipUa::new("SEP0011AABBCCDE", "127.0.0.9:5062");
    let mut out = Vec::new();
    plain.register_all("127.0.0.1:5060", &["1001".into()], now, &mut out);
    let req = sent(&out).remove(0);
    assert!(matches!(
        plain.on_datagram(&challenge(&req, "n", false), now, &mut Vec::new()),
        SipInput::RegisterAnswer { code: 401, .. }
    ));
}
