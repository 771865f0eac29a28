//! Bad input over real sockets: huge or malformed requests, invalid UTF-8, thousands of idle
//! connections, a client sending one byte a second. The cluster keeps serving everyone else.

use std::time::Duration;

use emroam_server::Options;
use emroam_server::http::Limits;
use hyper::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::util::*;

fn quick_limits() -> Options {
    Options {
        limits: Limits {
            header_read_timeout: Duration::from_millis(800),
            ..Limits::default()
        },
        ..Default::default()
    }
}

async fn healthy(addr: std::net::SocketAddr) {
    let (st, body) = get(addr, &format!("/emapp/EMAppServlet?device={P1}")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        body.contains("CiscoIPPhoneInput") || body.contains("CiscoIPPhoneText"),
        "{body}"
    );
}

#[tokio::test]
async fn oversized_and_malformed_requests() {
    let s = live(TOPO, quick_limits()).await;
    // A 20 KB query string: refused before any EM logic.
    let long = format!(
        "/emapp/EMAppServlet?device={P1}&userid={}&seq=1",
        "a".repeat(20_000)
    );
    // (A closed connection, from hyper's header limit, is also a refusal.)
    if let Ok((st, _, _)) = http(s.http, Method::GET, &long, Vec::new()).await {
        assert!(
            st == StatusCode::URI_TOO_LONG || st.as_u16() == 431 || st == StatusCode::BAD_REQUEST,
            "{st}"
        );
    }
    // A 10 KB query string under the hard limit but over ours: 414.
    let long = format!("/emapp/EMAppServlet?device={P1}&x={}", "b".repeat(10_000));
    assert_eq!(
        http(s.http, Method::GET, &long, Vec::new())
            .await
            .unwrap()
            .0,
        StatusCode::URI_TOO_LONG
    );
    // A 1 MB body: 413.
    let (st, _, _) = http(
        s.http,
        Method::POST,
        "/emservice/EMServiceServlet",
        vec![b'x'; 1 << 20],
    )
    .await
    .unwrap();
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE);
    // Malformed form and XML: code 1 with HTTP 200.
    for body in [
        &b"xml=%ZZ%"[..],
        b"xml=<request",
        b"\xff\xfe\xfd",
        b"xml=%ff%fe",
    ] {
        let (st, _, text) = http(
            s.http,
            Method::POST,
            "/emservice/EMServiceServlet",
            body.to_vec(),
        )
        .await
        .unwrap();
        assert_eq!(st, StatusCode::OK);
        assert!(text.contains("code=\"1\""), "{text}");
    }
    // Invalid UTF-8 and garbage in a phone's query string: a page, never a crash.
    let (st, body) = get(
        s.http,
        "/emapp/EMAppServlet?device=%ff%fe%00&userid=%c3%28&seq=%",
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(body.contains("Please try to login again (201)"), "{body}");
    let (st, body) = get(s.http, "/emapp/EMAppServlet?&&==&device&loginType=%00").await;
    assert_eq!(st, StatusCode::OK);
    assert!(body.contains("(207)"), "{body}");
    // Raw garbage instead of HTTP.
    let mut raw = tokio::net::TcpStream::connect(s.http).await.unwrap();
    raw.write_all(b"\x00\x01\x02 NOT HTTP\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), raw.read_to_end(&mut buf)).await;
    assert!(
        buf.is_empty() || buf.starts_with(b"HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&buf)
    );
    healthy(s.http).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_idle_connections_and_a_slow_client() {
    let s = live(TOPO, quick_limits()).await;
    let mut idle = Vec::new();
    for _ in 0..2000 {
        idle.push(tokio::net::TcpStream::connect(s.http).await.unwrap());
    }
    // A slow-loris client: one byte every 300 ms.
    let addr = s.http;
    let slow = tokio::spawn(async move {
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req =
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
        for b in req {
            if c.write_all(&[*b]).await.is_err() {
                return true; // closed on us
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let mut buf = [0u8; 64];
        matches!(c.read(&mut buf).await, Ok(0) | Err(_))
    });
    // Everyone else is served meanwhile.
    for _ in 0..20 {
        healthy(s.http).await;
    }
    assert!(slow.await.unwrap(), "the slow client was not cut off");
    // Idle connections were closed by the header read timeout.
    let mut closed = 0;
    for c in idle.iter_mut().take(50) {
        let mut buf = [0u8; 1];
        if matches!(
            tokio::time::timeout(Duration::from_secs(2), c.read(&mut buf)).await,
            Ok(Ok(0) | Err(_))
        ) {
            closed += 1;
        }
    }
    assert_eq!(closed, 50);
    healthy(s.http).await;
    s.shutdown().await;
}

/// Writes `request` on a fresh connection and reads until the server closes it (or 60 s of the
/// test's clock pass).
async fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), c.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "no answer and not closed after 60 s");
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test(start_paused = true)]
async fn a_stalled_body_is_answered_408_and_closed() {
    let s = live(TOPO, Options::default()).await;
    // Headers promise 100 bytes; 4 come, then nothing.
    let answer = exchange(
        s.http,
        b"POST /emservice/EMServiceServlet HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nxml=",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn http_1_1_without_host_is_a_bad_request() {
    let s = live(TOPO, quick_limits()).await;
    let answer = exchange(s.http, b"GET /metrics HTTP/1.1\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    // HTTP/1.0 has no Host requirement.
    let answer = exchange(s.http, b"GET /metrics HTTP/1.0\r\n\r\n").await;
    assert!(
        answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"),
        "{answer}"
    );
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_writes_a_2_mb_body_before_reading_sees_the_413() {
    let s = live(TOPO, quick_limits()).await;
    let addr = s.http;
    // What Python's urllib and Java's HttpURLConnection do: the whole body, then read.
    let answer = tokio::task::spawn_blocking(move || {
        use std::io::{Read as _, Write as _};
        let body = vec![b'x'; 2_000_000];
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let head = format!(
            "POST /emservice/EMServiceServlet HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        c.write_all(head.as_bytes()).unwrap();
        // A slow uploader: the body starts after the server has read the headers (a server
        // that answers 413 from Content-Length alone has closed by then, and the body meets
        // a reset).
        std::thread::sleep(Duration::from_millis(300));
        c.write_all(&body).map_err(|e| format!("writing the body: {e}"))?;
        let mut buf = Vec::new();
        c.read_to_end(&mut buf)
            .map_err(|e| format!("reading the answer: {e}"))?;
        Ok::<_, String>(String::from_utf8_lossy(&buf).into_owned())
    })
    .await
    .unwrap();
    let answer = answer.unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    healthy(s.http).await;
    s.shutdown().await;
}
