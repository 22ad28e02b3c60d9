//! Tests of the test infrastructure itself: the loopback world and its faults, the GitHub fixture,
//! the local registry and the buildah base. If these fail, every other failure is suspect.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::buildah::{Buildah, tiny_base};
use crate::support::http;
use crate::support::registry::{self, ACCEPT_ALL, DOCKER_LIST, IndexKind, OCI_INDEX, OCI_MANIFEST};
use crate::support::tools;
use crate::support::world::{
    DigestMode, Fault, FixtureAsset, FixtureRelease, Response, SumsStyle, TRICKLE_INTERVAL, World,
    XorShift,
};
use crate::support::{sha256_hex, temp_dir};

fn body(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

#[test]
fn world_serves_routes_head_query_fallback_and_404() {
    let world = World::start();
    world.get("/file", Response::bytes(body(1000)));
    world.get("/list?per_page=100", Response::json(json!(["exact"])));
    world.get("/list", Response::json(json!(["fallback"])));

    let got = http::get(&world.url("/file")).unwrap();
    assert_eq!(got.status, 200);
    assert_eq!(got.body, body(1000));
    assert_eq!(got.header("connection"), Some("close"));

    let head = http::request("HEAD", &world.url("/file"), &[], &[]).unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.content_length(), Some(1000));
    assert!(head.body.is_empty());

    let exact = http::get(&world.url("/list?per_page=100")).unwrap();
    assert_eq!(exact.json(), json!(["exact"]));
    let fallback = http::get(&world.url("/list?page=2")).unwrap();
    assert_eq!(fallback.json(), json!(["fallback"]));

    let missing = http::get(&world.url("/nope")).unwrap();
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["message"], "Not Found");

    // Request bodies are read and logged, not mistaken for the next request.
    let posted = http::request("POST", &world.url("/nope"), &[], b"{\"a\":1}").unwrap();
    assert_eq!(posted.status, 404);

    assert_eq!(
        world.requests(),
        vec![
            ("GET".into(), "/file".into(), 200),
            ("HEAD".into(), "/file".into(), 200),
            ("GET".into(), "/list?per_page=100".into(), 200),
            ("GET".into(), "/list?page=2".into(), 200),
            ("GET".into(), "/nope".into(), 404),
            ("POST".into(), "/nope".into(), 404),
        ]
    );
    assert_eq!(world.hits("/file"), 2);
    assert_eq!(world.hits("/list"), 2);
    assert_eq!(world.request_log()[5].body, b"{\"a\":1}");
}

#[test]
fn world_status_faults_apply_in_order_then_normal() {
    let world = World::start();
    world.get("/x", Response::text("ok"));
    world.faults(
        "/x",
        [
            Fault::Status(503),
            Fault::Status(502),
            Fault::RetryAfter(429, 7),
        ],
    );

    let first = http::get(&world.url("/x")).unwrap();
    assert_eq!(first.status, 503);
    assert!(first.json()["message"].is_string());
    assert_eq!(http::get(&world.url("/x")).unwrap().status, 502);
    let limited = http::get(&world.url("/x")).unwrap();
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("7"));
    let normal = http::get(&world.url("/x")).unwrap();
    assert_eq!((normal.status, normal.text().as_str()), (200, "ok"));
    assert_eq!(world.pending_faults("/x"), 0);
    let statuses: Vec<u16> = world.requests().iter().map(|r| r.2).collect();
    assert_eq!(statuses, [503, 502, 429, 200]);
}

#[test]
fn world_reset_and_truncate_send_less_than_announced() {
    let world = World::start();
    world.get("/asset", Response::bytes(body(10_000)));
    world.faults("/asset", [Fault::Reset, Fault::Truncate]);

    let reset = http::get(&world.url("/asset")).unwrap();
    assert_eq!(reset.content_length(), Some(10_000));
    assert_eq!(reset.body, body(5_000));

    let truncated = http::get(&world.url("/asset")).unwrap();
    assert_eq!(truncated.content_length(), Some(10_000));
    assert_eq!(truncated.body, body(9_999));

    assert_eq!(http::get(&world.url("/asset")).unwrap().body, body(10_000));
}

