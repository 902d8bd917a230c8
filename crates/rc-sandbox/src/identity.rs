//! Who is calling: the owner of a token, the key of every rate-limit bucket
//! and subscription. Its own module so the rate limiter, the gate and the
//! subscriptions name it without depending on OAuth.

/// Who a valid access token belongs to; the rate limiter keys on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenOwner {
    /// Extension id of the token owner (`owner_id`).
    pub extension_id: u64,
    /// The OAuth client id (the "app").
    pub client_id: String,
}
