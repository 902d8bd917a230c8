//! What the catalog keeps of a session token: its hash, never the token.
//! (Tokens themselves come from [`crate::secret_token`].)

use sha2::{Digest, Sha256};

/// What the catalog stores for a session token: its sha256, hex. A stolen
/// catalog then holds no usable cookie.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_hashes_to_64_hex_digits_and_differs_from_its_hash() {
        let token = crate::secret_token::url_safe_token();
        let hash = token_hash(&token);
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, token);
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
