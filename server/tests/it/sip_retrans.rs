//! UDP retransmissions at the proxy: a phone resending a request (same top Via branch, Call-ID
//! and CSeq) gets the same answers, and the cluster counts one call, one registration, one
//! forward. Phones are real UDP sockets on 127.0.0.1:0 against one live cluster.

use std::net::SocketAddr;
use std::time::Duration;

use emroam_protocol::sip::{self, Message};
use emroam_server::Options;
use emroam_server::sip::SipCounters;

use crate::sip::{Ua, back_to, in_dialog, pick_up, ring};
use crate::util::{Live, P1, P2, TOPO, live};

/// Long enough for a datagram on loopback that is not coming.
const QUIET: Duration = Duration::from_millis(300);

/// A live cluster, its SIP address, and the lobby phone (P1) registered on its line 9000001.
async fn lobby_registered() -> (Live, SocketAddr, Ua) {
    let l = live(TOPO, Options::default()).await;
    let at = l.running.as_ref().unwrap().sip("c1").unwrap().1;
    let mut lobby = Ua::new(P1, at).await;
    assert_eq!(lobby.register("9000001", "r1").await, 200);
    (l, at, lobby)
}

fn counters(l: &Live) -> SipCounters {
    l.sip().unwrap().counters()
}

fn absorbed(c: &SipCounters, method: &str) -> u64 {
    c.retransmissions_absorbed[method]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retransmitted_invite_is_one_call() {
    let (l, at, lobby) = lobby_registered().await;
    let mut caller = Ua::new(P2, at).await;
    let inv = caller.invite("9000001");
    caller.send(&inv, at).await;
    caller.response(100).await;
    let first = lobby.request("INVITE").await;
    // The callee has said nothing yet: the retransmission gets 100 again and goes onward
    // again, as the same transaction (same branch) downstream.
    caller.send(&inv, at).await;
    caller.response(100).await;
    let again = lobby.request("INVITE").await;
    assert_eq!(again.top_branch(), first.top_branch());
    assert_eq!(again.render(), first.render(), "the same forwarded INVITE");
    // Once the callee rings, a retransmission stops at the cluster.
    lobby
        .send(
            &Message::response_to(&first, 180, Some("callee")),
            back_to(&first),
        )
        .await;
    caller.response(180).await;
    caller.send(&inv, at).await;
    assert_eq!(caller.recv().await.unwrap().code(), Some(100));
    assert!(
        lobby.recv_within(QUIET).await.is_none(),
        "not forwarded again"
    );
    // After the final response, a retransmission gets that final again.
    pick_up(&lobby, &first).await;
    let ok = caller.response(200).await;
    caller.send(&inv, at).await;
    let ok2 = caller.response(200).await;
    assert_eq!(ok2.render(), ok.render(), "the same 200 OK");
    assert!(lobby.recv_within(QUIET).await.is_none());
    let c = counters(&l);
    assert_eq!((c.invites, c.routed_local), (1, 1), "one call: {c:?}");
    assert_eq!(absorbed(&c, "INVITE"), 3);
    assert_eq!(c.invite_transactions, 0);
    l.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provisional_after_the_final_stops_at_the_cluster() {
    let (l, at, lobby) = lobby_registered().await;
    let mut caller = Ua::new(P2, at).await;
    let inv = caller.invite("9000001");
    caller.send(&inv, at).await;
    caller.response(100).await;
    let fwd = lobby.request("INVITE").await;
    pick_up(&lobby, &fwd).await;
    caller.response(200).await;
    // A 180 that arrives after the 200 (reordered on the way) is not relayed: the caller's
    // transaction is over.
    lobby
        .send(
            &Message::response_to(&fwd, 180, Some("callee")),
            back_to(&fwd),
        )
        .await;
    assert!(
        caller.recv_within(QUIET).await.is_none(),
        "no 180 after the 200"
    );
    l.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retransmitted_invite_answered_by_the_cluster_gets_the_same_final() {
    let (l, at, _lobby) = lobby_registered().await;
    let mut caller = Ua::new(P2, at).await;
    let inv = caller.invite("9999999");
    caller.send(&inv, at).await;
    let r1 = caller.final_response().await;
    assert_eq!(r1.code(), Some(404));
    caller.send(&inv, at).await;
    let r2 = caller.final_response().await;
    assert_eq!(r2.render(), r1.render(), "the same 404 (same To tag)");
    let c = counters(&l);
    assert_eq!((c.invites, c.not_found), (1, 1), "{c:?}");
    assert_eq!(absorbed(&c, "INVITE"), 1);
    l.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retransmitted_register_is_idempotent() {
    let l = live(TOPO, Options::default()).await;
    let at = l.running.as_ref().unwrap().sip("c1").unwrap().1;
    let mut lobby = Ua::new(P1, at).await;
    let reg = lobby.register_msg("9000001", "r1", 3600);
    lobby.send(&reg, at).await;
    let ok1 = lobby.final_response().await;
    lobby.send(&reg, at).await;
    let ok2 = lobby.final_response().await;
    assert_eq!(ok1.code(), Some(200));
    assert_eq!(ok2.render(), ok1.render(), "the same answer");
    let sip = l.sip().unwrap();
    assert_eq!(sip.binding_count(), 1);
    let c = sip.counters();
    assert_eq!(c.registers, 1, "{c:?}");
    assert_eq!(absorbed(&c, "REGISTER"), 1);
    // A refresh is a new transaction, not a retransmission.
    assert_eq!(lobby.register("9000001", "r1").await, 200);
    let c = sip.counters();
    assert_eq!((c.registers, absorbed(&c, "REGISTER")), (2, 1));
    l.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retransmitted_bye_is_forwarded_again_and_counted_once() {
    let (l, at, lobby) = lobby_registered().await;
    let mut caller = Ua::new(P2, at).await;
    let inv = caller.invite("9000001");
    caller.send(&inv, at).await;
    let got = ring(&lobby).await;
    pick_up(&lobby, &got).await;
    let ok = caller.response(200).await;
    let (ack, hop) = in_dialog(&mut caller, "ACK", &inv, &ok);
    caller.send(&ack, hop).await;
    assert_eq!(lobby.request("ACK").await.call_id(), inv.call_id());
    let (bye, hop) = in_dialog(&mut caller, "BYE", &inv, &ok);
    caller.send(&bye, hop).await;
    let b1 = lobby.request("BYE").await;
    caller.send(&bye, hop).await;
    let b2 = lobby.request("BYE").await;
    assert_eq!(
        b2.render(),
        b1.render(),
        "forwarded again, as the same transaction"
    );
    lobby
        .send(&Message::response_to(&b1, 200, None), back_to(&b1))
        .await;
    assert_eq!(caller.final_response().await.code(), Some(200));
    let c = counters(&l);
    assert_eq!(c.byes_forwarded, 1, "{c:?}");
    assert_eq!(absorbed(&c, "BYE"), 1);
    l.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retransmitted_cancel_is_forwarded_again_and_counted_once() {
    let (l, at, lobby) = lobby_registered().await;
    let mut caller = Ua::new(P2, at).await;
    let inv = caller.invite("9000001");
    caller.send(&inv, at).await;
    let got = ring(&lobby).await;
    caller.response(180).await;
    // CANCEL: the INVITE's branch, Call-ID and CSeq number.
    let mut cancel = inv.clone();
    cancel.start = sip::StartLine::Request {
        method: "CANCEL".into(),
        uri: format!("sip:9000001@{at}"),
    };
    cancel.set_header("CSeq", format!("{} CANCEL", inv.cseq().unwrap().0));
    cancel.remove_header("Contact");
    caller.send(&cancel, at).await;
    let c1 = lobby.request("CANCEL").await;
    assert_eq!(caller.response(200).await.method(), Some("CANCEL"));
    caller.send(&cancel, at).await;
    let c2 = lobby.request("CANCEL").await;
    assert_eq!(
        c2.render(),
        c1.render(),
        "forwarded again, as the same transaction"
    );
    assert_eq!(caller.response(200).await.method(), Some("CANCEL"));
    // The callee ends the INVITE: 487 reaches the caller.
    lobby
        .send(
            &Message::response_to(&c1, 200, Some("callee")),
            back_to(&c1),
        )
        .await;
    lobby
        .send(
            &Message::response_to(&got, 487, Some("callee")),
            back_to(&got),
        )
        .await;
    assert_eq!(caller.response(487).await.method(), Some("INVITE"));
    let c = counters(&l);
    assert_eq!(c.cancels_forwarded, 1, "{c:?}");
    assert_eq!(absorbed(&c, "CANCEL"), 1);
    assert_eq!(c.invites, 1);
    l.shutdown().await;
}
