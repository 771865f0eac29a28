//! Bytes to a small element tree: charset detection, well-formedness, entity decoding.
//!
//! This is the phone's "is it XML at all" step; everything it rejects is `XML Error [4]`.
//! Bounded: the caller's size limit is checked before decoding, nesting is capped, and DTDs
//! are skipped without expanding anything (an entity they declare is an undefined reference).

use encoding_rs::Encoding;
use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};

use super::{ParseOptions, XmlError};

/// One element: its name, attributes (entity-decoded, in document order), child elements
/// and the concatenation of its own text and CDATA content.
#[derive(Debug, Default)]
pub(crate) struct Node {
    pub(crate) name: String,
    pub(crate) attrs: Vec<(String, String)>,
    pub(crate) children: Vec<Node>,
    pub(crate) text: String,
}

impl Node {
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The last child called `name` (a repeated singular child: the last one wins).
    pub(crate) fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().rev().find(|c| c.name == name)
    }

    pub(crate) fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// Decodes `doc` and builds its element tree.
pub(crate) fn parse_tree(doc: &[u8], opts: &ParseOptions) -> Result<Node, XmlError> {
    if doc.len() > opts.max_bytes {
        return Err(XmlError::parse(format!(
            "document is {} bytes, over the {}-byte limit",
            doc.len(),
            opts.max_bytes
        )));
    }
    let text = decode(doc, opts.locale_encoding)?;
    check_chars(&text)?;
    build(&text, opts.max_depth)
}

