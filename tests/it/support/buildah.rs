//! Real image builds in tests: Debian's `buildah` with `vfs` storage and `chroot` isolation, each
//! [`Buildah`] with its own `--root`/`--runroot` so tests share no image store, and a tiny
//! busybox base image built once per process and pushed to the test registry.
//!
//! `RUN` steps share the host's network under chroot isolation, so a build can fetch from the
//! loopback world and pull from the loopback registry.

#![allow(dead_code)]

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use super::registry::Registry;
use super::{Output, run};

/// Where [`tiny_base`] pushes, under the registry host.
pub const TINY_BASE_REPO: &str = "modelbench-test/tiny";

/// busybox applets linked into the tiny base. Deliberately not all of them: applets such as `dpkg`
/// or `rpm` would make the base look like a distribution it is not.
const APPLETS: &str = "\
    sh ash wget sha256sum sha512sum sha1sum md5sum mkdir chmod chown cat mv cp rm rmdir \
    ln ls env id uname printf echo test [ [[ true false tr head tail cut grep egrep \
    fgrep sed awk sort uniq wc xargs find basename dirname readlink realpath stat touch \
    sleep tee tar gzip gunzip zcat xz unxz xzcat bzip2 bunzip2 unzip mktemp date expr \
    seq which whoami hostname nproc od hexdump xxd cmp diff base64 timeout dd du df pwd \
    yes truncate sync kill ps";

/// A buildah with a private image store under a directory the test owns.
pub struct Buildah {
    root: PathBuf,
    runroot: PathBuf,
}

impl Buildah {
    /// Use `<dir>/root` and `<dir>/runroot` as storage.
    pub fn new(dir: &Path) -> Buildah {
        let root = dir.join("root");
        let runroot = dir.join("runroot");
        for d in [&root, &runroot] {
            fs::create_dir_all(d).unwrap_or_else(|e| panic!("create {}: {e}", d.display()));
        }
        Buildah { root, runroot }
    }

    /// `buildah --root … --runroot … --storage-driver vfs`, with `BUILDAH_ISOLATION=chroot`.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new("buildah");
        cmd.arg("--root")
            .arg(&self.root)
            .arg("--runroot")
            .arg(&self.runroot)
            .arg("--storage-driver")
            .arg("vfs")
            .env("BUILDAH_ISOLATION", "chroot")
            .stdin(Stdio::null());
        cmd
    }

    /// The global options that select this store (for commands run outside [`Buildah`]).
    pub fn global_args(&self) -> Vec<String> {
        vec![
            format!("--root={}", self.root.display()),
            format!("--runroot={}", self.runroot.display()),
            "--storage-driver=vfs".to_string(),
        ]
    }

    /// Run `buildah <args>`; prints its output when it fails.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.command();
        cmd.args(args);
        let output = run(&mut cmd);
        if !output.success() {
            output.print(&format!("{cmd:?}"));
        }
        output
    }

    /// Run `buildah <args>` and panic (with its output) unless it succeeds.
    pub fn ok(&self, args: &[&str]) -> Output {
        let output = self.run(args);
        assert!(output.success(), "buildah {args:?} failed");
        output
    }

    /// `buildah bud --tls-verify=false --isolation chroot --layers=false -f <dockerfile> -t <tag>
    /// <extra_args…> <context>`. Does not panic: a test may expect the build to fail.
    pub fn bud(&self, context: &Path, dockerfile: &Path, tag: &str, extra_args: &[&str]) -> Output {
        let mut cmd = self.command();
        cmd.args([
            "bud",
            "--tls-verify=false",
            "--isolation",
            "chroot",
            "--layers=false",
        ])
        .arg("-f")
        .arg(dockerfile)
        .arg("-t")
        .arg(tag)
        .args(extra_args)
        .arg(context);
        let output = run(&mut cmd);
        if !output.success() {
            output.print(&format!("{cmd:?}"));
        }
        output
    }

    /// Run `cmd` in a fresh container of `image` (pulled if needed), then remove the container.
    /// A run that succeeds with no output at all is tried again in a new container (up to
    /// three times): once, under heavy parallel load, `buildah run` (chroot isolation)
    /// returned success with nothing captured. The commands run here are idempotent.
    pub fn run_in(&self, image: &str, cmd: &[&str]) -> Output {
        self.run_in_with(image, &[], cmd)
    }

    /// [`Buildah::run_in`] with options for `buildah run` (`--volume`, `--env`, …).
    pub fn run_in_with(&self, image: &str, run_args: &[&str], cmd: &[&str]) -> Output {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let container = self.ok(&["from", "--tls-verify=false", "--quiet", image]);
            let container = container.stdout.trim().to_string();
            let mut args = vec!["run"];
            args.extend_from_slice(run_args);
            args.extend([container.as_str(), "--"]);
            args.extend_from_slice(cmd);
            let output = self.run(&args);
            self.ok(&["rm", &container]);
            let silent = output.success() && output.stdout.is_empty() && output.stderr.is_empty();
            if !silent || attempt == 3 {
                return output;
            }
            eprintln!("buildah run {cmd:?} printed nothing; running it again");
        }
    }
}

