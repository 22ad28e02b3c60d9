//! apt end to end: a signed archive of tiny `.deb` files (built here with `dpkg-deb`, signed
//! with a throwaway gpg key) on the loopback world, locked on top of the Debian minbase's
//! dpkg status (read from the base image's layers in the test registry: `mb-hello` needs
//! the base's `libc6`, which the archive does not have), emitted and built with buildah. The build installs exactly the locked
//! closure (stage 2 on top of stage 1) and checks dpkg against the lock; a tampered `.deb`
//! fails the build naming the package and both hashes; a package installed by hand
//! afterwards fails the image's self-check.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::buildah::{Buildah, debian_base};
use crate::support::project::{Project, artifact};
use crate::support::registry;
use crate::support::tools;
use crate::support::world::{Response, World};
use crate::support::{run, sha256_hex};

/// One fake package: control fields beyond the basics, and the file it installs.
pub(crate) struct Fake {
    pub(crate) name: &'static str,
    version: &'static str,
    arch: &'static str,
    fields: &'static str,
    /// Files in DEBIAN/ beyond control: maintainer scripts (made executable), triggers.
    debian: &'static [(&'static str, &'static str)],
}

const FAKES: &[Fake] = &[
    Fake {
        name: "mb-hello",
        version: "1.0-1",
        arch: "amd64",
        fields: "Depends: mb-libgreet (>= 1.0), libc6\nRecommends: mb-hello-doc\n",
        // Like a real program: registers an alternative (update-alternatives logs it).
        debian: &[(
            "postinst",
            "#!/bin/sh\nset -e\nif [ \"$1\" = configure ]; then\n    update-alternatives --install /usr/bin/mb-greeting mb-greeting /usr/share/mb/mb-hello 10\nfi\n",
        )],
    },
    Fake {
        name: "mb-libgreet",
        version: "1.2-1",
        arch: "all",
        fields: "",
        // Like a real library: libc's trigger runs ldconfig.
        debian: &[("triggers", "activate-noawait ldconfig\n")],
    },
    Fake {
        name: "mb-hello-doc",
        version: "1.0-1",
        arch: "all",
        fields: "",
        debian: &[],
    },
    Fake {
        name: "mb-tool",
        version: "2:0.5-1",
        arch: "all",
        fields: "Depends: mb-libgreet\n",
        debian: &[],
    },
    Fake {
        name: "mb-extra",
        version: "1.0-1",
        arch: "all",
        fields: "",
        debian: &[],
    },
];

fn deb_file(fake: &Fake) -> String {
    let version = fake
        .version
        .split_once(':')
        .map_or(fake.version, |(_, v)| v);
    format!("{}_{version}_{}.deb", fake.name, fake.arch)
}

/// Build the `.deb` files with `dpkg-deb`; returns (fake, pool path, bytes).
pub(crate) fn build_debs(dir: &Path) -> Vec<(&'static Fake, String, Vec<u8>)> {
    let mut out = Vec::new();
    for fake in FAKES {
        let root = dir.join(fake.name);
        fs::create_dir_all(root.join("DEBIAN")).unwrap();
        fs::create_dir_all(root.join("usr/share/mb")).unwrap();
        fs::write(
            root.join(format!("usr/share/mb/{}", fake.name)),
            format!("{} {}\n", fake.name, fake.version),
        )
        .unwrap();
        fs::write(
            root.join("DEBIAN/control"),
            format!(
                "Package: {}\nVersion: {}\nArchitecture: {}\nMaintainer: modelbench tests <tests@example.invalid>\n{}Description: modelbench test package {}\n",
                fake.name, fake.version, fake.arch, fake.fields, fake.name
            ),
        )
        .unwrap();
        for (name, text) in fake.debian {
            let path = root.join("DEBIAN").join(name);
            fs::write(&path, text).unwrap();
            if text.starts_with("#!") {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
            }
        }
        let file = dir.join(deb_file(fake));
        let output = run(Command::new("dpkg-deb")
            .args(["--root-owner-group", "-Zgzip", "--build"])
            .arg(&root)
            .arg(&file));
        assert!(output.success(), "dpkg-deb: {}", output.combined());
        let pool = format!("pool/main/m/{}/{}", fake.name, deb_file(fake));
        out.push((fake, pool, fs::read(&file).unwrap()));
    }
    out
}

