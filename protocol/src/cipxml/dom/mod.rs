//! Bytes to a small element tree: charset detection, well-formedness, entity decoding.
//!
//! This is the phone's "is it XML at all" step; everything it rejects is `XML Error [4]`.
//! Bounded: the caller's size limit is checked before decoding, nesting is capped, and DTDs
//! are skipped without expanding anything (an entity they declare is an undefined reference).
//!
//! quick-xml is the tokenizer of record: [`plain`] reads the common plain documents itself
//! (quick-xml checks UTF-8 again on every event; its reader was 58 % of the parse) and hands
//! everything else, every error included, to quick-xml, so what is accepted and how an
//! error reads do not depend on which reader built the tree. Measured (callgrind, EM login
//! page): 57.2k instructions per parse with quick-xml alone, 24.1k with the plain reader.

use std::borrow::Cow;

use encoding_rs::Encoding;
use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};

use super::{ParseOptions, XmlError};

mod plain;

/// One element: its name, attributes (entity-decoded, in document order), child elements
/// and the concatenation of its own text and CDATA content.
///
/// Borrows from the decoded document wherever it can (names, attribute values and text
/// that needed no decoding), so a tree allocates only for elements with children, elements
/// with attributes and text that had to be decoded or joined from several pieces.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Element<'a> {
    pub(crate) name: Cow<'a, str>,
    pub(crate) attrs: Vec<Attr<'a>>,
    pub(crate) children: Vec<Element<'a>>,
    /// Whitespace-only text before the first other text is not kept: every reader of
    /// `text` trims XML whitespace from both ends, and skipping it lets container elements
    /// (text only between their children) keep an empty, unallocated `text`.
    pub(crate) text: Cow<'a, str>,
}

/// An attribute: name and entity-decoded value.
pub(crate) type Attr<'a> = (Cow<'a, str>, Cow<'a, str>);

impl<'a> Element<'a> {
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }

    /// The last child called `name` (a repeated singular child: the last one wins).
    pub(crate) fn child(&self, name: &str) -> Option<&Element<'a>> {
        self.children.iter().rev().find(|c| c.name == name)
    }

    /// [`child`](Self::child), mutably.
    pub(crate) fn child_mut(&mut self, name: &str) -> Option<&mut Element<'a>> {
        self.children.iter_mut().rev().find(|c| c.name == name)
    }

    pub(crate) fn children_named<'n>(
        &'n self,
        name: &'n str,
    ) -> impl Iterator<Item = &'n Element<'a>> + 'n {
        self.children.iter().filter(move |c| c.name == name)
    }

    #[cfg(test)]
    fn into_owned(self) -> Element<'static> {
        let own = |c: Cow<'a, str>| Cow::Owned(c.into_owned());
        Element {
            name: own(self.name),
            attrs: self
                .attrs
                .into_iter()
                .map(|(k, v)| (own(k), own(v)))
                .collect(),
            children: self.children.into_iter().map(Element::into_owned).collect(),
            text: own(self.text),
        }
    }
}

/// A tree as the tests of the tree itself hold it: owned, not borrowing the document.
#[cfg(test)]
pub(crate) type Node = Element<'static>;

/// Decodes `doc` and builds its element tree (an owned copy, for tests of the tree itself).
#[cfg(test)]
pub(crate) fn parse_tree(doc: &[u8], opts: &ParseOptions) -> Result<Node, XmlError> {
    let decoded = decode_checked(doc, opts)?;
    Ok(build(&decoded, opts.max_depth)?.into_owned())
}

/// A document decoded to text that passed the XML character check, ready for [`build`].
#[derive(Debug)]
pub(crate) struct Decoded<'d> {
    /// Borrows the input when it already is the text (UTF-8, or ASCII in an ASCII-based
    /// charset).
    text: Cow<'d, str>,
    /// Whether the text has a CR (found by the character check's pass): without one, XML
    /// end-of-line handling has nothing to rewrite.
    has_cr: bool,
}

