"""The SDK package's shape: modules import on their own, no import cycle, one public surface, docstrings, typing.

The import graph is read from the source (every ``import`` statement, also those under ``TYPE_CHECKING`` and
inside functions), so a cycle hidden from the interpreter by a lazy import is still found.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import annolake
import pytest

PACKAGE = Path(annolake.__file__).parent
SDK = PACKAGE.parent
MODULES = sorted("annolake" if path.name == "__init__.py" else f"annolake.{path.stem}" for path in PACKAGE.glob("*.py"))
FRAMEWORK_MODULES = {"annolake.torch_data": "torch", "annolake.tf_data": "tensorflow"}


def _imports(module: str) -> set[str]:
    """The ``annolake`` modules that ``module`` imports anywhere in its source."""
    path = PACKAGE / ("__init__.py" if module == "annolake" else f"{module.removeprefix('annolake.')}.py")
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "annolake"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "annolake":
            for alias in node.names:  # ``from annolake import torch_data`` depends on the submodule only
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
    return found - {module}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first module repeated at the end), or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                return stack[stack.index(target) :] + [target]
            if target not in state and (found := visit(target)):
                return found
        state[module] = "done"
        stack.pop()
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle_through_a_lazy_import():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_package_has_no_import_cycle():
    graph = {module: _imports(module) for module in MODULES}
    assert graph["annolake.slices"] >= {"annolake.torch_data", "annolake.tf_data"}  # lazy imports are seen
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph))}"


@pytest.mark.slow  # a process that imports torch and tensorflow, ~12 s
def test_every_module_imports_on_its_own_and_the_package_imports_no_framework():
    """Each module in a process where no other ``annolake`` module was imported before it."""
    wanted = [m for m in MODULES if importlib.util.find_spec(FRAMEWORK_MODULES.get(m, "annolake")) is not None]
    script = f"""
import importlib, sys
for name in {wanted!r}:
    for loaded in [m for m in sys.modules if m == "annolake" or m.startswith("annolake.")]:
        del sys.modules[loaded]
    importlib.import_module(name)
for loaded in [m for m in sys.modules if m == "annolake" or m.startswith("annolake.")]:
    del sys.modules[loaded]
before = set(sys.modules)
import annolake
print(sorted({{m.split(".")[0] for m in set(sys.modules) - before}} & {{"torch", "tensorflow"}}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_public_names_resolve_and_old_import_paths_still_work():
    assert len(set(annolake.__all__)) == len(annolake.__all__)
    for name in annolake.__all__:
        assert getattr(annolake, name) is not None, name
    from annolake.client import AnnolakeAPIError, ApiClient, NotFound, VersionConflict
    from annolake.credentials import Credentials, CredentialsNotFound
    from annolake.fetch import FetchError, UrlExpired
    from annolake.file import File, IngestFailed
    from annolake.slices import FileUnavailable, Slice, StreamOptions

    assert (ApiClient, Credentials, File, Slice, StreamOptions) == (
        annolake.ApiClient,
        annolake.Credentials,
        annolake.File,
        annolake.Slice,
        annolake.StreamOptions,
    )
    for error in (AnnolakeAPIError, NotFound, VersionConflict, CredentialsNotFound, FetchError, UrlExpired):
        assert getattr(annolake, error.__name__) is error
    assert issubclass(IngestFailed, RuntimeError) and issubclass(FileUnavailable, LookupError)  # bases kept


@pytest.mark.slow  # imports every module, tensorflow's loader with it (~5 s)
def test_every_error_lives_in_one_module_and_is_exported_at_the_top():
    from annolake import errors

    classes = [c for c in vars(errors).values() if inspect.isclass(c) and issubclass(c, Exception)]
    assert len(classes) >= 12
    for error in classes:
        assert error.__module__ == "annolake.errors"
        assert issubclass(error, annolake.AnnolakeError)
        assert error.__name__ in annolake.__all__
    for name in MODULES:
        if importlib.util.find_spec(FRAMEWORK_MODULES.get(name, "annolake")) is None:
            continue
        module = importlib.import_module(name)
        defined = [c for c in vars(module).values() if inspect.isclass(c) and c.__module__ == name]
        assert name == "annolake.errors" or not [c for c in defined if issubclass(c, Exception)], name


def test_the_loaders_are_at_the_top_and_imported_when_first_read():
    torch_data = pytest.importorskip("annolake.torch_data")
    assert annolake.SliceDataset is torch_data.SliceDataset
    assert annolake.StreamingSliceDataset is torch_data.StreamingSliceDataset
    assert annolake.SliceLoader is torch_data.SliceLoader
    assert annolake.detection_collate is torch_data.detection_collate
    assert {"SliceLoader", "slice_to_tensorflow"} <= set(dir(annolake))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        annolake.nothing  # noqa: B018


def test_user_facing_classes_have_their_own_docstrings():
    public = [getattr(annolake, name) for name in annolake.__all__]
    classes = [c for c in public if inspect.isclass(c)]
    assert {"Project", "Dataset", "File", "Slice", "Job", "Task", "StreamOptions", "SampleFile"} <= {
        c.__name__ for c in classes
    }
    for cls in classes:
        doc = cls.__dict__.get("__doc__") or ""
        # a dataclass without a docstring gets its signature as one
        assert doc.strip() and not doc.startswith(f"{cls.__name__}("), f"{cls.__name__} has no docstring"


def test_the_package_is_typed_and_its_version_is_written_once():
    pyproject = tomllib.loads((SDK / "pyproject.toml").read_text())
    assert (PACKAGE / "py.typed").is_file()
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["annolake"]
    assert pyproject["project"]["readme"] == "README.md" and (SDK / "README.md").is_file()
    assert annolake.__version__ == metadata.version("annolake") == pyproject["project"]["version"]
    init = ast.parse((PACKAGE / "__init__.py").read_text())
    literals = [n.value for n in ast.walk(init) if isinstance(n, ast.Constant) and n.value == annolake.__version__]
    assert not literals, "the version is read from the package metadata, not written in __init__.py"
