//! Shared test harness: topologies, clusters in-process (with or without sockets), a tiny
//! HTTP client, and page helpers.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use emroam_protocol::cipxml::{self, Object};
use emroam_protocol::emapi;
use emroam_server::http::Req;
use emroam_server::server::{HttpCtx, handle_http};
use emroam_server::sip::Sip;
use emroam_server::{Cluster, ClusterListeners, Options, Running, Topology};
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_util::sync::CancellationToken;

/// One cluster `c1` with users for every case the tests provoke.
pub const TOPO: &str = r#"
[[cluster]]
id = "c1"
address = "127.0.0.1"
em = { max_concurrent_requests = 5 }

[[app_user]]
id = "emapi"
password = "emapi-secret"
proxy_rights = true

[[app_user]]
id = "reader"
password = "reader-secret"
proxy_rights = false

[[profile]]
name = "lobby"
locale = "English_United_States"
lines = [{ dn = "9000001", label = "Lobby" }]

[[profile]]
name = "bob-udp"
lines = [{ dn = "1000001", label = "Bob" }]

[[profile]]
name = "carol-en"
lines = [{ dn = "1000003", label = "Carol" }]

[[profile]]
name = "carol-fr"
locale = "French_France"
lines = [{ dn = "1000003", label = "Carole" }]

[[profile]]
name = "dave-udp"
lines = [{ dn = "5000", label = "Dave" }]

[[profile]]
name = "erin-udp"
lines = [{ dn = "5000", label = "Erin" }]

[[user]]
id = "bob"
pin = "12345"
primary_extension = "1000001"
self_service_id = "71000001"
home = "c1"
profiles = ["bob-udp"]
password = "bob-password"

[[user]]
id = "carol"
pin = "2222"
primary_extension = "1000003"
home = "c1"
profiles = ["carol-en", "carol-fr"]
default_profile = "carol-en"

[[user]]
id = "dave"
pin = "3333"
primary_extension = "5000"
home = "c1"
profiles = ["dave-udp"]

[[user]]
id = "erin"
pin = "4444"
primary_extension = "5000"
home = "c1"
profiles = ["erin-udp"]

[[user]]
id = "frank"
pin = "5555"
home = "c1"

[[user_pattern]]
home = "c1"
count = 300
id = "u{n:03}"
pin = "1234"
extension = 2000001

[[phone_pattern]]
cluster = "c1"
count = 300
first = "SEP000000000001"
logout_profile = "lobby"

[[phone]]
name = "SEP0000000DEAD0"
cluster = "c1"
em_enabled = false
logout_profile = "lobby"
"#;

/// The first phone.
pub const P1: &str = "SEP000000000001";
/// The second phone.
pub const P2: &str = "SEP000000000002";
/// A phone with EM disabled.
pub const OFF: &str = "SEP0000000DEAD0";
/// A loopback peer.
pub const PEER: &str = "127.0.0.1:40000";

/// The nth phone of the pattern (1-based).
pub fn phone(n: u32) -> String {
    format!("SEP{n:012X}")
}

/// A cluster handled without sockets.
pub struct InProc {
    pub ctx: HttpCtx,
    pub token: CancellationToken,
}

impl InProc {
    pub fn cluster(&self) -> &Cluster {
        &self.ctx.cluster
    }

    /// GET on the HTTP port's handler.
    pub async fn get(&self, pq: &str) -> (StatusCode, HeaderMap, String) {
        self.req(Req::get(pq, PEER.parse().unwrap())).await
    }

