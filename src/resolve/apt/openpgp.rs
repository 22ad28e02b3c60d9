//! OpenPGP signature checks for archive metadata: `InRelease` (cleartext-signed) and
//! `Release` + `Release.gpg` (detached), against a keyring file, as apt does with `gpgv`.
//!
//! Scope, deliberately small: version 4 keys and signatures, RSA (the algorithm of the
//! Debian, Ubuntu and NVIDIA archive keys) with SHA-256/384/512 in PKCS#1 v1.5 form. The
//! check computes `s^e mod n` and compares it byte for byte with the expected encoding
//! (no parsing of the decrypted block). A signature by a key type outside that scope
//! (Debian's additional Ed25519 release-key signature) is skipped, not trusted.
//!
//! The rules follow apt's use of `gpgv`: at least one good signature by a usable key of
//! the keyring (not expired, not revoked, allowed to sign) is required, and any bad
//! signature by a keyring key fails the check even when another one is good. SHA-1
//! signatures count as bad, as in apt ≥ 2.4. Keyring files may be binary (`.gpg`) or
//! ASCII-armored (`.asc`); `gpg` keybox files are refused with a clear message.

use std::fmt;

use base64::Engine;
use num_bigint::BigUint;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("malformed OpenPGP data: {0}")]
    Malformed(String),
    #[error("no good signature by a key of the keyring: {0}")]
    NotVerified(String),
    #[error(
        "BAD signature by key {0}: the signed text was modified or the signature is not for it"
    )]
    Bad(String),
}

fn malformed(message: impl Into<String>) -> SignatureError {
    SignatureError::Malformed(message.into())
}

/// A parsed keyring: primary keys with their subkeys and what their self-signatures
/// say about validity.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: Vec<Key>,
}

#[derive(Debug, Clone)]
struct Key {
    fingerprint: [u8; 20],
    created: u32,
    algorithm: u8,
    rsa: Option<(BigUint, BigUint)>,
    /// Seconds after creation, from the newest self-signature (0 = never).
    expires_after: u32,
    revoked: bool,
    /// From the key-flags subpacket, if any: may it sign data?
    can_sign: Option<bool>,
    /// Primary key's fingerprint for subkeys (messages name the primary).
    primary: Option<[u8; 20]>,
    user_id: Option<String>,
}

impl Key {
    fn key_id(&self) -> [u8; 8] {
        self.fingerprint[12..].try_into().expect("8 bytes")
    }

    fn describe(&self) -> String {
        let fingerprint = hex::encode_upper(self.primary.unwrap_or(self.fingerprint));
        match &self.user_id {
            Some(user) => format!("{fingerprint} ({user})"),
            None => fingerprint,
        }
    }
}

/// What a successful check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Fingerprints (with user id) of the keys whose signatures were good.
    pub signers: Vec<String>,
    /// The signed text (for a cleartext signature, with dash-escapes removed).
    pub text: String,
}

impl fmt::Display for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let primaries: Vec<String> = self
            .keys
            .iter()
            .filter(|k| k.primary.is_none())
            .map(Key::describe)
            .collect();
        write!(f, "{}", primaries.join(", "))
    }
}

