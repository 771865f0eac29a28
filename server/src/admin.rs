//! The admin and fault-injection API, under `/admin/` on every cluster's HTTP port, JSON in
//! and out. Any cluster's port can address every cluster of the process, so a cluster whose
//! listeners are down can be brought back through another (or with `for_secs`).
//!
//! Refuses peers that are not loopback unless they send `Authorization: Bearer <token>` with
//! the token the server was started with; a wrong token is refused from loopback too.
//!
//! Routes (`{id}`: cluster ID):
//! - `GET  /admin/clusters` — every cluster's status
//! - `GET  /admin/clusters/{id}` — one cluster's status
//! - `GET  /admin/clusters/{id}/params`, `PUT|POST` with a partial JSON object — service parameters
//!   (the EM ones and `sip_station_keepalive_interval`, seconds)
//! - `POST /admin/clusters/{id}/emapp/stop|start` — EM application (phones get HTTP 503)
//! - `POST /admin/clusters/{id}/emservice/stop|start` — EM service (the application answers 208)
//! - `POST /admin/clusters/{id}/listeners/stop|start[?for_secs=N]` — every listener (refused)
//! - `GET  /admin/clusters/{id}/logins` — logged-in devices and users
//! - `GET  /admin/clusters/{id}/restarts` — pending restarts/resets (not cleared)
//! - `GET  /admin/clusters/{id}/counters` — the counters (as `/metrics.json`)
//!
//! EM roaming and ILS ([`crate::ils`]):
//! - `GET  /admin/ils` — every cluster's ILS status
//! - `GET  /admin/clusters/{id}/ils` — role, peers and their sync status, Cluster View,
//!   location records, deferred logouts pending, ILS counters
//! - `POST /admin/clusters/{id}/ils/stop|start[?for_secs=N]` — ILS alone down/up (cluster down
//!   is `listeners/stop`, which takes ILS down too)
//! - `POST /admin/clusters/{id}/ils/links/{peer}/cut|heal` — one ILS link (both ends when the
//!   peer runs in this process)
//! - `POST|PUT /admin/clusters/{id}/ils/sync-interval?secs=N` — full sync interval (fractions ok)
//! - `POST /admin/clusters/{id}/ils/sync` — full sync to every peer now
//! - `GET  /admin/clusters/{id}/locate/{dn}` — where a directory number is registered now
//! - `POST|PUT /admin/clusters/{id}/users/{user}/superuser?on=true|false` — the user's
//!   membership of "Standard EM Roaming Across Clusters Super Users" (syncs at once)
//! - `GET  /admin/superuser-sync` — the superuser sync tool's page (HTML: clusters, superusers,
//!   last and next sync, a Sync now button); `?format=json` for JSON
//! - `POST /admin/superuser-sync` — Sync now (every cluster of the process; answers the page)
//! - `POST|PUT /admin/superuser-sync/schedule?secs=N` — the tool's schedule

use std::collections::HashMap;
use std::time::Duration;

use hyper::{Method, StatusCode};
use serde::Serialize;

use crate::cluster::{Cluster, RestartKind};
use crate::http::{HttpError, Req, Resp, into_response, json};
use crate::params::ParamsPatch;
use crate::sip::{Sip, SipCounters};

/// One cluster's status as `GET /admin/clusters/{id}` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterStatus {
    /// Cluster ID.
    pub id: String,
    /// HTTP address phones use.
    pub http: String,
    /// EM application running.
    pub em_app: bool,
    /// EM service running.
    pub em_service: bool,
    /// Listeners accepting connections.
    pub listeners: bool,
    /// Service parameters.
    pub params: ParamsPatch,
    /// Committed logins.
    pub logins: usize,
}

/// The counters JSON of `/metrics.json` and `/admin/clusters/{id}/counters`.
pub use emroam_schema::counters::CountersDoc;

#[derive(Debug, Serialize)]
struct Restart {
    device: String,
    action: RestartKind,
}

#[derive(Debug, Serialize)]
struct ErrorDoc {
    error: String,
}

/// The status of a cluster.
pub fn status(c: &Cluster) -> ClusterStatus {
    ClusterStatus {
        id: c.id().to_owned(),
        http: c.http_addr().to_string(),
        em_app: c.em_app_running(),
        em_service: c.em_service_running(),
        listeners: c.listeners_up(),
        params: c.params().to_patch(),
        logins: c.logins().len(),
    }
}

/// The counters document of a cluster; `sip`: its SIP side's counters, if it runs SIP.
pub fn counters_doc(c: &Cluster, sip: Option<SipCounters>) -> CountersDoc {
    CountersDoc {
        cluster: c.id().to_owned(),
        counters: c.counters().snapshot(),
        ils: c.ils_counters(),
        sip,
    }
}

