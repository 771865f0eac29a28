//! How a task ended: the timed [`Step`]s it went through, and its [`TaskOutcome`] (a
//! [`Success`], or a [`Failure`] with its [`Cause`] and what the phone shows).

use std::fmt;
use std::time::{Duration, Instant};

use emroam_protocol::codes;

use super::http::HttpFailure;
use super::task::TaskKind;

/// The timed steps of a phone's life; each gets its own histogram in a fleet run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Fetching the config file at boot.
    Config,
    /// Opening the EM service page (from the intended start of the task).
    EmPage,
    /// Submitting the login form, until the result (or the profile menu).
    LoginSubmit,
    /// Choosing a device profile, until the result.
    ProfileChoice,
    /// Confirming the logout, until the result.
    LogoutConfirm,
    /// Waiting out a `Refresh` and fetching its page.
    Refresh,
    /// Restart after login or logout: the config file again, then registration.
    Restart,
    /// Registering the lines (every REGISTER sent until every 200 OK).
    Register,
    /// Call setup: INVITE sent until 200 OK.
    CallSetup,
    /// The whole task, from its intended start to its end.
    Journey,
    /// An EM journey (login or logout) that failed: from its intended start to the failure
    /// (how long a user waited for the error: a timeout shows as the request timeout).
    FailedJourney,
}

impl Step {
    /// Every step, in journey order.
    pub const ALL: [Step; 11] = [
        Step::Config,
        Step::EmPage,
        Step::LoginSubmit,
        Step::ProfileChoice,
        Step::LogoutConfirm,
        Step::Refresh,
        Step::Restart,
        Step::Register,
        Step::CallSetup,
        Step::Journey,
        Step::FailedJourney,
    ];

    /// Its name in reports and profiles (`em_page`, `login_submit`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Step::Config => "config",
            Step::EmPage => "em_page",
            Step::LoginSubmit => "login_submit",
            Step::ProfileChoice => "profile_choice",
            Step::LogoutConfirm => "logout_confirm",
            Step::Refresh => "refresh",
            Step::Restart => "restart",
            Step::Register => "register",
            Step::CallSetup => "call_setup",
            Step::Journey => "journey",
            Step::FailedJourney => "failed_journey",
        }
    }

    /// The step named `s`.
    pub fn from_name(s: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|st| st.name() == s)
    }

    /// Its index in [`Step::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How long one step took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepSample {
    /// Which step.
    pub step: Step,
    /// When it started (for the first step of a task: the task's intended start).
    pub start: Instant,
    /// When it ended.
    pub end: Instant,
}

impl StepSample {
    /// `end - start`.
    pub fn latency(&self) -> Duration {
        self.end.saturating_duration_since(self.start)
    }
}

/// Why a task ended without doing its job; each is named as the phone shows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Cause {
    /// The name did not resolve, or the URL cannot be fetched ("Host Not Found").
    HostNotFound,
    /// Nothing listens at the address: connection refused (the phone shows "Host Not Found").
    ConnectionRefused,
    /// The connection broke ("Connection failed").
    ConnectionFailed,
    /// No response within the request timeout.
    Timeout,
    /// A non-2xx status ("HTTP Error (503)").
    HttpStatus(u16),
    /// The page was refused by the phone's parser: 4 parse error, 5 unsupported object.
    Xml(u8),
    /// Body over the phone's limit ("Data too large!").
    TooLarge,
    /// An empty body ("No services configured").
    EmptyPage,
    /// An EM code read from the page (26 is busy, counted apart from failures).
    Em(u16),
    /// The phone has no EM service URL (none configured, none given): "Services Unavailable".
    NoServiceUrl,
    /// After login or logout the config file lists no EM service: "Services Unavailable".
    ServicesUnavailable(TaskKind),
    /// A logout found nobody logged in (the EM service offered the login form).
    NotLoggedIn,
    /// A login found someone logged in (the EM service offered the logout confirmation).
    AlreadyLoggedIn,
    /// The config file could not be read.
    BadConfig,
    /// A page the phone cannot act on in this state (which one, for the developer).
    UnexpectedPage(String),
    /// The task was abandoned (shutdown deadline).
    Abandoned,
    /// The emulator itself failed (a bug; the fleet retires that phone and carries on).
    Internal,
    /// The cluster refused a REGISTER with this SIP status.
    RegisterRefused(u16),
    /// A REGISTER got no answer in time.
    RegisterTimeout,
    /// The registrar refused the phone's digest credentials (wrong digest user or
    /// credentials in the topology, or the cluster's differ).
    DigestRefused,
    /// Registered, logged in or out, but no `service-control` NOTIFY came to restart the phone.
    NoRestart,
    /// A call ended with this final SIP status (404, 480, 486, 503, ...).
    CallFailed(u16),
    /// An INVITE or BYE got no final answer in time.
    CallTimeout,
    /// A call needs SIP and a registration.
    NotRegistered,
}