impl Keyring {
    /// Parse a binary or ASCII-armored keyring (several may be concatenated).
    pub fn parse(bytes: &[u8]) -> Result<Keyring, SignatureError> {
        if bytes.len() >= 12 && &bytes[8..12] == b"KBXf" {
            return Err(malformed(
                "this is a GnuPG keybox, not an OpenPGP keyring; export it with `gpg --export`",
            ));
        }
        let mut keyring = Keyring::default();
        let text = String::from_utf8_lossy(bytes);
        if text.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
            let mut rest: &str = &text;
            while let Some(start) = rest.find("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
                let (block, after) = armor_block(&rest[start..], "PGP PUBLIC KEY BLOCK")?;
                keyring.add_packets(&block)?;
                rest = after;
            }
        } else {
            keyring.add_packets(bytes)?;
        }
        if keyring.keys.is_empty() {
            return Err(malformed("the keyring holds no public key"));
        }
        Ok(keyring)
    }

    pub fn merge(&mut self, other: Keyring) {
        self.keys.extend(other.keys);
    }

    /// Fingerprints of the primary keys and their subkeys (uppercase hex, file order).
    pub fn fingerprints(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| hex::encode_upper(k.fingerprint))
            .collect()
    }

    fn add_packets(&mut self, bytes: &[u8]) -> Result<(), SignatureError> {
        let mut primary: Option<usize> = None;
        let mut current: Option<usize> = None;
        for packet in packets(bytes)? {
            match packet.tag {
                6 | 14 => {
                    let mut key = parse_key(packet.body)?;
                    if packet.tag == 14 {
                        let Some(p) = primary else {
                            return Err(malformed("subkey without a primary key"));
                        };
                        key.primary = Some(self.keys[p].fingerprint);
                        key.user_id = self.keys[p].user_id.clone();
                        self.keys.push(key);
                        current = Some(self.keys.len() - 1);
                    } else {
                        self.keys.push(key);
                        primary = Some(self.keys.len() - 1);
                        current = primary;
                    }
                }
                13 => {
                    if let Some(p) = primary
                        && self.keys[p].user_id.is_none()
                    {
                        self.keys[p].user_id =
                            Some(String::from_utf8_lossy(packet.body).into_owned());
                    }
                }
                2 => {
                    let Some(index) = current else { continue };
                    let Ok(signature) = parse_signature(packet.body) else {
                        continue;
                    };
                    let key = &mut self.keys[index];
                    let on_subkey = key.primary.is_some();
                    match signature.sig_type {
                        // Self-certifications of a user id (on the primary key).
                        0x10..=0x13 if !on_subkey => key.apply(&signature),
                        // Subkey binding.
                        0x18 if on_subkey => key.apply(&signature),
                        0x1f if !on_subkey => key.apply(&signature),
                        0x20 if !on_subkey => key.revoked = true,
                        0x28 if on_subkey => key.revoked = true,
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        // A revoked primary takes its subkeys with it.
        let revoked: Vec<[u8; 20]> = self
            .keys
            .iter()
            .filter(|k| k.primary.is_none() && k.revoked)
            .map(|k| k.fingerprint)
            .collect();
        for key in &mut self.keys {
            if key.primary.is_some_and(|p| revoked.contains(&p)) {
                key.revoked = true;
            }
        }
        Ok(())
    }

    /// Check a cleartext-signed message (`InRelease`) at time `now` (Unix seconds).
    pub fn verify_cleartext(&self, message: &str, now: u64) -> Result<Verified, SignatureError> {
        let cleartext = Cleartext::parse(message)?;
        let signatures = parse_signatures(&cleartext.signature)?;
        let signers = self.check(&signatures, &cleartext.hash_input, &[], now)?;
        Ok(Verified {
            signers,
            text: cleartext.text,
        })
    }

    /// Check a detached signature (`Release.gpg`, armored or binary) over `data`.
    pub fn verify_detached(
        &self,
        data: &[u8],
        signature: &[u8],
        now: u64,
    ) -> Result<Verified, SignatureError> {
        let text = String::from_utf8_lossy(signature);
        let packet_bytes = if text.contains("-----BEGIN PGP SIGNATURE-----") {
            armor_block(
                &text[text.find("-----BEGIN PGP SIGNATURE-----").unwrap_or(0)..],
                "PGP SIGNATURE",
            )?
            .0
        } else {
            signature.to_vec()
        };
        let signatures = parse_signatures(&packet_bytes)?;
        let canonical = canonical_text(data);
        let signers = self.check(&signatures, data, &canonical, now)?;
        Ok(Verified {
            signers,
            text: String::from_utf8_lossy(data).into_owned(),
        })
    }

    /// `binary` is hashed for type-0 signatures, `text` (CRLF line ends) for type 1;
    /// cleartext messages pass their canonical form as `binary` and nothing as `text`.
    fn check(
        &self,
        signatures: &[Signature],
        binary: &[u8],
        text: &[u8],
        now: u64,
    ) -> Result<Vec<String>, SignatureError> {
        let mut good = Vec::new();
        let mut problems = Vec::new();
        for signature in signatures {
            let issuer = signature.issuer_text();
            let candidates: Vec<&Key> = self.keys.iter().filter(|k| signature.matches(k)).collect();
            if candidates.is_empty() {
                problems.push(format!("signature by unknown key {issuer}"));
                continue;
            }
            for key in candidates {
                if key.algorithm != 1 && key.algorithm != 3 {
                    problems.push(format!(
                        "signature by {} uses public-key algorithm {} (unsupported here)",
                        key.describe(),
                        key.algorithm
                    ));
                    continue;
                }
                let data = match signature.sig_type {
                    0x00 => binary,
                    0x01 if text.is_empty() => binary,
                    0x01 => text,
                    other => {
                        problems.push(format!(
                            "signature by {} has type {other:#04x}, not a document signature",
                            key.describe()
                        ));
                        continue;
                    }
                };
                match signature.verify(key, data) {
                    Ok(()) => {}
                    Err(reason) => {
                        if reason.is_bad {
                            return Err(SignatureError::Bad(format!(
                                "{} ({})",
                                key.describe(),
                                reason.text
                            )));
                        }
                        problems.push(format!("signature by {}: {}", key.describe(), reason.text));
                        continue;
                    }
                }
                if let Err(reason) = validity(signature, key, now) {
                    problems.push(format!("signature by {}: {reason}", key.describe()));
                    continue;
                }
                good.push(key.describe());
            }
        }
        if good.is_empty() {
            if problems.is_empty() {
                problems.push("the message carries no signature".into());
            }
            return Err(SignatureError::NotVerified(problems.join("; ")));
        }
        good.sort();
        good.dedup();
        Ok(good)
    }
}

fn validity(signature: &Signature, key: &Key, now: u64) -> Result<(), String> {
    if key.revoked {
        return Err("the key is revoked".into());
    }
    if key.can_sign == Some(false) {
        return Err("the key is not allowed to sign".into());
    }
    let Some(created) = signature.created else {
        return Err("the signature has no creation time".into());
    };
    if u64::from(created) > now + 24 * 3600 {
        return Err("the signature was made in the future".into());
    }
    if let Some(expires) = signature.expires_after
        && expires != 0
        && u64::from(created) + u64::from(expires) < now
    {
        return Err("the signature has expired".into());
    }
    if key.expires_after != 0 && u64::from(key.created) + u64::from(key.expires_after) < now {
        return Err("the key has expired".into());
    }
    Ok(())
}

impl Key {
    /// Take validity facts from a self-signature (the newest one wins).
    fn apply(&mut self, signature: &Signature) {
        if let Some(expires) = signature.key_expires_after {
            self.expires_after = expires;
        } else if signature.sig_type != 0x1f {
            self.expires_after = 0;
        }
        if let Some(flags) = signature.key_flags {
            self.can_sign = Some(flags & 0x02 != 0);
        }
    }
}

struct Packet<'a> {
    tag: u8,
    body: &'a [u8],
}

fn packets(mut bytes: &[u8]) -> Result<Vec<Packet<'_>>, SignatureError> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let header = bytes[0];
        if header & 0x80 == 0 {
            return Err(malformed("packet header without its high bit"));
        }
        let (tag, length, header_len) = if header & 0x40 != 0 {
            let tag = header & 0x3f;
            let first = *bytes
                .get(1)
                .ok_or_else(|| malformed("truncated packet header"))?
                as usize;
            match first {
                0..=191 => (tag, first, 2),
                192..=223 => {
                    let second = *bytes
                        .get(2)
                        .ok_or_else(|| malformed("truncated packet header"))?
                        as usize;
                    (tag, ((first - 192) << 8) + second + 192, 3)
                }
                255 => {
                    let len = bytes
                        .get(2..6)
                        .ok_or_else(|| malformed("truncated packet header"))?;
                    (
                        tag,
                        u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize,
                        6,
                    )
                }
                _ => {
                    return Err(malformed(
                        "partial-length packets are not expected in keys or signatures",
                    ));
                }
            }
        } else {
            let tag = (header >> 2) & 0x0f;
            match header & 0x03 {
                0 => (
                    tag,
                    *bytes
                        .get(1)
                        .ok_or_else(|| malformed("truncated packet header"))?
                        as usize,
                    2,
                ),
                1 => {
                    let len = bytes
                        .get(1..3)
                        .ok_or_else(|| malformed("truncated packet header"))?;
                    (
                        tag,
                        u16::from_be_bytes(len.try_into().expect("2 bytes")) as usize,
                        3,
                    )
                }
                2 => {
                    let len = bytes
                        .get(1..5)
                        .ok_or_else(|| malformed("truncated packet header"))?;
                    (
                        tag,
                        u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize,
                        5,
                    )
                }
                _ => (tag, bytes.len() - 1, 1),
            }
        };
        let body = bytes
            .get(header_len..header_len + length)
            .ok_or_else(|| malformed(format!("packet of {length} bytes is truncated")))?;
        out.push(Packet { tag, body });
        bytes = &bytes[header_len + length..];
    }
    Ok(out)
}

