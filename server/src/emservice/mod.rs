//! The EM API servlet, `/emservice/EMServiceServlet` on the HTTP port.
//!
//! POST with a form field `xml=`; always HTTP 200 with the result in the body, as CUCM
//! answers. `appInfo` authenticates an application user (proxy rights let it act for anyone)
//! or an end user acting for themselves. Parsing and rendering live in [`wire`]; the work in
//! [`crate::ops`].

pub mod wire;

use crate::cluster::{Cluster, Origin};
use crate::em::{EmError, code};
use crate::http::{HttpError, Req, Resp, into_response, parse_urlencoded, xml};
use crate::ops::{
    Credential, DeviceProfileQuery, DeviceUserQuery, Login, LoginOutcome, Logout, LogoutAll,
    UserDevicesQuery,
};
use wire::{ApiRequest, Envelope};

/// The EM service's path.
pub const PATH: &str = "/emservice/EMServiceServlet";

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Actor {
    /// An application user; `proxy`: in "Standard EM Authentication Proxy Rights".
    App { proxy: bool },
    /// An end user acting for themselves.
    EndUser(String),
}

/// The EM API message for a code (DevNet "Cisco Extension Mobility Service Response Codes").
fn message(code: u16) -> &'static str {
    match code {
        1 => "Error on Parsing",
        2 => "Cannot authorize App user",
        3 => "Invalid App User",
        4 => "Policy Validation error",
        5 => "Device logon disabled",
        6 => "Database Error",
        7 => "Logout Request Error",
        8 => "Query type undetermined",
        9 => "Dir. User Info Error",
        10 => "User lacks app proxy rights",
        11 => "Device does not exist",
        12 => "Dev. Profile not found",
        18 => "Another user logged in",
        19 => "No user logged in",
        20 => "Hoteling flag error",
        21 => "Hoteling Status error",
        22 => "Device logon disabled",
        23 => "User not found",
        25 => "User logged in elsewhere",
        26 => "Busy, please try again",
        27 => "Change Password",
        28 => "Untrusted IP Error",
        29 => "RIS down-contact admin",
        30 => "Proxy not allowed",
        _ => "Unknown Error",
    }
}

fn fail(c: &Cluster, code: u16, msg: &str) -> Resp {
    c.counters().code(code);
    xml(wire::failure(code, msg))
}

fn fail_em(c: &Cluster, e: EmError) -> Resp {
    fail(c, e.code, message(e.code))
}

fn authenticate(c: &Cluster, env: &Envelope) -> Option<Actor> {
    if let Some(a) = c.app_user(&env.app_id) {
        return (a.password.as_bytes() == env.app_certificate.as_bytes()).then_some(Actor::App {
            proxy: a.proxy_rights,
        });
    }
    let u = c.user(&env.app_id)?;
    let pw = u.password.as_deref()?;
    (pw.as_bytes() == env.app_certificate.as_bytes()).then(|| Actor::EndUser(u.id.clone()))
}

fn may_act_for(actor: &Actor, user: &str) -> bool {
    match actor {
        Actor::App { proxy } => *proxy,
        Actor::EndUser(u) => u == user,
    }
}

/// Handles one EM API request.
pub async fn handle(c: &Cluster, req: &Req) -> Resp {
    if !c.em_service_running() {
        return into_response(HttpError::ServiceUnavailable);
    }
    if req.method != hyper::Method::POST {
        return into_response(HttpError::MethodNotAllowed);
    }
    c.counters().request_handled();
    let form = parse_urlencoded(&req.body);
    let Some((_, doc)) = form.iter().find(|(k, _)| k == "xml") else {
        return fail(c, code::PARSE, "Error on Parsing: no xml form field");
    };
    let env = match wire::parse_request(doc) {
        Ok(e) => e,
        Err(e) => return fail(c, e.code(), &e.to_string()),
    };
    let Some(actor) = authenticate(c, &env) else {
        return fail(
            c,
            code::INVALID_APP_USER,
            &format!("Could not authenticate '{}'", env.app_id),
        );
    };
    let origin = Origin {
        ip: Some(req.peer.ip()),
        via: req.headers.contains_key("via"),
    };
    let no_rights = EmError::new(code::NO_PROXY_RIGHTS, "no proxy rights");
    match env.request {
        ApiRequest::Login {
            device,
            user,
            profile,
            duration,
        } => {
            if !may_act_for(&actor, &user) {
                return fail_em(c, no_rights);
            }
            let op = Login {
                device,
                credential: Credential::Authorized { user },
                profile,
                duration,
                origin,
            };
            match op.apply(c).await {
                Ok(LoginOutcome::LoggedIn { .. }) => xml(wire::success()),
                Ok(LoginOutcome::ChooseProfile { .. }) => {
                    fail_em(c, EmError::new(code::NO_PROFILE, "no profile"))
                }
                Err(e) => fail_em(c, e),
            }
        }
        ApiRequest::Logout { device } => {
            let acting_user = match &actor {
                Actor::App { proxy: true } => None,
                Actor::App { proxy: false } => return fail_em(c, no_rights),
                Actor::EndUser(u) => Some(u.clone()),
            };
            match (Logout {
                device,
                acting_user,
                origin,
            })
            .apply(c)
            .await
            {
                Ok(_) => xml(wire::success()),
                Err(e) => fail_em(c, e),
            }
        }
        ApiRequest::LogoutAll => {
            if actor != (Actor::App { proxy: true }) {
                return fail_em(c, no_rights);
            }
            match (LogoutAll { origin }).apply(c).await {
                Ok(_) => xml(wire::success()),
                Err(e) => fail_em(c, e),
            }
        }
        ApiRequest::DeviceUserQuery { devices } => {
            if actor == (Actor::App { proxy: false }) {
                return fail_em(c, no_rights);
            }
            xml(wire::device_user_results(
                &DeviceUserQuery { devices }.apply(c),
            ))
        }
        ApiRequest::UserDevicesQuery { users } => {
            if !users.iter().all(|u| may_act_for(&actor, u)) {
                return fail_em(c, no_rights);
            }
            xml(wire::user_devices_results(
                &UserDevicesQuery { users }.apply(c),
            ))
        }
        ApiRequest::DeviceProfileQuery { users } => {
            if !users.iter().all(|u| may_act_for(&actor, u)) {
                return fail_em(c, no_rights);
            }
            xml(wire::device_profile_results(
                &DeviceProfileQuery { users }.apply(c),
            ))
        }
    }
}