/// The tiny base image (`/bin/busybox` and applet links, `/tmp`, `/etc/passwd`) in `registry`,
/// built and pushed once per process and registry. Returns `127.0.0.1:PORT/modelbench-test/tiny:1`.
pub fn tiny_base(registry: &Registry) -> String {
    static BASES: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let bases = BASES.get_or_init(|| Mutex::new(HashMap::new()));
    // Held while building, so concurrent tests wait for the one build.
    let mut bases = bases.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(reference) = bases.get(&registry.host()) {
        return reference.clone();
    }
    let reference = build_tiny_base(registry);
    bases.insert(registry.host(), reference.clone());
    reference
}

fn build_tiny_base(registry: &Registry) -> String {
    let busybox = ensure_busybox();
    let dir = super::temp_dir();
    let rootfs = dir.path().join("rootfs");
    for sub in [
        "bin",
        "usr/bin",
        "usr/local/bin",
        "etc",
        "root",
        "tmp",
        "var/tmp",
    ] {
        fs::create_dir_all(rootfs.join(sub)).expect("create the tiny rootfs");
    }
    for tmp in ["tmp", "var/tmp"] {
        fs::set_permissions(rootfs.join(tmp), fs::Permissions::from_mode(0o1777))
            .expect("chmod 1777");
    }
    fs::copy(&busybox, rootfs.join("bin/busybox")).expect("copy busybox into the rootfs");
    fs::set_permissions(
        rootfs.join("bin/busybox"),
        fs::Permissions::from_mode(0o755),
    )
    .expect("chmod busybox");
    for applet in APPLETS.split_whitespace() {
        symlink("busybox", rootfs.join("bin").join(applet)).expect("link a busybox applet");
    }
    fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )
    .expect("write /etc/passwd");
    fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").expect("write /etc/group");

    let buildah = Buildah::new(&dir.path().join("storage"));
    let container = buildah.ok(&["from", "--quiet", "scratch"]);
    let container = container.stdout.trim();
    let rootfs_arg = rootfs.to_str().expect("UTF-8 temp path");
    buildah.ok(&["add", "--quiet", container, rootfs_arg, "/"]);
    buildah.ok(&[
        "config",
        "--env",
        "PATH=/usr/local/bin:/usr/bin:/bin",
        "--cmd",
        "/bin/sh",
        "--workingdir",
        "/",
        container,
    ]);
    let local = "localhost/modelbench-test-tiny:1";
    buildah.ok(&["commit", "--quiet", "--timestamp", "0", container, local]);
    let reference = format!("{}/{TINY_BASE_REPO}:1", registry.host());
    buildah.ok(&[
        "push",
        "--quiet",
        "--tls-verify=false",
        local,
        &format!("docker://{reference}"),
    ]);
    reference
}

/// `/bin/busybox` from Debian's `busybox-static`, installed with apt-get if missing (`.ci/run`
/// installs it up front).
fn ensure_busybox() -> PathBuf {
    let busybox = PathBuf::from("/bin/busybox");
    assert!(
        is_static_elf(&busybox),
        "/bin/busybox is missing or dynamically linked: install Debian's `busybox-static`"
    );
    busybox
}

