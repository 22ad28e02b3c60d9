//! The one integration-test binary: one module per command or concern.

mod support;

mod apt;
mod apt_build;
mod build;
mod bump;
mod emit;
mod hermetic;
mod lock;
mod peer_docker_reference;
mod spec;
mod tools;
mod tour;
mod ux;
mod world_selftest;
