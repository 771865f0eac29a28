//! Reading pages as a phone does: an HTTP response becomes a CiscoIPPhone object (through
//! `emroam_protocol::cipxml`, never a parser of our own) or the error a phone would show,
//! and an object becomes what the EM flow can act on (a login form, a logout confirmation,
//! a profile choice, a result carrying an EM code).
//!
//! Pure. This is the one place that looks at page markup; everything is by object kind,
//! flags, labels and softkey names, never by the reference server's URLs.

use emroam_protocol::cipxml::{self, Input, Menu, Object, Uri};
use emroam_protocol::codes;

use super::http::{HttpResponse, MAX_BODY_BYTES, Refresh, resolve_url};
use super::outcome::Cause;
use super::task::Credentials;

/// A page as the phone received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The URL it was fetched from (relative URLs on it resolve against this).
    pub url: String,
    /// The object it carried.
    pub object: Object,
    /// Its `Refresh` header, if any.
    pub refresh: Option<Refresh>,
}

/// Turns a response into a page, or the cause a phone would show instead.
///
/// Non-2xx is `HTTP Error (N)`; an empty body is "No services configured"; a body over the
/// 6900's limit is "Data too large!"; `text/plain` is shown as a Text (as Cisco's
/// phones do); any
/// other body goes through `cipxml::parse` and its `XML Error [4]`/`[5]`.
pub fn read(url: &str, resp: &HttpResponse) -> Result<Page, Cause> {
    if !(200..300).contains(&resp.status) {
        return Err(Cause::HttpStatus(resp.status));
    }
    if resp.body.len() > MAX_BODY_BYTES {
        return Err(Cause::TooLarge);
    }
    if resp.body.iter().all(u8::is_ascii_whitespace) {
        return Err(Cause::EmptyPage);
    }
    let content_type = resp
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    let object = if content_type.starts_with("text/plain") {
        Object::Text(cipxml::Text::plain(&String::from_utf8_lossy(&resp.body)))
    } else {
        cipxml::parse(&resp.body).map_err(|e| Cause::Xml(e.code()))?
    };
    Ok(Page {
        url: url.to_owned(),
        object,
        refresh: resp.header("refresh").and_then(Refresh::parse),
    })
}

/// What the EM flow sees in a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmPage<'a> {
    /// A form with a password field: the login form.
    LoginForm(&'a Input),
    /// A page offering to log out; `yes_url` is what pressing Yes fetches.
    LogoutConfirm {
        /// The absolute URL behind the Yes (or Logout) softkey or item.
        yes_url: String,
    },
    /// A menu of choices after the credentials were accepted (several device profiles).
    Choice(&'a Menu),
    /// A page carrying an EM code (`Login is unavailable(26)`, ...).
    Code(u16),
    /// A page with text and no code and nothing to act on: a result.
    Message,
}

/// All the text a phone displays for an object, joined by newlines (title, prompt, body).
pub fn page_text(object: &Object) -> String {
    let s = object.screen();
    let mut parts: Vec<&str> = Vec::new();
    parts.extend(s.title.as_deref());
    parts.extend(s.prompt.as_deref());
    parts.extend(s.lines.iter().map(String::as_str));
    parts.join("\n")
}

/// The EM code shown on a page, read through `codes::code_from_page_text` line by line.
pub fn em_code(object: &Object) -> Option<u16> {
    let s = object.screen();
    s.lines
        .iter()
        .map(String::as_str)
        .chain(s.prompt.as_deref())
        .chain(s.title.as_deref())
        .find_map(codes::code_from_page_text)
}

fn is_yes(name: &str) -> bool {
    let n = name.trim().to_ascii_lowercase();
    matches!(
        n.as_str(),
        "yes" | "logout" | "log out" | "sign out" | "signout"
    )
}

fn http_target(page: &Page, raw: &str) -> Option<String> {
    match Uri::parse(raw) {
        Uri::Http(u) => Some(u),
        Uri::Relative(r) => Some(resolve_url(&page.url, &r)),
        _ => None,
    }
}

/// Classifies a page for the EM flow.
pub fn classify(page: &Page) -> EmPage<'_> {
    if let Some(code) = em_code(&page.object) {
        return EmPage::Code(code);
    }
    let object = &page.object;
    if let Object::Input(input) = object
        && input.items.iter().any(|i| i.flags.password)
    {
        return EmPage::LoginForm(input);
    }
    for key in object.softkeys() {
        if is_yes(&key.name)
            && let Some(url) = key.url.as_deref().and_then(|u| http_target(page, u))
        {
            return EmPage::LogoutConfirm { yes_url: url };
        }
    }
    if let Object::Menu(menu) = object {
        if let Some(url) = menu
            .items
            .iter()
            .filter(|i| is_yes(&i.name))
            .find_map(|i| i.url.as_deref().and_then(|u| http_target(page, u)))
        {
            return EmPage::LogoutConfirm { yes_url: url };
        }
        if menu.items.iter().any(|i| {
            i.url
                .as_deref()
                .and_then(|u| http_target(page, u))
                .is_some()
        }) {
            return EmPage::Choice(menu);
        }
    }
    EmPage::Message
}

