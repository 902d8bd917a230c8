//! RingCentral's error bodies, built from our own types.
//!
//! Standard body: `{"errorCode": <category>, "message", "errors": [{"errorCode": "ABC-123", "message", ...}]}`
//!. OAuth errors add the RFC 6749 `error` / `error_description`.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error response the sandbox sends, with RingCentral's status, body and headers.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// JSON body.
    pub body: Value,
    /// Extra headers (e.g. `Retry-After`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    /// A standard error with one `errors[]` item.
    pub fn new(status: StatusCode, category: &str, code: &str, message: &str) -> ApiError {
        ApiError {
            status,
            body: json!({
                "errorCode": category,
                "message": message,
                "errors": [{"errorCode": code, "message": message}],
            }),
            headers: Vec::new(),
        }
    }

    /// Adds a header to the response.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> ApiError {
        self.headers.push((name, value));
        self
    }

    /// 400 CMN-101 "Parameter [name] value is invalid." with `parameterName`/`parameterValue`.
    pub fn invalid_parameter(name: &str, value: &str) -> ApiError {
        let message = format!("Parameter [{name}] value is invalid.");
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: json!({
                "errorCode": "CMN-101",
                "message": message,
                "errors": [{"errorCode": "CMN-101", "message": message, "parameterName": name, "parameterValue": value}],
                "parameterName": name,
            }),
            headers: Vec::new(),
        }
    }

    /// 404 CMN-102 "Resource for parameter [name] is not found".
    pub fn not_found(parameter: &str, value: &str) -> ApiError {
        let message = format!("Resource for parameter [{parameter}] is not found");
        ApiError {
            status: StatusCode::NOT_FOUND,
            body: json!({
                "errorCode": "CMN-102",
                "message": message,
                "errors": [{"errorCode": "CMN-102", "message": message, "parameterName": parameter, "parameterValue": value}],
            }),
            headers: Vec::new(),
        }
    }

    /// 404 CMN-120 "Invalid URI" for routes the platform does not have.
    pub fn invalid_uri() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "CMN-120", "CMN-120", "Invalid URI")
    }

    /// 503 CMN-201 "Service Temporary Unavailable".
    pub fn unavailable() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "CMN-201",
            "CMN-201",
            "Service Temporary Unavailable",
        )
    }

    /// 401 with the top-level `TokenInvalid` category and one `errors[]`
    /// item: OAU-128 (expired), OAU-149 (invalid), OAU-213 (not found /
    /// revoked / superseded), OAU-151 (wrong scheme).
    pub fn token_invalid(code: &str, message: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "TokenInvalid", code, message)
    }

    /// 401 when no credentials were sent at all. The live platform answers
    /// with a top-level code only (third-party probe 2026-09):
    /// `{"errorCode":"AGW-401","message":"Authorization header is not specified"}`.
    pub fn missing_authorization() -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            body: json!({
                "errorCode": "AGW-401",
                "message": "Authorization header is not specified",
            }),
            headers: Vec::new(),
        }
    }

    /// An error of the token endpoint: RFC 6749 `error` / `error_description`
    /// plus RingCentral's `errors[]`.
    pub fn oauth(status: StatusCode, error: &str, code: &str, message: &str) -> ApiError {
        ApiError {
            status,
            body: json!({
                "error": error,
                "error_description": message,
                "errors": [{"errorCode": code, "message": message}],
            }),
            headers: Vec::new(),
        }
    }

    /// 429 CMN-301 "Request rate exceeded", body exactly as
    /// quoted by RingCentral staff; the caller adds `Retry-After` and the
    /// `X-Rate-Limit-*` headers.
    pub fn rate_exceeded() -> ApiError {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "CMN-301",
            "CMN-301",
            "Request rate exceeded",
        )
    }

    /// 416 CMN-107 "Requested Range Not Satisfiable" with
    /// `Content-Range: bytes */<len>`.
    pub fn range_not_satisfiable(len: u64) -> ApiError {
        let e = ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "CMN-107",
            "CMN-107",
            "Requested Range Not Satisfiable",
        );
        match HeaderValue::from_str(&format!("bytes */{len}")) {
            Ok(v) => e.with_header(axum::http::header::CONTENT_RANGE, v),
            Err(_) => e,
        }
    }

    /// 400 CLG-110: `sessionId` combined with a parameter it excludes.
    pub fn session_id_conflict(other: &str) -> ApiError {
        let message = format!(
            "Parameter [sessionId] is not allowed for usage along with parameter [{other}]"
        );
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: json!({
                "errorCode": "CLG-110",
                "message": message,
                "errors": [{"errorCode": "CLG-110", "message": message, "parameterName": "sessionId"}],
                "parameterName": "sessionId",
            }),
            headers: Vec::new(),
        }
    }

    /// 500 CMN-203 "Internal Server Error".
    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "CMN-203",
            "CMN-203",
            "Internal Server Error",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut headers = HeaderMap::new();
        for (k, v) in self.headers {
            headers.append(k, v);
        }
        (self.status, headers, axum::Json(self.body)).into_response()
    }
}
