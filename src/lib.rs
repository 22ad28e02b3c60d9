//! modelbench: spec → bench.lock → verifying Dockerfiles.
//!
//! The pipeline (see README): a hand-written spec (`specs/*.toml`) is resolved by
//! [`resolve`] into a deterministic lock ([`lock`]); [`emit`] turns spec + lock into a
//! build context that fetches exactly the locked bytes and fails closed.

pub mod against_upstream;
pub mod audit;
pub mod bump;
pub mod check_image;
pub mod cli;
pub mod completions;
pub mod emit;
pub mod emit_command;
pub mod image_ref;
pub mod import_pei;
pub mod init;
pub mod lock;
pub mod lock_command;
pub mod net;
pub mod platform;
pub mod resolve;
pub mod runtime;
pub mod sbom;
pub mod sources;
pub mod spec;
pub mod tools;
pub mod verify;
pub mod versions;
pub mod why;
pub mod workspace;
