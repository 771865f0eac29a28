//! EM API XML for the EM service: request parsing and response rendering, in this one place.
//!
//! A small, strict reading of the EMAPI DTDs (reference §2.2): `<request>` with `appInfo` and
//! one of `login`/`logout`/`logoutAll`; `<query>` with `appInfo` and one of
//! `deviceUserQuery`/`userDevicesQuery`/`deviceProfileQuery` (also `userDeviceProfileQuery`, as
//! the EMAPI example spells it). `userID` values are percent-decoded on the way in and
//! percent-encoded on the way out, as CUCM does. Pure: no I/O.

use std::time::Duration;

use quick_xml::events::Event;

use crate::emapp::pages::esc;
use crate::http::encode_component;
use crate::ops::{DeviceUser, LoginDuration, ProfileResult, UserDevices};

/// Deepest element nesting accepted (the EM API needs 4).
const MAX_DEPTH: usize = 16;
/// Most elements accepted in one document.
const MAX_ELEMENTS: usize = 2_000;

/// A parsed EM API document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `appInfo/appID`.
    pub app_id: String,
    /// `appInfo/appCertificate` (never logged).
    pub app_certificate: String,
    /// The operation.
    pub request: ApiRequest,
}

/// The operation an EM API document asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiRequest {
    /// `login`.
    Login {
        /// `deviceName`.
        device: String,
        /// `userID`.
        user: String,
        /// `deviceProfile`.
        profile: Option<String>,
        /// `exclusiveDuration` (`time` read as minutes: UNCONFIRMED unit).
        duration: LoginDuration,
    },
    /// `logout`.
    Logout {
        /// `deviceName`.
        device: String,
    },
    /// `logoutAll`.
    LogoutAll,
    /// `deviceUserQuery`.
    DeviceUserQuery {
        /// `deviceName`s.
        devices: Vec<String>,
    },
    /// `userDevicesQuery`.
    UserDevicesQuery {
        /// `userID`s.
        users: Vec<String>,
    },
    /// `deviceProfileQuery`.
    DeviceProfileQuery {
        /// `userID`s.
        users: Vec<String>,
    },
}

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Not well-formed, or not the DTD's shape (EM code 1).
    #[error("error on parsing: {0}")]
    Parse(String),
    /// A `<query>` of a kind the service does not know (EM code 8).
    #[error("query type undetermined: {0}")]
    UnknownQuery(String),
}

impl WireError {
    /// The EM code.
    pub fn code(&self) -> u16 {
        match self {
            WireError::Parse(_) => 1,
            WireError::UnknownQuery(_) => 8,
        }
    }
}

#[derive(Debug, Default)]
struct El {
    name: String,
    children: Vec<El>,
    text: String,
}

impl El {
    fn child(&self, name: &str) -> Option<&El> {
        self.children.iter().find(|c| c.name == name)
    }
    fn all(&self, name: &str) -> impl Iterator<Item = &El> {
        self.children.iter().filter(move |c| c.name == name)
    }
    fn req_text(&self, name: &str) -> Result<String, WireError> {
        self.child(name)
            .map(|c| c.text.trim().to_owned())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| WireError::Parse(format!("<{}> needs <{name}>", self.name)))
    }
}

fn perr(m: impl Into<String>) -> WireError {
    WireError::Parse(m.into())
}

