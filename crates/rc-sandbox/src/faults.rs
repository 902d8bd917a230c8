//! Switchable faults with rates: 5xx, resets, truncated and slow bodies,
//! revoked tokens, deleted recordings, webhook duplicates and reordering.
//!
//! STUB — to be completed by the REST owner (HTTP faults) and the live owner
//! (webhook faults).

/// Fault rates in [0, 1]; all zero by default.
#[derive(Debug, Clone, Default)]
pub struct FaultConfig {}

/// Live fault switches, changeable through the control API.
#[derive(Debug, Default)]
pub struct Faults {}
