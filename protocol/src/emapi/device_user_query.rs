//! `<deviceUserQuery>` (the API's "UserQuery"): who is logged in on these devices?

use super::EmApiError;
use super::xml::{self, Element};

/// A user query, `<!ELEMENT deviceUserQuery (deviceName+, remoteIPAddr?)>`, plus the 12.x-only
/// `<loginType>` child EMApp sends (TAC-212083).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceUserQuery {
    /// Every `<deviceName>`, in order; at least one.
    pub device_names: Vec<String>,
    /// `<loginType>` (`UID`, `DN` or `SP`), sent by CUCM 12.x's own EMApp; kept as sent.
    pub login_type: Option<String>,
    /// `<remoteIPAddr>`: the phone's address.
    pub remote_ip_addr: Option<String>,
}

impl DeviceUserQuery {
    /// The element name.
    pub const ELEMENT: &'static str = "deviceUserQuery";

    /// A query for one device.
    pub fn new(device_name: impl Into<String>) -> Self {
        Self {
            device_names: vec![device_name.into()],
            login_type: None,
            remote_ip_addr: None,
        }
    }

    /// Parses a standalone `<deviceUserQuery>` document.
    ///
    /// # Errors
    /// Malformed XML, another root, or no `<deviceName>`.
    pub fn parse(xml: &[u8]) -> Result<Self, EmApiError> {
        Self::from_element(xml::parse_document(xml)?.expect_name(Self::ELEMENT)?)
    }

    pub(crate) fn from_element(el: &Element) -> Result<Self, EmApiError> {
        let device_names: Vec<String> = el
            .children_named("deviceName")
            .map(Element::trimmed_text)
            .collect();
        if device_names.is_empty() {
            return Err(EmApiError::MissingField {
                parent: Self::ELEMENT,
                field: "deviceName",
            });
        }
        Ok(Self {
            device_names,
            login_type: el.child_text("loginType"),
            remote_ip_addr: el.child_text("remoteIPAddr"),
        })
    }

    /// Renders `<deviceUserQuery>…</deviceUserQuery>` (`loginType` where EMApp puts it).
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        self.write_xml(&mut out);
        out
    }

    pub(crate) fn write_xml(&self, out: &mut String) {
        out.push_str("<deviceUserQuery>");
        for name in &self.device_names {
            xml::push_element(out, "deviceName", name);
        }
        xml::push_optional(out, "loginType", self.login_type.as_deref());
        xml::push_optional(out, "remoteIPAddr", self.remote_ip_addr.as_deref());
        out.push_str("</deviceUserQuery>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_several_devices_and_round_trips() {
        let q = DeviceUserQuery::parse(
            b"<deviceUserQuery><deviceName>SEP1</deviceName><deviceName>SEP2</deviceName>\
              </deviceUserQuery>",
        )
        .unwrap();
        assert_eq!(q.device_names, ["SEP1", "SEP2"]);
        assert_eq!(DeviceUserQuery::parse(q.to_xml().as_bytes()).unwrap(), q);
        assert!(matches!(
            DeviceUserQuery::parse(b"<deviceUserQuery/>"),
            Err(EmApiError::MissingField {
                field: "deviceName",
                ..
            })
        ));
    }
}
