//! One environment's solve, free of I/O: the records a channel offers, one tool's match
//! spec and the target's virtual packages in; the records pixi would install out. The
//! solver is rattler's resolvo backend, the one pixi itself uses, with pixi's defaults:
//! highest versions first, strict channel priority.

use std::str::FromStr;

use rattler_conda_types::{
    GenericVirtualPackage, MatchSpec, PackageName, ParseStrictness, RepoDataRecord, Version,
    package::BuildString,
};
use rattler_solve::{SolveError, SolveStrategy, SolverImpl, SolverTask};

/// The virtual packages pixi detects on the image being built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `__glibc` (Ubuntu 24.04: 2.39); `None` on a base without glibc.
    pub glibc: Option<String>,
    /// `__linux`: the kernel is the build host's, unknown at lock time; pixi's default
    /// minimum system requirement (4.18) stands in for it.
    pub linux: String,
    /// `__archspec` build string (`x86_64`, `aarch64`).
    pub archspec: String,
}

impl Target {
    pub fn virtual_packages(&self) -> Result<Vec<GenericVirtualPackage>, String> {
        let package = |name: &str, version: &str, build: &str| {
            Ok::<_, String>(GenericVirtualPackage {
                name: PackageName::from_str(name).map_err(|err| err.to_string())?,
                version: Version::from_str(version)
                    .map_err(|err| format!("virtual package {name} {version}: {err}"))?,
                build_string: BuildString::new_unchecked(build),
            })
        };
        let mut packages = vec![package("__archspec", "1", &self.archspec)?];
        if let Some(glibc) = &self.glibc {
            packages.push(package("__glibc", glibc, "0")?);
        }
        packages.push(package("__linux", &self.linux, "0")?);
        packages.push(package("__unix", "0", "0")?);
        Ok(packages)
    }
}

/// Parse a spec entry the way `pixi global install` takes it (lenient, as conda does).
///
/// rattler's lenient parser accepts a few entries conda rejects or reads differently; they
/// are refused here, so an entry never means one thing to conda and another to pixi:
/// package names conda rejects (`.pkg`, `pkg--name`), version patterns with a `*` inside a
/// version (`*.7.*`: conda matches it as a glob, rattler fails on it or silently reads
/// part of it as a build string) and `~=` with `.*` (conda rejects it, rattler drops the
/// `.*`). The conda peer vectors (`tests/it/peer_conda_version.rs`) check this.
pub fn parse_spec(text: &str) -> Result<MatchSpec, String> {
    // Checked before rattler sees the entry: rattler compiles a `^…$` name or build as a
    // regular expression (fancy-regex, with backreferences and recursion), and a 43-byte
    // entry found by fuzzing took more than 2 GiB to compile. conda has no `^` elsewhere.
    if text.contains('^') {
        return Err(format!(
            "`{text}`: regular expressions (`^…$`) are not accepted in a pixi-global entry; name the package, its versions and build"
        ));
    }
    let spec = MatchSpec::from_str(text, ParseStrictness::Lenient)
        .map_err(|err| format!("`{text}` is not a conda match spec: {err}"))?;
    let Some(name) = spec.name.as_exact() else {
        return Err(format!(
            "`{text}` does not name one package (pixi global makes one environment per package)"
        ));
    };
    check_name(name.as_source()).map_err(|why| format!("`{text}`: {why}"))?;
    for constraint in version_constraints(text) {
        check_constraint(&constraint).map_err(|why| format!("`{text}`: {why}"))?;
    }
    Ok(spec)
}

/// conda's package-name rule beyond rattler's character set: a name starts with a letter,
/// digit or `_`, and has no two `.`/`-` in a row.
fn check_name(name: &str) -> Result<(), String> {
    let separator = |c: char| c == '.' || c == '-';
    let starts_badly = name.starts_with(separator);
    let doubled = name
        .chars()
        .zip(name.chars().skip(1))
        .any(|(a, b)| separator(a) && separator(b));
    if starts_badly || doubled {
        return Err(format!(
            "`{name}` is not a conda package name (it may not start with `.` or `-`, nor have two of them in a row)"
        ));
    }
    Ok(())
}

/// One version constraint as conda reads it (`>=1.5`, `1.7.*`, `*.7.*`).
fn check_constraint(constraint: &str) -> Result<(), String> {
    let body = constraint.trim_start_matches(['<', '>', '=', '!', '~']);
    let operator = &constraint[..constraint.len() - body.len()];
    if operator == "~=" && body.ends_with('*') {
        return Err(format!(
            "`{constraint}`: conda rejects `~=` with `*` (pixi would drop the `*`)"
        ));
    }
    let core = body
        .strip_suffix(".*")
        .or_else(|| body.strip_suffix('*'))
        .unwrap_or(body);
    if core.contains('*') {
        return Err(format!(
            "`{constraint}`: a `*` inside a version is a pattern conda matches as a glob, which pixi does not read the same way; write the versions out (`1.7.*`, `>=1,<2`)"
        ));
    }
    Ok(())
}