/// Picks the charset like a phone: BOM, else the prolog's `encoding`, else the locale
/// default (not UTF-8), and decodes strictly (malformed bytes are a parse error).
fn decode(doc: &[u8], locale: &'static Encoding) -> Result<String, XmlError> {
    let (encoding, body) = match Encoding::for_bom(doc) {
        Some((enc, bom_len)) => (enc, &doc[bom_len..]),
        None => match declared_encoding(doc) {
            Some(label) => {
                let enc = Encoding::for_label(label.as_bytes())
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
        Some(s) => Ok(s.into_owned()),
        None => Err(XmlError::parse(format!(
            "bytes that are not valid {}",
            encoding.name()
        ))),
    }
}

/// The `encoding` pseudo-attribute of a leading `<?xml ...?>`, read as ASCII.
fn declared_encoding(doc: &[u8]) -> Option<String> {
    let rest = doc.strip_prefix(b"<?xml")?;
    if !rest.first().is_some_and(|b| b.is_ascii_whitespace()) {
        return None;
    }
    let end = rest.windows(2).take(1024).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&rest[..end]).ok()?;
    let at = decl.find("encoding")?;
    let after = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &after[1..];
    Some(value[..value.find(quote)?].to_owned())
}

/// XML 1.0 forbids C0 controls other than TAB, LF and CR, and U+FFFE / U+FFFF.
fn check_chars(text: &str) -> Result<(), XmlError> {
    match text.char_indices().find(|(_, c)| !is_xml_char(*c)) {
        Some((at, c)) => Err(XmlError::parse(format!(
            "line {}: character U+{:04X} is not allowed in XML",
            line_of(text, at),
            u32::from(c)
        ))),
        None => Ok(()),
    }
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

fn build(text: &str, max_depth: usize) -> Result<Node, XmlError> {
    let mut reader = quick_xml::Reader::from_str(text);
    {
        let cfg = reader.config_mut();
        cfg.check_end_names = true;
        cfg.check_comments = true;
        cfg.trim_text(false);
    }
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let mut first_event = true;
    let mut seen_doctype = false;
    let fail = |reader: &quick_xml::Reader<&[u8]>, why: String| {
        let at = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        XmlError::parse(format!("line {}: {why}", line_of(text, at)))
    };
    loop {
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(e) => {
                let at = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
                return Err(XmlError::parse(format!("line {}: {e}", line_of(text, at))));
            }
        };
        let at_start = std::mem::replace(&mut first_event, false);
        match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err(fail(&reader, "content after the root element".into()));
                }
                if stack.len() >= max_depth {
                    return Err(fail(
                        &reader,
                        format!("elements nested deeper than {max_depth}"),
                    ));
                }
                let node = open(&start).map_err(|why| fail(&reader, why))?;
                stack.push(node);
            }
            Event::Empty(start) => {
                if root.is_some() {
                    return Err(fail(&reader, "content after the root element".into()));
                }
                if stack.len() >= max_depth {
                    return Err(fail(
                        &reader,
                        format!("elements nested deeper than {max_depth}"),
                    ));
                }
                let node = open(&start).map_err(|why| fail(&reader, why))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::End(_) => {
                // quick-xml has checked the name matches the open tag.
                let Some(node) = stack.pop() else {
                    return Err(fail(&reader, "end tag without a start tag".into()));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                match stack.last_mut() {
                    Some(node) => node.text.push_str(&content),
                    None if content.trim_matches(is_xml_space).is_empty() => {}
                    None => return Err(fail(&reader, "text outside the root element".into())),
                }
            }
            Event::CData(t) => match stack.last_mut() {
                Some(node) => node.text.push_str(&t.xml10_content()),
                None => return Err(fail(&reader, "CDATA outside the root element".into())),
            },
            Event::GeneralRef(r) => {
                let resolved: String = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) if is_xml_char(c) => c.to_string(),
                        _ => {
                            let why = format!("invalid character reference &{};", &*r);
                            return Err(fail(&reader, why));
                        }
                    }
                } else {
                    match resolve_predefined_entity(&r) {
                        Some(s) => s.to_owned(),
                        None => {
                            let why = format!("undefined entity &{};", &*r);
                            return Err(fail(&reader, why));
                        }
                    }
                };
                match stack.last_mut() {
                    Some(node) => node.text.push_str(&resolved),
                    None => return Err(fail(&reader, "reference outside the root element".into())),
                }
            }
            // The charset was taken from a declaration at offset 0 only, so one anywhere
            // else (even after leading whitespace) is refused rather than misread.
            Event::Decl(_) if !at_start => {
                return Err(fail(&reader, "XML declaration not at the start".into()));
            }
            // DTDs are skipped, never expanded: entities they declare stay undefined.
            Event::DocType(_) => {
                if seen_doctype || root.is_some() || !stack.is_empty() {
                    return Err(fail(&reader, "misplaced or repeated <!DOCTYPE>".into()));
                }
                seen_doctype = true;
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(fail(
            &reader,
            format!("document ends inside <{}>", open.name),
        ));
    }
    root.ok_or_else(|| XmlError::parse("no root element".into()))
}

pub(crate) fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// An XML `Name`, approximated: ASCII letters, `_` or `:` (or any non-ASCII) first, then
/// also digits, `-` and `.`.
fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':' || !c.is_ascii())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_:-.".contains(c) || !c.is_ascii())
}

fn open(start: &BytesStart<'_>) -> Result<Node, String> {
    let name = start.name().as_ref().to_owned();
    if !is_name(&name) {
        return Err(format!("{name:?} is not a valid element name"));
    }
    let mut attrs = Vec::new();
    let mut it = start.attributes();
    it.with_checks(true);
    for attr in it {
        let attr = attr.map_err(|e| format!("in <{name}>: {e}"))?;
        let key = attr.key.as_ref().to_owned();
        if !is_name(&key) {
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
        attrs.push((key, value.into_owned()));
    }
    Ok(Node {
        name,
        attrs,
        children: Vec::new(),
        text: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(doc: &str) -> Result<Node, XmlError> {
        parse_tree(doc.as_bytes(), &ParseOptions::default())
    }

    #[test]
    fn reads_the_declared_encoding() {
        assert_eq!(
            declared_encoding(b"<?xml version=\"1.0\" encoding = 'ISO-8859-1' ?><a/>").as_deref(),
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
    fn errors_carry_a_line_number() {
        let err = tree("<r>\n<a>\n</b></r>").unwrap_err();
        assert!(err.detail().starts_with("line 3:"), "{}", err.detail());
    }
}
