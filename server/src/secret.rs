//! Comparing secrets (PINs, passwords, the admin token) in constant time: both sides are
//! hashed first, so neither the content nor the length of the secret shows in the time taken;
//! and fresh random bytes for keys and nonces.

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// Whether `given` is `secret`, taking the same time whatever either holds.
pub fn same(given: &[u8], secret: &[u8]) -> bool {
    Sha256::digest(given).ct_eq(&Sha256::digest(secret)).into()
}

/// `N` fresh random bytes from the OS (keys and nonces).
pub fn random<const N: usize>() -> [u8; N] {
    let mut n = [0u8; N];
    if getrandom::fill(&mut n).is_err() {
        // No OS randomness: fall back to the process-keyed hasher (unique, if not secret).
        for (i, chunk) in n.chunks_mut(8).enumerate() {
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(i);
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            h.write_u128(t.map_or(0, |d| d.as_nanos()));
            let b = h.finish().to_be_bytes();
            chunk.copy_from_slice(&b[..chunk.len()]);
        }
    }
    n
}

#[cfg(test)]
mod tests {
    #[test]
    fn equal_only_when_equal() {
        assert!(super::same(b"12345", b"12345"));
        assert!(!super::same(b"12345", b"12346"));
        assert!(!super::same(b"1234", b"12345"));
        assert!(super::same(b"", b""));
    }
}
