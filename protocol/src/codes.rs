//! The Extension Mobility code catalogue: every EMService code (0–47) and EMApp code (201–216).
//!
//! Each [`EmCode`] carries Cisco's name for the code, what it means, and the exact text a phone
//! displays for it (`Login is unavailable(26)`, `Please try to login again (201)`, ...), taken from
//! Cisco's EM documents (the EMService and EMApp error tables, and codes observed on CUCM). [`code_from_page_text`] reads a code back from what a phone
//! shows, which is all a phone pointed at a real CUCM ever sees. Pure data and string functions.
//!
//! Codes no English Cisco source defines (13–17, 24, 34, 203, 206, 209, 214) are present with
//! `confirmed: false`, the name [`RESERVED_NAME`], and the generic display text; emroam never sends
//! them. Codes 7 and 27 appear only in the DevNet table, so their display text is the generic one
//! and they are marked unconfirmed too.
//!
//! ```
//! use emroam_protocol::codes;
//!
//! assert_eq!(codes::login_display_text(codes::BUSY), "Login is unavailable(26)");
//! assert_eq!(codes::code_from_page_text("Extension Mobility\nMulti-Login Not Allowed (25)"), Some(25));
//! assert_eq!(codes::lookup(207).map(|c| c.name), Some("Device Name Empty"));
//! ```

use serde::Serialize;

/// Which Cisco component raises a code: the EM service (0–47) or the EM application (201–216).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// EMService (`/emservice/EMServiceServlet`): codes 0–47, also returned in EM API responses.
    Service,
    /// EMApp (`/emapp/EMAppServlet`): codes 201–216, only ever shown on the phone.
    App,
}

/// One entry of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EmCode {
    /// The number Cisco prints, e.g. 26.
    pub code: u16,
    /// Which component raises it; decides whether an EM API response can carry it.
    pub source: Source,
    /// Cisco's short name ("Busy, please try again"); FCG wording, DevNet wording where FCG has none.
    pub name: &'static str,
    /// What causes it, paraphrased from the DevNet and FCG tables.
    pub description: &'static str,
    /// Exact text a phone shows for a failed login, when the sheet documents one.
    ///
    /// `None` means no documented login text (e.g. 19, a logout-only code); [`login_display_text`]
    /// then falls back to the generic `Login is unavailable(N)`.
    pub login_display: Option<&'static str>,
    /// Exact text a phone shows for a failed logout, when the sheet documents one.
    pub logout_display: Option<&'static str>,
    /// Whether a Cisco table defines this code and its display text; `false` marks emroam's choice.
    pub confirmed: bool,
}

/// Name given to codes no English Cisco source defines.
pub const RESERVED_NAME: &str = "Reserved (undocumented)";

