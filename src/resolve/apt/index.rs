//! Archive metadata, fetched and checked the way `apt-get update` checks it:
//! `InRelease` (or `Release` + `Release.gpg`) verified against the archive keyring, then
//! each `Packages.xz`/`.gz` (by-hash when the Release offers it) checked against the
//! size and SHA-256 the Release lists, decompressed, and checked again against the
//! uncompressed entry when the Release lists one.
//!
//! Layouts: a normal archive (`URI/dists/SUITE/…`, indices per component) and a flat
//! repository (`deb URI /` or `deb URI dir/`: `URI/dir/InRelease`, `URI/dir/Packages.xz`,
//! `.deb` paths relative to `URI`). Each archive names its base URIs in order, the
//! mirror first and the canonical host after; the metadata comes from the first that
//! answers, and every URI (then the snapshot) goes into the lock for each `.deb`.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::control::{FieldFilter, Release, ReleaseFile};
use super::index_cache::IndexCache;
use super::openpgp::Keyring;
use crate::net::{Client, NetError, inflate};
use crate::resolve::Problem;

/// One apt source: like a deb822 `.sources` stanza.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Archive {
    /// Base URIs in the order tried: mirrors first, the canonical archive after. They
    /// must serve the same archive (the same signed Release).
    pub uris: Vec<String>,
    /// `noble noble-updates`; a flat repository has one suite ending in `/` (`/`,
    /// `./`, `sub/dir/`) and no components.
    pub suites: Vec<String>,
    pub components: Vec<String>,
    /// Keyring files (binary `.gpg` or armored `.asc`) or shipped keyrings (`builtin:…`,
    /// [`super::keys`]) that must have signed the Release.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signed_by: Vec<String>,
    /// `[trusted=yes]`: take the Release unsigned (hashes are still checked).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub trusted: bool,
    /// Debian architectures this source serves (empty: all), e.g. `archive.ubuntu.com`
    /// for `amd64` and `ports.ubuntu.com` for `arm64`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    /// Where the `.deb` files stay available after the archive drops them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<Snapshot>,
    /// apt pin priority for all of this source's indices, instead of the Release's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
}

impl Archive {
    pub fn is_flat(&self) -> bool {
        self.components.is_empty() && self.suites.iter().all(|s| s.ends_with('/'))
    }

    pub fn serves(&self, arch: &str) -> bool {
        self.architectures.is_empty() || self.architectures.iter().any(|a| a == arch)
    }

    /// `URI/dists/SUITE` or, flat, `URI/DIR`, without a trailing slash.
    fn dist_url(&self, uri: &str, suite: &str) -> String {
        let base = uri.trim_end_matches('/');
        if self.is_flat() {
            let dir = suite.trim_start_matches("./").trim_matches('/');
            if dir.is_empty() {
                base.to_string()
            } else {
                format!("{base}/{dir}")
            }
        } else {
            format!("{base}/dists/{suite}")
        }
    }

    /// The download URLs of a pool file, in order.
    pub fn file_urls(&self, filename: &str) -> Vec<String> {
        let path = filename.trim_start_matches("./");
        self.uris
            .iter()
            .map(|uri| format!("{}/{path}", uri.trim_end_matches('/')))
            .collect()
    }
}

/// A snapshot service: `BASE/TIMESTAMP/pool/...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Snapshot {
    /// `https://snapshot.ubuntu.com/ubuntu`, `https://snapshot.debian.org/archive/debian`.
    /// Unset: the Release's `Snapshots:` template, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// `YYYYMMDDTHHMMSSZ`. Unset: [`SNAPSHOT_DELAY`] after the Release's `Date`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

/// How long after a Release's `Date` its snapshot is taken, when the spec pins no
/// timestamp: late enough for the snapshot service to have imported that publish
/// (snapshot.debian.org imports four times a day; snapshot.ubuntu.com follows every
/// publisher run), early enough that the files it lists are still in the archive (both
/// archives keep superseded files for at least a day). Deterministic for one Release.
pub const SNAPSHOT_DELAY: u64 = 6 * 3600;

