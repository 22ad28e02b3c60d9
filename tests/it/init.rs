//! `modelbench init` and a newcomer's first commands (issue 21): the starter spec is
//! written once and validates, `lock/` and `.gitignore` come with it, nothing that exists
//! is replaced, the commands that follow find the spec, and errors say each cause once.

use std::path::Path;

use crate::support::project::Project;
use crate::support::registry::{self, IndexKind};
use crate::support::run_fail;

fn init(project: &Project, args: &[&str]) -> crate::support::Output {
    let mut full = vec!["init"];
    full.extend_from_slice(args);
    let output = project.run(&full);
    if !output.success() {
        output.print("modelbench init");
        panic!("init failed");
    }
    output
}

#[test]
fn init_writes_a_starter_spec_lock_dir_and_gitignore_and_prints_the_next_commands() {
    let project = Project::new();
    let output = init(&project, &["gpu-box"]);
    assert_eq!(
        output.stderr,
        "     Created specs/gpu-box.toml, lock/, .gitignore in gpu-box\n"
    );
    assert_eq!(
        output.stdout,
        "Next:\n  cd gpu-box && modelbench lock specs/gpu-box.toml    # pin every piece in lock/gpu-box/bench.lock\n  cd gpu-box && modelbench emit specs/gpu-box.toml    # write the build context to build/gpu-box/\n"
    );
    let spec = project.read("gpu-box/specs/gpu-box.toml");
    assert!(spec.contains("name = \"gpu-box\""), "{spec}");
    assert!(
        spec.contains("[[users]]") && spec.contains("tools.uv"),
        "{spec}"
    );
    assert!(project.path("gpu-box/lock").is_dir());
    assert_eq!(
        project.read("gpu-box/.gitignore"),
        "# build contexts written by `modelbench emit`\n/build/\n"
    );

    // The commands that follow find the one spec without being told; `lock --offline`
    // gets past parsing and validation and stops only at the network.
    let dir = project.path("gpu-box");
    let mut lock = project.command(&["lock", "--offline"]);
    lock.current_dir(&dir);
    let output = run_fail(&mut lock);
    assert!(
        output
            .stderr
            .starts_with("error: --offline: these need the network to resolve: "),
        "{}",
        output.stderr
    );
    output.assert_stderr_contains("github-release `uv`");
    let mut check = project.command(&["lock", "--check"]);
    check.current_dir(&dir);
    assert_eq!(
        run_fail(&mut check).stderr,
        "error: no lock at lock/gpu-box/bench.lock; run `modelbench lock`\n"
    );
}

#[test]
fn init_never_replaces_a_file_and_keeps_an_existing_gitignore() {
    let project = Project::new();
    project.write(".gitignore", "target/\n*.log");
    init(&project, &["--name", "bench"]);
    // Another project's lines stay, the build outputs are added once.
    assert_eq!(
        project.read(".gitignore"),
        "target/\n*.log\n# build contexts written by `modelbench emit`\n/build/\n"
    );
    let written = project.read("specs/bench.toml");
    project.write("specs/bench.toml", "# my own edits\n");
    let again = project.run(&["init", "--name", "bench"]);
    assert_eq!(again.status, Some(1));
    assert!(
        again
            .stderr
            .starts_with("error: specs/bench.toml exists; `init` never replaces a file"),
        "{}",
        again.stderr
    );
    assert_eq!(project.read("specs/bench.toml"), "# my own edits\n");
    assert!(written.contains("name = \"bench\""));
    // A second spec beside the first: `.gitignore` already names the outputs.
    let other = init(&project, &["--name", "other"]);
    assert_eq!(other.stderr, "     Created specs/other.toml, lock/ in .\n");
    assert_eq!(project.read(".gitignore").matches("/build/").count(), 1);
    // Two specs and neither is the default: commands ask for one by name.
    let output = project.run(&["lock", "--offline"]);
    assert_eq!(
        output.stderr,
        "error: no spec named and 2 in specs/ (specs/bench.toml, specs/other.toml); name one: `modelbench <command> SPEC`\n"
    );
}

#[test]
fn init_refuses_a_name_that_cannot_name_an_image() {
    let project = Project::new();
    let output = project.run(&["init", "--name", "My Bench"]);
    assert_eq!(output.status, Some(1));
    assert!(
        output
            .stderr
            .starts_with("error: `--name My Bench`: use lowercase letters"),
        "{}",
        output.stderr
    );
    assert!(!project.exists("specs"), "nothing written");
}

#[test]
fn init_from_pei_is_the_importer() {
    let project = Project::new();
    let source =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pei/minimal/user_config.yml");
    project.write(
        "pei/user_config.yml",
        &std::fs::read_to_string(source).unwrap(),
    );
    init(
        &project,
        &["--name", "minimal", "--from-pei", "pei/user_config.yml"],
    );
    let spec = project.read("specs/minimal.toml");
    let imported = project.run(&["import-pei", "pei/user_config.yml"]);
    assert!(imported.success(), "{}", imported.stderr);
    assert_eq!(
        spec, imported.stdout,
        "init --from-pei writes what import-pei prints"
    );
    assert!(project.path("lock").is_dir());
}

#[test]
fn init_lock_in_a_new_directory_says_how_to_start() {
    let project = Project::new();
    let output = project.run(&["lock"]);
    assert_eq!(
        output.stderr,
        "error: no spec named and none in specs/; start one with `modelbench init` (or `modelbench init --from-pei user_config.yml`), or name it: `modelbench <command> SPEC`\n"
    );
}

#[test]
fn init_errors_print_each_cause_once() {
    let project = Project::new();
    let output = project.run(&["lock", "specs/nope.toml"]);
    assert_eq!(
        output.stderr,
        "error: cannot read spec `specs/nope.toml`: No such file or directory (os error 2)\n"
    );
}

/// The README's first commands on the starter spec, against the loopback world: `init`,
/// `lock` (base image from the local registry as docker.io, uv from the fixture GitHub),
/// `emit`. The starter's apt list is dropped first: its packages come from Ubuntu's
/// archive, which has no loopback stand-in here (tests/it/apt.rs covers apt closures).
#[test]
fn init_then_lock_and_emit_the_starter_spec() {
    let up = crate::tools::upstreams();
    let registry = registry::shared_required();
    registry.push_two_platform_index("library/ubuntu", "24.04", IndexKind::Oci);
    let project = Project::new();
    init(&project, &["--name", "starter"]);
    let spec = project.read("specs/starter.toml");
    let start = spec.find("apt = [").expect("the starter has an apt list");
    let end = start + spec[start..].find("]\n").unwrap() + 2;
    project.write(
        "specs/starter.toml",
        &format!("{}{}", &spec[..start], &spec[end..]),
    );
    project
        .sources_file()
        .tools(&up.world)
        .registry(registry.host())
        .registry_at("docker.io", format!("http://{}", registry.host()))
        .write();

    let output = project.run(&["lock", "--sources", "sources.toml"]);
    assert!(output.success(), "{}", output.stderr);
    let lock = project.read("lock/starter/bench.lock");
    assert!(lock.contains("name = \"uv\""), "{lock}");
    assert!(lock.contains("requested = \"ubuntu:24.04\""), "{lock}");
    let output = project.run(&["emit", "--locked"]);
    assert!(output.success(), "{}", output.stderr);
    assert!(project.path("build/starter/build.sh").is_file());
    assert!(
        output.stderr.contains("Emitted") && output.stderr.contains("build/starter"),
        "{}",
        output.stderr
    );
}
