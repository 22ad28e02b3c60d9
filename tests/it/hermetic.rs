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
use crate::support::world::{FixtureRelease, Response, World};
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
            context.to_str().unwrap(),
        ]
        .map(String::from),
    );
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
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("skipped: the fixture platform is linux/amd64");
        return;
    }
    let registry = registry::shared();
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
    crate::tools::sources(&project, &up.world, Some(&registry.host()));
    project.lock_ok(&[]);
    assert!(project.emit(&["--locked"]).success());
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
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("skipped: the fixture platform is linux/amd64");
        return;
    }
    let registry = registry::shared();
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
        "[image]\nname = \"mb-repro\"\ntag = \"t1\"\nplatforms = [\"linux/amd64\"]\n\n[base]\nimage = \"{base}\"\n\n[stage-2]\nlinks = {{ \"/soft/app\" = \"/hard/image/app\" }}\n\n[stage-2.release.clash-rs]\nrepo = \"Watfaq/clash-rs\"\nversion = \"latest\"\nasset = \"clash-rs-{{triple}}\"\ndest = \"/hard/image/app/clash/clash-rs\"\n"
    ));
    project.sources(Some(&world.github_api()), &[&registry.host()]);
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
        // Say which files differ before failing.
        let trees: Vec<String> = digests
            .iter()
            .map(|(_, _, _, buildah, tag)| {
                buildah
                    .run_in(tag, &["sh", "-c", "find / -xdev \\( -path /proc -o -path /sys \\) -prune -o -print0 | xargs -0 stat -c '%n %s %Y %a' 2>/dev/null | sort"])
                    .stdout
            })
            .collect();
        let a: BTreeSet<&str> = trees[0].lines().collect();
        let b: BTreeSet<&str> = trees[1].lines().collect();
        let differ: Vec<&&str> = a.symmetric_difference(&b).collect();
        panic!(
            "the two builds differ ({} vs {}); files that differ:\n{differ:#?}",
            digests[0].0, digests[1].0
        );
    }
}

#[test]
fn hermetic_lock_is_byte_identical_whatever_order_resolvers_finish_in() {
    let up = crate::tools::upstreams();
    let registry = registry::shared();
    let repo = format!("hermetic/base-{}", up.world.addr().port());
    registry.push_two_platform_index(&repo, "1", crate::support::registry::IndexKind::Oci);
    let project = Project::new();
    project.spec(&format!(
        "[image]\nname = \"mb\"\ntag = \"t\"\nplatforms = [\"linux/amd64\", \"linux/arm64\"]\n\n[base]\nimage = \"{}\"\n\n[[users]]\nname = \"peid\"\nuid = 1\ngid = 1\n\n[stage-2]\ntools.node = {{ version = \"lts\", user = \"peid\" }}\ntools.uv = {{ version = \"latest\", user = \"peid\" }}\ntools.pixi = {{ version = \"latest\", user = \"peid\" }}\ntools.bun = {{ version = \"latest\", user = \"peid\" }}\n",
        registry.reference(&repo, "1")
    ));
    crate::tools::sources(&project, &up.world, Some(&registry.host()));
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
