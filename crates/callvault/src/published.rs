//! Values one process publishes into a catalog setting, as JSON, for every
//! other process to read: the rate-limit snapshot ([`crate::rate_snapshot`])
//! and the capacity report ([`crate::capacity`]). Both are measured where
//! RingCentral is called and shown where the web server runs, and the
//! catalog is all those processes share.

use serde::Serialize;
use vault::Catalog;

/// Stores `value` as JSON under `setting`. A failure is logged, not
/// returned: what is published is for display, and a missed update only
/// makes it one update older, so it is not worth stopping the publisher.
pub async fn publish<T: Serialize>(catalog: &Catalog, setting: &str, value: &T) {
    let stored = match serde_json::to_string(value) {
        Ok(json) => catalog
            .set_setting(setting, &json)
            .await
            .map_err(anyhow::Error::from),
        Err(e) => Err(e.into()),
    };
    if let Err(e) = stored {
        tracing::warn!(setting, error = %format!("{e:#}"), "publishing a shared value failed");
    }
}