/// 0: Unknown Error.
pub const UNKNOWN_ERROR: u16 = 0;
/// 1: Error on parsing (the EM API XML was malformed or did not match the DTD).
pub const PARSE_ERROR: u16 = 1;
/// 2: Cannot authorize App user (blank user ID or PIN; EMCC: wrong PIN).
pub const APP_USER_NOT_AUTHORIZED: u16 = 2;
/// 3: Invalid App User (the `appID`/`appCertificate` pair does not authenticate).
pub const INVALID_APP_USER: u16 = 3;
/// 4: Policy Validation error.
pub const POLICY_VALIDATION_ERROR: u16 = 4;
/// 5: Device logon disabled, seen at logout.
pub const LOGOUT_DEVICE_LOGON_DISABLED: u16 = 5;
/// 6: Database Error.
pub const DATABASE_ERROR: u16 = 6;
/// 7: Logout Request Error (auto-logout could not be scheduled or cancelled).
pub const LOGOUT_REQUEST_ERROR: u16 = 7;
/// 8: Query type undetermined (an unknown request or query element).
pub const QUERY_TYPE_UNDETERMINED: u16 = 8;
/// 9: Dir. User Info Error (user authentication failed in the directory).
pub const DIR_USER_INFO_ERROR: u16 = 9;
/// 10: User lacks app proxy rights.
pub const NO_PROXY_RIGHTS: u16 = 10;
/// 11: Device does not exist.
pub const DEVICE_NOT_FOUND: u16 = 11;
/// 12: Device profile not found.
pub const DEVICE_PROFILE_NOT_FOUND: u16 = 12;
/// 18: Another user logged in.
pub const ANOTHER_USER_LOGGED_IN: u16 = 18;
/// 19: No user logged in.
pub const NO_USER_LOGGED_IN: u16 = 19;
/// 20: Hoteling flag error.
pub const HOTELING_FLAG_ERROR: u16 = 20;
/// 21: Hoteling status error.
pub const HOTELING_STATUS_ERROR: u16 = 21;
/// 22: Device logon disabled (EM not enabled on the device).
pub const DEVICE_LOGON_DISABLED: u16 = 22;
/// 23: User does not exist.
pub const USER_NOT_FOUND: u16 = 23;
/// 25: User logged in elsewhere, shown as `Multi-Login Not Allowed (25)`.
pub const MULTI_LOGIN_NOT_ALLOWED: u16 = 25;
/// 26: Busy, please try again (Maximum Concurrent Requests reached); see [`is_busy`].
pub const BUSY: u16 = 26;
/// 27: Change Password (DevNet table only).
pub const CHANGE_PASSWORD: u16 = 27;
/// 28: Untrusted IP Error.
pub const UNTRUSTED_IP: u16 = 28;
/// 29: RIS down, contact admin.
pub const RIS_DOWN: u16 = 29;
/// 30: Proxy not allowed.
pub const PROXY_NOT_ALLOWED: u16 = 30;
/// 31: EMCC not activated for the user.
pub const EMCC_NOT_ACTIVATED_FOR_USER: u16 = 31;
/// 32: Device does not support EMCC.
pub const DEVICE_DOES_NOT_SUPPORT_EMCC: u16 = 32;
/// 33: No free EMCC dummy device.
pub const NO_FREE_EMCC_DUMMY_DEVICE: u16 = 33;
/// 35: Visiting cluster information is not present in the home cluster.
pub const VISITING_CLUSTER_INFO_ABSENT: u16 = 35;
/// 36: No remote cluster.
pub const NO_REMOTE_CLUSTER: u16 = 36;
/// 37: Duplicate device name.
pub const DUPLICATE_DEVICE_NAME: u16 = 37;
/// 38: EMCC not allowed.
pub const EMCC_NOT_ALLOWED: u16 = 38;
/// 39: EMCC configuration issue (shown as `Please try to login again (201)`).
pub const EMCC_CONFIGURATION_ISSUE: u16 = 39;
/// 40: No response from remote host (shown as `Please try to login again (23)`).
pub const NO_RESPONSE_FROM_REMOTE_HOST: u16 = 40;
/// 41: PIN change is required.
pub const PIN_CHANGE_REQUIRED: u16 = 41;
/// 42: Invalid cluster ID.
pub const INVALID_CLUSTER_ID: u16 = 42;
/// 43: Device security mode error.
pub const DEVICE_SECURITY_MODE_ERROR: u16 = 43;
/// 44: Cluster ID not valid (shown as `Please try to login again (201)`).
pub const CLUSTER_ID_NOT_VALID: u16 = 44;
/// 45: Remote cluster version not supported.
pub const REMOTE_CLUSTER_VERSION_NOT_SUPPORTED: u16 = 45;
/// 46: Remote cluster security mode not supported.
pub const REMOTE_CLUSTER_SECURITY_MODE_NOT_SUPPORTED: u16 = 46;
/// 47: DN has multiple users (EMCC).
pub const EMCC_DN_HAS_MULTIPLE_USERS: u16 = 47;
/// 201: Authentication error (wrong user ID or PIN).
pub const AUTH_FAILED: u16 = 201;
/// 202: Blank user ID or PIN.
pub const BLANK_USERID_OR_PIN: u16 = 202;
/// 204: Directory server error.
pub const DIRECTORY_SERVER_ERROR: u16 = 204;
/// 205: User profile absent.
pub const USER_PROFILE_ABSENT: u16 = 205;
/// 207: Device name empty (the `device` parameter is missing from the EMApp URL).
pub const DEVICE_NAME_EMPTY: u16 = 207;
/// 208: EMService connection error.
pub const EMSERVICE_CONNECTION_ERROR: u16 = 208;
/// 210: Init fail, contact admin.
pub const INIT_FAIL: u16 = 210;
/// 211: EMCC not activated (EMApp side).
pub const APP_EMCC_NOT_ACTIVATED: u16 = 211;
/// 212: Cluster ID is invalid (EMApp side).
pub const APP_CLUSTER_ID_INVALID: u16 = 212;
/// 213: Device does not support EMCC (EMApp side).
pub const APP_DEVICE_DOES_NOT_SUPPORT_EMCC: u16 = 213;
/// 215: Login type is invalid.
pub const LOGIN_TYPE_INVALID: u16 = 215;
/// 216: DN has multiple users.
pub const DN_HAS_MULTIPLE_USERS: u16 = 216;

