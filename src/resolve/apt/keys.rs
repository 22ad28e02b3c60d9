//! The archive keyrings modelbench ships, so `lock` checks Ubuntu and Debian archives on
//! any host (Debian, Fedora, macOS) without reading the host's `/usr/share/keyrings`.
//!
//! A spec names one as `builtin:<name>` in `signed-by` or `[apt] keyring`; the default
//! Ubuntu archives use `builtin:ubuntu-archive-keyring`, and an archive that names no
//! keyring is checked against all of them (apt's `trusted.gpg.d`). Where each file came
//! from, its fingerprints and how to rotate it: `keys/README.md`.

use super::openpgp::Keyring;

/// How a spec names a shipped keyring instead of a file.
pub const PREFIX: &str = "builtin:";

/// One shipped keyring file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinKeyring {
    /// `ubuntu-archive-keyring.gpg` from Debian's `ubuntu-keyring` package.
    UbuntuArchive,
    /// `debian-archive-keyring.pgp` from Debian's `debian-archive-keyring` package.
    DebianArchive,
}

impl BuiltinKeyring {
    pub const ALL: [BuiltinKeyring; 2] =
        [BuiltinKeyring::UbuntuArchive, BuiltinKeyring::DebianArchive];

    /// The name after `builtin:` (the file name apt users know, without extension).
    pub fn name(self) -> &'static str {
        match self {
            BuiltinKeyring::UbuntuArchive => "ubuntu-archive-keyring",
            BuiltinKeyring::DebianArchive => "debian-archive-keyring",
        }
    }

    /// `builtin:<name>`, as a spec or a request names it.
    pub fn reference(self) -> String {
        format!("{PREFIX}{}", self.name())
    }

    /// The keyring file's bytes, as the package ships it.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            BuiltinKeyring::UbuntuArchive => include_bytes!("keys/ubuntu-archive-keyring.gpg"),
            BuiltinKeyring::DebianArchive => include_bytes!("keys/debian-archive-keyring.pgp"),
        }
    }

    pub fn keyring(self) -> Keyring {
        Keyring::parse(self.bytes()).expect("a shipped keyring parses (unit-tested)")
    }

    /// `builtin:<name>` → the keyring it names (an error for an unknown name); a file
    /// path → `None`.
    pub fn from_reference(reference: &str) -> Option<Result<BuiltinKeyring, String>> {
        let name = reference.strip_prefix(PREFIX)?;
        Some(
            BuiltinKeyring::ALL
                .into_iter()
                .find(|k| k.name() == name)
                .ok_or_else(|| {
                    let known: Vec<String> = BuiltinKeyring::ALL
                        .iter()
                        .map(|k| format!("`{}`", k.reference()))
                        .collect();
                    format!(
                        "`{reference}` is not a keyring modelbench ships (it has {})",
                        known.join(", ")
                    )
                }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::apt::openpgp::SignatureError;

    /// The primary-key fingerprints `keys/README.md` lists, read here from the files: a
    /// changed keyring file fails this test until the README (and this list) are updated.
    #[test]
    fn shipped_keyrings_hold_the_documented_primary_keys() {
        let ubuntu = BuiltinKeyring::UbuntuArchive.keyring().fingerprints();
        for fingerprint in [
            "790BC7277767219C42C86F933B4FE6ACC0B21F32",
            "843938DF228D22F7B3742BC0D94AA3F0EFE21092",
            "F6ECB3762474EDA9D21B7022871920D1991BC93C",
        ] {
            assert!(ubuntu.iter().any(|f| f == fingerprint), "{fingerprint}");
        }
        assert_eq!(ubuntu.len(), 3, "{ubuntu:?}");
        let debian = BuiltinKeyring::DebianArchive.keyring().fingerprints();
        for fingerprint in [
            "1F89983E0081FDE018F3CC9673A4F27B8DD47936",
            "AC530D520F2F3269F5E98313A48449044AAD5C5D",
            "A4285295FC7B1A81600062A9605C66F00D6C9793",
            "4D64FEC119C2029067D6E791F8D2585B8783D481",
            "B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8",
            "05AB90340C0C5E797F44A8C8254CF3B5AEC0A8F0",
            "04B54C3CDCA79751B16BC6B5225629DF75B188BD",
            "5E04A1E3223A19A20706E20F9904613D4CCE68C6",
            "41587F7DB8C774BCCF131416762F67A0B2C39DE4",
            // signing subkeys of the automatic keys (what InRelease signatures name)
            "4CB50190207B4758A3F73A796ED0E7B82643E131",
            "B8E5F13176D2A7A75220028078DBA3BC47EF2265",
        ] {
            assert!(debian.iter().any(|f| f == fingerprint), "{fingerprint}");
        }
    }

    /// Debian's real trixie `InRelease` (tests/fixtures/apt/debian-trixie/SOURCE.md).
    const TRIXIE_INRELEASE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/apt/debian-trixie/dists/trixie/InRelease"
    ));
    /// A day after its `Date:` (Sat, 21 Nov 2026 09:15:44 UTC).
    const TRIXIE_CHECKED_AT: u64 = 1_795_252_544 + 86_400;

    #[test]
    fn a_real_debian_inrelease_verifies_against_the_shipped_debian_keys_only() {
        let verified = BuiltinKeyring::DebianArchive
            .keyring()
            .verify_cleartext(TRIXIE_INRELEASE, TRIXIE_CHECKED_AT)
            .expect("Debian's signature verifies");
        // Signers are named by their primary key: the bookworm and trixie automatic keys.
        assert_eq!(verified.signers.len(), 2, "{:?}", verified.signers);
        assert!(verified.signers[0].starts_with("04B54C3CDCA79751B16BC6B5225629DF75B188BD"));
        assert!(verified.signers[1].starts_with("B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8"));
        assert!(verified.text.starts_with("Origin: Debian\n"));
        let tampered = TRIXIE_INRELEASE.replacen("Version: 13.8", "Version: 13.9", 1);
        let err = BuiltinKeyring::DebianArchive
            .keyring()
            .verify_cleartext(&tampered, TRIXIE_CHECKED_AT)
            .unwrap_err();
        assert!(matches!(err, SignatureError::Bad(_)), "{err}");
        let err = BuiltinKeyring::UbuntuArchive
            .keyring()
            .verify_cleartext(TRIXIE_INRELEASE, TRIXIE_CHECKED_AT)
            .unwrap_err();
        assert!(err.to_string().contains("unknown key"), "{err}");
    }

    #[test]
    fn references_name_shipped_keyrings_or_paths() {
        assert_eq!(
            BuiltinKeyring::from_reference("builtin:debian-archive-keyring"),
            Some(Ok(BuiltinKeyring::DebianArchive))
        );
        assert_eq!(BuiltinKeyring::from_reference("keys/cuda.gpg"), None);
        let err = BuiltinKeyring::from_reference("builtin:cuda-archive-keyring")
            .unwrap()
            .unwrap_err();
        assert!(err.contains("builtin:ubuntu-archive-keyring"), "{err}");
    }
}