/// The size limit, then [`decode`], then the XML character check.
pub(crate) fn decode_checked<'d>(
    doc: &'d [u8],
    opts: &ParseOptions,
) -> Result<Decoded<'d>, XmlError> {
    if doc.len() > opts.max_bytes {
        return Err(XmlError::parse(format!(
            "document is {} bytes, over the {}-byte limit",
            doc.len(),
            opts.max_bytes
        )));
    }
    let text = decode(doc, opts.locale_encoding)?;
    let has_cr = check_chars(&text)?;
    Ok(Decoded { text, has_cr })
}

/// Picks the charset like a phone: BOM, else the prolog's `encoding`, else the locale
/// default (not UTF-8), and decodes strictly (malformed bytes are a parse error).
fn decode<'d>(doc: &'d [u8], locale: &'static Encoding) -> Result<Cow<'d, str>, XmlError> {
    let (encoding, body) = match Encoding::for_bom(doc) {
        Some((enc, bom_len)) => (enc, &doc[bom_len..]),
        None => match declared_encoding(doc) {
            Some(label) => {
                // The common label without the general lookup.
                let enc = if label.eq_ignore_ascii_case("utf-8") {
                    Some(encoding_rs::UTF_8)
                } else {
                    Encoding::for_label(label.as_bytes())
                };
                let enc = enc
                    .filter(|e| *e != encoding_rs::REPLACEMENT)
                    .ok_or_else(|| XmlError::parse(format!("unsupported encoding {label:?}")))?;
                if enc == encoding_rs::UTF_16LE || enc == encoding_rs::UTF_16BE {
                    return Err(XmlError::parse(format!(
                        "encoding {label:?} declared in an ASCII-compatible prolog without a BOM"
                    )));
                }
                (enc, doc)
            }
            None => (locale, doc),
        },
    };
    match encoding.decode_without_bom_handling_and_without_replacement(body) {
        Some(s) => Ok(s),
        None => Err(XmlError::parse(format!(
            "bytes that are not valid {}",
            encoding.name()
        ))),
    }
}

/// The `encoding` pseudo-attribute of a leading `<?xml ...?>`, read as ASCII.
fn declared_encoding(doc: &[u8]) -> Option<&str> {
    let rest = doc.strip_prefix(b"<?xml")?;
    if !rest.first().is_some_and(|b| b.is_ascii_whitespace()) {
        return None;
    }
    let end = rest.windows(2).take(1024).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&rest[..end]).ok()?;
    let at = decl.as_bytes().windows(8).position(|w| w == b"encoding")?;
    let after = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &after[1..];
    Some(&value[..value.find(quote)?])
}

/// XML 1.0 forbids C0 controls other than TAB, LF and CR, and U+FFFE / U+FFFF. Returns
/// whether the text has a CR.
fn check_chars(text: &str) -> Result<bool, XmlError> {
    match scan_chars(text.as_bytes()) {
        Err(at) => {
            let c = text[at..].chars().next().unwrap_or('\0');
            Err(XmlError::parse(format!(
                "line {}: character U+{:04X} is not allowed in XML",
                line_of(text, at),
                u32::from(c)
            )))
        }
        Ok(has_cr) => Ok(has_cr),
    }
}

