//! The device configuration file a phone downloads at boot: `SEP<MAC>.cnf.xml`.
//!
//! [`DeviceConfig`] is a faithful subset of a CUCM SIP phone's file, with the same element
//! names and nesting: `<device>` → `<deviceProtocol>`, `<devicePool>` → `<callManagerGroup>` →
//! `<members>` → `<member>` → `<callManager>` (`<ports><sipPort>`, `<processNodeName>`),
//! `<loadInformation>`, `<vendorConfig>`, `<userLocale>`, `<authenticationURL>`, …,
//! `<sipProfile>` (`<sipProxies><registerWithProxy>`, `<sipLines><line button="N">`),
//! `<phoneServices>` (`<phoneService type category>` with `<name>` and `<url>`), `<userId>`.
//! Elements the subset does not model are skipped when parsing. Pure: no I/O.

use std::fmt::Write as _;

use quick_xml::events::{BytesStart, Event};

/// Largest file [`DeviceConfig::parse`] accepts (real files are 10–40 KB).
pub const MAX_CONFIG_BYTES: usize = 1024 * 1024;
/// Deepest nesting accepted.
const MAX_DEPTH: usize = 32;
/// Most elements accepted.
const MAX_ELEMENTS: usize = 50_000;
/// CUCM's `featureID` of a line button.
pub const FEATURE_LINE: u32 = 9;
/// The phone service name of Extension Mobility.
pub const EM_SERVICE: &str = "Extension Mobility";

/// A phone's configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceConfig {
    /// `<deviceProtocol>` (`SIP`).
    pub device_protocol: String,
    /// `<devicePool><name>`.
    pub device_pool: String,
    /// `<devicePool><callManagerGroup><members>`, in priority order: where the phone registers.
    pub call_managers: Vec<CallManager>,
    /// `<loadInformation>` (firmware load name).
    pub load_information: String,
    /// `<vendorConfig>` children, as (element, text).
    pub vendor_config: Vec<(String, String)>,
    /// `<userLocale>`.
    pub user_locale: UserLocale,
    /// `<networkLocale>`.
    pub network_locale: String,
    /// `<authenticationURL>`.
    pub authentication_url: String,
    /// `<directoryURL>`.
    pub directory_url: String,
    /// `<servicesURL>`.
    pub services_url: String,
    /// `<sipProfile><sipProxies><registerWithProxy>`.
    pub register_with_proxy: bool,
    /// `<sipProfile><phoneLabel>`.
    pub phone_label: String,
    /// `<sipProfile><sipLines>`, button order.
    pub lines: Vec<SipLine>,
    /// `<phoneServices><provisioning>`.
    pub services_provisioning: u32,
    /// `<phoneServices>`.
    pub services: Vec<PhoneService>,
    /// `<userId>`: the logged-in EM user (absent when logged out).
    pub user_id: Option<String>,
}

/// One Unified CM node the phone may register with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallManager {
    /// `<member priority="N">`.
    pub priority: u32,
    /// `<callManager><name>`.
    pub name: String,
    /// `<ports><sipPort>`.
    pub sip_port: u16,
    /// `<ports><securedSipPort>`.
    pub secured_sip_port: u16,
    /// `<processNodeName>`: the node's address or host name.
    pub process_node_name: String,
}

/// `<userLocale>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserLocale {
    /// `<name>`, e.g. `English_United_States`.
    pub name: String,
    /// `<langCode>`, e.g. `en_US`.
    pub lang_code: String,
    /// `<winCharSet>`, e.g. `iso-8859-1`.
    pub win_char_set: String,
}

/// One `<sipLines><line>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SipLine {
    /// `button` attribute (1-based).
    pub button: u32,
    /// `<featureID>` (9: line).
    pub feature_id: u32,
    /// `<featureLabel>`.
    pub feature_label: String,
    /// `<proxy>` (`USECALLMANAGER`: register with the call managers above).
    pub proxy: String,
    /// `<port>`.
    pub port: u16,
    /// `<name>`: the directory number.
    pub name: String,
    /// `<displayName>`.
    pub display_name: String,
}

