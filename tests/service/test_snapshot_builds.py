"""Snapshots too large for one request, built by the snapshot state machine of the synthesized template (moto's
ASL engine runs it and calls its Lambda steps in this process): the API answers ``pending`` at once, the SDK waits
for ``ready``, and the manifest is the one a build within the request writes, byte for byte.

``SNAPSHOT_INLINE_FILES`` and ``SNAPSHOT_CHUNK_FILES`` are set low so that a few files make a Map of several chunks.
"""

from __future__ import annotations

import pytest
from annolake import AnnolakeAPIError

from tests.support.auth import reset_service_caches
from tests.support.model_platform import GREEN, RED, model_platform, unique_project

FILES, CHUNK = 10, 4


@pytest.fixture(scope="module")
def platform(local_stack, moto_endpoint):
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SNAPSHOT_INLINE_FILES", "0")  # every snapshot goes through the state machine
        env.setenv("SNAPSHOT_CHUNK_FILES", str(CHUNK))
        with model_platform(
            local_stack, moto_endpoint, unique_project("snapbuild"), machines=("SNAPSHOT_STATE_MACHINE_ARN",)
        ) as running:
            running.ids = running.seed("default", [RED, GREEN] * (FILES // 2))  # type: ignore[attr-defined]
            yield running
        reset_service_caches()


def _manifest(project_id: str, digest: str) -> bytes:
    from annolake_service.adapters import storage
    from annolake_service.shared.settings import get_settings

    key = storage.snapshot_manifest_key(project_id, digest)
    return storage.read_object(get_settings().media_bucket, key, max_bytes=1 << 20).body


def _build_objects(project_id: str) -> list[str]:
    from annolake_service.adapters import storage
    from annolake_service.shared.settings import get_settings

    return storage.list_keys(get_settings().media_bucket, storage.key_prefix("snapshots", project_id, "builds"))


def test_a_large_snapshot_is_pending_at_once_then_ready_with_the_manifest_a_request_would_write(platform, monkeypatch):
    project = platform.project()
    answer = project.client.post(f"{project._path}/datasets/default/snapshots", {"name": "big"})
    assert answer["status"] in ("pending", "ready") and answer["chunks_total"] == 3  # 10 files, 4 a chunk
    snap = project.directory.get("default").snapshot("big")  # asked again: the same build, waited for
    assert snap.status == "ready" and len(snap) == FILES
    described = project.client.get(f"{project._path}/snapshots/big")
    assert (described["chunks_done"], described["chunks_total"]) == (3, 3)
    assert snap.label_histogram == {
        "car": {"files": FILES // 2, "instances": FILES},
        "pedestrian": {"files": FILES // 2, "instances": FILES},
    }
    assert project.snapshot.get(snap.digest[:12]).name == "big"
    pinned = [sample["file"]["id"] for sample in snap.reader().samples(range(len(snap)))]
    assert pinned == sorted(platform.ids)
    assert not _build_objects(platform.project_id)  # the chunks' parts are gone, the manifest stays

    monkeypatch.setenv("SNAPSHOT_INLINE_FILES", "1000")  # the same files, built within the request
    reset_service_caches()
    try:
        small = project.directory.get("default").snapshot("big-in-request")
    finally:
        monkeypatch.setenv("SNAPSHOT_INLINE_FILES", "0")
        reset_service_caches()
    assert small.digest == snap.digest
    manifest = _manifest(platform.project_id, snap.digest)
    assert len(manifest.splitlines()) == FILES + 1 and described["manifest_bytes"] == len(manifest)
    assert snap.diff(small)["unchanged"] == FILES


def test_a_query_narrows_the_build_and_a_taken_name_is_never_reused_for_other_content(platform):
    project = platform.project()
    dataset = project.directory.get("default")
    cars = dataset.snapshot("cars", query="labels.car >= 1")
    assert len(cars) == FILES // 2 and set(cars.label_histogram) == {"car"}
    with pytest.raises(AnnolakeAPIError) as refused:
        dataset.snapshot("cars")  # every file now: other content under a taken name
    assert refused.value.status == 409 and cars.digest in str(refused.value)
    empty = dataset.snapshot("none", query="labels.truck >= 1")
    assert len(empty) == 0 and empty.status == "ready"
    assert _manifest(platform.project_id, empty.digest).count(b"\n") == 1  # the header alone
