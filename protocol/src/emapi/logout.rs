//! `<logout>`: log whoever is on a device out of it.

use super::EmApiError;
use super::xml::{self, Element};

/// A logout request, `<!ELEMENT logout (deviceName, remoteIPAddr?, isViaHeaderSet?)>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logout {
    /// `<deviceName>` of the device to log out.
    pub device_name: String,
    /// `<remoteIPAddr>`: the phone's address, checked when Validate IP Address is on.
    pub remote_ip_addr: Option<String>,
    /// `<isViaHeaderSet>`: whether the phone's request came through a proxy.
    pub is_via_header_set: Option<bool>,
}

impl Logout {
    /// The element name.
    pub const ELEMENT: &'static str = "logout";

    /// A logout of `device_name` with no optional fields.
    pub fn new(device_name: impl Into<String>) -> Self {
        Self {
            device_name: device_name.into(),
            remote_ip_addr: None,
            is_via_header_set: None,
        }
    }

    /// Parses a standalone `<logout>` document.
    ///
    /// # Errors
    /// Malformed XML, another root, a missing `deviceName`, or a bad flag.
    pub fn parse(xml: &[u8]) -> Result<Self, EmApiError> {
        Self::from_element(xml::parse_document(xml)?.expect_name(Self::ELEMENT)?)
    }

    pub(crate) fn from_element(el: &Element) -> Result<Self, EmApiError> {
        Ok(Self {
            device_name: el.required(Self::ELEMENT, "deviceName")?.trimmed_text(),
            remote_ip_addr: el.child_text("remoteIPAddr"),
            is_via_header_set: xml::parse_via(el)?,
        })
    }

    /// Renders `<logout>…</logout>`.
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        self.write_xml(&mut out);
        out
    }

    pub(crate) fn write_xml(&self, out: &mut String) {
        out.push_str("<logout>");
        xml::push_element(out, "deviceName", &self.device_name);
        xml::push_remote(out, self.remote_ip_addr.as_deref(), self.is_via_header_set);
        out.push_str("</logout>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_round_trips() {
        let logout = Logout::parse(
            b"<logout>\n <deviceName> SEP003094C25B15 </deviceName>\n \
              <remoteIPAddr>10.1.1.1</remoteIPAddr><isViaHeaderSet>t</isViaHeaderSet></logout>",
        )
        .unwrap();
        assert_eq!(logout.device_name, "SEP003094C25B15");
        assert_eq!(logout.is_via_header_set, Some(true));
        assert_eq!(Logout::parse(logout.to_xml().as_bytes()).unwrap(), logout);
        assert!(matches!(
            Logout::parse(b"<logout/>"),
            Err(EmApiError::MissingField {
                field: "deviceName",
                ..
            })
        ));
        assert!(matches!(
            Logout::parse(b"<login/>"),
            Err(EmApiError::UnexpectedRoot { .. })
        ));
    }
}
