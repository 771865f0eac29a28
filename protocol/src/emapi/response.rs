//! `<response>`: what EMService answers to every request and query.
//!
//! Tolerates the documented inconsistencies: query failures as `<errorMessage>` (DTD) or
//! `<error code="N">` (examples); `<device>` holding `userID`, `lastlogin` and `emccDevice` together
//! (examples) where the DTD allows one child; `<deviceProfileResults>` as `<user id>` blocks
//! (example) or bare `<userID>`s (DTD). Renders the example shapes, always with `<error code>`.

use std::fmt::Write as _;

use quick_xml::escape::escape;

use super::EmApiError;
use super::xml::{self, Element};
use crate::codes;

/// One EMService answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `<success/>`: the login, logout or logoutAll was done.
    Success,
    /// `<failure>`: the EMService code and its text.
    Failure {
        /// `code` of `<error code="N">`; [`codes::UNKNOWN_ERROR`] (0) when the response carried
        /// no code (the DTD's `<errorMessage>` form).
        code: u16,
        /// The error text, e.g. `Could not authenticate 'appid'`.
        message: String,
    },
    /// `<deviceUserResults>`: answer to a [`DeviceUserQuery`](super::DeviceUserQuery).
    DeviceUserResults(Vec<DeviceUser>),
    /// `<userDevicesResults>`: answer to a [`UserDevicesQuery`](super::UserDevicesQuery).
    UserDevicesResults(Vec<UserDevices>),
    /// `<deviceProfileResults>`: answer to a [`DeviceProfileQuery`](super::DeviceProfileQuery).
    DeviceProfileResults(Vec<UserDeviceProfiles>),
}

/// `<device name="…">` in a device-user result: who is (or was) on the device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceUser {
    /// The `name` attribute.
    pub device_name: String,
    /// `<userID>`, decoded: the user logged in.
    pub user_id: Option<String>,
    /// `<lastlogin>`: the last user who logged in, as sent (not percent-encoded in the example).
    pub last_login: Option<String>,
    /// `<none/>`: nobody is logged in.
    pub none: bool,
    /// `<doesNotExist/>`: the device is unknown.
    pub does_not_exist: bool,
    /// `<emccDevice>`: `yes`/`no`; present in examples though not in the DTD.
    pub emcc_device: Option<bool>,
}

impl DeviceUser {
    /// The user currently logged in: `user_id`, unless `<none/>` or `<doesNotExist/>` says nobody.
    ///
    /// The first EMAPI example carries both `<userID>one</userID>` and `<none/>`; `<none/>` wins.
    pub fn current_user(&self) -> Option<&str> {
        if self.none || self.does_not_exist {
            None
        } else {
            self.user_id.as_deref()
        }
    }
}

/// `<user id="…">` in a user-devices result: the devices a user is logged in on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserDevices {
    /// The `id` attribute, decoded.
    pub user_id: String,
    /// Every `<deviceName>`.
    pub device_names: Vec<String>,
    /// `<none/>`: the user is not logged in anywhere.
    pub none: bool,
    /// `<doesNotExist/>`: the user is unknown.
    pub does_not_exist: bool,
}

/// `<user id="…">` in a device-profile result: a user's device profiles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserDeviceProfiles {
    /// The `id` attribute (or the DTD form's `<userID>` text), decoded.
    pub user_id: String,
    /// Every `<deviceProfile>`.
    pub profiles: Vec<DeviceProfile>,
    /// `<none/>`: the user has no profile.
    pub none: bool,
    /// `<doesNotExist/>`: the user is unknown.
    pub does_not_exist: bool,
}

/// One `<deviceProfile>` of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceProfile {
    /// `<deviceProfileName>`.
    pub name: String,
    /// `<isDefaultDeviceProfile>`: `t`/`f` on the wire; absent reads as `false`.
    pub is_default: bool,
}

impl Response {
    /// The root element name.
    pub const ELEMENT: &'static str = "response";

    /// A failure carrying `code` and its catalogue name as the message.
    pub fn failure(code: u16) -> Self {
        let message = codes::lookup(code).map_or("Unknown Error", |c| c.name);
        Self::Failure {
            code,
            message: message.to_owned(),
        }
    }

