//! `callvault demo`: the whole flow against an embedded RingCentral
//! sandbox, so a newcomer sees it work with one command and nothing to set up.
//! It generates an account with a few days of calls, backs every recording
//! up, and checks the result against the sandbox's ground truth. Then,
//! unless `--no-serve`, it serves the web UI and runs the live flow against
//! the same sandbox: new calls start at a sped-up sandbox clock, their
//! webhooks reach the receiver beside the UI, the workers back them up and
//! stitch them, and a line is printed as each call ends and is stored or
//! stitched.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use sha2::Digest;

use crate::commands::sync::SyncArgs;
use crate::configuration::{LiveTiming, RcArgs, StoreArgs};

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
    /// Where the web UI listens once the backup is done.
    #[arg(long, default_value = "127.0.0.1:8080", value_parser = crate::configuration::address::parse_listen)]
    pub listen: std::net::SocketAddr,
    /// Stop after the backup and its checks instead of serving the web UI
    /// and running live traffic.
    #[arg(long)]
    pub no_serve: bool,
    /// While serving: new live calls per (real) minute.
    #[arg(long, default_value_t = 4.0)]
    pub live_calls_per_minute: f64,
    /// While serving: how much faster than real time the sandbox clock
    /// runs, so calls of minutes end in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub live_speed: f64,
}

/// Pace of the demo's live flow (`--pace-ms` of `serve`): a call is backed
/// up seconds after it ends instead of the production half-minute.
const LIVE_PACE_MS: u64 = 500;

