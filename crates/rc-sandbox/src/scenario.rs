//! The seeded history generator: extensions, calls per day over N days,
//! recorded and transferred shares, durations.
//!
//! STUB — to be completed by the audio/scenario owner.

/// What history to generate.
#[derive(Debug, Clone)]
pub struct ScenarioConfig {
    /// Number of extensions.
    pub extensions: usize,
    /// Days of history before "now".
    pub days: u32,
    /// Total calls over those days.
    pub calls: usize,
}

impl Default for ScenarioConfig {
    fn default() -> Self {
        ScenarioConfig {
            extensions: 8,
            days: 7,
            calls: 50,
        }
    }
}
