//! The tools around the lock: `why` (text and `--json`), `sbom` (CycloneDX 1.5 and SPDX 2.3,
//! validated against the published JSON schemas), `import-pei` (three PeiDocker configs),
//! the emitted `docker-bake.hcl` (parsed as HCL), shell completions and the man page.
//!
//! Two locks: a real one from the loopback world (base image, clash-rs, node with nvm), and
//! a closure fixture for apt, npm and conda members with `required-by`, written by this test
//! because no resolver for those kinds has landed yet.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::support::project::Project;
use crate::support::registry;
use crate::support::world::{FixtureRelease, Response, World};
use crate::support::{Output, run, sha256_hex};

// ---------------------------------------------------------------------------------------
// A real lock: base, clash-rs, node (with nvm), and a build-time proxy.

fn real_spec(base: &str) -> String {
    format!(
        r#"[image]
name = "mb-ux"
tag = "t1"
platforms = ["linux/amd64"]

[base]
image = "{base}"

[proxy]
address = "proxy.internal.example"
port = "${{HOST_PORT_PROXY:-7890}}"

[[users]]
name = "peid"
uid = 3100
gid = 1100

[stage-2]
tools.node = {{ version = "lts", user = "peid" }}

[stage-2.release.clash-rs]
repo = "Watfaq/clash-rs"
version = "latest"
asset = "clash-rs-{{triple}}"
dest = "/hard/image/app/clash/clash-rs"
"#
    )
}

const NVM_SH: &str = "# fixture nvm.sh\n";

/// A locked project from the loopback world, with the world still up.
fn real_project() -> (Project, World, String) {
    let registry = registry::shared_required();
    let world = World::start();
    world.github_release_fixture(
        "Watfaq",
        "clash-rs",
        &[
            FixtureRelease::new("v0.10.8", "2026-07-23T10:00:00Z").asset(
                "clash-rs-x86_64-unknown-linux-musl",
                b"clash amd64".to_vec(),
            ),
        ],
    );
    world.github_release_fixture(
        "nvm-sh",
        "nvm",
        &[FixtureRelease::new("v0.40.3", "2026-04-23T00:00:00Z")],
    );
    world.get("/raw/nvm-sh/nvm/v0.40.3/nvm.sh", Response::text(NVM_SH));
    world.get(
        "/nodejs/dist/index.json",
        Response::json(json!([
            {"version": "v22.11.0", "date": "2026-10-29", "files": ["linux-x64"], "lts": "Jod", "security": false},
        ])),
    );
    world.get(
        "/nodejs/dist/v22.11.0/SHASUMS256.txt",
        Response::text(format!(
            "{}  node-v22.11.0-linux-x64.tar.gz\n",
            sha256_hex(b"node tarball")
        )),
    );
    let base = registry.push_base(&format!("ux-test/base-{}", world.addr().port()));
    let project = Project::new();
    project.spec(&real_spec(&base));
    project
        .sources_file()
        .tools(&world)
        .registry(registry.host())
        .write();
    project.lock_ok(&[]);
    (project, world, base)
}

fn ok(project: &Project, args: &[&str]) -> Output {
    let output = project.run(args);
    if !output.success() {
        output.print(&format!("modelbench {}", args.join(" ")));
        panic!("modelbench {} failed", args.join(" "));
    }
    output
}

#[test]
fn ux_why_release_tool_and_base() {
    let (project, _world, base) = real_project();
    let project = &project;
    let lock = project.lock_toml();
    let digest = crate::support::project::artifact(&lock, "oci", "base")["digest"]
        .as_str()
        .unwrap()
        .to_string();

    let out = ok(project, &["why", "clash-rs", "specs/test.toml"]);
    assert_eq!(
        out.stdout,
        "github-release `clash-rs` v0.10.8\n  requested by [stage-2.release.clash-rs] version = \"latest\" (specs/test.toml:23); asset of Watfaq/clash-rs\n"
    );
    let out = ok(project, &["why", "node", "specs/test.toml"]);
    assert_eq!(
        out.stdout,
        "nodejs `node` v22.11.0\n  requested by [stage-2] tools.node = { version = \"lts\", user = \"peid\" } (specs/test.toml:19)\n"
    );
    let out = ok(project, &["why", "nvm", "specs/test.toml"]);
    assert_eq!(
        out.stdout,
        "github-release `nvm` v0.40.3\n  requested by [stage-2] tools.node = { version = \"lts\", user = \"peid\" } (specs/test.toml:19); tool `node` brings `nvm` along (nvm = \"latest\")\n"
    );
    let out = ok(project, &["why", "base", "specs/test.toml"]);
    assert_eq!(
        out.stdout,
        format!(
            "oci `base` 1 ({digest})\n  requested by [base] image = \"{base}\" (specs/test.toml:7)\n"
        )
    );

    let missing = project.run(&["why", "nothing-here", "specs/test.toml"]);
    assert_eq!(missing.status, Some(1));
    assert_eq!(
        missing.stderr,
        "error: `nothing-here` is not in the lock lock/test/bench.lock (neither an artifact nor a closure member); its artifacts are: base, clash-rs, node, nvm\n"
    );
}

