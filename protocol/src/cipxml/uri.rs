//! Internal URIs and HTTP URLs that phones act on (`Key:`, `Dial:`, `Notify:`, ...).
//!
//! [`Uri::parse`] never fails: unknown schemes become [`Uri::Other`], and a URI whose
//! arguments do not fit the documented shape is kept as `Other` too, so that
//! `Uri::parse(s).to_string() == s` holds for every `s`. Pure; no I/O.

use std::fmt;
use std::str::FromStr;

/// A URL or internal URI from a `URL` element, a softkey, an ExecuteItem or an event handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    /// An `http:` or `https:` URL (the whole URL, scheme included).
    Http(String),
    /// `Key:<name>`: simulated key press, e.g. `Key:Services`, `Key:KeyPad1`, `Key:NavDwn`.
    Key(String),
    /// `SoftKey:<name>`: invoke a native softkey (`Select`, `Exit`, `Dial`, `<<`, ...).
    SoftKey(String),
    /// `QueryStringParam:<data>`: data appended to the URL of the softkey / highlighted item.
    QueryStringParam(String),
    /// `Init:<object>`: `CallHistory`, `Services`, `Messages`, `Directories`, `AppStatus`.
    Init(String),
    /// `Dial:...`: place a call.
    Dial(Dial),
    /// `EditDial:<digits>`: prefill the dial screen.
    EditDial(String),
    /// `Notify:protocol:host:port:path[:credentials[:data]]`: POST a notification.
    Notify(Notify),
    /// `Play:<file>` (TFTP path of raw µ-law audio) or `Play:Stop`.
    Play(String),
    /// `Device:<action>`: `Unlock`, `GeneratePRT`, `PRTStatus`.
    Device(String),
    /// `SettingsMenu:<exact menu label>` (8875, CUCM only).
    SettingsMenu(String),
    /// `Button:<name>`: `Back`, `Backspace`, `Apply`, `Submit` (8875 Settings menu).
    Button(String),
    /// `RTPRx:`, `RTPTx:`, `RTPMRx:`, `RTPMTx:`: start or stop a media stream.
    Rtp(Rtp),
    /// `Vibrate:on:off:count` (wireless phones), durations in ms.
    Vibrate {
        /// Vibration duration (ms).
        on_ms: u32,
        /// Silence duration (ms).
        off_ms: u32,
        /// Repetitions.
        count: u32,
    },
    /// `App:action:priority:idleTimer:applicationId`.
    App(App),
    /// Any other `scheme:rest` (e.g. `SendDigits:`, `Display:`, `Application:`), kept as is.
    Other {
        /// Text before the first `:`.
        scheme: String,
        /// Text after the first `:`.
        rest: String,
    },
    /// No scheme at all (a relative reference; how phones resolve it is UNCONFIRMED).
    Relative(String),
}

/// Arguments of `Dial:{dialSequence}[:{useAppUI}:{applicationId}[:audibleFeedback]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dial {
    /// Digits `0-9#*ABCD` and `,` (1 s pause).
    pub number: String,
    /// `useAppUI` (0/1); present together with `app_id`.
    pub use_app_ui: Option<bool>,
    /// `applicationId` ("Company/Product").
    pub app_id: Option<String>,
    /// `audibleFeedback` (0/1, default 1).
    pub audible_feedback: Option<bool>,
}

/// Arguments of `Notify:protocol:host:port:path[:credentials[:data]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    /// Protocol; only `http` is documented.
    pub protocol: String,
    /// Host name or address.
    pub host: String,
    /// Port 1..65535.
    pub port: u16,
    /// Path without the leading `/`, no `:` or `;`.
    pub path: String,
    /// Base64 `user:pass` sent as Basic auth; may be empty when `data` follows.
    pub credentials: Option<String>,
    /// Data POSTed as `DATA=<data>`.
    pub data: Option<String>,
}

/// Direction / kind of an RTP URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtpDirection {
    /// `RTPRx`: receive unicast.
    Rx,
    /// `RTPTx`: transmit unicast.
    Tx,
    /// `RTPMRx`: receive multicast.
    MRx,
    /// `RTPMTx`: transmit multicast.
    MTx,
}

