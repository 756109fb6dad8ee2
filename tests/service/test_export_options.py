"""Export options and the pure parts of packed shards and the YOLO split (domain/exports): what a format takes,
how a page is cut into shards, and which subset a file goes to."""

from __future__ import annotations

import io
import tarfile

import pytest
from annolake_service.domain.exports import packed, yolo
from annolake_service.domain.exports.base import format_named
from hypothesis import given
from hypothesis import strategies as st


def test_options_are_checked_and_defaults_filled_so_the_same_ask_is_the_same_export():
    default = {"shard_bytes": 64 << 20}
    assert packed.normalized_options({}) == default == packed.normalized_options(default)
    for bad in (1000, 2 << 30, "64MiB", True, 1.5e6):
        with pytest.raises(ValueError, match="shard_bytes must be a whole number of bytes from 1048576"):
            packed.normalized_options({"shard_bytes": bad})
    with pytest.raises(ValueError, match="takes no options"):
        format_named("voc").options({"split": {"train": 1}})
    with pytest.raises(ValueError, match="takes only every_n_frames"):
        format_named("coco").options({"split": {"train": 1}})
    assert format_named("coco").options({"every_n_frames": None}) == {}
    for bad in (0, True, 2.5, "10"):
        with pytest.raises(ValueError, match="every_n_frames is a whole number of frames"):
            format_named("coco").options({"every_n_frames": bad})
    assert yolo.normalized_options({"every_n_frames": 10}) == {"every_n_frames": 10}
    assert yolo.normalized_options({}) == {}
    assert yolo.normalized_options({"split": {"val": 0.2, "train": 0.8}}) == {
        "split": {"train": 0.8, "val": 0.2},
        "seed": 0,
    }
    for bad, message in (
        ({"split": {"train": 0.8, "val": 0.3}}, "add up to 1"),
        ({"split": {"train": 1.0}}, "train and val"),
        ({"split": {"train": 0.5, "val": 0.5, "holdout": 0.0}}, "train and val"),
        ({"split": {"train": 1.2, "val": -0.2}}, "between 0 and 1"),
        ({"seed": 3}, "only applies with split"),
        ({"split": {"train": 0.5, "val": 0.5}, "seed": "a"}, "whole number"),
        ({"folds": 5}, "split, seed and every_n_frames"),
    ):
        with pytest.raises(ValueError, match=message):
            yolo.normalized_options(bad)


def test_a_file_s_subset_depends_on_its_id_and_seed_only():
    options = {"split": {"train": 0.7, "val": 0.2, "test": 0.1}, "seed": 0}
    ids = [f"{i:032x}" for i in range(3000)]
    subsets = [yolo.subset_of(i, options) for i in ids]
    assert subsets == [yolo.subset_of(i, options) for i in ids]  # the same every time
    shares = {s: subsets.count(s) / len(ids) for s in ("train", "val", "test")}
    assert abs(shares["train"] - 0.7) < 0.04 and abs(shares["val"] - 0.2) < 0.03 and abs(shares["test"] - 0.1) < 0.03
    reseeded = [yolo.subset_of(i, {**options, "seed": 1}) for i in ids]
    assert reseeded != subsets
    assert yolo.subset_of(ids[0], {}) is None


@given(sizes=st.lists(st.integers(1024, 3 << 20), max_size=40), shard=st.integers(1 << 20, 8 << 20))
def test_a_page_is_cut_into_consecutive_runs_within_the_shard_size(sizes, shard):
    runs = packed.cut(sizes, shard)
    assert [i for run in runs for i in run] == list(range(len(sizes)))  # consecutive, each sample once
    for run in runs:
        assert len(run) == 1 or sum(sizes[i] for i in run) + len(packed.TAR_END) <= shard
    for run, following in zip(runs, runs[1:], strict=False):  # greedy: the next sample did not fit
        assert sum(sizes[i] for i in run) + sizes[following[0]] + len(packed.TAR_END) > shard


def test_members_written_with_fixed_headers_read_back_with_tarfile():
    members = [("0a1f.jpg", b"\xff\xd8jpeg bytes"), ("0a1f.json", b'{"index":0}')]
    data = b"".join(packed.header(n, len(b)) + b + packed.padding(len(b)) for n, b in members) + packed.TAR_END
    assert len(data) == sum(packed.member_bytes(len(b)) for _, b in members) + len(packed.TAR_END)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        read = [(m.name, archive.extractfile(m).read(), m.mtime, m.mode) for m in archive.getmembers()]
    assert read == [(n, b, 0, 0o644) for n, b in members]
    assert packed.extension("Photo.JPEG") == "jpeg" and packed.extension("notes") == "bin"
    assert packed.extension("x.json") == "bin"  # never collides with the annotation member


def test_references_are_an_option_of_the_formats_that_can_name_an_original():
    assert format_named("coco").normalize({"references": "s3", "every_n_frames": 5}) == {
        "references": "s3",
        "every_n_frames": 5,
    }
    assert format_named("jsonl").normalize({"references": "s3"}) == {"references": "s3"}
    assert format_named("voc").normalize({}) == {}  # none by default: the exports made before keep their ids
    assert format_named("sagemaker").normalize({"references": "s3"}) == {}  # source-ref is always there
    assert format_named("voc").holds_references({"references": "s3"}) and format_named("sagemaker").holds_references({})
    assert not format_named("coco").holds_references({})
    for name in ("yolo", "cvat_video", "mot", "packed"):
        with pytest.raises(ValueError, match=f"{name} cannot take references: .*; the formats that take"):
            format_named(name).normalize({"references": "s3"})
    with pytest.raises(ValueError, match="presigned URLs expire"):
        format_named("coco").normalize({"references": "presigned"})
    with pytest.raises(ValueError, match="takes no options"):
        format_named("voc").normalize({"references": "s3", "split": {}})