#[test]
fn ux_why_json_for_a_release() {
    let (project, _world, _) = real_project();
    let project = &project;
    let out = ok(project, &["why", "clash-rs", "specs/test.toml", "--json"]);
    let value: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        value,
        json!({
            "schema": "modelbench-why/1",
            "name": "clash-rs",
            "lock": "lock/test/bench.lock",
            "spec": "specs/test.toml",
            "matches": [{
                "kind": "github-release",
                "artifact": "clash-rs",
                "name": "clash-rs",
                "member": false,
                "version": "v0.10.8",
                "platforms": ["linux/amd64"],
                "requested": true,
                "origins": [{
                    "stage": "stage-2",
                    "table": "stage-2.release.clash-rs",
                    "key": "version",
                    "value": "\"latest\"",
                    "line": 23,
                    "note": "asset of Watfaq/clash-rs",
                }],
            }],
        })
    );
}

/// Lock format 2 keeps each entry's upstream (`source`) and spec entry (`origin`); a format 1
/// lock is refused by the commands that need them, with what to run, and `lock` migrates it
/// offline to the same bytes a fresh lock has.
#[test]
fn ux_lock_format_1_is_migrated_offline() {
    let (project, world, _) = real_project();
    let lock = project.lock_toml();
    assert_eq!(lock["version"].as_integer(), Some(2));
    let entry = |kind, name| {
        let artifact = crate::support::project::artifact(&lock, kind, name);
        let field = |key: &str| {
            artifact
                .get(key)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        (field("source"), field("origin"))
    };
    let some = |a: &str, b: &str| (Some(a.to_string()), Some(b.to_string()));
    assert_eq!(
        entry("github-release", "clash-rs"),
        some("github:Watfaq/clash-rs", "stage-2.release.clash-rs")
    );
    assert_eq!(
        entry("github-release", "nvm"),
        some("github:nvm-sh/nvm", "stage-2.tools.node")
    );
    assert_eq!(
        entry("nodejs", "node"),
        some("nodejs:node", "stage-2.tools.node")
    );
    let (source, origin) = entry("oci", "base");
    assert!(source.unwrap().starts_with("oci:"));
    assert_eq!(origin.as_deref(), Some("base.image"));

    // The same lock as format 1 wrote it: no `source`/`origin`, checksums sealed without them.
    let v2 = project.lock_bytes();
    let mut old =
        modelbench::lock::Lock::parse(&project.lock_path(), std::str::from_utf8(&v2).unwrap())
            .unwrap();
    for artifact in &mut old.artifacts {
        artifact.source = None;
        artifact.origin = None;
    }
    let mut old = modelbench::lock::Lock::new(old.spec_hash, old.artifacts);
    old.version = 1;
    std::fs::write(project.lock_path(), old.to_bytes()).unwrap();

    for args in [
        &["why", "clash-rs", "specs/test.toml"][..],
        &["sbom", "specs/test.toml"],
        &["emit", "specs/test.toml", "--locked"],
        &["lock", "specs/test.toml", "--check"],
    ] {
        let output = project.run(args);
        assert_eq!(output.status, Some(1), "{args:?}");
        assert!(
            output.stderr.contains(
                "has format version 1 (without `source` and `origin`); re-run `modelbench lock`"
            ),
            "{args:?}: {}",
            output.stderr
        );
    }
    // Offline, with the upstreams gone: every pin still answers its request.
    drop(world);
    project.lock_ok(&["--offline"]);
    assert_eq!(project.lock_bytes(), v2);
}

// ---------------------------------------------------------------------------------------
// A closure fixture: apt (two platforms), npm (platform-independent, sha512), conda.

const CLOSURE_SPEC: &str = r#"[image]
name = "mb-why"
tag = "t1"
platforms = ["linux/amd64", "linux/arm64"]

[base]
image = "ubuntu:24.04"

[stage-1]
apt = ["git", "curl"]

[stage-2]
npm-global = { "@openai/codex" = "latest" }
pixi-global = ["jq"]
tools.node = { version = "lts", user = "peid" }

[[users]]
name = "peid"
uid = 3100
gid = 1100
"#;

/// (name, version, required-by, requested)
const APT: &[(&str, &str, &[&str], bool)] = &[
    ("curl", "8.5.0-2ubuntu10.6", &[], true),
    ("git", "1:2.43.0-1ubuntu7.3", &[], true),
    (
        "libc6",
        "2.39-0ubuntu8.6",
        &[
            "curl",
            "git",
            "libcurl3t64-gnutls",
            "libcurl4t64",
            "libnghttp2-14",
        ],
        false,
    ),
    ("libcurl3t64-gnutls", "8.5.0-2ubuntu10.6", &["git"], false),
    ("libcurl4t64", "8.5.0-2ubuntu10.6", &["curl"], false),
    (
        "libnghttp2-14",
        "1.59.0-1ubuntu0.2",
        &["libcurl3t64-gnutls", "libcurl4t64"],
        false,
    ),
];

fn quoted(items: &[&str]) -> String {
    let items: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
    format!("[{}]", items.join(", "))
}

/// A bench.lock (format 2) with closure members, in the documented format
/// (docs/lock-format.md).
/// Only the offline commands (why, sbom) read it: its hashes are digests of labels and
/// its URLs name reserved `.example` hosts, never an upstream.
fn closure_lock() -> String {
    let h = |text: &str| sha256_hex(text.as_bytes());
    let mut t = format!(
        "version = 2\nspec-hash = \"sha256:{}\"\n",
        h("closure fixture")
    );
    // base
    t.push_str(&format!(
        "\n[[artifact]]\nkind = \"oci\"\nname = \"base\"\nrequested = \"ubuntu:24.04\"\nrequest-hash = \"sha256:{}\"\nsource = \"oci:ubuntu:24.04\"\norigin = \"base.image\"\nversion = \"24.04\"\ndigest = \"sha256:{}\"\nimages = [\"docker.io/library/ubuntu@sha256:{}\"]\n",
        h("base request"),
        h("index"),
        h("index")
    ));
    for (platform, arch) in [("linux/amd64", "amd64"), ("linux/arm64", "arm64")] {
        t.push_str(&format!(
            "\n[artifact.platform.\"{platform}\"]\nfile = \"manifest\"\nurls = [\"https://registry.example/v2/library/ubuntu/manifests/sha256:{}\"]\nhash = \"sha256:{}\"\n",
            h(arch),
            h(arch)
        ));
    }
    // apt
    t.push_str(&format!(
        "\n[[artifact]]\nkind = \"apt\"\nname = \"stage-1\"\nrequested = \"git, curl\"\nrequest-hash = \"sha256:{}\"\norigin = \"stage-1.apt\"\nversion = \"sha256:{}\"\n",
        h("apt request"),
        h("apt closure")
    ));
    for (platform, arch) in [("linux/amd64", "amd64"), ("linux/arm64", "arm64")] {
        for (name, version, required_by, requested) in APT {
            let upstream = version.split_once(':').map_or(*version, |(_, v)| v);
            let file = format!("{name}_{upstream}_{arch}.deb");
            t.push_str(&format!(
                "\n[[artifact.package]]\nname = \"{name}\"\nversion = \"{version}\"\nplatform = \"{platform}\"\narch = \"{arch}\"\nfile = \"{file}\"\nurls = [\"https://apt-mirror.example/ubuntu/pool/main/{}/{name}/{file}\"]\nhash = \"sha256:{}\"\nsize = {}\n",
                &name[..1],
                h(&file),
                1000 + file.len()
            ));
            if *requested {
                t.push_str("requested = true\n");
            }
            if !required_by.is_empty() {
                t.push_str(&format!("required-by = {}\n", quoted(required_by)));
            }
        }
    }
    // conda
    t.push_str(&format!(
        "\n[[artifact]]\nkind = \"conda\"\nname = \"jq\"\nrequested = \"jq\"\nrequest-hash = \"sha256:{}\"\nsource = \"conda:conda-forge/jq\"\norigin = \"stage-2.pixi-global\"\nversion = \"1.7.1\"\n",
        h("conda request")
    ));
    for (platform, subdir) in [
        ("linux/amd64", "linux-64"),
        ("linux/arm64", "linux-aarch64"),
    ] {
        for (name, version, build, required_by) in [
            ("jq", "1.7.1", "h4bc722e_0", None),
            ("oniguruma", "6.9.9", "hb9d3cd8_0", Some("jq")),
        ] {
            let file = format!("{name}-{version}-{build}.conda");
            t.push_str(&format!(
                "\n[[artifact.package]]\nname = \"{name}\"\nversion = \"{version}\"\nplatform = \"{platform}\"\nbuild = \"{build}\"\nsubdir = \"{subdir}\"\nfile = \"{file}\"\nurls = [\"https://conda-mirror.example/conda-forge/{subdir}/{file}\"]\nhash = \"sha256:{}\"\n",
                h(&format!("{subdir}/{file}"))
            ));
            match required_by {
                None => t.push_str("requested = true\n"),
                Some(by) => t.push_str(&format!("required-by = [\"{by}\"]\n")),
            }
        }
    }
    // npm
    t.push_str(&format!(
        "\n[[artifact]]\nkind = \"npm\"\nname = \"@openai/codex\"\nrequested = \"latest\"\nrequest-hash = \"sha256:{}\"\nsource = \"npm:@openai/codex\"\norigin = \"stage-2.npm-global.\\\"@openai/codex\\\"\"\nversion = \"0.20.0\"\n",
        h("npm request")
    ));
    let sha512 = |text: &str| format!("{}{}", h(text), h(&format!("{text}+")));
    t.push_str(&format!(
        "\n[[artifact.package]]\nname = \"@openai/codex\"\nversion = \"0.20.0\"\nplatform = \"all\"\npath = \"node_modules/@openai/codex\"\nfile = \"codex-0.20.0.tgz\"\nurls = [\"https://npm-mirror.example/@openai/codex/-/codex-0.20.0.tgz\"]\nhash = \"sha512:{}\"\nrequested = true\n",
        sha512("codex")
    ));
    t.push_str(&format!(
        "\n[[artifact.package]]\nname = \"undici\"\nversion = \"6.21.0\"\nplatform = \"all\"\npath = \"node_modules/undici\"\nfile = \"undici-6.21.0.tgz\"\nurls = [\"https://npm-mirror.example/undici/-/undici-6.21.0.tgz\"]\nhash = \"sha512:{}\"\nrequired-by = [\"@openai/codex\"]\n",
        sha512("undici")
    ));
    t
}

fn closure_project() -> Project {
    let project = Project::new();
    project.spec(CLOSURE_SPEC);
    project.write("lock/test/bench.lock", &closure_lock());
    project
}

#[test]
fn ux_why_closure_paths() {
    let project = closure_project();
    let out = ok(&project, &["why", "libnghttp2-14", "specs/test.toml"]);
    assert_eq!(
        out.stdout,
        "\
libnghttp2-14 1.59.0-1ubuntu0.2 (linux/amd64, linux/arm64), in apt `stage-1`
  required by:
  ├── libcurl3t64-gnutls 8.5.0-2ubuntu10.6
  │   └── git 1:2.43.0-1ubuntu7.3 ← [stage-1] apt = \"git\" (specs/test.toml:10)
  └── libcurl4t64 8.5.0-2ubuntu10.6
      └── curl 8.5.0-2ubuntu10.6 ← [stage-1] apt = \"curl\" (specs/test.toml:10)
"
    );
    // A member many others need: each dependent once in full, `(*)` where it repeats.
    let out = ok(&project, &["why", "libc6", "specs/test.toml"]);
    assert_eq!(
        out.stdout,
        "\
libc6 2.39-0ubuntu8.6 (linux/amd64, linux/arm64), in apt `stage-1`
  required by:
  ├── curl 8.5.0-2ubuntu10.6 ← [stage-1] apt = \"curl\" (specs/test.toml:10)
  ├── git 1:2.43.0-1ubuntu7.3 ← [stage-1] apt = \"git\" (specs/test.toml:10)
  ├── libcurl3t64-gnutls 8.5.0-2ubuntu10.6
  │   └── git 1:2.43.0-1ubuntu7.3 ← [stage-1] apt = \"git\" (specs/test.toml:10)
  ├── libcurl4t64 8.5.0-2ubuntu10.6
  │   └── curl 8.5.0-2ubuntu10.6 ← [stage-1] apt = \"curl\" (specs/test.toml:10)
  └── libnghttp2-14 1.59.0-1ubuntu0.2
      ├── libcurl3t64-gnutls 8.5.0-2ubuntu10.6 (*)
      └── libcurl4t64 8.5.0-2ubuntu10.6 (*)
"
    );
    let out = ok(&project, &["why", "git", "specs/test.toml"]);
    assert_eq!(
        out.stdout,
        "git 1:2.43.0-1ubuntu7.3 (linux/amd64, linux/arm64), in apt `stage-1`\n  requested by [stage-1] apt = \"git\" (specs/test.toml:10)\n"
    );
    let out = ok(&project, &["why", "undici", "specs/test.toml"]);
    assert_eq!(
        out.stdout,
        "\
undici 6.21.0 (all), in npm `@openai/codex`
  required by:
  └── @openai/codex 0.20.0 ← [stage-2] npm-global.\"@openai/codex\" = \"latest\" (specs/test.toml:13)
"
    );
    let out = ok(&project, &["why", "oniguruma", "specs/test.toml"]);
    assert_eq!(
        out.stdout,
        "\
oniguruma 6.9.9 (linux/amd64, linux/arm64), in conda `jq`
  required by:
  └── jq 1.7.1 ← [stage-2] pixi-global = \"jq\" (specs/test.toml:14)
"
    );
}

#[test]
fn ux_why_closure_json() {
    let project = closure_project();
    let out = ok(
        &project,
        &["why", "libnghttp2-14", "specs/test.toml", "--json"],
    );
    let value: Value = serde_json::from_str(&out.stdout).unwrap();
    let step = |name: &str, version: &str| json!({"name": name, "version": version});
    let origin = |package: &str| {
        json!([{
            "stage": "stage-1", "table": "stage-1", "key": "apt",
            "value": format!("\"{package}\""), "line": 10, "note": null,
        }])
    };
    assert_eq!(
        value["matches"],
        json!([{
            "kind": "apt",
            "artifact": "stage-1",
            "name": "libnghttp2-14",
            "member": true,
            "version": "1.59.0-1ubuntu0.2",
            "platforms": ["linux/amd64", "linux/arm64"],
            "requested": false,
            "origins": [],
            "required_by": ["libcurl3t64-gnutls", "libcurl4t64"],
            "paths": [
                [step("libnghttp2-14", "1.59.0-1ubuntu0.2"), step("libcurl3t64-gnutls", "8.5.0-2ubuntu10.6"), step("git", "1:2.43.0-1ubuntu7.3")],
                [step("libnghttp2-14", "1.59.0-1ubuntu0.2"), step("libcurl4t64", "8.5.0-2ubuntu10.6"), step("curl", "8.5.0-2ubuntu10.6")],
            ],
            "truncated": false,
            "roots": [
                {"name": "curl", "version": "8.5.0-2ubuntu10.6", "origins": origin("curl")},
                {"name": "git", "version": "1:2.43.0-1ubuntu7.3", "origins": origin("git")},
            ],
        }])
    );
    assert_eq!(value["schema"], "modelbench-why/1");
}

// ---------------------------------------------------------------------------------------
// SBOM

/// Python with `jsonschema`, `packageurl-python` and the published schemas shipped in
/// `lib4sbom` (CycloneDX bom-1.5 with its spdx/jsf references, SPDX 2.3), pip-installed once
/// into the target directory. `None` (and a printed note) when they cannot be installed,
/// unless CI (`support::tools`) makes that a failure.
fn validators() -> Option<&'static Path> {
    static DIR: OnceLock<Option<std::path::PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ux-validators");
        let marker = dir.join(".installed-v1");
        if marker.exists() {
            return Some(dir);
        }
        let pip = |args: &[&str]| {
            let mut cmd = Command::new("python3");
            cmd.args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(["--target"])
            .arg(&dir)
            .args(args);
            run(&mut cmd)
        };
        let first = pip(&["jsonschema==4.26.0", "packageurl-python==0.17.6"]);
        let second = pip(&["--no-deps", "lib4sbom==0.10.4"]);
        if first.success() && second.success() {
            std::fs::write(&marker, "").unwrap();
            return Some(dir);
        }
        let message = format!(
            "cannot install the SBOM validators with pip:\n{}{}",
            first.stderr, second.stderr
        );
        crate::support::tools::skip_or_fail(&format!("SBOM schema validation: {message}"));
        None
    })
    .as_deref()
}

