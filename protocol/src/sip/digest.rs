//! SIP digest authentication (RFC 2617 as RFC 3261 §22 uses it, MD5 only, `qop=auth`): the
//! challenge a registrar sends (`WWW-Authenticate` / `Proxy-Authenticate`), the credentials a
//! phone answers with (`Authorization` / `Proxy-Authorization`), and the response both compute.
//! Pure: the caller makes nonces and cnonces and compares responses (in constant time).
//!
//! Parsing is strict and bounded: a header over [`MAX_HEADER`] bytes, a parameter over
//! [`MAX_VALUE`] bytes, an unterminated quoted string, a duplicate or missing field, another
//! scheme or algorithm is a [`DigestError`], never a guess.

use md5::{Digest as _, Md5};

/// CUCM's default SIP realm (the `SIP Realm` service parameter), what its challenges name.
pub const REALM: &str = "ccmsipline";
/// Longest authentication header accepted, in bytes.
pub const MAX_HEADER: usize = 2048;
/// Longest single parameter value accepted, in bytes.
pub const MAX_VALUE: usize = 512;
/// Most parameters one header may carry.
const MAX_PARAMS: usize = 16;

/// Why an authentication header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// Longer than [`MAX_HEADER`] or a value longer than [`MAX_VALUE`].
    #[error("authentication header too long")]
    TooLong,
    /// Not the `Digest` scheme.
    #[error("not a Digest header")]
    NotDigest,
    /// Not `name=value` pairs separated by commas (or an unterminated quoted string).
    #[error("bad authentication header syntax")]
    Syntax,
    /// The same parameter twice.
    #[error("duplicate parameter {0}")]
    Duplicate(String),
    /// A parameter the scheme requires is absent.
    #[error("missing parameter {0}")]
    Missing(&'static str),
    /// An algorithm other than MD5, or a qop other than `auth`.
    #[error("unsupported {0}")]
    Unsupported(&'static str),
}

/// A challenge: what a `WWW-Authenticate` (or `Proxy-Authenticate`) header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Protection realm (CUCM: [`REALM`]).
    pub realm: String,
    /// Server nonce.
    pub nonce: String,
    /// Opaque string to echo, if any.
    pub opaque: Option<String>,
    /// Whether `qop="auth"` is offered (then the answer must use it).
    pub qop_auth: bool,
    /// The nonce was stale: the credentials were right, retry with the new nonce.
    pub stale: bool,
}

/// Credentials: what an `Authorization` (or `Proxy-Authorization`) header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name (CUCM: the phone's digest user, an end user ID).
    pub username: String,
    /// Realm answered.
    pub realm: String,
    /// Nonce answered.
    pub nonce: String,
    /// The digest-uri (the Request-URI the response covers).
    pub uri: String,
    /// 32 hex digits.
    pub response: String,
    /// `Some((nc, cnonce))` when `qop=auth` was used.
    pub qop: Option<(String, String)>,
    /// Opaque echoed, if any.
    pub opaque: Option<String>,
}

impl std::fmt::Display for Challenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Digest realm=\"{}\", nonce=\"{}\"",
            self.realm, self.nonce
        )?;
        if let Some(o) = &self.opaque {
            write!(f, ", opaque=\"{o}\"")?;
        }
        if self.stale {
            f.write_str(", stale=true")?;
        }
        f.write_str(", algorithm=MD5")?;
        if self.qop_auth {
            f.write_str(", qop=\"auth\"")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{}\", algorithm=MD5",
            self.username, self.realm, self.nonce, self.uri, self.response
        )?;
        if let Some((nc, cnonce)) = &self.qop {
            write!(f, ", qop=auth, nc={nc}, cnonce=\"{cnonce}\"")?;
        }
        if let Some(o) = &self.opaque {
            write!(f, ", opaque=\"{o}\"")?;
        }
        Ok(())
    }
}

