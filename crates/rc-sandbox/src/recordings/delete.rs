//! `DELETE /restapi/v1.0/account/{accountId}/call-recordings`
//! (`deleteCompanyCallRecordings`, spec 2026-08): deletes recording FILES,
//! not call-log records.
//!
//! From the spec: body `{"records": [id, …]}` with 1–100 ids; rate-limit
//! group Heavy; app permission `EditCallLog`; 204 on success; errors
//! 400/403/404/500/503 with the usual bodies.
//!
//! Not in the spec, so the sandbox chooses (a guess):
//! * a batch naming any unknown or already deleted recording answers 404
//!   CMN-102 for the first such id and deletes nothing (a client bisects
//!   the batch to find it);
//! * afterwards the recording's metadata and content answer 404 CMN-102,
//!   like a recording deleted any other way; the call log still lists it.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::errors::ApiError;
use crate::gate::{self, paths};
use crate::permissions::Permission;
use crate::ratelimit::Group;
use crate::state::AppState;

pub use super::deletions::DeleteLog;

/// Most ids one request may name (`CallRecordingIds.records.maxItems`).
pub const MAX_IDS: usize = 100;

/// The `records` array of the body, checked against the schema.
fn parse_ids(body: &[u8]) -> Result<Vec<String>, ApiError> {
    let bad = |value: &str| ApiError::invalid_parameter("records", value);
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| bad(&String::from_utf8_lossy(body)))?;
    let records = v
        .get("records")
        .and_then(|r| r.as_array())
        .ok_or_else(|| bad(""))?;
    if records.is_empty() || records.len() > MAX_IDS {
        return Err(bad(&records.len().to_string()));
    }
    records
        .iter()
        .map(|r| {
            r.as_str()
                .map(str::to_owned)
                .ok_or_else(|| bad(&r.to_string()))
        })
        .collect()
}

/// The handler.
pub async fn delete_recordings(
    State(state): State<AppState>,
    Path(account_raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let run = || -> Result<Response, ApiError> {
        let admitted = gate::admit(&state, &headers, None, Group::Heavy)?;
        admitted.require(Permission::EditCallLog)?;
        let ids = parse_ids(&body)?;
        let now = state.clock().now();
        {
            let mut world = state.world_mut();
            paths::account(&world, &account_raw)?;
            // All or nothing: the first unknown id refuses the batch.
            for id in &ids {
                let known = world
                    .recording(id)
                    .is_some_and(|(conv, _, rec)| !rec.deleted && now >= conv.end);
                if !known {
                    return Err(ApiError::not_found("callRecordingId", id));
                }
            }
            for id in &ids {
                world.delete_recording(id);
            }
        }
        tracing::info!(count = ids.len(), "recordings deleted at the source");
        state.deletions().push(ids);
        Ok((StatusCode::NO_CONTENT, admitted.rate_headers, ()).into_response())
    };
    run().unwrap_or_else(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_body_must_name_one_to_a_hundred_string_ids() {
        assert_eq!(parse_ids(br#"{"records":["1","2"]}"#).unwrap(), ["1", "2"]);
        let hundred: Vec<String> = (0..100).map(|i| i.to_string()).collect();
        let body = serde_json::to_vec(&json!({ "records": hundred })).unwrap();
        assert_eq!(parse_ids(&body).unwrap().len(), 100);
        let too_many: Vec<String> = (0..101).map(|i| i.to_string()).collect();
        let body = serde_json::to_vec(&json!({ "records": too_many })).unwrap();
        for bad in [
            br#"{"records":[]}"#.as_slice(),
            br#"{"records":[1]}"#,
            br#"{"ids":["1"]}"#,
            b"not json",
            &body,
        ] {
            let e = parse_ids(bad).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
            assert_eq!(e.body["errorCode"], "CMN-101");
        }
    }
}