const fn svc(
    code: u16,
    name: &'static str,
    description: &'static str,
    login_display: Option<&'static str>,
    logout_display: Option<&'static str>,
) -> EmCode {
    EmCode {
        code,
        source: Source::Service,
        name,
        description,
        login_display,
        logout_display,
        confirmed: true,
    }
}

const fn app(
    code: u16,
    name: &'static str,
    description: &'static str,
    login_display: Option<&'static str>,
    logout_display: Option<&'static str>,
) -> EmCode {
    EmCode {
        source: Source::App,
        ..svc(code, name, description, login_display, logout_display)
    }
}

const fn unconfirmed(mut c: EmCode) -> EmCode {
    c.confirmed = false;
    c
}

const fn reserved(code: u16, source: Source) -> EmCode {
    EmCode {
        code,
        source,
        name: RESERVED_NAME,
        description: "No English Cisco source defines this code; emroam never sends it and a phone \
                      would show the generic text.",
        login_display: None,
        logout_display: None,
        confirmed: false,
    }
}

/// The catalogue, sorted by code.
static CODES: [EmCode; 64] = [
    svc(
        0,
        "Unknown Error",
        "Generic failure.",
        Some("Login is unavailable(0)"),
        Some("Logout is unavailable(0)"),
    ),
    svc(
        1,
        "Error on parsing",
        "The XML did not conform to the DTD: bad XML from EMApp or a third-party application, or a \
         home/visiting cluster version mismatch.",
        Some("Login is unavailable(1)"),
        Some("Logout is unavailable(1)"),
    ),
    svc(
        2,
        "Cannot authorize App user",
        "Blank user ID or PIN (NULL_PARAM); for EMCC (FCG: \"EMCC Authentication Error\") the user \
         entered a wrong PIN.",
        Some("Login is unavailable(2)"),
        None,
    ),
    svc(
        3,
        "Invalid App User",
        "The appID is not a valid user or its appCertificate does not authenticate; usually EM API.",
        Some("Login is unavailable(3)"),
        Some("Logout is unavailable(3)"),
    ),
    svc(
        4,
        "Policy Validation error",
        "The request could not be validated against policy (DB or cache error), e.g. multiple \
         login not allowed.",
        Some("Login is unavailable(4)"),
        Some("Logout is unavailable(4)"),
    ),
    svc(
        5,
        "Dev. logon disabled",
        "\"Enable Extension Mobility\" was not checked on the device at the time of logout.",
        Some("Login is unavailable(5)"),
        Some("Logout is unavailable(5)"),
    ),
    svc(
        6,
        "Database Error",
        "A database exception.",
        Some("Login is unavailable(6)"),
        Some("Logout is unavailable(6)"),
    ),
    unconfirmed(svc(
        7,
        "Logout Request Error",
        "Could not set the auto-logout duration at login, or remove the device from the auto-logout \
         list at logout (DevNet table only; display text is emroam's generic choice).",
        None,
        None,
    )),
    svc(
        8,
        "Query type undetermined",
        "Unsupported request or query type.",
        Some("Login is unavailable(8)"),
        Some("Logout is unavailable(8)"),
    ),
    svc(
        9,
        "Dir. User Info Error",
        "User authentication failed in the directory, or user information could not be retrieved.",
        Some("Login is unavailable(9)"),
        Some("Logout is unavailable(9)"),
    ),
    svc(
        10,
        "User lacks app proxy rights",
        "The appID acts for another user without \"Standard EM Authentication Proxy Rights\".",
        Some("Login is unavailable(10)"),
        Some("Logout is unavailable(10)"),
    ),
    svc(
        11,
        "Device Does not exist",
        "The device is not configured.",
        Some("Login is unavailable(11)"),
        Some("Logout is unavailable(11)"),
    ),
    svc(
        12,
        "Dev. Profile not found",
        "No user device profile for the (remote) user.",
        Some("Phone record entry is absent in the device table"),
        Some("Phone record entry is absent in the device table"),
    ),
    reserved(13, Source::Service),
    reserved(14, Source::Service),
    reserved(15, Source::Service),
    reserved(16, Source::Service),
    reserved(17, Source::Service),
    svc(
        18,
        "Another user logged in",
        "Someone is already logged in on the device.",
        Some("Login is unavailable(18)"),
        None,
    ),
    svc(
        19,
        "No user logged in",
        "Logout on a device nobody is logged in on.",
        None,
        Some("Logout is unavailable(19)"),
    ),
    svc(
        20,
        "Hoteling flag error",
        "Could not read the device's EM \"Enabled\" flag from the database.",
        Some("Login is unavailable(20)"),
        Some("Logout is unavailable(20)"),
    ),
    svc(
        21,
        "Hoteling Status error",
        "Could not verify the device's login status in the database.",
        Some("Login is unavailable(21)"),
        Some("Logout is unavailable(21)"),
    ),
    svc(
        22,
        "Dev. logon disabled",
        "Extension Mobility is not enabled on the device (EM API or Services button).",
        Some("Login is unavailable(22)"),
        None,
    ),
    svc(
        23,
        "User does not exist",
        "Invalid user ID; also a UID/SP/DN value that matches no user.",
        Some("Login is Unavailable (23)"),
        Some("Logout is Unavailable (23)"),
    ),
    reserved(24, Source::Service),
    svc(
        25,
        "User logged in elsewhere",
        "Multiple Login Behavior is \"Multiple Logins Not Allowed\" and the user is logged in on \
         another device (local or remote cluster).",
        Some("Multi-Login Not Allowed (25)"),
        None,
    ),
    svc(
        26,
        "Busy, please try again",
        "Maximum Concurrent Requests reached; counted in RequestsThrottled, not as a failure.",
        Some("Login is unavailable(26)"),
        Some("Logout is unavailable(26)"),
    ),
    unconfirmed(svc(
        27,
        "Change Password",
        "The password or PIN must be changed (DevNet table only; display text is emroam's generic \
         choice).",
        None,
        None,
    )),
    svc(
        28,
        "Untrusted IP Error",
        "Validate IP Address is True and the request's source IP is not trusted.",
        Some("Login is unavailable(28)"),
        Some("Logout is unavailable(28)"),
    ),
    svc(
        29,
        "ris down-contact admin",
        "The RIS Data Collector (cache) is not available.",
        Some("Login is unavailable(29)"),
        Some("Logout is unavailable(29)"),
    ),
    svc(
        30,
        "Proxy not allowed",
        "The request has an HTTP Via header and Allow Proxy is False.",
        Some("Login is unavailable(30)"),
        Some("Logout is unavailable(30)"),
    ),
    svc(
        31,
        "EMCC Not Activated for the user",
        "The end user's \"Enable EMCC\" is unchecked in the home cluster.",
        Some("Login is unavailable(31)"),
        Some("Logout is unavailable(31)"),
    ),
    svc(
        32,
        "Device does not support EMCC",
        "The phone model lacks the EMCC capability.",
        Some("Login is unavailable(32)"),
        Some("Logout is unavailable(32)"),
    ),
    svc(
        33,
        "No free EMCC dummy device",
        "All EMCC base devices are in use.",
        Some("Login is unavailable(33)"),
        Some("Logout is unavailable(33)"),
    ),
    reserved(34, Source::Service),
    svc(
        35,
        "Visiting Cluster Information is not present in Home Cluster",
        "The home cluster does not know the visiting cluster.",
        Some("Login is unavailable(35)"),
        Some("Logout is unavailable(35)"),
    ),
    svc(
        36,
        "No Remote Cluster",
        "No remote cluster is configured.",
        Some("Login is unavailable(36)"),
        Some("Logout is unavailable(36)"),
    ),
    svc(
        37,
        "Duplicate Device Name",
        "The same device name exists in both clusters.",
        Some("Login is Unavailable (37)"),
        Some("Logout is Unavailable (37)"),
    ),
    svc(
        38,
        "EMCC Not Allowed",
        "The home cluster disallows EMCC.",
        Some("Login is unavailable(38)"),
        Some("Logout is unavailable(38)"),
    ),
    svc(
        39,
        "Configuration Issue",
        "The EMCC default/backup TFTP server is not set; the phone shows 201, not 39.",
        Some("Please try to login again (201)"),
        None,
    ),
    svc(
        40,
        "No Response from Remote Host",
        "The remote cluster did not answer; the phone shows 23, not 40.",
        Some("Please try to login again (23)"),
        None,
    ),
    svc(
        41,
        "PIN change is required",
        "\"User Must Change at Next Login\" is set; the phone is redirected to the change-credentials \
         page.",
        Some("PIN change is required"),
        None,
    ),
    svc(
        42,
        "Invalid ClusterID",
        "Invalid cluster ID during a remote cluster update.",
        Some("Login is unavailable(42)"),
        Some("Logout is unavailable(42)"),
    ),
    svc(
        43,
        "Device Security mode error",
        "The EMCC device security profile must be Nonsecure.",
        Some("Login is unavailable(43)"),
        None,
    ),
    svc(
        44,
        "Cluster ID not valid",
        "The cluster ID is not valid; the phone shows 201, not 44.",
        Some("Please try to login again (201)"),
        None,
    ),
    svc(
        45,
        "Remote Cluster version not supported",
        "Visiting 9.x mixed-mode cluster with a secure phone, home cluster 8.x.",
        Some("Login is unsuccessful(45)"),
        None,
    ),
    svc(
        46,
        "Remote Cluster security mode not supported",
        "Visiting mixed-mode cluster with a secure phone, home cluster non-secure.",
        Some("Login is unsuccessful(46)"),
        None,
    ),
    svc(
        47,
        "DN has multiple users",
        "EMCC DN login where the extension is the primary extension of several users.",
        Some("DN has multiple users(47)"),
        None,
    ),
    app(
        201,
        "Authentication Error",
        "Wrong user ID or PIN; for an EMCC user, EMCC not activated in the Intercluster Service \
         Profile.",
        Some("Please try to login again (201)"),
        None,
    ),
    app(
        202,
        "Blank userid or pin",
        "The user ID or PIN was left blank.",
        Some("Please try to login again (202)"),
        None,
    ),
    reserved(203, Source::App),
    app(
        204,
        "Directory server error",
        "The directory could not authenticate the user with the given PIN.",
        Some("Login is unavailable (204)"),
        None,
    ),
    app(
        205,
        "User Profile Absent",
        "The user's profile could not be retrieved from cache or database; associate a device \
         profile.",
        Some("Login is unavailable (205)"),
        Some("Logout is unavailable (205)"),
    ),
    reserved(206, Source::App),
    app(
        207,
        "Device Name Empty",
        "The `device` parameter is missing from the EMApp request URL (third-party requests only).",
        Some("Login is unavailable(207)"),
        Some("Logout is unavailable(207)"),
    ),
    app(
        208,
        "EMService Connection Error",
        "EMApp cannot reach any EMService, or the visiting EMService cannot reach the home EMService.",
        Some("Login is unavailable(208)"),
        Some("Logout is unavailable(208)"),
    ),
    reserved(209, Source::App),
    app(
        210,
        "Init Fail-Contact Admin",
        "EMApp failed to initialise (e.g. no database connection at startup).",
        Some("Login is unavailable(210)"),
        Some("Logout is unavailable(210)"),
    ),
    app(
        211,
        "EMCC Not Activated",
        "PSTN is not activated in the visiting cluster's Intercluster Service Profile.",
        Some("Login is unavailable(211)"),
        Some("Logout is unavailable(211)"),
    ),
    app(
        212,
        "Cluster ID is invalid",
        "A remote cluster update sent a wrong cluster ID.",
        Some("Login is unavailable(212)"),
        None,
    ),
    app(
        213,
        "Device does not support EMCC",
        "The phone model lacks the EMCC capability.",
        Some("Login is unavailable(213)"),
        Some("Logout is unavailable(213)"),
    ),
    reserved(214, Source::App),
    app(
        215,
        "Login Type is invalid",
        "The `loginType` parameter is not one of SP, DN, UID.",
        Some("LoginType invalid(215)"),
        None,
    ),
    app(
        216,
        "DN has multiple users",
        "DN login where the extension is the primary extension of several users.",
        Some("DN has multiple users(216)"),
        None,
    ),
];

