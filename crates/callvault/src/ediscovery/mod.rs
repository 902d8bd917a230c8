// Long because the bundle is written in one pass, from the selection to the signature, which reads best in one place.
//! eDiscovery export: the conversations a calls-page query selects, as one
//! signed zip a third party can check with the public key alone.
//!
//! # Bundle layout (`callvault-bundle-v1`)
//! * `conversations/<id>/stitched.<ext>`: the stitched file, when there is one;
//! * `conversations/<id>/legs/<recording id>.<ext>`: each leg's recording;
//! * `conversations/<id>/metadata.json`: the conversation, its call records
//!   and recordings (states, hashes, storage keys);
//! * `conversations/<id>/chapters.vtt` and `stitch-manifest.json`: the legs'
//!   chapters in the stitched file, when stitched;
//! * `metadata.csv`: one row per file (stitched or leg) with its call's
//!   parties, times, sha256 and path in the bundle;
//! * `audit.jsonl`: every audit-trail entry about those conversations and
//!   recordings (`seq`, `canonical`, `prev_hash`, `event_hash`, each
//!   recomputable), then the latest signed checkpoint;
//! * `custody.json`: the chain of custody: who exported, when, the matter,
//!   the query, the counts, the signing public key;
//! * `manifest.jsonl`: one `{"path","size","sha256"}` line per file above;
//! * `manifest.sig`: the Ed25519 signature (hex) over the text
//!   `callvault-bundle-v1 manifest sha256:<hex of sha256(manifest.jsonl)>`.
//!
//! # Memory
//! Blobs are streamed in chunks into a zip written as a stream
//! ([`zipstream`]); the CSV, audit lines and manifest are spooled to
//! temporary files and copied in at the end. Memory does not grow with the
//! bundle; only the list of conversation ids (bytes each) is held.

pub mod verify;
pub mod zipstream;

use std::io::Write;

use anyhow::Context;
use bytes::Bytes;
use futures::StreamExt;
use serde::Serialize;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use vault::audit::{AuditAction, AuditEvent, AuditSigner, SubjectKind};
use vault::search::{ConversationFilter, Scope};
use vault::{BlobStore, Catalog, Conversation, ConversationId, Recording, StorageKey};

use crate::web::routes::calls::CallsQuery;
use zipstream::{WrittenFile, ZipStream};

/// The format name in `custody.json` and the signed text.
pub const BUNDLE_FORMAT: &str = "callvault-bundle-v1";

/// Conversations fetched per search page.
const SEARCH_PAGE: u32 = 200;

/// Blob chunk size when copying spooled files.
const CHUNK: usize = 64 * 1024;

/// What to export, and for whom.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// The matter (case) name, recorded in the custody record and the trail.
    pub matter: String,
    /// The calls-page query that selects the conversations.
    pub query: CallsQuery,
    /// Who exports (a user name or `cli:<user>`).
    pub actor: String,
    /// Where the request came from (a client address), if known.
    pub client: Option<String>,
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    /// Conversations exported.
    pub conversations: u64,
    /// Files in the bundle (manifest and signature excluded).
    pub files: u64,
    /// Bytes of the zip.
    pub bytes: u64,
    /// sha256 of `manifest.jsonl`.
    pub manifest_sha256: String,
    /// Stored files whose bytes no longer match the catalog's sha256.
    pub integrity_problems: Vec<String>,
    /// The audit entry recording the export.
    pub audit_seq: i64,
}

/// The signed text for a manifest digest.
pub fn signed_text(manifest_sha256: &str) -> String {
    format!("{BUNDLE_FORMAT} manifest sha256:{manifest_sha256}")
}

/// The calls-page filter of `query`, or the notes on what is unusable in it.
pub fn filter_of(query: &CallsQuery) -> Result<ConversationFilter, Vec<String>> {
    let mut notes = Vec::new();
    let filter = crate::web::routes::calls::to_filter(query, &mut notes);
    if notes.is_empty() {
        Ok(filter)
    } else {
        Err(notes)
    }
}

/// Every conversation `filter` selects (the page fields are ignored).
async fn select(
    catalog: &Catalog,
    filter: &ConversationFilter,
) -> anyhow::Result<Vec<ConversationId>> {
    let mut ids = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut offset = 0;
    loop {
        let page = catalog
            .search_conversations(
                Scope::All,
                &ConversationFilter {
                    limit: SEARCH_PAGE,
                    offset,
                    ..filter.clone()
                },
            )
            .await?;
        let n = page.len();
        for c in page {
            if seen.insert(c.id.clone()) {
                ids.push(c.id);
            }
        }
        if n < SEARCH_PAGE as usize {
            return Ok(ids);
        }
        offset += u64::from(SEARCH_PAGE);
    }
}

