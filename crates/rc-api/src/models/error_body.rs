//! Error bodies: the standard `{"errors":[…]}` shape, the real
//! responses' extra top-level `errorCode`/`message`, and the OAuth endpoint's
//! RFC 6749 `error`/`error_description`.

/// Any error body RingCentral sends. Every field is optional so that an
/// unexpected shape still parses.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiErrorBody {
    /// Top-level category code (`InsufficientPermissions`, `TokenInvalid`, `CMN-301`…).
    #[serde(default)]
    pub error_code: Option<String>,
    /// Top-level message.
    #[serde(default)]
    pub message: Option<String>,
    /// The specific errors; `errors[0].errorCode` is the code to branch on.
    #[serde(default)]
    pub errors: Vec<ApiErrorItem>,
    /// Missing permission on 403s.
    #[serde(default)]
    pub permission_name: Option<String>,
    /// OAuth endpoint: RFC 6749 error (`invalid_grant`, `invalid_client`…).
    #[serde(default)]
    pub error: Option<String>,
    /// OAuth endpoint: human description.
    #[serde(default, rename = "error_description")]
    pub error_description: Option<String>,
}

/// One entry of `errors[]`.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiErrorItem {
    /// Specific code, e.g. `CMN-102`, `OAU-213`.
    #[serde(default)]
    pub error_code: Option<String>,
    /// Message (do not branch on it).
    #[serde(default)]
    pub message: Option<String>,
    /// Offending parameter (400s).
    #[serde(default)]
    pub parameter_name: Option<String>,
    /// Its value.
    #[serde(default)]
    pub parameter_value: Option<String>,
    /// Missing permission (403s).
    #[serde(default)]
    pub permission_name: Option<String>,
}

impl ApiErrorBody {
    /// The most specific code present: `errors[0].errorCode`, else the
    /// top-level `errorCode`, else the OAuth `error`.
    pub fn code(&self) -> Option<&str> {
        self.errors
            .iter()
            .find_map(|e| e.error_code.as_deref())
            .or(self.error_code.as_deref())
            .or(self.error.as_deref())
    }

    /// True if any error names `parameter` (as `parameterName` or in its message).
    pub fn mentions_parameter(&self, parameter: &str) -> bool {
        let bracketed = format!("[{parameter}]");
        self.errors.iter().any(|e| {
            e.parameter_name.as_deref() == Some(parameter)
                || e.message.as_deref().is_some_and(|m| m.contains(&bracketed))
        }) || self
            .message
            .as_deref()
            .is_some_and(|m| m.contains(&bracketed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_is_found_by_name_or_in_brackets_in_the_message() {
        let by_name: ApiErrorBody = serde_json::from_str(
            r#"{"errors":[{"errorCode":"CMN-101","message":"x","parameterName":"perPage"}]}"#,
        )
        .unwrap();
        assert!(by_name.mentions_parameter("perPage"));
        let by_text: ApiErrorBody = serde_json::from_str(
            r#"{"errors":[{"errorCode":"CMN-101","message":"Parameter [view] value is invalid."}]}"#,
        )
        .unwrap();
        assert!(by_text.mentions_parameter("view"));
        assert!(!by_text.mentions_parameter("perPage"));
        assert_eq!(by_text.code(), Some("CMN-101"));
    }
}
