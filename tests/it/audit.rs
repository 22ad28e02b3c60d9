//! `modelbench audit-proxy` and `scripts/audit-build.sh` (`just audit`): the proxy forwards
//! the lock's plain-http URLs, tunnels to the lock's hosts, refuses and counts the rest; an
//! emitted build run through it in its own network namespace reaches only locked URLs.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::buildah::tiny_base;
use crate::support::project::Project;
use crate::support::registry::{self, Registry};
use crate::support::tools;
use crate::support::world::{FixtureRelease, Response, World};
use crate::support::{Output, run, sha256_hex};

const ASSET: &[u8] = b"#!/bin/sh\necho clash\n";
const CONFIG: &[u8] = b"mode: rule\n";

/// A locked project: the tiny base, one release asset and one url file, all on the world.
fn locked_project(world: &World, registry: &Registry) -> Project {
    world.github_release_fixture(
        "Watfaq",
        "clash-rs",
        &[FixtureRelease::new("v0.10.8", "2026-07-23T10:00:00Z")
            .asset("clash-rs-x86_64-unknown-linux-musl", ASSET.to_vec())],
    );
    world.get("/files/config.yaml", Response::bytes(CONFIG.to_vec()));
    world.get("/files/unlocked.txt", Response::text("not in any lock"));
    let project = Project::new();
    project.spec(&format!(
        r#"[image]
name = "mb-audit"
tag = "t1"
platforms = ["linux/amd64"]

[base]
image = "{base}"

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
        base = tiny_base(registry),
        config = world.url("/files/config.yaml"),
        config_sha = sha256_hex(CONFIG),
    ));
    project
        .sources_file()
        .github_api(world)
        .registry(registry.host())
        .write();
    project.lock_ok(&[]);
    project
}

fn asset_url(world: &World) -> String {
    world.github_download_url(
        "Watfaq",
        "clash-rs",
        "v0.10.8",
        "clash-rs-x86_64-unknown-linux-musl",
    )
}

/// An audit-proxy listening on a free loopback port, run until [`Proxy::stop`].
struct Proxy {
    child: Child,
    addr: SocketAddr,
}