/// One verified `Packages` index.
#[derive(Debug, Clone)]
pub struct FetchedIndex {
    /// Position of the archive in the request.
    pub archive: usize,
    pub suite: String,
    pub component: String,
    /// `bookworm/main`, `ubuntu2404/x86_64 (flat)`.
    pub label: String,
    pub priority: i32,
    /// The index as resolution reads it: only the fields it uses ([`read_index`]).
    pub text: String,
    /// Release `Date` (as written) and the snapshot base to use, if any.
    pub date: Option<String>,
    pub snapshot: Option<String>,
    /// Who signed the Release (empty for `trusted`).
    pub signers: Vec<String>,
    /// What apt pins match of it (its Release's fields; the hosts are the caller's).
    pub facts: super::preferences::IndexFacts,
}

/// Largest compressed or uncompressed index accepted (Ubuntu noble universe amd64 is
/// about 80 MB uncompressed).
const INDEX_LIMIT: u64 = 512 * 1024 * 1024;
const RELEASE_LIMIT: u64 = 16 * 1024 * 1024;

/// Fetch the Release of one suite (trying each URI in order) and check its signature.
pub async fn fetch_release(
    client: &Client,
    archive: &Archive,
    suite: &str,
    keyring: Option<&Keyring>,
    now: u64,
    cache: Option<&IndexCache>,
) -> Result<(String, Release, Vec<String>), Problem> {
    let mut failures = Vec::new();
    for uri in &archive.uris {
        let dist = archive.dist_url(uri, suite);
        match fetch_release_from(client, &dist, keyring, now, cache).await {
            Ok((release, signers)) => return Ok((uri.clone(), release, signers)),
            // A signature or format problem is not the mirror being down: stop here.
            Err(Fetch::Fatal(problem)) => return Err(problem),
            Err(Fetch::Unavailable(err)) => failures.push(err.to_string()),
        }
    }
    Err(Problem::msg(format!(
        "no URI of the archive served {suite}: {}",
        failures.join("; ")
    )))
}

enum Fetch {
    Unavailable(NetError),
    Fatal(Problem),
}

async fn fetch_release_from(
    client: &Client,
    dist: &str,
    keyring: Option<&Keyring>,
    now: u64,
    cache: Option<&IndexCache>,
) -> Result<(Release, Vec<String>), Fetch> {
    let inrelease_url = format!("{dist}/InRelease");
    let inrelease = match fetch_inrelease(client, &inrelease_url, cache).await {
        Ok(fetched) => Some(fetched),
        Err(err) if err.is_not_found() => None,
        Err(err) => return Err(Fetch::Unavailable(err)),
    };
    let mut checked = None;
    if let Some(fetched) = inrelease {
        let message = String::from_utf8(fetched.body.clone()).map_err(|_| {
            Fetch::Fatal(Problem::msg(format!("{inrelease_url} is not UTF-8 text")))
        })?;
        // A cached InRelease is checked like a downloaded one, every time.
        checked = match keyring {
            Some(keyring) => {
                let verified = keyring
                    .verify_cleartext(&message, now)
                    .map_err(|err| Fetch::Fatal(Problem::msg(format!("{inrelease_url}: {err}"))))?;
                Some((verified.text, verified.signers))
            }
            // `trusted` (apt's `[trusted=yes]`): an InRelease that is not a signed
            // message is ignored and the Release read instead, as apt does.
            None if !is_cleartext_signed(&message) => None,
            None => Some((
                super::openpgp::cleartext_body(&message)
                    .map_err(|err| Fetch::Fatal(Problem::msg(format!("{inrelease_url}: {err}"))))?,
                Vec::new(),
            )),
        };
        if let (Some(cache), false, true) = (cache, fetched.from_cache, checked.is_some()) {
            cache.store_release(
                &inrelease_url,
                &fetched.body,
                fetched.etag.as_deref(),
                fetched.last_modified.as_deref(),
            );
        }
    }
    let (text, signers) = match checked {
        Some(checked) => checked,
        None => fetch_release_file(client, dist, keyring, now).await?,
    };
    let release = Release::parse(&text)
        .map_err(|err| Fetch::Fatal(Problem::msg(format!("{dist}: invalid Release: {err}"))))?;
    if let Some(until) = &release.valid_until
        && let Some(until_secs) = parse_date(until)
        && until_secs < now
    {
        return Err(Fetch::Fatal(Problem::msg(format!(
            "{dist}: the Release expired on {until} (Valid-Until); the mirror is stale"
        ))));
    }
    Ok((release, signers))
}

