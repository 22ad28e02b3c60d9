//! The README's five-minute tour, run for real against the loopback world: prints each
//! command and its output. `cargo test --test it tour -- --ignored --nocapture` refreshes
//! what the README shows.

use crate::support::project::Project;
use crate::support::registry::{self, IndexKind};
use crate::support::world::FixtureRelease;

#[test]
#[ignore = "prints the README tour; run by hand"]
fn tour() {
    let Some(registry) = registry::shared() else {
        return;
    };
    let up = crate::tools::upstreams();
    up.world.github_release_fixture(
        "Watfaq",
        "clash-rs",
        &[FixtureRelease::new("v0.10.7", "2026-06-01T10:00:00Z")
            .asset("clash-rs-x86_64-unknown-linux-musl", b"0.10.7".to_vec())],
    );
    registry.push_two_platform_index(
        "nvidia/cuda",
        "12.8.1-cudnn-devel-ubuntu24.04",
        IndexKind::Oci,
    );
    let project = Project::new();
    project.spec(&format!(
        r#"[image]
name = "ig-model-bench"
tag = "cu128"
platforms = ["linux/amd64"]
gpu = true

[base]
image = "{}/nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04"

[[users]]
name = "peid"
uid = 3100
gid = 1100

[stage-2]
tools.node = {{ version = "lts", user = "peid" }}
tools.uv = {{ version = "latest", user = "peid" }}

[stage-2.release.clash-rs]
repo = "Watfaq/clash-rs"
version = "latest"
asset = "clash-rs-{{triple}}"
dest = "/hard/image/app/clash/clash-rs"
"#,
        registry.host()
    ));
    project
        .sources_file()
        .tools(&up.world)
        .registry(registry.host())
        .write();
    let show = |args: &[&str]| {
        let output = project.run(args);
        println!(
            "$ modelbench {}\n{}{}",
            args.join(" "),
            output.stdout,
            output.stderr
        );
    };
    show(&["lock", "specs/test.toml", "--sources", "sources.toml"]);
    show(&["emit", "specs/test.toml", "--locked"]);
    show(&["lock", "specs/test.toml", "--check"]);
    std::fs::copy(project.lock_path(), project.path("old.lock")).unwrap();
    up.world.github_release_fixture(
        "Watfaq",
        "clash-rs",
        &[
            FixtureRelease::new("v0.10.7", "2026-06-01T10:00:00Z")
                .asset("clash-rs-x86_64-unknown-linux-musl", b"0.10.7".to_vec()),
            FixtureRelease::new("v0.10.8", "2026-07-23T10:00:00Z")
                .asset("clash-rs-x86_64-unknown-linux-musl", b"0.10.8".to_vec()),
        ],
    );
    show(&["bump", "specs/test.toml", "--sources", "sources.toml"]);
    show(&["diff", "old.lock", "lock/test/bench.lock"]);
    show(&["why", "nvm", "specs/test.toml"]);
}
