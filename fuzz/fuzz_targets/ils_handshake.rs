//! Fuzz the ILS handshake in its order (Hello → Challenge → Auth → Welcome: the dialer proves
//! first). The first byte picks where the fuzzed frames go; the steps before it are genuine, so
//! the fuzzer reaches the listener's proof check and the dialer's. Besides never panicking:
//! nothing made without the password is accepted, and a listener answers a dialer that has not
//! proved the password alike whatever its password (nothing to test guesses against offline).
#![no_main]

use emroam_protocol::ils::{self, Accept, ClusterInfo, Dial, Frame, Role};
use libfuzzer_sys::fuzz_target;

const PW: &str = "the password";
const OTHER: &str = "another password";

fn info(id: &str, role: Role) -> ClusterInfo {
    ClusterInfo {
        cluster_id: id.into(),
        route_string: format!("{id}.route"),
        role,
    }
}

fn frame(h: &ils::Handshake) -> Frame {
    ils::decode_frame(&h.encode(), usize::MAX)
        .ok()
        .flatten()
        .map(|(f, _)| f)
        .expect("an encoded handshake decodes")
}

fn frames(mut buf: &[u8]) -> Vec<Frame> {
    let mut out = Vec::new();
    while let Ok(Some((f, used))) = ils::decode_frame(buf, 64 * 1024) {
        buf = &buf[used..];
        out.push(f);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, rest)) = data.split_first() else {
        return;
    };
    let fuzzed = frames(rest);
    let listener = || Accept::new(info("cluster2", Role::Hub), [2; ils::NONCE_LEN]);
    let dialer = || Dial::new(info("cluster3", Role::Spoke), "cluster2", [1; ils::NONCE_LEN]);
    match step % 4 {
        // The listener, from the start: two listeners with different passwords answer alike.
        0 => {
            let (mut a, mut b) = (listener(), listener());
            let mut hello_ok = false;
            for f in &fuzzed {
                if !hello_ok {
                    let (ra, rb) = (a.hello(f), b.hello(f));
                    assert_eq!(ra, rb);
                    hello_ok = ra.is_ok();
                    assert_eq!(a.challenge().encode(), b.challenge().encode());
                } else if let Err(e) = a.auth(f, PW) {
                    // (An Ok here is an Auth made with the password: then the answers differ.)
                    assert_eq!(Err(e), b.auth(f, OTHER).map(|_| ()));
                }
            }
        }
        // A genuine Hello, then fuzzed Auths: only the genuine one is accepted.
        1 => {
            let mut a = listener();
            let mut d = dialer();
            a.hello(&frame(&d.hello())).expect("a genuine hello");
            let genuine = frame(&d.challenge(&frame(&a.challenge()), PW).expect("a challenge"));
            for f in &fuzzed {
                assert!(a.auth(f, PW).is_err() || f == &genuine, "an Auth made without the password");
            }
        }
        // The dialer: a fuzzed Challenge, then fuzzed Welcomes. This dialer's nonce is used
        // nowhere else, so no genuine Welcome for it exists to replay: one needs the password.
        2 => {
            let mut d = Dial::new(info("cluster3", Role::Spoke), "cluster2", [3; ils::NONCE_LEN]);
            let mut it = fuzzed.iter();
            if let Some(f) = it.next()
                && d.challenge(f, PW).is_ok()
            {
                for f in it {
                    assert!(d.welcome(f, PW).is_err(), "a Welcome made without the password");
                }
            }
        }
        // A genuine Challenge, then fuzzed Welcomes; the genuine Welcome still works after.
        _ => {
            let mut a = listener();
            let mut d = dialer();
            a.hello(&frame(&d.hello())).expect("a genuine hello");
            let auth = d
                .challenge(&frame(&a.challenge()), PW)
                .expect("a genuine challenge");
            let (welcome, key) = a.auth(&frame(&auth), PW).expect("the genuine proof");
            for f in &fuzzed {
                let genuine = f.body == frame(&welcome).body;
                assert!(d.welcome(f, PW).is_err() || genuine, "a Welcome made without the password");
            }
            let key2 = d.welcome(&frame(&welcome), PW).expect("the genuine welcome");
            assert_eq!(key, key2);
        }
    }
});
