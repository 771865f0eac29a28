//! CiscoIPPhone XML against real documents, hostile input and generated objects.

use std::path::PathBuf;

use emroam_protocol::cipxml::{
    self, AppAttrs, CipImage, Directory, DirectoryEntry, Error, Execute, ExecuteItem,
    GraphicFileMenu, GraphicMenu, IconFileItem, IconFileMenu, IconItem, IconMenu, Image, ImageFile,
    Input, InputFlags, InputItem, InputMethod, KeypadTarget, Menu, MenuItem, Object, ParseOptions,
    Priority, Response, ResponseItem, SoftKeyItem, Status, StatusFile, Text, TouchArea, Uri,
    WindowMode, parse, parse_with, render,
};
use proptest::prelude::*;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cipxml")
}

fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn all_fixtures() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".xml"))
        .map(|n| {
            let bytes = fixture(&n);
            (n, bytes)
        })
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------------
// Fixtures: every real document gives the right object or the right error.

#[test]
fn fixture_directory_scrambled_order() {
    let Ok(Object::Directory(d)) = parse(&fixture(
        "directory__nficano-toolkit__readme_ciscoipphonedirectory_expected.xml",
    )) else {
        panic!()
    };
    assert_eq!(d.title.as_deref(), Some("My Contacts"));
    assert_eq!(d.prompt.as_deref(), Some("Select a contact"));
    assert_eq!(
        d.entries,
        [
            DirectoryEntry::new("Avon Barksdale", "18442391546"),
            DirectoryEntry::new("Stringer Bell", "18993712775")
        ]
    );
    assert_eq!(d.softkeys, [SoftKeyItem::new("Dial", "SoftKey:Dial", 1)]);
    let screen = Object::Directory(d).screen().to_string();
    assert_eq!(
        screen,
        "== My Contacts ==\n1 Avon Barksdale\n  18442391546\n2 Stringer Bell\n  18993712775\n\
         -- Select a contact\n[1 Dial]\n"
    );
}

#[test]
fn fixture_error_number_6() {
    assert_eq!(
        parse(&fixture("error__snippets101-blog__number-6.xml")),
        Ok(Object::Error(Error {
            number: 6,
            message: None
        }))
    );
}

#[test]
fn fixture_execute_8875_settings_menu() {
    let doc = fixture("execute__cisco-devnotes__8875-settingsmenu-16-items.xml");
    // Most phones keep 3 ExecuteItems.
    let Ok(Object::Execute(e)) = parse(&doc) else {
        panic!()
    };
    assert_eq!(e.items.len(), 3);
    assert_eq!(e.items[0].url, "SettingsMenu:Network connection");
    assert_eq!(e.items[0].priority, Priority::Immediate);
    // An 8875 takes all 16.
    let opts = ParseOptions {
        max_execute_items: 16,
        ..ParseOptions::default()
    };
    let Ok(Object::Execute(e)) = parse_with(&doc, &opts) else {
        panic!()
    };
    assert_eq!(e.items.len(), 16);
    assert_eq!(Uri::parse(&e.items[4].url), Uri::Key("Key_1".into()));
    assert_eq!(Uri::parse(&e.items[15].url), Uri::Button("Apply".into()));
}

#[test]
fn fixture_execute_curly_quotes_is_parse_error() {
    let err = parse(&fixture(
        "execute__cisco-devnotes__priority-example-MALFORMED-curly-quotes.xml",
    ))
    .unwrap_err();
    assert_eq!(err.code(), 4);
    assert_eq!(err.to_string(), "XML Error [4]: Parse Error");
    assert!(err.detail().starts_with("line 2:"), "{}", err.detail());
}

#[test]
fn fixture_image_packed_pixels() {
    let Ok(Object::Image(i)) = parse(&fixture("image__cisco-devnotes__packed-pixels-2D.xml"))
    else {
        panic!()
    };
    assert_eq!(i.title.as_deref(), Some(""));
    assert_eq!(i.prompt.as_deref(), Some(""));
    assert_eq!(
        i.image,
        CipImage {
            location_x: Some(-1),
            location_y: Some(-1),
            width: Some(4),
            height: Some(1),
            depth: Some(2),
            data: Some("2D".into()),
        }
    );
}

#[test]
fn fixture_input_search_directory() {
    let Ok(Object::Input(i)) = parse(&fixture(
        "input__alexcr-telecom-cisco-phonebook__searchDirectory.xml",
    )) else {
        panic!()
    };
    assert_eq!(i.title, None);
    assert_eq!(i.prompt.as_deref(), Some("Enter first letters to search"));
    assert_eq!(
        i.url,
        "http://192.168.0.200/Ciscodirectory/companyDirectory.php"
    );
    assert_eq!(i.method, InputMethod::Get);
    assert_eq!(
        i.items,
        [InputItem {
            display_name: "Name".into(),
            query_string_param: "searchname".into(),
            default_value: String::new(),
            flags: InputFlags::ASCII,
        }]
    );
    assert_eq!(
        i.submit_url(&[("searchname", "Bar ksdale")]),
        "http://192.168.0.200/Ciscodirectory/companyDirectory.php?searchname=Bar%20ksdale"
    );
    assert_eq!(
        Object::Input(i).screen().to_string(),
        "1 Name [A]:\n-- Enter first letters to search\n[1 Submit] [2 <<] [3 Cancel]\n"
    );
}