#[test]
fn world_delay_trickle_and_latency_slow_responses_down() {
    let world = World::start();
    world.get("/slow", Response::bytes(body(20)));
    world.faults(
        "/slow",
        [Fault::Delay(Duration::from_millis(300)), Fault::Trickle],
    );

    let start = Instant::now();
    assert_eq!(http::get(&world.url("/slow")).unwrap().body, body(20));
    assert!(start.elapsed() >= Duration::from_millis(300));

    let start = Instant::now();
    assert_eq!(http::get(&world.url("/slow")).unwrap().body, body(20));
    assert!(start.elapsed() >= TRICKLE_INTERVAL * 19);

    world.latency(Duration::from_millis(200));
    let start = Instant::now();
    http::get(&world.url("/slow")).unwrap();
    assert!(start.elapsed() >= Duration::from_millis(200));

    world.random_latency(Duration::from_millis(50), 42);
    let start = Instant::now();
    for _ in 0..3 {
        assert_eq!(http::get(&world.url("/slow")).unwrap().status, 200);
    }
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn world_random_latency_sequence_is_fixed_by_seed() {
    let draw = |seed| {
        let mut rng = XorShift::new(seed);
        (0..8).map(|_| rng.up_to(1000)).collect::<Vec<_>>()
    };
    assert_eq!(draw(7), draw(7));
    assert_ne!(draw(7), draw(8));
    assert!(draw(0).iter().all(|&v| v <= 1000));
}

#[test]
fn world_corrupt_byte_and_malformed_json() {
    let world = World::start();
    world.get("/asset", Response::bytes(body(4096)));
    world.get(
        "/api",
        Response::json(json!({"tag_name": "v1", "assets": []})),
    );
    world.fault("/asset", Fault::CorruptByte);
    world.fault("/api", Fault::MalformedJson);

    let corrupt = http::get(&world.url("/asset")).unwrap();
    assert_eq!(corrupt.body.len(), 4096);
    assert_ne!(sha256_hex(&corrupt.body), sha256_hex(&body(4096)));
    assert_eq!(
        corrupt
            .body
            .iter()
            .zip(body(4096))
            .filter(|(a, b)| **a != *b)
            .count(),
        1
    );

    let malformed = http::get(&world.url("/api")).unwrap();
    assert_eq!(malformed.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&malformed.body).is_err());
    assert_eq!(
        http::get(&world.url("/api")).unwrap().json()["tag_name"],
        "v1"
    );
}

#[test]
fn world_replace_body_tampers_with_a_route() {
    let world = World::start();
    world.get("/a", Response::bytes(b"original".to_vec()));
    world.replace_body("/a", b"tampered!".to_vec());
    let got = http::get(&world.url("/a")).unwrap();
    assert_eq!(got.body, b"tampered!");
    assert_eq!(got.content_length(), Some(9));
}

#[test]
fn world_serves_concurrently_and_survives_disconnects() {
    let world = World::start();
    world.get("/slow", Response::bytes(body(50)));
    world.get("/fast", Response::bytes(body(10)));
    world.fault("/slow", Fault::TrickleEvery(Duration::from_millis(40)));

    // Clients that vanish: before sending anything, mid-head, and mid-trickle.
    drop(TcpStream::connect(world.addr()).unwrap());
    let mut partial = TcpStream::connect(world.addr()).unwrap();
    partial.write_all(b"GET /fast HTTP/1.1\r\nHo").unwrap();
    drop(partial);

    let slow_url = world.url("/slow");
    let slow = thread::spawn(move || http::get(&slow_url).unwrap());
    thread::sleep(Duration::from_millis(50));
    let start = Instant::now();
    let fast: Vec<_> = (0..8)
        .map(|_| {
            let url = world.url("/fast");
            thread::spawn(move || http::get(&url).unwrap())
        })
        .collect();
    for handle in fast {
        assert_eq!(handle.join().unwrap().body, body(10));
    }
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "fast requests waited for the slow one"
    );
    assert_eq!(slow.join().unwrap().body, body(50));

    world.fault("/fast", Fault::Trickle);
    let mut quitter = TcpStream::connect(world.addr()).unwrap();
    quitter
        .write_all(b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 16];
    quitter.read_exact(&mut first).unwrap();
    drop(quitter);

    assert_eq!(http::get(&world.url("/fast")).unwrap().status, 200);
}

