//! HTTP as values: the requests a phone asks its driver to send, the responses (or failures)
//! it is handed back, the headers Cisco phones send, and the phone's cookie jar.
//!
//! Pure: no sockets, no clocks (the jar is told the time). The driver ([`crate::driver`])
//! sends the requests over its own HTTP/1.1 client ([`crate::httpc`]).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

/// Largest body a phone accepts: the 6900's documented "Data too large!" limit.
pub const MAX_BODY_BYTES: usize = 196_608;

/// The request method; phones GET, and POST only an Input with `method="post"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST` (form body).
    Post,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// One request the phone wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// GET or POST.
    pub method: Method,
    /// Absolute `http://` URL.
    pub url: String,
    /// Headers in the order the phone sends them.
    pub headers: Vec<(String, String)>,
    /// Form body for POST.
    pub body: Option<String>,
    /// Substrings to hide when the request is printed (the PIN).
    pub secrets: Vec<String>,
}

impl HttpRequest {
    /// The URL with every secret replaced by `*****` (for traces and logs).
    pub fn redacted_url(&self) -> String {
        redact(&self.url, &self.secrets)
    }

    /// The body with every secret replaced by `*****`.
    pub fn redacted_body(&self) -> Option<String> {
        self.body.as_deref().map(|b| redact(b, &self.secrets))
    }
}

/// Replaces each `name=<secret>` value in `s`, so a PIN never reaches a log.
pub fn redact(s: &str, secrets: &[String]) -> String {
    let mut out = s.to_owned();
    for secret in secrets.iter().filter(|x| !x.is_empty()) {
        for form in [secret.clone(), protocol_encode(secret)] {
            out = out.replace(&format!("={form}"), "=*****");
        }
    }
    out
}

fn protocol_encode(s: &str) -> String {
    emroam_protocol::cipxml::encode_component(s)
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers as received (names lower-cased).
    pub headers: Vec<(String, String)>,
    /// The body (at most [`MAX_BODY_BYTES`]).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A 200 `text/xml` response, for tests and test servers.
    pub fn xml(body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type".into(), "text/xml; charset=utf-8".into())],
            body: body.into(),
        }
    }

    /// Adds a header (builder style).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why no response came back: each maps to what a phone would show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpFailure {
    /// The name did not resolve.
    #[error("Host Not Found")]
    HostNotFound,
    /// Nothing listens at the address (connection refused). The phone shows "Host Not
    /// Found" for this too (TSG: Tomcat down shows it); a load tester keeps them apart.
    #[error("Host Not Found")]
    Refused,
    /// The connection broke or could not be made for another reason.
    #[error("Connection failed")]
    ConnectionFailed(String),
    /// No complete response within the request timeout.
    #[error("Connection failed")]
    Timeout,
    /// The body exceeded [`MAX_BODY_BYTES`].
    #[error("Data too large!")]
    TooLarge,
    /// A URL the phone cannot fetch (not `http:`, no host).
    #[error("Host Not Found")]
    BadUrl(String),
}

/// The model identity a phone announces in its request headers.
///
/// Its texts are borrowed when they are the defaults, so a fleet's phones of one model hold no
/// copy of them each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    /// `x-CiscoIPPhoneModelName`, e.g. `CP-8865`.
    pub name: Cow<'static, str>,
    /// `x-CiscoIPPhoneDisplay`: services-area width, height, depth, `C`/`G`.
    pub display: Cow<'static, str>,
    /// `x-CiscoIPPhoneSDKVersion`.
    pub sdk_version: Cow<'static, str>,
}

impl Model {
    /// A model from a topology's model name (`Cisco 8865` → `CP-8865`), with an 8800's
    /// services-area display.
    pub fn from_topology_name(name: &str) -> Self {
        let digits: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
        let num = digits.trim_start_matches(|c: char| c.is_ascii_alphabetic());
        let name = if num.is_empty() {
            Cow::Borrowed("CP-8865")
        } else {
            Cow::Owned(format!("CP-{num}"))
        };
        Self {
            name,
            ..Self::default()
        }
    }
}