    pub async fn req(&self, req: Req) -> (StatusCode, HeaderMap, String) {
        let r = handle_http(&self.ctx, &req).await;
        let status = r.status();
        let headers = r.headers().clone();
        let body = r.into_body().collect().await.unwrap().to_bytes();
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    /// The EM application page for a query string.
    pub async fn emapp(&self, query: &str) -> Object {
        let (s, _, body) = self.get(&format!("/emapp/EMAppServlet?{query}")).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        cipxml::parse(body.as_bytes())
            .unwrap_or_else(|e| panic!("phone rejects page: {e:?}\n{body}"))
    }

    /// POSTs an EM API document.
    pub async fn api(&self, xml: &str) -> emapi::Response {
        let mut req = Req::get("/emservice/EMServiceServlet", PEER.parse().unwrap());
        req.method = Method::POST;
        req.body = Bytes::from(emapi::form_body(xml));
        let (s, _, body) = self.req(req).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        emapi::Response::parse(body.as_bytes())
            .unwrap_or_else(|e| panic!("bad response {e:?}: {body}"))
    }

    pub fn counters(&self) -> emroam_server::counters::CounterSnapshot {
        self.cluster().counters().snapshot()
    }
}

/// Opens cluster `c1` of a topology in memory, without listeners.
pub async fn inproc(src: &str) -> InProc {
    let topo = Topology::parse(src).unwrap();
    let token = CancellationToken::new();
    let spec = topo.clusters[0].clone();
    let c = Cluster::open(&topo, &spec, None, token.child_token())
        .await
        .unwrap();
    let all: Arc<[Cluster]> = vec![c.clone()].into();
    InProc {
        ctx: HttpCtx {
            cluster: c,
            all,
            sips: Arc::default(),
            admin_token: Some("sekret".into()),
        },
        token,
    }
}

/// The page's text (Text objects) or title.
pub fn text_of(o: &Object) -> String {
    match o {
        Object::Text(t) => t.text.clone(),
        other => panic!("expected a Text page, got {other:?}"),
    }
}

/// An EM API document with appInfo.
pub fn doc(root: &str, app: (&str, &str), op: &str) -> String {
    format!(
        "<{root}><appInfo><appID>{}</appID><appCertificate>{}</appCertificate></appInfo>{op}</{root}>",
        app.0, app.1
    )
}

pub const EMAPI: (&str, &str) = ("emapi", "emapi-secret");

/// A server on ephemeral loopback ports.
pub struct Live {
    pub running: Option<Running>,
    pub token: CancellationToken,
    pub http: SocketAddr,
    pub config: SocketAddr,
}

impl Live {
    pub fn cluster(&self) -> &Cluster {
        &self.running.as_ref().unwrap().clusters()[0]
    }

    /// The cluster's SIP side (`None`: no SIP socket).
    pub fn sip(&self) -> Option<Sip> {
        let id = self.cluster().id();
        let (sip, _) = self.running.as_ref().unwrap().sip(id)?;
        Some(sip.clone())
    }

    pub async fn shutdown(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}

/// Starts cluster `c1` of a topology on 127.0.0.1:0 listeners.
pub async fn live(src: &str, opts: Options) -> Live {
    let topo = Topology::parse(src).unwrap();
    let l = ClusterListeners::ephemeral().await.unwrap();
    let (http, config) = (l.http.local_addr().unwrap(), l.config.local_addr().unwrap());
    let token = CancellationToken::new();
    let running = emroam_server::start(
        &topo,
        vec![(topo.clusters[0].id.clone(), l)],
        &opts,
        token.clone(),
    )
    .await
    .unwrap();
    Live {
        running: Some(running),
        token,
        http,
        config,
    }
}

/// One HTTP/1.1 request on a fresh connection.
pub async fn http(
    addr: SocketAddr,
    method: Method,
    pq: &str,
    body: Vec<u8>,
) -> std::io::Result<(StatusCode, HeaderMap, String)> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(conn);
    let req = Request::builder()
        .method(method)
        .uri(pq)
        .header("host", addr.to_string())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let r = tx.send_request(req).await.map_err(std::io::Error::other)?;
    let status = r.status();
    let headers = r.headers().clone();
    let body = r
        .into_body()
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    Ok((status, headers, String::from_utf8_lossy(&body).into_owned()))
}

pub async fn get(addr: SocketAddr, pq: &str) -> (StatusCode, String) {
    let (s, _, b) = http(addr, Method::GET, pq, Vec::new()).await.unwrap();
    (s, b)
}

pub async fn api_live(addr: SocketAddr, xml: &str) -> emapi::Response {
    let (s, _, b) = http(
        addr,
        Method::POST,
        "/emservice/EMServiceServlet",
        emapi::form_body(xml).into_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(s, StatusCode::OK);
    emapi::Response::parse(b.as_bytes()).unwrap()
}

/// A unique scratch directory.
pub fn scratch(name: &str) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "emroam-it-{}-{}-{}",
        std::process::id(),
        name,
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
