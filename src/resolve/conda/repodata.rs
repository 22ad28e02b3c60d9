//! A conda channel's `repodata.json` read sparsely: every record stays raw JSON, grouped by
//! package name, and only the records reachable from the specs are parsed (as rattler's
//! sparse repodata does), so a conda-forge index of several hundred MB costs one scan,
//! not a million parsed records.
//!
//! Records come from both `packages` (`.tar.bz2`) and `packages.conda`. When one build is
//! published in both formats, the `.conda` file is kept and the `.tar.bz2` dropped, as
//! pixi's gateway does.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rattler_conda_types::package::DistArchiveIdentifier;
use rattler_conda_types::{PackageRecord, RepoDataRecord};
use serde::Deserialize;
use serde_json::value::RawValue;

/// One fetched `repodata.json`: the subdir it is for, the channel base URL its package
/// URLs are relative to, and its bytes.
pub struct Subdir {
    pub subdir: String,
    /// `https://conda.anaconda.org/conda-forge` (no trailing slash).
    pub channel: String,
    /// Where the index came from, for messages.
    pub url: String,
    pub body: Vec<u8>,
}

#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(borrow, default)]
    packages: HashMap<&'a str, &'a RawValue>,
    #[serde(borrow, default, rename = "packages.conda")]
    conda_packages: HashMap<&'a str, &'a RawValue>,
}

/// `name` of a conda file name `name-version-build.ext`.
fn name_of(file: &str) -> Option<&str> {
    let stem = file
        .strip_suffix(".conda")
        .or_else(|| file.strip_suffix(".tar.bz2"))?;
    let mut parts = stem.rsplitn(3, '-');
    let (_build, _version, name) = (parts.next()?, parts.next()?, parts.next()?);
    Some(name)
}

/// The package name a dependency string (`libgcc >=14`, `python_abi 3.12.* *_cp312`)
/// refers to.
pub fn dependency_name(spec: &str) -> &str {
    spec.trim()
        .split(|c: char| c.is_whitespace() || "=<>!~[;".contains(c))
        .next()
        .unwrap_or_default()
}

/// The records of `names` and of everything their `depends` reach, from every subdir,
/// sorted by (name, subdir, file name) so the solver sees the same input every run.
pub fn reachable(subdirs: &[&Subdir], names: &[String]) -> Result<Vec<RepoDataRecord>, String> {
    let mut by_name: BTreeMap<&str, Vec<(usize, &str, &RawValue)>> = BTreeMap::new();
    let parsed: Vec<Raw<'_>> = subdirs
        .iter()
        .map(|s| {
            serde_json::from_slice::<Raw<'_>>(&s.body)
                .map_err(|err| format!("{} is not valid repodata: {err}", s.url))
        })
        .collect::<Result<_, _>>()?;
    for (index, raw) in parsed.iter().enumerate() {
        for (file, record) in &raw.conda_packages {
            if let Some(name) = name_of(file) {
                by_name.entry(name).or_default().push((index, file, record));
            }
        }
        for (file, record) in &raw.packages {
            let conda = format!("{}.conda", file.trim_end_matches(".tar.bz2"));
            if raw.conda_packages.contains_key(conda.as_str()) {
                continue;
            }
            if let Some(name) = name_of(file) {
                by_name.entry(name).or_default().push((index, file, record));
            }
        }
    }

    let mut records = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut todo: Vec<String> = names.to_vec();
    while let Some(name) = todo.pop() {
        if name.starts_with("__") || !seen.insert(name.clone()) {
            continue;
        }
        let Some(entries) = by_name.get(name.as_str()) else {
            continue;
        };
        for (index, file, raw) in entries {
            let source = &subdirs[*index];
            let record: PackageRecord = serde_json::from_str(raw.get())
                .map_err(|err| format!("record `{file}` in {} is not valid: {err}", source.url))?;
            for dependency in &record.depends {
                let dependency = dependency_name(dependency);
                if !seen.contains(dependency) {
                    todo.push(dependency.to_string());
                }
            }
            let identifier = DistArchiveIdentifier::try_from_filename(file)
                .ok_or_else(|| format!("`{file}` in {} is not a conda file name", source.url))?;
            let url = url::Url::parse(&format!("{}/{}/{file}", source.channel, source.subdir))
                .map_err(|err| format!("bad package URL for `{file}`: {err}"))?;
            records.push(RepoDataRecord {
                package_record: record,
                identifier,
                url,
                channel: Some(source.channel.clone()),
            });
        }
    }
    records.sort_by(|a, b| {
        (
            a.package_record.name.as_normalized(),
            &a.package_record.subdir,
            a.identifier.to_file_name(),
        )
            .cmp(&(
                b.package_record.name.as_normalized(),
                &b.package_record.subdir,
                b.identifier.to_file_name(),
            ))
    });
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_file_names_and_dependency_strings() {
        assert_eq!(name_of("libgcc-15.2.0-he0feb66_20.conda"), Some("libgcc"));
        assert_eq!(
            name_of("_openmp_mutex-4.5-2_gnu.tar.bz2"),
            Some("_openmp_mutex")
        );
        assert_eq!(
            name_of("python-dateutil-2.9.0-pyhd8ed1ab_0.conda"),
            Some("python-dateutil")
        );
        assert_eq!(name_of("README.md"), None);
        assert_eq!(dependency_name("__glibc >=2.17,<3.0.a0"), "__glibc");
        assert_eq!(dependency_name("python_abi 3.12.* *_cp312"), "python_abi");
        assert_eq!(dependency_name("libgcc>=14"), "libgcc");
        assert_eq!(dependency_name("jq"), "jq");
    }

    fn subdir(subdir: &str, body: &str) -> Subdir {
        Subdir {
            subdir: subdir.into(),
            channel: "https://conda.example/conda-forge".into(),
            url: format!("https://conda.example/conda-forge/{subdir}/repodata.json"),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn only_reachable_records_and_conda_beats_tar_bz2() {
        let record = |name: &str, version: &str, build: &str, depends: &str| {
            format!(
                r#"{{"name":"{name}","version":"{version}","build":"{build}","build_number":0,"depends":[{depends}],"subdir":"linux-64","sha256":"{}"}}"#,
                "ab".repeat(32)
            )
        };
        let body = format!(
            r#"{{"info":{{"subdir":"linux-64"}},"packages":{{"a-1-h_0.tar.bz2":{},"b-1-h_0.tar.bz2":{},"c-1-h_0.tar.bz2":{}}},"packages.conda":{{"a-1-h_0.conda":{}}}}}"#,
            record("a", "1", "h_0", r#""b >=1", "__glibc >=2.17""#),
            record("b", "1", "h_0", ""),
            record("c", "1", "h_0", ""),
            record("a", "1", "h_0", r#""b >=1", "__glibc >=2.17""#),
        );
        let records = reachable(&[&subdir("linux-64", &body)], &["a".into()]).unwrap();
        let files: Vec<String> = records
            .iter()
            .map(|r| r.identifier.to_file_name())
            .collect();
        assert_eq!(files, ["a-1-h_0.conda", "b-1-h_0.tar.bz2"]);
        assert_eq!(
            records[0].url.as_str(),
            "https://conda.example/conda-forge/linux-64/a-1-h_0.conda"
        );
    }
}