#[test]
fn world_github_fixture_has_the_rest_shape() {
    let world = World::start();
    let fixture = world.github_release_fixture(
        "Watfaq",
        "clash-rs",
        &[
            FixtureRelease::new("v0.9.5", "2025-01-10T00:00:00Z")
                .asset("clash-x86_64-unknown-linux-musl", b"old binary".to_vec())
                .asset("version.txt", b"0.9.5\n".to_vec())
                .sums_file(SumsStyle::Text),
            FixtureRelease::new("v0.10.8", "2025-07-01T00:00:00Z")
                .asset("clash-rs-x86_64-unknown-linux-musl", b"new binary".to_vec())
                .asset_with(
                    FixtureAsset::new("clash-rs-aarch64-unknown-linux-musl", b"arm".to_vec())
                        .digest_mode(DigestMode::Null),
                )
                .asset_with(
                    FixtureAsset::new("LICENSE", b"MIT".to_vec()).digest_mode(DigestMode::Absent),
                )
                .asset_with(
                    FixtureAsset::new("bad", b"bytes".to_vec()).digest_mode(DigestMode::Wrong),
                ),
            FixtureRelease::new("latest", "2025-07-20T00:00:00Z")
                .prerelease()
                .asset("clash-rs-x86_64-unknown-linux-musl", b"nightly".to_vec())
                .sums_file(SumsStyle::Binary),
            FixtureRelease::new("v0.11.0", "2025-08-01T00:00:00Z").draft(),
        ],
    );
    assert_eq!(fixture.api, world.url("/api"));
    let repo = "/api/repos/Watfaq/clash-rs";

    let list = http::get(&world.url(&format!("{repo}/releases?per_page=100"))).unwrap();
    assert_eq!(list.status, 200);
    assert!(list.header("link").is_none());
    let list = list.json();
    let tags: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tag_name"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["v0.11.0", "latest", "v0.10.8", "v0.9.5"]);
    assert_eq!(list[0]["draft"], true);
    assert!(list[0]["published_at"].is_null());

    let release_keys = [
        "url",
        "html_url",
        "id",
        "node_id",
        "tag_name",
        "target_commitish",
        "name",
        "draft",
        "prerelease",
        "created_at",
        "published_at",
        "assets",
        "tarball_url",
        "zipball_url",
        "body",
    ];
    for key in release_keys {
        assert!(list[2].get(key).is_some(), "release lacks `{key}`");
    }

    let latest = http::get(&world.url(&format!("{repo}/releases/latest")))
        .unwrap()
        .json();
    assert_eq!(latest["tag_name"], "v0.10.8");
    let assets = latest["assets"].as_array().unwrap();
    let asset_keys = [
        "url",
        "browser_download_url",
        "id",
        "node_id",
        "name",
        "label",
        "state",
        "content_type",
        "size",
        "download_count",
        "created_at",
        "updated_at",
        "uploader",
    ];
    for key in asset_keys {
        assert!(assets[0].get(key).is_some(), "asset lacks `{key}`");
    }
    assert_eq!(
        assets[0]["digest"],
        format!("sha256:{}", sha256_hex(b"new binary"))
    );
    assert!(assets[1]["digest"].is_null() && assets[1].get("digest").is_some());
    assert!(assets[2].get("digest").is_none());
    assert_ne!(
        assets[3]["digest"],
        format!("sha256:{}", sha256_hex(b"bytes"))
    );
    assert_eq!(assets[0]["size"], 10);

    let url = assets[0]["browser_download_url"].as_str().unwrap();
    assert!(url.starts_with(&world.base_url()));
    assert_eq!(
        url,
        fixture.download_url("v0.10.8", "clash-rs-x86_64-unknown-linux-musl")
    );
    assert_eq!(http::get(url).unwrap().body, b"new binary");

    // The API asset URL redirects to the download, as GitHub's does with Accept: octet-stream.
    let api_asset = http::get(assets[0]["url"].as_str().unwrap()).unwrap();
    assert_eq!(api_asset.status, 302);
    assert_eq!(api_asset.header("location"), Some(url));

    let tagged = http::get(&world.url(&format!("{repo}/releases/tags/latest"))).unwrap();
    let tagged = tagged.json();
    assert_eq!(tagged["prerelease"], true);
    let sums_url = tagged["assets"][1]["browser_download_url"]
        .as_str()
        .unwrap();
    assert!(sums_url.ends_with("/sha256sums.txt"));
    assert_eq!(
        http::get(sums_url).unwrap().text(),
        format!(
            "{} *clash-rs-x86_64-unknown-linux-musl\n",
            sha256_hex(b"nightly")
        )
    );
    let old_sums = http::get(&fixture.download_url("v0.9.5", "sha256sums.txt")).unwrap();
    assert_eq!(
        old_sums.text(),
        format!(
            "{}  clash-x86_64-unknown-linux-musl\n{}  version.txt\n",
            sha256_hex(b"old binary"),
            sha256_hex(b"0.9.5\n")
        )
    );

    let draft = http::get(&world.url(&format!("{repo}/releases/tags/v0.11.0"))).unwrap();
    assert_eq!(draft.status, 404);
    assert_eq!(draft.json()["message"], "Not Found");
}

