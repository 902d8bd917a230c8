//! The login form's CSRF token, signed by the server.
//!
//! Before login there is no session to tie a token to, so the form uses a
//! double submit: the same token in a cookie and in a hidden field. A plain
//! double submit accepts any pair the client makes up (`cv_login_csrf=abc`
//! with `csrf=abc`), so whoever can plant a cookie (a sibling subdomain, a
//! plain-http hop) can post the form. Here the token must also carry the
//! server's signature: `base64url(nonce ‖ issued-at ‖ HMAC-SHA256(key,
//! nonce ‖ issued-at))`, valid for [`TOKEN_TTL`]. The key is random, kept in
//! the catalog ([`KEY_SETTING`]) so every `serve` process sharing it accepts
//! the others' forms, and never leaves the server.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use sha2_for_hmac::Sha256;

use crate::secret_token::{TOKEN_BYTES, random_bytes, same_secret};

/// Catalog setting holding the signing key (hex).
pub const KEY_SETTING: &str = "web.login_csrf_key";
/// How long a login form stays valid (also the cookie's lifetime).
pub const TOKEN_TTL: Duration = Duration::from_secs(3600);

type HmacSha256 = hmac::Hmac<Sha256>;

const NONCE: usize = 16;
const ISSUED: usize = 8;
const MAC: usize = 32;
/// What the token's MAC covers, so it cannot be replayed as another token kind.
const PURPOSE: &[u8] = b"callvault login csrf v1";

/// The server's signing key. Its `Debug` does not show it.
#[derive(Clone)]
pub struct LoginCsrfKey([u8; TOKEN_BYTES]);

impl std::fmt::Debug for LoginCsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginCsrfKey(…)")
    }
}

impl LoginCsrfKey {
    /// The key shared by every process on `catalog`, created on first use.
    pub async fn load(catalog: &vault::Catalog) -> anyhow::Result<LoginCsrfKey> {
        let fresh = random_bytes::<TOKEN_BYTES>();
        let stored = catalog
            .setting_or_insert(KEY_SETTING, &hex::encode(fresh))
            .await?;
        let bytes = hex::decode(stored.trim())
            .ok()
            .and_then(|b| <[u8; TOKEN_BYTES]>::try_from(b).ok())
            .ok_or_else(|| {
                anyhow::anyhow!("the catalog setting {KEY_SETTING} is not 32 hex bytes")
            })?;
        Ok(LoginCsrfKey(bytes))
    }

    /// A key for tests and benches that do not share a catalog.
    pub fn random() -> LoginCsrfKey {
        LoginCsrfKey(random_bytes())
    }

    fn mac(&self) -> HmacSha256 {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC accepts a key of any length");
        mac.update(PURPOSE);
        mac
    }

    /// A fresh token for a login form.
    pub fn issue(&self) -> String {
        self.issue_at(now_secs())
    }

    fn issue_at(&self, issued: u64) -> String {
        let mut bytes = Vec::with_capacity(NONCE + ISSUED + MAC);
        bytes.extend_from_slice(&random_bytes::<NONCE>());
        bytes.extend_from_slice(&issued.to_be_bytes());
        let mut mac = self.mac();
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Whether the form's `field` and the `cookie` are the same token, made
    /// by this server less than [`TOKEN_TTL`] ago.
    pub fn accepts(&self, cookie: Option<&str>, field: Option<&str>) -> bool {
        let (Some(cookie), Some(field)) = (cookie, field) else {
            return false;
        };
        if !same_secret(cookie.as_bytes(), field.as_bytes()) {
            return false;
        }
        self.verify_at(field, now_secs())
    }

    fn verify_at(&self, token: &str, now: u64) -> bool {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(token) else {
            return false;
        };
        if bytes.len() != NONCE + ISSUED + MAC {
            return false;
        }
        let (signed, tag) = bytes.split_at(NONCE + ISSUED);
        let mut mac = self.mac();
        mac.update(signed);
        if mac.verify_slice(tag).is_err() {
            return false;
        }
        let issued = signed
            .get(NONCE..)
            .and_then(|b| <[u8; ISSUED]>::try_from(b).ok())
            .map(u64::from_be_bytes);
        issued.is_some_and(|issued| {
            issued <= now.saturating_add(60) && now.saturating_sub(issued) < TOKEN_TTL.as_secs()
        })
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_servers_fresh_tokens_pass() {
        let key = LoginCsrfKey::random();
        let t = key.issue();
        assert!(key.accepts(Some(&t), Some(&t)));
        assert!(!key.accepts(Some("abc"), Some("abc")), "a made-up pair");
        assert!(
            !key.accepts(Some(&t), Some(&key.issue())),
            "another form's token"
        );
        assert!(!key.accepts(None, Some(&t)));
        assert!(
            !LoginCsrfKey::random().accepts(Some(&t), Some(&t)),
            "another key"
        );
        let old = key.issue_at(now_secs() - TOKEN_TTL.as_secs() - 1);
        assert!(!key.accepts(Some(&old), Some(&old)), "expired");
        let mut forged = URL_SAFE_NO_PAD.decode(&t).unwrap();
        forged[NONCE + ISSUED - 1] ^= 1;
        let forged = URL_SAFE_NO_PAD.encode(forged);
        assert!(!key.accepts(Some(&forged), Some(&forged)), "tampered time");
    }
}