/// Whether `message` is framed as an OpenPGP cleartext-signed message (checked or not).
fn is_cleartext_signed(message: &str) -> bool {
    message
        .trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with("-----BEGIN PGP SIGNED MESSAGE-----")
}

/// `Release` and, unless the archive is `trusted`, its detached `Release.gpg`: where an
/// archive has no `InRelease`.
async fn fetch_release_file(
    client: &Client,
    dist: &str,
    keyring: Option<&Keyring>,
    now: u64,
) -> Result<(String, Vec<String>), Fetch> {
    let release_url = format!("{dist}/Release");
    let release = client
        .get_ok(&release_url, &[], RELEASE_LIMIT)
        .await
        .map_err(Fetch::Unavailable)?;
    let text = String::from_utf8(release.body.clone())
        .map_err(|_| Fetch::Fatal(Problem::msg(format!("{release_url} is not UTF-8 text"))))?;
    let signers = match keyring {
        Some(keyring) => {
            let signature_url = format!("{dist}/Release.gpg");
            let signature = client
                .get_ok(&signature_url, &[], RELEASE_LIMIT)
                .await
                .map_err(|err| {
                    Fetch::Fatal(Problem::msg(format!("{release_url} is not signed: {err}")))
                })?;
            keyring
                .verify_detached(&release.body, &signature.body, now)
                .map_err(|err| Fetch::Fatal(Problem::msg(format!("{release_url}: {err}"))))?
                .signers
        }
        None => Vec::new(),
    };
    Ok((text, signers))
}

/// An `InRelease` as served, or as cached when the server says it has not changed.
struct InRelease {
    body: Vec<u8>,
    from_cache: bool,
    etag: Option<String>,
    last_modified: Option<String>,
}

/// GET an `InRelease`, revalidating the cached copy (`If-None-Match`,
/// `If-Modified-Since`) when there is one: a `304` answer costs no body.
async fn fetch_inrelease(
    client: &Client,
    url: &str,
    cache: Option<&IndexCache>,
) -> Result<InRelease, NetError> {
    let cached = cache.and_then(|c| c.release(url));
    let mut headers = Vec::new();
    if let Some(cached) = &cached {
        if let Some(etag) = &cached.etag {
            headers.push(("if-none-match", etag.as_str()));
        }
        if let Some(date) = &cached.last_modified {
            headers.push(("if-modified-since", date.as_str()));
        }
    }
    let fetched = client.get(url, &headers, RELEASE_LIMIT).await?;
    match (fetched.status.as_u16(), cached) {
        (304, Some(cached)) => Ok(InRelease {
            body: cached.body,
            from_cache: true,
            etag: None,
            last_modified: None,
        }),
        _ if fetched.status.is_success() => Ok(InRelease {
            etag: fetched.header("etag").map(str::to_string),
            last_modified: fetched.header("last-modified").map(str::to_string),
            body: fetched.body,
            from_cache: false,
        }),
        (status, _) => Err(NetError::Status {
            url: crate::net::redact(url),
            status,
            detail: None,
        }),
    }
}

/// The index files to read for one component and architecture, best compression first.
fn index_candidates<'r>(release: &'r Release, prefix: &str) -> Vec<(String, &'r ReleaseFile)> {
    ["Packages.xz", "Packages.gz", "Packages"]
        .iter()
        .filter_map(|name| {
            let path = format!("{prefix}{name}");
            release.sha256.get(&path).map(|entry| (path, entry))
        })
        .collect()
}