/// Runs the demo.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let sandbox = rc_sandbox::Sandbox::builder()
        .seed(args.seed)
        .configure(|c| {
            c.scenario.calls = args.calls;
            c.scenario.days = args.days;
            // Live calls' recordings can be fetched as soon as the call log
            // lists them: with the sandbox clock sped up, a "not ready yet"
            // retry would be scheduled from the sandbox's (future) call end.
            c.recording_lag = c.call_log_lag;
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
            worm: Default::default(),
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
    // The process's one catalog pool and blob store: the sync, the checks,
    // the stitcher and then the server all use them.
    let catalog = crate::app::catalog(&sync.store).await?;
    let blobs = crate::app::writable_blobs(&sync.store).await?;
    let started = std::time::Instant::now();
    let report = super::sync::run_over(&sync, &catalog, Some(&blobs)).await?;
    super::sync::print_report(&report, false)?;
    println!("  in {:.1} s", started.elapsed().as_secs_f64());

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
        blobs: blobs.clone(),
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
            let truth = truth_markers(sandbox.state(), conversation.as_str());
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
    if args.no_serve {
        drop(sandbox); // stops its listeners; the demo does not wait for in-flight webhook tasks
        return Ok(());
    }
    drop(stitcher);
    serve_live(&args, catalog, blobs, &sync.rc, sandbox).await
}

/// Serves the web UI over the demo's catalog, with a demo admin login, and
/// runs the live flow (receiver, workers, sandbox traffic) until Ctrl-C.
async fn serve_live(
    args: &DemoArgs,
    catalog: vault::Catalog,
    blobs: vault::BlobStore,
    rc: &RcArgs,
    sandbox: rc_sandbox::SandboxHandle,
) -> anyhow::Result<()> {
    let state = crate::web::state::AppState::new(
        catalog.clone(),
        blobs,
        false,
        crate::web::state::WebOptions::default(),
    )
    .await?;
    let app = crate::startup::Application::with_state(args.listen, state)
        .await
        .context("starting the web UI")?;
    let password = demo_user(&catalog).await?;
    // The sandbox runs on this machine: it delivers to loopback.
    let public_url = url::Url::parse(&format!("http://127.0.0.1:{}", app.port()))
        .context("the demo's webhook URL")?;
    let timing = LiveTiming {
        sync_every_secs: Some(60),
        pace_ms: Some(LIVE_PACE_MS),
        ..LiveTiming::default()
    };
    let setup = crate::assemble::LiveSetup {
        rc,
        workers: 2,
        timing: &timing,
        monitoring: &crate::configuration::Monitoring::default(),
        public_url: Some(&public_url),
        extension: None,
    };
    let (workers, state) =
        crate::assemble::live_workers(setup, &catalog, &app.state().blobs).await?;
    let app = app.with_routes(crate::live::webhook_router(state));
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(crate::live::run_workers(workers, stop.clone()));

    let speed = if args.live_speed.is_finite() && args.live_speed > 0.0 {
        args.live_speed
    } else {
        1.0
    };
    let traffic = sandbox.state();
    traffic.clock().set_speed(speed);
    // The rate is per sandbox minute, which passes `speed` times faster.
    traffic
        .live()
        .set_calls_per_minute(args.live_calls_per_minute.max(0.0) / speed);
    println!();
    println!(
        "web UI: http://127.0.0.1:{}/  (log in as demo / {password}; Ctrl-C stops)",
        app.port()
    );
    println!(
        "live: about {} new calls a minute, sandbox clock at {speed}x; webhooks to {}",
        args.live_calls_per_minute,
        crate::live::subscription::webhook_address(public_url.as_str()),
    );
    let watcher = tokio::spawn(watch_live(
        catalog,
        app.state().blobs.clone(),
        traffic.clone(),
        stop.clone(),
    ));
    let served = app.run_until_stopped().await;
    stop.cancel();
    traffic.live().set_calls_per_minute(0.0);
    running.await.context("the workers panicked")??;
    watcher.await.context("the live watcher panicked")?;
    drop(sandbox);
    served?;
    Ok(())
}

/// Prints a line whenever a conversation that started after the backup
/// ends, is stored (one recording) or stitched (with whether its legs play
/// in the ground-truth order), or is given up on. Polls the catalog.
async fn watch_live(
    catalog: vault::Catalog,
    blobs: vault::BlobStore,
    sandbox: rc_sandbox::state::AppState,
    stop: tokio_util::sync::CancellationToken,
) {
    use vault::ConversationState as S;
    let mut seen: std::collections::HashMap<vault::ConversationId, S> = Default::default();
    let mut told: std::collections::HashSet<(vault::ConversationId, S)> = Default::default();
    let mut first = true;
    loop {
        match catalog.list_conversations(None, 100, 0).await {
            Ok(list) => {
                for conv in list {
                    let before = seen.insert(conv.id.clone(), conv.state);
                    // Each session of a transfer settles the conversation
                    // again: say each state of it once.
                    if first
                        || before == Some(conv.state)
                        || !told.insert((conv.id.clone(), conv.state))
                    {
                        continue;
                    }
                    let sessions = conv.sessions.len();
                    match conv.state {
                        S::Waiting | S::Ended if before.is_none() => println!(
                            "call ended: {} ({sessions} session{}); backing it up",
                            conv.id,
                            if sessions == 1 { "" } else { "s" }
                        ),
                        S::Ended if before == Some(S::Waiting) => {
                            println!("ended: {} (nothing was recorded)", conv.id);
                        }
                        S::Single => println!("backed up: {} (one recording)", conv.id),
                        S::Stitched => {
                            let legs = conv
                                .manifest
                                .as_ref()
                                .and_then(|m| m["legs"].as_array().map(Vec::len))
                                .unwrap_or(0);
                            let order = match &conv.stitched_key {
                                Some(key) => match markers_in(&blobs, key).await {
                                    Ok(heard)
                                        if heard == truth_markers(&sandbox, conv.id.as_str()) =>
                                    {
                                        "legs in the ground-truth order"
                                    }
                                    Ok(_) => "legs NOT in the ground-truth order",
                                    Err(_) => "could not decode it",
                                },
                                None => "no file",
                            };
                            println!(
                                "stitched: {} ({legs} legs) into {}; {order}",
                                conv.id,
                                conv.stitched_key.as_ref().map_or("?", |k| k.as_str())
                            );
                        }
                        S::Incomplete => println!(
                            "incomplete: {}: {}",
                            conv.id,
                            conv.reason.as_deref().unwrap_or("no reason given")
                        ),
                        _ => {}
                    }
                }
                first = false;
            }
            Err(e) => tracing::warn!(error = %e, "reading the catalog for the live view"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}

/// Creates (or resets) the demo admin login and returns its new password.
async fn demo_user(catalog: &vault::Catalog) -> anyhow::Result<String> {
    const USER: &str = "demo";
    let password: String = {
        use rand::Rng;
        const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
        let mut rng = rand::rng();
        (0..12)
            .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
            .collect()
    };
    let hash = crate::web::auth::password::hash_password(&password)
        .context("hashing the demo password")?;
    if catalog.user_by_name(USER).await?.is_some() {
        catalog.set_password_hash(USER, &hash).await?;
    } else {
        catalog
            .create_user(&vault::users::NewUser {
                name: USER.into(),
                password_hash: hash,
                role: vault::users::Role::Admin,
                extensions: Vec::new(),
            })
            .await?;
    }
    Ok(password)
}

/// The leg markers heard in a stored audio file, in order.
async fn markers_in(blobs: &vault::BlobStore, key: &vault::StorageKey) -> anyhow::Result<Vec<u32>> {
    let size = blobs.head(key).await?.map(|m| m.size).unwrap_or(0);
    let bytes = blobs.get_range(key, 0..size).await?;
    tokio::task::spawn_blocking(move || markers_heard(bytes)).await?
}

/// The sandbox leg markers (DTMF) heard in an audio file, in order: how the
/// demo and the live tests check by ear that a stitched file plays its legs
/// in the ground-truth order. Blocking (decodes the whole file).
pub fn markers_heard(bytes: bytes::Bytes) -> anyhow::Result<Vec<u32>> {
    let mut pcm = Vec::new();
    let mut rate = 8000;
    stitch::decode::decode_mono(std::io::Cursor::new(bytes), |r, block| {
        rate = r;
        pcm.extend_from_slice(block);
        Ok(())
    })?;
    Ok(rc_sandbox::audio::detect_markers(&pcm, rate))
}

/// The markers a stitched file of the conversation that starts with
/// `session` must contain, in order.
fn truth_markers(sandbox: &rc_sandbox::state::AppState, session: &str) -> Vec<u32> {
    let world = sandbox.world();
    world
        .conversations
        .iter()
        .find(|c| c.sessions.iter().any(|s| s.telephony_session_id == session))
        .map(|c| c.ordered_recordings().map(|r| r.marker).collect())
        .unwrap_or_default()
}