impl Proxy {
    fn start(project: &Project, extra: &[&str]) -> Proxy {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let listen = addr.to_string();
        let mut args = vec![
            "audit-proxy",
            "specs/test.toml",
            "--listen",
            &listen,
            "--log",
            "audit.log",
        ];
        args.extend_from_slice(extra);
        let mut child = project
            .command(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start audit-proxy");
        // (These probes send nothing: a connection without a request is not counted.)
        for _ in 0..200 {
            if TcpStream::connect(addr).is_ok() {
                return Proxy { child, addr };
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = child.kill();
        let output = child.wait_with_output().unwrap();
        panic!(
            "audit-proxy did not listen on {addr}:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Send SIGTERM (to the proxy we started, by its pid) and collect its output.
    fn stop(self) -> Output {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let output = self.child.wait_with_output().unwrap();
        Output {
            status: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Write `raw` on a new connection to `addr` and read until the other side closes.
fn exchange(addr: SocketAddr, raw: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(raw).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn audit_proxy_forwards_locked_urls_tunnels_to_locked_hosts_and_refuses_the_rest() {
    if !tools::require_all(&[tools::TINY_BUILD, tools::ISOLATED]) {
        return;
    }
    let world = World::start();
    let Some(registry) = registry::shared() else {
        return;
    };
    let project = locked_project(&world, registry);
    world.clear_log();
    let proxy = Proxy::start(&project, &[]);
    let host = world.addr().to_string();
    let locked = asset_url(&world);

    // A locked plain-http URL is forwarded, and nothing pipelined behind it on the same
    // connection reaches the upstream.
    let answer = exchange(
        proxy.addr,
        format!(
            "GET {locked} HTTP/1.1\r\nHost: {host}\r\nProxy-Connection: keep-alive\r\n\r\nGET /files/unlocked.txt HTTP/1.1\r\nHost: {host}\r\n\r\n"
        )
        .as_bytes(),
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("echo clash\n"), "{answer}");

    // An unlocked URL on a locked host, a POST of a locked URL: refused, never sent.
    let unlocked = world.url("/files/unlocked.txt");
    let answer = exchange(
        proxy.addr,
        format!("GET {unlocked} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes(),
    );
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("not a locked URL"), "{answer}");
    let answer = exchange(
        proxy.addr,
        format!("POST {locked} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 2\r\n\r\nhi").as_bytes(),
    );
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");

    // Credentials in a refused URL stay out of the log and the report.
    let secret = format!("http://user:hunter2@{host}/files/unlocked.txt?token=hunter3");
    let answer = exchange(
        proxy.addr,
        format!("GET {secret} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes(),
    );
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");

    // CONNECT to a host no locked URL names: refused.
    let answer = exchange(
        proxy.addr,
        b"CONNECT unlocked.example:443 HTTP/1.1\r\nHost: unlocked.example:443\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");

    // CONNECT to the locked host tunnels bytes both ways (here plain HTTP, as TLS would be).
    let mut tunnel = TcpStream::connect(proxy.addr).unwrap();
    tunnel
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    tunnel
        .write_all(format!("CONNECT {host} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .unwrap();
    let mut established = [0u8; 39];
    tunnel.read_exact(&mut established).unwrap();
    assert_eq!(
        &established[..],
        b"HTTP/1.1 200 Connection established\r\n\r\n"
    );
    tunnel
        .write_all(
            format!("GET /files/config.yaml HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    let mut through = String::new();
    let _ = tunnel.read_to_string(&mut through);
    assert!(through.ends_with("mode: rule\n"), "{through}");

    let output = proxy.stop();
    assert_eq!(output.status, Some(1), "anything refused fails the audit");
    assert!(
        output.stdout.contains(
            "audit-proxy: 6 requests: 1 locked URLs, 1 tunnels to locked hosts, 4 refused\n"
        ),
        "{}",
        output.combined()
    );
    output.assert_stdout_contains("https by host only");
    for refused in [
        format!("GET {unlocked} REFUSED: not a locked URL"),
        format!("POST {locked} REFUSED: method POST"),
        "CONNECT unlocked.example:443 REFUSED: no locked URL names this host".to_string(),
    ] {
        assert!(
            output.stdout.contains(&refused),
            "{refused}:\n{}",
            output.stdout
        );
    }
    assert!(
        output
            .stderr
            .contains("error: audit-proxy: 4 request(s) refused"),
        "{}",
        output.stderr
    );
    let log = project.read("audit.log");
    assert_eq!(log.lines().count(), 6, "{log}");
    assert!(
        !output.combined().contains("hunter") && !log.contains("hunter"),
        "{}",
        output.combined()
    );
    assert!(
        log.contains(&format!(
            "GET http://{host}/files/unlocked.txt?token=REDACTED REFUSED"
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!("GET {locked} allowed: locked URL (200)")),
        "{log}"
    );
    assert!(
        log.contains(&format!("CONNECT {host} allowed: tunnel to a locked host")),
        "{log}"
    );
    // The upstream saw the locked request and the tunnelled one, nothing else.
    let seen: Vec<String> = world.requests().into_iter().map(|(_, p, _)| p).collect();
    assert_eq!(
        seen,
        vec![
            "/github/Watfaq/clash-rs/releases/download/v0.10.8/clash-rs-x86_64-unknown-linux-musl"
                .to_string(),
            "/files/config.yaml".to_string()
        ]
    );
}

#[test]
fn audit_proxy_counts_allow_host_tunnels_apart_and_exits_zero_on_sigterm() {
    if !tools::require_all(&[tools::TINY_BUILD, tools::ISOLATED]) {
        return;
    }
    let world = World::start();
    let Some(registry) = registry::shared() else {
        return;
    };
    let project = locked_project(&world, registry);
    // The world under another name: a host no locked URL names.
    let other = format!("localhost:{}", world.addr().port());
    let proxy = Proxy::start(&project, &["--allow-host", &other]);
    let mut tunnel = TcpStream::connect(proxy.addr).unwrap();
    tunnel
        .write_all(format!("CONNECT {other} HTTP/1.1\r\nHost: {other}\r\n\r\n").as_bytes())
        .unwrap();
    let mut established = [0u8; 39];
    tunnel.read_exact(&mut established).unwrap();
    assert_eq!(
        &established[..],
        b"HTTP/1.1 200 Connection established\r\n\r\n"
    );
    drop(tunnel);
    let output = proxy.stop();
    assert!(output.success(), "{}", output.combined());
    output.assert_stdout_contains("audit-proxy: 1 requests: 0 locked URLs, 0 tunnels to locked hosts, 1 tunnel(s) to --allow-host hosts, 0 refused");
    assert!(
        project.read("audit.log").contains(&format!(
            "CONNECT {other} allowed: tunnel to an --allow-host host"
        )),
        "{}",
        project.read("audit.log")
    );
}

#[test]
fn audit_proxy_around_a_command_passes_its_proxy_and_exits_by_what_it_saw() {
    if !tools::require_all(&[tools::TINY_BUILD, tools::ISOLATED]) {
        return;
    }
    let world = World::start();
    let Some(registry) = registry::shared() else {
        return;
    };
    let project = locked_project(&world, registry);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let fetch = |url: &str| {
        let mut cmd = project.command(&[
            "audit-proxy",
            "specs/test.toml",
            "--listen",
            &listen,
            "--",
            "curl",
            "-sSf",
            "-o",
            "fetched",
            url,
        ]);
        cmd.env_remove("no_proxy").env_remove("NO_PROXY");
        run(&mut cmd)
    };

    // Everything locked: exit 0, the file came through the proxy.
    let output = fetch(&world.url("/files/config.yaml"));
    assert!(output.success(), "{}", output.combined());
    assert!(
        output
            .stdout
            .contains("1 requests: 1 locked URLs, 0 tunnels to locked hosts, 0 refused"),
        "{}",
        output.stdout
    );
    assert_eq!(project.read("fetched"), "mode: rule\n");

    // An unlocked URL: the command fails on the 403 and the audit says why.
    let output = fetch(&world.url("/files/unlocked.txt"));
    assert_eq!(output.status, Some(1), "{}", output.combined());
    output.assert_stdout_contains("1 refused");
    assert!(
        output
            .stderr
            .contains("1 request(s) refused; the command failed"),
        "{}",
        output.stderr
    );
    assert_eq!(world.hits("/files/unlocked.txt"), 0);
}

#[test]
fn audit_proxy_refuses_a_lock_edited_by_hand() {
    if !tools::require_all(&[tools::TINY_BUILD, tools::ISOLATED]) {
        return;
    }
    let world = World::start();
    let Some(registry) = registry::shared() else {
        return;
    };
    let project = locked_project(&world, registry);
    let lock = String::from_utf8(project.lock_bytes()).unwrap();
    assert!(lock.contains("/files/config.yaml"));
    std::fs::write(
        project.lock_path(),
        lock.replace("/files/config.yaml", "/files/anything"),
    )
    .unwrap();
    let output = project.run(&[
        "audit-proxy",
        "specs/test.toml",
        "--listen",
        "127.0.0.1:0",
        "--",
        "true",
    ]);
    assert_eq!(output.status, Some(1));
    assert!(
        output
            .stderr
            .contains("the audit trusts only what `modelbench lock` wrote: url `clash-config` was edited after locking"),
        "{}",
        output.stderr
    );
}

#[test]
fn audit_proxy_leaves_a_file_that_is_not_a_socket_alone() {
    if !tools::require_all(&[tools::TINY_BUILD, tools::ISOLATED]) {
        return;
    }
    let world = World::start();
    let Some(registry) = registry::shared() else {
        return;
    };
    let project = locked_project(&world, registry);
    let path = project.write("notes.txt", "mine\n");
    let output = project.run(&[
        "audit-proxy",
        "specs/test.toml",
        "--socket",
        path.to_str().unwrap(),
        "--",
        "true",
    ]);
    assert_eq!(output.status, Some(1));
    assert!(
        output
            .stderr
            .contains("notes.txt exists and is not a socket"),
        "{}",
        output.stderr
    );
    assert_eq!(project.read("notes.txt"), "mine\n");
}

/// `scripts/audit-build.sh` as `just audit` runs it, with buildah's store and registries
/// configuration private to the test.
fn audit_build(project: &Project, store: &Path, registry: &Registry) -> Output {
    std::fs::write(
        store.join("storage.conf"),
        format!(
            "[storage]\ndriver = \"vfs\"\ngraphroot = \"{0}/root\"\nrunroot = \"{0}/runroot\"\n",
            store.display()
        ),
    )
    .unwrap();
    std::fs::write(
        store.join("registries.conf"),
        format!(
            "[[registry]]\nlocation = \"{}\"\ninsecure = true\n",
            registry.host()
        ),
    )
    .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/audit-build.sh");
    let mut cmd = Command::new("sh");
    project.isolate(&mut cmd);
    cmd.current_dir(project.dir.path())
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_modelbench"))
        .arg(project.out_dir())
        .args(["specs/test.toml", "--log", "audit.log"])
        .env("CONTAINERS_STORAGE_CONF", store.join("storage.conf"))
        .env("CONTAINERS_REGISTRIES_CONF", store.join("registries.conf"))
        .stdin(Stdio::null());
    let output = run(&mut cmd);
    output.print("audit-build.sh");
    output
}

#[test]
fn audit_build_of_an_emitted_context_fetches_only_locked_urls_and_refuses_an_extra_download() {
    if !tools::require_all(&[tools::TINY_BUILD, tools::ISOLATED]) {
        return;
    }
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("skipped: the fixture platform is linux/amd64");
        return;
    }
    let world = World::start();
    let Some(registry) = registry::shared() else {
        return;
    };
    let project = locked_project(&world, registry);
    project.emit_ok(&["--locked"]);
    let store = crate::support::temp_dir();
    world.clear_log();

    let output = audit_build(&project, store.path(), registry);
    assert!(
        output.success(),
        "the audited build must succeed; its output ended with:\n{}",
        output.stdout_tail(60)
    );
    output.assert_stdout_contains(
        "audit-proxy: 2 requests: 2 locked URLs, 0 tunnels to locked hosts, 0 refused",
    );
    // Both downloads went through the proxy (the world is not reachable otherwise) and
    // were verified by the fetch script.
    assert_eq!(world.requests().len(), 2, "{:?}", world.requests());
    assert_eq!(
        output.combined().matches(") verified sha256:").count(),
        2,
        "{}",
        output.combined()
    );
    output.assert_stdout_contains("audit: the build verified 2 download(s) with modelbench-fetch.sh (size and sha256) and 0 .deb(s)");

    // One extra download the lock does not name: refused, reported, the audit fails.
    let unlocked = world.url("/files/unlocked.txt");
    let dockerfile = project.out_dir().join("stage-2.Dockerfile");
    let mut text = std::fs::read_to_string(&dockerfile).unwrap();
    text.push_str(&format!(
        "RUN wget -q -O /dev/null {unlocked} || echo the download was refused\n"
    ));
    std::fs::write(&dockerfile, text).unwrap();
    world.clear_log();
    let output = audit_build(&project, store.path(), registry);
    assert_eq!(output.status, Some(1), "a refused request fails the audit");
    output.assert_stdout_contains("1 refused");
    assert!(
        output
            .stdout
            .contains(&format!("GET {unlocked} REFUSED: not a locked URL")),
        "{}",
        output.stdout
    );
    assert_eq!(world.hits("/files/unlocked.txt"), 0);
    let log = project.read("audit.log");
    assert!(log.contains(&format!("GET {unlocked} REFUSED")), "{log}");

    // A build that fails fails the audit, even with nothing refused.
    let text = std::fs::read_to_string(&dockerfile).unwrap();
    let text = text.replace(
        &format!("RUN wget -q -O /dev/null {unlocked} || echo the download was refused\n"),
        "RUN echo failing on purpose && exit 7\n",
    );
    std::fs::write(&dockerfile, text).unwrap();
    let output = audit_build(&project, store.path(), registry);
    assert_eq!(output.status, Some(1), "a failed build fails the audit");
    output.assert_stdout_contains(", 0 refused");
    assert!(
        output
            .stderr
            .contains("error: audit-proxy: the command failed"),
        "{}",
        output.stderr
    );
}

/// The counts of the proxy's report line in `output`.
fn report_counts(output: &Output) -> [usize; 4] {
    let line = output
        .stdout
        .lines()
        .find(|l| l.starts_with("audit-proxy: ") && l.contains(" requests: "))
        .unwrap_or_else(|| panic!("no report line in:\n{}", output.stdout));
    let numbers: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(numbers.len(), 4, "{line}");
    [numbers[0], numbers[1], numbers[2], numbers[3]]
}

#[test]
fn audit_build_of_an_npm_global_cli_sees_only_locked_urls() {
    if !tools::require_all(&[tools::TINY_BUILD, tools::ISOLATED]) {
        return;
    }
    let Some((world, project)) = crate::npm_build::npm_build_project() else {
        return;
    };
    let Some(registry) = registry::shared() else {
        return;
    };
    let store = crate::support::temp_dir();
    world.clear_log();
    let output = audit_build(&project, store.path(), registry);
    assert!(
        output.success(),
        "the audited npm build must succeed; its output ended with:\n{}",
        output.stdout_tail(60)
    );
    let [requests, locked, tunnels, refused] = report_counts(&output);
    println!("audited npm build: {requests} requests, {locked} locked URLs, {refused} refused");
    assert_eq!((tunnels, refused), (0, 0));
    assert_eq!(requests, locked);
    // Everything the world served went through the proxy: node, nvm.sh, and the four
    // tarballs npm ci fetched (through the proxy, so npm honoured the build's proxy).
    let seen = world.requests();
    assert_eq!(seen.len(), locked, "{seen:?}");
    let tarballs = seen.iter().filter(|(_, p, _)| p.ends_with(".tgz")).count();
    assert_eq!(tarballs, 4, "{seen:?}");
    assert!(
        output
            .combined()
            .contains("install-npm-global: mb-hello for peid: 4 packages as locked"),
        "{}",
        output.combined()
    );
}

#[test]
fn audit_build_of_apt_closures_sees_only_locked_debs() {
    if !tools::require_all(&[tools::TINY_BUILD, tools::ISOLATED]) {
        return;
    }
    let Some((world, project, debs, _work)) = crate::apt_build::apt_build_project() else {
        return;
    };
    project.emit_ok(&["--locked"]);
    let store = crate::support::temp_dir();
    world.clear_log();
    let output = audit_build(
        &project,
        store.path(),
        registry::shared().expect("apt_build_project checked the tools"),
    );
    assert!(
        output.success(),
        "the audited apt build must succeed; its output ended with:\n{}",
        output.stdout_tail(60)
    );
    let [requests, locked, tunnels, refused] = report_counts(&output);
    println!("audited apt build: {requests} requests, {locked} locked URLs, {refused} refused");
    // The four locked .debs of both stages, each fetched once through the proxy: no
    // index, no InRelease (the build never runs `apt-get update`).
    assert_eq!((requests, locked, tunnels, refused), (4, 4, 0, 0));
    let seen = world.requests();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(seen.iter().all(|(_, p, _)| p.ends_with(".deb")), "{seen:?}");
    assert_eq!(
        debs.len(),
        5,
        "the archive also serves a .deb no stage asks for"
    );
    output.assert_stdout_contains("and 4 .deb(s) with install-debs.sh");
}
