//! WORM mode: writes that lock each blob (S3 Object Lock), legal holds,
//! and the startup proof that the bucket enforces them.

use super::put::{First, Hashing, hash_stream};
use super::*;

impl BlobStore {
    /// The WORM write: see [`crate::worm`]. A blob within the first chunk
    /// is one PUT carrying its lock; a longer one is a multipart upload
    /// locked the moment it completes.
    pub(super) async fn put_worm<S, E>(
        &self,
        worm: &crate::worm::Worm,
        key: &StorageKey,
        source: S,
        until: DateTime<Utc>,
    ) -> Result<StoredBlob, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::error::Error + Send + Sync + 'static,
    {
        let path = object_path(key)?;
        if self.head(key).await?.is_some() {
            let ours = hash_stream(source).await?;
            return self.same_as_existing(key, ours).await;
        }
        let mut source = std::pin::pin!(source);
        let mut hashing = Hashing::default();
        let first = match self.fill_first(&mut source, &mut hashing).await? {
            First::Whole(bytes) => {
                let ours = hashing.finish();
                return match worm.put_locked(&path, bytes, until).await? {
                    Some(_) => Ok(ours),
                    // Written by someone else meanwhile.
                    None => self.same_as_existing(key, ours).await,
                };
            }
            First::Part(bytes) => bytes,
        };
        let put = self
            .upload_rest(key, &path, first, &mut source, &mut hashing)
            .await?;
        let version = put.version.ok_or_else(|| {
            BlobError::Worm(format!("no version id for {key}: is Object Lock on?"))
        })?;
        worm.set_retention(&path, &version, until).await?;
        Ok(hashing.finish())
    }

    /// `ours` when the blob at `key` holds exactly those bytes, else
    /// [`BlobError::Conflict`].
    pub(super) async fn same_as_existing(
        &self,
        key: &StorageKey,
        ours: StoredBlob,
    ) -> Result<StoredBlob, BlobError> {
        if self.hash(key).await? == ours {
            Ok(ours)
        } else {
            Err(BlobError::Conflict(key.to_string()))
        }
    }

    /// Turns on WORM mode: every recording and stitched file is written
    /// with an Object Lock ([`crate::worm`]). Only on S3; call
    /// [`BlobStore::check_worm`] before trusting it.
    pub fn with_worm(mut self, config: crate::worm::WormConfig) -> Result<Self, BlobError> {
        let Some(s3) = self.s3.clone() else {
            return Err(BlobError::Worm(
                "a local folder cannot be WORM; use an S3 bucket with Object Lock".into(),
            ));
        };
        self.worm = Some(crate::worm::Worm::new(s3, config)?);
        Ok(self)
    }

    /// The WORM settings, when WORM mode is on.
    pub fn worm(&self) -> Option<crate::worm::WormConfig> {
        self.worm.as_ref().map(|w| w.config)
    }

    pub(super) fn worm_client(&self) -> Result<&crate::worm::Worm, BlobError> {
        self.worm
            .as_ref()
            .ok_or_else(|| BlobError::Worm("WORM mode is off".into()))
    }

    /// Proves the bucket enforces Object Lock, so a server that accepts the
    /// headers and enforces nothing is caught at startup: `GET ?object-lock`
    /// says `Enabled`; a canary written with a one-minute GOVERNANCE lock
    /// refuses a version DELETE; the canary is then removed with the
    /// governance bypass (if that is not allowed, it expires on its own).
    pub async fn check_worm(&self) -> Result<(), BlobError> {
        let worm = self.worm_client()?;
        if !worm.bucket_lock_enabled().await? {
            return Err(BlobError::Worm(
                "the bucket does not have Object Lock enabled (GET ?object-lock)".into(),
            ));
        }
        let canary = Path::from(format!(
            "_callvault/worm-canary-{}",
            hex::encode(rand::random::<[u8; 8]>())
        ));
        let until = Utc::now() + chrono::Duration::seconds(60);
        let version = worm
            .put_locked(&canary, Bytes::from_static(b"worm canary"), until)
            .await?
            .ok_or_else(|| BlobError::Worm("the canary got no version id".into()))?;
        match worm.delete_version(&canary, &version, false).await {
            Err(BlobError::Locked { .. }) => {}
            Ok(()) => {
                return Err(BlobError::Worm(
                    "the bucket accepted an Object Lock and then deleted the locked version: locks are not enforced".into(),
                ));
            }
            Err(e) => return Err(e),
        }
        if let Err(e) = worm.delete_version(&canary, &version, true).await {
            tracing::info!(error = %e, "the WORM canary stays until its one-minute lock ends");
        }
        Ok(())
    }

    /// The Object Lock state of the blob at `key` (version id, mode,
    /// retain-until, legal hold); `None` if absent. WORM mode only.
    pub async fn lock_info(
        &self,
        key: &StorageKey,
    ) -> Result<Option<crate::worm::LockInfo>, BlobError> {
        self.worm_client()?.lock_info(&object_path(key)?).await
    }

    /// Places (`on`) or lifts the S3 legal hold on the blob at `key`, for a
    /// legal hold on its conversation. WORM mode only.
    pub async fn set_legal_hold(&self, key: &StorageKey, on: bool) -> Result<(), BlobError> {
        let worm = self.worm_client()?;
        let path = object_path(key)?;
        let version = self.current_version(worm, key, &path).await?;
        worm.set_legal_hold(&path, &version, on).await
    }

    pub(super) async fn current_version(
        &self,
        worm: &crate::worm::Worm,
        key: &StorageKey,
        path: &Path,
    ) -> Result<String, BlobError> {
        worm.lock_info(path)
            .await?
            .ok_or_else(|| BlobError::NotFound(key.to_string()))?
            .version_id
            .ok_or_else(|| BlobError::Worm(format!("{key} has no version id")))
    }
}
