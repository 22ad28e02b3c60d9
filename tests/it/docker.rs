//! The emitted build under the Docker Engine, as a Docker user runs it: `build.sh` with
//! BuildKit (`DOCKER_BUILDKIT=1`) and with the classic builder (`DOCKER_BUILDKIT=0`),
//! `docker compose build` and `docker compose run --rm self-check` (Compose v2) with the
//! emitted compose file, and a tampered download failing each of them by name. The
//! images are the backbone image of `build.rs`, the Debian tools image of `hermetic.rs`
//! and the pixi-global image of `conda_build.rs` (its pixi is a stand-in run by this
//! machine's python, which its base holds here), set up by those modules; the daemon is
//! `support::docker`'s.
//!
//! Builds pass `--network host` (compose: `build.network: host` in an override file):
//! the loopback world and registry listen on this machine's 127.0.0.1, which a build
//! container on docker's default bridge cannot reach. Everything else is the emitted
//! files as they are.

use std::path::Path;
use std::process::Command;

use crate::conda_build::{self, HostPython};
use crate::support::buildah::debian_base;
use crate::support::docker::{self, Docker};
use crate::support::project::{Project, artifact, pin};
use crate::support::registry::Registry;
use crate::support::tools;
use crate::support::{Output, run, sha256_hex};

/// Which builder `docker build` uses, as a Docker user picks it.
#[derive(Clone, Copy, Debug)]
enum Builder {
    BuildKit,
    Classic,
}

impl Builder {
    fn env(self) -> &'static str {
        match self {
            Builder::BuildKit => "1",
            Builder::Classic => "0",
        }
    }
}

/// `sh build.sh --network host <extra>` with `builder`, against the test daemon.
fn build_sh(docker: &Docker, out: &Path, builder: Builder, extra: &[&str]) -> Output {
    let mut cmd = Command::new("sh");
    docker
        .env(&mut cmd)
        .arg(out.join("build.sh"))
        .args(["--network", "host"])
        .args(extra)
        .env("DOCKER_BUILDKIT", builder.env());
    let output = run(&mut cmd);
    if !output.success() {
        output.print(&format!("build.sh with {builder:?}"));
    }
    output
}

/// `docker compose -f docker-compose.yml -f <network override> <args>` in `out`.
fn compose(docker: &Docker, out: &Path, args: &[&str]) -> Output {
    let network = out.join("compose.network-host.yml");
    std::fs::write(
        &network,
        "services:\n  stage-1:\n    build:\n      network: host\n  stage-2:\n    build:\n      network: host\n",
    )
    .unwrap();
    let mut cmd = docker.command(&["compose", "-f", "docker-compose.yml", "-f"]);
    cmd.arg(&network).args(args).current_dir(out);
    let output = run(&mut cmd);
    if !output.success() {
        output.print(&format!("docker compose {args:?}"));
    }
    output
}

/// The image's own self-check through compose: every check passes, none fails.
fn compose_self_check(docker: &Docker, out: &Path, expect: &[&str]) {
    let check = compose(docker, out, &["run", "--rm", "self-check"]);
    assert!(check.success(), "{}", check.combined());
    assert!(
        check.stdout.contains(" checks, ") && !check.stdout.contains("fail "),
        "{}",
        check.stdout
    );
    for line in expect {
        assert!(
            check.stdout.contains(line),
            "`{line}` missing:\n{}",
            check.stdout
        );
    }
    compose(docker, out, &["down"]);
}

fn remove_images(docker: &Docker, images: &[&str]) {
    let mut args = vec!["rmi", "--force"];
    args.extend_from_slice(images);
    // Absent images are fine: only a build may bring them back.
    let _ = run(&mut docker.command(&args));
}

/// Every regular file of `image` (outside the mounts docker adds) with its mode, owner,
/// size and sha256, sorted.
fn file_table(docker: &Docker, image: &str) -> String {
    let script = "find / -xdev \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o -type f -print \
                  | grep -v -x -e /etc/hosts -e /etc/hostname -e /etc/resolv.conf | sort \
                  | while read -r f; do echo \"$(stat -c '%a %u:%g %s' \"$f\") $(sha256sum \"$f\")\"; done";
    docker
        .ok(&[
            "run",
            "--rm",
            "--entrypoint",
            "/bin/sh",
            image,
            "-c",
            script,
        ])
        .stdout
}

