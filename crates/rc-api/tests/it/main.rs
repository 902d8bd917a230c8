//! The one integration-test binary of rc-api.

/// Every official sample payload parses into the right model.
mod fixtures;
/// Against the real simulator, in-process.
mod sandbox;
/// Specific wire behaviours reproduced with tiny loopback servers.
mod wire;
