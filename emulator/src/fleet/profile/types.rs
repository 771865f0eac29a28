//! The validated profile: what a run is given, every value checked.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use emroam_schema::LoginType;
use emroam_schema::topology::ClusterSpec;

use crate::phone::Step;
use crate::phone::sipua::DigestCredentials;

/// A profile error, with the place it is about: 1-based line and column (both 0 when it is
/// about the file as a whole).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ProfileError {
    /// The profile file.
    pub file: String,
    /// The line.
    pub line: usize,
    /// The column, in characters.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ProfileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

/// How think times are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Think {
    /// Always the same.
    Constant(Duration),
    /// Uniform in `[min, max]`.
    Uniform(Duration, Duration),
    /// Exponential with this mean.
    Exponential(Duration),
}

impl Think {
    /// Draws one think time from `u`, a uniform number in `[0, 1)`.
    pub fn sample(&self, u: f64) -> Duration {
        match *self {
            Think::Constant(d) => d,
            Think::Uniform(a, b) => a + (b.saturating_sub(a)).mul_f64(u),
            Think::Exponential(m) => m.mul_f64((-(1.0 - u).ln()).min(50.0)),
        }
    }
}

/// A rate in arrivals per second, constant or ramping linearly across the phase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// At the phase's start.
    pub from: f64,
    /// At the phase's end.
    pub to: f64,
}

impl Rate {
    /// No arrivals.
    pub const ZERO: Rate = Rate { from: 0.0, to: 0.0 };

    /// Whether it never produces an arrival.
    pub fn is_zero(&self) -> bool {
        self.from <= 0.0 && self.to <= 0.0
    }
}

/// The load model of a phase.
#[derive(Debug, Clone, PartialEq)]
pub enum Model {
    /// Arrivals at a rate, whatever the system's speed.
    Open {
        /// Logins per second.
        login: Rate,
        /// Logouts per second.
        logout: Rate,
    },
    /// N phones, each cycling login → think → logout → think.
    Closed {
        /// How many phones.
        phones: usize,
        /// Think time between journeys.
        think: Think,
    },
}

/// One phase.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// Its name in reports.
    pub name: String,
    /// How long it lasts.
    pub duration: Duration,
    /// Open or closed.
    pub model: Model,
    /// Calls per second (open model, beside the logins and logouts); needs [`Profile::sip`].
    pub calls: Rate,
}

/// Whom calls go to: weights of the three kinds of callee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalleeMix {
    /// A user logged in at the caller's cluster (a local call).
    pub same_cluster: u32,
    /// A user logged in at another cluster (over the SIP trunk).
    pub other_cluster: u32,
    /// A user who just logged in away from home (EM roaming): the call must find them where
    /// they are now.
    pub roamed: u32,
}

/// SIP for the fleet: phones boot and register, take calls as told, place the phases' calls.
#[derive(Debug, Clone, PartialEq)]
pub struct SipSpec {
    /// Where each shard's UDP socket binds (the phones' Contact address).
    pub bind: std::net::SocketAddr,
    /// How phones take calls.
    pub answer: crate::phone::sipua::AnswerPolicy,
    /// How long an answered call is held.
    pub hold: Think,
    /// Whom calls go to.
    pub callee: CalleeMix,
}

/// One generated or listed user.
#[derive(Clone, PartialEq, Eq)]
pub struct UserSpec {
    /// User ID.
    pub id: String,
    /// PIN (never printed).
    pub pin: String,
    /// Primary extension (for DN login).
    pub dn: Option<String>,
    /// Self-service ID (for SP login).
    pub self_service_id: Option<String>,
    /// An EM roaming superuser: may log in on another cluster's phones (see
    /// [`Profile::roaming`]).
    pub superuser: bool,
}

impl std::fmt::Debug for UserSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserSpec")
            .field("id", &self.id)
            .field("dn", &self.dn)
            .finish_non_exhaustive()
    }
}

/// EM API credentials for reconciliation.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppUser {
    /// Application user ID.
    pub id: String,
    /// Its password (never printed).
    pub password: String,
}

