//! Stitched files under records management, over a real backup: a held
//! conversation's stitched file is never overwritten by a re-stitch, and
//! retention disposes of a stitched file with its legs, never while a leg
//! is kept or a hold applies.

use std::collections::BTreeSet;

use callvault::retention::{self, stitched};
use callvault::stitching::hold_guard::OverwriteRefused;
use callvault::stitching::{Outcome, StitchOptions, Stitcher};
use vault::audit::SubjectKind;
use vault::{
    BlobStore, Catalog, ConversationId, DisposeOutcome, HoldTarget, KeyLayout, NewHold,
    NewRetentionRule, Sha256Digest, StorageKey, TelephonySessionId, Verified,
};

use crate::helpers::{TestApp, on_both_backends, spawn_app};

/// A stitched conversation: its id, first session, key and sha256.
#[derive(Debug, Clone)]
pub struct StitchedConversation {
    pub id: ConversationId,
    pub first_session: TelephonySessionId,
    pub key: StorageKey,
    pub sha256: Sha256Digest,
}

/// Backs up a world of transferred (multi-leg) calls and stitches every
/// conversation from the vault; returns the stitched ones.
pub async fn backed_up_and_stitched(app: &TestApp) -> (Stitcher, Vec<StitchedConversation>) {
    app.sync().await;
    let stitcher = Stitcher {
        catalog: app.catalog().await,
        blobs: app.blobs(),
        layout: KeyLayout::default(),
        rc: None,
    };
    let outcomes = stitcher
        .stitch_all(&StitchOptions::default())
        .await
        .unwrap();
    let mut stitched = Vec::new();
    for o in outcomes {
        if let Outcome::Stitched {
            conversation,
            sessions,
            key,
            sha256,
            ..
        } = o
        {
            stitched.push(StitchedConversation {
                id: ConversationId::parse(&conversation).unwrap(),
                first_session: TelephonySessionId::parse(&sessions[0]).unwrap(),
                key: StorageKey::from_stored(&key).unwrap(),
                sha256: Sha256Digest::parse_hex(&sha256).unwrap(),
            });
        }
    }
    (stitcher, stitched)
}

/// The world: every call transferred and recorded, so every conversation
/// has several legs to stitch.
pub fn transferred(c: &mut rc_sandbox::SandboxConfig) {
    c.scenario.calls = 10;
    c.scenario.recorded_share = 1.0;
    c.scenario.transferred_share = 1.0;
    c.scenario.attended_share = 0.0;
}

async fn intact(blobs: &BlobStore, key: &StorageKey, sha: &Sha256Digest) -> bool {
    matches!(blobs.verify(key, sha).await, Ok(Verified::Intact { .. }))
}

async fn hold(catalog: &Catalog, matter: &str, id: &ConversationId) -> i64 {
    callvault::commands::hold::place(
        catalog,
        &NewHold {
            matter: matter.into(),
            reason: "litigation".into(),
            placed_by: "counsel".into(),
            target: HoldTarget::Conversations(vec![id.clone()]),
        },
    )
    .await
    .unwrap()
}

/// Audit actions recorded about conversation `id`, in order.
pub async fn actions_about(catalog: &Catalog, id: &ConversationId) -> Vec<String> {
    catalog
        .audit_entries_about(&[(SubjectKind::Conversation, id.as_str().to_owned())])
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            let v: serde_json::Value = serde_json::from_str(&e.canonical).unwrap();
            v["action"].as_str().unwrap_or_default().to_owned()
        })
        .collect()
}

/// A re-stitch that would change the bytes (another title in the ID3 tag).
fn retitled() -> StitchOptions {
    let mut options = StitchOptions::default();
    options.join.title = Some("re-stitched".into());
    options
}

