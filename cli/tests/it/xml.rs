//! `emroam xml`: what a phone shows, the JSON object, and the phone's errors with exit 2.

use std::path::PathBuf;

use crate::util::{cipxml_fixture, emroam, stdout};

#[test]
fn menu_fixture_shows_title_items_and_softkeys() {
    let f = cipxml_fixture("menu__nficano-toolkit__readme_ciscoipphone_expected.xml");
    let out = emroam(&["xml", f.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    assert!(!text.trim().is_empty(), "a screen was shown");
}

#[test]
fn json_names_the_root_element() {
    let f = cipxml_fixture("text__cisco-devnotes__custom-softkey.xml");
    let out = emroam(&["xml", "--json", f.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(v["object"], "CiscoIPPhoneText");
}

#[test]
fn stdin_dash_reads_standard_input() {
    let doc = br#"<?xml version="1.0" encoding="utf-8"?><CiscoIPPhoneText><Title>Hello</Title><Text>Body text here</Text></CiscoIPPhoneText>"#;
    let out = emroam(&["xml", "-"], doc);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("Hello"), "{text}");
    assert!(text.contains("Body text here"), "{text}");
}

#[test]
fn malformed_document_exits_2_with_parse_error() {
    let f = cipxml_fixture("execute__cisco-devnotes__priority-example-MALFORMED-curly-quotes.xml");
    let out = emroam(&["xml", f.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(stdout(&out).trim(), "XML Error [4]: Parse Error");
}

#[test]
fn unknown_root_exits_2_with_unsupported_object() {
    let f = cipxml_fixture("unknownroot__simssj-CFaM-Phones__yealink-directory.xml");
    let out = emroam(&["xml", f.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(stdout(&out).trim(), "XML Error [5]: Unsupported XML Object");
}

#[test]
fn truncated_stdin_is_a_parse_error_in_json_too() {
    let out = emroam(&["xml", "--json", "-"], b"<CiscoIPPhoneMenu><Title>cut");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(v["error"], "XML Error [4]: Parse Error");
    assert_eq!(v["code"], 4);
}

#[test]
fn unknown_locale_charset_is_bad_input() {
    let out = emroam(
        &["xml", "--locale-charset", "klingon", "-"],
        b"<CiscoIPPhoneText/>",
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn a_missing_profile_exits_2() {
    let out = emroam(&["fleet", "no-such-profile.toml"], b"");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-profile.toml: cannot read"));
}

#[test]
fn bad_arguments_exit_2() {
    let out = emroam(&["xml"], b"");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn tui_with_a_missing_topology_exits_2() {
    let out = emroam(&["tui", "--topology", "no-such-topology.toml"], b"");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-topology.toml"), "{err}");
}

#[test]
fn tui_without_a_terminal_says_so_and_exits_1() {
    let topo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../profiles/topologies/seed.toml");
    let out = emroam(&["tui", "--topology", topo.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("terminal"), "{err}");
}
