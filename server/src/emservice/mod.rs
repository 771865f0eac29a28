//! The EM API servlet, `/emservice/EMServiceServlet` on the HTTP port.
//!
//! POST with a form field `xml=`; always HTTP 200 with the result in the body, as CUCM
//! answers. `appInfo` authenticates an application user (proxy rights let it act for anyone)
//! or an end user acting for themselves. Parsing and rendering are [`emroam_protocol::emapi`]'s;
//! the work is [`crate::ops`]. `exclusiveDuration/time` is read as minutes (UNCONFIRMED unit).

use std::time::Duration;

use emroam_protocol::emapi::{self, Envelope, ExclusiveDuration, Request, Response};

use crate::cluster::{Cluster, Origin};
use crate::em::{EmError, code};
use crate::http::{HttpError, Req, Resp, into_response, xml};
use crate::ops::{
    self, Credential, DeviceProfileQuery, DeviceUserQuery, Login, LoginDuration, LoginOutcome,
    Logout, LogoutAll, UserDevicesQuery,
};

/// The EM service's path.
pub const PATH: &str = emroam_schema::em_url::EMSERVICE_PATH;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Actor {
    /// An application user; `proxy`: in "Standard EM Authentication Proxy Rights".
    App { proxy: bool },
    /// An end user acting for themselves.
    EndUser(String),
}

/// The EM API message for a code (the catalogue's name for it).
fn message(code: u16) -> &'static str {
    emroam_protocol::codes::lookup(code).map_or("Unknown Error", |c| c.name)
}

fn fail(c: &Cluster, code: u16, msg: &str) -> Resp {
    c.counters().code(code);
    tracing::debug!(cluster = %c.id(), code, "EM service failure");
    xml(Response::Failure {
        code,
        message: msg.to_owned(),
    }
    .to_xml())
}

fn fail_em(c: &Cluster, e: EmError) -> Resp {
    fail(c, e.code, message(e.code))
}

