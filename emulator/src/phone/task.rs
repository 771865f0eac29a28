//! What a phone is asked to do ([`Task`], [`TaskKind`], a login's [`Credentials`]) and who it
//! is ([`PhoneSpec`]).

use std::sync::Arc;
use std::time::Duration;

use emroam_schema::LoginType;

use super::http::Model;

/// Who the phone is and where it looks for its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneSpec {
    /// Device name, `SEP` + 12 hex digits.
    pub device: String,
    /// What it announces in its headers.
    pub model: Model,
    /// Its config file (`http://host:6970/SEP….cnf.xml`); `None`: no boot, no restart fetch.
    pub config_url: Option<String>,
    /// The EM service URL template (`…?device=#DEVICENAME#`) when not taken from the config;
    /// shared, so a fleet's phones of one cluster hold one copy.
    pub service_url: Option<Arc<str>>,
}

/// What the phone is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// Fetch the config file and register.
    Boot,
    /// Log in through the EM service.
    Login(Credentials),
    /// Log out through the EM service.
    Logout,
    /// Open the EM service and report whether someone is logged in.
    Status,
    /// Call a directory number over SIP, hold, hang up (needs
    /// [`Phone::with_sip`](super::Phone::with_sip) and a boot).
    Call {
        /// The number called.
        dn: String,
        /// How long to stay in the call once answered.
        hold: Duration,
    },
    /// Refresh the SIP registrations before they expire (see
    /// [`Phone::refresh_due`](super::Phone::refresh_due)).
    Refresh,
}

/// The kind of a [`Task`], without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// [`Task::Boot`].
    Boot,
    /// [`Task::Login`].
    Login,
    /// [`Task::Logout`].
    Logout,
    /// [`Task::Status`].
    Status,
    /// [`Task::Call`].
    Call,
    /// [`Task::Refresh`].
    Refresh,
    /// An incoming call, started by the INVITE itself (no [`Task`] asks for it).
    Answer,
    /// A restart the cluster asked for while the phone was idle (a `service-control` NOTIFY
    /// after someone else logged the user out: EM roaming, an administrator, auto-logout).
    Restart,
}

impl TaskKind {
    /// Its name in reports and cause keys (`boot`, `login`, `answer`, ...).
    pub fn name(self) -> &'static str {
        match self {
            TaskKind::Boot => "boot",
            TaskKind::Login => "login",
            TaskKind::Logout => "logout",
            TaskKind::Status => "status",
            TaskKind::Call => "call",
            TaskKind::Refresh => "refresh",
            TaskKind::Answer => "answer",
            TaskKind::Restart => "restart",
        }
    }
}

impl Task {
    /// Its kind.
    pub fn kind(&self) -> TaskKind {
        match self {
            Task::Boot => TaskKind::Boot,
            Task::Login(_) => TaskKind::Login,
            Task::Logout => TaskKind::Logout,
            Task::Status => TaskKind::Status,
            Task::Call { .. } => TaskKind::Call,
            Task::Refresh => TaskKind::Refresh,
        }
    }
}

/// What the user types into the login form: the identifier by login type, and the PIN.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Which identifier the form asks for.
    pub login_type: LoginType,
    /// User ID, primary extension or self-service ID.
    pub id: String,
    /// The PIN; never printed ([`std::fmt::Debug`] hides it).
    pub pin: String,
    /// The device profile to pick when the cluster offers several (first one otherwise).
    pub profile: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("login_type", &self.login_type)
            .field("id", &self.id)
            .field("pin", &"*****")
            .field("profile", &self.profile)
            .finish()
    }
}