#[test]
fn fixture_menu_softkeys_without_position_fail_the_updated_parser() {
    let err = parse(&fixture(
        "menu__cisco-devnotes__querystringparam-menuitems.xml",
    ))
    .unwrap_err();
    assert_eq!(err.code(), 4);
    assert!(err.detail().contains("Position"), "{}", err.detail());
}

#[test]
fn fixture_menu_non_canonical_order() {
    let Ok(Object::Menu(m)) = parse(&fixture(
        "menu__nficano-toolkit__readme_ciscoipphone_expected.xml",
    )) else {
        panic!()
    };
    assert_eq!(m.title, None);
    assert_eq!(m.prompt.as_deref(), Some("Select a directory"));
    assert_eq!(
        m.items,
        [
            MenuItem::new("My Contacts", "http://server/directory/contacts"),
            MenuItem::new("Businesses", "http://server/directory/businesses"),
        ]
    );
    assert!(m.softkeys.is_empty());
    assert_eq!(
        Object::Menu(m).screen().to_string(),
        "1 My Contacts\n2 Businesses\n-- Select a directory\n[1 Select] [2 Exit]\n"
    );
}

#[test]
fn fixture_response_generate_prt() {
    assert_eq!(
        parse(&fixture(
            "response__cisco-devnotes__generateprt-success.xml"
        )),
        Ok(Object::Response(Response {
            items: vec![ResponseItem {
                status: 0,
                data: "Success".into(),
                url: "Device:GeneratePRT".into()
            }]
        }))
    );
}

#[test]
fn fixture_text_custom_softkey() {
    let Ok(Object::Text(t)) = parse(&fixture("text__cisco-devnotes__custom-softkey.xml")) else {
        panic!()
    };
    assert_eq!(t.title, None);
    assert_eq!(t.text, "This object has one softkey named \"Custom\"");
    assert_eq!(
        t.softkeys,
        [SoftKeyItem::new("Custom", "http://someserver/somepage", 4)]
    );
    let xml = Object::Text(t.clone()).to_xml();
    assert!(xml.contains("<Text>This object has one softkey named &quot;Custom&quot;</Text>"));
}

#[test]
fn fixture_yealink_root_is_unsupported() {
    let err = parse(&fixture(
        "unknownroot__simssj-CFaM-Phones__yealink-directory.xml",
    ))
    .unwrap_err();
    assert_eq!(err.code(), 5);
    assert_eq!(err.to_string(), "XML Error [5]: Unsupported XML Object");
}

#[test]
fn every_fixture_has_an_expectation_and_parsed_ones_round_trip() {
    let expected_errors = [
        (
            "execute__cisco-devnotes__priority-example-MALFORMED-curly-quotes.xml",
            4,
        ),
        ("menu__cisco-devnotes__querystringparam-menuitems.xml", 4),
        ("unknownroot__simssj-CFaM-Phones__yealink-directory.xml", 5),
    ];
    let fixtures = all_fixtures();
    assert_eq!(
        fixtures.len(),
        11,
        "a fixture was added or removed: give it a test"
    );
    for (name, bytes) in fixtures {
        match parse(&bytes) {
            Ok(obj) => {
                assert!(
                    !expected_errors.iter().any(|(n, _)| *n == name),
                    "{name} parsed"
                );
                let xml = render(&obj);
                assert_eq!(parse(xml.as_bytes()).as_ref(), Ok(&obj), "{name}");
            }
            Err(e) => {
                let want = expected_errors.iter().find(|(n, _)| *n == name);
                assert_eq!(
                    want.map(|(_, c)| *c),
                    Some(e.code()),
                    "{name}: {}",
                    e.detail()
                );
            }
        }
    }
}