/// Fetch, check and decompress one `Packages` index.
pub async fn fetch_packages(
    client: &Client,
    dist: &str,
    release: &Release,
    prefix: &str,
    cache: Option<&IndexCache>,
) -> Result<String, Problem> {
    let candidates = index_candidates(release, prefix);
    if candidates.is_empty() {
        return Err(Problem::msg(format!(
            "{dist}: the Release lists no {prefix}Packages (.xz, .gz or plain) with a SHA256"
        )));
    }
    let uncompressed = release.sha256.get(&format!("{prefix}Packages"));
    let mut last_error = None;
    for (path, entry) in &candidates {
        let mut urls = Vec::new();
        if release.acquire_by_hash {
            let dir = path
                .rsplit_once('/')
                .map(|(d, _)| format!("{d}/"))
                .unwrap_or_default();
            urls.push(format!("{dist}/{dir}by-hash/SHA256/{}", entry.sha256));
        }
        urls.push(format!("{dist}/{path}"));
        // The cache holds files by the hash the verified Release lists: no request at all.
        let mut stored = cache.and_then(|c| c.index(entry));
        for url in urls {
            let (body, from_cache) = match stored.take() {
                Some(body) => (body, true),
                None => match client.get_ok(&url, &[], entry.size.min(INDEX_LIMIT)).await {
                    Ok(fetched) => (fetched.body, false),
                    Err(err) => {
                        last_error = Some(err.to_string());
                        continue;
                    }
                },
            };
            check_file(&url, &body, entry)?;
            if let (Some(cache), false) = (cache, from_cache) {
                cache.store_index(entry, &body);
            }
            // A signed size for the plain index bounds what the compressed one may become.
            let limit = uncompressed.map_or(INDEX_LIMIT, |plain| plain.size.min(INDEX_LIMIT));
            let (path, plain) = (path.clone(), uncompressed.cloned());
            // Decompressing is most of the time: off the async workers, one index per
            // thread when an archive has several.
            return tokio::task::spawn_blocking(move || {
                read_index(&path, &body, &url, limit, plain.as_ref())
            })
            .await
            .map_err(|err| Problem::msg(format!("the index reader stopped: {err}")))?;
        }
    }
    Err(Problem::msg(format!(
        "{dist}: cannot fetch {prefix}Packages: {}",
        last_error.unwrap_or_default()
    )))
}

/// Size and SHA-256 as the Release lists them.
pub fn check_file(url: &str, body: &[u8], entry: &ReleaseFile) -> Result<(), Problem> {
    check_digest(url, body.len() as u64, &Sha256::digest(body), entry)
}

/// A size and SHA-256 (computed as the bytes went by) against the Release's entry.
fn check_digest(url: &str, size: u64, sha256: &[u8], entry: &ReleaseFile) -> Result<(), Problem> {
    if size != entry.size {
        return Err(Problem::msg(format!(
            "{url} has {size} bytes, the signed Release lists {}",
            entry.size
        )));
    }
    let actual = hex::encode(sha256);
    if actual != entry.sha256 {
        return Err(Problem::msg(format!(
            "sha256 mismatch for {url}: the signed Release lists {}, got {actual}",
            entry.sha256
        )));
    }
    Ok(())
}

/// The text resolution reads from one checked index file (`path` names its compression):
/// decompressed as a stream, each piece hashed (against `plain`, the Release's entry for
/// the uncompressed index, when it lists one) and filtered down to the fields resolution
/// reads ([`FieldFilter`]), so neither the whole decompressed index nor a copy of it is
/// ever held. `limit` bounds the decompressed size.
pub fn read_index(
    path: &str,
    body: &[u8],
    url: &str,
    limit: u64,
    plain: Option<&ReleaseFile>,
) -> Result<String, Problem> {
    let encoding = if path.ends_with(".xz") {
        Some(inflate::Encoding::Xz)
    } else if path.ends_with(".gz") {
        Some(inflate::Encoding::Gzip)
    } else {
        None
    };
    // Debian's and Ubuntu's indices keep a little under half their bytes.
    let expected = plain.map_or(body.len() as u64 * 4, |p| p.size.min(limit)) / 2;
    let mut filter = FieldFilter::with_capacity(expected as usize);
    match encoding {
        Some(encoding) => {
            let mut hasher = Sha256::new();
            let size = inflate::inflate_into(encoding, body, url, limit, &mut |piece| {
                hasher.update(piece);
                filter.push(piece);
            })
            .map_err(|err| Problem::msg(err.to_string()))?;
            if let Some(plain) = plain {
                check_digest(
                    &format!("{url} (decompressed)"),
                    size,
                    &hasher.finalize(),
                    plain,
                )?;
            }
        }
        // A plain index was checked as the file itself.
        None => filter.push(body),
    }
    let mut kept = filter.finish();
    kept.shrink_to_fit();
    String::from_utf8(kept).map_err(|_| Problem::msg(format!("{url} is not UTF-8 text")))
}