const VALIDATE: &str = r#"
import json, pathlib, sys
sys.path.insert(0, sys.argv[1])
from jsonschema import Draft7Validator
from referencing import Registry
from referencing.jsonschema import DRAFT7
from packageurl import PackageURL

schemas = pathlib.Path(sys.argv[1]) / "lib4sbom" / "schemas"
kind, document = sys.argv[2], json.loads(pathlib.Path(sys.argv[3]).read_text())
registry = Registry()
if kind == "cyclonedx":
    for path in (schemas / "cyclonedx").glob("*.schema.json"):
        contents = json.loads(path.read_text())
        resource = DRAFT7.create_resource(contents)
        registry = registry.with_resource("http://cyclonedx.org/schema/" + path.name, resource)
        if "$id" in contents:
            registry = registry.with_resource(contents["$id"], resource)
    schema = json.loads((schemas / "cyclonedx" / "bom-1.5.schema.json").read_text())
    purls = [c["purl"] for c in document["components"]]
else:
    schema = json.loads((schemas / "spdx" / "2.3-schema.json").read_text())
    purls = [r["referenceLocator"] for p in document["packages"] for r in p.get("externalRefs", [])]
validator = Draft7Validator(schema, registry=registry, format_checker=Draft7Validator.FORMAT_CHECKER)
errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
for error in errors:
    print("schema:", list(error.absolute_path), error.message)
