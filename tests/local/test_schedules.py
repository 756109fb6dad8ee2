"""Scheduled rules on the emulator: the template's ``rate(...)`` schedules fire their functions.

The query index's compaction schedule is run from the provisioned template (at a short period, through
``ANNOLAKE_SCHEDULE_SECONDS``): a dataset whose index has delta files the stream path left alone (it compacts
only after ``INDEX_COMPACT_AFTER`` of them) is compacted by it, and queries still answer the same files.
"""

from __future__ import annotations

import time

import pytest

from infra.local.schedules import Scheduler, rate_seconds
from tests.support.model_platform import GREEN, RED, model_platform, unique_project


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(1 hour)", 3600), ("rate(2 days)", 172800)],
)
def test_rate_expressions(expression, seconds):
    assert rate_seconds(expression) == seconds


def test_cron_is_not_a_rate_and_a_wrong_plural_is_refused():
    assert rate_seconds("cron(0 3 * * ? *)") is None
    with pytest.raises(ValueError, match="rate\\(1 hour\\)"):
        rate_seconds("rate(1 hours)")
    with pytest.raises(ValueError, match="hours"):
        rate_seconds("rate(3 hour)")


@pytest.fixture(scope="module")
def platform(local_stack, moto_endpoint):
    with pytest.MonkeyPatch.context() as env:
        env.setenv("INDEX_COMPACT_AFTER", "1000")  # the stream path builds the index but never compacts it
        with model_platform(local_stack, moto_endpoint, unique_project("scheduled")) as running:
            yield running


def _engine(project, path: str, query: str) -> dict:
    answer = project.client.get(f"{path}/query", q=query, limit=1)
    return {"count": answer["count"], **answer["engine"]}


def _until(condition, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.2)
    return found


def test_the_compaction_schedule_folds_an_index_deltas(platform, local_stack, moto_endpoint, monkeypatch):
    project = platform.project()
    path = f"{project._path}/datasets/pool"
    platform.seed("pool", [RED, GREEN], start=0)
    built = _until(
        lambda: (e := _engine(project, path, "labels.car >= 1"))["name"] == "index" and e["count"] == 1 and e,
        "the first index build",
    )
    platform.seed("pool", [RED, RED, GREEN], start=10)
    pending = _until(
        lambda: (e := _engine(project, path, "labels.car >= 1"))["count"] == 3 and e["deltas"] >= 1 and e,
        "the later files reaching the index as deltas",
    )
    time.sleep(1)
    # nothing compacts them yet (a later change of the same files may still add a delta, never fold one)
    assert _engine(project, path, "labels.car >= 1")["deltas"] >= pending["deltas"]

    monkeypatch.setenv("ANNOLAKE_SCHEDULE_SECONDS", "0.5")
    scheduler = Scheduler(local_stack.session, moto_endpoint, local_stack.deployment)
    schedules = scheduler.start()
    try:
        assert [s.expression for s in schedules] == ["rate(1 hour)"]  # as the template declares it
        compacted = _until(
            lambda: (e := _engine(project, path, "labels.car >= 1"))["deltas"] == 0 and e,
            "the scheduled compaction",
        )
    finally:
        scheduler.stop()
    assert scheduler.runs >= 1
    assert compacted["count"] == 3 and compacted["compacted_at"] > built["compacted_at"]
    assert _engine(project, path, "labels.pedestrian >= 1")["count"] == 2
