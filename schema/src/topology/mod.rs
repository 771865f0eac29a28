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
//!                                      # with [ils] tls_ca also tls_cert = "pki/cluster1.pem"
//!                                      # (chain naming "cluster1"), tls_key = "pki/cluster1.key"
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
//! tls_ca = "pki/ils-ca.pem"            # ILS over TLS: the CA (PEM) peers' certificates chain
//!                                      # to; then every ILS cluster sets tls_cert and tls_key
//!                                      # (paths relative to the topology file)
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
//! digest_credentials = "..."           # optional: SIP digest password (phones' digest user)
//!
//! [[phone]]
//! name = "SEP000000001001"
//! cluster = "cluster1"
//! model = "Cisco 8865"
//! em_enabled = true                    # "Enable Extension Mobility"
//! logout_profile = "cluster1-logout"
//! security_profile = "8865-digest"     # default: none (no digest, CUCM's non-secure profile)
//! digest_user = "bob"                  # required when the profile has digest on
//!
//! [[security_profile]]                 # CUCM's Phone Security Profile
//! name = "8865-digest"
//! digest_authentication = true         # "Enable Digest Authentication" (default false)
//! nonce_validity_time = 600            # seconds a nonce is good for (default 600)
//!
//! [[user_pattern]]                     # users id(start..start+count), one "<id>-udp" profile each
//! home = "cluster1"
//! count = 10000
//! id = "c1u{n:05}"                     # {n} or {n:0W}
//! pin = "12345"
//! extension = 1100001                  # primary extension (and self-service ID) of the first
//! label = "C1 User {n}"
//! digest_credentials = "..."           # every generated user's
//!
//! [[phone_pattern]]                    # phones from `first`, MAC counting up in hex
//! cluster = "cluster1"
//! count = 10000
//! first = "SEP000010000001"
//! logout_profile = "load-logout"
//! security_profile = "8865-digest"
//! digest_user = "c1u{n:05}"            # {n}: the phone's place in the pattern, from 1
//! ```

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::params::ServiceParams;

mod parse;
mod raw;
#[cfg(test)]
mod tests;

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
    /// Phone security profiles (`[[security_profile]]`).
    pub security_profiles: Vec<SecurityProfile>,
}

/// CUCM's Phone Security Profile, the part emroam acts on.
#[derive(Debug, Clone)]
pub struct SecurityProfile {
    /// Profile name, e.g. `Cisco 8865 - Standard SIP Secure Profile`.
    pub name: String,
    /// "Enable Digest Authentication": the registrar challenges the phone's REGISTERs and
    /// checks them against its digest user's digest credentials.
    pub digest_authentication: bool,
    /// "Nonce Validity Time", in seconds (CUCM's default 600): how long a challenge's nonce
    /// is good for; older ones are answered `stale=true`.
    pub nonce_validity_time: u32,
}

/// CUCM's default "Nonce Validity Time" of a phone security profile, in seconds.
pub const DEFAULT_NONCE_VALIDITY_TIME: u32 = 600;

/// Settings every cluster of the ILS network shares (`[ils]` table).
#[derive(Clone)]
pub struct IlsNetwork {
    /// The ILS password, the same in every cluster (never sent; proves itself by HMAC).
    pub password: String,
    /// Full ILS sync every this long (changeable at run time per cluster).
    pub sync_interval: std::time::Duration,
    /// The superuser sync tool's schedule.
    pub superuser_sync_interval: std::time::Duration,
    /// ILS over TLS: the PEM file of CA certificates a peer's certificate must chain to
    /// (`[ils] tls_ca`). When set, every ILS cluster has [`ClusterSpec::ils_tls`] and ILS
    /// speaks only TLS (mutual: both ends present and verify certificates).
    pub tls_ca: Option<PathBuf>,
}

/// Default ILS password of a topology that names none (a lab default; set your own).
pub const DEFAULT_ILS_PASSWORD: &str = "emroam-ils";

