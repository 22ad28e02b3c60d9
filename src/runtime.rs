//! The async runtime the online commands (lock, bump, verify, audit-proxy) run on: one
//! definition, so they all start it the same way.

use anyhow::Context as _;

/// A multi-threaded tokio runtime with I/O and timers.
pub fn start() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
