"""Locally (stage local) there is no Athena: a request for it is answered by the embedded engine over the same
index, with the same result, and the response says which engine answered and why."""

from __future__ import annotations

import time

import pytest
from annolake.errors import InvalidRequest

from tests.support.model_platform import GREEN, RED, model_platform, unique_project


@pytest.fixture(scope="module")
def platform(local_stack, moto_endpoint):
    with model_platform(local_stack, moto_endpoint, unique_project("engine")) as running:
        yield running


def test_engine_athena_is_answered_by_the_embedded_engine_locally(platform):
    project = platform.project()
    path = f"{project._path}/datasets/pool"
    platform.seed("pool", [RED, GREEN, RED], start=0)
    deadline = time.monotonic() + 30
    while (auto := project.client.get(f"{path}/query", q="labels.car >= 1", limit=1))["engine"]["name"] != "index" or (
        auto["count"] != 2
    ):
        assert time.monotonic() < deadline, f"the index never answered: {auto}"
        time.sleep(0.2)
    assert auto["engine"]["runner"] == "duckdb" and auto["engine"].get("note") is None

    asked = project.client.get(f"{path}/query", q="labels.car >= 1", limit=1, engine="athena")
    assert asked["count"] == 2 and [f["file_id"] for f in asked["files"]] == [f["file_id"] for f in auto["files"]]
    assert asked["engine"]["name"] == "index" and asked["engine"]["runner"] == "duckdb"
    assert "locally" in asked["engine"]["note"]

    chart = project.client.get(f"{path}/label-counts", query="labels.car >= 1", engine="athena")
    assert chart["files"] == 2 and chart["engine"]["runner"] == "duckdb" and "locally" in chart["engine"]["note"]

    with pytest.raises(InvalidRequest) as refused:
        project.client.get(f"{path}/query", q="labels.car >= 1", engine="presto")
    assert "engine" in str(refused.value.details) + refused.value.message
