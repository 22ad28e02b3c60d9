//! Hostile upstreams: a loopback world whose GitHub releases, npm registry and conda
//! channel send tags, versions, dist-tags, bin and dependency names, conda builds,
//! subdirs and file names carrying shell (`;`, `$( )`, backticks, quotes), newlines,
//! `../` and terminal escape sequences. `modelbench lock` refuses every one, naming the
//! upstream, the artifact and the value (escaped), and writes no lock.

use serde_json::{Value, json};

use crate::support::project::Project;
use crate::support::registry;
use crate::support::world::{FixtureRelease, Response, World};
use crate::support::{Output, sha256_hex};

/// A project whose base is a two-platform index in the loopback registry, with `body`
/// after the `[base]` table and a sources file naming `upstreams` (`name = url`).
fn project(world: &World, body: &str, upstreams: &[(&str, String)]) -> Project {
    let registry = registry::shared_required();
    let base = registry.push_base(&format!("hostile/base-{}", world.addr().port()));
    let project = Project::new();
    project.spec(&format!(
        r#"[image]
name = "mb-hostile"
tag = "t1"
platforms = ["linux/amd64", "linux/arm64"]

[base]
image = "{}"

{body}"#,
        base
    ));
    let mut sources = project.sources_file();
    for (name, url) in upstreams {
        sources = sources.upstream(name, url);
    }
    sources.registry(registry.host()).write();
    project
}

/// `lock` failed, wrote no lock, and said nothing a terminal would act on.
fn refused(project: &Project) -> Output {
    let output = project.lock(&[]);
    assert_eq!(output.status, Some(1), "{}", output.combined());
    assert!(!project.lock_path().exists(), "a lock was written");
    let text = output.combined();
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "raw escape sequence in the output: {text:?}"
    );
    assert!(!text.contains("\nRUN"), "raw newline from upstream: {text}");
    output
}

/// Every part appears in the refusal.
fn says(output: &Output, parts: &[&str]) {
    for part in parts {
        assert!(
            output.stderr.contains(part),
            "expected `{part}` in:\n{}",
            output.stderr
        );
    }
}

/// Tags an attacker would publish; each is the newest release of its own repository.
const TAGS: &[(&str, &str)] = &[
    ("semicolon", "0.1.0;touch$IFS/x;#"),
    ("newline", "v1.0.0\nRUN touch /pwned"),
    ("subshell", "v1$(touch /pwned)"),
    ("backtick", "v1`id`"),
    ("quote", "v1'\"x"),
    ("traversal", "../../v1"),
    ("escape", "v1\u{1b}]0;pwned\u{7}"),
];

#[test]
fn lock_refuses_hostile_release_tags_naming_upstream_artifact_and_value() {
    let world = World::start();
    let mut body = String::new();
    for (name, tag) in TAGS {
        world.github_release_fixture(
            "evil",
            name,
            &[FixtureRelease::new(tag, "2026-07-23T10:00:00Z")
                .asset("tool-x86_64-unknown-linux-musl", b"amd64".to_vec())
                .asset("tool-aarch64-unknown-linux-musl", b"arm64".to_vec())],
        );
        body.push_str(&format!(
            "[stage-2.release.{name}]\nrepo = \"evil/{name}\"\nversion = \"latest\"\n\
             asset = \"tool-{{triple}}\"\ndest = \"/opt/{name}\"\n\n"
        ));
    }
    let project = project(&world, &body, &[("github-api", world.github_api())]);
    let output = refused(&project);
    for (name, shown) in [
        ("semicolon", "0.1.0;touch$IFS/x;#"),
        ("newline", "v1.0.0\\nRUN touch /pwned"),
        ("subshell", "v1$(touch /pwned)"),
        ("backtick", "v1`id`"),
        ("quote", "v1'\"x"),
        ("traversal", "../../v1"),
        ("escape", "v1\\u{1b}]0;pwned\\u{7}"),
    ] {
        says(
            &output,
            &[
                &format!("cannot resolve github-release `{name}` (latest): the GitHub API"),
                &format!("for `evil/{name}` sent a value modelbench refuses to lock"),
                &format!("version `{shown}` is not a release tag"),
            ],
        );
    }
}

// ---- npm ----

/// A package document with one version, `manifest` merged into it; `dist` points at a
/// tarball file `tarball` on the world (its bytes served, its integrity computed).
fn packument(world: &World, name: &str, version: &str, tarball: &str, manifest: Value) -> Value {
    let bytes = format!("tarball of {name}").into_bytes();
    let path = format!("/tarballs/{}", sha256_hex(tarball.as_bytes()));
    world.get(&path, Response::bytes(bytes.clone()));
    let mut entry = json!({
        "name": name,
        "version": version,
        "dist": {
            "tarball": world.url(&format!("{path}/{tarball}")),
            "integrity": format!("sha512-{}", base64(&sha2_512(&bytes))),
        },
    });
    for (key, value) in manifest.as_object().cloned().unwrap_or_default() {
        entry[key] = value;
    }
    json!({
        "name": name,
        "dist-tags": { "latest": version },
        "versions": { version: entry },
    })
}

