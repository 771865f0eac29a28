//! Fuzz the SIP parser: any datagram gives a message or a `SipError`, never a panic; an
//! accepted message renders and parses back to itself, and the header helpers never panic.
#![no_main]

use emroam_protocol::sip;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = sip::parse(data) {
        for (_, v) in &m.headers {
            let _ = sip::param(v, "tag");
            let uri = sip::addr_uri(v);
            let _ = sip::uri_user(uri);
            let _ = sip::uri_host_port(uri);
            let _ = sip::instance_mac(v);
            let items = sip::split_list(v);
            assert_eq!(sip::first_in_list(v), items.first().copied());
            for item in items {
                let _ = sip::via_target(item);
            }
        }
        let _ = (m.cseq(), m.expires(), m.top_branch(), m.method());
        let _ = sip::parse_service_control(&m.body);
        let again = sip::parse(&m.render()).expect("a rendered message parses");
        assert_eq!(again.start, m.start);
        assert_eq!(again.body, m.body);
        let _ = sip::Message::response_to(&m, 400, Some("t")).render();
    }
});
