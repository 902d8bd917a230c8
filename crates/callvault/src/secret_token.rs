//! Secrets the server makes and checks: random tokens, and the one
//! constant-time comparison every token check goes through.
//!
//! Both the web UI (session cookies, CSRF fields, the login form's signing
//! key) and the live receiver (the subscription's verification token) use
//! this module; it depends on neither, so neither depends on the other.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use subtle::ConstantTimeEq;

/// Bytes of entropy in a token: 256 bits, beyond any guessing.
pub const TOKEN_BYTES: usize = 32;

/// `N` bytes from the operating system's cryptographic generator (through
/// `rand`'s thread-local, reseeded ChaCha).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// A fresh token as URL-safe base64 without padding (43 characters): fits
/// a cookie, a form field or a URL without escaping.
pub fn url_safe_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<TOKEN_BYTES>())
}

/// A fresh token as lowercase hex (64 characters), for peers that accept
/// a narrower alphabet (RingCentral's `Verification-Token`).
pub fn hex_token() -> String {
    hex::encode(random_bytes::<TOKEN_BYTES>())
}

/// Whether `expected` and `presented` are the same secret, in time that
/// depends only on their lengths (which are public: every token of a kind
/// has the same length), so a forger learns nothing from how fast a wrong
/// token is refused. An empty `expected` never matches: an unset secret
/// must not accept an empty answer.
pub fn same_secret(expected: &[u8], presented: &[u8]) -> bool {
    !expected.is_empty() && bool::from(expected.ct_eq(presented))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_distinct_and_in_their_alphabets() {
        let (a, b) = (url_safe_token(), url_safe_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        let h = hex_token();
        assert_eq!(h.len(), 64);
        assert!(h.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(random_bytes::<16>(), random_bytes::<16>());
    }

    #[test]
    fn a_secret_matches_only_itself() {
        let t = hex_token();
        assert!(same_secret(t.as_bytes(), t.clone().as_bytes()));
        let mut other = t.clone().into_bytes();
        other[63] ^= 1;
        assert!(!same_secret(t.as_bytes(), &other));
        assert!(!same_secret(t.as_bytes(), &t.as_bytes()[..63]));
        assert!(!same_secret(t.as_bytes(), b""));
        assert!(!same_secret(b"", b""), "an unset secret matches nothing");
    }
}
