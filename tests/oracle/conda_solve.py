#!/usr/bin/env python3
"""The oracle for modelbench's conda resolver: py-rattler (rattler's own Python binding,
pixi's library layer) solves the same specs against the same channel.

    conda_solve.py CHANNEL_DIR SUBDIR GLIBC LINUX ARCHSPEC SPEC...

CHANNEL_DIR is a local channel (CHANNEL_DIR/<subdir>/repodata.json and noarch/). The
virtual packages are the ones modelbench assumes for the image: __glibc=GLIBC,
__linux=LINUX, __unix, __archspec=1=ARCHSPEC. Each spec is solved on its own (pixi global
makes one environment per tool), highest versions first. Prints one JSON object:
{spec: {"files": ["<subdir>/<file>", ...]}} or {spec: {"error": "..."}}.
Used by tests/it/conda.rs; runnable by hand (pip install py-rattler).
"""

import asyncio
import json
import sys
import tempfile

import rattler
from rattler.exceptions import SolverError


def virtual_packages(glibc, linux, archspec):
    def package(name, version, build):
        return rattler.GenericVirtualPackage(
            rattler.PackageName(name), rattler.Version(version), rattler.BuildString(build)
        )

    return [
        package("__archspec", "1", archspec),
        package("__glibc", glibc, "0"),
        package("__linux", linux, "0"),
        package("__unix", "0", "0"),
    ]


async def main(argv):
    channel_dir, subdir, glibc, linux, archspec, *specs = argv
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        gateway = rattler.Gateway(cache_dir=cache)
        channel = rattler.Channel("file://" + channel_dir.rstrip("/"))
        for spec in specs:
            try:
                records = await rattler.solve(
                    [channel],
                    [spec],
                    gateway=gateway,
                    platforms=[subdir, "noarch"],
                    virtual_packages=virtual_packages(glibc, linux, archspec),
                    strategy="highest",
                )
                out[spec] = {
                    "files": sorted(f"{r.subdir}/{r.file_name}" for r in records)
                }
            except SolverError as err:  # the solver's explanation is the answer
                out[spec] = {"error": str(err)}
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