impl RtpDirection {
    /// The scheme as written.
    pub fn scheme(self) -> &'static str {
        match self {
            Self::Rx => "RTPRx",
            Self::Tx => "RTPTx",
            Self::MRx => "RTPMRx",
            Self::MTx => "RTPMTx",
        }
    }
}

/// An RTP URI: `RTPRx:Stop` or `RTPRx:address[:port[:volume[:path]]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtp {
    /// Which scheme.
    pub direction: RtpDirection,
    /// `None` for `:Stop`.
    pub stream: Option<RtpStream>,
}

/// Where an RTP stream goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpStream {
    /// IPv4 address (IPv6 contains `:` and is kept as [`Uri::Other`]).
    pub address: String,
    /// Even port 20480..32768; `None` lets the phone pick (RTPRx push).
    pub port: Option<u16>,
    /// Volume 0..100 % (receive only).
    pub volume: Option<u8>,
    /// Audio path on 8821/9821: 0 speaker, 1 handset/headset, 2 current.
    pub audio_path: Option<u8>,
}

/// Arguments of `App:action:priority:idleTimer:applicationId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// `RequestFocus`, `ReleaseFocus`, `Minimize` or `Close`.
    pub action: String,
    /// 0 immediate, 1 when the user is done, 2 only if idle.
    pub priority: Option<u8>,
    /// Idle timer in seconds (10..86400, default 60).
    pub idle_timer: Option<u32>,
    /// Application id, no colons.
    pub app_id: Option<String>,
}

impl Uri {
    /// Parses a URI; never fails (see the module docs for the round-trip guarantee).
    pub fn parse(s: &str) -> Self {
        let parsed = Self::parse_shape(s);
        // Only keep a structured variant when it prints back exactly as written.
        if matches!(parsed, Uri::Other { .. } | Uri::Relative(_)) || parsed.to_string() == s {
            parsed
        } else {
            Self::fallback(s)
        }
    }

    /// Parses a `;`-separated handler list such as
    /// `"RTPRx:Stop; RTPTx:Stop; Notify:http:server:80:path"`, skipping empty entries.
    pub fn parse_list(s: &str) -> Vec<Self> {
        s.split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(Self::parse)
            .collect()
    }

    /// True for `http:` / `https:` URLs, the only ones the phone fetches.
    pub fn is_http(&self) -> bool {
        matches!(self, Uri::Http(_))
    }

    /// The scheme as written (`""` for [`Uri::Relative`]).
    pub fn scheme(&self) -> &str {
        match self {
            Uri::Http(url) => url.split(':').next().unwrap_or(""),
            Uri::Key(_) => "Key",
            Uri::SoftKey(_) => "SoftKey",
            Uri::QueryStringParam(_) => "QueryStringParam",
            Uri::Init(_) => "Init",
            Uri::Dial(_) => "Dial",
            Uri::EditDial(_) => "EditDial",
            Uri::Notify(_) => "Notify",
            Uri::Play(_) => "Play",
            Uri::Device(_) => "Device",
            Uri::SettingsMenu(_) => "SettingsMenu",
            Uri::Button(_) => "Button",
            Uri::Rtp(r) => r.direction.scheme(),
            Uri::Vibrate { .. } => "Vibrate",
            Uri::App(_) => "App",
            Uri::Other { scheme, .. } => scheme,
            Uri::Relative(_) => "",
        }
    }

    fn fallback(s: &str) -> Self {
        match s.split_once(':') {
            Some((scheme, rest)) => Uri::Other {
                scheme: scheme.to_owned(),
                rest: rest.to_owned(),
            },
            None => Uri::Relative(s.to_owned()),
        }
    }

