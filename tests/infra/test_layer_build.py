"""layers/build.py: dependencies from pyproject.toml, pip for the Lambda platform, a cache keyed by digest."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path

import pytest

from infra.constructs.dependency_layer import BUILD_SCRIPT, PipLocalBundling

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def build(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("layer_build_under_test", BUILD_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "CACHE_DIR", tmp_path / "cache")
    calls: list[tuple[list[str], Path]] = []

    def fake_pip(deps: list[str], destination: Path) -> None:
        calls.append((deps, destination))
        (destination / "fastapi").mkdir(parents=True)
        (destination / "fastapi" / "__init__.py").write_text("")

    monkeypatch.setattr(module, "_pip_install", fake_pip)
    module.pip_calls = calls
    return module


def test_dependencies_are_the_projects(build):
    with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
        expected = tomllib.load(handle)["project"]["dependencies"]
    assert build.dependencies() == expected
    assert expected


def test_pip_targets_the_lambda_platform(build):
    options = " ".join(build.PIP_TARGET_OPTIONS)
    for part in (
        "--platform manylinux2014_aarch64",
        "--implementation cp",
        "--python-version 3.12",
        "--only-binary=:all:",
    ):
        assert part in options


def test_digest_changes_with_the_dependency_list(build):
    assert build.dependency_digest(["a==1"]) == build.dependency_digest(["a==1"])
    assert build.dependency_digest(["a==1"]) != build.dependency_digest(["a==2"])
    assert len(build.dependency_digest(["a==1"])) == 64


def test_second_build_copies_from_the_cache(build, tmp_path):
    first, second = tmp_path / "out1" / "python", tmp_path / "out2" / "python"
    build.build(first)
    build.build(second)
    assert len(build.pip_calls) == 1
    assert (second / "fastapi" / "__init__.py").is_file()
    cached = build.CACHE_DIR / build.dependency_digest() / "python"
    assert (cached / "fastapi").is_dir()
    assert not [p for p in build.CACHE_DIR.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_failed_pip_leaves_no_cache(build, monkeypatch):
    def failing_pip(deps, destination):
        destination.mkdir(parents=True)
        raise RuntimeError("no network")

    monkeypatch.setattr(build, "_pip_install", failing_pip)
    with pytest.raises(RuntimeError):
        build.cached_build()
    assert not build.CACHE_DIR.exists() or not any(build.CACHE_DIR.iterdir())


def test_local_bundling_runs_the_build_script(monkeypatch, tmp_path):
    commands = []
    monkeypatch.setattr(
        "infra.constructs.dependency_layer.subprocess.run", lambda command, check: commands.append(command)
    )
    assert PipLocalBundling().try_bundle(str(tmp_path), None) is True
    (command,) = commands
    assert command[1:] == [str(BUILD_SCRIPT), "--target", str(tmp_path / "python")]


def test_the_video_layer_holds_pyav_and_leaves_out_what_the_video_step_never_imports(build):
    names = {build._name(d) for d in build.dependencies(layer="video")}
    assert "av" in names and "pynamodb" in names and "pillow" in names
    assert not names & {"fastapi", "mangum", "duckdb", "lark", "pycocotools", "onnxruntime"}
    assert build.dependency_digest(layer="video") != build.dependency_digest(layer="model")