fn tree(xml: &str) -> Result<El, WireError> {
    let mut r = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<El> = Vec::new();
    let mut root: Option<El> = None;
    let mut count = 0usize;
    let name_of = |b: &str| b.to_owned();
    loop {
        let ev = r.read_event().map_err(|e| perr(e.to_string()))?;
        match ev {
            Event::Start(e) | Event::Empty(e) if root.is_some() => {
                return Err(perr(format!(
                    "content after the root element: <{}>",
                    name_of(e.name().as_ref())
                )));
            }
            Event::Start(e) => {
                count += 1;
                if stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                    return Err(perr("document too deep or too large"));
                }
                stack.push(El {
                    name: name_of(e.name().as_ref()),
                    ..El::default()
                });
            }
            Event::Empty(e) => {
                count += 1;
                let el = El {
                    name: name_of(e.name().as_ref()),
                    ..El::default()
                };
                match stack.last_mut() {
                    Some(p) => p.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| perr("unbalanced end tag"))?;
                match stack.last_mut() {
                    Some(p) => p.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                let s: &str = &t;
                match stack.last_mut() {
                    Some(p) => p.text.push_str(s),
                    None if s.trim().is_empty() => {}
                    None => return Err(perr("text outside the root element")),
                }
            }
            Event::CData(t) => {
                if let Some(p) = stack.last_mut() {
                    p.text.push_str(&t);
                }
            }
            Event::GeneralRef(g) => {
                let ch = match g.resolve_char_ref().map_err(|e| perr(e.to_string()))? {
                    Some(c) => c,
                    None => match &*g {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => return Err(perr(format!("unknown entity &{};", other))),
                    },
                };
                if let Some(p) = stack.last_mut() {
                    p.text.push(ch);
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(perr("unexpected end of document"));
    }
    root.ok_or_else(|| perr("empty document"))
}

fn user_id(s: &str) -> String {
    crate::http::parse_urlencoded(format!("u={}", s.replace('+', "%2B")).as_bytes())
        .pop()
        .map_or_else(String::new, |(_, v)| v)
}

/// Parses an EM API document (the value of the `xml=` form field).
///
/// # Errors
/// [`WireError::Parse`] (code 1) or [`WireError::UnknownQuery`] (code 8).
pub fn parse_request(xml: &str) -> Result<Envelope, WireError> {
    let root = tree(xml)?;
    let app = root
        .child("appInfo")
        .ok_or_else(|| perr("missing <appInfo>"))?;
    let app_id = app.req_text("appID")?;
    let app_certificate = app
        .child("appCertificate")
        .or_else(|| app.child("appEncryptedCertificate"))
        .map(|c| c.text.trim().to_owned())
        .ok_or_else(|| perr("<appInfo> needs <appCertificate>"))?;
    let op = root
        .children
        .iter()
        .find(|c| c.name != "appInfo")
        .ok_or_else(|| perr(format!("<{}> names no operation", root.name)))?;
    let request = match (root.name.as_str(), op.name.as_str()) {
        ("request", "login") => {
            let duration = match op.child("exclusiveDuration") {
                None => LoginDuration::Default,
                Some(d) if d.child("indefinite").is_some() => LoginDuration::Indefinite,
                Some(d) => {
                    let mins: u64 = d
                        .req_text("time")?
                        .parse()
                        .map_err(|_| perr("<time> is not a number of minutes"))?;
                    LoginDuration::Time(Duration::from_secs(mins.min(1_000_000) * 60))
                }
            };
            ApiRequest::Login {
                device: op.req_text("deviceName")?,
                user: user_id(&op.req_text("userID")?),
                profile: op
                    .child("deviceProfile")
                    .map(|p| p.text.trim().to_owned())
                    .filter(|p| !p.is_empty()),
                duration,
            }
        }
        ("request", "logout") => ApiRequest::Logout {
            device: op.req_text("deviceName")?,
        },
        ("request", "logoutAll") => ApiRequest::LogoutAll,
        ("request", other) => return Err(perr(format!("unknown request <{other}>"))),
        ("query", "deviceUserQuery") => ApiRequest::DeviceUserQuery {
            devices: nonempty(
                op.all("deviceName")
                    .map(|e| e.text.trim().to_owned())
                    .collect(),
                "deviceName",
            )?,
        },
        ("query", "userDevicesQuery") => ApiRequest::UserDevicesQuery {
            users: nonempty(
                op.all("userID").map(|e| user_id(e.text.trim())).collect(),
                "userID",
            )?,
        },
        ("query", "deviceProfileQuery" | "userDeviceProfileQuery") => {
            ApiRequest::DeviceProfileQuery {
                users: nonempty(
                    op.all("userID").map(|e| user_id(e.text.trim())).collect(),
                    "userID",
                )?,
            }
        }
        ("query", other) => return Err(WireError::UnknownQuery(other.to_owned())),
        (other, _) => return Err(perr(format!("unknown root <{other}>"))),
    };
    Ok(Envelope {
        app_id,
        app_certificate,
        request,
    })
}

fn nonempty(v: Vec<String>, what: &str) -> Result<Vec<String>, WireError> {
    if v.is_empty() || v.iter().any(String::is_empty) {
        Err(perr(format!("needs at least one non-empty <{what}>")))
    } else {
        Ok(v)
    }
}

/// `<response><success/></response>`.
pub fn success() -> String {
    "<response><success/></response>".to_owned()
}

/// `<response><failure><error code="N">message</error></failure></response>`.
pub fn failure(code: u16, message: &str) -> String {
    format!(
        "<response><failure><error code=\"{code}\">{}</error></failure></response>",
        esc(message)
    )
}

/// `deviceUserResults`.
pub fn device_user_results(r: &[(String, DeviceUser)]) -> String {
    let mut o = String::from("<response><deviceUserResults>");
    for (d, a) in r {
        o.push_str(&format!("<device name=\"{}\">", esc(d)));
        match a {
            DeviceUser::User(u) => {
                o.push_str(&format!("<userID>{}</userID>", esc(&encode_component(u))))
            }
            DeviceUser::Nobody => o.push_str("<none/>"),
            DeviceUser::DoesNotExist => o.push_str("<doesNotExist/>"),
        }
        o.push_str("</device>");
    }
    o.push_str("</deviceUserResults></response>");
    o
}

/// `userDevicesResults`.
pub fn user_devices_results(r: &[(String, UserDevices)]) -> String {
    let mut o = String::from("<response><userDevicesResults>");
    for (u, a) in r {
        o.push_str(&format!("<user id=\"{}\">", esc(&encode_component(u))));
        match a {
            UserDevices::Devices(ds) => {
                for d in ds {
                    o.push_str(&format!("<deviceName>{}</deviceName>", esc(d)));
                }
            }
            UserDevices::Nobody => o.push_str("<none/>"),
            UserDevices::DoesNotExist => o.push_str("<doesNotExist/>"),
        }
        o.push_str("</user>");
    }
    o.push_str("</userDevicesResults></response>");
    o
}

/// `deviceProfileResults`.
pub fn device_profile_results(r: &[(String, ProfileResult)]) -> String {
    let mut o = String::from("<response><deviceProfileResults>");
    for (u, a) in r {
        o.push_str(&format!("<user id=\"{}\">", esc(&encode_component(u))));
        match a {
            ProfileResult::Profiles(ps) => {
                for (p, default) in ps {
                    o.push_str(&format!(
                        "<deviceProfile><deviceProfileName>{}</deviceProfileName><isDefaultDeviceProfile>{}</isDefaultDeviceProfile></deviceProfile>",
                        esc(p),
                        if *default { "t" } else { "f" }
                    ));
                }
            }
            ProfileResult::DoesNotExist => o.push_str("<doesNotExist/>"),
        }
        o.push_str("</user>");
    }
    o.push_str("</deviceProfileResults></response>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOGIN: &str = "<request><appInfo><appID>appid</appID><appCertificate>apppasswd</appCertificate></appInfo><login><deviceName>SEP003094C25B15</deviceName><userID>em%40cisco.com</userID><deviceProfile>UserDevProf</deviceProfile><exclusiveDuration><time>60</time></exclusiveDuration></login></request>";

    #[test]
    fn parses_emapi_samples() {
        let e = parse_request(LOGIN).unwrap();
        assert_eq!(e.app_id, "appid");
        assert_eq!(
            e.request,
            ApiRequest::Login {
                device: "SEP003094C25B15".into(),
                user: "em@cisco.com".into(),
                profile: Some("UserDevProf".into()),
                duration: LoginDuration::Time(Duration::from_secs(3600)),
            }
        );
        let q = "<?xml version=\"1.0\"?><query><appInfo><appID>a</appID><appCertificate>b</appCertificate></appInfo><userDeviceProfileQuery><userID>john</userID></userDeviceProfileQuery></query>";
        assert_eq!(
            parse_request(q).unwrap().request,
            ApiRequest::DeviceProfileQuery {
                users: vec!["john".into()]
            }
        );
        let all = "<request><appInfo><appID>a</appID><appCertificate>b</appCertificate></appInfo><logoutAll></logoutAll></request>";
        assert_eq!(parse_request(all).unwrap().request, ApiRequest::LogoutAll);
    }

    #[test]
    fn malformed_is_code_1_unknown_query_is_8() {
        for bad in [
            "",
            "<request>",
            "<request><appInfo><appID>a</appID></appInfo><logout/></request>",
            "<request><appInfo><appID>a</appID><appCertificate>b</appCertificate></appInfo><frob/></request>",
            "<request><appInfo><appID>a</appID><appCertificate>b</appCertificate></appInfo><login><deviceName>X</deviceName></login></request>",
            "<a></b>",
            "<r>&bogus;</r>",
            "<request></request><request></request>",
        ] {
            assert_eq!(parse_request(bad).map_err(|e| e.code()), Err(1), "{bad:?}");
        }
        let q = "<query><appInfo><appID>a</appID><appCertificate>b</appCertificate></appInfo><checkUser><userID>x</userID></checkUser></query>";
        assert_eq!(parse_request(q).map_err(|e| e.code()), Err(8));
        let deep = format!("<query>{}{}</query>", "<a>".repeat(100), "</a>".repeat(100));
        assert_eq!(parse_request(&deep).map_err(|e| e.code()), Err(1));
    }

    #[test]
    fn renders_results_with_encoded_ids() {
        let x = device_user_results(&[
            ("SEP1".into(), DeviceUser::User("em@cisco.com".into())),
            ("SEP2".into(), DeviceUser::Nobody),
        ]);
        assert!(x.contains("<userID>em%40cisco.com</userID>"));
        assert!(x.contains("<device name=\"SEP2\"><none/></device>"));
        assert_eq!(
            failure(3, "Could not authenticate 'a<b'"),
            "<response><failure><error code=\"3\">Could not authenticate &apos;a&lt;b&apos;</error></failure></response>"
        );
    }
}
