"""A frozen slice holds every file acknowledged before it, even while the columnar index has not caught up.

The change stream that keeps the index current is held here (its batches wait), so the index still lists
only the first files; a freeze made then must list the later ones too (read from the table after the
index's newest row), newest first, while a query answers from the index and says how current it is.
"""

from __future__ import annotations

import threading
import time

import pytest

from infra.local import stream_sources
from tests.support.model_platform import GREEN, RED, model_platform, unique_project


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
