//! A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1, plus
//! helpers that push blobs, image manifests and multi-platform indexes through its HTTP API.
//!
//! One instance serves the whole test binary ([`shared`]); tests keep apart by repository name.
//! A `static` is never dropped, so the registry runs under a small `sh` wrapper that waits for its
//! stdin to close — which happens when this process exits, however it exits — and then stops the
//! registry and removes its storage.

#![allow(dead_code)]

use std::fs;
use std::net::TcpListener;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;

use super::http::{self, HttpResponse};
use super::sha256_hex;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const IN_TOTO: &str = "application/vnd.in-toto+json";
/// All four manifest types, as a resolver should send them (`sources.md` §7).
pub const ACCEPT_ALL: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// Which family of media types an image or index uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexKind {
    /// OCI image index of OCI image manifests.
    Oci,
    /// Docker manifest list of Docker schema 2 manifests.
    DockerList,
}

impl IndexKind {
    pub fn index_media_type(self) -> &'static str {
        match self {
            IndexKind::Oci => OCI_INDEX,
            IndexKind::DockerList => DOCKER_LIST,
        }
    }

    pub fn manifest_media_type(self) -> &'static str {
        match self {
            IndexKind::Oci => OCI_MANIFEST,
            IndexKind::DockerList => DOCKER_MANIFEST,
        }
    }

    fn config_media_type(self) -> &'static str {
        match self {
            IndexKind::Oci => OCI_CONFIG,
            IndexKind::DockerList => DOCKER_CONFIG,
        }
    }

    fn layer_media_type(self) -> &'static str {
        match self {
            IndexKind::Oci => OCI_LAYER_GZIP,
            IndexKind::DockerList => DOCKER_LAYER_GZIP,
        }
    }
}

/// A pushed single-platform image.
#[derive(Clone, Debug)]
pub struct PushedImage {
    pub digest: String,
    pub media_type: &'static str,
    pub size: usize,
    pub config_digest: String,
    pub layer_digest: String,
}

/// A pushed index (or manifest list).
#[derive(Clone, Debug)]
pub struct PushedIndex {
    pub index_digest: String,
    pub media_type: &'static str,
    /// (`"linux/amd64"`, manifest digest) for each real platform, in index order.
    pub manifests: Vec<(String, String)>,
    /// Digests of attestation manifests (platform `unknown/unknown`), if any were added.
    pub attestations: Vec<String>,
}

impl PushedIndex {
    /// The manifest digest for `platform` (`"linux/arm64"`); panics if absent.
    pub fn digest_for(&self, platform: &str) -> &str {
        self.manifests
            .iter()
            .find(|(p, _)| p == platform)
            .map(|(_, d)| d.as_str())
            .unwrap_or_else(|| panic!("no `{platform}` in pushed index {self:?}"))
    }
}

/// What to put in an index.
#[derive(Clone, Copy, Debug)]
pub struct IndexSpec<'a> {
    pub kind: IndexKind,
    /// `os/arch`, e.g. `linux/amd64`; `linux/arm64` is written with variant `v8`, as Docker Hub does.
    pub platforms: &'a [&'a str],
    /// Add a buildkit-style attestation manifest per platform (platform `unknown/unknown`).
    pub attestations: bool,
    /// Mixed into every layer so a re-push under the same tag yields new digests.
    pub salt: &'a str,
}

/// The process-wide registry, started on first use; `None` (after a loud skip note) when
/// `docker-registry` is not installed in a local run. In CI its absence fails the test.
pub fn shared() -> Option<&'static Registry> {
    if !super::tools::require(&[&super::tools::DOCKER_REGISTRY]) {
        return None;
    }
    Some(shared_required())
}

