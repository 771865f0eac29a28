//! The "Cisco Extension Mobility" service parameters of one cluster, plus the
//! one "Cisco CallManager" service parameter the SIP registrar reads (SIP Station KeepAlive
//! Interval).
//!
//! [`ServiceParams`] is the validated value a cluster runs with; [`ParamsPatch`] is the partial
//! form read from the topology file's `[cluster.em]` table and from the admin API's JSON, so both
//! go through the same validation (and the SIP parameter changes at run time like the EM ones).
//! Pure: no I/O.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Upper bound of Maximum Concurrent Requests (CUCM 8.x doc: range 1–100).
pub const MAX_CONCURRENT_LIMIT: u32 = 100;
/// Upper bound of Intra-cluster Maximum Login Time (HHH:MM, 168:00).
pub const MAX_LOGIN_TIME_LIMIT: Duration = Duration::from_secs(168 * 3600);
/// Longest Trusted List of IPs CUCM accepts (characters, `;`-joined).
pub const TRUSTED_LIST_MAX_CHARS: usize = 1024;
/// SIP Station KeepAlive Interval's default: 120 s (Cisco's docs: "remains configured for 120
/// seconds"; phones take "up to 120 seconds" to re-register elsewhere by default).
pub const SIP_KEEPALIVE_DEFAULT_SECS: u32 = 120;
/// SIP Station KeepAlive Interval's range in seconds (UNCONFIRMED: not found in Cisco's docs).
pub const SIP_KEEPALIVE_RANGE_SECS: std::ops::RangeInclusive<u32> = 60..=7200;

/// What a second login of the same user within the cluster does ("Multiple Login Behavior").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MultipleLoginBehavior {
    /// "Multiple Logins Not Allowed" (CUCM's default): the second login fails with 25.
    #[serde(alias = "Multiple Logins Not Allowed")]
    NotAllowed,
    /// "Multiple Logins Allowed": both devices stay logged in.
    #[serde(alias = "Multiple Logins Allowed")]
    Allowed,
    /// "Auto Logout": the second login logs the user out of the other devices.
    #[serde(alias = "Auto Logout")]
    AutoLogout,
}

/// Artificial service time spent per login/logout (not a CUCM parameter: emroam's knob to
/// make throttling observable). Written as `"0ms"`, `"20ms"`, `"uniform(5ms,20ms)"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceTime {
    /// Always this long (zero: no delay).
    Fixed(Duration),
    /// Uniformly distributed between the two bounds.
    Uniform(Duration, Duration),
}

impl ServiceTime {
    /// The delay for one request; `r` is a uniform random number in `[0, 1)`.
    pub fn sample(&self, r: f64) -> Duration {
        match *self {
            ServiceTime::Fixed(d) => d,
            ServiceTime::Uniform(lo, hi) => lo + (hi - lo).mul_f64(r.clamp(0.0, 1.0)),
        }
    }

    /// Parses `"20ms"`, `"1s"`, `"uniform(5ms,20ms)"`.
    ///
    /// # Errors
    /// A message saying what is wrong.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("uniform(").and_then(|r| r.strip_suffix(')')) {
            let (a, b) = rest
                .split_once(',')
                .ok_or_else(|| format!("expected uniform(LO,HI), got {s:?}"))?;
            let (lo, hi) = (dur(a)?, dur(b)?);
            if lo > hi {
                return Err(format!("uniform bounds out of order in {s:?}"));
            }
            return Ok(ServiceTime::Uniform(lo, hi));
        }
        dur(s).map(ServiceTime::Fixed)
    }
}

/// The shared duration grammar, with its message as text.
fn dur(s: &str) -> Result<Duration, String> {
    crate::duration::parse(s).map_err(|e| e.to_string())
}

impl fmt::Display for ServiceTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceTime::Fixed(d) => write!(f, "{}ms", d.as_millis()),
            ServiceTime::Uniform(lo, hi) => {
                write!(f, "uniform({}ms,{}ms)", lo.as_millis(), hi.as_millis())
            }
        }
    }
}