for purl in purls:
    if PackageURL.from_string(purl).to_string() != purl:
        errors.append(purl)
        print("purl not canonical:", purl, "->", PackageURL.from_string(purl).to_string())
print("checked", len(purls), "purls")
sys.exit(1 if errors else 0)
"#;

pub(crate) fn validate(project: &Project, format: &str, file: &str) {
    let Some(dir) = validators() else { return };
    let mut cmd = Command::new("python3");
    cmd.arg("-c")
        .arg(VALIDATE)
        .arg(dir)
        .arg(format)
        .arg(project.path(file));
    let output = run(&mut cmd);
    if !output.success() {
        output.print("schema validation");
        panic!("{file} is not a valid {format} document");
    }
}

fn sbom(project: &Project, format: &str, file: &str) -> Value {
    ok(
        project,
        &["sbom", "specs/test.toml", "--format", format, "--out", file],
    );
    serde_json::from_str(&project.read(file)).unwrap()
}

fn purls(document: &Value) -> Vec<String> {
    document["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["purl"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn ux_sbom_of_a_real_lock_is_valid_and_deterministic() {
    let (project, _world, base) = real_project();
    let project = &project;
    let cdx = sbom(project, "cyclonedx", "sbom.cdx.json");
    validate(project, "cyclonedx", "sbom.cdx.json");
    let spdx = sbom(project, "spdx", "sbom.spdx.json");
    validate(project, "spdx", "sbom.spdx.json");

    // No clock: the newest `published` of the lock (node's release day).
    assert_eq!(cdx["metadata"]["timestamp"], "2026-10-29T00:00:00Z");
    assert_eq!(spdx["creationInfo"]["created"], "2026-10-29T00:00:00Z");
    let again = ok(project, &["sbom", "specs/test.toml"]);
    assert_eq!(again.stdout, project.read("sbom.cdx.json"));
    let epoch = project
        .command(&["sbom", "specs/test.toml"])
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    let epoch: Value = serde_json::from_slice(&epoch.stdout).unwrap();
    assert_eq!(epoch["metadata"]["timestamp"], "2023-11-14T22:13:20Z");

    let lock = project.lock_toml();
    let base_artifact = crate::support::project::artifact(&lock, "oci", "base");
    let digest = base_artifact["digest"].as_str().unwrap();
    let (registry_and_repo, _) = base.rsplit_once(':').unwrap();
    let repo_name = registry_and_repo.rsplit('/').next().unwrap();
    let purls = purls(&cdx);
    assert!(purls.contains(&format!(
        "pkg:oci/{repo_name}@{digest}?repository_url={registry_and_repo}&tag=1"
    )));
    assert!(purls.contains(&"pkg:github/watfaq/clash-rs@v0.10.8".to_string()));
    assert!(purls.contains(&"pkg:github/nvm-sh/nvm@v0.40.3".to_string()));
    let node = purls
        .iter()
        .find(|p| p.starts_with("pkg:generic/node@v22.11.0?"))
        .unwrap();
    assert!(node.contains(&format!("checksum=sha256:{}", sha256_hex(b"node tarball"))));
    let clash = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "clash-rs")
        .unwrap();
    assert_eq!(
        clash["hashes"],
        json!([{"alg": "SHA-256", "content": sha256_hex(b"clash amd64")}])
    );
    // The SPDX document describes the image, which contains the artifacts.
    let relationships = spdx["relationships"].as_array().unwrap();
    assert!(
        relationships
            .iter()
            .any(|r| r["relationshipType"] == "DESCRIBES"
                && r["spdxElementId"] == "SPDXRef-DOCUMENT"
                && r["relatedSpdxElement"] == "SPDXRef-Image")
    );
    assert!(
        relationships
            .iter()
            .any(|r| r["relationshipType"] == "DESCENDANT_OF")
    );
}

