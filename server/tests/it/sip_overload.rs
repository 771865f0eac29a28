//! Call throttling (Code Yellow): a cluster whose SIP datagrams waited too long in its socket's
//! queue refuses new calls at once with `503` and `Retry-After`, the caller's cluster relays
//! that over the trunk, and once the queue is quick again calls go through.
//!
//! The runtime here is tokio's current-thread one, so a blocking sleep stops every cluster's
//! SIP task while datagrams sent before it wait in the kernel's queues: real queue delay, as
//! the kernel stamps it, without a timed assertion.

use std::net::SocketAddr;
use std::time::Duration;

use emroam_server::sip::SipCounters;

use crate::roaming::Net;
use crate::sip::{Ua, bob_at_cluster1, call};

fn sip(net: &Net, id: &str) -> (SocketAddr, SipCounters) {
    let (s, at) = net.running.as_ref().unwrap().sip(id).unwrap();
    (at, s.counters())
}

/// Sends `m` without yielding to the runtime (the clusters cannot read it yet).
fn queue(ua: &Ua, m: &emroam_protocol::sip::Message, to: SocketAddr) {
    ua.sock.try_send_to(&m.render(), to).unwrap();
}

#[tokio::test]
async fn a_cluster_behind_on_its_queue_refuses_new_calls_with_503_and_retry_after() {
    let net = Net::seed().await;
    let (c1, _) = sip(&net, "cluster1");
    let (c3, _) = sip(&net, "cluster3");
    let bob = bob_at_cluster1(&net, c1).await;
    let mut kally = Ua::new("SEP000000003001", c3).await;
    let mut pinger = Ua::new("SEP000000003002", c1).await;

    pinger.sock.writable().await.unwrap();
    kally.sock.writable().await.unwrap();
    let options = |ua: &mut Ua, id: String| {
        ua.base("OPTIONS", &format!("sip:{c1}"), &format!("<sip:{c1}>"), &id)
    };
    // The kernel turns arrival stamps on with deferred work after the clusters asked for
    // them: wait until a datagram that waited reads as late, then let quick ones clear it.
    let mut probe = 0;
    // (A datagram that waited 20 ms moves the mean of ten by 2 ms; unstamped, the kernel
    // stamps it as it is read, a few microseconds.)
    while sip(&net, "cluster1").1.queue_delay_us < 1_500 {
        probe += 1;
        assert!(probe < 100, "the kernel never stamped an arrival");
        let o = options(&mut pinger, format!("p{probe}"));
        queue(&pinger, &o, c1);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(pinger.recv().await.and_then(|m| m.code()), Some(200));
    }
    for i in 0..10 {
        let o = options(&mut pinger, format!("c{i}"));
        pinger.send(&o, c1).await;
        assert_eq!(pinger.recv().await.and_then(|m| m.code()), Some(200));
    }
    assert_eq!(sip(&net, "cluster1").1.code_yellow, 0);
    // Thirty OPTIONS to cluster1, then Kally's call to Bob at cluster3, all while no cluster
    // can read: each waits 300 ms or more in its queue (the entry latency is 100 ms).
    for i in 0..30 {
        let o = options(&mut pinger, format!("o{i}"));
        queue(&pinger, &o, c1);
    }
    let inv = kally.invite("1000001");
    queue(&kally, &inv, c3);
    std::thread::sleep(Duration::from_millis(300));

    // cluster3 read one late datagram among quick ones and routes the call over the trunk;
    // cluster1 read thirty late ones first, so it refuses the call: 503 with Retry-After,
    // relayed to Kally by cluster3.
    let fin = kally.final_response().await;
    assert_eq!(
        fin.code(),
        Some(503),
        "{}\ncluster1: {:?}",
        String::from_utf8_lossy(&fin.render()),
        sip(&net, "cluster1").1
    );
    assert_eq!(fin.header("Retry-After"), Some("1"));
    // cluster1 put the share it refuses in cluster3's Via (RFC 7339 `oc`, valid 500 ms), so
    // cluster3 refuses the next call to it itself: cluster1 never sees it.
    let inv2 = kally.invite("1000001");
    kally.send(&inv2, c3).await;
    let fin2 = kally.final_response().await;
    assert_eq!(fin2.code(), Some(503));
    assert_eq!(fin2.header("Retry-After"), Some("1"));
    assert!(
        bob.recv_within(Duration::from_millis(300)).await.is_none(),
        "the refused call never rings Bob"
    );
    let (_, s1) = sip(&net, "cluster1");
    let (_, s3) = sip(&net, "cluster3");
    assert_eq!((s1.throttled, s1.code_yellow), (1, 1), "{s1:?}");
    assert!(s1.throttle_percent >= 10, "a share refused: {s1:?}");
    assert_eq!(
        (
            s3.throttled,
            s3.code_yellow,
            s3.routed_trunk,
            s3.trunk_throttled
        ),
        (0, 0, 1, 1),
        "{s3:?}"
    );
    assert_eq!(s1.invites, 1, "the second call stopped at cluster3: {s1:?}");
    // Every OPTIONS was still answered: only new calls are refused.
    for _ in 0..30 {
        assert_eq!(pinger.recv().await.and_then(|m| m.code()), Some(200));
    }

    // Quick datagrams bring cluster1 out of Code Yellow (a step every 10 ms); the next call
    // reaches Bob.
    let mut quick = 0;
    while sip(&net, "cluster1").1.code_yellow == 1 {
        quick += 1;
        assert!(
            quick < 500,
            "still throttling after {quick} quick datagrams"
        );
        let o = options(&mut pinger, format!("q{quick}"));
        pinger.send(&o, c1).await;
        assert_eq!(pinger.recv().await.and_then(|m| m.code()), Some(200));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(call(&mut kally, "1000001", Some(&bob)).await, 200);
    let (_, s1) = sip(&net, "cluster1");
    assert_eq!((s1.throttled, s1.routed_local), (1, 1), "{s1:?}");
    net.shutdown().await;
}
