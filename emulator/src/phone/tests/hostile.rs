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
        1 => Just(Err(HttpFailure::Refused)),
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
