//! The fast path of [`build`](super::build): a reader for the plain documents servers send
//! (an XML declaration, elements, attributes without references, text with the five
//! predefined entities) that builds the tree quick-xml's reader would, without its per-event
//! work (a UTF-8 check of every token, already done once for the whole document).
//!
//! It never decides an error: anything outside that subset, and anything malformed, is
//! `None`, and the document goes to quick-xml, which accepts or words the error as before.
//! So the parse is exactly as strict as quick-xml alone; debug builds (the tests, the fuzz
//! target) build every tree this path gives with quick-xml too and panic if they differ.

use std::borrow::Cow;

use super::{Element, NAME_BYTES, NAME_START, is_xml_space_byte, push_text};

/// The tree of `src` (decoded, characters checked, no CR), or `None` to leave it to quick-xml.
/// Same tree-building rules as [`build`](super::build) (see there).
pub(super) fn build(src: &str, max_depth: usize) -> Option<Element<'_>> {
    let b = src.as_bytes();
    let mut i = prolog(b)?;
    let mut nodes: Vec<Element<'_>> = Vec::with_capacity(16);
    let mut open = Open::default();
    let mut root_done = false;
    loop {
        let j = markup_or_reference(b, i);
        if j > i {
            let piece = &src[i..j];
            match open.last() {
                // As `build` does with quick-xml's text events: a blank piece while the text
                // is still empty is dropped.
                Some(&at) => {
                    let text = &mut nodes[at].text;
                    if !(text.is_empty() && is_blank(piece)) {
                        push_text(text, Cow::Borrowed(piece), src, j as u64);
                    }
                }
                None if is_blank(piece) => {}
                None => return None,
            }
        }
        let Some(&c) = b.get(j) else {
            break;
        };
        if c == b'&' {
            let &at = open.last()?;
            let (resolved, len) = predefined_entity(&b[j..])?;
            i = j + len;
            push_text(&mut nodes[at].text, Cow::Borrowed(resolved), src, i as u64);
            continue;
        }
        i = j + 1;
        match *b.get(i)? {
            b'/' => {
                let at = open.pop()?;
                let name = nodes[at].name.as_bytes();
                let rest = &b[i + 1..];
                if !(rest.starts_with(name) && rest.get(name.len()) == Some(&b'>')) {
                    return None;
                }
                i += name.len() + 2;
                if at + 1 < nodes.len() {
                    let children = nodes.split_off(at + 1);
                    nodes[at].children = children;
                }
                root_done = open.is_empty();
            }
            // Comments, CDATA, DOCTYPEs and processing instructions.
            b'!' | b'?' => return None,
            _ => {
                if root_done || open.len() >= max_depth {
                    return None;
                }
                let at = nodes.len();
                let (end, empty) = start_tag(&mut nodes, src, i)?;
                if !empty {
                    open.push(at)?;
                } else if open.is_empty() {
                    root_done = true;
                }
                i = end;
            }
        }
    }
    if !open.is_empty() {
        return None;
    }
    nodes.pop()
}

/// Where the content starts: past an XML declaration at byte 0 (which quick-xml does not
/// check beyond finding its `?>`), else 0.
fn prolog(b: &[u8]) -> Option<usize> {
    let Some(rest) = b.strip_prefix(b"<?xml") else {
        return Some(0);
    };
    if !rest.first().is_some_and(|&c| is_xml_space_byte(c)) {
        return None;
    }
    let end = rest.windows(2).position(|w| w == b"?>")?;
    Some("<?xml".len() + end + 2)
}

/// Where the first `<` or `&` at or after `b[i]` is, else `b.len()`: eight bytes at a time
/// (a byte equal to `c` is a zero byte of `x ^ c…c`; the lowest flagged byte is the first).
fn markup_or_reference(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_bytes = |y: u64| y.wrapping_sub(ONES) & !y & HIGH;
    while let Some(chunk) = b.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let x = u64::from_le_bytes(*chunk);
        let found =
            zero_bytes(x ^ (ONES * u64::from(b'<'))) | zero_bytes(x ^ (ONES * u64::from(b'&')));
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    b[i..]
        .iter()
        .position(|&c| c == b'<' || c == b'&')
        .map_or(b.len(), |p| i + p)
}

