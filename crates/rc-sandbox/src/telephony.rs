//! The call engine: plays conversations on the sandbox clock and turns them
//! into telephony-session notifications (API.md §7).
//!
//! STUB — to be completed by the live owner.
