//! The topology file: clusters, users, device profiles, phones and application users (TOML).
//!
//! [`Topology::parse`] reads the file into plain structs, expands `[[user_pattern]]` and
//! `[[phone_pattern]]` tables deterministically, and validates every reference. A bad file
//! gives a [`TopologyError`] naming the line, column and field; nothing is half-loaded.
//! The emulator reads the same file, so identities line up. Pure: no I/O except [`Topology::load`].
//!
//! ```toml
//! [[cluster]]
//! id = "cluster1"                      # 1-50 alphanumerics, '.', '-'
//! address = "127.0.0.1"                # every listener binds this address
//! ports = { http = 8080, config = 6970, sip = 5060, ils = 7502 }   # defaults; 0 = ephemeral
//! ils = { role = "hub" }               # or { role = "spoke", hub = "cluster2" }, "standalone"
//! route_string = "cluster1.emroam"
//! em = { max_concurrent_requests = 5, multiple_login_behavior = "not-allowed",
//!        max_login_time = "8:00", enforce_max_login_time = true, validate_ip = false,
//!        trusted_ips = [], allow_proxy = true, remember_last_user = false,
//!        service_time = "uniform(5ms,20ms)",
//!        sip_station_keepalive_interval = 120 }   # seconds (60-7200): longest SIP registration
//!
//! [ils]                                # the ILS network (every key optional)
//! password = "..."                     # shared by every cluster; default "emroam-ils"
//! sync_interval = "10m"                # full ILS sync
//! superuser_sync_interval = "1h"       # the superuser sync tool's schedule
//!
//! [[app_user]]                         # EM API client; clusters = [] means every cluster
//! id = "emapi"
//! password = "emapi-secret"
//! proxy_rights = true                  # "Standard EM Authentication Proxy Rights"
//!
//! [[profile]]                          # device profile (user's, or a phone's logout profile)
//! name = "bob-udp"
//! locale = "English_United_States"
//! lines = [{ dn = "1000001", label = "Bob", display_name = "Bob" }]
//! services = ["Extension Mobility"]
//!
//! [[user]]
//! id = "bob"
//! pin = "12345"
//! primary_extension = "1000001"        # DN login
//! self_service_id = "1000001"          # SP login
//! home = "cluster1"
//! profiles = ["bob-udp"]
//! default_profile = "bob-udp"          # default: the first
//! superuser = true                     # "Standard EM Roaming Across Clusters Super Users"
//! password = "..."                     # optional: EM API as themselves
//!
//! [[phone]]
//! name = "SEP000000001001"
//! cluster = "cluster1"
//! model = "Cisco 8865"
//! em_enabled = true                    # "Enable Extension Mobility"
//! logout_profile = "cluster1-logout"
//!
//! [[user_pattern]]                     # users id(start..start+count), one "<id>-udp" profile each
//! home = "cluster1"
//! count = 10000
//! id = "c1u{n:05}"                     # {n} or {n:0W}
//! pin = "12345"
//! extension = 1100001                  # primary extension (and self-service ID) of the first
//! label = "C1 User {n}"
//!
//! [[phone_pattern]]                    # phones from `first`, MAC counting up in hex
//! cluster = "cluster1"
//! count = 10000
//! first = "SEP000010000001"
//! logout_profile = "load-logout"
//! ```

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::params::{ParamsPatch, ServiceParams};

/// The locale a profile has when the file names none (CUCM's installed default).
pub const DEFAULT_LOCALE: &str = "English_United_States";
/// The phone model when the file names none.
pub const DEFAULT_MODEL: &str = "Cisco 8865";
/// The phone service name that is Extension Mobility.
pub const EM_SERVICE_NAME: &str = "Extension Mobility";
/// Most users or phones one pattern may generate.
pub const PATTERN_MAX: u32 = 1_000_000;

/// A whole, validated topology.
#[derive(Debug, Clone, Default)]
pub struct Topology {
    /// The clusters, in file order.
    pub clusters: Vec<ClusterSpec>,
    /// End users (listed, then generated), each homed on one cluster.
    pub users: Vec<User>,
    /// Device profiles (user device profiles and logout profiles).
    pub profiles: Vec<DeviceProfile>,
    /// Phones, each in one cluster.
    pub phones: Vec<Phone>,
    /// Application users (API clients).
    pub app_users: Vec<AppUser>,
    /// The ILS network's shared settings (`[ils]`).
    pub ils: IlsNetwork,
}

