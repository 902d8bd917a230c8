//! The ids the sandbox hands out, in the shapes RingCentral uses, from a
//! seeded generator so the same seed gives the same world.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `p-<session hex>-<n>`, the party id layout seen in real payloads.
pub(super) fn party_id(telephony_session_id: &str, n: u32) -> String {
    let core = telephony_session_id.trim_start_matches("s-");
    format!("p-{core}-{n}")
}

/// Deterministic id source: the same seed gives the same ids.
#[derive(Debug, Clone)]
pub(super) struct IdGen {
    rng: ChaCha8Rng,
    marker: u32,
}

impl Default for IdGen {
    fn default() -> Self {
        IdGen::new(0)
    }
}

impl IdGen {
    pub(super) fn new(seed: u64) -> IdGen {
        IdGen {
            rng: ChaCha8Rng::seed_from_u64(seed),
            marker: 0,
        }
    }

    /// A positive number with exactly `digits` digits.
    pub(super) fn numeric(&mut self, digits: u32) -> u64 {
        let lo = 10u64.pow(digits - 1);
        self.rng.random_range(lo..lo * 10)
    }

    /// 15 characters from the alphabet seen in real call-log ids (`IyQAmlV2ORKZzUA`).
    pub(super) fn record_id(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..15)
            .map(|_| char::from(ALPHABET[self.rng.random_range(0..ALPHABET.len())]))
            .collect()
    }

    /// `s-` + 32 hex digits + `z` + 10 hex digits, like `s-a0d178729c49dz1876d9b9d11z19269ec0000`.
    pub(super) fn telephony_session_id(&mut self) -> String {
        let a: u64 = self.rng.random();
        let b: u64 = self.rng.random();
        let c: u32 = self.rng.random();
        format!("s-{a:016x}{b:016x}z{c:08x}0000")
    }

    pub(super) fn next_marker(&mut self) -> u32 {
        self.marker += 1;
        self.marker
    }
}
