//! Fuzz the ILS frame decoder, handshake parser and sealed-message opener: any bytes a peer
//! sends must give a message or an `IlsError`, never a panic; an accepted message re-seals.
#![no_main]

use emroam_protocol::ils;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = data;
    let key = [7u8; ils::MAC_LEN];
    let mut opener = ils::Opener::new(key, ils::Direction::ToListener);
    while let Ok(Some((frame, used))) = ils::decode_frame(buf, 64 * 1024) {
        buf = &buf[used..];
        let _ = ils::Handshake::parse(&frame);
        if let Ok(msg) = opener.open(&frame) {
            let mut s = ils::Sealer::new(key, ils::Direction::ToListener);
            let _ = s.seal(&msg);
        }
        // The body alone, as if its MAC were right: parse + validate must not panic.
        if let Ok(msg) = open_as_sealed(&frame.body) {
            let _ = msg.validate();
        }
    }
});

fn open_as_sealed(b: &[u8]) -> Result<ils::Message, ()> {
    let key = [9u8; ils::MAC_LEN];
    let mut s = ils::Sealer::new(key, ils::Direction::ToDialer);
    let bytes = s.seal_body(b.to_vec());
    let (f, _) = ils::decode_frame(&bytes, usize::MAX).map_err(|_| ())?.ok_or(())?;
    ils::Opener::new(key, ils::Direction::ToDialer)
        .open(&f)
        .map_err(|_| ())
}