/// One `<phoneServices><phoneService>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhoneService {
    /// `type` attribute (1: XML service).
    pub service_type: u32,
    /// `category` attribute (0: XML service).
    pub category: u32,
    /// `<name>`.
    pub name: String,
    /// `<url>` (with CUCM's `#DEVICENAME#` macro left in).
    pub url: String,
}

/// Why a configuration file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Larger than [`MAX_CONFIG_BYTES`].
    #[error("config file too large ({0} bytes)")]
    TooLarge(usize),
    /// Not well-formed XML (or truncated, too deep, not UTF-8).
    #[error("malformed config file: {0}")]
    Malformed(String),
    /// The root is not `<device>`.
    #[error("config file root is <{0}>, not <device>")]
    NotDevice(String),
    /// A value that must be a number is not.
    #[error("bad value for <{field}>: {value:?}")]
    BadValue {
        /// The element or attribute.
        field: &'static str,
        /// The text.
        value: String,
    },
}

/// Escapes XML text and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => o.push(c),
        }
    }
    o
}

fn is_xml_name(s: &str) -> bool {
    let mut it = s.chars();
    it.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && it.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl DeviceConfig {
    /// The Extension Mobility service URL, if the device subscribes to it.
    pub fn em_service_url(&self) -> Option<&str> {
        self.services
            .iter()
            .find(|s| s.name == EM_SERVICE || s.url.contains("/emapp/EMAppServlet"))
            .map(|s| s.url.as_str())
    }

    /// Where the phone registers: the first call manager's (address, SIP port).
    pub fn sip_proxy(&self) -> Option<(&str, u16)> {
        self.call_managers
            .iter()
            .min_by_key(|c| c.priority)
            .map(|c| (c.process_node_name.as_str(), c.sip_port))
    }

    /// Renders the file as CUCM's TFTP serves it.
    pub fn to_xml(&self) -> String {
        let mut o = String::with_capacity(4096);
        let t = |o: &mut String, name: &str, v: &str| {
            let _ = write!(o, "<{name}>{}</{name}>", esc(v));
        };
        o.push_str(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<device xsi:type=\"axl:XIPPhone\">\n",
        );
        o.push_str("<fullConfig>true</fullConfig>\n");
        t(&mut o, "deviceProtocol", &self.device_protocol);
        o.push_str("\n<devicePool>");
        t(&mut o, "name", &self.device_pool);
        o.push_str("<callManagerGroup><members>");
        for cm in &self.call_managers {
            let _ = write!(o, "<member priority=\"{}\"><callManager>", cm.priority);
            t(&mut o, "name", &cm.name);
            t(&mut o, "description", &cm.name);
            let _ = write!(
                o,
                "<ports><ethernetPhonePort>2000</ethernetPhonePort><sipPort>{}</sipPort><securedSipPort>{}</securedSipPort></ports>",
                cm.sip_port, cm.secured_sip_port
            );
            t(&mut o, "processNodeName", &cm.process_node_name);
            o.push_str("</callManager></member>");
        }
        o.push_str("</members></callManagerGroup></devicePool>\n");
        t(&mut o, "loadInformation", &self.load_information);
        o.push_str("\n<vendorConfig>");
        for (k, v) in self.vendor_config.iter().filter(|(k, _)| is_xml_name(k)) {
            t(&mut o, k, v);
        }
        o.push_str("</vendorConfig>\n<userLocale>");
        t(&mut o, "name", &self.user_locale.name);
        t(&mut o, "langCode", &self.user_locale.lang_code);
        t(&mut o, "winCharSet", &self.user_locale.win_char_set);
        o.push_str("</userLocale>\n");
        t(&mut o, "networkLocale", &self.network_locale);
        o.push('\n');
        t(&mut o, "authenticationURL", &self.authentication_url);
        o.push('\n');
        t(&mut o, "directoryURL", &self.directory_url);
        o.push('\n');
        t(&mut o, "servicesURL", &self.services_url);
        o.push_str("\n<sipProfile><sipProxies>");
        t(
            &mut o,
            "registerWithProxy",
            if self.register_with_proxy {
                "true"
            } else {
                "false"
            },
        );
        o.push_str("</sipProxies>");
        t(&mut o, "phoneLabel", &self.phone_label);
        o.push_str("<sipLines>\n");
        for (i, l) in self.lines.iter().enumerate() {
            let _ = write!(o, "<line button=\"{}\" lineIndex=\"{}\">", l.button, i + 1);
            let _ = write!(o, "<featureID>{}</featureID>", l.feature_id);
            t(&mut o, "featureLabel", &l.feature_label);
            t(&mut o, "proxy", &l.proxy);
            let _ = write!(o, "<port>{}</port>", l.port);
            t(&mut o, "name", &l.name);
            t(&mut o, "displayName", &l.display_name);
            o.push_str("</line>\n");
        }
        o.push_str("</sipLines></sipProfile>\n");
        o.push_str("<phoneServices useHTTPS=\"false\">");
        let _ = write!(
            o,
            "<provisioning>{}</provisioning>",
            self.services_provisioning
        );
        for s in &self.services {
            let _ = write!(
                o,
                "<phoneService type=\"{}\" category=\"{}\">",
                s.service_type, s.category
            );
            t(&mut o, "name", &s.name);
            t(&mut o, "url", &s.url);
            o.push_str("<vendor></vendor><version></version></phoneService>");
        }
        o.push_str("</phoneServices>\n");
        if let Some(u) = &self.user_id {
            let _ = writeln!(
                o,
                "<userId serviceProfileFile=\"SPDefault.cnf.xml\">{}</userId>",
                esc(u)
            );
        }
        o.push_str("</device>\n");
        o
    }

    /// Parses a configuration file, skipping elements the subset does not model.
    ///
    /// # Errors
    /// [`ConfigError`] for oversized, malformed, truncated or wrongly-rooted input, or a
    /// non-numeric port, button or service type.
    pub fn parse(xml: &[u8]) -> Result<DeviceConfig, ConfigError> {
        if xml.len() > MAX_CONFIG_BYTES {
            return Err(ConfigError::TooLarge(xml.len()));
        }
        let text = std::str::from_utf8(xml)
            .map_err(|e| ConfigError::Malformed(format!("not UTF-8: {e}")))?;
        let root = tree(text)?;
        if root.name != "device" {
            return Err(ConfigError::NotDevice(root.name));
        }
        let mut c = DeviceConfig {
            device_protocol: root.text_of("deviceProtocol"),
            load_information: root.text_of("loadInformation"),
            network_locale: root.text_of("networkLocale"),
            authentication_url: root.text_of("authenticationURL"),
            directory_url: root.text_of("directoryURL"),
            services_url: root.text_of("servicesURL"),
            user_id: root
                .child("userId")
                .map(|u| u.text.trim().to_owned())
                .filter(|u| !u.is_empty()),
            ..DeviceConfig::default()
        };
        if let Some(pool) = root.child("devicePool") {
            c.device_pool = pool.text_of("name");
            let members = pool
                .child("callManagerGroup")
                .and_then(|g| g.child("members"));
            for m in members.into_iter().flat_map(|m| m.all("member")) {
                let Some(cm) = m.child("callManager") else {
                    continue;
                };
                let ports = cm.child("ports");
                c.call_managers.push(CallManager {
                    priority: num_attr(m, "priority", "member priority")?.unwrap_or(0),
                    name: cm.text_of("name"),
                    sip_port: num_text(ports, "sipPort")?.unwrap_or(5060),
                    secured_sip_port: num_text(ports, "securedSipPort")?.unwrap_or(5061),
                    process_node_name: cm.text_of("processNodeName"),
                });
            }
        }
        if let Some(v) = root.child("vendorConfig") {
            c.vendor_config = v
                .children
                .iter()
                .map(|e| (e.name.clone(), e.text.trim().to_owned()))
                .collect();
        }
        if let Some(l) = root.child("userLocale") {
            c.user_locale = UserLocale {
                name: l.text_of("name"),
                lang_code: l.text_of("langCode"),
                win_char_set: l.text_of("winCharSet"),
            };
        }
        if let Some(sp) = root.child("sipProfile") {
            c.register_with_proxy = sp
                .child("sipProxies")
                .is_some_and(|p| p.text_of("registerWithProxy").eq_ignore_ascii_case("true"));
            c.phone_label = sp.text_of("phoneLabel");
            for (i, l) in sp
                .child("sipLines")
                .into_iter()
                .flat_map(|s| s.all("line"))
                .enumerate()
            {
                c.lines.push(SipLine {
                    button: num_attr(l, "button", "line button")?.unwrap_or(i as u32 + 1),
                    feature_id: num_text(Some(l), "featureID")?.unwrap_or(FEATURE_LINE),
                    feature_label: l.text_of("featureLabel"),
                    proxy: l.text_of("proxy"),
                    port: num_text(Some(l), "port")?.unwrap_or(5060),
                    name: l.text_of("name"),
                    display_name: l.text_of("displayName"),
                });
            }
        }
        if let Some(ps) = root.child("phoneServices") {
            c.services_provisioning = num_text(Some(ps), "provisioning")?.unwrap_or(0);
            for s in ps.all("phoneService") {
                c.services.push(PhoneService {
                    service_type: num_attr(s, "type", "phoneService type")?.unwrap_or(1),
                    category: num_attr(s, "category", "phoneService category")?.unwrap_or(0),
                    name: s.text_of("name"),
                    url: s.text_of("url"),
                });
            }
        }
        Ok(c)
    }
}

#[derive(Debug, Default)]
struct El {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<El>,
    text: String,
}

impl El {
    fn child(&self, name: &str) -> Option<&El> {
        self.children.iter().find(|c| c.name == name)
    }
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a El> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
    fn text_of(&self, name: &str) -> String {
        self.child(name)
            .map(|c| c.text.trim().to_owned())
            .unwrap_or_default()
    }
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn num_attr<T: std::str::FromStr>(
    e: &El,
    name: &str,
    field: &'static str,
) -> Result<Option<T>, ConfigError> {
    match e.attr(name).map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| ConfigError::BadValue {
            field,
            value: v.to_owned(),
        }),
    }
}

