"""The index updater's upkeep: it lists an index's deltas at its first batch for that index and then every few
batches (a listing cost more than a batch of one or two saves), and still compacts once the deltas reach the
limit, a few batches late at most."""

from __future__ import annotations

import pytest

from tests.support.model_platform import model_platform, unique_project


@pytest.fixture
def platform(local_stack, moto_endpoint):
    with model_platform(local_stack, moto_endpoint, unique_project("upkeep")) as running:
        yield running


@pytest.fixture
def compact_after_8(monkeypatch):
    from annolake_service.shared.settings import get_settings

    monkeypatch.setenv("INDEX_COMPACT_AFTER", "8")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def test_the_updater_lists_deltas_every_few_batches_and_compacts_past_the_limit(platform, compact_after_8, monkeypatch):
    from annolake_service.adapters import storage
    from annolake_service.adapters.dynamo import query_indexes as manifest_repo
    from annolake_service.services import projects, query_index

    every = query_index.look_every(8)
    assert every == 2
    dataset = projects.ensure_dataset(platform.project_id, "upkeep")
    target = (platform.project_id, dataset.dataset_id)
    query_index.maintain([target])  # no index yet: built (empty), as the first batch of a new dataset does
    assert manifest_repo.get_manifest(*target) is not None

    prefix = storage.index_prefix(*target)
    listed: list[int] = []
    list_keys = storage.list_keys

    def counted(bucket: str, key_prefix: str) -> list[str]:
        keys = list_keys(bucket, key_prefix)
        if key_prefix == prefix:
            listed.append(sum(storage.is_index_delta(k) for k in keys))
        return keys

    monkeypatch.setattr(storage, "list_keys", counted)
    compacted_at = []
    for batch in range(1, 13):
        # a batch that removes a file from the dataset: one delta file of a tombstone row
        change = query_index.Change(
            platform.project_id, f"gone{batch}", seq=f"{batch:021d}", dataset_id=dataset.dataset_id, position="p"
        )
        assert query_index.apply_changes([change]) == [target]
        before = manifest_repo.get_manifest(*target)
        query_index.maintain([target])
        if manifest_repo.get_manifest(*target).base_key != before.base_key:
            compacted_at.append(batch)
    # batches 1, 3, 5, 7 and 9 looked (9 deltas at 9: compacted, one batch past the limit, with a listing of
    # its own), then 11; the even batches did not list
    assert compacted_at == [9]
    assert len(listed) == 7, listed
    folded = manifest_repo.get_manifest(*target).folded_keys
    assert len(folded) == 9


def test_a_files_changes_are_indexed_without_a_query_of_its_memberships(platform, monkeypatch):
    """The stream's batches, at ingest and at each save: a file item the stream shows inserted is in no dataset
    but those the memberships' changes name; a file changed otherwise has the memberships its item names read
    with the batch's other reads (one taken out of a dataset since is still named, and read as gone). Only an
    item that names none (written before items named them) has its memberships queried, one query a file."""
    import dataclasses

    from annolake_service.adapters.dynamo import datasets as dataset_repo
    from annolake_service.adapters.dynamo import keys
    from annolake_service.adapters.dynamo.items import FileItem
    from annolake_service.services import files, ingest, projects, query_index

    from tests.support import onnx_models

    dataset = projects.ensure_dataset(platform.project_id, "fresh")
    other = projects.ensure_dataset(platform.project_id, "second")
    target = (platform.project_id, dataset.dataset_id)
    query_index.maintain([target])  # its index, empty
    facts = ingest.store_media(platform.project_id, onnx_models.png(48, 48, (9, 99, 9), marker=4242))
    labels = ingest.first_labels([], {}, width=48, height=48, author="test", source="fresh.png")
    ingest.record_ready_file(platform.project_id, dataset.dataset_id, name="fresh.png", facts=facts, labels=labels)
    file_id = facts["file_id"]
    position = dataset_repo.memberships_of_file(platform.project_id, file_id)[dataset.dataset_id]

    read: list[str] = []
    memberships_of_file = dataset_repo.memberships_of_file
    monkeypatch.setattr(
        dataset_repo,
        "memberships_of_file",
        lambda project, file: read.append(file) or memberships_of_file(project, file),
    )
    inserted = query_index.Change(platform.project_id, file_id, seq=f"{1:021d}", created=True)
    joined = query_index.Change(
        platform.project_id, file_id, seq=f"{2:021d}", dataset_id=dataset.dataset_id, position=position
    )
    assert query_index.apply_changes([inserted, joined]) == [target]
    assert read == []
    view = query_index.open_index(*target)
    assert view is not None
    assert view.index.page().file_ids == [file_id] and view.index.page().positions == [position]

    changed = dataclasses.replace(inserted, seq=f"{3:021d}", created=False)
    assert query_index.apply_changes([changed]) == [target]
    assert read == []
    view = query_index.open_index(*target)
    assert view is not None and view.index.page().file_ids == [file_id]

    # Listed in a second dataset, then taken out of the first: a change of the file alone touches the second.
    record = files.get_file(platform.project_id, file_id)
    assert dataset_repo.add_file(record, other.dataset_id)
    assert dataset_repo.remove_file(platform.project_id, file_id, dataset.dataset_id)
    moved = dataclasses.replace(changed, seq=f"{4:021d}")
    assert query_index.apply_changes([moved]) == [(platform.project_id, other.dataset_id)]
    assert read == []

    # An item that names no dataset: its memberships are queried.
    item = FileItem(PK=keys.file_pk(platform.project_id, file_id), SK=keys.FILE_SK)
    item.update(actions=[FileItem.dataset_ids.remove(), FileItem.dataset_ids_complete.remove()])
    legacy = dataclasses.replace(changed, seq=f"{5:021d}")
    assert query_index.apply_changes([legacy]) == [(platform.project_id, other.dataset_id)]
    assert read == [file_id]


def test_a_stream_record_of_a_file_item_says_whether_the_item_is_new():
    from annolake_service.adapters.dynamo import keys
    from annolake_service.services.query_index import change_of

    file_keys = {"PK": {"S": keys.file_pk("p1", "f1")}, "SK": {"S": keys.FILE_SK}}
    assert change_of(file_keys, "7", "INSERT").created
    assert not change_of(file_keys, "7", "MODIFY").created and not change_of(file_keys, "7", "REMOVE").created
    membership = {"PK": {"S": keys.shard_pk("p1", "d1", 3)}, "SK": {"S": "2026-12-06T10:00:00#f1"}}
    assert (change := change_of(membership, "8", "INSERT")) is not None and not change.created
    assert change.dataset_id == "d1" and change.file_id == "f1"
