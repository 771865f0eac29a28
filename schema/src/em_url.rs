//! Where Extension Mobility lives on a cluster, and how a phone fills in CUCM's URL macros.
//!
//! The paths are CUCM's own; `#DEVICENAME#` and `#EMCC#` are the macros a phone substitutes
//! in a service URL (and emroam in a config-file URL template). Pure.

/// The phone-facing EM application (login form, profile choice, logout).
pub const EMAPP_PATH: &str = "/emapp/EMAppServlet";
/// The EM API (`xml=` requests from applications).
pub const EMSERVICE_PATH: &str = "/emservice/EMServiceServlet";
/// The macro a phone replaces with its device name (`SEP…`).
pub const DEVICE_NAME_MACRO: &str = "#DEVICENAME#";
/// The macro a phone replaces with whether it supports EMCC (it always says `true`).
pub const EMCC_MACRO: &str = "#EMCC#";

/// The EM service URL a cluster's phones subscribe to, as CUCM configures it:
/// `http://HOST:PORT/emapp/EMAppServlet?device=#DEVICENAME#`. `base` is `http://HOST:PORT`.
pub fn em_service_url(base: &str) -> String {
    format!("{base}{EMAPP_PATH}?device={DEVICE_NAME_MACRO}")
}

/// The EM API URL of a cluster; `base` is `http://HOST:PORT`.
pub fn emapi_url(base: &str) -> String {
    format!("{base}{EMSERVICE_PATH}")
}

/// The config-file URL template of a TFTP/HTTP config server: `http://HOST:PORT/#DEVICENAME#.cnf.xml`.
pub fn config_url_template(host: &str, port: u16) -> String {
    format!("http://{host}:{port}/{DEVICE_NAME_MACRO}.cnf.xml")
}

/// Fills a URL template for one device, as a phone does: `#DEVICENAME#` becomes the device
/// name and `#EMCC#` becomes `true`.
pub fn device_url(template: &str, device: &str) -> String {
    if !template.contains('#') {
        return template.to_owned();
    }
    template
        .replace(DEVICE_NAME_MACRO, device)
        .replace(EMCC_MACRO, "true")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let svc = em_service_url("http://127.0.0.2:8080");
        assert_eq!(
            svc,
            "http://127.0.0.2:8080/emapp/EMAppServlet?device=#DEVICENAME#"
        );
        assert_eq!(
            device_url(&svc, "SEP000000001001"),
            "http://127.0.0.2:8080/emapp/EMAppServlet?device=SEP000000001001"
        );
        assert_eq!(
            device_url("http://h/x?d=#DEVICENAME#&emcc=#EMCC#", "SEP1"),
            "http://h/x?d=SEP1&emcc=true"
        );
        assert_eq!(
            device_url(&config_url_template("127.0.0.2", 6970), "SEP1"),
            "http://127.0.0.2:6970/SEP1.cnf.xml"
        );
        assert_eq!(
            emapi_url("http://h:8080"),
            "http://h:8080/emservice/EMServiceServlet"
        );
    }
}