fn num_text<T: std::str::FromStr>(
    e: Option<&El>,
    name: &'static str,
) -> Result<Option<T>, ConfigError> {
    let Some(v) = e.and_then(|e| e.child(name)).map(|c| c.text.trim()) else {
        return Ok(None);
    };
    if v.is_empty() {
        return Ok(None);
    }
    v.parse().map(Some).map_err(|_| ConfigError::BadValue {
        field: name,
        value: v.to_owned(),
    })
}

fn start_el(e: &BytesStart<'_>) -> Result<El, ConfigError> {
    let mut el = El {
        name: e.name().as_ref().to_owned(),
        ..El::default()
    };
    for a in e.attributes() {
        let a = a.map_err(|e| ConfigError::Malformed(e.to_string()))?;
        let v = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| ConfigError::Malformed(e.to_string()))?;
        el.attrs.push((a.key.as_ref().to_owned(), v.into_owned()));
    }
    Ok(el)
}

fn tree(xml: &str) -> Result<El, ConfigError> {
    let bad = |m: String| ConfigError::Malformed(m);
    let mut r = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<El> = Vec::new();
    let mut root: Option<El> = None;
    let mut count = 0usize;
    loop {
        match r.read_event().map_err(|e| bad(e.to_string()))? {
            Event::Start(e) => {
                count += 1;
                if root.is_some() || stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                    return Err(bad(
                        "content after the root, or too deep or too many elements".into(),
                    ));
                }
                stack.push(start_el(&e)?);
            }
            Event::Empty(e) => {
                count += 1;
                if root.is_some() || count > MAX_ELEMENTS {
                    return Err(bad("content after the root, or too many elements".into()));
                }
                let el = start_el(&e)?;
                match stack.last_mut() {
                    Some(p) => p.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| bad("unbalanced end tag".into()))?;
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
                    None => return Err(bad("text outside the root element".into())),
                }
            }
            Event::CData(t) => {
                if let Some(p) = stack.last_mut() {
                    p.text.push_str(&t);
                }
            }
            Event::GeneralRef(g) => {
                let ch = match g.resolve_char_ref().map_err(|e| bad(e.to_string()))? {
                    Some(c) => c,
                    None => match &*g {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => return Err(bad(format!("unknown entity &{};", other))),
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
        return Err(bad("truncated: unclosed elements at end of file".into()));
    }
    root.ok_or_else(|| bad("empty document".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DeviceConfig {
        DeviceConfig {
            device_protocol: "SIP".into(),
            device_pool: "cluster1-pool".into(),
            call_managers: vec![CallManager {
                priority: 0,
                name: "cluster1".into(),
                sip_port: 5060,
                secured_sip_port: 5061,
                process_node_name: "127.0.0.1".into(),
            }],
            load_information: "sip88xx.14-2-1-0001-14".into(),
            vendor_config: vec![("webAccess".into(), "0".into())],
            user_locale: UserLocale {
                name: "English_United_States".into(),
                lang_code: "en_US".into(),
                win_char_set: "iso-8859-1".into(),
            },
            network_locale: "United_States".into(),
            authentication_url: "http://127.0.0.1:8080/ccmcip/authenticate.jsp".into(),
            directory_url: String::new(),
            services_url: "http://127.0.0.1:8080/ccmcip/getservicesmenu.jsp".into(),
            register_with_proxy: true,
            phone_label: "Bob & Co".into(),
            lines: vec![SipLine {
                button: 1,
                feature_id: FEATURE_LINE,
                feature_label: "Bob".into(),
                proxy: "USECALLMANAGER".into(),
                port: 5060,
                name: "1000001".into(),
                display_name: "Bob <1000001>".into(),
            }],
            services_provisioning: 0,
            services: vec![PhoneService {
                service_type: 1,
                category: 0,
                name: EM_SERVICE.into(),
                url: "http://127.0.0.1:8080/emapp/EMAppServlet?device=#DEVICENAME#&EMCC=#EMCC#"
                    .into(),
            }],
            user_id: Some("bob".into()),
        }
    }

    #[test]
    fn round_trips() {
        let c = sample();
        let x = c.to_xml();
        assert!(x.contains("device=#DEVICENAME#&amp;EMCC=#EMCC#"));
        assert!(x.contains("<line button=\"1\" lineIndex=\"1\"><featureID>9</featureID>"));
        let back = DeviceConfig::parse(x.as_bytes()).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.sip_proxy(), Some(("127.0.0.1", 5060)));
        assert!(
            back.em_service_url()
                .unwrap()
                .starts_with("http://127.0.0.1:8080/emapp/")
        );
    }

    #[test]
    fn skips_unmodelled_elements_of_a_real_file() {
        let real = r#"<?xml version="1.0" encoding="UTF-8"?>
<device xsi:type="axl:XIPPhone" ctiid="94" uuid="{a}">
<fullConfig>true</fullConfig>
<deviceProtocol>SIP</deviceProtocol>
<sshUserId></sshUserId>
<devicePool uuid="{b}"><revertPriority>0</revertPriority><name>Default</name>
<dateTimeSetting uuid="{c}"><name>CMLocal</name><dateTemplate>M/D/Y</dateTemplate></dateTimeSetting>
<callManagerGroup><name>Default</name><tftpDefault>true</tftpDefault><members>
<member priority="0"><callManager><name>cucm-pub</name><description>cucm-pub</description>
<ports><ethernetPhonePort>2000</ethernetPhonePort><sipPort>5060</sipPort><securedSipPort>5061</securedSipPort>
<mgcpPorts><listen>2427</listen><keepAlive>2428</keepAlive></mgcpPorts></ports>
<processNodeName>10.0.0.10</processNodeName></callManager></member>
</members></callManagerGroup></devicePool>
<sipProfile><sipProxies><backupProxy></backupProxy><registerWithProxy>true</registerWithProxy></sipProxies>
<sipLines><line button="1" lineIndex="1"><featureID>9</featureID><featureLabel>2001</featureLabel><proxy>USECALLMANAGER</proxy><port>5060</port><name>2001</name><displayName>Alice</displayName><autoAnswer><autoAnswerEnabled>2</autoAnswerEnabled></autoAnswer></line>
<line button="2" lineIndex="2"><featureID>21</featureID><featureLabel>Speed</featureLabel></line></sipLines></sipProfile>
<phoneServices useHTTPS="true"><provisioning>0</provisioning>
<phoneService type="1" category="0"><name>Missed Calls</name><url>Application:Cisco/MissedCalls</url><vendor></vendor><version></version></phoneService>
<phoneService type="1" category="0"><name>Extension Mobility</name><url>http://10.0.0.10:8080/emapp/EMAppServlet?device=#DEVICENAME#</url></phoneService>
</phoneServices></device>"#;
        let c = DeviceConfig::parse(real.as_bytes()).unwrap();
        assert_eq!(c.sip_proxy(), Some(("10.0.0.10", 5060)));
        assert_eq!(c.lines.len(), 2);
        assert_eq!(c.lines[1].feature_id, 21);
        assert_eq!(
            c.em_service_url(),
            Some("http://10.0.0.10:8080/emapp/EMAppServlet?device=#DEVICENAME#")
        );
        assert_eq!(c.user_id, None);
    }

    #[test]
    fn refuses_bad_input() {
        let x = sample().to_xml();
        for cut in [10, x.len() / 2, x.len() - 12] {
            assert!(
                DeviceConfig::parse(&x.as_bytes()[..cut]).is_err(),
                "truncated at {cut}"
            );
        }
        assert!(matches!(
            DeviceConfig::parse(b""),
            Err(ConfigError::Malformed(_))
        ));
        assert!(matches!(
            DeviceConfig::parse(b"<phone/>"),
            Err(ConfigError::NotDevice(_))
        ));
        assert!(matches!(
            DeviceConfig::parse(b"<device><a></b></device>"),
            Err(ConfigError::Malformed(_))
        ));
        assert!(matches!(
            DeviceConfig::parse(&[0xff, 0xfe, b'<']),
            Err(ConfigError::Malformed(_))
        ));
        let big = vec![b' '; MAX_CONFIG_BYTES + 1];
        assert!(matches!(
            DeviceConfig::parse(&big),
            Err(ConfigError::TooLarge(_))
        ));
        let deep = format!(
            "<device>{}{}</device>",
            "<a>".repeat(100),
            "</a>".repeat(100)
        );
        assert!(matches!(
            DeviceConfig::parse(deep.as_bytes()),
            Err(ConfigError::Malformed(_))
        ));
        let bad_port = x.replace("<sipPort>5060</sipPort>", "<sipPort>fifty</sipPort>");
        assert!(matches!(
            DeviceConfig::parse(bad_port.as_bytes()),
            Err(ConfigError::BadValue {
                field: "sipPort",
                ..
            })
        ));
        let bad_button = x.replace("button=\"1\"", "button=\"-1\"");
        assert!(matches!(
            DeviceConfig::parse(bad_button.as_bytes()),
            Err(ConfigError::BadValue { .. })
        ));
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    fn text() -> impl Strategy<Value = String> {
        "[ -~\u{e9}\u{4e2d}<>&\"']{0,24}".prop_map(|s| s.trim().to_owned())
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = DeviceConfig::parse(&bytes);
        }

        #[test]
        fn rendered_configs_parse_back(
            label in text(), dn in "[0-9]{1,10}", url in text(), user in proptest::option::of("[a-z0-9.@]{1,12}"),
            port in 1u16.., lines in 0usize..4,
        ) {
            let c = DeviceConfig {
                device_protocol: "SIP".into(),
                phone_label: label.clone(),
                call_managers: vec![CallManager { priority: 0, name: "n".into(), sip_port: port, secured_sip_port: port, process_node_name: "10.0.0.1".into() }],
                lines: (0..lines).map(|i| SipLine {
                    button: i as u32 + 1, feature_id: FEATURE_LINE, feature_label: label.clone(),
                    proxy: "USECALLMANAGER".into(), port, name: dn.clone(), display_name: label.clone(),
                }).collect(),
                services: vec![PhoneService { service_type: 1, category: 0, name: EM_SERVICE.into(), url: url.clone() }],
                user_id: user,
                ..DeviceConfig::default()
            };
            prop_assert_eq!(DeviceConfig::parse(c.to_xml().as_bytes()).unwrap(), c);
        }
    }
}