on_both_backends! {
    async fn a_held_conversation_is_not_restitched_over_its_file_and_the_refusal_is_audited(backend) {
        let Some(app) = spawn_app(backend, 81, transferred).await else { return };
        let (stitcher, stitched) = backed_up_and_stitched(&app).await;
        assert!(stitched.len() >= 2, "two stitched conversations: {stitched:?}");
        let (held, free) = (&stitched[0], &stitched[1]);
        let catalog = &stitcher.catalog;
        let hold_id = hold(catalog, "Matter S", &held.id).await;

        // Act: re-stitch both, as `callvault stitch SESSION` would.
        let refused = stitcher.stitch_session(&held.first_session, &retitled()).await.unwrap_err();
        let rewritten = stitcher.stitch_session(&free.first_session, &retitled()).await.unwrap();

        // Assert: the held one refused, saying why; its file and row unchanged.
        let refusal = refused.downcast_ref::<OverwriteRefused>().expect("an OverwriteRefused");
        assert_eq!(refusal.conversation, held.id.as_str());
        assert!(refused.to_string().contains("legal hold") && refused.to_string().contains("Matter S"), "{refused}");
        assert!(intact(&stitcher.blobs, &held.key, &held.sha256).await, "the held file is untouched");
        let row = catalog.conversation(&held.id).await.unwrap().unwrap();
        assert_eq!(row.sha256.as_ref(), Some(&held.sha256));
        assert!(actions_about(catalog, &held.id).await.contains(&"overwrite_refused".to_owned()));
        // The unheld one really is rewritten by the same call: the refusal is the hold's.
        let Outcome::Stitched { sha256, .. } = rewritten else { panic!("{rewritten:?}") };
        assert_ne!(sha256, free.sha256.to_hex(), "a re-stitch with another title changes the bytes");
        assert!(!actions_about(catalog, &free.id).await.contains(&"overwrite_refused".to_owned()));

        // Released, the held conversation may be stitched again.
        callvault::commands::hold::release(catalog, hold_id, "counsel", "settled").await.unwrap();
        let after = stitcher.stitch_session(&held.first_session, &retitled()).await.unwrap();
        assert!(matches!(after, Outcome::Stitched { .. }), "{after:?}");
        app.finish().await;
    }

    async fn stitched_files_go_with_their_legs_never_while_a_leg_is_kept_or_a_hold_applies(backend) {
        let Some(app) = spawn_app(backend, 82, transferred).await else { return };
        let (stitcher, stitched) = backed_up_and_stitched(&app).await;
        assert!(stitched.len() >= 3, "three stitched conversations: {stitched:?}");
        let catalog = &stitcher.catalog;
        let blobs = &stitcher.blobs;
        let rule = NewRetentionRule {
            name: "dispose-now".into(),
            position: 10,
            min_keep_days: 0,
            max_keep_days: Some(0),
            created_by: "test".into(),
            ..NewRetentionRule::default()
        };
        callvault::commands::retention::add_rule(catalog, &rule).await.unwrap();
        let plan = retention::plan(catalog).await.unwrap();
        let legs_of = |c: &StitchedConversation| -> Vec<retention::PlannedDisposal> {
            plan.disposals.iter().filter(|d| d.conversation_id.as_deref() == Some(c.id.as_str())).cloned().collect()
        };
        let (partial, held) = (&stitched[0], &stitched[1]);
        assert!(legs_of(partial).len() >= 2 && legs_of(held).len() >= 2);
        // `held`: its legs were disposed of, then a hold came before its
        // stitched file went (a hold placed mid-run).
        for d in legs_of(held) {
            let id = vault::RecordingId::parse(&d.recording_id).unwrap();
            let sha = Sha256Digest::parse_hex(&d.sha256).unwrap();
            let out = catalog.dispose_recording(&id, &sha, d.due, Some(d.rule_id), &d.rule).await.unwrap();
            assert_eq!(out, DisposeOutcome::Disposed);
        }
        let hold_id = hold(catalog, "Matter T", &held.id).await;
        // `partial`: one of its legs is left out of this run.
        let kept_leg = legs_of(partial)[0].recording_id.clone();
        let mut this_run = plan.clone();
        this_run.disposals.retain(|d| d.recording_id != kept_leg);

        let report = retention::apply_plan(catalog, blobs, &this_run).await.unwrap();

        let others: BTreeSet<String> = stitched[2..].iter().map(|c| c.id.as_str().to_owned()).collect();
        assert_eq!(report.stitched_disposed.iter().cloned().collect::<BTreeSet<_>>(), others, "{report:?}");
        assert_eq!(report.stitched_held, vec![held.id.as_str().to_owned()]);
        assert!(report.stitched_kept >= 1 && report.stitched_blob_failures.is_empty(), "{report:?}");
        for c in &stitched[2..] {
            let tomb = catalog.stitched_disposal(&c.id).await.unwrap().expect("a tombstone");
            assert_eq!((tomb.storage_key.as_str(), tomb.sha256.as_deref()), (c.key.as_str(), Some(c.sha256.to_hex().as_str())));
            assert_eq!(tomb.reason, stitched::REASON);
            assert!(tomb.blob_deleted_at.is_some());
            for key in [c.key.clone(), StorageKey::sidecar_of(&c.key), callvault::stitching::store::vtt_key(&c.key).unwrap()] {
                assert!(blobs.head(&key).await.unwrap().is_none(), "{key} deleted");
            }
            assert!(catalog.conversation(&c.id).await.unwrap().unwrap().stitched_key.is_none());
            assert!(actions_about(catalog, &c.id).await.contains(&"disposed".to_owned()));
        }
        for c in [partial, held] {
            assert!(intact(blobs, &c.key, &c.sha256).await, "{} kept", c.id);
            assert!(catalog.stitched_disposal(&c.id).await.unwrap().is_none());
            assert_eq!(catalog.conversation(&c.id).await.unwrap().unwrap().stitched_key.as_ref(), Some(&c.key));
        }

        // The hold released and the last leg due: both files go.
        callvault::commands::hold::release(catalog, hold_id, "counsel", "settled").await.unwrap();
        let again = retention::apply(catalog, blobs).await.unwrap();
        let both: BTreeSet<String> = [partial, held].iter().map(|c| c.id.as_str().to_owned()).collect();
        assert_eq!(again.stitched_disposed.iter().cloned().collect::<BTreeSet<_>>(), both, "{again:?}");
        for c in [partial, held] {
            assert!(blobs.head(&c.key).await.unwrap().is_none());
        }
        app.finish().await;
    }
}