#[test]
fn world_github_latest_is_404_without_a_stable_release() {
    let world = World::start();
    world.github_release_fixture(
        "o",
        "r",
        &[FixtureRelease::new("nightly", "2025-01-01T00:00:00Z").prerelease()],
    );
    let latest = http::get(&world.url("/api/repos/o/r/releases/latest")).unwrap();
    assert_eq!(latest.status, 404);
}

#[test]
fn world_token_registry_challenges_then_serves_with_the_token() {
    let world = World::start();
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
    let fixture = world.token_registry_fixture("nvidia/cuda", "12.8.1", OCI_INDEX, manifest);
    assert_eq!(fixture.host, world.addr().to_string());

    let ping = http::get(&world.url("/v2/")).unwrap();
    assert_eq!(ping.status, 401);
    let challenge = ping.header("www-authenticate").unwrap();
    assert!(challenge.starts_with(&format!("Bearer realm=\"{}\"", world.url("/token"))));
    assert!(!challenge.contains("scope="));

    let path = "/v2/nvidia/cuda/manifests/12.8.1";
    let denied = http::request("HEAD", &world.url(path), &[("Accept", ACCEPT_ALL)], &[]).unwrap();
    assert_eq!(denied.status, 401);
    assert!(
        denied
            .header("www-authenticate")
            .unwrap()
            .ends_with(",scope=\"repository:nvidia/cuda:pull\"")
    );

    let token =
        http::get(&world.url("/token?service=registry.test&scope=repository:nvidia/cuda:pull"))
            .unwrap()
            .json();
    assert_eq!(token["token"], fixture.token.as_str());
    let bearer = format!("Bearer {}", fixture.token);
    let auth = [("Authorization", bearer.as_str()), ("Accept", ACCEPT_ALL)];

    let head = http::request("HEAD", &world.url(path), &auth, &[]).unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("docker-content-digest"),
        Some(fixture.digest.as_str())
    );
    assert_eq!(head.content_length(), Some(manifest.len()));
    let by_digest = format!("/v2/nvidia/cuda/manifests/{}", fixture.digest);
    let got = http::request("GET", &world.url(&by_digest), &auth, &[]).unwrap();
    assert_eq!(got.body, manifest);
    assert_eq!(got.header("content-type"), Some(OCI_INDEX));
    assert_eq!(
        http::request("GET", &world.url("/v2/"), &auth, &[])
            .unwrap()
            .status,
        200
    );
}

#[test]
fn registry_serves_pushed_two_platform_indexes() {
    let Some(registry) = registry::shared() else {
        return;
    };
    for (repo, kind, media_type) in [
        ("selftest/oci", IndexKind::Oci, OCI_INDEX),
        ("selftest/dockerlist", IndexKind::DockerList, DOCKER_LIST),
    ] {
        let pushed = registry.push_two_platform_index(repo, "1.0", kind);
        assert_eq!(pushed.manifests.len(), 2);
        assert_eq!(pushed.manifests[0].0, "linux/amd64");
        assert_eq!(pushed.manifests[1].0, "linux/arm64");

        let got = registry.get_manifest(repo, "1.0", ACCEPT_ALL);
        assert_eq!(got.status, 200, "{}", got.text());
        assert_eq!(got.header("content-type"), Some(media_type));
        assert_eq!(
            got.header("docker-content-digest"),
            Some(pushed.index_digest.as_str())
        );
        assert_eq!(
            format!("sha256:{}", sha256_hex(&got.body)),
            pushed.index_digest
        );
        let index = got.json();
        assert_eq!(index["manifests"][1]["platform"]["architecture"], "arm64");
        assert_eq!(index["manifests"][1]["platform"]["variant"], "v8");

        let head = registry.head_manifest(repo, "1.0", ACCEPT_ALL);
        assert_eq!(head.status, 200);
        assert_eq!(
            head.header("docker-content-digest"),
            Some(pushed.index_digest.as_str())
        );

        let child = registry.get_manifest(repo, pushed.digest_for("linux/arm64"), ACCEPT_ALL);
        assert_eq!(child.status, 200);
        assert_eq!(
            child.header("content-type"),
            Some(kind.manifest_media_type())
        );
    }

    let oci = registry.get_manifest("selftest/oci", "1.0", OCI_INDEX);
    assert_eq!(oci.status, 200);
    assert_eq!(oci.header("content-type"), Some(OCI_INDEX));
}

