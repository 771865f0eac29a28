//! The EM API XML of `/emservice/EMServiceServlet`: requests, queries and responses.
//!
//! One module per message, all the same shape (a struct, `parse` over a standalone document,
//! `to_xml`); [`Request`] dispatches to them and [`Envelope`] adds the `<appInfo>` and the
//! `<request>`/`<query>` root. [`Response`] is the answer. [`form_body`]/[`xml_from_form`] handle
//! the `xml=` form transport. Pure: no I/O. Input is bounded, DTDs are refused and entities are
//! never expanded; every error maps to the EMService code a server answers ([`EmApiError::em_code`]).
//! Parsing is tolerant where Cisco's own documents disagree (see [`Response`]); unknown child
//! elements are ignored (12.x added `loginType`), and where a single element repeats the first wins.
//!
//! ```
//! use emroam_protocol::emapi::{self, AppInfo, Envelope, Login, Response};
//!
//! let env = Envelope::new(AppInfo::with_password("app", "pw"), Login::new("SEP1", "em@cisco.com"));
//! let body = emapi::form_body(&env.to_xml()); // what the client POSTs
//! let xml = emapi::xml_from_form(body.as_bytes())?; // what the server reads
//! assert_eq!(emapi::parse_request(xml.as_bytes())?, env);
//! let reply = Response::failure(emroam_protocol::codes::BUSY).to_xml();
//! assert_eq!(emapi::parse_response(reply.as_bytes())?.error_code(), Some(26));
//! # Ok::<(), emapi::EmApiError>(())
//! ```

mod app_info;
mod device_profile_query;
mod device_user_query;
mod error;
mod form;
mod login;
mod logout;
mod logout_all;
mod response;
mod user_devices_query;
mod xml;

pub use app_info::{AppInfo, Credential};
pub use device_profile_query::DeviceProfileQuery;
pub use device_user_query::DeviceUserQuery;
pub use error::EmApiError;
pub use form::{form_body, xml_from_form};
pub use login::{ExclusiveDuration, Login};
pub use logout::Logout;
pub use logout_all::LogoutAll;
pub use response::{DeviceProfile, DeviceUser, Response, UserDeviceProfiles, UserDevices};
pub use user_devices_query::UserDevicesQuery;

/// Largest XML document accepted (1 MiB); a bulk query of thousands of devices fits easily.
pub const MAX_XML_BYTES: usize = 1 << 20;
/// Largest request form body accepted (64 KiB), and so the reference server's HTTP body
/// limit: a request names at most a few dozen devices or users (the fleet asks 50 at a time),
/// and a server keeps every connection's buffer small. Responses, which list results, are
/// bounded by [`MAX_XML_BYTES`] instead.
pub const MAX_FORM_BYTES: usize = 64 * 1024;
/// Deepest element nesting accepted; real documents nest at most 5 deep.
pub const MAX_DEPTH: usize = 16;
/// Most elements accepted in one document, so memory stays proportional to real use.
pub const MAX_ELEMENTS: usize = 65_536;

/// One EM API operation, the element inside `<request>` or `<query>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `<request><login>`.
    Login(Login),
    /// `<request><logout>`.
    Logout(Logout),
    /// `<request><logoutAll>`.
    LogoutAll(LogoutAll),
    /// `<query><deviceUserQuery>`: who is on these devices.
    DeviceUserQuery(DeviceUserQuery),
    /// `<query><userDevicesQuery>`: where are these users.
    UserDevicesQuery(UserDevicesQuery),
    /// `<query><deviceProfileQuery>` (or `userDeviceProfileQuery`): these users' profiles.
    DeviceProfileQuery(DeviceProfileQuery),
}

/// The root element a [`Request`] travels in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Root {
    /// `<request>`: login, logout, logoutAll.
    Request,
    /// `<query>`: the three queries.
    Query,
}

impl Root {
    /// The element name.
    pub fn element(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Query => "query",
        }
    }
}

impl Request {
    /// Whether this operation goes in `<request>` or `<query>`.
    pub fn root(&self) -> Root {
        match self {
            Self::Login(_) | Self::Logout(_) | Self::LogoutAll(_) => Root::Request,
            Self::DeviceUserQuery(_) | Self::UserDevicesQuery(_) | Self::DeviceProfileQuery(_) => {
                Root::Query
            }
        }
    }

