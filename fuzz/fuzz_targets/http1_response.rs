//! Fuzz the phone's HTTP/1.1 response decoder: any bytes a server sends, split anywhere, must
//! give a response or an `Http1Error`, never a panic or a loop; the split must not matter,
//! and a response never exceeds the body limit.
#![no_main]

use emroam_protocol::http1::{Limits, Response, ResponseDecoder};
use libfuzzer_sys::fuzz_target;

const LIMITS: Limits = Limits {
    max_head: 4096,
    max_body: 8192,
};

/// Feeds `data` in pieces of `step` bytes as the client does (unused bytes kept and fed
/// again with more), then the end of the connection.
fn decode(data: &[u8], step: usize) -> Result<Option<Response>, ()> {
    let mut d = ResponseDecoder::new(LIMITS);
    let mut pending: Vec<u8> = Vec::new();
    for piece in data.chunks(step) {
        pending.extend_from_slice(piece);
        let used = d.feed(&pending).map_err(|_| ())?;
        assert!(used <= pending.len());
        pending.drain(..used);
        if d.is_done() {
            return Ok(d.into_response());
        }
    }
    d.eof().map_err(|_| ())?;
    Ok(d.into_response())
}

fuzz_target!(|input: &[u8]| {
    let Some((&split, data)) = input.split_first() else {
        return;
    };
    let whole = decode(data, data.len().max(1));
    let pieces = decode(data, usize::from(split % 16) + 1);
    if let Ok(Some(r)) = &whole {
        assert!(r.body.len() <= LIMITS.max_body);
    }
    // Success and its result must not depend on how the bytes arrived.
    if let (Ok(a), Ok(b)) = (&whole, &pieces) {
        assert_eq!(a, b, "split every {} bytes", split % 16 + 1);
    }
    assert_eq!(whole.is_ok(), pieces.is_ok(), "split every {} bytes", split % 16 + 1);
    let mut buf = Vec::new();
    let _ = emroam_protocol::http1::write_request(
        &mut buf,
        "GET",
        &String::from_utf8_lossy(data),
        "/",
        &[],
        None,
    );
});
