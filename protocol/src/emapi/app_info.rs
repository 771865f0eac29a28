//! `<appInfo>`: the application user (or end user) a request authenticates as.

use std::fmt;

use super::EmApiError;
use super::xml::{self, Element};

/// The credentials every request and query carries.
///
/// `Debug` never prints the credential; `to_xml` does, since it has to go on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct AppInfo {
    /// `<appID>`: the user name (an application user with "Standard EM Authentication Proxy
    /// Rights", or an end user acting on their own profiles). Not percent-encoded.
    pub app_id: String,
    /// `<appCertificate>` or `<appEncryptedCertificate>`.
    pub credential: Credential,
}

/// The secret half of [`AppInfo`]; the DTD allows one of two elements.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// `<appCertificate>`: the user's password in clear, as third-party EM API clients send it.
    Certificate(String),
    /// `<appEncryptedCertificate>`: what Cisco's own EMApp sends as `CCMSysUser` (opaque here).
    EncryptedCertificate(String),
}

impl Credential {
    /// The secret text, for the server to check.
    pub fn secret(&self) -> &str {
        match self {
            Self::Certificate(s) | Self::EncryptedCertificate(s) => s,
        }
    }

    fn element(&self) -> &'static str {
        match self {
            Self::Certificate(_) => "appCertificate",
            Self::EncryptedCertificate(_) => "appEncryptedCertificate",
        }
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Certificate(_) => f.write_str("Certificate(<redacted>)"),
            Self::EncryptedCertificate(_) => f.write_str("EncryptedCertificate(<redacted>)"),
        }
    }
}

impl fmt::Debug for AppInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppInfo")
            .field("app_id", &self.app_id)
            .field("credential", &self.credential)
            .finish()
    }
}

impl AppInfo {
    /// The element name.
    pub const ELEMENT: &'static str = "appInfo";

    /// App info with a clear-text `<appCertificate>` (password).
    pub fn with_password(app_id: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            app_id: app_id.into(),
            credential: Credential::Certificate(password.into()),
        }
    }

    /// Parses a standalone `<appInfo>` document.
    ///
    /// # Errors
    /// Malformed XML, another root, or a missing `<appID>` / certificate.
    pub fn parse(xml: &[u8]) -> Result<Self, EmApiError> {
        Self::from_element(xml::parse_document(xml)?.expect_name(Self::ELEMENT)?)
    }

    pub(crate) fn from_element(el: &Element) -> Result<Self, EmApiError> {
        let app_id = el.required(Self::ELEMENT, "appID")?.trimmed_text();
        // The secret is taken verbatim: a password may start or end with a space.
        let credential = if let Some(c) = el.child("appCertificate") {
            Credential::Certificate(c.text.clone())
        } else if let Some(c) = el.child("appEncryptedCertificate") {
            Credential::EncryptedCertificate(c.text.clone())
        } else {
            return Err(EmApiError::MissingField {
                parent: Self::ELEMENT,
                field: "appCertificate or appEncryptedCertificate",
            });
        };
        Ok(Self { app_id, credential })
    }

    /// Renders `<appInfo>…</appInfo>`.
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        self.write_xml(&mut out);
        out
    }

    pub(crate) fn write_xml(&self, out: &mut String) {
        out.push_str("<appInfo>");
        xml::push_element(out, "appID", &self.app_id);
        xml::push_element(out, self.credential.element(), self.credential.secret());
        out.push_str("</appInfo>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_credential_kinds() {
        let plain = AppInfo::parse(
            b"<appInfo><appID>appid</appID><appCertificate>apppasswd</appCertificate></appInfo>",
        )
        .unwrap();
        assert_eq!(plain, AppInfo::with_password("appid", "apppasswd"));

        let enc = AppInfo::parse(
            b"<appInfo>\n      <appID>CCMSysUser</appID>\n      \
              <appEncryptedCertificate>xxxxxxx</appEncryptedCertificate>\n  </appInfo>",
        )
        .unwrap();
        assert_eq!(enc.app_id, "CCMSysUser");
        assert_eq!(
            enc.credential,
            Credential::EncryptedCertificate("xxxxxxx".into())
        );
    }

    #[test]
    fn debug_redacts_the_credential() {
        let info = AppInfo::with_password("appid", "s3cret-pw");
        let shown = format!("{info:?} {:#?}", info.credential);
        assert!(!shown.contains("s3cret-pw"), "{shown}");
        assert!(shown.contains("<redacted>") && shown.contains("appid"));
        let enc = Credential::EncryptedCertificate("s3cret-pw".into());
        assert!(!format!("{enc:?}").contains("s3cret"));
    }

    #[test]
    fn missing_parts_are_errors() {
        assert_eq!(
            AppInfo::parse(b"<appInfo><appCertificate>x</appCertificate></appInfo>"),
            Err(EmApiError::MissingField {
                parent: "appInfo",
                field: "appID"
            })
        );
        assert!(matches!(
            AppInfo::parse(b"<appInfo><appID>a</appID></appInfo>"),
            Err(EmApiError::MissingField { .. })
        ));
    }

    #[test]
    fn secret_is_verbatim_and_escaped() {
        let info = AppInfo::with_password("a", " p<&>\"' ");
        let back = AppInfo::parse(info.to_xml().as_bytes()).unwrap();
        assert_eq!(back, info);
    }
}
