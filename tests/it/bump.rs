//! `modelbench bump` and `modelbench diff`.
//!
//! - `bump --pr` against a mock GitHub API on the loopback world: the exact calls and their
//!   order when a pull request is opened, when a new change adds a commit on top of the same
//!   branch, when nothing changed (no write call at all), when the lock on the base branch
//!   moved (a merge commit, still a fast-forward), and how 401/403/422 answers read; a run
//!   that failed half-way is repaired by the next.
//! - cooldowns, majors, groups and frozen artifacts, with fixture release dates;
//! - `diff` on lock pairs covering every row kind, including a same-version hash change,
//!   against golden files in `tests/fixtures/bump/` (`MODELBENCH_BLESS=1` rewrites them).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use modelbench::lock::values::OneLine;
use modelbench::lock::{ALL_PLATFORMS, Artifact, ArtifactWire, Lock, PackageWire, PinWire};
use modelbench::net::Hash;
use serde_json::{Value, json};

use crate::support::project::{Project, artifact};
use crate::support::world::{FixtureRelease, LoggedRequest, Response, World};
use crate::support::{Output, is_executable, read_tree, run, sha256_hex};

const CLASH_AMD64: &str = "clash-rs-x86_64-unknown-linux-musl";
const HELPER_AMD64: &str = "helper-x86_64-unknown-linux-musl";
const REPO: &str = "/api/repos/acme/images";
const LOCK: &str = "lock/test/bench.lock";
const TOKEN: &str = "test-token-1234";

// ---- fixtures ----

/// RFC 3339 for `days` days before today's midnight (UTC), fixed for the whole test run so
/// that re-registering a release serves the same bytes.
fn days_ago(days: i64) -> String {
    static TODAY: std::sync::OnceLock<chrono::DateTime<chrono::Utc>> = std::sync::OnceLock::new();
    let today = TODAY.get_or_init(|| {
        chrono::Utc::now()
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
    });
    (*today - chrono::TimeDelta::days(days))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn clash(tag: &str, days: i64) -> FixtureRelease {
    FixtureRelease::new(tag, &days_ago(days)).asset(
        CLASH_AMD64,
        format!("clash {} amd64", tag.trim_start_matches('v')).into_bytes(),
    )
}

fn helper(tag: &str, days: i64) -> FixtureRelease {
    FixtureRelease::new(tag, &days_ago(days))
        .asset(HELPER_AMD64, format!("helper {tag} amd64").into_bytes())
}

/// A single-arch linux/amd64 base served by the world behind a token challenge.
pub(crate) fn base_image(world: &World) -> (String, String) {
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = format!("sha256:{}", sha256_hex(config));
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config.len(),
        },
        "layers": [],
    }))
    .unwrap();
    let fixture = world.token_registry_fixture(
        "bumptest/base",
        "1",
        "application/vnd.oci.image.manifest.v1+json",
        &manifest,
    );
    world.get(
        &format!("/v2/bumptest/base/blobs/{config_digest}"),
        Response::bytes(config.to_vec()),
    );
    (format!("{}/bumptest/base:1", fixture.host), fixture.host)
}

struct Setup {
    world: World,
    project: Project,
    base: String,
}

impl Setup {
    /// A project (a git checkout) with a base, clash-rs and helper; `bump_table` is the
    /// spec's `[bump]` part.
    fn new(clash_version: &str, bump_table: &str) -> Setup {
        let world = World::start();
        let (base, host) = base_image(&world);
        let project = Project::new();
        std::fs::create_dir_all(project.path(".git")).unwrap();
        project
            .sources_file()
            .github_api(&world)
            .registry(&host)
            .write();
        let setup = Setup {
            world,
            project,
            base,
        };
        setup.write_spec(clash_version, bump_table);
        setup
    }

    fn write_spec(&self, clash_version: &str, bump_table: &str) {
        self.project.spec(&format!(
            r#"[image]
name = "mb-bump"
tag = "t1"
platforms = ["linux/amd64"]

[base]
image = "{base}"

[stage-2.release.clash-rs]
repo = "Watfaq/clash-rs"
version = "{clash_version}"
asset = "clash-rs-{{triple}}"
dest = "/opt/clash-rs"

[stage-2.release.helper]
repo = "acme/helper"
version = "latest"
asset = "helper-{{triple}}"
dest = "/opt/helper"

{bump_table}
"#,
            base = self.base
        ));
    }

    fn releases(&self, clash: &[FixtureRelease], helper: &[FixtureRelease]) {
        self.world
            .github_release_fixture("Watfaq", "clash-rs", clash);
        self.world.github_release_fixture("acme", "helper", helper);
    }

    fn bump(&self, extra: &[&str], token: Option<&str>) -> Output {
        let mut args = vec!["bump", "specs/test.toml", "--sources", "sources.toml"];
        args.extend_from_slice(extra);
        let mut cmd = self.project.command(&args);
        cmd.env_remove("GITHUB_REPOSITORY");
        if let Some(token) = token {
            cmd.env("GITHUB_TOKEN", token);
        }
        run(&mut cmd)
    }

    fn bump_ok(&self, extra: &[&str], token: Option<&str>) -> Output {
        let output = self.bump(extra, token);
        if !output.success() {
            output.print("modelbench bump");
            panic!("bump failed");
        }
        output
    }

    fn bump_fail(&self, extra: &[&str], token: Option<&str>) -> Output {
        let output = self.bump(extra, token);
        if output.success() {
            output.print("modelbench bump");
            panic!("bump succeeded but should have failed");
        }
        assert_eq!(output.status, Some(1), "{}", output.stderr);
        output
    }

    fn version(&self, name: &str) -> String {
        artifact(&self.project.lock_toml(), "github-release", name)["version"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn lock_text(&self) -> String {
        self.project.read(LOCK)
    }

    /// The calls made to the mock repository, in order, as `METHOD path`.
    fn api_calls(&self) -> Vec<String> {
        self.api_log()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path.trim_start_matches(REPO)))
            .collect()
    }

    fn api_log(&self) -> Vec<LoggedRequest> {
        self.world
            .request_log()
            .into_iter()
            .filter(|r| r.path.starts_with(REPO))
            .collect()
    }

    fn api_request(&self, method: &str, path: &str) -> LoggedRequest {
        self.api_log()
            .into_iter()
            .find(|r| r.method == method && r.path == format!("{REPO}{path}"))
            .unwrap_or_else(|| panic!("no {method} {path} in {:?}", self.api_calls()))
    }

    fn api_json(&self, method: &str, path: &str) -> Value {
        serde_json::from_slice(&self.api_request(method, path).body).unwrap()
    }
}

// ---- the mock repository `acme/images` ----

fn api_path(rest: &str) -> String {
    format!("{REPO}{rest}")
}

struct Remote<'a> {
    world: &'a World,
}

