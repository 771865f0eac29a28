//! The admin and fault-injection API, under `/admin/` on every cluster's HTTP port, JSON in
//! and out. Any cluster's port can address every cluster of the process, so a cluster whose
//! listeners are down can be brought back through another (or with `for_secs`).
//!
//! Refuses peers that are not loopback unless they send `Authorization: Bearer <token>` with
//! the token the server was started with.
//!
//! Routes (`{id}`: cluster ID):
//! - `GET  /admin/clusters` — every cluster's status
//! - `GET  /admin/clusters/{id}` — one cluster's status
//! - `GET  /admin/clusters/{id}/params`, `PUT|POST` with a partial JSON object — service parameters
//! - `POST /admin/clusters/{id}/emapp/stop|start` — EM application (phones get HTTP 503)
//! - `POST /admin/clusters/{id}/emservice/stop|start` — EM service (the application answers 208)
//! - `POST /admin/clusters/{id}/listeners/stop|start[?for_secs=N]` — every listener (refused)
//! - `GET  /admin/clusters/{id}/logins` — logged-in devices and users
//! - `GET  /admin/clusters/{id}/restarts` — pending restarts/resets (not cleared)
//! - `GET  /admin/clusters/{id}/counters` — the counters (as `/metrics.json`)

use std::time::Duration;

use hyper::{Method, StatusCode};
use serde::Serialize;

use crate::cluster::{Cluster, RestartKind};
use crate::counters::CounterSnapshot;
use crate::http::{HttpError, Req, Resp, into_response, json};
use crate::params::ParamsPatch;

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
#[derive(Debug, Clone, Serialize)]
pub struct CountersDoc {
    /// Cluster ID.
    pub cluster: String,
    /// RTMT counters by exact name, the in-progress peak, and `codes` (EM code → count).
    pub counters: CounterSnapshot,
}

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

/// The counters document of a cluster.
pub fn counters_doc(c: &Cluster) -> CountersDoc {
    CountersDoc {
        cluster: c.id().to_owned(),
        counters: c.counters().snapshot(),
    }
}

fn bad(status: StatusCode, msg: impl Into<String>) -> Resp {
    json(status, &ErrorDoc { error: msg.into() })
}

/// Whether the request may use the admin API.
pub fn authorized(req: &Req, token: Option<&str>) -> bool {
    if req.peer.ip().is_loopback() {
        return true;
    }
    let Some(token) = token else { return false };
    req.header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|t| t.trim().as_bytes() == token.as_bytes())
}

/// Handles one admin request against the process's clusters.
pub async fn handle(all: &[Cluster], token: Option<&str>, req: &Req) -> Resp {
    if !authorized(req, token) {
        return into_response(HttpError::Forbidden);
    }
    let parts: Vec<&str> = req.path.trim_end_matches('/').split('/').skip(2).collect();
    let find = |id: &str| all.iter().find(|c| c.id() == id);
    match (&req.method, parts.as_slice()) {
        (&Method::GET, ["clusters"]) => {
            json(StatusCode::OK, &all.iter().map(status).collect::<Vec<_>>())
        }
        (m, ["clusters", id, rest @ ..]) => {
            let Some(c) = find(id) else {
                return bad(StatusCode::NOT_FOUND, format!("no cluster {id:?}"));
            };
            cluster_route(c, m, rest, req)
        }
        _ => into_response(HttpError::NotFound),
    }
}

fn cluster_route(c: &Cluster, m: &Method, rest: &[&str], req: &Req) -> Resp {
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
        (&Method::POST, [what, action @ ("start" | "stop")]) => {
            let on = *action == "start";
            match *what {
                "emapp" => c.set_em_app_running(on),
                "emservice" => c.set_em_service_running(on),
                "listeners" => {
                    c.set_listeners_up(on);
                    let back = req.param("for_secs").and_then(|s| s.parse::<u64>().ok());
                    if let (false, Some(secs)) = (on, back) {
                        let c2 = c.clone();
                        let token = c.token().clone();
                        c.tracker().spawn(async move {
                            tokio::select! {
                                () = tokio::time::sleep(Duration::from_secs(secs)) => c2.set_listeners_up(true),
                                () = token.cancelled() => {}
                            }
                        });
                    }
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
        (&Method::GET, ["counters"]) => json(StatusCode::OK, &counters_doc(c)),
        (_, ["params" | "logins" | "restarts" | "counters"] | []) => {
            into_response(HttpError::MethodNotAllowed)
        }
        _ => into_response(HttpError::NotFound),
    }
}
