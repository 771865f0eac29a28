//! The transport shape: an `application/x-www-form-urlencoded` body with one field, `xml`.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, utf8_percent_encode};

use super::{EmApiError, MAX_FORM_BYTES};

/// Bytes a form encoder leaves alone (the WHATWG urlencoded set keeps `*-._`; space becomes `+`).
const FORM_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'*')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b' ');

/// Builds the POST body `xml=<urlencoded XML>` that EMService expects.
pub fn form_body(xml: &str) -> String {
    let encoded = utf8_percent_encode(xml, FORM_KEEP).to_string();
    format!("xml={}", encoded.replace(' ', "+"))
}

/// Extracts and decodes the `xml` field of a form body.
///
/// The field may appear anywhere among others (`a=1&xml=...`); `+` is a space and `%XX` a byte.
///
/// # Errors
/// [`EmApiError::TooLarge`] over [`MAX_FORM_BYTES`], [`EmApiError::MissingFormField`] without an
/// `xml` field, [`EmApiError::InvalidUtf8`] if the decoded value is not UTF-8.
pub fn xml_from_form(body: &[u8]) -> Result<String, EmApiError> {
    if body.len() > MAX_FORM_BYTES {
        return Err(EmApiError::TooLarge {
            len: body.len(),
            max: MAX_FORM_BYTES,
        });
    }
    for pair in body.split(|&b| b == b'&') {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &b""[..]),
        };
        if decode_component(name) != b"xml" {
            continue;
        }
        let bytes = decode_component(value);
        return String::from_utf8(bytes).map_err(|e| EmApiError::InvalidUtf8 {
            offset: e.utf8_error().valid_up_to(),
        });
    }
    Err(EmApiError::MissingFormField)
}

/// Decodes one form component: `+` to space, then percent-decoding (bad escapes pass through).
fn decode_component(raw: &[u8]) -> Vec<u8> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_decode(&spaced).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_a_browser_form() {
        assert_eq!(
            form_body("<a b=\"c d\">em%40x</a>"),
            "xml=%3Ca+b%3D%22c+d%22%3Eem%2540x%3C%2Fa%3E"
        );
        assert_eq!(form_body(""), "xml=");
        assert_eq!(form_body("é&+="), "xml=%C3%A9%26%2B%3D");
    }

    #[test]
    fn decodes_wherever_the_field_is() {
        let xml = "<query><x>a+b c&amp;</x></query>";
        assert_eq!(xml_from_form(form_body(xml).as_bytes()).unwrap(), xml);
        assert_eq!(
            xml_from_form(b"foo=1&xml=%3Ca%2F%3E&bar=2").unwrap(),
            "<a/>"
        );
        assert_eq!(xml_from_form(b"xml=<a>b+c</a>").unwrap(), "<a>b c</a>");
        assert_eq!(xml_from_form(b"x%6Dl=1").unwrap(), "1");
        assert_eq!(xml_from_form(b"xml").unwrap(), "");
        assert_eq!(xml_from_form(b"xml=%zz").unwrap(), "%zz");
    }

    #[test]
    fn rejects_missing_bad_and_huge() {
        assert_eq!(xml_from_form(b""), Err(EmApiError::MissingFormField));
        assert_eq!(
            xml_from_form(b"xmlx=1&axml=2"),
            Err(EmApiError::MissingFormField)
        );
        assert!(matches!(
            xml_from_form(b"xml=%ff"),
            Err(EmApiError::InvalidUtf8 { offset: 0 })
        ));
        let huge = vec![b'a'; MAX_FORM_BYTES + 1];
        assert!(matches!(
            xml_from_form(&huge),
            Err(EmApiError::TooLarge { .. })
        ));
    }
}
