//! SIP: the registrar (known devices and lines only), the service-control NOTIFY after EM
//! login/logout, and INVITE routing (local, over a trunk to where ILS says the number is, 404,
//! 480, 503 for a down cluster). Phones here are raw UDP sockets on 127.0.0.1:0; [`Ua`] and
//! the call helpers are shared with `sip_metrics`, `sip_expiry` and `sip_retrans`.

use std::net::SocketAddr;
use std::time::Duration;

use emroam_protocol::sip::{self, Message};
use hyper::Method;
use tokio::net::UdpSocket;

use crate::roaming::{Net, until};

/// A bare SIP phone: one socket, one device.
pub struct Ua {
    pub sock: UdpSocket,
    pub mac: String,
    pub cluster: SocketAddr,
    /// Bumped by every request built: branch, tag and CSeq number.
    pub n: u32,
}

impl Ua {
    pub async fn new(device: &str, cluster: SocketAddr) -> Ua {
        Ua {
            sock: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            mac: device.trim_start_matches("SEP").to_owned(),
            cluster,
            n: 0,
        }
    }

    pub fn me(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    pub fn base(&mut self, method: &str, uri: &str, to: &str, call_id: &str) -> Message {
        self.n += 1;
        Message::request(method, uri)
            .with(
                "Via",
                format!(
                    "SIP/2.0/UDP {};branch=z9hG4bKua{}{}",
                    self.me(),
                    self.mac,
                    self.n
                ),
            )
            .with(
                "From",
                format!("<sip:{}@{}>;tag=ua{}", self.mac, self.cluster, self.n),
            )
            .with("To", to.to_owned())
            .with("Call-ID", call_id.to_owned())
            .with("CSeq", format!("{} {method}", self.n))
            .with("Max-Forwards", "70")
    }

    pub async fn send(&self, m: &Message, to: SocketAddr) {
        self.sock.send_to(&m.render(), to).await.unwrap();
    }

    pub async fn recv(&self) -> Option<Message> {
        self.recv_within(Duration::from_secs(5)).await
    }

    /// The next datagram if one comes within `d`.
    pub async fn recv_within(&self, d: Duration) -> Option<Message> {
        let mut buf = vec![0u8; 65536];
        let r = tokio::time::timeout(d, self.sock.recv_from(&mut buf)).await;
        let (n, _) = r.ok()?.ok()?;
        Some(sip::parse(&buf[..n]).expect("the cluster sends valid SIP"))
    }

    /// Receives until a final response (skipping 100/180) and returns it.
    pub async fn final_response(&self) -> Message {
        loop {
            let m = self.recv().await.expect("a response");
            if m.code().is_some_and(|c| c >= 200) {
                return m;
            }
        }
    }

    /// A REGISTER of `line` asking `expires` seconds (in the Contact and `Expires`).
    pub fn register_msg(&mut self, line: &str, call_id: &str, expires: u32) -> Message {
        let to = format!("<sip:{line}@{}>", self.cluster);
        self.base("REGISTER", &format!("sip:{}", self.cluster), &to, call_id)
            .with(
                "Contact",
                format!(
                    "<sip:{line}@{};transport=udp>;+sip.instance={};expires={expires}",
                    self.me(),
                    sip::instance_for_mac(&self.mac)
                ),
            )
            .with("Expires", expires.to_string())
    }

    /// Registers `line` asking `expires` seconds; the final response.
    pub async fn register_for(&mut self, line: &str, call_id: &str, expires: u32) -> Message {
        let m = self.register_msg(line, call_id, expires);
        self.send(&m, self.cluster).await;
        self.final_response().await
    }

    pub async fn register(&mut self, line: &str, call_id: &str) -> u16 {
        self.register_for(line, call_id, 3600).await.code().unwrap()
    }

    /// The initial INVITE of a call to `dn` at this phone's cluster (not sent).
    pub fn invite(&mut self, dn: &str) -> Message {
        let c = self.cluster;
        let call_id = format!("call-{dn}-{}-{}", self.mac, self.n);
        let contact = format!("<sip:{}@{}>", self.mac, self.me());
        self.base(
            "INVITE",
            &format!("sip:{dn}@{c}"),
            &format!("<sip:{dn}@{c}>"),
            &call_id,
        )
        .with("Contact", contact)
    }

    /// Receives until a request of `method` comes (skipping anything else).
    pub async fn request(&self, method: &str) -> Message {
        loop {
            let m = self.recv().await.expect("a request");
            if m.method() == Some(method) && m.code().is_none() {
                return m;
            }
        }
    }

    /// Receives until a response with `code` comes (skipping others).
    pub async fn response(&self, code: u16) -> Message {
        loop {
            let m = self.recv().await.expect("a response");
            if m.code() == Some(code) {
                return m;
            }
        }
    }
}

/// Bob logged in on SEP000000001001 at cluster1 (SIP at `c1`), his phone registered on
/// 1000001, and cluster3 placing that number at cluster1 through ILS.
pub async fn bob_at_cluster1(net: &Net, c1: SocketAddr) -> Ua {
    assert!(
        net.login("cluster1", "SEP000000001001", "bob")
            .await
            .contains("Successful")
    );
    let mut bob = Ua::new("SEP000000001001", c1).await;
    assert_eq!(bob.register("1000001", "b1").await, 200);
    until("cluster3 places 1000001 at cluster1", || {
        net.located("cluster3", "1000001").as_deref() == Some("cluster1")
    })
    .await;
    bob
}

/// Where a response to `req` goes: its top Via's sender.
pub fn back_to(req: &Message) -> SocketAddr {
    let v = sip::via_target(sip::first_in_list(req.header("Via").unwrap()).unwrap()).unwrap();
    format!("{}:{}", v.0, v.1).parse().unwrap()
}

pub fn sip_addr(net: &Net, id: &str) -> SocketAddr {
    net.running.as_ref().unwrap().sip(id).unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrar_accepts_known_devices_and_their_lines_only() {
    let net = Net::seed().await;
    let c1 = sip_addr(&net, "cluster1");
    let mut stranger = Ua::new("SEP00000000FFFF", c1).await;
    assert_eq!(
        stranger.register("1000001", "x1").await,
        403,
        "unknown device"
    );
    let mut p = Ua::new("SEP000000001001", c1).await;
    assert_eq!(
        p.register("1000001", "x2").await,
        404,
        "Bob is not logged in here"
    );
    assert_eq!(
        p.register("SEP000000001001", "x3").await,
        200,
        "the device itself"
    );
    // A device of another cluster is unknown here.
    let mut other = Ua::new("SEP000000002001", c1).await;
    assert_eq!(other.register("SEP000000002001", "x4").await, 403);
    // OPTIONS is answered 200; garbage gets 400 or nothing, and the cluster keeps serving.
    let o = p.base(
        "OPTIONS",
        &format!("sip:{c1}"),
        &format!("<sip:{c1}>"),
        "o1",
    );
    p.send(&o, c1).await;
    assert_eq!(p.final_response().await.code(), Some(200));
    p.sock
        .send_to(
            format!(
                "INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bKg\r\nFrom: <sip:a@h>;tag=1\r\n\
                 To: <sip:x@h>\r\nCall-ID: g\r\nCSeq: 1 INVITE\r\nbroken\r\n\r\n",
                p.me()
            )
            .as_bytes(),
            c1,
        )
        .await
        .unwrap();
    assert_eq!(p.final_response().await.code(), Some(400));
    p.sock.send_to(&[0xff; 300], c1).await.unwrap();
    assert_eq!(p.register("SEP000000001001", "x3").await, 200);
    let sip1 = net
        .running
        .as_ref()
        .unwrap()
        .sip("cluster1")
        .unwrap()
        .0
        .counters();
    assert_eq!(sip1.register_refused_403, 2);
    assert_eq!(sip1.register_refused_404, 1);
    assert!(sip1.malformed >= 2);
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn em_login_and_logout_restart_the_phone_by_notify() {
    let net = Net::seed().await;
    let c1 = sip_addr(&net, "cluster1");
    let mut p = Ua::new("SEP000000001001", c1).await;
    assert_eq!(p.register("SEP000000001001", "reg-1").await, 200);
    assert!(
        net.login("cluster1", "SEP000000001001", "bob")
            .await
            .contains("Login Successful")
    );
    let n = p.recv().await.expect("a NOTIFY after login");
    assert_eq!(n.method(), Some("NOTIFY"));
    assert_eq!(n.header("Event"), Some("service-control"));
    assert_eq!(
        sip::parse_service_control(&n.body),
        Some((sip::ServiceAction::Restart, "reg-1".to_owned()))
    );
    p.send(&Message::response_to(&n, 200, Some("p")), c1).await;
    // After the restart Bob's line registers.
    assert_eq!(p.register("1000001", "reg-2").await, 200);
    let (sip, _) = net.running.as_ref().unwrap().sip("cluster1").unwrap();
    assert_eq!(
        sip.registered_device("1000001").as_deref(),
        Some("SEP000000001001")
    );
    assert!(net.logout("cluster1", "SEP000000001001").await);
    let n = p.recv().await.expect("a NOTIFY after logout");
    assert_eq!(
        sip::parse_service_control(&n.body),
        Some((sip::ServiceAction::Restart, "reg-2".to_owned()))
    );
    assert_eq!(
        sip.registered_device("1000001"),
        None,
        "bindings dropped at restart"
    );
    assert_eq!(
        p.register("1000001", "reg-3").await,
        404,
        "the line left with Bob"
    );
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_before_the_phone_registers_is_not_a_restart_later() {
    let net = Net::seed().await;
    let c1 = sip_addr(&net, "cluster1");
    // Bob logs in on a phone that has not registered yet: the restart waits for it.
    assert!(
        net.login("cluster1", "SEP000000001001", "bob")
            .await
            .contains("Login Successful")
    );
    let cluster = net.running.as_ref().unwrap().cluster("cluster1").unwrap();
    assert_eq!(cluster.pending_restarts().len(), 1);
    // The phone boots: it reads its config (Bob's profile) and registers Bob's line afresh,
    // so the queued restart is stale and is dropped.
    let mut p = Ua::new("SEP000000001001", c1).await;
    assert_eq!(p.register("1000001", "reg-1").await, 200);
    assert!(cluster.pending_restarts().is_empty());
    // Another EM login on the cluster must not restart Bob's phone with that stale restart.
    let mut other = Ua::new("SEP000000001002", c1).await;
    assert_eq!(other.register("SEP000000001002", "reg-o").await, 200);
    assert!(
        net.login("cluster1", "SEP000000001002", "alice")
            .await
            .contains("Login Successful")
    );
    assert!(
        p.recv_within(Duration::from_millis(500)).await.is_none(),
        "no NOTIFY for Bob's freshly registered phone"
    );
    let (sip, _) = net.running.as_ref().unwrap().sip("cluster1").unwrap();
    assert_eq!(
        sip.registered_device("1000001").as_deref(),
        Some("SEP000000001001")
    );
    net.shutdown().await;
}

/// Waits for an INVITE at the callee and answers 180 Ringing; returns it.
pub async fn ring(callee: &Ua) -> Message {
    let inv = callee.request("INVITE").await;
    callee
        .send(
            &Message::response_to(&inv, 180, Some("callee")),
            back_to(&inv),
        )
        .await;
    inv
}

/// Answers a ringing INVITE 200 OK (with its Record-Route, so ACK and BYE come through).
pub async fn pick_up(callee: &Ua, inv: &Message) {
    let mut ok = Message::response_to(inv, 200, Some("callee"))
        .with("Contact", format!("<sip:callee@{}>", callee.me()));
    for rr in inv.headers_named("Record-Route") {
        ok = ok.with("Record-Route", rr.to_owned());
    }
    callee.send(&ok, back_to(inv)).await;
}

/// Answers one INVITE with 180 then 200, and returns it.
pub async fn answer(callee: &Ua) -> Message {
    let inv = ring(callee).await;
    pick_up(callee, &inv).await;
    inv
}

/// The caller's in-dialog request after a 200 to `inv` (`ok`): along the route set (reversed
/// Record-Route), through the clusters; returns it and the first hop.
pub fn in_dialog(
    caller: &mut Ua,
    method: &str,
    inv: &Message,
    ok: &Message,
) -> (Message, SocketAddr) {
    let mut routes: Vec<String> = ok
        .headers_named("Record-Route")
        .flat_map(sip::split_list)
        .map(str::to_owned)
        .collect();
    routes.reverse();
    assert!(!routes.is_empty());
    let remote = sip::addr_uri(ok.header("Contact").unwrap()).to_owned();
    let to = ok.header("To").unwrap().to_owned();
    let first = sip::uri_host_port(sip::addr_uri(&routes[0])).unwrap();
    let hop: SocketAddr = format!("{}:{}", first.0, first.1).parse().unwrap();
    let mut m = caller
        .base(method, &remote, &to, inv.call_id())
        .with("Route", routes.join(", "));
    if method == "ACK" {
        let n = inv.cseq().unwrap().0;
        m.set_header("CSeq", format!("{n} ACK"));
    }
    (m, hop)
}

/// After a 200 to `inv`: ACK, then BYE, both reaching the callee, and the BYE answered.
pub async fn hang_up(caller: &mut Ua, inv: &Message, ok: &Message, callee: &Ua) {
    let (ack, hop) = in_dialog(caller, "ACK", inv, ok);
    caller.send(&ack, hop).await;
    let (bye, hop) = in_dialog(caller, "BYE", inv, ok);
    caller.send(&bye, hop).await;
    let got_ack = callee.recv().await.unwrap();
    assert_eq!(got_ack.method(), Some("ACK"));
    let got_bye = callee.recv().await.unwrap();
    assert_eq!(got_bye.method(), Some("BYE"));
    callee
        .send(
            &Message::response_to(&got_bye, 200, None),
            back_to(&got_bye),
        )
        .await;
    assert_eq!(
        caller.final_response().await.code(),
        Some(200),
        "BYE answered"
    );
}

/// Places a call; returns the final status and (for 200) completes ACK and BYE.
pub async fn call(caller: &mut Ua, dn: &str, callee: Option<&Ua>) -> u16 {
    let inv = caller.invite(dn);
    caller.send(&inv, caller.cluster).await;
    if let Some(callee) = callee {
        answer(callee).await;
    }
    let r = caller.final_response().await;
    let code = r.code().unwrap();
    if code == 200 {
        hang_up(caller, &inv, &r, callee.unwrap()).await;
    }
    code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_reach_the_phone_where_the_user_is_now() {
    let net = Net::seed().await;
    let (c1, c2, c3) = (
        sip_addr(&net, "cluster1"),
        sip_addr(&net, "cluster2"),
        sip_addr(&net, "cluster3"),
    );
    // Kally at home on cluster3; Bob at home on cluster1.
    assert!(
        net.login("cluster3", "SEP000000003001", "kally")
            .await
            .contains("Successful")
    );
    let mut kally = Ua::new("SEP000000003001", c3).await;
    assert_eq!(kally.register("3000001", "k1").await, 200);
    let mut bob1 = bob_at_cluster1(&net, c1).await;

    // Kally → Bob: cluster3 → trunk → cluster1 → Bob's phone.
    assert_eq!(call(&mut kally, "1000001", Some(&bob1)).await, 200);
    // Bob → Kally: same cluster? No: cluster1 → trunk → cluster3.
    assert_eq!(call(&mut bob1, "3000001", Some(&kally)).await, 200);
    // Unknown number: 404. Alice's number, nobody registered at cluster2: 480.
    assert_eq!(call(&mut kally, "9999999", None).await, 404);
    assert_eq!(call(&mut kally, "2000001", None).await, 480);

    // Bob roams to cluster2: cluster1 logs him out there (its phone restarts).
    assert!(
        net.login("cluster2", "SEP000000002001", "bob")
            .await
            .contains("Successful")
    );
    until("cluster3 places 1000001 at cluster2", || {
        net.located("cluster3", "1000001").as_deref() == Some("cluster2")
    })
    .await;
    let n = bob1.recv().await.expect("the old phone restarts");
    assert_eq!(n.header("Event"), Some("service-control"));
    let mut bob2 = Ua::new("SEP000000002001", c2).await;
    assert_eq!(bob2.register("1000001", "b2").await, 200);
    assert_eq!(call(&mut kally, "1000001", Some(&bob2)).await, 200);

    // cluster2 goes down: the trunk does not answer, the caller gets 503.
    let (st, body) = net
        .http(
            "cluster2",
            Method::POST,
            "/admin/clusters/cluster2/listeners/stop",
        )
        .await;
    assert!(st.is_success(), "{st} {body}");
    assert_eq!(call(&mut kally, "1000001", None).await, 503);
    let s3 = net
        .running
        .as_ref()
        .unwrap()
        .sip("cluster3")
        .unwrap()
        .0
        .counters();
    assert!(s3.routed_trunk >= 3, "{s3:?}");
    assert_eq!(s3.not_found, 1);
    assert_eq!(s3.trunk_down, 1);
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_call_ends_487_and_its_ack_reaches_the_callee() {
    let net = Net::seed().await;
    let c1 = sip_addr(&net, "cluster1");
    assert!(
        net.login("cluster1", "SEP000000001001", "bob")
            .await
            .contains("Successful")
    );
    let mut bob = Ua::new("SEP000000001001", c1).await;
    assert_eq!(bob.register("1000001", "b1").await, 200);
    let mut caller = Ua::new("SEP000000001002", c1).await;
    let inv = caller
        .base(
            "INVITE",
            &format!("sip:1000001@{c1}"),
            &format!("<sip:1000001@{c1}>"),
            "cx",
        )
        .with("Contact", format!("<sip:x@{}>", caller.me()));
    caller.send(&inv, c1).await;
    // Bob rings but does not answer.
    let got = bob.recv().await.unwrap();
    assert_eq!(got.method(), Some("INVITE"));
    let back = sip::via_target(sip::first_in_list(got.header("Via").unwrap()).unwrap()).unwrap();
    let back: SocketAddr = format!("{}:{}", back.0, back.1).parse().unwrap();
    bob.send(&Message::response_to(&got, 180, Some("bob")), back)
        .await;
    // The caller cancels: same branch, CSeq number and Request-URI as its INVITE.
    let mut cancel = inv.clone();
    cancel.start = sip::StartLine::Request {
        method: "CANCEL".into(),
        uri: format!("sip:1000001@{c1}"),
    };
    cancel.set_header("CSeq", format!("{} CANCEL", caller.n));
    cancel.remove_header("Contact");
    caller.send(&cancel, c1).await;
    let c = bob.recv().await.unwrap();
    assert_eq!(c.method(), Some("CANCEL"));
    bob.send(&Message::response_to(&c, 200, Some("bob")), back)
        .await;
    bob.send(&Message::response_to(&got, 487, Some("bob")), back)
        .await;
    // The caller: 100, 180, 200 (CANCEL), 487 (INVITE).
    let mut codes = Vec::new();
    while !codes.contains(&487) {
        let m = caller.recv().await.expect("responses");
        codes.push(m.code().unwrap());
        if m.code() == Some(487) {
            let mut ack = inv.clone();
            ack.start = sip::StartLine::Request {
                method: "ACK".into(),
                uri: format!("sip:1000001@{c1}"),
            };
            ack.set_header("CSeq", format!("{} ACK", caller.n));
            ack.set_header("To", m.header("To").unwrap().to_owned());
            caller.send(&ack, c1).await;
        }
    }
    assert!(codes.contains(&200) && codes.contains(&180), "{codes:?}");
    let ack = bob
        .recv()
        .await
        .expect("the ACK of the 487 reaches the callee");
    assert_eq!(ack.method(), Some("ACK"));
    net.shutdown().await;
}
