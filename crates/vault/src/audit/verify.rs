//! Reading the chain back page by page, sealing it with signed
//! checkpoints, and verifying it end to end.

use super::*;

impl Catalog {
    /// Up to 1000 entries after `after_seq`, in chain order: read the whole
    /// chain page by page with bounded memory.
    pub async fn audit_chain_page(&self, after_seq: i64) -> Result<Vec<ChainEntry>, CatalogError> {
        let rows: Vec<EntryRow> = sqlx::query_as(
                "SELECT seq, at, actor, action, subject_kind, subject_id, canonical, prev_hash, event_hash
                 FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2")
                .bind(after_seq)
                .bind(CHAIN_PAGE)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(EntryRow::into_chain_entry).collect())
    }

    /// Every entry about any of `subjects` (kind, id), in chain order.
    pub async fn audit_entries_about(
        &self,
        subjects: &[(SubjectKind, String)],
    ) -> Result<Vec<ChainEntry>, CatalogError> {
        let mut out = Vec::new();
        for (kind, id) in subjects {
            let rows: Vec<EntryRow> = sqlx::query_as(
                    "SELECT seq, at, actor, action, subject_kind, subject_id, canonical, prev_hash, event_hash
                     FROM audit_events WHERE subject_kind = $1 AND subject_id = $2 ORDER BY seq")
                    .bind(kind.as_str())
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await?;
            out.extend(rows.into_iter().map(EntryRow::into_chain_entry));
        }
        out.sort_by_key(|e| e.seq);
        out.dedup_by_key(|e| e.seq);
        Ok(out)
    }

    /// Every checkpoint, in order.
    pub async fn audit_checkpoints(&self) -> Result<Vec<ChainCheckpoint>, CatalogError> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT payload, signature, public_key FROM audit_checkpoints ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(payload, signature, public_key)| ChainCheckpoint {
                payload,
                signature,
                public_key,
            })
            .collect())
    }

    /// Signs the chain's head with `signer` unless the last checkpoint
    /// already covers it. Returns the new checkpoint, if one was written.
    /// Serialised with appends, so the head it signs is the head.
    pub async fn checkpoint_audit(
        &self,
        signer: &AuditSigner,
    ) -> Result<Option<CheckpointPayload>, CatalogError> {
        let mut tx = self.begin_write().await?;
        tx.serialise_with_audit().await?;
        let head: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, event_hash FROM audit_events ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
        let last: Option<(i64, i64, String)> = sqlx::query_as(
            "SELECT seq, count, payload FROM audit_checkpoints ORDER BY seq DESC LIMIT 1",
        )
        .fetch_optional(&mut *tx)
        .await?;
        let (count, head_hash) = head.unwrap_or((0, GENESIS_HASH.to_owned()));
        if last.as_ref().is_some_and(|(_, signed, _)| *signed == count) {
            return Ok(None);
        }
        let at: i64 = sqlx::query_scalar(self.sql("SELECT {now}"))
            .fetch_one(&mut *tx)
            .await?;
        let (prev_seq, prev_checkpoint_hash) = last
            .map_or((0, GENESIS_HASH.to_owned()), |(seq, _, payload)| {
                (seq, checkpoint_hash(&payload))
            });
        let payload = CheckpointPayload {
            seq: prev_seq + 1,
            at: chain::canonical_time(from_ms("audit_checkpoints", at)?),
            count,
            head_hash,
            prev_checkpoint_hash,
        };
        let text = serde_json::to_string(&payload)?;
        sqlx::query(
            "INSERT INTO audit_checkpoints
                 (seq, at, count, head_hash, prev_checkpoint_hash, payload, signature, public_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(payload.seq)
        .bind(at)
        .bind(payload.count)
        .bind(&payload.head_hash)
        .bind(&payload.prev_checkpoint_hash)
        .bind(&text)
        .bind(signer.sign_hex(text.as_bytes()))
        .bind(signer.public_key().to_hex())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(payload))
    }

    /// Recomputes the whole chain and checks every checkpoint with `key`.
    pub async fn verify_audit(&self, key: &AuditPublicKey) -> Result<ChainReport, CatalogError> {
        let mut verifier = ChainVerifier::new(key, &self.audit_checkpoints().await?);
        let mut after = 0;
        loop {
            let page = self.audit_chain_page(after).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for entry in &page {
                verifier.entry(entry);
            }
            if verifier.found_entry_fault() {
                break;
            }
        }
        Ok(verifier.finish())
    }
}
