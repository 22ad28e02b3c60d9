#!/usr/bin/env python3
"""A test stand-in for pixi, built on rattler. NOT pixi.

No pixi binary can be obtained where modelbench is developed, so the tests install this
file as ~/.pixi/bin/pixi and run the emitted install-pixi-global.sh against it. It
implements only what that script calls:

    pixi global sync
    pixi global expose add --environment ENV EXPOSED=EXECUTABLE...

What it shares with pixi: rattler, the library pixi is built on. Environments are solved
by rattler's solver (resolvo, highest versions) and installed by rattler's installer: the
same download, sha256 validation, extraction, linking (prefix placeholders, noarch python
and its entry points) and conda-meta/*.json records that pixi's installer writes. As pixi
does (crates/pixi_global/src/project/mod.rs, `install_environment`,
`virtual_packages_for`), the manifest's specs are the match specs, the environment's
`platform` is the target, and the virtual packages are the detected ones when the
environment is for this machine's operating system, else none. Like pixi it writes the
environment marker conda-meta/pixi (no .json extension; only its name matters here) and
records exposed names in the manifest's [envs.ENV.exposed] table.

What it does not share: pixi's command line, configuration (~/.pixi/config.toml,
mirrors, channel aliases: only file:// channels are accepted, so nothing touches the
network), its trampolines (an exposed name here is a shell script exec'ing the
executable), shortcuts, completions, environment pruning and manifest formatting
(toml_edit: this edits the manifest as text, appending tables).

Caches live under $HOME (rattler's layout, ~/.cache/rattler/cache), so each test's home
has its own. Any other command exits with status 2.
"""

import asyncio
import faulthandler
import json
import os
import re
import sys
import tomllib
import traceback

import rattler

faulthandler.enable()  # a crash inside the binding says where

PLATFORM_OS = rattler.Subdir.current().only_platform


def die(message, code=1):
    print(f"pixi (rattler stand-in): {message}", file=sys.stderr)
    leave(code)


