"""The columnar index and the table answer a sample of queries alike on one dataset, through the service's own
paths: the ids a freeze or a page lists (in listing order), the counts and the label chart.

The property test (``test_query_columnar.py``) checks the compiled SQL against the evaluator on generated rows;
this one runs both engines over what the ingest wrote (memberships, their summaries, file items, metadata)."""

from __future__ import annotations

import random
import time

import pytest

from tests.support import onnx_models
from tests.support.model_platform import model_platform, unique_project

QUERIES = [
    "labels.car >= 1",
    "labels.car > 3 and labels.pedestrian >= 1",
    "labels.car = 0",
    "not labels.pedestrian >= 2",
    "labels.car >= 2 or labels.pedestrian = 4",
    "(labels.car = 1 or labels.car = 2) and not labels.pedestrian = 0",
    'file.metadata.weather = "rain"',
    'file.metadata.weather != "rain"',
    "file.metadata.i < 20",
    'file.metadata.weather in ["fog", "snow"] and labels.car >= 1',
    'file.name > "agree_00040.png"',
    'file.status = "ready" and file.width = 64',
]


def _instances(rng: random.Random) -> list[dict]:
    shapes = []
    for name in ("car", "pedestrian"):
        for _ in range(rng.choice([0, 0, 1, 2, 3, 4, 5])):
            x, y = rng.randint(0, 40), rng.randint(0, 40)
            shapes.append({"type": "box", "name": name, "x_min": x, "y_min": y, "x_max": x + 10, "y_max": y + 10})
    return shapes


@pytest.fixture(scope="module")
def dataset(local_stack, moto_endpoint):
    from annolake_service.services import ingest, projects

    with model_platform(local_stack, moto_endpoint, unique_project("agree")) as platform:
        rng = random.Random(7)
        target = projects.ensure_dataset(platform.project_id, "agree")
        files = []
        for n in range(60):
            facts = ingest.store_media(platform.project_id, onnx_models.png(64, 64, (n, 80, 160), marker=n))
            metadata = {"i": n, **({"weather": rng.choice(["rain", "fog", "sun", "snow"])} if n % 7 else {})}
            files.append(
                {"name": f"agree_{n:05d}.png", "facts": facts, "instance_list": _instances(rng), "metadata": metadata}
            )
        for start in range(0, len(files), 20):  # written in three batches, as three drops would be
            ingest.record_new_files(platform.project_id, target.dataset_id, files[start : start + 20], author="test")
        yield platform, target.dataset_id


def _index_when_current(project_id: str, dataset_id: str, node, files: int):
    """The dataset's index, opened for ``node``, once it holds every file."""
    from annolake_service.services import query_index

    deadline = time.monotonic() + 30
    while True:
        indexed = query_index.open_index(project_id, dataset_id, node)
        if indexed is not None:
            with indexed.index as index:
                if index.count(None) == files:
                    return query_index.open_index(project_id, dataset_id, node)
        assert time.monotonic() < deadline, "the index never held every file"
        time.sleep(0.2)


@pytest.mark.parametrize("text", QUERIES)
def test_the_index_and_the_table_list_the_same_files(dataset, text):
    from annolake_service.domain import query as q
    from annolake_service.services import slices

    platform, dataset_id = dataset
    project_id = platform.project_id
    node = slices.checked_query(project_id, text)
    from_table = [
        (record.file_id, record.label_counts)
        for _, record in slices._matches(project_id, dataset_id, q.plan(node), None, consistent=True)
    ]
    indexed = _index_when_current(project_id, dataset_id, node, 60)
    with indexed.index as index:
        from_index = index.file_ids(node, listing_order=True)
        chart = index.label_counts(node)
    assert from_index == [file_id for file_id, _ in from_table], text
    assert 0 < len(from_table) < 60 or text in ("labels.car >= 1", 'file.status = "ready" and file.width = 64')
    assert slices.count_files(project_id, "agree", text) == len(from_table)
    assert chart.files == len(from_table)
    for label in ("car", "pedestrian"):
        having = sum(1 for _, counts in from_table if counts.get(label, 0) > 0)
        total = sum(counts.get(label, 0) for _, counts in from_table)
        assert chart.labels[label] == (having, total), (text, label)