impl Remote<'_> {
    fn repository(&self) {
        self.world.get(
            REPO,
            Response::json(json!({
                "id": 1, "name": "images", "full_name": "acme/images",
                "default_branch": "main", "private": false,
            })),
        );
    }

    fn branch(&self, name: &str, sha: Option<&str>) {
        let path = api_path(&format!("/git/ref/heads/{name}"));
        match sha {
            Some(sha) => self.world.get(
                &path,
                Response::json(json!({
                    "ref": format!("refs/heads/{name}"),
                    "object": { "sha": sha, "type": "commit" },
                })),
            ),
            None => self.world.get(&path, Response::status(404)),
        }
    }

    fn commit(&self, sha: &str, tree: &str) {
        self.world.get(
            &api_path(&format!("/git/commits/{sha}")),
            Response::json(json!({ "sha": sha, "tree": { "sha": tree }, "parents": [] })),
        );
    }

    fn file(&self, at: &str, text: &str) {
        self.world.get(
            &api_path(&format!("/contents/{LOCK}?ref={at}")),
            Response::text(text),
        );
    }

    fn compare(&self, head: &str, base: &str, files: &[&str]) {
        let files: Vec<Value> = files.iter().map(|f| json!({ "filename": f })).collect();
        self.world.get(
            &api_path(&format!("/compare/{head}...{base}")),
            Response::json(json!({
                "status": if files.is_empty() { "behind" } else { "diverged" },
                "ahead_by": files.len(), "behind_by": 1, "files": files,
            })),
        );
    }

    fn pulls(&self, pulls: Value) {
        self.world.get(&api_path("/pulls"), Response::json(pulls));
    }

    /// Every write endpoint answers as GitHub does; the new commit is `commit`.
    fn writes(&self, commit: &str) {
        let w = self.world;
        w.route(
            "POST",
            &api_path("/git/blobs"),
            Response::json(json!({ "sha": "blob-new" })).with_status(201),
        );
        w.route(
            "POST",
            &api_path("/git/trees"),
            Response::json(json!({ "sha": "tree-new" })).with_status(201),
        );
        w.route(
            "POST",
            &api_path("/git/commits"),
            Response::json(json!({ "sha": commit })).with_status(201),
        );
        w.route(
            "POST",
            &api_path("/git/refs"),
            Response::json(
                json!({ "ref": "refs/heads/modelbench/clis", "object": { "sha": commit } }),
            )
            .with_status(201),
        );
        w.route(
            "PATCH",
            &api_path("/git/refs/heads/modelbench/clis"),
            Response::json(
                json!({ "ref": "refs/heads/modelbench/clis", "object": { "sha": commit } }),
            ),
        );
        w.route(
            "POST",
            &api_path("/pulls"),
            Response::json(pull(7, "open", commit, "", "", &[])).with_status(201),
        );
        w.route(
            "PATCH",
            &api_path("/pulls/7"),
            Response::json(json!({ "number": 7 })),
        );
        w.route(
            "POST",
            &api_path("/issues/7/labels"),
            Response::json(json!([{ "name": "clis" }, { "name": "dependencies" }])),
        );
    }

    fn error(&self, method: &str, rest: &str, status: u16, body: Value) {
        self.world.route(
            method,
            &api_path(rest),
            Response::json(body).with_status(status),
        );
    }
}

fn pull(number: u64, state: &str, head: &str, title: &str, body: &str, labels: &[&str]) -> Value {
    json!({
        "number": number,
        "state": state,
        "html_url": format!("https://github.com/acme/images/pull/{number}"),
        "title": title,
        "body": body,
        "head": { "ref": "modelbench/clis", "sha": head },
        "base": { "ref": "main" },
        "merged_at": null,
        "labels": labels.iter().map(|l| json!({ "name": l })).collect::<Vec<_>>(),
    })
}

const PULLS_QUERY: &str = "/pulls?head=acme%3Amodelbench%2Fclis&state=all&per_page=100";

const PR_POLICY: &str = r#"[bump]
repository = "acme/images"
labels = ["dependencies"]

[bump.group.clis]
artifacts = ["clash-rs"]
labels = ["clis"]

[bump.group.tools]
artifacts = ["helper"]

[bump.group.cuda]
artifacts = ["base"]
"#;

fn decode_blob(request: &LoggedRequest) -> String {
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["encoding"], "base64");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body["content"].as_str().unwrap())
        .unwrap();
    String::from_utf8(bytes).unwrap()
}

fn locked_version(lock_text: &str, name: &str) -> String {
    let lock: toml::Table = toml::from_str(lock_text).unwrap();
    artifact(&lock, "github-release", name)["version"]
        .as_str()
        .unwrap()
        .to_string()
}

