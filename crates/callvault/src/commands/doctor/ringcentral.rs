//! The checks that ask RingCentral: credentials, permissions, the company
//! call log, the clock, the media host and the rate-limit budget.

use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use rc_api::diagnose::{PermissionRefusal, TokenRefusal, scope_permissions};
use rc_api::{CallLogQuery, CallLogView, Error, RateGroup, RcClient};

use super::{Check, DoctorArgs};

/// How far back the media check looks for a recording to probe.
const RECORDING_LOOKBACK_DAYS: i64 = 30;

/// Recordings a backfill estimate is made for.
const BACKFILL_RECORDINGS: u64 = 100_000;

/// Where the app's permissions are changed, for the fixes.
const CONSOLE: &str =
    "developers.ringcentral.com → Console → your app → Settings → Application scopes";

/// The checks in order; later ones are skipped when credentials fail.
pub async fn checks(args: &DoctorArgs) -> Vec<Check> {
    let needs_rc = [
        "permissions",
        "company call log",
        "clock",
        "media host",
        "rate limits",
    ];
    let client = match credentials(args).await {
        Ok(client) => client,
        Err(check) => {
            let mut out = vec![check];
            out.extend(
                needs_rc
                    .iter()
                    .map(|n| Check::skip(n, "needs working credentials")),
            );
            return out;
        }
    };
    let scope = client.token_status().await.scope.unwrap_or_default();
    let mut out = vec![
        Check::ok(
            "credentials",
            format!("the JWT grant succeeded at {}", client.platform_url()),
        ),
        permissions(&scope, args.public_url.is_some()),
    ];
    let company = company_call_log(&client).await;
    out.push(company.check);
    out.push(clock(&client, args.max_clock_skew_secs));
    out.push(match company.content_uri {
        Some(uri) => media_host(&client, &uri).await,
        None => Check::skip("media host", company.no_recording_reason),
    });
    out.push(rate_limits(&client));
    client.revoke().await.ok();
    out
}

/// The JWT grant; its refusal read as RingCentral means it.
async fn credentials(args: &DoctorArgs) -> Result<RcClient, Check> {
    let name = "credentials";
    let rc = &args.rc;
    if rc.client_id.is_empty() || rc.jwt.is_empty() {
        return Err(Check::fail(
            name,
            "RC_CLIENT_ID or RC_JWT is not set",
            "set RC_CLIENT_ID, RC_CLIENT_SECRET and RC_JWT (or RC_JWT_FILE), or [rc] client_id / client_secret / jwt_file in callvault.toml",
        ));
    }
    let client = crate::app::rc_client(rc).map_err(|e| {
        Check::fail(
            name,
            format!("{e:#}"),
            "check RC_SERVER_URL and RC_MEDIA_URL: https URLs of the platform and media hosts",
        )
    })?;
    match client.authenticate().await {
        Ok(()) => Ok(client),
        Err(Error::Unauthorized { status, code }) => {
            let refusal = TokenRefusal::from_code(status, code.as_deref());
            let fix = match refusal {
                TokenRefusal::ClientRejected => {
                    "copy the app's Client ID and Client Secret from the Developer Console into RC_CLIENT_ID and RC_CLIENT_SECRET; a sandbox app's credentials only work with RC_SERVER_URL=https://platform.devtest.ringcentral.com"
                }
                TokenRefusal::JwtRejected => {
                    "create a JWT credential for this app in the Developer Console (Credentials → JWT, allowed for this app's Client ID) and put it in RC_JWT or the file RC_JWT_FILE names"
                }
                TokenRefusal::JwtExpired => {
                    "create a new JWT credential in the Developer Console (choose \"no expiration\") and replace RC_JWT"
                }
                TokenRefusal::GrantNotAllowed => {
                    "in the Developer Console, set the app's auth to \"JWT auth flow\" (a REST API app, server-side web)"
                }
                _ => "check RC_CLIENT_ID, RC_CLIENT_SECRET and RC_JWT",
            };
            Err(Check::fail(
                name,
                format!(
                    "RingCentral refused the JWT grant (HTTP {status}, {}): {}",
                    code.as_deref().unwrap_or("no code"),
                    refusal.meaning()
                ),
                fix,
            ))
        }
        Err(e) => Err(Check::fail(
            name,
            format!("could not reach the token endpoint: {e}"),
            "check RC_SERVER_URL and this machine's outbound HTTPS access",
        )),
    }
}