#[test]
fn ux_sbom_of_closures_is_valid() {
    let project = closure_project();
    let cdx = sbom(&project, "cyclonedx", "sbom.cdx.json");
    validate(&project, "cyclonedx", "sbom.cdx.json");
    sbom(&project, "spdx", "sbom.spdx.json");
    validate(&project, "spdx", "sbom.spdx.json");
    // No `published` anywhere: the epoch.
    assert_eq!(cdx["metadata"]["timestamp"], "1970-01-01T00:00:00Z");

    let purls = purls(&cdx);
    for expected in [
        "pkg:deb/ubuntu/git@1:2.43.0-1ubuntu7.3?arch=amd64",
        "pkg:deb/ubuntu/libc6@2.39-0ubuntu8.6?arch=arm64",
        "pkg:npm/%40openai/codex@0.20.0",
        "pkg:npm/undici@6.21.0",
        "pkg:conda/jq@1.7.1?build=h4bc722e_0&subdir=linux-64&type=conda",
        "pkg:conda/oniguruma@6.9.9?build=hb9d3cd8_0&subdir=linux-aarch64&type=conda",
    ] {
        assert!(
            purls.iter().any(|p| p == expected),
            "{expected} in {purls:#?}"
        );
    }
    let codex = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "@openai/codex")
        .unwrap();
    assert_eq!(codex["hashes"][0]["alg"], "SHA-512");
    assert_eq!(codex["hashes"][0]["content"].as_str().unwrap().len(), 128);
    // Dependencies mirror required-by: libcurl4t64 needs libnghttp2-14 (amd64).
    let dependencies = cdx["dependencies"].as_array().unwrap();
    let libcurl = dependencies
        .iter()
        .find(|d| d["ref"] == "apt:stage-1:linux/amd64:libcurl4t64@8.5.0-2ubuntu10.6")
        .unwrap();
    assert_eq!(
        libcurl["dependsOn"],
        json!([
            "apt:stage-1:linux/amd64:libc6@2.39-0ubuntu8.6",
            "apt:stage-1:linux/amd64:libnghttp2-14@1.59.0-1ubuntu0.2"
        ])
    );
}

