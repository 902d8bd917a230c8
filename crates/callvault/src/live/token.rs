//! The verification token: generated at random, compared in constant time.

use rand::RngCore;

/// A fresh random token (32 bytes, hex): what RingCentral will echo in
/// every delivery's `Verification-Token` header.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Compares two byte strings in time that depends only on their lengths,
/// so a forger learns nothing from how fast a wrong token is refused.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_tokens_match_and_any_difference_does_not() {
        let t = generate();
        assert!(constant_time_eq(t.as_bytes(), t.clone().as_bytes()));
        let mut other = t.clone().into_bytes();
        other[63] ^= 1;
        assert!(!constant_time_eq(t.as_bytes(), &other));
        assert!(!constant_time_eq(t.as_bytes(), &t.as_bytes()[..63]));
        assert!(!constant_time_eq(b"", t.as_bytes()));
    }

    #[test]
    fn generated_tokens_are_long_and_distinct() {
        let (a, b) = (generate(), generate());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }
}