fn secs_param(req: &Req) -> Option<Duration> {
    req.param("secs")
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
        .map(Duration::from_secs_f64)
}

fn tool_statuses(all: &[Cluster]) -> Vec<crate::ils::superusers::ToolStatus> {
    all.iter().map(Cluster::superuser_tool_status).collect()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn when(ms: Option<i64>) -> String {
    ms.map_or_else(
        || "never".to_owned(),
        |ms| {
            let ago = (crate::cluster::now_ms() - ms) as f64 / 1000.0;
            if ago >= 0.0 {
                format!("{ago:.1} s ago (unix ms {ms})")
            } else {
                format!("in {:.1} s (unix ms {ms})", -ago)
            }
        },
    )
}

/// The superuser sync tool's web page.
fn superuser_page(all: &[Cluster], note: Option<&str>) -> Resp {
    use std::fmt::Write as _;
    let mut h = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Superuser Sync Tool</title></head><body>\n<h1>Superuser Sync Tool</h1>\n<p>Copies the members of &quot;Standard EM Roaming Across Clusters Super Users&quot; and their device profiles to every cluster.</p>\n",
    );
    if let Some(n) = note {
        let _ = writeln!(h, "<p><strong>{}</strong></p>", esc(n));
    }
    h.push_str("<table border=\"1\"><tr><th>Cluster</th><th>Its superusers</th><th>Superusers copied here</th><th>Last sync</th><th>Next sync</th><th>Every</th></tr>\n");
    for t in tool_statuses(all) {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} s</td></tr>",
            esc(&t.cluster),
            esc(&t.superusers.join(", ")),
            esc(&t.synced.join(", ")),
            esc(&when(t.last_sync_ms)),
            esc(&when(t.next_sync_ms)),
            t.interval_secs
        );
    }
    h.push_str("</table>\n<form method=\"post\" action=\"/admin/superuser-sync\"><button type=\"submit\">Sync now</button></form>\n</body></html>\n");
    crate::http::respond(StatusCode::OK, "text/html; charset=utf-8", h)
}

fn bad(status: StatusCode, msg: impl Into<String>) -> Resp {
    json(status, &ErrorDoc { error: msg.into() })
}

/// Whether the request may use the admin API: a request with the right token from anywhere,
/// or one from loopback with no `Authorization` at all. A wrong token is refused from loopback
/// too (it is someone guessing, or a tool with a stale token that should hear so).
pub fn authorized(req: &Req, token: Option<&str>) -> bool {
    let Some(given) = req.headers.get(hyper::header::AUTHORIZATION) else {
        return req.peer.ip().is_loopback();
    };
    let Some(token) = token else { return false };
    given
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|t| crate::secret::same(t.trim().as_bytes(), token.as_bytes()))
}

/// Handles one admin request against the process's clusters (`sips`: the SIP side of those
/// that run one, by cluster ID).
pub async fn handle(
    all: &[Cluster],
    sips: &HashMap<String, Sip>,
    token: Option<&str>,
    req: &Req,
) -> Resp {
    if !authorized(req, token) {
        return into_response(HttpError::Forbidden);
    }
    let parts: Vec<&str> = req.path.trim_end_matches('/').split('/').skip(2).collect();
    let find = |id: &str| all.iter().find(|c| c.id() == id);
    match (&req.method, parts.as_slice()) {
        (&Method::GET, ["clusters"]) => {
            json(StatusCode::OK, &all.iter().map(status).collect::<Vec<_>>())
        }
        (&Method::GET, ["ils"]) => json(
            StatusCode::OK,
            &all.iter().map(Cluster::ils_status).collect::<Vec<_>>(),
        ),
        (&Method::GET, ["superuser-sync"]) => {
            if req.param("format").as_deref() == Some("json") {
                json(StatusCode::OK, &tool_statuses(all))
            } else {
                superuser_page(all, None)
            }
        }
        (&Method::POST, ["superuser-sync"]) => {
            for c in all {
                c.superuser_sync_now();
            }
            tracing::info!("superuser sync: Sync now");
            superuser_page(all, Some("Sync started."))
        }
        (&Method::POST | &Method::PUT, ["superuser-sync", "schedule"]) => {
            let Some(d) = secs_param(req) else {
                return bad(
                    StatusCode::BAD_REQUEST,
                    "secs: a positive number of seconds",
                );
            };
            for c in all {
                c.set_superuser_sync_interval(d);
            }
            json(StatusCode::OK, &tool_statuses(all))
        }
        (
            m,
            [
                "clusters",
                id,
                "ils",
                "links",
                peer,
                action @ ("cut" | "heal"),
            ],
        ) if m == Method::POST => {
            let Some(c) = find(id) else {
                return bad(StatusCode::NOT_FOUND, format!("no cluster {id:?}"));
            };
            if !c.is_ils_peer(peer) {
                return bad(
                    StatusCode::NOT_FOUND,
                    format!("{peer:?} is not an ILS peer of {id:?}"),
                );
            }
            let cut = *action == "cut";
            c.set_link_cut(peer, cut);
            if let Some(p) = find(peer) {
                p.set_link_cut(id, cut);
            }
            tracing::warn!(cluster = %id, %peer, action, "admin ILS link");
            json(StatusCode::OK, &c.ils_status())
        }
        (m, ["clusters", id, rest @ ..]) => {
            let Some(c) = find(id) else {
                return bad(StatusCode::NOT_FOUND, format!("no cluster {id:?}"));
            };
            cluster_route(c, sips.get(c.id()), m, rest, req)
        }
        _ => into_response(HttpError::NotFound),
    }
}