/// The image's creation time and its layers' diff IDs.
fn layers(docker: &Docker, image: &str) -> String {
    docker
        .ok(&[
            "image",
            "inspect",
            "--format",
            "created {{.Created}}, layers {{json .RootFS.Layers}}",
            image,
        ])
        .stdout
        .trim()
        .to_string()
}

fn tampered_build_fails(text: &str, name: &str, expected: &str, got: &[u8]) {
    assert!(
        text.contains(&format!("sha256 mismatch for `{name}`")),
        "the failure names `{name}`:\n{text}"
    );
    assert!(text.contains(&format!("expected {expected}")), "{text}");
    assert!(
        text.contains(&format!("got sha256:{}", sha256_hex(got))),
        "{text}"
    );
}

fn locked_hash(project: &Project, kind: &str, name: &str) -> String {
    let lock = project.lock_toml();
    pin(artifact(&lock, kind, name), "linux/amd64")["hash"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn docker_emitted_dockerfiles_need_no_frontend_image() {
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("skipped: the fixture platform is linux/amd64");
        return;
    }
    // The backbone project's base is the tiny busybox image, built with buildah.
    if !tools::require_all(&[tools::TINY_BUILD]) {
        return;
    }
    let b = crate::build::locked_and_emitted();
    let out = b.project.out_dir();
    for file in [
        "stage-1.Dockerfile",
        "stage-2.Dockerfile",
        "merged.Dockerfile",
    ] {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        // A parser directive is a `# key=value` comment before the first instruction;
        // `syntax` makes BuildKit pull that frontend image, which no lock pins.
        let directives: Vec<&str> = text
            .lines()
            .take_while(|l| l.starts_with('#'))
            .filter(|l| l.trim_start_matches('#').trim().starts_with("syntax"))
            .collect();
        assert!(directives.is_empty(), "{file}: {directives:?}");
        // Nothing the built-in frontend of Docker 20.10's BuildKit lacks.
        assert!(!text.contains("<<"), "{file} has a heredoc");
        assert!(!text.contains("--mount="), "{file} has RUN --mount");
    }
}

/// The backbone image: built by `build.sh` with BuildKit and with the classic builder,
/// then by `docker compose build`, each checked in a container; then the asset changes
/// upstream and each of the three fails naming it.
#[test]
fn docker_builds_the_backbone_image_with_buildkit_classic_and_compose_and_fails_when_tampered() {
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("skipped: the fixture platform is linux/amd64");
        return;
    }
    let Some(docker) = docker::shared() else {
        return;
    };
    let started = std::time::Instant::now();
    // The backbone project's base is the tiny busybox image, built with buildah.
    if !tools::require_all(&[tools::TINY_BUILD]) {
        return;
    }
    let b = crate::build::locked_and_emitted();
    let out = b.project.out_dir();
    let locked = locked_hash(&b.project, "github-release", "clash-rs");
    let images = ["mb-build:t1", "mb-build:t1-stage-1"];
    remove_images(docker, &images);

    for builder in [Builder::BuildKit, Builder::Classic] {
        let build = build_sh(docker, &out, builder, &[]);
        assert!(build.success(), "build.sh with {builder:?} must succeed");
        let log = build.combined();
        assert!(log.contains(") verified sha256:"), "{builder:?}:\n{log}");
        // The image's self-check, the last build step.
        assert!(
            log.contains("ok   clash-rs at /hard/image/app/clash/clash-rs: "),
            "{builder:?}:\n{log}"
        );
        let check = docker.ok(&[
            "run",
            "--rm",
            "mb-build:t1",
            "sh",
            "-c",
            "sha256sum /hard/image/app/clash/clash-rs; cat /soft/app/clash/config.yaml",
        ]);
        assert!(
            check.stdout.contains(locked.trim_start_matches("sha256:")),
            "{builder:?}: {}",
            check.stdout
        );
        check.assert_stdout_contains("mixed-port: 7890");
        // Again from scratch: what a second build of one lock gives on this engine.
        let first = (
            docker.image_id("mb-build:t1"),
            file_table(docker, "mb-build:t1"),
            layers(docker, "mb-build:t1"),
        );
        let again = build_sh(docker, &out, builder, &["--no-cache"]);
        assert!(again.success(), "the second {builder:?} build must succeed");
        let second = (
            docker.image_id("mb-build:t1"),
            file_table(docker, "mb-build:t1"),
            layers(docker, "mb-build:t1"),
        );
        // Every file's bytes, mode and owner are the lock's; the image ID is the engine's
        // (Docker 20.10 stamps the build's clock into the config: see the README).
        assert!(
            first.1.contains(&format!(
                "755 0:0 {} {}  /hard/image/app/clash/clash-rs\n",
                crate::build::CLASH.len(),
                locked.trim_start_matches("sha256:")
            )),
            "{builder:?}: the file table lists the asset:\n{}",
            first.1
        );
        assert_eq!(first.1, second.1, "{builder:?}: the files differ");
        let same = |same: bool| if same { "same" } else { "different" };
        println!(
            "docker: {builder:?} builds of one lock: image IDs {} and {} ({}), layers {}, files identical\n  {}\n  {}",
            first.0,
            second.0,
            same(first.0 == second.0),
            same(first.2 == second.2),
            first.2,
            second.2,
        );
        remove_images(docker, &images);
    }

    remove_images(docker, &images);
    // Both services at once, as a Docker user types it.
    let build = compose(docker, &out, &["build"]);
    assert!(build.success(), "docker compose build must succeed");
    compose_self_check(
        docker,
        &out,
        &["ok   clash-rs at /hard/image/app/clash/clash-rs: "],
    );

    // The same image with `gpu = true`: `self-check` reserves the GPU as `up` does, which
    // this machine (no NVIDIA runtime) refuses; `self-check-no-gpu` checks the rest.
    let spec = b.project.read("specs/test.toml");
    b.project
        .spec(&spec.replacen("platforms = ", "gpu = true\nplatforms = ", 1));
    b.project.lock_and_emit();
    let compose_file = b.project.read("build/test/docker-compose.yml");
    assert_eq!(
        compose_file.matches("driver: nvidia").count(),
        3,
        "{compose_file}"
    );
    let gpu = compose(docker, &out, &["run", "--rm", "self-check"]);
    assert!(
        !gpu.success()
            && gpu
                .stderr
                .contains("could not select device driver \"nvidia\""),
        "{}",
        gpu.combined()
    );
    let no_gpu = compose(docker, &out, &["run", "--rm", "self-check-no-gpu"]);
    assert!(no_gpu.success(), "{}", no_gpu.combined());
    assert!(
        no_gpu
            .stdout
            .contains("ok   clash-rs at /hard/image/app/clash/clash-rs: "),
        "{}",
        no_gpu.stdout
    );
    compose(docker, &out, &["down"]);

    // Upstream now serves other bytes under the locked URL: every build fails, naming it.
    let mut tampered = crate::build::CLASH.to_vec();
    tampered[12] ^= 0x01;
    b.world.replace_body(
        &format!(
            "/github/Watfaq/clash-rs/releases/download/v0.10.8/{}",
            crate::build::ASSET
        ),
        tampered.clone(),
    );
    for builder in [Builder::BuildKit, Builder::Classic] {
        let build = build_sh(docker, &out, builder, &["--no-cache"]);
        assert!(
            !build.success(),
            "a tampered asset must fail the {builder:?} build"
        );
        tampered_build_fails(&build.combined(), "clash-rs", &locked, &tampered);
    }
    let build = compose(docker, &out, &["build", "--no-cache", "stage-2"]);
    assert!(
        !build.success(),
        "a tampered asset must fail docker compose build"
    );
    tampered_build_fails(&build.combined(), "clash-rs", &locked, &tampered);
    remove_images(docker, &images);
    println!(
        "docker: backbone image tests took {}s",
        started.elapsed().as_secs()
    );
}

