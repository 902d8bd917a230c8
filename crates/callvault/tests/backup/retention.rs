//! Records management over a real backup: retention plan and apply
//! (tombstones), legal holds placed after the plan, and deletion at the
//! source against the sandbox's delete endpoint.

use std::collections::BTreeSet;

use callvault::retention::{self, source};
use vault::{
    BlobStore, Catalog, ConversationId, HoldFilter, HoldTarget, NewHold, NewRetentionRule,
    RecordingState, Verified,
};

use crate::helpers::{TestApp, on_both_backends, one_second_limits, spawn_app};

fn rule(name: &str, position: i64, min: u32, max: Option<u32>) -> NewRetentionRule {
    NewRetentionRule {
        name: name.into(),
        position,
        min_keep_days: min,
        max_keep_days: max,
        created_by: "test".into(),
        ..NewRetentionRule::default()
    }
}

/// Every stored recording with its call record's direction and call start.
async fn stored(app: &TestApp) -> Vec<(vault::Recording, Option<String>)> {
    let catalog = app.catalog().await;
    let mut out = Vec::new();
    for r in app.in_state(RecordingState::Stored).await {
        let record = catalog
            .call_record(r.call_record_id.as_ref().unwrap())
            .await
            .unwrap()
            .unwrap();
        out.push((r, record.direction));
    }
    out
}

fn ids<'a>(v: impl IntoIterator<Item = &'a vault::Recording>) -> BTreeSet<String> {
    v.into_iter().map(|r| r.id.as_str().to_owned()).collect()
}

async fn blob_intact(blobs: &BlobStore, r: &vault::Recording) -> bool {
    matches!(
        blobs
            .verify(r.storage_key.as_ref().unwrap(), r.sha256.as_ref().unwrap())
            .await,
        Ok(Verified::Intact { .. })
    )
}

async fn place(catalog: &Catalog, matter: &str, target: HoldTarget) -> i64 {
    callvault::retention::holds::place(
        catalog,
        &NewHold {
            matter: matter.into(),
            reason: "litigation".into(),
            placed_by: "counsel".into(),
            target,
        },
    )
    .await
    .unwrap()
}

/// The conversation of a recording.
async fn conversation_of(catalog: &Catalog, r: &vault::Recording) -> ConversationId {
    catalog
        .conversation_for_session(r.telephony_session_id.as_ref().unwrap())
        .await
        .unwrap()
        .unwrap()
}

