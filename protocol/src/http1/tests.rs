//! Tests of [`super`]: http1.

use super::*;

const LIMITS: Limits = Limits {
    max_head: 1024,
    max_body: 64,
};

/// Feeds `wire` split into pieces of `step` bytes, keeping unused bytes as a caller does;
/// ends with `eof` when `close` is set.
fn decode(wire: &[u8], step: usize, close: bool) -> Result<(Response, usize), Http1Error> {
    let mut d = ResponseDecoder::new(LIMITS);
    let mut pending = Vec::new();
    let mut fed = 0;
    while fed < wire.len() && !d.is_done() {
        let end = (fed + step).min(wire.len());
        pending.extend_from_slice(&wire[fed..end]);
        fed = end;
        let used = d.feed(&pending)?;
        pending.drain(..used);
    }
    if close && !d.is_done() {
        d.eof()?;
    }
    let left = pending.len() + (wire.len() - fed);
    Ok((d.into_response().expect("complete"), left))
}

fn every_split(wire: &[u8], close: bool) -> Result<Response, Http1Error> {
    let (whole, left) = decode(wire, wire.len().max(1), close)?;
    assert_eq!(left, 0);
    for step in 1..wire.len() {
        assert_eq!(
            decode(wire, step, close)?.0,
            whole,
            "split every {step} bytes"
        );
    }
    Ok(whole)
}

#[test]
fn content_length_body_with_headers_lower_cased() {
    let r = every_split(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 5\r\n\r\nhello",
        false,
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.headers,
        [
            ("content-type".to_owned(), "text/xml".to_owned()),
            ("content-length".to_owned(), "5".to_owned())
        ]
    );
    assert_eq!(r.body, b"hello");
    assert!(r.keep_alive);
}

#[test]
fn chunked_body_with_extensions_and_trailers() {
    let r = every_split(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
          4\r\nRust\r\n A\r\n0123456789\r\n0\r\n\r\n",
        false,
    );
    // A chunk-size line starting with a space is refused.
    assert_eq!(r, Err(Http1Error::Chunk));
    let r = every_split(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
          4;name=value\r\nRust\r\na\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n",
        false,
    )
    .unwrap();
    assert_eq!(r.body, b"Rust0123456789");
    assert!(r.keep_alive);
    let r = every_split(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        false,
    )
    .unwrap();
    assert_eq!(r.body, b"");
}

#[test]
fn body_until_close_and_connection_rules() {
    let r = every_split(b"HTTP/1.1 200 OK\r\n\r\nall of it", true).unwrap();
    assert_eq!(r.body, b"all of it");
    assert!(!r.keep_alive);
    let r = every_split(
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        false,
    )
    .unwrap();
    assert!(!r.keep_alive);
    let r = every_split(b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", false).unwrap();
    assert!(!r.keep_alive);
    let r = every_split(
        b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nx",
        false,
    )
    .unwrap();
    assert!(r.keep_alive);
    // Transfer-Encoding wins over Content-Length, and the connection is not reused.
    let r = every_split(
        b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
        false,
    )
    .unwrap();
    assert_eq!((r.body.as_slice(), r.keep_alive), (&b"x"[..], false));
}

#[test]
fn no_body_statuses_interim_responses_and_leftovers() {
    let (r, left) = decode(
        b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\nextra",
        100,
        false,
    )
    .unwrap();
    assert_eq!((r.status, r.body.len(), left), (204, 0, 5));
    let r = every_split(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n\
          HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n",
        false,
    )
    .unwrap();
    assert_eq!(r.status, 302);
    assert_eq!(r.headers.len(), 2);
}

#[test]
fn blank_lines_before_a_head_do_not_loop() {
    for wire in [
        &b"\n\n"[..],
        b"\r\n\r\n\n\n",
        b"\n\r\n\n\nHTTP/1.1 200 OK\r\n",
    ] {
        let mut d = ResponseDecoder::new(LIMITS);
        let _ = d.feed(wire);
        let _ = d.feed(wire);
    }
    assert_eq!(blank_line(b"a\n\nb\n\n", 3), Some(6));
    assert_eq!(blank_line(b"a\n\r", 0), None);
    assert_eq!(blank_line(b"a\n\r\n", 3), Some(4));
}

#[test]
fn malformed_heads_are_refused() {
    for wire in [
        &b"garbage\r\n\r\n"[..],
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/2.0 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nFolded: a\r\n b\r\n\r\n",
        b"\x00\x01\x02\r\n\r\n",
    ] {
        assert!(
            matches!(decode(wire, wire.len(), false), Err(Http1Error::Head(_))),
            "{}",
            String::from_utf8_lossy(wire)
        );
    }
    let wire = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n";
    assert_eq!(decode(wire, 100, false).unwrap_err(), Http1Error::Upgrade);
}

#[test]
fn bad_content_lengths_are_refused() {
    for cl in [
        "abc",
        "-1",
        "1, 2",
        "",
        "18446744073709551616",
        "+5",
        "0x10",
    ] {
        let wire = format!("HTTP/1.1 200 OK\r\nContent-Length: {cl}\r\n\r\n");
        assert_eq!(
            decode(wire.as_bytes(), 100, false).unwrap_err(),
            Http1Error::ContentLength,
            "{cl:?}"
        );
    }
    let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\nabc";
    assert_eq!(decode(wire, 100, false).unwrap().0.body, b"abc");
}

#[test]
fn oversized_heads_and_bodies_are_refused() {
    let big = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(2000));
    for step in [1, 100, big.len()] {
        assert_eq!(
            decode(big.as_bytes(), step, false).unwrap_err(),
            Http1Error::HeadTooLarge(1024)
        );
    }
    let many = format!(
        "HTTP/1.1 200 OK\r\n{}\r\n",
        "a: b\r\n".repeat(MAX_HEADERS + 1)
    );
    let mut d = ResponseDecoder::new(Limits {
        max_head: 1 << 20,
        max_body: 1,
    });
    assert_eq!(
        d.feed(many.as_bytes()).unwrap_err(),
        Http1Error::TooManyHeaders
    );
    // A huge Content-Length is refused before any body is read.
    let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n";
    assert_eq!(
        decode(wire, 100, false).unwrap_err(),
        Http1Error::BodyTooLarge(64)
    );
    let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 65\r\n\r\n";
    assert_eq!(
        decode(wire, 100, false).unwrap_err(),
        Http1Error::BodyTooLarge(64)
    );
    let body = "x".repeat(65);
    let wire = format!("HTTP/1.1 200 OK\r\n\r\n{body}");
    assert_eq!(
        decode(wire.as_bytes(), 7, true).unwrap_err(),
        Http1Error::BodyTooLarge(64)
    );
    let wire = format!(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n{}\r\n21\r\n",
        "y".repeat(32)
    );
    assert_eq!(
        decode(wire.as_bytes(), 5, false).unwrap_err(),
        Http1Error::BodyTooLarge(64)
    );
}