    fn parse_shape(s: &str) -> Self {
        let Some((scheme, rest)) = s.split_once(':') else {
            return Uri::Relative(s.to_owned());
        };
        let owned = || rest.to_owned();
        match scheme {
            _ if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") => {
                Uri::Http(s.to_owned())
            }
            "Key" => Uri::Key(owned()),
            "SoftKey" => Uri::SoftKey(owned()),
            "QueryStringParam" => Uri::QueryStringParam(owned()),
            "Init" => Uri::Init(owned()),
            "EditDial" => Uri::EditDial(owned()),
            "Play" => Uri::Play(owned()),
            "Device" => Uri::Device(owned()),
            "SettingsMenu" => Uri::SettingsMenu(owned()),
            "Button" => Uri::Button(owned()),
            "Dial" => parse_dial(rest)
                .map(Uri::Dial)
                .unwrap_or_else(|| Self::fallback(s)),
            "Notify" => parse_notify(rest)
                .map(Uri::Notify)
                .unwrap_or_else(|| Self::fallback(s)),
            "App" => parse_app(rest)
                .map(Uri::App)
                .unwrap_or_else(|| Self::fallback(s)),
            "Vibrate" => parse_vibrate(rest).unwrap_or_else(|| Self::fallback(s)),
            "RTPRx" | "RTPTx" | "RTPMRx" | "RTPMTx" => {
                let direction = match scheme {
                    "RTPRx" => RtpDirection::Rx,
                    "RTPTx" => RtpDirection::Tx,
                    "RTPMRx" => RtpDirection::MRx,
                    _ => RtpDirection::MTx,
                };
                parse_rtp(direction, rest)
                    .map(Uri::Rtp)
                    .unwrap_or_else(|| Self::fallback(s))
            }
            _ => Self::fallback(s),
        }
    }
}

fn bit(s: &str) -> Option<bool> {
    match s {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    }
}

fn opt<T: FromStr>(s: &str) -> Option<Option<T>> {
    if s.is_empty() {
        Some(None)
    } else {
        s.parse().ok().map(Some)
    }
}

fn parse_dial(rest: &str) -> Option<Dial> {
    let parts: Vec<&str> = rest.split(':').collect();
    let mut dial = Dial {
        number: parts[0].to_owned(),
        use_app_ui: None,
        app_id: None,
        audible_feedback: None,
    };
    match parts.len() {
        1 => {}
        3 | 4 => {
            dial.use_app_ui = Some(bit(parts[1])?);
            dial.app_id = Some(parts[2].to_owned());
            if let Some(a) = parts.get(3) {
                dial.audible_feedback = Some(bit(a)?);
            }
        }
        _ => return None,
    }
    Some(dial)
}

fn parse_notify(rest: &str) -> Option<Notify> {
    let parts: Vec<&str> = rest.splitn(6, ':').collect();
    if parts.len() < 4 {
        return None;
    }
    Some(Notify {
        protocol: parts[0].to_owned(),
        host: parts[1].to_owned(),
        port: parts[2].parse().ok()?,
        path: parts[3].to_owned(),
        credentials: parts.get(4).map(|s| (*s).to_owned()),
        data: parts.get(5).map(|s| (*s).to_owned()),
    })
}

fn parse_app(rest: &str) -> Option<App> {
    let parts: Vec<&str> = rest.splitn(4, ':').collect();
    Some(App {
        action: parts[0].to_owned(),
        priority: match parts.get(1) {
            Some(p) => opt(p)?,
            None => None,
        },
        idle_timer: match parts.get(2) {
            Some(p) => opt(p)?,
            None => None,
        },
        app_id: parts
            .get(3)
            .filter(|s| !s.is_empty())
            .map(|s| (*s).to_owned()),
    })
}

fn parse_vibrate(rest: &str) -> Option<Uri> {
    let mut it = rest.split(':');
    let v = Uri::Vibrate {
        on_ms: it.next()?.parse().ok()?,
        off_ms: it.next()?.parse().ok()?,
        count: it.next()?.parse().ok()?,
    };
    it.next().is_none().then_some(v)
}

