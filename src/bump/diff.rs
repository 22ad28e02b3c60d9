//! The lock diff ([`crate::lock::diff`]) as a reviewer reads it: one row per changed
//! artifact and platform, a loud warning for every hash that moved without its version (an
//! upstream republish) and for every change of where bytes come from (a host the old lock
//! never used, a scheme change, a file renamed beyond its version), closures summarized
//! with their full list folded away; or the same diff as JSON.
//!
//! Both renderings are deterministic, as the diff is, so a pull request body made from
//! them only changes when the locks do.

use std::fmt::Write as _;

use crate::lock::diff::{ArtifactDiff, ChangeKind, LockDiff, OriginChange, PlatformDiff};

/// Rendering choices for markdown.
#[derive(Debug, Clone, Copy)]
pub struct MarkdownOptions {
    /// Include the folded full list of closure members.
    pub full_lists: bool,
    /// Heading level of the sections (`###` = 3).
    pub heading: usize,
}

impl Default for MarkdownOptions {
    fn default() -> Self {
        MarkdownOptions {
            full_lists: true,
            heading: 3,
        }
    }
}

pub fn to_json(diff: &LockDiff) -> String {
    let mut text = serde_json::to_string_pretty(diff).expect("a diff serializes");
    text.push('\n');
    text
}

