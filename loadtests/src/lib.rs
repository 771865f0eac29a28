//! Shared inputs for emroam's benchmarks; the benchmarks themselves live in `benches/`.
//!
//! The documents here are what the benchmarks parse and render, so every figure in
//! `loadtests/README.md` is about the same bytes.

pub mod emulated;
pub mod gate;
pub mod http;
pub mod sip_phones;

/// A typical EM login page, as the reference cluster sends it: a CiscoIPPhoneInput with the
/// user ID and PIN fields and the usual softkeys (about 800 bytes).
pub fn em_login_page() -> String {
    r#"<?xml version="1.0" encoding="utf-8"?>
<CiscoIPPhoneInput>
<Title>Extension Mobility</Title>
<Prompt>Enter User ID and PIN</Prompt>
<URL>http://127.0.0.1:8080/emapp/EMAppServlet?device=SEP000000001001&amp;loginType=UID</URL>
<InputItem>
<DisplayName>User ID</DisplayName>
<QueryStringParam>userid</QueryStringParam>
<DefaultValue></DefaultValue>
<InputFlags>A</InputFlags>
</InputItem>
<InputItem>
<DisplayName>PIN</DisplayName>
<QueryStringParam>seq</QueryStringParam>
<DefaultValue></DefaultValue>
<InputFlags>NP</InputFlags>
</InputItem>
<SoftKeyItem>
<Name>Submit</Name>
<URL>SoftKey:Submit</URL>
<Position>1</Position>
</SoftKeyItem>
<SoftKeyItem>
<Name>&lt;&lt;</Name>
<URL>SoftKey:&lt;&lt;</URL>
<Position>2</Position>
</SoftKeyItem>
<SoftKeyItem>
<Name>Exit</Name>
<URL>SoftKey:Exit</URL>
<Position>3</Position>
</SoftKeyItem>
</CiscoIPPhoneInput>
"#
    .to_owned()
}

/// A CiscoIPPhoneMenu with the phone's maximum of 100 items (about 16 KB), each with an
/// escaped query string, as a directory or profile-choice service would send.
pub fn menu_100() -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<CiscoIPPhoneMenu>\n<Title>Device Profiles</Title>\n<Prompt>Select a profile</Prompt>\n",
    );
    for i in 0..100 {
        s.push_str(&format!(
            "<MenuItem>\n<Name>Profile {i:03} &amp; line {}</Name>\n<URL>http://127.0.0.1:8080/emapp/EMAppServlet?device=SEP000000001001&amp;profile=UDP-{i:03}</URL>\n</MenuItem>\n",
            1_000_000 + i
        ));
    }
    s.push_str("<SoftKeyItem>\n<Name>Select</Name>\n<URL>SoftKey:Select</URL>\n<Position>1</Position>\n</SoftKeyItem>\n</CiscoIPPhoneMenu>\n");
    s
}

/// Reads every event of `doc` with quick-xml's raw reader and does nothing with it: the floor
/// under any parser built on quick-xml. Returns the event count so the work is not optimised out.
pub fn raw_tokenize(doc: &[u8]) -> usize {
    let mut reader = quick_xml::Reader::from_reader(doc);
    let mut buf = Vec::with_capacity(256);
    let mut n = 0;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(quick_xml::events::Event::Eof) | Err(_) => break,
            Ok(_) => n += 1,
        }
        buf.clear();
    }
    n
}
