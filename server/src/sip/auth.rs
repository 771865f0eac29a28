//! Digest authentication of a phone whose security profile has "Enable Digest Authentication"
//! (REGISTER challenged with 401 `WWW-Authenticate`), checked against its digest user's
//! digest credentials. (CUCM also challenges INVITE with 407; not done yet.)
//!
//! Nonces are stateless: the time they were made and an HMAC of it under a key drawn at start,
//! so a flood of unauthenticated requests leaves nothing behind. Only nonces that carried right
//! credentials are remembered (their highest `nc`, to refuse replays), at most [`SEEN_MAX`]
//! of them. Passwords and responses are never logged.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use emroam_protocol::sip::Message;
use emroam_protocol::sip::digest::{self, Challenge, Credentials};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use tokio::time::Instant;

use crate::sync::LockExt;

/// Most nonces whose nonce count is remembered.
pub(super) const SEEN_MAX: usize = 16_384;

/// What a request's credentials came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Right credentials with a fresh nonce.
    Ok,
    /// No credentials: challenge.
    Missing,
    /// Credentials for a nonce that expired (or was replayed): challenge with `stale=true`.
    Stale,
    /// Wrong user, password, realm, uri or nonce: challenge again.
    Wrong,
    /// An authentication header that does not parse: 400.
    Malformed,
}

/// The registrar's digest state: the nonce key and the nonces seen.
#[derive(Debug)]
pub(super) struct Auth {
    key: [u8; 32],
    /// Nonce times count from here.
    epoch: Instant,
    seen: std::sync::Mutex<Seen>,
}

/// Nonce → highest nonce count accepted, oldest first out.
#[derive(Debug, Default)]
struct Seen {
    nc: HashMap<String, u32>,
    order: VecDeque<String>,
}

impl Auth {
    pub(super) fn new() -> Auth {
        Auth {
            key: crate::secret::random(),
            epoch: Instant::now(),
            seen: std::sync::Mutex::new(Seen::default()),
        }
    }