pub fn to_markdown(diff: &LockDiff, options: MarkdownOptions) -> String {
    let h = "#".repeat(options.heading.clamp(1, 5));
    let mut out = String::new();
    if diff.is_empty() {
        out.push_str("No changes.\n");
        return out;
    }
    let _ = writeln!(out, "{}\n", summary_line(diff));

    let republished: Vec<&ArtifactDiff> = diff.republished().collect();
    if !republished.is_empty() {
        out.push_str("> [!WARNING]\n");
        out.push_str("> **Same version, new bytes: upstream republished.** These kept their version but their hashes changed. Find out why before merging:\n");
        for a in &republished {
            let _ = writeln!(out, "> - {}", republish_note(a));
        }
        out.push('\n');
    }

    let moved: Vec<&ArtifactDiff> = diff
        .artifacts
        .iter()
        .filter(|a| !a.origin.is_empty())
        .collect();
    if !moved.is_empty() {
        out.push_str("> [!CAUTION]\n");
        out.push_str("> **Where the bytes come from changed.** A new host, a scheme change or a renamed file: check each against its upstream before merging:\n");
        for a in &moved {
            for change in &a.origin {
                let _ = writeln!(
                    out,
                    "> - **{}** ({}): {}",
                    cell(&a.name),
                    cell(&a.kind),
                    origin_note(change)
                );
            }
        }
        out.push('\n');
    }

    out.push_str("| Artifact | Kind | Platform | Version | Hash | Size | Released | Link |\n");
    out.push_str("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for a in &diff.artifacts {
        let version = version_cell(a);
        let released = a
            .new_published
            .as_deref()
            .or(a.old_published.as_deref())
            .map(date_of)
            .unwrap_or("—");
        let link = a
            .link
            .as_ref()
            .map(|l| format!("[{}]({})", l.label, l.url))
            .unwrap_or_else(|| "—".into());
        let mut rows: Vec<(String, String, String)> = a
            .platforms
            .iter()
            .map(|p| (p.platform.clone(), hash_cell(p), size_cell(p)))
            .collect();
        if let Some(closure) = &a.closure {
            for count in &closure.per_platform {
                rows.push((
                    count.platform.clone(),
                    format!(
                        "closure: +{} −{} ~{}",
                        count.added, count.removed, count.changed
                    ),
                    "—".into(),
                ));
            }
        }
        if let (Some(old), Some(new)) = (&a.old_digest, &a.new_digest)
            && old != new
        {
            let branch = a.kind == "git"
                && a.new_requested
                    .as_deref()
                    .is_some_and(|r| crate::resolve::git::is_branch_pin(crate::lock::Kind::Git, r));
            let warn = if a.old_version == a.new_version && !branch {
                "⚠️ "
            } else {
                ""
            };
            rows.insert(
                0,
                (
                    if a.kind == "git" {
                        "(commit)"
                    } else {
                        "(index)"
                    }
                    .into(),
                    format!("{warn}{} → {}", short_hash(old), short_hash(new)),
                    "—".into(),
                ),
            );
        }
        if rows.is_empty() {
            rows.push(("—".into(), "unchanged".into(), "—".into()));
        }
        for (platform, hash, size) in rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&a.name),
                cell(&a.kind),
                cell(&platform),
                version,
                hash,
                size,
                released,
                link
            );
        }
    }

    let closures: Vec<&ArtifactDiff> = diff
        .artifacts
        .iter()
        .filter(|a| a.closure.is_some())
        .collect();
    if !closures.is_empty() {
        let _ = writeln!(out, "\n{h} Closures");
        for a in closures {
            let closure = a.closure.as_ref().expect("filtered");
            let _ = writeln!(
                out,
                "\n**{} `{}`**: {} added, {} removed, {} changed{}",
                cell(&a.kind),
                a.name,
                closure.added,
                closure.removed,
                closure.changed,
                if closure.republished > 0 {
                    format!(
                        " (⚠️ {} republished: same version, new bytes)",
                        closure.republished
                    )
                } else {
                    String::new()
                }
            );
            if !closure.requested.is_empty() {
                let listed: Vec<String> = closure
                    .requested
                    .iter()
                    .map(|p| {
                        format!(
                            "`{}` {} ({})",
                            p.name,
                            version_change(p.old_version.as_deref(), p.new_version.as_deref()),
                            p.platform
                        )
                    })
                    .collect();
                let _ = writeln!(out, "\nRequested: {}", listed.join(", "));
            }
            if options.full_lists && !closure.packages.is_empty() {
                let _ = writeln!(
                    out,
                    "\n<details><summary>All {} member changes</summary>\n",
                    closure.packages.len()
                );
                out.push_str("| Package | Platform | Change | Version | Hash |\n");
                out.push_str("| --- | --- | --- | --- | --- |\n");
                for p in &closure.packages {
                    let name = match &p.path {
                        Some(path) if !path.is_empty() => {
                            format!("{} (`{}`)", cell(&p.name), cell(path))
                        }
                        _ => cell(&p.name),
                    };
                    let hash = match (&p.old_hash, &p.new_hash) {
                        (Some(o), Some(n)) if o == n => "unchanged".to_string(),
                        (o, n) => format!(
                            "{}{} → {}",
                            if p.change == ChangeKind::Republished {
                                "⚠️ "
                            } else {
                                ""
                            },
                            o.as_deref().map(short_hash).unwrap_or_else(|| "—".into()),
                            n.as_deref().map(short_hash).unwrap_or_else(|| "—".into())
                        ),
                    };
                    let _ = writeln!(
                        out,
                        "| {name} | {} | {} | {} | {hash} |",
                        cell(&p.platform),
                        p.change.as_str(),
                        version_change(p.old_version.as_deref(), p.new_version.as_deref()),
                    );
                }
                out.push_str("\n</details>\n");
            } else if !options.full_lists && !closure.packages.is_empty() {
                let _ = writeln!(
                    out,
                    "\n{} member changes are listed by `modelbench diff` (left out here for size).",
                    closure.packages.len()
                );
            }
        }
    }
    out
}

fn origin_note(change: &OriginChange) -> String {
    match change {
        OriginChange::NewHost { host, url } => {
            format!("⚠️ new host {} ({})", code(host), code(url))
        }
        OriginChange::SchemeChanged { host, old, new } => format!(
            "⚠️ scheme of {} changed: {} → {}",
            code(host),
            code(old),
            code(new)
        ),
        OriginChange::FileRenamed { platform, old, new } => format!(
            "⚠️ file renamed ({}): {} → {}",
            cell(platform),
            code(old),
            code(new)
        ),
    }
}

/// Inline code for a value from a lock: no backtick, pipe or newline can end it early.
fn code(text: &str) -> String {
    format!("`{}`", cell(&text.replace('`', "'")))
}

pub fn summary_line(diff: &LockDiff) -> String {
    let s = &diff.summary;
    let n = diff.artifacts.len();
    let mut parts = Vec::new();
    for (count, what) in [
        (s.updated, "updated"),
        (s.republished, "⚠️ republished (same version, new bytes)"),
        (s.added, "added"),
        (s.removed, "removed"),
        (s.changed, "changed otherwise"),
    ] {
        if count > 0 {
            parts.push(format!("{count} {what}"));
        }
    }
    format!(
        "**{n} artifact{} changed**: {}.",
        if n == 1 { "" } else { "s" },
        parts.join(", ")
    )
}