fn mpi(bytes: &[u8]) -> Result<(BigUint, &[u8]), SignatureError> {
    let bits = u16::from_be_bytes(
        bytes
            .get(..2)
            .ok_or_else(|| malformed("truncated MPI"))?
            .try_into()
            .expect("2 bytes"),
    ) as usize;
    let len = bits.div_ceil(8);
    let value = bytes
        .get(2..2 + len)
        .ok_or_else(|| malformed("truncated MPI"))?;
    Ok((BigUint::from_bytes_be(value), &bytes[2 + len..]))
}

fn parse_key(body: &[u8]) -> Result<Key, SignatureError> {
    if body.first() != Some(&4) {
        return Err(malformed(format!(
            "public key version {} (only version 4 is supported)",
            body.first().copied().unwrap_or(0)
        )));
    }
    let created = u32::from_be_bytes(
        body.get(1..5)
            .ok_or_else(|| malformed("truncated key"))?
            .try_into()
            .expect("4 bytes"),
    );
    let algorithm = *body.get(5).ok_or_else(|| malformed("truncated key"))?;
    let rsa = if algorithm == 1 || algorithm == 3 {
        let (n, rest) = mpi(&body[6..])?;
        let (e, _) = mpi(rest)?;
        Some((n, e))
    } else {
        None
    };
    let mut hasher = Sha1::new();
    hasher.update([0x99]);
    hasher.update((body.len() as u16).to_be_bytes());
    hasher.update(body);
    Ok(Key {
        fingerprint: hasher.finalize().into(),
        created,
        algorithm,
        rsa,
        expires_after: 0,
        revoked: false,
        can_sign: None,
        primary: None,
        user_id: None,
    })
}

