//! Our WebHook subscription to telephony-session events: created (or
//! reused), renewed well before expiry, and recreated when RingCentral
//! blacklisted, expired or deleted it (after failed deliveries, at
//! `expiresIn`, or by hand). Its id and the random
//! verification token live in the catalog settings, so every process of the
//! cluster agrees on them and a restart reuses them.

use anyhow::Context;
use chrono::{DateTime, Utc};
use rc_api::models::{CreateSubscriptionRequest, SubscriptionInfo, SubscriptionStatus};
use vault::Catalog;

use super::{
    LiveConfig, SUBSCRIPTION_SETTING, TOKEN_SETTING, VALIDATION_WINDOW_SETTING, WEBHOOK_PATH, token,
};

/// What [`ensure_subscription`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ensured {
    /// The stored subscription is active and not near expiry.
    Reused,
    /// It was renewed.
    Renewed,
    /// A new one was created (none stored, or the old one was unusable:
    /// the text says why).
    Created {
        /// Why the previous one was not kept.
        because: String,
    },
}

/// The event filters for telephony sessions: account level, or the
/// extension level of `extension` (a numeric extension id, or `~`).
pub fn telephony_filters(extension: Option<&str>) -> Vec<String> {
    match extension {
        Some(ext) => vec![format!(
            "/restapi/v1.0/account/~/extension/{ext}/telephony/sessions"
        )],
        None => vec!["/restapi/v1.0/account/~/telephony/sessions".to_owned()],
    }
}

/// The delivery address for a public base URL (`https://host/prefix`).
pub fn webhook_address(public_url: &str) -> String {
    format!("{}{WEBHOOK_PATH}", public_url.trim_end_matches('/'))
}

/// Makes sure an active WebHook subscription to `filters` delivers to
/// `public_url` + `/webhook/ringcentral` with the catalog's verification
/// token: reuses the stored one, renews it when less than
/// [`LiveConfig::renew_before`] is left, and otherwise (none stored, gone,
/// blacklisted, expired, another address or other filters) deletes it and
/// creates a new one. Creating runs RingCentral's validation handshake
/// against the receiver, so the receiver must already be listening.
pub async fn ensure_subscription(
    client: &rc_api::RcClient,
    catalog: &Catalog,
    public_url: &str,
    filters: &[String],
    config: &LiveConfig,
) -> anyhow::Result<(SubscriptionInfo, Ensured)> {
    let address = webhook_address(public_url);
    let stored = catalog
        .setting(SUBSCRIPTION_SETTING)
        .await?
        .filter(|s| !s.is_empty());
    let because = match stored
        .as_deref()
        .map(rc_api::ids::SubscriptionId::parse)
        .transpose()
    {
        Err(_) => "the stored subscription id is invalid".to_owned(),
        Ok(None) => "no subscription yet".to_owned(),
        Ok(Some(id)) => match client.get_subscription(&id).await {
            Err(rc_api::Error::Gone { .. }) => "the subscription was deleted".to_owned(),
            Err(e) => return Err(e).context("checking the subscription"),
            Ok(info) => match unusable(&info, &address, filters, client.server_clock().now()) {
                Some(why) => {
                    delete_quietly(client, &info).await;
                    why
                }
                None => {
                    let left = info
                        .expiration_time
                        .map(|t| t - client.server_clock().now())
                        .unwrap_or_else(chrono::Duration::zero);
                    if left > config.renew_before {
                        return Ok((info, Ensured::Reused));
                    }
                    match client.renew_subscription(&id).await {
                        Ok(renewed) => {
                            tracing::info!(subscription = %id, "subscription renewed");
                            return Ok((renewed, Ensured::Renewed));
                        }
                        Err(rc_api::Error::Gone { .. }) => {
                            "the subscription vanished while renewing".to_owned()
                        }
                        Err(e) => return Err(e).context("renewing the subscription"),
                    }
                }
            },
        },
    };
    let info = create(client, catalog, &address, filters, config).await?;
    tracing::info!(subscription = %info.id, %because, "subscription created");
    Ok((info, Ensured::Created { because }))
}

