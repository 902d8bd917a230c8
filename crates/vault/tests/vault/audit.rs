//! The sealed audit trail: appends form one chain even from two pools at
//! once; the triggers refuse edits; and an attacker who drops them and
//! edits, deletes, reorders or rewrites rows is named by `verify_audit`.

use sqlx::Connection;
use vault::audit::{AuditAction, AuditEvent, AuditSigner, ChainFault, SubjectKind};

use crate::helpers::{TestDb, on_both_backends};

fn event(n: usize) -> AuditEvent {
    AuditEvent {
        actor: format!("user{}", n % 3),
        action: AuditAction::Play,
        subject_kind: SubjectKind::Recording,
        subject_id: format!("40178681{n:04}"),
        details: serde_json::json!({ "client": "127.0.0.1", "n": n }),
    }
}

async fn append(db: &TestDb, range: std::ops::RangeInclusive<usize>) {
    for n in range {
        db.catalog.append_audit_event(&event(n)).await.unwrap();
    }
}

fn signer() -> (tempfile::TempDir, AuditSigner) {
    let dir = tempfile::tempdir().unwrap();
    let key = AuditSigner::generate(&dir.path().join("audit.key")).unwrap();
    (dir, key)
}

/// Runs one statement on a connection of its own, as an attacker with a
/// SQL shell would.
async fn raw(db: &TestDb, statement: &str) -> Result<(), sqlx::Error> {
    let statement = sqlx::AssertSqlSafe(statement.to_owned());
    if db.url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(&db.url).await?;
        sqlx::query(statement).execute(&mut conn).await?;
    } else {
        let mut conn = sqlx::PgConnection::connect(&db.url).await?;
        sqlx::query(statement).execute(&mut conn).await?;
    }
    Ok(())
}

async fn tamper(db: &TestDb, statements: &[&str]) {
    for s in statements {
        raw(db, s).await.unwrap();
    }
}

/// Statements that take the append-only triggers away, per backend.
fn drop_triggers(db: &TestDb) -> &'static [&'static str] {
    if db.url.starts_with("sqlite:") {
        &[
            "DROP TRIGGER audit_events_no_update",
            "DROP TRIGGER audit_events_no_delete",
        ]
    } else {
        &["ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"]
    }
}

/// Ten entries, signed, then two more not yet signed.
async fn sealed_chain(db: &TestDb) -> AuditSigner {
    let (_dir, key) = signer();
    append(db, 1..=10).await;
    assert_eq!(
        db.catalog
            .checkpoint_audit(&key)
            .await
            .unwrap()
            .unwrap()
            .count,
        10
    );
    // Nothing new: no second checkpoint.
    assert!(db.catalog.checkpoint_audit(&key).await.unwrap().is_none());
    append(db, 11..=12).await;
    let report = db.catalog.verify_audit(&key.public_key()).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!((report.entries, report.signed_entries), (12, 10));
    key
}

async fn first_fault(db: &TestDb, key: &AuditSigner) -> ChainFault {
    let report = db.catalog.verify_audit(&key.public_key()).await.unwrap();
    report
        .first_fault()
        .cloned()
        .unwrap_or_else(|| panic!("tampering went unnoticed: {report:?}"))
}

