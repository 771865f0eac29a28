//! EM codes the cluster answers with, and the error type every EM operation returns.
//!
//! Numbers are CUCM's (reference §2.3 EM service, §2.4 EM application); the phone display text
//! for each lives in the protocol catalogue and is looked up only where pages are built.

/// EM code numbers used by the reference cluster.
pub mod code {
    /// Error on parsing (malformed EM API XML).
    pub const PARSE: u16 = 1;
    /// Invalid App User (appID/appCertificate do not authenticate).
    pub const INVALID_APP_USER: u16 = 3;
    /// Device logon disabled, at logout.
    pub const LOGOUT_DISABLED: u16 = 5;
    /// Database Error.
    pub const DATABASE: u16 = 6;
    /// Query type undetermined.
    pub const UNKNOWN_QUERY: u16 = 8;
    /// User lacks app proxy rights.
    pub const NO_PROXY_RIGHTS: u16 = 10;
    /// Device does not exist.
    pub const NO_DEVICE: u16 = 11;
    /// Device profile not found.
    pub const NO_PROFILE: u16 = 12;
    /// Another user logged in.
    pub const ANOTHER_USER: u16 = 18;
    /// No user logged in.
    pub const NO_USER_LOGGED_IN: u16 = 19;
    /// Device logon disabled (EM not enabled on the phone).
    pub const LOGON_DISABLED: u16 = 22;
    /// User not found (also: DN / self-service ID matches nobody).
    pub const USER_NOT_FOUND: u16 = 23;
    /// User logged in elsewhere (Multiple Logins Not Allowed).
    pub const LOGGED_IN_ELSEWHERE: u16 = 25;
    /// Busy, please try again (Maximum Concurrent Requests reached).
    pub const BUSY: u16 = 26;
    /// Untrusted IP.
    pub const UNTRUSTED_IP: u16 = 28;
    /// Proxy not allowed.
    pub const PROXY_NOT_ALLOWED: u16 = 30;
    /// EM application: authentication error (wrong user ID or PIN).
    pub const AUTH: u16 = 201;
    /// EM application: blank user ID or PIN.
    pub const BLANK: u16 = 202;
    /// EM application: user profile absent.
    pub const PROFILE_ABSENT: u16 = 205;
    /// EM application: device name empty.
    pub const DEVICE_NAME_EMPTY: u16 = 207;
    /// EM application: EM service connection error.
    pub const SERVICE_CONNECTION: u16 = 208;
    /// EM application: login type invalid.
    pub const LOGIN_TYPE_INVALID: u16 = 215;
    /// EM application: DN has multiple users.
    pub const DN_MULTIPLE_USERS: u16 = 216;
}

/// An EM operation's failure: the code the client is shown, and an internal reason for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("EM code {code}: {reason}")]
pub struct EmError {
    /// The EM code.
    pub code: u16,
    /// Why (for logs and the EM API's message text; never contains a PIN).
    pub reason: &'static str,
}

impl EmError {
    /// An error with this code and reason.
    pub const fn new(code: u16, reason: &'static str) -> Self {
        EmError { code, reason }
    }
}