#[derive(Debug, Clone)]
struct Signature {
    sig_type: u8,
    algorithm: u8,
    hash: u8,
    /// Version, type, algorithms and hashed subpackets: hashed after the data.
    hashed: Vec<u8>,
    left16: [u8; 2],
    value: Vec<BigUint>,
    created: Option<u32>,
    expires_after: Option<u32>,
    key_expires_after: Option<u32>,
    key_flags: Option<u8>,
    issuer: Option<[u8; 8]>,
    issuer_fingerprint: Option<[u8; 20]>,
    unknown_critical: Option<u8>,
}

struct Failure {
    text: String,
    /// A cryptographically wrong signature (as opposed to one we cannot judge).
    is_bad: bool,
}

impl Signature {
    fn issuer_text(&self) -> String {
        match (self.issuer_fingerprint, self.issuer) {
            (Some(fingerprint), _) => hex::encode_upper(fingerprint),
            (None, Some(id)) => hex::encode_upper(id),
            (None, None) => "(no issuer)".into(),
        }
    }

    fn matches(&self, key: &Key) -> bool {
        match (self.issuer_fingerprint, self.issuer) {
            (Some(fingerprint), _) => fingerprint == key.fingerprint,
            (None, Some(id)) => id == key.key_id(),
            // No issuer at all: try every key.
            (None, None) => true,
        }
    }

