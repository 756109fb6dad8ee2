#!/usr/bin/env python3
"""Build the Lambda dependency layer without Docker.

Reads ``[project].dependencies`` from the repository's pyproject.toml and lets pip fetch the wheels built
for the Lambda runtime (CPython 3.12 on arm64) instead of this machine's interpreter. The result is cached
in ``layers/build/<digest>/python`` (git-ignored), so a second build with the same dependencies is a copy
and needs no network.

``--layer video`` builds the video step's layer the same way, with ``[project.optional-dependencies].video``
(PyAV, FFmpeg's libraries in its wheel).

``--layer model`` builds the model layer instead, the model function's only layer: the dependencies it
imports (not the API's web stack nor the query index) and ``[project.optional-dependencies].model``
(onnxruntime, numpy, pycocotools), under Lambda's 250 MB unzipped.

    python layers/build.py --target DIR     # DIR receives the packages (the layer's python/ directory)
    python layers/build.py --print-digest   # the cache key, also the layer asset's hash
    python layers/build.py --layer model --target DIR
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

LAYERS_DIR = Path(__file__).resolve().parent
REPO_ROOT = LAYERS_DIR.parent
PYPROJECT = REPO_ROOT / "pyproject.toml"
CACHE_DIR = LAYERS_DIR / "build"

# The Lambda python3.12 runtime runs on Amazon Linux 2023 (glibc 2.34), so wheels tagged manylinux2014
# (glibc 2.17) and manylinux_2_28 both load there; pip prefers them in the order given.
PIP_TARGET_OPTIONS = (
    "--platform",
    "manylinux2014_aarch64",
    "--platform",
    "manylinux_2_28_aarch64",
    "--implementation",
    "cp",
    "--python-version",
    "3.12",
    "--only-binary=:all:",
)


LAYERS = ("dependencies", "model", "video")
# What the model function never imports (the API's web stack, tokens, the query language and its index): left
# out of the model layer, which is that function's only layer, so it stays under Lambda's 250 MB.
NOT_IN_MODEL_LAYER = frozenset({"fastapi", "mangum", "pyjwt", "lark", "duckdb"})
# The video step decodes and stores frames: no COCO masks (pycocotools and its numpy, 55 MB), so PyAV's
# FFmpeg libraries fit beside the rest under the 250 MB.
NOT_IN_VIDEO_LAYER = NOT_IN_MODEL_LAYER | {"pycocotools"}


def _name(requirement: str) -> str:
    return re.split(r"[=<>!~\[; ]", requirement, maxsplit=1)[0].lower()


def dependencies(pyproject: Path = PYPROJECT, layer: str = "dependencies") -> list[str]:
    """The requirements of ``layer``: the project's dependencies; or, for ``model`` (``video``), those the model
    function (the video step) imports plus the ``model`` extra (onnxruntime, numpy, pycocotools) (the ``video``
    extra: PyAV)."""
    with pyproject.open("rb") as handle:
        project = tomllib.load(handle)["project"]
    if layer == "dependencies":
        return list(project["dependencies"])
    left_out = NOT_IN_VIDEO_LAYER if layer == "video" else NOT_IN_MODEL_LAYER
    kept = [d for d in project["dependencies"] if _name(d) not in left_out]
    return kept + list(project["optional-dependencies"][layer])


def dependency_digest(deps: list[str] | None = None, layer: str = "dependencies") -> str:
    """sha256 of the dependency list and the pip target options: what the built layer depends on."""
    deps = dependencies(layer=layer) if deps is None else deps
    return hashlib.sha256("\n".join([*deps, *PIP_TARGET_OPTIONS]).encode()).hexdigest()


def _pip_install(deps: list[str], destination: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        *PIP_TARGET_OPTIONS,
        "--target",
        str(destination),
        "--no-compile",  # bytecode of this machine's interpreter is useless to the 3.12 runtime
        "--disable-pip-version-check",
        "--no-warn-conflicts",  # the target is its own environment; this machine's packages do not matter
        "--quiet",
        *deps,
    ]
    print(f"layers/build.py: pip install {' '.join(deps)}", file=sys.stderr)
    subprocess.run(command, check=True)  # noqa: S603 - this interpreter's pip with our pinned requirements


def cached_build(deps: list[str] | None = None, layer: str = "dependencies") -> Path:
    """The layer's ``python/`` directory for ``deps``, built on first use."""
    deps = dependencies(layer=layer) if deps is None else deps
    cached = CACHE_DIR / dependency_digest(deps) / "python"
    if cached.is_dir():
        return cached
    staging = CACHE_DIR / f".{dependency_digest(deps)}.{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _pip_install(deps, staging / "python")
        cached.parent.mkdir(parents=True, exist_ok=True)
        try:
            (staging / "python").rename(cached)  # atomic: an interrupted build never looks complete
        except OSError:
            if not cached.is_dir():  # else a concurrent build finished first; its result is the same
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return cached


def build(target: Path, layer: str = "dependencies") -> Path:
    cached = cached_build(layer=layer)
    shutil.copytree(cached, target, dirs_exist_ok=True)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--target", type=Path, help="directory that receives the installed packages")
    action.add_argument("--print-digest", action="store_true", help="print the cache key and exit")
    parser.add_argument("--layer", choices=LAYERS, default="dependencies", help="which layer (default: dependencies)")
    args = parser.parse_args(argv)
    if args.print_digest:
        print(dependency_digest(layer=args.layer))
        return 0
    build(args.target, args.layer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
