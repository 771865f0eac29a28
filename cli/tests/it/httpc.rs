//! The phone's HTTP client ([`HttpClient`] over `emroam_emulator::httpc`) against scripted raw servers
//! on port 0: keep-alive, the one retry, and malformed, truncated, oversized and hostile
//! responses, each giving the phone's failure and never a panic or a hang.

use std::sync::atomic::Ordering;
use std::time::Duration;

use emroam_emulator::driver::HttpClient;
use emroam_emulator::phone::http::MAX_BODY_BYTES;
use emroam_emulator::phone::{HttpFailure, HttpRequest, Method};

use crate::util::{Reply, dead_addr, spawn_raw};

fn get(addr: std::net::SocketAddr) -> HttpRequest {
    HttpRequest {
        method: Method::Get,
        url: format!("http://{addr}/emapp/EMAppServlet?device=SEP000000001001#frag"),
        headers: vec![("x-CiscoIPPhoneModelName".into(), "CP-8865".into())],
        body: None,
        secrets: Vec::new(),
    }
}

fn ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn client() -> HttpClient {
    HttpClient::new(Duration::from_secs(5))
}

/// One request to a server that answers it with `bytes` and closes.
async fn once(bytes: Vec<u8>) -> Result<emroam_emulator::phone::HttpResponse, HttpFailure> {
    let (addr, _) = spawn_raw(move |_| Reply::SendAndClose(bytes.clone())).await;
    client().send(&get(addr)).await
}