/// Where the first character that is not [`is_xml_char`] starts, scanning UTF-8 bytes (a C0
/// control is one byte below 0x20, U+FFFE / U+FFFF are `EF BF BE` / `EF BF BF`), or whether
/// there is a CR. Fixed-size blocks with neither a control nor an `EF` lead byte are passed
/// over by a branch-free test that compiles to vector compares.
fn scan_chars(bytes: &[u8]) -> Result<bool, usize> {
    const BLOCK: usize = 32;
    let suspect = |b: u8| {
        u8::from(b < 0x20) & u8::from(b != b'\t') & u8::from(b != b'\n') & u8::from(b != b'\r')
            | u8::from(b == 0xEF)
    };
    let exact = |at: usize| match bytes[at] {
        0xEF => bytes.get(at + 1) == Some(&0xBF) && matches!(bytes.get(at + 2), Some(0xBE | 0xBF)),
        b => b < 0x20 && b != b'\t' && b != b'\n' && b != b'\r',
    };
    let mut has_cr = 0;
    let mut blocks = bytes.chunks_exact(BLOCK);
    for (n, block) in blocks.by_ref().enumerate() {
        let (mut flagged, mut cr) = (0, 0);
        for &b in block {
            flagged |= suspect(b);
            cr |= u8::from(b == b'\r');
        }
        has_cr |= cr;
        if flagged != 0
            && let Some(at) = (n * BLOCK..(n + 1) * BLOCK).find(|&at| exact(at))
        {
            return Err(at);
        }
    }
    let tail = bytes.len() - blocks.remainder().len();
    for (at, &b) in bytes.iter().enumerate().skip(tail) {
        if exact(at) {
            return Err(at);
        }
        has_cr |= u8::from(b == b'\r');
    }
    Ok(has_cr != 0)
}

pub(crate) fn is_xml_char(c: char) -> bool {
    !(c < ' ' && !matches!(c, '\t' | '\n' | '\r') || c == '\u{FFFE}' || c == '\u{FFFF}')
}

fn line_of(text: &str, byte_pos: usize) -> usize {
    let pos = byte_pos.min(text.len());
    text.as_bytes()[..pos]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Appends a piece of an element's text, borrowing while the text is a single piece. `src`
/// is the document and `pos` where the reader is in it.
fn push_text<'a>(text: &mut Cow<'a, str>, piece: Cow<'a, str>, src: &str, pos: u64) {
    if text.is_empty() {
        *text = piece;
        return;
    }
    match text {
        Cow::Owned(s) => s.push_str(&piece),
        Cow::Borrowed(s) => {
            // Room for the rest of this run of character data, up to the next markup, which
            // decoding only shrinks: `a &amp; b` is three pieces but one allocation.
            let pos = usize::try_from(pos).map_or(src.len(), |p| p.min(src.len()));
            let rest = src.as_bytes()[pos..]
                .iter()
                .position(|&b| b == b'<')
                .unwrap_or(src.len() - pos);
            let mut joined = String::with_capacity(s.len() + piece.len() + rest);
            joined.push_str(s);
            joined.push_str(&piece);
            *text = Cow::Owned(joined);
        }
    }
}

/// Builds the element tree of a decoded, checked document: by [`plain::build`] when it can
/// (no CR to normalise, and only plain markup), else by quick-xml's reader.
///
/// Debug builds check that the plain reader's tree is the one quick-xml builds.
pub(crate) fn build<'t>(doc: &'t Decoded<'_>, max_depth: usize) -> Result<Element<'t>, XmlError> {
    if !doc.has_cr
        && let Some(root) = plain::build(&doc.text, max_depth)
    {
        if cfg!(debug_assertions) {
            match build_quick_xml(doc, max_depth) {
                Ok(tree) => assert_eq!(root, tree, "plain reader and quick-xml disagree"),
                Err(e) => panic!("plain reader accepted what quick-xml refuses: {e}"),
            }
        }
        return Ok(root);
    }
    build_quick_xml(doc, max_depth)
}

