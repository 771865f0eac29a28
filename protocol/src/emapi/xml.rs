//! A small, bounded element tree over quick-xml, and the writing helpers the messages share.
//!
//! Every EM API document is tiny and shallow, so each message reads a finished tree rather than
//! driving the event stream itself. The reader refuses DTDs and never expands entities beyond the
//! five predefined ones and character references; size, depth and element count are bounded.

use std::fmt::Write as _;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::escape::{escape, resolve_xml_entity};
use quick_xml::events::{BytesRef, BytesStart, Event};

use super::{EmApiError, MAX_DEPTH, MAX_ELEMENTS, MAX_XML_BYTES};

/// Most attributes one element may carry; EM API elements carry at most one.
const MAX_ATTRIBUTES: usize = 16;

/// One parsed element: its name, attributes, child elements and its own text, concatenated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) attrs: Vec<(String, String)>,
    pub(crate) children: Vec<Element>,
    /// Text directly inside this element (not its children's), entities resolved, untrimmed.
    pub(crate) text: String,
}

impl Element {
    /// The first child named `name`.
    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`, in document order.
    pub(crate) fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Whether a child named `name` is present (used for empty flags such as `<none/>`).
    pub(crate) fn has_child(&self, name: &str) -> bool {
        self.child(name).is_some()
    }

    /// The first child named `field`, or [`EmApiError::MissingField`].
    pub(crate) fn required(
        &self,
        parent: &'static str,
        field: &'static str,
    ) -> Result<&Element, EmApiError> {
        self.child(field)
            .ok_or(EmApiError::MissingField { parent, field })
    }

    /// The trimmed text of the first child named `name`, if present.
    pub(crate) fn child_text(&self, name: &str) -> Option<String> {
        self.child(name).map(Element::trimmed_text)
    }

    /// This element's own text with surrounding whitespace removed.
    pub(crate) fn trimmed_text(&self) -> String {
        self.text.trim().to_owned()
    }

    /// The value of attribute `name`, if present.
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Errors with [`EmApiError::UnexpectedRoot`] unless this element is named `expected`.
    pub(crate) fn expect_name(&self, expected: &'static str) -> Result<&Self, EmApiError> {
        if self.name == expected {
            Ok(self)
        } else {
            Err(EmApiError::UnexpectedRoot {
                found: truncate(&self.name),
                expected,
            })
        }
    }
}

/// Parses a whole document into its root element, within the module's limits.
pub(crate) fn parse_document(xml: &[u8]) -> Result<Element, EmApiError> {
    if xml.len() > MAX_XML_BYTES {
        return Err(EmApiError::TooLarge {
            len: xml.len(),
            max: MAX_XML_BYTES,
        });
    }
    let xml = xml.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(xml);
    let text = std::str::from_utf8(xml).map_err(|e| EmApiError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    if let Some(offset) = text.find('\0') {
        return Err(EmApiError::Malformed(format!(
            "NUL character at byte {offset}"
        )));
    }

    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;

    loop {
        let event = reader.read_event().map_err(|e| {
            let at = reader.error_position();
            EmApiError::Malformed(format!("{} (at byte {at})", truncate(&e.to_string())))
        })?;
        match event {
            Event::Start(start) => open(&mut stack, &mut count, root.is_some(), &start)?,
            Event::Empty(start) => {
                open(&mut stack, &mut count, root.is_some(), &start)?;
                close(&mut stack, &mut root)?;
            }
            Event::End(_) => close(&mut stack, &mut root)?,
            Event::Text(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::CData(c) => push_text(&mut stack, &c.xml10_content())?,
            Event::GeneralRef(r) => push_text(&mut stack, &resolve_reference(&r)?)?,
            Event::DocType(_) => return Err(EmApiError::DoctypeRefused),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(EmApiError::Malformed(format!(
            "input ends inside <{}>",
            truncate(&open.name)
        )));
    }
    root.ok_or_else(|| EmApiError::Malformed("no root element".to_owned()))
}

fn open(
    stack: &mut Vec<Element>,
    count: &mut usize,
    after_root: bool,
    start: &BytesStart<'_>,
) -> Result<(), EmApiError> {
    if after_root {
        return Err(EmApiError::Malformed(
            "more than one root element".to_owned(),
        ));
    }
    if stack.len() >= MAX_DEPTH {
        return Err(EmApiError::TooDeep { max: MAX_DEPTH });
    }
    *count += 1;
    if *count > MAX_ELEMENTS {
        return Err(EmApiError::TooManyElements { max: MAX_ELEMENTS });
    }
    let mut attrs = Vec::new();
    for (i, attr) in start.attributes().enumerate() {
        if i == MAX_ATTRIBUTES {
            return Err(EmApiError::Malformed(format!(
                "more than {MAX_ATTRIBUTES} attributes on one element"
            )));
        }
        let attr = attr.map_err(|e| EmApiError::Malformed(format!("bad attribute: {e}")))?;
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| EmApiError::Malformed(format!("bad attribute value: {e}")))?;
        attrs.push((attr.key.as_ref().to_owned(), value.into_owned()));
    }
    stack.push(Element {
        name: start.name().as_ref().to_owned(),
        attrs,
        children: Vec::new(),
        text: String::new(),
    });
    Ok(())
}

fn close(stack: &mut Vec<Element>, root: &mut Option<Element>) -> Result<(), EmApiError> {
    let done = stack
        .pop()
        .ok_or_else(|| EmApiError::Malformed("end tag without start tag".to_owned()))?;
    match stack.last_mut() {
        Some(parent) => parent.children.push(done),
        None => *root = Some(done),
    }
    Ok(())
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), EmApiError> {
    match stack.last_mut() {
        Some(top) => {
            top.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(EmApiError::Malformed(
            "text outside the root element".to_owned(),
        )),
    }
}

/// Resolves `&name;`: character references and the five predefined entities only.
fn resolve_reference(r: &BytesRef<'_>) -> Result<String, EmApiError> {
    match r.resolve_char_ref() {
        Ok(Some(c)) if c != '\0' => return Ok(c.to_string()),
        Ok(Some(_)) | Err(_) => {
            return Err(EmApiError::Malformed(format!(
                "invalid character reference &{};",
                truncate(r)
            )));
        }
        Ok(None) => {}
    }
    resolve_xml_entity(r)
        .map(str::to_owned)
        .ok_or_else(|| EmApiError::EntityRefused(truncate(r)))
}

/// Cuts untrusted text down for error messages.
pub(crate) fn truncate(s: &str) -> String {
    const MAX: usize = 96;
    match s.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}...", &s[..at]),
        None => s.to_owned(),
    }
}

/// Characters left as they are in an encoded `userID`: the RFC 3986 unreserved set.
const USER_ID_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a user ID as UTF-8, the way Cisco writes `em%40cisco.com`.
pub(crate) fn encode_user_id(user_id: &str) -> String {
    utf8_percent_encode(user_id, USER_ID_KEEP).to_string()
}

/// Decodes a percent-encoded user ID; a raw one (`em@cisco.com`) comes back unchanged.
///
/// Decodes like Java's `URLDecoder` (CUCM is a Java application): `+` is a space, so a raw
/// `a+b` reads as `a b`, as it would on CUCM; rendering writes `%20` and `%2B`, which read the
/// same either way. Sequences that do not decode to UTF-8 leave the value as it was sent.
pub(crate) fn decode_user_id(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    match percent_decode_str(&spaced).decode_utf8() {
        Ok(decoded) => decoded.into_owned(),
        Err(_) => raw.to_owned(),
    }
}

/// Appends `<name>text</name>` with `text` escaped.
pub(crate) fn push_element(out: &mut String, name: &str, text: &str) {
    let _ = write!(out, "<{name}>{}</{name}>", escape(text));
}

/// Appends `<name>text</name>` when `text` is present.
pub(crate) fn push_optional(out: &mut String, name: &str, text: Option<&str>) {
    if let Some(text) = text {
        push_element(out, name, text);
    }
}

/// Appends `<userID>…</userID>` with the user ID percent-encoded.
pub(crate) fn push_user_id(out: &mut String, user_id: &str) {
    push_element(out, "userID", &encode_user_id(user_id));
}

/// Parses the booleans Cisco writes in several spellings: `t`/`f`, `true`/`false`, `yes`/`no`.
pub(crate) fn parse_flag(element: &'static str, value: &str) -> Result<bool, EmApiError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "yes" | "y" | "1" => Ok(true),
        "f" | "false" | "no" | "n" | "0" => Ok(false),
        _ => Err(EmApiError::InvalidValue {
            element,
            value: truncate(value),
        }),
    }
}

/// Reads the optional `<isViaHeaderSet>` flag shared by login, logout, logoutAll and queries.
pub(crate) fn parse_via(el: &Element) -> Result<Option<bool>, EmApiError> {
    el.child_text("isViaHeaderSet")
        .map(|v| parse_flag("isViaHeaderSet", &v))
        .transpose()
}

/// Writes the optional `<remoteIPAddr>` and `<isViaHeaderSet>` tail, in DTD order.
pub(crate) fn push_remote(out: &mut String, remote_ip_addr: Option<&str>, via: Option<bool>) {
    push_optional(out, "remoteIPAddr", remote_ip_addr);
    push_optional(
        out,
        "isViaHeaderSet",
        via.map(|v| if v { "true" } else { "false" }),
    );
}

/// Every `<userID>` child, trimmed and decoded; at least one, or [`EmApiError::MissingField`].
pub(crate) fn user_ids(el: &Element, parent: &'static str) -> Result<Vec<String>, EmApiError> {
    let ids: Vec<String> = el
        .children_named("userID")
        .map(|c| decode_user_id(&c.trimmed_text()))
        .collect();
    if ids.is_empty() {
        return Err(EmApiError::MissingField {
            parent,
            field: "userID",
        });
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_tree_with_text_attributes_and_entities() {
        let root = parse_document(
            b"<?xml version=\"1.0\"?>\n<!-- c --><a x=\"1&amp;2\"><b>t&lt;&#65;&#x42;<![CDATA[<c>]]></b><e/></a>\n",
        )
        .unwrap();
        assert_eq!(root.name, "a");
        assert_eq!(root.attr("x"), Some("1&2"));
        assert_eq!(root.child_text("b").as_deref(), Some("t<AB<c>"));
        assert!(root.has_child("e"));
    }

    #[test]
    fn refuses_what_it_must() {
        assert!(matches!(
            parse_document(b"<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>"),
            Err(EmApiError::DoctypeRefused)
        ));
        assert!(matches!(
            parse_document(b"<a>&x;</a>"),
            Err(EmApiError::EntityRefused(_))
        ));
        assert!(matches!(
            parse_document(b"<a>&#0;</a>"),
            Err(EmApiError::Malformed(_))
        ));
        assert!(matches!(
            parse_document(b"<a></a><b/>"),
            Err(EmApiError::Malformed(_))
        ));
        assert!(matches!(
            parse_document(b"<a><b></a>"),
            Err(EmApiError::Malformed(_))
        ));
        assert!(matches!(
            parse_document(b"<a><b>"),
            Err(EmApiError::Malformed(_))
        ));
        assert!(matches!(
            parse_document(b"x<a/>"),
            Err(EmApiError::Malformed(_))
        ));
        assert!(matches!(parse_document(b""), Err(EmApiError::Malformed(_))));
        assert!(matches!(
            parse_document(b"<a>\0</a>"),
            Err(EmApiError::Malformed(_))
        ));
        assert!(matches!(
            parse_document(b"<a>\xff</a>"),
            Err(EmApiError::InvalidUtf8 { offset: 3 })
        ));
    }

    #[test]
    fn user_ids_encode_like_cisco_and_decode_raw_too() {
        assert_eq!(encode_user_id("em@cisco.com"), "em%40cisco.com");
        assert_eq!(encode_user_id("jöhn doe"), "j%C3%B6hn%20doe");
        assert_eq!(decode_user_id("em%40cisco.com"), "em@cisco.com");
        assert_eq!(decode_user_id("em@cisco.com"), "em@cisco.com");
        assert_eq!(decode_user_id("j%C3%B6hn"), "jöhn");
        assert_eq!(decode_user_id("john+doe"), "john doe");
        assert_eq!(decode_user_id("a%2Bb"), "a+b");
        assert_eq!(encode_user_id("a+b c"), "a%2Bb%20c");
        assert_eq!(decode_user_id("50%"), "50%");
        assert_eq!(decode_user_id("a%ffb"), "a%ffb");
    }
}
