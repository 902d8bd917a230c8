//! `POST /export` (admins, CSRF-checked by [`CsrfForm`]): an eDiscovery bundle of the
//! conversations a calls-page query selects, streamed as the response while
//! it is written ([`crate::ediscovery`]). The form sits on the audit page.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::ediscovery::{ExportRequest, export_bundle, filter_of};
use crate::web::auth::{AdminUser, ClientAddr, CsrfForm};
use crate::web::error::AppError;
use crate::web::routes::calls::CallsQuery;
use crate::web::state::AppState;

/// Chunks buffered between the bundle writer and the response.
const IN_FLIGHT: usize = 8;

/// The export form: a matter and the calls page's filters.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ExportForm {
    matter: String,
    q: String,
    from: String,
    to: String,
    extension: String,
    party: String,
    direction: String,
    state: String,
}

/// A file name for the bundle: the matter's letters, digits, `-` and `_`.
fn file_name(matter: &str) -> String {
    let safe: String = matter
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    format!("callvault-export-{safe}.zip")
}

/// `POST /export`.
pub async fn export(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    client: ClientAddr,
    CsrfForm(form): CsrfForm<ExportForm>,
) -> Result<Response, AppError> {
    let matter = form.matter.trim().to_owned();
    if matter.is_empty() || matter.len() > 200 || matter.chars().any(char::is_control) {
        return Err(AppError::BadRequest(
            "the matter name must be 1–200 printable characters".into(),
        ));
    }
    let query = CallsQuery {
        q: form.q,
        from: form.from,
        to: form.to,
        extension: form.extension,
        party: form.party,
        direction: form.direction,
        state: form.state,
        page: None,
        ..CallsQuery::default()
    };
    filter_of(&query).map_err(|notes| AppError::BadRequest(notes.join(" ")))?;
    let signer = state.audit_signer.clone().ok_or_else(|| {
        AppError::BadRequest(
            "no audit key is configured (serve --audit-key), so bundles cannot be signed".into(),
        )
    })?;
    let request = ExportRequest {
        matter: matter.clone(),
        query,
        actor: session.user.name.clone(),
        client: Some(client.ip_text()),
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(IN_FLIGHT);
    let failed = tx.clone();
    tokio::spawn(async move {
        match export_bundle(&state.catalog, &state.blobs, &signer, &request, tx).await {
            Ok(s) => {
                tracing::info!(user = %request.actor, matter = %request.matter, conversations = s.conversations, bytes = s.bytes, "eDiscovery export")
            }
            Err(e) => {
                tracing::error!(user = %request.actor, matter = %request.matter, error = format!("{e:#}"), "eDiscovery export failed");
                // Cuts the response short, so the client sees a failed download.
                let _ = failed
                    .send(Err(std::io::Error::other("export failed")))
                    .await;
            }
        }
    });
    let body = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", file_name(&matter)),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Body::from_stream(body),
    )
        .into_response())
}