/// The version constraints of a spec entry, split where conda splits them: the version
/// part of `name version build` (conda's rule: the build is the last part after a space
/// or `=` that follows no operator and holds none of `-=,|<>~`) and any `version=` in
/// brackets, cut at `,` and `|`.
fn version_constraints(text: &str) -> Vec<String> {
    let mut rest = text.trim();
    let mut versions: Vec<String> = Vec::new();
    if let Some(open) = rest.find('[') {
        versions.extend(bracket_value(&rest[open + 1..], "version"));
        rest = &rest[..open];
    }
    if let Some((_, after)) = rest.split_once("::") {
        rest = after;
    }
    let name_end = rest
        .find([' ', '=', '<', '>', '!', '~'])
        .unwrap_or(rest.len());
    let rest = rest[name_end..].trim();
    if !rest.is_empty() {
        let bytes = rest.as_bytes();
        let split = (1..bytes.len()).find(|&i| {
            matches!(bytes[i], b' ' | b'=')
                && !b"=!|,<>~".contains(&bytes[i - 1])
                && i + 1 < bytes.len()
                && !rest[i + 1..].contains(['-', '=', ',', '|', '<', '>', '~'])
        });
        versions.push(split.map_or(rest, |i| &rest[..i]).to_string());
    }
    versions
        .iter()
        .flat_map(|v| v.split([',', '|']))
        .map(|c| c.trim().trim_matches(['(', ')']).trim().to_string())
        .filter(|c| !c.is_empty())
        .collect()
}

/// The value of `key` in a bracket section (`version='1.7|1.8', build=py*]`).
fn bracket_value(brackets: &str, key: &str) -> Option<String> {
    let mut rest = brackets;
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        let (field, after) = rest.split_once('=')?;
        let (value, after) = match after.chars().next() {
            Some(quote @ ('\'' | '"')) => {
                let inner = &after[1..];
                let end = inner.find(quote)?;
                (&inner[..end], &inner[end + 1..])
            }
            _ => {
                let end = after.find([',', ' ', ']']).unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        if field.trim() == key {
            return Some(value.to_string());
        }
        if after.trim_start().starts_with(']') || after.is_empty() {
            return None;
        }
        rest = after;
    }
}

/// Solve one environment. An unsolvable spec gives resolvo's explanation of the conflict.
pub fn solve(
    records: &[RepoDataRecord],
    spec: &MatchSpec,
    target: &Target,
) -> Result<Vec<RepoDataRecord>, String> {
    let task = SolverTask {
        specs: vec![spec.clone()],
        virtual_packages: target.virtual_packages()?,
        strategy: SolveStrategy::Highest,
        ..SolverTask::from_iter([records])
    };
    let mut solved = rattler_solve::resolvo::Solver
        .solve(task)
        .map_err(|err| match err {
            SolveError::Unsolvable(explanations) => explanations.join("\n"),
            other => other.to_string(),
        })?
        .records;
    solved.sort_by(|a, b| {
        a.package_record
            .name
            .as_normalized()
            .cmp(b.package_record.name.as_normalized())
    });
    Ok(solved)
}

#[cfg(test)]
mod tests {
    use super::{parse_spec, version_constraints};

    #[test]
    fn version_constraints_are_split_where_conda_splits_them() {
        let cases: [(&str, &[&str]); 9] = [
            ("jq", &[]),
            ("numpy 1.7.1 py27_0", &["1.7.1"]),
            ("numpy=1.7=py3*_2", &["=1.7"]),
            ("numpy >=1,*.7.*", &[">=1", "*.7.*"]),
            ("numpy *.7.*,>=1", &["*.7.*", ">=1"]),
            ("blas * openblas_0", &["*"]),
            (
                "conda-forge::yq >=4|(3.1.*, !=3.1.2)",
                &[">=4", "3.1.*", "!=3.1.2"],
            ),
            ("numpy[version='1.7|1.8', build=py*]", &["1.7", "1.8"]),
            ("numpy[build_number='>=7' version=1.10]", &["1.10"]),
        ];
        for (spec, want) in cases {
            assert_eq!(version_constraints(spec), want, "{spec}");
        }
    }

    #[test]
    fn entries_conda_reads_differently_are_refused() {
        for ok in [
            "jq",
            "yq >=4",
            "numpy=1.7=py3*_2",
            "_openmp_mutex",
            "my.package",
            "__glibc",
        ] {
            parse_spec(ok).unwrap();
        }
        for (bad, why) in [
            ("pkg..name", "not a conda package name"),
            ("-pkg", "not a conda package name"),
            ("numpy >=1,*.7.*", "inside a version"),
            ("numpy *.7.*,>=1", "inside a version"),
            (
                "numpy[version='1.*.1']",
                "regex constraints are not supported",
            ),
            ("numpy ~=3.3.2.*", "`~=` with `*`"),
            ("^jq$", "regular expressions"),
            ("jq 1.7.1 ^h.*$", "regular expressions"),
            ("*", "only exact package names"),
        ] {
            let err = parse_spec(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