/// The Debian tools image (users, apt closure, node with nvm, an npm global, bun and a
/// bun global where this machine has a real bun, a release asset): built by `build.sh`
/// with BuildKit and with the classic builder, then by `docker compose build`, each
/// checked by the image's self-check; a changed byte in a locked `.deb` then fails each.
/// (Its pixi global is built on a base of its own by
/// `docker_builds_a_pixi_global_image_with_buildkit_and_classic_and_fails_when_tampered`:
/// the pixi stand-in runs this machine's python, which `docker build` cannot mount, so
/// that image's base holds a copy of it.)
#[test]
fn docker_builds_the_debian_tools_image_with_buildkit_classic_and_compose_and_fails_when_tampered()
{
    let Some(docker) = docker::shared() else {
        return;
    };
    let Some(tools) = crate::hermetic::debian_tools_image("mb-docker-tools") else {
        return;
    };
    let started = std::time::Instant::now();
    let project = &tools.project;
    project.emit_ok(&["--locked"]);
    let out = project.out_dir();
    let images = ["mb-docker-tools:t1", "mb-docker-tools:t1-stage-1"];
    remove_images(docker, &images);
    let mut lines = vec![
        "install-debs: dpkg matches the lock: 3 package(s) installed",
        "setup-users: peid (uid 3100, gid 1100) ready",
        "install-npm-global: mb-hello for peid: 4 packages as locked",
        "ok   clash-rs at /hard/image/app/clash/clash-rs: ",
    ];
    if tools.bun {
        lines.push("install-npm-global: mb-search-mcp for peid: 2 packages as locked");
    }
    for builder in [Builder::BuildKit, Builder::Classic] {
        let build_started = std::time::Instant::now();
        let build = build_sh(docker, &out, builder, &[]);
        assert!(build.success(), "build.sh with {builder:?} must succeed");
        let log = build.combined();
        for line in &lines {
            assert!(log.contains(line), "{builder:?}: `{line}` missing:\n{log}");
        }
        // At run time, as peid in a login shell: the npm global CLI runs.
        let hello = docker.ok(&[
            "run",
            "--rm",
            "mb-docker-tools:t1",
            "su",
            "-",
            "peid",
            "-c",
            "command -v mb-hello && node --version",
        ]);
        assert!(hello.stdout.contains("mb-hello"), "{}", hello.combined());
        println!(
            "docker: the Debian tools image with {builder:?} in {}s",
            build_started.elapsed().as_secs()
        );
        remove_images(docker, &images);
    }

    let compose_started = std::time::Instant::now();
    let build = compose(docker, &out, &["build"]);
    assert!(build.success(), "docker compose build must succeed");
    compose_self_check(
        docker,
        &out,
        &["ok   clash-rs at /hard/image/app/clash/clash-rs: "],
    );
    println!(
        "docker: the Debian tools image with compose in {}s",
        compose_started.elapsed().as_secs()
    );

    // One changed byte in a locked .deb (stage 1): each build fails, naming it.
    let (_, pool, bytes) = tools
        .debs
        .iter()
        .find(|d| d.0.name == "mb-libgreet")
        .unwrap();
    let mut tampered = bytes.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    tools
        .world
        .replace_body(&format!("/debian/{pool}"), tampered.clone());
    let expected = format!("sha256:{}", sha256_hex(bytes));
    for builder in [Builder::BuildKit, Builder::Classic] {
        let build = build_sh(docker, &out, builder, &["--no-cache"]);
        assert!(
            !build.success(),
            "a tampered .deb must fail the {builder:?} build"
        );
        tampered_build_fails(
            &build.combined(),
            "deb:mb-libgreet_1.2-1_all",
            &expected,
            &tampered,
        );
    }
    let build = compose(docker, &out, &["build", "--no-cache", "stage-1"]);
    assert!(
        !build.success(),
        "a tampered .deb must fail docker compose build"
    );
    tampered_build_fails(
        &build.combined(),
        "deb:mb-libgreet_1.2-1_all",
        &expected,
        &tampered,
    );
    remove_images(docker, &images);
    println!(
        "docker: Debian tools image tests took {}s",
        started.elapsed().as_secs()
    );
}

