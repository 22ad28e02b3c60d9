//! A project directory for CLI tests: a spec, a sources file pointing at the loopback
//! world and registry, and the lock/emit commands run in it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use super::sources::SourcesFile;
use super::{Output, modelbench, run};

pub struct Project {
    pub dir: tempfile::TempDir,
    /// This project's own `HOME` and `XDG_CACHE_HOME` (`<home>/.cache`), outside `dir` so a
    /// test comparing the project's files sees none of them: no run reads or writes the
    /// user's cache, and no test sees what another left there.
    pub home: tempfile::TempDir,
    /// The `modelbench` binary this project's commands run: the one under test unless a
    /// golden comparison sets a baseline ([`Project::use_binary`]).
    binary: std::cell::RefCell<Option<PathBuf>>,
}

impl Project {
    pub fn new() -> Project {
        Project {
            dir: super::temp_dir(),
            home: super::temp_dir(),
            binary: std::cell::RefCell::new(None),
        }
    }

    /// Run later commands with `binary` (`None`: the binary under test).
    pub fn use_binary(&self, binary: Option<PathBuf>) {
        *self.binary.borrow_mut() = binary;
    }

    /// `modelbench`'s cache for this project's runs (`$XDG_CACHE_HOME/modelbench`).
    pub fn cache_dir(&self) -> PathBuf {
        self.home.path().join(".cache/modelbench")
    }

    /// Give `cmd` this project's home and cache.
    pub fn isolate<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.env("HOME", self.home.path())
            .env("XDG_CACHE_HOME", self.home.path().join(".cache"))
            .env_remove("MODELBENCH_CACHE_DIR")
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative))
            .unwrap_or_else(|e| panic!("cannot read {relative}: {e}"))
    }

    pub fn exists(&self, relative: &str) -> bool {
        self.path(relative).exists()
    }

    /// `specs/test.toml`.
    pub fn spec(&self, text: &str) -> PathBuf {
        self.write("specs/test.toml", text)
    }

    /// The project's `sources.toml`, built up: `project.sources_file().tools(&world)
    /// .registry(registry.host()).write()`.
    pub fn sources_file(&self) -> SourcesFile<'_> {
        SourcesFile::for_project(self)
    }

    /// `modelbench <args>` run in the project directory.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = modelbench();
        if let Some(binary) = self.binary.borrow().as_ref() {
            cmd = super::modelbench_at(binary);
        }
        self.isolate(&mut cmd);
        cmd.current_dir(self.dir.path()).args(args);
        // Tests inject faults: keep the retry backoff short.
        cmd.env("MODELBENCH_RETRY_BASE_MS", "20");
        // `check-image` may drive buildah: these machines only run its chroot isolation.
        cmd.env("BUILDAH_ISOLATION", "chroot");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        run(&mut self.command(args))
    }

    /// `modelbench lock specs/test.toml --sources sources.toml <extra>`, to run with an
    /// environment of its own.
    pub fn lock_command(&self, extra: &[&str]) -> Command {
        let mut args = vec!["lock", "specs/test.toml", "--sources", "sources.toml"];
        args.extend_from_slice(extra);
        self.command(&args)
    }

    /// [`Project::lock_command`], run.
    pub fn lock(&self, extra: &[&str]) -> Output {
        run(&mut self.lock_command(extra))
    }

    /// [`Project::lock`], expected to succeed: on failure its output is printed and the
    /// test panics.
    pub fn lock_ok(&self, extra: &[&str]) -> Output {
        let output = self.lock(extra);
        if !output.success() {
            output.print("modelbench lock");
            panic!("lock failed");
        }
        output
    }

    /// `modelbench emit specs/test.toml <extra>`.
    pub fn emit(&self, extra: &[&str]) -> Output {
        let mut args = vec!["emit", "specs/test.toml"];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// [`Project::emit`], expected to succeed: on failure its output is printed and the
    /// test panics.
    pub fn emit_ok(&self, extra: &[&str]) -> Output {
        let output = self.emit(extra);
        if !output.success() {
            output.print("modelbench emit");
            panic!("emit failed");
        }
        output
    }

    /// `lock`, then `emit --locked`, both expected to succeed: the build context most build
    /// tests start from. Returns its directory ([`Project::out_dir`]).
    pub fn lock_and_emit(&self) -> PathBuf {
        self.lock_ok(&[]);
        self.emit_ok(&["--locked"]);
        self.out_dir()
    }

    /// The default lock path for `specs/test.toml`.
    pub fn lock_path(&self) -> PathBuf {
        self.path("lock/test/bench.lock")
    }

    pub fn lock_bytes(&self) -> Vec<u8> {
        std::fs::read(self.lock_path()).expect("a lock was written")
    }

    pub fn lock_toml(&self) -> toml::Table {
        toml::from_str(&String::from_utf8(self.lock_bytes()).unwrap()).unwrap()
    }

    pub fn out_dir(&self) -> PathBuf {
        self.path("build/test")
    }
}

/// The artifact table of a lock by kind and name.
pub fn artifact<'a>(lock: &'a toml::Table, kind: &str, name: &str) -> &'a toml::Table {
    lock["artifact"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_table().unwrap())
        .find(|a| a["kind"].as_str() == Some(kind) && a["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no {kind} `{name}` in the lock"))
}

pub fn pin<'a>(artifact: &'a toml::Table, platform: &str) -> &'a toml::Table {
    artifact["platform"][platform].as_table().unwrap()
}

pub fn exists(path: &Path) -> bool {
    path.exists()
}