def leave(code):
    """Exit without the interpreter's finalization: with py-rattler 0.28.0 a runtime
    thread of the binding sometimes releases the GIL while Python finalizes, and the
    process aborts after the work is done ("PyGILState_Release: thread state ... must be
    current when releasing", "Python runtime state: finalizing")."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def pixi_home():
    return os.path.join(os.environ["HOME"], ".pixi")


def manifest_path():
    return os.path.join(pixi_home(), "manifests", "pixi-global.toml")


def load_manifest():
    path = manifest_path()
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        die(f"no global manifest at {path}")


def match_spec(name, spec):
    """A manifest dependency as a match spec (what pixi's GlobalSpec becomes)."""
    if isinstance(spec, str):
        return rattler.MatchSpec(f"{name} {spec}" if spec != "*" else name)
    unknown = set(spec) - {"version", "build", "sha256", "md5"}
    if unknown:
        die(f"unsupported keys {sorted(unknown)} for `{name}`")
    text = name
    if "version" in spec:
        text += f" {spec['version']}"
        if "build" in spec:
            text += f" {spec['build']}"
    brackets = [f'{key}="{spec[key]}"' for key in ("sha256", "md5") if key in spec]
    if "build" in spec and "version" not in spec:
        brackets.insert(0, f'build="{spec["build"]}"')
    if brackets:
        text += "[" + ", ".join(brackets) + "]"
    return rattler.MatchSpec(text)


def virtual_packages(platform):
    # pixi: detect when the environment's OS is this machine's, else nothing.
    if platform.only_platform == PLATFORM_OS:
        return rattler.VirtualPackage.detect()
    return []


async def install_environment(name, env):
    channels = env.get("channels") or die(f"environment `{name}` has no channels")
    for channel in channels:
        if not channel.startswith("file://"):
            die(f"environment `{name}`: only file:// channels (got {channel})")
    platform = rattler.Subdir(env.get("platform", str(rattler.Subdir.current())))
    specs = [match_spec(n, s) for n, s in env.get("dependencies", {}).items()]
    cache = os.path.join(os.environ["HOME"], ".cache", "rattler", "cache")
    gateway = rattler.Gateway(cache_dir=cache)
    records = await rattler.solve(
        [rattler.Channel(c) for c in channels],
        specs,
        gateway=gateway,
        platforms=[platform, rattler.Subdir("noarch")],
        virtual_packages=virtual_packages(platform),
        strategy="highest",
    )
    prefix = os.path.join(pixi_home(), "envs", name)
    await rattler.install(
        records,
        target_prefix=prefix,
        cache_dir=os.path.join(cache, "pkgs"),
        platform=platform,
        # py-rattler 0.28.0's install() hands these to the binding unwrapped (TypeError:
        # 'MatchSpec' object is not an instance of 'PyMatchSpec'): pass the inner objects.
        requested_specs=[spec._match_spec for spec in specs],
        show_progress=False,
        execute_link_scripts=False,
    )
    marker = {
        "environment_name": name,
        "manifest_path": manifest_path(),
        "stand_in": "tests/oracle/pixi_rattler.py",
    }
    with open(os.path.join(prefix, "conda-meta", "pixi"), "w") as f:
        json.dump(marker, f, indent=2)
        f.write("\n")
    print(f"✔ Environment {name} installed ({len(records)} packages)", file=sys.stderr)


def expose(name, exposed):
    """Write ~/.pixi/bin/<exposed> for each mapping of the environment."""
    bin_dir = os.path.join(pixi_home(), "bin")
    prefix = os.path.join(pixi_home(), "envs", name)
    os.makedirs(bin_dir, exist_ok=True)
    for exposed_name, executable in exposed.items():
        target = os.path.join(prefix, "bin", executable)
        if not os.access(target, os.X_OK):
            die(f"couldn't find executable `{executable}` in environment `{name}`")
        path = os.path.join(bin_dir, exposed_name)
        with open(path, "w") as f:
            f.write(f'#!/bin/sh\nexec "{target}" "$@"\n')
        os.chmod(path, 0o755)


async def sync():
    manifest = load_manifest()
    for name, env in manifest.get("envs", {}).items():
        await install_environment(name, env)
        expose(name, env.get("exposed", {}))


def add_exposed(name, mappings):
    """Record mappings in [envs.NAME.exposed] (appending the table when missing)."""
    path = manifest_path()
    with open(path) as f:
        lines = f.read().splitlines()
    key = name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else f'"{name}"'
    header = f"[envs.{key}.exposed]"
    new = [f'"{exposed}" = "{executable}"' for exposed, executable in mappings.items()]
    if header in lines:
        at = lines.index(header) + 1
        while at < len(lines) and lines[at].strip() and not lines[at].startswith("["):
            at += 1
        lines[at:at] = new
    else:
        lines += ["", header, *new]
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)  # still a manifest
    with open(path, "w") as f:
        f.write(text)


async def expose_add(args):
    env_name = None
    mappings = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("--environment", "-e"):
            i += 1
            env_name = args[i] if i < len(args) else die("--environment needs a value", 2)
        elif arg.startswith("--environment="):
            env_name = arg.split("=", 1)[1]
        elif arg.startswith("-"):
            die(f"unsupported option {arg}", 2)
        else:
            exposed, _, executable = arg.partition("=")
            if not re.fullmatch(r"[A-Za-z0-9._+-]+", exposed):
                die(f"invalid exposed name `{exposed}`", 2)
            mappings[exposed] = executable or exposed
        i += 1
    if env_name is None or not mappings:
        die("usage: pixi global expose add --environment ENV MAPPING...", 2)
    env = load_manifest().get("envs", {}).get(env_name)
    if env is None:
        die(f"environment `{env_name}` not found")
    # pixi: add the mappings, then sync the environment (install it when out of date,
    # write what the manifest exposes).
    add_exposed(env_name, mappings)
    env = load_manifest()["envs"][env_name]
    await install_environment(env_name, env)
    expose(env_name, env.get("exposed", {}))


def main(argv):
    try:
        if argv[:2] == ["global", "sync"] and len(argv) == 2:
            asyncio.run(sync())
        elif argv[:3] == ["global", "expose", "add"]:
            asyncio.run(expose_add(argv[3:]))
        else:
            die(f"not supported by this stand-in: {' '.join(argv)}", 2)
    except Exception:  # a solve or install error: rattler's message, then exit 1
        traceback.print_exc()
        leave(1)
    leave(0)


if __name__ == "__main__":
    main(sys.argv[1:])
