//! A real Docker Engine for the tests: Debian's `docker.io` (dockerd 20.10, its built-in
//! BuildKit and the classic builder) with the `docker-buildx` and Compose v2 CLI plugins
//! that `.ci/run` installs. One daemon serves the whole test binary ([`shared`]), with its
//! socket, data root, exec root and pidfile in a temp dir of its own, so the machine's
//! docker (if any) is neither used nor touched.
//!
//! A `static` is never dropped, so dockerd runs under a small `sh` wrapper (in its own
//! session, `setsid`) that waits for its stdin to close — when this process exits, however
//! it exits — then stops dockerd and cleans up what it leaves in the kernel: the netns
//! mounts under its exec root, any other mount under its dir, and the `docker0` bridge
//! when this daemon created it.
//!
//! Without root, `dockerd` or a daemon that answers, [`shared`] returns `None` after a loud
//! skip note; with `CI` set it fails instead (`support::tools`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{Output, run};

/// The docker client with the buildx and compose plugins: Debian's. (`/usr/local/bin/docker`
/// on some of these machines is a newer client without them.)
pub const DOCKER: &str = "/usr/bin/docker";

const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// What to install when the engine is missing.
const INSTALL: &str =
    "apt-get install docker.io, and the Compose v2 and buildx plugins as .ci/run does";

/// The process-wide daemon, started on first use; `None` (after a loud note) when it cannot
/// run here and Docker is not required.
pub fn shared() -> Option<&'static Docker> {
    static SHARED: OnceLock<Result<Docker, String>> = OnceLock::new();
    match SHARED.get_or_init(Docker::start) {
        Ok(docker) => Some(docker),
        Err(why) => {
            skip_or_fail(why);
            None
        }
    }
}

/// A missing or broken engine: a loud skip in a local run, a failure in CI (as for every
/// tool the tests drive, `support::tools`).
fn skip_or_fail(why: &str) {
    super::tools::skip_or_fail(&format!(
        "the Docker tests need a Docker Engine: {why} ({INSTALL})"
    ));
}

/// A running dockerd of the tests.
pub struct Docker {
    dir: PathBuf,
    socket: PathBuf,
    /// A directory holding `docker` → [`DOCKER`], to put first on a script's `PATH`.
    bin: PathBuf,
    /// `DOCKER_CONFIG`: no credentials or settings of the machine's user.
    config: PathBuf,
    /// Closing it tells the wrapper to stop dockerd and clean up.
    stdin: Option<ChildStdin>,
    wrapper: Child,
}

impl Drop for Docker {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.wrapper.wait();
    }
}

/// Started under `setsid` (dockerd must not share our process group), stopped when stdin
/// closes. `$1` is the dir, `$2` is 1 when `docker0` did not exist before.
const WRAPPER: &str = r#"dir=$1
made_bridge=$2
setsid dockerd --storage-driver overlay2 --iptables=false --ip6tables=false \
    --host "unix://$dir/docker.sock" --data-root "$dir/data" --exec-root "$dir/exec" \
    --pidfile "$dir/docker.pid" </dev/null >"$dir/dockerd.log" 2>&1 &
pid=$!
cat >/dev/null
# Containers first (they hold netns and overlay mounts), then the daemon.
DOCKER_HOST="unix://$dir/docker.sock" /usr/bin/docker ps -aq 2>/dev/null |
    xargs -r env DOCKER_HOST="unix://$dir/docker.sock" /usr/bin/docker rm -f >/dev/null 2>&1
DOCKER_HOST="unix://$dir/docker.sock" /usr/bin/docker network prune -f >/dev/null 2>&1
kill "$pid" 2>/dev/null
tries=0
while kill -0 "$pid" 2>/dev/null && [ "$tries" -lt 100 ]; do sleep 0.1; tries=$((tries + 1)); done
kill -9 "$pid" 2>/dev/null
# What dockerd leaves behind: netns bind mounts, overlay mounts, the bridge it made.
awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r mount; do umount -l "$mount" 2>/dev/null; done
[ "$made_bridge" = 1 ] && ip link delete docker0 2>/dev/null
rm -rf "$dir""#;

impl Docker {
    fn start() -> Result<Docker, String> {
        if std::env::consts::OS != "linux" || !is_root() {
            return Err("dockerd runs here only as root on Linux".into());
        }
        for tool in ["dockerd", DOCKER] {
            if !run(Command::new("sh").args(["-c", "command -v \"$1\"", "sh", tool])).success() {
                return Err(format!("`{tool}` is not installed"));
            }
        }
        for plugin in [["compose", "version"], ["buildx", "version"]] {
            let output = run(Command::new(DOCKER).args(plugin));
            if !output.success() {
                return Err(format!(
                    "`docker {}` does not work: {}",
                    plugin.join(" "),
                    output.combined().trim()
                ));
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("modelbench-docker-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?
            .keep();
        let bin = dir.join("bin");
        let config = dir.join("config");
        for d in [&bin, &config] {
            std::fs::create_dir_all(d).map_err(|e| format!("create {}: {e}", d.display()))?;
        }
        std::os::unix::fs::symlink(DOCKER, bin.join("docker"))
            .map_err(|e| format!("link docker: {e}"))?;
        let made_bridge = !Path::new("/sys/class/net/docker0").exists();
        let mut wrapper = Command::new("sh")
            .args(["-c", WRAPPER, "modelbench-test-dockerd"])
            .arg(&dir)
            .arg(if made_bridge { "1" } else { "0" })
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawn sh for dockerd: {e}"))?;
        let stdin = wrapper.stdin.take();
        let docker = Docker {
            socket: dir.join("docker.sock"),
            dir,
            bin,
            config,
            stdin,
            wrapper,
        };
        let started = Instant::now();
        loop {
            if docker.socket.exists()
                && run(&mut docker.command(&["info", "--format", "{{.ID}}"])).success()
            {
                eprintln!(
                    "docker: dockerd answered after {} ms",
                    started.elapsed().as_millis()
                );
                return Ok(docker);
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                let log =
                    std::fs::read_to_string(docker.dir.join("dockerd.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                return Err(format!(
                    "dockerd did not answer within {}s; its log ends:\n{}",
                    STARTUP_TIMEOUT.as_secs(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `unix:///…/docker.sock`, for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Point `cmd` (the client, or a script that calls `docker`) at this daemon: `DOCKER_HOST`,
    /// a private `DOCKER_CONFIG`, and Debian's client first on `PATH`.
    pub fn env<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", &self.config)
            .env("PATH", path)
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_BUILDKIT")
            .env_remove("SOURCE_DATE_EPOCH")
            .stdin(Stdio::null())
    }

    /// `docker <args>` against this daemon.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(DOCKER);
        self.env(&mut cmd).args(args);
        cmd
    }

    /// Run `docker <args>`; prints its output when it fails.
    pub fn run(&self, args: &[&str]) -> Output {
        let output = run(&mut self.command(args));
        if !output.success() {
            output.print(&format!("docker {args:?}"));
        }
        output
    }

    /// Run `docker <args>` and panic (with its output) unless it succeeds.
    pub fn ok(&self, args: &[&str]) -> Output {
        let output = self.run(args);
        assert!(output.success(), "docker {args:?} failed");
        output
    }

    /// The image ID of `image` (`sha256:…`).
    pub fn image_id(&self, image: &str) -> String {
        self.ok(&["image", "inspect", "--format", "{{.Id}}", image])
            .stdout
            .trim()
            .to_string()
    }
}

fn is_root() -> bool {
    run(Command::new("id").arg("-u")).stdout.trim() == "0"
}