/// A spec for two platforms: `build.sh` hands both to `docker buildx build --platform
/// a,b` when buildx answers (here the engine's own builder then refuses a multi-platform
/// image, which needs a BuildKit container or the containerd image store), and without
/// buildx stops before building, naming the choice.
#[test]
fn docker_build_sh_builds_several_platforms_with_buildx_or_says_what_to_do() {
    let Some(docker) = docker::shared() else {
        return;
    };
    let registry = crate::support::registry::shared_required();
    let base = registry.push_base("modelbench-test/docker-two-platforms");
    let project = Project::new();
    project.spec(&format!(
        r#"[image]
name = "mb-two"
tag = "t1"
platforms = ["linux/amd64", "linux/arm64"]

[base]
image = "{base}"
"#,
    ));
    project.sources_file().registry(registry.host()).write();
    let out = project.lock_and_emit();

    // With buildx: one `docker buildx build` for both platforms.
    let build = build_sh(docker, &out, Builder::BuildKit, &[]);
    assert!(!build.success());
    let text = build.combined();
    assert!(
        text.contains("ulti-platform build is not supported for the docker driver"),
        "{text}"
    );
    assert!(
        !text.contains("build: the image is for several platforms"),
        "{text}"
    );

    // A docker client without buildx (as some machines' /usr/local/bin/docker is).
    let shim = crate::support::temp_dir();
    let no_buildx = shim.path().join("docker");
    std::fs::write(
        &no_buildx,
        format!(
            "#!/bin/sh\n[ \"$1\" = buildx ] && {{ echo \"docker: 'buildx' is not a docker command.\" >&2; exit 1; }}\nexec {} \"$@\"\n",
            docker::DOCKER
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&no_buildx, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = Command::new("sh");
    docker.env(&mut cmd).arg(out.join("build.sh"));
    let path = format!(
        "{}:{}",
        shim.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let build = run(cmd.env("PATH", path));
    assert_eq!(build.status, Some(1), "{}", build.combined());
    assert!(
        build.stderr.contains(
            "build: the image is for several platforms (linux/amd64,linux/arm64) and `docker build` builds one;"
        ) && build.stderr.contains("install the docker buildx plugin")
            && build.stderr.contains("MODELBENCH_PLATFORMS=linux/amd64 "),
        "{}",
        build.stderr
    );
}

/// Where [`python_base`] pushes, under the registry host.
const PYTHON_BASE_REPO: &str = "modelbench-test/debian-mb-python";

/// The Debian test base (`buildah::debian_base`) with this machine's python at
/// `conda_build::PYTHON_MOUNT` ([`conda_build::copy_python`]), built by `docker` and
/// pushed to `registry`, for the pixi stand-in: `docker build` cannot mount a host
/// directory into a build as the buildah test does. (Built by this daemon rather than
/// buildah: on overlay2 it takes half the time buildah's vfs store does.)
fn python_base(docker: &Docker, registry: &Registry, python: &HostPython) -> String {
    let started = std::time::Instant::now();
    let context = crate::support::temp_dir();
    let bytes = conda_build::copy_python(python, &context.path().join("python"));
    std::fs::write(
        context.path().join("Dockerfile"),
        format!(
            "FROM {}\nCOPY python/ {}/\n",
            debian_base(registry),
            conda_build::PYTHON_MOUNT
        ),
    )
    .unwrap();
    let reference = format!("{}/{PYTHON_BASE_REPO}:bookworm", registry.host());
    let mut build = docker.command(&["build", "--quiet", "--tag", &reference]);
    let build = run(build.arg(context.path()));
    assert!(build.success(), "{}", build.combined());
    docker.ok(&["push", &reference]);
    println!(
        "docker: the python base ({} MB of {}) in {}s",
        bytes / 1_000_000,
        python.prefix.display(),
        started.elapsed().as_secs()
    );
    reference
}

/// An image with pixi-global tools: `jq`, `yq` and `gh` from the fixture conda-forge,
/// installed as `peid` by the pixi stand-in of `conda_build.rs`. Built by `build.sh`
/// with BuildKit and with the classic builder, each checked by the image's self-check
/// (in the build and at run time) and by the tools at their locked versions in a login
/// shell of `peid`; a conda file changed upstream after locking then fails each build,
/// naming it. `docker build` cannot mount the stand-in's python into the build as
/// buildah does, so the spec's base is [`python_base`]: the Debian base with this
/// machine's python in it.
#[test]
fn docker_builds_a_pixi_global_image_with_buildkit_and_classic_and_fails_when_tampered() {
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("skipped: the fixture platform is linux/amd64");
        return;
    }
    if !tools::require_all(&[tools::DEBIAN_BUILD]) || !crate::conda::oracle_available() {
        return;
    }
    let Some(docker) = docker::shared() else {
        return;
    };
    let Some(python) = conda_build::host_python() else {
        return;
    };
    let started = std::time::Instant::now();
    let registry = crate::support::registry::shared_required();
    let base = python_base(docker, registry, &python);
    let world = conda_build::pixi_world(&python);
    let project = conda_build::pixi_project(&world, registry, &base, "mb-docker-pixi");
    project.emit_ok(&["--locked"]);
    let out = project.out_dir();
    let lock = project.lock_toml();
    let version = |tool: &str| {
        artifact(&lock, "conda", tool)["version"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let images = ["mb-docker-pixi:t1", "mb-docker-pixi:t1-stage-1"];
    remove_images(docker, &images);
    println!(
        "docker: the python base and the pixi-global lock in {}s",
        started.elapsed().as_secs()
    );

    // yq's entry point runs the environment's python, whose fixture `bin/python3.12`
    // runs `python3`: the machine's, through the shim, for the test's run only.
    let dir = crate::support::temp_dir();
    let shim = conda_build::python3_shim(dir.path(), &python);
    let shim_mount = format!("{}:/usr/local/bin/python3:ro", shim.display());
    let script = "set -e\n\
        su - peid -c 'jq; yq; gh; command -v jq yq gh'\n\
        echo ---\n\
        find /home/peid/.pixi ! -user peid\n\
        echo ---\n\
        /usr/local/bin/modelbench-self-check\n";
    for builder in [Builder::BuildKit, Builder::Classic] {
        let build_started = std::time::Instant::now();
        world.clear_log();
        let build = build_sh(docker, &out, builder, &[]);
        assert!(build.success(), "build.sh with {builder:?} must succeed");
        let log = build.combined();
        for line in conda_build::BUILD_LINES {
            assert!(log.contains(line), "{builder:?}: `{line}` missing:\n{log}");
        }
        conda_build::assert_conda_files_came_through_the_mirror(&world);
        let check = docker.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--volume",
            &shim_mount,
            "--entrypoint",
            "/bin/sh",
            "mb-docker-pixi:t1",
            "-c",
            script,
        ]);
        let printed = check.combined();
        let parts: Vec<&str> = check.stdout.split("---\n").collect();
        let [login, owners, self_check] = parts[..] else {
            panic!("{builder:?}: {printed}");
        };
        assert_eq!(
            login,
            format!(
                "jq {}\nyq {}\ngh {}\n/home/peid/.pixi/bin/jq\n/home/peid/.pixi/bin/yq\n/home/peid/.pixi/bin/gh\n",
                version("jq"),
                version("yq"),
                version("gh")
            ),
            "{builder:?}: {printed}"
        );
        assert_eq!(owners, "", "{builder:?}: not peid's:\n{printed}");
        for line in [
            "ok   pixi version for peid: 0.63.2",
            "ok   pixi-global environments of peid: 16 conda package(s)",
            "ok   yq on peid's PATH: from pixi-global environment yq",
        ] {
            assert!(self_check.contains(line), "{builder:?}: {line}: {printed}");
        }
        assert!(!self_check.contains("fail"), "{builder:?}: {printed}");
        println!(
            "docker: the pixi-global image with {builder:?} in {}s",
            build_started.elapsed().as_secs()
        );
        remove_images(docker, &images);
    }

    // One locked conda file changed upstream: each build fails at its fetch, naming it.
    let file = conda_build::tamper_jq(&world, &lock);
    for builder in [Builder::BuildKit, Builder::Classic] {
        let build = build_sh(docker, &out, builder, &["--no-cache"]);
        assert!(
            !build.success(),
            "a tampered conda file must fail the {builder:?} build"
        );
        conda_build::assert_tampered_jq_failed(&build.combined(), &file);
    }
    remove_images(docker, &images);
    println!(
        "docker: pixi-global image tests took {}s",
        started.elapsed().as_secs()
    );
}