fn cluster_route(c: &Cluster, sip: Option<&Sip>, m: &Method, rest: &[&str], req: &Req) -> Resp {
    match (m, rest) {
        (&Method::GET, []) => json(StatusCode::OK, &status(c)),
        (&Method::GET, ["params"]) => json(StatusCode::OK, &c.params().to_patch()),
        (&Method::PUT | &Method::POST, ["params"]) => {
            match serde_json::from_slice::<ParamsPatch>(&req.body) {
                Ok(p) => match c.update_params(&p) {
                    Ok(n) => {
                        tracing::info!(cluster = %c.id(), patch = ?p, "service parameters changed");
                        json(StatusCode::OK, &n.to_patch())
                    }
                    Err(e) => bad(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
                },
                Err(e) => bad(StatusCode::BAD_REQUEST, e.to_string()),
            }
        }
        (&Method::GET, ["ils"]) => json(StatusCode::OK, &c.ils_status()),
        (&Method::POST, ["ils", "sync"]) => {
            c.ils_sync_now();
            json(StatusCode::OK, &c.ils_status())
        }
        (&Method::POST | &Method::PUT, ["ils", "sync-interval"]) => {
            let Some(d) = secs_param(req) else {
                return bad(
                    StatusCode::BAD_REQUEST,
                    "secs: a positive number of seconds",
                );
            };
            c.set_sync_interval(d);
            tracing::info!(cluster = %c.id(), secs = d.as_secs_f64(), "ILS sync interval changed");
            json(StatusCode::OK, &c.ils_status())
        }
        (&Method::GET, ["locate", dn]) => match c.locate_dn(dn) {
            Some(l) => json(StatusCode::OK, &l),
            None => bad(StatusCode::NOT_FOUND, format!("{dn:?} is not known here")),
        },
        (&Method::POST | &Method::PUT, ["users", user, "superuser"]) => {
            let on = req.param("on").as_deref() != Some("false");
            if c.make_superuser(user, on) {
                json(StatusCode::OK, &c.superuser_tool_status())
            } else {
                bad(StatusCode::NOT_FOUND, format!("no home user {user:?}"))
            }
        }
        (&Method::POST, [what, action @ ("start" | "stop")]) => {
            let on = *action == "start";
            let later = |c: &Cluster, f: fn(&Cluster, bool)| {
                let back = req.param("for_secs").and_then(|s| s.parse::<u64>().ok());
                if let (false, Some(secs)) = (on, back) {
                    let c2 = c.clone();
                    let token = c.token().clone();
                    c.tracker().spawn(async move {
                        tokio::select! {
                            () = tokio::time::sleep(Duration::from_secs(secs)) => f(&c2, true),
                            () = token.cancelled() => {}
                        }
                    });
                }
            };
            match *what {
                "emapp" => c.set_em_app_running(on),
                "emservice" => c.set_em_service_running(on),
                "listeners" => {
                    c.set_listeners_up(on);
                    later(c, Cluster::set_listeners_up);
                }
                "ils" => {
                    c.set_ils_running(on);
                    later(c, Cluster::set_ils_running);
                }
                _ => return into_response(HttpError::NotFound),
            }
            tracing::warn!(cluster = %c.id(), what, action, "admin switch");
            json(StatusCode::OK, &status(c))
        }
        (&Method::GET, ["logins"]) => json(StatusCode::OK, &c.logins()),
        (&Method::GET, ["restarts"]) => {
            let v: Vec<Restart> = c
                .pending_restarts()
                .into_iter()
                .map(|(device, action)| Restart { device, action })
                .collect();
            json(StatusCode::OK, &v)
        }
        (&Method::GET, ["counters"]) => {
            json(StatusCode::OK, &counters_doc(c, sip.map(Sip::counters)))
        }
        (_, ["params" | "logins" | "restarts" | "counters" | "ils"] | []) => {
            into_response(HttpError::MethodNotAllowed)
        }
        _ => into_response(HttpError::NotFound),
    }
}