/// Decompress by file name (`.xz`, `.gz`, or as is), refusing more than `limit` bytes
/// out (or a bomb's ratio: [`inflate::bound`]).
pub fn decompress(
    path: &str,
    body: &[u8],
    url: &str,
    limit: u64,
) -> Result<Vec<u8>, inflate::InflateError> {
    if path.ends_with(".xz") {
        inflate::inflate(inflate::Encoding::Xz, body, url, limit)
    } else if path.ends_with(".gz") {
        inflate::inflate(inflate::Encoding::Gzip, body, url, limit)
    } else {
        Ok(body.to_vec())
    }
}

/// Fetch every index an archive contributes for one architecture, in sources order
/// (suite by suite, component by component).
pub async fn fetch_archive(
    client: &Client,
    number: usize,
    archive: &Archive,
    arch: &str,
    keyring: Option<&Keyring>,
    now: u64,
    cache: Option<&IndexCache>,
) -> Result<Vec<FetchedIndex>, Problem> {
    let releases = futures_util::future::try_join_all(
        archive
            .suites
            .iter()
            .map(|suite| fetch_release(client, archive, suite, keyring, now, cache)),
    )
    .await?;
    let mut jobs = Vec::new();
    for (suite, (uri, release, signers)) in archive.suites.iter().zip(&releases) {
        let dist = archive.dist_url(uri, suite);
        let priority = archive
            .priority
            .unwrap_or_else(|| release.default_priority());
        let snapshot = snapshot_base(archive, release);
        if archive.is_flat() {
            jobs.push((
                suite.clone(),
                String::new(),
                dist.clone(),
                String::new(),
                priority,
                release,
                snapshot,
                signers.clone(),
            ));
            continue;
        }
        if !release.architectures.is_empty() && !release.architectures.iter().any(|a| a == arch) {
            // apt skips such a suite with a warning (backports and ports often lack some).
            continue;
        }
        for component in &archive.components {
            if !release.components.is_empty()
                && !release
                    .components
                    .iter()
                    .any(|c| c == component || c.ends_with(&format!("/{component}")))
            {
                return Err(Problem::msg(format!(
                    "{dist} has no component `{component}` (it has {})",
                    release.components.join(" ")
                )));
            }
            let prefix = format!("{component}/binary-{arch}/");
            jobs.push((
                suite.clone(),
                component.clone(),
                dist.clone(),
                prefix,
                priority,
                release,
                snapshot.clone(),
                signers.clone(),
            ));
        }
    }
    let texts = futures_util::future::try_join_all(jobs.iter().map(
        |(_, _, dist, prefix, _, release, _, _)| {
            fetch_packages(client, dist, release, prefix, cache)
        },
    ))
    .await?;
    Ok(jobs
        .into_iter()
        .zip(texts)
        .map(
            |((suite, component, _, _, priority, release, snapshot, signers), text)| {
                let fetched_component = component.clone();
                let label = if component.is_empty() {
                    format!(
                        "{} {suite} (flat)",
                        archive.uris.first().map(String::as_str).unwrap_or("")
                    )
                } else {
                    format!("{suite}/{component}")
                };
                FetchedIndex {
                    archive: number,
                    suite,
                    component,
                    label,
                    priority,
                    text,
                    date: release.date.clone(),
                    snapshot,
                    signers,
                    facts: super::preferences::IndexFacts {
                        origin: release.origin.clone(),
                        label: release.label.clone(),
                        suite: release.suite.clone(),
                        codename: release.codename.clone(),
                        version: release.version.clone(),
                        component: fetched_component,
                        architecture: arch.to_string(),
                        hosts: Vec::new(),
                    },
                }
            },
        )
        .collect())
}

