//! A keep-alive hyper client for the benchmarks that drive a cluster's HTTP side directly
//! (`em-throughput`, `callgrind-gate`): one connection, GETs in order, bodies as text.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

/// One HTTP/1.1 connection's sending half.
pub type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// Connects to `addr` (no Nagle) and spawns the connection's task.
///
/// # Panics
/// The connection or the handshake fails: a benchmark has nothing to measure then.
pub async fn connect(addr: SocketAddr) -> Sender {
    let s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let _ = s.set_nodelay(true);
    let (tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    tx
}

/// GETs `pq` (path and query) with `Host: host`; the body as text.
///
/// # Panics
/// The connection fails.
pub async fn get(tx: &mut Sender, host: &str, pq: &str) -> String {
    tx.ready().await.expect("connection ready");
    let req = hyper::Request::get(pq)
        .header("host", host)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let r = tx.send_request(req).await.expect("response");
    let b = r.into_body().collect().await.expect("body").to_bytes();
    String::from_utf8_lossy(&b).into_owned()
}
