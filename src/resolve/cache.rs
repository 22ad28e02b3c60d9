//! Where modelbench keeps answers between runs: the user's cache directory, chosen by
//! the CLI (a library caller or test passes its own directory, or none).
//!
//! What goes there either is content-addressed (keyed by a digest, so it never goes
//! stale) or is revalidated with upstream on every use (`ETag` / `Last-Modified`: apt's
//! `InRelease`, conda repodata, npm packuments, see [`super::revalidate`]); deleting the
//! directory is always safe and costs downloads on the next `lock`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// `MODELBENCH_CACHE_DIR`, else `$XDG_CACHE_HOME/modelbench`, else
/// `$HOME/.cache/modelbench` (the XDG base directory rules; empty values count as
/// unset). `None` when none is set: nothing is cached.
pub fn user_cache_dir() -> Option<PathBuf> {
    cache_dir_from(|name| std::env::var_os(name))
}

fn cache_dir_from(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let set = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    set("MODELBENCH_CACHE_DIR")
        .or_else(|| set("XDG_CACHE_HOME").map(|d| d.join("modelbench")))
        .or_else(|| set("HOME").map(|h| h.join(".cache").join("modelbench")))
}

/// Longest `ETag` / `Last-Modified` value kept (real ones are under 100 bytes).
const VALIDATOR_LIMIT: usize = 256;

/// An `ETag` or `Last-Modified` value fit to send back: printable ASCII, short.
pub(crate) fn validator(value: &str) -> Option<String> {
    let value = value.trim();
    let plain = !value.is_empty()
        && value.len() <= VALIDATOR_LIMIT
        && value.bytes().all(|b| (0x20..0x7f).contains(&b));
    plain.then(|| value.to_string())
}

/// Temp file and rename, so a reader never sees half a file. Best effort: a cache that
/// cannot be written only costs a download next time.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) {
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let Ok(mut temp) = tempfile::NamedTempFile::new_in(dir) else {
        return;
    };
    if std::io::Write::write_all(&mut temp, bytes).is_ok() {
        let _ = temp.persist(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(vars: &[(&str, &str)]) -> Option<PathBuf> {
        cache_dir_from(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        })
    }

    #[test]
    fn the_cache_dir_follows_modelbench_then_xdg_then_home() {
        let all = [
            ("MODELBENCH_CACHE_DIR", "/m"),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/h"),
        ];
        assert_eq!(dir(&all), Some(PathBuf::from("/m")));
        assert_eq!(dir(&all[1..]), Some(PathBuf::from("/x/modelbench")));
        assert_eq!(dir(&all[2..]), Some(PathBuf::from("/h/.cache/modelbench")));
        assert_eq!(
            dir(&[
                ("MODELBENCH_CACHE_DIR", ""),
                ("XDG_CACHE_HOME", ""),
                ("HOME", "/h")
            ]),
            Some(PathBuf::from("/h/.cache/modelbench"))
        );
        assert_eq!(dir(&[]), None);
    }
}
