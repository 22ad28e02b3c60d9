//! Decompressing what upstreams send (apt's `Packages.xz`/`.gz`, conda's gzip-encoded
//! `repodata.json` and its `repodata.json.zst`) with a bound on what comes out: a few MB of gzip can inflate to
//! gigabytes, and an index is held in memory whole. The bound is the smaller of the
//! caller's absolute limit and [`MAX_RATIO`] times the compressed size (never below
//! [`RATIO_FLOOR`]), so a decompression bomb is refused after a bounded amount of work,
//! whatever its size.

use std::io::Read;

/// No real index shrinks more than this: apt's `Packages` about 4× (gzip) to 10× (xz),
/// conda-forge's repodata about 8× (gzip) to 15× (zstd); a gzip bomb about 1000×.
pub const MAX_RATIO: u64 = 64;
/// Below this, any ratio is accepted (tiny indexes compress oddly well).
pub const RATIO_FLOOR: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gzip,
    Xz,
    Zstd,
}

impl Encoding {
    fn name(self) -> &'static str {
        match self {
            Encoding::Gzip => "gzip",
            Encoding::Xz => "xz",
            Encoding::Zstd => "zstd",
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
    if encoding == Encoding::Zstd {
        let mut stream = ZstdStream::new(url, limit)?;
        stream.feed(body)?;
        return stream.finish();
    }
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
        Encoding::Zstd => {
            let mut stream = ZstdStream::new(url, limit)?;
            stream.feed(body)?;
            let out = stream.finish()?;
            sink(&out);
            return Ok(out.len() as u64);
        }
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

/// A zstd stream decoded piece by piece as it arrives (conda's `repodata.json.zst`), so
/// the compressed body is never held: after every piece, what came out may not pass
/// [`bound`] of what went in so far, and the decoder stops inside the piece that passes
/// it (one 128 KiB zstd block can stand for gigabytes of zeros).
pub struct ZstdStream {
    url: String,
    limit: u64,
    decoder: zstd::stream::raw::Decoder<'static>,
    /// The decoder's output window, reused for every step.
    window: Vec<u8>,
    compressed: u64,
    out: Vec<u8>,
    /// Whether the last step ended a frame (a stream cut inside a frame is invalid).
    frame_ended: bool,
}

impl ZstdStream {
    /// A decoder for the zstd body of `url`, at most `limit` bytes once decoded.
    pub fn new(url: &str, limit: u64) -> Result<ZstdStream, InflateError> {
        let decoder = zstd::stream::raw::Decoder::new()
            .map_err(|err| invalid(Encoding::Zstd, url, err.to_string()))?;
        Ok(ZstdStream {
            url: url.to_string(),
            limit,
            decoder,
            window: vec![0; 128 * 1024],
            compressed: 0,
            out: Vec::new(),
            frame_ended: false,
        })
    }

    /// Decode the next piece of the body.
    pub fn feed(&mut self, mut piece: &[u8]) -> Result<(), InflateError> {
        use zstd::stream::raw::Operation;
        self.compressed += piece.len() as u64;
        let bound = bound(self.compressed, self.limit);
        loop {
            let status = self
                .decoder
                .run_on_buffers(piece, &mut self.window)
                .map_err(|err| invalid(Encoding::Zstd, &self.url, err.to_string()))?;
            piece = &piece[status.bytes_read..];
            if (self.out.len() + status.bytes_written) as u64 > bound {
                return Err(InflateError::TooLarge {
                    url: super::redact(&self.url),
                    encoding: Encoding::Zstd.name(),
                    compressed: self.compressed,
                    limit: bound,
                });
            }
            self.out
                .extend_from_slice(&self.window[..status.bytes_written]);
            if status.bytes_read > 0 || status.bytes_written > 0 {
                self.frame_ended = status.remaining == 0;
            }
            // Done when the piece is used up and the window was not filled (a full
            // window may leave output inside the decoder); no progress at all cannot
            // happen with room in the window, but must not spin.
            let drained = piece.is_empty() && status.bytes_written < self.window.len();
            if drained || (status.bytes_read == 0 && status.bytes_written == 0) {
                return Ok(());
            }
        }
    }

    /// The decoded body, once the whole stream was fed.
    pub fn finish(self) -> Result<Vec<u8>, InflateError> {
        if !self.frame_ended {
            return Err(invalid(
                Encoding::Zstd,
                &self.url,
                format!(
                    "the stream ends inside a frame after {} bytes",
                    self.compressed
                ),
            ));
        }
        Ok(self.out)
    }
}

fn invalid(encoding: Encoding, url: &str, message: String) -> InflateError {
    InflateError::Invalid {
        url: super::redact(url),
        encoding: encoding.name(),
        message,
    }
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

    #[test]
    fn zstd_streams_piece_by_piece_within_the_same_bound() {
        let honest = b"{\"name\":\"jq\",\"version\":\"1.7.1\"},".repeat(20_000);
        let packed = zstd::bulk::compress(&honest, 19).unwrap();
        let mut stream = ZstdStream::new("u", 1 << 40).unwrap();
        for piece in packed.chunks(777) {
            stream.feed(piece).unwrap();
        }
        assert_eq!(stream.finish().unwrap(), honest);

        // 1 GiB of zeros is a few dozen KB of zstd: refused once past 64 MiB, long
        // before the gigabyte is made.
        let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        let mib = vec![0u8; 1 << 20];
        for _ in 0..1024 {
            encoder.write_all(&mib).unwrap();
        }
        let bomb = encoder.finish().unwrap();
        let mut stream = ZstdStream::new("https://mirror.example/r.json.zst", 1 << 40).unwrap();
        let err = bomb
            .chunks(16 * 1024)
            .try_for_each(|piece| stream.feed(piece))
            .unwrap_err();
        assert!(
            matches!(err, InflateError::TooLarge { limit, .. } if limit == RATIO_FLOOR),
            "{err}"
        );
        assert!(stream.out.len() as u64 <= RATIO_FLOOR);

        // A stream cut inside its frame, and bytes that are not zstd, are invalid.
        let cut = &packed[..packed.len() / 2];
        let err = inflate(Encoding::Zstd, cut, "u", 1 << 40).unwrap_err();
        assert!(err.to_string().contains("ends inside a frame"), "{err}");
        assert!(matches!(
            inflate(Encoding::Zstd, b"not zstd at all", "u", 1 << 40),
            Err(InflateError::Invalid {
                encoding: "zstd",
                ..
            })
        ));
        // The absolute limit holds for zstd too.
        assert!(matches!(
            inflate(Encoding::Zstd, &packed, "u", 100),
            Err(InflateError::TooLarge { limit: 100, .. })
        ));
    }
}
