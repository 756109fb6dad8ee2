"""Snapshots through the SDK against the real API over moto: pin, edit, stream the pinned versions, diff.

The scenario of a user: snapshot 20 labelled files, re-annotate 10 and add 5, then the snapshot still streams
the old versions (into a DataLoader with workers, and tf.data), the diff names exactly what changed, and the
same data snapshotted twice has one digest.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator

import pytest
from annolake import AnnolakeAPIError, MediaMismatch, NotFound
from annolake.cli import main as cli

from tests.sdk.api_stack import Stack, api_stack
from tests.support import slice_data

SEEDED, EDITED, ADDED = 20, 10, 5
NEW_CARS, NEW_PEDESTRIANS = 3, 1


def _box(name: str, k: int) -> dict:
    return {"type": "box", "name": name, "x_min": 1 + 5 * k, "y_min": 2, "x_max": 4 + 5 * k, "y_max": 20}


@pytest.fixture(scope="module")
def stack(serve_wsgi, new_moto_app) -> Iterator[Stack]:
    with api_stack(
        serve_wsgi,
        new_moto_app,
        "snaps",
        lambda project: slice_data.seed_dataset(project, "default", SEEDED),
        role="editor",
    ) as running:
        yield running


@pytest.fixture(scope="module")
def history(stack: Stack) -> dict:
    """v1 taken; 10 files re-annotated, 5 added; v2 and v2-again taken."""
    project = stack.project()
    dataset = project.directory.get("default")
    v1 = dataset.snapshot("v1")
    edited = stack.file_ids[:EDITED]
    for file_id in edited:
        project.file.get_by_id(file_id).update(
            [_box("car", k) for k in range(NEW_CARS)] + [_box("pedestrian", 9 + k) for k in range(NEW_PEDESTRIANS)]
        )
    added = slice_data.seed_dataset(stack.project_id, "default", ADDED, start=SEEDED)
    v2 = dataset.snapshot("v2")
    again = dataset.snapshot("v2-again")
    return {"v1": v1, "v2": v2, "again": again, "edited": edited, "added": added}


def _original_counts(sample: dict) -> Counter:
    i = sample["file"]["metadata"]["i"]
    return Counter({"car": slice_data.cars(i), "pedestrian": slice_data.pedestrians(i)}) - Counter()


def test_streaming_a_snapshot_yields_the_pinned_versions_after_edits(stack, history):
    from torch.utils.data import DataLoader

    v1 = stack.project().snapshot.get("v1")  # found again by name, as another process would
    assert len(v1) == SEEDED and v1.digest == history["v1"].digest
    loader = DataLoader(v1.to_pytorch(streaming=True, seed=3), batch_size=None, num_workers=2)
    samples = list(loader)
    assert sorted(s["file"]["id"] for s in samples) == sorted(stack.file_ids)  # each once, none of the added
    for sample in samples:
        assert Counter(sample["label_name_list"]) == _original_counts(sample), sample["file"]["name"]
    # the current data has moved on: a fresh read of an edited file shows the new version
    now = stack.project().file.get_by_id(history["edited"][0])
    assert Counter(i["name"] for i in now.instance_list) == {"car": NEW_CARS, "pedestrian": NEW_PEDESTRIANS}


def test_to_tensorflow_streams_the_pinned_labels(stack, history):
    v1 = history["v1"]
    elements = list(v1.to_tensorflow().as_numpy_iterator())
    assert len(elements) == SEEDED
    labels = stack.project().get_label_file_dict()
    ids = Counter(int(i) for element in elements for i in element["label_ids"])
    expected = Counter()
    for i in range(SEEDED):
        expected[labels["car"]] += slice_data.cars(i)
        expected[labels["pedestrian"]] += slice_data.pedestrians(i)
    assert ids == expected - Counter()


def test_diff_reports_the_changed_and_added_files_with_label_deltas(history):
    change = history["v1"].diff(history["v2"])
    assert (change["added"], change["removed"], change["changed"], change["unchanged"]) == (ADDED, 0, EDITED, 10)
    assert change["changed_ids"] == sorted(history["edited"])
    assert change["added_ids"] == sorted(history["added"])
    changed_cars = sum(NEW_CARS - slice_data.cars(i) for i in range(EDITED))
    changed_pedestrians = sum(NEW_PEDESTRIANS - slice_data.pedestrians(i) for i in range(EDITED))
    added_cars = sum(slice_data.cars(i) for i in range(SEEDED, SEEDED + ADDED))
    added_pedestrians = sum(slice_data.pedestrians(i) for i in range(SEEDED, SEEDED + ADDED))
    assert change["label_deltas"] == {
        "car": {"added": added_cars, "removed": 0, "changed": changed_cars, "total": added_cars + changed_cars},
        "pedestrian": {
            "added": added_pedestrians,
            "removed": 0,
            "changed": changed_pedestrians,
            "total": added_pedestrians + changed_pedestrians,
        },
    }
    # the deltas agree with the two lineage histograms
    for label, delta in change["label_deltas"].items():
        before, after = history["v1"].label_histogram[label], history["v2"].label_histogram[label]
        assert after["instances"] - before["instances"] == delta["total"]
    backwards = history["v2"].diff("v1")
    assert (backwards["added"], backwards["removed"], backwards["changed"]) == (0, ADDED, EDITED)


def test_the_same_data_has_the_same_digest_and_names_are_not_reused(stack, history):
    v2, again = history["v2"], history["again"]
    assert again.digest == v2.digest and again.name == "v2-again"
    assert history["v1"].digest != v2.digest
    dataset = stack.project().directory.get("default")
    assert dataset.snapshot("v2").digest == v2.digest  # taking it again under its own name: the same snapshot
    with pytest.raises(AnnolakeAPIError, match="already exists with other content") as refused:
        dataset.snapshot("v1")  # v1's name now would hold other content
    assert refused.value.status == 409
    subset = dataset.snapshot("cars", query="labels.car >= 3")
    assert subset.query == "labels.car >= 3" and len(subset) == sum(
        1 for i in range(SEEDED + ADDED) if (NEW_CARS if i < EDITED else slice_data.cars(i)) >= 3
    )


def test_a_snapshot_is_found_by_digest_prefix_and_carries_its_lineage(stack, history):
    project = stack.project()
    v1 = history["v1"]
    assert project.snapshot.get(v1.digest[:12]).name == "v1"
    lineage = v1.lineage()
    assert lineage["digest"] == v1.digest and lineage["count"] == SEEDED and lineage["dataset"] == "default"
    assert lineage["label_histogram"]["car"]["instances"] == sum(slice_data.cars(i) for i in range(SEEDED))
    assert {s.name for s in project.snapshot.list()} >= {"v1", "v2", "v2-again"}
    with pytest.raises(NotFound, match="no snapshot named 'v9'"):
        project.snapshot.get("v9")


def test_a_deleted_file_stays_readable_in_the_snapshots_that_pin_it(stack, history):
    project = stack.project()
    gone = history["edited"][1]
    project.file.get_by_id(gone).delete()
    v1 = project.snapshot.get("v1")
    assert gone in {sample["file"]["id"] for sample in v1}
    after = project.directory.get("default").snapshot("after-delete")
    change = project.snapshot.get("v2").diff(after)
    assert change["removed_ids"] == [gone] and change["changed"] == 0


def test_the_cli_takes_lists_and_compares_snapshots(stack, history, capsys, monkeypatch):
    stack.point_cli_at(monkeypatch)
    assert cli(["snapshot", "create", "from-cli", "--query", "labels.pedestrian >= 1"]) == 0
    assert "from-cli" in capsys.readouterr().out
    assert cli(["snapshot", "diff", "v1", "v2"]) == 0
    out = capsys.readouterr().out
    assert f"added {ADDED}  removed 0  changed {EDITED}" in out
    assert cli(["snapshot", "list"]) == 0
    assert {"v1", "v2", "from-cli"} <= {line.split()[0] for line in capsys.readouterr().out.splitlines()}


def test_verifying_media_names_the_file_whose_bytes_changed(stack, history):
    """Last: it overwrites one stored original."""
    import boto3
    from annolake_service.adapters.dynamo import files as file_repo

    v1 = stack.project().snapshot.get("v1")
    assert len([s for s in v1.to_pytorch(streaming=True, verify_media=1.0)]) == SEEDED  # all intact
    victim = stack.file_ids[5]
    record = file_repo.get_file(stack.project_id, victim)
    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
    s3.put_object(Bucket=os.environ["MEDIA_BUCKET"], Key=record.original_key, Body=slice_data.jpeg(999))
    with pytest.raises(MediaMismatch, match=f"file {victim} \\(img_000005.jpg\\)"):
        list(v1.to_pytorch(streaming=True, verify_media=1.0))
    assert len(list(v1.to_pytorch(streaming=True))) == SEEDED  # unchecked, the changed bytes go through


def test_bad_names_queries_and_datasets_are_refused_with_what_to_change(stack):
    from annolake import InvalidRequest

    dataset = stack.project().directory.get("default")
    with pytest.raises(InvalidRequest, match="name") as bad_name:
        dataset.snapshot("has/slash")
    assert bad_name.value.status == 422
    with pytest.raises(InvalidRequest, match="did you mean") as bad_query:
        dataset.snapshot("typo", query="labels.cra >= 1")
    assert bad_query.value.code == "invalid_query"
    with pytest.raises(NotFound, match="nowhere"):
        stack.project().snapshot.new("x", directory="nowhere")