/// Settings every cluster of the ILS network shares (`[ils]` table).
#[derive(Clone)]
pub struct IlsNetwork {
    /// The ILS password, the same in every cluster (never sent; proves itself by HMAC).
    pub password: String,
    /// Full ILS sync every this long (changeable at run time per cluster).
    pub sync_interval: std::time::Duration,
    /// The superuser sync tool's schedule.
    pub superuser_sync_interval: std::time::Duration,
}

/// Default ILS password of a topology that names none (a lab default; set your own).
pub const DEFAULT_ILS_PASSWORD: &str = "emroam-ils";

impl Default for IlsNetwork {
    fn default() -> Self {
        IlsNetwork {
            password: DEFAULT_ILS_PASSWORD.to_owned(),
            // "Synchronize Clusters Every 10 minutes" (reference §6, UNCONFIRMED default).
            sync_interval: std::time::Duration::from_secs(600),
            superuser_sync_interval: std::time::Duration::from_secs(3600),
        }
    }
}

impl std::fmt::Debug for IlsNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IlsNetwork")
            .field("sync_interval", &self.sync_interval)
            .field("superuser_sync_interval", &self.superuser_sync_interval)
            .finish_non_exhaustive()
    }
}

/// One cluster's identity, addresses and EM service parameters.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// Cluster ID (CUCM's enterprise parameter), e.g. `cluster1`.
    pub id: String,
    /// The address every listener of the cluster binds.
    pub address: IpAddr,
    /// Cisco's usual ports.
    pub ports: Ports,
    /// ILS role (used by the roaming issue).
    pub ils: IlsRole,
    /// ILS advertised route string.
    pub route_string: String,
    /// Extension Mobility service parameters at start.
    pub params: ServiceParams,
}

/// A cluster's ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ports {
    /// HTTP: EM application, EM service, counters, admin (8080).
    #[serde(default = "default_http")]
    pub http: u16,
    /// Config files (TFTP's HTTP side, 6970).
    #[serde(default = "default_config")]
    pub config: u16,
    /// SIP registrar/proxy (5060).
    #[serde(default = "default_sip")]
    pub sip: u16,
    /// ILS, non-TLS (7502).
    #[serde(default = "default_ils")]
    pub ils: u16,
}

fn default_http() -> u16 {
    8080
}
fn default_config() -> u16 {
    6970
}
fn default_sip() -> u16 {
    5060
}
fn default_ils() -> u16 {
    7502
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            http: 8080,
            config: 6970,
            sip: 5060,
            ils: 7502,
        }
    }
}

/// A cluster's place in the ILS network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IlsRole {
    /// Not in an ILS network.
    Standalone,
    /// A hub (full mesh with the other hubs).
    Hub,
    /// A spoke of the named hub.
    Spoke {
        /// The hub's cluster ID.
        hub: String,
    },
}

/// An end user (`Debug` leaves out the PIN and password).
#[derive(Clone)]
pub struct User {
    /// User ID (what UID login asks for).
    pub id: String,
    /// The EM PIN (digits; never logged).
    pub pin: String,
    /// Primary extension (DN login), if configured.
    pub primary_extension: Option<String>,
    /// Self-service user ID (SP login), if configured.
    pub self_service_id: Option<String>,
    /// Home cluster ID.
    pub home: String,
    /// Names of the user's device profiles.
    pub profiles: Vec<String>,
    /// The default device profile (used by API logins naming none).
    pub default_profile: Option<String>,
    /// Member of "Standard EM Roaming Across Clusters Super Users".
    pub superuser: bool,
    /// Password for the EM API (`appCertificate`) when acting for themselves.
    pub password: Option<String>,
}

/// A device profile (user device profile or a phone's logout profile).
#[derive(Debug, Clone)]
pub struct DeviceProfile {
    /// Profile name.
    pub name: String,
    /// User locale (a change between profiles means the phone resets, not restarts).
    pub locale: String,
    /// Lines, button 1 first.
    pub lines: Vec<Line>,
    /// Subscribed phone services by name (Extension Mobility among them).
    pub services: Vec<String>,
}

/// One line appearance.
#[derive(Debug, Clone)]
pub struct Line {
    /// Directory number.
    pub dn: String,
    /// Line text label.
    pub label: String,
    /// Caller display name.
    pub display_name: String,
}

