//! HTTP handlers of `/restapi/v1.0/subscription…` (see the module above for
//! the behaviour of each route).

use std::time::Duration as StdDuration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Duration;
use serde_json::{Value, json};

use super::filter::{EventFilter, FilterError};
use super::handshake;
use super::registry::NewSubscription;
use crate::errors::ApiError;
use crate::gate::{self, Admitted, RateHeaders};
use crate::identity::TokenOwner;
use crate::permissions::Permission;
use crate::ratelimit::Group;
use crate::state::AppState;

/// `/restapi/v1.0/subscription…` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/restapi/v1.0/subscription", post(create).get(list))
        .route(
            "/restapi/v1.0/subscription/{id}",
            get(read).put(update).delete(remove),
        )
        .route("/restapi/v1.0/subscription/{id}/renew", post(renew))
}

fn sub_error(status: StatusCode, code: &str, message: &str) -> ApiError {
    ApiError::new(status, code, code, message)
}

fn expired_error() -> ApiError {
    sub_error(StatusCode::NOT_FOUND, "SUB-507", "Subscription is expired")
}

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| ApiError::invalid_parameter("body", ""))
}

fn parse_filters(
    state: &AppState,
    owner: &TokenOwner,
    v: Option<&Value>,
) -> Result<Vec<EventFilter>, ApiError> {
    let items = v
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::invalid_parameter("eventFilters", ""))?;
    let world = state.world();
    let account = world.account.id;
    let mut filters = Vec::with_capacity(items.len());
    for item in items {
        let raw = item.as_str().unwrap_or_default();
        let f = EventFilter::parse(raw, account, owner.extension_id, |e| {
            world.extensions.iter().any(|x| x.id == e)
        })
        .map_err(|e| match e {
            FilterError::Invalid(_) => {
                sub_error(StatusCode::BAD_REQUEST, "SUB-508", "Invalid event filters")
            }
            FilterError::OtherAccount(_) => sub_error(
                StatusCode::FORBIDDEN,
                "SUB-406",
                "Not allowed subscribe for events to extensions of other account",
            ),
        })?;
        if !filters.contains(&f) {
            filters.push(f);
        }
    }
    Ok(filters)
}

fn parse_expires_in(state: &AppState, v: Option<&Value>) -> Result<i64, ApiError> {
    let cfg = &state.config().subscriptions;
    match v {
        None | Some(Value::Null) => Ok(cfg.default_expires_in),
        Some(x) => x
            .as_i64()
            .filter(|n| *n >= 1)
            .map(|n| n.min(cfg.max_expires_in))
            .ok_or_else(|| ApiError::invalid_parameter("expiresIn", &x.to_string())),
    }
}

fn parse_address(mode: &Value) -> Result<String, ApiError> {
    let address = mode
        .get("address")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match url::Url::parse(address) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Ok(address.to_string())
        }
        _ => Err(ApiError::invalid_parameter("deliveryMode.address", address)),
    }
}

/// Renders a handler's outcome with the rate-limit headers of its admission,
/// on errors too (the platform sends them on almost every response).
fn respond(rate: RateHeaders, outcome: Result<Option<Value>, ApiError>) -> Response {
    match outcome {
        Ok(Some(v)) => (rate, axum::Json(v)).into_response(),
        Ok(None) => (StatusCode::NO_CONTENT, rate, ()).into_response(),
        Err(e) => {
            let e = rate.0.iter().fold(e, |e, (k, v)| {
                match (
                    HeaderName::from_bytes(k.as_bytes()),
                    HeaderValue::from_str(v),
                ) {
                    (Ok(k), Ok(v)) => e.with_header(k, v),
                    _ => e,
                }
            });
            e.into_response()
        }
    }
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let admitted = gate::admit(&state, &headers, None, Group::Medium)?;
    // A WebHook needs SubscriptionWebhook; telephony-session events (the
    // only filters the sandbox has) need CallControl.
    admitted.require(Permission::SubscriptionWebhook)?;
    admitted.require(Permission::CallControl)?;
    let Admitted {
        owner,
        rate_headers,
        ..
    } = admitted;
    Ok(respond(
        rate_headers,
        create_inner(&state, owner, &body).await.map(Some),
    ))
}

