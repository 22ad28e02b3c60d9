//! Decompressing what upstreams send (apt's `Packages.xz`/`.gz`, conda's gzip-encoded
//! `repodata.json`) with a bound on what comes out: a few MB of gzip can inflate to
//! gigabytes, and an index is held in memory whole. The bound is the smaller of the
//! caller's absolute limit and [`MAX_RATIO`] times the compressed size (never below
//! [`RATIO_FLOOR`]), so a decompression bomb is refused after a bounded amount of work,
//! whatever its size.

use std::io::Read;

/// No real index shrinks more than this: apt's `Packages` about 4× (gzip) to 10× (xz),
/// conda-forge's repodata about 8× (gzip); a gzip bomb about 1000×.
pub const MAX_RATIO: u64 = 64;
/// Below this, any ratio is accepted (tiny indexes compress oddly well).
pub const RATIO_FLOOR: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gzip,
    Xz,
}

impl Encoding {
    fn name(self) -> &'static str {
        match self {
            Encoding::Gzip => "gzip",
            Encoding::Xz => "xz",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InflateError {
    #[error(
        "{url} inflates to more than {} ({} of {encoding}); refused as a decompression bomb",
        size_text(*limit),
        size_text(*compressed)
    )]
    TooLarge {
        url: String,
        encoding: &'static str,
        compressed: u64,
        limit: u64,
    },
    #[error("{url} is not valid {encoding} data: {message}")]
    Invalid {
        url: String,
        encoding: &'static str,
        message: String,
    },
}

/// `192 MiB`, or the bytes when not a whole number of MiB.
fn size_text(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

/// The most `compressed` bytes may inflate to under an absolute `limit`.
pub fn bound(compressed: u64, limit: u64) -> u64 {
    compressed
        .saturating_mul(MAX_RATIO)
        .max(RATIO_FLOOR)
        .min(limit)
}

/// `body` decompressed, refused once it passes [`bound`] (`url` names it in errors).
pub fn inflate(
    encoding: Encoding,
    body: &[u8],
    url: &str,
    limit: u64,
) -> Result<Vec<u8>, InflateError> {
    let mut out = Vec::new();
    inflate_into(encoding, body, url, limit, &mut |piece| {
        out.extend_from_slice(piece)
    })?;
    Ok(out)
}

/// `body` decompressed piece by piece into `sink`, so a caller that reads the text as
/// it comes never holds all of it; refused once the total passes [`bound`] (what the
/// sink saw by then is to be thrown away). Returns the decompressed size.
pub fn inflate_into(
    encoding: Encoding,
    body: &[u8],
    url: &str,
    limit: u64,
    sink: &mut dyn FnMut(&[u8]),
) -> Result<u64, InflateError> {
    let bound = bound(body.len() as u64, limit);
    let reader: Box<dyn Read + '_> = match encoding {
        Encoding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(body)),
        // Concatenated streams too, as xz-utils reads them.
        Encoding::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(body)),
    };
    let mut reader = reader.take(bound + 1);
    let mut buffer = vec![0u8; PIECE];
    let mut total = 0u64;
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => {
                return Err(InflateError::Invalid {
                    url: super::redact(url),
                    encoding: encoding.name(),
                    message: err.to_string(),
                });
            }
        };
        total += read as u64;
        if total > bound {
            return Err(InflateError::TooLarge {
                url: super::redact(url),
                encoding: encoding.name(),
                compressed: body.len() as u64,
                limit: bound,
            });
        }
        sink(&buffer[..read]);
    }
    Ok(total)
}

/// How much decompressed text is handed over at a time.
const PIECE: usize = 256 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn the_bound_follows_the_compressed_size_between_a_floor_and_the_limit() {
        let limit = 2 * 1024 * 1024 * 1024;
        assert_eq!(bound(1000, limit), RATIO_FLOOR);
        assert_eq!(bound(3 << 20, limit), 192 << 20);
        assert_eq!(bound(1 << 30, limit), limit);
        assert_eq!(bound(1 << 30, 1000), 1000);
    }

    #[test]
    fn a_gzip_bomb_is_refused_and_an_honest_index_is_not() {
        // 200 MB of zeros gzip to about 200 KB: ~1000×.
        let zeros = vec![0u8; 200 << 20];
        let bomb = gzip(&zeros);
        drop(zeros);
        let err = inflate(
            Encoding::Gzip,
            &bomb,
            "https://mirror.example/r.json",
            1 << 40,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            format!(
                "https://mirror.example/r.json inflates to more than 64 MiB ({} bytes of gzip); refused as a decompression bomb",
                bomb.len()
            )
        );
        let honest = b"Package: a\nVersion: 1\n\n".repeat(1000);
        let out = inflate(Encoding::Gzip, &gzip(&honest), "u", 1 << 40).unwrap();
        assert_eq!(out, honest);
        // The absolute limit holds below the floor too.
        assert!(matches!(
            inflate(Encoding::Gzip, &gzip(&honest), "u", 100),
            Err(InflateError::TooLarge { limit: 100, .. })
        ));
        assert!(matches!(
            inflate(Encoding::Xz, b"not xz", "u", 100),
            Err(InflateError::Invalid { encoding: "xz", .. })
        ));
    }
}
