//! Spec parsing and validation through the CLI: every bad input is an error with file,
//! line, column and the offending text; the shipped seed spec parses.

use crate::support::project::Project;

const GOOD: &str = r#"[image]
name = "mb-test"
tag = "t1"
platforms = ["linux/amd64"]

[base]
image = "127.0.0.1:5000/base:1"
"#;

fn lock_error(spec: &str) -> String {
    let project = Project::new();
    project.spec(spec);
    let output = project.run(&["lock", "specs/test.toml", "--offline"]);
    assert_eq!(
        output.status,
        Some(1),
        "stdout: {}\nstderr: {}",
        output.stdout,
        output.stderr
    );
    output.stderr
}

#[test]
fn spec_broken_toml_names_file_line_and_column() {
    let stderr = lock_error(&GOOD.replace("tag = \"t1\"", "tag = \"t1"));
    assert!(stderr.contains("specs/test.toml:3:"), "{stderr}");
    assert!(
        stderr.contains("tag = \"t1"),
        "the offending line is shown: {stderr}"
    );
}

#[test]
fn spec_unknown_key_is_an_error_with_its_line() {
    let stderr = lock_error(&GOOD.replace("[base]", "[base]\nimgae = \"typo\""));
    assert!(stderr.contains("specs/test.toml:7:1"), "{stderr}");
    assert!(stderr.contains("unknown field `imgae`"), "{stderr}");
}

#[test]
fn spec_wrong_type_is_an_error_with_its_line() {
    let stderr = lock_error(&GOOD.replace(
        "platforms = [\"linux/amd64\"]",
        "platforms = \"linux/amd64\"",
    ));
    assert!(stderr.contains("specs/test.toml:4:"), "{stderr}");
    assert!(stderr.contains("invalid type"), "{stderr}");
}