/// Why a subscription cannot be kept, if it cannot; `now` is RingCentral's
/// (its expiry is on that clock).
fn unusable(
    info: &SubscriptionInfo,
    address: &str,
    filters: &[String],
    now: DateTime<Utc>,
) -> Option<String> {
    match &info.status {
        Some(SubscriptionStatus::Active) | None => {}
        Some(other) => {
            let why = info
                .blacklisted_data
                .as_ref()
                .and_then(|b| b.reason.clone())
                .unwrap_or_default();
            return Some(format!("the subscription is {} {why}", other.as_str()));
        }
    }
    if info.expiration_time.is_some_and(|t| t <= now) {
        return Some("the subscription expired".into());
    }
    let delivers_here = info
        .delivery_mode
        .as_ref()
        .and_then(|d| d.address.as_deref())
        == Some(address);
    if !delivers_here {
        return Some("the subscription delivers elsewhere".into());
    }
    let covers = filters.iter().all(|f| {
        let tail = f.rsplit("/telephony/").next().unwrap_or(f);
        let extension_level = f.contains("/extension/");
        info.event_filters.iter().any(|have| {
            have.ends_with(&format!("/telephony/{tail}"))
                && have.contains("/extension/") == extension_level
        })
    });
    if !covers {
        return Some("the subscription has other filters".into());
    }
    None
}

async fn create(
    client: &rc_api::RcClient,
    catalog: &Catalog,
    address: &str,
    filters: &[String],
    config: &LiveConfig,
) -> anyhow::Result<SubscriptionInfo> {
    let token = match catalog.setting(TOKEN_SETTING).await? {
        Some(t) if !t.is_empty() => t,
        _ => {
            let t = token::generate();
            catalog.set_setting(TOKEN_SETTING, &t).await?;
            t
        }
    };
    let request = CreateSubscriptionRequest::webhook(
        filters.to_vec(),
        address,
        Some(rc_api::Secret::new(token)),
        Some(config.subscription_lifetime_secs),
    );
    // RingCentral validates the address before it answers: open the echo
    // window for that, and close it whatever the answer.
    let open_until = Utc::now() + VALIDATION_WINDOW;
    catalog
        .set_setting(VALIDATION_WINDOW_SETTING, &open_until.to_rfc3339())
        .await?;
    let created = client
        .create_subscription(&request)
        .await
        .context("creating the WebHook subscription");
    catalog.set_setting(VALIDATION_WINDOW_SETTING, "").await?;
    let info = created?;
    catalog
        .set_setting(SUBSCRIPTION_SETTING, info.id.as_str())
        .await?;
    Ok(info)
}

/// How long a creation may take to be validated: RingCentral answers the
/// create request only after our receiver answered its validation.
const VALIDATION_WINDOW: chrono::Duration = chrono::Duration::minutes(2);

/// Whether our own subscription creation is under way (the receiver may
/// echo a `Validation-Token`). Any catalog trouble counts as closed.
pub async fn validation_window_open(catalog: &Catalog) -> bool {
    let Ok(Some(until)) = catalog.setting(VALIDATION_WINDOW_SETTING).await else {
        return false;
    };
    DateTime::parse_from_rfc3339(&until).is_ok_and(|until| Utc::now() < until)
}

/// Deletes a subscription we are replacing; failure only costs a stale
/// record at RingCentral, so it is logged, not returned.
async fn delete_quietly(client: &rc_api::RcClient, info: &SubscriptionInfo) {
    match client.delete_subscription(&info.id).await {
        Ok(()) | Err(rc_api::Error::Gone { .. }) => {}
        Err(e) => {
            tracing::warn!(subscription = %info.id, error = %e, "deleting the old subscription failed")
        }
    }
}

/// `callvault subscription delete`: deletes `id` (default: ours) and forgets
/// it when it was ours. Returns the id deleted.
pub async fn delete_subscription(
    client: &rc_api::RcClient,
    catalog: &Catalog,
    id: Option<&str>,
) -> anyhow::Result<String> {
    let ours = catalog.setting(SUBSCRIPTION_SETTING).await?;
    let Some(target) = id.map(str::to_owned).or(ours.clone()) else {
        anyhow::bail!("no subscription id given and none stored in the catalog");
    };
    let parsed = rc_api::ids::SubscriptionId::parse(&target).context("subscription id")?;
    match client.delete_subscription(&parsed).await {
        Ok(()) | Err(rc_api::Error::Gone { .. }) => {}
        Err(e) => return Err(e).context("deleting the subscription"),
    }
    if ours.as_deref() == Some(target.as_str()) {
        catalog.set_setting(SUBSCRIPTION_SETTING, "").await?;
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_account_level_unless_an_extension_is_given() {
        assert_eq!(
            telephony_filters(None),
            ["/restapi/v1.0/account/~/telephony/sessions"]
        );
        assert_eq!(
            telephony_filters(Some("101")),
            ["/restapi/v1.0/account/~/extension/101/telephony/sessions"]
        );
    }

    #[test]
    fn the_address_is_the_public_url_plus_the_webhook_path() {
        assert_eq!(
            webhook_address("https://vault.example.com/"),
            "https://vault.example.com/webhook/ringcentral"
        );
    }
}
