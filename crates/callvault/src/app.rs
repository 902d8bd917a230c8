//! Builds the long-lived parts every command shares — the RingCentral
//! client, the ledger and the blob store — from the configuration.
//!
//! A process opens its catalog once ([`catalog`], which migrates it) and
//! hands that one pool to everything it runs: a second pool would double the
//! connections a cluster holds and run the migrations twice.

use anyhow::Context;

use crate::configuration::{RcArgs, StoreArgs};

/// The RingCentral client for `rc`. One per process: it owns the token and
/// the rate-limit budget.
pub fn rc_client(rc: &RcArgs) -> anyhow::Result<rc_api::RcClient> {
    anyhow::ensure!(
        !rc.client_id.is_empty(),
        "RC_CLIENT_ID is not set (flag --client-id or environment)"
    );
    anyhow::ensure!(
        !rc.jwt.is_empty(),
        "RC_JWT is not set (flag --jwt or environment)"
    );
    let mut config = rc_api::Config::new(
        rc.server_url.clone(),
        rc.client_id.clone(),
        rc.client_secret.clone(),
        rc.jwt.clone(),
    );
    if let Some(media) = &rc.media_url {
        config = config.with_media_url(media.clone());
    }
    rc_api::RcClient::new(config).context("configuring the RingCentral client")
}

/// Opens the ledger: [`vault::Catalog::open`] connects one pool and runs
/// any migration not yet applied.
pub async fn catalog(store: &StoreArgs) -> anyhow::Result<vault::Catalog> {
    if store.database.is_none() {
        std::fs::create_dir_all(&store.data_dir)
            .with_context(|| format!("creating the data folder {}", store.data_dir.display()))?;
    }
    let url = store.database_url();
    vault::Catalog::open(&url)
        .await
        .context("opening the catalog")
}

/// Opens the blob store, for reading.
pub fn blobs(store: &StoreArgs) -> anyhow::Result<vault::BlobStore> {
    vault::BlobStore::open(&store.storage_url()).context("opening the blob store")
}

/// Opens the blob store for a process that writes recordings or stitched
/// files: in WORM mode, with its locks on and their enforcement proved.
pub async fn writable_blobs(store: &StoreArgs) -> anyhow::Result<vault::BlobStore> {
    crate::worm::enable(blobs(store)?, &store.worm).await
}