fn is_blank(s: &str) -> bool {
    s.bytes().all(is_xml_space_byte)
}

/// The text of the predefined entity reference `at` starts with, and the reference's length.
fn predefined_entity(at: &[u8]) -> Option<(&'static str, usize)> {
    const ENTITIES: [(&[u8], &str); 5] = [
        (b"&amp;", "&"),
        (b"&lt;", "<"),
        (b"&gt;", ">"),
        (b"&quot;", "\""),
        (b"&apos;", "'"),
    ];
    ENTITIES
        .iter()
        .find(|(reference, _)| at.starts_with(reference))
        .map(|&(reference, value)| (value, reference.len()))
}

/// Pushes the element of the start tag whose name begins at `src[i]` (just past its `<`)
/// onto `nodes`; returns where the tag ends and whether it is empty (`/>`). Attributes are `name="value"` or
/// `name='value'`, separated by whitespace, values without references, markup characters or
/// whitespace other than spaces (which attribute-value normalisation would rewrite).
fn start_tag<'t>(nodes: &mut Vec<Element<'t>>, src: &'t str, i: usize) -> Option<(usize, bool)> {
    let b = src.as_bytes();
    let name_end = name(b, i)?;
    nodes.push(Element {
        name: Cow::Borrowed(&src[i..name_end]),
        ..Element::default()
    });
    let attrs = &mut nodes.last_mut()?.attrs;
    let mut i = name_end;
    loop {
        let after = i;
        while b.get(i).is_some_and(|&c| is_xml_space_byte(c)) {
            i += 1;
        }
        match *b.get(i)? {
            b'>' => return Some((i + 1, false)),
            b'/' => return (b.get(i + 1) == Some(&b'>')).then_some((i + 2, true)),
            // Something glued to the name or the previous value.
            _ if i == after => return None,
            _ => {}
        }
        let key_end = name(b, i)?;
        if b.get(key_end) != Some(&b'=') {
            return None;
        }
        let quote = *b.get(key_end + 1)?;
        if quote != b'"' && quote != b'\'' {
            return None;
        }
        let from = key_end + 2;
        let len = b[from..].iter().position(|&c| c == quote)?;
        let value = &b[from..from + len];
        if value
            .iter()
            .any(|&c| matches!(c, b'<' | b'>' | b'&' | b'\t' | b'\n' | b'\r'))
        {
            return None;
        }
        let key = &src[i..key_end];
        if attrs.iter().any(|(k, _)| k == key) {
            return None;
        }
        attrs.push((Cow::Borrowed(key), Cow::Borrowed(&src[from..from + len])));
        i = from + len + 1;
    }
}

/// The open elements' indices in the tree being built: a fixed stack, as servers' documents
/// nest a few levels (anything deeper is left to quick-xml, which applies the depth limit).
#[derive(Default)]
struct Open {
    at: [usize; 16],
    len: usize,
}

impl Open {
    fn push(&mut self, at: usize) -> Option<()> {
        *self.at.get_mut(self.len)? = at;
        self.len += 1;
        Some(())
    }

    fn pop(&mut self) -> Option<usize> {
        self.len = self.len.checked_sub(1)?;
        Some(self.at[self.len])
    }

    fn last(&self) -> Option<&usize> {
        self.at[..self.len].last()
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The end of the XML name starting at `b[i]` (see `is_name`), or `None` if none starts there.
/// Non-ASCII bytes count as name bytes, so the end is always a character boundary.
fn name(b: &[u8], i: usize) -> Option<usize> {
    if NAME_BYTES[usize::from(*b.get(i)?)] != NAME_START {
        return None;
    }
    let rest = &b[i + 1..];
    let len = rest
        .iter()
        .position(|&c| NAME_BYTES[usize::from(c)] == 0)
        .unwrap_or(rest.len());
    Some(i + 1 + len)
}
