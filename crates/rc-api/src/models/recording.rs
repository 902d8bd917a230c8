//! Recording metadata, `GET /restapi/v1.0/account/~/recording/{id}`.

use crate::ids::RecordingId;

/// `GetCallRecordingResponse`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingMetadata {
    /// Recording id.
    pub id: RecordingId,
    /// Content URI on the media host.
    pub content_uri: String,
    /// `audio/mpeg`, `audio/wav` (older: `audio/x-wav`).
    #[serde(default)]
    pub content_type: Option<String>,
    /// Length in seconds.
    #[serde(default)]
    pub duration: Option<u64>,
}
