//! Fuzz the EM API parsers (the EMServiceServlet's `xml=` form body, requests and responses):
//! any bytes a client sends must give a message or an EM error code, never a panic.
#![no_main]

use emroam_protocol::emapi;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = emapi::parse_request(data) {
        let xml = env.to_xml();
        let _ = emapi::parse_request(xml.as_bytes()).expect("a rendered request parses");
    }
    if let Ok(resp) = emapi::parse_response(data) {
        let _ = emapi::parse_response(resp.to_xml().as_bytes()).expect("a rendered response parses");
    }
    if let Ok(xml) = emapi::xml_from_form(data) {
        let _ = emapi::parse_request(xml.as_bytes());
    }
});
