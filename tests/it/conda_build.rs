//! pixi-global tools in a real image: the emitted Dockerfile, built with buildah on the
//! Debian base in its own network namespace (as the npm builds are), installs pixi with
//! `install-tool.sh`, then the locked conda environments with `install-pixi-global.sh`
//! as `peid` (`runuser`, chown of `~/.pixi`), and the image's self-check runs
//! `check_conda_envs` and `check_conda_exposed` in a login shell of `peid`. In the built
//! image: the tools run as `peid` in a login shell at their locked versions, the self-check
//! passes at run time, the install script works through `su` where runuser is missing,
//! and a conda file changed upstream after locking fails the build.
//!
//! No pixi binary can be obtained here: the `tools.pixi` release asset the world serves
//! is a STAND-IN, a `pixi` shell wrapper plus `tests/oracle/pixi_rattler.py` (rattler's
//! solver and installer behind the two pixi commands the script runs), run by this
//! machine's python with py-rattler, which the build mounts read-only at
//! [`PYTHON_MOUNT`]. Everything else is the emitted build as it is. The same image under
//! the Docker Engine (which cannot mount a host directory into a build) is `docker.rs`'s,
//! on a base holding a copy of that python ([`copy_python`]).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::conda::{PIXI_RATTLER, fixture_channel, oracle_available};
use crate::npm_build::{USERS, hermetic_build};
use crate::support::buildah::{Buildah, debian_base};
use crate::support::project::{Project, artifact};
use crate::support::registry;
use crate::support::tools;
use crate::support::world::{FixtureRelease, World};
use crate::support::{Output, run};

/// Where the build (and the test's runs in the image) see this machine's python prefix.
pub(crate) const PYTHON_MOUNT: &str = "/opt/mb-python";

/// This machine's python with py-rattler, as a prefix to mount and its interpreter
/// relative to it; `None` (after saying why) when it cannot run in the image.
pub(crate) struct HostPython {
    pub(crate) prefix: PathBuf,
    /// e.g. `bin/python3.11`.
    interpreter: String,
    /// A CA bundle in the prefix (certifi's, or pip's copy of it), e.g.
    /// `lib/python3.11/site-packages/certifi/cacert.pem`.
    ca_bundle: String,
}

impl HostPython {
    /// A shell line running the mounted interpreter with `args`.
    fn exec(&self, args: &str) -> String {
        format!(
            "LD_LIBRARY_PATH={PYTHON_MOUNT}/lib PYTHONHOME={PYTHON_MOUNT} PYTHONDONTWRITEBYTECODE=1 \
             exec {PYTHON_MOUNT}/{} {args}\n",
            self.interpreter
        )
    }
}

pub(crate) fn host_python() -> Option<HostPython> {
    let out = run(Command::new("python3").args([
        "-c",
        "import os, sys, rattler\n\
         try:\n    import certifi\nexcept ImportError:\n    from pip._vendor import certifi\n\
         print(sys.prefix)\nprint(sys.base_prefix)\nprint(os.path.realpath(sys.executable))\n\
         print(os.path.realpath(rattler.__file__))\nprint(os.path.realpath(certifi.where()))",
    ]));
    let lines: Vec<&str> = out.stdout.lines().collect();
    let [prefix, base, executable, rattler, ca_bundle] = lines[..] else {
        crate::support::tools::skip_or_fail(&format!(
            "python3 did not say where it, py-rattler and a CA bundle are: {}",
            out.combined()
        ));
        return None;
    };
    let prefix = std::fs::canonicalize(prefix).ok()?;
    let interpreter = Path::new(executable).strip_prefix(&prefix).ok();
    let ca_bundle = Path::new(ca_bundle).strip_prefix(&prefix).ok();
    if prefix != Path::new(base)
        || interpreter.is_none()
        || ca_bundle.is_none()
        || !Path::new(rattler).starts_with(&prefix)
    {
        crate::support::tools::skip_or_fail(&format!(
            "python3 ({executable}, prefix {}) is not a self-contained prefix holding py-rattler",
            prefix.display()
        ));
        return None;
    }
    Some(HostPython {
        interpreter: interpreter?.to_string_lossy().into_owned(),
        ca_bundle: ca_bundle?.to_string_lossy().into_owned(),
        prefix,
    })
}

