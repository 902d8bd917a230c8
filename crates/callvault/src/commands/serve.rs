//! `callvault serve`: the web UI over the catalog and the blob store.

use anyhow::Context;
use clap::Args;

use crate::configuration::StoreArgs;
use crate::startup::{Application, Settings};

/// Options of `callvault serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Where the catalog and recordings live.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on.
    #[arg(long, env = "CALLVAULT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The URL users reach this server at; `https://…` marks cookies `Secure`.
    #[arg(long, env = "CALLVAULT_PUBLIC_URL")]
    pub public_url: Option<String>,
}

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    if args.store.database.is_none() {
        std::fs::create_dir_all(&args.store.data_dir)
            .with_context(|| format!("creating {}", args.store.data_dir.display()))?;
    }
    let app = Application::build(Settings {
        listen: args.listen.clone(),
        database_url: args.store.database_url(),
        storage_url: args.store.storage_url(),
        public_url: args.public_url,
    })
    .await?;
    let host = args.listen.rsplit_once(':').map_or("127.0.0.1", |(h, _)| h);
    println!("CallVault listening on http://{host}:{}", app.port());
    app.run_until_stopped().await?;
    Ok(())
}
