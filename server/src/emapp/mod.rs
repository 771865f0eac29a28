//! The phone-facing EM application, `/emapp/EMAppServlet` on the HTTP port.
//!
//! A phone opens `?device=SEP…[&loginType=UID|DN|SP]`, gets the login form (or the logout
//! confirmation if someone is logged in), submits `userid` + `seq`, possibly picks a profile
//! (`deviceProfile` + `ticket`, emroam's names: CUCM's are UNCONFIRMED), and reads the result.
//! Like CUCM's EMApp it performs logins and logouts through the EM service's operations
//! ([`crate::ops`]); when the EM service is stopped it answers 208.

pub(crate) mod pages;

use hyper::StatusCode;
use hyper::header::HeaderValue;

use crate::cluster::{Cluster, Origin};
use crate::em::code;
use crate::http::{HttpError, Req, Resp, encode_component, into_response, parse_urlencoded, xml};
use crate::ops::{
    Credential, DeviceUser, DeviceUserQuery, Login, LoginDuration, LoginOutcome, LoginType, Logout,
};

/// The EM application's path.
pub const PATH: &str = emroam_schema::em_url::EMAPP_PATH;
/// Query parameter carrying the chosen device profile (UNCONFIRMED: CUCM's name was never
/// captured).
pub const PROFILE_PARAM: &str = "deviceProfile";
/// Query parameter carrying the profile-choice ticket (emroam's own).
pub const TICKET_PARAM: &str = "ticket";
/// The `Refresh` header on a successful login or logout (closes the services window).
pub const SUCCESS_REFRESH: &str = "3; url=Init:Services";
/// Text of the successful-login page.
pub const LOGIN_OK_TEXT: &str = "Login Successful";
/// Text of the successful-logout page.
pub const LOGOUT_OK_TEXT: &str = "Logout Successful";

fn fail(c: &Cluster, code: u16, logout: bool) -> Resp {
    c.counters().code(code);
    tracing::debug!(cluster = %c.id(), code, logout, "EM application error page");
    let text = if logout {
        pages::logout_text(code)
    } else {
        pages::login_text(code)
    };
    xml(pages::message(&text))
}

fn success(text: &str) -> Resp {
    let mut r = xml(pages::message(text));
    r.headers_mut()
        .insert("Refresh", HeaderValue::from_static(SUCCESS_REFRESH));
    r
}

/// The host part of URLs on pages: the `Host` the phone used, if sane, else the cluster's.
fn base_url(c: &Cluster, req: &Req) -> String {
    let host = req
        .header("host")
        .filter(|h| {
            !h.is_empty()
                && h.len() < 256
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .map_or_else(|| c.http_addr().to_string(), str::to_owned);
    format!("http://{host}{PATH}")
}

/// Handles one EM application request.
pub async fn handle(c: &Cluster, req: &Req) -> Resp {
    if !c.em_app_running() {
        return into_response(HttpError::ServiceUnavailable);
    }
    c.counters().request_handled();
    let mut params = req.query_params();
    if req.method == hyper::Method::POST {
        params.extend(parse_urlencoded(&req.body));
    }
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let device = get("device").unwrap_or("").trim().to_owned();
    let is_logout = get("doLogout").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if device.is_empty() {
        return fail(c, code::DEVICE_NAME_EMPTY, is_logout);
    }
    let login_type = match get("loginType").map(str::trim) {
        None | Some("") => LoginType::Uid,
        Some(s) => match LoginType::parse(s) {
            Some(t) => t,
            None => return fail(c, code::LOGIN_TYPE_INVALID, is_logout),
        },
    };
    if !c.em_service_running() {
        return fail(c, code::EMSERVICE_CONNECTION_ERROR, is_logout);
    }
    let origin = Origin {
        ip: Some(req.peer.ip()),
        via: req.headers.contains_key("via"),
    };
    let mut self_url = format!("{}?device={}", base_url(c, req), encode_component(&device));
    if get("loginType").is_some_and(|v| !v.trim().is_empty()) {
        self_url.push_str(&format!("&loginType={}", login_type.as_param()));
    }

    if is_logout {
        let op = Logout {
            device,
            acting_user: None,
            origin,
        };
        return match op.apply(c).await {
            Ok(_) => success(LOGOUT_OK_TEXT),
            Err(e) => fail(c, e.code, true),
        };
    }

    let ticket = get(TICKET_PARAM);
    let submitted = get("userid").is_some() || get("seq").is_some() || ticket.is_some();
    if !submitted {
        // The first page: who is on the device decides login form or logout confirmation.
        let Some(phone) = c.phone(&device) else {
            return fail(c, code::DEVICE_NOT_FOUND, false);
        };
        if !phone.em_enabled {
            return fail(c, code::DEVICE_LOGON_DISABLED, false);
        }
        // As CUCM's EMApp does, ask the EM service who is on the device (deviceUserQuery).
        let who = DeviceUserQuery {
            devices: vec![device.clone()],
        }
        .apply(c);
        return match who.into_iter().next().map(|(_, u)| u) {
            Some(DeviceUser::User(user)) => xml(pages::logout_confirm(
                &user,
                &format!("{self_url}&doLogout=true"),
            )),
            Some(DeviceUser::DoesNotExist) => fail(c, code::DEVICE_NOT_FOUND, false),
            _ => {
                let remember = login_type == LoginType::Uid && c.params().remember_last_user;
                let last = remember.then(|| c.last_user(&device)).flatten();
                xml(pages::login_form(&self_url, login_type, last.as_deref()))
            }
        };
    }

    let credential = match ticket {
        Some(t) => Credential::Ticket {
            ticket: t.to_owned(),
        },
        None => Credential::Phone {
            login_type,
            id: get("userid").unwrap_or("").trim().to_owned(),
            pin: get("seq").unwrap_or("").to_owned(),
        },
    };
    let op = Login {
        device: device.clone(),
        credential,
        profile: get(PROFILE_PARAM)
            .filter(|p| !p.is_empty())
            .map(str::to_owned),
        duration: LoginDuration::Default,
        origin,
    };
    match op.apply(c).await {
        Ok(LoginOutcome::LoggedIn { .. }) => success(LOGIN_OK_TEXT),
        Ok(LoginOutcome::ChooseProfile {
            profiles, ticket, ..
        }) => {
            let items: Vec<(String, String)> = profiles
                .iter()
                .map(|p| {
                    let url = format!(
                        "{self_url}&{TICKET_PARAM}={ticket}&{PROFILE_PARAM}={}",
                        encode_component(p)
                    );
                    (p.clone(), url)
                })
                .collect();
            xml(pages::profile_menu(&items))
        }
        Err(e) => fail(c, e.code, false),
    }
}

/// Status a stopped EM application answers with (for docs and tests).
pub const STOPPED_STATUS: StatusCode = StatusCode::SERVICE_UNAVAILABLE;