/// Copy what the stand-in runs of this machine's python into `to`, laid out as the
/// prefix (for a base image that holds it at [`PYTHON_MOUNT`], for a builder that cannot
/// mount it into the build): the interpreter, libpython, the standard library without
/// its tests, bytecode caches and GUI parts, py-rattler and the CA bundle's package; not
/// the whole prefix with every package the machine has. Returns the bytes copied.
pub(crate) fn copy_python(python: &HostPython, to: &Path) -> u64 {
    let interpreter = Path::new(&python.interpreter);
    let stdlib = Path::new("lib").join(interpreter.file_name().unwrap());
    let site_packages = stdlib.join("site-packages");
    let ca_package = Path::new(&python.ca_bundle)
        .strip_prefix(&site_packages)
        .ok()
        .and_then(|in_site| in_site.components().next())
        .map_or_else(
            || PathBuf::from(&python.ca_bundle),
            |package| site_packages.join(package),
        );
    let mut copied: Vec<PathBuf> = vec![
        interpreter.to_path_buf(),
        stdlib.clone(),
        site_packages.join("rattler"),
        ca_package,
    ];
    for entry in std::fs::read_dir(python.prefix.join("lib")).unwrap() {
        let name = entry.unwrap().file_name();
        if name.to_string_lossy().starts_with("libpython") {
            copied.push(Path::new("lib").join(name));
        }
    }
    // (The stand-in runs with PYTHONDONTWRITEBYTECODE: no caches needed.)
    let left_out = |path: &Path| {
        let name = path.file_name().unwrap().to_string_lossy();
        name == "__pycache__"
            || path.parent() == Some(python.prefix.join(&stdlib).as_path())
                && (["site-packages", "test", "idlelib", "tkinter", "turtledemo"]
                    .contains(&name.as_ref())
                    || name.starts_with("config-"))
    };
    copied
        .iter()
        .map(|path| copy_tree(&python.prefix.join(path), &to.join(path), &left_out))
        .sum()
}

/// Copy `from` (a file, symlink or directory tree) to `to` with its modes, except the
/// paths `left_out` names; returns the bytes of the files copied.
fn copy_tree(from: &Path, to: &Path, left_out: &dyn Fn(&Path) -> bool) -> u64 {
    let meta =
        std::fs::symlink_metadata(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    if meta.file_type().is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(from).unwrap(), to).unwrap();
        0
    } else if meta.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        std::fs::set_permissions(to, meta.permissions()).unwrap();
        let mut bytes = 0;
        for entry in std::fs::read_dir(from).unwrap() {
            let path = entry.unwrap().path();
            if !left_out(&path) {
                bytes += copy_tree(&path, &to.join(path.file_name().unwrap()), left_out);
            }
        }
        bytes
    } else {
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()))
    }
}