    /// The failure's code, or `None` for any other response.
    pub fn error_code(&self) -> Option<u16> {
        match self {
            Self::Failure { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Parses a whole `<response>` document.
    ///
    /// # Errors
    /// Malformed XML, another root, an unknown or missing result element, a missing attribute,
    /// or a non-numeric error code.
    pub fn parse(xml: &[u8]) -> Result<Self, EmApiError> {
        Self::from_element(xml::parse_document(xml)?.expect_name(Self::ELEMENT)?)
    }

    pub(crate) fn from_element(el: &Element) -> Result<Self, EmApiError> {
        let body = el.children.first().ok_or(EmApiError::MissingOperation {
            root: Self::ELEMENT,
        })?;
        match body.name.as_str() {
            "success" => Ok(Self::Success),
            "failure" => parse_failure(body),
            "deviceUserResults" => body
                .children_named("device")
                .map(parse_device_user)
                .collect::<Result<_, _>>()
                .map(Self::DeviceUserResults),
            "userDevicesResults" => body
                .children_named("user")
                .map(parse_user_devices)
                .collect::<Result<_, _>>()
                .map(Self::UserDevicesResults),
            "deviceProfileResults" => parse_profile_results(body).map(Self::DeviceProfileResults),
            other => Err(EmApiError::UnknownOperation {
                root: Self::ELEMENT,
                element: xml::truncate(other),
            }),
        }
    }

    /// Renders the whole `<response>` document.
    pub fn to_xml(&self) -> String {
        let mut out = String::from("<response>");
        match self {
            Self::Success => out.push_str("<success/>"),
            Self::Failure { code, message } => {
                let _ = write!(
                    out,
                    "<failure><error code=\"{code}\">{}</error></failure>",
                    escape(message.as_str())
                );
            }
            Self::DeviceUserResults(devices) => {
                out.push_str("<deviceUserResults>");
                for d in devices {
                    write_device_user(&mut out, d);
                }
                out.push_str("</deviceUserResults>");
            }
            Self::UserDevicesResults(users) => {
                out.push_str("<userDevicesResults>");
                for u in users {
                    write_user_open(&mut out, &u.user_id);
                    for name in &u.device_names {
                        xml::push_element(&mut out, "deviceName", name);
                    }
                    write_flags(&mut out, u.none, u.does_not_exist);
                    out.push_str("</user>");
                }
                out.push_str("</userDevicesResults>");
            }
            Self::DeviceProfileResults(users) => {
                out.push_str("<deviceProfileResults>");
                for u in users {
                    write_user_open(&mut out, &u.user_id);
                    for p in &u.profiles {
                        out.push_str("<deviceProfile>");
                        xml::push_element(&mut out, "deviceProfileName", &p.name);
                        xml::push_element(
                            &mut out,
                            "isDefaultDeviceProfile",
                            if p.is_default { "t" } else { "f" },
                        );
                        out.push_str("</deviceProfile>");
                    }
                    write_flags(&mut out, u.none, u.does_not_exist);
                    out.push_str("</user>");
                }
                out.push_str("</deviceProfileResults>");
            }
        }
        out.push_str("</response>");
        out
    }
}

fn parse_failure(el: &Element) -> Result<Response, EmApiError> {
    let error = el
        .child("error")
        .or_else(|| el.child("errorMessage"))
        .ok_or(EmApiError::MissingField {
            parent: "failure",
            field: "error or errorMessage",
        })?;
    let code = match error.attr("code") {
        None => codes::UNKNOWN_ERROR,
        Some(raw) => raw.trim().parse().map_err(|_| EmApiError::InvalidValue {
            element: "error/@code",
            value: xml::truncate(raw),
        })?,
    };
    Ok(Response::Failure {
        code,
        message: error.trimmed_text(),
    })
}

fn parse_device_user(el: &Element) -> Result<DeviceUser, EmApiError> {
    let device_name = el.attr("name").ok_or(EmApiError::MissingField {
        parent: "device",
        field: "@name",
    })?;
    Ok(DeviceUser {
        device_name: device_name.trim().to_owned(),
        user_id: el.child_text("userID").map(|u| xml::decode_user_id(&u)),
        last_login: el.child_text("lastlogin"),
        none: el.has_child("none"),
        does_not_exist: el.has_child("doesNotExist"),
        emcc_device: el
            .child_text("emccDevice")
            .map(|v| xml::parse_flag("emccDevice", &v))
            .transpose()?,
    })
}

fn user_id_attr(el: &Element) -> Result<String, EmApiError> {
    el.attr("id")
        .map(|id| xml::decode_user_id(id.trim()))
        .ok_or(EmApiError::MissingField {
            parent: "user",
            field: "@id",
        })
}

fn parse_user_devices(el: &Element) -> Result<UserDevices, EmApiError> {
    Ok(UserDevices {
        user_id: user_id_attr(el)?,
        device_names: el
            .children_named("deviceName")
            .map(Element::trimmed_text)
            .collect(),
        none: el.has_child("none"),
        does_not_exist: el.has_child("doesNotExist"),
    })
}

fn parse_profile_results(el: &Element) -> Result<Vec<UserDeviceProfiles>, EmApiError> {
    let mut users = Vec::new();
    for child in &el.children {
        match child.name.as_str() {
            "user" => users.push(UserDeviceProfiles {
                user_id: user_id_attr(child)?,
                profiles: child
                    .children_named("deviceProfile")
                    .map(parse_profile)
                    .collect::<Result<_, _>>()?,
                none: child.has_child("none"),
                does_not_exist: child.has_child("doesNotExist"),
            }),
            // The DTD's `(userID+)` form: a user with no profile details.
            "userID" => users.push(UserDeviceProfiles {
                user_id: xml::decode_user_id(&child.trimmed_text()),
                ..UserDeviceProfiles::default()
            }),
            _ => {}
        }
    }
    Ok(users)
}

fn parse_profile(el: &Element) -> Result<DeviceProfile, EmApiError> {
    Ok(DeviceProfile {
        name: el
            .required("deviceProfile", "deviceProfileName")?
            .trimmed_text(),
        is_default: el
            .child_text("isDefaultDeviceProfile")
            .map(|v| xml::parse_flag("isDefaultDeviceProfile", &v))
            .transpose()?
            .unwrap_or(false),
    })
}

fn write_device_user(out: &mut String, d: &DeviceUser) {
    let _ = write!(out, "<device name=\"{}\">", escape(d.device_name.as_str()));
    if let Some(user) = &d.user_id {
        xml::push_user_id(out, user);
    }
    xml::push_optional(out, "lastlogin", d.last_login.as_deref());
    write_flags(out, d.none, d.does_not_exist);
    xml::push_optional(
        out,
        "emccDevice",
        d.emcc_device.map(|e| if e { "yes" } else { "no" }),
    );
    out.push_str("</device>");
}

fn write_user_open(out: &mut String, user_id: &str) {
    let _ = write!(out, "<user id=\"{}\">", xml::encode_user_id(user_id));
}

fn write_flags(out: &mut String, none: bool, does_not_exist: bool) {
    if none {
        out.push_str("<none/>");
    }
    if does_not_exist {
        out.push_str("<doesNotExist/>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_failure_variants() {
        let cases: [(&[u8], u16, &str); 5] = [
            (
                b"<response><failure><error code=\"3\">Could not authenticate 'appid'</error></failure></response>",
                3,
                "Could not authenticate 'appid'",
            ),
            (
                b"<response><failure><error code=\"3\">DB Query Error: Application Authentication Error: Could not authenticate\"</error></failure></response>",
                3,
                "DB Query Error: Application Authentication Error: Could not authenticate\"",
            ),
            (
                b"<response><failure><errorMessage>Query type undetermined</errorMessage></failure></response>",
                0,
                "Query type undetermined",
            ),
            (
                b"<response><failure><errorMessage code=\"8\">x</errorMessage></failure></response>",
                8,
                "x",
            ),
            (
                b"<response><failure><error code=\" 26 \">Busy</error></failure></response>",
                26,
                "Busy",
            ),
        ];
        for (xml, code, message) in cases {
            assert_eq!(
                Response::parse(xml).unwrap(),
                Response::Failure {
                    code,
                    message: message.to_owned()
                }
            );
        }
        assert!(matches!(
            Response::parse(b"<response><failure><error code=\"x\">y</error></failure></response>"),
            Err(EmApiError::InvalidValue { .. })
        ));
        assert!(matches!(
            Response::parse(b"<response><failure/></response>"),
            Err(EmApiError::MissingField { .. })
        ));
    }

    #[test]
    fn renders_failure_with_code() {
        assert_eq!(
            Response::failure(codes::BUSY).to_xml(),
            "<response><failure><error code=\"26\">Busy, please try again</error></failure></response>"
        );
        assert_eq!(Response::failure(codes::BUSY).error_code(), Some(26));
        assert_eq!(Response::Success.error_code(), None);
    }

    #[test]
    fn unknown_and_empty_responses() {
        assert!(matches!(
            Response::parse(b"<response><emccThing/></response>"),
            Err(EmApiError::UnknownOperation {
                root: "response",
                ..
            })
        ));
        assert!(matches!(
            Response::parse(b"<response/>"),
            Err(EmApiError::MissingOperation { .. })
        ));
        assert!(matches!(
            Response::parse(b"<emccResponse><checkUser/></emccResponse>"),
            Err(EmApiError::UnexpectedRoot { .. })
        ));
    }

    #[test]
    fn device_profile_results_dtd_form() {
        let r = Response::parse(
            b"<response><deviceProfileResults><userID>em%40cisco.com</userID></deviceProfileResults></response>",
        )
        .unwrap();
        assert_eq!(
            r,
            Response::DeviceProfileResults(vec![UserDeviceProfiles {
                user_id: "em@cisco.com".into(),
                ..Default::default()
            }])
        );
    }

    #[test]
    fn current_user_respects_none() {
        let mut d = DeviceUser {
            device_name: "SEP1".into(),
            user_id: Some("one".into()),
            none: true,
            ..Default::default()
        };
        assert_eq!(d.current_user(), None);
        d.none = false;
        assert_eq!(d.current_user(), Some("one"));
    }
}