impl Cause {
    /// A stable key for counting (`em_26`, `http_503`, `host_not_found`, ...).
    pub fn key(&self) -> String {
        match self {
            Cause::HostNotFound => "host_not_found".into(),
            Cause::ConnectionRefused => "connection_refused".into(),
            Cause::ConnectionFailed => "connection_failed".into(),
            Cause::Timeout => "timeout".into(),
            Cause::HttpStatus(s) => format!("http_{s}"),
            Cause::Xml(n) => format!("xml_error_{n}"),
            Cause::TooLarge => "data_too_large".into(),
            Cause::EmptyPage => "empty_page".into(),
            Cause::Em(c) => format!("em_{c}"),
            Cause::NoServiceUrl => "no_service_url".into(),
            Cause::ServicesUnavailable(TaskKind::Logout) => {
                "services_unavailable_after_logout".into()
            }
            Cause::ServicesUnavailable(_) => "services_unavailable_after_login".into(),
            Cause::NotLoggedIn => "not_logged_in".into(),
            Cause::AlreadyLoggedIn => "already_logged_in".into(),
            Cause::BadConfig => "bad_config".into(),
            Cause::UnexpectedPage(_) => "unexpected_page".into(),
            Cause::Abandoned => "abandoned".into(),
            Cause::Internal => "internal_error".into(),
            Cause::RegisterRefused(c) => format!("sip_register_{c}"),
            Cause::RegisterTimeout => "sip_register_timeout".into(),
            Cause::DigestRefused => "sip_digest_refused".into(),
            Cause::NoRestart => "no_restart".into(),
            Cause::CallFailed(c) => format!("sip_{c}"),
            Cause::CallTimeout => "sip_call_timeout".into(),
            Cause::NotRegistered => "not_registered".into(),
        }
    }

    /// Whether this is EM's designed back-pressure (26, busy), not a failure.
    pub fn is_busy(&self) -> bool {
        matches!(self, Cause::Em(c) if codes::is_busy(*c))
    }

    /// What the phone's screen shows, for a login or logout task.
    pub fn shown(&self, task: TaskKind) -> String {
        match self {
            Cause::HostNotFound | Cause::ConnectionRefused => "Host Not Found".into(),
            Cause::ConnectionFailed | Cause::Timeout => "Connection failed".into(),
            Cause::HttpStatus(s) => format!("HTTP Error ({s})"),
            Cause::Xml(4) => "XML Error [4]: Parse Error".into(),
            Cause::Xml(n) => format!("XML Error [{n}]: Unsupported XML Object"),
            Cause::TooLarge => "Data too large!".into(),
            Cause::EmptyPage => "No services configured".into(),
            Cause::Em(c) if task == TaskKind::Logout => codes::logout_display_text(*c),
            Cause::Em(c) => codes::login_display_text(*c),
            Cause::NoServiceUrl | Cause::ServicesUnavailable(_) => "Services Unavailable".into(),
            Cause::NotLoggedIn => "Not logged in".into(),
            Cause::AlreadyLoggedIn => "Already logged in".into(),
            Cause::BadConfig => "Configuration error".into(),
            Cause::UnexpectedPage(what) => format!("Unexpected page: {what}"),
            Cause::Abandoned => "Abandoned".into(),
            Cause::Internal => "Internal error".into(),
            Cause::RegisterRefused(_) | Cause::RegisterTimeout => "Registering".into(),
            Cause::DigestRefused => "Registration rejected".into(),
            Cause::NoRestart => "Restart not received".into(),
            Cause::CallFailed(c) => format!("Call failed ({c})"),
            Cause::CallTimeout => "Call failed (no answer)".into(),
            Cause::NotRegistered => "Registering".into(),
        }
    }