    fn verify(&self, key: &Key, data: &[u8]) -> Result<(), Failure> {
        let unsure = |text: &str| Failure {
            text: text.into(),
            is_bad: false,
        };
        if let Some(kind) = self.unknown_critical {
            return Err(unsure(&format!("unknown critical subpacket {kind}")));
        }
        if self.algorithm != 1 && self.algorithm != 3 {
            return Err(unsure(&format!(
                "public-key algorithm {} is not supported here",
                self.algorithm
            )));
        }
        let (prefix, digest): (&[u8], Vec<u8>) = match self.hash {
            8 => (SHA256_PREFIX, self.digest::<Sha256>(data)),
            9 => (SHA384_PREFIX, self.digest::<Sha384>(data)),
            10 => (SHA512_PREFIX, self.digest::<Sha512>(data)),
            2 => {
                return Err(Failure {
                    text: "SHA-1 signatures are not accepted".into(),
                    is_bad: true,
                });
            }
            other => {
                return Err(unsure(&format!(
                    "hash algorithm {other} is not supported here"
                )));
            }
        };
        let bad = |text: &str| Failure {
            text: text.into(),
            is_bad: true,
        };
        if digest[..2] != self.left16 {
            return Err(bad("digest mismatch"));
        }
        let (n, e) = key.rsa.as_ref().ok_or_else(|| unsure("not an RSA key"))?;
        let s = self
            .value
            .first()
            .ok_or_else(|| bad("missing signature value"))?;
        if s >= n {
            return Err(bad("signature value out of range"));
        }
        let k = (n.bits() as usize).div_ceil(8);
        let decrypted = s.modpow(e, n).to_bytes_be();
        let mut em = vec![0u8; k.saturating_sub(decrypted.len())];
        em.extend_from_slice(&decrypted);
        let t_len = prefix.len() + digest.len();
        if k < t_len + 11 {
            return Err(bad("key too short for this digest"));
        }
        let mut expected = Vec::with_capacity(k);
        expected.extend_from_slice(&[0x00, 0x01]);
        expected.resize(k - t_len - 1, 0xff);
        expected.push(0x00);
        expected.extend_from_slice(prefix);
        expected.extend_from_slice(&digest);
        if em != expected {
            return Err(bad("RSA check failed"));
        }
        Ok(())
    }

    fn digest<D: Digest>(&self, data: &[u8]) -> Vec<u8> {
        let mut hasher = D::new();
        hasher.update(data);
        hasher.update(&self.hashed);
        hasher.update([0x04, 0xff]);
        hasher.update((self.hashed.len() as u32).to_be_bytes());
        hasher.finalize().to_vec()
    }
}

