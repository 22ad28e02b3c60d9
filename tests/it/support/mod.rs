//! Shared test infrastructure: the loopback [`world`] (fake upstreams with fault injection), a real
//! OCI [`registry`], real [`buildah`] builds, a real Docker Engine ([`docker`]), and helpers
//! to run the `modelbench` binary.
//!
//! Not every test module uses every helper, hence the module-wide `dead_code` allowance.

#![allow(dead_code)]

pub mod buildah;
pub mod docker;
pub mod http;
pub mod project;
pub mod registry;
pub mod sources;
pub mod tools;
pub mod world;

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

/// A fresh temp dir, removed when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("modelbench-it-")
        .tempdir()
        .expect("create a temp dir")
}

/// The `modelbench` binary under test, isolated from the caller's environment: no
/// `MODELBENCH_SOURCES` (tests pass their own sources file), no `GITHUB_TOKEN`, and `NO_COLOR=1`
/// so output compares as plain text.
pub fn modelbench() -> Command {
    modelbench_at(Path::new(env!("CARGO_BIN_EXE_modelbench")))
}

/// [`modelbench`] with another binary (a golden comparison's baseline).
pub fn modelbench_at(binary: &Path) -> Command {
    let mut cmd = Command::new(binary);
    cmd.env_remove("MODELBENCH_SOURCES")
        .env_remove("GITHUB_TOKEN")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

/// What a finished command left behind.
#[derive(Clone, Debug)]
pub struct Output {
    /// The exit code; `None` if killed by a signal.
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// Panic, showing all of stdout, unless it contains `part`.
    #[track_caller]
    pub fn assert_stdout_contains(&self, part: &str) -> &Output {
        assert!(
            self.stdout.contains(part),
            "expected `{part}` in stdout:\n{}",
            self.stdout
        );
        self
    }

    /// Panic, showing all of stderr, unless it contains `part`.
    #[track_caller]
    pub fn assert_stderr_contains(&self, part: &str) -> &Output {
        assert!(
            self.stderr.contains(part),
            "expected `{part}` in stderr:\n{}",
            self.stderr
        );
        self
    }

    /// stdout followed by stderr.
    pub fn combined(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// The last `lines` lines of stdout: what a failing build printed just before it
    /// stopped, for a panic message (CI shows a log's end, not its middle).
    pub fn stdout_tail(&self, lines: usize) -> String {
        let all: Vec<&str> = self.stdout.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Print everything to the test's captured output, under `title`.
    pub fn print(&self, title: &str) {
        let mut text = String::new();
        let _ = writeln!(text, "---- {title}: exit {:?}", self.status);
        let _ = writeln!(text, "---- stdout:\n{}", self.stdout);
        let _ = writeln!(text, "---- stderr:\n{}", self.stderr);
        eprintln!("{text}");
    }
}

/// Run `cmd` to completion, capturing stdout and stderr.
pub fn run(cmd: &mut Command) -> Output {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run {cmd:?}: {e}"));
    Output {
        status: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Run `cmd` and expect exit 0; on anything else print its output and panic.
pub fn run_ok(cmd: &mut Command) -> Output {
    let output = run(cmd);
    if !output.success() {
        output.print(&format!("{cmd:?}"));
        panic!(
            "expected success from {cmd:?}, got exit {:?}",
            output.status
        );
    }
    output
}

/// Run `cmd` and expect a non-zero exit; on success print its output and panic.
pub fn run_fail(cmd: &mut Command) -> Output {
    let output = run(cmd);
    if output.success() {
        output.print(&format!("{cmd:?}"));
        panic!("expected {cmd:?} to fail, but it succeeded");
    }
    output
}

/// Every file below `dir` by its relative path, with its bytes.
pub fn read_tree(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                let relative = entry
                    .path()
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.insert(relative, std::fs::read(entry.path()).unwrap());
            }
        }
    }
    files
}

/// Whether a file has an executable bit set.
pub fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o111 != 0
}

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