/// `BASE/TIMESTAMP` for the snapshot URLs of this Release, if the archive has one.
fn snapshot_base(archive: &Archive, release: &Release) -> Option<String> {
    let configured = archive.snapshot.as_ref();
    let timestamp = configured.and_then(|s| s.timestamp.clone()).or_else(|| {
        let date = parse_date(release.date.as_deref()?)?;
        Some(format_timestamp(date + SNAPSHOT_DELAY))
    })?;
    if let Some(base) = configured.and_then(|s| s.base.clone()) {
        return Some(format!("{}/{timestamp}", base.trim_end_matches('/')));
    }
    if let Some(template) = release.snapshots.as_deref()
        && template.contains("@SNAPSHOTID@")
    {
        return Some(
            template
                .replace("@SNAPSHOTID@", &timestamp)
                .trim_end_matches('/')
                .to_string(),
        );
    }
    known_snapshot(archive, release).map(|base| format!("{base}/{timestamp}"))
}

/// The public snapshot services of Debian and Ubuntu, recognised by the Release's
/// `Origin` and the archive path (mirrors keep the path: `…/ubuntu`, `…/ubuntu-ports`).
fn known_snapshot(archive: &Archive, release: &Release) -> Option<&'static str> {
    let last = archive
        .uris
        .first()?
        .trim_end_matches('/')
        .rsplit('/')
        .next()?
        .to_string();
    match (release.origin.as_deref()?, last.as_str()) {
        ("Debian", "debian") => Some("https://snapshot.debian.org/archive/debian"),
        ("Debian", "debian-security") => {
            Some("https://snapshot.debian.org/archive/debian-security")
        }
        ("Ubuntu", "ubuntu") => Some("https://snapshot.ubuntu.com/ubuntu"),
        ("Ubuntu", "ubuntu-ports") => Some("https://snapshot.ubuntu.com/ubuntu-ports"),
        _ => None,
    }
}