fn calls(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

// ---- bump --pr ----

/// Run 1 of a `--pr` story: main carries `main_lock` (the local lock, clash-rs v0.10.7),
/// upstream now has v0.10.8 and there is no branch yet: exactly the calls that make a
/// branch, a commit, a pull request and its labels.
fn open_pull_request(s: &Setup, main_lock: &str) -> Output {
    s.releases(
        &[clash("v0.10.7", 90), clash("v0.10.8", 30)],
        &[helper("h1.0.0", 90)],
    );
    let remote = Remote { world: &s.world };
    remote.repository();
    remote.branch("main", Some("base0"));
    remote.file("base0", main_lock);
    remote.branch("modelbench/clis", None);
    remote.commit("base0", "tree0");
    remote.writes("commit1");
    s.world.clear_log();
    let out = s.bump_ok(&["--pr"], Some(TOKEN));
    out.assert_stderr_contains("Opened #7");
    assert_eq!(
        s.api_calls(),
        calls(&[
            "GET ",
            "GET /git/ref/heads/main",
            "GET /contents/lock/test/bench.lock?ref=base0",
            "GET /git/ref/heads/modelbench/clis",
            "GET /git/commits/base0",
            "POST /git/blobs",
            "POST /git/trees",
            "POST /git/commits",
            "POST /git/refs",
            "POST /pulls",
            "POST /issues/7/labels",
        ])
    );
    out
}

#[test]
fn bump_pr_opens_then_commits_on_top_then_writes_nothing_then_rebuilds() {
    let s = Setup::new("latest", PR_POLICY);
    s.releases(&[clash("v0.10.7", 90)], &[helper("h1.0.0", 90)]);
    s.project.lock_ok(&[]);
    let main_lock = s.lock_text();

    // ---- run 1: upstream has v0.10.8: a branch, a commit, a pull request, labels.
    open_pull_request(&s, &main_lock);
    let remote = Remote { world: &s.world };
    for request in s.api_log() {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
    let lock1 = decode_blob(&s.api_request("POST", "/git/blobs"));
    assert_eq!(locked_version(&lock1, "clash-rs"), "v0.10.8");
    assert_eq!(locked_version(&lock1, "helper"), "h1.0.0");
    assert!(
        lock1.contains(&format!("sha256:{}", sha256_hex(b"clash 0.10.8 amd64"))),
        "version and hash move together"
    );
    let tree = s.api_json("POST", "/git/trees");
    assert_eq!(tree["base_tree"], "tree0");
    assert_eq!(
        tree["tree"],
        json!([{ "path": LOCK, "mode": "100644", "type": "blob", "sha": "blob-new" }])
    );
    let commit = s.api_json("POST", "/git/commits");
    assert_eq!(commit["parents"], json!(["base0"]));
    assert_eq!(commit["tree"], "tree-new");
    assert_eq!(
        s.api_json("POST", "/git/refs"),
        json!({ "ref": "refs/heads/modelbench/clis", "sha": "commit1" })
    );
    let opened = s.api_json("POST", "/pulls");
    assert_eq!(opened["head"], "modelbench/clis");
    assert_eq!(opened["base"], "main");
    assert_eq!(opened["title"], "bump(clis): clash-rs v0.10.7 → v0.10.8");
    let body1 = opened["body"].as_str().unwrap().to_string();
    assert!(
        body1.contains("| clash-rs | github-release | linux/amd64 | `v0.10.7` → `v0.10.8` |"),
        "{body1}"
    );
    assert!(
        !body1.contains("helper"),
        "one group per pull request: {body1}"
    );
    assert_eq!(
        s.api_json("POST", "/issues/7/labels"),
        json!({ "labels": ["clis", "dependencies"] })
    );
    assert_eq!(s.lock_text(), main_lock, "--pr leaves the local lock alone");

    // ---- run 2: upstream has v0.10.9: a new commit on top of the same branch, the same
    // pull request's body updated; no new pull request, no force.
    s.releases(
        &[
            clash("v0.10.7", 90),
            clash("v0.10.8", 30),
            clash("v0.10.9", 20),
        ],
        &[helper("h1.0.0", 90)],
    );
    remote.branch("modelbench/clis", Some("commit1"));
    remote.pulls(json!([pull(
        7,
        "open",
        "commit1",
        "bump(clis): clash-rs v0.10.7 → v0.10.8",
        &body1,
        &["clis", "dependencies"]
    )]));
    remote.file("commit1", &lock1);
    remote.compare("commit1", "base0", &[]);
    remote.commit("commit1", "tree1");
    remote.writes("commit2");
    s.world.clear_log();
    let out = s.bump_ok(&["--pr"], Some(TOKEN));
    out.assert_stderr_contains("Updated #7 with a new commit");
    assert_eq!(
        s.api_calls(),
        calls(&[
            "GET ",
            "GET /git/ref/heads/main",
            "GET /contents/lock/test/bench.lock?ref=base0",
            "GET /git/ref/heads/modelbench/clis",
            &format!("GET {PULLS_QUERY}"),
            "GET /contents/lock/test/bench.lock?ref=commit1",
            "GET /compare/commit1...base0",
            "GET /git/commits/commit1",
            "POST /git/blobs",
            "POST /git/trees",
            "POST /git/commits",
            "PATCH /git/refs/heads/modelbench/clis",
            "PATCH /pulls/7",
        ])
    );
    let lock2 = decode_blob(&s.api_request("POST", "/git/blobs"));
    assert_eq!(locked_version(&lock2, "clash-rs"), "v0.10.9");
    assert_eq!(s.api_json("POST", "/git/trees")["base_tree"], "tree1");
    assert_eq!(
        s.api_json("POST", "/git/commits")["parents"],
        json!(["commit1"])
    );
    assert_eq!(
        s.api_json("PATCH", "/git/refs/heads/modelbench/clis"),
        json!({ "sha": "commit2", "force": false })
    );
    let edited = s.api_json("PATCH", "/pulls/7");
    assert_eq!(edited["title"], "bump(clis): clash-rs v0.10.7 → v0.10.9");
    let body2 = edited["body"].as_str().unwrap().to_string();
    assert!(body2.contains("`v0.10.7` → `v0.10.9`"), "{body2}");

    // ---- run 3: nothing new upstream: reads only, and it says so.
    remote.branch("modelbench/clis", Some("commit2"));
    remote.pulls(json!([pull(
        7,
        "open",
        "commit2",
        "bump(clis): clash-rs v0.10.7 → v0.10.9",
        &body2,
        &["clis", "dependencies"]
    )]));
    remote.file("commit2", &lock2);
    remote.compare("commit2", "base0", &[]);
    s.world.clear_log();
    let out = s.bump_ok(&["--pr"], Some(TOKEN));
    out.assert_stderr_contains("Up to date #7 already carries this lock; nothing written");
    assert_eq!(
        s.api_calls(),
        calls(&[
            "GET ",
            "GET /git/ref/heads/main",
            "GET /contents/lock/test/bench.lock?ref=base0",
            "GET /git/ref/heads/modelbench/clis",
            &format!("GET {PULLS_QUERY}"),
            "GET /contents/lock/test/bench.lock?ref=commit2",
            "GET /compare/commit2...base0",
        ])
    );

    // ---- run 4: the lock on main moved (the tools group's change landed there): the
    // branch is rebuilt on it by a merge commit, still a fast-forward of the branch.
    s.releases(
        &[
            clash("v0.10.7", 90),
            clash("v0.10.8", 30),
            clash("v0.10.9", 20),
        ],
        &[helper("h1.0.0", 90), helper("h1.1.0", 10)],
    );
    s.bump_ok(&["--group", "tools"], None);
    assert_eq!(s.version("helper"), "h1.1.0");
    assert_eq!(s.version("clash-rs"), "v0.10.7");
    let main_lock = s.lock_text();
    remote.branch("main", Some("base1"));
    remote.file("base1", &main_lock);
    remote.compare("commit2", "base1", &[LOCK]);
    remote.commit("base1", "treeB1");
    remote.writes("commit3");
    s.world.clear_log();
    let out = s.bump_ok(&["--pr", "--group", "clis"], Some(TOKEN));
    out.assert_stderr_contains("rebuilt on the base branch");
    assert_eq!(
        s.api_calls(),
        calls(&[
            "GET ",
            "GET /git/ref/heads/main",
            "GET /contents/lock/test/bench.lock?ref=base1",
            "GET /git/ref/heads/modelbench/clis",
            &format!("GET {PULLS_QUERY}"),
            "GET /contents/lock/test/bench.lock?ref=commit2",
            "GET /compare/commit2...base1",
            "GET /git/commits/base1",
            "POST /git/blobs",
            "POST /git/trees",
            "POST /git/commits",
            "PATCH /git/refs/heads/modelbench/clis",
        ]),
        "the body and title did not change, so the pull request is not edited"
    );
    let lock3 = decode_blob(&s.api_request("POST", "/git/blobs"));
    assert_eq!(locked_version(&lock3, "clash-rs"), "v0.10.9");
    assert_eq!(
        locked_version(&lock3, "helper"),
        "h1.1.0",
        "main's change is kept"
    );
    assert_eq!(s.api_json("POST", "/git/trees")["base_tree"], "treeB1");
    assert_eq!(
        s.api_json("POST", "/git/commits")["parents"],
        json!(["commit2", "base1"])
    );
    assert_eq!(
        s.api_json("PATCH", "/git/refs/heads/modelbench/clis")["force"],
        false
    );
}

#[test]
fn bump_pr_refuses_a_lock_that_differs_from_the_base_branch() {
    let s = Setup::new("latest", PR_POLICY);
    s.releases(&[clash("v0.10.7", 90)], &[helper("h1.0.0", 90)]);
    s.project.lock_ok(&[]);
    s.releases(
        &[clash("v0.10.7", 90), clash("v0.10.8", 30)],
        &[helper("h1.0.0", 90)],
    );
    let remote = Remote { world: &s.world };
    remote.repository();
    remote.branch("main", Some("base0"));
    remote.file("base0", &s.lock_text().replace("h1.0.0", "h0.9.0"));
    s.world.clear_log();
    let out = s.bump_fail(&["--pr"], Some(TOKEN));
    out.assert_stderr_contains(
        "the lock on main (base0) differs from the local lock/test/bench.lock",
    );
    assert!(s.api_calls().iter().all(|c| c.starts_with("GET ")));
}

#[test]
fn bump_pr_errors_read_plainly_and_the_next_run_repairs() {
    let s = Setup::new("latest", PR_POLICY);
    s.releases(&[clash("v0.10.7", 90)], &[helper("h1.0.0", 90)]);
    s.project.lock_ok(&[]);
    s.releases(
        &[clash("v0.10.7", 90), clash("v0.10.8", 30)],
        &[helper("h1.0.0", 90)],
    );
    let main_lock = s.lock_text();
    let remote = Remote { world: &s.world };

    // No token: refused before any network use.
    s.world.clear_log();
    let out = s.bump_fail(&["--pr"], None);
    out.assert_stderr_contains("--pr needs a GitHub token in GITHUB_TOKEN");
    assert!(s.world.requests().is_empty(), "{:?}", s.world.requests());

    // 401: a bad token.
    remote.error(
        "GET",
        "",
        401,
        json!({ "message": "Bad credentials", "documentation_url": "https://docs.github.com/rest" }),
    );
    s.world.clear_log();
    let out = s.bump_fail(&["--pr"], Some("wrong"));
    out.assert_stderr_contains("cannot read repository acme/images: GitHub answered 401 Unauthorized (Bad credentials): GitHub does not accept the token: GITHUB_TOKEN is wrong, expired or revoked");
    assert_eq!(s.api_calls(), calls(&["GET "]));

    // 403: the token may read but not write.
    remote.repository();
    remote.branch("main", Some("base0"));
    remote.file("base0", &main_lock);
    remote.branch("modelbench/clis", None);
    remote.commit("base0", "tree0");
    remote.writes("commit1");
    remote.error(
        "POST",
        "/git/refs",
        403,
        json!({ "message": "Resource not accessible by integration" }),
    );
    s.world.clear_log();
    let out = s.bump_fail(&["--pr"], Some(TOKEN));
    out.assert_stderr_contains("cannot create branch modelbench/clis: GitHub answered 403 Forbidden (Resource not accessible by integration): the token lacks permission on acme/images: bump --pr needs `contents: write` and `pull-requests: write`");
    out.assert_stderr_contains("a later run repairs");
    assert!(!s.api_calls().iter().any(|c| c.contains("/pulls")));

    // 422 on opening the pull request, after the branch was made.
    remote.writes("commit1");
    remote.error(
        "POST",
        "/pulls",
        422,
        json!({
            "message": "Validation Failed",
            "errors": [{ "resource": "PullRequest", "code": "custom", "message": "No commits between main and modelbench/clis" }],
        }),
    );
    s.world.clear_log();
    let out = s.bump_fail(&["--pr"], Some(TOKEN));
    out.assert_stderr_contains("cannot open the pull request for modelbench/clis: GitHub answered 422 Unprocessable Entity (Validation Failed: No commits between main and modelbench/clis): GitHub rejected the request as invalid");
    let lock1 = decode_blob(&s.api_request("POST", "/git/blobs"));

    // The next run finds the branch with this very lock and no pull request: it opens
    // one, without another commit.
    remote.writes("commit1");
    remote.branch("modelbench/clis", Some("commit1"));
    remote.pulls(json!([]));
    remote.file("commit1", &lock1);
    remote.compare("commit1", "base0", &[]);
    s.world.clear_log();
    let out = s.bump_ok(&["--pr"], Some(TOKEN));
    out.assert_stderr_contains("Opened #7");
    assert_eq!(
        s.api_calls(),
        calls(&[
            "GET ",
            "GET /git/ref/heads/main",
            "GET /contents/lock/test/bench.lock?ref=base0",
            "GET /git/ref/heads/modelbench/clis",
            &format!("GET {PULLS_QUERY}"),
            "GET /contents/lock/test/bench.lock?ref=commit1",
            "GET /compare/commit1...base0",
            "POST /pulls",
            "POST /issues/7/labels",
        ])
    );

    // 422 from branch protection when adding a commit on top.
    s.releases(
        &[
            clash("v0.10.7", 90),
            clash("v0.10.8", 30),
            clash("v0.10.9", 20),
        ],
        &[helper("h1.0.0", 90)],
    );
    remote.pulls(json!([pull(
        7,
        "open",
        "commit1",
        "t",
        "b",
        &["clis", "dependencies"]
    )]));
    remote.commit("commit1", "tree1");
    remote.error(
        "PATCH",
        "/git/refs/heads/modelbench/clis",
        422,
        json!({ "message": "Protected branch update failed for refs/heads/modelbench/clis." }),
    );
    s.world.clear_log();
    let out = s.bump_fail(&["--pr"], Some(TOKEN));
    out.assert_stderr_contains("cannot update branch modelbench/clis: GitHub answered 422 Unprocessable Entity (Protected branch update failed for refs/heads/modelbench/clis.): branch protection or a ruleset forbids this write");
    assert!(
        !s.api_calls().iter().any(|c| c.starts_with("PATCH /pulls")),
        "the pull request is not edited when its branch could not move: {:?}",
        s.api_calls()
    );

    // A pull request closed without merging on this exact lock is left alone.
    remote.branch("modelbench/clis", Some("commit1"));
    s.releases(
        &[clash("v0.10.7", 90), clash("v0.10.8", 30)],
        &[helper("h1.0.0", 90)],
    );
    remote.pulls(json!([pull(7, "closed", "commit1", "t", "b", &[])]));
    s.world.clear_log();
    let out = s.bump_ok(&["--pr"], Some(TOKEN));
    out.assert_stderr_contains("closed without merging");
    assert!(
        s.api_calls().iter().all(|c| c.starts_with("GET ")),
        "{:?}",
        s.api_calls()
    );
}

#[test]
fn bump_pr_dry_run_prints_each_group_and_calls_nothing() {
    let s = Setup::new("latest", PR_POLICY);
    s.releases(&[clash("v0.10.7", 90)], &[helper("h1.0.0", 90)]);
    s.project.lock_ok(&[]);
    let before = s.lock_text();
    s.releases(
        &[clash("v0.10.7", 90), clash("v0.10.8", 30)],
        &[helper("h1.0.0", 90), helper("h1.1.0", 10)],
    );
    s.world.clear_log();
    let out = s.bump_ok(&["--pr", "--dry-run"], None);
    assert!(s.api_calls().is_empty(), "{:?}", s.api_calls());
    assert_eq!(s.lock_text(), before);
    let clis = out
        .stdout
        .find("=== acme/images → modelbench/clis (labels: clis, dependencies): bump(clis): clash-rs v0.10.7 → v0.10.8")
        .unwrap_or_else(|| panic!("{}", out.stdout));
    let tools = out
        .stdout
        .find("=== acme/images → modelbench/tools (labels: dependencies): bump(tools): helper h1.0.0 → h1.1.0")
        .unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(clis < tools);
    assert!(!out.stdout[clis..tools].contains("| helper |"));
    assert!(
        out.stdout[tools..]
            .contains("| helper | github-release | linux/amd64 | `h1.0.0` → `h1.1.0` |")
    );
    out.assert_stderr_contains("2 pull request(s) not opened or updated");
}

// ---- policies ----

#[test]
fn bump_cooldown_takes_the_newest_release_old_enough() {
    let s = Setup::new(">=0.10", "[bump]\ncooldown = \"7d\"\n");
    s.releases(&[clash("v0.10.7", 60)], &[helper("h1.0.0", 90)]);
    s.project.lock_ok(&[]);
    s.releases(
        &[
            clash("v0.10.7", 60),
            clash("v0.10.8", 30),
            clash("v0.10.9", 2),
        ],
        &[helper("h1.0.0", 90)],
    );
    let out = s.bump_ok(&[], None);
    assert_eq!(s.version("clash-rs"), "v0.10.8");
    assert!(
        out.stderr
            .contains("Updating github-release clash-rs v0.10.7 -> v0.10.8 (released "),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("Holding github-release clash-rs v0.10.9 (took v0.10.8 instead): released ")
            && out.stderr.contains("inside the 7d cooldown until"),
        "{}",
        out.stderr
    );
    let lock = s.project.lock_toml();
    let pin = &artifact(&lock, "github-release", "clash-rs")["platform"]["linux/amd64"];
    assert_eq!(
        pin["hash"].as_str().unwrap(),
        format!("sha256:{}", sha256_hex(b"clash 0.10.8 amd64"))
    );
    // The pin still answers the spec's own constraint: the lock is current.
    s.project.lock_ok(&["--check"]);

    // Nothing new is old enough: nothing moves, nothing is written.
    let before = s.lock_text();
    let out = s.bump_ok(&[], None);
    assert_eq!(s.lock_text(), before);
    out.assert_stderr_contains("nothing to bump");

    // A per-artifact override wins over the top level.
    s.write_spec(
        ">=0.10",
        "[bump]\ncooldown = \"7d\"\n[bump.artifact.clash-rs]\ncooldown = \"0d\"\n",
    );
    s.bump_ok(&[], None);
    assert_eq!(s.version("clash-rs"), "v0.10.9");
}

#[test]
fn bump_holds_majors_back_unless_allowed() {
    let s = Setup::new("latest", "[bump.group.clis]\nartifacts = [\"clash-rs\"]\n");
    s.releases(&[clash("v0.10.7", 60)], &[helper("h1.0.0", 90)]);
    s.project.lock_ok(&[]);
    s.releases(
        &[
            clash("v0.10.7", 60),
            clash("v0.10.8", 30),
            clash("v0.11.0", 10),
        ],
        &[helper("h1.0.0", 90)],
    );
    let out = s.bump_ok(&[], None);
    assert_eq!(s.version("clash-rs"), "v0.10.8");
    out.assert_stderr_contains("Holding github-release clash-rs v0.11.0 (took v0.10.8 instead): major update from v0.10.7; allow it with `allow-major = true`");
    s.write_spec(
        "latest",
        "[bump.group.clis]\nartifacts = [\"clash-rs\"]\nallow-major = true\n",
    );
    s.bump_ok(&[], None);
    assert_eq!(s.version("clash-rs"), "v0.11.0");
}

#[test]
fn bump_groups_only_frozen_and_dry_run() {
    let policy = "[bump]\nfrozen = [\"base\"]\n[bump.group.clis]\nartifacts = [\"clash-rs\"]\n";
    let s = Setup::new("latest", policy);
    s.releases(&[clash("v0.10.7", 60)], &[helper("h1.0.0", 90)]);
    s.project.lock_ok(&[]);
    s.releases(
        &[clash("v0.10.7", 60), clash("v0.10.8", 30)],
        &[helper("h1.0.0", 90), helper("h1.1.0", 30)],
    );
    let before = s.lock_text();

    // --dry-run reports and writes nothing.
    let out = s.bump_ok(&["--dry-run"], None);
    assert_eq!(s.lock_text(), before);
    out.assert_stderr_contains("Updating github-release clash-rs v0.10.7 -> v0.10.8");
    out.assert_stderr_contains("Updating github-release helper h1.0.0 -> h1.1.0");
    out.assert_stderr_contains("2 artifact(s) would move");

    // A group moves only its members; frozen artifacts are never re-resolved.
    s.world.clear_log();
    let out = s.bump_ok(&["--group", "clis"], None);
    assert_eq!(s.version("clash-rs"), "v0.10.8");
    assert_eq!(s.version("helper"), "h1.0.0");
    assert!(!out.stderr.contains("helper"), "{}", out.stderr);
    assert!(
        !s.world
            .requests()
            .iter()
            .any(|(_, path, _)| path.starts_with("/v2/")),
        "frozen base: no registry request: {:?}",
        s.world.requests()
    );

    // The implicit `default` group holds the rest; --only narrows further.
    let out = s.bump_ok(&["--only", "base", "--group", "default"], None);
    out.assert_stderr_contains("Frozen oci base (bump.frozen)");
    out.assert_stderr_contains("nothing selected");
    s.bump_ok(&["--group", "default"], None);
    assert_eq!(s.version("helper"), "h1.1.0");

    // Unknown names are errors, not silent no-ops.
    let out = s.bump_fail(&["--group", "nope"], None);
    out.assert_stderr_contains("no such bump group (groups: clis, default)");
    let out = s.bump_fail(&["--only", "nope"], None);
    out.assert_stderr_contains("the spec has no artifact named `nope`");
    s.write_spec("latest", "[bump]\nfrozen = [\"bsae\"]\n");
    let out = s.bump_fail(&[], None);
    out.assert_stderr_contains("`bump.frozen` names `bsae`");
}

// ---- [emit] committed ----

/// `modelbench emit --locked --out <out>` in the project, for comparison.
fn emit_into(project: &Project, out: &str) -> BTreeMap<String, Vec<u8>> {
    project.emit_ok(&["--locked", "--out", out]);
    read_tree(&project.path(out))
}

#[test]
fn bump_reemits_committed_files_and_dry_run_writes_nothing() {
    let s = Setup::new(
        "latest",
        "[emit]\ncommitted = true\nout = \"deploy/test\"\n",
    );
    s.releases(&[clash("v0.10.7", 60)], &[helper("h1.0.0", 90)]);
    s.project.lock_ok(&[]);
    // `emit` without --out writes where the spec says.
    let output = s.project.emit_ok(&["--locked"]);
    output.assert_stderr_contains("to deploy/test");
    assert!(!s.project.exists("build"));
    let before = read_tree(&s.project.path("deploy/test"));
    let lock_before = s.lock_text();
    s.releases(
        &[clash("v0.10.7", 60), clash("v0.10.8", 30)],
        &[helper("h1.0.0", 90)],
    );
    let tsv = "installation/stage-2/artifacts.tsv";

    // --dry-run: the same report, nothing written.
    let out = s.bump_ok(&["--dry-run"], None);
    assert_eq!(s.lock_text(), lock_before);
    assert_eq!(read_tree(&s.project.path("deploy/test")), before);
    out.assert_stderr_contains(&format!("{:>12} deploy/test/{tsv}\n", "Updating"));
    assert!(
        out.stderr.contains("Dry run 1 artifact(s) would move, ")
            && out
                .stderr
                .contains("emitted file(s) in deploy/test would change; nothing written"),
        "{}",
        out.stderr
    );

    // The bump: the lock and the build context move together.
    let out = s.bump_ok(&[], None);
    assert_eq!(s.version("clash-rs"), "v0.10.8");
    let after = read_tree(&s.project.path("deploy/test"));
    let new_hash = sha256_hex(b"clash 0.10.8 amd64");
    let tsv_text = String::from_utf8(after[tsv].clone()).unwrap();
    assert!(tsv_text.contains(&new_hash), "{tsv_text}");
    // Exactly what `emit --locked` makes from the new lock, file for file.
    assert_eq!(after, emit_into(&s.project, "fresh"));
    // Each changed file is named, and only those.
    let changed: Vec<&String> = after
        .keys()
        .filter(|path| before.get(*path) != after.get(*path))
        .collect();
    assert!(changed.iter().any(|p| *p == tsv), "{changed:?}");
    for path in after.keys() {
        let line = format!("{:>12} deploy/test/{path}\n", "Updating");
        assert_eq!(
            out.stderr.contains(&line),
            changed.contains(&path),
            "{path}: {}",
            out.stderr
        );
    }
    out.assert_stderr_contains(&format!(
        "Emitted {} file(s) changed in deploy/test",
        changed.len()
    ));
    assert!(
        is_executable(&s.project.path("deploy/test/build.sh")),
        "modes are kept"
    );
    s.project.lock_ok(&["--check"]);
}

#[test]
fn bump_refuses_an_emit_dir_that_holds_the_lock() {
    let s = Setup::new("latest", "[emit]\ncommitted = true\nout = \"lock\"\n");
    s.releases(&[clash("v0.10.7", 60)], &[helper("h1.0.0", 90)]);
    s.project.lock_ok(&[]);
    let before = s.lock_text();
    s.releases(
        &[clash("v0.10.7", 60), clash("v0.10.8", 30)],
        &[helper("h1.0.0", 90)],
    );
    let out = s.bump_fail(&[], None);
    out.assert_stderr_contains("`[emit] out` is lock, which holds lock/test/bench.lock: emit replaces that directory whole");
    assert_eq!(s.lock_text(), before);
}

#[test]
fn bump_pr_commits_the_emitted_files_with_the_lock() {
    let s = Setup::new(
        "latest",
        &format!("{PR_POLICY}\n[emit]\ncommitted = true\n"),
    );
    s.releases(&[clash("v0.10.7", 90)], &[helper("h1.0.0", 90)]);
    s.project.lock_ok(&[]);
    let main_lock = s.lock_text();
    let main_context = emit_into(&s.project, "main-context");
    // The same calls as without emitted files: they ride in the one tree.
    open_pull_request(&s, &main_lock);
    assert_eq!(s.lock_text(), main_lock, "--pr leaves the local lock alone");
    assert!(!s.project.exists("build"), "--pr writes no local files");

    // What the tree carries: the lock, then every emitted file for it, as `emit --locked`
    // makes them from that lock, with their modes.
    let lock1 = decode_blob(&s.api_request("POST", "/git/blobs"));
    assert_eq!(locked_version(&lock1, "clash-rs"), "v0.10.8");
    s.project.write(LOCK, &lock1);
    let expected = emit_into(&s.project, "expected");
    s.project.write(LOCK, &main_lock);
    let tree = s.api_json("POST", "/git/trees");
    assert_eq!(tree["base_tree"], "tree0");
    let entries = tree["tree"].as_array().unwrap();
    assert_eq!(
        entries[0],
        json!({ "path": LOCK, "mode": "100644", "type": "blob", "sha": "blob-new" })
    );
    let mut carried = BTreeMap::new();
    for entry in &entries[1..] {
        let path = entry["path"].as_str().unwrap();
        let relative = path.strip_prefix("build/test/").expect("under [emit] out");
        assert_eq!(entry["type"], "blob");
        let mode = if is_executable(&s.project.path("expected").join(relative)) {
            "100755"
        } else {
            "100644"
        };
        assert_eq!(entry["mode"], mode, "{path}");
        carried.insert(
            relative.to_string(),
            entry["content"].as_str().unwrap().as_bytes().to_vec(),
        );
    }
    assert_eq!(carried, expected);

    // The body tells the reviewer which emitted files move (those that differ from main).
    let body = s.api_json("POST", "/pulls")["body"]
        .as_str()
        .unwrap()
        .to_string();
    let moved: Vec<&String> = expected
        .keys()
        .filter(|p| main_context.get(*p) != expected.get(*p))
        .collect();
    assert!(
        moved
            .iter()
            .any(|p| *p == "installation/stage-2/artifacts.tsv"),
        "{moved:?}"
    );
    assert!(
        body.contains(&format!(
            "<summary>{} file(s) re-emitted for the new lock</summary>",
            moved.len()
        )),
        "{body}"
    );
    for path in expected.keys() {
        assert_eq!(
            body.contains(&format!("- Updating `build/test/{path}`")),
            moved.contains(&path),
            "{path}: {body}"
        );
    }

    // --dry-run names the same files per branch, and talks to no one.
    s.world.clear_log();
    let out = s.bump_ok(&["--pr", "--dry-run"], Some(TOKEN));
    assert_eq!(s.api_calls(), Vec::<String>::new());
    for path in expected.keys() {
        let line = format!("{:>12} build/test/{path} on modelbench/clis\n", "Updating");
        assert_eq!(
            out.stderr.contains(&line),
            moved.contains(&path),
            "{path}: {}",
            out.stderr
        );
    }
    assert!(
        !s.project.exists("build"),
        "--dry-run writes no local files"
    );
}

#[test]
fn bump_refuses_a_lock_behind_its_spec() {
    let s = Setup::new("latest", "");
    s.releases(&[clash("v0.10.7", 60)], &[helper("h1.0.0", 90)]);
    s.project.lock_ok(&[]);
    s.write_spec("^0.10", "");
    let out = s.bump_fail(&[], None);
    out.assert_stderr_contains("does not match the spec: github-release `clash-rs` changed in the spec (now `^0.10`); run `modelbench lock` first");
    std::fs::remove_file(s.project.lock_path()).unwrap();
    let out = s.bump_fail(&[], None);
    out.assert_stderr_contains("run `modelbench lock` first");
}

#[test]
fn bump_refuses_a_lock_edited_by_hand() {
    let s = Setup::new("latest", "");
    s.releases(&[clash("v0.10.7", 60)], &[helper("h1.0.0", 90)]);
    s.project.lock_ok(&[]);
    let text = s.lock_text();
    let locked = format!("sha256:{}", sha256_hex(b"clash 0.10.7 amd64"));
    let edited = text.replace(&locked, &format!("sha256:{}", sha256_hex(b"forged")));
    assert_ne!(edited, text);
    s.project.write(LOCK, &edited);
    s.releases(
        &[clash("v0.10.7", 60), clash("v0.10.8", 30)],
        &[helper("h1.0.0", 90)],
    );
    let out = s.bump_fail(&[], None);
    out.assert_stderr_contains("does not match the spec: github-release `clash-rs` was edited after locking: expected checksum sha256:");
    assert_eq!(s.lock_text(), edited, "bump wrote nothing");
}

// ---- diff ----

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bump")
}

fn pin(file: &str, bytes: &[u8]) -> PinWire {
    PinWire {
        file: file.into(),
        urls: vec![format!("https://downloads.example/{file}")],
        hash: Hash::of_sha256(bytes),
        size: Some(bytes.len() as u64),
    }
}

fn art(kind: &str, name: &str, version: &str) -> ArtifactWire {
    let mut entry = ArtifactWire::new(
        modelbench::lock::Kind::parse(kind).expect("a kind"),
        version,
    );
    entry.name = name.into();
    entry.requested = "latest".into();
    entry.request_hash = format!("sha256:{}", sha256_hex(name.as_bytes()));
    entry
}

fn member(name: &str, version: &str, bytes: &[u8], requested: bool) -> PackageWire {
    PackageWire {
        name: name.into(),
        version: version.into(),
        platform: "linux/amd64".into(),
        arch: None,
        build: None,
        subdir: None,
        noarch: None,
        path: Some(format!("node_modules/{name}")),
        // As npm names tarballs: the unscoped name (`@openai/codex` → `codex-0.1.0.tgz`).
        file: format!("{}-{version}.tgz", name.rsplit('/').next().unwrap()),
        urls: vec![format!("https://registry.example/{name}-{version}.tgz")],
        hash: Hash::of_sha256(bytes),
        size: Some(bytes.len() as u64),
        requested,
        required_by: Vec::new(),
        npm: None,
        conda: None,
    }
}

/// A lock of these entries, each checked and sealed as `modelbench lock` writes them.
fn sealed(artifacts: Vec<ArtifactWire>) -> Lock {
    let artifacts = artifacts
        .into_iter()
        .map(|a| Artifact::try_from(a).unwrap());
    Lock::new(
        OneLine::parse("spec-hash", "sha256:spec").unwrap(),
        artifacts.collect(),
    )
}

/// A lock pair with one artifact per row kind: updated (with a compare link), republished
/// (same tag, new digest), added, removed, a closure with added/removed/changed/republished
/// members.
fn lock_pair() -> (Lock, Lock) {
    let mut clash_old = art("github-release", "clash-rs", "v0.10.7");
    clash_old.published = Some("2026-06-01T10:00:00Z".into());
    clash_old.release_url = Some("https://github.com/Watfaq/clash-rs/releases/tag/v0.10.7".into());
    clash_old.source = Some("github:Watfaq/clash-rs".into());
    clash_old.platform.insert(
        "linux/amd64".into(),
        pin(CLASH_AMD64, b"clash 0.10.7 amd64"),
    );
    clash_old.platform.insert(
        "linux/arm64".into(),
        pin("clash-rs-aarch64-unknown-linux-musl", b"clash 0.10.7 arm64"),
    );
    let mut clash_new = clash_old.clone();
    clash_new.version = "v0.10.8".into();
    clash_new.published = Some("2026-07-23T10:00:00Z".into());
    clash_new.release_url = Some("https://github.com/Watfaq/clash-rs/releases/tag/v0.10.8".into());
    clash_new.source = Some("github:Watfaq/clash-rs".into());
    clash_new.platform.insert(
        "linux/amd64".into(),
        pin(CLASH_AMD64, b"clash 0.10.8 amd64!!"),
    );
    clash_new.platform.insert(
        "linux/arm64".into(),
        pin("clash-rs-aarch64-unknown-linux-musl", b"clash 0.10.8 arm64"),
    );

    let mut base_old = art("oci", "base", "12.8.1-cudnn-devel-ubuntu24.04");
    base_old.requested = "nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04".into();
    base_old.digest = Some(Hash::of_sha256(b"index 1").to_string());
    base_old
        .platform
        .insert("linux/amd64".into(), pin("manifest", b"manifest amd64 1"));
    base_old
        .platform
        .insert("linux/arm64".into(), pin("manifest", b"manifest arm64 1"));
    let mut base_new = base_old.clone();
    base_new.digest = Some(Hash::of_sha256(b"index 2").to_string());
    base_new.platform.insert(
        "linux/amd64".into(),
        pin("manifest", b"manifest amd64 2 (rebuilt)"),
    );

    let mut tool = art("url", "old-tool", "0123456789ab");
    tool.platform
        .insert(ALL_PLATFORMS.into(), pin("old-tool.tar.gz", &[7u8; 2048]));
    let mut helper = art("github-release", "helper", "v1.0.0");
    helper.release_url = Some("https://example.com/helper/releases/v1.0.0".into());
    helper
        .platform
        .insert("linux/amd64".into(), pin(HELPER_AMD64, b"helper 1.0.0"));

    let mut codex_old = art("npm", "codex", "0.1.0");
    codex_old.packages = vec![
        member("@openai/codex", "0.1.0", b"codex 0.1.0", true),
        member("dep-a", "1.0.0", b"a 1.0.0", false),
        member("dep-b", "2.0.0", b"b 2.0.0", false),
        member("dep-c", "1.0.0", b"c 1.0.0", false),
        member("dep-same", "3.0.0", b"same", false),
    ];
    let mut codex_new = codex_old.clone();
    codex_new.version = "0.2.0".into();
    codex_new.packages = vec![
        member("@openai/codex", "0.2.0", b"codex 0.2.0", true),
        member("dep-a", "1.1.0", b"a 1.1.0", false),
        member("dep-c", "1.0.0", b"c 1.0.0 republished", false),
        member("dep-d", "0.1.0", b"d 0.1.0", false),
        member("dep-same", "3.0.0", b"same", false),
    ];

    let old = sealed(vec![clash_old, base_old, tool, codex_old]);
    let new = sealed(vec![clash_new, base_new, helper, codex_new]);
    (old, new)
}

fn diff_run(old: &Path, new: &Path, extra: &[&str]) -> Output {
    let project = Project::new();
    let old_arg = old.to_string_lossy().into_owned();
    let new_arg = new.to_string_lossy().into_owned();
    let mut args = vec!["diff", old_arg.as_str(), new_arg.as_str()];
    args.extend_from_slice(extra);
    let output = project.run(&args);
    if !output.success() {
        output.print("modelbench diff");
        panic!("diff failed");
    }
    output
}

/// Compare with a golden file; `MODELBENCH_BLESS=1` rewrites it.
fn golden(name: &str, actual: &str) {
    let path = fixtures().join(name);
    if std::env::var_os("MODELBENCH_BLESS").is_some() {
        std::fs::create_dir_all(fixtures()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (MODELBENCH_BLESS=1 writes it)",
            path.display()
        )
    });
    assert_eq!(
        actual,
        expected,
        "{} differs (MODELBENCH_BLESS=1 rewrites it)",
        path.display()
    );
}

