"""Snapshots and exports against ``make up``: the export state machine runs on the emulator's Step Functions
with its Lambda steps in-process, as deployed."""

from __future__ import annotations

import time
from collections import Counter

import pytest

pytestmark = pytest.mark.slow


def test_snapshot_the_demo_dataset_and_export_it_through_the_state_machine(platform, monkeypatch, tmp_path):
    from annolake import Project
    from pycocotools.coco import COCO

    monkeypatch.setenv("ANNOLAKE_CREDENTIALS", str(platform.home / "credentials.json"))
    project = Project()
    dataset = project.directory.get("default")
    snap = dataset.snapshot("e2e-v1")
    assert len(snap) > 0 and project.snapshot.get(snap.digest[:10]).name == "e2e-v1"
    job = snap.export("coco", tmp_path / "coco", progress=False, wait_s=300)
    assert job["status"] == "completed" and job["pages_done"] == job["pages_total"] >= 1
    coco = COCO(str(tmp_path / "coco" / "annotations.json"))
    assert len(coco.imgs) == len(snap) and len(list((tmp_path / "coco" / "images").iterdir())) == len(snap)
    expected = Counter({name: tally["instances"] for name, tally in snap.label_histogram.items()})
    assert Counter(coco.cats[a["category_id"]]["name"] for a in coco.anns.values()) == expected
    again = snap.export("coco", progress=False)
    assert again["export_id"] == job["export_id"] and again["sha256"] == job["sha256"]


def test_a_label_added_while_an_export_runs_does_not_split_it(platform, monkeypatch):
    """The export renders every page and its assembly with the label schema its plan pinned: a label added after
    its pages were rendered (its assembly throttled once, retried 2 s later) leaves it whole, its categories those
    of the plan's schema. Before, the assembly found no parts for the new schema and failed the export."""
    import json
    import threading

    import urllib3
    from annolake import Project

    monkeypatch.setenv("ANNOLAKE_CREDENTIALS", str(platform.home / "credentials.json"))
    http, faults = urllib3.PoolManager(), f"{platform.emulator_url}/_annolake/faults"
    project = Project()
    before = [label["name"] for label in project.get_label_schema()["labels"]]
    throttled = {
        "operation": "lambda:Invoke",
        "path_contains": "exportsassemble",
        "status": 429,
        "code": "TooManyRequestsException",
        "times": 1,
    }
    assert http.request("POST", faults, body=json.dumps(throttled)).status == 201
    try:
        snap = project.directory.get("default").snapshot("e2e-pinned-schema")
        finished: dict = {}

        def run() -> None:
            try:
                finished.update(snap.export("coco", every_n_frames=7, progress=False, wait_s=300))
            except Exception as exc:  # noqa: BLE001 - the export's failure, asserted below
                finished["error"] = repr(exc)

        export = threading.Thread(target=run)
        export.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            (rule,) = json.loads(http.request("GET", faults).data)["rules"]
            if rule["fired"]:
                break
            time.sleep(0.05)
        assert rule["fired"] == 1, "the assembly was never invoked"
        project.label_new({"name": "added-mid-export"})  # while the assembly waits for its retry
        export.join(timeout=300)
    finally:
        http.request("DELETE", faults)
    assert finished.get("status") == "completed", finished
    coco = json.loads(urllib3.request("GET", finished["download_url"]).data)
    names = {c["name"] for c in coco["categories"]}
    assert names <= set(before) and "added-mid-export" not in names
