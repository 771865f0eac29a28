//! Fuzz the phone-side CiscoIPPhone XML parser: any bytes a server sends must give an object or
//! the phone's XML error, never a panic; whatever parses must render and parse back the same.
#![no_main]

use emroam_protocol::cipxml;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(obj) = cipxml::parse(data) {
        let xml = obj.to_xml();
        let again = cipxml::parse(xml.as_bytes()).expect("a rendered object parses");
        assert_eq!(again.to_xml(), xml, "render is stable");
        let _ = obj.screen().to_string();
    }
});