    /// The operation's element name as rendered (e.g. `login`, `deviceUserQuery`).
    pub fn element(&self) -> &'static str {
        match self {
            Self::Login(_) => Login::ELEMENT,
            Self::Logout(_) => Logout::ELEMENT,
            Self::LogoutAll(_) => LogoutAll::ELEMENT,
            Self::DeviceUserQuery(_) => DeviceUserQuery::ELEMENT,
            Self::UserDevicesQuery(_) => UserDevicesQuery::ELEMENT,
            Self::DeviceProfileQuery(_) => DeviceProfileQuery::ELEMENT,
        }
    }

    /// Reads the operation element `el` found inside `root`.
    fn from_element(root: Root, el: &xml::Element) -> Result<Self, EmApiError> {
        match (root, el.name.as_str()) {
            (Root::Request, Login::ELEMENT) => Login::from_element(el).map(Self::Login),
            (Root::Request, Logout::ELEMENT) => Logout::from_element(el).map(Self::Logout),
            (Root::Request, LogoutAll::ELEMENT) => LogoutAll::from_element(el).map(Self::LogoutAll),
            (Root::Query, DeviceUserQuery::ELEMENT) => {
                DeviceUserQuery::from_element(el).map(Self::DeviceUserQuery)
            }
            (Root::Query, UserDevicesQuery::ELEMENT) => {
                UserDevicesQuery::from_element(el).map(Self::UserDevicesQuery)
            }
            (Root::Query, DeviceProfileQuery::ELEMENT | DeviceProfileQuery::EXAMPLE_ELEMENT) => {
                DeviceProfileQuery::from_element(el).map(Self::DeviceProfileQuery)
            }
            // Everything else, including EMCC's `checkUser` (not supported by the EM API) and a
            // query sent in `<request>`: "Query type undetermined".
            (root, other) => Err(EmApiError::UnknownOperation {
                root: root.element(),
                element: xml::truncate(other),
            }),
        }
    }

    /// Renders the operation element alone (no root, no `<appInfo>`).
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        self.write_xml(&mut out);
        out
    }

    fn write_xml(&self, out: &mut String) {
        match self {
            Self::Login(m) => m.write_xml(out),
            Self::Logout(m) => m.write_xml(out),
            Self::LogoutAll(m) => m.write_xml(out),
            Self::DeviceUserQuery(m) => m.write_xml(out),
            Self::UserDevicesQuery(m) => m.write_xml(out),
            Self::DeviceProfileQuery(m) => m.write_xml(out),
        }
    }
}

macro_rules! request_from {
    ($($variant:ident),*) => {$(
        impl From<$variant> for Request {
            fn from(m: $variant) -> Self {
                Self::$variant(m)
            }
        }
    )*};
}
request_from!(
    Login,
    Logout,
    LogoutAll,
    DeviceUserQuery,
    UserDevicesQuery,
    DeviceProfileQuery
);

/// A whole request document: credentials plus one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Who is asking (`Debug` redacts the credential).
    pub app_info: AppInfo,
    /// What they ask for; decides the root element.
    pub request: Request,
}

impl Envelope {
    /// An envelope for `request`, sent as `app_info`.
    pub fn new(app_info: AppInfo, request: impl Into<Request>) -> Self {
        Self {
            app_info,
            request: request.into(),
        }
    }

    /// Parses a `<request>` or `<query>` document; same as [`parse_request`].
    ///
    /// # Errors
    /// See [`parse_request`].
    pub fn parse(xml: &[u8]) -> Result<Self, EmApiError> {
        let root_el = xml::parse_document(xml)?;
        let root = match root_el.name.as_str() {
            "request" => Root::Request,
            "query" => Root::Query,
            other => {
                return Err(EmApiError::UnexpectedRoot {
                    found: xml::truncate(other),
                    expected: "<request> or <query>",
                });
            }
        };
        let app_info = AppInfo::from_element(root_el.required(root.element(), AppInfo::ELEMENT)?)?;
        let op = root_el
            .children
            .iter()
            .find(|c| c.name != AppInfo::ELEMENT)
            .ok_or(EmApiError::MissingOperation {
                root: root.element(),
            })?;
        Ok(Self {
            app_info,
            request: Request::from_element(root, op)?,
        })
    }

    /// Renders the whole document, e.g. `<request><appInfo>…</appInfo><login>…</login></request>`.
    pub fn to_xml(&self) -> String {
        let root = self.request.root().element();
        let mut out = format!("<{root}>");
        self.app_info.write_xml(&mut out);
        self.request.write_xml(&mut out);
        out.push_str("</");
        out.push_str(root);
        out.push('>');
        out
    }
}

/// Parses a request or query document as EMService receives it (after [`xml_from_form`]).
///
/// # Errors
/// Any [`EmApiError`]; answer it with [`EmApiError::em_code`]: code 8 for an unknown or missing
/// operation, code 1 for everything else (malformed, oversized, DTD, missing field, bad value).
pub fn parse_request(xml: &[u8]) -> Result<Envelope, EmApiError> {
    Envelope::parse(xml)
}

/// Parses a `<response>` document as an EM API client receives it.
///
/// # Errors
/// Any [`EmApiError`]: malformed XML, another root, an unknown result element, bad values.
pub fn parse_response(xml: &[u8]) -> Result<Response, EmApiError> {
    Response::parse(xml)
}

#[cfg(test)]
mod tests;