#[test]
fn registry_index_with_attestations_and_single_manifest() {
    let Some(registry) = registry::shared() else {
        return;
    };
    let pushed = registry.push_two_platform_index_with_attestations("selftest/attested", "2");
    assert_eq!(pushed.attestations.len(), 2);
    let index = registry
        .get_manifest("selftest/attested", "2", ACCEPT_ALL)
        .json();
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 4);
    let unknown: Vec<_> = entries
        .iter()
        .filter(|e| e["platform"]["os"] == "unknown")
        .collect();
    assert_eq!(unknown.len(), 2);
    assert_eq!(
        unknown[0]["annotations"]["vnd.docker.reference.type"],
        "attestation-manifest"
    );
    assert_eq!(unknown[0]["mediaType"], OCI_MANIFEST);

    let digest = registry.push_single_manifest("selftest/single", "latest");
    let got = registry.get_manifest("selftest/single", "latest", ACCEPT_ALL);
    assert_eq!(got.header("docker-content-digest"), Some(digest.as_str()));
    assert_eq!(got.json()["layers"].as_array().unwrap().len(), 1);
}

#[test]
fn buildah_builds_on_the_tiny_base() {
    if !tools::require_all(&[tools::TINY_BUILD]) {
        return;
    }
    let Some(registry) = registry::shared() else {
        return;
    };
    let base = tiny_base(registry);
    assert_eq!(base, format!("{}/modelbench-test/tiny:1", registry.host()));

    let dir = temp_dir();
    let context = dir.path().join("context");
    std::fs::create_dir_all(&context).unwrap();
    let dockerfile = context.join("Dockerfile");
    std::fs::write(
        &dockerfile,
        format!("FROM {base}\nRUN sha256sum /bin/busybox > /busybox.sha256\n"),
    )
    .unwrap();
    let buildah = Buildah::new(&dir.path().join("buildah"));
    let built = buildah.bud(&context, &dockerfile, "localhost/selftest:1", &[]);
    assert!(built.success(), "build on the tiny base failed");

    let sum = buildah.run_in("localhost/selftest:1", &["cat", "/busybox.sha256"]);
    assert!(sum.success());
    let expected = sha256_hex(&std::fs::read("/bin/busybox").unwrap());
    assert_eq!(sum.stdout, format!("{expected}  /bin/busybox\n"));

    let tmp = buildah.run_in("localhost/selftest:1", &["stat", "-c", "%a", "/tmp"]);
    assert_eq!(tmp.stdout.trim(), "1777");
}

#[test]
fn buildah_pulls_fixture_images_pushed_to_the_registry() {
    if !tools::require_all(&[tools::TINY_BUILD]) {
        return;
    }
    // The fixture layers are real tar.gz, so a build can use the pushed images, not just resolve them.
    let Some(registry) = registry::shared() else {
        return;
    };
    let base = tiny_base(registry);
    let pushed = registry.push_two_platform_index("selftest/pullable", "1", IndexKind::DockerList);
    let amd64 = registry.reference("selftest/pullable", pushed.digest_for("linux/amd64"));

    let dir = temp_dir();
    let dockerfile = dir.path().join("Dockerfile");
    std::fs::write(
        &dockerfile,
        format!(
            "FROM {base}\nCOPY --from={amd64} /etc/modelbench-platform /platform\nRUN cat /platform\n"
        ),
    )
    .unwrap();
    let buildah = Buildah::new(&dir.path().join("buildah"));
    let built = buildah.bud(dir.path(), &dockerfile, "localhost/selftest-pull:1", &[]);
    assert!(built.success(), "build from a pushed fixture image failed");
    built.assert_stdout_contains("linux/amd64");
}