impl Default for Model {
    fn default() -> Self {
        Self {
            name: Cow::Borrowed("CP-8865"),
            display: Cow::Borrowed("800, 480, 24, C"),
            sdk_version: Cow::Borrowed("12.5.1"),
        }
    }
}

/// The headers every request of an enterprise-firmware phone carries (Cisco's IP Phone
/// Services development notes, "HTTP Requests and Header Settings").
pub fn phone_headers(model: &Model) -> Vec<(String, String)> {
    vec![
        ("x-CiscoIPPhoneModelName".into(), model.name.to_string()),
        ("x-CiscoIPPhoneDisplay".into(), model.display.to_string()),
        (
            "x-CiscoIPPhoneSDKVersion".into(),
            model.sdk_version.to_string(),
        ),
        (
            "Accept".into(),
            "x-CiscoIPPhone/*;version=3.3.4, text/xml, text/plain".into(),
        ),
        ("Accept-Language".into(), "en-US".into()),
        ("Accept-Charset".into(), "utf-8,iso-8859-1;q=0.8".into()),
        (
            "User-Agent".into(),
            "Allegro-Software-WebClient/4.34".into(),
        ),
    ]
}

/// The authority (`host:port`) and path of an `http://` URL, or `None`.
pub fn split_http_url(url: &str) -> Option<(&str, &str)> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("HTTP://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.is_empty() {
        return None;
    }
    Some((authority, path))
}

/// Resolves a page's URL against the URL it came from (absolute, `/path` or relative path).
pub fn resolve_url(base: &str, url: &str) -> String {
    let lower = url
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return url.to_owned();
    }
    let Some((authority, path)) = split_http_url(base) else {
        return url.to_owned();
    };
    if url.starts_with('/') {
        return format!("http://{authority}{url}");
    }
    let path = path.split(['?', '#']).next().unwrap_or("");
    let dir = path.rfind('/').map_or("/", |i| &path[..=i]);
    format!("http://{authority}{dir}{url}")
}

/// Cisco's documented cookie limits (IP Phone Services development notes, "HTTP Requests
/// and Header Settings").
pub mod cookie_limits {
    /// Cookies kept per host.
    pub const PER_HOST: usize = 4;
    /// Hosts ("sessions") kept; the least recently used goes first.
    pub const HOSTS: usize = 8;
    /// Longest `name=value` kept, in bytes.
    pub const BYTES: usize = 255;
    /// A host's cookies are forgotten after this long unused.
    pub const IDLE: std::time::Duration = std::time::Duration::from_secs(30 * 60);
}

/// A phone's cookies, within the phone's limits (4 per host, 8 hosts, 255 bytes, 30 min idle).
#[derive(Debug, Clone, Default)]
pub struct CookieJar {
    /// Most recently used host last; VecDeque because eviction takes from the front.
    hosts: VecDeque<HostCookies>,
}

#[derive(Debug, Clone)]
struct HostCookies {
    host: String,
    last_used: Instant,
    /// `(name, value)`, oldest first.
    cookies: Vec<(String, String)>,
}

impl CookieJar {
    /// The `Cookie` header value to send to `host` at `now`, if any.
    pub fn header_for(&mut self, host: &str, now: Instant) -> Option<String> {
        self.expire(now);
        let i = self.hosts.iter().position(|h| h.host == host)?;
        let mut h = self.hosts.remove(i)?;
        h.last_used = now;
        let value = h
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        self.hosts.push_back(h);
        (!value.is_empty()).then_some(value)
    }

    /// Stores the cookie of one `Set-Cookie` value from `host`.
    pub fn store(&mut self, host: &str, set_cookie: &str, now: Instant) {
        self.expire(now);
        let pair = set_cookie.split(';').next().unwrap_or("").trim();
        let Some((name, value)) = pair.split_once('=') else {
            return;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() || pair.len() > cookie_limits::BYTES {
            return;
        }
        let i = match self.hosts.iter().position(|h| h.host == host) {
            Some(i) => i,
            None => {
                if self.hosts.len() >= cookie_limits::HOSTS {
                    self.hosts.pop_front();
                }
                self.hosts.push_back(HostCookies {
                    host: host.to_owned(),
                    last_used: now,
                    cookies: Vec::new(),
                });
                self.hosts.len() - 1
            }
        };
        let mut h = self.hosts.remove(i).expect("index from position");
        h.last_used = now;
        h.cookies.retain(|(n, _)| n != name);
        if h.cookies.len() >= cookie_limits::PER_HOST {
            h.cookies.remove(0);
        }
        h.cookies.push((name.to_owned(), value.to_owned()));
        self.hosts.push_back(h);
    }

    /// How many cookies are held in total.
    pub fn len(&self) -> usize {
        self.hosts.iter().map(|h| h.cookies.len()).sum()
    }

    /// Whether no cookie is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn expire(&mut self, now: Instant) {
        self.hosts
            .retain(|h| now.saturating_duration_since(h.last_used) < cookie_limits::IDLE);
    }
}