const SHA256_PREFIX: &[u8] = &[
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
const SHA384_PREFIX: &[u8] = &[
    0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
    0x00, 0x04, 0x30,
];
const SHA512_PREFIX: &[u8] = &[
    0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05,
    0x00, 0x04, 0x40,
];

fn parse_signatures(bytes: &[u8]) -> Result<Vec<Signature>, SignatureError> {
    let mut out = Vec::new();
    for packet in packets(bytes)? {
        if packet.tag == 2 {
            // Versions other than 4 cannot be judged here; they are skipped like unknown keys.
            if let Ok(signature) = parse_signature(packet.body) {
                out.push(signature);
            }
        }
    }
    Ok(out)
}

fn parse_signature(body: &[u8]) -> Result<Signature, SignatureError> {
    if body.first() != Some(&4) {
        return Err(malformed("only version 4 signatures are supported"));
    }
    let short = || malformed("truncated signature");
    let sig_type = *body.get(1).ok_or_else(short)?;
    let algorithm = *body.get(2).ok_or_else(short)?;
    let hash = *body.get(3).ok_or_else(short)?;
    let hashed_len = u16::from_be_bytes(
        body.get(4..6)
            .ok_or_else(short)?
            .try_into()
            .expect("2 bytes"),
    ) as usize;
    let hashed_area = body.get(6..6 + hashed_len).ok_or_else(short)?;
    let hashed = body[..6 + hashed_len].to_vec();
    let mut at = 6 + hashed_len;
    let unhashed_len = u16::from_be_bytes(
        body.get(at..at + 2)
            .ok_or_else(short)?
            .try_into()
            .expect("2 bytes"),
    ) as usize;
    let unhashed_area = body.get(at + 2..at + 2 + unhashed_len).ok_or_else(short)?;
    at += 2 + unhashed_len;
    let left16 = body
        .get(at..at + 2)
        .ok_or_else(short)?
        .try_into()
        .expect("2 bytes");
    at += 2;
    let mut value = Vec::new();
    let mut rest = &body[at..];
    while !rest.is_empty() {
        let (number, next) = mpi(rest)?;
        value.push(number);
        rest = next;
    }
    let mut signature = Signature {
        sig_type,
        algorithm,
        hash,
        hashed,
        left16,
        value,
        created: None,
        expires_after: None,
        key_expires_after: None,
        key_flags: None,
        issuer: None,
        issuer_fingerprint: None,
        unknown_critical: None,
    };
    for (area, is_hashed) in [(hashed_area, true), (unhashed_area, false)] {
        for (kind, critical, data) in subpackets(area)? {
            let be32 = |d: &[u8]| {
                d.get(..4)
                    .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")))
            };
            match kind {
                2 if is_hashed => signature.created = be32(data),
                3 if is_hashed => signature.expires_after = be32(data),
                9 if is_hashed => signature.key_expires_after = be32(data),
                27 if is_hashed => signature.key_flags = data.first().copied(),
                16 => {
                    if let Some(id) = data.get(..8) {
                        signature
                            .issuer
                            .get_or_insert(id.try_into().expect("8 bytes"));
                    }
                }
                33 => {
                    if data.first() == Some(&4)
                        && let Some(fingerprint) = data.get(1..21)
                    {
                        signature
                            .issuer_fingerprint
                            .get_or_insert(fingerprint.try_into().expect("20 bytes"));
                    }
                }
                // Known and harmless to ignore: trust, revocable, preferences, notations,
                // primary user id, policy, features, embedded signatures …
                4..=8 | 10..=15 | 17..=26 | 28..=32 | 34..=40 => {}
                _ if critical && is_hashed => signature.unknown_critical = Some(kind),
                _ => {}
            }
        }
    }
    Ok(signature)
}

/// A signature subpacket: type, critical bit, body.
type Subpacket<'a> = (u8, bool, &'a [u8]);

fn subpackets(mut area: &[u8]) -> Result<Vec<Subpacket<'_>>, SignatureError> {
    let mut out = Vec::new();
    let short = || malformed("truncated signature subpacket");
    while !area.is_empty() {
        let first = area[0] as usize;
        let (length, header) = match first {
            0..=191 => (first, 1),
            192..=254 => (
                (((first - 192) << 8) + *area.get(1).ok_or_else(short)? as usize) + 192,
                2,
            ),
            _ => (
                u32::from_be_bytes(
                    area.get(1..5)
                        .ok_or_else(short)?
                        .try_into()
                        .expect("4 bytes"),
                ) as usize,
                5,
            ),
        };
        let body = area.get(header..header + length).ok_or_else(short)?;
        let (&kind, data) = body.split_first().ok_or_else(short)?;
        out.push((kind & 0x7f, kind & 0x80 != 0, data));
        area = &area[header + length..];
    }
    Ok(out)
}

