//! The file as serde reads it, before validation: every value keeps its span for errors.

use serde::Deserialize;
use toml::Spanned;

use super::Ports;
use crate::params::ParamsPatch;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Raw {
    #[serde(default)]
    pub(super) cluster: Vec<RawCluster>,
    #[serde(default)]
    pub(super) user: Vec<RawUser>,
    #[serde(default)]
    pub(super) profile: Vec<RawProfile>,
    #[serde(default)]
    pub(super) phone: Vec<RawPhone>,
    #[serde(default)]
    pub(super) app_user: Vec<RawAppUser>,
    #[serde(default)]
    pub(super) user_pattern: Vec<RawUserPattern>,
    #[serde(default)]
    pub(super) phone_pattern: Vec<RawPhonePattern>,
    pub(super) ils: Option<RawIlsNetwork>,
    #[serde(default)]
    pub(super) security_profile: Vec<RawSecurityProfile>,
}

/// `[[security_profile]]`: CUCM's Phone Security Profile (the part emroam acts on).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSecurityProfile {
    pub(super) name: Spanned<String>,
    #[serde(default)]
    pub(super) digest_authentication: bool,
    pub(super) nonce_validity_time: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIlsNetwork {
    pub(super) password: Option<String>,
    pub(super) sync_interval: Option<Spanned<String>>,
    pub(super) superuser_sync_interval: Option<Spanned<String>>,
    pub(super) tls_ca: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCluster {
    pub(super) id: Spanned<String>,
    pub(super) address: Spanned<String>,
    #[serde(default)]
    pub(super) ports: Ports,
    pub(super) ils: Option<RawIls>,
    pub(super) route_string: Option<String>,
    pub(super) em: Option<Spanned<ParamsPatch>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIls {
    pub(super) role: Spanned<String>,
    pub(super) hub: Option<Spanned<String>>,
    pub(super) tls_cert: Option<Spanned<String>>,
    pub(super) tls_key: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUser {
    pub(super) id: Spanned<String>,
    pub(super) pin: Spanned<String>,
    pub(super) primary_extension: Option<Spanned<String>>,
    pub(super) self_service_id: Option<Spanned<String>>,
    pub(super) home: Spanned<String>,
    #[serde(default)]
    pub(super) profiles: Vec<Spanned<String>>,
    pub(super) default_profile: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) superuser: bool,
    pub(super) password: Option<String>,
    pub(super) digest_credentials: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProfile {
    pub(super) name: Spanned<String>,
    pub(super) locale: Option<String>,
    #[serde(default)]
    pub(super) lines: Vec<RawLine>,
    pub(super) services: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLine {
    pub(super) dn: Spanned<String>,
    pub(super) label: Option<String>,
    pub(super) display_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPhone {
    pub(super) name: Spanned<String>,
    pub(super) cluster: Spanned<String>,
    pub(super) model: Option<String>,
    #[serde(default = "yes")]
    pub(super) em_enabled: bool,
    pub(super) logout_profile: Option<Spanned<String>>,
    pub(super) security_profile: Option<Spanned<String>>,
    pub(super) digest_user: Option<Spanned<String>>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAppUser {
    pub(super) id: Spanned<String>,
    pub(super) password: String,
    #[serde(default)]
    pub(super) proxy_rights: bool,
    #[serde(default)]
    pub(super) clusters: Vec<Spanned<String>>,
}

/// `[[user_pattern]]`: `count` users `id` (with `{n}` or `{n:05}`), PIN, consecutive
/// extensions from `extension`, one profile `<id>-udp` each with that extension as line 1.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUserPattern {
    pub(super) home: Spanned<String>,
    pub(super) count: Spanned<u32>,
    #[serde(default = "one")]
    pub(super) start: u32,
    pub(super) id: Spanned<String>,
    pub(super) pin: Spanned<String>,
    pub(super) extension: Option<Spanned<u64>>,
    #[serde(default = "yes")]
    pub(super) self_service_is_extension: bool,
    #[serde(default)]
    pub(super) superuser: bool,
    pub(super) locale: Option<String>,
    pub(super) label: Option<Spanned<String>>,
    pub(super) digest_credentials: Option<String>,
}

fn one() -> u32 {
    1
}

/// `[[phone_pattern]]`: `count` phones from device name `first`, MAC incrementing.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPhonePattern {
    pub(super) cluster: Spanned<String>,
    pub(super) count: Spanned<u32>,
    pub(super) first: Spanned<String>,
    pub(super) model: Option<String>,
    #[serde(default = "yes")]
    pub(super) em_enabled: bool,
    pub(super) logout_profile: Option<Spanned<String>>,
    pub(super) security_profile: Option<Spanned<String>>,
    /// A user ID template: `{n}` is the phone's place in the pattern, from 1.
    pub(super) digest_user: Option<Spanned<String>>,
}
