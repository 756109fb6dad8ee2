"""``File.history()`` reads every version though the API hands a long history out in pages (real API over moto)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sdk.api_stack import api_stack
from tests.service.test_page_bytes import BUDGET, polygon_versions
from tests.support import slice_data


def test_the_sdk_reads_a_history_of_many_pages_whole(
    serve_wsgi: Any, new_moto_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAGE_MAX_BYTES", str(BUDGET))  # a page holds two ~40 KB versions
    seed = lambda project: slice_data.seed_dataset(project, "default", 1, start=82_000)  # noqa: E731
    with api_stack(serve_wsgi, new_moto_app, "history", seed, role="editor") as stack:
        file = stack.project().file.get_by_id(stack.file_ids[0])
        for instances in polygon_versions(6):
            file.update(instances)
        history = file.history()
        assert [v["version"] for v in history] == list(range(1, file.annotation_version + 1))
        assert history[-1]["instance_list"][0]["points"] == file.instance_list[0]["points"]