/// Every code in the catalogue, sorted by number: 0–47 then 201–216, none missing.
pub fn all() -> &'static [EmCode] {
    &CODES
}

/// The catalogue entry for `code`, if Cisco (or emroam, for reserved numbers) lists it.
pub fn lookup(code: u16) -> Option<&'static EmCode> {
    CODES
        .binary_search_by_key(&code, |c| c.code)
        .ok()
        .map(|i| &CODES[i])
}

/// Whether `code` is "busy" (26): throttling, reported apart from failures.
pub fn is_busy(code: u16) -> bool {
    code == BUSY
}

/// The exact text a phone shows when a login fails with `code`.
///
/// Codes without a documented login text (and numbers outside the catalogue) get the generic
/// `Login is unavailable(N)` that Cisco uses for most codes.
pub fn login_display_text(code: u16) -> String {
    match lookup(code).and_then(|c| c.login_display) {
        Some(text) => text.to_owned(),
        None => format!("Login is unavailable({code})"),
    }
}

/// The exact text a phone shows when a logout fails with `code`.
///
/// Codes without a documented logout text get the generic `Logout is unavailable(N)`.
pub fn logout_display_text(code: u16) -> String {
    match lookup(code).and_then(|c| c.logout_display) {
        Some(text) => text.to_owned(),
        None => format!("Logout is unavailable({code})"),
    }
}