#[test]
fn sources_md_is_kept_with_the_fixtures() {
    let sources = String::from_utf8(fixture("SOURCES.md")).unwrap();
    for (name, _) in all_fixtures() {
        assert!(
            sources.contains(&name),
            "SOURCES.md does not mention {name}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile input: a clean error, no panic, bounded time and memory.

#[test]
fn every_truncation_of_every_fixture_is_handled() {
    for (name, bytes) in all_fixtures() {
        for end in 0..bytes.len() {
            if let Ok(obj) = parse(&bytes[..end]) {
                // Only a cut in trailing whitespace/comments can still parse.
                assert!(parse(&bytes).is_ok(), "{name}[..{end}] parsed to {obj:?}");
            }
        }
    }
}

#[test]
fn ten_megabytes_is_refused_before_parsing() {
    let mut doc = b"<CiscoIPPhoneText><Text>".to_vec();
    doc.resize(10 * 1024 * 1024, b'a');
    doc.extend_from_slice(b"</Text></CiscoIPPhoneText>");
    let err = parse(&doc).unwrap_err();
    assert_eq!(err.code(), 4);
    assert!(err.detail().contains("196608"), "{}", err.detail());
}

#[test]
fn ten_megabytes_with_the_limit_lifted_is_parsed_and_truncated() {
    let opts = ParseOptions {
        max_bytes: usize::MAX,
        ..ParseOptions::default()
    };
    let mut doc = b"<CiscoIPPhoneText><Text>".to_vec();
    doc.resize(10 * 1024 * 1024, b'a');
    doc.extend_from_slice(b"</Text></CiscoIPPhoneText>");
    let Ok(Object::Text(t)) = parse_with(&doc, &opts) else {
        panic!()
    };
    assert_eq!(t.text.len(), cipxml::limits::TEXT);
}

#[test]
fn ten_thousand_levels_of_nesting() {
    let doc = format!("{}{}", "<a>".repeat(10_000), "</a>".repeat(10_000));
    let err = parse(doc.as_bytes()).unwrap_err();
    assert_eq!(err.code(), 4);
    assert!(err.detail().contains("nested deeper"), "{}", err.detail());
    let unclosed = "<CiscoIPPhoneMenu>".repeat(10_000);
    assert_eq!(parse(unclosed.as_bytes()).unwrap_err().code(), 4);
}

#[test]
fn billion_laughs_is_not_expanded() {
    let doc = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<CiscoIPPhoneText><Text>&lol9;</Text></CiscoIPPhoneText>"#;
    let err = parse(doc.as_bytes()).unwrap_err();
    assert_eq!(err.code(), 4);
    assert!(
        err.detail().contains("undefined entity &lol9;"),
        "{}",
        err.detail()
    );
    // In an attribute too.
    let attr = doc
        .replace("<Text>&lol9;</Text>", "<Text>x</Text>")
        .replace("<CiscoIPPhoneText>", "<CiscoIPPhoneText appId=\"&lol9;\">");
    assert_eq!(parse(attr.as_bytes()).unwrap_err().code(), 4);
    // A DTD with nothing referencing it is skipped.
    let unused = doc.replace("&lol9;", "ok");
    assert!(matches!(parse(unused.as_bytes()), Ok(Object::Text(_))));
}

#[test]
fn external_entities_are_not_fetched() {
    let doc = r#"<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<CiscoIPPhoneText><Text>&x;</Text></CiscoIPPhoneText>"#;
    assert_eq!(parse(doc.as_bytes()).unwrap_err().code(), 4);
}

#[test]
fn invalid_utf8_and_nul_bytes() {
    let utf8 = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><CiscoIPPhoneText><Text>\xc3\x28</Text></CiscoIPPhoneText>";
    assert_eq!(parse(utf8).unwrap_err().code(), 4);
    let nul = b"<CiscoIPPhoneText><Text>a\0b</Text></CiscoIPPhoneText>";
    assert_eq!(parse(nul).unwrap_err().code(), 4);
    let nul_name = b"<CiscoIPPhone\0Text/>";
    assert_eq!(parse(nul_name).unwrap_err().code(), 4);
    let nul_ref = b"<CiscoIPPhoneText><Text>&#0;</Text></CiscoIPPhoneText>";
    assert_eq!(parse(nul_ref).unwrap_err().code(), 4);
    assert_eq!(parse(&[0u8; 4096]).unwrap_err().code(), 4);
    assert_eq!(parse(b"").unwrap_err().code(), 4);
    // UTF-16 with a BOM is decoded; garbage after a BOM is an error.
    let mut utf16 = vec![0xFF, 0xFE];
    for u in "<CiscoIPPhoneError Number=\"1\"/>".encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    assert_eq!(
        parse(&utf16),
        Ok(Object::Error(Error {
            number: 1,
            message: None
        }))
    );
    assert_eq!(parse(&[0xFF, 0xFE, 0x00]).unwrap_err().code(), 4);
}

#[test]
fn many_small_elements_within_the_size_limit() {
    let items = "<MenuItem/>".repeat(cipxml::limits::MAX_BYTES / 12);
    let doc = format!("<CiscoIPPhoneMenu>{items}</CiscoIPPhoneMenu>");
    let Ok(Object::Menu(m)) = parse(doc.as_bytes()) else {
        panic!()
    };
    assert_eq!(m.items.len(), cipxml::limits::MENU_ITEMS);
}

mod generated;
