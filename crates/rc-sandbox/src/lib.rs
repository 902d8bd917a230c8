//! A RingCentral platform you can run on loopback.
//!
//! `rc-sandbox` owns a simulation of the parts of RingCentral that CallVault
//! depends on, closely enough that a client which works here works there:
//! OAuth with rotating refresh tokens and app/user permissions (`scope`, 403
//! CMN-401), the call log with its paging, recording metadata and content on a
//! separate media host, rate-limit groups with the penalty trap, WebHook
//! subscriptions with the validation handshake and blacklisting, and
//! telephony-session notifications for live calls. It follows RingCentral's
//! published API reference and samples (response shapes, error codes, rate
//! limits) and says in each module where it has to guess.
//!
//! # Brief overview
//! - [`model::World`] holds the account, its extensions and every
//!   [`model::Conversation`]; the call log, the webhooks, the audio and the
//!   ground truth are all derived from it.
//! - [`clock::SandboxClock`] is the only source of time (real, accelerated,
//!   frozen or moved by hand).
//! - [`Sandbox::builder`] → [`SandboxBuilder::spawn`] starts the platform and
//!   media listeners in-process and returns a [`SandboxHandle`].
//! - [`state::AppState`] holds the parts (tokens, rate limiter, subscriptions,
//!   faults, clock…); each part lives in a module that knows nothing of the
//!   state or of HTTP, and the route modules ([`auth::routes`], [`gate`],
//!   [`control`], …) read the state. [`identity::TokenOwner`] is who calls.
//!
//! # Does not
//! Share any model code with the client crate (`rc-api`): if both agreed on a
//! wrong field name, no test would notice. Nor does it write to disk.
//!
//! # Example
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let sandbox = rc_sandbox::Sandbox::builder().seed(7).spawn().await?;
//! println!("platform at {}", sandbox.platform_url());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod audio;
pub mod auth;
pub mod calllog;
pub mod clock;
pub mod config;
pub mod control;
pub mod errors;
pub mod faults;
pub mod gate;
pub mod identity;
pub mod model;
pub mod observed;
pub mod permissions;
pub mod ratelimit;
pub mod recordings;
pub mod scenario;
pub mod server;
pub mod state;
pub mod subscriptions;
pub mod telephony;

pub use config::SandboxConfig;
pub use server::{Sandbox, SandboxBuilder, SandboxHandle};