/// A filled-in form: where it goes and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The absolute URL (with the query for GET).
    pub url: String,
    /// The form body for `method="post"` Inputs.
    pub body: Option<String>,
}

/// Fills the login form as a user would: each password (`P`) field gets the PIN, every other
/// field the identifier. `None` when the form has no field for the identifier or the PIN.
pub fn fill_login(page: &Page, input: &Input, creds: &Credentials) -> Option<Submission> {
    let mut values: Vec<(&str, &str)> = Vec::new();
    let (mut has_id, mut has_pin) = (false, false);
    for item in &input.items {
        if item.flags.password {
            has_pin = true;
            values.push((&item.query_string_param, &creds.pin));
        } else if !has_id {
            has_id = true;
            values.push((&item.query_string_param, &creds.id));
        }
    }
    if !(has_id && has_pin) {
        return None;
    }
    let url = resolve_url(&page.url, &input.url);
    let mut target = input.clone();
    target.url = url.clone();
    Some(match input.method {
        cipxml::InputMethod::Post => Submission {
            url,
            body: Some(target.submit_query(&values)),
        },
        _ => Submission {
            url: target.submit_url(&values),
            body: None,
        },
    })
}

/// Picks the menu item for `wanted` (by name, case-insensitive) or the first one with a URL.
pub fn choose(page: &Page, menu: &Menu, wanted: Option<&str>) -> Option<String> {
    let with_url = |i: &&cipxml::MenuItem| i.url.as_deref().and_then(|u| http_target(page, u));
    let pick = wanted
        .and_then(|w| {
            menu.items
                .iter()
                .find(|i| i.name.trim().eq_ignore_ascii_case(w.trim()))
        })
        .or_else(|| menu.items.iter().find(|i| with_url(i).is_some()))?;
    with_url(&pick)
}

#[cfg(test)]
mod tests {
    use emroam_schema::LoginType;

    use super::*;

    fn page(xml: &str) -> Page {
        read(
            "http://h:8080/emapp/EMAppServlet?device=SEP1",
            &HttpResponse::xml(xml),
        )
        .unwrap()
    }

    const FORM: &str = r#"<CiscoIPPhoneInput><Title>Extension Mobility</Title><Prompt>Enter User ID and PIN</Prompt><URL>http://h:8080/emapp/EMAppServlet?device=SEP1&amp;loginType=DN</URL><InputItem><DisplayName>Primary Extension</DisplayName><QueryStringParam>userid</QueryStringParam><DefaultValue></DefaultValue><InputFlags>T</InputFlags></InputItem><InputItem><DisplayName>PIN</DisplayName><QueryStringParam>seq</QueryStringParam><DefaultValue></DefaultValue><InputFlags>NP</InputFlags></InputItem></CiscoIPPhoneInput>"#;

