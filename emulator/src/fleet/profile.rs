//! Load profiles: TOML in, a validated [`Profile`] out, before anything runs. Every error
//! names the line of the profile it is about.
//!
//! Pure (no I/O but [`Profile::load`] reading the file).
//!
//! ```toml
//! name = "smoke"
//! request_timeout = "5s"        # per HTTP request
//! drain = "10s"                 # in-flight journeys get this long at the end / on Ctrl-C
//! seed = 1                      # think times and login-type picks are deterministic
//! roaming = 0.1                 # share of logins by superusers homed on another cluster
//! boot = true                   # phones fetch their config file before the first phase
//!                               # (default: with [sip] only, where they also register)
//!
//! topology = "topologies/seed.toml"   # the clusters, phones and users (relative to this
//! [population]                  # file); or list them with [[target]] tables, as below
//! clusters = ["cluster1"]       # default: every cluster
//! devices_per_cluster = 100     # default: every EM-enabled phone of the cluster
//! users_per_cluster = 100       # default: every user homed there
//!
//! [[target]]                    # one per cluster (a real CUCM, or no topology file)
//! cluster = "cluster1"
//! service_url = "http://127.0.0.1:8080/emapp/EMAppServlet?device=#DEVICENAME#"
//! config_url = "http://127.0.0.1:6970/#DEVICENAME#.cnf.xml"     # optional: restart fetch
//! emservice_url = "http://127.0.0.1:8080/emservice/EMServiceServlet"  # optional: reconcile
//! app_user = { id = "emapi", password = "emapi-secret" }          # for the EM API queries
//! admin_url = "http://127.0.0.1:8080"                             # faults go here
//! devices = { first = "SEP000000001001", count = 20 }
//! users = { prefix = "user", first = 1, count = 20, width = 5, pin = "12345", dn_first = 9000001 }
//!
//! [mix]                         # login-type weights
//! uid = 70
//! dn = 20
//! sp = 10
//!
//! [[phase]]                     # open model: arrivals per second, constant or ramp [from, to]
//! name = "ramp"
//! duration = "30s"
//! login_rate = [1.0, 20.0]
//! logout_rate = 0.0
//!
//! [[phase]]                     # closed model: N phones cycling login/logout with think time
//! name = "churn"
//! duration = "60s"
//! phones = 20
//! think = { dist = "exponential", mean = "2s" }   # constant {value}, uniform {min,max}
//!
//! [[fault]]                     # an admin request at a time into the run
//! at = "10s"
//! cluster = "cluster1"
//! action = "emapp-stop"         # emapp-/emservice-/listeners- stop|start, params (+ body)
//!                               # or path = "/admin/…" (+ method, body), or url = "http://…"
//!
//! [sip]                         # phones boot, register over SIP, take and place calls
//! bind = "127.0.0.1:0"          # each shard's UDP socket (the phones' Contact address)
//! ring = "500ms"                # a called phone rings this long, then answers
//! auto_answer = true            # false: it rings until the caller gives up
//! busy = 0.05                   # share of incoming calls declined with 486
//! hold = { dist = "exponential", mean = "3s" }     # how long an answered call lasts
//! callee = { same_cluster = 2, other_cluster = 1, roamed = 1 }   # whom calls go to
//!
//! [[phase]]                     # calls: any phase may add open-model call arrivals
//! name = "calls"
//! duration = "30s"
//! call_rate = [1.0, 10.0]       # calls per second (a phase of calls alone is open)
//!
//! [slo]
//! success_ratio = 0.99          # successful / (attempted - busy)
//! busy_ratio = 0.05             # busy (26) / attempted, at most
//! p99 = { journey = "2s", login_submit = "500ms" }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use emroam_schema::em_url;
use emroam_schema::{LoginType, Topology};

use crate::phone::Step;

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
    /// Users.
    pub users: Vec<UserSpec>,
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
    /// The topology the targets were drawn from (`topology =`), for views that name its
    /// clusters; `None` with explicit [[target]]s.
    pub topology: Option<std::sync::Arc<Topology>>,
}