// ---------------------------------------------------------------------------------------
// import-pei

/// Copy `tests/fixtures/pei/<name>` into the project as `pei/<name>`.
fn copy_fixture(project: &Project, name: &str) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pei");
    let mut stack = vec![source.join(name)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(&source).unwrap();
                project.write(
                    &format!("pei/{}", relative.display()),
                    &std::fs::read_to_string(&path).unwrap(),
                );
            }
        }
    }
}

fn import(project: &Project, name: &str) -> Output {
    copy_fixture(project, name);
    ok(
        project,
        &[
            "import-pei",
            &format!("pei/{name}/user_config.yml"),
            "--out",
            &format!("specs/{name}.toml"),
        ],
    )
}

/// `lock --offline` parses and validates the spec, then stops at what it cannot resolve
/// offline (or without a resolver yet): it must not be a spec error.
fn assert_spec_is_accepted(project: &Project, spec: &str) {
    let out = project.run(&["lock", spec, "--offline"]);
    assert!(
        out.stderr.contains("not resolvable yet") || out.stderr.contains("--offline: these need"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("invalid spec"), "{}", out.stderr);
}

#[test]
fn ux_import_minimal() {
    let project = Project::new();
    let out = import(&project, "minimal");
    assert_eq!(
        out.stderr,
        "    Imported specs/minimal.toml from pei/minimal/user_config.yml (0 untranslated)\n"
    );
    assert_eq!(
        project.read("specs/minimal.toml"),
        r#"# Imported by `modelbench import-pei` from pei/minimal/user_config.yml; review it, then `modelbench lock`.

[image]
name = "pei-image"
tag = "stage-2"
stage-1-tag = "stage-1"
platforms = ["linux/amd64"]   # PeiDocker builds for the host's platform

[base]
image = "ubuntu:24.04"

[mirrors]
apt = "tuna"

[ssh]
port = 22
host-port = "2222"

[[users]]
name = "me"
uid = 2000
gid = 2000
password = "123456"   # emitted only as a SHA-512 crypt hash; prefer password-hash

[stage-2]
links = { "/soft/app" = "/hard/image/app", "/soft/data" = "/hard/image/data", "/soft/workspace" = "/hard/image/workspace" }   # PeiDocker's /soft layout, made at container start
"#
    );
    assert_spec_is_accepted(&project, "specs/minimal.toml");
}

#[test]
fn ux_import_the_seed_config_matches_the_shipped_spec() {
    let project = Project::new();
    let out = import(&project, "seed");
    assert_eq!(
        out.stderr, "    Imported specs/seed.toml from pei/seed/user_config.yml (0 untranslated)\n",
        "the seed config translates completely"
    );
    assert_spec_is_accepted(&project, "specs/seed.toml");

    let imported: toml::Table = toml::from_str(&project.read("specs/seed.toml")).unwrap();
    let shipped: toml::Table = toml::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/model-bench-cu128.toml"),
        )
        .unwrap(),
    )
    .unwrap();
    for table in ["base", "mirrors", "apt", "proxy", "ssh", "users"] {
        assert_eq!(imported[table], shipped[table], "[{table}]");
    }
    for key in ["name", "tag", "platforms", "gpu"] {
        assert_eq!(imported["image"][key], shipped["image"][key], "image.{key}");
    }
    let set = |value: &toml::Value| -> std::collections::BTreeSet<String> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    // The shipped spec adds python3-opencv for the seed's `import cv2` check.
    let mut apt = set(&shipped["stage-1"]["apt"]);
    apt.remove("python3-opencv");
    assert_eq!(set(&imported["stage-1"]["apt"]), apt);
    assert_eq!(imported["stage-1"]["tools"], shipped["stage-1"]["tools"]);
    for key in [
        "tools",
        "npm-global",
        "bun-global",
        "release",
        "storage",
        "mount",
    ] {
        assert_eq!(
            imported["stage-2"][key], shipped["stage-2"][key],
            "stage-2.{key}"
        );
    }
    assert_eq!(
        set(&imported["stage-2"]["pixi-global"]),
        set(&shipped["stage-2"]["pixi-global"])
    );
    assert_eq!(
        imported["stage-2"]["links"]["/soft/app"],
        shipped["stage-2"]["links"]["/soft/app"]
    );
}