/// A throwaway signing key; returns (GNUPGHOME, binary public keyring).
fn signing_key(dir: &Path) -> (PathBuf, Vec<u8>) {
    let home = dir.join("gnupg");
    fs::create_dir_all(&home).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&home, fs::Permissions::from_mode(0o700)).unwrap();
    }
    let gpg = |args: &[&str]| {
        let output = run(Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--quiet", "--yes"])
            .args(args));
        assert!(output.success(), "gpg {args:?}: {}", output.combined());
        output
    };
    gpg(&[
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "",
        "--quick-gen-key",
        "modelbench apt build test <apt-build@test.invalid>",
        "rsa3072",
        "sign",
        "never",
    ]);
    let keyring = dir.join("keyring.gpg");
    gpg(&[
        "--output",
        keyring.to_str().unwrap(),
        "--export",
        "apt-build@test.invalid",
    ]);
    (home, fs::read(keyring).unwrap())
}

/// Serve a signed archive (suite `test`, component `main`, amd64) under `/debian`.
pub(crate) fn serve_archive(
    world: &World,
    dir: &Path,
    debs: &[(&'static Fake, String, Vec<u8>)],
) -> Vec<u8> {
    let (home, keyring) = signing_key(dir);
    let mut packages = String::new();
    for (fake, pool, bytes) in debs {
        packages.push_str(&format!(
            "Package: {}\nVersion: {}\nArchitecture: {}\nMaintainer: modelbench tests <tests@example.invalid>\n{}Priority: optional\nSection: misc\nFilename: {pool}\nSize: {}\nSHA256: {}\nDescription: modelbench test package {}\n\n",
            fake.name,
            fake.version,
            fake.arch,
            fake.fields,
            bytes.len(),
            sha256_hex(bytes),
            fake.name
        ));
        world.get(&format!("/debian/{pool}"), Response::bytes(bytes.clone()));
    }
    let release = format!(
        "Origin: modelbench\nLabel: modelbench apt build test\nSuite: test\nCodename: test\nDate: Sat, 11 Jul 2026 10:16:37 UTC\nArchitectures: amd64\nComponents: main\nSHA256:\n {} {:>16} main/binary-amd64/Packages\n",
        sha256_hex(packages.as_bytes()),
        packages.len()
    );
    let release_path = dir.join("Release");
    fs::write(&release_path, &release).unwrap();
    let inrelease = dir.join("InRelease");
    let output = run(Command::new("gpg")
        .env("GNUPGHOME", &home)
        .args(["--batch", "--quiet", "--yes", "--clearsign", "--output"])
        .arg(&inrelease)
        .arg(&release_path));
    assert!(output.success(), "gpg --clearsign: {}", output.combined());
    let _ = run(Command::new("gpgconf")
        .env("GNUPGHOME", &home)
        .args(["--kill", "gpg-agent"]));
    world.get(
        "/debian/dists/test/InRelease",
        Response::bytes(fs::read(&inrelease).unwrap()),
    );
    world.get(
        "/debian/dists/test/main/binary-amd64/Packages",
        Response::text(packages),
    );
    keyring
}

/// A built .deb: its package, its file name and its bytes.
pub(crate) type Deb = (&'static Fake, String, Vec<u8>);

/// A signed archive on the world with `mb-hello` (and its closure) and `mb-tool`, and a
/// project on the Debian base with an apt closure in each stage, locked (not emitted).
/// Also the .debs served and the directory that holds the signing key; `None` (after
/// saying why) where the fixture cannot run.
pub(crate) fn apt_build_project() -> Option<(World, Project, Vec<Deb>, tempfile::TempDir)> {
    if !tools::require_all(&[tools::DEBIAN_BUILD, &[&tools::DPKG_DEB, &tools::GPG]]) {
        return None;
    }
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("skipped: the fixture platform is linux/amd64");
        return None;
    }
    let registry = registry::shared()?;
    let base = debian_base(registry);
    let world = World::start();
    let work = crate::support::temp_dir();
    let debs = build_debs(work.path());
    let keyring = serve_archive(&world, work.path(), &debs);

    let project = Project::new();
    fs::create_dir_all(project.path("specs")).unwrap();
    fs::write(project.path("specs/keyring.gpg"), &keyring).unwrap();
    project.spec(&format!(
        r#"[image]
name = "mb-apt"
tag = "t1"
platforms = ["linux/amd64"]

[base]
image = "{base}"

[[apt.archives]]
uris = ["{archive}"]
suites = ["test"]
components = ["main"]
signed-by = ["keyring.gpg"]

[stage-1]
apt = ["mb-hello"]

[stage-2]
apt = ["mb-missing | mb-tool"]
"#,
        archive = world.url("/debian"),
    ));
    project
        .sources_file()
        .tools(&world)
        .registry(registry.host())
        .write();
    project.lock_ok(&[]);
    Some((world, project, debs, work))
}

#[test]
fn apt_build_installs_the_locked_closure_and_fails_closed() {
    let started = std::time::Instant::now();
    let Some((world, project, debs, work)) = apt_build_project() else {
        return;
    };

    // Stage 1: the closure with Recommends; stage 2: only what stage 1 lacks.
    let lock = project.lock_toml();
    let members = |stage: &str| -> Vec<String> {
        artifact(&lock, "apt", stage)["package"]
            .as_array()
            .expect("apt packages")
            .iter()
            .map(|p| {
                format!(
                    "{} {}",
                    p["name"].as_str().unwrap(),
                    p["version"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(
        members("stage-1"),
        ["mb-hello 1.0-1", "mb-hello-doc 1.0-1", "mb-libgreet 1.2-1"]
    );
    assert_eq!(members("stage-2"), ["mb-tool 2:0.5-1"]);

    project.emit_ok(&["--locked"]);
    let out = project.out_dir();
    let debs_tsv = fs::read_to_string(out.join("installation/stage-1/debs.tsv")).unwrap();
    assert!(
        debs_tsv.contains("linux/amd64\tmb-hello\t1.0-1\tamd64\tdeb:mb-hello_1.0-1_amd64\tmb-hello_1.0-1_amd64.deb"),
        "{debs_tsv}"
    );
    let manifest = fs::read_to_string(out.join("installation/stage-2/artifacts.tsv")).unwrap();
    let tool = &debs.iter().find(|d| d.0.name == "mb-tool").unwrap().2;
    assert!(
        manifest.contains(&format!(
            "deb:mb-tool_2:0.5-1_all\tlinux/amd64\tsha256:{}\t{}\t{}",
            sha256_hex(tool),
            tool.len(),
            world.url("/debian/pool/main/m/mb-tool/mb-tool_0.5-1_all.deb")
        )),
        "{manifest}"
    );
    for dockerfile in [
        "stage-1.Dockerfile",
        "stage-2.Dockerfile",
        "merged.Dockerfile",
    ] {
        let text = fs::read_to_string(out.join(dockerfile)).unwrap();
        assert!(text.contains("install-debs.sh"), "{dockerfile}: {text}");
        assert!(!text.contains("apt-get update"), "{dockerfile}: {text}");
    }
    eprintln!(
        "apt_build: locked and emitted after {:?}",
        started.elapsed()
    );

    let dir = crate::support::temp_dir();
    let buildah = Buildah::new(dir.path());
    let build = buildah.bud(&out, &out.join("merged.Dockerfile"), "mb-apt:t1", &[]);
    assert!(build.success(), "the apt build must succeed");
    let log = build.combined();
    for line in [
        "install-debs: dpkg matches the lock: 3 package(s) installed for linux/amd64",
        "install-debs: dpkg matches the lock: 1 package(s) installed for linux/amd64",
        "ok   apt packages of stage-1: 3 locked package(s) installed at their locked versions",
        "ok   apt packages of stage-2: 1 locked package(s) installed at their locked versions",
        "ok   dpkg unchanged since the build",
    ] {
        assert!(
            log.contains(line),
            "`{line}` missing from the build log:\n{log}"
        );
    }
    eprintln!("apt_build: built after {:?}", started.elapsed());

    // A package installed by hand afterwards fails the image's self-check.
    let container = buildah.ok(&["from", "--quiet", "mb-apt:t1"]);
    let container = container.stdout.trim().to_string();
    let extra = work.path().join(deb_file(&FAKES[4]));
    buildah.ok(&[
        "copy",
        "--quiet",
        &container,
        extra.to_str().unwrap(),
        "/tmp/extra.deb",
    ]);
    buildah.ok(&["run", &container, "--", "dpkg", "-i", "/tmp/extra.deb"]);
    let broken = buildah.run(&[
        "run",
        &container,
        "--",
        "/usr/local/bin/modelbench-self-check",
    ]);
    assert!(!broken.success(), "{}", broken.stdout);
    assert!(
        broken
            .stdout
            .contains("fail dpkg unchanged since the build: not in the lock: mb-extra 1.0-1 all"),
        "{}",
        broken.stdout
    );
    broken.assert_stdout_contains("ok   apt packages of stage-1");
    buildah.ok(&["rm", &container]);

    // One changed byte in a locked .deb fails the build, naming it and both hashes.
    let (_, pool, bytes) = debs.iter().find(|d| d.0.name == "mb-libgreet").unwrap();
    let mut tampered = bytes.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    world.replace_body(&format!("/debian/{pool}"), tampered.clone());
    let build = buildah.bud(&out, &out.join("merged.Dockerfile"), "mb-apt:tampered", &[]);
    assert!(!build.success());
    let log = build.combined();
    assert!(
        log.contains(&format!(
            "sha256 mismatch for `deb:mb-libgreet_1.2-1_all` (linux/amd64): expected sha256:{}, got sha256:{}",
            sha256_hex(bytes),
            sha256_hex(&tampered)
        )),
        "{log}"
    );
    eprintln!("apt_build: done after {:?}", started.elapsed());
}