/// Builds the element tree with quick-xml's reader: any document, and every error.
fn build_quick_xml<'t>(doc: &'t Decoded<'_>, max_depth: usize) -> Result<Element<'t>, XmlError> {
    let (text, has_cr) = (doc.text.as_ref(), doc.has_cr);
    let mut reader = quick_xml::Reader::from_str(text);
    {
        let cfg = reader.config_mut();
        cfg.check_end_names = true;
        cfg.check_comments = true;
        cfg.trim_text(false);
    }
    // Every element read so far that is not yet a child in its parent's `children`, in
    // document order: open elements (indexed by `open`) each followed by their finished
    // children, which move into one exactly sized Vec when the element ends. An open
    // element is never moved; at the end only the root is left.
    let mut nodes: Vec<Element<'_>> = Vec::with_capacity(16);
    let mut open: Vec<usize> = Vec::with_capacity(max_depth.min(16));
    let mut root_done = false;
    let mut first_event = true;
    let mut seen_doctype = false;
    let fail = |reader: &quick_xml::Reader<&[u8]>, why: String| {
        let at = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        XmlError::parse(format!("line {}: {why}", line_of(text, at)))
    };
    loop {
        let event = reader.read_event();
        let at_start = std::mem::replace(&mut first_event, false);
        let is_start = matches!(event, Ok(Event::Start(_)));
        match event {
            Err(e) => {
                let at = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
                return Err(XmlError::parse(format!("line {}: {e}", line_of(text, at))));
            }
            Ok(Event::Start(ref start) | Event::Empty(ref start)) => {
                if root_done {
                    return Err(fail(&reader, "content after the root element".into()));
                }
                if open.len() >= max_depth {
                    return Err(fail(
                        &reader,
                        format!("elements nested deeper than {max_depth}"),
                    ));
                }
                if is_start {
                    open.push(nodes.len());
                } else if open.is_empty() {
                    root_done = true;
                }
                push_element(&mut nodes, text, start).map_err(|why| fail(&reader, why))?;
            }
            Ok(Event::End(_)) => {
                // quick-xml has checked the name matches the open tag.
                let Some(at) = open.pop() else {
                    return Err(fail(&reader, "end tag without a start tag".into()));
                };
                if at + 1 < nodes.len() {
                    let children = nodes.split_off(at + 1);
                    nodes[at].children = children;
                }
                root_done = open.is_empty();
            }
            Ok(Event::Text(t)) => {
                // End-of-line handling below only turns CRs into LFs: whitespace stays so.
                let blank = t.bytes().all(is_xml_space_byte);
                match open.last() {
                    Some(&at) if !(blank && nodes[at].text.is_empty()) => {
                        // XML 1.0 end-of-line handling only rewrites CR: without one, text
                        // is used as read.
                        let content = if has_cr {
                            t.xml10_content()
                        } else {
                            t.into_inner()
                        };
                        let pos = reader.buffer_position();
                        push_text(&mut nodes[at].text, content, text, pos);
                    }
                    Some(_) => {}
                    None if blank => {}
                    None => return Err(fail(&reader, "text outside the root element".into())),
                }
            }
            Ok(Event::CData(t)) => match open.last() {
                Some(&at) => {
                    let content = if has_cr {
                        t.xml10_content()
                    } else {
                        t.into_inner()
                    };
                    push_text(&mut nodes[at].text, content, text, reader.buffer_position());
                }
                None => return Err(fail(&reader, "CDATA outside the root element".into())),
            },
            Ok(Event::GeneralRef(r)) => {
                let resolved: Cow<'_, str> = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) if is_xml_char(c) => Cow::Owned(c.to_string()),
                        _ => {
                            let why = format!("invalid character reference &{};", &*r);
                            return Err(fail(&reader, why));
                        }
                    }
                } else {
                    match resolve_predefined_entity(&r) {
                        Some(s) => Cow::Borrowed(s),
                        None => {
                            let why = format!("undefined entity &{};", &*r);
                            return Err(fail(&reader, why));
                        }
                    }
                };
                match open.last() {
                    Some(&at) => {
                        let pos = reader.buffer_position();
                        push_text(&mut nodes[at].text, resolved, text, pos);
                    }
                    None => return Err(fail(&reader, "reference outside the root element".into())),
                }
            }
            // The charset was taken from a declaration at offset 0 only, so one anywhere
            // else (even after leading whitespace) is refused rather than misread.
            Ok(Event::Decl(_)) if !at_start => {
                return Err(fail(&reader, "XML declaration not at the start".into()));
            }
            // DTDs are skipped, never expanded: entities they declare stay undefined.
            Ok(Event::DocType(_)) => {
                if seen_doctype || root_done || !open.is_empty() {
                    return Err(fail(&reader, "misplaced or repeated <!DOCTYPE>".into()));
                }
                seen_doctype = true;
            }
            Ok(Event::Decl(_) | Event::PI(_) | Event::Comment(_)) => {}
            Ok(Event::Eof) => break,
        }
    }
    if let Some(&at) = open.last() {
        return Err(fail(
            &reader,
            format!("document ends inside <{}>", nodes[at].name),
        ));
    }
    nodes
        .pop()
        .ok_or_else(|| XmlError::parse("no root element".into()))
}