impl std::fmt::Debug for AppUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppUser")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// One cluster's phones and users.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Cluster name in reports.
    pub cluster: String,
    /// EM service URL template (`#DEVICENAME#`).
    pub service_url: String,
    /// Config file URL template (`#DEVICENAME#`), if phones fetch one.
    pub config_url: Option<String>,
    /// EM API URL for reconciliation.
    pub emservice_url: Option<String>,
    /// EM API credentials.
    pub app_user: Option<AppUser>,
    /// Base URL of the admin interface (faults).
    pub admin_url: Option<String>,
    /// Device names.
    pub devices: Vec<String>,
    /// Users (shared with the shards that run them: a fleet keeps one copy of each).
    pub users: Vec<Arc<UserSpec>>,
    /// Digest credentials of the devices whose security profile has digest on (from the
    /// topology: the phone's digest user and that user's digest credentials).
    pub digest: HashMap<String, Arc<DigestCredentials>>,
}

/// An admin request at a time into the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// When, from the start of the run.
    pub at: Duration,
    /// `GET`, `POST`, `PUT`.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Request body (JSON for the reference server).
    pub body: String,
}

/// What a fault does to a cluster's listeners (the reference server's
/// `/admin/clusters/<id>/listeners/stop|start[?for_secs=N]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenerSwitch {
    /// Takes them down: for this long, or (`None`) until they are started again.
    Stop(Option<Duration>),
    /// Brings them back.
    Start,
}

impl Fault {
    /// What it does to the listeners of which cluster (the `<id>` of its admin path, which
    /// may be another cluster's than the one it is sent to), if anything.
    pub fn listener_switch(&self) -> Option<(&str, ListenerSwitch)> {
        let (path, query) = self.url.split_once('?').unwrap_or((&self.url, ""));
        let rest = path.split_once("/admin/clusters/")?.1;
        let (id, verb) = rest.split_once("/listeners/")?;
        let switch = match verb {
            "stop" => ListenerSwitch::Stop(
                query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("for_secs="))
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .map(Duration::from_secs_f64),
            ),
            "start" => ListenerSwitch::Start,
            _ => return None,
        };
        Some((id, switch))
    }
}

/// What one step of a story does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoryAction {
    /// `user` logs in on `device` (a roaming login when the device is on another cluster
    /// than the user's home).
    Login {
        /// The user ID.
        user: String,
        /// The phone.
        device: String,
    },
    /// Whoever is on `device` logs out.
    Logout {
        /// The phone.
        device: String,
    },
    /// The user logged in on `from` calls `to` (a user of the profile) wherever they are
    /// logged in now; the call must be answered by that phone.
    Call {
        /// The caller's phone.
        from: String,
        /// The callee's user ID.
        to: String,
    },
}

/// One scripted step, at its time into the run, beside the phases' random load. The
/// story's phones and users are kept for it: the random load never uses them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoryStep {
    /// When, from the start of the run.
    pub at: Duration,
    /// What happens.
    pub action: StoryAction,
    /// What it means, for the report (`say`).
    pub say: Option<String>,
}

impl StoryStep {
    /// The phone the step uses.
    pub fn device(&self) -> &str {
        match &self.action {
            StoryAction::Login { device, .. }
            | StoryAction::Logout { device }
            | StoryAction::Call { from: device, .. } => device,
        }
    }

    /// The user the step names, if it names one.
    pub fn user(&self) -> Option<&str> {
        match &self.action {
            StoryAction::Login { user, .. } | StoryAction::Call { to: user, .. } => Some(user),
            StoryAction::Logout { .. } => None,
        }
    }
}

/// Service-level objectives, checked on the aggregated fleet.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Slo {
    /// Minimum successful / (attempted − busy).
    pub success_ratio: Option<f64>,
    /// Maximum busy (26) / attempted.
    pub busy_ratio: Option<f64>,
    /// Maximum p99 per step.
    pub p99: BTreeMap<Step, Duration>,
    /// Minimum calls ok / (calls placed − busy); misrouted calls are failures.
    pub call_success_ratio: Option<f64>,
    /// Maximum calls answered 486 Busy Here / calls placed: busy callees are outside
    /// `call_success_ratio`, so this is what gates them.
    pub call_busy_ratio: Option<f64>,
    /// Maximum dropped / (attempted + dropped): arrivals no idle phone or free user took.
    pub dropped_ratio: Option<f64>,
    /// Minimum share of the open phases' intended arrivals (logins and logouts at their
    /// rates) that started a journey: the achieved rate against the intended one.
    pub achieved_rate: Option<f64>,
    /// Whether a cluster may do nothing: by default (`false`) a cluster whose arrivals were
    /// all dropped, with no journey attempted there, fails the run.
    pub allow_idle_clusters: bool,
}

