//! Subscriptions with WebHook delivery.

use chrono::{DateTime, Utc};

use crate::ids::SubscriptionId;
use crate::secret::Secret;

/// `POST /restapi/v1.0/subscription` body.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateSubscriptionRequest {
    /// Filter URIs, e.g. `/restapi/v1.0/account/~/telephony/sessions`.
    pub event_filters: Vec<String>,
    /// Where and how to deliver.
    pub delivery_mode: DeliveryModeRequest,
    /// Lifetime in seconds (default 604800; WebHook maximum 315360000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
}

impl CreateSubscriptionRequest {
    /// A WebHook subscription to `filters`, delivered to `address`, each
    /// delivery carrying `verification_token` in the `Verification-Token` header.
    pub fn webhook(
        filters: Vec<String>,
        address: impl Into<String>,
        verification_token: Option<Secret>,
        expires_in: Option<u64>,
    ) -> CreateSubscriptionRequest {
        CreateSubscriptionRequest {
            event_filters: filters,
            delivery_mode: DeliveryModeRequest {
                transport_type: TransportType::WebHook,
                address: address.into(),
                verification_token,
            },
            expires_in,
        }
    }
}

/// `deliveryMode` of a create request. `Debug` redacts the verification token.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryModeRequest {
    /// `WebHook` (exact casing).
    pub transport_type: TransportType,
    /// Receiver URL.
    pub address: String,
    /// Echoed in every delivery's `Verification-Token` header (write-only).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose_secret"
    )]
    pub verification_token: Option<Secret>,
}

fn expose_secret<S: serde::Serializer>(v: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(secret) => s.serialize_some(secret.expose()),
        None => s.serialize_none(),
    }
}

/// `PUT /restapi/v1.0/subscription/{id}` body.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateSubscriptionRequest {
    /// New filters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_filters: Option<Vec<String>>,
    /// New lifetime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
}

/// `SubscriptionInfo`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionInfo {
    /// Subscription id (UUID).
    pub id: SubscriptionId,
    /// Subscription URI.
    #[serde(default)]
    pub uri: Option<String>,
    /// Filters with ids resolved.
    #[serde(default)]
    pub event_filters: Vec<String>,
    /// Filters the user may not use, with reasons.
    #[serde(default)]
    pub disabled_filters: Vec<DisabledFilter>,
    /// When it expires.
    #[serde(default)]
    pub expiration_time: Option<DateTime<Utc>>,
    /// Seconds left (counts down).
    #[serde(default)]
    pub expires_in: Option<i64>,
    /// `Active`, `Blacklisted`…
    #[serde(default)]
    pub status: Option<SubscriptionStatus>,
    /// Created at.
    #[serde(default)]
    pub creation_time: Option<DateTime<Utc>>,
    /// Delivery settings (no verification token).
    #[serde(default)]
    pub delivery_mode: Option<DeliveryModeInfo>,
    /// Why and when it was blacklisted.
    #[serde(default)]
    pub blacklisted_data: Option<BlacklistedData>,
}

/// `deliveryMode` of a subscription.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryModeInfo {
    /// `WebHook`, `WebSocket`, `PubNub`, `RC/APNS`…
    #[serde(default)]
    pub transport_type: Option<TransportType>,
    /// Receiver address.
    #[serde(default)]
    pub address: Option<String>,
    /// Always false for WebHook.
    #[serde(default)]
    pub encryption: Option<bool>,
}

/// `disabledFilters[]`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct DisabledFilter {
    /// The filter.
    #[serde(default)]
    pub filter: String,
    /// Code, e.g. `SUB-412`.
    #[serde(default)]
    pub reason: Option<String>,
    /// Message.
    #[serde(default)]
    pub message: Option<String>,
}

/// `blacklistedData`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlacklistedData {
    /// Reason, e.g. `I/O operation is failed. Details: [Read timed out]`.
    #[serde(default)]
    pub reason: Option<String>,
    /// When.
    #[serde(default)]
    pub blacklisted_at: Option<DateTime<Utc>>,
}

/// `GET /restapi/v1.0/subscription` answer.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct SubscriptionList {
    /// List URI.
    #[serde(default)]
    pub uri: Option<String>,
    /// Subscriptions of this user and app.
    #[serde(default)]
    pub records: Vec<SubscriptionInfo>,
}

open_enum! {
    /// Subscription status (tolerate values beyond `Active`/`Blacklisted`).
    SubscriptionStatus {
        Active = "Active",
        Suspended = "Suspended",
        Blacklisted = "Blacklisted",
        Blocked = "Blocked",
    }
}

open_enum! {
    /// Delivery transport.
    TransportType {
        WebHook = "WebHook",
        WebSocket = "WebSocket",
        PubNub = "PubNub",
        RcApns = "RC/APNS",
        RcGcm = "RC/GCM",
    }
}