pub(crate) fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// `s` without leading and trailing XML whitespace, trimmed byte by byte (it is all ASCII,
/// so every cut is a character boundary).
pub(crate) fn trim_xml_space(s: &str) -> &str {
    let b = s.as_bytes();
    let start = b
        .iter()
        .position(|&c| !is_xml_space_byte(c))
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|&c| !is_xml_space_byte(c))
        .map_or(start, |last| last + 1);
    &s[start..end]
}

fn is_xml_space_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// An XML `Name`, approximated: ASCII letters, `_` or `:` (or any non-ASCII) first, then
/// also digits, `-` and `.`. Checked byte by byte: every byte of a non-ASCII character is
/// itself non-ASCII.
fn is_name(s: &str) -> bool {
    s.as_bytes().split_first().is_some_and(|(&first, rest)| {
        NAME_BYTES[usize::from(first)] == NAME_START
            && rest.iter().all(|&b| NAME_BYTES[usize::from(b)] != 0)
    })
}

const NAME_START: u8 = 2;

/// Per byte: [`NAME_START`] if it may begin a name, 1 if it may only follow, else 0.
static NAME_BYTES: [u8; 256] = {
    let mut table = [0; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = if c.is_ascii_alphabetic() || c == b'_' || c == b':' || !c.is_ascii() {
            NAME_START
        } else if c.is_ascii_digit() || c == b'-' || c == b'.' {
            1
        } else {
            0
        };
        b += 1;
    }
    table
};

/// `s` as a slice of `src` when it is one (the reader's events borrow from the text it
/// reads), so it can outlive the event; otherwise a copy.
fn keep<'a>(src: &'a str, s: &str) -> Cow<'a, str> {
    let offset = s.as_ptr().addr().wrapping_sub(src.as_ptr().addr());
    match src.get(offset..offset.wrapping_add(s.len())) {
        Some(slice) if slice.as_ptr() == s.as_ptr() => Cow::Borrowed(slice),
        _ => Cow::Owned(s.to_owned()),
    }
}

/// Checks a start tag and pushes its element (attributes decoded) onto `nodes`.
fn push_element<'a>(
    nodes: &mut Vec<Element<'a>>,
    src: &'a str,
    start: &BytesStart<'_>,
) -> Result<(), String> {
    let qname = start.name();
    let name = qname.as_ref();
    if !is_name(name) {
        return Err(format!("{name:?} is not a valid element name"));
    }
    // Most tags have no attributes: skip setting up the iterator (and its duplicate check).
    let attrs = if start.attributes_raw().bytes().all(is_xml_space_byte) {
        Vec::new()
    } else {
        attributes(src, name, start)?
    };
    nodes.push(Element {
        name: keep(src, name),
        attrs,
        children: Vec::new(),
        text: Cow::Borrowed(""),
    });
    Ok(())
}

