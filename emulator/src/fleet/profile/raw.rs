//! The profile as written: serde's view of the TOML, with spans for error positions.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::types::AppUser;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProfile {
    pub(super) name: Option<String>,
    /// Free text for whoever reads the profile: accepted, not used.
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "accepted so that profiles may describe themselves"
    )]
    pub(super) description: Option<String>,
    pub(super) topology: Option<Spanned<String>>,
    pub(super) population: Option<Spanned<RawPopulation>>,
    #[serde(default)]
    pub(super) target: Vec<Spanned<RawTarget>>,
    pub(super) mix: Option<Spanned<BTreeMap<String, u32>>>,
    #[serde(default)]
    pub(super) phase: Vec<Spanned<RawPhase>>,
    pub(super) request_timeout: Option<Spanned<String>>,
    pub(super) drain: Option<Spanned<String>>,
    pub(super) seed: Option<u64>,
    pub(super) roaming: Option<Spanned<f64>>,
    pub(super) boot: Option<Spanned<bool>>,
    pub(super) found_logged_in: Option<Spanned<String>>,
    pub(super) stop_when_unreachable: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) fault: Vec<Spanned<RawFault>>,
    pub(super) slo: Option<Spanned<RawSlo>>,
    pub(super) sip: Option<Spanned<RawSip>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSip {
    pub(super) bind: Option<String>,
    pub(super) ring: Option<String>,
    pub(super) auto_answer: Option<bool>,
    pub(super) busy: Option<f64>,
    pub(super) hold: Option<RawThink>,
    pub(super) callee: Option<BTreeMap<String, u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPopulation {
    pub(super) clusters: Option<Vec<String>>,
    pub(super) devices_per_cluster: Option<usize>,
    pub(super) users_per_cluster: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTarget {
    pub(super) cluster: String,
    pub(super) service_url: String,
    pub(super) config_url: Option<String>,
    pub(super) emservice_url: Option<String>,
    pub(super) app_user: Option<AppUser>,
    pub(super) admin_url: Option<String>,
    pub(super) devices: RawDevices,
    pub(super) users: RawUsers,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawDevices {
    List(Vec<String>),
    Pattern(RawDevicePattern),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDevicePattern {
    pub(super) first: String,
    pub(super) count: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUserPattern {
    pub(super) prefix: String,
    pub(super) first: u64,
    pub(super) count: usize,
    #[serde(default)]
    pub(super) width: usize,
    pub(super) pin: String,
    pub(super) dn_first: Option<u64>,
    #[serde(default)]
    pub(super) superuser: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUser {
    pub(super) id: String,
    pub(super) pin: String,
    pub(super) dn: Option<String>,
    pub(super) self_service_id: Option<String>,
    #[serde(default)]
    pub(super) superuser: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawUsers {
    List(Vec<RawUser>),
    Pattern(RawUserPattern),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawRate {
    Const(f64),
    Ramp([f64; 2]),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPhase {
    pub(super) name: Option<String>,
    pub(super) duration: String,
    pub(super) login_rate: Option<RawRate>,
    pub(super) logout_rate: Option<RawRate>,
    pub(super) call_rate: Option<RawRate>,
    pub(super) phones: Option<usize>,
    pub(super) think: Option<RawThink>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawThink {
    pub(super) dist: String,
    pub(super) value: Option<String>,
    pub(super) min: Option<String>,
    pub(super) max: Option<String>,
    pub(super) mean: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFault {
    pub(super) at: String,
    pub(super) action: Option<String>,
    pub(super) cluster: Option<String>,
    pub(super) method: Option<String>,
    pub(super) path: Option<String>,
    pub(super) url: Option<String>,
    pub(super) body: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSlo {
    pub(super) success_ratio: Option<f64>,
    pub(super) busy_ratio: Option<f64>,
    pub(super) call_success_ratio: Option<f64>,
    pub(super) dropped_ratio: Option<f64>,
    pub(super) achieved_rate: Option<f64>,
    pub(super) allow_idle_clusters: Option<bool>,
    #[serde(default)]
    pub(super) p99: BTreeMap<String, String>,
}
