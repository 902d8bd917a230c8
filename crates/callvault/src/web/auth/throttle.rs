//! The login throttle's rule: which counters an attempt falls under and
//! their limits. The counting itself is atomic in the catalog
//! ([`vault::login_throttle`]).
//!
//! Every attempt is counted, before its password is hashed, under three
//! counters, each per 15-minute window:
//!
//! 1. this user name from this address: [`PER_USER_AND_ADDRESS`] attempts;
//! 2. this address, whatever the name: [`PER_ADDRESS`] attempts;
//! 3. this user name, from anywhere: [`PER_USER`] attempts, a much higher
//!    count, so that wrong passwords typed by a stranger elsewhere do not
//!    lock the owner out when they sign in from an address with a clean
//!    history; it only stops a guessing campaign spread over many addresses.
//!
//! An attempt over any limit is refused with 429 and not counted. A good
//! password gives its own attempt back and clears counter 1, so the owner's
//! own typos are forgiven once they get in.

use std::time::Duration;

use vault::login_throttle::AttemptLimit;

/// Attempts per user name from one address, per window.
pub const PER_USER_AND_ADDRESS: u32 = 5;
/// Attempts per client address (any user name), per window.
pub const PER_ADDRESS: u32 = 20;
/// Attempts per user name from all addresses together, per window.
pub const PER_USER: u32 = 100;
/// The counting window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// The counters of one login attempt.
#[derive(Debug, Clone)]
pub struct AttemptKeys {
    user_and_address: String,
    address: String,
    user: String,
}

impl AttemptKeys {
    /// The counters of `user` signing in from `address`.
    pub fn new(user: &str, address: &str) -> AttemptKeys {
        AttemptKeys {
            user_and_address: format!("user+address:{user}|{address}"),
            address: format!("address:{address}"),
            user: format!("user:{user}"),
        }
    }

    /// The limits to reserve, most specific first (the order every
    /// reservation takes its counters in, see [`vault::login_throttle`]).
    pub fn limits(&self) -> [AttemptLimit; 3] {
        [
            AttemptLimit {
                key: self.user_and_address.clone(),
                limit: PER_USER_AND_ADDRESS,
            },
            AttemptLimit {
                key: self.user.clone(),
                limit: PER_USER,
            },
            AttemptLimit {
                key: self.address.clone(),
                limit: PER_ADDRESS,
            },
        ]
    }

    /// Counters a successful login deletes.
    pub fn forget_on_success(&self) -> [&str; 1] {
        [&self.user_and_address]
    }

    /// Counters a successful login gives its attempt back to.
    pub fn give_back_on_success(&self) -> [&str; 2] {
        [&self.user, &self.address]
    }

    /// The per-user counter (for tests and diagnostics).
    pub fn user_key(&self) -> &str {
        &self.user
    }
}