on_both_backends! {
    async fn plan_and_apply_dispose_of_exactly_the_due_recordings_and_keep_tombstones(backend) {
        let Some(app) = spawn_app(backend, 71, |c| c.scenario.calls = 16).await else { return };
        app.sync().await;
        let catalog = app.catalog().await;
        let blobs = app.blobs();
        let now = catalog.now().await.unwrap();
        let before = stored(&app).await;
        // Inbound: dispose of at once. Outbound older than a day: dispose of.
        // Everything else: keep 7 days at least, then dispose of.
        let inbound = NewRetentionRule { direction: Some("Inbound".into()), ..rule("inbound", 10, 0, Some(0)) };
        let old_out = NewRetentionRule { direction: Some("Outbound".into()), ..rule("old-outbound", 20, 0, Some(1)) };
        for r in [inbound, old_out, rule("default", 100, 7, Some(7))] {
            callvault::retention::rules::add_rule(&catalog, &r).await.unwrap();
        }
        let expected: BTreeSet<String> = ids(before.iter().filter(|(r, dir)| {
            dir.as_deref() == Some("Inbound")
                || (dir.as_deref() == Some("Outbound")
                    && r.call_start_time.unwrap() + chrono::Duration::days(1) <= now)
        }).map(|(r, _)| r));
        assert!(!expected.is_empty() && expected.len() < before.len(), "a mixed world: {expected:?}");

        let plan = retention::plan(&catalog).await.unwrap();
        assert_eq!(plan.disposals.len(), before.len(), "every recording has a disposal date");
        let due: BTreeSet<String> = plan.disposals.iter().filter(|d| d.due_now).map(|d| d.recording_id.clone()).collect();
        assert_eq!(due, expected);
        for d in plan.disposals.iter().filter(|d| !d.due_now) {
            match d.rule.as_str() {
                // Kept 7 days from when it was stored, at least.
                "default" => assert!(d.due >= now + chrono::Duration::days(7), "minimum keep: {d:?}"),
                // Outbound, younger than a day: due when it is a day old.
                "old-outbound" => assert!(d.due > now && d.due <= now + chrono::Duration::days(1), "{d:?}"),
                other => panic!("rule {other} left {d:?}"),
            }
        }

        let report = retention::apply(&catalog, &blobs).await.unwrap();

        assert_eq!(report.disposed.iter().cloned().collect::<BTreeSet<_>>(), expected);
        assert!(report.held.is_empty() && report.blob_failures.is_empty(), "{report:?}");
        for (r, _) in &before {
            let now_row = catalog.recording(&r.id).await.unwrap().unwrap();
            let tomb = catalog.disposal(&r.id).await.unwrap();
            if expected.contains(r.id.as_str()) {
                assert_eq!(now_row.state, RecordingState::Gone);
                let t = tomb.expect("a tombstone");
                assert_eq!(t.sha256.as_deref(), Some(r.sha256.as_ref().unwrap().to_hex().as_str()));
                assert_eq!(t.size, r.size);
                assert_eq!(t.call_start_time, r.call_start_time);
                assert_eq!(t.stored_at, r.stored_at);
                assert_eq!(t.telephony_session_id.as_deref(), r.telephony_session_id.as_ref().map(|s| s.as_str()));
                assert!(t.rule_name == "inbound" || t.rule_name == "old-outbound", "{t:?}");
                assert!(t.blob_deleted_at.is_some());
                assert!(blobs.head(r.storage_key.as_ref().unwrap()).await.unwrap().is_none(), "blob deleted");
                // A person's retry cannot bring a disposed recording back.
                assert!(!catalog.relist_recording(&r.id).await.unwrap());
            } else {
                assert_eq!(now_row.state, RecordingState::Stored);
                assert!(tomb.is_none());
                assert!(blob_intact(&blobs, r).await);
            }
        }
        // Applying again disposes of nothing more.
        let again = retention::apply(&catalog, &blobs).await.unwrap();
        assert!(again.disposed.is_empty(), "{again:?}");
        app.finish().await;
    }

    async fn a_hold_placed_after_the_plan_blocks_disposal_and_deletion_at_the_source(backend) {
        let Some(app) = spawn_app(backend, 72, |c| c.scenario.calls = 10).await else { return };
        app.sync().await;
        let catalog = app.catalog().await;
        let blobs = app.blobs();
        let client = callvault::app::rc_client(&app.rc).unwrap();
        let before = stored(&app).await;
        let everything = NewRetentionRule {
            delete_at_source_after_days: Some(0),
            ..rule("dispose-now", 10, 0, Some(0))
        };
        callvault::retention::rules::add_rule(&catalog, &everything).await.unwrap();

        // Plans first ...
        let plan = retention::plan(&catalog).await.unwrap();
        let at_source = source::candidates(&catalog).await.unwrap();
        assert_eq!(plan.disposals.iter().filter(|d| d.due_now && !d.held).count(), before.len());
        assert_eq!(at_source.len(), before.len());
        // ... then holds: one by conversation id, one by a filter (the
        // search box with a recording id), placed after the plans.
        let a = &before[0].0;
        let conv_a = conversation_of(&catalog, a).await;
        let mut b = None;
        for (r, _) in before.iter().rev() {
            if conversation_of(&catalog, r).await != conv_a {
                b = Some(r);
                break;
            }
        }
        let b = b.expect("two conversations");
        let conv_b = conversation_of(&catalog, b).await;
        let hold_a = place(&catalog, "Matter A", HoldTarget::Conversations(vec![conv_a.clone()])).await;
        place(&catalog, "Matter B", HoldTarget::Filter(HoldFilter {
            text: Some(b.id.as_str().to_owned()),
            ..HoldFilter::default()
        })).await;
        let held: BTreeSet<String> = {
            let mut held = BTreeSet::new();
            for (r, _) in &before {
                let c = conversation_of(&catalog, r).await;
                if c == conv_a || c == conv_b {
                    held.insert(r.id.as_str().to_owned());
                }
            }
            held
        };

        let deleted = source::execute_candidates(&client, &catalog, &blobs, at_source).await.unwrap();
        let report = retention::apply_plan(&catalog, &blobs, &plan).await.unwrap();

        let all = ids(before.iter().map(|(r, _)| r));
        let unheld: BTreeSet<String> = all.difference(&held).cloned().collect();
        assert_eq!(deleted.deleted.iter().cloned().collect::<BTreeSet<_>>(), unheld);
        assert_eq!(deleted.held.iter().cloned().collect::<BTreeSet<_>>(), held);
        assert_eq!(app.truth().deleted, unheld, "deleted at the sandbox: exactly the unheld");
        assert_eq!(report.disposed.iter().cloned().collect::<BTreeSet<_>>(), unheld);
        assert_eq!(report.held.iter().cloned().collect::<BTreeSet<_>>(), held);
        for (r, _) in before.iter().filter(|(r, _)| held.contains(r.id.as_str())) {
            assert_eq!(catalog.recording(&r.id).await.unwrap().unwrap().state, RecordingState::Stored);
            assert!(blob_intact(&blobs, r).await, "a held blob is intact");
        }
        // The conversation shows its hold; releasing it lets the rule act.
        let holds = catalog.conversation_holds(&conv_a).await.unwrap();
        assert_eq!(holds.len(), 1);
        assert_eq!((holds[0].matter.as_str(), holds[0].placed_by.as_str()), ("Matter A", "counsel"));
        callvault::retention::holds::release(&catalog, hold_a, "counsel", "settled").await.unwrap();
        let after = retention::apply(&catalog, &blobs).await.unwrap();
        let a_ids: BTreeSet<String> = held.iter().filter(|id| {
            before.iter().any(|(r, _)| r.id.as_str() == id.as_str() && r.telephony_session_id == a.telephony_session_id)
        }).cloned().collect();
        assert!(a_ids.is_subset(&after.disposed.iter().cloned().collect()), "{after:?}");
        assert!(!after.disposed.contains(&b.id.as_str().to_owned()), "matter B still holds");
        app.finish().await;
    }

    async fn delete_at_source_removes_exactly_the_verified_old_unheld_recordings_in_batches_of_100_without_a_429(backend) {
        let Some(app) = spawn_app(backend, 73, |c| {
            c.scenario.calls = 170;
            c.scenario.days = 4;
            c.scenario.recorded_share = 1.0;
            c.scenario.transferred_share = 0.0;
            one_second_limits(c);
        }).await else { return };
        app.sync().await;
        let catalog = app.catalog().await;
        let blobs = app.blobs();
        let client = callvault::app::rc_client(&app.rc).unwrap();
        let now = catalog.now().await.unwrap();
        let before = stored(&app).await;
        let old_enough = NewRetentionRule { delete_at_source_after_days: Some(1), ..rule("source-after-a-day", 10, 0, None) };
        callvault::retention::rules::add_rule(&catalog, &old_enough).await.unwrap();
        let old: Vec<&vault::Recording> = before.iter().map(|(r, _)| r)
            .filter(|r| r.call_start_time.unwrap() + chrono::Duration::days(1) <= now).collect();
        assert!(old.len() > 110, "more than one batch of old recordings: {}", old.len());
        // One old recording altered on disk, one on hold, one already gone at RingCentral.
        let (altered, held, gone) = (old[3], old[40], old[77]);
        let path = app.blob_root().join(altered.storage_key.as_ref().unwrap().as_str());
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[100] ^= 0x01;
        std::fs::write(&path, bytes).unwrap();
        let conv = conversation_of(&catalog, held).await;
        place(&catalog, "Matter C", HoldTarget::Conversations(vec![conv])).await;

        let dry = source::run(&client, &catalog, &blobs, false).await.unwrap();
        assert!(dry.dry_run);
        let expected_candidates: BTreeSet<String> = ids(old.iter().copied().filter(|r| r.id != held.id));
        assert_eq!(dry.candidates.iter().map(|c| c.recording_id.clone()).collect::<BTreeSet<_>>(), expected_candidates);
        assert!(app.sandbox.state().deletions().batches().is_empty(), "a dry run deletes nothing");
        assert!(app.truth().deleted.is_empty());

        assert!(app.sandbox.state().world_mut().delete_recording(gone.id.as_str()));
        let report = source::run(&client, &catalog, &blobs, true).await.unwrap();

        let expected: BTreeSet<String> = expected_candidates.iter()
            .filter(|id| **id != altered.id.as_str() && **id != gone.id.as_str()).cloned().collect();
        assert_eq!(report.deleted.iter().cloned().collect::<BTreeSet<_>>(), expected, "{:?}", report.error);
        assert_eq!(report.unverified, vec![altered.id.as_str().to_owned()]);
        assert_eq!(report.already_gone, vec![gone.id.as_str().to_owned()]);
        assert!(report.failed.is_empty() && report.error.is_none(), "{report:?}");
        let mut at_sandbox = expected.clone();
        at_sandbox.insert(gone.id.as_str().to_owned());
        assert_eq!(app.truth().deleted, at_sandbox, "exactly these are gone at RingCentral");
        let batches = app.sandbox.state().deletions().batches();
        assert!(batches.iter().all(|b| !b.is_empty() && b.len() <= 100), "batch sizes {:?}",
            batches.iter().map(Vec::len).collect::<Vec<_>>());
        assert_eq!(batches.iter().flatten().cloned().collect::<BTreeSet<_>>(), expected);
        assert_eq!(app.sandbox.state().limiter().refused(), 0, "the sandbox answered a 429");
        assert_eq!(catalog.source_deletion_count().await.unwrap(), expected.len() as u64 + 1);
        // Our copies stay; a second run has nothing left to delete.
        for r in old.iter().filter(|r| expected.contains(r.id.as_str())) {
            assert_eq!(catalog.recording(&r.id).await.unwrap().unwrap().state, RecordingState::Stored);
        }
        let again = source::run(&client, &catalog, &blobs, true).await.unwrap();
        assert!(again.deleted.is_empty(), "{again:?}");
        app.finish().await;
    }
}
