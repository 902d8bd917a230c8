use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use vault::{
    ArrivedBy, BlobExt, CallRecordId, CallRecordRow, CallSearch, Catalog, ConversationId,
    ConversationState, ConversationUpsert, LegRow, NewRecording, RecordingId, RecordingState,
    Sha256Digest, Source, StorageKey, TelephonySessionId,
};

use crate::helpers::on_both_backends;

fn t(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, h, m, 0).unwrap()
}

fn rid(s: &str) -> RecordingId {
    RecordingId::parse(s).unwrap()
}

fn tsid(s: &str) -> TelephonySessionId {
    TelephonySessionId::parse(s).unwrap()
}

fn record(id: &str, start: DateTime<Utc>, ext: &str, from: &str, to: &str) -> CallRecordRow {
    CallRecordRow {
        id: CallRecordId::parse(id).unwrap(),
        telephony_session_id: Some(tsid(&format!("s-{id}"))),
        session_id: Some(format!("9{id}")),
        start_time: start,
        duration_ms: Some(30_000),
        direction: Some("Inbound".into()),
        from_number: Some(from.into()),
        from_name: Some("Caller".into()),
        to_number: Some(to.into()),
        to_name: None,
        extension_id: Some(ext.into()),
        raw: json!({"id": id, "unknownField": [1, 2, 3]}).to_string(),
        legs: vec![
            LegRow {
                index: 0,
                leg_type: Some("Accept".into()),
                telephony_session_id: Some(tsid(&format!("s-{id}"))),
                recording_id: Some(rid(&format!("r{id}"))),
                start_time: Some(start),
                duration_ms: Some(10_000),
                direction: Some("Inbound".into()),
                from_number: Some(from.into()),
                to_number: Some(to.into()),
                extension_id: Some(ext.into()),
                master: true,
            },
            LegRow {
                index: 1,
                leg_type: Some("SomethingNew".into()),
                telephony_session_id: None,
                recording_id: None,
                start_time: None,
                duration_ms: None,
                direction: None,
                from_number: None,
                to_number: None,
                extension_id: None,
                master: false,
            },
        ],
    }
}

fn listed(id: &str, session: &str, start: DateTime<Utc>) -> NewRecording {
    NewRecording {
        id: rid(id),
        call_record_id: None,
        telephony_session_id: Some(tsid(session)),
        content_uri: Some(format!("https://media.example/recording/{id}/content")),
        content_type: Some("audio/mpeg".into()),
        call_start_time: start,
        call_end_time: Some(start + Duration::seconds(30)),
    }
}

async fn reopen(url: &str) -> Catalog {
    Catalog::open(url).await.unwrap()
}