/// Decode one armored block starting at `text`; returns its bytes and the text after it.
fn armor_block<'t>(text: &'t str, label: &str) -> Result<(Vec<u8>, &'t str), SignatureError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text
        .find(&begin)
        .ok_or_else(|| malformed(format!("no `{begin}` line")))?;
    let body_start = start + begin.len();
    let stop = text[body_start..]
        .find(&end)
        .map(|p| body_start + p)
        .ok_or_else(|| malformed(format!("no `{end}` line")))?;
    let body = &text[body_start..stop];
    // Armor headers end at the first blank line (if there are any).
    let mut lines: Vec<&str> = body.lines().map(str::trim).collect();
    if let Some(blank) = lines.iter().position(|l| l.is_empty())
        && lines[..blank]
            .iter()
            .all(|l| l.contains(": ") || l.is_empty())
    {
        lines.drain(..=blank);
    }
    let mut data = String::new();
    for line in lines {
        if line.starts_with('=') && line.len() == 5 {
            continue; // CRC-24 checksum; the signature check covers integrity
        }
        data.push_str(line);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.as_bytes())
        .map_err(|err| malformed(format!("bad base64 in the armor: {err}")))?;
    Ok((bytes, &text[stop + end.len()..]))
}

/// A parsed cleartext-signed message.
struct Cleartext {
    /// The text with dash-escapes removed and `\n` line ends (ends with a newline).
    text: String,
    /// What the signature covers: trailing white space removed from each line, lines
    /// joined by CRLF, no line end after the last line.
    hash_input: Vec<u8>,
    signature: Vec<u8>,
}

impl Cleartext {
    fn parse(message: &str) -> Result<Cleartext, SignatureError> {
        let begin = "-----BEGIN PGP SIGNED MESSAGE-----";
        let start = message
            .find(begin)
            .ok_or_else(|| malformed("not a cleartext-signed message"))?;
        if !message[..start].trim().is_empty() {
            return Err(malformed("text before the signed message"));
        }
        let mut lines = message[start + begin.len()..].split('\n');
        lines.next(); // the rest of the BEGIN line
        // Armor headers (`Hash: SHA256`), then a blank line.
        for line in lines.by_ref() {
            let line = line.trim_end_matches('\r');
            if line.is_empty() {
                break;
            }
            if !line.contains(": ") {
                return Err(malformed(format!("unexpected armor header `{line}`")));
            }
        }
        let mut body: Vec<&str> = Vec::new();
        let mut found_signature = false;
        for line in lines.by_ref() {
            let line = line.trim_end_matches('\r');
            if line.starts_with("-----BEGIN PGP SIGNATURE-----") {
                found_signature = true;
                break;
            }
            body.push(line);
        }
        if !found_signature {
            return Err(malformed("no signature after the signed text"));
        }
        let mut text = String::new();
        let mut hash_input = Vec::new();
        for (i, line) in body.iter().enumerate() {
            let line = line.strip_prefix("- ").unwrap_or(line);
            if line.starts_with('-') && !body[i].starts_with("- ") {
                return Err(malformed(
                    "a signed line starting with `-` is not dash-escaped",
                ));
            }
            text.push_str(line);
            text.push('\n');
            if i > 0 {
                hash_input.extend_from_slice(b"\r\n");
            }
            hash_input.extend_from_slice(line.trim_end_matches([' ', '\t']).as_bytes());
        }
        let rest = &message[message
            .find("-----BEGIN PGP SIGNATURE-----")
            .expect("found above")..];
        let (signature, after) = armor_block(rest, "PGP SIGNATURE")?;
        if !after.trim().is_empty() {
            return Err(malformed("data after the signature"));
        }
        Ok(Cleartext {
            text,
            hash_input,
            signature,
        })
    }
}

/// Canonical text (type 1 signatures over a detached document): CRLF line ends.
fn canonical_text(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 40);
    let mut previous = 0u8;
    for &byte in data {
        if byte == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(byte);
        previous = byte;
    }
    out
}

