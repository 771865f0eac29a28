//! The fleet's control port: what the dashboard's `p`, `Space`, `+` and `-` do, over HTTP, so a
//! script can pause, resume or change the arrival rate of a running fleet as a QA engineer does
//! by hand (`emroam fleet PROFILE --control 127.0.0.1:9990`).
//!
//! Routes (JSON answers `{"paused": bool, "rate_factor": f64}`):
//! - `GET /control`: the current state;
//! - `POST /control/pause`, `POST /control/resume`;
//! - `POST /control/rate?factor=F` sets the multiplier of the profile's open-model arrival
//!   rates (0 < F ≤ 1000); `?times=F` multiplies the current one (the dashboard's `+` is 1.25).
//!
//! Loopback only: the fleet refuses to listen anywhere else (it has no token scheme).
//! [`handle`] is the whole behaviour and is callable without a socket.

use std::net::SocketAddr;

use hyper::{Method, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use emroam_emulator::fleet::Control;

/// Answers one control request: the status and a JSON (or plain error) body.
pub fn handle(
    method: &Method,
    path: &str,
    query: &str,
    control: &watch::Sender<Control>,
) -> (StatusCode, String) {
    let arg = |name: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.parse::<f64>())
    };
    let changed = match (method, path) {
        (&Method::GET, "/control") => true,
        (&Method::POST, "/control/pause") => {
            control.send_modify(|c| c.paused = true);
            true
        }
        (&Method::POST, "/control/resume") => {
            control.send_modify(|c| c.paused = false);
            true
        }
        (&Method::POST, "/control/rate") => {
            let current = control.borrow().rate_factor;
            let wanted = match (arg("factor"), arg("times")) {
                (Some(Ok(f)), None) => f,
                (None, Some(Ok(t))) => current * t,
                _ => {
                    return (
                        StatusCode::BAD_REQUEST,
                        "want ?factor=F or ?times=F with a number\n".to_owned(),
                    );
                }
            };
            if !(wanted.is_finite() && wanted > 0.0 && wanted <= 1000.0) {
                return (
                    StatusCode::BAD_REQUEST,
                    format!("rate factor {wanted} is outside (0, 1000]\n"),
                );
            }
            control.send_modify(|c| c.rate_factor = wanted);
            true
        }
        (_, "/control" | "/control/pause" | "/control/resume" | "/control/rate") => {
            return (
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed\n".to_owned(),
            );
        }
        _ => false,
    };
    if !changed {
        return (StatusCode::NOT_FOUND, "no such control\n".to_owned());
    }
    let c = *control.borrow();
    (
        StatusCode::OK,
        serde_json::json!({ "paused": c.paused, "rate_factor": c.rate_factor }).to_string(),
    )
}

/// Binds the control port (loopback only) and serves it until `token` is cancelled.
///
/// # Errors
/// The address is not a loopback address, or cannot be bound.
pub async fn start(
    addr: SocketAddr,
    control: watch::Sender<Control>,
    token: CancellationToken,
) -> anyhow::Result<SocketAddr> {
    anyhow::ensure!(
        addr.ip().is_loopback(),
        "--control {addr}: the control port listens on loopback only"
    );
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("--control {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    let (up_tx, up_rx) = watch::channel(true);
    tokio::spawn(async move {
        // The sender lives as long as the server: the port is never switched off.
        let _up = up_tx;
        let handler = move |req: hyper::Request<hyper::body::Incoming>, _peer: SocketAddr| {
            let (status, body) = handle(
                req.method(),
                req.uri().path(),
                req.uri().query().unwrap_or(""),
                &control,
            );
            let ct = if status == StatusCode::OK {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            };
            std::future::ready(emroam_server::http::respond(status, ct, body))
        };
        emroam_server::http::serve(
            listener,
            handler,
            emroam_server::http::Limits::default(),
            up_rx,
            token,
        )
        .await;
    });
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctl() -> watch::Sender<Control> {
        watch::channel(Control::default()).0
    }

    #[test]
    fn pause_resume_and_rate_change_what_the_fleet_reads() {
        let c = ctl();
        let rx = c.subscribe();
        assert_eq!(
            handle(&Method::POST, "/control/pause", "", &c).0,
            StatusCode::OK
        );
        assert!(rx.borrow().paused);
        let (s, body) = handle(&Method::POST, "/control/rate", "factor=2.5", &c);
        assert_eq!(s, StatusCode::OK);
        assert!(body.contains("\"rate_factor\":2.5"), "{body}");
        handle(&Method::POST, "/control/rate", "times=2", &c);
        assert_eq!(rx.borrow().rate_factor, 5.0);
        handle(&Method::POST, "/control/resume", "", &c);
        let (_, body) = handle(&Method::GET, "/control", "", &c);
        assert_eq!(body, r#"{"paused":false,"rate_factor":5.0}"#);
    }

    #[test]
    fn bad_requests_change_nothing() {
        let c = ctl();
        for (m, p, q) in [
            (Method::POST, "/control/rate", ""),
            (Method::POST, "/control/rate", "factor=abc"),
            (Method::POST, "/control/rate", "factor=0"),
            (Method::POST, "/control/rate", "factor=-1"),
            (Method::POST, "/control/rate", "factor=NaN"),
            (Method::POST, "/control/rate", "factor=1e9"),
            (Method::GET, "/control/pause", ""),
            (Method::POST, "/elsewhere", ""),
        ] {
            let (s, _) = handle(&m, p, q, &c);
            assert_ne!(s, StatusCode::OK, "{m} {p}?{q}");
        }
        assert_eq!(*c.borrow(), Control::default());
    }

    #[tokio::test]
    async fn refuses_non_loopback_and_serves_over_http() {
        let token = CancellationToken::new();
        assert!(
            start("0.0.0.0:0".parse().unwrap(), ctl(), token.clone())
                .await
                .is_err()
        );
        let c = ctl();
        let rx = c.subscribe();
        let addr = start("127.0.0.1:0".parse().unwrap(), c, token.clone())
            .await
            .unwrap();
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        s.write_all(b"POST /control/pause HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).await.unwrap();
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
        assert!(rx.borrow().paused);
        token.cancel();
    }
}