on_both_backends! {
    async fn migrations_run_twice_harmlessly(db) {
        db.catalog.migrate().await.unwrap();
        let again = reopen(&db.url).await;
        again.migrate().await.unwrap();
        again.set_watermark("w", t(1, 0)).await.unwrap();
        assert_eq!(db.catalog.watermark("w").await.unwrap(), Some(t(1, 0)));
        again.close().await;
    }

    async fn a_call_record_upsert_is_idempotent_and_remembers_every_source(db) {
        let c = &db.catalog;
        let mut r = record("1001", t(9, 0), "ext1", "+15550001", "+15550002");
        assert!(c.upsert_call_record(&r, Source::Sync).await.unwrap());
        assert!(!c.upsert_call_record(&r, Source::Sync).await.unwrap());
        let stored = c.call_record(&r.id).await.unwrap().unwrap();
        assert_eq!(stored.arrived_by, ArrivedBy::Sync);
        assert_eq!(stored.start_time, t(9, 0));
        assert_eq!(c.legs(&r.id).await.unwrap(), r.legs);
        assert_eq!(c.call_record_raw(&r.id).await.unwrap().unwrap(), serde_json::from_str::<serde_json::Value>(&r.raw).unwrap());

        r.legs.truncate(1);
        r.duration_ms = Some(31_000);
        assert!(!c.upsert_call_record(&r, Source::Webhook).await.unwrap());
        let stored = c.call_record(&r.id).await.unwrap().unwrap();
        assert_eq!(stored.arrived_by, ArrivedBy::Both);
        assert_eq!(stored.duration_ms, Some(31_000));
        assert_eq!(c.legs(&r.id).await.unwrap().len(), 1);
        let mut carried = listed("r1001", "s-1001", t(9, 0));
        carried.call_record_id = Some(r.id.clone());
        c.upsert_recording(&carried).await.unwrap();
        let recs = c.recordings_for_call_record(&r.id).await.unwrap();
        assert_eq!(recs.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), vec![rid("r1001")]);
        assert!(c.call_record(&CallRecordId::parse("nope").unwrap()).await.unwrap().is_none());
    }

    async fn a_recording_moves_through_its_states_and_never_leaves_stored(db) {
        let c = &db.catalog;
        let now = c.now().await.unwrap();
        assert!(c.upsert_recording(&listed("r1", "s-a", t(8, 0))).await.unwrap());
        assert!(!c.upsert_recording(&listed("r1", "s-a", t(8, 0))).await.unwrap());
        assert!(c.upsert_recording(&listed("r2", "s-a", t(8, 5))).await.unwrap());
        let due: Vec<_> = c.recordings_to_download(10).await.unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(due, vec![rid("r1"), rid("r2")]);

        // Not ready: hidden until its time comes, then due again.
        assert!(c.mark_recording_not_ready(&rid("r1"), now + Duration::hours(1), "404 CMN-102").await.unwrap());
        let due: Vec<_> = c.recordings_to_download(10).await.unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(due, vec![rid("r2")]);
        assert!(c.mark_recording_not_ready(&rid("r1"), now - Duration::seconds(1), "404 again").await.unwrap());
        let r1 = c.recording(&rid("r1")).await.unwrap().unwrap();
        assert_eq!((r1.state, r1.attempts), (RecordingState::NotReady, 2));
        assert_eq!(r1.last_error.as_deref(), Some("404 again"));
        assert_eq!(c.recordings_to_download(10).await.unwrap().len(), 2);

        // Stored: recorded once; later markings are refused.
        let key = StorageKey::for_recording(t(8, 0), &tsid("s-a"), &rid("r1"), BlobExt::Mp3);
        let sha = Sha256Digest::of(b"audio");
        assert!(c.mark_recording_stored(&rid("r1"), &key, &sha, 5, "audio/mpeg").await.unwrap());
        assert!(!c.mark_recording_stored(&rid("r1"), &key, &Sha256Digest::of(b"other"), 6, "audio/mpeg").await.unwrap());
        assert!(!c.mark_recording_gone(&rid("r1"), "late 404").await.unwrap());
        assert!(!c.mark_recording_failed(&rid("r1"), "late error").await.unwrap());
        assert!(!c.relist_recording(&rid("r1")).await.unwrap());
        let r1 = c.recording(&rid("r1")).await.unwrap().unwrap();
        assert_eq!(r1.state, RecordingState::Stored);
        assert_eq!((r1.size, r1.sha256, r1.storage_key), (Some(5), Some(sha), Some(key)));
        assert!(r1.stored_at.is_some() && r1.next_attempt_at.is_none());
        // A re-listing keeps the state.
        c.upsert_recording(&listed("r1", "s-a", t(8, 0))).await.unwrap();
        assert_eq!(c.recording(&rid("r1")).await.unwrap().unwrap().state, RecordingState::Stored);

        // Gone and failed, and a person's retry.
        assert!(c.mark_recording_gone(&rid("r2"), "404 CMN-102 purged").await.unwrap());
        assert!(c.recordings_to_download(10).await.unwrap().is_empty());
        assert!(c.upsert_recording(&listed("r3", "s-b", t(7, 0))).await.unwrap());
        assert!(c.mark_recording_failed(&rid("r3"), "not audio: text/html").await.unwrap());
        let counts = c.recording_counts().await.unwrap();
        assert_eq!((counts.stored, counts.gone, counts.failed, counts.listed), (1, 1, 1, 0));
        let failed = c.recordings_in_state(RecordingState::Failed, 10, 0).await.unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].last_error.as_deref(), Some("not audio: text/html"));
        assert!(c.relist_recording(&rid("r3")).await.unwrap());
        assert_eq!(c.recordings_to_download(10).await.unwrap()[0].id, rid("r3"));

        let session: Vec<_> = c.recordings_for_session(&tsid("s-a")).await.unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(session, vec![rid("r1"), rid("r2")]);
        let stored: Vec<_> = c.stored_recordings(None, 10).await.unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(stored, vec![rid("r1")]);
        assert!(c.stored_recordings(Some(&rid("r1")), 10).await.unwrap().is_empty());
    }

    async fn the_backlog_counts_listed_and_not_ready_recordings_and_dates_the_oldest(db) {
        let c = &db.catalog;
        assert_eq!(c.backlog().await.unwrap(), vault::Backlog::default());
        let before = c.now().await.unwrap();
        for (id, start) in [("b1", t(8, 0)), ("b2", t(7, 0)), ("b3", t(6, 0)), ("b4", t(5, 0)), ("b5", t(4, 0))] {
            assert!(c.upsert_recording(&listed(id, "s-b", start)).await.unwrap());
        }
        let after = c.now().await.unwrap();
        assert!(c.mark_recording_not_ready(&rid("b2"), after + Duration::hours(1), "404 CMN-102").await.unwrap());
        let key = StorageKey::for_recording(t(6, 0), &tsid("s-b"), &rid("b3"), BlobExt::Mp3);
        assert!(c.mark_recording_stored(&rid("b3"), &key, &Sha256Digest::of(b"a"), 1, "audio/mpeg").await.unwrap());
        assert!(c.mark_recording_failed(&rid("b4"), "not audio").await.unwrap());
        assert!(c.mark_recording_gone(&rid("b5"), "purged").await.unwrap());

        let backlog = c.backlog().await.unwrap();
        assert_eq!(backlog.recordings, 2, "b1 listed and b2 not ready; stored, failed and gone are not owed");
        // Dated by when the ledger first knew it, not by the call.
        let oldest = backlog.oldest_listed_at.expect("an oldest item");
        assert!(before <= oldest && oldest <= after, "{before} <= {oldest} <= {after}");
        let key = StorageKey::for_recording(t(8, 0), &tsid("s-b"), &rid("b1"), BlobExt::Mp3);
        assert!(c.mark_recording_stored(&rid("b1"), &key, &Sha256Digest::of(b"b"), 1, "audio/mpeg").await.unwrap());
        let key = StorageKey::for_recording(t(7, 0), &tsid("s-b"), &rid("b2"), BlobExt::Mp3);
        assert!(c.mark_recording_stored(&rid("b2"), &key, &Sha256Digest::of(b"c"), 1, "audio/mpeg").await.unwrap());
        assert_eq!(c.backlog().await.unwrap(), vault::Backlog::default());
    }

    async fn watermarks_are_kept_to_the_millisecond_and_only_advance_forwards(db) {
        let c = &db.catalog;
        assert_eq!(c.watermark("calllog").await.unwrap(), None);
        let at = t(10, 0) + Duration::milliseconds(123);
        assert!(c.advance_watermark("calllog", at).await.unwrap());
        assert_eq!(c.watermark("calllog").await.unwrap(), Some(at));
        assert!(!c.advance_watermark("calllog", t(9, 0)).await.unwrap());
        assert_eq!(c.watermark("calllog").await.unwrap(), Some(at));
        assert!(c.advance_watermark("calllog", t(11, 0)).await.unwrap());
        c.set_watermark("calllog", t(8, 0)).await.unwrap();
        assert_eq!(c.watermark("calllog").await.unwrap(), Some(t(8, 0)));
        assert_eq!(c.watermark("other").await.unwrap(), None);
    }

    async fn search_filters_by_time_extension_and_number_and_pages(db) {
        let c = &db.catalog;
        let rows = [
            record("1", t(8, 0), "ext1", "+15551230001", "+15559990000"),
            record("2", t(9, 0), "ext1", "+15551230002", "+15559990000"),
            record("3", t(10, 0), "ext2", "+15551230003", "+1555%_0000"),
            record("4", t(11, 0), "ext2", "+15554440004", "+15559990000"),
            record("5", t(12, 0), "ext1", "+15554440005", "+15551230009"),
        ];
        for r in &rows {
            c.upsert_call_record(r, Source::Sync).await.unwrap();
        }
        let ids = |v: Vec<vault::CallRecord>| v.into_iter().map(|r| r.id.to_string()).collect::<Vec<_>>();
        assert_eq!(ids(c.search_calls(&CallSearch::default()).await.unwrap()), ["5", "4", "3", "2", "1"]);
        let range = CallSearch { from: Some(t(9, 0)), to: Some(t(11, 0)), ..Default::default() };
        assert_eq!(ids(c.search_calls(&range).await.unwrap()), ["3", "2"]);
        let ext = CallSearch { extension_id: Some("ext2".into()), ..Default::default() };
        assert_eq!(ids(c.search_calls(&ext).await.unwrap()), ["4", "3"]);
        let number = CallSearch { number_contains: Some("5123".into()), ..Default::default() };
        assert_eq!(ids(c.search_calls(&number).await.unwrap()), ["5", "3", "2", "1"]);
        let literal = CallSearch { number_contains: Some("%_".into()), ..Default::default() };
        assert_eq!(ids(c.search_calls(&literal).await.unwrap()), ["3"]);
        let page2 = CallSearch { limit: 2, offset: 2, ..Default::default() };
        assert_eq!(ids(c.search_calls(&page2).await.unwrap()), ["3", "2"]);
    }

    async fn conversations_join_sessions_and_record_how_they_arrived(db) {
        let c = &db.catalog;
        let a = ConversationId::parse("s-a").unwrap();
        let b = ConversationId::parse("s-b").unwrap();
        let up = |id: &ConversationId, sessions: Vec<TelephonySessionId>, source| ConversationUpsert {
            id: id.clone(),
            sessions,
            initial_state: ConversationState::Live,
            started_at: Some(t(9, 0)),
            source,
        };
        assert!(c.upsert_conversation(&up(&a, vec![tsid("s-a")], Source::Webhook)).await.unwrap());
        assert!(!c.upsert_conversation(&up(&a, vec![tsid("s-a")], Source::Webhook)).await.unwrap());
        assert_eq!(c.conversation(&a).await.unwrap().unwrap().arrived_by, ArrivedBy::Webhook);
        c.upsert_conversation(&up(&a, vec![tsid("s-a")], Source::Sync)).await.unwrap();
        assert_eq!(c.conversation(&a).await.unwrap().unwrap().arrived_by, ArrivedBy::Both);

        // An attended transfer: s-b first looked like its own conversation.
        c.upsert_conversation(&up(&b, vec![tsid("s-b")], Source::Webhook)).await.unwrap();
        c.attach_session(&a, &tsid("s-b"), 1).await.unwrap();
        assert_eq!(c.conversation_for_session(&tsid("s-b")).await.unwrap(), Some(a.clone()));
        assert!(c.conversation(&b).await.unwrap().is_none(), "the emptied conversation is gone");
        assert_eq!(c.conversation(&a).await.unwrap().unwrap().sessions, vec![tsid("s-a"), tsid("s-b")]);
        // A later sync of s-b's record credits conversation a, not a new empty s-b.
        assert!(!c.upsert_conversation(&up(&b, vec![tsid("s-b")], Source::Sync)).await.unwrap());
        assert!(c.conversation(&b).await.unwrap().is_none(), "no empty conversation for an attached session");
        assert_eq!(c.conversation(&a).await.unwrap().unwrap().sessions, vec![tsid("s-a"), tsid("s-b")]);

        assert!(c.set_conversation_state(&a, ConversationState::Waiting, None, Some(t(9, 5))).await.unwrap());
        let key = StorageKey::for_conversation(t(9, 0), &a, BlobExt::Mp3);
        let manifest = json!({"legs": ["r1", "r2"], "method": "frames"});
        assert!(c.mark_conversation_stitched(&a, &key, &Sha256Digest::of(b"x"), &manifest).await.unwrap());
        let conv = c.conversation(&a).await.unwrap().unwrap();
        assert_eq!(conv.state, ConversationState::Stitched);
        assert_eq!(conv.ended_at, Some(t(9, 5)));
        assert_eq!((conv.stitched_key, conv.manifest), (Some(key), Some(manifest)));

        let lone = ConversationId::parse("s-c").unwrap();
        c.upsert_conversation(&up(&lone, vec![tsid("s-c")], Source::Sync)).await.unwrap();
        c.set_conversation_state(&lone, ConversationState::Incomplete, Some("recording never appeared"), None).await.unwrap();
        let incomplete = c.list_conversations(Some(ConversationState::Incomplete), 10, 0).await.unwrap();
        assert_eq!(incomplete.len(), 1);
        assert_eq!(incomplete[0].reason.as_deref(), Some("recording never appeared"));
        assert_eq!(c.list_conversations(None, 10, 0).await.unwrap().len(), 2);
    }
}