#[tokio::test]
async fn keep_alive_reuses_one_connection_and_idle_lets_it_go() {
    use emroam_emulator::driver::Transport as _;
    let (addr, conns) = spawn_raw(|n| Reply::Send(ok(&format!("page {n}")))).await;
    let mut c = client();
    for n in 0..3 {
        let r = c.send(&get(addr)).await.unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("text/xml"));
        assert_eq!(r.headers[0].0, "content-type", "names lower-cased");
        assert_eq!(r.body, format!("page {n}").as_bytes());
    }
    assert_eq!(conns.load(Ordering::SeqCst), 1);
    c.idle();
    c.send(&get(addr)).await.unwrap();
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn chunked_and_until_close_bodies_and_post() {
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    let (addr, conns) = spawn_raw(move |n| match n {
        0 => Reply::Send(chunked.to_vec()),
        _ => Reply::SendAndClose(b"HTTP/1.0 200 OK\r\n\r\nuntil close".to_vec()),
    })
    .await;
    let mut c = client();
    assert_eq!(c.send(&get(addr)).await.unwrap().body, b"hello world");
    let mut post = get(addr);
    post.method = Method::Post;
    post.body = Some("userid=bob&seq=12345".into());
    assert_eq!(c.send(&post).await.unwrap().body, b"until close");
    assert_eq!(conns.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn connection_close_is_honoured() {
    let (addr, conns) = spawn_raw(|_| {
        Reply::Send(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok".to_vec())
    })
    .await;
    let mut c = client();
    for _ in 0..2 {
        assert_eq!(c.send(&get(addr)).await.unwrap().body, b"ok");
    }
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_kept_alive_connection_closed_meanwhile_is_retried_once() {
    // Every connection answers one request (keep-alive on the wire) and then closes.
    let (addr, conns) = spawn_raw(|_| Reply::SendAndClose(ok("fresh"))).await;
    let mut c = client();
    for _ in 0..3 {
        assert_eq!(c.send(&get(addr)).await.unwrap().body, b"fresh");
    }
    assert_eq!(conns.load(Ordering::SeqCst), 3);

    // A server that closes without answering: a fresh connection is not retried, a reused
    // one is retried once, and then the failure is the phone's.
    let (addr, conns) = spawn_raw(|n| match n {
        0 => Reply::SendAndClose(ok("first")),
        _ => Reply::SendAndClose(Vec::new()),
    })
    .await;
    let mut c = client();
    c.send(&get(addr)).await.unwrap();
    let e = c.send(&get(addr)).await.unwrap_err();
    assert!(matches!(e, HttpFailure::ConnectionFailed(_)), "{e:?}");
    assert_eq!(conns.load(Ordering::SeqCst), 2);
    let e = c.send(&get(addr)).await.unwrap_err();
    assert!(matches!(e, HttpFailure::ConnectionFailed(_)), "{e:?}");
    assert_eq!(
        conns.load(Ordering::SeqCst),
        3,
        "no retry on a fresh connection"
    );
}

#[tokio::test]
async fn refused_is_its_own_failure_and_bad_requests_are_bad_urls() {
    let dead = dead_addr().await;
    let refused = client().send(&get(dead)).await;
    assert_eq!(refused, Err(HttpFailure::Refused));
    // What the phone shows for it.
    assert_eq!(refused.unwrap_err().to_string(), "Host Not Found");
    let (addr, _) = spawn_raw(|_| Reply::Send(ok("x"))).await;
    let mut bad = get(addr);
    bad.headers
        .push(("X-Evil".into(), "a\r\nInjected: yes".into()));
    assert!(matches!(
        client().send(&bad).await,
        Err(HttpFailure::BadUrl(_))
    ));
    bad.url = "ftp://example/".into();
    assert!(matches!(
        client().send(&bad).await,
        Err(HttpFailure::BadUrl(_))
    ));
}

#[tokio::test]
async fn malformed_and_truncated_responses_fail_as_connection_failed() {
    for wire in [
        &b"garbage\r\n\r\n"[..],
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
        b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
        // Closed mid-head, mid-body, mid-chunk.
        b"HTTP/1.1 200 OK\r\nContent-Le",
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nshort",
        // Bad chunk sizes.
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
    ] {
        let r = once(wire.to_vec()).await;
        assert!(
            matches!(r, Err(HttpFailure::ConnectionFailed(_))),
            "{}: {r:?}",
            String::from_utf8_lossy(wire)
        );
    }
}

#[tokio::test]
async fn oversized_bodies_are_too_large_and_oversized_heads_fail() {
    // Refused on the Content-Length alone: the server sends no body at all.
    let huge = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", u64::MAX);
    assert_eq!(once(huge.into_bytes()).await, Err(HttpFailure::TooLarge));
    let over = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
        MAX_BODY_BYTES + 1
    );
    assert_eq!(once(over.into_bytes()).await, Err(HttpFailure::TooLarge));
    // Exactly the limit is fine.
    let page = "x".repeat(MAX_BODY_BYTES);
    assert_eq!(once(ok(&page)).await.unwrap().body.len(), MAX_BODY_BYTES);
    // Chunked and until-close bodies are cut off at the limit.
    let mut chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..(MAX_BODY_BYTES / 4096 + 1) {
        chunked.extend_from_slice(format!("1000\r\n{}\r\n", "y".repeat(4096)).as_bytes());
    }
    assert_eq!(once(chunked).await, Err(HttpFailure::TooLarge));
    let mut until_close = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
    until_close.extend(std::iter::repeat_n(b'z', MAX_BODY_BYTES + 1));
    assert_eq!(once(until_close).await, Err(HttpFailure::TooLarge));
    // A head that never ends within 64 KiB, and one with too many headers.
    let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
    head.extend(std::iter::repeat_n(b'a', 70 * 1024));
    assert!(matches!(
        once(head).await,
        Err(HttpFailure::ConnectionFailed(_))
    ));
    let many = format!("HTTP/1.1 200 OK\r\n{}\r\n", "X-A: b\r\n".repeat(101));
    assert!(matches!(
        once(many.into_bytes()).await,
        Err(HttpFailure::ConnectionFailed(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn a_server_that_stops_answering_times_out() {
    // Answers the first request; then hangs mid-head, mid-body, or sends nothing at all.
    for stall in [
        &b""[..],
        b"HTTP/1.1 200 OK\r\nContent-",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    ] {
        let (addr, conns) = spawn_raw(move |n| match n {
            0 => Reply::Send(ok("first")),
            _ => Reply::SendAndHang(stall.to_vec()),
        })
        .await;
        let mut c = HttpClient::new(Duration::from_secs(3));
        c.send(&get(addr)).await.unwrap();
        let started = tokio::time::Instant::now();
        assert_eq!(c.send(&get(addr)).await, Err(HttpFailure::Timeout));
        assert_eq!(started.elapsed(), Duration::from_secs(3));
        // The timed-out connection is dropped: the next request opens another.
        assert_eq!(c.send(&get(addr)).await, Err(HttpFailure::Timeout));
        assert_eq!(conns.load(Ordering::SeqCst), 2);
    }
}