fn authenticate(c: &Cluster, env: &Envelope) -> Option<Actor> {
    let (id, secret) = (&env.app_info.app_id, env.app_info.credential.secret());
    if let Some(a) = c.app_user(id) {
        return crate::secret::same(secret.as_bytes(), a.password.as_bytes()).then_some(
            Actor::App {
                proxy: a.proxy_rights,
            },
        );
    }
    let u = c.user(id)?;
    let pw = u.password.as_deref()?;
    crate::secret::same(secret.as_bytes(), pw.as_bytes()).then(|| Actor::EndUser(u.id.clone()))
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
    let env = match emapi::xml_from_form(&req.body)
        .and_then(|doc| emapi::parse_request(doc.as_bytes()))
    {
        Ok(e) => e,
        Err(e) => return fail(c, e.em_code(), &e.to_string()),
    };
    let Some(actor) = authenticate(c, &env) else {
        return fail(
            c,
            code::INVALID_APP_USER,
            &format!("Could not authenticate '{}'", env.app_info.app_id),
        );
    };
    let peer = Origin {
        ip: Some(req.peer.ip()),
        via: req.headers.contains_key("via"),
    };
    // A request may speak for the phone (`remoteIPAddr`, `isViaHeaderSet`, as CUCM's EMApp
    // sends them); the HTTP peer stands in for what it leaves out.
    let origin_of = |ip: Option<&String>, via: Option<bool>| Origin {
        ip: ip.and_then(|s| s.trim().parse().ok()).or(peer.ip),
        via: via.unwrap_or(peer.via),
    };
    let no_rights = EmError::new(code::NO_PROXY_RIGHTS, "no proxy rights");
    match env.request {
        Request::Login(l) => {
            if !may_act_for(&actor, &l.user_id) {
                return fail_em(c, no_rights);
            }
            let duration = match l.exclusive_duration {
                None => LoginDuration::Default,
                Some(ExclusiveDuration::Indefinite) => LoginDuration::Indefinite,
                Some(ExclusiveDuration::Time(mins)) => {
                    LoginDuration::Time(Duration::from_secs(u64::from(mins) * 60))
                }
            };
            let origin = origin_of(l.remote_ip_addr.as_ref(), l.is_via_header_set);
            let op = Login {
                device: l.device_name,
                credential: Credential::Authorized { user: l.user_id },
                profile: l.device_profile.filter(|p| !p.is_empty()),
                duration,
                origin,
            };
            match op.apply(c).await {
                Ok(LoginOutcome::LoggedIn { .. }) => xml(Response::Success.to_xml()),
                Ok(LoginOutcome::ChooseProfile { .. }) => fail_em(
                    c,
                    EmError::new(code::DEVICE_PROFILE_NOT_FOUND, "no profile"),
                ),
                Err(e) => fail_em(c, e),
            }
        }
        Request::Logout(l) => {
            let acting_user = match &actor {
                Actor::App { proxy: true } => None,
                Actor::App { proxy: false } => return fail_em(c, no_rights),
                Actor::EndUser(u) => Some(u.clone()),
            };
            let origin = origin_of(l.remote_ip_addr.as_ref(), l.is_via_header_set);
            let op = Logout {
                device: l.device_name,
                acting_user,
                origin,
            };
            match op.apply(c).await {
                Ok(_) => xml(Response::Success.to_xml()),
                Err(e) => fail_em(c, e),
            }
        }
        Request::LogoutAll(l) => {
            let origin = origin_of(l.remote_ip_addr.as_ref(), l.is_via_header_set);
            if actor != (Actor::App { proxy: true }) {
                return fail_em(c, no_rights);
            }
            match (LogoutAll { origin }).apply(c).await {
                Ok(_) => xml(Response::Success.to_xml()),
                Err(e) => fail_em(c, e),
            }
        }
        Request::DeviceUserQuery(q) => {
            // Who is on a device is about other users: proxy rights only (an end user acts on
            // their own profiles, and has `userDevicesQuery` for where they are).
            if actor != (Actor::App { proxy: true }) {
                return fail_em(c, no_rights);
            }
            let query = DeviceUserQuery {
                devices: q.device_names,
            };
            let last = query.last_logins(c);
            let r = query.apply(c);
            let results = r
                .into_iter()
                .zip(last)
                .map(|((device_name, a), last_login)| emapi::DeviceUser {
                    last_login: last_login.filter(|_| a != ops::DeviceUser::DoesNotExist),
                    device_name,
                    user_id: match &a {
                        ops::DeviceUser::User(u) => Some(u.clone()),
                        _ => None,
                    },
                    none: a == ops::DeviceUser::Nobody,
                    does_not_exist: a == ops::DeviceUser::DoesNotExist,
                    ..Default::default()
                })
                .collect();
            xml(Response::DeviceUserResults(results).to_xml())
        }
        Request::UserDevicesQuery(q) => {
            if !q.user_ids.iter().all(|u| may_act_for(&actor, u)) {
                return fail_em(c, no_rights);
            }
            let r = UserDevicesQuery { users: q.user_ids }.apply(c);
            let results = r
                .into_iter()
                .map(|(user_id, a)| emapi::UserDevices {
                    user_id,
                    none: a == ops::UserDevices::Nobody,
                    does_not_exist: a == ops::UserDevices::DoesNotExist,
                    device_names: match a {
                        ops::UserDevices::Devices(d) => d,
                        _ => Vec::new(),
                    },
                })
                .collect();
            xml(Response::UserDevicesResults(results).to_xml())
        }
        Request::DeviceProfileQuery(q) => {
            if !q.user_ids.iter().all(|u| may_act_for(&actor, u)) {
                return fail_em(c, no_rights);
            }
            let r = DeviceProfileQuery { users: q.user_ids }.apply(c);
            let results = r
                .into_iter()
                .map(|(user_id, a)| match a {
                    ops::ProfileResult::DoesNotExist => emapi::UserDeviceProfiles {
                        user_id,
                        does_not_exist: true,
                        ..Default::default()
                    },
                    ops::ProfileResult::Profiles(ps) => emapi::UserDeviceProfiles {
                        user_id,
                        none: ps.is_empty(),
                        profiles: ps
                            .into_iter()
                            .map(|(name, is_default)| emapi::DeviceProfile { name, is_default })
                            .collect(),
                        does_not_exist: false,
                    },
                })
                .collect();
            xml(Response::DeviceProfileResults(results).to_xml())
        }
    }
}