/// Parse a Release `Date` (`Sat, 11 Jul 2026 10:16:37 UTC`, RFC 2822 style) into Unix
/// seconds.
pub fn parse_date(text: &str) -> Option<u64> {
    let text = text.trim();
    let text = text.split_once(',').map_or(text, |(_, rest)| rest).trim();
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [day, month, year, time, zone] = parts[..] else {
        return None;
    };
    let day: u64 = day.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m.eq_ignore_ascii_case(month))? as u64
        + 1;
    let year: i64 = year.parse().ok()?;
    let mut hms = time.split(':').map(|p| p.parse::<u64>().ok());
    let (hour, minute, second) = (
        hms.next()??,
        hms.next()??,
        hms.next().flatten().unwrap_or(0),
    );
    let offset: i64 = match zone {
        "UTC" | "GMT" | "Z" | "+0000" | "-0000" => 0,
        zone if zone.len() == 5 && (zone.starts_with('+') || zone.starts_with('-')) => {
            let hours: i64 = zone[1..3].parse().ok()?;
            let minutes: i64 = zone[3..5].parse().ok()?;
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            sign * (hours * 3600 + minutes * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + (hour * 3600 + minute * 60 + second) as i64 - offset;
    u64::try_from(seconds).ok()
}

fn days_from_civil(year: i64, month: u64, day: u64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYYMMDDTHHMMSSZ` (snapshot ids).
pub fn format_timestamp(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// RFC 3339 (`2026-07-11T10:16:37Z`) for the lock's `published`.
pub fn rfc3339(seconds: u64) -> String {
    let stamp = format_timestamp(seconds);
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &stamp[0..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[9..11],
        &stamp[11..13],
        &stamp[13..15]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_dates_round_trip() {
        let seconds = parse_date("Sat, 11 Jul 2026 10:16:37 UTC").unwrap();
        assert_eq!(format_timestamp(seconds), "20260711T101637Z");
        assert_eq!(rfc3339(seconds), "2026-07-11T10:16:37Z");
        assert_eq!(
            parse_date("Thu, 25 Apr 2024 15:10:33 +0200"),
            parse_date("Thu, 25 Apr 2024 13:10:33 UTC")
        );
        assert_eq!(format_timestamp(0), "19700101T000000Z");
        assert_eq!(
            format_timestamp(parse_date("29 Feb 2024 23:59:59 UTC").unwrap()),
            "20240229T235959Z"
        );
        assert!(parse_date("yesterday").is_none());
    }

    /// An index inflates to at most the size the signed Release gives its plain form (or
    /// the bomb bound): a larger one is refused naming the URL, never cut short.
    #[test]
    fn decompressed_indexes_stop_at_their_limit() {
        use std::io::Write;
        let plain = b"Package: hello\nVersion: 1\n\n".repeat(40);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&plain).unwrap();
        let gz = gz.finish().unwrap();
        let url = "http://archive.example/dists/x/main/binary-amd64/Packages.gz";
        let size = plain.len() as u64;
        assert_eq!(decompress("Packages.gz", &gz, url, size).unwrap(), plain);
        assert_eq!(
            decompress("Packages.gz", &gz, url, size - 1)
                .unwrap_err()
                .to_string(),
            format!(
                "{url} inflates to more than {} bytes ({} bytes of gzip); refused as a decompression bomb",
                size - 1,
                gz.len()
            )
        );
        assert_eq!(decompress("Packages", &plain, url, 1).unwrap(), plain);
    }

    /// An index is read as a stream: checked against the Release's entry for the plain
    /// file, refused (naming it) when that differs, and kept without the fields nothing
    /// reads.
    #[test]
    fn indexes_are_checked_and_filtered_as_they_stream() {
        use std::io::Write;
        let plain =
            b"Package: hello\nVersion: 1\nDescription: greets\n more\nSHA256: 00\n\n".repeat(40);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&plain).unwrap();
        let gz = gz.finish().unwrap();
        let url = "http://archive.example/dists/x/main/binary-amd64/Packages.gz";
        let entry = ReleaseFile {
            sha256: hex::encode(Sha256::digest(&plain)),
            size: plain.len() as u64,
        };
        let text = read_index("Packages.gz", &gz, url, entry.size, Some(&entry)).unwrap();
        assert_eq!(
            text,
            "Package: hello\nVersion: 1\nSHA256: 00\n\n".repeat(40)
        );
        let other = ReleaseFile {
            sha256: "11".repeat(32),
            size: entry.size,
        };
        let err = read_index("Packages.gz", &gz, url, entry.size, Some(&other)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "sha256 mismatch for {url} (decompressed): the signed Release lists {}, got {}",
                other.sha256, entry.sha256
            )
        );
        let err = read_index("Packages.gz", &gz, url, entry.size - 1, None).unwrap_err();
        assert!(
            err.to_string().contains("refused as a decompression bomb"),
            "{err}"
        );
        assert_eq!(read_index("Packages", &plain, url, 1, None).unwrap(), text);
    }

    #[test]
    fn flat_and_normal_layouts() {
        let mut archive = Archive {
            uris: vec![
                "https://mirror/ubuntu/".into(),
                "http://archive.ubuntu.com/ubuntu".into(),
            ],
            suites: vec!["noble".into()],
            components: vec!["main".into()],
            signed_by: vec![],
            trusted: false,
            architectures: vec![],
            snapshot: None,
            priority: None,
        };
        assert!(!archive.is_flat());
        assert_eq!(
            archive.dist_url(&archive.uris[0], "noble"),
            "https://mirror/ubuntu/dists/noble"
        );
        assert_eq!(
            archive.file_urls("pool/main/h/hello/hello_2.10-3_amd64.deb"),
            vec![
                "https://mirror/ubuntu/pool/main/h/hello/hello_2.10-3_amd64.deb",
                "http://archive.ubuntu.com/ubuntu/pool/main/h/hello/hello_2.10-3_amd64.deb"
            ]
        );
        archive.suites = vec!["/".into()];
        archive.components.clear();
        archive.uris = vec!["https://nv/repos/ubuntu2404/x86_64/".into()];
        assert!(archive.is_flat());
        assert_eq!(
            archive.dist_url(&archive.uris[0], "/"),
            "https://nv/repos/ubuntu2404/x86_64"
        );
        assert_eq!(
            archive.file_urls("./cuda_1.deb"),
            vec!["https://nv/repos/ubuntu2404/x86_64/cuda_1.deb"]
        );
    }
}
