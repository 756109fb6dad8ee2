"""Synthesize the CDK app for the local stage (cached by source hash) and read the cloud assembly."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_STAGE = "local"
# What the synthesized template depends on: the CDK app and the code asset it hashes.
_SOURCES = ("infra", "functions", "cdk.json", "pyproject.toml")
_IGNORED_PARTS = {"__pycache__", "local"}


def source_hash(root: Path = REPO_ROOT) -> str:
    digest = hashlib.sha256()
    for name in _SOURCES:
        base = root / name
        paths = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for path in paths:
            rel = path.relative_to(root)
            if _IGNORED_PARTS.intersection(rel.parts[1:-1]) or path.suffix == ".pyc":
                continue
            digest.update(str(rel).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class StackTemplate:
    name: str
    template: dict[str, Any]
    dependencies: list[str]
    assets: dict[str, Path] = field(default_factory=dict)  # asset hash -> directory

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template.get("Resources", {})


@dataclass
class CloudAssembly:
    directory: Path
    stacks: list[StackTemplate]  # in deployment order


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """One synth at a time per home: processes sharing it (test sessions, ``make up``) take turns."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def synthesize(home: Path, *, log=print) -> CloudAssembly:
    """Return the local-stage assembly, re-running ``infra.app`` only when its sources changed."""
    with _exclusive(home / ".synth.lock"):
        return _synthesize(home, log)


def _synthesize(home: Path, log) -> CloudAssembly:
    digest = source_hash()
    out = home / "cdk.out"
    stamp = out / ".annolake-source-hash"
    if stamp.exists() and stamp.read_text() == digest:
        return read_assembly(out)
    log(f"synthesizing the CDK app (stage {LOCAL_STAGE}) ...")
    tmp = home / "cdk.out.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    env = {
        **os.environ,
        "CDK_OUTDIR": str(tmp),
        "ANNOLAKE_STAGE": LOCAL_STAGE,
        "ANNOLAKE_SKIP_BUNDLING": "1",
    }
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "infra.app"], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"cdk synth failed:\n{result.stdout}\n{result.stderr}")
    (tmp / ".annolake-source-hash").write_text(digest)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return read_assembly(out)


def read_assembly(directory: Path) -> CloudAssembly:
    manifest = json.loads((directory / "manifest.json").read_text())
    artifacts = manifest["artifacts"]
    stacks: dict[str, StackTemplate] = {}
    for name, artifact in artifacts.items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template = json.loads((directory / artifact["properties"]["templateFile"]).read_text())
        deps = [d for d in artifact.get("dependencies", []) if artifacts.get(d, {}).get("type") != "cdk:asset-manifest"]
        stacks[name] = StackTemplate(name=name, template=template, dependencies=deps)
    for artifact in artifacts.values():
        if artifact.get("type") != "cdk:asset-manifest":
            continue
        asset_manifest = json.loads((directory / artifact["properties"]["file"]).read_text())
        for asset_hash, asset in asset_manifest.get("files", {}).items():
            for stack in stacks.values():
                stack.assets[asset_hash] = directory / asset["source"]["path"]
    return CloudAssembly(directory=directory, stacks=_deployment_order(stacks))


def _deployment_order(stacks: dict[str, StackTemplate]) -> list[StackTemplate]:
    ordered: list[StackTemplate] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen or name not in stacks:
            return
        seen.add(name)
        for dep in stacks[name].dependencies:
            visit(dep)
        ordered.append(stacks[name])

    for name in sorted(stacks):
        visit(name)
    return ordered