/// The permissions the features need, against the token's `scope`.
fn permissions(scope: &str, serve: bool) -> Check {
    let granted = scope_permissions(scope);
    let mut needed = vec!["ReadCallLog", "ReadCallRecording"];
    if serve {
        needed.extend(["CallControl", "SubscriptionWebhook"]);
    }
    let missing: Vec<&str> = needed
        .iter()
        .copied()
        .filter(|p| !granted.contains(p))
        .collect();
    let for_what = if serve {
        "backup and serve"
    } else {
        "backup (set CALLVAULT_PUBLIC_URL to check serve's too)"
    };
    if missing.is_empty() {
        Check::ok(
            "permissions",
            format!("the token grants {} for {for_what}", needed.join(", ")),
        )
    } else {
        Check::fail(
            "permissions",
            format!(
                "the app lacks {} (its token grants: {})",
                missing.join(", "),
                if scope.is_empty() { "nothing" } else { scope }
            ),
            format!("add {} in {CONSOLE}", missing.join(", ")),
        )
    }
}

/// The company call-log check's line, and a recording to probe with.
struct CompanyCallLog {
    check: Check,
    content_uri: Option<String>,
    no_recording_reason: String,
}

/// A one-record read of the account call log: the admin-level right shows
/// as a 403 CMN-401/402/419 when it is missing.
async fn company_call_log(client: &RcClient) -> CompanyCallLog {
    let name = "company call log";
    let to = Utc::now();
    let query = CallLogQuery {
        view: CallLogView::Simple,
        per_page: Some(1),
        ..CallLogQuery::new(to - chrono::Duration::days(RECORDING_LOOKBACK_DAYS), to)
    };
    let mut pages = std::pin::pin!(client.list_company_call_log(&query));
    let skip_reason = "needs the company call log".to_owned();
    match pages.next().await {
        Some(Ok(page)) => {
            let content_uri = page
                .records
                .iter()
                .flat_map(|r| r.recordings())
                .map(|r| r.content_uri.clone())
                .next();
            CompanyCallLog {
                check: Check::ok(name, "the account call log can be read"),
                no_recording_reason: format!(
                    "no recording in the last {RECORDING_LOOKBACK_DAYS} days to probe"
                ),
                content_uri,
            }
        }
        Some(Err(e)) => {
            let (detail, fix) = match PermissionRefusal::of(&e) {
                Some(PermissionRefusal::AppPermission) => (
                    format!("RingCentral refused the call log ({e}): the app lacks ReadCallLog"),
                    format!("add ReadCallLog in {CONSOLE}"),
                ),
                Some(PermissionRefusal::NotAdministrator | PermissionRefusal::CompanyCallLog) => (
                    format!(
                        "RingCentral refused the account call log ({e}): the JWT's user may not read the whole company's calls"
                    ),
                    "make the JWT with a user whose role has \"Company Call Log\" (Super Admin does), in Admin Portal → Users → Roles; or assign that role to this user".to_owned(),
                ),
                _ => (
                    format!("the account call log could not be read: {e}"),
                    "check RC_SERVER_URL and the app's permissions".to_owned(),
                ),
            };
            CompanyCallLog {
                check: Check::fail(name, detail, fix),
                content_uri: None,
                no_recording_reason: skip_reason,
            }
        }
        None => CompanyCallLog {
            check: Check::ok(name, "the account call log can be read"),
            content_uri: None,
            no_recording_reason: skip_reason,
        },
    }
}

