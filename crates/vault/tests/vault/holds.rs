//! The hold fence: while it stands, no legal hold can be placed, and it
//! reports the holds active when it went up.

use std::time::Duration;

use vault::{
    ConversationId, ConversationState, ConversationUpsert, HoldTarget, NewHold, Source,
    TelephonySessionId,
};

use crate::helpers::on_both_backends;

fn hold_on(id: &ConversationId, matter: &str) -> NewHold {
    NewHold {
        matter: matter.into(),
        reason: "litigation".into(),
        placed_by: "counsel".into(),
        target: HoldTarget::Conversations(vec![id.clone()]),
    }
}

on_both_backends! {
    async fn a_hold_is_placed_only_after_a_standing_fence_is_lifted(db) {
        // Arrange: one conversation, no hold yet.
        let c = &db.catalog;
        let id = ConversationId::parse("s-fenced").unwrap();
        c.upsert_conversation(&ConversationUpsert {
            id: id.clone(),
            sessions: vec![TelephonySessionId::parse("s-fenced").unwrap()],
            initial_state: ConversationState::Stitched,
            started_at: None,
            source: Source::Sync,
        })
        .await
        .unwrap();

        // Act: a fence goes up, then a hold is placed from another task.
        let fence = c.fence_holds(&id).await.unwrap();
        assert!(fence.holds().is_empty(), "{:?}", fence.holds());
        let placing = tokio::spawn({
            let (c, hold) = (c.clone(), hold_on(&id, "Doe v. Roe"));
            async move { c.place_hold(&hold).await.unwrap() }
        });

        // Assert: the hold waits for the fence (it cannot finish while the
        // fence stands, however long we give it), then lands.
        let mut placing = placing;
        assert!(
            tokio::time::timeout(Duration::from_millis(300), &mut placing).await.is_err(),
            "a hold was placed while the fence stood"
        );
        assert!(c.conversation_holds(&id).await.unwrap().is_empty());
        fence.lift().await.unwrap();
        let hold = placing.await.unwrap();

        // The next fence sees it.
        let fence = c.fence_holds(&id).await.unwrap();
        let seen: Vec<(i64, String)> =
            fence.holds().iter().map(|h| (h.id, h.matter.clone())).collect();
        assert_eq!(seen, vec![(hold, "Doe v. Roe".to_owned())]);
        fence.lift().await.unwrap();
    }
}
