"""A frozen slice holds every file acknowledged before it, even while the columnar index has not caught up.

The change stream that keeps the index current is held here (its batches wait), so the index still lists
only the first files; a freeze made then must list the later ones too (read from the table after the
index's newest row), newest first, while a query answers from the index and says how current it is.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from infra.local import stream_sources
from tests.support import onnx_models
from tests.support.model_platform import GREEN, RED, human_boxes, model_platform, unique_project


@pytest.fixture(scope="module")
def platform(local_stack, moto_endpoint):
    with model_platform(local_stack, moto_endpoint, unique_project("fresh")) as running:
        yield running


@pytest.fixture
def held_stream(monkeypatch):
    """Stream batches wait until the test ends (as when the index's updater is slow or failing)."""
    release = threading.Event()
    deliver = stream_sources._Delivery._deliver

    def held(self, function_arn, mapping, batch):
        release.wait(timeout=120)
        deliver(self, function_arn, mapping, batch)

    monkeypatch.setattr(stream_sources._Delivery, "_deliver", held)
    yield
    release.set()


def _indexed_count(project, path: str, query: str) -> dict:
    return project.client.get(f"{path}/query", q=query, limit=1)


def test_a_freeze_lists_files_the_index_does_not_hold_yet(platform, request):
    project = platform.project()
    path = f"{project._path}/datasets/pool"
    first = platform.seed("pool", [RED] * 3, start=0)
    deadline = time.monotonic() + 30
    while (answer := _indexed_count(project, path, "labels.car >= 1"))["engine"]["name"] != "index" or answer[
        "count"
    ] != 3:
        assert time.monotonic() < deadline, f"the index never answered for the first files: {answer}"
        time.sleep(0.2)

    request.getfixturevalue("held_stream")
    later = platform.seed("pool", [RED, GREEN, RED], start=10)
    stale = _indexed_count(project, path, "labels.car >= 1")
    assert stale["engine"]["name"] == "index" and stale["count"] == 3  # the index has not seen the new files

    frozen = project.client.post(f"{path}/slices", {"query": "labels.car >= 1"})
    items = project.client.get(f"{project._path}/slices/{frozen['slice_id']}/items", limit=100)
    listed = [item["file"]["id"] for item in items["items"]]
    assert frozen["count"] == 5
    assert listed == [later[2], later[0], *reversed(first)]  # newest first; the green file has no car


@dataclasses.dataclass
class HeldFiles:
    """Stream batches that mention one of ``ids`` wait until ``release`` (the index's updater meets them late),
    while other batches are delivered."""

    ids: set[str] = dataclasses.field(default_factory=set)
    release: threading.Event = dataclasses.field(default_factory=threading.Event)


@pytest.fixture
def held_file(monkeypatch):
    held_files = HeldFiles()
    deliver = stream_sources._Delivery._deliver

    def held(self, function_arn, mapping, batch):
        if any(file_id in json.dumps(batch) for file_id in held_files.ids):
            held_files.release.wait(timeout=120)
        deliver(self, function_arn, mapping, batch)

    monkeypatch.setattr(stream_sources._Delivery, "_deliver", held)
    yield held_files
    held_files.release.set()


def _ingest_listed_at(platform, dataset: str, colour, marker: int, listed_at: datetime, held: HeldFiles) -> str:
    """A file registered through the ingest's own path whose listing position is ``listed_at`` (as when its
    media work began before a newer file's and it committed after it); its changes held from the index."""
    from annolake_service.services import ingest, projects

    target = projects.ensure_dataset(platform.project_id, dataset)
    facts = ingest.store_media(platform.project_id, onnx_models.png(64, 64, colour, marker=marker))
    labels = ingest.first_labels(
        human_boxes(colour, (64, 64)), {}, width=64, height=64, author="seed", source=f"late_{marker}.png"
    )
    labels = dataclasses.replace(labels, created_at=listed_at)
    held.ids.add(facts["file_id"])
    ingest.record_ready_file(
        platform.project_id, target.dataset_id, name=f"late_{marker}.png", facts=facts, labels=labels
    )
    return facts["file_id"]


def _wait_indexed(project, path: str, query: str, count: int) -> None:
    deadline = time.monotonic() + 30
    while (answer := _indexed_count(project, path, query))["engine"]["name"] != "index" or answer["count"] != count:
        assert time.monotonic() < deadline, f"the index never answered {count} for {query!r}: {answer}"
        time.sleep(0.2)


@pytest.mark.parametrize("earlier", [timedelta(seconds=5), timedelta(hours=2)], ids=["seconds", "hours"])
def test_a_freeze_lists_a_file_the_index_met_out_of_order(platform, held_file, earlier):
    """A file listed before the index's newest row but committed after it (its ingest began first), whose change
    the index has not met yet, is in the freeze: a few seconds out of order as concurrent ingests are, or
    hours (an updater stuck on it while later changes went through)."""
    project = platform.project()
    dataset = f"order_{int(earlier.total_seconds())}"
    path = f"{project._path}/datasets/{dataset}"
    first = platform.seed(dataset, [RED] * 3, start=100)
    _wait_indexed(project, path, "labels.car >= 1", 3)
    began = datetime.now(UTC) - earlier
    newer = platform.seed(dataset, [RED], start=110)
    _wait_indexed(project, path, "labels.car >= 1", 4)

    late = _ingest_listed_at(platform, dataset, RED, 120, began, held_file)  # listed before `newer`, written after
    assert _indexed_count(project, path, "labels.car >= 1")["count"] == 4  # the index has not met it

    frozen = project.client.post(f"{path}/slices", {"query": "labels.car >= 1"})
    items = project.client.get(f"{project._path}/slices/{frozen['slice_id']}/items", limit=100)
    listed = [item["file"]["id"] for item in items["items"]]
    assert sorted(listed) == sorted([*first, *newer, late])
    assert listed.index(newer[0]) < listed.index(late)  # listing order: the late file by its position
    held_file.release.set()  # the index meets it while this test's platform still runs
    _wait_indexed(project, path, "labels.car >= 1", 5)