/// A phone.
#[derive(Debug, Clone)]
pub struct Phone {
    /// Device name, `SEP` + 12 upper-case hex digits.
    pub name: String,
    /// Cluster ID.
    pub cluster: String,
    /// Model, e.g. `Cisco 8865`.
    pub model: String,
    /// "Enable Extension Mobility" on the phone page.
    pub em_enabled: bool,
    /// The logout profile (`None`: the phone's own settings, no lines).
    pub logout_profile: Option<String>,
}

/// An application user (`Debug` leaves out the password).
#[derive(Clone)]
pub struct AppUser {
    /// `appID`.
    pub id: String,
    /// `appCertificate`.
    pub password: String,
    /// Member of "Standard EM Authentication Proxy Rights".
    pub proxy_rights: bool,
    /// Clusters where the user exists (empty: all).
    pub clusters: Vec<String>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("primary_extension", &self.primary_extension)
            .field("self_service_id", &self.self_service_id)
            .field("home", &self.home)
            .field("profiles", &self.profiles)
            .field("default_profile", &self.default_profile)
            .field("superuser", &self.superuser)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for AppUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppUser")
            .field("id", &self.id)
            .field("proxy_rights", &self.proxy_rights)
            .field("clusters", &self.clusters)
            .finish_non_exhaustive()
    }
}