#[test]
fn spec_semantic_errors_point_at_the_value() {
    let stderr = lock_error(&GOOD.replace("linux/amd64", "linux/s390x"));
    assert!(stderr.contains("specs/test.toml:4:14"), "{stderr}");
    assert!(
        stderr.contains("unknown platform `linux/s390x`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("^^^^^^^^^^^^^"),
        "a caret marks the value: {stderr}"
    );

    let stderr = lock_error(&format!(
        "{GOOD}\n[stage-2]\ntools.node = {{ version = \"lts\", user = \"nobody\" }}\n"
    ));
    assert!(
        stderr.contains("user `nobody`, who is not in `[[users]]`"),
        "{stderr}"
    );
    assert!(stderr.contains("specs/test.toml:10:"), "{stderr}");

    let stderr = lock_error(&GOOD.replace("127.0.0.1:5000/base:1", "Not A Reference"));
    assert!(
        stderr.contains("`base.image` is not an image reference"),
        "{stderr}"
    );

    let stderr = lock_error(&format!(
        "{GOOD}\n[stage-2.release.x]\nrepo = \"a/b\"\nversion = \"^^1\"\nasset = \"x\"\ndest = \"/x\"\n"
    ));
    assert!(
        stderr.contains("release `x`: `^^1` is not a version range"),
        "{stderr}"
    );

    let stderr = lock_error(&format!(
        "{GOOD}\n[stage-2.url.x]\nurl = \"https://example.com/x\"\nsha256 = \"abc\"\ndest = \"/x\"\n"
    ));
    assert!(
        stderr.contains("`sha256` must be 64 hex digits, got `abc`"),
        "{stderr}"
    );
}

#[test]
fn spec_emit_table_is_strict() {
    // GOOD has 7 lines; a blank line, then `[emit]` on line 9.
    let stderr = lock_error(&format!("{GOOD}\n[emit]\ncommited = true\n"));
    assert!(stderr.contains("specs/test.toml:10:1"), "{stderr}");
    assert!(stderr.contains("unknown field `commited`"), "{stderr}");

    let stderr = lock_error(&format!("{GOOD}\n[emit]\ncommitted = \"yes\"\n"));
    assert!(stderr.contains("specs/test.toml:10:"), "{stderr}");
    assert!(stderr.contains("invalid type"), "{stderr}");

    for (out, message) in [
        (
            "../elsewhere",
            "`emit.out` must be a relative path below the current directory, without `..`",
        ),
        (
            "/abs/path",
            "`emit.out` must be a relative path below the current directory, without `..`",
        ),
        ("./", "`emit.out` names no directory"),
    ] {
        let stderr = lock_error(&format!(
            "{GOOD}\n[emit]\ncommitted = true\nout = \"{out}\"\n"
        ));
        assert!(stderr.contains("specs/test.toml:11:7"), "{out}: {stderr}");
        assert!(stderr.contains(message), "{out}: {stderr}");
    }
}

#[test]
fn spec_missing_file_is_an_error() {
    let project = Project::new();
    let output = project.run(&["lock", "specs/nope.toml"]);
    assert_eq!(output.status, Some(1));
    output.assert_stderr_contains("cannot read spec `specs/nope.toml`");
}

#[test]
fn spec_usage_errors_exit_2() {
    let project = Project::new();
    assert_eq!(project.run(&["lock", "--no-such-flag"]).status, Some(2));
    assert_eq!(project.run(&["frobnicate"]).status, Some(2));
    let help = project.run(&["lock", "--help"]);
    assert_eq!(help.status, Some(0));
    for flag in ["--lock", "--sources", "--update", "--offline", "--check"] {
        assert!(
            help.stdout.contains(flag),
            "{flag} missing from help: {}",
            help.stdout
        );
    }
    let help = project.run(&["emit", "--help"]);
    for flag in ["--lock", "--out", "--locked"] {
        assert!(
            help.stdout.contains(flag),
            "{flag} missing from help: {}",
            help.stdout
        );
    }
}

#[test]
fn spec_shipped_seed_parses_and_every_part_has_a_resolver() {
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/specs/model-bench-cu128.toml");
    let project = Project::new();
    let output = project.run(&["lock", seed, "--offline", "--lock", "bench.lock"]);
    assert_eq!(output.status, Some(1), "{}", output.stderr);
    // Nothing is left without a resolver: offline, each part stops at the network.
    assert!(
        !output.stderr.contains("not resolvable yet"),
        "{}",
        output.stderr
    );
    for artifact in [
        "npm `@anthropic-ai/claude-code`",
        "npm `tavily-mcp`",
        "conda `jq`",
        "nodejs `node`",
        "github-release `clash-rs`",
    ] {
        assert!(
            output.stderr.contains(artifact),
            "`{artifact}` missing: {}",
            output.stderr
        );
    }
    assert!(!project.path("bench.lock").exists());
}

#[test]
fn spec_values_that_reach_shell_lines_are_held_to_safe_characters() {
    let release = |dest: &str, mode: &str| {
        format!(
            "{GOOD}\n[stage-2.release.x]\nrepo = \"a/b\"\nversion = \"latest\"\nasset = \"x\"\ndest = \"{dest}\"\nmode = \"{mode}\"\n"
        )
    };
    let stderr = lock_error(&release("/opt/x; rm -rf /", "0755"));
    assert!(
        stderr.contains("release `x`: name and `dest` may use"),
        "{stderr}"
    );
    let stderr = lock_error(&release("/opt/my tool", "0755"));
    assert!(stderr.contains("`/opt/my tool`"), "{stderr}");
    let stderr = lock_error(&release("/opt/x", "rwx"));
    assert!(stderr.contains("`mode` must be octal"), "{stderr}");
    let stderr = lock_error(&format!(
        "{GOOD}\n[[users]]\nname = \"Peid$(id)\"\nuid = 1\ngid = 1\n"
    ));
    assert!(stderr.contains("is not a user name"), "{stderr}");
}
