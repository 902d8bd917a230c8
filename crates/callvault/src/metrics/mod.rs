//! What `/metrics` reports, apart from the HTTP layer: the histogram type,
//! the Prometheus text writer and the live flow's counters.
//!
//! Both [`crate::health`] (which renders `/metrics`) and [`crate::live`]
//! (which updates the counters) use this module, and it uses neither, so
//! the two do not depend on each other through their metrics.

pub mod histogram;
pub mod live;
pub mod prometheus;

pub use histogram::{Histogram, SECONDS_BOUNDS, SIZE_BOUNDS};
pub use live::LiveMetrics;
pub use prometheus::Exposition;
