//! `<logoutAll>`: log every EM user out of every device (heavy on the database; off-peak only).

use super::EmApiError;
use super::xml::{self, Element};

/// A logout-all request, `<!ELEMENT logoutAll (remoteIPAddr?, isViaHeaderSet?)>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogoutAll {
    /// `<remoteIPAddr>` of the requester.
    pub remote_ip_addr: Option<String>,
    /// `<isViaHeaderSet>`: whether the request came through a proxy.
    pub is_via_header_set: Option<bool>,
}

impl LogoutAll {
    /// The element name.
    pub const ELEMENT: &'static str = "logoutAll";

    /// Parses a standalone `<logoutAll>` document.
    ///
    /// # Errors
    /// Malformed XML, another root, or a bad flag.
    pub fn parse(xml: &[u8]) -> Result<Self, EmApiError> {
        Self::from_element(xml::parse_document(xml)?.expect_name(Self::ELEMENT)?)
    }

    pub(crate) fn from_element(el: &Element) -> Result<Self, EmApiError> {
        Ok(Self {
            remote_ip_addr: el.child_text("remoteIPAddr"),
            is_via_header_set: xml::parse_via(el)?,
        })
    }

    /// Renders `<logoutAll>…</logoutAll>` (empty element pair when no field is set, as the
    /// EMAPI sample writes it).
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        self.write_xml(&mut out);
        out
    }

    pub(crate) fn write_xml(&self, out: &mut String) {
        out.push_str("<logoutAll>");
        xml::push_remote(out, self.remote_ip_addr.as_deref(), self.is_via_header_set);
        out.push_str("</logoutAll>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_empty_forms() {
        assert_eq!(
            LogoutAll::parse(b"<logoutAll></logoutAll>").unwrap(),
            LogoutAll::default()
        );
        assert_eq!(
            LogoutAll::parse(b"<logoutAll/>").unwrap(),
            LogoutAll::default()
        );
        assert_eq!(LogoutAll::default().to_xml(), "<logoutAll></logoutAll>");
        let all = LogoutAll {
            remote_ip_addr: Some("::1".into()),
            is_via_header_set: Some(true),
        };
        assert_eq!(LogoutAll::parse(all.to_xml().as_bytes()).unwrap(), all);
    }
}