#[test]
fn diff_lock_fixtures_are_the_locks_the_test_builds() {
    // The fixture locks are written from `lock_pair()`: they stay in sync with the model.
    let (old, new) = lock_pair();
    golden("old.lock", &String::from_utf8(old.to_bytes()).unwrap());
    golden("new.lock", &String::from_utf8(new.to_bytes()).unwrap());
}

#[test]
fn diff_markdown_has_one_row_per_artifact_and_platform() {
    let dir = crate::support::temp_dir();
    let (old, new) = lock_pair();
    let (old_path, new_path) = (dir.path().join("old.lock"), dir.path().join("new.lock"));
    old.write(&old_path).unwrap();
    new.write(&new_path).unwrap();
    let out = diff_run(&old_path, &new_path, &[]);
    let md = &out.stdout;

    assert!(md.starts_with("**5 artifacts changed**: 2 updated, 1 ⚠️ republished (same version, new bytes), 1 added, 1 removed.\n"), "{md}");
    // The republish stands out before the table.
    let warning = md.find("> [!WARNING]").expect("a republish warning");
    let table = md.find("| Artifact | Kind | Platform |").unwrap();
    assert!(warning < table);
    assert!(md.contains("> - **base** (oci) `12.8.1-cudnn-devel-ubuntu24.04`: the tag now points to different image bytes: image index, linux/amd64"), "{md}");
    assert!(md.contains("`dep-c` 1.0.0 (linux/amd64)"), "{md}");

    let short = |bytes: &[u8]| format!("`sha256:{}`", &sha256_hex(bytes)[..12]);
    assert!(md.contains(&format!(
        "| clash-rs | github-release | linux/amd64 | `v0.10.7` → `v0.10.8` | {} → {} | 18 B → 20 B (+2 B) | 2026-07-23 | [compare](https://github.com/Watfaq/clash-rs/compare/v0.10.7...v0.10.8) |",
        short(b"clash 0.10.7 amd64"),
        short(b"clash 0.10.8 amd64!!")
    )), "{md}");
    assert!(
        md.contains("| clash-rs | github-release | linux/arm64 | `v0.10.7` → `v0.10.8` |"),
        "{md}"
    );
    assert!(md.contains(&format!(
        "| base | oci | linux/amd64 | `12.8.1-cudnn-devel-ubuntu24.04` (same) | ⚠️ **{} → {}** (same version) | 16 B → 26 B (+10 B) | — | — |",
        short(b"manifest amd64 1"),
        short(b"manifest amd64 2 (rebuilt)")
    )), "{md}");
    assert!(md.contains("| base | oci | (index) |"), "{md}");
    assert!(
        !md.contains("| base | oci | linux/arm64 |"),
        "an unchanged platform has no row: {md}"
    );
    assert!(
        md.contains("| helper | github-release | linux/amd64 | — → `v1.0.0` |"),
        "{md}"
    );
    assert!(
        md.contains("[release](https://example.com/helper/releases/v1.0.0)"),
        "{md}"
    );
    assert!(
        md.contains("| old-tool | url | all | `0123456789ab` → — |"),
        "{md}"
    );
    assert!(md.contains("| 2.0 KiB → — |"), "{md}");
    assert!(
        md.contains("| codex | npm | linux/amd64 | `0.1.0` → `0.2.0` | closure: +1 −1 ~3 |"),
        "{md}"
    );

    // The closure: counted, the requested member listed, everything else folded.
    assert!(md.contains("**npm `codex`**: 1 added, 1 removed, 3 changed (⚠️ 1 republished: same version, new bytes)"), "{md}");
    assert!(
        md.contains("Requested: `@openai/codex` `0.1.0` → `0.2.0` (linux/amd64)"),
        "{md}"
    );
    assert!(
        md.contains("<details><summary>All 5 member changes</summary>"),
        "{md}"
    );
    assert!(
        md.contains("| dep-b (`node_modules/dep-b`) | linux/amd64 | removed | `2.0.0` → — |"),
        "{md}"
    );
    assert!(
        md.contains(
            "| dep-c (`node_modules/dep-c`) | linux/amd64 | republished | `1.0.0` → `1.0.0` | ⚠️ "
        ),
        "{md}"
    );
    assert!(!md.contains("dep-same"), "{md}");

    // Deterministic: the same bytes every time, and the golden file agrees.
    let again = diff_run(&old_path, &new_path, &["--format", "markdown"]);
    assert_eq!(again.stdout, out.stdout);
    golden("diff.md", md);
}

