//! SIP datagrams built to hit the proxy's list handling: `Via`, `Route` and `Record-Route`
//! values that are only commas or spaces (present, so the parser keeps them, but with no
//! item in them). Each is answered 400 or dropped, and the cluster keeps serving.

use emroam_protocol::sip;

use crate::roaming::Net;
use crate::sip::{Ua, sip_addr};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_headers_of_only_commas_never_stop_the_cluster() {
    let net = Net::seed().await;
    let c1 = sip_addr(&net, "cluster1");
    let mut p = Ua::new("SEP000000001001", c1).await;
    let me = p.me();
    let hostile = [
        // A response whose Via names no one: the proxy has nowhere to send it.
        "SIP/2.0 200 OK\r\nVia: , ,\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\n\
         Call-ID: h1\r\nCSeq: 1 INVITE\r\n\r\n"
            .to_owned(),
        // A request whose Route is empty: not ours to pop, nowhere to go.
        format!(
            "INVITE sip:1000001@{c1} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKh2\r\n\
             Route: ,\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:1000001@h>\r\nCall-ID: h2\r\n\
             CSeq: 1 INVITE\r\nMax-Forwards: 70\r\n\r\n"
        ),
        // The same inside a dialog (a To tag), which the proxy forwards along the Route set.
        format!(
            "BYE sip:1000001@{c1} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKh3\r\n\
             Route: ,,\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:1000001@h>;tag=9\r\nCall-ID: h3\r\n\
             CSeq: 2 BYE\r\nMax-Forwards: 70\r\n\r\n"
        ),
        // A Via whose first item is empty and a Record-Route of commas.
        format!(
            "OPTIONS sip:{c1} SIP/2.0\r\nVia: ,SIP/2.0/UDP {me};branch=z9hG4bKh4\r\n\
             Record-Route: ,\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:{c1}>\r\nCall-ID: h4\r\n\
             CSeq: 1 OPTIONS\r\n\r\n"
        ),
    ];
    for d in &hostile {
        p.sock.send_to(d.as_bytes(), c1).await.unwrap();
    }
    // Whatever came back is valid SIP (Ua::recv parses it); then the cluster still answers.
    while p
        .recv_within(std::time::Duration::from_millis(300))
        .await
        .is_some()
    {}
    let o = p.base(
        "OPTIONS",
        &format!("sip:{c1}"),
        &format!("<sip:{c1}>"),
        "after",
    );
    p.send(&o, c1).await;
    assert_eq!(p.final_response().await.code(), Some(200));
    assert_eq!(p.register("SEP000000001001", "r1").await, 200);
    net.shutdown().await;
}

#[test]
fn the_first_item_of_a_list_skips_empty_items_and_respects_quotes_and_brackets() {
    assert_eq!(sip::first_in_list(" , ,"), None);
    assert_eq!(sip::first_in_list(""), None);
    assert_eq!(
        sip::first_in_list(", <sip:a,b;lr>, x"),
        Some("<sip:a,b;lr>")
    );
    assert_eq!(
        sip::first_in_list("\"x,y\" <sip:d>"),
        Some("\"x,y\" <sip:d>")
    );
    assert_eq!(sip::split_list(",a,,b ,"), vec!["a", "b"]);
}