fn republish_note(a: &ArtifactDiff) -> String {
    let mut places: Vec<String> = a
        .platforms
        .iter()
        .filter(|p| p.change == ChangeKind::Republished)
        .map(|p| p.platform.clone())
        .collect();
    if a.old_digest != a.new_digest && a.old_digest.is_some() && a.new_digest.is_some() {
        places.insert(
            0,
            if a.kind == "git" {
                "commit"
            } else {
                "image index"
            }
            .into(),
        );
    }
    if let Some(closure) = &a.closure {
        for p in closure
            .packages
            .iter()
            .filter(|p| p.change == ChangeKind::Republished)
        {
            places.push(format!(
                "`{}` {} ({})",
                p.name,
                p.new_version.as_deref().unwrap_or(""),
                p.platform
            ));
        }
    }
    let what = if a.kind == "oci" {
        "the tag now points to different image bytes"
    } else if a.kind == "git" {
        "the tag now names another commit"
    } else {
        "new bytes under the same version"
    };
    format!(
        "**{}** ({}) `{}`: {what}: {}",
        cell(&a.name),
        cell(&a.kind),
        a.new_version.as_deref().unwrap_or(""),
        places.join(", ")
    )
}

fn version_cell(a: &ArtifactDiff) -> String {
    let mut text = match (a.old_version.as_deref(), a.new_version.as_deref()) {
        (Some(o), Some(n)) if o == n => format!("`{}` (same)", cell(o)),
        (o, n) => version_change(o, n),
    };
    if let (Some(o), Some(n)) = (&a.old_requested, &a.new_requested)
        && o != n
    {
        let _ = write!(text, " (constraint `{}` → `{}`)", cell(o), cell(n));
    }
    text
}

fn version_change(old: Option<&str>, new: Option<&str>) -> String {
    let show = |v: Option<&str>| {
        v.map(|v| format!("`{}`", cell(v)))
            .unwrap_or_else(|| "—".into())
    };
    format!("{} → {}", show(old), show(new))
}

fn hash_cell(p: &PlatformDiff) -> String {
    if !p.hash_changed {
        return if p.urls_changed {
            "unchanged (URLs changed)".into()
        } else {
            "unchanged".into()
        };
    }
    let old = p
        .old_hash
        .as_deref()
        .map(short_hash)
        .unwrap_or_else(|| "—".into());
    let new = p
        .new_hash
        .as_deref()
        .map(short_hash)
        .unwrap_or_else(|| "—".into());
    if p.change == ChangeKind::Republished {
        format!("⚠️ **{old} → {new}** (same version)")
    } else {
        format!("{old} → {new}")
    }
}

fn size_cell(p: &PlatformDiff) -> String {
    match (p.old_size, p.new_size, p.size_delta) {
        (Some(o), Some(n), Some(0)) if o == n => human_size(n),
        (Some(o), Some(n), Some(delta)) => {
            let sign = if delta < 0 { "-" } else { "+" };
            format!(
                "{} → {} ({sign}{})",
                human_size(o),
                human_size(n),
                human_size(delta.unsigned_abs())
            )
        }
        (None, Some(n), _) => human_size(n),
        (Some(o), None, _) => format!("{} → —", human_size(o)),
        _ => "—".into(),
    }
}

/// `sha256:0123456789ab…`
fn short_hash(hash: &str) -> String {
    let (algorithm, hex) = hash.split_once(':').unwrap_or(("", hash));
    let short: String = hex.chars().take(12).collect();
    if algorithm.is_empty() {
        format!("`{short}`")
    } else {
        format!("`{algorithm}:{short}`")
    }
}

pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `2026-07-23T10:00:00Z` → `2026-07-23`.
fn date_of(published: &str) -> &str {
    published
        .get(..10)
        .filter(|d| d.as_bytes().get(4) == Some(&b'-'))
        .unwrap_or(published)
}

