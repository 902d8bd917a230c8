//! RingCentral's error bodies, built from our own types.
//!
//! Standard body: `{"errorCode": <category>, "message", "errors": [{"errorCode": "ABC-123", "message", ...}]}`
//! (API.md §5). OAuth errors add the RFC 6749 `error` / `error_description`.

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
