//! Wire models, written from RingCentral's API reference and its official
//! samples (never shared with the simulator).
//!
//! Every model is tolerant in the two ways RingCentral needs: unknown fields
//! are ignored (serde's default), and every enumeration is "open": a value this
//! client does not know becomes `Other(String)` instead of failing the whole
//! page. Fields the spec marks optional, and fields that older samples omit,
//! are `Option`s or default to empty.

#[macro_use]
mod open_enum;

pub mod call_log;
pub mod call_log_values;
pub mod error_body;
pub mod recording;
pub mod subscription;
pub mod telephony;
pub mod token;

pub use call_log::*;
pub use call_log_values::*;
pub use error_body::*;
pub use recording::*;
pub use subscription::*;
pub use telephony::*;
pub use token::*;

open_enum! {
    /// Direction of a call or party (`Inbound` / `Outbound`).
    Direction {
        Inbound = "Inbound",
        Outbound = "Outbound",
    }
}