/// Whether `path` is an ELF64 executable without a program interpreter (`PT_INTERP`), i.e. one
/// that runs in an image with no libc.
fn is_static_elf(path: &Path) -> bool {
    let Ok(elf) = fs::read(path) else {
        return false;
    };
    let u16_at = |at: usize| {
        elf.get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u64_at = |at: usize| {
        elf.get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    if !elf.starts_with(b"\x7fELF\x02\x01") {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return false;
    };
    const PT_INTERP: u32 = 3;
    (0..usize::from(phnum)).all(|i| {
        let at = phoff as usize + i * usize::from(phentsize);
        elf.get(at..at + 4)
            .is_some_and(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) != PT_INTERP)
    })
}

/// Where [`debian_base`] pushes, under the registry host.
pub const DEBIAN_BASE_REPO: &str = "modelbench-test/debian-minbase";

/// A real glibc base: `debootstrap --variant=minbase bookworm` from Debian's archive
/// (reachable from the test machines), plus `passwd` (useradd) and `unzip` (bun's zips),
/// pushed to `registry` once per process. The rootfs tarball is cached under
/// `target/test-cache/` so local reruns skip debootstrap.
pub fn debian_base(registry: &Registry) -> String {
    static BASES: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let bases = BASES.get_or_init(|| Mutex::new(HashMap::new()));
    let mut bases = bases.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(reference) = bases.get(&registry.host()) {
        return reference.clone();
    }
    let tarball = debian_rootfs_tarball();
    let dir = super::temp_dir();
    let buildah = Buildah::new(&dir.path().join("storage"));
    let container = buildah.ok(&["from", "--quiet", "scratch"]);
    let container = container.stdout.trim();
    buildah.ok(&["add", "--quiet", container, tarball.to_str().unwrap(), "/"]);
    // debootstrap's `sources.list` names Debian's real archive, which `lock` would start
    // from (the base's apt sources are read, issue #20): these tests lock against loopback
    // archives only, so the base names none.
    let no_sources = dir.path().join("sources.list");
    fs::write(&no_sources, "").expect("write an empty sources.list");
    buildah.ok(&[
        "add",
        "--quiet",
        container,
        no_sources.to_str().unwrap(),
        "/etc/apt/sources.list",
    ]);
    buildah.ok(&[
        "config",
        "--env",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "--cmd",
        "/bin/bash",
        container,
    ]);
    let local = "localhost/modelbench-test-debian:1";
    buildah.ok(&["commit", "--quiet", "--timestamp", "0", container, local]);
    let reference = format!("{}/{DEBIAN_BASE_REPO}:bookworm", registry.host());
    buildah.ok(&[
        "push",
        "--quiet",
        "--tls-verify=false",
        local,
        &format!("docker://{reference}"),
    ]);
    bases.insert(registry.host(), reference.clone());
    reference
}

fn debian_rootfs_tarball() -> PathBuf {
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-cache");
    fs::create_dir_all(&cache).expect("create target/test-cache");
    let tarball = cache.join("debian-bookworm-minbase-passwd-unzip.tar");
    if tarball.exists() {
        return tarball;
    }
    let dir = super::temp_dir();
    let rootfs = dir.path().join("rootfs");
    let mut cmd = Command::new("debootstrap");
    cmd.args([
        "--variant=minbase",
        "--include=passwd,unzip",
        "bookworm",
        rootfs.to_str().unwrap(),
        "http://deb.debian.org/debian",
    ]);
    let output = run(&mut cmd);
    if !output.success() {
        output.print("debootstrap");
        panic!("debootstrap failed (it needs Debian's archive and root)");
    }
    // Caches of the bootstrap itself are not part of a base image.
    let _ = fs::remove_dir_all(rootfs.join("var/cache/apt/archives"));
    let partial = cache.join(format!("debian-rootfs.{}.tar", std::process::id()));
    let mut tar = Command::new("tar");
    tar.arg("-C").arg(&rootfs).arg("-cf").arg(&partial).arg(".");
    let output = run(&mut tar);
    assert!(
        output.success(),
        "tar of the rootfs failed: {}",
        output.stderr
    );
    fs::rename(&partial, &tarball).expect("move the rootfs tarball into the cache");
    tarball
}