/// A table cell: no pipes or newlines that would break the row.
fn cell(text: &str) -> String {
    crate::emit::quote::escaped(&text.replace('|', "\\|").replace(['\n', '\r'], " "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::Lock;
    use crate::lock::diff::diff;
    use crate::lock::values::OneLine;

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_size(18), "18 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MiB");
    }

    /// A lock with one github-release artifact `tool` at `version`, one file per URL.
    fn lock_with(version: &str, file: &str, urls: &[&str], hash_byte: char) -> Lock {
        let hash: String = std::iter::repeat_n(hash_byte, 64).collect();
        let urls: Vec<String> = urls.iter().map(|u| format!("\"{u}\"")).collect();
        let text = format!(
            "version = 1\nspec-hash = \"sha256:x\"\n\n[[artifact]]\nkind = \"github-release\"\nname = \"tool\"\n\
             requested = \"latest\"\nrequest-hash = \"sha256:r\"\nversion = \"{version}\"\n\
             [artifact.platform.\"linux/amd64\"]\nfile = \"{file}\"\nurls = [{}]\nhash = \"sha256:{hash}\"\n",
            urls.join(", ")
        );
        toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn new_hosts_scheme_changes_and_renamed_files_are_flagged() {
        let old = lock_with(
            "v1.0.0",
            "tool-v1.0.0-x86_64.tar.gz",
            &["https://github.com/o/tool/releases/download/v1.0.0/tool-v1.0.0-x86_64.tar.gz"],
            'a',
        );
        // A version bump from the same host, file name moving with the version: quiet.
        let bumped = lock_with(
            "v1.1.0",
            "tool-v1.1.0-x86_64.tar.gz",
            &["https://github.com/o/tool/releases/download/v1.1.0/tool-v1.1.0-x86_64.tar.gz"],
            'b',
        );
        let d = diff(Some(&old), &bumped);
        assert_eq!(d.artifacts[0].origin, []);
        assert!(!to_markdown(&d, MarkdownOptions::default()).contains("CAUTION"));

        // The same bump, served from elsewhere, over http, under another name.
        let moved = lock_with(
            "v1.1.0",
            "tool-v1.1.0-x86_64-patched.tar.gz",
            &[
                "https://evil.example/tool.tar.gz",
                "http://github.com/o/tool/releases/download/v1.1.0/tool.tar.gz",
            ],
            'b',
        );
        let d = diff(Some(&old), &moved);
        assert_eq!(
            d.artifacts[0].origin,
            [
                OriginChange::NewHost {
                    host: "evil.example".into(),
                    url: "https://evil.example/tool.tar.gz".into()
                },
                OriginChange::SchemeChanged {
                    host: "github.com".into(),
                    old: "https".into(),
                    new: "http".into()
                },
                OriginChange::FileRenamed {
                    platform: "linux/amd64".into(),
                    old: "tool-v1.0.0-x86_64.tar.gz".into(),
                    new: "tool-v1.1.0-x86_64-patched.tar.gz".into()
                },
            ]
        );
        let text = to_markdown(&d, MarkdownOptions::default());
        assert!(text.contains("> [!CAUTION]"), "{text}");
        assert!(
            text.contains("> - **tool** (github-release): ⚠️ new host `evil.example` (`https://evil.example/tool.tar.gz`)"),
            "{text}"
        );
        assert!(
            text.contains("⚠️ scheme of `github.com` changed: `https` → `http`"),
            "{text}"
        );
        assert!(
            text.contains("⚠️ file renamed (linux/amd64): `tool-v1.0.0-x86_64.tar.gz` → `tool-v1.1.0-x86_64-patched.tar.gz`"),
            "{text}"
        );
        assert!(to_json(&d).contains("\"kind\": \"new-host\""));

        // A first lock has nothing to compare with: no flags.
        assert_eq!(diff(None, &moved).artifacts[0].origin, []);
    }

    #[test]
    fn lock_values_cannot_break_the_markdown() {
        assert_eq!(code("a`b|c\nd\u{1b}[31m"), "`a'b\\|c d\\u{1b}[31m`");
    }

    #[test]
    fn identical_locks_have_no_diff() {
        let lock = Lock::new(OneLine::parse("spec-hash", "sha256:x").unwrap(), Vec::new());
        let d = diff(Some(&lock), &lock);
        assert!(d.is_empty());
        assert_eq!(to_markdown(&d, MarkdownOptions::default()), "No changes.\n");
    }
}
