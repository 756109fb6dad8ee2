"""Streaming copes with short pages: the API ends a page at its byte budget, and the SDK asks for the rest.

Real API over moto, in this process, so the budget (``PAGE_MAX_BYTES``) can be made small enough that every
page stops after one item.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from annolake import StreamOptions

from tests.sdk.api_stack import Stack, api_stack
from tests.support import slice_data
from tests.support.auth import reset_service_caches


@pytest.fixture(scope="module")
def stack(serve_wsgi, new_moto_app) -> Iterator[Stack]:
    with api_stack(
        serve_wsgi,
        new_moto_app,
        "short-pages",
        lambda project: slice_data.seed_dataset(project, "default", 7),
        role="editor",  # an editor may take the snapshot
    ) as running:
        yield running


def _stream(project, options: StreamOptions) -> list[tuple[int, str]]:
    sliced = project.directory.get("default").slice("file.width >= 1")
    with sliced.reader(options) as reader:
        return [(s["index"], s["file"]["id"]) for s in reader.samples(range(len(sliced)), skip_unavailable=False)]


def test_every_sample_arrives_once_in_order_when_each_page_holds_one_item(stack, monkeypatch):
    project = stack.project()
    options = StreamOptions(page_size=3)
    whole = _stream(project, options)
    assert [index for index, _ in whole] == list(range(7))

    monkeypatch.setenv("PAGE_MAX_BYTES", "1")  # every page ends after its first item
    reset_service_caches()
    try:
        with project.directory.get("default").slice("file.width >= 1").reader(options) as reader:
            samples = [(s["index"], s["file"]["id"]) for s in reader.samples(range(7))]
            requests = reader.page_requests
    finally:
        monkeypatch.delenv("PAGE_MAX_BYTES")
        reset_service_caches()
    assert samples == whole
    assert requests == 7  # one request per item: each block of 3 was asked for until it was whole


def test_a_snapshot_streams_every_pinned_sample_when_each_page_holds_one_item(stack, monkeypatch):
    project = stack.project()
    snap = project.directory.get("default").snapshot("short-pages")
    options = StreamOptions(page_size=3)
    with snap.reader(options) as reader:
        whole = [(s["index"], s["file"]["id"], len(s["instance_list"])) for s in reader.samples(range(len(snap)))]
    assert [index for index, _, _ in whole] == list(range(7))

    monkeypatch.setenv("PAGE_MAX_BYTES", "1")  # every snapshot page ends after its first item
    reset_service_caches()
    try:
        first = snap.page(0, 7)
        with snap.reader(options) as reader:
            samples = [(s["index"], s["file"]["id"], len(s["instance_list"])) for s in reader.samples(range(7))]
            requests = reader.page_requests
    finally:
        monkeypatch.delenv("PAGE_MAX_BYTES")
        reset_service_caches()
    assert len(first["items"]) == 1 and first["next_offset"] == 1 and first["cursor"]
    assert samples == whole
    assert requests == 7