async fn create_inner(
    state: &AppState,
    owner: TokenOwner,
    body: &Bytes,
) -> Result<Value, ApiError> {
    let cfg = &state.config().subscriptions;
    let req = parse_body(body)?;
    let filters = parse_filters(state, &owner, req.get("eventFilters"))?;
    let mode = req
        .get("deliveryMode")
        .filter(|m| m.is_object())
        .ok_or_else(|| ApiError::invalid_parameter("deliveryMode", ""))?;
    let transport = mode
        .get("transportType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if transport != "WebHook" {
        return Err(ApiError::invalid_parameter(
            "deliveryMode.transportType",
            transport,
        ));
    }
    let address = parse_address(mode)?;
    if cfg.require_https && !address.starts_with("https:") {
        return Err(sub_error(
            StatusCode::BAD_REQUEST,
            "SUB-523",
            "HTTPS is required",
        ));
    }
    let verification_token = match mode.get("verificationToken") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(t.clone()),
        Some(other) => {
            return Err(ApiError::invalid_parameter(
                "deliveryMode.verificationToken",
                &other.to_string(),
            ));
        }
    };
    let lifetime_secs = parse_expires_in(state, req.get("expiresIn"))?;
    let limit_error = || {
        sub_error(
            StatusCode::FORBIDDEN,
            "SUB-505",
            "Subscriptions limit exceeded",
        )
    };
    if state
        .subscriptions()
        .live_count(&owner, state.clock().now())
        >= cfg.max_per_owner
    {
        return Err(limit_error());
    }
    handshake::validate(
        state.subscriptions().client(&cfg.extra_root_certificates),
        &address,
        StdDuration::from_millis(cfg.webhook_timeout_ms),
        cfg.max_validation_response_bytes,
    )
    .await
    .map_err(|e| {
        tracing::info!(error = %e, "webhook validation failed");
        e.to_api_error()
    })?;
    let new = NewSubscription {
        owner,
        filters,
        address,
        verification_token,
        lifetime_secs,
    };
    state
        .subscriptions()
        .insert(state, new, cfg.max_per_owner)
        .ok_or_else(limit_error)
}

async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let Admitted {
        owner,
        rate_headers,
        ..
    } = gate::admit(&state, &headers, None, Group::Light)?;
    let now = state.clock().now();
    let base = &state.urls().platform;
    let records: Vec<Value> = state
        .subscriptions()
        .lock()
        .iter()
        .filter(|r| r.owner == owner && !r.expired(now))
        .map(|r| r.info(base, now))
        .collect();
    let body = json!({"uri": format!("{base}/restapi/v1.0/subscription"), "records": records});
    Ok(respond(rate_headers, Ok(Some(body))))
}

/// Applies `f` to the caller's subscription `id` and renders it.
fn with_record(
    state: &AppState,
    owner: &TokenOwner,
    id: &str,
    f: impl FnOnce(&mut super::registry::Record),
) -> Result<Option<Value>, ApiError> {
    let now = state.clock().now();
    let mut records = state.subscriptions().lock();
    let r = records
        .iter_mut()
        .find(|r| r.id == id && &r.owner == owner)
        .ok_or_else(|| ApiError::not_found("subscriptionId", id))?;
    if r.expired(now) {
        return Err(expired_error());
    }
    f(r);
    Ok(Some(r.info(&state.urls().platform, now)))
}

async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let Admitted {
        owner,
        rate_headers,
        ..
    } = gate::admit(&state, &headers, None, Group::Light)?;
    Ok(respond(
        rate_headers,
        with_record(&state, &owner, &id, |_| {}),
    ))
}

async fn renew(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let Admitted {
        owner,
        rate_headers,
        ..
    } = gate::admit(&state, &headers, None, Group::Light)?;
    let now = state.clock().now();
    let outcome = with_record(&state, &owner, &id, |r| {
        r.expiration_time = now + Duration::seconds(r.lifetime_secs);
    });
    Ok(respond(rate_headers, outcome))
}

async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Admitted {
        owner,
        rate_headers,
        ..
    } = gate::admit(&state, &headers, None, Group::Medium)?;
    Ok(respond(
        rate_headers,
        update_inner(&state, &owner, &id, &body),
    ))
}

fn update_inner(
    state: &AppState,
    owner: &TokenOwner,
    id: &str,
    body: &Bytes,
) -> Result<Option<Value>, ApiError> {
    let now = state.clock().now();
    let (filters, lifetime) = if body.iter().all(u8::is_ascii_whitespace) {
        (None, state.config().subscriptions.default_expires_in)
    } else {
        let req = parse_body(body)?;
        let filters = parse_filters(state, owner, req.get("eventFilters"))?;
        (
            Some(filters),
            parse_expires_in(state, req.get("expiresIn"))?,
        )
    };
    with_record(state, owner, id, |r| {
        if let Some(f) = filters {
            r.filters = f;
        }
        r.lifetime_secs = lifetime;
        r.expiration_time = now + Duration::seconds(lifetime);
    })
}

async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let Admitted {
        owner,
        rate_headers,
        ..
    } = gate::admit(&state, &headers, None, Group::Medium)?;
    let removed = {
        let mut records = state.subscriptions().lock();
        let before = records.len();
        records.retain(|r| !(r.id == id && r.owner == owner));
        before != records.len()
    };
    let outcome = if removed {
        Ok(None)
    } else {
        Err(ApiError::not_found("subscriptionId", &id))
    };
    Ok(respond(rate_headers, outcome))
}