/// A `Refresh` header: reload after `after`, at `url` (or the same page when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refresh {
    /// Delay before the reload; zero means manual only (the phone waits for a key).
    pub after: Duration,
    /// Where to go; `None` reloads the current URL.
    pub url: Option<String>,
}

impl Refresh {
    /// Parses `3; url=http://...` (the `Refresh` header Cisco's phones honour); `None` for
    /// anything else.
    pub fn parse(v: &str) -> Option<Self> {
        let mut parts = v.splitn(2, ';');
        let secs: u64 = parts.next()?.trim().parse().ok()?;
        let url = parts.next().and_then(|rest| {
            let rest = rest.trim();
            let (k, u) = rest.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("url")
                .then(|| u.trim().to_owned())
                .filter(|u| !u.is_empty())
        });
        Some(Self {
            after: Duration::from_secs(secs),
            url,
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_limits_hold() {
        let t0 = Instant::now();
        let mut jar = CookieJar::default();
        for i in 0..6 {
            jar.store("h:80", &format!("c{i}=v{i}; Path=/"), t0);
        }
        assert_eq!(
            jar.header_for("h:80", t0).unwrap(),
            "c2=v2; c3=v3; c4=v4; c5=v5"
        );
        jar.store("h:80", "c5=new", t0);
        assert!(jar.header_for("h:80", t0).unwrap().ends_with("c5=new"));
        jar.store("h:80", &format!("big={}", "x".repeat(300)), t0);
        assert!(!jar.header_for("h:80", t0).unwrap().contains("big"));
        for i in 0..9 {
            jar.store(&format!("host{i}"), "a=1", t0);
        }
        assert!(jar.header_for("h:80", t0).is_none(), "LRU host evicted");
        assert!(jar.header_for("host8", t0).is_some());
        let later = t0 + cookie_limits::IDLE + Duration::from_secs(1);
        assert!(
            jar.header_for("host8", later).is_none(),
            "idle cookies cleared"
        );
        assert!(jar.is_empty());
    }

    #[test]
    fn refresh_header() {
        assert_eq!(
            Refresh::parse("3; url=http://s/q"),
            Some(Refresh {
                after: Duration::from_secs(3),
                url: Some("http://s/q".into())
            })
        );
        assert_eq!(Refresh::parse("0").unwrap().url, None);
        assert_eq!(Refresh::parse("soon"), None);
    }

    #[test]
    fn urls_resolve() {
        assert_eq!(
            resolve_url("http://h:8080/a/b?x=1", "/c?d"),
            "http://h:8080/c?d"
        );
        assert_eq!(
            resolve_url("http://h:8080/a/b?x=1", "c"),
            "http://h:8080/a/c"
        );
        assert_eq!(resolve_url("http://h/a", "http://o/z"), "http://o/z");
        assert_eq!(split_http_url("http://h:1/p?q"), Some(("h:1", "/p?q")));
        assert_eq!(split_http_url("https://h/"), None);
    }

    #[test]
    fn pins_are_redacted() {
        let secrets = vec!["12345".to_owned()];
        assert_eq!(
            redact("http://h/e?userid=bob&seq=12345", &secrets),
            "http://h/e?userid=bob&seq=*****"
        );
    }

    #[test]
    fn model_from_topology() {
        assert_eq!(Model::from_topology_name("Cisco 8865").name, "CP-8865");
        assert_eq!(Model::from_topology_name("Cisco 7975").name, "CP-7975");
    }
}