fn parse_rtp(direction: RtpDirection, rest: &str) -> Option<Rtp> {
    if rest == "Stop" {
        return Some(Rtp {
            direction,
            stream: None,
        });
    }
    let parts: Vec<&str> = rest.split(':').collect();
    if parts.len() > 4 || parts[0].is_empty() {
        return None;
    }
    let num = |i: usize| -> Option<Option<u16>> {
        match parts.get(i) {
            Some(p) => p.parse().ok().map(Some),
            None => Some(None),
        }
    };
    let small = |i: usize| -> Option<Option<u8>> {
        match parts.get(i) {
            Some(p) => p.parse().ok().map(Some),
            None => Some(None),
        }
    };
    Some(Rtp {
        direction,
        stream: Some(RtpStream {
            address: parts[0].to_owned(),
            port: num(1)?,
            volume: small(2)?,
            audio_path: small(3)?,
        }),
    })
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Http(url) | Uri::Relative(url) => f.write_str(url),
            Uri::Key(v)
            | Uri::SoftKey(v)
            | Uri::QueryStringParam(v)
            | Uri::Init(v)
            | Uri::EditDial(v)
            | Uri::Play(v)
            | Uri::Device(v)
            | Uri::SettingsMenu(v)
            | Uri::Button(v) => write!(f, "{}:{v}", self.scheme()),
            Uri::Dial(d) => {
                write!(f, "Dial:{}", d.number)?;
                if let (Some(ui), Some(app)) = (d.use_app_ui, &d.app_id) {
                    write!(f, ":{}:{app}", u8::from(ui))?;
                    if let Some(a) = d.audible_feedback {
                        write!(f, ":{}", u8::from(a))?;
                    }
                }
                Ok(())
            }
            Uri::Notify(n) => {
                write!(f, "Notify:{}:{}:{}:{}", n.protocol, n.host, n.port, n.path)?;
                if let Some(c) = &n.credentials {
                    write!(f, ":{c}")?;
                }
                if let Some(d) = &n.data {
                    if n.credentials.is_none() {
                        f.write_str(":")?;
                    }
                    write!(f, ":{d}")?;
                }
                Ok(())
            }
            Uri::Rtp(r) => {
                write!(f, "{}:", r.direction.scheme())?;
                match &r.stream {
                    None => f.write_str("Stop"),
                    Some(s) => {
                        f.write_str(&s.address)?;
                        let parts = [
                            s.port.map(|p| p.to_string()),
                            s.volume.map(|v| v.to_string()),
                            s.audio_path.map(|v| v.to_string()),
                        ];
                        for p in parts.iter().map_while(|p| p.as_ref()) {
                            write!(f, ":{p}")?;
                        }
                        Ok(())
                    }
                }
            }
            Uri::Vibrate {
                on_ms,
                off_ms,
                count,
            } => write!(f, "Vibrate:{on_ms}:{off_ms}:{count}"),
            Uri::App(a) => {
                write!(f, "App:{}", a.action)?;
                let parts = [
                    a.priority.map(|p| p.to_string()),
                    a.idle_timer.map(|t| t.to_string()),
                    a.app_id.clone(),
                ];
                let used = parts.iter().rposition(Option::is_some).map_or(0, |i| i + 1);
                for p in &parts[..used] {
                    write!(f, ":{}", p.as_deref().unwrap_or(""))?;
                }
                Ok(())
            }
            Uri::Other { scheme, rest } => write!(f, "{scheme}:{rest}"),
        }
    }
}

