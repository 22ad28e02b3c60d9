//! The sources file a test hands to `--sources` (README "Sources file"): which upstreams the
//! loopback world plays and which registries are served over plain http, built up and
//! written as one file, so a test says what it points where and no test spells TOML.

use std::path::{Path, PathBuf};

use super::project::Project;
use super::world::World;

/// `[upstream]` and `[registry]` entries, in the order they were added.
#[derive(Default)]
pub struct SourcesFile<'p> {
    project: Option<&'p Project>,
    upstream: Vec<(String, String)>,
    /// Registry host as image references name it → the base URL it is reached at.
    registries: Vec<(String, String)>,
}

impl<'p> SourcesFile<'p> {
    /// A sources file written with [`SourcesFile::text`] or [`SourcesFile::write_to`] (for
    /// tests that build a resolver context without a project).
    pub fn new() -> SourcesFile<'p> {
        SourcesFile::default()
    }

    /// One for `project`: [`SourcesFile::write`] puts it at its `sources.toml`.
    pub fn for_project(project: &'p Project) -> SourcesFile<'p> {
        SourcesFile {
            project: Some(project),
            ..SourcesFile::default()
        }
    }

    /// `name = "url"` under `[upstream]`.
    pub fn upstream(mut self, name: &str, url: impl Into<String>) -> Self {
        self.upstream.push((name.to_string(), url.into()));
        self
    }

    /// GitHub's API on `world` (its release fixtures).
    pub fn github_api(self, world: &World) -> Self {
        self.upstream("github-api", world.github_api())
    }

    /// Git repositories on `world` (its smart HTTP fixtures) as the `github` upstream.
    pub fn github_git(self, world: &World) -> Self {
        self.upstream("github", world.github_git())
    }

    /// What the tools installers fetch, all on `world`: GitHub's API and raw files
    /// (`/raw`) and the Node.js dist server (`/nodejs/dist`).
    pub fn tools(self, world: &World) -> Self {
        self.github_api(world)
            .upstream("github-raw", world.url("/raw"))
            .upstream("nodejs", world.url("/nodejs/dist"))
    }

    /// The npm registry at `world`'s root.
    pub fn npm(self, world: &World) -> Self {
        self.upstream("npm", world.base_url())
    }

    /// The conda channels under `world`'s `/conda`.
    pub fn conda(self, world: &World) -> Self {
        self.upstream("conda", format!("{}/conda", world.base_url()))
    }

    /// An OCI registry at `host` (`host:port`), spoken to over plain http.
    pub fn registry(self, host: impl Into<String>) -> Self {
        let host = host.into();
        let url = format!("http://{host}");
        self.registry_at(host, url)
    }

    /// `world` itself playing an OCI registry (its `/v2/` fixtures), over plain http.
    pub fn world_registry(self, world: &World) -> Self {
        self.registry(world.addr().to_string())
    }

    /// Image references naming `host` go to `url` instead (`"docker.io" = "http://…"`).
    pub fn registry_at(mut self, host: impl Into<String>, url: impl Into<String>) -> Self {
        self.registries.push((host.into(), url.into()));
        self
    }

    /// The file's TOML; strings go through the toml crate's quoting.
    pub fn text(&self) -> String {
        let quote = |text: &str| toml::Value::String(text.to_string()).to_string();
        let mut text = String::new();
        if !self.upstream.is_empty() {
            text.push_str("[upstream]\n");
            for (name, url) in &self.upstream {
                text.push_str(&format!("{name} = {}\n", quote(url)));
            }
        }
        if !self.registries.is_empty() {
            text.push_str("[registry]\n");
            for (host, url) in &self.registries {
                text.push_str(&format!("{} = {}\n", quote(host), quote(url)));
            }
        }
        text
    }

    /// Write the file at `path`.
    pub fn write_to(&self, path: &Path) -> PathBuf {
        std::fs::write(path, self.text()).unwrap();
        path.to_path_buf()
    }

    /// Write the project's `sources.toml` (what [`Project::lock`] passes to `--sources`).
    pub fn write(&self) -> PathBuf {
        let project = self
            .project
            .expect("SourcesFile::for_project (or Project::sources_file) to write into a project");
        project.write("sources.toml", &self.text())
    }
}
