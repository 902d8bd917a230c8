//! Rate limiting: groups, the headers that describe them, and the
//! process-wide [`Scheduler`] every request goes through.

mod groups;
mod scheduler;

pub use groups::{Endpoint, MAX_HEADER_DURATION, RateGroup, RateHeaders};
pub use scheduler::{GroupMetrics, Permit, Scheduler, SchedulerConfig};
