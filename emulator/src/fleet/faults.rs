//! The profile's fault schedule: each fault is an admin request fired at its time into the
//! run, with what came back kept for the report.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::profile::Fault;
use crate::driver::HttpClient;
use crate::phone::{HttpRequest, Method};

/// One fault as fired.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FaultResult {
    /// Seconds into the run.
    pub at_s: f64,
    /// Method and URL.
    pub request: String,
    /// Status, or the failure.
    pub result: String,
}

/// Fires `faults` in order, each at `start` + its time, until `token` is cancelled; returns
/// those fired.
pub(super) async fn fire_all(
    faults: Vec<Fault>,
    start: Instant,
    timeout: Duration,
    token: CancellationToken,
) -> Vec<FaultResult> {
    let mut done = Vec::new();
    for f in faults {
        tokio::select! {
            () = tokio::time::sleep_until(start + f.at) => {}
            () = token.cancelled() => break,
        }
        let result = fire(&f, timeout).await;
        tracing::info!(url = %f.url, %result, "fault fired");
        done.push(FaultResult {
            at_s: start.elapsed().as_secs_f64(),
            request: format!("{} {}", f.method, f.url),
            result,
        });
    }
    done
}

/// Fires a fault request; returns what came back.
async fn fire(f: &Fault, timeout: Duration) -> String {
    let method = match f.method.as_str() {
        "GET" => Method::Get,
        _ => Method::Post,
    };
    let req = HttpRequest {
        method,
        url: f.url.clone(),
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: (method == Method::Post).then(|| f.body.clone()),
        secrets: vec![],
    };
    match HttpClient::new(timeout).send(&req).await {
        Ok(r) => format!("HTTP {}", r.status),
        Err(e) => format!("{e} ({e:?})"),
    }
}
