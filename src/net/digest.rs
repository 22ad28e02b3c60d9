//! Content hashes as the lock writes them (`sha256:<hex>`, `sha512:<hex>`), their parsing
//! from upstream forms (`sha256:<hex>` digests, npm's `sha512-<base64>` SRI), and the
//! streaming hasher downloads feed.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use sha2::{Digest, Sha256, Sha512};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HashAlgorithm {
    Sha256,
    Sha512,
}

impl HashAlgorithm {
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            HashAlgorithm::Sha256 => 64,
            HashAlgorithm::Sha512 => 128,
        }
    }
}

/// An algorithm and a lowercase hex value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hash {
    pub algorithm: HashAlgorithm,
    hex: String,
}

impl Hash {
    pub fn new(algorithm: HashAlgorithm, hex: &str) -> Result<Hash, String> {
        let hex = hex.trim().to_ascii_lowercase();
        if hex.len() != algorithm.hex_len() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "`{hex}` is not a {} value ({} hex digits)",
                algorithm.name(),
                algorithm.hex_len()
            ));
        }
        Ok(Hash { algorithm, hex })
    }

    pub fn sha256_hex(hex: &str) -> Result<Hash, String> {
        Hash::new(HashAlgorithm::Sha256, hex)
    }

    pub fn of_sha256(bytes: &[u8]) -> Hash {
        Hash {
            algorithm: HashAlgorithm::Sha256,
            hex: hex::encode(Sha256::digest(bytes)),
        }
    }

    /// npm's Subresource Integrity form, `sha512-<base64>`.
    pub fn from_sri(sri: &str) -> Result<Hash, String> {
        // An SRI string may list several hashes; take the strongest we know.
        let mut best: Option<Hash> = None;
        for part in sri.split_whitespace() {
            let Some((algorithm, value)) = part.split_once('-') else {
                continue;
            };
            let algorithm = match algorithm {
                "sha512" => HashAlgorithm::Sha512,
                "sha256" => HashAlgorithm::Sha256,
                _ => continue,
            };
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(value.split('?').next().unwrap_or(value))
                .map_err(|err| format!("integrity `{sri}` is not base64: {err}"))?;
            let hash = Hash::new(algorithm, &hex::encode(bytes))?;
            if best.as_ref().is_none_or(|b| b.algorithm < hash.algorithm) {
                best = Some(hash);
            }
        }
        best.ok_or_else(|| format!("integrity `{sri}` has no sha256 or sha512 value"))
    }

    pub fn to_sri(&self) -> String {
        let bytes = hex::decode(&self.hex).expect("validated hex");
        format!(
            "{}-{}",
            self.algorithm.name(),
            base64::engine::general_purpose::STANDARD.encode(bytes)
        )
    }

    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

impl FromStr for Hash {
    type Err = String;

    fn from_str(text: &str) -> Result<Hash, String> {
        let (algorithm, hex) = text
            .split_once(':')
            .ok_or_else(|| format!("`{text}` is not `<algorithm>:<hex>`"))?;
        let algorithm = match algorithm {
            "sha256" => HashAlgorithm::Sha256,
            "sha512" => HashAlgorithm::Sha512,
            other => return Err(format!("unsupported hash algorithm `{other}` in `{text}`")),
        };
        Hash::new(algorithm, hex)
    }
}

impl serde::Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Hash, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Hashes a stream with sha256 always (the lock's common currency) and sha512 when the
/// expected value is one (npm integrity).
pub(super) struct MultiHasher {
    sha256: Sha256,
    sha512: Option<Sha512>,
}

pub(super) struct Hashed {
    pub sha256: Hash,
    pub sha512: Option<Hash>,
    pub size: u64,
}

impl Hashed {
    pub fn hash(&self, algorithm: HashAlgorithm) -> Hash {
        match algorithm {
            HashAlgorithm::Sha256 => self.sha256.clone(),
            HashAlgorithm::Sha512 => self.sha512.clone().expect("sha512 requested up front"),
        }
    }
}

impl MultiHasher {
    pub fn new(also: Option<HashAlgorithm>) -> MultiHasher {
        MultiHasher {
            sha256: Sha256::new(),
            sha512: (also == Some(HashAlgorithm::Sha512)).then(Sha512::new),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.sha256.update(bytes);
        if let Some(sha512) = &mut self.sha512 {
            sha512.update(bytes);
        }
    }

    pub fn finish(self, size: u64) -> Hashed {
        Hashed {
            sha256: Hash {
                algorithm: HashAlgorithm::Sha256,
                hex: hex::encode(self.sha256.finalize()),
            },
            sha512: self.sha512.map(|h| Hash {
                algorithm: HashAlgorithm::Sha512,
                hex: hex::encode(h.finalize()),
            }),
            size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sri_round_trips() {
        // claude-code@2.1.332's published integrity (sources.md §6).
        let sri = "sha512-tvSh6bLvEbd97APD31AnojOrRC3AmcRj5R8sF8QIQitu3x2ucOb1kKmTkGDw41kjva+CGJfpkt+wYouk6yv56Q==";
        let hash = Hash::from_sri(sri).unwrap();
        assert_eq!(hash.algorithm, HashAlgorithm::Sha512);
        assert_eq!(hash.to_sri(), sri);
    }

    #[test]
    fn parses_and_rejects() {
        let text = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(text.parse::<Hash>().unwrap().to_string(), text);
        assert!("sha256:abc".parse::<Hash>().is_err());
        assert!("md5:abc".parse::<Hash>().is_err());
        assert!("abc".parse::<Hash>().is_err());
    }
}