/// Files spooled to disk while the conversations stream by.
struct Spools {
    _dir: tempfile::TempDir,
    csv: csv::Writer<std::fs::File>,
    audit: std::io::BufWriter<std::fs::File>,
    manifest: std::io::BufWriter<std::fs::File>,
    paths: [std::path::PathBuf; 3],
}

impl Spools {
    fn new() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("creating a spool folder")?;
        let paths = ["metadata.csv", "audit.jsonl", "manifest.jsonl"].map(|n| dir.path().join(n));
        let create = |p: &std::path::Path| {
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))
        };
        Ok(Spools {
            csv: csv::Writer::from_writer(create(&paths[0])?),
            audit: std::io::BufWriter::new(create(&paths[1])?),
            manifest: std::io::BufWriter::new(create(&paths[2])?),
            paths,
            _dir: dir,
        })
    }

    fn record(&mut self, file: &WrittenFile) -> anyhow::Result<()> {
        serde_json::to_writer(&mut self.manifest, file)?;
        self.manifest.write_all(b"\n")?;
        Ok(())
    }
}

/// One row of `metadata.csv`.
#[derive(Debug, Serialize)]
struct CsvRow<'a> {
    kind: &'a str,
    conversation_id: &'a str,
    recording_id: &'a str,
    telephony_session_id: &'a str,
    call_record_id: &'a str,
    started_at: String,
    ended_at: String,
    direction: &'a str,
    from_number: &'a str,
    from_name: &'a str,
    to_number: &'a str,
    to_name: &'a str,
    extension_id: &'a str,
    content_type: &'a str,
    size: u64,
    sha256: &'a str,
    catalog_sha256: &'a str,
    path: &'a str,
}

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn extension_of(key: &StorageKey) -> &str {
    key.as_str()
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| {
            !ext.is_empty() && ext.len() <= 8 && ext.bytes().all(|b| b.is_ascii_alphanumeric())
        })
        .unwrap_or("bin")
}

/// Writes the bundle for `request` into `out`, chunk by chunk, and puts the
/// export on the audit trail. The receiver decides where the bytes go (a
/// file, an HTTP response).
pub async fn export_bundle(
    catalog: &Catalog,
    blobs: &BlobStore,
    signer: &AuditSigner,
    request: &ExportRequest,
    out: mpsc::Sender<std::io::Result<Bytes>>,
) -> anyhow::Result<ExportSummary> {
    let filter = filter_of(&request.query).map_err(|notes| anyhow::anyhow!(notes.join(" ")))?;
    let ids = select(catalog, &filter).await?;
    let exported_at = catalog.now().await?;
    let mut zip = ZipStream::new(out);
    let mut spools = Spools::new()?;
    let mut files = 0u64;
    let mut problems = Vec::new();
    for id in &ids {
        let Some(conversation) = catalog.conversation(id).await? else {
            continue;
        };
        files += export_conversation(
            catalog,
            blobs,
            &conversation,
            &mut zip,
            &mut spools,
            &mut problems,
        )
        .await?;
    }
    if let Some(last) = catalog.audit_checkpoints().await?.pop() {
        serde_json::to_writer(
            &mut spools.audit,
            &serde_json::json!({ "checkpoint": last }),
        )?;
        spools.audit.write_all(b"\n")?;
    }
    spools.csv.flush()?;
    spools.audit.flush()?;
    let paths = spools.paths.clone();
    for (name, path) in [("metadata.csv", &paths[0]), ("audit.jsonl", &paths[1])] {
        let written = copy_file(&mut zip, name, path).await?;
        spools.record(&written)?;
        files += 1;
    }
    let custody = serde_json::json!({
        "format": BUNDLE_FORMAT,
        "matter": request.matter,
        "exported_by": request.actor,
        "client": request.client,
        "exported_at": time(Some(exported_at)),
        "query": request.query,
        "conversations": ids.len(),
        "files": files,
        "integrity_problems": problems,
        "public_key": signer.public_key().to_hex(),
        "tool": concat!("callvault ", env!("CARGO_PKG_VERSION")),
    });
    let written = zip
        .add("custody.json", &serde_json::to_vec_pretty(&custody)?)
        .await?;
    spools.record(&written)?;
    files += 1;
    spools.manifest.flush()?;
    let manifest = copy_file(&mut zip, "manifest.jsonl", &paths[2]).await?;
    let signature = signer.sign_hex(signed_text(&manifest.sha256).as_bytes());
    zip.add("manifest.sig", format!("{signature}\n").as_bytes())
        .await?;
    let bytes = zip.finish().await?;
    let audit_seq = catalog
        .append_audit_event(&AuditEvent {
            actor: request.actor.clone(),
            action: AuditAction::Export,
            subject_kind: SubjectKind::Export,
            subject_id: request.matter.clone(),
            details: serde_json::json!({
                "client": request.client,
                "query": request.query,
                "conversations": ids.len(),
                "files": files,
                "bytes": bytes,
                "manifest_sha256": manifest.sha256,
            }),
        })
        .await?;
    Ok(ExportSummary {
        conversations: ids.len() as u64,
        files,
        bytes,
        manifest_sha256: manifest.sha256,
        integrity_problems: problems,
        audit_seq,
    })
}