impl Profile {
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
    }

    /// Reads and validates a profile file.
    ///
    /// # Errors
    /// [`ProfileError`] naming the file and line.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let src = std::fs::read_to_string(path).map_err(|e| ProfileError {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            message: format!("cannot read: {e}"),
        })?;
        Profile::parse(&src, &path.display().to_string(), path.parent())
    }

    /// Validates a profile's text; `file` names it in errors, `dir` resolves relative paths.
    ///
    /// # Errors
    /// [`ProfileError`] naming the line.
    pub fn parse(src: &str, file: &str, dir: Option<&Path>) -> Result<Profile, ProfileError> {
        Profile::parse_with(src, file, dir, None)
    }

    /// [`Profile::parse`], with `topology` standing in for the file the profile names (the
    /// demo's in-process clusters, bound to ports chosen at run time).
    ///
    /// # Errors
    /// [`ProfileError`] naming the line.
    pub fn parse_with(
        src: &str,
        file: &str,
        dir: Option<&Path>,
        topology: Option<&Topology>,
    ) -> Result<Profile, ProfileError> {
        let v = Validator { src, file };
        let raw: RawProfile = toml::from_str(src).map_err(|e| {
            let (line, column) = e.span().map_or((0, 0), |s| v.position(s.start));
            let msg = match e.message() {
                m if m.contains("untagged enum RawUsers") => "users: expected a list of \
                    {id, pin, dn?, self_service_id?} or a pattern \
                    {prefix, first, count, width?, pin, dn_first?}"
                    .to_owned(),
                m if m.contains("untagged enum RawDevices") => {
                    "devices: expected a list of names or {first = \"SEP…\", count}".to_owned()
                }
                m if m.contains("untagged enum RawRate") => {
                    "a rate is a number or [from, to] (per second)".to_owned()
                }
                m => m.to_owned(),
            };
            ProfileError {
                file: file.to_owned(),
                line,
                column,
                message: msg,
            }
        })?;
        v.build(raw, dir, topology)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    topology: Option<Spanned<String>>,
    population: Option<Spanned<RawPopulation>>,
    #[serde(default)]
    target: Vec<Spanned<RawTarget>>,
    mix: Option<Spanned<BTreeMap<String, u32>>>,
    #[serde(default)]
    phase: Vec<Spanned<RawPhase>>,
    request_timeout: Option<Spanned<String>>,
    drain: Option<Spanned<String>>,
    seed: Option<u64>,
    roaming: Option<Spanned<f64>>,
    boot: Option<Spanned<bool>>,
    #[serde(default)]
    fault: Vec<Spanned<RawFault>>,
    slo: Option<Spanned<RawSlo>>,
    sip: Option<Spanned<RawSip>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSip {
    bind: Option<String>,
    ring: Option<String>,
    auto_answer: Option<bool>,
    busy: Option<f64>,
    hold: Option<RawThink>,
    callee: Option<BTreeMap<String, u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPopulation {
    clusters: Option<Vec<String>>,
    devices_per_cluster: Option<usize>,
    users_per_cluster: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    cluster: String,
    service_url: String,
    config_url: Option<String>,
    emservice_url: Option<String>,
    app_user: Option<AppUser>,
    admin_url: Option<String>,
    devices: RawDevices,
    users: RawUsers,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawDevices {
    List(Vec<String>),
    Pattern(RawDevicePattern),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDevicePattern {
    first: String,
    count: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUserPattern {
    prefix: String,
    first: u64,
    count: usize,
    #[serde(default)]
    width: usize,
    pin: String,
    dn_first: Option<u64>,
    #[serde(default)]
    superuser: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    id: String,
    pin: String,
    dn: Option<String>,
    self_service_id: Option<String>,
    #[serde(default)]
    superuser: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawUsers {
    List(Vec<RawUser>),
    Pattern(RawUserPattern),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawRate {
    Const(f64),
    Ramp([f64; 2]),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPhase {
    name: Option<String>,
    duration: String,
    login_rate: Option<RawRate>,
    logout_rate: Option<RawRate>,
    call_rate: Option<RawRate>,
    phones: Option<usize>,
    think: Option<RawThink>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThink {
    dist: String,
    value: Option<String>,
    min: Option<String>,
    max: Option<String>,
    mean: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    at: String,
    action: Option<String>,
    cluster: Option<String>,
    method: Option<String>,
    path: Option<String>,
    url: Option<String>,
    body: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlo {
    success_ratio: Option<f64>,
    busy_ratio: Option<f64>,
    call_success_ratio: Option<f64>,
    #[serde(default)]
    p99: BTreeMap<String, String>,
}

struct Validator<'a> {
    src: &'a str,
    file: &'a str,
}

impl Validator<'_> {
    /// 1-based line and column (in characters) of a byte offset.
    fn position(&self, offset: usize) -> (usize, usize) {
        let mut at = offset.min(self.src.len());
        while !self.src.is_char_boundary(at) {
            at -= 1;
        }
        let before = &self.src[..at];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        (line, before[line_start..].chars().count() + 1)
    }

    /// An error at a byte offset; `usize::MAX` for the file as a whole.
    fn err(&self, offset: usize, message: impl Into<String>) -> ProfileError {
        let (line, column) = if offset == usize::MAX {
            (0, 0)
        } else {
            self.position(offset)
        };
        ProfileError {
            file: self.file.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }

    /// A duration in the shared grammar (`emroam_schema::duration`: a unit is required).
    fn dur(&self, at: usize, what: &str, s: &str) -> Result<Duration, ProfileError> {
        emroam_schema::duration::parse(s).map_err(|e| self.err(at, format!("{what}: {e}")))
    }

    fn rate(&self, at: usize, what: &str, r: Option<&RawRate>) -> Result<Rate, ProfileError> {
        let rate = match r {
            None => Rate::ZERO,
            Some(RawRate::Const(x)) => Rate { from: *x, to: *x },
            Some(RawRate::Ramp([a, b])) => Rate { from: *a, to: *b },
        };
        if !(rate.from.is_finite() && rate.to.is_finite()) || rate.from < 0.0 || rate.to < 0.0 {
            return Err(self.err(at, format!("{what} must be ≥ 0 per second")));
        }
        if rate.from > 100_000.0 || rate.to > 100_000.0 {
            return Err(self.err(at, format!("{what} over 100000/s is not a phone fleet")));
        }
        Ok(rate)
    }

    fn build(
        &self,
        raw: RawProfile,
        dir: Option<&Path>,
        topology: Option<&Topology>,
    ) -> Result<Profile, ProfileError> {
        let _ = &raw.description;
        let mut targets = Vec::new();
        let mut topology_used = None;
        match (&raw.topology, raw.target.is_empty()) {
            (Some(t), false) => {
                return Err(self.err(
                    t.span().start,
                    "give either `topology` or [[target]], not both",
                ));
            }
            (None, true) => {
                return Err(self.err(
                    usize::MAX,
                    "no `topology` and no [[target]]: which phones and users to drive?",
                ));
            }
            (Some(t), true) => {
                let at = t.span().start;
                let topo = match topology {
                    Some(topo) => topo.clone(),
                    None => {
                        let path =
                            dir.map_or_else(|| PathBuf::from(t.get_ref()), |d| d.join(t.get_ref()));
                        Topology::load(&path).map_err(|e| {
                            self.err(at, format!("topology {}: {e}", path.display()))
                        })?
                    }
                };
                targets = self.topology_targets(&topo, raw.population.as_ref())?;
                topology_used = Some(std::sync::Arc::new(topo));
            }
            (None, false) => {
                if let Some(p) = &raw.population {
                    return Err(self.err(p.span().start, "[population] selects from a `topology`"));
                }
                for t in &raw.target {
                    targets.push(self.target(t)?);
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (t, raw_t) in targets.iter().zip(&raw.target) {
            for d in &t.devices {
                if !seen.insert(d.clone()) {
                    return Err(self.err(raw_t.span().start, format!("device {d} listed twice")));
                }
            }
        }
        let mix = match &raw.mix {
            None => vec![(LoginType::Uid, 1)],
            Some(m) => {
                let mut out = Vec::new();
                for (k, w) in m.get_ref() {
                    let lt = match LoginType::parse(k) {
                        Some(lt) => lt,
                        None => {
                            let other = k;
                            return Err(self.err(
                                m.span().start,
                                format!("[mix]: unknown login type `{other}` (uid, dn, sp)"),
                            ));
                        }
                    };
                    out.push((lt, *w));
                }
                if out.iter().all(|(_, w)| *w == 0) {
                    return Err(self.err(m.span().start, "[mix]: the weights add up to 0"));
                }
                out
            }
        };
        if raw.phase.is_empty() {
            return Err(self.err(usize::MAX, "no [[phase]]: nothing to run"));
        }
        let phones_total: usize = targets.iter().map(|t| t.devices.len()).sum();
        let mut phases = Vec::new();
        for (i, p) in raw.phase.iter().enumerate() {
            let at = p.span().start;
            let r = p.get_ref();
            let name = r.name.clone().unwrap_or_else(|| format!("phase{}", i + 1));
            let duration = self.dur(at, &format!("phase `{name}` duration"), &r.duration)?;
            if duration.is_zero() {
                return Err(self.err(at, format!("phase `{name}`: duration must be > 0")));
            }
            let open = r.login_rate.is_some()
                || r.logout_rate.is_some()
                || (r.call_rate.is_some() && r.phones.is_none());
            let model = match (open, r.phones) {
                (true, Some(_)) => {
                    return Err(self.err(
                        at,
                        format!(
                            "phase `{name}`: either rates (open model) or phones (closed), not both"
                        ),
                    ));
                }
                (false, None) => {
                    return Err(self.err(
                        at,
                        format!(
                            "phase `{name}`: give login_rate/logout_rate (open) or phones (closed)"
                        ),
                    ));
                }
                (true, None) => {
                    if r.think.is_some() {
                        return Err(
                            self.err(at, format!("phase `{name}`: think is for closed phases"))
                        );
                    }
                    Model::Open {
                        login: self.rate(at, "login_rate", r.login_rate.as_ref())?,
                        logout: self.rate(at, "logout_rate", r.logout_rate.as_ref())?,
                    }
                }
                (false, Some(n)) => {
                    if n == 0 || n > phones_total {
                        return Err(self.err(
                            at,
                            format!("phase `{name}`: phones must be 1..={phones_total} (the targets' devices)"),
                        ));
                    }
                    let think = match &r.think {
                        None => Think::Constant(Duration::ZERO),
                        Some(t) => self.think(at, t)?,
                    };
                    Model::Closed { phones: n, think }
                }
            };
            let calls = self.rate(at, "call_rate", r.call_rate.as_ref())?;
            if !calls.is_zero() && raw.sip.is_none() {
                return Err(self.err(
                    at,
                    format!("phase `{name}`: call_rate needs a [sip] table (phones must register)"),
                ));
            }
            phases.push(Phase {
                name,
                duration,
                model,
                calls,
            });
        }
        let request_timeout = match &raw.request_timeout {
            Some(s) => self.dur(s.span().start, "request_timeout", s.get_ref())?,
            None => Duration::from_secs(10),
        };
        if request_timeout.is_zero() {
            return Err(self.err(usize::MAX, "request_timeout must be > 0"));
        }
        let drain = match &raw.drain {
            Some(s) => self.dur(s.span().start, "drain", s.get_ref())?,
            None => Duration::from_secs(10),
        };
        let mut faults = Vec::new();
        for f in &raw.fault {
            faults.push(self.fault(f, &targets)?);
        }
        let slo = match &raw.slo {
            None => Slo::default(),
            Some(s) => self.slo(s)?,
        };
        Ok(Profile {
            name: raw.name.unwrap_or_else(|| self.file.to_owned()),
            phases,
            targets,
            mix,
            request_timeout,
            drain,
            seed: raw.seed.unwrap_or(1),
            roaming: match &raw.roaming {
                None => 0.0,
                Some(r) if (0.0..=1.0).contains(r.get_ref()) => *r.get_ref(),
                Some(r) => return Err(self.err(r.span().start, "roaming is a share within 0..=1")),
            },
            faults,
            slo,
            topology: topology_used,
            boot: match (&raw.boot, &raw.sip) {
                (Some(b), Some(_)) if !*b.get_ref() => {
                    return Err(self.err(
                        b.span().start,
                        "boot = false with [sip]: SIP phones boot to register their lines",
                    ));
                }
                (Some(b), _) => *b.get_ref(),
                (None, sip) => sip.is_some(),
            },
            sip: match &raw.sip {
                None => None,
                Some(s) => Some(self.sip(s)?),
            },
        })
    }

    fn sip(&self, s: &Spanned<RawSip>) -> Result<SipSpec, ProfileError> {
        let at = s.span().start;
        let r = s.get_ref();
        let bind = match &r.bind {
            None => std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            Some(b) => b.parse().map_err(|_| {
                self.err(
                    at,
                    format!("sip.bind: `{b}` is not IP:port (127.0.0.1:0, say)"),
                )
            })?,
        };
        if bind.ip().is_unspecified() {
            return Err(self.err(
                at,
                format!(
                    "sip.bind: {bind} is every address; give the one the clusters reach this \
                     machine at (it becomes the phones' Contact)"
                ),
            ));
        }
        let ring = match &r.ring {
            None => Duration::ZERO,
            Some(d) => self.dur(at, "sip.ring", d)?,
        };
        if ring > crate::phone::sipua::CALL_WAIT {
            return Err(self.err(
                at,
                format!(
                    "sip.ring: callers give up after {} s; ring for less",
                    crate::phone::sipua::CALL_WAIT.as_secs()
                ),
            ));
        }
        let busy = r.busy.unwrap_or(0.0);
        if !(0.0..=1.0).contains(&busy) {
            return Err(self.err(at, "sip.busy is a share within 0..=1"));
        }
        let hold = match &r.hold {
            None => Think::Constant(Duration::from_secs(1)),
            Some(t) => self.think(at, t)?,
        };
        let mut callee = CalleeMix {
            same_cluster: 1,
            other_cluster: 1,
            roamed: 0,
        };
        if let Some(m) = &r.callee {
            callee = CalleeMix {
                same_cluster: 0,
                other_cluster: 0,
                roamed: 0,
            };
            for (k, w) in m {
                match k.as_str() {
                    "same_cluster" => callee.same_cluster = *w,
                    "other_cluster" => callee.other_cluster = *w,
                    "roamed" => callee.roamed = *w,
                    other => {
                        return Err(self.err(
                            at,
                            format!(
                                "sip.callee: unknown kind `{other}` (same_cluster, other_cluster, roamed)"
                            ),
                        ));
                    }
                }
            }
            if callee.same_cluster + callee.other_cluster + callee.roamed == 0 {
                return Err(self.err(at, "sip.callee: the weights add up to 0"));
            }
        }
        Ok(SipSpec {
            bind,
            answer: crate::phone::sipua::AnswerPolicy {
                ring,
                auto_answer: r.auto_answer.unwrap_or(true),
                busy_share: busy,
            },
            hold,
            callee,
        })
    }

    /// One target per selected cluster of the topology: its EM-enabled phones and the users
    /// homed there, its URLs from its address and ports.
    fn topology_targets(
        &self,
        topo: &Topology,
        pop: Option<&Spanned<RawPopulation>>,
    ) -> Result<Vec<Target>, ProfileError> {
        let at = pop.map_or(usize::MAX, |p| p.span().start);
        let pop = pop.map(Spanned::get_ref);
        let wanted = pop.and_then(|p| p.clusters.clone());
        if let Some(w) = &wanted {
            for id in w {
                if topo.cluster(id).is_none() {
                    return Err(self.err(
                        at,
                        format!("[population]: no cluster `{id}` in the topology"),
                    ));
                }
            }
        }
        let mut targets = Vec::new();
        for c in &topo.clusters {
            if wanted.as_ref().is_some_and(|w| !w.contains(&c.id)) {
                continue;
            }
            let host = match c.address {
                std::net::IpAddr::V6(a) => format!("[{a}]"),
                a @ std::net::IpAddr::V4(_) => a.to_string(),
            };
            let http = format!("http://{host}:{}", c.ports.http);
            let app_user = topo
                .app_users
                .iter()
                .find(|a| a.proxy_rights && (a.clusters.is_empty() || a.clusters.contains(&c.id)))
                .map(|a| AppUser {
                    id: a.id.clone(),
                    password: a.password.clone(),
                });
            let max_dev = pop
                .and_then(|p| p.devices_per_cluster)
                .unwrap_or(usize::MAX);
            let max_users = pop.and_then(|p| p.users_per_cluster).unwrap_or(usize::MAX);
            let devices: Vec<String> = topo
                .phones
                .iter()
                .filter(|p| p.cluster == c.id && p.em_enabled)
                .take(max_dev)
                .map(|p| p.name.clone())
                .collect();
            let users: Vec<UserSpec> = topo
                .users
                .iter()
                .filter(|u| u.home == c.id)
                .take(max_users)
                .map(|u| UserSpec {
                    id: u.id.clone(),
                    pin: u.pin.clone(),
                    dn: u.primary_extension.clone(),
                    self_service_id: u.self_service_id.clone(),
                    superuser: u.superuser,
                })
                .collect();
            if devices.is_empty() || users.is_empty() {
                continue;
            }
            targets.push(Target {
                cluster: c.id.clone(),
                service_url: em_url::em_service_url(&http),
                config_url: Some(em_url::config_url_template(&host, c.ports.config)),
                emservice_url: app_user.as_ref().map(|_| em_url::emapi_url(&http)),
                app_user,
                admin_url: Some(http),
                devices,
                users,
            });
        }
        if targets.is_empty() {
            return Err(self.err(
                at,
                "the topology selection has no EM-enabled phones with users",
            ));
        }
        Ok(targets)
    }

    fn think(&self, at: usize, t: &RawThink) -> Result<Think, ProfileError> {
        let need = |v: &Option<String>, k: &str| {
            v.as_deref()
                .ok_or_else(|| self.err(at, format!("think: `{}` needs `{k}`", t.dist)))
                .and_then(|s| self.dur(at, &format!("think.{k}"), s))
        };
        Ok(match t.dist.as_str() {
            "constant" => Think::Constant(need(&t.value, "value")?),
            "uniform" => {
                let (a, b) = (need(&t.min, "min")?, need(&t.max, "max")?);
                if a > b {
                    return Err(self.err(at, "think: uniform min > max"));
                }
                Think::Uniform(a, b)
            }
            "exponential" => Think::Exponential(need(&t.mean, "mean")?),
            other => {
                return Err(self.err(
                    at,
                    format!("think: unknown dist `{other}` (constant, uniform, exponential)"),
                ));
            }
        })
    }

    fn target(&self, t: &Spanned<RawTarget>) -> Result<Target, ProfileError> {
        let at = t.span().start;
        let r = t.get_ref();
        for (k, u) in [
            ("service_url", Some(&r.service_url)),
            ("config_url", r.config_url.as_ref()),
            ("emservice_url", r.emservice_url.as_ref()),
            ("admin_url", r.admin_url.as_ref()),
        ] {
            if let Some(u) = u
                && !u.starts_with("http://")
            {
                return Err(self.err(
                    at,
                    format!("target `{}`: {k} must be an http:// URL", r.cluster),
                ));
            }
        }
        if !r.service_url.contains(em_url::DEVICE_NAME_MACRO) {
            return Err(self.err(
                at,
                format!(
                    "target `{}`: service_url needs #DEVICENAME# (the phone substitutes it)",
                    r.cluster
                ),
            ));
        }
        if r.emservice_url.is_some() != r.app_user.is_some() {
            return Err(self.err(
                at,
                format!(
                    "target `{}`: emservice_url and app_user go together",
                    r.cluster
                ),
            ));
        }
        let devices = match &r.devices {
            RawDevices::List(v) => v.clone(),
            RawDevices::Pattern(RawDevicePattern { first, count }) => {
                let hex = first.strip_prefix("SEP").filter(|h| h.len() == 12);
                let Some(n) = hex.and_then(|h| u64::from_str_radix(h, 16).ok()) else {
                    return Err(self.err(
                        at,
                        format!("devices.first `{first}` is not SEP + 12 hex digits"),
                    ));
                };
                (0..*count as u64)
                    .map(|i| format!("SEP{:012X}", n + i))
                    .collect()
            }
        };
        for d in &devices {
            let ok = d.len() == 15
                && d.starts_with("SEP")
                && d[3..].bytes().all(|b| b.is_ascii_hexdigit());
            if !ok {
                return Err(self.err(at, format!("device `{d}` is not SEP + 12 hex digits")));
            }
        }
        let users: Vec<UserSpec> = match &r.users {
            RawUsers::List(v) => v
                .iter()
                .map(|u| UserSpec {
                    id: u.id.clone(),
                    pin: u.pin.clone(),
                    dn: u.dn.clone(),
                    self_service_id: u.self_service_id.clone().or_else(|| u.dn.clone()),
                    superuser: u.superuser,
                })
                .collect(),
            RawUsers::Pattern(RawUserPattern {
                prefix,
                first,
                count,
                width,
                pin,
                dn_first,
                superuser,
            }) => (0..*count as u64)
                .map(|i| {
                    let dn = dn_first.map(|d| (d + i).to_string());
                    UserSpec {
                        id: format!("{prefix}{:0width$}", first + i, width = *width),
                        pin: pin.clone(),
                        self_service_id: dn.clone(),
                        dn,
                        superuser: *superuser,
                    }
                })
                .collect(),
        };
        if devices.is_empty() || users.is_empty() {
            return Err(self.err(
                at,
                format!("target `{}`: needs devices and users", r.cluster),
            ));
        }
        Ok(Target {
            cluster: r.cluster.clone(),
            service_url: r.service_url.clone(),
            config_url: r.config_url.clone(),
            emservice_url: r.emservice_url.clone(),
            app_user: r.app_user.clone(),
            admin_url: r.admin_url.clone(),
            devices,
            users,
        })
    }

    fn fault(&self, f: &Spanned<RawFault>, targets: &[Target]) -> Result<Fault, ProfileError> {
        let at = f.span().start;
        let r = f.get_ref();
        let when = self.dur(at, "fault.at", &r.at)?;
        let method = r
            .method
            .clone()
            .unwrap_or_else(|| "POST".into())
            .to_ascii_uppercase();
        if !matches!(method.as_str(), "GET" | "POST") {
            return Err(self.err(at, format!("fault: method `{method}` (GET or POST)")));
        }
        let target = match &r.cluster {
            Some(c) => targets
                .iter()
                .find(|t| &t.cluster == c)
                .ok_or_else(|| self.err(at, format!("fault: no target for cluster `{c}`")))?,
            None => &targets[0],
        };
        let admin = || {
            target
                .admin_url
                .as_deref()
                .map(|b| b.trim_end_matches('/').to_owned())
                .ok_or_else(|| {
                    self.err(
                        at,
                        format!("fault: target `{}` has no admin_url", target.cluster),
                    )
                })
        };
        // The reference server's admin API, by name (`emroam server`'s `/admin/...`).
        let action_path = match r.action.as_deref() {
            None => None,
            Some(a) => Some(match a {
                "emapp-stop" | "emapp-start" | "emservice-stop" | "emservice-start"
                | "listeners-stop" | "listeners-start" => {
                    let (what, verb) = a.split_once('-').expect("matched with a dash");
                    format!("/admin/clusters/{}/{what}/{verb}", target.cluster)
                }
                "params" => format!("/admin/clusters/{}/params", target.cluster),
                other => {
                    return Err(self.err(
                        at,
                        format!(
                            "fault: unknown action `{other}` (emapp-stop, emapp-start, \
                             emservice-stop, emservice-start, listeners-stop, \
                             listeners-start, params)"
                        ),
                    ));
                }
            }),
        };
        let url = match (&r.url, r.path.clone(), action_path) {
            (Some(u), None, None) => u.clone(),
            (None, Some(p), None) | (None, None, Some(p)) => format!("{}{p}", admin()?),
            _ => return Err(self.err(at, "fault: give one of action, path or url")),
        };
        if !url.starts_with("http://") {
            return Err(self.err(at, "fault: url must be http://"));
        }
        Ok(Fault {
            at: when,
            method,
            url,
            body: r.body.clone().unwrap_or_default(),
        })
    }

    fn slo(&self, s: &Spanned<RawSlo>) -> Result<Slo, ProfileError> {
        let at = s.span().start;
        let r = s.get_ref();
        for (k, v) in [
            ("success_ratio", r.success_ratio),
            ("busy_ratio", r.busy_ratio),
            ("call_success_ratio", r.call_success_ratio),
        ] {
            if let Some(v) = v
                && !(0.0..=1.0).contains(&v)
            {
                return Err(self.err(at, format!("slo.{k} must be within 0..=1")));
            }
        }
        let mut p99 = BTreeMap::new();
        for (k, v) in &r.p99 {
            let step = Step::from_name(k).ok_or_else(|| {
                let names: Vec<&str> = Step::ALL.iter().map(|s| s.name()).collect();
                self.err(
                    at,
                    format!("slo.p99: unknown step `{k}` ({})", names.join(", ")),
                )
            })?;
            p99.insert(step, self.dur(at, &format!("slo.p99.{k}"), v)?);
        }
        Ok(Slo {
            success_ratio: r.success_ratio,
            busy_ratio: r.busy_ratio,
            p99,
            call_success_ratio: r.call_success_ratio,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r##"
name = "t"
request_timeout = "2s"

[[target]]
cluster = "c1"
service_url = "http://127.0.0.1:8080/emapp/EMAppServlet?device=#DEVICENAME#"
devices = { first = "SEP000000001001", count = 3 }
users = { prefix = "user", first = 1, count = 3, width = 3, pin = "12345", dn_first = 9000001 }

[mix]
uid = 1
dn = 1

[[phase]]
name = "ramp"
duration = "10s"
login_rate = [1.0, 5.0]

[[phase]]
duration = "1m"
phones = 2
think = { dist = "uniform", min = "1s", max = "2s" }

[slo]
success_ratio = 0.99
p99 = { journey = "2s" }
"##;

    #[test]
    fn a_good_profile() {
        let p = Profile::parse(GOOD, "t.toml", None).unwrap();
        assert_eq!(p.phases.len(), 2);
        assert_eq!(p.duration(), Duration::from_secs(70));
        assert_eq!(p.targets[0].devices[2], "SEP000000001003");
        assert_eq!(p.targets[0].users[0].id, "user001");
        assert_eq!(p.targets[0].users[0].dn.as_deref(), Some("9000001"));
        assert_eq!(p.slo.p99[&Step::Journey], Duration::from_secs(2));
        assert!(matches!(p.phases[1].model, Model::Closed { phones: 2, .. }));
    }

    #[test]
    fn errors_name_the_line() {
        let bad = GOOD.replace("phones = 2", "phones = 2\nlogin_rate = 3.0");
        let e = Profile::parse(&bad, "t.toml", None).unwrap_err();
        assert_eq!(e.line, 20, "{e}");
        assert!(
            e.to_string().starts_with("t.toml:20:1: phase `phase2`"),
            "{e}"
        );
        let bad = GOOD.replace("duration = \"1m\"", "duration = \"1 fortnight\"");
        assert_eq!(Profile::parse(&bad, "t.toml", None).unwrap_err().line, 20);
        // One grammar with the topology and the flags: a bare number is refused, not seconds.
        let bad = GOOD.replace("duration = \"1m\"", "duration = \"20\"");
        let e = Profile::parse(&bad, "t.toml", None).unwrap_err();
        assert!(e.to_string().starts_with("t.toml:20:"), "{e}");
        assert!(e.message.contains("`20` has no unit"), "{e}");
        let bad = GOOD.replace("request_timeout = \"2s\"", "request_timeout = \"3\"");
        let e = Profile::parse(&bad, "t.toml", None).unwrap_err();
        assert_eq!((e.line, e.column), (3, 19), "{e}");
        assert!(
            e.message.contains("request_timeout: `3` has no unit"),
            "{e}"
        );
        let bad = GOOD.replace("journey = \"2s\"", "jorney = \"2s\"");
        let e = Profile::parse(&bad, "t.toml", None).unwrap_err();
        assert!(e.message.contains("unknown step `jorney`"), "{e}");
        let bad = GOOD.replace("request_timeout", "request_timeuot");
        let e = Profile::parse(&bad, "t.toml", None).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        let bad = GOOD.replace("count = 3, width", "count = 3, widht");
        let e = Profile::parse(&bad, "t.toml", None).unwrap_err();
        assert_eq!(e.line, 9, "{e}");
        assert!(e.message.contains("users: expected"), "{e}");
        let bad = GOOD.replace("phones = 2", "phones = 4");
        assert!(
            Profile::parse(&bad, "t.toml", None)
                .unwrap_err()
                .message
                .contains("1..=3")
        );
    }

    #[test]
    fn targets_from_a_topology() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles");
        let src = "topology = \"topologies/seed.toml\"\n[population]\nclusters = [\"cluster2\"]\ndevices_per_cluster = 4\n[[phase]]\nduration = \"1s\"\nlogin_rate = 1.0\n";
        let p = Profile::parse(src, "p.toml", Some(&dir)).unwrap();
        assert_eq!(p.targets.len(), 1);
        let t = &p.targets[0];
        assert_eq!(t.cluster, "cluster2");
        assert_eq!(
            t.devices,
            [
                "SEP000000002001",
                "SEP000000002002",
                "SEP000000002003",
                "SEP000000002004"
            ]
        );
        assert_eq!(t.users[0].id, "alice");
        assert_eq!(t.users[0].dn.as_deref(), Some("2000001"));
        assert_eq!(
            t.service_url,
            "http://127.0.0.2:8080/emapp/EMAppServlet?device=#DEVICENAME#"
        );
        assert_eq!(
            t.config_url.as_deref(),
            Some("http://127.0.0.2:6970/#DEVICENAME#.cnf.xml")
        );
        assert!(t.app_user.is_some());
        let bad = src.replace("cluster2", "cluster9");
        let e = Profile::parse(&bad, "p.toml", Some(&dir)).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        let e = Profile::parse(
            "topology = \"nope.toml\"\n[[phase]]\nduration = \"1s\"\nlogin_rate = 1.0\n",
            "p.toml",
            Some(&dir),
        )
        .unwrap_err();
        assert_eq!(e.line, 1, "{e}");
    }

    #[test]
    fn faults_by_action_path_or_url() {
        let with = |fault: &str| {
            let src = GOOD.replace(
                "[[target]]\ncluster = \"c1\"\n",
                "[[target]]\ncluster = \"c1\"\nadmin_url = \"http://127.0.0.1:8080\"\n",
            );
            Profile::parse(
                &format!("{src}\n[[fault]]\nat = \"5s\"\n{fault}\n"),
                "t.toml",
                None,
            )
        };
        let p = with("action = \"emservice-stop\"").unwrap();
        assert_eq!(
            p.faults[0].url,
            "http://127.0.0.1:8080/admin/clusters/c1/emservice/stop"
        );
        assert_eq!(p.faults[0].method, "POST");
        let p = with("action = \"params\"\nbody = '{\"max_concurrent_requests\": 1}'").unwrap();
        assert!(p.faults[0].url.ends_with("/admin/clusters/c1/params"));
        let p = with("url = \"http://10.0.0.1:8080/x\"\nmethod = \"get\"").unwrap();
        assert_eq!(
            (p.faults[0].method.as_str(), p.faults[0].url.as_str()),
            ("GET", "http://10.0.0.1:8080/x")
        );
        let e = with("action = \"reboot\"").unwrap_err();
        assert!(e.message.contains("unknown action `reboot`"), "{e}");
        assert_eq!(e.line, 30, "the [[fault]] table: {e}");
        assert!(with("action = \"emapp-stop\"\npath = \"/x\"").is_err());
        assert!(with("method = \"DELETE\"\npath = \"/x\"").is_err());
    }

    #[test]
    fn think_distributions() {
        let c = Think::Constant(Duration::from_secs(1));
        assert_eq!(c.sample(0.7), Duration::from_secs(1));
        let u = Think::Uniform(Duration::from_secs(1), Duration::from_secs(3));
        assert_eq!(u.sample(0.5), Duration::from_secs(2));
        let e = Think::Exponential(Duration::from_secs(2));
        let mean: f64 = (0..1000)
            .map(|i| e.sample((i as f64 + 0.5) / 1000.0).as_secs_f64())
            .sum::<f64>()
            / 1000.0;
        assert!((mean - 2.0).abs() < 0.1, "{mean}");
    }

    #[test]
    fn shipped_profiles_validate() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "toml") {
                Profile::load(&p).unwrap_or_else(|e| panic!("{e}"));
                n += 1;
            }
        }
        assert!(n >= 4 || !dir.exists(), "{n} profiles in {}", dir.display());
    }
}
