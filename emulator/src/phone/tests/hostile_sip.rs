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
