//! Reading the phone's config file (`SEP<MAC>.cnf.xml`): the one place that does, through
//! `emroam_protocol::devicecfg` (lines, services with the EM service URL, the user).

use std::sync::Arc;

use emroam_schema::LoginType;

/// What the phone needs from its config file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigInfo {
    /// Whether the file was understood.
    pub parsed: bool,
    /// The Extension Mobility service URL among the phone services (macros not substituted);
    /// shared with the phone's service URL when it is the same text.
    pub em_service_url: Option<Arc<str>>,
    /// The user whose device profile the file carries (`None`: the logout profile).
    pub user_id: Option<String>,
    /// Directory numbers of the lines to register.
    pub lines: Vec<String>,
    /// Where to register (`host:port`, the first call manager's SIP port).
    pub sip_proxy: Option<String>,
}

/// Why a config file could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigFileError {
    /// The file could not be parsed.
    #[error("config file: {0}")]
    Invalid(String),
}

/// Reads a fetched config file.
///
/// # Errors
/// [`ConfigFileError`] when the body cannot be a config file.
pub fn read(body: &[u8]) -> Result<ConfigInfo, ConfigFileError> {
    let cfg = emroam_protocol::devicecfg::DeviceConfig::parse(body)
        .map_err(|e| ConfigFileError::Invalid(e.to_string()))?;
    Ok(ConfigInfo {
        parsed: true,
        em_service_url: cfg.em_service_url().map(Arc::from),
        user_id: cfg.user_id.clone(),
        lines: cfg.lines.iter().map(|l| l.name.clone()).collect(),
        sip_proxy: cfg.sip_proxy().map(|(h, p)| format!("{h}:{p}")),
    })
}

/// The EM service URL a phone opens: `#DEVICENAME#` substituted, `&loginType=` added for
/// DN and SP (UID is the default prompt, so the URL stays as configured).
pub fn service_url(template: &str, device: &str, login_type: Option<LoginType>) -> String {
    let url = emroam_schema::em_url::device_url(template, device);
    match login_type {
        Some(lt @ (LoginType::Dn | LoginType::Sp)) => {
            emroam_protocol::cipxml::append_query(&url, &format!("loginType={}", lt.as_param()))
        }
        _ => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_device_and_login_type() {
        let t = "http://127.0.0.2:8080/emapp/EMAppServlet?device=#DEVICENAME#";
        assert_eq!(
            service_url(t, "SEP000000001001", Some(LoginType::Dn)),
            "http://127.0.0.2:8080/emapp/EMAppServlet?device=SEP000000001001&loginType=DN"
        );
        assert_eq!(
            service_url(t, "SEP1", Some(LoginType::Uid)),
            "http://127.0.0.2:8080/emapp/EMAppServlet?device=SEP1"
        );
        assert!(read(b"oops").is_err());
    }
}
