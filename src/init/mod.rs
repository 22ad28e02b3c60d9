//! `modelbench init`: start a project as cargo and uv do. Writes a commented starter spec
//! (or one imported from a PeiDocker config), creates `lock/` and a `.gitignore` for the
//! build outputs, never replaces a file that exists, and prints the next two commands.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::Args;

use crate::spec::LoadedSpec;

/// The starter spec; `@NAME@` becomes the project's name.
const STARTER: &str = include_str!("starter.toml");
/// What `.gitignore` must hold: emitted build contexts are outputs, the lock is not.
const IGNORED: &str = "/build/";

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The project directory (made if missing) [default: the current directory].
    pub dir: Option<PathBuf>,
    /// The spec's name: specs/NAME.toml, lock/NAME/, build/NAME/ and the image name
    /// [default: the directory's name].
    #[arg(long)]
    pub name: Option<String>,
    /// Import a PeiDocker `user_config.yml` instead of writing the starter spec (as
    /// `modelbench import-pei` does; its custom scripts are read from `installation/`
    /// beside it).
    #[arg(long, value_name = "FILE")]
    pub from_pei: Option<PathBuf>,
}

pub fn run(args: InitArgs) -> Result<()> {
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let name = match &args.name {
        Some(name) => {
            check_name(name)?;
            name.clone()
        }
        None => name_from_dir(&dir)?,
    };
    let spec_relative = Path::new("specs").join(format!("{name}.toml"));
    // `specs/x.toml`, not `./specs/x.toml`, in messages when the project is here.
    let at = |relative: &Path| {
        if dir == Path::new(".") {
            relative.to_path_buf()
        } else {
            dir.join(relative)
        }
    };
    let spec_path = at(&spec_relative);
    if spec_path.exists() {
        bail!(
            "{} exists; `init` never replaces a file (lock it with `modelbench lock {}`, or pass another `--name`)",
            spec_path.display(),
            spec_relative.display()
        );
    }

    let (text, warnings) = match &args.from_pei {
        Some(config) => import_pei(config)?,
        None => (STARTER.replace("@NAME@", &name), Vec::new()),
    };
    // What is written must load: a starter that does not validate is a bug here, and
    // an imported one is refused as `import-pei` refuses it.
    LoadedSpec::from_str(&spec_path, &text).map_err(|err| match &args.from_pei {
        Some(config) => anyhow::anyhow!(
            "the spec imported from {} does not validate (a bug in import-pei, or a value modelbench cannot take):\n{err}",
            config.display()
        ),
        None => anyhow::anyhow!("the starter spec does not validate (a bug in modelbench):\n{err}"),
    })?;

    let lock_dir = at(Path::new("lock"));
    std::fs::create_dir_all(&lock_dir)
        .with_context(|| format!("cannot create {}", lock_dir.display()))?;
    std::fs::create_dir_all(spec_path.parent().expect("specs/NAME.toml has a parent"))
        .with_context(|| format!("cannot create {}", at(Path::new("specs")).display()))?;
    write_new(&spec_path, text.as_bytes())?;
    let gitignore = ignore_build_outputs(&at(Path::new(".gitignore")))?;

    for warning in &warnings {
        eprintln!("{warning}");
    }
    let created = match gitignore {
        Gitignore::Created => format!("{}, lock/, .gitignore", spec_relative.display()),
        Gitignore::Appended => format!(
            "{}, lock/ (and {IGNORED} in .gitignore)",
            spec_relative.display()
        ),
        Gitignore::Kept => format!("{}, lock/", spec_relative.display()),
    };
    eprintln!("{:>12} {created} in {}", "Created", dir.display());
    // The spec is named, so the commands work whatever else is under specs/.
    let cd = if dir == Path::new(".") {
        String::new()
    } else {
        format!("cd {} && ", dir.display())
    };
    println!("Next:");
    println!(
        "  {cd}modelbench lock {}    # pin every piece in lock/{name}/bench.lock",
        spec_relative.display()
    );
    println!(
        "  {cd}modelbench emit {}    # write the build context to build/{name}/",
        spec_relative.display()
    );
    Ok(())
}

/// A PeiDocker config through the `import-pei` importer: the spec and its warnings.
fn import_pei(config: &Path) -> Result<(String, Vec<String>)> {
    let text = std::fs::read_to_string(config)
        .with_context(|| format!("cannot read {}", config.display()))?;
    let installation = config
        .parent()
        .unwrap_or(Path::new(""))
        .join("installation");
    let imported = crate::import_pei::import(config, &text, &installation)?;
    let warnings = imported.warnings.iter().map(|w| w.to_string()).collect();
    Ok((imported.spec, warnings))
}

