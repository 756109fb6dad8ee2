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
