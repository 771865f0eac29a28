//! Every page the EM application sends to phones, built in this one place from
//! [`emroam_protocol::cipxml`] objects, with display texts from [`emroam_protocol::codes`].
//!
//! The markup is a reconstruction (CUCM's `form1.jsp`, logout confirmation and
//! `phone_refresh.jsp` were never captured; UNCONFIRMED: docs/decisions.md): a
//! CiscoIPPhoneInput with `userid` and `seq` fields, a CiscoIPPhoneText with a Yes softkey for
//! logout, a CiscoIPPhoneMenu to choose among several profiles, and CiscoIPPhoneText result
//! pages carrying the exact phone display text for each EM code.

use emroam_protocol::cipxml::{Input, InputFlags, Menu, MenuItem, Object, SoftKeyItem, Text};
use emroam_protocol::codes;

use crate::ops::LoginType;

/// Page titles.
pub(crate) const TITLE: &str = "Extension Mobility";

/// The phone display text for a failed login.
pub(crate) fn login_text(code: u16) -> String {
    codes::login_display_text(code)
}

/// The phone display text for a failed logout.
pub(crate) fn logout_text(code: u16) -> String {
    codes::logout_display_text(code)
}

/// The login form: the identifier of the login type (pre-filled with `last_user` when Remember
/// the Last User Logged In applies), then the PIN (password field).
pub(crate) fn login_form(action: &str, lt: LoginType, last_user: Option<&str>) -> String {
    let (prompt, label, flags) = match lt {
        LoginType::Uid => ("Enter User ID and PIN", "User ID", InputFlags::ASCII),
        LoginType::Dn => (
            "Enter Extension and PIN",
            "Primary Extension",
            InputFlags::TELEPHONE,
        ),
        LoginType::Sp => (
            "Enter Self-service ID and PIN",
            "Self-service User ID",
            InputFlags::NUMERIC,
        ),
    };
    let mut input = Input::new(TITLE, action)
        .prompt(prompt)
        .item(label, "userid", flags)
        .item("PIN", "seq", InputFlags::PIN)
        .softkey(SoftKeyItem::new("Submit", "SoftKey:Submit", 1))
        .softkey(SoftKeyItem::new("<<", "SoftKey:<<", 2))
        .softkey(SoftKeyItem::new("Exit", "SoftKey:Exit", 3));
    if let Some(u) = last_user {
        input.items[0].default_value = u.to_owned();
    }
    Object::Input(input).to_xml()
}

/// The logout confirmation: Yes requests `doLogout=true`.
pub(crate) fn logout_confirm(user: &str, yes_url: &str) -> String {
    let mut t = Text::new(
        TITLE,
        format!("{user} is logged in. Do you want to log out?"),
    );
    t.prompt = Some("Log out?".into());
    t.softkeys = vec![
        SoftKeyItem::new("Yes", yes_url, 1),
        SoftKeyItem::new("No", "SoftKey:Exit", 2),
    ];
    Object::Text(t).to_xml()
}

/// The device-profile choice: one menu item per profile.
pub(crate) fn profile_menu(items: &[(String, String)]) -> String {
    let mut m = Menu::new(
        TITLE,
        items
            .iter()
            .map(|(name, url)| MenuItem::new(name.as_str(), url.as_str()))
            .collect(),
    );
    m.prompt = Some("Select a device profile".into());
    m.softkeys = vec![
        SoftKeyItem::new("Select", "SoftKey:Select", 1),
        SoftKeyItem::new("Exit", "SoftKey:Exit", 2),
    ];
    Object::Menu(m).to_xml()
}

/// A result or error page: the text, and an Exit softkey.
pub(crate) fn message(text: &str) -> String {
    let mut t = Text::new(TITLE, text);
    t.softkeys = vec![SoftKeyItem::new("Exit", "SoftKey:Exit", 1)];
    Object::Text(t).to_xml()
}

#[cfg(test)]
mod tests {
    use emroam_protocol::cipxml;

    use super::*;

    #[test]
    fn pages_parse_as_a_phone_would() {
        let f = login_form(
            "http://h/emapp/EMAppServlet?device=SEP1&loginType=DN",
            LoginType::Dn,
            None,
        );
        assert!(f.contains("device=SEP1&amp;loginType=DN"), "{f}");
        let Ok(cipxml::Object::Input(i)) = cipxml::parse(f.as_bytes()) else {
            panic!("{f}")
        };
        assert_eq!(i.items[0].query_string_param, "userid");
        assert_eq!(i.items[1].query_string_param, "seq");
        assert_eq!(i.items[1].flags, InputFlags::PIN);
        for page in [
            message("a<b & \"c\""),
            logout_confirm("bob", "http://h/x?device=SEP1&doLogout=true"),
            profile_menu(&[("p1".into(), "http://h/x?a=1&b=2".into())]),
        ] {
            assert!(cipxml::parse(page.as_bytes()).is_ok(), "{page}");
        }
        assert!(message("a<b & \"c\"").contains("a&lt;b &amp;"));
    }

    #[test]
    fn display_texts() {
        assert_eq!(login_text(201), "Please try to login again (201)");
        assert_eq!(login_text(26), "Login is unavailable(26)");
        assert_eq!(logout_text(19), "Logout is unavailable(19)");
    }
}
