//! What re-emitting changes in a directory of emitted files: each file added, updated
//! (bytes or executable bit) or removed. `bump` prints it and commits it with the lock.

use std::collections::BTreeMap;
use std::path::Path;

use super::{EmitError, Emitted, EmittedFile};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileChangeKind {
    Added,
    Updated,
    Removed,
}

impl FileChangeKind {
    /// The verb of a status line, as `lock` reports artifacts.
    pub fn verb(self) -> &'static str {
        match self {
            FileChangeKind::Added => "Adding",
            FileChangeKind::Updated => "Updating",
            FileChangeKind::Removed => "Removing",
        }
    }
}

/// One emitted file that differs, by its path relative to the output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: String,
    pub kind: FileChangeKind,
}

impl Emitted {
    /// What replacing `old` (a previous emit, or [`read_emitted`] of the output
    /// directory) with these files changes, sorted by path.
    pub fn changes_from(&self, old: &BTreeMap<String, EmittedFile>) -> Vec<FileChange> {
        let mut changes = Vec::new();
        for (path, file) in &self.files {
            let kind = match old.get(path) {
                None => FileChangeKind::Added,
                Some(before)
                    if before.bytes != file.bytes || before.executable != file.executable =>
                {
                    FileChangeKind::Updated
                }
                Some(_) => continue,
            };
            changes.push(FileChange {
                path: path.clone(),
                kind,
            });
        }
        changes.extend(
            old.keys()
                .filter(|path| !self.files.contains_key(*path))
                .map(|path| FileChange {
                    path: path.clone(),
                    kind: FileChangeKind::Removed,
                }),
        );
        changes.sort_by(|a, b| a.path.cmp(&b.path));
        changes
    }
}

/// Every regular file below `dir` by its `/`-separated relative path; empty when `dir`
/// does not exist (nothing emitted yet).
pub fn read_emitted(dir: &Path) -> Result<BTreeMap<String, EmittedFile>, EmitError> {
    let mut files = BTreeMap::new();
    if dir.exists() {
        walk(dir, dir, &mut files)?;
    }
    Ok(files)
}

fn walk(
    root: &Path,
    dir: &Path,
    files: &mut BTreeMap<String, EmittedFile>,
) -> Result<(), EmitError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| EmitError::Read { path, source }
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .collect::<Result<_, _>>()
        .map_err(io(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type().map_err(io(&path))?;
        if kind.is_dir() {
            walk(root, &path, files)?;
        } else if kind.is_file() {
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            #[cfg(unix)]
            let executable = {
                use std::os::unix::fs::PermissionsExt;
                entry.metadata().map_err(io(&path))?.permissions().mode() & 0o111 != 0
            };
            #[cfg(not(unix))]
            let executable = false;
            let relative = path.strip_prefix(root).expect("below the root");
            let relative: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            files.insert(relative.join("/"), EmittedFile { bytes, executable });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str, executable: bool) -> EmittedFile {
        EmittedFile {
            bytes: text.as_bytes().to_vec(),
            executable,
        }
    }

    #[test]
    fn changes_are_added_updated_and_removed_by_path() {
        let mut old = BTreeMap::new();
        old.insert("a.sh".to_string(), file("a", true));
        old.insert("b.txt".to_string(), file("b", false));
        old.insert("c.txt".to_string(), file("c", false));
        old.insert("gone.txt".to_string(), file("x", false));
        let mut new = Emitted::default();
        new.files.insert("a.sh".into(), file("a", false));
        new.files.insert("b.txt".into(), file("b2", false));
        new.files.insert("c.txt".into(), file("c", false));
        new.files.insert("d/new.txt".into(), file("d", false));
        let changes = new.changes_from(&old);
        let changes: Vec<(&str, FileChangeKind)> =
            changes.iter().map(|c| (c.path.as_str(), c.kind)).collect();
        assert_eq!(
            changes,
            [
                ("a.sh", FileChangeKind::Updated),
                ("b.txt", FileChangeKind::Updated),
                ("d/new.txt", FileChangeKind::Added),
                ("gone.txt", FileChangeKind::Removed),
            ]
        );
    }

    #[test]
    fn reading_a_written_context_gives_back_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        assert!(read_emitted(&out).unwrap().is_empty());
        let mut emitted = Emitted::default();
        emitted
            .files
            .insert("run.sh".into(), file("#!/bin/sh\n", true));
        emitted.files.insert("x/y.txt".into(), file("y", false));
        emitted.write(&out).unwrap();
        assert!(
            emitted
                .changes_from(&read_emitted(&out).unwrap())
                .is_empty()
        );
    }
}