#[test]
fn diff_json_carries_every_field() {
    let dir = crate::support::temp_dir();
    let (old, new) = lock_pair();
    let (old_path, new_path) = (dir.path().join("old.lock"), dir.path().join("new.lock"));
    old.write(&old_path).unwrap();
    new.write(&new_path).unwrap();
    let out = diff_run(&old_path, &new_path, &["--format", "json"]);
    let json: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        json["summary"],
        json!({ "added": 1, "removed": 1, "updated": 2, "republished": 1, "changed": 0 })
    );
    let names: Vec<&str> = json["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["clash-rs", "helper", "codex", "base", "old-tool"]);
    let by_name = |name: &str| {
        json["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap()
            .clone()
    };
    let base = by_name("base");
    assert_eq!(base["change"], "republished");
    assert_eq!(base["platforms"][0]["platform"], "linux/amd64");
    assert_eq!(base["platforms"][0]["change"], "republished");
    assert_eq!(base["platforms"][0]["hash-changed"], true);
    assert_eq!(base["platforms"].as_array().unwrap().len(), 1);
    let clash = by_name("clash-rs");
    assert_eq!(clash["change"], "updated");
    assert_eq!(clash["platforms"][0]["size-delta"], 2);
    assert_eq!(clash["new-published"], "2026-07-23T10:00:00Z");
    assert_eq!(
        clash["link"],
        json!({ "label": "compare", "url": "https://github.com/Watfaq/clash-rs/compare/v0.10.7...v0.10.8" })
    );
    let codex = by_name("codex");
    assert_eq!(codex["closure"]["added"], 1);
    assert_eq!(codex["closure"]["removed"], 1);
    assert_eq!(codex["closure"]["changed"], 3);
    assert_eq!(codex["closure"]["republished"], 1);
    assert_eq!(codex["closure"]["requested"][0]["name"], "@openai/codex");
    assert_eq!(by_name("old-tool")["change"], "removed");
    assert_eq!(by_name("helper")["change"], "added");
    let again = diff_run(&old_path, &new_path, &["--format", "json"]);
    assert_eq!(again.stdout, out.stdout);
    golden("diff.json", &out.stdout);
}

#[test]
fn diff_flags_a_same_version_hash_change_loudly() {
    let dir = crate::support::temp_dir();
    let mut a = art("github-release", "clash-rs", "v0.10.8");
    a.platform.insert(
        "linux/amd64".into(),
        pin(CLASH_AMD64, b"clash 0.10.8 amd64"),
    );
    let mut b = a.clone();
    b.platform.insert(
        "linux/amd64".into(),
        pin(CLASH_AMD64, b"clash 0.10.8 amd64, rebuilt"),
    );
    let old = sealed(vec![a.clone()]);
    let new = sealed(vec![b]);
    let (old_path, new_path) = (dir.path().join("old.lock"), dir.path().join("new.lock"));
    old.write(&old_path).unwrap();
    new.write(&new_path).unwrap();
    let md = diff_run(&old_path, &new_path, &[]).stdout;
    assert!(
        md.starts_with("**1 artifact changed**: 1 ⚠️ republished (same version, new bytes)."),
        "{md}"
    );
    assert!(
        md.contains("> **Same version, new bytes: upstream republished.**"),
        "{md}"
    );
    assert!(md.contains("> - **clash-rs** (github-release) `v0.10.8`: new bytes under the same version: linux/amd64"), "{md}");
    assert!(md.contains("| `v0.10.8` (same) | ⚠️ **"), "{md}");
    let json: Value =
        serde_json::from_str(&diff_run(&old_path, &new_path, &["--format", "json"]).stdout)
            .unwrap();
    assert_eq!(json["artifacts"][0]["change"], "republished");
    assert_eq!(json["artifacts"][0]["platforms"][0]["hash-changed"], true);

    // Identical locks: nothing to say.
    let same = dir.path().join("same.lock");
    sealed(vec![a]).write(&same).unwrap();
    assert_eq!(diff_run(&old_path, &same, &[]).stdout, "No changes.\n");

    // A missing lock is an error naming it.
    let out = crate::support::run(&mut Project::new().command(&[
        "diff",
        "nope.lock",
        &same.to_string_lossy(),
    ]));
    assert_eq!(out.status, Some(1));
    out.assert_stderr_contains("no lock at nope.lock");
}

#[test]
fn bump_json_states_changes_and_what_was_held() {
    let s = Setup::new("latest", "[bump.group.clis]\nartifacts = [\"clash-rs\"]\n");
    s.releases(&[clash("v0.10.7", 60)], &[helper("h1.0.0", 90)]);
    s.project.lock_ok(&[]);
    s.releases(
        &[
            clash("v0.10.7", 60),
            clash("v0.10.8", 30),
            clash("v0.11.0", 10),
        ],
        &[helper("h1.0.0", 90)],
    );
    let out = s.bump_ok(&["--dry-run", "--json"], None);
    let doc: serde_json::Value =
        serde_json::from_str(&out.stdout).expect("one JSON document on stdout");
    assert_eq!(doc["schema"], "modelbench-bump/1");
    assert_eq!(doc["dry_run"], true);
    let change = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "clash-rs")
        .expect("clash-rs moves");
    assert_eq!(change["from"], "v0.10.7");
    assert_eq!(change["to"], "v0.10.8");
    assert_eq!(change["republish"], false);
    let held = &doc["held"][0];
    assert_eq!(held["version"], "v0.11.0");
    assert_eq!(held["instead"], "v0.10.8");
    assert!(held["reason"].as_str().unwrap().contains("major update"));
    assert_eq!(s.version("clash-rs"), "v0.10.7", "--dry-run writes nothing");
}