/// The text a cleartext-signed message carries, without checking anything (for reading
/// an `InRelease` whose signature was checked separately, or when a spec opts out).
pub fn cleartext_body(message: &str) -> Result<String, SignatureError> {
    Ok(Cleartext::parse(message)?.text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleartext_hash_input_strips_trailing_space_and_dash_escapes() {
        let message = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nOrigin: X  \n- -dash\n\n-----BEGIN PGP SIGNATURE-----\n\nwsA=\n-----END PGP SIGNATURE-----\n";
        let parsed = Cleartext::parse(message).unwrap();
        assert_eq!(parsed.text, "Origin: X  \n-dash\n\n");
        assert_eq!(parsed.hash_input, b"Origin: X\r\n-dash\r\n");
    }

    #[test]
    fn keybox_files_are_refused_with_advice() {
        let mut keybox = vec![0u8; 32];
        keybox[8..12].copy_from_slice(b"KBXf");
        let err = Keyring::parse(&keybox).unwrap_err();
        assert!(err.to_string().contains("gpg --export"), "{err}");
    }

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/apt");

    fn fixture(path: &str) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}/{path}")).expect("fixture")
    }

    /// The fixtures were signed on 2026-11-26; "now" a day later.
    const NOW: u64 = 1_795_700_000;

    #[test]
    fn fixture_archive_verifies_binary_and_armored_keyrings_cleartext_and_detached() {
        let inrelease = String::from_utf8(fixture("repo/dists/stable/InRelease")).unwrap();
        for keyring in ["keyring/test-archive.gpg", "keyring/test-archive.asc"] {
            let keys = Keyring::parse(&fixture(keyring)).unwrap();
            let verified = keys.verify_cleartext(&inrelease, NOW).unwrap();
            assert_eq!(verified.signers.len(), 1);
            assert!(
                verified.signers[0].contains("modelbench test archive"),
                "{:?}",
                verified.signers
            );
            assert!(verified.text.starts_with("Origin: modelbench\n"));
            let release = fixture("repo/dists/stable/Release");
            assert_eq!(verified.text.as_bytes(), &release[..]);
            keys.verify_detached(&release, &fixture("repo/dists/stable/Release.gpg"), NOW)
                .unwrap();
        }
        let keys = Keyring::parse(&fixture("keyring/test-archive.gpg")).unwrap();
        let mut release = fixture("repo/dists/stable/Release");
        release[0] = b'o';
        let err = keys
            .verify_detached(&release, &fixture("repo/dists/stable/Release.gpg"), NOW)
            .unwrap_err();
        assert!(matches!(err, SignatureError::Bad(_)), "{err}");
        let other = Keyring::parse(&fixture("keyring/other.gpg")).unwrap();
        let err = other.verify_cleartext(&inrelease, NOW).unwrap_err();
        assert!(matches!(err, SignatureError::NotVerified(_)), "{err}");
    }

    #[test]
    fn expired_revoked_and_future_signatures_do_not_count() {
        let inrelease = String::from_utf8(fixture("repo/dists/stable/InRelease")).unwrap();
        let good = Keyring::parse(&fixture("keyring/test-archive.gpg")).unwrap();
        let check = |keys: &Keyring, now: u64| keys.verify_cleartext(&inrelease, now).map(|_| ());
        assert!(check(&good, NOW).is_ok());
        // Signed "two days from now".
        let err = check(&good, NOW - 3 * 86_400).unwrap_err().to_string();
        assert!(err.contains("made in the future"), "{err}");
        let mut expired = good.clone();
        for key in &mut expired.keys {
            key.expires_after = 1;
        }
        let err = check(&expired, NOW).unwrap_err().to_string();
        assert!(err.contains("the key has expired"), "{err}");
        let mut revoked = good.clone();
        for key in &mut revoked.keys {
            key.revoked = true;
        }
        let err = check(&revoked, NOW).unwrap_err().to_string();
        assert!(err.contains("revoked"), "{err}");
        let mut no_signing = good;
        for key in &mut no_signing.keys {
            key.can_sign = Some(false);
        }
        let err = check(&no_signing, NOW).unwrap_err().to_string();
        assert!(err.contains("not allowed to sign"), "{err}");
    }
}