    /// The cause a failed request stands for.
    pub(super) fn from_failure(f: &HttpFailure) -> Cause {
        match f {
            HttpFailure::HostNotFound | HttpFailure::BadUrl(_) => Cause::HostNotFound,
            HttpFailure::Refused => Cause::ConnectionRefused,
            HttpFailure::ConnectionFailed(_) => Cause::ConnectionFailed,
            HttpFailure::Timeout => Cause::Timeout,
            HttpFailure::TooLarge => Cause::TooLarge,
        }
    }
}

/// What a finished task achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Success {
    /// Booted (config fetched, registered).
    Booted,
    /// The registrations were refreshed.
    Refreshed,
    /// Restarted as the cluster asked (config again, registered again).
    Restarted,
    /// An incoming call was answered, and the caller hung up.
    Answered,
    /// An incoming call rang until the caller gave up (CANCEL).
    Missed,
    /// Logged in and restarted with the user's profile.
    LoggedIn,
    /// Logged out and restarted with the logout profile.
    LoggedOut,
    /// A call was answered, held and hung up.
    Called,
    /// The EM service says someone is (true) or nobody is (false) logged in.
    Status {
        /// Whether the service offered a logout (someone is logged in).
        logged_in: bool,
    },
}

/// A task that did not do its job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Why it failed.
    pub cause: Cause,
    /// The step it was in.
    pub step: Step,
    /// What the phone shows.
    pub shown: String,
}

/// The end of a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskOutcome {
    /// Which task.
    pub task: TaskKind,
    /// Success or the failure.
    pub result: Result<Success, Failure>,
}

impl TaskOutcome {
    /// A `task` that failed as a whole, outside any step of its own (abandoned, or the
    /// emulator failed): [`Step::Journey`], showing what the phone shows for `cause`.
    pub fn failed(task: TaskKind, cause: Cause) -> TaskOutcome {
        TaskOutcome::failed_at(task, Step::Journey, cause)
    }

    /// A `task` that failed in `step`, showing what the phone shows for `cause`.
    pub fn failed_at(task: TaskKind, step: Step, cause: Cause) -> TaskOutcome {
        let shown = cause.shown(task);
        TaskOutcome {
            task,
            result: Err(Failure { cause, step, shown }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_task_failure_is_a_journey_showing_its_cause() {
        let o = TaskOutcome::failed(TaskKind::Login, Cause::Abandoned);
        assert_eq!(
            o,
            TaskOutcome {
                task: TaskKind::Login,
                result: Err(Failure {
                    cause: Cause::Abandoned,
                    step: Step::Journey,
                    shown: "Abandoned".into(),
                }),
            }
        );
        let o = TaskOutcome::failed(TaskKind::Call, Cause::Internal);
        let f = o.result.unwrap_err();
        assert_eq!(
            (f.step, f.shown.as_str()),
            (Step::Journey, "Internal error")
        );
        let o = TaskOutcome::failed_at(TaskKind::Logout, Step::LogoutConfirm, Cause::Em(208));
        let f = o.result.unwrap_err();
        assert_eq!(f.step, Step::LogoutConfirm);
        assert_eq!(f.shown, codes::logout_display_text(208));
    }
}
