//! "Nix-style", measured: during a build of the emitted Dockerfiles every network request
//! is served by the loopback world (access log on) and anything else is refused — the
//! build runs in its own network namespace whose only routes are socat bridges to the
//! world and the registry. Afterwards every request must be a locked URL. Rebuilding from
//! the same lock in a fresh store gives the same image digest, and locking twice under
//! random latency gives the same bytes.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::support::buildah::{Buildah, debian_base, tiny_base};
use crate::support::project::Project;
use crate::support::registry;
use crate::support::tools;
use crate::support::world::{FixtureAsset, FixtureRelease, Response, World};
use crate::support::{Output, run, sha256_hex};

/// Host side of the bridges: one `socat` per port, from a unix socket to 127.0.0.1:port.
pub(crate) struct Bridges {
    children: Vec<Child>,
    dir: tempfile::TempDir,
    ports: Vec<u16>,
}

impl Drop for Bridges {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub(crate) fn bridges(ports: &[u16]) -> Bridges {
    let dir = crate::support::temp_dir();
    let mut children = Vec::new();
    for port in ports {
        let socket = dir.path().join(format!("{port}.sock"));
        let child = Command::new("socat")
            .arg(format!("UNIX-LISTEN:{},fork", socket.display()))
            .arg(format!("TCP:127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .spawn()
            .expect("socat is installed (.ci/run installs it)");
        children.push(child);
    }
    for port in ports {
        let socket = dir.path().join(format!("{port}.sock"));
        for _ in 0..100 {
            if socket.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    Bridges {
        children,
        dir,
        ports: ports.to_vec(),
    }
}

/// `buildah bud` in a fresh network namespace: loopback only, plus the bridged ports.
pub(crate) fn isolated_bud(
    buildah: &Buildah,
    bridges: &Bridges,
    context: &Path,
    dockerfile: &Path,
    tag: &str,
) -> Output {
    isolated_bud_with(buildah, bridges, context, dockerfile, tag, &[])
}

/// [`isolated_bud`] with more `buildah bud` options (`--volume …`); none may need quoting.
pub(crate) fn isolated_bud_with(
    buildah: &Buildah,
    bridges: &Bridges,
    context: &Path,
    dockerfile: &Path,
    tag: &str,
    extra: &[&str],
) -> Output {
    let mut script = String::from("set -e\nip link set lo up\npids=\"\"\n");
    for port in &bridges.ports {
        let socket = bridges.dir.path().join(format!("{port}.sock"));
        // Quiet and detached from our pipes, or the caller waits for its EOF forever.
        script.push_str(&format!(
            "socat TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:{} </dev/null >/dev/null 2>&1 &\npids=\"$pids $!\"\n",
            socket.display()
        ));
    }
    script.push_str("sleep 0.5\n");
    let mut bud = vec!["buildah".to_string()];
    bud.extend(buildah.global_args());
    bud.extend(
        [
            "bud",
            "--tls-verify=false",
            "--isolation",
            "chroot",
            "--layers=false",
            "-f",
            dockerfile.to_str().unwrap(),
            "-t",
            tag,
        ]
        .map(String::from),
    );
    bud.extend(extra.iter().map(|arg| arg.to_string()));
    bud.push(context.to_str().unwrap().to_string());
    script.push_str(&format!(
        "status=0\n{} || status=$?\nkill $pids 2>/dev/null || true\nexit $status\n",
        bud.join(" ")
    ));
    let mut cmd = Command::new("unshare");
    cmd.args(["--net", "sh", "-c", &script])
        .env("BUILDAH_ISOLATION", "chroot");
    let output = run(&mut cmd);
    if !output.success() {
        output.print("isolated buildah bud");
    }
    output
}

/// Every URL the lock names (pins and closure members).
pub(crate) fn locked_urls(lock: &toml::Table) -> BTreeSet<String> {
    let mut urls = BTreeSet::new();
    for artifact in lock["artifact"].as_array().unwrap() {
        let artifact = artifact.as_table().unwrap();
        if let Some(platforms) = artifact.get("platform").and_then(|p| p.as_table()) {
            for pin in platforms.values() {
                for url in pin["urls"].as_array().unwrap() {
                    urls.insert(url.as_str().unwrap().to_string());
                }
            }
        }
        if let Some(packages) = artifact.get("package").and_then(|p| p.as_array()) {
            for package in packages {
                for url in package["urls"].as_array().unwrap() {
                    urls.insert(url.as_str().unwrap().to_string());
                }
            }
        }
    }
    urls
}

/// The audit: which of the world's requests were locked URLs.
pub(crate) fn audit(world: &World, locked: &BTreeSet<String>) -> (usize, Vec<String>) {
    let requests = world.requests();
    let unlocked: Vec<String> = requests
        .iter()
        .filter(|(_, path, _)| !locked.contains(&world.url(path)))
        .map(|(method, path, status)| format!("{method} {} ({status})", world.url(path)))
        .collect();
    (requests.len(), unlocked)
}

#[test]
fn hermetic_build_fetches_only_locked_urls_and_nothing_else_is_reachable() {
    if !tools::require_all(&[tools::TINY_BUILD, tools::DEBIAN_BUILD, tools::ISOLATED]) {
        return;
    }
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("skipped: the fixture platform is linux/amd64");
        return;
    }
    let registry = registry::shared_required();
    let base = debian_base(registry);
    let up = crate::tools::upstreams();
    up.world.github_release_fixture(
        "Watfaq",
        "clash-rs",
        &[
            FixtureRelease::new("v0.10.8", "2026-07-23T10:00:00Z").asset(
                "clash-rs-x86_64-unknown-linux-musl",
                b"#!/bin/sh\necho clash\n".to_vec(),
            ),
        ],
    );
    up.world.get(
        "/files/config.yaml",
        Response::bytes(b"mode: rule\n".to_vec()),
    );
    let project = Project::new();
    project.spec(&format!(
        r#"[image]
name = "mb-hermetic"
tag = "t1"
platforms = ["linux/amd64"]

[base]
image = "{base}"

[[users]]
name = "peid"
uid = 3100
gid = 1100

[stage-1]
tools.uv = {{ version = "latest", user = "peid" }}

[stage-2]
tools.pixi = {{ version = "latest", user = "peid" }}
tools.node = {{ version = "lts", user = "peid" }}
tools.bun = {{ version = "latest", user = "peid" }}

[stage-2.release.clash-rs]
repo = "Watfaq/clash-rs"
version = "latest"
asset = "clash-rs-{{triple}}"
dest = "/hard/image/app/clash/clash-rs"

[stage-2.url.clash-config]
url = "{config}"
sha256 = "{config_sha}"
dest = "/hard/image/app/clash/config.yaml"
"#,
        config = up.world.url("/files/config.yaml"),
        config_sha = sha256_hex(b"mode: rule\n"),
    ));
    project
        .sources_file()
        .tools(&up.world)
        .registry(registry.host())
        .write();
    project.lock_and_emit();
    let locked = locked_urls(&project.lock_toml());

    let dir = crate::support::temp_dir();
    let buildah = Buildah::new(dir.path());
    let registry_port: u16 = registry.host().rsplit(':').next().unwrap().parse().unwrap();
    let bridges = bridges(&[up.world.addr().port(), registry_port]);
    up.world.clear_log();
    let out = project.out_dir();
    let build = isolated_bud(
        &buildah,
        &bridges,
        &out,
        &out.join("merged.Dockerfile"),
        "mb-hermetic:t1",
    );
    assert!(build.success(), "the isolated build must succeed");
    let (requests, unlocked) = audit(&up.world, &locked);
    let verified = build.combined().matches(") verified sha256:").count();
    println!(
        "{requests} requests, {} locked and verified, {} unlocked",
        requests - unlocked.len(),
        unlocked.len()
    );
    assert!(
        unlocked.is_empty(),
        "unlocked requests during the build:\n{}",
        unlocked.join("\n")
    );
    // clash-rs, config, uv, pixi, node, nvm, bun: one verified fetch each.
    assert_eq!(requests, 7, "{:?}", up.world.requests());
    assert_eq!(
        verified,
        7,
        "each fetch reports its verification:\n{}",
        build.combined()
    );

    // The same isolation catches what the lock does not name, and refuses the outside.
    let probe = crate::support::temp_dir();
    let tiny = tiny_base(registry);
    // Debian's archive is reachable from the host; by address, so DNS is not the reason.
    let outside = std::net::ToSocketAddrs::to_socket_addrs("deb.debian.org:80")
        .ok()
        .and_then(|mut addrs| addrs.find(|a| a.is_ipv4()))
        .map(|a| a.to_string())
        .unwrap_or_else(|| "192.0.2.1:80".into());
    std::fs::write(
        probe.path().join("Dockerfile"),
        format!(
            "FROM {tiny}\nRUN wget -q -O /dev/null {unlocked}\nRUN if wget -q -T 5 -O /dev/null http://{outside}/debian/; then echo OUTSIDE-REACHED; else echo OUTSIDE-REFUSED; fi\n",
            unlocked = up.world.url("/files/unlocked.txt")
        ),
    )
    .unwrap();
    up.world
        .get("/files/unlocked.txt", Response::text("not in any lock"));
    up.world.clear_log();
    let build = isolated_bud(
        &buildah,
        &bridges,
        probe.path(),
        &probe.path().join("Dockerfile"),
        "mb-hermetic:probe",
    );
    assert!(build.success());
    // (The step text holds both words; the output lines hold only the answer.)
    let answers: Vec<&str> = build
        .stdout
        .lines()
        .filter(|l| l.starts_with("OUTSIDE-"))
        .collect();
    assert_eq!(answers, vec!["OUTSIDE-REFUSED"], "{}", build.combined());
    let (requests, unlocked) = audit(&up.world, &locked);
    assert_eq!(requests, 1);
    assert_eq!(
        unlocked,
        vec![format!("GET {} (200)", up.world.url("/files/unlocked.txt"))]
    );
}

#[test]
fn hermetic_rebuild_from_the_same_lock_is_bit_identical() {
    if !tools::require_all(&[tools::TINY_BUILD, tools::ISOLATED]) {
        return;
    }
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("skipped: the fixture platform is linux/amd64");
        return;
    }
    let registry = registry::shared_required();
    let base = tiny_base(registry);
    let world = World::start();
    world.github_release_fixture(
        "Watfaq",
        "clash-rs",
        &[
            FixtureRelease::new("v0.10.8", "2026-07-23T10:00:00Z").asset(
                "clash-rs-x86_64-unknown-linux-musl",
                b"#!/bin/sh\necho clash\n".to_vec(),
            ),
        ],
    );
    let project = Project::new();
    project.spec(&format!(
        r#"[image]
name = "mb-repro"
tag = "t1"
platforms = ["linux/amd64"]

[base]
image = "{base}"

[stage-2]
links = {{ "/soft/app" = "/hard/image/app" }}

[stage-2.release.clash-rs]
repo = "Watfaq/clash-rs"
version = "latest"
asset = "clash-rs-{{triple}}"
dest = "/hard/image/app/clash/clash-rs"
"#
    ));
    project
        .sources_file()
        .github_api(&world)
        .registry(registry.host())
        .write();
    project.lock_ok(&[]);
    let epoch = modelbench::lock::epoch_of_date("2026-07-23T10:00:00Z").unwrap();

    let mut digests = Vec::new();
    for round in ["a", "b"] {
        // Emit afresh each round: emitted files carry the lock's timestamp, not emit's.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let out = project.path(&format!("out-{round}"));
        assert!(
            project
                .emit(&["--locked", "--out", out.to_str().unwrap()])
                .success()
        );
        let build_sh = std::fs::read_to_string(out.join("build.sh")).unwrap();
        assert!(
            build_sh.contains(&format!("SOURCE_DATE_EPOCH:-{epoch}")),
            "{build_sh}"
        );
        let dir = crate::support::temp_dir(); // a fresh store: no cache shared
        let buildah = Buildah::new(dir.path());
        let tag = format!("mb-repro:{round}");
        let build = buildah.bud(
            &out,
            &out.join("merged.Dockerfile"),
            &tag,
            &["--timestamp", &epoch.to_string()],
        );
        assert!(build.success());
        let digest = buildah
            .ok(&[
                "inspect",
                "--type",
                "image",
                "--format",
                "{{.FromImageDigest}}",
                &tag,
            ])
            .stdout
            .trim()
            .to_string();
        let config = buildah
            .ok(&[
                "inspect",
                "--type",
                "image",
                "--format",
                "{{.OCIv1.Created}}",
                &tag,
            ])
            .stdout;
        digests.push((digest, config, dir, buildah, tag));
    }
    println!("image digests: {} and {}", digests[0].0, digests[1].0);
    assert!(
        digests[0].1.contains("2026-07-23"),
        "created from SOURCE_DATE_EPOCH: {}",
        digests[0].1
    );
    if digests[0].0 != digests[1].0 {
        panic!(
            "the two builds differ ({} vs {}):\n{}",
            digests[0].0,
            digests[1].0,
            image_differences(
                (&digests[0].3, &digests[0].4),
                (&digests[1].3, &digests[1].4)
            )
        );
    }
}

#[test]
fn hermetic_lock_is_byte_identical_whatever_order_resolvers_finish_in() {
    let up = crate::tools::upstreams();
    let registry = registry::shared_required();
    let base = registry.push_base(&format!("hermetic/base-{}", up.world.addr().port()));
    let project = Project::new();
    project.spec(&format!(
        r#"[image]
name = "mb"
tag = "t"
platforms = ["linux/amd64", "linux/arm64"]

[base]
image = "{base}"

[[users]]
name = "peid"
uid = 1
gid = 1

[stage-2]
tools.node = {{ version = "lts", user = "peid" }}
tools.uv = {{ version = "latest", user = "peid" }}
tools.pixi = {{ version = "latest", user = "peid" }}
tools.bun = {{ version = "latest", user = "peid" }}
"#
    ));
    project
        .sources_file()
        .tools(&up.world)
        .registry(registry.host())
        .write();
    let mut locks = Vec::new();
    for seed in [1, 2, 3] {
        up.world
            .random_latency(std::time::Duration::from_millis(60), seed);
        let _ = std::fs::remove_file(project.lock_path());
        project.lock_ok(&[]);
        locks.push(project.lock_bytes());
    }
    assert_eq!(locks[0], locks[1]);
    assert_eq!(locks[1], locks[2]);
}

/// The Debian tools image (its world, locked and emitted project): a Debian base, a user
/// with a password hash and an SSH key, locked apt packages in stage 1, then real node
/// (this machine's, with nvm), an npm global CLI, bun and a bun global CLI (when this
/// machine has a real bun) and a release asset in stage 2. `None`, after saying why, where
/// the fixture cannot run. Built by the reproducibility test here and by the Docker tests.
pub(crate) struct DebianToolsImage {
    pub world: World,
    pub project: Project,
    /// The base image reference in the test registry.
    pub base: String,
    /// Whether the image has bun and a bun global (this machine has a real bun).
    pub bun: bool,
    /// The .debs the world's archive serves.
    pub debs: Vec<crate::apt_build::Deb>,
    _work: tempfile::TempDir,
}

pub(crate) fn debian_tools_image(name: &str) -> Option<DebianToolsImage> {
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("skipped: the fixture platform is linux/amd64");
        return None;
    }
    let Some((node_version, node_tarball)) = crate::npm_build::host_node_tarball() else {
        eprintln!("skipped: this machine's node is not a self-contained official build");
        return None;
    };
    let registry = registry::shared_required();
    let base = debian_base(registry);
    let world = World::start();
    crate::npm_build::serve_node(&world, &node_version, node_tarball);
    let mut npm = crate::npm::Registry::default();
    crate::npm_build::hello_cli(&mut npm);
    // bun and a bun global CLI too, when this machine has a real bun.
    let bun = crate::npm_build::real_bun();
    let mut bun_lines = String::new();
    if let Some(bun) = &bun {
        world.github_release_fixture(
            "oven-sh",
            "bun",
            &[
                FixtureRelease::new("bun-v1.4.5", "2026-09-01T00:00:00Z").asset_with(
                    FixtureAsset::new("bun-linux-x64.zip", crate::npm_build::bun_release_zip(bun)),
                ),
            ],
        );
        crate::npm_build::bun_cli(&mut npm);
        bun_lines = "tools.bun = { version = \"latest\", user = \"peid\" }\n\
                     bun-global = { \"@mb/search-mcp\" = \"^0.3\" }\n"
            .to_string();
    } else {
        eprintln!("repro: no real bun on this machine: the image has no bun");
    }
    npm.serve(&world, crate::npm::Shape::Abbreviated);
    world.github_release_fixture(
        "Watfaq",
        "clash-rs",
        &[
            FixtureRelease::new("v0.10.8", "2026-07-23T10:00:00Z").asset(
                "clash-rs-x86_64-unknown-linux-musl",
                b"#!/bin/sh\necho clash\n".to_vec(),
            ),
        ],
    );
    let work = crate::support::temp_dir();
    let debs = crate::apt_build::build_debs(work.path());
    let keyring = crate::apt_build::serve_archive(&world, work.path(), &debs);

    let project = Project::new();
    std::fs::create_dir_all(project.path("specs")).unwrap();
    std::fs::write(project.path("specs/keyring.gpg"), &keyring).unwrap();
    project.spec(&format!(
        r#"[image]
name = "{name}"
tag = "t1"
platforms = ["linux/amd64"]

[base]
image = "{base}"

[[apt.archives]]
uris = ["{archive}"]
suites = ["test"]
components = ["main"]
signed-by = ["keyring.gpg"]

[[users]]
name = "peid"
uid = 3100
gid = 1100
password-hash = '$6$modelbenchrepro$3TJqmGYQ5NCEtX5h6n55jVoG0vLWMCCJ3a/VJuWmfOQPJcvCUrpvQ3M2dObeWnUPa7TLZmF3P1DMZ8SYiwzn9/'
pubkey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMbRWLpHk1zv1n0bKJ7lN3UCPCdp5jB4yqk5aVdmj0Sa peid@repro"

[stage-1]
apt = ["mb-hello"]

[stage-2]
tools.node = {{ version = "{node}", user = "peid" }}
npm-global = {{ "mb-hello" = "^1" }}
{bun_lines}
[stage-2.release.clash-rs]
repo = "Watfaq/clash-rs"
version = "latest"
asset = "clash-rs-{{triple}}"
dest = "/hard/image/app/clash/clash-rs"
"#,
        archive = world.url("/debian"),
        node = node_version.trim_start_matches('v'),
    ));
    project
        .sources_file()
        .tools(&world)
        .npm(&world)
        .registry(registry.host())
        .write();
    project.lock_ok(&[]);
    Some(DebianToolsImage {
        world,
        project,
        base,
        bun: bun.is_some(),
        debs,
        _work: work,
    })
}

/// The realistic image, twice: a Debian base, a user with a password hash and an SSH key,
/// locked apt packages in stage 1, then real node (this machine's, with nvm), an npm
/// global CLI and a release asset in stage 2. Each build runs in a fresh store with
/// `--timestamp` from the lock, as build.sh does; the two images must have one digest.
/// When they do not, the failure names every differing file with its mode, owner, size,
/// hash, and a diff of its text.
#[test]
fn hermetic_rebuild_of_the_debian_tools_image_is_bit_identical() {
    if !tools::require_all(&[tools::DEBIAN_BUILD, tools::ISOLATED]) {
        return;
    }
    let started = std::time::Instant::now();
    let started_at = std::time::SystemTime::now();
    let Some(tools) = debian_tools_image("mb-repro-tools") else {
        return;
    };
    let DebianToolsImage {
        project, base, bun, ..
    } = &tools;
    let bun = bun.then_some(());
    println!("repro: locked after {}s", started.elapsed().as_secs());

    let mut builds = Vec::new();
    let mut epoch = String::new();
    for round in ["a", "b"] {
        // Emit afresh each round: emitted files carry the lock's timestamp, not emit's.
        let out = project.path(&format!("out-{round}"));
        assert!(
            project
                .emit(&["--locked", "--out", out.to_str().unwrap()])
                .success()
        );
        let build_sh = std::fs::read_to_string(out.join("build.sh")).unwrap();
        epoch = build_sh
            .split("SOURCE_DATE_EPOCH:-")
            .nth(1)
            .and_then(|rest| rest.split('}').next())
            .unwrap_or_else(|| panic!("build.sh sets SOURCE_DATE_EPOCH from the lock:\n{build_sh}"))
            .to_string();
        let dir = crate::support::temp_dir(); // a fresh store: no cache shared
        let buildah = Buildah::new(dir.path());
        let tag = "mb-repro-tools:t1";
        let round_started = std::time::Instant::now();
        let build = build_merged_with_buildah(&out, &buildah, dir.path());
        assert!(build.success(), "build {round} must succeed");
        let log = build.combined();
        let mut lines = vec![
            "install-debs: dpkg matches the lock: 3 package(s) installed",
            "setup-users: peid (uid 3100, gid 1100) ready",
            "install-npm-global: mb-hello for peid: 4 packages as locked",
        ];
        if bun.is_some() {
            lines.push("install-npm-global: mb-search-mcp for peid: 2 packages as locked");
        }
        for line in lines {
            assert!(
                log.contains(line),
                "`{line}` missing from build {round}:\n{log}"
            );
        }
        let digest = buildah
            .ok(&[
                "inspect",
                "--type",
                "image",
                "--format",
                "{{.FromImageDigest}}",
                tag,
            ])
            .stdout
            .trim()
            .to_string();
        println!(
            "repro: build {round} (SOURCE_DATE_EPOCH={epoch}): {digest} in {}s",
            round_started.elapsed().as_secs()
        );
        builds.push((digest, dir, buildah, tag));
    }
    // Both builds ran today: a date of today would agree between them, and differ on
    // another day. Nothing the build wrote may carry it; shadow's dates are the lock's.
    let today = |at: std::time::SystemTime| {
        at.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64 / 86400
    };
    let days = [today(started_at), today(std::time::SystemTime::now())];
    let dates: Vec<String> = days
        .iter()
        .map(|day| {
            run(Command::new("date").args(["-u", "-d", &format!("@{}", day * 86400), "+%F"]))
                .stdout
                .trim()
                .to_string()
        })
        .collect();
    {
        let (_, _, buildah, tag) = &builds[0];
        let image = Mounted::new(buildah, tag);
        let base_root = Mounted::new(buildah, base);
        let traces = clock_traces(&image.root, &base_root.root, &dates, &days);
        assert!(
            traces.is_empty(),
            "the build's clock ({dates:?}, days {days:?}) is in the image:\n{}",
            traces.join("\n")
        );
        let shadow = std::fs::read_to_string(image.root.join("etc/shadow")).unwrap();
        let peid = shadow
            .lines()
            .find(|l| l.starts_with("peid:"))
            .expect("peid in /etc/shadow");
        let epoch: i64 = epoch.parse().unwrap();
        assert_eq!(
            peid.split(':').nth(2),
            Some((epoch / 86400).to_string().as_str()),
            "peid's last password change is the lock's day: {peid}"
        );
    }
    if builds[0].0 != builds[1].0 {
        panic!(
            "the two builds of one lock differ ({} vs {}):\n{}",
            builds[0].0,
            builds[1].0,
            image_differences((&builds[0].2, builds[0].3), (&builds[1].2, builds[1].3))
        );
    }
    println!(
        "repro: both builds {} ({}s in all)",
        builds[0].0,
        started.elapsed().as_secs()
    );
}

/// Run the emitted `build-merged.sh` as a user would, with buildah (a `docker` that
/// answers no `docker info` goes first on PATH, so a daemon on this machine is not
/// used), its store in `store` (`CONTAINERS_STORAGE_CONF`, the vfs driver), and
/// `--layers=false` after the script's `--layers`: one layer per stage, as in the other
/// build tests, instead of a vfs copy of the whole root filesystem per step.
fn build_merged_with_buildah(out: &Path, buildah: &Buildah, store: &Path) -> Output {
    let shim = store.join("no-docker");
    std::fs::create_dir_all(&shim).unwrap();
    std::fs::write(shim.join("docker"), "#!/bin/sh\nexit 1\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(shim.join("docker"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let conf = store.join("storage.conf");
    let args = buildah.global_args();
    let value = |flag: &str| {
        args.iter()
            .find_map(|a| a.strip_prefix(flag))
            .unwrap()
            .to_string()
    };
    std::fs::write(
        &conf,
        format!(
            "[storage]\ndriver = \"vfs\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
            value("--root="),
            value("--runroot=")
        ),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        shim.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = run(Command::new("sh")
        .arg(out.join("build-merged.sh"))
        .args(["--tls-verify=false", "--layers=false"])
        .env("PATH", path)
        .env("CONTAINERS_STORAGE_CONF", &conf)
        .env("BUILDAH_ISOLATION", "chroot")
        .env_remove("SOURCE_DATE_EPOCH")
        .stdin(Stdio::null()));
    if !output.success() {
        output.print("build-merged.sh");
    }
    output
}

/// What differs between two images: their layers (diff IDs), their configs, and every
/// file of their root filesystems whose kind, mode, owner, size, mtime, link count or
/// content differs — with both hashes, and a unified diff when both are small text.
fn image_differences(a: (&Buildah, &str), b: (&Buildah, &str)) -> String {
    let mut report = String::new();
    // The OCI config: its layers' diff IDs, history and settings.
    let config = |(buildah, tag): (&Buildah, &str)| {
        let inspect = buildah.ok(&["inspect", "--type", "image", tag]).stdout;
        let json: serde_json::Value = serde_json::from_str(&inspect).unwrap();
        json["OCIv1"].clone()
    };
    let (config_a, config_b) = (config(a), config(b));
    let layers = |config: &serde_json::Value| -> Vec<String> {
        config["rootfs"]["diff_ids"]
            .as_array()
            .map(|ids| ids.iter().map(|id| id.to_string()).collect())
            .unwrap_or_default()
    };
    for (i, (la, lb)) in layers(&config_a).iter().zip(layers(&config_b)).enumerate() {
        let same = if *la == lb { "same" } else { "DIFFERS" };
        report.push_str(&format!("layer {i}: {same}: {la} / {lb}\n"));
    }
    let (mut rest_a, mut rest_b) = (config_a.clone(), config_b.clone());
    rest_a["rootfs"] = serde_json::Value::Null;
    rest_b["rootfs"] = serde_json::Value::Null;
    if rest_a != rest_b {
        report.push_str(&format!(
            "configs differ beyond their layers:\n{rest_a}\n{rest_b}\n"
        ));
    }
    let (mounted_a, mounted_b) = (Mounted::new(a.0, a.1), Mounted::new(b.0, b.1));
    let (root_a, root_b) = (&mounted_a.root, &mounted_b.root);
    let (files_a, files_b) = (file_table(root_a), file_table(root_b));
    let paths: BTreeSet<&String> = files_a.keys().chain(files_b.keys()).collect();
    let mut differing = 0;
    for path in paths {
        let (fa, fb) = (files_a.get(path), files_b.get(path));
        if fa == fb {
            continue;
        }
        differing += 1;
        if differing > 200 {
            continue;
        }
        let show = |f: Option<&String>| f.map_or("(absent)".to_string(), String::clone);
        report.push_str(&format!("{path}\n  a: {}\n  b: {}\n", show(fa), show(fb)));
        let (pa, pb) = (root_a.join(&path[1..]), root_b.join(&path[1..]));
        let small_text = |p: &Path| {
            std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file() && m.len() < 256 * 1024)
                && std::fs::read(p).is_ok_and(|bytes| !bytes.contains(&0))
        };
        if fa.is_some() && fb.is_some() && small_text(&pa) && small_text(&pb) {
            let diff = run(Command::new("diff")
                .args(["-u", "--label", "a", "--label", "b"])
                .arg(&pa)
                .arg(&pb));
            for line in diff.stdout.lines().take(40) {
                report.push_str(&format!("    {line}\n"));
            }
        }
    }
    report.push_str(&format!("{differing} path(s) differ\n"));
    report
}

/// An image's root filesystem, mounted (vfs: a copy) until dropped.
struct Mounted<'a> {
    buildah: &'a Buildah,
    container: String,
    root: std::path::PathBuf,
}

impl<'a> Mounted<'a> {
    fn new(buildah: &'a Buildah, image: &str) -> Mounted<'a> {
        let container = buildah
            .ok(&["from", "--tls-verify=false", "--quiet", image])
            .stdout
            .trim()
            .to_string();
        let root = buildah.ok(&["mount", &container]).stdout.trim().to_string();
        Mounted {
            buildah,
            container,
            root: root.into(),
        }
    }
}

impl Drop for Mounted<'_> {
    fn drop(&mut self) {
        let _ = self.buildah.run(&["umount", &self.container]);
        let _ = self.buildah.run(&["rm", &self.container]);
    }
}

/// Lines the build added to the image's text files (files that differ from the base,
/// lines the base's version lacks) that carry the build's clock: one of `dates`
/// (YYYY-MM-DD), or in shadow's files one of `days` (days since 1970) as a field. Two
/// builds on one day agree on these, builds on different days would not.
fn clock_traces(image: &Path, base: &Path, dates: &[String], days: &[i64]) -> Vec<String> {
    let (built, before) = (file_table(image), file_table(base));
    let mut traces = Vec::new();
    for (path, entry) in &built {
        if before.get(path) == Some(entry) || !entry.starts_with("file ") {
            continue;
        }
        let Ok(text) = std::fs::read(image.join(&path[1..])) else {
            continue;
        };
        if text.len() > 1 << 20 || text.contains(&0) {
            continue;
        }
        // The base's lines, also those a backup (`/etc/shadow-`) copies from its file.
        let mut old = std::fs::read(base.join(&path[1..])).unwrap_or_default();
        if let Some(original) = path.strip_suffix('-') {
            old.push(b'\n');
            old.extend(std::fs::read(base.join(&original[1..])).unwrap_or_default());
        }
        let old = String::from_utf8_lossy(&old);
        let old: BTreeSet<&str> = old.lines().collect();
        let shadow = path.starts_with("/etc/shadow") || path.starts_with("/etc/gshadow");
        for line in String::from_utf8_lossy(&text).lines() {
            if old.contains(line) {
                continue;
            }
            let dated = dates.iter().any(|d| line.contains(d.as_str()))
                || (shadow
                    && line
                        .split(':')
                        .any(|f| days.iter().any(|d| f == d.to_string())));
            if dated {
                traces.push(format!("{path}: {line}"));
            }
        }
    }
    traces
}

/// Path (from `/`) → kind, mode, owner, size, mtime, links and sha256 or link target.
fn file_table(root: &Path) -> std::collections::BTreeMap<String, String> {
    use std::os::unix::fs::MetadataExt;
    let mut table = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let name = format!("/{}", path.strip_prefix(root).unwrap().display());
        if name == "/" {
            // The mount point itself: its mtime is the mount's, not the image's.
            for child in std::fs::read_dir(&path).unwrap().flatten() {
                stack.push(child.path());
            }
            continue;
        }
        let owner = format!(
            "{:o} {}:{} mtime {} nlink {}",
            meta.mode(),
            meta.uid(),
            meta.gid(),
            meta.mtime(),
            meta.nlink()
        );
        let entry = if meta.is_dir() {
            for child in std::fs::read_dir(&path).unwrap().flatten() {
                stack.push(child.path());
            }
            format!("dir {owner}")
        } else if meta.is_symlink() {
            let target = std::fs::read_link(&path).unwrap();
            format!("link -> {} {owner}", target.display())
        } else if meta.is_file() {
            let bytes = std::fs::read(&path).unwrap_or_default();
            format!(
                "file {owner} size {} sha256:{}",
                meta.len(),
                sha256_hex(&bytes)
            )
        } else {
            format!("special {owner} rdev {}", meta.rdev())
        };
        table.insert(name, entry);
    }
    table
}

/// setup-users.sh dates the last password change by SOURCE_DATE_EPOCH (the lock's day),
/// turns aging off rather than forcing a password change when that day is 0, and leaves
/// a backup `/etc/shadow-` equal to `/etc/shadow`.
#[test]
fn hermetic_setup_users_dates_shadow_by_the_lock_and_never_forces_a_password_change() {
    if !tools::require_all(&[tools::DEBIAN_BUILD, tools::ISOLATED]) {
        return;
    }
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("skipped: the fixture platform is linux/amd64");
        return;
    }
    let registry = registry::shared_required();
    let base = debian_base(registry);
    let context = crate::support::temp_dir();
    let dir = context.path();
    std::fs::write(
        dir.join("setup-users.sh"),
        include_str!("../../installation/stage-1/setup-users.sh"),
    )
    .unwrap();
    std::fs::write(dir.join("zero.tsv"), "u0\t3200\t3200\t$6$x$y\t-\n").unwrap();
    std::fs::write(dir.join("lock.tsv"), "u1\t3201\t3201\t-\t-\n").unwrap();
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        format!(
            "FROM {base}\nCOPY . /ctx/\n\
             RUN SOURCE_DATE_EPOCH=0 sh /ctx/setup-users.sh /ctx/zero.tsv /ctx/keys\n\
             RUN SOURCE_DATE_EPOCH=1784800800 sh /ctx/setup-users.sh /ctx/lock.tsv /ctx/keys\n\
             RUN grep '^u[01]:' /etc/shadow && cmp /etc/shadow /etc/shadow- && echo BACKUP-SAME\n"
        ),
    )
    .unwrap();
    let store = crate::support::temp_dir();
    let buildah = Buildah::new(store.path());
    let build = buildah.bud(dir, &dir.join("Dockerfile"), "mb-users:t1", &[]);
    assert!(build.success(), "{}", build.combined());
    let lines: Vec<&str> = build
        .stdout
        .lines()
        .filter(|l| l.starts_with("u0:") || l.starts_with("u1:") || *l == "BACKUP-SAME")
        .collect();
    // 1784800800 is 2026-07-23: day 20657.
    assert_eq!(
        lines,
        [
            "u0:$6$x$y::0:99999:7:::",
            "u1:!:20657:0:99999:7:::",
            "BACKUP-SAME"
        ],
        "{}",
        build.combined()
    );
}
