//! A typed RingCentral client.
//!
//! # Brief overview
//! (to be written with the crate: auth and token rotation, call-log paging,
//! streamed recording downloads, subscriptions, the rate-limit `Scheduler`.)
//!
//! # Does not
//! Touch disk, database or audio; share model code with `rc-sandbox`.
#![warn(missing_docs)]