on_both_backends! {
    async fn the_triggers_refuse_updates_and_deletes(db) {
        append(db, 1..=2).await;
        let (_dir, key) = signer();
        db.catalog.checkpoint_audit(&key).await.unwrap();
        for statement in [
            "UPDATE audit_events SET actor = 'mallory' WHERE seq = 1",
            "DELETE FROM audit_events WHERE seq = 2",
            "UPDATE audit_checkpoints SET count = 1",
            "DELETE FROM audit_checkpoints",
        ] {
            let refused = raw(db, statement).await.unwrap_err();
            assert!(refused.to_string().contains("append-only"), "{statement}: {refused}");
        }
        let report = db.catalog.verify_audit(&key.public_key()).await.unwrap();
        assert!(report.is_intact(), "{report:?}");
    }

    async fn an_updated_text_names_its_entry(db) {
        let key = sealed_chain(db).await;
        let mut statements = drop_triggers(db).to_vec();
        statements.push("UPDATE audit_events SET canonical = REPLACE(canonical, '\"user1\"', '\"user2\"') WHERE seq = 4");
        tamper(db, &statements).await;
        assert!(matches!(first_fault(db, &key).await, ChainFault::Altered { seq: 4, .. }));
    }

    async fn an_updated_column_names_its_entry(db) {
        let key = sealed_chain(db).await;
        let mut statements = drop_triggers(db).to_vec();
        statements.push("UPDATE audit_events SET actor = 'nobody' WHERE seq = 7");
        tamper(db, &statements).await;
        let fault = first_fault(db, &key).await;
        assert!(matches!(fault, ChainFault::Altered { seq: 7, .. }), "{fault}");
    }

    async fn a_deleted_entry_is_named(db) {
        let key = sealed_chain(db).await;
        let mut statements = drop_triggers(db).to_vec();
        statements.push("DELETE FROM audit_events WHERE seq = 5");
        tamper(db, &statements).await;
        let fault = first_fault(db, &key).await;
        assert_eq!(fault, ChainFault::Deleted { seq: 5, next: 6 });
        assert!(fault.to_string().contains("entry 5 was deleted"), "{fault}");
    }

    async fn deleted_tail_entries_show_as_a_gap_against_the_checkpoint(db) {
        let key = sealed_chain(db).await;
        let mut statements = drop_triggers(db).to_vec();
        statements.push("DELETE FROM audit_events WHERE seq >= 9");
        tamper(db, &statements).await;
        let fault = first_fault(db, &key).await;
        assert_eq!(
            fault,
            ChainFault::DeletedTail { first_missing: 9, checkpoint_count: 10, checkpoint_seq: 1 },
        );
    }

    async fn reordered_entries_are_named(db) {
        let key = sealed_chain(db).await;
        let mut statements = drop_triggers(db).to_vec();
        statements.extend([
            "UPDATE audit_events SET seq = -1 WHERE seq = 3",
            "UPDATE audit_events SET seq = 3 WHERE seq = 6",
            "UPDATE audit_events SET seq = 6 WHERE seq = -1",
        ]);
        tamper(db, &statements).await;
        let fault = first_fault(db, &key).await;
        assert_eq!(fault, ChainFault::Reordered { seq: 3, holds: 6 });
    }

    async fn a_chain_rewritten_with_fresh_hashes_fails_its_checkpoint(db) {
        // Checkpoints at 3 and 10; the attacker rewrites entry 5 and
        // recomputes every hash after it, so the chain links up again.
        let (_dir, key) = signer();
        append(db, 1..=3).await;
        db.catalog.checkpoint_audit(&key).await.unwrap().unwrap();
        append(db, 4..=10).await;
        db.catalog.checkpoint_audit(&key).await.unwrap().unwrap();
        let mut entries = db.catalog.audit_chain_page(0).await.unwrap();
        let mut statements: Vec<String> = drop_triggers(db).iter().map(|s| s.to_string()).collect();
        let mut prev = entries[3].event_hash.clone();
        for e in entries.iter_mut().skip(4) {
            if e.seq == 5 {
                e.canonical = e.canonical.replace("\"n\":5", "\"n\":55");
            }
            let hash = vault::audit::entry_hash(&prev, &e.canonical).unwrap();
            statements.push(format!(
                "UPDATE audit_events SET canonical = '{}', prev_hash = '{prev}', event_hash = '{hash}' WHERE seq = {}",
                e.canonical, e.seq
            ));
            prev = hash;
        }
        let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
        tamper(db, &statements).await;
        let fault = first_fault(db, &key).await;
        assert_eq!(
            fault,
            ChainFault::Rewritten { after: 3, checkpoint_count: 10, checkpoint_seq: 2 },
        );
        assert!(fault.to_string().starts_with("entries 4..=10 were rewritten"), "{fault}");
    }

    async fn a_checkpoint_signed_by_another_key_is_refused(db) {
        let key = sealed_chain(db).await;
        let (_dir, other) = signer();
        append(db, 13..=13).await;
        db.catalog.checkpoint_audit(&other).await.unwrap().unwrap();
        let report = db.catalog.verify_audit(&key.public_key()).await.unwrap();
        assert!(
            matches!(report.first_fault(), Some(ChainFault::BadCheckpoint { seq: 2, .. })),
            "{report:?}"
        );
    }

    async fn concurrent_appenders_in_two_pools_keep_one_chain(db) {
        // Two catalogs on one database stand for two processes: each has
        // its own connections, so only the database's lock orders them.
        let second = vault::Catalog::open(&db.url).await.unwrap();
        let mut tasks = Vec::new();
        for (pool, catalog) in [db.catalog.clone(), second.clone()].into_iter().enumerate() {
            for task in 0..4 {
                let catalog = catalog.clone();
                tasks.push(tokio::spawn(async move {
                    for i in 0..25 {
                        catalog.append_audit_event(&event(pool * 1000 + task * 100 + i)).await.unwrap();
                    }
                }));
            }
        }
        let (_dir, key) = signer();
        // A checkpointer runs meanwhile, as `serve` would.
        for _ in 0..5 {
            db.catalog.checkpoint_audit(&key).await.unwrap();
        }
        for t in tasks {
            t.await.unwrap();
        }
        second.close().await;
        db.catalog.checkpoint_audit(&key).await.unwrap();
        let report = db.catalog.verify_audit(&key.public_key()).await.unwrap();
        assert!(report.is_intact(), "{report:?}");
        assert_eq!((report.entries, report.signed_entries), (200, 200));
    }

    async fn plays_and_downloads_of_the_old_log_are_chained_on_open(db) {
        tamper(db, &["INSERT INTO audit_log (at, user_id, user_name, action, object_kind, object_id, client) VALUES (1700000000000, 1, 'ann', 'download', 'recording', '401786818008', '10.0.0.1')"]).await;
        let reopened = vault::Catalog::open(&db.url).await.unwrap();
        let entries = reopened.audit_entries(10, 0).await.unwrap();
        reopened.close().await;
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!((entries[0].user_name.as_str(), entries[0].action.as_str()), ("ann", "download"));
        assert_eq!(entries[0].client.as_deref(), Some("10.0.0.1"));
    }
}
