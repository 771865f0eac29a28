//! Fuzz the SIP digest header parsers: any `Authorization` or `WWW-Authenticate` value gives
//! credentials, a challenge or a `DigestError`, never a panic; what parses renders and parses
//! back to itself when its values need no escaping.
#![no_main]

use emroam_protocol::sip::digest::{Challenge, Credentials};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let plain = |s: &str| !s.contains(['"', '\\']);
    if let Ok(c) = Credentials::parse(text) {
        let _ = (c.nc(), c.expected("pw", "REGISTER"));
        let all = [&c.username, &c.realm, &c.nonce, &c.uri, &c.response];
        if all.iter().all(|s| plain(s)) && c.opaque.as_deref().is_none_or(plain)
            && c.qop.as_ref().is_none_or(|(_, cn)| plain(cn))
        {
            assert_eq!(Credentials::parse(&c.to_string()).as_ref(), Ok(&c));
        }
    }
    if let Ok(ch) = Challenge::parse(text) {
        let a = ch.answer("u", "p", "INVITE", "sip:x", "c", 1);
        let _ = a.to_string();
        if plain(&ch.realm) && plain(&ch.nonce) && ch.opaque.as_deref().is_none_or(plain) {
            assert_eq!(Challenge::parse(&ch.to_string()).as_ref(), Ok(&ch));
        }
    }
});
