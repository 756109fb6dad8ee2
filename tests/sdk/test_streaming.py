"""The SDK streams a slice into PyTorch and TensorFlow: the real API (uvicorn) over moto behind PresignGuard.

A 1,000-file dataset is seeded once; the guard refuses presigned URLs past their expiry, as S3 does.
The samples' file ids are checked against what the seeding formula says a query selects.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import boto3
import pytest

from tests.sdk.api_stack import Stack, api_stack
from tests.support import slice_data

COUNT = 1000
torch = pytest.importorskip("torch")
pytestmark = pytest.mark.slow  # the module's stack seeds 1,000 files (~20 s) and its epochs run worker processes


@pytest.fixture(scope="module")
def stack(serve_wsgi, new_moto_app) -> Iterator[Stack]:
    with api_stack(
        serve_wsgi, new_moto_app, "stream", lambda project: slice_data.seed_dataset(project, "big", COUNT)
    ) as running:
        yield running


def _matching(stack: Stack, keep) -> set[str]:
    return {file_id for i, file_id in enumerate(stack.file_ids) if keep(i)}


def test_page_urls_are_the_urls_botocore_presigns(stack):
    """Stream pages sign their URLs in bulk (``storage.presigned_get_urls``): the same URL as botocore's
    ``generate_presigned_url`` but for the time and signature, and S3's check (the guard) accepts it."""
    import os
    from urllib.parse import parse_qsl, urlsplit

    import urllib3
    from annolake_service.adapters import storage

    bucket = os.environ["MEDIA_BUCKET"]
    keys = ["projects/p/files/f/original.jpg", "with space/a+b ü 東京 (1).JPG", "tilde~/x=1&y;z.png"]
    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())

    def unsigned(url: str) -> tuple:
        parts = urlsplit(url)
        query = {k: v for k, v in parse_qsl(parts.query) if k not in {"X-Amz-Date", "X-Amz-Signature"}}
        return parts.scheme, parts.netloc, parts.path, query

    urls = storage.presigned_get_urls(bucket, keys, 120)
    expected = [storage.presigned_get_url(bucket, key, 120) for key in keys]
    assert [unsigned(url) for url in urls] == [unsigned(url) for url in expected]
    assert dict(parse_qsl(urlsplit(urls[0]).query))["X-Amz-Expires"] == "120"
    http = urllib3.PoolManager()
    assert [http.request("GET", url).data for url in urls] == [key.encode() for key in keys]
    tampered = urls[0].replace("original.jpg", "original.JPG")
    assert http.request("GET", tampered).status == 403
    assert storage.presigned_get_urls(bucket, [], 120) == []


