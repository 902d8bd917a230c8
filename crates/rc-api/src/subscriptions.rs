//! WebHook subscriptions: create, get, list, update, renew, delete.
//! A 404 on a subscription id is [`Error::Gone`]: the subscription must be
//! recreated. (Create and list map statuses plainly.)

use reqwest::Method;

use crate::client::{RcClient, StatusMap};
use crate::error::{Error, Result};
use crate::http::RequestSpec;
use crate::ids::SubscriptionId;
use crate::models::{
    CreateSubscriptionRequest, SubscriptionInfo, SubscriptionList, UpdateSubscriptionRequest,
};
use crate::ratelimit::Endpoint;

const BASE: &str = "/restapi/v1.0/subscription";

impl RcClient {
    /// `POST /restapi/v1.0/subscription`. RingCentral validates a WebHook
    /// address with a `Validation-Token` handshake before answering; a failed
    /// handshake is a 400 `SUB-52x` [`Error::Protocol`].
    pub async fn create_subscription(
        &self,
        request: &CreateSubscriptionRequest,
    ) -> Result<SubscriptionInfo> {
        let spec = RequestSpec {
            method: Method::POST,
            ..RequestSpec::get(
                self.core().platform_url(BASE)?,
                Endpoint::SubscriptionCreate,
            )
        }
        .with_json_body(to_json(request)?);
        self.execute_json(&spec, StatusMap::Plain, "subscription")
            .await
    }

    /// `GET /restapi/v1.0/subscription/{id}`.
    pub async fn get_subscription(&self, id: &SubscriptionId) -> Result<SubscriptionInfo> {
        let spec = RequestSpec::get(self.sub_url(id, "")?, Endpoint::SubscriptionGet);
        self.execute_json(&spec, StatusMap::Subscription, "subscription")
            .await
    }

    /// `GET /restapi/v1.0/subscription`: this user's and app's subscriptions.
    pub async fn list_subscriptions(&self) -> Result<SubscriptionList> {
        let spec = RequestSpec::get(self.core().platform_url(BASE)?, Endpoint::SubscriptionList);
        self.execute_json(&spec, StatusMap::Plain, "subscription list")
            .await
    }

    /// `PUT /restapi/v1.0/subscription/{id}` (new filters and/or lifetime).
    pub async fn update_subscription(
        &self,
        id: &SubscriptionId,
        request: &UpdateSubscriptionRequest,
    ) -> Result<SubscriptionInfo> {
        let spec = RequestSpec {
            method: Method::PUT,
            ..RequestSpec::get(self.sub_url(id, "")?, Endpoint::SubscriptionUpdate)
        }
        .with_json_body(to_json(request)?);
        self.execute_json(&spec, StatusMap::Subscription, "subscription")
            .await
    }

    /// `POST /restapi/v1.0/subscription/{id}/renew` (keeps its `expiresIn`).
    pub async fn renew_subscription(&self, id: &SubscriptionId) -> Result<SubscriptionInfo> {
        let spec = RequestSpec {
            method: Method::POST,
            ..RequestSpec::get(self.sub_url(id, "/renew")?, Endpoint::SubscriptionRenew)
        };
        self.execute_json(&spec, StatusMap::Subscription, "subscription")
            .await
    }

    /// `DELETE /restapi/v1.0/subscription/{id}` (204).
    pub async fn delete_subscription(&self, id: &SubscriptionId) -> Result<()> {
        let spec = RequestSpec {
            method: Method::DELETE,
            ..RequestSpec::get(self.sub_url(id, "")?, Endpoint::SubscriptionDelete)
        };
        self.execute(&spec, StatusMap::Subscription)
            .await
            .map(|_| ())
    }

    fn sub_url(&self, id: &SubscriptionId, suffix: &str) -> Result<url::Url> {
        // `id` is from the safe alphabet, so it cannot alter the path.
        self.core().platform_url(&format!("{BASE}/{id}{suffix}"))
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::Invalid {
        what: "request body",
        reason: e.to_string(),
    })
}