fn sha2_512(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha512::digest(bytes).to_vec()
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn lock_refuses_hostile_npm_dist_tags_bins_dependencies_and_file_names() {
    let world = World::start();
    let ok = |name: &str| format!("{name}-1.0.0.tgz");
    let mut cases: Vec<(&str, Value)> = vec![
        // A dist-tag that is not a version: it would be the locked version.
        (
            "evil-tag",
            packument(
                &world,
                "evil-tag",
                "1.0.0\nRUN touch /pwned",
                &ok("evil-tag"),
                json!({}),
            ),
        ),
        (
            "evil-bin",
            packument(
                &world,
                "evil-bin",
                "1.0.0",
                &ok("evil-bin"),
                json!({ "bin": { "x;id>out y": "index.js" } }),
            ),
        ),
        (
            "evil-dep",
            packument(
                &world,
                "evil-dep",
                "1.0.0",
                &ok("evil-dep"),
                json!({ "dependencies": { "../../x": "1.0.0" } }),
            ),
        ),
        (
            "evil-file",
            packument(
                &world,
                "evil-file",
                "1.0.0",
                "evil-file-$(id).tgz",
                json!({}),
            ),
        ),
    ];
    // A tarball on plain http at a host the sources file does not name as http.
    let mut plain = packument(&world, "evil-http", "1.0.0", &ok("evil-http"), json!({}));
    let unnamed = format!(
        "http://localhost:{}/evil-http-1.0.0.tgz",
        world.addr().port()
    );
    plain["versions"]["1.0.0"]["dist"]["tarball"] = json!(unnamed);
    cases.push(("evil-http", plain));
    let mut globals = String::new();
    for (name, document) in &cases {
        world.get(&format!("/npm/{name}"), Response::json(document.clone()));
        globals.push_str(&format!("\"{name}\" = \"latest\", "));
    }
    let body = format!(
        "[[users]]\nname = \"peid\"\nuid = 3100\ngid = 1100\n\n\
         [stage-2]\ntools.node = {{ version = \"22.11.0\", user = \"peid\" }}\n\
         npm-global = {{ {} }}\n",
        globals.trim_end_matches(", ")
    );
    // npm-global needs the node tool, which brings nvm (a raw file at a release tag).
    let node = node_dist(&world, "v22.11.0");
    world.serve_nvm();
    let project = project(
        &world,
        &body,
        &[
            ("npm", world.url("/npm")),
            ("nodejs", node),
            ("github-api", world.github_api()),
            ("github-raw", world.url("/raw")),
        ],
    );
    let output = refused(&project);
    let registry = format!("the npm registry ({}/npm)", world.base_url());
    says(
        &output,
        &[
            "npm `evil-tag` (latest): npm package `evil-tag`: cannot resolve `evil-tag@latest`: the registry sent a value modelbench refuses to lock for `evil-tag`: version `1.0.0\\nRUN touch /pwned` is not a semantic version",
            &format!(
                "npm `evil-bin` (latest): {registry} sent a value modelbench refuses to lock: package `evil-bin` bin `x;id>out y` is not an npm bin name"
            ),
            &format!(
                "npm `evil-dep` (latest): {registry} sent a value modelbench refuses to lock: dependency `../../x` is not an npm package name"
            ),
            &format!(
                "npm `evil-file` (latest): {registry} sent a value modelbench refuses to lock: package `evil-file` file `evil-file-$(id).tgz` is not a file name"
            ),
            &format!(
                "npm `evil-http` (latest): {registry} sent a plain-http URL for a host the sources file does not name as http: `{unnamed}`"
            ),
        ],
    );
}

/// A Node.js dist on the world with `version` for both platforms.
fn node_dist(world: &World, version: &str) -> String {
    let mut sums = String::new();
    for arch in ["x64", "arm64"] {
        let file = format!("node-{version}-linux-{arch}.tar.gz");
        let bytes = format!("node {arch}").into_bytes();
        sums.push_str(&format!("{}  {file}\n", sha256_hex(&bytes)));
        world.get(&format!("/node/{version}/{file}"), Response::bytes(bytes));
    }
    world.get(
        &format!("/node/{version}/SHASUMS256.txt"),
        Response::text(sums),
    );
    world.get(
        "/node/index.json",
        Response::json(json!([{ "version": version, "date": "2026-07-01", "lts": "Jod", "files": ["linux-x64", "linux-arm64"] }])),
    );
    world.url("/node")
}

// ---- conda ----

/// A repodata record for a tool with no dependencies, its bytes served at `file`.
fn conda_record(
    world: &World,
    subdir: &str,
    file: &str,
    build: &str,
    record_subdir: &str,
) -> Value {
    let bytes = format!("package {file}").into_bytes();
    world.get(
        &format!("/conda/conda-forge/{subdir}/{file}"),
        Response::bytes(bytes.clone()),
    );
    json!({
        "name": "jq",
        "version": "1.7.1",
        "build": build,
        "build_number": 0,
        "depends": [],
        "sha256": sha256_hex(&bytes),
        "size": bytes.len(),
        "subdir": record_subdir,
        "timestamp": 1_700_000_000_000u64,
    })
}

/// One case per channel: `jq` in `linux-64` and `linux-aarch64` carries the hostile value.
fn lock_hostile_conda(build: &str, subdir: &str, file: &str) -> Output {
    let world = World::start();
    for real in ["linux-64", "linux-aarch64"] {
        let record_subdir = if subdir.is_empty() { real } else { subdir };
        let record = conda_record(&world, real, file, build, record_subdir);
        world.get(
            &format!("/conda/conda-forge/{real}/repodata.json"),
            Response::json(json!({
                "info": { "subdir": real },
                "packages": {},
                "packages.conda": { file: record },
            })),
        );
    }
    world.get(
        "/conda/conda-forge/noarch/repodata.json",
        Response::json(
            json!({ "info": { "subdir": "noarch" }, "packages": {}, "packages.conda": {} }),
        ),
    );
    let project = project(
        &world,
        "[apt]\nstatus = \"dpkg-status\"\n\n[stage-2]\npixi-global = [\"jq\"]\n",
        &[("conda", world.url("/conda"))],
    );
    project.write(
        "specs/dpkg-status",
        "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.39-0ubuntu8.4\n\n",
    );
    refused(&project)
}

#[test]
fn lock_refuses_a_conda_build_string_that_would_rewrite_toml() {
    let build = "h0\", channel = \"https://evil.example\" } #";
    let output = lock_hostile_conda(build, "", "jq-1.7.1-h0.conda");
    says(
        &output,
        &[
            "cannot resolve conda `jq` (jq): the conda channel",
            "sent a value modelbench refuses to lock: package `jq` build `h0\", channel = \"https://evil.example\" } #` is not a conda build string",
        ],
    );
}

#[test]
fn lock_refuses_a_conda_subdir_outside_the_fixed_set() {
    let output = lock_hostile_conda("h0", "../../x", "jq-1.7.1-h0.conda");
    says(&output, &["cannot resolve conda `jq`", "../../x"]);
}

#[test]
fn lock_refuses_a_conda_file_name_with_shell() {
    let file = "jq-1.7.1-h0;$(id)`id`.conda";
    let output = lock_hostile_conda("h0", "", file);
    says(
        &output,
        &["cannot resolve conda `jq`", &format!("`{file}`")],
    );
}

// ---- credentials ----

/// Credentials in a sources-file URL are used to resolve, and written nowhere: not in the
/// lock, not in the emitted `artifacts.tsv` the image carries.
#[test]
fn credentials_from_a_sources_file_reach_neither_the_lock_nor_the_build_context() {
    let world = World::start();
    let node = node_dist(&world, "v22.11.0");
    world.serve_nvm();
    let with_credentials = |url: String| url.replacen("http://", "http://builder:s3cret@", 1);
    let project = project(
        &world,
        "[[users]]\nname = \"peid\"\nuid = 3100\ngid = 1100\n\n\
         [stage-2]\ntools.node = { version = \"22.11.0\", user = \"peid\" }\n",
        &[
            ("nodejs", with_credentials(node)),
            ("github-api", with_credentials(world.github_api())),
            ("github-raw", with_credentials(world.url("/raw"))),
        ],
    );
    let output = project.lock_ok(&[]);
    assert!(
        !output.combined().contains("s3cret"),
        "{}",
        output.combined()
    );
    let lock = String::from_utf8(project.lock_bytes()).unwrap();
    assert!(
        !lock.contains("s3cret") && !lock.contains("builder@"),
        "{lock}"
    );
    // The URLs are kept, only their userinfo is gone.
    assert!(
        lock.contains(&world.url("/node/v22.11.0/node-v22.11.0-linux-x64.tar.gz")),
        "{lock}"
    );
    assert!(
        lock.contains(&world.url("/raw/nvm-sh/nvm/v0.40.3/nvm.sh")),
        "{lock}"
    );
    project.emit_ok(&["--locked", "--sources", "sources.toml"]);
    let tsv = project.read("build/test/installation/stage-2/artifacts.tsv");
    assert!(tsv.contains("node-v22.11.0-linux-x64.tar.gz"), "{tsv}");
    for (path, bytes) in crate::support::read_tree(&project.out_dir()) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains("s3cret"),
            "{path} carries the sources file's password"
        );
    }
}
