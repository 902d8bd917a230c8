//! The task that plays telephony events on the sandbox clock.
//!
//! It keeps a queue of future events ordered by time, sleeps with
//! [`crate::clock::SandboxClock::sleep_until`] (so frozen, accelerated and
//! advanced clocks all work), and wakes early when a conversation is added
//! ([`Engine::conversation_added`]). Due events go to
//! [`crate::subscriptions::Registry::dispatch`]. The `webhookReorder` fault
//! is applied here: a due event (never the last of its session) is held back
//! and sent right after the next event of the same session.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::{Notify, watch};

use super::{TelephonyEvent, timeline};
use crate::state::AppState;

/// Shared engine handle kept in the server state.
#[derive(Debug, Default)]
pub struct Engine {
    wake: Notify,
    added_at: Mutex<HashMap<usize, DateTime<Utc>>>,
}

impl Engine {
    /// Tells the engine conversation `index` was added at sandbox time `at`.
    /// A conversation already over at `at` is history and produces no events;
    /// otherwise every event plays, those already due at once. Conversations
    /// added without this call are judged when the engine first sees them.
    pub fn conversation_added(&self, index: usize, at: DateTime<Utc>) {
        self.added_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(index, at);
        self.wake.notify_one();
    }

    fn take_added_at(&self, index: usize) -> Option<DateTime<Utc>> {
        self.added_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&index)
    }
}

struct Queue {
    next_conversation: usize,
    pending: BTreeMap<(DateTime<Utc>, u64), TelephonyEvent>,
    counter: u64,
    held: HashMap<String, TelephonyEvent>,
}

impl Queue {
    /// Schedules events of conversations added since the last call; those
    /// already over when added (or at `now` if not announced) are history.
    fn pick_up(&mut self, state: &AppState, now: DateTime<Utc>) {
        let world = state.world();
        for c in world.conversations.iter().skip(self.next_conversation) {
            let added = state.telephony().take_added_at(c.index).unwrap_or(now);
            if c.end > added {
                for e in timeline(&world, c) {
                    self.counter += 1;
                    self.pending.insert((e.at, self.counter), e);
                }
            }
        }
        self.next_conversation = world.conversations.len();
    }
}

/// Runs until `stop` turns true. Started by [`crate::server`].
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut rng = ChaCha8Rng::seed_from_u64(state.config().seed ^ 0x7e1e_9407);
    let mut q = Queue {
        next_conversation: 0,
        pending: BTreeMap::new(),
        counter: 0,
        held: HashMap::new(),
    };
    loop {
        q.pick_up(&state, state.clock().now());
        let next_at = q.pending.first_key_value().map(|(k, _)| k.0);
        let clock_sleep = async {
            match next_at {
                Some(t) => state.clock().sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = state.telephony().wake.notified() => continue,
            _ = clock_sleep => {}
        }
        let now = state.clock().now();
        // Conversations added while we slept may have events due before the popped ones.
        q.pick_up(&state, now);
        while let Some(entry) = q.pending.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let event = entry.remove();
            let reorder = state.faults().current().webhook_reorder;
            if let Some(held) = q.held.remove(&event.telephony_session_id) {
                dispatch(&state, &event, &mut rng);
                dispatch(&state, &held, &mut rng);
            } else if !event.last_in_session && reorder > 0.0 && rng.random::<f64>() < reorder {
                q.held.insert(event.telephony_session_id.clone(), event);
            } else {
                dispatch(&state, &event, &mut rng);
            }
        }
    }
}

fn dispatch(state: &AppState, event: &TelephonyEvent, rng: &mut ChaCha8Rng) {
    let duplicate = state.faults().current().webhook_duplicate;
    state.subscriptions().dispatch(state, event, duplicate, rng);
}