/// Parses CUCM's `HHH:MM` login-time format (`8:00`, `:30`, `168:00`).
///
/// # Errors
/// A message when it is not `HHH:MM` or exceeds 168:00.
pub fn parse_hhh_mm(s: &str) -> Result<Duration, String> {
    let bad = || format!("bad login time {s:?} (expected HHH:MM, 0:00 to 168:00)");
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let h: u64 = if h.is_empty() {
        0
    } else {
        h.parse().map_err(|_| bad())?
    };
    if m.len() != 2 {
        return Err(bad());
    }
    let m: u64 = m.parse().map_err(|_| bad())?;
    if m >= 60 || h > 999 {
        return Err(bad());
    }
    let d = Duration::from_secs(h * 3600 + m * 60);
    if d > MAX_LOGIN_TIME_LIMIT {
        return Err(bad());
    }
    Ok(d)
}

/// Formats a duration as CUCM's `HHH:MM`.
pub fn format_hhh_mm(d: Duration) -> String {
    let mins = d.as_secs() / 60;
    format!("{}:{:02}", mins / 60, mins % 60)
}

/// The validated service parameters a cluster runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceParams {
    /// Maximum Concurrent Requests: login/logout operations in progress at once (1–100).
    pub max_concurrent_requests: u32,
    /// Multiple Login Behavior.
    pub multiple_login_behavior: MultipleLoginBehavior,
    /// Enforce Intra-cluster Maximum Login Time.
    pub enforce_max_login_time: bool,
    /// Intra-cluster Maximum Login Time (only used when enforced).
    pub max_login_time: Duration,
    /// Validate IP Address (UNCONFIRMED default: false).
    pub validate_ip: bool,
    /// Trusted List of IPs (addresses or host names; no ranges).
    pub trusted_ips: Vec<String>,
    /// Allow Proxy: requests with a `Via` header are accepted (only checked when validating IPs).
    pub allow_proxy: bool,
    /// emroam's artificial service time per login/logout.
    pub service_time: ServiceTime,
    /// Remember the Last User Logged In: the UID login form offers the device's last user
    /// (UNCONFIRMED default: false).
    pub remember_last_user: bool,
    /// SIP Station KeepAlive Interval (a Cisco CallManager service parameter): the longest
    /// registration the registrar grants a phone, in seconds (60–7200, default 120).
    pub sip_station_keepalive_interval: u32,
}

impl Default for ServiceParams {
    fn default() -> Self {
        ServiceParams {
            max_concurrent_requests: 5,
            multiple_login_behavior: MultipleLoginBehavior::NotAllowed,
            enforce_max_login_time: false,
            max_login_time: Duration::from_secs(8 * 3600),
            validate_ip: false,
            trusted_ips: Vec::new(),
            allow_proxy: true,
            service_time: ServiceTime::Fixed(Duration::ZERO),
            remember_last_user: false,
            sip_station_keepalive_interval: SIP_KEEPALIVE_DEFAULT_SECS,
        }
    }
}

/// A partial set of service parameters, as written in TOML (`[cluster.em]`) or admin JSON.
///
/// Field names are snake_case versions of CUCM's parameter names; durations are strings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamsPatch {
    /// Maximum Concurrent Requests (1–100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_requests: Option<u32>,
    /// Multiple Login Behavior (`not-allowed`, `allowed`, `auto-logout`, or CUCM's wording).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiple_login_behavior: Option<MultipleLoginBehavior>,
    /// Enforce Intra-cluster Maximum Login Time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforce_max_login_time: Option<bool>,
    /// Intra-cluster Maximum Login Time, `HHH:MM`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_login_time: Option<String>,
    /// Validate IP Address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validate_ip: Option<bool>,
    /// Trusted List of IPs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_ips: Option<Vec<String>>,
    /// Allow Proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_proxy: Option<bool>,
    /// Artificial service time (`"0ms"`, `"20ms"`, `"uniform(5ms,20ms)"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_time: Option<String>,
    /// Remember the Last User Logged In.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remember_last_user: Option<bool>,
    /// SIP Station KeepAlive Interval, seconds (60–7200): the longest registration granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip_station_keepalive_interval: Option<u32>,
}

