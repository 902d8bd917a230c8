//! `callvault hold place|release|ls`: legal holds.

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use vault::{ConversationId, HoldFilter, HoldTarget, NewHold};

use crate::commands::retention::Actor;
use crate::configuration::StoreArgs;
// Where the web UI and the tests reach them until they name `crate::retention`.
pub use crate::retention::holds::{place, release};

/// Options of `callvault hold`.
#[derive(Debug, Clone, Args)]
pub struct HoldArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: HoldAction,
}

/// The calls-page filter of a filter hold.
#[derive(Debug, Clone, Default, Args)]
pub struct FilterArgs {
    /// Calls started at or after (RFC 3339).
    #[arg(long)]
    pub from: Option<DateTime<Utc>>,
    /// Calls started before (RFC 3339).
    #[arg(long)]
    pub to: Option<DateTime<Utc>>,
    /// An extension that took part.
    #[arg(long)]
    pub extension: Option<String>,
    /// A party's number (or its last 4+ digits) or name.
    #[arg(long)]
    pub party: Option<String>,
    /// `Inbound` or `Outbound`.
    #[arg(long)]
    pub direction: Option<String>,
    /// The search box: a number, a name or an exact id.
    #[arg(long)]
    pub text: Option<String>,
}

impl FilterArgs {
    fn to_filter(&self) -> HoldFilter {
        HoldFilter {
            from: self.from,
            to: self.to,
            extension_id: self.extension.clone(),
            party: self.party.clone(),
            direction: self.direction.clone(),
            text: self.text.clone(),
        }
    }
}

/// `hold` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum HoldAction {
    /// Place a hold on conversations by id, or on every call matching a
    /// filter (now and in future).
    Place {
        /// Where the catalog lives.
        #[command(flatten)]
        store: StoreArgs,
        /// Who places it.
        #[command(flatten)]
        actor: Actor,
        /// The matter (case) name.
        #[arg(long)]
        matter: String,
        /// Why.
        #[arg(long)]
        reason: String,
        /// A conversation id (repeatable); or give a filter instead.
        #[arg(long = "conversation", value_name = "ID")]
        conversations: Vec<String>,
        /// The filter.
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Release a hold.
    Release {
        /// Where the catalog lives.
        #[command(flatten)]
        store: StoreArgs,
        /// Who releases it.
        #[command(flatten)]
        actor: Actor,
        /// The hold's id.
        id: i64,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// List holds (active ones unless --all).
    Ls {
        /// Where the catalog lives.
        #[command(flatten)]
        store: StoreArgs,
        /// Released holds too.
        #[arg(long)]
        all: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `callvault hold …`.
pub async fn run(args: HoldArgs) -> anyhow::Result<()> {
    match args.action {
        HoldAction::Place {
            store,
            actor,
            matter,
            reason,
            conversations,
            filter,
        } => {
            let catalog = crate::app::catalog(&store).await?;
            let target = if conversations.is_empty() {
                HoldTarget::Filter(filter.to_filter())
            } else {
                if !filter.to_filter().is_empty() {
                    bail!("give conversation ids or a filter, not both");
                }
                HoldTarget::Conversations(
                    conversations
                        .iter()
                        .map(|c| {
                            ConversationId::parse(c)
                                .with_context(|| format!("conversation id {c:?}"))
                        })
                        .collect::<anyhow::Result<_>>()?,
                )
            };
            let hold = NewHold {
                matter,
                reason,
                placed_by: actor.by,
                target,
            };
            let id = place(&catalog, &hold).await?;
            let placed = catalog
                .legal_hold(id)
                .await?
                .context("the hold just placed")?;
            println!(
                "placed hold {id} ({}) on {} conversations",
                placed.matter, placed.conversations
            );
            mirror(&catalog, &store).await
        }
        HoldAction::Release {
            store,
            actor,
            id,
            reason,
        } => {
            let catalog = crate::app::catalog(&store).await?;
            release(&catalog, id, &actor.by, &reason).await?;
            println!("released hold {id}");
            mirror(&catalog, &store).await
        }
        HoldAction::Ls { store, all, json } => {
            let catalog = crate::app::catalog(&store).await?;
            let holds = catalog.legal_holds(!all).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&holds)?);
            } else {
                for h in holds {
                    println!(
                        "{}  {}  {} conversations  placed by {} at {}{}  — {}",
                        h.id,
                        h.matter,
                        h.conversations,
                        h.placed_by,
                        h.placed_at,
                        h.released_at
                            .map(|t| format!(", released {t}"))
                            .unwrap_or_default(),
                        h.reason
                    );
                }
            }
            Ok(())
        }
    }
}

/// With `--worm`, mirrors the holds onto the bucket's S3 legal holds at
/// once (every retention run does it too) and says what changed.
async fn mirror(catalog: &vault::Catalog, store: &StoreArgs) -> anyhow::Result<()> {
    if store.worm.config().is_none() {
        return Ok(());
    }
    let blobs = crate::app::writable_blobs(store).await?;
    let r = crate::retention::holds::mirror_to_worm(catalog, &blobs).await?;
    println!(
        "S3 legal holds: {} placed, {} lifted, {} failed (retried by the next retention run)",
        r.placed,
        r.lifted,
        r.failed.len()
    );
    anyhow::ensure!(
        r.failed.is_empty(),
        "the bucket refused to change the legal hold of {}",
        r.failed.join(", ")
    );
    Ok(())
}