/// [`shared`] for the setup helpers most tests share: without `docker-registry` they fail
/// with a message naming the package, locally too (nearly every integration test needs it).
pub fn shared_required() -> &'static Registry {
    assert!(
        super::tools::usable(&super::tools::DOCKER_REGISTRY),
        "docker-registry is not installed (`apt-get install docker-registry`); \
         the integration tests serve base images from it"
    );
    static SHARED: OnceLock<Registry> = OnceLock::new();
    SHARED.get_or_init(Registry::start)
}

/// A running `docker-registry`. Dropping it stops the registry and removes its storage.
pub struct Registry {
    port: u16,
    /// Closing this tells the wrapper to stop the registry.
    stdin: Option<ChildStdin>,
    wrapper: Child,
}

impl Registry {
    /// Start a fresh registry on a free port (retried: the port is free when picked, not reserved).
    pub fn start() -> Registry {
        let mut last_error = String::new();
        for _ in 0..3 {
            match Registry::try_start() {
                Ok(registry) => return registry,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start docker-registry: {last_error}");
    }

    fn try_start() -> Result<Registry, String> {
        let dir = tempfile::Builder::new()
            .prefix("modelbench-registry-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?
            .keep();
        let port = free_port();
        let config = dir.join("config.yml");
        let storage = dir.join("data");
        let log = dir.join("registry.log");
        fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: 127.0.0.1:{port}\n",
                storage.display()
            ),
        )
        .map_err(|e| format!("write {}: {e}", config.display()))?;

        // The wrapper outlives nothing: when our end of its stdin closes (drop, or process exit),
        // `cat` returns and the registry is stopped and its directory removed.
        let script = r#"docker-registry serve "$1" </dev/null >"$2/registry.log" 2>&1 &
pid=$!
cat >/dev/null
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
rm -rf "$2""#;
        let mut wrapper = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("modelbench-test-registry")
            .arg(&config)
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawn sh for docker-registry: {e}"))?;
        let stdin = wrapper.stdin.take();
        let mut registry = Registry {
            port,
            stdin,
            wrapper,
        };

        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Ok(response) = http::get(&registry.url("/v2/"))
                && response.status == 200
            {
                return Ok(registry);
            }
            let log_text = fs::read_to_string(&log).unwrap_or_default();
            let exited = registry.wrapper.try_wait().ok().flatten().is_some();
            let registry_died = !log_text.trim().is_empty() && !process_listening(port);
            if exited || Instant::now() > deadline || registry_died {
                drop(registry);
                return Err(format!(
                    "docker-registry on port {port} did not answer GET /v2/ (is the `docker-registry` package installed?); log: {log_text}"
                ));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// `127.0.0.1:PORT`
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT<path>`
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.host())
    }

    /// `host/repo:tag` (or `host/repo@digest` when `reference` is a digest).
    pub fn reference(&self, repo: &str, reference: &str) -> String {
        if reference.contains(':') {
            format!("{}/{repo}@{reference}", self.host())
        } else {
            format!("{}/{repo}:{reference}", self.host())
        }
    }

    /// Upload a blob (monolithic POST + PUT) unless present; returns `sha256:<hex>`.
    pub fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = format!("sha256:{}", sha256_hex(bytes));
        let existing = self.call("HEAD", &format!("/v2/{repo}/blobs/{digest}"), &[], &[]);
        if existing.status == 200 {
            return digest;
        }
        let started = self.call("POST", &format!("/v2/{repo}/blobs/uploads/"), &[], &[]);
        assert_eq!(
            started.status,
            202,
            "start blob upload to `{repo}`: {}",
            started.text()
        );
        let location = started
            .header("location")
            .expect("upload Location header")
            .to_string();
        let location = match location.strip_prefix("http://") {
            Some(rest) => rest[rest.find('/').unwrap_or(rest.len())..].to_string(),
            None => location,
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let put_path = format!("{location}{separator}digest={}", digest.replace(':', "%3A"));
        let done = self.call(
            "PUT",
            &put_path,
            &[("Content-Type", "application/octet-stream")],
            bytes,
        );
        assert_eq!(done.status, 201, "finish blob upload: {}", done.text());
        assert_eq!(done.header("docker-content-digest"), Some(digest.as_str()));
        digest
    }

    /// PUT a manifest under `reference` (a tag or a digest); returns its digest, checked against
    /// the registry's `Docker-Content-Digest`.
    pub fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> String {
        let digest = format!("sha256:{}", sha256_hex(bytes));
        let response = self.call(
            "PUT",
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("Content-Type", media_type)],
            bytes,
        );
        assert_eq!(
            response.status,
            201,
            "push manifest `{repo}:{reference}` ({media_type}): {}\n{}",
            response.text(),
            String::from_utf8_lossy(bytes)
        );
        assert_eq!(
            response.header("docker-content-digest"),
            Some(digest.as_str()),
            "registry digest for `{repo}:{reference}`"
        );
        digest
    }

    /// GET a manifest with this `Accept`.
    pub fn get_manifest(&self, repo: &str, reference: &str, accept: &str) -> HttpResponse {
        self.call(
            "GET",
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("Accept", accept)],
            &[],
        )
    }

    /// GET a blob's bytes (config or layer).
    pub fn get_blob(&self, repo: &str, digest: &str) -> Vec<u8> {
        let response = self.call("GET", &format!("/v2/{repo}/blobs/{digest}"), &[], &[]);
        assert_eq!(response.status, 200, "blob {digest} of {repo}");
        response.body
    }

    /// HEAD a manifest with this `Accept`.
    pub fn head_manifest(&self, repo: &str, reference: &str, accept: &str) -> HttpResponse {
        self.call(
            "HEAD",
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("Accept", accept)],
            &[],
        )
    }

    /// Push a minimal, pullable single-platform image (config + one gzip layer holding
    /// `/etc/modelbench-platform`) by digest, and also under `reference` unless that is a digest.
    pub fn push_image(
        &self,
        repo: &str,
        reference: Option<&str>,
        kind: IndexKind,
        platform: &str,
        salt: &str,
    ) -> PushedImage {
        self.push_image_with_file(
            repo,
            reference,
            kind,
            platform,
            "etc/modelbench-platform",
            format!("{platform} {salt}\n").as_bytes(),
        )
    }

    /// One image whose single layer holds one file (`var/lib/dpkg/status`, …).
    pub fn push_image_with_file(
        &self,
        repo: &str,
        reference: Option<&str>,
        kind: IndexKind,
        platform: &str,
        path: &str,
        contents: &[u8],
    ) -> PushedImage {
        let (os, arch, variant) = split_platform(platform);
        let tar = tar_one_file(path, contents);
        let layer = gzip_stored(&tar);
        let layer_digest = self.push_blob(repo, &layer);
        let mut config = json!({
            "architecture": arch,
            "os": os,
            "created": "1970-01-01T00:00:00Z",
            "config": {
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                "Cmd": ["/bin/sh"],
            },
            "rootfs": {
                "type": "layers",
                "diff_ids": [format!("sha256:{}", sha256_hex(&tar))],
            },
            "history": [{ "created": "1970-01-01T00:00:00Z", "created_by": "modelbench test fixture" }],
        });
        if let Some(variant) = variant {
            config["variant"] = json!(variant);
        }
        let config = serde_json::to_vec(&config).expect("config JSON");
        let config_digest = self.push_blob(repo, &config);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": kind.manifest_media_type(),
            "config": {
                "mediaType": kind.config_media_type(),
                "digest": config_digest,
                "size": config.len(),
            },
            "layers": [{
                "mediaType": kind.layer_media_type(),
                "digest": layer_digest,
                "size": layer.len(),
            }],
        });
        let manifest = serde_json::to_vec(&manifest).expect("manifest JSON");
        let digest = format!("sha256:{}", sha256_hex(&manifest));
        self.push_manifest(repo, &digest, kind.manifest_media_type(), &manifest);
        if let Some(tag) = reference.filter(|r| !r.contains(':')) {
            self.push_manifest(repo, tag, kind.manifest_media_type(), &manifest);
        }
        PushedImage {
            digest,
            media_type: kind.manifest_media_type(),
            size: manifest.len(),
            config_digest,
            layer_digest,
        }
    }

    /// A single-platform (`linux/amd64`, Docker schema 2) image under `tag`; returns its digest.
    pub fn push_single_manifest(&self, repo: &str, tag: &str) -> String {
        self.push_image(repo, Some(tag), IndexKind::DockerList, "linux/amd64", "")
            .digest
    }

    /// `linux/amd64` + `linux/arm64` under `tag`.
    pub fn push_two_platform_index(&self, repo: &str, tag: &str, kind: IndexKind) -> PushedIndex {
        self.push_index(
            repo,
            tag,
            &IndexSpec {
                kind,
                platforms: &["linux/amd64", "linux/arm64"],
                attestations: false,
                salt: "",
            },
        )
    }

    /// The base most test specs start from: a two-platform OCI index pushed as `repo:1`;
    /// returns its reference (`host/repo:1`).
    pub fn push_base(&self, repo: &str) -> String {
        self.push_two_platform_index(repo, "1", IndexKind::Oci);
        self.reference(repo, "1")
    }

    /// `linux/amd64` + `linux/arm64` plus buildkit-style attestation manifests (`unknown/unknown`),
    /// in an OCI index as buildkit writes it.
    pub fn push_two_platform_index_with_attestations(&self, repo: &str, tag: &str) -> PushedIndex {
        self.push_index(
            repo,
            tag,
            &IndexSpec {
                kind: IndexKind::Oci,
                platforms: &["linux/amd64", "linux/arm64"],
                attestations: true,
                salt: "",
            },
        )
    }

    /// Push one image per platform (by digest), then the index under `tag`.
    pub fn push_index(&self, repo: &str, tag: &str, spec: &IndexSpec<'_>) -> PushedIndex {
        let mut entries = Vec::new();
        let mut manifests = Vec::new();
        let mut attestations = Vec::new();
        for platform in spec.platforms {
            let image = self.push_image(repo, None, spec.kind, platform, spec.salt);
            let (os, arch, variant) = split_platform(platform);
            let mut platform_json = json!({ "architecture": arch, "os": os });
            if let Some(variant) = variant {
                platform_json["variant"] = json!(variant);
            }
            entries.push(json!({
                "mediaType": image.media_type,
                "digest": image.digest,
                "size": image.size,
                "platform": platform_json,
            }));
            manifests.push((format!("{os}/{arch}"), image.digest.clone()));
            if spec.attestations {
                let (digest, size) = self.push_attestation(repo, &image.digest, spec.salt);
                entries.push(json!({
                    "mediaType": OCI_MANIFEST,
                    "digest": digest,
                    "size": size,
                    "annotations": {
                        "vnd.docker.reference.digest": image.digest,
                        "vnd.docker.reference.type": "attestation-manifest",
                    },
                    "platform": { "architecture": "unknown", "os": "unknown" },
                }));
                attestations.push(digest);
            }
        }
        let index = json!({
            "schemaVersion": 2,
            "mediaType": spec.kind.index_media_type(),
            "manifests": entries,
        });
        let index = serde_json::to_vec(&index).expect("index JSON");
        let index_digest = self.push_manifest(repo, tag, spec.kind.index_media_type(), &index);
        PushedIndex {
            index_digest,
            media_type: spec.kind.index_media_type(),
            manifests,
            attestations,
        }
    }

    /// An attestation manifest the way buildkit writes one: an OCI image manifest whose layer is an
    /// in-toto statement about `subject`. Returns (digest, size).
    fn push_attestation(&self, repo: &str, subject: &str, salt: &str) -> (String, usize) {
        let statement = json!({
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": "https://slsa.dev/provenance/v0.2",
            "subject": [{ "name": "_", "digest": { "sha256": subject.trim_start_matches("sha256:") } }],
            "predicate": { "builder": { "id": format!("modelbench-test {salt}") } },
        });
        let statement = serde_json::to_vec(&statement).expect("statement JSON");
        let layer_digest = self.push_blob(repo, &statement);
        let config = serde_json::to_vec(&json!({
            "architecture": "unknown",
            "os": "unknown",
            "config": {},
            "rootfs": { "type": "layers", "diff_ids": [layer_digest] },
        }))
        .expect("config JSON");
        let config_digest = self.push_blob(repo, &config);
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": { "mediaType": OCI_CONFIG, "digest": config_digest, "size": config.len() },
            "layers": [{
                "mediaType": IN_TOTO,
                "digest": layer_digest,
                "size": statement.len(),
                "annotations": { "in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2" },
            }],
        }))
        .expect("manifest JSON");
        let digest = format!("sha256:{}", sha256_hex(&manifest));
        self.push_manifest(repo, &digest, OCI_MANIFEST, &manifest);
        (digest, manifest.len())
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpResponse {
        http::request(method, &self.url(path), headers, body)
            .unwrap_or_else(|e| panic!("{method} {path} on the test registry: {e}"))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.wrapper.wait();
    }
}

/// (`os`, `arch`, `variant`) for `os/arch[/variant]`; arm64 gets `v8` by default.
fn split_platform(platform: &str) -> (&str, &str, Option<&str>) {
    let mut parts = platform.split('/');
    let os = parts.next().unwrap_or("linux");
    let arch = parts.next().unwrap_or("amd64");
    let variant = parts.next().or((arch == "arm64").then_some("v8"));
    (os, arch, variant)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("pick a free port")
}

fn process_listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// A ustar archive with `etc/` and one regular file, all owned by root, mtime 0.
fn tar_one_file(path: &str, contents: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some((dir, _)) = path.rsplit_once('/') {
        out.extend_from_slice(&tar_header(&format!("{dir}/"), 0, b'5', 0o755));
    }
    out.extend_from_slice(&tar_header(path, contents.len(), b'0', 0o644));
    out.extend_from_slice(contents);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out.resize(out.len() + 1024, 0);
    out
}

fn tar_header(name: &str, size: usize, kind: u8, mode: u32) -> [u8; 512] {
    let mut h = [0u8; 512];
    let put =
        |h: &mut [u8; 512], at: usize, bytes: &[u8]| h[at..at + bytes.len()].copy_from_slice(bytes);
    assert!(name.len() < 100, "tar name too long: {name}");
    put(&mut h, 0, name.as_bytes());
    put(&mut h, 100, format!("{mode:07o}\0").as_bytes());
    put(&mut h, 108, b"0000000\0");
    put(&mut h, 116, b"0000000\0");
    put(&mut h, 124, format!("{size:011o}\0").as_bytes());
    put(&mut h, 136, b"00000000000\0");
    h[156] = kind;
    put(&mut h, 257, b"ustar\0");
    put(&mut h, 263, b"00");
    put(&mut h, 265, b"root");
    put(&mut h, 297, b"root");
    // The checksum is computed with its own field as spaces.
    put(&mut h, 148, b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    put(&mut h, 148, format!("{sum:06o}\0 ").as_bytes());
    h
}

/// A valid gzip stream using only deflate "stored" blocks (RFC 1951 §3.2.4): no compressor
/// needed, and every tool that reads `.tar.gz` reads it.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    // Header: magic, CM=deflate, no flags, mtime 0, XFL 0, OS=unix.
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    let mut chunks = data.chunks(65_535).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        out.push(u8::from(last));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// CRC-32 (IEEE 802.3, reflected), bitwise: test data is small.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