/// A service parameter value that CUCM's admin page would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ParamError {
    /// The parameter's field name.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

fn perr(field: &'static str, message: impl Into<String>) -> ParamError {
    ParamError {
        field,
        message: message.into(),
    }
}

impl ServiceParams {
    /// Applies a patch, validating every field; on error nothing changes.
    ///
    /// As on CUCM's page, entering a non-zero Maximum Login Time without saying whether to
    /// enforce it turns enforcement on.
    ///
    /// # Errors
    /// The first invalid field.
    pub fn apply(&self, p: &ParamsPatch) -> Result<ServiceParams, ParamError> {
        let mut n = self.clone();
        if let Some(m) = p.max_concurrent_requests {
            if !(1..=MAX_CONCURRENT_LIMIT).contains(&m) {
                return Err(perr(
                    "max_concurrent_requests",
                    format!("{m} is outside 1–100"),
                ));
            }
            n.max_concurrent_requests = m;
        }
        if let Some(b) = p.multiple_login_behavior {
            n.multiple_login_behavior = b;
        }
        if let Some(t) = &p.max_login_time {
            n.max_login_time = parse_hhh_mm(t).map_err(|e| perr("max_login_time", e))?;
            if p.enforce_max_login_time.is_none() && !n.max_login_time.is_zero() {
                n.enforce_max_login_time = true;
            }
        }
        if let Some(e) = p.enforce_max_login_time {
            n.enforce_max_login_time = e;
        }
        if let Some(v) = p.validate_ip {
            n.validate_ip = v;
        }
        if let Some(list) = &p.trusted_ips {
            let joined: usize = list.iter().map(|s| s.len() + 1).sum();
            if joined > TRUSTED_LIST_MAX_CHARS + 1 {
                return Err(perr("trusted_ips", "longer than 1024 characters"));
            }
            if let Some(bad) = list
                .iter()
                .find(|s| s.trim().is_empty() || s.contains(['*', '/', ';']))
            {
                return Err(perr(
                    "trusted_ips",
                    format!("{bad:?} is not an address or host name"),
                ));
            }
            n.trusted_ips = list.iter().map(|s| s.trim().to_owned()).collect();
        }
        if let Some(a) = p.allow_proxy {
            n.allow_proxy = a;
        }
        if let Some(s) = &p.service_time {
            n.service_time = ServiceTime::parse(s).map_err(|e| perr("service_time", e))?;
        }
        if let Some(r) = p.remember_last_user {
            n.remember_last_user = r;
        }
        if let Some(k) = p.sip_station_keepalive_interval {
            if !SIP_KEEPALIVE_RANGE_SECS.contains(&k) {
                return Err(perr(
                    "sip_station_keepalive_interval",
                    format!("{k} is outside 60–7200 seconds"),
                ));
            }
            n.sip_station_keepalive_interval = k;
        }
        Ok(n)
    }

    /// The parameters as a complete patch (how the admin API shows them).
    pub fn to_patch(&self) -> ParamsPatch {
        ParamsPatch {
            max_concurrent_requests: Some(self.max_concurrent_requests),
            multiple_login_behavior: Some(self.multiple_login_behavior),
            enforce_max_login_time: Some(self.enforce_max_login_time),
            max_login_time: Some(format_hhh_mm(self.max_login_time)),
            validate_ip: Some(self.validate_ip),
            trusted_ips: Some(self.trusted_ips.clone()),
            allow_proxy: Some(self.allow_proxy),
            service_time: Some(self.service_time.to_string()),
            remember_last_user: Some(self.remember_last_user),
            sip_station_keepalive_interval: Some(self.sip_station_keepalive_interval),
        }
    }

