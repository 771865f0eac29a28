//! SIP digest authentication (a phone security profile with "Enable Digest Authentication"):
//! a REGISTER without credentials is challenged, the digest user's credentials register the
//! phone, a wrong password, a stale nonce or a hostile header neither registers nor removes
//! the binding, each counted in `/metrics`; a phone without the profile registers as before.

use std::time::Duration;

use emroam_protocol::sip::digest::{Challenge, REALM};
use emroam_protocol::sip::{self, Message};
use emroam_server::Options;
use tokio::time::Instant;

use crate::sip::Ua;
use crate::sip_metrics::{ctx_of, scrape};
use crate::util::{P1, TOPO, live};

/// The phone whose security profile has digest on; its digest user is frank.
pub const SECURE: &str = "SEP0000000D1000";

/// [`TOPO`] with a digest security profile, frank's digest credentials and [`SECURE`].
pub fn topo() -> String {
    TOPO.replace(
        "id = \"frank\"\npin = \"5555\"",
        "id = \"frank\"\npin = \"5555\"\ndigest_credentials = \"frank-digest\"",
    ) + r#"
[[security_profile]]
name = "Cisco 8865 - Digest"
digest_authentication = true
nonce_validity_time = 300

[[phone]]
name = "SEP0000000D1000"
cluster = "c1"
logout_profile = "lobby"
security_profile = "Cisco 8865 - Digest"
digest_user = "frank"
"#
}

/// Handles `m` as from `ua` (no socket: [`emroam_server::sip::Sip::handle`]); the reply.
fn ask(sip: &emroam_server::sip::Sip, ua: &Ua, m: &Message, now: Instant) -> Message {
    let out = sip.handle(&m.render(), ua.me(), now);
    assert_eq!(out.len(), 1, "one reply");
    sip::parse(&out[0].0).unwrap()
}

fn challenge_of(r: &Message) -> Challenge {
    assert_eq!(r.code(), Some(401), "{r:?}");
    Challenge::parse(r.header("WWW-Authenticate").expect("a challenge")).unwrap()
}