/// Documented texts that carry no number of their own, with their code (lowercase, whitespace
/// collapsed).
const EXACT_PHRASES: [(&str, u16); 2] = [
    ("pin change is required", PIN_CHANGE_REQUIRED),
    (
        "phone record entry is absent in the device table",
        DEVICE_PROFILE_NOT_FOUND,
    ),
];

/// The phrase code 40 shows with the number 23; code 23 itself shows `Login is Unavailable (23)`.
///
/// Codes 39 and 44 show exactly what 201 shows, so a page reading `Please try to login again
/// (201)` yields 201: the phone cannot tell them apart.
const TRY_AGAIN: &str = "please try to login again";

/// Documented phrases that are followed by `(N)` on a phone screen, lowercase.
const CODE_PHRASES: [&str; 8] = [
    "login/logout is unavailable",
    "login is unavailable",
    "logout is unavailable",
    "login is unsuccessful",
    TRY_AGAIN,
    "multi-login not allowed",
    "dn has multiple users",
    "logintype invalid",
];

/// Reads the EM code back from the text of a page a phone displays.
///
/// Accepts the documented phrases followed by `(N)` (`Login is unavailable(26)`, `Please try to
/// login again (201)`, `Multi-Login Not Allowed (25)`, any case, any whitespace or line breaks,
/// title and body run together), the older `[N]-Description` form (`[26]- Busy, please try
/// again`), a catalogue name followed by its own number (`Busy, please try again (26)`), and the
/// number-less texts of codes 12 and 41. A number is only accepted if it is a catalogue code, and
/// only right after one of those phrases, so `Call 1000 (2)` yields `None`.
pub fn code_from_page_text(text: &str) -> Option<u16> {
    let norm = normalize(text);
    let in_catalogue = |n: u16| lookup(n).is_some();

    for (phrase, code) in EXACT_PHRASES {
        if norm.contains(phrase) {
            return Some(code);
        }
    }
    // Everything below reads a number in parentheses or brackets: a page with neither (the
    // login form, a menu, most pages a phone sees) has no code, and is done here.
    if !norm.contains(['(', '[']) {
        return None;
    }
    for phrase in CODE_PHRASES {
        for (at, _) in norm.match_indices(phrase) {
            match paren_number(&norm[at + phrase.len()..]) {
                Some(USER_NOT_FOUND) if phrase == TRY_AGAIN => {
                    return Some(NO_RESPONSE_FROM_REMOTE_HOST);
                }
                Some(n) if in_catalogue(n) => return Some(n),
                _ => {}
            }
        }
    }
    if let Some(n) = bracket_code(&norm).filter(|&n| in_catalogue(n)) {
        return Some(n);
    }
    for (name, code) in confirmed_names() {
        for (at, _) in norm.match_indices(name.as_str()) {
            if paren_number(&norm[at + name.len()..]) == Some(*code) {
                return Some(*code);
            }
        }
    }
    None
}