/// Splits `Digest a=b, c="d, e"` into its parameters (names lower-cased), refusing anything
/// else.
fn params(value: &str) -> Result<Vec<(String, String)>, DigestError> {
    if value.len() > MAX_HEADER {
        return Err(DigestError::TooLong);
    }
    let value = value.trim();
    let (scheme, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(DigestError::NotDigest);
    }
    let b = rest.as_bytes();
    let mut i = 0;
    let mut out: Vec<(String, String)> = Vec::new();
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && (b[*i] == b' ' || b[*i] == b'\t') {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b"-_.".contains(&b[i])) {
            i += 1;
        }
        if i == start {
            return Err(DigestError::Syntax);
        }
        let name = rest[start..i].to_ascii_lowercase();
        skip_ws(&mut i);
        if b.get(i) != Some(&b'=') {
            return Err(DigestError::Syntax);
        }
        i += 1;
        skip_ws(&mut i);
        let mut v = String::new();
        if b.get(i) == Some(&b'"') {
            i += 1;
            loop {
                match b.get(i) {
                    None => return Err(DigestError::Syntax),
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        let c = *b.get(i + 1).ok_or(DigestError::Syntax)?;
                        if !c.is_ascii() {
                            return Err(DigestError::Syntax);
                        }
                        v.push(c as char);
                        i += 2;
                    }
                    Some(_) => {
                        // Whole characters (the value came from a &str).
                        let ch = rest[i..].chars().next().ok_or(DigestError::Syntax)?;
                        v.push(ch);
                        i += ch.len_utf8();
                    }
                }
            }
        } else {
            let s = i;
            while i < b.len() && !b" \t,\"".contains(&b[i]) {
                i += 1;
            }
            if i == s {
                return Err(DigestError::Syntax);
            }
            v.push_str(&rest[s..i]);
        }
        if v.len() > MAX_VALUE {
            return Err(DigestError::TooLong);
        }
        if out.iter().any(|(n, _)| *n == name) {
            return Err(DigestError::Duplicate(name));
        }
        if out.len() == MAX_PARAMS {
            return Err(DigestError::Syntax);
        }
        out.push((name, v));
        skip_ws(&mut i);
        match b.get(i) {
            None => break,
            Some(b',') => i += 1,
            Some(_) => return Err(DigestError::Syntax),
        }
    }
    Ok(out)
}

fn take(p: &mut Vec<(String, String)>, name: &str) -> Option<String> {
    let i = p.iter().position(|(n, _)| n == name)?;
    Some(p.swap_remove(i).1)
}

fn check_algorithm(p: &mut Vec<(String, String)>) -> Result<(), DigestError> {
    match take(p, "algorithm") {
        Some(a) if !a.eq_ignore_ascii_case("MD5") => Err(DigestError::Unsupported("algorithm")),
        _ => Ok(()),
    }
}

