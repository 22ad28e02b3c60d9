//! The user tools `[stage-N.tools]` installs (node, uv, pixi, bun): which lock entries
//! each one installs from and how the image proves it has the locked version (what emit
//! and validation need). Where each tool's bytes come from is planning's business
//! (`resolve::plan`), which checks against [`artifact_names`] in its tests.

/// The names of the lock entries a tool installs from (the first is the tool itself).
pub fn artifact_names(tool: &str) -> &'static [&'static str] {
    match tool {
        "node" => &["node", "nvm"],
        "uv" => &["uv"],
        "pixi" => &["pixi"],
        "bun" => &["bun"],
        _ => &[],
    }
}

/// The command that prints the tool's version in a login shell of its user.
pub fn version_command(tool: &str) -> &'static str {
    match tool {
        "node" => "node --version",
        "uv" => "uv --version",
        "pixi" => "pixi --version",
        "bun" => "bun --version",
        _ => "false",
    }
}