impl Default for IlsNetwork {
    fn default() -> Self {
        IlsNetwork {
            password: DEFAULT_ILS_PASSWORD.to_owned(),
            // "Synchronize Clusters Every 10 minutes" (UNCONFIRMED default: docs/decisions.md).
            sync_interval: std::time::Duration::from_secs(600),
            superuser_sync_interval: std::time::Duration::from_secs(3600),
            tls_ca: None,
        }
    }
}

impl std::fmt::Debug for IlsNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IlsNetwork")
            .field("sync_interval", &self.sync_interval)
            .field("superuser_sync_interval", &self.superuser_sync_interval)
            .field("tls_ca", &self.tls_ca)
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
    /// This cluster's ILS certificate and key, when the network speaks ILS over TLS.
    pub ils_tls: Option<IlsTlsFiles>,
}

/// A cluster's ILS certificate chain and private key (PEM files; `Debug` shows the paths
/// only, never the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IlsTlsFiles {
    /// The certificate chain, leaf first; the leaf names the cluster ID (a DNS SAN).
    pub cert: PathBuf,
    /// The leaf's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
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
    /// ILS (7502; TLS on the same port when the topology sets `[ils] tls_ca`).
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
    /// "Digest Credentials": the SIP digest password of a phone whose digest user this is
    /// (never logged).
    pub digest_credentials: Option<String>,
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
    /// The phone security profile's name (`None`: CUCM's standard non-secure profile).
    pub security_profile: Option<String>,
    /// Whether that profile has "Enable Digest Authentication" on.
    pub digest: bool,
    /// That profile's nonce validity time, in seconds.
    pub nonce_validity_time: u32,
    /// "Digest User": the end user whose digest credentials the phone answers challenges
    /// with (required when `digest`).
    pub digest_user: Option<String>,
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

/// Why a topology file was refused. Displayed as `FILE:LINE:COLUMN: message` (the style of
/// the load profile's errors), or `line L, column C: message` for text that came from no file
/// ([`Topology::parse`]).
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not TOML, or a field of the wrong type or missing (toml's message names the field).
    #[error("{}{message}", Place(file.as_deref(), *line, *column))]
    Syntax {
        /// The file, when the text came from one ([`Topology::load`]).
        file: Option<PathBuf>,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// toml's message, without its excerpt of the source.
        message: String,
    },
    /// Well-formed but inconsistent: a bad value or a dangling reference.
    #[error("{}`{field}`: {message}", Place(file.as_deref(), *line, *column))]
    Invalid {
        /// The file, when the text came from one ([`Topology::load`]).
        file: Option<PathBuf>,
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

impl TopologyError {
    /// The same error, naming `path` as the file it is about.
    pub fn in_file(mut self, path: &Path) -> Self {
        if let TopologyError::Syntax { file, .. } | TopologyError::Invalid { file, .. } = &mut self
        {
            *file = Some(path.to_owned());
        }
        self
    }
}

/// Where an error is: `FILE:LINE:COLUMN: ` with a file, `line L, column C: ` without; line 0
/// (toml gave no place) names the file alone.
struct Place<'a>(Option<&'a Path>, usize, usize);

impl std::fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Place(Some(file), 0, _) => write!(f, "{}: ", file.display()),
            Place(None, 0, _) => Ok(()),
            Place(Some(file), line, column) => write!(f, "{}:{line}:{column}: ", file.display()),
            Place(None, line, column) => write!(f, "line {line}, column {column}: "),
        }
    }
}

/// Whether `name` is `SEP` + 12 hex digits (upper or lower case).
pub fn is_device_name(name: &str) -> bool {
    name.len() == 15 && name.starts_with("SEP") && name[3..].bytes().all(|b| b.is_ascii_hexdigit())
}

impl Topology {
    /// The cluster with this ID.
    pub fn cluster(&self, id: &str) -> Option<&ClusterSpec> {
        self.clusters.iter().find(|c| c.id == id)
    }

    /// Profiles by name.
    pub fn profile_map(&self) -> HashMap<&str, &DeviceProfile> {
        self.profiles.iter().map(|p| (p.name.as_str(), p)).collect()
    }
}
