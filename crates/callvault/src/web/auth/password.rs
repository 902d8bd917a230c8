//! argon2id password hashes as PHC strings, and [`PasswordGate`], which
//! bounds how many are checked at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use tokio::sync::Semaphore;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes `password` with argon2id (default parameters, random salt) into a
/// PHC string. CPU-heavy: call it from a blocking thread.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// A hash of a password nobody knows, verified against when the user does
/// not exist so that both cases cost the same time.
static DUMMY: LazyLock<String> =
    LazyLock::new(|| hash_password("no user has this password").unwrap_or_default());

/// Whether `password` matches the PHC string `phc` (`None`: no such user;
/// the work is still done). CPU-heavy: call it from a blocking thread.
pub fn verify_password(password: &str, phc: Option<&str>) -> bool {
    let (phc, real) = match phc {
        Some(p) => (p, true),
        None => (DUMMY.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
        && real
}

/// [`verify_password`] computing in `blocks`, which grows to the hash's
/// memory cost once and is reused by every later check on the same thread:
/// the memory a check needs is then allocated once per worker thread, not
/// once per login (the allocator did not give those back).
fn verify_in(password: &str, phc: Option<&str>, blocks: &mut Vec<argon2::Block>) -> bool {
    let (phc, real) = match phc {
        Some(p) => (p, true),
        None => (DUMMY.as_str(), false),
    };
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let version = match hash.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = argon2::Params::try_from(&hash) else {
        return false;
    };
    let needed = params.block_count();
    if blocks.len() < needed {
        blocks.resize(needed, argon2::Block::default());
    }
    let Some(memory) = blocks.get_mut(..needed) else {
        return false;
    };
    let mut out = vec![0u8; expected.as_bytes().len()];
    let computed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password.as_bytes(),
        salt.as_ref(),
        &mut out,
        memory,
    );
    use subtle::ConstantTimeEq;
    computed.is_ok() && bool::from(out.as_slice().ct_eq(expected.as_bytes())) && real
}

/// Memory one verification of `phc` needs, in MiB (argon2's `m` cost,
/// rounded up); the default parameters' 19 MiB when it cannot be read.
fn memory_mib(phc: &str) -> u32 {
    let kib = PasswordHash::new(phc)
        .ok()
        .and_then(|h| argon2::Params::try_from(&h).ok())
        .map_or(argon2::Params::DEFAULT_M_COST, |p| p.m_cost());
    kib.div_ceil(1024).max(1)
}

/// Memory one verification with the default parameters needs, in MiB.
pub const DEFAULT_HASH_MIB: u32 = argon2::Params::DEFAULT_M_COST.div_ceil(1024);

/// How many password checks may run and wait.
#[derive(Debug, Clone, Copy)]
pub struct GateLimits {
    /// Memory all concurrent checks may hold together, in MiB. Each check
    /// takes as many MiB as its hash's `m` cost (19 by default), so 64 MiB
    /// lets three default checks run at once.
    pub memory_budget_mib: u32,
    /// Logins that may wait for a turn; more are shed with 503.
    pub max_waiting: usize,
    /// Longest wait for a turn before the login is shed.
    pub max_wait: Duration,
}

impl Default for GateLimits {
    fn default() -> Self {
        GateLimits {
            memory_budget_mib: 64,
            max_waiting: 64,
            max_wait: Duration::from_secs(10),
        }
    }
}

/// Why a password could not be checked now.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// Too many logins are waiting, or the wait was too long: try later.
    #[error("too many password checks waiting")]
    Busy,
    /// No password-check thread answered (one panicked or none started).
    #[error("the password-check threads stopped")]
    Stopped,
}

/// Runs password checks on a few dedicated threads, never holding more
/// than the memory budget at once and queueing at most a bounded number of
/// logins.
///
/// Each argon2 verification allocates its whole `m` cost (19 MiB by
/// default) for its duration; unbounded, 60 concurrent failed logins took
/// a server from 35 MB to over 1 GB. The gate is a semaphore of one permit
/// per MiB of the budget: a check takes its hash's MiB before it starts.
///
/// The checks run on `budget / 19 MiB` threads of their own, not on Tokio's
/// blocking pool: the allocator keeps freed memory in per-thread arenas, so
/// checks spread over the pool's many threads left a few hundred MiB
/// resident even with the semaphore (measured: 853 MiB after 200 logins);
/// a fixed set of threads reuses the same memory for every check.
#[derive(Debug, Clone)]
pub struct PasswordGate {
    jobs: std::sync::mpsc::Sender<Check>,
    permits: Arc<Semaphore>,
    budget_mib: u32,
    waiting: Arc<AtomicUsize>,
    limits: GateLimits,
}