/// What a run does with logins it finds at its start (`found_logged_in` in a profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FoundLoggedIn {
    /// Log them out through the EM API, so every run starts from the same state.
    #[default]
    Logout,
    /// Keep them: a phone found logged in starts logged in (a logout arrival may take it), a
    /// user logged in on a phone outside the fleet is left alone for the whole run.
    Adopt,
    /// Do not start; say what was found.
    Refuse,
}

impl FoundLoggedIn {
    /// The profile's words for it.
    pub const NAMES: &'static str = "logout, adopt or refuse";

    /// From the profile's word.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "logout" => Self::Logout,
            "adopt" => Self::Adopt,
            "refuse" => Self::Refuse,
            _ => return None,
        })
    }

    /// The profile's word for it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::Adopt => "adopt",
            Self::Refuse => "refuse",
        }
    }
}

/// A validated load profile.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Its name.
    pub name: String,
    /// Phases, in order.
    pub phases: Vec<Phase>,
    /// Clusters with their phones and users.
    pub targets: Vec<Target>,
    /// Login-type weights (sum > 0).
    pub mix: Vec<(LoginType, u32)>,
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// How long in-flight journeys get at the end.
    pub drain: Duration,
    /// PRNG seed.
    pub seed: u64,
    /// Share of logins (0..=1) made by a superuser homed on another cluster: EM roaming
    /// across clusters. The rest log in users homed where the phone is.
    pub roaming: f64,
    /// Fault schedule.
    pub faults: Vec<Fault>,
    /// Thresholds.
    pub slo: Slo,
    /// SIP (registration, calls), when the profile has `[sip]`.
    pub sip: Option<SipSpec>,
    /// Whether phones boot (config file; REGISTER with SIP) before the first phase.
    pub boot: bool,
    /// What to do with logins found on the profile's phones and users at the start.
    pub found_logged_in: FoundLoggedIn,
    /// A target that refuses every connection this long stops the run (`None`: never).
    pub stop_when_unreachable: Option<Duration>,
    /// Scripted steps beside the random load, in time order (`[[story]]`).
    pub story: Vec<StoryStep>,
    /// The clusters of the topology the targets were drawn from (`topology =`: their ILS
    /// roles, addresses and ports, for views that name them); empty with `[[target]]` tables.
    /// Only the clusters: a load topology's users and phones are not kept for the run.
    pub clusters: Vec<ClusterSpec>,
}

impl Rate {
    /// Arrivals it intends over the first `t` of a phase lasting `len` (the ramp's integral).
    pub fn arrivals(&self, t: Duration, len: Duration) -> f64 {
        let (t, len) = (t.min(len).as_secs_f64(), len.as_secs_f64());
        if len <= 0.0 {
            return 0.0;
        }
        let slope = (self.to - self.from) / len;
        self.from * t + slope * t * t / 2.0
    }
}

impl Profile {
    /// Logins and logouts the open phases intend in the first `t` of the phases (none from
    /// closed phases, which have no rate).
    pub fn intended_arrivals(&self, t: Duration) -> f64 {
        let mut begun = Duration::ZERO;
        let mut n = 0.0;
        for p in &self.phases {
            if let Model::Open { login, logout } = &p.model {
                let into = t.saturating_sub(begun);
                n += login.arrivals(into, p.duration) + logout.arrivals(into, p.duration);
            }
            begun += p.duration;
        }
        n
    }

    /// How much of the first `t` of the phases was spent in open phases.
    pub fn open_time(&self, t: Duration) -> Duration {
        let mut begun = Duration::ZERO;
        let mut open = Duration::ZERO;
        for p in &self.phases {
            if matches!(p.model, Model::Open { .. }) {
                open += t.saturating_sub(begun).min(p.duration);
            }
            begun += p.duration;
        }
        open
    }

    /// The run's planned length (sum of phases).
    pub fn duration(&self) -> Duration {
        self.phases.iter().map(|p| p.duration).sum()
    }

    /// Shortens every phase proportionally so the whole run lasts `total`.
    pub fn scale_to(&mut self, total: Duration) {
        let whole = self.duration().as_secs_f64();
        if whole <= 0.0 {
            return;
        }
        let k = total.as_secs_f64() / whole;
        for p in &mut self.phases {
            p.duration = p.duration.mul_f64(k);
        }
        for f in &mut self.faults {
            f.at = f.at.mul_f64(k);
        }
        for s in &mut self.story {
            s.at = s.at.mul_f64(k);
        }
    }
}