/// Our clock against RingCentral's `Date` header (measured on every answer).
fn clock(client: &RcClient, max_skew_secs: u64) -> Check {
    let offset = client.server_clock().offset();
    let secs = offset.num_seconds();
    let side = if secs > 0 { "behind" } else { "ahead of" };
    if secs.unsigned_abs() <= max_skew_secs {
        Check::ok(
            "clock",
            format!("within {}s of RingCentral's", secs.unsigned_abs().max(1)),
        )
    } else {
        Check::fail(
            "clock",
            format!(
                "this machine's clock is {}s {side} RingCentral's (limit {max_skew_secs}s)",
                secs.unsigned_abs()
            ),
            "synchronise the clock: `timedatectl set-ntp true` (systemd-timesyncd) or install chrony",
        )
    }
}

/// A Range request for one recording on the media host.
async fn media_host(client: &RcClient, content_uri: &str) -> Check {
    let name = "media host";
    let host = client.media_url().host_str().unwrap_or_default().to_owned();
    match client.probe_range(content_uri).await {
        Ok(a) if a.status == 206 && a.content_range.is_some() => {
            Check::ok(name, format!("{host} answered a Range request with 206"))
        }
        Ok(a) => Check::fail(
            name,
            format!(
                "{host} answered a Range request with HTTP {} and no Content-Range",
                a.status
            ),
            "point RC_MEDIA_URL at RingCentral's media host (https://media.ringcentral.com), not a proxy that drops Range",
        ),
        Err(e) => {
            let fix = match PermissionRefusal::of(&e) {
                Some(_) => format!("add ReadCallRecording in {CONSOLE}"),
                None => "check RC_MEDIA_URL and outbound HTTPS access to the media host".to_owned(),
            };
            Check::fail(
                name,
                format!("the recording could not be fetched: {e}"),
                fix,
            )
        }
    }
}

/// The Heavy group's budget in force, and what a large backfill takes at it.
fn rate_limits(client: &RcClient) -> Check {
    let name = "rate limits";
    let heavy = RateGroup::heavy();
    let metrics = client.rate_limit_metrics();
    let seen = metrics
        .iter()
        .find(|m| m.group == heavy)
        .and_then(|m| Some((m.limit?, m.window?)));
    let documented = heavy.documented_default();
    let (limit, window, source) = match (seen, documented) {
        (Some((l, w)), _) => (l, w, "from RingCentral's headers"),
        (None, Some((l, w))) => (l, w, "documented default; no headers seen"),
        (None, None) => return Check::skip(name, "no rate-limit headers seen"),
    };
    Check::ok(
        name,
        format!(
            "Heavy group: {limit} requests per {}s ({source}); a {BACKFILL_RECORDINGS}-recording backfill takes about {}",
            window.as_secs(),
            human(backfill_time(limit, window))
        ),
    )
}

/// One Heavy request per recording download plus one per 1,000-record page.
fn backfill_time(limit: u32, window: Duration) -> Duration {
    let requests = BACKFILL_RECORDINGS + BACKFILL_RECORDINGS.div_ceil(1000);
    let windows = requests.div_ceil(u64::from(limit.max(1)));
    window.saturating_mul(u32::try_from(windows).unwrap_or(u32::MAX))
}

fn human(d: Duration) -> String {
    let mins = d.as_secs() / 60;
    let (days, hours, mins) = (mins / 1440, mins / 60 % 24, mins % 60);
    match (days, hours) {
        (0, 0) => format!("{mins} min"),
        (0, h) => format!("{h} h {mins} min"),
        (d, h) => format!("{d} days {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backfill_at_the_documented_heavy_budget_takes_about_a_week() {
        let d = backfill_time(10, Duration::from_secs(60));
        assert_eq!(d, Duration::from_secs(10_010 * 60));
        assert_eq!(human(d), "6 days 22 h");
    }

    #[test]
    fn serve_needs_call_control_and_webhooks_too() {
        let backup = "ReadCallLog ReadCallRecording";
        assert_eq!(
            permissions(backup, false).outcome,
            super::super::Outcome::Ok
        );
        let c = permissions(backup, true);
        assert_eq!(c.outcome, super::super::Outcome::Fail);
        assert!(
            c.detail.contains("CallControl, SubscriptionWebhook"),
            "{}",
            c.detail
        );
    }
}