/// The stand-in's release asset: `pixi` (a wrapper running [`PIXI_RATTLER`] with the
/// mounted python) and `pixi_rattler.py`, as `pixi-x86_64-unknown-linux-musl.tar.gz`
/// (the layout install-tool.sh unpacks into `~/.pixi/bin`).
fn stand_in_asset(python: &HostPython, version: &str) -> Vec<u8> {
    // py-rattler's HTTP client refuses to start without any CA certificate, and the
    // base has none (nothing here goes to the network: the stand-in takes file://
    // channels only).
    let wrapper = format!(
        "#!/bin/sh\n\
         # NOT pixi: modelbench's test stand-in (tests/it/conda_build.rs). pixi_rattler.py,\n\
         # next to this file, implements `pixi global sync` and `pixi global expose add`\n\
         # with rattler; the test machine's python is mounted at {PYTHON_MOUNT}.\n\
         # `--version` answers for the self-check's version check of the locked release.\n\
         [ \"$*\" = --version ] && {{ echo 'pixi {version} (NOT pixi: rattler stand-in)'; exit 0; }}\n\
         here=$(dirname \"$(readlink -f \"$0\")\")\n\
         [ -e /etc/ssl/certs/ca-certificates.crt ] || export SSL_CERT_FILE={PYTHON_MOUNT}/{}\n\
         {}",
        python.ca_bundle,
        python.exec("\"$here/pixi_rattler.py\" \"$@\""),
    );
    let script = std::fs::read(PIXI_RATTLER).unwrap();
    let mut builder = tar::Builder::new(Vec::new());
    for (name, bytes, mode) in [
        ("pixi", wrapper.as_bytes(), 0o755),
        ("pixi_rattler.py", &script[..], 0o644),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(mode);
        header.set_mtime(1_767_225_600);
        header.set_cksum();
        builder.append_data(&mut header, name, bytes).unwrap();
    }
    let tar = builder.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

/// A `python3` for the fixture's conda `python` (whose `bin/python3.12` runs the
/// machine's `python3`: yq's entry point needs one), mounted as `/usr/local/bin/python3`
/// for the test's own runs in the image only.
pub(crate) fn python3_shim(dir: &Path, python: &HostPython) -> PathBuf {
    let shim = dir.join("python3");
    std::fs::write(&shim, format!("#!/bin/sh\n{}", python.exec("\"$@\""))).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    shim
}

/// The loopback world of a pixi-global build: the fixture conda-forge at its canonical
/// path and at the spec's mirror, and pixi's release whose asset is the stand-in.
pub(crate) fn pixi_world(python: &HostPython) -> World {
    let world = World::start();
    let channel = fixture_channel();
    channel.serve(&world, "/conda/conda-forge");
    channel.serve(&world, "/mirror/conda-forge");
    world.github_release_fixture(
        "prefix-dev",
        "pixi",
        &[
            FixtureRelease::new("v0.63.2", "2026-10-01T00:00:00Z").asset(
                "pixi-x86_64-unknown-linux-musl.tar.gz",
                stand_in_asset(python, "0.63.2"),
            ),
        ],
    );
    world
}

/// A locked project named `name` (tag `t1`, linux/amd64) on `base`: the users of
/// `npm_build`, and as `peid` pixi 0.63.2 with `jq`, `yq` and `gh` as pixi globals
/// through the world's mirror.
pub(crate) fn pixi_project(
    world: &World,
    registry: &registry::Registry,
    base: &str,
    name: &str,
) -> Project {
    let project = Project::new();
    project.spec(&format!(
        r#"[image]
name = "{name}"
tag = "t1"
platforms = ["linux/amd64"]
[base]
image = "{base}"
[mirrors]
conda = "{mirror}"
{USERS}[stage-2]
tools.pixi = {{ version = "0.63.2", user = "peid" }}
pixi-global = ["jq", "yq", "gh"]
"#,
        mirror = world.url("/mirror/conda-forge"),
    ));
    project
        .sources_file()
        .conda(world)
        .github_api(world)
        .registry(registry.host())
        .write();
    project.lock_ok(&[]);
    project
}

/// What the build of [`pixi_project`]'s image prints, whichever builder runs it.
pub(crate) const BUILD_LINES: &[&str] = &[
    "install-tool: pixi v0.63.2 installed for peid",
    "check-conda-envs: 16 conda package(s) in 3 environment(s) match the lock (linux/amd64)",
    "install-pixi-global: 3 environment(s) installed for peid as locked",
    // The image's self-check, in the build.
    "ok   pixi-global environments of peid: 16 conda package(s) in 3 environment(s) match the lock (linux/amd64)",
    "ok   gh on peid's PATH: from pixi-global environment gh",
    "ok   jq on peid's PATH: from pixi-global environment jq",
    "ok   yq on peid's PATH: from pixi-global environment yq",
    "7 checks, 6 ok, 1 skipped",
];

/// The image the issue asks for: `jq`, `yq` and `gh` from the (fixture) conda-forge,
/// reachable as `peid` in a login shell at their locked versions, through the emitted
/// Dockerfile's pixi steps and self-check.
#[test]
fn conda_build_installs_pixi_globals_for_peid_in_a_login_shell() {
    if !tools::require_all(&[tools::DEBIAN_BUILD]) {
        return;
    }
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("skipped: the fixture platform is linux/amd64");
        return;
    }
    if !oracle_available() {
        return;
    }
    let Some(python) = host_python() else {
        return;
    };
    let started = std::time::Instant::now();
    let world = pixi_world(&python);
    let Some(registry) = registry::shared() else {
        return;
    };
    let project = pixi_project(&world, registry, &debian_base(registry), "mb-conda-build");
    project.emit_ok(&["--locked"]);
    let lock = project.lock_toml();
    let version = |tool: &str| {
        artifact(&lock, "conda", tool)["version"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let out = project.out_dir();

    let dir = crate::support::temp_dir();
    let buildah = Buildah::new(dir.path());
    let mount = format!("{}:{PYTHON_MOUNT}:ro", python.prefix.display());
    // The audit (every request a locked URL) is hermetic_build's.
    let log = hermetic_build(
        &buildah,
        &world,
        &project,
        "mb-conda:t1",
        &["--volume", &mount],
    );
    let built = started.elapsed();
    for line in BUILD_LINES {
        assert!(
            log.contains(line),
            "`{line}` missing from the build log:\n{log}"
        );
    }
    assert_conda_files_came_through_the_mirror(&world);

    // One container of the image (each costs a copy of the image with vfs), in order:
    // 1. as peid in a login shell, the tools at their locked versions, from ~/.pixi/bin
    //    (yq is the entry point rattler's installer generated, run by the environment's
    //    python);
    // 2. the image as the build left it: ~/.pixi (and rattler's cache) is peid's, the
    //    manifest names conda-forge, the mirror config is there, the local channel is
    //    gone;
    // 3. the self-check at run time;
    // 4. images without runuser (`as_user` falls back to su): with runuser off the PATH
    //    (/usr/sbin) and peid's environments and exposed tools removed, the install script
    //    runs again (from the world; not audited) and the self-check passes through su.
    let shim = python3_shim(dir.path(), &python);
    let shim_mount = format!("{}:/usr/local/bin/python3:ro", shim.display());
    // (`set -e` does not apply to `! CMD`: hence `if CMD; then exit 1; fi`.)
    let script = "set -e\n\
        su - peid -c 'jq; yq; gh; command -v jq yq gh'\n\
        echo ---\n\
        find /home/peid/.pixi /home/peid/.cache ! -user peid\n\
        echo ---\n\
        grep -c '^channels = \\[\"conda-forge\"\\]$' /home/peid/.pixi/manifests/pixi-global.toml\n\
        if grep file:// /home/peid/.pixi/manifests/pixi-global.toml; then exit 1; fi\n\
        cat /home/peid/.pixi/config.toml\n\
        test ! -e /modelbench/conda-channel\n\
        echo ---\n\
        /usr/local/bin/modelbench-self-check\n\
        echo ---\n\
        rm -r /home/peid/.pixi/envs /home/peid/.pixi/bin/jq /home/peid/.pixi/bin/yq /home/peid/.pixi/bin/gh\n\
        export PATH=/usr/bin:/bin\n\
        if command -v runuser; then exit 1; fi\n\
        sh /modelbench/installation/install-pixi-global.sh /modelbench/installation/stage-2 peid\n\
        find /home/peid/.pixi ! -user peid\n\
        su - peid -c 'jq; command -v yq'\n\
        /usr/local/bin/modelbench-self-check\n";
    let check: Output = buildah.run_in_with(
        "mb-conda:t1",
        &["--volume", &mount, "--volume", &shim_mount],
        &["sh", "-c", script],
    );
    let printed = check.combined();
    assert!(check.success(), "{printed}");
    let parts: Vec<&str> = check.stdout.split("---\n").collect();
    let [login, owners, manifest, self_check, su] = parts[..] else {
        panic!("{printed}");
    };
    assert_eq!(
        login,
        format!(
            "jq {}\nyq {}\ngh {}\n/home/peid/.pixi/bin/jq\n/home/peid/.pixi/bin/yq\n/home/peid/.pixi/bin/gh\n",
            version("jq"),
            version("yq"),
            version("gh")
        ),
        "{printed}"
    );
    assert_eq!(version("jq"), "1.7.1");
    assert_eq!(owners, "", "not peid's:\n{printed}");
    // The canonical channel URL is text here, the key pixi matches mirrors by; nothing
    // fetches it (checks against live upstreams are opt-in: MODELBENCH_LIVE=1).
    assert_eq!(
        manifest,
        format!(
            "3\n[mirrors]\n\"https://conda.anaconda.org/conda-forge\" = [\"{}\"]\n\n",
            world.url("/mirror/conda-forge")
        ),
        "{printed}"
    );
    for line in [
        "ok   pixi version for peid: 0.63.2",
        "ok   pixi-global environments of peid: 16 conda package(s)",
        "ok   yq on peid's PATH: from pixi-global environment yq",
    ] {
        assert!(self_check.contains(line), "{line}: {printed}");
    }
    assert!(!self_check.contains("fail"), "{printed}");
    for line in [
        "install-pixi-global: 3 environment(s) installed for peid as locked",
        "jq 1.7.1\n/home/peid/.pixi/bin/yq\n",
        "ok   pixi-global environments of peid: 16 conda package(s)",
        "ok   jq on peid's PATH: from pixi-global environment jq",
    ] {
        assert!(su.contains(line), "{line}: {printed}");
    }
    assert!(!su.contains("fail"), "{printed}");
    let checked = started.elapsed();

    // One locked conda file changed upstream (mirror and canonical, same size): the
    // build fails at its fetch, naming it, before pixi runs.
    let file = tamper_jq(&world, &lock);
    let build = buildah.bud(&out, &out.join("merged.Dockerfile"), "mb-conda:t2", &[]);
    let log = build.combined();
    assert!(
        !build.success(),
        "a tampered conda file must fail the build:\n{log}"
    );
    assert_tampered_jq_failed(&log, &file);
    eprintln!(
        "conda build: built in {built:?}, checked at {checked:?}, tampered build failed at {:?}",
        started.elapsed()
    );
}

/// Each locked conda file came once, through the mirror; the canonical URLs were not
/// needed.
pub(crate) fn assert_conda_files_came_through_the_mirror(world: &World) {
    let conda: Vec<String> = world
        .requests()
        .into_iter()
        .map(|(_, path, _)| path)
        .filter(|p| p.ends_with(".conda") || p.ends_with(".tar.bz2"))
        .collect();
    assert_eq!(conda.len(), 11, "{conda:?}");
    assert!(
        conda.iter().all(|p| p.starts_with("/mirror/conda-forge/")),
        "{conda:?}"
    );
}

/// Change the last byte of jq's locked package upstream (mirror and canonical, same
/// size); returns its path in the channel (`linux-64/jq-…`).
pub(crate) fn tamper_jq(world: &World, lock: &toml::Table) -> String {
    let file = format!("linux-64/{}", jq_file(lock));
    let mut bytes = crate::support::http::get(&world.url(&format!("/mirror/conda-forge/{file}")))
        .unwrap()
        .body;
    *bytes.last_mut().unwrap() ^= 1;
    world.replace_body(&format!("/mirror/conda-forge/{file}"), bytes.clone());
    world.replace_body(&format!("/conda/conda-forge/{file}"), bytes);
    file
}

/// A build after [`tamper_jq`] failed at the fetch of `file`, naming it, before pixi ran.
pub(crate) fn assert_tampered_jq_failed(log: &str, file: &str) {
    assert!(
        log.contains(&format!(
            "modelbench-fetch: no locked URL served `conda:{file}` (linux/amd64) with the locked hash"
        )) && log.contains("sha256 mismatch"),
        "{log}"
    );
    assert!(!log.contains("Environment jq installed"), "{log}");
}

/// The file name of jq's locked package for linux/amd64.
fn jq_file(lock: &toml::Table) -> String {
    artifact(lock, "conda", "jq")["package"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"].as_str() == Some("jq"))
        .and_then(|p| p["file"].as_str())
        .unwrap()
        .to_string()
}
