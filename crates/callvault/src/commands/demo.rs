//! `callvault demo`: the whole flow against an embedded RingCentral
//! sandbox, so a newcomer sees it work with one command and nothing to set up.
//! It generates an account with a few days of calls, backs every recording
//! up, and checks the result against the sandbox's ground truth.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use sha2::Digest;

use crate::commands::sync::SyncArgs;
use crate::configuration::{RcArgs, StoreArgs};

/// Arguments of `callvault demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the demo's catalog and recordings.
    #[arg(long = "data", default_value = "./callvault-demo")]
    pub data_dir: PathBuf,
    /// Calls in the generated history.
    #[arg(long, default_value_t = 40)]
    pub calls: usize,
    /// Days the history spans.
    #[arg(long, default_value_t = 3)]
    pub days: u32,
    /// Seed of the generated account.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Rate-limit window of the sandbox in seconds (production: 60).
    #[arg(long, default_value_t = 2)]
    pub rate_window: u64,
}

/// Runs the demo.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let sandbox = rc_sandbox::Sandbox::builder()
        .seed(args.seed)
        .configure(|c| {
            c.scenario.calls = args.calls;
            c.scenario.days = args.days;
            if let Some(r) = c.rate_limits.as_mut() {
                r.window_secs = args.rate_window;
                r.penalty_secs = args.rate_window;
            }
        })
        .spawn()
        .await
        .context("starting the embedded sandbox")?;
    let env: std::collections::HashMap<_, _> = sandbox.client_env().into_iter().collect();
    let get = |k: &str| env.get(k).cloned().unwrap_or_default();
    println!(
        "RingCentral sandbox: platform {}, media {}",
        sandbox.platform_url(),
        sandbox.media_url()
    );
    println!(
        "  {} calls over {} days, rate limits: Heavy {} requests per {} s",
        args.calls,
        args.days,
        sandbox
            .state()
            .config()
            .rate_limits
            .as_ref()
            .map(|r| r.heavy)
            .unwrap_or(0),
        args.rate_window
    );

    let sync = SyncArgs {
        rc: RcArgs {
            server_url: get("RC_SERVER_URL"),
            media_url: Some(get("RC_MEDIA_URL")),
            client_id: get("RC_CLIENT_ID"),
            client_secret: get("RC_CLIENT_SECRET").into(),
            jwt: get("RC_JWT").into(),
        },
        store: StoreArgs {
            data_dir: args.data_dir.clone(),
            database: None,
            storage: None,
        },
        from: Some(chrono::Utc::now() - chrono::Duration::days(i64::from(args.days) + 1)),
        to: None,
        backfill_days: 366,
        overlap_minutes: 120,
        workers: 4,
        max_wait: 30,
        plan: false,
        json: false,
    };
    let started = std::time::Instant::now();
    let report = super::sync::run(&sync).await?;
    super::sync::print_report(&report, false)?;
    println!("  in {:.1} s", started.elapsed().as_secs_f64());

    let catalog = crate::app::catalog(&sync.store).await?;
    let (mut expected, mut matched) = (0u32, 0u32);
    let recordings: Vec<_> = {
        let world = sandbox.state().world();
        world
            .conversations
            .iter()
            .flat_map(|c| c.ordered_recordings().cloned().collect::<Vec<_>>())
            .collect()
    };
    for rec in recordings {
        expected += 1;
        let bytes = sandbox
            .state()
            .audio()
            .get_or_render(&sandbox.state().config().audio, &rec);
        let truth = hex::encode(sha2::Sha256::digest(&bytes));
        let id = vault::RecordingId::parse(&rec.id)?;
        let stored = catalog
            .recording(&id)
            .await?
            .and_then(|r| r.sha256.map(|s| s.to_hex()));
        if stored.as_deref() == Some(truth.as_str()) {
            matched += 1;
        }
    }
    println!(
        "checked against the sandbox's ground truth: {matched}/{expected} recordings stored with the right sha256"
    );

    let stitcher = crate::stitching::Stitcher {
        catalog: catalog.clone(),
        blobs: crate::app::blobs(&sync.store)?,
        layout: vault::KeyLayout::default(),
        rc: Some(sync.rc.clone()),
    };
    let outcomes = stitcher
        .stitch_all(&crate::stitching::StitchOptions::default())
        .await?;
    let (mut stitched, mut in_order) = (0u32, 0u32);
    for o in &outcomes {
        if let crate::stitching::Outcome::Stitched {
            conversation,
            key,
            legs,
            ..
        } = o
        {
            stitched += 1;
            let heard = markers_in(&stitcher.blobs, &vault::StorageKey::from_stored(key)?).await?;
            let truth = truth_markers(&sandbox, conversation.as_str());
            if heard == truth {
                in_order += 1;
            } else {
                println!("  {conversation}: heard markers {heard:?}, expected {truth:?}");
            }
            println!("  {conversation}: {legs} legs stitched into {key}");
        }
    }
    println!(
        "stitched {stitched} multi-leg conversations; {in_order}/{stitched} play every leg in the ground-truth order"
    );
    println!("catalog and recordings are in {}", args.data_dir.display());
    sandbox.shutdown().await;
    anyhow::ensure!(
        matched == expected,
        "{} recordings missing or different",
        expected - matched
    );
    anyhow::ensure!(
        in_order == stitched,
        "{} stitched files are out of order",
        stitched - in_order
    );
    Ok(())
}

/// The leg markers heard in a stored audio file, in order.
async fn markers_in(blobs: &vault::BlobStore, key: &vault::StorageKey) -> anyhow::Result<Vec<u32>> {
    let size = blobs.head(key).await?.map(|m| m.size).unwrap_or(0);
    let bytes = blobs.get_range(key, 0..size).await?;
    tokio::task::spawn_blocking(move || {
        let mut pcm = Vec::new();
        let mut rate = 8000;
        stitch::decode::decode_mono(std::io::Cursor::new(bytes), |r, block| {
            rate = r;
            pcm.extend_from_slice(block);
            Ok(())
        })?;
        Ok(rc_sandbox::audio::detect_markers(&pcm, rate))
    })
    .await?
}

/// The markers a stitched file of the conversation that starts with
/// `session` must contain, in order.
fn truth_markers(sandbox: &rc_sandbox::SandboxHandle, session: &str) -> Vec<u32> {
    let world = sandbox.state().world();
    world
        .conversations
        .iter()
        .find(|c| c.sessions.iter().any(|s| s.telephony_session_id == session))
        .map(|c| c.ordered_recordings().map(|r| r.marker).collect())
        .unwrap_or_default()
}
