//! The seed's base (`nvidia/cuda:…-cudnn-devel-…`) as its size matters to `lock`: a
//! bottom layer with the dpkg status and `SEED_BENCH_LAYERS` gzip layers of
//! `SEED_BENCH_LAYER_MB` MiB of incompressible data above it (CUDA's libraries do not
//! compress much either), so the status is found only below gigabytes of layers read
//! top down. Generated once per size under the bench's cache, reused after.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::server::{Body, Route, Server};
use crate::support::{Hashing, tar_header, write_noise};

pub const REPOSITORY: &str = "nvidia/cuda";
pub const TAG: &str = "12.8.1-cudnn-devel-ubuntu24.04";

pub struct Layer {
    pub path: PathBuf,
    /// Of the gzip blob.
    pub digest: String,
    /// Of the tar inside (the config's `diff_ids`).
    pub diff_id: String,
    pub size: u64,
}

/// A gzip tar layer of `files` (name, size, content source), written once to `path`
/// (temp file and rename); its digest is kept next to it.
/// Writes a file's `size` bytes of content.
type Content<'a> = &'a dyn Fn(&mut dyn Write, u64);

fn layer(path: &Path, files: &[(&str, u64, Content<'_>)]) -> Layer {
    let digest_file = path.with_extension("digest");
    if let (Ok(digests), Ok(meta)) = (std::fs::read_to_string(&digest_file), path.metadata())
        && let Some((digest, diff_id)) = digests.trim().split_once('\n')
    {
        return Layer {
            path: path.to_path_buf(),
            digest: digest.to_string(),
            diff_id: diff_id.to_string(),
            size: meta.len(),
        };
    }
    let temp = path.with_extension("part");
    let file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&temp).unwrap());
    let hashing = Hashing {
        inner: file,
        hasher: Sha256::new(),
    };
    let gz = flate2::write::GzEncoder::new(hashing, flate2::Compression::fast());
    let mut tar = Hashing {
        inner: gz,
        hasher: Sha256::new(),
    };
    for (name, size, write) in files {
        tar.write_all(&tar_header(name, *size)).unwrap();
        write(&mut tar, *size);
        tar.write_all(&vec![0u8; (size.div_ceil(512) * 512 - size) as usize])
            .unwrap();
    }
    tar.write_all(&[0u8; 1024]).unwrap();
    let diff_id = format!("sha256:{}", hex::encode(tar.hasher.finalize()));
    let mut hashing = tar.inner.finish().unwrap();
    hashing.flush().unwrap();
    drop(hashing.inner);
    let digest = format!("sha256:{}", hex::encode(hashing.hasher.finalize()));
    std::fs::rename(&temp, path).unwrap();
    std::fs::write(&digest_file, format!("{digest}\n{diff_id}\n")).unwrap();
    let size = path.metadata().unwrap().len();
    Layer {
        path: path.to_path_buf(),
        digest,
        diff_id,
        size,
    }
}

/// xorshift bytes: incompressible, and the same every time.
fn noise(seed: u64) -> impl Fn(&mut dyn Write, u64) {
    move |out, size| write_noise(out, size, seed)
}

/// The base's layers, bottom first: the status layer, then the large ones.
pub fn generate(cache: &Path, status: &[u8], layers: usize, layer_mb: u64) -> Vec<Layer> {
    let status_hash = &hex::encode(Sha256::digest(status))[..16];
    let dir = cache.join("image");
    std::fs::create_dir_all(&dir).unwrap();
    let write_status = |out: &mut dyn Write, _: u64| out.write_all(status).unwrap();
    let mut all = vec![layer(
        &dir.join(format!("status-{status_hash}.tar.gz")),
        &[("var/lib/dpkg/status", status.len() as u64, &write_status)],
    )];
    for index in 0..layers {
        eprintln!(
            "seed bench: base layer {} of {layers} ({layer_mb} MiB)",
            index + 1
        );
        let fill = noise(index as u64);
        all.push(layer(
            &dir.join(format!("filler-{index}-{layer_mb}MiB.tar.gz")),
            &[(
                &format!("usr/local/cuda/lib64/libfiller{index}.so"),
                layer_mb << 20,
                &fill,
            )],
        ));
    }
    all
}

pub fn serve(server: &Server, layers: &[Layer]) {
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/cuda/bin:/usr/bin:/bin", "CUDA_VERSION=12.8.1"]},
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>()},
    })
    .to_string()
    .into_bytes();
    let config_digest = format!("sha256:{}", hex::encode(Sha256::digest(&config)));
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config.len(),
        },
        "layers": layers.iter().map(|l| serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": l.digest,
            "size": l.size,
        })).collect::<Vec<_>>(),
    })
    .to_string()
    .into_bytes();
    let manifest_digest = format!("sha256:{}", hex::encode(Sha256::digest(&manifest)));
    let v2 = format!("/v2/{REPOSITORY}");
    for path in [
        format!("{v2}/manifests/{TAG}"),
        format!("{v2}/manifests/{manifest_digest}"),
    ] {
        server.route(
            path,
            Route {
                content_type: "application/vnd.oci.image.manifest.v1+json",
                etag: Some(format!("\"{manifest_digest}\"")),
                body: Body::Bytes(manifest.clone()),
            },
        );
    }
    server.route(
        format!("{v2}/blobs/{config_digest}"),
        Route {
            content_type: "application/octet-stream",
            etag: Some(format!("\"{config_digest}\"")),
            body: Body::Bytes(config),
        },
    );
    for layer in layers {
        server.route(
            format!("{v2}/blobs/{}", layer.digest),
            Route {
                content_type: "application/octet-stream",
                etag: Some(format!("\"{}\"", layer.digest)),
                body: Body::File(layer.path.clone()),
            },
        );
    }
}