def test_the_seed_streaming_example_runs(stack):
    """The seed document's example: len, dataset[7], a slice, to_pytorch(), to_tensorflow()."""
    from annolake.torch_data import detection_collate
    from torch.utils.data import DataLoader

    project = stack.project()
    dataset = project.directory.get("big")
    assert len(dataset) == COUNT
    sample = dataset[7]
    assert sample["image"].shape == (48, 64, 3) and str(sample["image"].dtype) == "uint8"
    i = stack.file_ids.index(sample["file"]["id"])
    assert sample["file"]["metadata"] == {"i": i} and sample["file"]["width"] == 64
    assert sample["label_name_list"] == ["car"] * slice_data.cars(i) + ["pedestrian"] * slice_data.pedestrians(i)
    lengths = {len(sample[k]) for k in ("x_min_list", "y_min_list", "x_max_list", "y_max_list", "label_id_list")}
    assert lengths == {len(sample["label_name_list"])}
    assert set(sample["label_id_list"]) <= {0, 1}

    sliced = dataset.slice("labels.car > 3 and labels.pedestrian >= 1")
    expected = _matching(stack, lambda i: slice_data.cars(i) > 3 and slice_data.pedestrians(i) >= 1)
    assert len(sliced) == len(expected)
    loader = DataLoader(sliced.to_pytorch(), batch_size=8, num_workers=2, collate_fn=detection_collate)
    seen = []
    for batch in loader:
        seen += [f["id"] for f in batch["files"]]
        assert all(b.shape[1] == 4 and len(b) == len(lab) for b, lab in zip(batch["boxes"], batch["labels"]))
        assert all(
            len(b) == 4 + slice_data.pedestrians(stack.file_ids.index(f["id"]))
            for b, f in zip(batch["boxes"], batch["files"])
        )
    assert sorted(seen) == sorted(expected)

    tf_dataset = sliced.to_tensorflow(batch_size=4)
    first = next(iter(tf_dataset))
    assert first["image"].shape[0] == 4 and first["boxes"].shape.rank == 3
    rows = [stack.file_ids.index(f.decode()) for f in first["file_id"].numpy()]
    assert [len(b) for b in first["boxes"].to_list()] == [4 + slice_data.pedestrians(i) for i in rows]
    assert tf_dataset.element_spec["boxes"].ragged_rank == 1
    batches = list(tf_dataset)
    assert sum(int(b["file_id"].shape[0]) for b in batches) == len(expected)
    # The cardinality is declared (Keras shows totals, and does not warn that the input ran out of data).
    assert len(tf_dataset) == len(batches) == -(-len(expected) // 4)
    unbatched = sliced.to_tensorflow()
    assert len(unbatched) == len(expected)
    half = sliced.to_tensorflow(shard=(1, 2))
    assert len(half) == len(list(half)) < len(expected)
    tf = pytest.importorskip("tensorflow")
    assert tf.data.experimental.cardinality(sliced.to_tensorflow(skip_unavailable=True)) == tf.data.UNKNOWN_CARDINALITY


def _epoch(stack: Stack, rank: int, world: int, epoch: int, **options) -> list[str]:
    from annolake.slices import Slice
    from annolake.torch_data import SliceLoader

    sliced = Slice(stack.project(), "big", "labels.car >= 0", slice_id=options.pop("slice_id"))
    dataset = sliced.to_pytorch(streaming=True, rank=rank, world_size=world, seed=7, decode=False, **options)
    dataset.set_epoch(epoch)
    loader = SliceLoader(dataset, batch_size=16, num_workers=2)
    return [f["id"] for batch in loader for f in batch["files"]]


def test_two_ranks_with_two_workers_each_yield_every_file_once_per_epoch(stack):
    frozen = stack.project().directory.get("big").slice("labels.car >= 0").slice_id
    epochs = []
    for epoch in (0, 1):
        ranks = [_epoch(stack, rank, 2, epoch, slice_id=frozen) for rank in (0, 1)]
        everything = ranks[0] + ranks[1]
        assert Counter(everything).most_common(1)[0][1] == 1  # no duplicates
        assert set(everything) == set(stack.file_ids)  # no gaps
        assert abs(len(ranks[0]) - len(ranks[1])) <= 100  # one page at most
        epochs.append(ranks[0])
    assert epochs[0] != epochs[1]  # reshuffled per epoch


def test_resuming_from_a_state_dict_yields_exactly_the_remaining_samples(stack):
    from annolake.torch_data import SliceLoader

    sliced = stack.project().directory.get("big").slice("labels.pedestrian >= 0").freeze()
    dataset = sliced.to_pytorch(streaming=True, seed=3, decode=False)
    loader = SliceLoader(dataset, batch_size=20, num_workers=2)
    seen = []
    for batch in loader:
        seen += [f["id"] for f in batch["files"]]
        if len(seen) >= 300:
            break
    state = loader.state_dict()
    assert len(seen) == 300 and state["slice_id"] == sliced.slice_id

    def rest(world: int, workers: int) -> list[str]:
        out = []
        for rank in range(world):
            resumed = sliced.to_pytorch(streaming=True, rank=rank, world_size=world, decode=False)
            resumed.load_state_dict(state)
            out += [
                f["id"] for batch in SliceLoader(resumed, batch_size=7, num_workers=workers) for f in batch["files"]
            ]
        return out

    for world, workers in ((1, 2), (3, 1)):  # the same shape, and another world size and worker count
        remaining = rest(world, workers)
        assert len(remaining) == len(set(remaining)) == COUNT - 300
        assert set(remaining) | set(seen) == set(stack.file_ids)


def test_urls_expiring_mid_epoch_are_refreshed_without_losing_a_sample(stack):
    sliced = stack.project().directory.get("big").slice("labels.car >= 1")
    expected = _matching(stack, lambda i: slice_data.cars(i) >= 1)
    dataset = sliced.to_pytorch(streaming=True, url_expires_in=3, decode=False, page_size=50, concurrency=4)
    seen = []
    for sample in dataset:
        seen.append(sample["file"]["id"])
        if len(seen) == 120:
            time.sleep(4)  # a slow training step: every URL of the pages already read has expired
    assert sorted(seen) == sorted(expected)
    assert dataset.reader.refreshes >= 1


def test_map_style_dataset_under_a_distributed_sampler(stack):
    from torch.utils.data import DataLoader, DistributedSampler

    dataset = stack.project().directory.get("big").slice("labels.car = 0").to_pytorch(decode=False)
    expected = _matching(stack, lambda i: slice_data.cars(i) == 0)
    seen = []
    for rank in (0, 1):
        sampler = DistributedSampler(dataset, num_replicas=2, rank=rank, shuffle=True, seed=1, drop_last=True)
        loader = DataLoader(dataset, batch_size=10, sampler=sampler, num_workers=2, collate_fn=lambda b: b)
        seen += [s["file"]["id"] for batch in loader for s in batch]
    assert len(seen) == len(set(seen)) and set(seen) <= expected and len(expected) - len(seen) <= 1


def test_bad_queries_and_the_cli(stack, monkeypatch, capsys):
    from annolake import InvalidRequest
    from annolake.cli import main as cli

    dataset = stack.project().directory.get("big")
    with pytest.raises(InvalidRequest, match="column 13"):
        len(dataset.slice("labels.car >"))
    with pytest.raises(InvalidRequest, match="(?i)did you mean"):
        dataset.query("labels.cars > 3")
    stack.point_cli_at(monkeypatch, "stream")
    assert cli(["query", "labels.car = 4 and labels.pedestrian = 2", "--directory", "big", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    expected = _matching(stack, lambda i: slice_data.cars(i) == 4 and slice_data.pedestrians(i) == 2)
    assert f"{len(expected)} files match" in out and len([line for line in out.splitlines() if "img_" in line]) == 3
    assert cli(["query", "labels.car >", "--directory", "big"]) == 2
    assert "column 13" in capsys.readouterr().err


@pytest.mark.parametrize("pages_ahead", [1, 3])
def test_pages_ahead_are_requested_while_the_first_is_downloaded(stack, pages_ahead):
    from annolake.slices import StreamOptions

    sliced = stack.project().directory.get("big").slice("labels.car >= 0")
    options = StreamOptions(page_size=20, pages_ahead=pages_ahead, concurrency=2, prefetch=4, decode=False)
    with sliced.reader(options) as reader:
        samples = reader.samples(range(200))
        first = next(samples)
        assert first["index"] == 0
        with reader._lock:
            asked = set(reader._pages) | set(reader._pending_pages)
        assert asked == set(range(1 + pages_ahead))  # the first page and exactly the next ones, nothing more
        assert sorted(s["index"] for s in samples) == list(range(1, 200))
    with pytest.raises(ValueError, match="pages_ahead must be >= 1"):
        StreamOptions(pages_ahead=0)
