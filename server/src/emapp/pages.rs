//! Every page the EM application sends to phones, built in this one place.
//!
//! The markup is a reconstruction (CUCM's `form1.jsp`, logout confirmation and
//! `phone_refresh.jsp` were never captured; reference §1.3): a CiscoIPPhoneInput with `userid`
//! and `seq` fields, a CiscoIPPhoneText with a Yes softkey for logout, a CiscoIPPhoneMenu to
//! choose among several profiles, and CiscoIPPhoneText result pages carrying the exact phone
//! display text for each EM code.

use crate::ops::LoginType;

/// Page titles.
pub(crate) const TITLE: &str = "Extension Mobility";

/// Escapes text for XML element content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => o.push(c),
        }
    }
    o
}

/// The phone display text for a failed login (FCG "Extension Mobility Application Error Codes"
/// and "Extension Mobility Service Error Codes", second column).
pub(crate) fn login_text(code: u16) -> String {
    match code {
        201 | 202 => format!("Please try to login again ({code})"),
        204 | 205 => format!("Login is unavailable ({code})"),
        215 => "LoginType invalid(215)".to_owned(),
        216 => "DN has multiple users(216)".to_owned(),
        25 => "Multi-Login Not Allowed (25)".to_owned(),
        23 => "Login is Unavailable (23)".to_owned(),
        c => format!("Login is unavailable({c})"),
    }
}

/// The phone display text for a failed logout.
pub(crate) fn logout_text(code: u16) -> String {
    match code {
        205 => "Logout is unavailable (205)".to_owned(),
        23 => "Logout is Unavailable (23)".to_owned(),
        c => format!("Logout is unavailable({c})"),
    }
}

fn softkey(out: &mut String, name: &str, url: &str, pos: u8) {
    out.push_str(&format!(
        "<SoftKeyItem><Name>{}</Name><URL>{}</URL><Position>{pos}</Position></SoftKeyItem>",
        esc(name),
        esc(url)
    ));
}

/// The login form: the identifier of the login type, then the PIN (password field).
pub(crate) fn login_form(action: &str, lt: LoginType) -> String {
    let (prompt, label, flags) = match lt {
        LoginType::Uid => ("Enter User ID and PIN", "User ID", "A"),
        LoginType::Dn => ("Enter Primary Extension and PIN", "Primary Extension", "T"),
        LoginType::Sp => (
            "Enter Self-service User ID and PIN",
            "Self-service User ID",
            "N",
        ),
    };
    let mut o = String::from("<CiscoIPPhoneInput>");
    o.push_str(&format!(
        "<Title>{TITLE}</Title><Prompt>{prompt}</Prompt><URL>{}</URL>",
        esc(action)
    ));
    o.push_str(&format!(
        "<InputItem><DisplayName>{label}</DisplayName><QueryStringParam>userid</QueryStringParam><DefaultValue></DefaultValue><InputFlags>{flags}</InputFlags></InputItem>"
    ));
    o.push_str("<InputItem><DisplayName>PIN</DisplayName><QueryStringParam>seq</QueryStringParam><DefaultValue></DefaultValue><InputFlags>NP</InputFlags></InputItem>");
    softkey(&mut o, "Submit", "SoftKey:Submit", 1);
    softkey(&mut o, "<<", "SoftKey:<<", 2);
    softkey(&mut o, "Exit", "SoftKey:Exit", 3);
    o.push_str("</CiscoIPPhoneInput>");
    o
}

/// The logout confirmation: Yes requests `doLogout=true`.
pub(crate) fn logout_confirm(user: &str, yes_url: &str) -> String {
    let mut o = String::from("<CiscoIPPhoneText>");
    o.push_str(&format!(
        "<Title>{TITLE}</Title><Prompt>Logged in as {}</Prompt><Text>Do you want to log out?</Text>",
        esc(user)
    ));
    softkey(&mut o, "Yes", yes_url, 1);
    softkey(&mut o, "No", "SoftKey:Exit", 2);
    o.push_str("</CiscoIPPhoneText>");
    o
}

/// The device-profile choice: one menu item per profile.
pub(crate) fn profile_menu(items: &[(String, String)]) -> String {
    let mut o = String::from("<CiscoIPPhoneMenu>");
    o.push_str(&format!(
        "<Title>{TITLE}</Title><Prompt>Select a device profile</Prompt>"
    ));
    for (name, url) in items {
        o.push_str(&format!(
            "<MenuItem><Name>{}</Name><URL>{}</URL></MenuItem>",
            esc(name),
            esc(url)
        ));
    }
    softkey(&mut o, "Select", "SoftKey:Select", 1);
    softkey(&mut o, "Exit", "SoftKey:Exit", 2);
    o.push_str("</CiscoIPPhoneMenu>");
    o
}

/// A result or error page: the text, and an Exit softkey.
pub(crate) fn message(text: &str) -> String {
    let mut o = String::from("<CiscoIPPhoneText>");
    o.push_str(&format!("<Title>{TITLE}</Title><Text>{}</Text>", esc(text)));
    softkey(&mut o, "Exit", "SoftKey:Exit", 1);
    o.push_str("</CiscoIPPhoneText>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_urls_and_text() {
        let f = login_form(
            "http://h/emapp/EMAppServlet?device=SEP1&loginType=DN",
            LoginType::Dn,
        );
        assert!(f.contains("device=SEP1&amp;loginType=DN"));
        assert!(f.contains("<QueryStringParam>seq</QueryStringParam>"));
        assert!(f.contains("<InputFlags>NP</InputFlags>"));
        assert!(message("a<b & \"c\"\u{1}").contains("a&lt;b &amp; &quot;c&quot;</Text>"));
    }

    #[test]
    fn display_texts() {
        assert_eq!(login_text(201), "Please try to login again (201)");
        assert_eq!(login_text(26), "Login is unavailable(26)");
        assert_eq!(login_text(25), "Multi-Login Not Allowed (25)");
        assert_eq!(logout_text(19), "Logout is unavailable(19)");
    }
}
