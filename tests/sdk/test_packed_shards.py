"""Packed shards of a snapshot through the SDK and the real API over moto: the shards are tar files any tar reader
opens, the index points at every member, packing twice gives the same bytes once, and streaming the shards
yields exactly the samples of the per-object stream, split over ranks and workers, resumable mid-epoch.

The export state machine's steps run in-process where the API starts an execution (as in test_exports). Pages
are cut at 12 files here (500 in service) so a pack spans several pages and shards.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import urllib.request
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image

from tests.sdk.api_stack import Stack
from tests.sdk.test_exports import exporting_stack
from tests.support import import_steps

FILES = 30
MIB = 1 << 20


def _noise_jpeg(i: int) -> bytes:
    """A 400×300 noise JPEG (≈110 KB: 9 fit in a 1 MiB shard)."""
    pixels = np.random.default_rng(i).integers(0, 256, size=(300, 400, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def stack(serve_wsgi, new_moto_app) -> Iterator[Stack]:
    with exporting_stack(serve_wsgi, new_moto_app, "packs", page_files=12) as running:
        yield running


@pytest.fixture(scope="module")
def snap(stack: Stack):
    media = {"data.yaml": b"names: [car, pedestrian]\n"}
    for i in range(FILES):
        media[f"images/img_{i:02d}.jpg"] = _noise_jpeg(i)
        media[f"labels/img_{i:02d}.txt"] = "".join(
            f"{k % 2} 0.{2 + k}00000 0.500000 0.100000 0.200000\n" for k in range(i % 4)
        ).encode()
    job = import_steps.run_import(stack.project_id, "yolo", "noise", media["data.yaml"], media)
    assert (job["done"], job["failed"]) == (FILES, 0)
    return stack.project().directory.get("noise").snapshot("noise-v1")


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url) as answer:  # noqa: S310 - a presigned URL of the test stack
        return answer.read()


def _shards(stack: Stack, job: dict) -> dict[str, bytes]:
    listed = stack.project().client.get(f"/projects/{stack.project_id}/exports/{job['export_id']}/shards")
    return {shard["name"]: _get(shard["url"]) for shard in listed["shards"]}


def test_shards_are_plain_tars_the_index_points_into_and_packing_again_reuses_them(stack, snap):
    job = snap.pack(shard_bytes=MIB)
    assert job["status"] == "completed" and job["format"] == "packed" and job["file_name"] == "shards.jsonl"
    index = _get(job["download_url"])
    assert hashlib.sha256(index).hexdigest() == job["sha256"]
    header, *lines = [json.loads(line) for line in index.splitlines()]
    assert header["digest"] == snap.digest and header["shard_bytes"] == MIB
    shards = _shards(stack, job)
    assert [line["shard"] for line in lines] == sorted(shards) and len(shards) >= 4  # several pages and shards
    seen = []
    for line in lines:
        data = shards[line["shard"]]
        assert len(data) == line["size"] and hashlib.sha256(data).hexdigest() == line["sha256"]
        assert len(data) <= MIB or line["count"] == 1
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:  # a standard reader: names, sizes, bytes
            members = {m.name: archive.extractfile(m).read() for m in archive.getmembers()}
        assert len(members) == 2 * line["count"]
        for index_, file_id, ext, media_at, media_size, json_at, json_size in line["samples"]:
            assert ext == "jpg" and members[f"{file_id}.jpg"] == data[media_at : media_at + media_size]
            item = json.loads(data[json_at : json_at + json_size])
            assert members[f"{file_id}.json"] == data[json_at : json_at + json_size]
            assert item["index"] == index_ and item["file"]["id"] == file_id and "media_url" not in item
            assert hashlib.sha256(members[f"{file_id}.jpg"]).hexdigest() == item["file"]["content_hash"]
            seen.append(index_)
    assert seen == list(range(FILES))  # every file once, in snapshot order

    again = snap.pack(shard_bytes=MIB)
    assert again["export_id"] == job["export_id"] and again["sha256"] == job["sha256"]
    other = snap.pack(shard_bytes=2 * MIB)  # another shard size is another pack
    assert other["export_id"] != job["export_id"] and len(_shards(stack, other)) < len(shards)


def _by_index(samples) -> dict[int, dict]:
    return {s["index"]: s for s in samples}


def _comparable(sample: dict) -> tuple:
    keys = ("file", "instance_list", "x_min_list", "y_min_list", "x_max_list", "y_max_list", "label_id_list", "tags")
    return tuple(json.dumps(sample[k], sort_keys=True) for k in keys) + (sample["image_bytes"],)


def test_packed_streaming_yields_the_samples_of_the_per_object_stream(snap):
    packed = _by_index(snap.to_pytorch(packed=True, shard_bytes=MIB, decode=False, seed=1))
    plain = _by_index(snap.to_pytorch(streaming=True, decode=False, seed=1))
    assert sorted(packed) == list(range(FILES)) == sorted(plain)
    assert all(_comparable(packed[i]) == _comparable(plain[i]) for i in range(FILES))
    assert sum(len(s["x_min_list"]) for s in packed.values()) == sum(i % 4 for i in range(FILES))
    decoded = next(iter(snap.to_pytorch(packed=True, shard_bytes=MIB, shuffle=False)))
    assert decoded["index"] == 0 and decoded["image"].shape == (300, 400, 3)
    assert np.array_equal(decoded["image"], snap[0]["image"])


def test_shards_split_over_ranks_and_workers_in_a_seeded_order(snap):
    from torch.utils.data import DataLoader

    def order(rank: int, seed: int) -> list[int]:
        stream = snap.to_pytorch(packed=True, shard_bytes=MIB, decode=False, seed=seed, rank=rank, world_size=2)
        return [s["index"] for s in DataLoader(stream, batch_size=None, num_workers=2)]

    ranks = [order(0, 5), order(1, 5)]
    assert sorted(ranks[0] + ranks[1]) == list(range(FILES))  # each sample on one (rank, worker), once
    assert ranks[0] == order(0, 5)  # the same seed, the same order
    assert order(0, 6) != ranks[0]
    assert ranks[0] != sorted(ranks[0])  # shuffled within shards too


def test_a_packed_epoch_resumes_on_another_worker_count_with_exactly_the_rest(snap):
    from annolake.torch_data import SliceLoader

    stream = snap.to_pytorch(packed=True, shard_bytes=MIB, decode=False, seed=2)
    loader = SliceLoader(stream, batch_size=4, num_workers=2)
    seen = []
    for batch in loader:
        seen += batch["index"]
        if len(seen) >= 12:
            break
    state = loader.state_dict()
    assert state["pack"] and state["slice_id"] == snap.digest
    resumed = SliceLoader(snap.to_pytorch(packed=True, shard_bytes=MIB, decode=False), batch_size=3, num_workers=1)
    resumed.load_state_dict(state)
    rest = [i for batch in resumed for i in batch["index"]]
    assert sorted(seen + rest) == list(range(FILES))

    other = SliceLoader(snap.to_pytorch(packed=True, shard_bytes=2 * MIB, decode=False), batch_size=3)
    with pytest.raises(ValueError, match="belongs to pack"):
        other.load_state_dict(state)


def test_to_tensorflow_reads_the_packed_shards_with_the_same_elements(snap):
    packed = {e["file_id"]: e for e in snap.to_tensorflow(packed=True, shard_bytes=MIB).as_numpy_iterator()}
    plain = {e["file_id"]: e for e in snap.to_tensorflow().as_numpy_iterator()}
    assert len(packed) == FILES and sorted(packed) == sorted(plain)
    for file_id, element in plain.items():
        assert np.array_equal(packed[file_id]["boxes"], element["boxes"])
        assert np.array_equal(packed[file_id]["image"], element["image"])
    host = [e["file_id"] for e in snap.to_tensorflow(packed=True, shard_bytes=MIB, shard=(1, 2)).as_numpy_iterator()]
    assert 0 < len(host) < FILES


def test_the_cli_packs_a_snapshot_and_the_yolo_split_is_parsed(stack, snap, capsys, monkeypatch, tmp_path):
    from annolake.cli import main as cli

    stack.point_cli_at(monkeypatch)
    assert cli(["pack", "noise-v1", "--shard-bytes", str(MIB)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["export_id"] == snap.pack(shard_bytes=MIB)["export_id"]
    assert printed["options"] == {"shard_bytes": MIB}
    out = tmp_path / "yolo"
    assert cli(["export", "yolo", "--snapshot", "noise-v1", "--out", str(out), "--split", "train=0.5", "val=0.5"]) == 0
    assert len(list((out / "images").glob("*/*.jpg"))) == FILES == len(list((out / "labels").glob("*/*.txt")))
    assert cli(["export", "yolo", "--snapshot", "noise-v1", "--out", str(out), "--split", "train:0.5"]) == 2
    assert "SUBSET=SHARE pairs such as train=0.8, not 'train:0.5'" in capsys.readouterr().err


def test_bad_shard_sizes_are_refused_with_the_range(stack, snap):
    from annolake import InvalidRequest

    with pytest.raises(InvalidRequest, match="shard_bytes must be a whole number of bytes from 1048576"):
        snap.pack(shard_bytes=1000)
    with pytest.raises(InvalidRequest, match="takes no options|takes only"):
        stack.project().client.post(
            f"/projects/{stack.project_id}/snapshots/{snap.digest}/exports",
            {"format": "coco", "options": {"shard_bytes": MIB}},
        )


def test_verify_media_names_the_file_whose_shard_bytes_changed(stack, snap):
    """Last: it overwrites a stored shard."""
    from annolake import MediaMismatch
    from annolake_service.adapters import storage
    from annolake_service.shared.settings import get_settings

    job = snap.pack(shard_bytes=MIB)
    lines = [json.loads(line) for line in _get(job["download_url"]).splitlines()[1:]]
    first = lines[0]
    _index, file_id, _ext, media_at, _size, _json_at, _json_size = first["samples"][0]
    data = bytearray(_shards(stack, job)[first["shard"]])
    data[media_at + 100] ^= 0xFF  # one byte of the first image, same length
    key = storage.export_shard_key(stack.project_id, job["export_id"], first["shard"])
    storage.write_object(get_settings().media_bucket, key, bytes(data), "application/x-tar")
    stream = snap.to_pytorch(packed=True, shard_bytes=MIB, decode=False, shuffle=False, verify_media=1.0)
    with pytest.raises(MediaMismatch, match=file_id):
        list(stream)
    unchecked = snap.to_pytorch(packed=True, shard_bytes=MIB, decode=False, shuffle=False)
    assert len(list(unchecked)) == FILES  # not checked: the changed bytes go through


def test_a_pack_whose_original_changed_fails_naming_the_file_and_is_re_driven_once_restored(stack, snap):
    """Last: it overwrites a stored original (then puts it back)."""
    from annolake import ExportFailed
    from annolake_service.adapters import storage
    from annolake_service.adapters.dynamo import files as file_repo
    from annolake_service.shared.settings import get_settings

    item = snap.page(3, 1, urls=("media",))["items"][0]
    record = file_repo.get_file(stack.project_id, item["file"]["id"])
    bucket = get_settings().media_bucket
    original = storage.read_object(bucket, record.original_key, max_bytes=1 << 30).body
    storage.write_object(bucket, record.original_key, original[:-10] + b"\0" * 10, "image/jpeg")
    try:
        with pytest.raises(ExportFailed, match=f"file {item['file']['id']}.*sha256 the snapshot pinned") as failed:
            snap.pack(shard_bytes=3 * MIB)
    finally:
        storage.write_object(bucket, record.original_key, original, "image/jpeg")
    redriven = snap.pack(shard_bytes=3 * MIB)  # asking again re-drives it
    assert redriven["export_id"] == failed.value.export["export_id"] and redriven["status"] == "completed"
    assert len(list(snap.to_pytorch(packed=True, shard_bytes=3 * MIB, decode=False))) == FILES


def test_the_shard_list_comes_in_pages_bounded_in_bytes_and_the_reader_follows_them(stack, snap, monkeypatch):
    from tests.support.auth import reset_service_caches

    job = snap.pack(shard_bytes=MIB)
    path = f"/projects/{stack.project_id}/exports/{job['export_id']}/shards"
    client = stack.project().client
    whole = client.get(path)
    assert whole["cursor"] is None and len(whole["shards"]) >= 4
    monkeypatch.setenv("PAGE_MAX_BYTES", "1")  # every page ends after its first shard
    reset_service_caches()
    try:
        first = client.get(path)
        pages = [first]
        while pages[-1]["cursor"]:
            pages.append(client.get(path, cursor=pages[-1]["cursor"]))
        with pytest.raises(Exception, match="cursor"):
            client.get(path, cursor="not-a-cursor")
        samples = _by_index(snap.to_pytorch(packed=True, shard_bytes=MIB, decode=False, seed=3))
    finally:
        monkeypatch.delenv("PAGE_MAX_BYTES")
        reset_service_caches()
    assert all(len(page["shards"]) == 1 for page in pages)
    assert [page["shards"][0]["name"] for page in pages] == [shard["name"] for shard in whole["shards"]]
    assert sorted(samples) == list(range(FILES))  # the reader asked for every page of URLs


def test_workers_inherit_the_shard_urls_and_schema_and_mint_urls_again_when_refused(snap, monkeypatch):
    """DataLoader workers start again every epoch: they read with what the dataset was made with, asking the API
    again only when storage refuses a URL (403: expired)."""
    import pickle
    import re

    from annolake.client import ApiClient

    stream = snap.to_pytorch(packed=True, shard_bytes=MIB, decode=False, seed=4)
    asked: list[str] = []
    request = ApiClient.request

    def counted(self, method: str, path: str, **kwargs):  # noqa: ANN001, ANN003, ANN202
        asked.append(path)
        return request(self, method, path, **kwargs)

    monkeypatch.setattr(ApiClient, "request", counted)
    worker = pickle.loads(pickle.dumps(stream))  # what a worker holds (a spawned one; a forked one shares it)
    assert sorted(s["index"] for s in worker) == list(range(FILES))
    assert asked == []  # neither the shards' URLs nor the label schema asked for again

    expired = pickle.loads(pickle.dumps(stream))
    signed = expired.shards._urls
    expired.shards._urls = {
        name: re.sub(r"Signature=\w+", "Signature=" + "0" * 64, url) for name, url in signed.items()
    }
    assert sorted(s["index"] for s in expired) == list(range(FILES))
    assert [path for path in asked if path.endswith("/shards")] == [
        f"{snap.scope.path}/exports/{expired.shards.export_id}/shards"
    ]
