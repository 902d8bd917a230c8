//! The join itself: each leg's blob to a temporary file (the joiner needs
//! `Read + Seek`), the joiner on a worker thread, and the result into the
//! blob store with its manifest (`.json`) and chapters (`.vtt`) beside it.
//! Everything temporary lives in one temporary folder that is removed
//! whatever happens; the blob store publishes each file atomically.

use std::io::{BufReader, Seek, SeekFrom};
use std::path::Path;

use anyhow::Context;
use futures::TryStreamExt;
use tokio::io::AsyncWriteExt;
use vault::{BlobExt, BlobStore, ConversationId, KeyLayout, Sha256Digest, StorageKey};

use super::StitchOptions;
use super::plan::PlannedLeg;

/// A stored stitched file.
#[derive(Debug)]
pub struct Stored {
    /// Its key.
    pub key: StorageKey,
    /// Its sha256 (as stored, checked against the joiner's).
    pub sha256: Sha256Digest,
    /// The joiner's manifest.
    pub manifest: stitch::Manifest,
}

/// A joined stitched file in its temporary folder, not stored yet: joining
/// takes seconds, storing is what a legal hold must be able to stop.
pub struct Joined {
    /// Removed with everything in it when this is dropped.
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    key: StorageKey,
    manifest: stitch::Manifest,
}

/// Joins `legs` (the stored recordings in `playable`, by leg index; every
/// other leg is listed as missing) into a temporary file, for
/// `conversation`; [`store`] stores it.
pub async fn join(
    blobs: &BlobStore,
    layout: &KeyLayout,
    conversation: &ConversationId,
    legs: &[PlannedLeg],
    playable: &[(usize, vault::Recording)],
    options: &StitchOptions,
) -> anyhow::Result<Joined> {
    let dir = tempfile::tempdir().context("making a temporary folder")?;
    let mut inputs: Vec<stitch::Leg<BufReader<std::fs::File>>> = Vec::with_capacity(legs.len());
    for (i, leg) in legs.iter().enumerate() {
        let times = (leg.start.timestamp_millis(), leg.end.timestamp_millis());
        let stored = playable
            .iter()
            .find(|(j, _)| *j == i)
            .and_then(|(_, r)| r.storage_key.as_ref());
        let input = match stored {
            Some(key) => {
                let file = fetch_to_temp(blobs, key, dir.path())
                    .await
                    .with_context(|| format!("fetching leg {} ({key})", i + 1))?;
                stitch::Leg::new(leg.manifest_id(), leg.label.clone(), BufReader::new(file))
            }
            None => stitch::Leg::missing(leg.manifest_id(), missing_label(leg)),
        };
        inputs.push(input.with_times(times.0, times.1));
    }
    let start = legs
        .iter()
        .map(|l| l.start)
        .min()
        .unwrap_or_else(chrono::Utc::now);
    let out_path = dir.path().join("stitched.out");
    let mut join = options.join.clone();
    join.durable = false; // the blob store makes it durable
    if join.title.is_none() {
        join.title = Some(format!("Conversation {conversation}"));
    }
    let joined_path = out_path.clone();
    let manifest =
        tokio::task::spawn_blocking(move || stitch::join_to_path(inputs, &joined_path, &join))
            .await
            .context("the joiner panicked")?
            .with_context(|| format!("joining the legs of conversation {conversation}"))?;

    let ext = BlobExt::for_audio_content_type(&manifest.content_type).with_context(|| {
        format!(
            "the joiner produced {:?}, which the vault does not store",
            manifest.content_type
        )
    })?;
    let key = layout.conversation(start, conversation, ext);
    Ok(Joined {
        _dir: dir,
        path: out_path,
        key,
        manifest,
    })
}

