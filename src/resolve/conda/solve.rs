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
pub fn parse_spec(text: &str) -> Result<MatchSpec, String> {
    let spec = MatchSpec::from_str(text, ParseStrictness::Lenient)
        .map_err(|err| format!("`{text}` is not a conda match spec: {err}"))?;
    if spec.name.as_exact().is_none() {
        return Err(format!(
            "`{text}` does not name one package (pixi global makes one environment per package)"
        ));
    }
    Ok(spec)
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