/// Copies a spooled file into the zip in chunks.
async fn copy_file(
    zip: &mut ZipStream,
    name: &str,
    path: &std::path::Path,
) -> anyhow::Result<WrittenFile> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut buf = vec![0u8; CHUNK];
    zip.start(name)?;
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        zip.write(&buf[..n]).await?;
    }
    Ok(zip.finish_entry().await?)
}

/// Streams one stored blob into the zip; notes a hash that differs from
/// the catalog's, and a blob that cannot be opened (left out: the export
/// goes on, and the custody record names it).
async fn copy_blob(
    zip: &mut ZipStream,
    blobs: &BlobStore,
    key: &StorageKey,
    path: &str,
    expected: Option<&vault::Sha256Digest>,
    problems: &mut Vec<String>,
) -> anyhow::Result<Option<WrittenFile>> {
    let mut stream = match blobs.get_stream(key).await {
        Ok(stream) => stream,
        Err(e) => {
            tracing::warn!(%key, error = %e, "a stored file cannot be read; left out of the bundle");
            problems.push(format!(
                "{path}: not exported, the stored file cannot be read ({e})"
            ));
            return Ok(None);
        }
    };
    zip.start(path)?;
    while let Some(chunk) = stream.next().await {
        zip.write(&chunk.with_context(|| format!("reading {key}"))?)
            .await?;
    }
    let written = zip.finish_entry().await?;
    if let Some(expected) = expected
        && expected.to_string() != written.sha256
    {
        problems.push(format!(
            "{path}: sha256 {} differs from the catalog's {expected}",
            written.sha256
        ));
    }
    Ok(Some(written))
}