/// Why a topology file was refused.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// The file could not be read.
    #[error("cannot read topology {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not TOML, or a field of the wrong type or missing (toml's message names line and field).
    #[error("{0}")]
    Syntax(Box<toml::de::Error>),
    /// Well-formed but inconsistent: a bad value or a dangling reference.
    #[error("line {line}, column {column}: `{field}`: {message}")]
    Invalid {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The offending field.
        field: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    cluster: Vec<RawCluster>,
    #[serde(default)]
    user: Vec<RawUser>,
    #[serde(default)]
    profile: Vec<RawProfile>,
    #[serde(default)]
    phone: Vec<RawPhone>,
    #[serde(default)]
    app_user: Vec<RawAppUser>,
    #[serde(default)]
    user_pattern: Vec<RawUserPattern>,
    #[serde(default)]
    phone_pattern: Vec<RawPhonePattern>,
    ils: Option<RawIlsNetwork>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIlsNetwork {
    password: Option<String>,
    sync_interval: Option<Spanned<String>>,
    superuser_sync_interval: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    id: Spanned<String>,
    address: Spanned<String>,
    #[serde(default)]
    ports: Ports,
    ils: Option<RawIls>,
    route_string: Option<String>,
    em: Option<Spanned<ParamsPatch>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIls {
    role: Spanned<String>,
    hub: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    id: Spanned<String>,
    pin: Spanned<String>,
    primary_extension: Option<Spanned<String>>,
    self_service_id: Option<Spanned<String>>,
    home: Spanned<String>,
    #[serde(default)]
    profiles: Vec<Spanned<String>>,
    default_profile: Option<Spanned<String>>,
    #[serde(default)]
    superuser: bool,
    password: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: Spanned<String>,
    locale: Option<String>,
    #[serde(default)]
    lines: Vec<RawLine>,
    services: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLine {
    dn: Spanned<String>,
    label: Option<String>,
    display_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPhone {
    name: Spanned<String>,
    cluster: Spanned<String>,
    model: Option<String>,
    #[serde(default = "yes")]
    em_enabled: bool,
    logout_profile: Option<Spanned<String>>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAppUser {
    id: Spanned<String>,
    password: String,
    #[serde(default)]
    proxy_rights: bool,
    #[serde(default)]
    clusters: Vec<Spanned<String>>,
}

/// `[[user_pattern]]`: `count` users `id` (with `{n}` or `{n:05}`), PIN, consecutive
/// extensions from `extension`, one profile `<id>-udp` each with that extension as line 1.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUserPattern {
    home: Spanned<String>,
    count: Spanned<u32>,
    #[serde(default = "one")]
    start: u32,
    id: Spanned<String>,
    pin: Spanned<String>,
    extension: Option<Spanned<u64>>,
    #[serde(default = "yes")]
    self_service_is_extension: bool,
    #[serde(default)]
    superuser: bool,
    locale: Option<String>,
    label: Option<Spanned<String>>,
}

fn one() -> u32 {
    1
}

/// `[[phone_pattern]]`: `count` phones from device name `first`, MAC incrementing.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPhonePattern {
    cluster: Spanned<String>,
    count: Spanned<u32>,
    first: Spanned<String>,
    model: Option<String>,
    #[serde(default = "yes")]
    em_enabled: bool,
    logout_profile: Option<Spanned<String>>,
}

/// Validation context: the source text (to turn byte spans into lines) and the first error.
struct Ctx<'a> {
    src: &'a str,
}

impl Ctx<'_> {
    fn err(&self, span: Range<usize>, field: &str, message: impl Into<String>) -> TopologyError {
        let start = span.start.min(self.src.len());
        let before = &self.src[..start];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        TopologyError::Invalid {
            line,
            column,
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// Whether `name` is `SEP` + 12 hex digits (upper or lower case).
pub fn is_device_name(name: &str) -> bool {
    name.len() == 15 && name.starts_with("SEP") && name[3..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Renders a pattern template: `{n}` is the number, `{n:05}` zero-padded to 5 digits.
fn render(template: &str, n: u64) -> Result<String, String> {
    let open = template
        .find("{n")
        .ok_or_else(|| format!("{template:?} has no {{n}} placeholder"))?;
    let close = template[open..]
        .find('}')
        .map(|c| open + c)
        .ok_or_else(|| format!("unclosed placeholder in {template:?}"))?;
    let spec = &template[open + 2..close];
    let num = match spec {
        "" => n.to_string(),
        s => {
            let w: usize = s
                .strip_prefix(":0")
                .and_then(|w| w.parse().ok())
                .filter(|w| *w <= 20)
                .ok_or_else(|| format!("bad placeholder {{n{s}}} (use {{n}} or {{n:05}})"))?;
            format!("{n:0w$}")
        }
    };
    Ok(format!(
        "{}{}{}",
        &template[..open],
        num,
        &template[close + 1..]
    ))
}

impl Topology {
    /// Reads and parses a topology file.
    ///
    /// # Errors
    /// [`TopologyError`], naming the line and field of the first problem.
    pub fn load(path: &Path) -> Result<Topology, TopologyError> {
        let src = std::fs::read_to_string(path).map_err(|source| TopologyError::Read {
            path: path.to_owned(),
            source,
        })?;
        Topology::parse(&src)
    }

    /// Parses topology TOML text.
    ///
    /// # Errors
    /// [`TopologyError`], naming the line and field of the first problem.
    pub fn parse(src: &str) -> Result<Topology, TopologyError> {
        let raw: Raw = toml::from_str(src).map_err(|e| TopologyError::Syntax(Box::new(e)))?;
        let cx = Ctx { src };
        let mut t = Topology::default();
        if let Some(n) = &raw.ils {
            if let Some(p) = &n.password {
                t.ils.password.clone_from(p);
            }
            let dur = |v: &Option<Spanned<String>>, field: &str, d: &mut std::time::Duration| {
                if let Some(v) = v {
                    *d = crate::duration::parse_positive(v.get_ref())
                        .map_err(|e| cx.err(v.span(), field, e.to_string()))?;
                }
                Ok::<(), TopologyError>(())
            };
            dur(
                &n.sync_interval,
                "ils.sync_interval",
                &mut t.ils.sync_interval,
            )?;
            dur(
                &n.superuser_sync_interval,
                "ils.superuser_sync_interval",
                &mut t.ils.superuser_sync_interval,
            )?;
        }

        // Clusters.
        let mut cluster_ids = HashSet::new();
        for c in &raw.cluster {
            let id = c.id.get_ref();
            if id.is_empty()
                || id.len() > 50
                || !id
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '.' || ch == '-')
            {
                return Err(cx.err(
                    c.id.span(),
                    "id",
                    "cluster ID must be 1–50 alphanumerics, '.' or '-'",
                ));
            }
            if !cluster_ids.insert(id.clone()) {
                return Err(cx.err(c.id.span(), "id", format!("duplicate cluster {id:?}")));
            }
            let address: IpAddr = c
                .address
                .get_ref()
                .parse()
                .map_err(|_| cx.err(c.address.span(), "address", "not an IP address"))?;
            let params = match &c.em {
                Some(p) => ServiceParams::default()
                    .apply(p.get_ref())
                    .map_err(|e| cx.err(p.span(), &format!("em.{}", e.field), e.message))?,
                None => ServiceParams::default(),
            };
            t.clusters.push(ClusterSpec {
                id: id.clone(),
                address,
                ports: c.ports,
                ils: IlsRole::Standalone,
                route_string: c
                    .route_string
                    .clone()
                    .unwrap_or_else(|| format!("{id}.route")),
                params,
            });
        }
        for (c, spec) in raw.cluster.iter().zip(t.clusters.iter_mut()) {
            if let Some(ils) = &c.ils {
                spec.ils = match (ils.role.get_ref().as_str(), &ils.hub) {
                    ("hub", None) => IlsRole::Hub,
                    ("standalone", None) => IlsRole::Standalone,
                    ("spoke", Some(h)) => {
                        let hub = raw.cluster.iter().find(|o| o.id.get_ref() == h.get_ref());
                        let is_hub = hub
                            .and_then(|o| o.ils.as_ref())
                            .is_some_and(|i| i.role.get_ref() == "hub");
                        if !is_hub {
                            return Err(cx.err(
                                h.span(),
                                "ils.hub",
                                format!("{:?} is not a hub cluster", h.get_ref()),
                            ));
                        }
                        IlsRole::Spoke {
                            hub: h.get_ref().clone(),
                        }
                    }
                    ("spoke", None) => {
                        return Err(cx.err(ils.role.span(), "ils.hub", "a spoke names its hub"));
                    }
                    ("hub" | "standalone", Some(h)) => {
                        return Err(cx.err(h.span(), "ils.hub", "only a spoke has a hub"));
                    }
                    _ => {
                        return Err(cx.err(
                            ils.role.span(),
                            "ils.role",
                            "expected \"hub\", \"spoke\" or \"standalone\"",
                        ));
                    }
                };
            }
        }
        let cluster_ref = |s: &Spanned<String>, field: &str| -> Result<String, TopologyError> {
            if cluster_ids.contains(s.get_ref()) {
                Ok(s.get_ref().clone())
            } else {
                Err(cx.err(s.span(), field, format!("no cluster {:?}", s.get_ref())))
            }
        };

        // Profiles (listed).
        let mut profile_names: HashSet<String> = HashSet::new();
        for p in &raw.profile {
            let name = p.name.get_ref();
            if name.is_empty() || !profile_names.insert(name.clone()) {
                return Err(cx.err(
                    p.name.span(),
                    "name",
                    format!("empty or duplicate profile {name:?}"),
                ));
            }
            let mut lines = Vec::new();
            for l in &p.lines {
                if !is_digits(l.dn.get_ref()) {
                    return Err(cx.err(l.dn.span(), "dn", "a directory number is digits"));
                }
                let dn = l.dn.get_ref().clone();
                lines.push(Line {
                    label: l.label.clone().unwrap_or_else(|| dn.clone()),
                    display_name: l.display_name.clone().unwrap_or_else(|| dn.clone()),
                    dn,
                });
            }
            t.profiles.push(DeviceProfile {
                name: name.clone(),
                locale: p
                    .locale
                    .clone()
                    .unwrap_or_else(|| DEFAULT_LOCALE.to_owned()),
                lines,
                services: p
                    .services
                    .clone()
                    .unwrap_or_else(|| vec![EM_SERVICE_NAME.to_owned()]),
            });
        }

        // Users (listed).
        let mut user_ids: HashSet<String> = HashSet::new();
        for u in &raw.user {
            let id = u.id.get_ref();
            if id.is_empty() || id.chars().any(char::is_whitespace) {
                return Err(cx.err(u.id.span(), "id", "a user ID is non-empty, without spaces"));
            }
            if !user_ids.insert(id.clone()) {
                return Err(cx.err(u.id.span(), "id", format!("duplicate user {id:?}")));
            }
            if !is_digits(u.pin.get_ref()) {
                return Err(cx.err(u.pin.span(), "pin", "a PIN is digits"));
            }
            for (f, v) in [
                ("primary_extension", &u.primary_extension),
                ("self_service_id", &u.self_service_id),
            ] {
                if let Some(v) = v
                    && !is_digits(v.get_ref())
                {
                    return Err(cx.err(v.span(), f, "must be digits"));
                }
            }
            let home = cluster_ref(&u.home, "home")?;
            let mut profiles = Vec::new();
            for p in &u.profiles {
                if !profile_names.contains(p.get_ref()) {
                    return Err(cx.err(
                        p.span(),
                        "profiles",
                        format!("no profile {:?}", p.get_ref()),
                    ));
                }
                profiles.push(p.get_ref().clone());
            }
            let default_profile = match &u.default_profile {
                Some(d) if !profiles.contains(d.get_ref()) => {
                    return Err(cx.err(
                        d.span(),
                        "default_profile",
                        "not one of the user's profiles",
                    ));
                }
                Some(d) => Some(d.get_ref().clone()),
                None => profiles.first().cloned(),
            };
            t.users.push(User {
                id: id.clone(),
                pin: u.pin.get_ref().clone(),
                primary_extension: u.primary_extension.as_ref().map(|s| s.get_ref().clone()),
                self_service_id: u.self_service_id.as_ref().map(|s| s.get_ref().clone()),
                home,
                profiles,
                default_profile,
                superuser: u.superuser,
                password: u.password.clone(),
            });
        }

        // Users (patterns), each with a generated profile.
        for pat in &raw.user_pattern {
            let home = cluster_ref(&pat.home, "home")?;
            let count = *pat.count.get_ref();
            if count > PATTERN_MAX {
                return Err(cx.err(pat.count.span(), "count", format!("at most {PATTERN_MAX}")));
            }
            if !is_digits(pat.pin.get_ref()) {
                return Err(cx.err(pat.pin.span(), "pin", "a PIN is digits"));
            }
            let locale = pat
                .locale
                .clone()
                .unwrap_or_else(|| DEFAULT_LOCALE.to_owned());
            for i in 0..count {
                let n = u64::from(pat.start) + u64::from(i);
                let id = render(pat.id.get_ref(), n).map_err(|m| cx.err(pat.id.span(), "id", m))?;
                if !user_ids.insert(id.clone()) {
                    return Err(cx.err(
                        pat.id.span(),
                        "id",
                        format!("generates duplicate user {id:?}"),
                    ));
                }
                let ext = pat
                    .extension
                    .as_ref()
                    .map(|e| (*e.get_ref() + u64::from(i)).to_string());
                let label = match &pat.label {
                    Some(l) => render(l.get_ref(), n).map_err(|m| cx.err(l.span(), "label", m))?,
                    None => id.clone(),
                };
                let pname = format!("{id}-udp");
                if !profile_names.insert(pname.clone()) {
                    return Err(cx.err(
                        pat.id.span(),
                        "id",
                        format!("generates duplicate profile {pname:?}"),
                    ));
                }
                t.profiles.push(DeviceProfile {
                    name: pname.clone(),
                    locale: locale.clone(),
                    lines: ext
                        .iter()
                        .map(|dn| Line {
                            dn: dn.clone(),
                            label: label.clone(),
                            display_name: label.clone(),
                        })
                        .collect(),
                    services: vec![EM_SERVICE_NAME.to_owned()],
                });
                t.users.push(User {
                    id,
                    pin: pat.pin.get_ref().clone(),
                    self_service_id: if pat.self_service_is_extension {
                        ext.clone()
                    } else {
                        None
                    },
                    primary_extension: ext,
                    home: home.clone(),
                    profiles: vec![pname.clone()],
                    default_profile: Some(pname),
                    superuser: pat.superuser,
                    password: None,
                });
            }
        }

        // Phones (listed, then patterns).
        let mut phone_names: HashSet<String> = HashSet::new();
        let profile_ref = |p: &Option<Spanned<String>>| -> Result<Option<String>, TopologyError> {
            match p {
                Some(p) if !profile_names.contains(p.get_ref()) => Err(cx.err(
                    p.span(),
                    "logout_profile",
                    format!("no profile {:?}", p.get_ref()),
                )),
                Some(p) => Ok(Some(p.get_ref().clone())),
                None => Ok(None),
            }
        };
        for p in &raw.phone {
            let name = p.name.get_ref();
            if !is_device_name(name) {
                return Err(cx.err(
                    p.name.span(),
                    "name",
                    format!("{name:?} is not SEP + 12 hex digits"),
                ));
            }
            let name = name.to_ascii_uppercase();
            if !phone_names.insert(name.clone()) {
                return Err(cx.err(p.name.span(), "name", format!("duplicate phone {name:?}")));
            }
            t.phones.push(Phone {
                name,
                cluster: cluster_ref(&p.cluster, "cluster")?,
                model: p.model.clone().unwrap_or_else(|| DEFAULT_MODEL.to_owned()),
                em_enabled: p.em_enabled,
                logout_profile: profile_ref(&p.logout_profile)?,
            });
        }
        for pat in &raw.phone_pattern {
            let cluster = cluster_ref(&pat.cluster, "cluster")?;
            let first = pat.first.get_ref();
            if !is_device_name(first) {
                return Err(cx.err(
                    pat.first.span(),
                    "first",
                    format!("{first:?} is not SEP + 12 hex digits"),
                ));
            }
            let count = *pat.count.get_ref();
            let mac0 = u64::from_str_radix(&first[3..], 16).unwrap_or(0);
            if count > PATTERN_MAX || mac0 + u64::from(count) > 0xFFFF_FFFF_FFFF {
                return Err(cx.err(pat.count.span(), "count", "too many phones"));
            }
            let logout_profile = profile_ref(&pat.logout_profile)?;
            for i in 0..u64::from(count) {
                let name = format!("SEP{:012X}", mac0 + i);
                if !phone_names.insert(name.clone()) {
                    return Err(cx.err(
                        pat.first.span(),
                        "first",
                        format!("generates duplicate phone {name:?}"),
                    ));
                }
                t.phones.push(Phone {
                    name,
                    cluster: cluster.clone(),
                    model: pat
                        .model
                        .clone()
                        .unwrap_or_else(|| DEFAULT_MODEL.to_owned()),
                    em_enabled: pat.em_enabled,
                    logout_profile: logout_profile.clone(),
                });
            }
        }

        // Application users.
        let mut app_ids = HashSet::new();
        for a in &raw.app_user {
            if !app_ids.insert(a.id.get_ref().clone()) || user_ids.contains(a.id.get_ref()) {
                return Err(cx.err(a.id.span(), "id", "duplicate user ID"));
            }
            let clusters = a
                .clusters
                .iter()
                .map(|c| cluster_ref(c, "clusters"))
                .collect::<Result<Vec<_>, _>>()?;
            t.app_users.push(AppUser {
                id: a.id.get_ref().clone(),
                password: a.password.clone(),
                proxy_rights: a.proxy_rights,
                clusters,
            });
        }
        Ok(t)
    }

    /// The cluster with this ID.
    pub fn cluster(&self, id: &str) -> Option<&ClusterSpec> {
        self.clusters.iter().find(|c| c.id == id)
    }

    /// Profiles by name.
    pub fn profile_map(&self) -> HashMap<&str, &DeviceProfile> {
        self.profiles.iter().map(|p| (p.name.as_str(), p)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINI: &str = r#"
[[cluster]]
id = "c1"
address = "127.0.0.1"
ils = { role = "hub" }
em = { max_concurrent_requests = 7 }

[[profile]]
name = "bob-udp"
lines = [{ dn = "1000001", label = "Bob" }]

[[user]]
id = "bob"
pin = "12345"
primary_extension = "1000001"
home = "c1"
profiles = ["bob-udp"]

[[phone]]
name = "SEP000000001001"
cluster = "c1"

[[user_pattern]]
home = "c1"
count = 3
id = "u{n:03}"
pin = "1111"
extension = 5000

[[phone_pattern]]
cluster = "c1"
count = 2
first = "SEP0000000010FF"
"#;

    #[test]
    fn parses_and_expands() {
        let t = Topology::parse(MINI).unwrap();
        assert_eq!(t.clusters[0].params.max_concurrent_requests, 7);
        assert_eq!(t.clusters[0].ports, Ports::default());
        assert_eq!(t.users.len(), 4);
        assert_eq!(t.users[1].id, "u001");
        assert_eq!(t.users[3].primary_extension.as_deref(), Some("5002"));
        assert_eq!(t.users[0].default_profile.as_deref(), Some("bob-udp"));
        assert_eq!(t.phones[2].name, "SEP000000001100");
        assert_eq!(t.profiles.len(), 4);
        assert_eq!(t.profiles[3].lines[0].dn, "5002");
    }

    fn invalid(src: &str) -> (usize, String) {
        match Topology::parse(src) {
            Err(TopologyError::Invalid { line, field, .. }) => (line, field),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn bad_reference_names_line_and_field() {
        let src = MINI.replace("profiles = [\"bob-udp\"]", "profiles = [\"nope\"]");
        assert_eq!(invalid(&src), (17, "profiles".into()));
        let src = MINI.replace("name = \"SEP000000001001\"", "name = \"SEP12\"");
        assert_eq!(invalid(&src).1, "name");
        let src = MINI.replace(
            "max_concurrent_requests = 7",
            "max_concurrent_requests = 700",
        );
        assert_eq!(invalid(&src), (6, "em.max_concurrent_requests".into()));
        let src = MINI.replace("id = \"u{n:03}\"", "id = \"u\"");
        assert_eq!(invalid(&src).1, "id");
        let src = MINI.replace("first = \"SEP0000000010FF\"", "first = \"SEP000000001000\"");
        assert_eq!(invalid(&src).1, "first");
    }

    #[test]
    fn a_duration_without_a_unit_is_refused_with_its_place() {
        let src = format!("[ils]\nsync_interval = \"20\"\n{MINI}");
        match Topology::parse(&src) {
            Err(e @ TopologyError::Invalid { .. }) => {
                let text = e.to_string();
                assert!(
                    text.starts_with("line 2, column 17: `ils.sync_interval`"),
                    "{text}"
                );
                assert!(text.contains("has no unit"), "{text}");
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
        let src = MINI.replace(
            "max_concurrent_requests = 7",
            "max_concurrent_requests = 7, service_time = \"20\"",
        );
        let text = Topology::parse(&src).unwrap_err().to_string();
        assert!(text.contains("has no unit"), "{text}");
    }

    #[test]
    fn syntax_errors_carry_line_and_field() {
        let src = MINI.replace("pin = \"12345\"\n", "");
        let msg = Topology::parse(&src).unwrap_err().to_string();
        assert!(msg.contains("line") && msg.contains("pin"), "{msg}");
        let msg = Topology::parse("[[cluster]]\nid = \"c1\"\naddress = \"127.0.0.1\"\nbogus = 1\n")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("line 4") && msg.contains("bogus"), "{msg}");
    }

    #[test]
    fn debug_never_shows_pins_or_passwords() {
        let t = Topology::parse(&MINI.replace("pin = \"12345\"", "pin = \"987654321\"")).unwrap();
        let d = format!("{t:?}");
        assert!(!d.contains("987654321") && d.contains("bob"));
    }

    #[test]
    fn render_templates() {
        assert_eq!(render("u{n}", 7).unwrap(), "u7");
        assert_eq!(render("c1-{n:05}-x", 42).unwrap(), "c1-00042-x");
        assert!(render("nope", 1).is_err());
        assert!(render("u{n:x}", 1).is_err());
    }

    #[test]
    fn five_clusters_and_the_ils_table_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles/topologies");
        let t = Topology::load(&dir.join("five-clusters.toml")).unwrap();
        assert_eq!(t.clusters.len(), 5);
        let hubs = t.clusters.iter().filter(|c| c.ils == IlsRole::Hub).count();
        assert_eq!(hubs, 2);
        assert_eq!(t.ils.sync_interval, std::time::Duration::from_secs(30));
        assert_eq!(t.users.iter().filter(|u| u.superuser).count(), 5);
        let bad = "[ils]\nsync_interval = \"soon\"\n";
        let e = Topology::parse(bad).unwrap_err().to_string();
        assert!(e.contains("ils.sync_interval"), "{e}");
        assert!(
            !format!("{:?}", t.ils).contains("emroam-ils"),
            "Debug hides the password"
        );
    }

    #[test]
    fn seed_and_load_topologies_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles/topologies");
        let seed = Topology::load(&dir.join("seed.toml")).unwrap();
        assert_eq!(seed.clusters.len(), 3);
        assert_eq!(
            seed.clusters[2].ils,
            IlsRole::Spoke {
                hub: "cluster2".into()
            }
        );
        assert_eq!(seed.phones.len(), 30);
        assert!(
            !seed
                .phones
                .iter()
                .find(|p| p.name == "SEP000000001010")
                .unwrap()
                .em_enabled
        );
        let bob = seed.users.iter().find(|u| u.id == "bob").unwrap();
        assert!(bob.superuser && bob.home == "cluster1");
        assert!(
            !seed
                .users
                .iter()
                .find(|u| u.id == "kally")
                .unwrap()
                .superuser
        );
        let load = Topology::load(&dir.join("load-3x10k.toml")).unwrap();
        assert_eq!(load.users.len(), 30_000);
        assert!(load.phones.len() >= 30_000);
    }
}
