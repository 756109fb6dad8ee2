"""Snapshots and exports against ``make up``: the export state machine runs on the emulator's Step Functions
with its Lambda steps in-process, as deployed."""

from __future__ import annotations

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