/// The ids of the calls page's rows for `filter`, as an admin sees them.
async fn page(c: &Catalog, filter: vault::search::ConversationFilter) -> Vec<String> {
    c.search_conversations(vault::search::Scope::All, &filter)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id.to_string())
        .collect()
}

fn party(text: &str) -> vault::search::ConversationFilter {
    vault::search::ConversationFilter {
        party: Some(text.into()),
        ..Default::default()
    }
}

/// Deletes every term index row and asks for a rebuild, as the migration
/// does on a catalog that already has conversations.
async fn forget_index(url: &str) {
    use sqlx::Connection;
    let statements = [
        "DELETE FROM conversation_terms",
        "INSERT INTO settings (name, value, updated_at) VALUES ('search_index.rebuild', 'pending', 0)",
    ];
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        for s in statements {
            sqlx::query(s).execute(&mut conn).await.unwrap();
        }
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        for s in statements {
            sqlx::query(s).execute(&mut conn).await.unwrap();
        }
    }
}

on_both_backends! {
    async fn the_search_index_follows_records_sessions_and_is_rebuilt_on_open(db) {
        let c = &db.catalog;
        let up = |id: &str, start| ConversationUpsert {
            id: ConversationId::parse(id).unwrap(),
            sessions: vec![tsid(id)],
            initial_state: ConversationState::Ended,
            started_at: Some(start),
            source: Source::Sync,
        };
        // Record first, then its conversation; and conversation first, then its record.
        c.upsert_call_record(&record("1", t(8, 0), "ext1", "+1 (415) 555-0100", "+15559990000"), Source::Sync).await.unwrap();
        c.upsert_conversation(&up("s-1", t(8, 0))).await.unwrap();
        c.upsert_conversation(&up("s-2", t(9, 0))).await.unwrap();
        let mut two = record("2", t(9, 0), "ext2", "+16505550199", "+15559990000");
        two.from_name = Some("Zoë Ann-Marie".into());
        c.upsert_call_record(&two, Source::Sync).await.unwrap();

        assert_eq!(page(c, party("0100")).await, ["s-1"]);
        assert_eq!(page(c, party("555 0100")).await, ["s-1"]);
        assert_eq!(page(c, party("14155550100")).await, ["s-1"]);
        assert_eq!(page(c, party("9990000")).await, ["s-2", "s-1"], "newest first");
        assert!(page(c, party("1415")).await.is_empty(), "leading digits do not match");
        assert_eq!(page(c, party("ZOË mar")).await, ["s-2"]);
        assert_eq!(page(c, party("caller")).await, ["s-1"]);
        assert!(page(c, party("zo")).await.is_empty(), "2 letters match whole words only");
        let ext = vault::search::ConversationFilter { extension_id: Some("ext2".into()), ..Default::default() };
        assert_eq!(page(c, ext).await, ["s-2"]);
        let text = |q: &str| vault::search::ConversationFilter { text: Some(q.into()), ..Default::default() };
        assert_eq!(page(c, text("1")).await, ["s-1"], "the call record id");
        assert_eq!(page(c, text("0199")).await, ["s-2"]);

        // A changed record drops its old terms.
        two.from_number = Some("+16505550123".into());
        two.legs[0].from_number = two.from_number.clone();
        c.upsert_call_record(&two, Source::Webhook).await.unwrap();
        assert!(page(c, party("0199")).await.is_empty());
        assert_eq!(page(c, party("0123")).await, ["s-2"]);

        // A moved session takes its terms along, under the new conversation's time.
        c.attach_session(&ConversationId::parse("s-1").unwrap(), &tsid("s-2"), 1).await.unwrap();
        assert_eq!(page(c, party("0123")).await, ["s-1"]);
        assert_eq!(page(c, party("9990000")).await, ["s-1"]);

        // Rows written around this crate are indexed again when the catalog opens.
        forget_index(&db.url).await;
        assert!(page(c, party("0123")).await.is_empty());
        let again = reopen(&db.url).await;
        assert_eq!(page(&again, party("0123")).await, ["s-1"]);
        assert_eq!(again.setting("search_index.rebuild").await.unwrap(), None);
        again.close().await;
    }
}

