//! `<login>`: log a user into a device with one of their device profiles.

use super::EmApiError;
use super::xml::{self, Element};

/// How long the login holds the device, `<exclusiveDuration>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExclusiveDuration {
    /// `<time>N</time>`. The unit is UNCONFIRMED by Cisco's documents (the EMAPI example uses 60;
    /// CUCM stores `loginduration` in seconds), so the number is carried as sent and the server
    /// decides how to read it.
    Time(u32),
    /// `<indefinite/>`: no automatic logout.
    Indefinite,
}

/// A login request, `<!ELEMENT login (deviceName, userID, deviceProfile?, exclusiveDuration?,
/// remoteIPAddr?, isViaHeaderSet?)>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// `<deviceName>`, e.g. `SEP003094C25B15`.
    pub device_name: String,
    /// `<userID>`, decoded (percent-encoded on the wire).
    pub user_id: String,
    /// `<deviceProfile>`: which of the user's profiles; absent means the user's default.
    pub device_profile: Option<String>,
    /// `<exclusiveDuration>`: absent means the cluster's maximum login time applies.
    pub exclusive_duration: Option<ExclusiveDuration>,
    /// `<remoteIPAddr>`: the phone's address, checked when Validate IP Address is on (code 28).
    pub remote_ip_addr: Option<String>,
    /// `<isViaHeaderSet>`: whether the phone's request came through a proxy (code 30).
    pub is_via_header_set: Option<bool>,
}

impl Login {
    /// The element name.
    pub const ELEMENT: &'static str = "login";

    /// A login with only the required fields.
    pub fn new(device_name: impl Into<String>, user_id: impl Into<String>) -> Self {
        Self {
            device_name: device_name.into(),
            user_id: user_id.into(),
            device_profile: None,
            exclusive_duration: None,
            remote_ip_addr: None,
            is_via_header_set: None,
        }
    }

    /// Parses a standalone `<login>` document.
    ///
    /// # Errors
    /// Malformed XML, another root, a missing `deviceName`/`userID`, or a bad duration or flag.
    pub fn parse(xml: &[u8]) -> Result<Self, EmApiError> {
        Self::from_element(xml::parse_document(xml)?.expect_name(Self::ELEMENT)?)
    }

    pub(crate) fn from_element(el: &Element) -> Result<Self, EmApiError> {
        let exclusive_duration = match el.child("exclusiveDuration") {
            None => None,
            Some(d) => Some(parse_duration(d)?),
        };
        Ok(Self {
            device_name: el.required(Self::ELEMENT, "deviceName")?.trimmed_text(),
            user_id: xml::decode_user_id(&el.required(Self::ELEMENT, "userID")?.trimmed_text()),
            device_profile: el.child_text("deviceProfile"),
            exclusive_duration,
            remote_ip_addr: el.child_text("remoteIPAddr"),
            is_via_header_set: xml::parse_via(el)?,
        })
    }

    /// Renders `<login>…</login>`, children in DTD order.
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        self.write_xml(&mut out);
        out
    }

    pub(crate) fn write_xml(&self, out: &mut String) {
        out.push_str("<login>");
        xml::push_element(out, "deviceName", &self.device_name);
        xml::push_user_id(out, &self.user_id);
        xml::push_optional(out, "deviceProfile", self.device_profile.as_deref());
        match self.exclusive_duration {
            None => {}
            Some(ExclusiveDuration::Time(n)) => {
                out.push_str("<exclusiveDuration>");
                xml::push_element(out, "time", &n.to_string());
                out.push_str("</exclusiveDuration>");
            }
            Some(ExclusiveDuration::Indefinite) => {
                out.push_str("<exclusiveDuration><indefinite/></exclusiveDuration>");
            }
        }
        xml::push_remote(out, self.remote_ip_addr.as_deref(), self.is_via_header_set);
        out.push_str("</login>");
    }
}

fn parse_duration(d: &Element) -> Result<ExclusiveDuration, EmApiError> {
    if let Some(time) = d.child("time") {
        let text = time.trimmed_text();
        return text
            .parse()
            .map(ExclusiveDuration::Time)
            .map_err(|_| EmApiError::InvalidValue {
                element: "time",
                value: xml::truncate(&text),
            });
    }
    if d.has_child("indefinite") {
        return Ok(ExclusiveDuration::Indefinite);
    }
    Err(EmApiError::MissingField {
        parent: "exclusiveDuration",
        field: "time or indefinite",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_optional_field() {
        let login = Login::parse(
            b"<login><deviceName>SEP1</deviceName><userID>em%40cisco.com</userID>\
              <deviceProfile>P</deviceProfile><exclusiveDuration><indefinite/></exclusiveDuration>\
              <remoteIPAddr>10.0.0.1</remoteIPAddr><isViaHeaderSet>false</isViaHeaderSet></login>",
        )
        .unwrap();
        assert_eq!(
            login,
            Login {
                device_name: "SEP1".into(),
                user_id: "em@cisco.com".into(),
                device_profile: Some("P".into()),
                exclusive_duration: Some(ExclusiveDuration::Indefinite),
                remote_ip_addr: Some("10.0.0.1".into()),
                is_via_header_set: Some(false),
            }
        );
        assert_eq!(Login::parse(login.to_xml().as_bytes()).unwrap(), login);
    }

    #[test]
    fn rejects_bad_fields() {
        assert_eq!(
            Login::parse(b"<login><userID>u</userID></login>"),
            Err(EmApiError::MissingField {
                parent: "login",
                field: "deviceName"
            })
        );
        assert!(matches!(
            Login::parse(b"<login><deviceName>d</deviceName></login>"),
            Err(EmApiError::MissingField {
                field: "userID",
                ..
            })
        ));
        assert!(matches!(
            Login::parse(
                b"<login><deviceName>d</deviceName><userID>u</userID>\
                  <exclusiveDuration><time>ten</time></exclusiveDuration></login>"
            ),
            Err(EmApiError::InvalidValue {
                element: "time",
                ..
            })
        ));
        assert!(matches!(
            Login::parse(
                b"<login><deviceName>d</deviceName><userID>u</userID>\
                  <exclusiveDuration/></login>"
            ),
            Err(EmApiError::MissingField {
                parent: "exclusiveDuration",
                ..
            })
        ));
        assert!(matches!(
            Login::parse(
                b"<login><deviceName>d</deviceName><userID>u</userID>\
                  <isViaHeaderSet>maybe</isViaHeaderSet></login>"
            ),
            Err(EmApiError::InvalidValue {
                element: "isViaHeaderSet",
                ..
            })
        ));
    }

    #[test]
    fn renders_the_percent_encoded_user_id() {
        let xml = Login::new("SEP1", "em@cisco.com").to_xml();
        assert_eq!(
            xml,
            "<login><deviceName>SEP1</deviceName><userID>em%40cisco.com</userID></login>"
        );
    }
}