#[tokio::test]
async fn digest_protects_a_phones_registration() {
    let l = live(&topo(), Options::default()).await;
    let s = l.sip().unwrap();
    let ctx = ctx_of(&l);
    let before = scrape(&ctx).await;
    let now = Instant::now();
    let mut phone = Ua::new(SECURE, "127.0.0.1:5060".parse().unwrap()).await;
    let uri = "sip:127.0.0.1:5060";

    // No credentials: 401 with CUCM's realm, MD5 and qop=auth; nothing registered.
    let m = phone.register_msg("9000001", "r1", 3600);
    let r = ask(&s, &phone, &m, now);
    let ch = challenge_of(&r);
    assert_eq!(
        (ch.realm.as_str(), ch.qop_auth, ch.stale),
        (REALM, true, false)
    );
    assert!(
        r.header("WWW-Authenticate")
            .unwrap()
            .contains("algorithm=MD5")
    );
    assert_eq!(s.registered_device("9000001"), None);

    // The digest user's credentials: 200 and the binding.
    let right = |nc| {
        ch.answer("frank", "frank-digest", "REGISTER", uri, "c0ffee", nc)
            .to_string()
    };
    let m = phone
        .register_msg("9000001", "r1", 3600)
        .with("Authorization", right(1));
    assert_eq!(ask(&s, &phone, &m, now).code(), Some(200));
    assert_eq!(s.registered_device("9000001").as_deref(), Some(SECURE));

    // Someone who knows the MAC: without credentials, with a wrong password, with another
    // user's name, or unregistering, they are challenged again and the line stays.
    let mut thief = Ua::new(SECURE, "127.0.0.1:5060".parse().unwrap()).await;
    let wrong = ch
        .answer("frank", "guess", "REGISTER", uri, "x", 7)
        .to_string();
    let other = ch
        .answer("bob", "frank-digest", "REGISTER", uri, "x", 8)
        .to_string();
    for (auth, expires) in [
        (None, 3600),
        (Some(wrong), 3600),
        (Some(other.clone()), 3600),
        (Some(other), 0),
    ] {
        let mut m = thief.register_msg("9000001", "t1", expires);
        if let Some(a) = auth {
            m = m.with("Authorization", a);
        }
        let ch = challenge_of(&ask(&s, &thief, &m, now));
        assert!(!ch.stale);
        assert_eq!(s.registered_device("9000001").as_deref(), Some(SECURE));
    }

    // A replayed nonce count, or a nonce past its lifetime: 401 stale=true.
    let m = phone
        .register_msg("9000001", "r1", 3600)
        .with("Authorization", right(1));
    assert!(challenge_of(&ask(&s, &phone, &m, now)).stale, "replay");
    let later = now + Duration::from_secs(301);
    let m = phone
        .register_msg("9000001", "r1", 3600)
        .with("Authorization", right(2));
    let fresh = challenge_of(&ask(&s, &phone, &m, later));
    assert!(fresh.stale, "expired nonce");
    let again = fresh
        .answer("frank", "frank-digest", "REGISTER", uri, "c0ffee", 1)
        .to_string();
    let m = phone
        .register_msg("9000001", "r1", 3600)
        .with("Authorization", again);
    assert_eq!(
        ask(&s, &phone, &m, later).code(),
        Some(200),
        "the new nonce works"
    );

    // Hostile headers: 400 (unparsable) or 401, never a panic, the binding unchanged.
    let long = "a".repeat(3000);
    let hostile = [
        "Digest".to_owned(),
        "Basic Zm9vOmJhcg==".to_owned(),
        "Digest username=\"frank".to_owned(),
        "Digest username=frank,,".to_owned(),
        format!("Digest username=\"{long}\""),
        format!("Digest {}", "a=b,".repeat(500)),
        "Digest username=\"frank\", realm=\"ccmsipline\", nonce=\"ffffffffffffffffff.00\", uri=\"sip:x\", response=\"0\"".to_owned(),
        "Digest username=\"frank\", username=\"bob\"".to_owned(),
        "Digest username=\"frank\", realm=\"ccmsipline\", nonce=\"1\", uri=\"u\", response=\"r\", algorithm=SHA-512".to_owned(),
        "Digest username=\"frank\", realm=\"ccmsipline\", nonce=\"1\", uri=\"u\", response=\"r\", qop=auth, nc=zz, cnonce=\"c\"".to_owned(),
    ];
    for h in &hostile {
        let m = thief
            .register_msg("9000001", "t2", 0)
            .with("Authorization", h.clone());
        let code = ask(&s, &thief, &m, later).code().unwrap();
        assert!(code == 400 || code == 401, "{h:.60}: {code}");
        assert_eq!(s.registered_device("9000001").as_deref(), Some(SECURE));
    }

    // A phone without the security profile registers without credentials, as before.
    let mut plain = Ua::new(P1, "127.0.0.1:5060".parse().unwrap()).await;
    let m = plain.register_msg(P1, "p1", 3600);
    assert_eq!(ask(&s, &plain, &m, now).code(), Some(200));

    let after = scrape(&ctx).await;
    let d = crate::sip_metrics::diff(&before.prom, &after.prom);
    let c = "cluster=\"c1\"";
    assert_eq!(
        d[&format!("emroam_sip_auth_challenges_total{{{c}}}")],
        2,
        "{d:?}"
    );
    assert_eq!(
        d[&format!("emroam_sip_auth_failures_total{{{c},reason=\"wrong\"}}")],
        4,
        "{d:?}"
    );
    assert_eq!(
        d[&format!("emroam_sip_auth_failures_total{{{c},reason=\"stale\"}}")],
        2,
        "{d:?}"
    );
    assert_eq!(
        d[&format!("emroam_sip_auth_failures_total{{{c},reason=\"malformed\"}}")],
        9,
        "{d:?}"
    );
    assert_eq!(after.json["auth_wrong"], before.json["auth_wrong"] + 4);
    l.shutdown().await;
}
