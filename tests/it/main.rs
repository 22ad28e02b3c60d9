//! The one integration-test binary: one module per command or concern.

mod support;

mod build;
mod emit;
mod lock;
mod peer_docker_reference;
mod spec;
mod tools;
mod world_selftest;
