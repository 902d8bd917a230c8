//! What RingCentral's refusals mean, for a first-run check (`callvault
//! doctor`): the token endpoint's `invalid_client` / `invalid_grant` /
//! `OAU-*` answers, the 403 permission codes, and a Range probe of the
//! media host. The wire facts live here, beside the client that reads
//! them; what to change in CallVault's own settings is the caller's.

use url::Url;

use crate::client::{RcClient, StatusMap};
use crate::error::{Error, Result};
use crate::http::RequestSpec;
use crate::ratelimit::Endpoint;

/// Why the token endpoint refused the JWT grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenRefusal {
    /// `invalid_client` / OAU-123: the client id or secret is wrong (or
    /// missing), or belongs to another environment (sandbox vs production).
    ClientRejected,
    /// `invalid_grant` OAU-140 / OAU-149: the JWT credential is not one this
    /// app accepts (mistyped, revoked, or made for another app).
    JwtRejected,
    /// `invalid_grant` OAU-210: the JWT credential has expired.
    JwtExpired,
    /// `unauthorized_client` / `unsupported_grant_type` OAU-251: the app is
    /// not registered for the JWT auth flow.
    GrantNotAllowed,
    /// Any other refusal.
    Other,
}

impl TokenRefusal {
    /// Reads the refusal from an [`Error::Unauthorized`] of the token
    /// endpoint (`code` is `errors[0].errorCode`, else the OAuth `error`).
    pub fn from_code(status: u16, code: Option<&str>) -> TokenRefusal {
        match code {
            Some("OAU-123" | "invalid_client") => TokenRefusal::ClientRejected,
            Some("OAU-140" | "OAU-149" | "OAU-213" | "invalid_grant") => TokenRefusal::JwtRejected,
            Some("OAU-210") => TokenRefusal::JwtExpired,
            Some("OAU-251" | "unauthorized_client" | "unsupported_grant_type") => {
                TokenRefusal::GrantNotAllowed
            }
            _ if status == 401 => TokenRefusal::ClientRejected,
            _ => TokenRefusal::Other,
        }
    }

    /// What RingCentral is saying, in a sentence.
    pub fn meaning(self) -> &'static str {
        match self {
            TokenRefusal::ClientRejected => {
                "the client id or client secret is wrong, or belongs to another environment (sandbox vs production)"
            }
            TokenRefusal::JwtRejected => {
                "the JWT credential is not accepted: mistyped, revoked, or made for another app"
            }
            TokenRefusal::JwtExpired => "the JWT credential has expired",
            TokenRefusal::GrantNotAllowed => "the app is not registered for the JWT auth flow",
            TokenRefusal::Other => "the token endpoint refused the JWT grant",
        }
    }
}

/// What a 403 on a call-log read says about permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PermissionRefusal {
    /// CMN-401: the app lacks an app permission.
    AppPermission,
    /// CMN-402: the user is not an administrator.
    NotAdministrator,
    /// CMN-419: the user lacks the company-wide call log ("ReadCallLog
    /// with extended scope", FullCompanyCallLog).
    CompanyCallLog,
}

impl PermissionRefusal {
    /// The refusal an error carries, if it is a 403 of this kind.
    pub fn of(error: &Error) -> Option<PermissionRefusal> {
        match error {
            Error::Protocol {
                status: 403,
                code: Some(code),
                ..
            } => match code.as_str() {
                "CMN-401" | "InsufficientPermissions" => Some(PermissionRefusal::AppPermission),
                "CMN-402" => Some(PermissionRefusal::NotAdministrator),
                "CMN-419" => Some(PermissionRefusal::CompanyCallLog),
                _ => None,
            },
            _ => None,
        }
    }
}

/// The app permissions a token's `scope` lists.
pub fn scope_permissions(scope: &str) -> Vec<&str> {
    scope.split_whitespace().collect()
}

/// How the media host answered a one-range request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeAnswer {
    /// HTTP status: 206 when the range was honoured.
    pub status: u16,
    /// The `Content-Range` header, if any.
    pub content_range: Option<String>,
}

impl RcClient {
    /// Asks the media host for `content_uri` from byte 0 with a `Range`
    /// header and reads only the answer's head (the body is dropped unread).
    /// Resumed downloads and the web player's seeking depend on a 206 here.
    pub async fn probe_range(&self, content_uri: &str) -> Result<RangeAnswer> {
        let url = Url::parse(content_uri.trim()).map_err(|e| Error::Invalid {
            what: "contentUri",
            reason: e.to_string(),
        })?;
        self.core().hosts.check_any(&url)?;
        let mut spec = RequestSpec::get(url, Endpoint::RecordingContent);
        spec.json = false;
        spec.range_from = Some(0);
        let resp = self.execute(&spec, StatusMap::Recording).await?;
        Ok(RangeAnswer {
            status: resp.status().as_u16(),
            content_range: resp
                .headers()
                .get(reqwest::header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_refusals_are_read_from_their_codes() {
        for (status, code, want) in [
            (401, Some("OAU-123"), TokenRefusal::ClientRejected),
            (401, Some("invalid_client"), TokenRefusal::ClientRejected),
            (400, Some("OAU-140"), TokenRefusal::JwtRejected),
            (400, Some("invalid_grant"), TokenRefusal::JwtRejected),
            (400, Some("OAU-210"), TokenRefusal::JwtExpired),
            (400, Some("OAU-251"), TokenRefusal::GrantNotAllowed),
            (401, None, TokenRefusal::ClientRejected),
            (400, Some("OAU-999"), TokenRefusal::Other),
        ] {
            assert_eq!(TokenRefusal::from_code(status, code), want, "{code:?}");
        }
    }
}
