//! `callvault ls [--json]`: conversations (one per telephony session) with
//! their recordings, states and storage keys.

use chrono::{DateTime, Utc};
use clap::Args;
use serde::Serialize;
use vault::RecordingState;

use crate::configuration::StoreArgs;

/// Arguments of `callvault ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Where the catalog and recordings live.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Conversations listed at most, newest first.
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
}

/// One recording of a conversation.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LsRecording {
    /// The recording.
    pub id: String,
    /// Where it stands.
    pub state: RecordingState,
    /// Its blob, when stored.
    pub storage_key: Option<String>,
    /// Its size, when stored.
    pub size: Option<u64>,
    /// Its sha256, when stored.
    pub sha256: Option<String>,
}

/// One conversation.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LsConversation {
    /// The conversation id.
    pub id: String,
    /// Its telephony sessions, in order.
    pub sessions: Vec<String>,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// Its state.
    pub state: String,
    /// Its recordings, session by session.
    pub recordings: Vec<LsRecording>,
}

/// Lists conversations with their recordings.
pub async fn run(args: &LsArgs) -> anyhow::Result<Vec<LsConversation>> {
    let catalog = crate::app::catalog(&args.store).await?;
    let mut out = Vec::new();
    for c in catalog.list_conversations(None, args.limit, 0).await? {
        let mut recordings = Vec::new();
        for session in &c.sessions {
            for r in catalog.recordings_for_session(session).await? {
                recordings.push(LsRecording {
                    id: r.id.as_str().to_owned(),
                    state: r.state,
                    storage_key: r.storage_key.map(|k| k.as_str().to_owned()),
                    size: r.size,
                    sha256: r.sha256.map(|s| s.to_hex()),
                });
            }
        }
        out.push(LsConversation {
            id: c.id.as_str().to_owned(),
            sessions: c.sessions.iter().map(|s| s.as_str().to_owned()).collect(),
            started_at: c.started_at,
            state: c.state.as_str().to_owned(),
            recordings,
        });
    }
    Ok(out)
}

/// Prints the listing as JSON or as lines.
pub fn print(list: &[LsConversation], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(list)?);
        return Ok(());
    }
    for c in list {
        let started = c
            .started_at
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        println!("{} {} ({})", started, c.id, c.state);
        for r in &c.recordings {
            println!(
                "  {} {} {}",
                r.id,
                r.state.as_str(),
                r.storage_key.as_deref().unwrap_or("-")
            );
        }
    }
    Ok(())
}