/// Writes one conversation's files, CSV rows and audit entries; returns
/// how many files.
async fn export_conversation(
    catalog: &Catalog,
    blobs: &BlobStore,
    conversation: &Conversation,
    zip: &mut ZipStream,
    spools: &mut Spools,
    problems: &mut Vec<String>,
) -> anyhow::Result<u64> {
    let id = conversation.id.as_str();
    let dir = format!("conversations/{id}");
    let records = catalog.conversation_records(&conversation.id).await?;
    let mut recordings: Vec<Recording> = Vec::new();
    for session in &conversation.sessions {
        recordings.extend(catalog.recordings_for_session(session).await?);
    }
    let mut files = 0;
    let record_of = |r: &Recording| {
        r.call_record_id
            .as_ref()
            .and_then(|cr| records.iter().find(|x| &x.id == cr))
            .or(records.first())
    };
    let row = |spools: &mut Spools,
               kind: &str,
               rec: Option<&Recording>,
               file: &WrittenFile,
               catalog_sha: String,
               content_type: &str|
     -> anyhow::Result<()> {
        let record = rec.and_then(record_of).or(records.first());
        let s = |v: Option<&String>| v.map(String::as_str).unwrap_or("").to_owned();
        let (direction, from_number, from_name, to_number, to_name, ext) = match record {
            Some(r) => (
                s(r.direction.as_ref()),
                s(r.from_number.as_ref()),
                s(r.from_name.as_ref()),
                s(r.to_number.as_ref()),
                s(r.to_name.as_ref()),
                s(r.extension_id.as_ref()),
            ),
            None => Default::default(),
        };
        spools.csv.serialize(CsvRow {
            kind,
            conversation_id: id,
            recording_id: rec.map_or("", |r| r.id.as_str()),
            telephony_session_id: rec
                .and_then(|r| r.telephony_session_id.as_ref())
                .map_or("", |t| t.as_str()),
            call_record_id: record.map_or("", |r| r.id.as_str()),
            started_at: time(
                rec.and_then(|r| r.call_start_time)
                    .or(conversation.started_at),
            ),
            ended_at: time(rec.and_then(|r| r.call_end_time).or(conversation.ended_at)),
            direction: &direction,
            from_number: &from_number,
            from_name: &from_name,
            to_number: &to_number,
            to_name: &to_name,
            extension_id: &ext,
            content_type,
            size: file.size,
            sha256: &file.sha256,
            catalog_sha256: &catalog_sha,
            path: &file.path,
        })?;
        spools.record(file)
    };
    if let Some(key) = &conversation.stitched_key {
        let path = format!("{dir}/stitched.{}", extension_of(key));
        let copied = copy_blob(
            zip,
            blobs,
            key,
            &path,
            conversation.sha256.as_ref(),
            problems,
        )
        .await?;
        if let Some(written) = copied {
            row(
                spools,
                "stitched",
                None,
                &written,
                conversation
                    .sha256
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                "",
            )?;
            files += 1;
        }
    }
    for rec in &recordings {
        let Some(key) = &rec.storage_key else {
            continue;
        };
        let path = format!("{dir}/legs/{}.{}", rec.id, extension_of(key));
        let Some(written) =
            copy_blob(zip, blobs, key, &path, rec.sha256.as_ref(), problems).await?
        else {
            continue;
        };
        row(
            spools,
            "leg",
            Some(rec),
            &written,
            rec.sha256
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            rec.content_type.as_deref().unwrap_or(""),
        )?;
        files += 1;
    }
    let metadata = serde_json::json!({
        "conversation": {
            "id": id,
            "state": conversation.state.as_str(),
            "reason": conversation.reason,
            "sessions": conversation.sessions.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            "started_at": time(conversation.started_at),
            "ended_at": time(conversation.ended_at),
            "stitched_key": conversation.stitched_key.as_ref().map(StorageKey::as_str),
            "sha256": conversation.sha256.as_ref().map(ToString::to_string),
        },
        "call_records": records.iter().map(|r| serde_json::json!({
            "id": r.id.as_str(),
            "telephony_session_id": r.telephony_session_id.as_ref().map(|t| t.as_str()),
            "start_time": time(Some(r.start_time)),
            "duration_ms": r.duration_ms,
            "direction": r.direction,
            "from_number": r.from_number,
            "from_name": r.from_name,
            "to_number": r.to_number,
            "to_name": r.to_name,
            "extension_id": r.extension_id,
        })).collect::<Vec<_>>(),
        "recordings": recordings.iter().map(|r| serde_json::json!({
            "id": r.id.as_str(),
            "call_record_id": r.call_record_id.as_ref().map(|c| c.as_str()),
            "telephony_session_id": r.telephony_session_id.as_ref().map(|t| t.as_str()),
            "state": r.state.as_str(),
            "content_type": r.content_type,
            "size": r.size,
            "sha256": r.sha256.as_ref().map(ToString::to_string),
            "storage_key": r.storage_key.as_ref().map(StorageKey::as_str),
            "call_start_time": time(r.call_start_time),
            "call_end_time": time(r.call_end_time),
            "stored_at": time(r.stored_at),
        })).collect::<Vec<_>>(),
    });
    let written = zip
        .add(
            &format!("{dir}/metadata.json"),
            &serde_json::to_vec_pretty(&metadata)?,
        )
        .await?;
    spools.record(&written)?;
    files += 1;
    if let Some(value) = &conversation.manifest {
        let written = zip
            .add(
                &format!("{dir}/stitch-manifest.json"),
                &serde_json::to_vec_pretty(value)?,
            )
            .await?;
        spools.record(&written)?;
        files += 1;
        if let Ok(manifest) = serde_json::from_value::<stitch::Manifest>(value.clone()) {
            let written = zip
                .add(&format!("{dir}/chapters.vtt"), manifest.webvtt().as_bytes())
                .await?;
            spools.record(&written)?;
            files += 1;
        }
    }
    let mut subjects = vec![(SubjectKind::Conversation, id.to_owned())];
    subjects.extend(
        recordings
            .iter()
            .map(|r| (SubjectKind::Recording, r.id.as_str().to_owned())),
    );
    for entry in catalog.audit_entries_about(&subjects).await? {
        serde_json::to_writer(&mut spools.audit, &entry)?;
        spools.audit.write_all(b"\n")?;
    }
    Ok(files)
}
