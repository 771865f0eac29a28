//! SIP parser properties: arbitrary bytes never panic; rendered requests parse back.

use emroam_protocol::sip;
use proptest::prelude::*;

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = sip::parse(&data);
    }

    #[test]
    fn generated_requests_round_trip(
        method in "[A-Z]{3,9}",
        user in "[0-9a-z]{1,12}",
        hdr in "[A-Za-z-]{1,16}",
        val in "[ -~]{0,40}",
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let m = sip::Message::request(&method, &format!("sip:{user}@h"))
            .with("Via", "SIP/2.0/UDP h;branch=z9hG4bKx")
            .with("From", "<sip:a@h>;tag=1")
            .with("To", format!("<sip:{user}@h>"))
            .with("Call-ID", "c")
            .with("CSeq", format!("1 {method}"))
            .with(&hdr, val.trim())
            .with_body("application/octet-stream", body);
        let back = sip::parse(&m.render()).map(|b| (b.start, b.body));
        let skip = hdr.len() == 1 || hdr.eq_ignore_ascii_case("content-length")
            || ["via","from","to","call-id","cseq"].iter().any(|h| hdr.eq_ignore_ascii_case(h));
        if !skip {
            prop_assert_eq!(back, Ok((m.start, m.body)));
        }
    }
}