impl Challenge {
    /// Parses a `WWW-Authenticate` / `Proxy-Authenticate` value.
    ///
    /// # Errors
    /// [`DigestError`] for anything but a well-formed MD5 Digest challenge.
    pub fn parse(value: &str) -> Result<Challenge, DigestError> {
        let mut p = params(value)?;
        check_algorithm(&mut p)?;
        let qop_auth = match take(&mut p, "qop") {
            None => false,
            Some(q) if q.split(',').any(|x| x.trim().eq_ignore_ascii_case("auth")) => true,
            Some(_) => return Err(DigestError::Unsupported("qop")),
        };
        Ok(Challenge {
            realm: take(&mut p, "realm").ok_or(DigestError::Missing("realm"))?,
            nonce: take(&mut p, "nonce").ok_or(DigestError::Missing("nonce"))?,
            opaque: take(&mut p, "opaque"),
            qop_auth,
            stale: take(&mut p, "stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// The credentials answering this challenge for `method` to `uri`; `cnonce` and the
    /// nonce count `nc` are used when `qop=auth` was offered.
    pub fn answer(
        &self,
        username: &str,
        password: &str,
        method: &str,
        uri: &str,
        cnonce: &str,
        nc: u32,
    ) -> Credentials {
        let qop = self
            .qop_auth
            .then(|| (format!("{nc:08x}"), cnonce.to_owned()));
        let response = response(
            username,
            &self.realm,
            password,
            method,
            uri,
            &self.nonce,
            qop.as_ref().map(|(n, c)| (n.as_str(), c.as_str())),
        );
        Credentials {
            username: username.to_owned(),
            realm: self.realm.clone(),
            nonce: self.nonce.clone(),
            uri: uri.to_owned(),
            response,
            qop,
            opaque: self.opaque.clone(),
        }
    }
}

impl Credentials {
    /// Parses an `Authorization` / `Proxy-Authorization` value.
    ///
    /// # Errors
    /// [`DigestError`] for anything but well-formed MD5 Digest credentials.
    pub fn parse(value: &str) -> Result<Credentials, DigestError> {
        let mut p = params(value)?;
        check_algorithm(&mut p)?;
        let qop = match take(&mut p, "qop") {
            None => None,
            Some(q) if q.eq_ignore_ascii_case("auth") => {
                let nc = take(&mut p, "nc").ok_or(DigestError::Missing("nc"))?;
                let cnonce = take(&mut p, "cnonce").ok_or(DigestError::Missing("cnonce"))?;
                if nc.len() != 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(DigestError::Syntax);
                }
                Some((nc, cnonce))
            }
            Some(_) => return Err(DigestError::Unsupported("qop")),
        };
        Ok(Credentials {
            username: take(&mut p, "username").ok_or(DigestError::Missing("username"))?,
            realm: take(&mut p, "realm").ok_or(DigestError::Missing("realm"))?,
            nonce: take(&mut p, "nonce").ok_or(DigestError::Missing("nonce"))?,
            uri: take(&mut p, "uri").ok_or(DigestError::Missing("uri"))?,
            response: take(&mut p, "response").ok_or(DigestError::Missing("response"))?,
            qop,
            opaque: take(&mut p, "opaque"),
        })
    }

    /// The nonce count, when `qop=auth` was used.
    pub fn nc(&self) -> Option<u32> {
        self.qop
            .as_ref()
            .and_then(|(nc, _)| u32::from_str_radix(nc, 16).ok())
    }

    /// The response these credentials should carry for `password` and `method`.
    pub fn expected(&self, password: &str, method: &str) -> String {
        response(
            &self.username,
            &self.realm,
            password,
            method,
            &self.uri,
            &self.nonce,
            self.qop.as_ref().map(|(n, c)| (n.as_str(), c.as_str())),
        )
    }
}

fn md5_hex(parts: &[&str]) -> String {
    let mut h = Md5::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(b":");
        }
        h.update(p.as_bytes());
    }
    h.finalize()
        .iter()
        .fold(String::with_capacity(32), |mut s, b| {
            use std::fmt::Write as _;
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The digest response (32 lower-case hex digits): MD5(HA1:nonce[:nc:cnonce:auth]:HA2) with
/// HA1 = MD5(username:realm:password), HA2 = MD5(method:uri).
pub fn response(
    username: &str,
    realm: &str,
    password: &str,
    method: &str,
    uri: &str,
    nonce: &str,
    qop: Option<(&str, &str)>,
) -> String {
    let ha1 = md5_hex(&[username, realm, password]);
    let ha2 = md5_hex(&[method, uri]);
    match qop {
        Some((nc, cnonce)) => md5_hex(&[&ha1, nonce, nc, cnonce, "auth", &ha2]),
        None => md5_hex(&[&ha1, nonce, &ha2]),
    }
}

/// `line` (a message's header line) with the value of a `response=` parameter replaced by
/// `*****`, for traces: a digest response lets anyone who sees it guess the password offline.
pub fn redact(line: &str) -> String {
    let lower = line.to_ascii_lowercase();
    let Some(at) = lower.find("response=") else {
        return line.to_owned();
    };
    let start = at + "response=".len();
    let rest = &line[start..];
    let end = if let Some(q) = rest.strip_prefix('"') {
        q.find('"').map_or(rest.len(), |i| i + 2)
    } else {
        rest.find([',', ' ']).unwrap_or(rest.len())
    };
    format!("{}\"*****\"{}", &line[..start], &rest[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_example() {
        // RFC 2617 §3.5 (its uri and method; realm and password as there).
        let r = response(
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            Some(("00000001", "0a4f113b")),
        );
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn challenge_round_trips_and_answer_verifies() {
        let c = Challenge {
            realm: REALM.into(),
            nonce: "abc".into(),
            opaque: None,
            qop_auth: true,
            stale: true,
        };
        let text = c.to_string();
        assert_eq!(
            text,
            "Digest realm=\"ccmsipline\", nonce=\"abc\", stale=true, algorithm=MD5, qop=\"auth\""
        );
        assert_eq!(Challenge::parse(&text).unwrap(), c);
        let a = c.answer("bob", "pw", "REGISTER", "sip:127.0.0.1", "cn", 1);
        let back = Credentials::parse(&a.to_string()).unwrap();
        assert_eq!(back, a);
        assert_eq!(back.nc(), Some(1));
        assert_eq!(back.expected("pw", "REGISTER"), a.response);
        assert_ne!(back.expected("px", "REGISTER"), a.response);
    }

    #[test]
    fn quoted_commas_and_escapes() {
        let c = Credentials::parse(
            r#"Digest username="a,b \"c\"",realm="r", nonce="n" ,uri="sip:x", response="00""#,
        )
        .unwrap();
        assert_eq!(c.username, "a,b \"c\"");
        assert_eq!(c.uri, "sip:x");
        assert_eq!(c.qop, None);
    }

    #[test]
    fn traces_hide_the_response() {
        assert_eq!(
            redact(r#"Authorization: Digest username="bob", response="0123abcd", nc=00000001"#),
            r#"Authorization: Digest username="bob", response="*****", nc=00000001"#
        );
        assert_eq!(redact("RESPONSE=abc,x"), "RESPONSE=\"*****\",x");
        assert_eq!(redact("response=\"open"), "response=\"*****\"");
        assert_eq!(redact("Via: x"), "Via: x");
    }

    #[test]
    fn refusals() {
        use DigestError::*;
        let ok = r#"username="a", realm="r", nonce="n", uri="u", response="x""#;
        assert_eq!(Credentials::parse(&format!("Basic {ok}")), Err(NotDigest));
        assert_eq!(Credentials::parse("Digest"), Err(Missing("username")));
        assert_eq!(
            Credentials::parse(r#"Digest username="a", realm="r""#),
            Err(Missing("nonce"))
        );
        assert_eq!(
            Credentials::parse(r#"Digest username="a"#),
            Err(Syntax),
            "unterminated quote"
        );
        assert_eq!(Credentials::parse("Digest username"), Err(Syntax));
        assert_eq!(Credentials::parse("Digest =x"), Err(Syntax));
        assert_eq!(Credentials::parse(r#"Digest a="1" b="2""#), Err(Syntax));
        assert_eq!(
            Credentials::parse(&format!("Digest {ok}, username=\"b\"")),
            Err(Duplicate("username".into()))
        );
        assert_eq!(
            Credentials::parse(&format!("Digest {ok}, algorithm=SHA-256")),
            Err(Unsupported("algorithm"))
        );
        assert_eq!(
            Credentials::parse(&format!("Digest {ok}, qop=auth")),
            Err(Missing("nc"))
        );
        assert_eq!(
            Credentials::parse(&format!("Digest {ok}, qop=auth, nc=1, cnonce=\"c\"")),
            Err(Syntax)
        );
        let big = "x".repeat(MAX_VALUE + 1);
        assert_eq!(
            Credentials::parse(&format!("Digest username=\"{big}\"")),
            Err(TooLong)
        );
        assert_eq!(
            Credentials::parse(&format!("Digest {}", "a=b,".repeat(600))),
            Err(TooLong)
        );
        assert_eq!(
            Credentials::parse(&format!("Digest {}", "a=b,".repeat(20))),
            Err(Duplicate("a".into()))
        );
        assert!(Credentials::parse("Digest username=\"é\\").is_err());
    }
}