    /// How long a new login lasts when the request names no duration (`None`: no limit).
    pub fn default_login_duration(&self) -> Option<Duration> {
        (self.enforce_max_login_time && !self.max_login_time.is_zero())
            .then_some(self.max_login_time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_cucm() {
        let p = ServiceParams::default();
        assert_eq!(p.max_concurrent_requests, 5);
        assert_eq!(p.multiple_login_behavior, MultipleLoginBehavior::NotAllowed);
        assert!(!p.enforce_max_login_time);
        assert_eq!(p.default_login_duration(), None);
        assert_eq!(p.sip_station_keepalive_interval, 120);
    }

    #[test]
    fn sip_keepalive_interval_is_validated() {
        let p = ServiceParams::default();
        let set = |k| ParamsPatch {
            sip_station_keepalive_interval: Some(k),
            ..Default::default()
        };
        for bad in [0, 59, 7201] {
            assert_eq!(
                p.apply(&set(bad)).unwrap_err().field,
                "sip_station_keepalive_interval"
            );
        }
        assert_eq!(
            p.apply(&set(60)).unwrap().sip_station_keepalive_interval,
            60
        );
        assert_eq!(
            p.apply(&set(7200)).unwrap().sip_station_keepalive_interval,
            7200
        );
    }

    #[test]
    fn hhh_mm() {
        assert_eq!(parse_hhh_mm("8:00").unwrap(), Duration::from_secs(8 * 3600));
        assert_eq!(parse_hhh_mm(":30").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_hhh_mm("168:00").unwrap(), MAX_LOGIN_TIME_LIMIT);
        assert!(parse_hhh_mm("168:01").is_err());
        assert!(parse_hhh_mm("8:60").is_err());
        assert!(parse_hhh_mm("8").is_err());
        assert_eq!(format_hhh_mm(Duration::from_secs(8 * 3600 + 60)), "8:01");
    }

    #[test]
    fn patch_validates_and_flips_enforce() {
        let p = ServiceParams::default();
        let bad = ParamsPatch {
            max_concurrent_requests: Some(0),
            ..Default::default()
        };
        assert_eq!(p.apply(&bad).unwrap_err().field, "max_concurrent_requests");
        let t = ParamsPatch {
            max_login_time: Some("0:30".into()),
            ..Default::default()
        };
        let n = p.apply(&t).unwrap();
        assert!(n.enforce_max_login_time);
        assert_eq!(n.default_login_duration(), Some(Duration::from_secs(1800)));
        let round = ServiceParams::default().apply(&n.to_patch()).unwrap();
        assert_eq!(round, n);
    }

    #[test]
    fn service_time_forms() {
        assert_eq!(
            ServiceTime::parse("0ms").unwrap(),
            ServiceTime::Fixed(Duration::ZERO)
        );
        let u = ServiceTime::parse("uniform(5ms,20ms)").unwrap();
        assert_eq!(u.sample(0.0), Duration::from_millis(5));
        assert_eq!(u.sample(1.0), Duration::from_millis(20));
        assert_eq!(ServiceTime::parse(&u.to_string()).unwrap(), u);
        assert!(ServiceTime::parse("uniform(20ms,5ms)").is_err());
        assert!(ServiceTime::parse("fast").is_err());
    }

    #[test]
    fn behavior_accepts_cisco_wording() {
        #[derive(Deserialize)]
        struct W {
            b: MultipleLoginBehavior,
        }
        let w: W = toml::from_str("b = \"Auto Logout\"").unwrap();
        assert_eq!(w.b, MultipleLoginBehavior::AutoLogout);
        let w: W = toml::from_str("b = \"not-allowed\"").unwrap();
        assert_eq!(w.b, MultipleLoginBehavior::NotAllowed);
    }
}
