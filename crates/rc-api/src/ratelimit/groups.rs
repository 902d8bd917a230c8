//! Rate-limit groups and the endpoints that fall into them.

use std::fmt;
use std::time::Duration;

/// A rate-limit group name as the `X-Rate-Limit-Group` header spells it,
/// lower-cased (`heavy`, `medium`, `light`, `auth`, or any name the server
/// invents later).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RateGroup(String);

impl RateGroup {
    /// Call log, recordings: 10 requests/min by default.
    pub fn heavy() -> RateGroup {
        RateGroup("heavy".into())
    }
    /// Subscription create/update/delete: 40/min.
    pub fn medium() -> RateGroup {
        RateGroup("medium".into())
    }
    /// Subscription get/list/renew: 50/min.
    pub fn light() -> RateGroup {
        RateGroup("light".into())
    }
    /// Token and revoke: 5/min.
    pub fn auth() -> RateGroup {
        RateGroup("auth".into())
    }

    /// A group from a header value (trimmed, lower-cased).
    pub fn from_header(value: &str) -> Option<RateGroup> {
        let v = value.trim().to_ascii_lowercase();
        (!v.is_empty()).then_some(RateGroup(v))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Documented default `(limit, window)` of the four known groups; `None`
    /// for a group we have never heard of (its budget then comes only from
    /// the headers the server sends).
    pub fn documented_default(&self) -> Option<(u32, Duration)> {
        let minute = Duration::from_secs(60);
        match self.0.as_str() {
            "heavy" => Some((10, minute)),
            "medium" => Some((40, minute)),
            "light" => Some((50, minute)),
            "auth" => Some((5, minute)),
            _ => None,
        }
    }
}

impl fmt::Display for RateGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The operations this client performs; each is mapped to a group before
/// sending (documented map, then whatever the server's header says).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `GET …/call-log` (list pages).
    CallLogList,
    /// `GET …/recording/{id}` (metadata).
    RecordingMetadata,
    /// `GET <media>/…/recording/{id}/content`.
    RecordingContent,
    /// `DELETE …/call-recordings` (deletion at the source).
    RecordingDelete,
    /// `POST /subscription`.
    SubscriptionCreate,
    /// `PUT /subscription/{id}`.
    SubscriptionUpdate,
    /// `DELETE /subscription/{id}`.
    SubscriptionDelete,
    /// `POST /subscription/{id}/renew`.
    SubscriptionRenew,
    /// `GET /subscription/{id}`.
    SubscriptionGet,
    /// `GET /subscription`.
    SubscriptionList,
    /// `POST /restapi/oauth/token`.
    Token,
    /// `POST /restapi/oauth/revoke`.
    Revoke,
}

impl Endpoint {
    /// The documented group.
    pub fn documented_group(self) -> RateGroup {
        match self {
            Endpoint::CallLogList
            | Endpoint::RecordingMetadata
            | Endpoint::RecordingContent
            | Endpoint::RecordingDelete => RateGroup::heavy(),
            Endpoint::SubscriptionCreate
            | Endpoint::SubscriptionUpdate
            | Endpoint::SubscriptionDelete => RateGroup::medium(),
            Endpoint::SubscriptionRenew
            | Endpoint::SubscriptionGet
            | Endpoint::SubscriptionList => RateGroup::light(),
            Endpoint::Token | Endpoint::Revoke => RateGroup::auth(),
        }
    }
}

/// Longest window or `Retry-After` believed from a header: larger values are
/// clamped (a hostile or broken header must not overflow time arithmetic).
pub const MAX_HEADER_DURATION: Duration = Duration::from_secs(24 * 3600);

/// The `X-Rate-Limit-*` headers of one response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateHeaders {
    /// `X-Rate-Limit-Group`.
    pub group: Option<RateGroup>,
    /// `X-Rate-Limit-Limit`.
    pub limit: Option<u32>,
    /// `X-Rate-Limit-Remaining`.
    pub remaining: Option<u32>,
    /// `X-Rate-Limit-Window` (seconds, at most [`MAX_HEADER_DURATION`]).
    pub window: Option<Duration>,
    /// `Retry-After` (seconds form only, at most [`MAX_HEADER_DURATION`]).
    pub retry_after: Option<Duration>,
}

impl RateHeaders {
    /// Reads the headers; malformed values are ignored (treated as absent).
    pub fn parse(headers: &reqwest::header::HeaderMap) -> RateHeaders {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let number = |name: &str| text(name).and_then(leading_u64);
        RateHeaders {
            group: text("x-rate-limit-group").and_then(RateGroup::from_header),
            limit: number("x-rate-limit-limit").and_then(|n| u32::try_from(n).ok()),
            remaining: number("x-rate-limit-remaining").and_then(|n| u32::try_from(n).ok()),
            window: number("x-rate-limit-window")
                .filter(|&n| n > 0)
                .map(|n| Duration::from_secs(n).min(MAX_HEADER_DURATION)),
            retry_after: number("retry-after")
                .map(|n| Duration::from_secs(n).min(MAX_HEADER_DURATION)),
        }
    }
}

/// `"60"` → 60, `"60s"` → 60, `" 5 "` → 5; anything else → None.
fn leading_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (num, rest) = s.split_at(digits);
    if num.is_empty() || !(rest.is_empty() || rest == "s") {
        return None;
    }
    num.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_read_case_insensitively_and_tolerantly() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("X-Rate-Limit-Group", "Heavy".parse().unwrap());
        h.insert("X-Rate-Limit-Limit", "10".parse().unwrap());
        h.insert("X-Rate-Limit-Remaining", "7".parse().unwrap());
        h.insert("X-Rate-Limit-Window", "60s".parse().unwrap());
        h.insert(
            "Retry-After",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        let r = RateHeaders::parse(&h);
        assert_eq!(r.group, Some(RateGroup::heavy()));
        assert_eq!(r.limit, Some(10));
        assert_eq!(r.remaining, Some(7));
        assert_eq!(r.window, Some(Duration::from_secs(60)));
        assert_eq!(r.retry_after, None);
    }

    #[test]
    fn absurd_durations_are_clamped_instead_of_overflowing() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            "X-Rate-Limit-Window",
            "18446744073709551615".parse().unwrap(),
        );
        h.insert("Retry-After", "18446744073709551615".parse().unwrap());
        let r = RateHeaders::parse(&h);
        assert_eq!(r.window, Some(MAX_HEADER_DURATION));
        assert_eq!(r.retry_after, Some(MAX_HEADER_DURATION));
    }

    #[test]
    fn every_endpoint_has_its_documented_group() {
        assert_eq!(Endpoint::CallLogList.documented_group(), RateGroup::heavy());
        assert_eq!(
            Endpoint::RecordingContent.documented_group(),
            RateGroup::heavy()
        );
        assert_eq!(
            Endpoint::SubscriptionCreate.documented_group(),
            RateGroup::medium()
        );
        assert_eq!(
            Endpoint::SubscriptionRenew.documented_group(),
            RateGroup::light()
        );
        assert_eq!(Endpoint::Token.documented_group(), RateGroup::auth());
        assert_eq!(RateGroup::from_header("  "), None);
        assert_eq!(
            RateGroup::from_header("media-heavy")
                .unwrap()
                .documented_default(),
            None
        );
    }
}