#[test]
fn hostile_chunks_are_refused() {
    for chunks in [
        &b"zz\r\n"[..],
        b"\r\n",
        b"ffffffffffffffff\r\n",
        b"fffffffffffffffff\r\n",
        b"4\r\nRustXX",
        b"4\n",
        b"0\r\nbad trailer\r\n\r\n",
    ] {
        let mut wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        wire.extend_from_slice(chunks);
        let r = decode(&wire, wire.len(), false);
        assert!(
            matches!(r, Err(Http1Error::Chunk | Http1Error::BodyTooLarge(_))),
            "{}: {r:?}",
            String::from_utf8_lossy(chunks)
        );
    }
    // An endless chunk extension, or endless trailers, are cut off.
    let mut wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;".to_vec();
    wire.extend(std::iter::repeat_n(b'e', MAX_CHUNK_LINE + 1));
    assert_eq!(decode(&wire, 512, false).unwrap_err(), Http1Error::Chunk);
    let mut wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n".to_vec();
    wire.extend("t: v\r\n".repeat(MAX_CHUNK_LINE / 6 + 1).bytes());
    assert_eq!(decode(&wire, 512, false).unwrap_err(), Http1Error::Chunk);
}

#[test]
fn truncated_responses_fail_at_eof() {
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345";
    assert_eq!(
        decode(head, 100, true).unwrap_err(),
        Http1Error::ContentLength
    );
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nRu";
    assert_eq!(decode(chunked, 100, true).unwrap_err(), Http1Error::Chunk);
    let mut d = ResponseDecoder::new(LIMITS);
    assert_eq!(d.feed(b"HTTP/1.1 200 O").unwrap(), 0);
    assert!(!d.has_head());
    assert!(matches!(d.eof(), Err(Http1Error::Head(_))));
}

#[test]
fn requests_render_and_refuse_smuggling() {
    let mut buf = Vec::new();
    let headers = vec![("Accept".to_owned(), "text/xml".to_owned())];
    write_request(&mut buf, "GET", "127.0.0.1:80", "/a?b=c", &headers, None).unwrap();
    assert_eq!(
        buf,
        b"GET /a?b=c HTTP/1.1\r\nHost: 127.0.0.1:80\r\nAccept: text/xml\r\n\r\n"
    );
    write_request(&mut buf, "POST", "h", "/", &[], Some(b"x=1")).unwrap();
    assert_eq!(
        buf,
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nx=1"
    );
    write_request(&mut buf, "POST", "h", "/", &[], None).unwrap();
    assert_eq!(
        buf,
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"
    );
    let bad_value = vec![("X".to_owned(), "a\r\nInjected: 1".to_owned())];
    let bad_name = vec![("X Y".to_owned(), "a".to_owned())];
    for (path, headers) in [
        ("/a b", &headers),
        ("/\r\n", &headers),
        ("/", &bad_value),
        ("/", &bad_name),
    ] {
        assert!(matches!(
            write_request(&mut buf, "GET", "h", path, headers, None),
            Err(Http1Error::Request(_))
        ));
    }
}
