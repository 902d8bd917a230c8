//! Path ids and URLs shared by the REST routes: `~` resolution for account
//! and extension ids, and the absolute URIs RingCentral echoes.

use crate::errors::ApiError;
use crate::model::World;

/// Resolves the `{accountId}` path segment: `~` or the account's own id.
/// Any other id → 404 CMN-102 for `accountId` (the sandbox serves one
/// account; the real platform's answer for a foreign account is not
/// documented).
pub fn account(world: &World, raw: &str) -> Result<u64, ApiError> {
    if raw == "~" || raw.parse::<u64>().ok() == Some(world.account.id) {
        Ok(world.account.id)
    } else {
        Err(ApiError::not_found("accountId", raw))
    }
}

/// Resolves the `{extensionId}` path segment to an index into
/// [`World::extensions`]: `~` = the token owner, else a numeric id of the
/// account. Unknown → 404 CMN-102 for `extensionId`.
pub fn extension(world: &World, raw: &str, owner_extension: u64) -> Result<usize, ApiError> {
    let id = if raw == "~" {
        Some(owner_extension)
    } else {
        raw.parse::<u64>().ok()
    };
    id.and_then(|id| world.extensions.iter().position(|e| e.id == id))
        .ok_or_else(|| ApiError::not_found("extensionId", raw))
}

/// `{platform}/restapi/v1.0/account/{acc}`.
pub fn account_uri(platform: &str, account: u64) -> String {
    format!("{platform}/restapi/v1.0/account/{account}")
}

/// Recording metadata URI on the platform base.
pub fn recording_uri(platform: &str, account: u64, recording: &str) -> String {
    format!("{platform}/restapi/v1.0/account/{account}/recording/{recording}")
}

/// Recording content URI on the media base.
pub fn content_uri(media: &str, account: u64, recording: &str) -> String {
    format!("{media}/restapi/v1.0/account/{account}/recording/{recording}/content")
}