/// One password check for a worker thread, and where to answer.
struct Check {
    password: String,
    phc: Option<String>,
    answer: tokio::sync::oneshot::Sender<bool>,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Check(…)")
    }
}

/// Starts `n` threads verifying the checks sent on the returned channel;
/// they end when every sender is gone.
fn spawn_workers(n: u32) -> std::sync::mpsc::Sender<Check> {
    let (send, receive) = std::sync::mpsc::channel::<Check>();
    let receive = Arc::new(std::sync::Mutex::new(receive));
    for i in 0..n.max(1) {
        let receive = receive.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("password-check-{i}"))
            .spawn(move || {
                let mut blocks = Vec::new();
                loop {
                    let next = match receive.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => return,
                    };
                    let Ok(check) = next else { return };
                    let ok = verify_in(&check.password, check.phc.as_deref(), &mut blocks);
                    let _ = check.answer.send(ok);
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start a password-check thread");
        }
    }
    send
}

/// Decrements the waiting count however the wait ends.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordGate {
    /// A gate with `limits` (a budget below one default hash still lets one
    /// check run at a time).
    pub fn new(limits: GateLimits) -> PasswordGate {
        let budget_mib = limits.memory_budget_mib.max(DEFAULT_HASH_MIB);
        PasswordGate {
            jobs: spawn_workers(budget_mib / DEFAULT_HASH_MIB),
            permits: Arc::new(Semaphore::new(budget_mib as usize)),
            budget_mib,
            waiting: Arc::new(AtomicUsize::new(0)),
            limits,
        }
    }

    /// How many default-parameter checks run at once.
    pub fn concurrent_checks(&self) -> u32 {
        self.budget_mib / DEFAULT_HASH_MIB
    }

    /// [`verify_password`] within the budget. Unknown users (`phc` `None`)
    /// are checked against a dummy hash and wait their turn the same way,
    /// so neither the time nor the 503 tells whether a name exists.
    pub async fn verify(&self, password: String, phc: Option<String>) -> Result<bool, GateError> {
        let mib = memory_mib(phc.as_deref().unwrap_or(DUMMY.as_str())).min(self.budget_mib);
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.limits.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(GateError::Busy);
        }
        let waiting = Waiting(&self.waiting);
        let permit = tokio::time::timeout(
            self.limits.max_wait,
            self.permits.clone().acquire_many_owned(mib),
        )
        .await;
        drop(waiting);
        let Ok(Ok(permit)) = permit else {
            return Err(GateError::Busy);
        };
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Check {
                password,
                phc,
                answer,
            })
            .map_err(|_| GateError::Stopped)?;
        let ok = answered.await.map_err(|_| GateError::Stopped)?;
        drop(permit);
        Ok(ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_and_nothing_else() {
        let phc = hash_password("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify_password("correct horse", Some(&phc)));
        assert!(!verify_password("wrong horse", Some(&phc)));
        assert!(!verify_password("correct horse", None));
        assert!(!verify_password("correct horse", Some("not a phc string")));
        assert_eq!(memory_mib(&phc), DEFAULT_HASH_MIB);
        let mut blocks = Vec::new();
        for _ in 0..2 {
            assert!(verify_in("correct horse", Some(&phc), &mut blocks));
            assert!(!verify_in("wrong horse", Some(&phc), &mut blocks));
            assert!(!verify_in("correct horse", None, &mut blocks));
            assert!(!verify_in("x", Some("not a phc string"), &mut blocks));
        }
    }

    #[tokio::test]
    async fn the_gate_sheds_when_its_queue_is_full() {
        let gate = PasswordGate::new(GateLimits {
            memory_budget_mib: DEFAULT_HASH_MIB,
            max_waiting: 2,
            max_wait: Duration::from_secs(60),
        });
        assert_eq!(gate.concurrent_checks(), 1);
        let checks: Vec<_> = (0..8)
            .map(|_| {
                let gate = gate.clone();
                tokio::spawn(async move { gate.verify("x".into(), None).await })
            })
            .collect();
        let mut shed = 0;
        for c in checks {
            match c.await.unwrap() {
                Ok(ok) => assert!(!ok),
                Err(GateError::Busy) => shed += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(
            shed >= 1,
            "eight checks through a queue of two: some are shed"
        );
    }
}