/// The confirmed codes' names, lower-cased once.
fn confirmed_names() -> &'static [(String, u16)] {
    static NAMES: std::sync::OnceLock<Vec<(String, u16)>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        all()
            .iter()
            .filter(|c| c.confirmed)
            .map(|c| (c.name.to_lowercase(), c.code))
            .collect()
    })
}

/// Lowercases and collapses every run of whitespace (including NBSP and line breaks) to one space.
fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text
        .split(|c: char| c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// Parses `(N)` at the start of `rest`, allowing spaces around `N` and before `(`.
fn paren_number(rest: &str) -> Option<u16> {
    let rest = rest.trim_start().strip_prefix('(')?.trim_start();
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 || digits > 3 {
        return None;
    }
    let (num, after) = rest.split_at(digits);
    after.trim_start().strip_prefix(')')?;
    num.parse().ok()
}

/// Finds the first `[N]-` (or `[N] -`) marker, the TSG phone-display form.
fn bracket_code(norm: &str) -> Option<u16> {
    for (at, _) in norm.match_indices('[') {
        let rest = &norm[at + 1..];
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 || digits > 3 {
            continue;
        }
        let (num, after) = rest.split_at(digits);
        let Some(after) = after.strip_prefix(']') else {
            continue;
        };
        if after.trim_start().starts_with('-')
            && let Ok(n) = num.parse()
        {
            return Some(n);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_sorted_unique_and_complete() {
        let numbers: Vec<u16> = all().iter().map(|c| c.code).collect();
        let expected: Vec<u16> = (0..=47).chain(201..=216).collect();
        assert_eq!(
            numbers, expected,
            "every code 0..=47 and 201..=216, in order"
        );
        for c in all() {
            assert_eq!(lookup(c.code), Some(c));
            let expected_source = if c.code >= 200 {
                Source::App
            } else {
                Source::Service
            };
            assert_eq!(c.source, expected_source, "code {}", c.code);
            assert!(!c.name.is_empty() && !c.description.is_empty());
        }
        assert_eq!(lookup(48), None);
        assert_eq!(lookup(200), None);
        assert_eq!(lookup(217), None);
    }

    #[test]
    fn unconfirmed_codes_are_exactly_the_sheets_list() {
        let unconfirmed: Vec<u16> = all()
            .iter()
            .filter(|c| !c.confirmed)
            .map(|c| c.code)
            .collect();
        assert_eq!(
            unconfirmed,
            [7, 13, 14, 15, 16, 17, 24, 27, 34, 203, 206, 209, 214]
        );
        for code in [13, 14, 15, 16, 17, 24, 34, 203, 206, 209, 214] {
            assert_eq!(lookup(code).unwrap().name, RESERVED_NAME);
        }
    }

    #[test]
    fn display_texts_are_cisco_exact() {
        let login = [
            (0, "Login is unavailable(0)"),
            (1, "Login is unavailable(1)"),
            (12, "Phone record entry is absent in the device table"),
            (18, "Login is unavailable(18)"),
            (22, "Login is unavailable(22)"),
            (23, "Login is Unavailable (23)"),
            (25, "Multi-Login Not Allowed (25)"),
            (26, "Login is unavailable(26)"),
            (37, "Login is Unavailable (37)"),
            (39, "Please try to login again (201)"),
            (40, "Please try to login again (23)"),
            (41, "PIN change is required"),
            (44, "Please try to login again (201)"),
            (45, "Login is unsuccessful(45)"),
            (46, "Login is unsuccessful(46)"),
            (47, "DN has multiple users(47)"),
            (201, "Please try to login again (201)"),
            (202, "Please try to login again (202)"),
            (204, "Login is unavailable (204)"),
            (205, "Login is unavailable (205)"),
            (207, "Login is unavailable(207)"),
            (208, "Login is unavailable(208)"),
            (212, "Login is unavailable(212)"),
            (215, "LoginType invalid(215)"),
            (216, "DN has multiple users(216)"),
            // Undocumented or logout-only: the generic text.
            (7, "Login is unavailable(7)"),
            (14, "Login is unavailable(14)"),
            (19, "Login is unavailable(19)"),
            (203, "Login is unavailable(203)"),
            (999, "Login is unavailable(999)"),
        ];
        for (code, text) in login {
            assert_eq!(login_display_text(code), text, "login {code}");
        }
        let logout = [
            (0, "Logout is unavailable(0)"),
            (19, "Logout is unavailable(19)"),
            (23, "Logout is Unavailable (23)"),
            (26, "Logout is unavailable(26)"),
            (205, "Logout is unavailable (205)"),
            (207, "Logout is unavailable(207)"),
            (208, "Logout is unavailable(208)"),
            (18, "Logout is unavailable(18)"),
        ];
        for (code, text) in logout {
            assert_eq!(logout_display_text(code), text, "logout {code}");
        }
    }

    #[test]
    fn device_name_empty_and_connection_error_resolve_the_207_ambiguity() {
        assert_eq!(DEVICE_NAME_EMPTY, 207);
        assert_eq!(lookup(207).unwrap().name, "Device Name Empty");
        assert_eq!(EMSERVICE_CONNECTION_ERROR, 208);
        assert_eq!(lookup(208).unwrap().name, "EMService Connection Error");
    }

    #[test]
    fn busy_is_26_only() {
        assert!(is_busy(BUSY));
        assert!(is_busy(26));
        assert!(all().iter().filter(|c| is_busy(c.code)).count() == 1);
    }

    #[test]
    fn every_display_text_reads_back() {
        for c in all() {
            // Codes 39 and 44 show the text of 201, so a phone can only read back 201.
            let shown = if matches!(c.code, 39 | 44) {
                AUTH_FAILED
            } else {
                c.code
            };
            let login = login_display_text(c.code);
            assert_eq!(code_from_page_text(&login), Some(shown), "{login:?}");
            let logout = logout_display_text(c.code);
            assert_eq!(code_from_page_text(&logout), Some(c.code), "{logout:?}");
        }
    }

    #[test]
    fn reads_codes_from_real_looking_pages() {
        let cases: [(&str, u16); 22] = [
            ("Login is unavailable(26)", 26),
            ("Extension Mobility\nLogin is unavailable(26)", 26),
            ("Extension Mobility\n\n  Login is unavailable\n(26)\n", 26),
            ("LOGIN IS UNAVAILABLE ( 26 )", 26),
            ("Please try to login again (201)", 201),
            ("Please try to login again\r\n(201)", 201),
            ("Please   try to login again (202)", 202),
            ("Multi-Login Not Allowed (25)", 25),
            ("Logout is unavailable(19)", 19),
            ("Logout is Unavailable (23)", 23),
            ("Login is Unavailable (23)", 23),
            ("Please try to login again (23)", 40),
            ("please try to login again(23)", 40),
            ("Please try to login again\n( 23 )", 40),
            ("Login/Logout is unavailable(28)", 28),
            ("Login is unsuccessful(45)", 45),
            ("LoginType invalid(215)", 215),
            ("DN has multiple users(216)", 216),
            ("[26]- Busy, please try again", 26),
            ("[201]-Authentication error", 201),
            ("Error\u{a0}Login is unavailable(208)", 208),
            ("Busy, please try again (26)", 26),
        ];
        for (text, code) in cases {
            assert_eq!(code_from_page_text(text), Some(code), "{text:?}");
        }
        assert_eq!(code_from_page_text("PIN change is required"), Some(41));
        assert_eq!(
            code_from_page_text("Phone record entry is absent in the device table"),
            Some(12)
        );
        assert_eq!(
            code_from_page_text(
                "Title: Extension Mobility | Call 1000 (2) | Login is unavailable(22)"
            ),
            Some(22)
        );
    }

    #[test]
    fn ignores_other_parenthesised_numbers() {
        for text in [
            "",
            "Call 1000 (x)",
            "Call 1000 (2)",
            "Enter PIN (4 digits)",
            "Line 1 (26)",
            "Login is unavailable(999)",
            "Login is unavailable(48)",
            "Login is unavailable()",
            "Login is unavailable(2a)",
            "Login is unavailable 26",
            "Please try to login again",
            "Login successful (201 users)",
            "[1000] - Bob",
            "[9999]- nothing",
            "Missed calls (3)",
            "Reserved (undocumented) (13)",
            "Logged in as bob",
        ] {
            assert_eq!(code_from_page_text(text), None, "{text:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn page_text_reader_never_panics(text in "\\PC{0,120}") {
            if let Some(code) = code_from_page_text(&text) {
                proptest::prop_assert!(lookup(code).is_some());
            }
        }

        #[test]
        fn display_text_reads_back_inside_a_page(
            index in 0usize..64,
            title in "[A-Za-z ]{0,30}",
            footer in "[A-Za-z ]{0,30}",
            logout in proptest::bool::ANY,
        ) {
            let c = &all()[index];
            let (shown, expected) = if logout {
                (logout_display_text(c.code), c.code)
            } else {
                let expected = if matches!(c.code, 39 | 44) { AUTH_FAILED } else { c.code };
                (login_display_text(c.code), expected)
            };
            let page = format!("{title}\n{shown}\n{footer}");
            proptest::prop_assert_eq!(code_from_page_text(&page), Some(expected), "{}", page);
        }
    }

    #[test]
    fn skips_a_bad_number_and_finds_a_later_good_one() {
        assert_eq!(
            code_from_page_text("Login is unavailable(999) Login is unavailable(6)"),
            Some(6)
        );
    }
}
