//! The config server (TFTP's HTTP side, port 6970): `GET /SEP<MAC>.cnf.xml`.
//!
//! The file reflects the device's current profile: the logged-in user's device profile, else
//! the phone's logout profile; the cluster's SIP node; and the subscribed phone services, with
//! Extension Mobility's URL pointing at this cluster's EM application.

use emroam_protocol::devicecfg::{
    CallManager, DeviceConfig, FEATURE_LINE, PhoneService, SipLine, UserLocale,
};
use hyper::Method;

use crate::cluster::Cluster;
use crate::http::{HttpError, Req, Resp, into_response, respond};
use crate::topology::EM_SERVICE_NAME;

/// Firmware load name per model family (what `<loadInformation>` carries).
fn load_for(model: &str) -> &'static str {
    if model.contains("78") {
        "sip78xx.14-2-1-0001-14"
    } else if model.contains("69") {
        "sip69xx.0-4-0-24"
    } else {
        "sip88xx.14-2-1-0001-14"
    }
}

/// CUCM locale name → (langCode, winCharSet).
fn locale_codes(name: &str) -> (&'static str, &'static str) {
    match name {
        "English_United_Kingdom" => ("en_GB", "iso-8859-1"),
        "French_France" => ("fr_FR", "iso-8859-1"),
        "German_Germany" => ("de_DE", "iso-8859-1"),
        "Spanish_Spain" => ("es_ES", "iso-8859-1"),
        "Japanese_Japan" => ("ja_JP", "utf-8"),
        "Chinese_China" => ("zh_CN", "utf-8"),
        _ => ("en_US", "iso-8859-1"),
    }
}

/// Builds a device's configuration as it stands now (`None`: no such phone).
pub fn device_config(c: &Cluster, device: &str) -> Option<DeviceConfig> {
    let phone = c.phone(device)?;
    let login = c.login_on(device);
    let profile = c.current_profile(device);
    let profile = profile.as_ref();
    let spec = c.spec();
    let http = c.http_addr();
    let locale = profile.map_or_else(|| c.logout_locale(phone), |p| p.locale.clone());
    let (lang, charset) = locale_codes(&locale);
    let lines = profile
        .map(|p| {
            p.lines
                .iter()
                .enumerate()
                .map(|(i, l)| SipLine {
                    button: i as u32 + 1,
                    feature_id: FEATURE_LINE,
                    feature_label: l.label.clone(),
                    proxy: "USECALLMANAGER".into(),
                    port: c.sip_addr().port(),
                    name: l.dn.clone(),
                    display_name: l.display_name.clone(),
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let service_names =
        profile.map_or_else(|| vec![EM_SERVICE_NAME.to_owned()], |p| p.services.clone());
    let services = service_names
        .iter()
        .map(|s| PhoneService {
            service_type: 1,
            category: 0,
            name: s.clone(),
            url: if s == EM_SERVICE_NAME {
                c.em_service_url()
            } else {
                format!("http://{http}/ccmcip/{}.jsp", s.replace(' ', ""))
            },
        })
        .collect();
    Some(DeviceConfig {
        device_protocol: "SIP".into(),
        device_pool: format!("{}-pool", spec.id),
        call_managers: vec![CallManager {
            priority: 0,
            name: spec.id.clone(),
            sip_port: c.sip_addr().port(),
            secured_sip_port: c.sip_addr().port().saturating_add(1),
            process_node_name: c.sip_addr().ip().to_string(),
        }],
        load_information: load_for(&phone.model).into(),
        vendor_config: vec![
            ("webAccess".into(), "0".into()),
            ("sshAccess".into(), "1".into()),
        ],
        user_locale: UserLocale {
            name: locale,
            lang_code: lang.into(),
            win_char_set: charset.into(),
        },
        network_locale: "United_States".into(),
        authentication_url: format!("http://{http}/ccmcip/authenticate.jsp"),
        directory_url: format!("http://{http}/ccmcip/xmldirectory.jsp"),
        services_url: format!("http://{http}/ccmcip/getservicesmenu.jsp"),
        register_with_proxy: true,
        phone_label: lines
            .first()
            .map_or_else(|| phone.name.clone(), |l| l.feature_label.clone()),
        lines,
        services_provisioning: 0,
        services,
        user_id: login.map(|l| l.user),
    })
}

/// Handles one config-server request.
pub async fn handle(c: &Cluster, req: &Req) -> Resp {
    if req.method != Method::GET && req.method != Method::HEAD {
        return into_response(HttpError::MethodNotAllowed);
    }
    let Some(name) = req
        .path
        .strip_prefix('/')
        .and_then(|p| p.strip_suffix(".cnf.xml"))
    else {
        return into_response(HttpError::NotFound);
    };
    if !crate::topology::is_device_name(name) {
        return into_response(HttpError::NotFound);
    }
    match device_config(c, &name.to_ascii_uppercase()) {
        Some(cfg) => respond(
            hyper::StatusCode::OK,
            "text/xml; charset=utf-8",
            cfg.to_xml(),
        ),
        None => into_response(HttpError::NotFound),
    }
}