/// The attributes of the start tag of `name`, checked and decoded.
fn attributes<'a>(
    src: &'a str,
    name: &str,
    start: &BytesStart<'_>,
) -> Result<Vec<Attr<'a>>, String> {
    let mut attrs = Vec::new();
    let mut it = start.attributes();
    it.with_checks(true);
    for attr in it {
        let attr = attr.map_err(|e| format!("in <{name}>: {e}"))?;
        let key = attr.key.as_ref();
        if !is_name(key) {
            return Err(format!(
                "in <{name}>: {key:?} is not a valid attribute name"
            ));
        }
        if attr.value.contains('<') {
            return Err(format!("in <{name} {key}>: '<' in an attribute value"));
        }
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| format!("in <{name} {key}>: {e}"))?;
        if let Some(c) = value.chars().find(|c| !is_xml_char(*c)) {
            return Err(format!(
                "in <{name} {key}>: character U+{:04X} not allowed",
                u32::from(c)
            ));
        }
        let value = match value {
            Cow::Borrowed(v) => keep(src, v),
            Cow::Owned(v) => Cow::Owned(v),
        };
        attrs.push((keep(src, key), value));
    }
    Ok(attrs)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn tree(doc: &str) -> Result<Node, XmlError> {
        parse_tree(doc.as_bytes(), &ParseOptions::default())
    }

    #[test]
    fn reads_the_declared_encoding() {
        assert_eq!(
            declared_encoding(b"<?xml version=\"1.0\" encoding = 'ISO-8859-1' ?><a/>"),
            Some("ISO-8859-1")
        );
        assert_eq!(declared_encoding(b"<?xml version=\"1.0\" ?><a/>"), None);
        assert_eq!(declared_encoding(b"<a/>"), None);
        assert_eq!(declared_encoding(b"<?xml-stylesheet x?><a/>"), None);
    }

    #[test]
    fn builds_children_text_and_attributes() {
        let n = tree("<r a=\"1 &amp; 2\"><x>t&lt;&#65;&#x42;<![CDATA[<c>]]></x><y/></r>").unwrap();
        assert_eq!(n.name, "r");
        assert_eq!(n.attr("a"), Some("1 & 2"));
        assert_eq!(n.children.len(), 2);
        assert_eq!(n.children[0].text, "t<AB<c>");
    }

    #[test]
    fn crlf_is_normalized_in_text() {
        let n = tree("<r>a\r\nb\rc&#13;</r>").unwrap();
        assert_eq!(n.text, "a\nb\nc\r");
    }

    #[test]
    fn rejects_what_is_not_well_formed() {
        for bad in [
            "",
            "   ",
            "<r>",
            "<r></s>",
            "<r/><r/>",
            "<r/>junk",
            "junk<r/>",
            "<r>&nbsp;</r>",
            "<r>&#0;</r>",
            "<r>&#1;</r>",
            "<r a='1' a='2'/>",
            "<r a=1/>",
            "<r>\u{0}</r>",
            "<r><!-- a -- b --></r>",
            "<1r/>",
            "<r 1a='x'/>",
            "<r a='<'/>",
            " <?xml version=\"1.0\"?><r/>",
            "<r><?xml version=\"1.0\"?></r>",
            "<!DOCTYPE r><!DOCTYPE r><r/>",
            "<r><!DOCTYPE r></r>",
        ] {
            let err = tree(bad).unwrap_err();
            assert_eq!(err.code(), 4, "{bad:?}");
        }
    }

    #[test]
    fn trims_xml_whitespace_only() {
        assert_eq!(trim_xml_space(" \t\r\n é\u{a0}x \n"), "é\u{a0}x");
        assert_eq!(trim_xml_space("\u{a0}"), "\u{a0}");
        assert_eq!(trim_xml_space(" \n "), "");
        assert_eq!(trim_xml_space(""), "");
    }

    #[test]
    fn errors_carry_a_line_number() {
        let err = tree("<r>\n<a>\n</b></r>").unwrap_err();
        assert!(err.detail().starts_with("line 3:"), "{}", err.detail());
    }

    /// Pieces documents are drawn from to compare the two readers: balanced units the plain
    /// reader takes, and markup either reader may refuse or leave to quick-xml.
    fn piece() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            6 => prop::sample::select(&[
                "<a>x</a>", "<b/>", "<b />", "<a x='1' y=\"2 3\">t &amp; u</a>", "<a>&lt;&lt;</a>",
                "<a:b c:d=''/>", "<c>\n  <d>é</d>\n</c>", "<c> </c>", "<c> &gt; </c>",
                "<e>a<f/>b</e>", "<e>&quot;&apos;</e>", "x", " ", "\n", "\t", "&amp;",
            ][..]),
            1 => prop::sample::select(&[
                "<a>", "</a>", "</a >", "<a x='1' x='2'/>", "<a x=1/>", "<a x = '1'/>",
                "<a x='<'/>", "<a x='&amp;'/>", "<a x='a\tb'/>", "<a x='>'/>", "<ax='1'/>",
                "<a x='1'y='2'/>", "<a/ >", "&nbsp;", "&#65;", "&#x42;", "&", "<", ">", "/",
                "=", "'", "\"", "<?xml version=\"1.0\"?>", "<?pi x?>", "<!-- c -->",
                "<![CDATA[<x>]]>", "<!DOCTYPE a>", "<1/>", "]]>", "<a\u{e9}/>", "\u{1}",
            ][..]),
        ]
    }

    proptest::proptest! {
        #[test]
        fn the_plain_reader_builds_what_quick_xml_builds(
            decl in prop::sample::select(&["", "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n",
                "<?xml version='1.0'?>", "<?xml?>", " "][..]),
            pieces in prop::collection::vec(piece(), 0..12),
            root in prop::bool::ANY,
        ) {
            let body = pieces.concat();
            let doc = if root { format!("{decl}<r>{body}</r>\n") } else { format!("{decl}{body}") };
            let Ok(decoded) = decode_checked(doc.as_bytes(), &ParseOptions::default()) else {
                return Ok(());
            };
            if let Some(tree) = plain::build(&decoded.text, 3) {
                let quick = build_quick_xml(&decoded, 3).map_err(|e| e.to_string());
                prop_assert_eq!(Ok(tree), quick, "{:?}", doc);
            }
        }
    }

    #[test]
    fn the_plain_reader_takes_what_servers_send() {
        for doc in [
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<CiscoIPPhoneInput>\n<Title>EM</Title>\n\
             <URL>http://h/em?a=1&amp;b=2</URL>\n<InputItem>\n<DisplayName>User ID</DisplayName>\n\
             <QueryStringParam>userid</QueryStringParam>\n<DefaultValue></DefaultValue>\n\
             <InputFlags>A</InputFlags>\n</InputItem>\n<SoftKeyItem>\n<Name>&lt;&lt;</Name>\n\
             <URL>SoftKey:&lt;&lt;</URL>\n<Position>2</Position>\n</SoftKeyItem>\n\
             </CiscoIPPhoneInput>\n",
            "<CiscoIPPhoneExecute><ExecuteItem Priority=\"0\" URL=\"Key:Services\"/></CiscoIPPhoneExecute>",
            "<CiscoIPPhoneMenu appId='x'><MenuItem><Name>A</Name></MenuItem></CiscoIPPhoneMenu>",
        ] {
            let decoded = decode_checked(doc.as_bytes(), &ParseOptions::default()).unwrap();
            assert!(plain::build(&decoded.text, 16).is_some(), "{doc}");
        }
    }

    #[test]
    fn the_plain_reader_leaves_the_rest_to_quick_xml() {
        // A CR never reaches it (`build` checks `has_cr`): end-of-line handling is quick-xml's.
        assert!(
            decode_checked(b"<r>a\r\nb</r>", &ParseOptions::default())
                .unwrap()
                .has_cr
        );
        for doc in [
            "<r><!-- c --></r>",
            "<r><![CDATA[x]]></r>",
            "<!DOCTYPE r><r/>",
            "<r>&#65;</r>",
            "<r a='x&amp;y'/>",
            "<r></r >",
            "<r><a><b/></a></r>",
        ] {
            let decoded = decode_checked(doc.as_bytes(), &ParseOptions::default()).unwrap();
            assert!(plain::build(&decoded.text, 2).is_none(), "{doc}");
            assert!(build(&decoded, 3).is_ok(), "{doc}");
        }
    }
}
