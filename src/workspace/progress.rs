//! Progress for the commands that fetch: a live line on a terminal, one line per step in
//! logs, nothing when asked to be quiet. It is the resolver's [`resolve::Reporter`].

use std::io::IsTerminal;

use crate::resolve;

/// Progress for `lock`, `bump` and `verify`: on a terminal, a live line with the
/// steps done per source kind and the bytes received so far (redrawn while a large
/// download runs); in logs, one line per finished step (with `--verbose`); nothing with
/// `--quiet` or `--json`. Always on stderr, so stdout keeps only a report or JSON.
pub(crate) struct Progress {
    state: std::sync::Arc<ProgressState>,
}

#[derive(Default)]
struct ProgressState {
    live: bool,
    lines: bool,
    /// Per source kind: (done, total).
    kinds: std::sync::Mutex<std::collections::BTreeMap<String, (usize, usize)>>,
    done: std::sync::atomic::AtomicUsize,
    total: std::sync::atomic::AtomicUsize,
    /// The live line's last finished step and the verb it runs under.
    last: std::sync::Mutex<(String, String)>,
    stop: std::sync::atomic::AtomicBool,
    /// One drawer at a time, so a stale line never lands after the final clear.
    drawing: std::sync::Mutex<()>,
}

/// Longest name shown on the live line (it sits after a 12-column verb and the count).
const LIVE_WIDTH: usize = 40;

impl Progress {
    /// `talk`: anything may be printed; `lines`: one line per step off a terminal.
    pub(crate) fn new(talk: bool, lines: bool) -> Progress {
        Progress {
            state: std::sync::Arc::new(ProgressState {
                live: talk && std::io::stderr().is_terminal(),
                lines: talk && lines,
                ..ProgressState::default()
            }),
        }
    }

    /// These steps are coming, one per entry, named by source kind. On a terminal the
    /// live line is redrawn until they are done, so bytes show while a download runs.
    pub(crate) fn start<'a>(&self, kinds: impl IntoIterator<Item = &'a str>, working: &str) {
        let state = &self.state;
        let mut table = state.kinds.lock().expect("progress lock");
        let mut total = 0;
        for kind in kinds {
            table.entry(kind.to_string()).or_default().1 += 1;
            total += 1;
        }
        drop(table);
        state
            .total
            .store(total, std::sync::atomic::Ordering::SeqCst);
        *state.last.lock().expect("progress lock") = (working.to_string(), String::new());
        if state.live && total > 0 {
            // The first line now, not when the ticker thread first runs: on a loaded
            // machine steps can finish before it is scheduled.
            state.draw();
            let state = std::sync::Arc::clone(&self.state);
            std::thread::spawn(move || {
                while !state.stop.load(std::sync::atomic::Ordering::SeqCst) {
                    state.draw();
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
            });
        }
    }

    /// One step of `kind` finished. Live, the line shows `[done/total]`, what is left per
    /// kind, the bytes received and `what`; as a log line, `{done_verb} {what} {outcome}
    /// [done/total]` (`Resolved npm @openai/codex 0.169.0 [3/5]`). Called from
    /// concurrent tasks: each call prints whole lines.
    pub(crate) fn step(&self, kind: &str, done_verb: &str, what: &str, outcome: &str) {
        let state = &self.state;
        if let Some(entry) = state.kinds.lock().expect("progress lock").get_mut(kind) {
            entry.0 += 1;
        }
        let done = state.done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let total = state.total.load(std::sync::atomic::Ordering::SeqCst);
        state.last.lock().expect("progress lock").1 = what.to_string();
        if state.live {
            state.draw();
        } else if state.lines {
            eprintln!("{done_verb:>12} {what} {outcome} [{done}/{total}]");
        }
    }
}

impl ProgressState {
    /// Redraw the live line, or clear it once every step is done.
    fn draw(&self) {
        let _drawing = self.drawing.lock().expect("progress lock");
        match self.line(crate::net::bytes_received()) {
            Some(line) => eprint!("\r\x1b[2K{line}"),
            None => {
                self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
                eprint!("\r\x1b[2K");
            }
        }
    }

    /// The live line after `bytes` received, or `None` once every step is done:
    /// `   Resolving [3/12] apt 1/2, npm 0/5 · 84.2 MiB npm @openai/codex`.
    fn line(&self, bytes: u64) -> Option<String> {
        let done = self.done.load(std::sync::atomic::Ordering::SeqCst);
        let total = self.total.load(std::sync::atomic::Ordering::SeqCst);
        if done >= total {
            return None;
        }
        let (working, what) = self.last.lock().expect("progress lock").clone();
        let left: Vec<String> = self
            .kinds
            .lock()
            .expect("progress lock")
            .iter()
            .filter(|(_, (d, t))| d < t)
            .map(|(kind, (d, t))| format!("{kind} {d}/{t}"))
            .collect();
        let received = if bytes >= 1 << 20 {
            format!(" · {:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
        } else {
            String::new()
        };
        // Short enough not to wrap on a narrow terminal, or `\r` could not redraw it.
        let what: String = match what.char_indices().nth(LIVE_WIDTH) {
            Some((end, _)) => format!("{}…", &what[..end]),
            None => what,
        };
        Some(format!(
            "{working:>12} [{done}/{total}] {}{received} {what}",
            left.join(", ")
        ))
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        let was_running = !self
            .state
            .stop
            .swap(true, std::sync::atomic::Ordering::SeqCst);
        if self.state.live && was_running {
            eprint!("\r\x1b[2K");
        }
    }
}

impl resolve::Reporter for Progress {
    fn started(&self, requests: &[&resolve::Request]) {
        self.start(requests.iter().map(|r| r.kind.as_str()), "Resolving");
    }

    fn finished(&self, request: &resolve::Request, version: Option<&str>) {
        self.step(
            request.kind.as_str(),
            "Resolved",
            &format!("{} {}", request.kind, request.name),
            version.unwrap_or("failed"),
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn progress_line_shows_what_is_left_per_kind_and_the_bytes() {
        let progress = super::Progress::new(false, false);
        progress.start(["apt", "npm", "npm", "github-release"], "Resolving");
        let state = &progress.state;
        assert_eq!(
            state.line(512).unwrap(),
            "   Resolving [0/4] apt 0/1, github-release 0/1, npm 0/2 "
        );
        progress.step("npm", "Resolved", "npm @openai/codex", "0.1");
        progress.step("apt", "Resolved", "apt stage-1", "2 packages");
        assert_eq!(
            state.line(84 * 1024 * 1024 + 200 * 1024).unwrap(),
            "   Resolving [2/4] github-release 0/1, npm 1/2 · 84.2 MiB apt stage-1"
        );
        progress.step(
            "npm",
            "Resolved",
            "npm @scope/a-rather-long-package-name-that-goes-on-and-on",
            "0.1",
        );
        assert_eq!(
            state.line(0).unwrap(),
            "   Resolving [3/4] github-release 0/1 npm @scope/a-rather-long-package-name-th…"
        );
        progress.step("github-release", "Resolved", "clash-rs", "v1");
        assert_eq!(state.line(0), None, "cleared when done");
    }
}