on_both_backends! {
    async fn a_ledger_batch_writes_records_conversations_recordings_and_downloads_once(db) {
        let c = &db.catalog;
        let entry = |id: &str, start| {
            let row = record(id, start, "ext1", "+15550001", "+15550002");
            let session = row.telephony_session_id.clone().unwrap();
            let mut rec = listed(&format!("r{id}"), session.as_str(), start);
            rec.call_record_id = Some(row.id.clone());
            let job = vault::NewJob::new("download", format!("rec:r{id}"), json!({"id": format!("r{id}")}));
            vault::LedgerEntry {
                record: row,
                source: Source::Sync,
                conversation: Some(ConversationUpsert {
                    id: ConversationId::from(session.clone()),
                    sessions: vec![session],
                    initial_state: ConversationState::Ended,
                    started_at: Some(start),
                    source: Source::Sync,
                }),
                recordings: vec![(rec, job)],
            }
        };
        let batch = vec![entry("2001", t(9, 0)), entry("2002", t(9, 5))];
        let written = c.write_ledger(&batch).await.unwrap();
        assert_eq!(written, vec![vault::LedgerWritten { new_record: true, enqueued: 1 }; 2]);
        assert_eq!(c.live_jobs_of_kind("download").await.unwrap(), 2);
        let conv = c.conversation(&ConversationId::parse("s-2001").unwrap()).await.unwrap().unwrap();
        assert_eq!(conv.arrived_by, ArrivedBy::Sync);
        assert_eq!(c.recordings_for_call_record(&CallRecordId::parse("2002").unwrap()).await.unwrap().len(), 1);
        // Found by the calls page's index, as after the single-row writes.
        assert_eq!(page(c, party("Caller")).await, vec!["s-2002".to_owned(), "s-2001".to_owned()]);

        // Again, with one recording stored meanwhile: nothing new, no download for it.
        let key = StorageKey::for_recording(t(9, 0), &tsid("s-2001"), &rid("r2001"), BlobExt::Mp3);
        let sha = Sha256Digest::of(b"x");
        assert!(c.mark_recording_stored(&rid("r2001"), &key, &sha, 1, "audio/mpeg").await.unwrap());
        let again = c.write_ledger(&batch).await.unwrap();
        assert_eq!(again, vec![
            vault::LedgerWritten { new_record: false, enqueued: 0 },
            vault::LedgerWritten { new_record: false, enqueued: 1 },
        ]);
        assert_eq!(c.live_jobs_of_kind("download").await.unwrap(), 2, "the live job is not doubled");
        assert_eq!(c.recording(&rid("r2001")).await.unwrap().unwrap().state, RecordingState::Stored);
    }
}
