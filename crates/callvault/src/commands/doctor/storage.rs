//! The catalog and the blob store take writes.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use vault::{BlobExt, RecordingId, StorageKey, TelephonySessionId};

use super::Check;
use crate::configuration::StoreArgs;

/// Catalog setting the catalog check writes.
const PROBE_SETTING: &str = "doctor.last_check";

/// Both checks.
pub async fn checks(store: &StoreArgs) -> Vec<Check> {
    vec![catalog(store).await, blobs(store).await]
}

async fn catalog(store: &StoreArgs) -> Check {
    let name = "catalog";
    let fix = "make CALLVAULT_DATA (or CALLVAULT_DATABASE) point at a folder or database this user can write; under systemd, StateDirectory= gives one";
    let catalog = match crate::app::catalog(store).await {
        Ok(c) => c,
        Err(e) => return Check::fail(name, format!("{e:#}"), fix),
    };
    match catalog
        .set_setting(PROBE_SETTING, &Utc::now().to_rfc3339())
        .await
    {
        Ok(()) => Check::ok(name, "writable"),
        Err(e) => Check::fail(name, format!("the catalog refused a write: {e}"), fix),
    }
}

async fn blobs(store: &StoreArgs) -> Check {
    let name = "storage";
    let fix = "make CALLVAULT_STORAGE (or CALLVAULT_DATA) a folder this user can write, or an s3:// bucket its credentials may write";
    let blobs = match crate::app::blobs(store) {
        Ok(b) => b,
        Err(e) => return Check::fail(name, format!("{e:#}"), fix),
    };
    let key = match probe_key() {
        Some(k) => k,
        None => return Check::fail(name, "no probe key", "report this as a bug"),
    };
    if let Err(e) = blobs
        .put_bytes(&key, Bytes::from_static(b"callvault doctor"))
        .await
    {
        return Check::fail(
            name,
            format!("a write to {} failed: {e}", store.storage_url()),
            fix,
        );
    }
    match blobs.delete(&key).await {
        Ok(()) => Check::ok(name, format!("{} is writable", store.storage_url())),
        Err(e) => Check::fail(name, format!("the probe could not be deleted: {e}"), fix),
    }
}

/// A key no recording has: dated 1970, ids no RingCentral id looks like.
fn probe_key() -> Option<StorageKey> {
    Some(StorageKey::for_recording(
        DateTime::<Utc>::UNIX_EPOCH,
        &TelephonySessionId::parse("callvault-doctor").ok()?,
        &RecordingId::parse("probe").ok()?,
        BlobExt::Mp3,
    ))
}
