//! The one integration-test binary: one module per command or concern.

mod support;

mod against_upstream;
mod apt;
mod apt_build;
mod audit;
mod build;
mod bump;
mod conda;
mod conda_build;
mod docker;
mod emit;
mod faults;
mod fuzz_regressions;
mod golden;
mod hermetic;
mod hostile;
mod hostile_emit;
mod init;
mod lint;
mod lock;
mod npm;
mod npm_build;
mod peer_conda_version;
mod peer_docker_reference;
mod spec;
mod tampered;
mod tools;
mod tour;
mod ux;
mod verify;
mod world_selftest;
