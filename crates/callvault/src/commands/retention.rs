//! `callvault retention rules ls|add|rm`, `retention groups set|ls`,
//! `retention plan`, `retention apply` and `retention delete-at-source`.

use anyhow::bail;
use clap::{Args, Subcommand};
use vault::NewRetentionRule;

use crate::configuration::{RcArgs, StoreArgs};
use crate::gateway::{COMMAND_LEASE, CommandHold};
use crate::retention::{self, audit};
// Where the web UI and the tests reach them until they name `crate::retention`.
pub use crate::retention::rules::{add_rule, remove_rule, validate_rule};

/// Options of `callvault retention`.
#[derive(Debug, Clone, Args)]
pub struct RetentionArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: RetentionAction,
}

/// Who a command-line change is made by: `--by`, else `$USER`.
#[derive(Debug, Clone, Args)]
pub struct Actor {
    /// Who makes the change (recorded with it and in the audit trail).
    #[arg(long = "by", env = "USER", default_value = "cli")]
    pub by: String,
}

/// `retention` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum RetentionAction {
    /// List, add or remove rules.
    Rules {
        /// Which.
        #[command(subcommand)]
        action: RulesAction,
    },
    /// Set or list extension groups (a rule or a scope may name a group).
    Groups {
        /// Which.
        #[command(subcommand)]
        action: GroupsAction,
    },
    /// List every stored recording a rule will dispose of, and when.
    Plan {
        /// Where the catalog lives.
        #[command(flatten)]
        store: StoreArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Dispose of what is due now (blob deleted, tombstone kept).
    Apply {
        /// Where the catalog and recordings live.
        #[command(flatten)]
        store: StoreArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete verified old recordings at RingCentral (dry run unless --execute).
    DeleteAtSource {
        /// Where the catalog and recordings live.
        #[command(flatten)]
        store: StoreArgs,
        /// RingCentral settings.
        #[command(flatten)]
        rc: RcArgs,
        /// Really delete (without it, only list what would be deleted).
        #[arg(long)]
        execute: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `retention rules` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum RulesAction {
    /// List the rules in evaluation order.
    Ls {
        /// Where the catalog lives.
        #[command(flatten)]
        store: StoreArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add a rule (no criteria: the default rule).
    Add {
        /// Where the catalog lives.
        #[command(flatten)]
        store: StoreArgs,
        /// Who adds it.
        #[command(flatten)]
        actor: Actor,
        /// Unique name.
        name: String,
        /// Nothing may delete our copy before this many days.
        #[arg(long)]
        min_keep_days: u32,
        /// Dispose of our copy after this many days (default: keep for ever).
        #[arg(long)]
        max_keep_days: Option<u32>,
        /// Delete RingCentral's copy after this many days (opt-in).
        #[arg(long)]
        delete_at_source_after_days: Option<u32>,
        /// Only calls this extension took part in.
        #[arg(long)]
        extension: Option<String>,
        /// Only calls an extension of this group took part in.
        #[arg(long)]
        group: Option<String>,
        /// Only `Inbound` or `Outbound` calls.
        #[arg(long)]
        direction: Option<String>,
        /// Only recordings of this kind (`Automatic`, `OnDemand`).
        #[arg(long)]
        kind: Option<String>,
        /// Evaluation order: lower first (the first matching rule governs).
        #[arg(long, default_value_t = 100)]
        position: i64,
    },
    /// Remove a rule.
    Rm {
        /// Where the catalog lives.
        #[command(flatten)]
        store: StoreArgs,
        /// Who removes it.
        #[command(flatten)]
        actor: Actor,
        /// The rule's name.
        name: String,
    },
}

/// `retention groups` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum GroupsAction {
    /// Replace a group's extensions (none: remove the group).
    Set {
        /// Where the catalog lives.
        #[command(flatten)]
        store: StoreArgs,
        /// Who changes it.
        #[command(flatten)]
        actor: Actor,
        /// The group's name.
        name: String,
        /// Its extension ids.
        extensions: Vec<String>,
    },
    /// List the groups.
    Ls {
        /// Where the catalog lives.
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn opt(v: &Option<impl std::fmt::Display>) -> String {
    v.as_ref().map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// Runs `callvault retention …`.
pub async fn run(args: RetentionArgs) -> anyhow::Result<()> {
    match args.action {
        RetentionAction::Rules { action } => match action {
            RulesAction::Ls { store, json } => {
                let rules = crate::app::catalog(&store).await?.retention_rules().await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&rules)?);
                } else {
                    println!(
                        "POS  NAME  EXTENSION  GROUP  DIRECTION  KIND  MIN  MAX  SOURCE-AFTER"
                    );
                    for r in rules {
                        println!(
                            "{}  {}  {}  {}  {}  {}  {}  {}  {}",
                            r.position,
                            r.name,
                            opt(&r.extension_id),
                            opt(&r.extension_group),
                            opt(&r.direction),
                            opt(&r.recording_kind),
                            r.min_keep_days,
                            opt(&r.max_keep_days),
                            opt(&r.delete_at_source_after_days)
                        );
                    }
                }
                Ok(())
            }
            RulesAction::Add {
                store,
                actor,
                name,
                min_keep_days,
                max_keep_days,
                delete_at_source_after_days,
                extension,
                group,
                direction,
                kind,
                position,
            } => {
                let catalog = crate::app::catalog(&store).await?;
                let rule = NewRetentionRule {
                    name,
                    position,
                    extension_id: extension,
                    extension_group: group,
                    direction,
                    recording_kind: kind,
                    min_keep_days,
                    max_keep_days,
                    delete_at_source_after_days,
                    created_by: actor.by,
                };
                let id = add_rule(&catalog, &rule).await?;
                println!("added rule {} ({id})", rule.name);
                Ok(())
            }
            RulesAction::Rm { store, actor, name } => {
                let catalog = crate::app::catalog(&store).await?;
                remove_rule(&catalog, &name, &actor.by).await?;
                println!("removed rule {name}");
                Ok(())
            }
        },
        RetentionAction::Groups { action } => match action {
            GroupsAction::Set {
                store,
                actor,
                name,
                extensions,
            } => {
                let catalog = crate::app::catalog(&store).await?;
                catalog.set_extension_group(&name, &extensions).await?;
                audit::record(
                    &catalog,
                    &actor.by,
                    audit::Action::RuleChanged,
                    audit::Subject::RetentionRule,
                    &format!("group:{name}"),
                    serde_json::json!({ "change": "group set", "extensions": extensions }),
                )
                .await
            }
            GroupsAction::Ls { store } => {
                let catalog = crate::app::catalog(&store).await?;
                for (group, ext) in catalog.extension_group_members().await? {
                    println!("{group}  {ext}");
                }
                Ok(())
            }
        },
        RetentionAction::Plan { store, json } => {
            let catalog = crate::app::catalog(&store).await?;
            let plan = retention::plan(&catalog).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&plan)?);
            } else {
                println!(
                    "as of {}: {} recordings have a disposal date",
                    plan.at,
                    plan.disposals.len()
                );
                for d in &plan.disposals {
                    println!(
                        "{}  {}  rule {}{}{}",
                        d.due,
                        d.recording_id,
                        d.rule,
                        if d.due_now { "  (due now)" } else { "" },
                        if d.held { "  ON HOLD: kept" } else { "" }
                    );
                }
            }
            Ok(())
        }
        RetentionAction::Apply { store, json } => {
            let catalog = crate::app::catalog(&store).await?;
            let blobs = crate::app::blobs(&store)?;
            let report = retention::apply(&catalog, &blobs).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "disposed of {} recordings; {} due but on hold; {} skipped; {} blob deletions to retry",
                    report.disposed.len(),
                    report.held.len(),
                    report.skipped,
                    report.blob_failures.len()
                );
                println!("{}", retention::jobs::stitched_summary(&report));
            }
            anyhow::ensure!(
                report.blob_failures.is_empty() && report.stitched_blob_failures.is_empty(),
                "{} disposed recordings and {} stitched files still have their blob (retried next run)",
                report.blob_failures.len(),
                report.stitched_blob_failures.len()
            );
            Ok(())
        }
        RetentionAction::DeleteAtSource {
            store,
            rc,
            execute,
            json,
        } => {
            let catalog = crate::app::catalog(&store).await?;
            let blobs = crate::app::blobs(&store)?;
            let client = crate::app::rc_client(&rc)?;
            // Deleting calls RingCentral: hold the gateway, as `sync` does,
            // so it never shares the rate-limit budget with a running
            // `serve` (whose standing job deletes at the source anyway).
            let hold = match execute {
                true => Some(
                    CommandHold::take(
                        &catalog,
                        "retention delete-at-source",
                        COMMAND_LEASE + COMMAND_LEASE / 2,
                    )
                    .await?,
                ),
                false => None,
            };
            let report = retention::source::run(&client, &catalog, &blobs, execute).await;
            if let Some(hold) = hold {
                hold.release().await;
            }
            let report = report?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else if report.dry_run {
                println!(
                    "dry run: {} recordings would be deleted at RingCentral (--execute to delete)",
                    report.candidates.len()
                );
                for c in &report.candidates {
                    println!("{}  rule {}  since {}", c.recording_id, c.rule, c.due);
                }
            } else {
                println!(
                    "deleted {} at RingCentral ({} already gone) in {} requests; kept {} unverified, {} unlocked, {} held; {} failed",
                    report.deleted.len(),
                    report.already_gone.len(),
                    report.requests,
                    report.unverified.len(),
                    report.unlocked.len(),
                    report.held.len(),
                    report.failed.len()
                );
                if let Some(why) = &report.deferred {
                    println!("stopped early: {why}");
                }
            }
            match &report.error {
                Some(e) => bail!("RingCentral refused a deletion: {e}"),
                None => Ok(()),
            }
        }
    }
}