#[test]
fn ux_import_lists_what_it_cannot_translate() {
    let project = Project::new();
    let out = import(&project, "untranslatable");
    let y = "pei/untranslatable/user_config.yml";
    let s1 = "pei/untranslatable/installation/stage-1/custom";
    let s2 = "pei/untranslatable/installation/stage-2/custom";
    let expected = format!(
        "\
untranslated: {y}:13: privkey_file: 'stage-1/keys/id_rsa' (modelbench puts no private key into an image)
note: {y}:11: me: (no uid: the spec needs one, 1000 chosen)
untranslated: {y}:14: root: (modelbench does not manage root's password or keys)
untranslated: {y}:20: remove_after_build: false (modelbench never keeps the build proxy in the image)
untranslated: {y}:22: repo_source: 'stage-1/system/apt/ubuntu-24.04-custom.list' (a sources file; name the mirror's URL in [mirrors] apt)
untranslated: {s1}/install-dev-tools.sh:5: git clone https://github.com/example/tool.git /opt/tool (not a command modelbench knows how to pin)
untranslated: {s1}/install-dev-tools.sh:6: cd /opt/tool && make install (not a command modelbench knows how to pin)
untranslated: {y}:26: stage-1/custom/does-not-exist.sh --verbose (custom script not found at pei/untranslatable/installation/stage-1/custom/does-not-exist.sh)
untranslated: {y}:28: stage-1/custom/my-on-first-run.sh (`on_first_run` runs in the container, not at build time; modelbench has no such hook)
untranslated: {y}:32: base: nvidia/cuda:12.8.1-runtime-ubuntu24.04 (stage 2 always builds on stage 1 in modelbench)
untranslated: {y}:45: pip install torch --index-url https://download.pytorch.org/whl/cu128 (not a command modelbench knows how to pin)
note: {y}:46: npm install -g typescript@5 (needs tool `node`, which the config does not install: added at its default version)
note: {y}:46: npm install -g typescript@5 (no --user: installed for `me`, the config's first user)
untranslated: {s2}/setup-models.sh:2: for m in bert gpt2; do (not a command modelbench knows how to pin)
untranslated: {s2}/setup-models.sh:3: huggingface-cli download \"$m\" (not a command modelbench knows how to pin)
untranslated: {s2}/setup-models.sh:4: done (not a command modelbench knows how to pin)
untranslated: {y}:49: stage-2/custom/motd.sh (`on_user_login` runs in the container, not at build time; modelbench has no such hook)
untranslated: {y}:50: webgui: (`stage_2.webgui` has no modelbench equivalent)
    Imported specs/untranslatable.toml from {y} (15 untranslated)
"
    );
    assert_eq!(out.stderr, expected);
    let spec = project.read("specs/untranslatable.toml");
    // What did translate: apt from the custom script, npm from the inline block, the rest.
    for line in [
        "apt = [\"build-essential\", \"cmake\"]",
        "npm-global = { typescript = \"5\" }",
        "tools.node = { version = \"lts\", user = \"me\" }",
        "ports = [\"8888:8888\"]",
        "environment = { HF_HOME = \"/hard/volume/data/hf\" }",
        "[stage-2.storage.data]\ntype = \"manual-volume\"\nvolume-name = \"my-data\"",
    ] {
        assert!(spec.contains(line), "{line} in:\n{spec}");
    }
    // And the spec keeps the list for its reader.
    assert!(spec.contains(&format!("# untranslated: {y}:50: webgui:")));
    assert_spec_is_accepted(&project, "specs/untranslatable.toml");

    // The spec is not replaced without --force.
    let again = project.run(&["import-pei", y, "--out", "specs/untranslatable.toml"]);
    assert_eq!(again.status, Some(1));
    again.assert_stderr_contains("pass --force");
}

// ---------------------------------------------------------------------------------------
// docker-bake.hcl

fn string_of(expr: &hcl::Expression) -> String {
    match expr {
        hcl::Expression::String(s) => s.clone(),
        hcl::Expression::TemplateExpr(t) => match t.as_ref() {
            hcl::expr::TemplateExpr::QuotedString(s) => s.clone(),
            other => panic!("unexpected template {other:?}"),
        },
        other => panic!("not a string: {other:?}"),
    }
}

fn strings_of(expr: &hcl::Expression) -> Vec<String> {
    match expr {
        hcl::Expression::Array(items) => items.iter().map(string_of).collect(),
        other => panic!("not an array: {other:?}"),
    }
}

fn object_of(expr: &hcl::Expression) -> Vec<(String, String)> {
    match expr {
        hcl::Expression::Object(object) => object
            .iter()
            .map(|(k, v)| {
                let key = match k {
                    hcl::ObjectKey::Identifier(i) => i.to_string(),
                    hcl::ObjectKey::Expression(e) => string_of(e),
                    other => panic!("unexpected key {other:?}"),
                };
                (key, string_of(v))
            })
            .collect(),
        other => panic!("not an object: {other:?}"),
    }
}

#[test]
fn ux_emit_writes_a_bake_file_that_parses() {
    let (project, _world, _) = real_project();
    let project = &project;
    ok(project, &["emit", "specs/test.toml", "--out", "bake-out"]);
    let text = project.read("bake-out/docker-bake.hcl");
    let body = hcl::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let blocks: Vec<&hcl::Block> = body.blocks().collect();
    let block = |kind: &str, label: &str| {
        *blocks
            .iter()
            .find(|b| b.identifier() == kind && b.labels()[0].as_str() == label)
            .unwrap_or_else(|| panic!("no {kind} \"{label}\" in\n{text}"))
    };
    let attr = |block: &hcl::Block, key: &str| {
        block
            .body()
            .attributes()
            .find(|a| a.key() == key)
            .unwrap_or_else(|| panic!("no {key} in {block:?}"))
            .expr()
            .clone()
    };
    assert_eq!(
        strings_of(&attr(block("group", "default"), "targets")),
        ["stage-1", "stage-2"]
    );
    let stage_1 = block("target", "stage-1");
    assert_eq!(
        string_of(&attr(stage_1, "dockerfile")),
        "stage-1.Dockerfile"
    );
    assert_eq!(strings_of(&attr(stage_1, "platforms")), ["linux/amd64"]);
    assert_eq!(strings_of(&attr(stage_1, "tags")), ["mb-ux:t1-stage-1"]);
    let stage_2 = block("target", "stage-2");
    assert_eq!(strings_of(&attr(stage_2, "platforms")), ["linux/amd64"]);
    assert_eq!(strings_of(&attr(stage_2, "tags")), ["mb-ux:t1"]);
    assert_eq!(
        object_of(&attr(stage_2, "contexts")),
        [("mb-ux:t1-stage-1".to_string(), "target:stage-1".to_string())]
    );
    let proxy = "http://proxy.internal.example:${HOST_PORT_PROXY}".to_string();
    assert_eq!(
        object_of(&attr(stage_2, "args")),
        [
            (
                "SOURCE_DATE_EPOCH".to_string(),
                "${SOURCE_DATE_EPOCH}".to_string()
            ),
            ("BASE_IMAGE".to_string(), "mb-ux:t1-stage-1".to_string()),
            ("http_proxy".to_string(), proxy.clone()),
            ("https_proxy".to_string(), proxy.clone()),
            ("HTTP_PROXY".to_string(), proxy.clone()),
            ("HTTPS_PROXY".to_string(), proxy.clone()),
        ]
    );
    assert_eq!(
        object_of(&attr(stage_2, "extra-hosts")),
        [(
            "host.docker.internal".to_string(),
            "host-gateway".to_string()
        )]
    );
    assert_eq!(
        string_of(&attr(block("variable", "HOST_PORT_PROXY"), "default")),
        "7890"
    );
    // Timestamps from the lock (node's release day, the newest date in it), as build.sh.
    let epoch = chrono::NaiveDate::from_ymd_opt(2026, 10, 29)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp();
    assert_eq!(
        string_of(&attr(block("variable", "SOURCE_DATE_EPOCH"), "default")),
        epoch.to_string()
    );
    let merged = block("target", "merged");
    assert_eq!(string_of(&attr(merged, "dockerfile")), "merged.Dockerfile");
    assert_eq!(string_of(&attr(merged, "target")), "stage-2");
    assert_eq!(strings_of(&attr(merged, "tags")), ["mb-ux:t1"]);
}

// ---------------------------------------------------------------------------------------
// completions and man page

#[test]
fn ux_completions_and_man_page() {
    let project = Project::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = ok(&project, &["completions", shell]);
        assert!(out.stdout.len() > 500, "{shell}: {}", out.stdout);
        for word in ["modelbench", "import-pei", "sbom", "why"] {
            assert!(out.stdout.contains(word), "{shell} completion names {word}");
        }
    }
    let bad = project.run(&["completions", "tcsh"]);
    assert_eq!(bad.status, Some(2));

    let man = ok(&project, &["man"]);
    man.assert_stdout_contains(".TH modelbench 1");
    man.assert_stdout_contains("import\\-pei");
    ok(&project, &["man", "--dir", "man"]);
    for page in ["modelbench.1", "modelbench-why.1", "modelbench-sbom.1"] {
        assert!(project.exists(&format!("man/{page}")), "{page}");
    }
}
