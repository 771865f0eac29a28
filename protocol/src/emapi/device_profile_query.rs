//! `<deviceProfileQuery>`: which device profiles do these users have?
//!
//! The DTD names the element `deviceProfileQuery`; the EMAPI example sends
//! `userDeviceProfileQuery`. Both parse; rendering uses the DTD spelling.

use super::EmApiError;
use super::xml::{self, Element};

/// A device-profile query, `<!ELEMENT deviceProfileQuery (userID+, remoteIPAddr?,
/// isViaHeaderSet?)>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceProfileQuery {
    /// Every `<userID>`, decoded, in order; at least one.
    pub user_ids: Vec<String>,
    /// `<remoteIPAddr>` of the requester.
    pub remote_ip_addr: Option<String>,
    /// `<isViaHeaderSet>`: whether the request came through a proxy.
    pub is_via_header_set: Option<bool>,
}

impl DeviceProfileQuery {
    /// The element name the DTD gives, and the one rendered.
    pub const ELEMENT: &'static str = "deviceProfileQuery";
    /// The element name the EMAPI example uses, accepted as a synonym.
    pub const EXAMPLE_ELEMENT: &'static str = "userDeviceProfileQuery";

    /// A query for one user.
    pub fn new(user_id: impl Into<String>) -> Self {
        Self {
            user_ids: vec![user_id.into()],
            remote_ip_addr: None,
            is_via_header_set: None,
        }
    }

    /// Parses a standalone `<deviceProfileQuery>` or `<userDeviceProfileQuery>` document.
    ///
    /// # Errors
    /// Malformed XML, another root, no `<userID>`, or a bad flag.
    pub fn parse(xml: &[u8]) -> Result<Self, EmApiError> {
        let root = xml::parse_document(xml)?;
        if root.name == Self::EXAMPLE_ELEMENT {
            return Self::from_element(&root);
        }
        Self::from_element(root.expect_name(Self::ELEMENT)?)
    }

    pub(crate) fn from_element(el: &Element) -> Result<Self, EmApiError> {
        Ok(Self {
            user_ids: xml::user_ids(el, Self::ELEMENT)?,
            remote_ip_addr: el.child_text("remoteIPAddr"),
            is_via_header_set: xml::parse_via(el)?,
        })
    }

    /// Renders `<deviceProfileQuery>…</deviceProfileQuery>`.
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        self.write_xml(&mut out);
        out
    }

    pub(crate) fn write_xml(&self, out: &mut String) {
        out.push_str("<deviceProfileQuery>");
        for id in &self.user_ids {
            xml::push_user_id(out, id);
        }
        xml::push_remote(out, self.remote_ip_addr.as_deref(), self.is_via_header_set);
        out.push_str("</deviceProfileQuery>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_both_spellings() {
        let dtd = DeviceProfileQuery::parse(
            b"<deviceProfileQuery><userID>john</userID></deviceProfileQuery>",
        )
        .unwrap();
        let example = DeviceProfileQuery::parse(
            b"<userDeviceProfileQuery><userID>john</userID></userDeviceProfileQuery>",
        )
        .unwrap();
        assert_eq!(dtd, example);
        assert_eq!(dtd, DeviceProfileQuery::new("john"));
        assert_eq!(
            dtd.to_xml(),
            "<deviceProfileQuery><userID>john</userID></deviceProfileQuery>"
        );
        assert!(matches!(
            DeviceProfileQuery::parse(b"<profileQuery/>"),
            Err(EmApiError::UnexpectedRoot { .. })
        ));
    }
}
