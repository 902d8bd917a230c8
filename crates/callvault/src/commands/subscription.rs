//! `callvault subscription list|delete`: the webhook subscriptions
//! RingCentral holds for this app, ours (named in the catalog) marked.

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::configuration::{RcArgs, StoreArgs};
use crate::live::SUBSCRIPTION_SETTING;

/// Options of `callvault subscription`.
#[derive(Debug, Args)]
pub struct SubscriptionArgs {
    /// RingCentral settings.
    #[command(flatten)]
    rc: RcArgs,
    /// Where the catalog lives (it names our subscription).
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    action: SubscriptionAction,
}

/// `subscription list` or `subscription delete`.
#[derive(Debug, Subcommand)]
enum SubscriptionAction {
    /// List this app's subscriptions (ours is marked with `*`).
    List,
    /// Delete a subscription (default: ours).
    Delete {
        /// Subscription id.
        id: Option<String>,
    },
}

/// Lists or deletes the webhook subscriptions.
pub async fn run(args: SubscriptionArgs) -> anyhow::Result<()> {
    let client = crate::app::rc_client(&args.rc)?;
    let catalog = crate::app::catalog(&args.store).await?;
    match args.action {
        SubscriptionAction::List => {
            let ours = catalog.setting(SUBSCRIPTION_SETTING).await?;
            let list = client
                .list_subscriptions()
                .await
                .context("listing subscriptions")?;
            for s in &list.records {
                let mark = if ours.as_deref() == Some(s.id.as_str()) {
                    "*"
                } else {
                    " "
                };
                println!(
                    "{mark} {}  {:<11}  expires {}  {}  {}",
                    s.id,
                    s.status.as_ref().map_or("?", |x| x.as_str()),
                    s.expiration_time
                        .map_or_else(|| "?".to_owned(), |t| t.to_rfc3339()),
                    s.delivery_mode
                        .as_ref()
                        .and_then(|d| d.address.as_deref())
                        .unwrap_or("-"),
                    s.event_filters.join(","),
                );
            }
            if list.records.is_empty() {
                println!("no subscriptions");
            }
        }
        SubscriptionAction::Delete { id } => {
            let deleted =
                crate::live::subscription::delete_subscription(&client, &catalog, id.as_deref())
                    .await?;
            println!("deleted subscription {deleted}");
        }
    }
    Ok(())
}