    #[test]
    fn fills_by_flags_not_names() {
        let p = page(FORM);
        let EmPage::LoginForm(input) = classify(&p) else {
            panic!()
        };
        let creds = Credentials {
            login_type: LoginType::Dn,
            id: "1000001".into(),
            pin: "12345".into(),
            profile: None,
        };
        let s = fill_login(&p, input, &creds).unwrap();
        assert_eq!(
            s.url,
            "http://h:8080/emapp/EMAppServlet?device=SEP1&loginType=DN&userid=1000001&seq=12345"
        );
        // Reversed order and other names: still the P field gets the PIN.
        let odd = r#"<CiscoIPPhoneInput><URL>/login</URL><InputItem><DisplayName>Code</DisplayName><QueryStringParam>p</QueryStringParam><InputFlags>PN</InputFlags></InputItem><InputItem><DisplayName>Who</DisplayName><QueryStringParam>u</QueryStringParam><InputFlags>A</InputFlags></InputItem></CiscoIPPhoneInput>"#;
        let p = page(odd);
        let EmPage::LoginForm(input) = classify(&p) else {
            panic!()
        };
        assert_eq!(
            fill_login(&p, input, &creds).unwrap().url,
            "http://h:8080/login?p=12345&u=1000001"
        );
    }

    #[test]
    fn reads_codes_from_result_pages() {
        for (text, code) in [
            ("Login is unavailable(26)", 26),
            ("Please try to login again (201)", 201),
            ("Logout is unavailable (205)", 205),
            ("LoginType invalid(215)", 215),
        ] {
            let p = page(&format!(
                "<CiscoIPPhoneText><Title>Extension Mobility</Title><Text>{text}</Text></CiscoIPPhoneText>"
            ));
            assert_eq!(classify(&p), EmPage::Code(code), "{text}");
        }
        let ok = page("<CiscoIPPhoneText><Text>Login Successful</Text></CiscoIPPhoneText>");
        assert_eq!(classify(&ok), EmPage::Message);
    }

    #[test]
    fn finds_logout_yes_and_profile_choice() {
        let p = page(
            r#"<CiscoIPPhoneText><Text>Do you want to log out?</Text><SoftKeyItem><Name>Yes</Name><URL>http://h/e?device=SEP1&amp;doLogout=true</URL><Position>1</Position></SoftKeyItem><SoftKeyItem><Name>No</Name><URL>SoftKey:Exit</URL><Position>2</Position></SoftKeyItem></CiscoIPPhoneText>"#,
        );
        assert_eq!(
            classify(&p),
            EmPage::LogoutConfirm {
                yes_url: "http://h/e?device=SEP1&doLogout=true".into()
            }
        );
        let m = page(
            r#"<CiscoIPPhoneMenu><Prompt>Select a device profile</Prompt><MenuItem><Name>bob-udp</Name><URL>http://h/e?t=1&amp;p=bob-udp</URL></MenuItem><MenuItem><Name>bob-2</Name><URL>http://h/e?t=1&amp;p=bob-2</URL></MenuItem></CiscoIPPhoneMenu>"#,
        );
        let EmPage::Choice(menu) = classify(&m) else {
            panic!()
        };
        assert_eq!(
            choose(&m, menu, Some("BOB-2")).unwrap(),
            "http://h/e?t=1&p=bob-2"
        );
        assert_eq!(choose(&m, menu, None).unwrap(), "http://h/e?t=1&p=bob-udp");
    }

    #[test]
    fn errors_a_phone_shows() {
        let u = "http://h/";
        let bad = |status: u16, ct: &str, body: &[u8]| HttpResponse {
            status,
            headers: vec![("content-type".into(), ct.into())],
            body: body.to_vec(),
        };
        assert_eq!(
            read(u, &bad(503, "text/html", b"x")),
            Err(Cause::HttpStatus(503))
        );
        assert_eq!(
            read(u, &bad(200, "text/xml", b"<CiscoIPPhoneText>")),
            Err(Cause::Xml(4))
        );
        assert_eq!(
            read(u, &bad(200, "text/xml", b"<Foo/>")),
            Err(Cause::Xml(5))
        );
        assert_eq!(read(u, &bad(200, "text/xml", b"  ")), Err(Cause::EmptyPage));
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(read(u, &bad(200, "text/xml", &big)), Err(Cause::TooLarge));
        let plain = read(u, &bad(200, "text/plain", b"Login is unavailable(26)")).unwrap();
        assert_eq!(classify(&plain), EmPage::Code(26));
    }
}