/// A name is a file stem, a directory name and an image repository name at once.
fn check_name(name: &str) -> Result<()> {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
    if !valid {
        bail!(
            "`--name {name}`: use lowercase letters, digits, `-`, `_` and `.`, starting with a letter or digit (it names the spec file and the image)"
        );
    }
    Ok(())
}

/// The directory's own name, lowercased, anything else turned into `-`.
fn name_from_dir(dir: &Path) -> Result<String> {
    let absolute =
        std::path::absolute(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    let base = absolute
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .next_back()
        .unwrap_or_default();
    let name: String = base
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_start_matches(['-', '_', '.']).to_string();
    if check_name(&name).is_err() {
        bail!(
            "cannot make a spec name from the directory `{}`; pass `--name NAME`",
            dir.display()
        );
    }
    Ok(name)
}

/// Write `path`, which must not exist (checked by the file system, not before).
fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| match path.exists() {
            true => format!("{} exists; `init` never replaces a file", path.display()),
            false => format!("cannot create {}", path.display()),
        })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

enum Gitignore {
    Created,
    Appended,
    Kept,
}

/// A new `.gitignore` naming the build outputs, or that line added to an existing one
/// (its lines are kept as they are, as `cargo init` does).
fn ignore_build_outputs(path: &Path) -> Result<Gitignore> {
    match std::fs::read_to_string(path) {
        Ok(existing) => {
            if existing
                .lines()
                .any(|line| matches!(line.trim(), "/build/" | "build/" | "/build" | "build"))
            {
                return Ok(Gitignore::Kept);
            }
            let separator = if existing.is_empty() || existing.ends_with('\n') {
                ""
            } else {
                "\n"
            };
            let text = format!(
                "{existing}{separator}# build contexts written by `modelbench emit`\n{IGNORED}\n"
            );
            crate::lock::write_atomic(path, text.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(Gitignore::Appended)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            write_new(
                path,
                format!("# build contexts written by `modelbench emit`\n{IGNORED}\n").as_bytes(),
            )?;
            Ok(Gitignore::Created)
        }
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_spec_parses_and_validates_with_every_line_explained() {
        let text = STARTER.replace("@NAME@", "demo");
        let loaded = LoadedSpec::from_str(Path::new("specs/demo.toml"), &text)
            .unwrap_or_else(|err| panic!("the starter spec does not load:\n{err}"));
        assert_eq!(loaded.spec.image.name, "demo");
        assert_eq!(loaded.spec.users.len(), 1);
        assert_eq!(loaded.spec.stage_1.apt.len(), 3);
        assert!(loaded.spec.stage_1.tools.contains_key("uv"));
        // Every line that sets something says what it is for (a comment on the line or
        // the line itself a comment); blank lines and list items with comments aside.
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                line.contains('#') || line.trim() == "]",
                "a line without a comment: {line:?}"
            );
        }
    }

    /// Uncommenting the optional parts (all of them at once) still gives a valid spec, so
    /// what the starter suggests works; the one alternative (`# image = … instead`) replaces
    /// a line and is left out.
    #[test]
    fn the_starter_spec_with_every_optional_part_uncommented_validates() {
        let is_setting = |text: &str| {
            text.starts_with('[')
                || text.split_once(" = ").is_some_and(|(key, _)| {
                    key.chars()
                        .all(|c| c.is_ascii_lowercase() || "-._".contains(c))
                })
        };
        let mut uncommented = 0;
        let text: String = STARTER
            .replace("@NAME@", "demo")
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest) if is_setting(rest) && !rest.contains("instead") => {
                    uncommented += 1;
                    format!("{rest}\n")
                }
                _ => format!("{line}\n"),
            })
            .collect();
        assert!(
            uncommented >= 15,
            "only {uncommented} lines uncommented:\n{text}"
        );
        let loaded = LoadedSpec::from_str(Path::new("specs/demo.toml"), &text)
            .unwrap_or_else(|err| panic!("{err}\n{text}"));
        assert!(loaded.spec.image.gpu && loaded.spec.ssh.is_some() && loaded.spec.proxy.is_some());
        assert_eq!(loaded.spec.stage_2.pixi_global.len(), 1);
    }

    #[test]
    fn names_come_from_the_directory_or_are_checked() {
        assert_eq!(
            name_from_dir(Path::new("/tmp/My Bench")).unwrap(),
            "my-bench"
        );
        assert!(check_name("gpu-box_2.0").is_ok());
        for bad in ["", "Upper", "-lead", "a/b", "a b"] {
            assert!(check_name(bad).is_err(), "{bad:?} accepted");
        }
    }
}