impl serde::Serialize for Uri {
    /// As the string it was parsed from.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl FromStr for Uri {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::parse(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_uris_parse_to_their_variants() {
        assert_eq!(Uri::parse("Key:Services"), Uri::Key("Services".into()));
        assert_eq!(Uri::parse("SoftKey:<<"), Uri::SoftKey("<<".into()));
        assert_eq!(
            Uri::parse("QueryStringParam:message=1"),
            Uri::QueryStringParam("message=1".into())
        );
        assert_eq!(
            Uri::parse("Init:CallHistory"),
            Uri::Init("CallHistory".into())
        );
        assert_eq!(Uri::parse("EditDial:1000"), Uri::EditDial("1000".into()));
        assert_eq!(Uri::parse("Play:chime.raw"), Uri::Play("chime.raw".into()));
        assert_eq!(
            Uri::parse("Device:GeneratePRT"),
            Uri::Device("GeneratePRT".into())
        );
        assert_eq!(
            Uri::parse("SettingsMenu:Network settings"),
            Uri::SettingsMenu("Network settings".into())
        );
        assert_eq!(Uri::parse("Button:Apply"), Uri::Button("Apply".into()));
        assert_eq!(
            Uri::parse("Vibrate:500:1500:5"),
            Uri::Vibrate {
                on_ms: 500,
                off_ms: 1500,
                count: 5
            }
        );
        assert!(Uri::parse("http://server/a?b=1").is_http());
        assert!(Uri::parse("HTTPS://server/").is_http());
    }

    #[test]
    fn dial_forms() {
        let Uri::Dial(d) = Uri::parse("Dial:1000") else {
            panic!()
        };
        assert_eq!(d.number, "1000");
        assert_eq!(d.use_app_ui, None);
        let Uri::Dial(d) = Uri::parse("Dial:1000:1:Cisco/Unity:0") else {
            panic!()
        };
        assert_eq!(d.use_app_ui, Some(true));
        assert_eq!(d.app_id.as_deref(), Some("Cisco/Unity"));
        assert_eq!(d.audible_feedback, Some(false));
        // Two parts does not fit the documented shape: kept as Other.
        assert!(matches!(Uri::parse("Dial:1000:1"), Uri::Other { .. }));
    }

    #[test]
    fn notify_rtp_and_app() {
        let Uri::Notify(n) = Uri::parse("Notify:http:server:80:path") else {
            panic!()
        };
        assert_eq!(
            (n.host.as_str(), n.port, n.path.as_str()),
            ("server", 80, "path")
        );
        assert_eq!(n.credentials, None);
        let Uri::Notify(n) = Uri::parse("Notify:http:h:8080:p:dXNlcjpwYXNz:x=1") else {
            panic!()
        };
        assert_eq!(n.credentials.as_deref(), Some("dXNlcjpwYXNz"));
        assert_eq!(n.data.as_deref(), Some("x=1"));

        let Uri::Rtp(r) = Uri::parse("RTPRx:10.0.0.10:20500:100:1") else {
            panic!()
        };
        assert_eq!(r.direction, RtpDirection::Rx);
        let s = r.stream.unwrap();
        assert_eq!(
            (s.port, s.volume, s.audio_path),
            (Some(20500), Some(100), Some(1))
        );
        assert_eq!(
            Uri::parse("RTPTx:Stop"),
            Uri::Rtp(Rtp {
                direction: RtpDirection::Tx,
                stream: None
            })
        );
        assert!(matches!(Uri::parse("RTPMRx:239.1.1.1:20480"), Uri::Rtp(_)));
        assert!(matches!(Uri::parse("RTPMTx:239.1.1.1:20480"), Uri::Rtp(_)));

        let Uri::App(a) = Uri::parse("App:RequestFocus:1:60:Cisco/Unity") else {
            panic!()
        };
        assert_eq!(a.action, "RequestFocus");
        assert_eq!((a.priority, a.idle_timer), (Some(1), Some(60)));
        let Uri::App(a) = Uri::parse("App:Close:0::Vendor/App") else {
            panic!()
        };
        assert_eq!(a.idle_timer, None);
        assert_eq!(a.app_id.as_deref(), Some("Vendor/App"));
    }

    #[test]
    fn unknown_schemes_are_kept() {
        assert_eq!(
            Uri::parse("SendDigits:123:1::app"),
            Uri::Other {
                scheme: "SendDigits".into(),
                rest: "123:1::app".into()
            }
        );
        assert_eq!(
            Uri::parse("key:Services"),
            Uri::Other {
                scheme: "key".into(),
                rest: "Services".into()
            }
        );
        assert_eq!(Uri::parse("index.xml"), Uri::Relative("index.xml".into()));
    }

    #[test]
    fn display_round_trips_awkward_inputs() {
        for s in [
            "",
            ":",
            "Dial:",
            "Dial:1:2:3:4:5",
            "Dial:1:01:x",
            "Notify:http:h:080:p",
            "Notify:http:h:80:p::data",
            "Notify:http:h:80:p:",
            "App:Close:",
            "App:Close:00",
            "App:X:::",
            "RTPRx:",
            "RTPRx:1.2.3.4:",
            "RTPRx:1.2.3.4:+5",
            "RTPRx:fe80::1:20480",
            "Vibrate:1:2",
            "Vibrate:1:2:3:4",
            "Key:",
            "http:",
            "mailto:x@y",
        ] {
            assert_eq!(Uri::parse(s).to_string(), s, "{s:?}");
        }
    }

    #[test]
    fn handler_lists_split_on_semicolons() {
        let l = Uri::parse_list("RTPRx:Stop; RTPTx:Stop; Notify:http:server:80:path;");
        assert_eq!(l.len(), 3);
        assert_eq!(l[2].scheme(), "Notify");
    }
}
