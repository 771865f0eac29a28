//! How a phone turns a filled-in Input into a request, and how `QueryStringParam:` data is
//! appended to a URL.
//!
//! The sources leave the separator and the value encoding UNCONFIRMED; we append with `&`
//! when the URL already has a query and `?` otherwise (Cisco's QueryStringParam example),
//! and percent-encode UTF-8 bytes of names and values, leaving only RFC 3986 unreserved
//! characters bare (space is `%20`, never `+`, which every server decodes the same way).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::objects::Input;

/// Everything but `A-Z a-z 0-9 - . _ ~` is escaped.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Appends an already-encoded `query` (`a=1&b=2`) to `url`, choosing `?` or `&`, keeping any
/// `#fragment` at the end. An empty `query` leaves `url` unchanged.
pub fn append_query(url: &str, query: &str) -> String {
    if query.is_empty() {
        return url.to_owned();
    }
    let (base, fragment) = match url.find('#') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let sep = match base.find('?') {
        None => "?",
        Some(_) if base.ends_with('?') || base.ends_with('&') => "",
        Some(_) => "&",
    };
    format!("{base}{sep}{query}{fragment}")
}

/// Percent-encodes one query component (name or value).
pub fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, QUERY_VALUE).to_string()
}

impl Input {
    /// The encoded query a phone sends: one `param=value` per item, in document order.
    ///
    /// `values` is keyed by `QueryStringParam` (first match wins); an item with no value
    /// sends its `DefaultValue` (empty when it has none), as the field was pre-filled.
    pub fn submit_query(&self, values: &[(&str, &str)]) -> String {
        let mut query = String::new();
        for item in &self.items {
            let value = values
                .iter()
                .find(|(k, _)| *k == item.query_string_param)
                .map_or(item.default_value.as_str(), |(_, v)| v);
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&encode_component(&item.query_string_param));
            query.push('=');
            query.push_str(&encode_component(value));
        }
        query
    }

    /// The URL a phone GETs when the user presses Submit (see [`Input::submit_query`]).
    ///
    /// This is always the GET form. For `method="post"` (7800/8800 only) a client sends
    /// [`Input::submit_query`] as the form body to [`Input::url`](Input) instead.
    pub fn submit_url(&self, values: &[(&str, &str)]) -> String {
        append_query(&self.url, &self.submit_query(values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cipxml::InputFlags;

    fn form(url: &str) -> Input {
        Input::new("Search", url)
            .item("First", "first", InputFlags::ASCII)
            .item("PIN", "pin", InputFlags::PIN)
    }

    #[test]
    fn uses_question_mark_or_ampersand() {
        assert_eq!(
            form("http://s/a").submit_url(&[("first", "x"), ("pin", "1")]),
            "http://s/a?first=x&pin=1"
        );
        assert_eq!(
            form("http://s/a?dev=SEP1").submit_url(&[("first", "x"), ("pin", "1")]),
            "http://s/a?dev=SEP1&first=x&pin=1"
        );
        assert_eq!(
            form("http://s/a?").submit_url(&[]),
            "http://s/a?first=&pin="
        );
    }

    #[test]
    fn percent_encodes_names_and_values() {
        let mut i = form("http://s/a");
        i.items[0].query_string_param = "a b".into();
        assert_eq!(
            i.submit_url(&[("a b", "Zoë & co=1+1/2?"), ("pin", "12#*")]),
            "http://s/a?a%20b=Zo%C3%AB%20%26%20co%3D1%2B1%2F2%3F&pin=12%23%2A"
        );
    }

    #[test]
    fn missing_values_use_the_default() {
        let mut i = form("http://s/a");
        i.items[0].default_value = "Smith".into();
        assert_eq!(
            i.submit_url(&[("pin", "9")]),
            "http://s/a?first=Smith&pin=9"
        );
        assert_eq!(
            i.submit_url(&[("other", "z")]),
            "http://s/a?first=Smith&pin="
        );
    }

    #[test]
    fn append_query_keeps_the_fragment() {
        assert_eq!(
            append_query("http://s/r.asp", "message=1"),
            "http://s/r.asp?message=1"
        );
        assert_eq!(
            append_query("http://s/m.asp?message=1", "action=read"),
            "http://s/m.asp?message=1&action=read"
        );
        assert_eq!(append_query("http://s/a#top", "x=1"), "http://s/a?x=1#top");
        assert_eq!(append_query("http://s/a", ""), "http://s/a");
    }
}
