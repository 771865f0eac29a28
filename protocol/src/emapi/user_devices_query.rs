//! `<userDevicesQuery>` (the API's "DeviceQuery"): which devices are these users logged in on?

use super::EmApiError;
use super::xml::{self, Element};

/// A device query, `<!ELEMENT userDevicesQuery (userID+, remoteIPAddr?)>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDevicesQuery {
    /// Every `<userID>`, decoded, in order; at least one.
    pub user_ids: Vec<String>,
    /// `<remoteIPAddr>` of the requester.
    pub remote_ip_addr: Option<String>,
}

impl UserDevicesQuery {
    /// The element name.
    pub const ELEMENT: &'static str = "userDevicesQuery";

    /// A query for one user.
    pub fn new(user_id: impl Into<String>) -> Self {
        Self {
            user_ids: vec![user_id.into()],
            remote_ip_addr: None,
        }
    }

    /// Parses a standalone `<userDevicesQuery>` document.
    ///
    /// # Errors
    /// Malformed XML, another root, or no `<userID>`.
    pub fn parse(xml: &[u8]) -> Result<Self, EmApiError> {
        Self::from_element(xml::parse_document(xml)?.expect_name(Self::ELEMENT)?)
    }

    pub(crate) fn from_element(el: &Element) -> Result<Self, EmApiError> {
        Ok(Self {
            user_ids: xml::user_ids(el, Self::ELEMENT)?,
            remote_ip_addr: el.child_text("remoteIPAddr"),
        })
    }

    /// Renders `<userDevicesQuery>…</userDevicesQuery>`.
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        self.write_xml(&mut out);
        out
    }

    pub(crate) fn write_xml(&self, out: &mut String) {
        out.push_str("<userDevicesQuery>");
        for id in &self.user_ids {
            xml::push_user_id(out, id);
        }
        xml::push_optional(out, "remoteIPAddr", self.remote_ip_addr.as_deref());
        out.push_str("</userDevicesQuery>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decodes_and_round_trips() {
        let q = UserDevicesQuery::parse(
            b"<userDevicesQuery><userID>em%40cisco.com</userID><userID>john</userID>\
              <remoteIPAddr>10.0.0.9</remoteIPAddr></userDevicesQuery>",
        )
        .unwrap();
        assert_eq!(q.user_ids, ["em@cisco.com", "john"]);
        assert_eq!(UserDevicesQuery::parse(q.to_xml().as_bytes()).unwrap(), q);
        assert!(matches!(
            UserDevicesQuery::parse(b"<userDevicesQuery></userDevicesQuery>"),
            Err(EmApiError::MissingField {
                field: "userID",
                ..
            })
        ));
    }
}