    fn mac(&self, secs: u64) -> String {
        let mut m = <Hmac<Sha256>>::new_from_slice(&self.key).expect("any key length");
        m.update(&secs.to_be_bytes());
        m.finalize().into_bytes()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// A fresh challenge.
    pub(super) fn challenge(&self, now: Instant, stale: bool) -> Challenge {
        let secs = now.saturating_duration_since(self.epoch).as_secs();
        Challenge {
            realm: digest::REALM.to_owned(),
            nonce: format!("{secs:x}.{}", self.mac(secs)),
            opaque: None,
            qop_auth: true,
            stale,
        }
    }

    /// Whether `nonce` is ours (`Some(fresh)`: younger than `validity`), or not (`None`).
    fn nonce_fresh(&self, nonce: &str, validity: Duration, now: Instant) -> Option<bool> {
        let (t, mac) = nonce.split_once('.')?;
        if t.len() > 16 {
            return None;
        }
        let secs = u64::from_str_radix(t, 16).ok()?;
        if !crate::secret::same(mac.as_bytes(), self.mac(secs).as_bytes()) {
            return None;
        }
        let age = now
            .saturating_duration_since(self.epoch)
            .saturating_sub(Duration::from_secs(secs));
        Some(age < validity)
    }

    /// Checks `req`'s `header` (`Authorization` or `Proxy-Authorization`) against the
    /// digest user `user` and their `password` (`None`: the user has none here); nonces older
    /// than `validity` are stale.
    pub(super) fn verify(
        &self,
        req: &Message,
        header: &str,
        (user, password): (&str, Option<&str>),
        validity: Duration,
        now: Instant,
    ) -> Verdict {
        let Some(value) = req.header(header) else {
            return Verdict::Missing;
        };
        let Ok(cred) = Credentials::parse(value) else {
            return Verdict::Malformed;
        };
        let method = req.method().unwrap_or("");
        let uri = match &req.start {
            emroam_protocol::sip::StartLine::Request { uri, .. } => uri.as_str(),
            emroam_protocol::sip::StartLine::Response { .. } => "",
        };
        let Some(fresh) = self.nonce_fresh(&cred.nonce, validity, now) else {
            return Verdict::Wrong;
        };
        let right = password.is_some_and(|pw| {
            // Every comparison is made, so the time taken says nothing of which failed.
            let resp = crate::secret::same(
                cred.response.as_bytes(),
                cred.expected(pw, method).as_bytes(),
            );
            let who = crate::secret::same(cred.username.as_bytes(), user.as_bytes());
            resp & who & (cred.realm == digest::REALM) & (cred.uri == uri)
        });
        if !right {
            return Verdict::Wrong;
        }
        if !fresh {
            return Verdict::Stale;
        }
        match cred.nc() {
            Some(nc) if !self.note_nc(&cred.nonce, nc) => Verdict::Stale,
            _ => Verdict::Ok,
        }
    }

    /// Records `nc` for `nonce`; false when it is not above the last one (a replay).
    fn note_nc(&self, nonce: &str, nc: u32) -> bool {
        let mut s = self.seen.locked();
        if let Some(last) = s.nc.get_mut(nonce) {
            if nc <= *last {
                return false;
            }
            *last = nc;
            return true;
        }
        if s.order.len() >= SEEN_MAX
            && let Some(old) = s.order.pop_front()
        {
            s.nc.remove(&old);
        }
        s.order.push_back(nonce.to_owned());
        s.nc.insert(nonce.to_owned(), nc);
        true
    }

    /// How many nonces are remembered (bounded by [`SEEN_MAX`]).
    #[cfg(test)]
    pub(super) fn seen_len(&self) -> usize {
        self.seen.locked().nc.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn register(auth: Option<String>) -> Message {
        let mut m = Message::request("REGISTER", "sip:127.0.0.1:5060")
            .with("Via", "SIP/2.0/UDP 127.0.0.9:5060;branch=z9hG4bK1")
            .with("From", "<sip:1000001@127.0.0.1>;tag=1")
            .with("To", "<sip:1000001@127.0.0.1>")
            .with("Call-ID", "c")
            .with("CSeq", "1 REGISTER");
        if let Some(a) = auth {
            m = m.with("Authorization", a);
        }
        m
    }

    #[tokio::test(start_paused = true)]
    async fn nonces_expire_replays_are_stale_and_memory_is_bounded() {
        let a = Auth::new();
        let now = Instant::now();
        let ch = a.challenge(now, false);
        let ans = |nc| {
            ch.answer("bob", "pw", "REGISTER", "sip:127.0.0.1:5060", "cn", nc)
                .to_string()
        };
        let validity = Duration::from_secs(600);
        let v = |m: &Message, t| a.verify(m, "Authorization", ("bob", Some("pw")), validity, t);
        assert_eq!(v(&register(None), now), Verdict::Missing);
        assert_eq!(v(&register(Some(ans(1))), now), Verdict::Ok);
        assert_eq!(
            v(&register(Some(ans(1))), now),
            Verdict::Stale,
            "replayed nc"
        );
        assert_eq!(v(&register(Some(ans(2))), now), Verdict::Ok);
        let later = now + validity + Duration::from_secs(1);
        assert_eq!(v(&register(Some(ans(3))), later), Verdict::Stale);
        let wrong = ch.answer("bob", "px", "REGISTER", "sip:127.0.0.1:5060", "cn", 9);
        assert_eq!(v(&register(Some(wrong.to_string())), now), Verdict::Wrong);
        let other = ch.answer("alice", "pw", "REGISTER", "sip:127.0.0.1:5060", "cn", 9);
        assert_eq!(v(&register(Some(other.to_string())), now), Verdict::Wrong);
        let forged = Challenge {
            nonce: "0.00".into(),
            ..ch.clone()
        }
        .answer("bob", "pw", "REGISTER", "sip:127.0.0.1:5060", "cn", 1);
        assert_eq!(v(&register(Some(forged.to_string())), now), Verdict::Wrong);
        assert_eq!(
            v(&register(Some("Digest username=\"bob".into())), now),
            Verdict::Malformed
        );
        for i in 0..SEEN_MAX + 10 {
            assert!(a.note_nc(&format!("n{i}"), 1));
        }
        assert_eq!(a.seen_len(), SEEN_MAX);
    }
}
