"""The Lambda layer with the third-party packages of every function, built by pip on this machine (no Docker).

The asset's hash is the dependency digest of ``layers/build.py`` (the pinned list in pyproject.toml plus
the pip target options), so the layer changes exactly when its dependencies do. When a synth skips
bundling (context ``aws:cdk:bundling-stacks`` = ``[]``: the infra tests and the local runtime), CDK
never calls ``try_bundle`` and nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

LAYERS_DIR = Path(__file__).resolve().parents[2] / "layers"
BUILD_SCRIPT = LAYERS_DIR / "build.py"
RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.ARM_64


@cache
def _build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("annolake_layer_build", BUILD_SCRIPT)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {BUILD_SCRIPT}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@jsii.implements(cdk.ILocalBundling)
class PipLocalBundling:
    """Runs ``layers/build.py --target <output_dir>/python`` (Lambda layers load from ``python/``)."""

    def __init__(self, layer: str = "dependencies") -> None:
        self.layer = layer

    def try_bundle(self, output_dir: str, options: Any) -> bool:
        command = [sys.executable, str(BUILD_SCRIPT), "--target", str(Path(output_dir) / "python")]
        if self.layer != "dependencies":
            command += ["--layer", self.layer]
        subprocess.run(command, check=True)  # noqa: S603 - our own build script with this interpreter
        return True


class DependencyLayer(Construct):
    """``layer``: ``dependencies`` (every function's) or ``model`` (onnxruntime, numpy, pycocotools)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        removal_policy: cdk.RemovalPolicy,
        layer: str = "dependencies",
        description: str = "Annolake third-party Python dependencies (pyproject.toml [project].dependencies)",
    ) -> None:
        super().__init__(scope, construct_id)
        code = lambda_.Code.from_asset(
            str(LAYERS_DIR),
            asset_hash_type=cdk.AssetHashType.CUSTOM,
            asset_hash=_build_module().dependency_digest(layer=layer),
            bundling=cdk.BundlingOptions(
                # Never pulled: local bundling always succeeds or raises, so Docker is not used.
                image=cdk.DockerImage.from_registry("unused-local-bundling-only"),
                local=PipLocalBundling(layer),  # type: ignore[arg-type]  # jsii passes the options as one struct, unlike its stub
            ),
        )
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            code=code,
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description=description,
            removal_policy=removal_policy,
        )