/// Stores a [`Joined`] file with its manifest (`.json`) and chapters
/// (`.vtt`) beside it, and writes the local copy `options` asks for.
pub async fn store(
    blobs: &BlobStore,
    joined: Joined,
    options: &StitchOptions,
) -> anyhow::Result<Stored> {
    let Joined {
        _dir,
        path: out_path,
        key,
        manifest,
    } = joined;
    let blob = blobs
        .put_file(&key, &out_path)
        .await
        .with_context(|| format!("storing {key}"))?;
    anyhow::ensure!(
        blob.sha256.to_hex() == manifest.output_sha256,
        "stored stitched file {key} differs from what the joiner wrote"
    );
    let manifest_json: serde_json::Value =
        serde_json::from_str(&manifest.to_json()).context("re-reading the manifest")?;
    blobs
        .put_sidecar(&key, &manifest_json)
        .await
        .context("storing the manifest")?;
    blobs
        .put_bytes(&vtt_key(&key)?, bytes::Bytes::from(manifest.webvtt()))
        .await
        .context("storing the chapters")?;
    if let Some(out) = &options.output {
        write_local(&out_path, out, &manifest).await?;
    }
    Ok(Stored {
        key,
        sha256: blob.sha256,
        manifest,
    })
}

/// The WebVTT chapters key beside a stitched file (`…/x.mp3` → `…/x.vtt`).
pub fn vtt_key(key: &StorageKey) -> anyhow::Result<StorageKey> {
    let json = StorageKey::sidecar_of(key);
    let stem = json.as_str().strip_suffix(".json").unwrap_or(json.as_str());
    StorageKey::from_stored(&format!("{stem}.vtt")).context("chapters key")
}

/// A missing leg's chapter title says why it is missing.
fn missing_label(leg: &PlannedLeg) -> String {
    let why = match (&leg.recording, leg.short_recording) {
        (_, true) => "too short to be kept",
        (Some(_), false) => "recording not available",
        (None, false) => "not recorded",
    };
    format!("{} [missing: {why}]", leg.label)
}

/// Streams a blob into an anonymous temporary file, rewound.
async fn fetch_to_temp(
    blobs: &BlobStore,
    key: &StorageKey,
    dir: &Path,
) -> anyhow::Result<std::fs::File> {
    let file = tempfile::tempfile_in(dir).context("making a temporary file")?;
    let mut file = tokio::fs::File::from_std(file);
    let mut stream = blobs.get_stream(key).await?;
    while let Some(chunk) = stream.try_next().await? {
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    let mut file = file.into_std().await;
    file.seek(SeekFrom::Start(0))?;
    Ok(file)
}

/// Copies a stored blob to a local file, atomically.
pub async fn copy_blob_to(blobs: &BlobStore, key: &StorageKey, out: &Path) -> anyhow::Result<()> {
    let dir = parent(out);
    let tmp = tempfile::NamedTempFile::new_in(dir).context("making a temporary file")?;
    let (file, tmp_path) = tmp.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut stream = blobs.get_stream(key).await?;
    while let Some(chunk) = stream.try_next().await? {
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    drop(file);
    tmp_path
        .persist(out)
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

/// `-o FILE`: the joined file, its manifest and its chapters beside it.
async fn write_local(joined: &Path, out: &Path, manifest: &stitch::Manifest) -> anyhow::Result<()> {
    let tmp = tempfile::NamedTempFile::new_in(parent(out)).context("making a temporary file")?;
    let tmp_path = tmp.into_temp_path();
    tokio::fs::copy(joined, &tmp_path)
        .await
        .with_context(|| format!("writing {}", out.display()))?;
    tmp_path
        .persist(out)
        .with_context(|| format!("writing {}", out.display()))?;
    let json = out.with_extension("json");
    let vtt = out.with_extension("vtt");
    tokio::fs::write(&json, manifest.to_json())
        .await
        .with_context(|| format!("writing {}", json.display()))?;
    tokio::fs::write(&vtt, manifest.webvtt())
        .await
        .with_context(|| format!("writing {}", vtt.display()))?;
    Ok(())
}

fn parent(p: &Path) -> &Path {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}
