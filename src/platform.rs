//! Target platforms and the names each upstream gives them (`linux/amd64` is
//! `x86_64-unknown-linux-musl` on GitHub, `linux-x64` on nodejs.org, `amd64` in apt).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Platform {
    LinuxAmd64,
    LinuxArm64,
}

impl Platform {
    pub const ALL: [Platform; 2] = [Platform::LinuxAmd64, Platform::LinuxArm64];

    pub fn parse(text: &str) -> Result<Platform, String> {
        match text {
            "linux/amd64" => Ok(Platform::LinuxAmd64),
            "linux/arm64" | "linux/arm64/v8" => Ok(Platform::LinuxArm64),
            other => Err(format!(
                "unknown platform `{other}`: supported are linux/amd64 and linux/arm64"
            )),
        }
    }

    /// The OCI name (`linux/amd64`), also the key of per-platform lock entries.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::LinuxAmd64 => "linux/amd64",
            Platform::LinuxArm64 => "linux/arm64",
        }
    }

    /// OCI `platform.architecture` (also Debian's architecture name).
    pub fn arch(self) -> &'static str {
        match self {
            Platform::LinuxAmd64 => "amd64",
            Platform::LinuxArm64 => "arm64",
        }
    }

    /// `uname -m` inside the image.
    pub fn machine(self) -> &'static str {
        match self {
            Platform::LinuxAmd64 => "x86_64",
            Platform::LinuxArm64 => "aarch64",
        }
    }

    /// The static (musl) Rust target triple: what clash-rs, pixi and uv publish for Linux.
    pub fn musl_triple(self) -> &'static str {
        match self {
            Platform::LinuxAmd64 => "x86_64-unknown-linux-musl",
            Platform::LinuxArm64 => "aarch64-unknown-linux-musl",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
