"""Snapshots and exports in the web UI, in a real browser (Debian's Chromium through Playwright) against a real
``python -m infra.local``.

Three labelled images are uploaded through the SDK; a snapshot is taken in the UI and listed; one file is
re-annotated through the SDK and a second snapshot taken; the first snapshot's page shows the diff (one file
changed, the labels' deltas); a COCO export of the second is started in the UI, followed until done, and the
bytes behind its download link load in pycocotools with the snapshot's images and boxes.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
import urllib3
from PIL import Image

from tests.e2e.conftest import REPO, RunningPlatform
from tests.e2e.test_web_ui import _sign_in

pytestmark = pytest.mark.slow

SHOTS = REPO / "test-results" / "web-snapshots"
DATASET = "web-snapshots"
EXPORT_TIMEOUT_MS = 300_000


def _box(name: str, k: int) -> dict:
    return {"type": "box", "name": name, "x_min": 4 + 20 * k, "y_min": 6, "x_max": 18 + 20 * k, "y_max": 30}


@pytest.fixture(scope="module")
def seeded(platform: RunningPlatform, tmp_path_factory) -> dict:
    """Three images in a dataset of their own: file k with k+1 cars and one pedestrian."""
    from annolake import Project

    creds = platform.credentials
    project = Project(creds["project"], creds["client_id"], creds["client_secret"], platform.api_url)
    folder = tmp_path_factory.mktemp("web-snapshots")
    files = []
    for k in range(3):
        path = folder / f"scene_{k}.png"
        Image.new("RGB", (160, 120), (40 * k, 90, 160)).save(path)
        file = project.file.from_local(path, directory=DATASET, wait_s=300)
        file.update([_box("car", n) for n in range(k + 1)] + [_box("pedestrian", 5)])
        files.append(file)
    return {"project": project, "files": files}


def _take_snapshot(page, name: str) -> None:
    from playwright.sync_api import expect

    form = page.get_by_role("form", name="New snapshot")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Dataset").select_option(DATASET)
    form.get_by_role("button", name="Take snapshot").click()
    expect(page.get_by_role("heading", name=f"Snapshot {name}")).to_be_visible()


def test_snapshots_diff_and_a_coco_export_in_the_browser(platform, admin, seeded, tmp_path):
    from playwright.sync_api import expect
    from pycocotools.coco import COCO

    creds = platform.credentials
    page = admin.page
    _sign_in(admin, creds["username"], creds["password"], f"/p/{creds['project']}/datasets")
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Snapshots").click()
    expect(page.get_by_role("heading", name="Snapshots")).to_be_visible()

    _take_snapshot(page, "web-v1")
    lineage = page.get_by_role("region", name="Lineage")
    expect(lineage).to_contain_text(DATASET)
    histogram = page.get_by_role("table", name="Label histogram")
    expect(histogram.get_by_role("row", name=re.compile(r"^car 3 6$"))).to_be_visible()  # 1 + 2 + 3 cars on 3 files
    page.get_by_role("link", name="All snapshots").click()
    row = page.get_by_role("table", name="Snapshots").get_by_role("row", name=re.compile(r"^web-v1 "))
    expect(row).to_contain_text(f"dataset: {DATASET}")
    expect(row.get_by_role("cell").nth(2)).to_have_text("3")
    admin.shot("01-snapshot-listed")

    edited = seeded["files"][0].refresh()  # one car becomes four, the pedestrian goes
    edited.update([_box("car", n) for n in range(4)])
    _take_snapshot(page, "web-v2")
    page.get_by_role("link", name="All snapshots").click()
    page.get_by_role("link", name="web-v1").click()
    page.get_by_label("Changes from web-v1 to").select_option("web-v2")
    changed = page.get_by_role("region", name="Diff").get_by_role("definition").nth(2)
    expect(changed).to_have_text("1")
    deltas = page.get_by_role("table", name="Label deltas")
    expect(deltas.get_by_role("row", name=re.compile(r"^car 0 0 \+3 \+3$"))).to_be_visible()
    expect(deltas.get_by_role("row", name=re.compile(r"^pedestrian 0 0 -1 -1$"))).to_be_visible()
    admin.shot("02-diff")

    page.get_by_role("link", name="All snapshots").click()
    page.get_by_role("link", name="web-v2").click()
    page.get_by_role("link", name="Export…").click()
    form = page.get_by_role("form", name="New export")
    expect(form.get_by_role("combobox", name="Snapshot")).to_have_value("web-v2")
    expect(form.get_by_role("combobox", name="Format")).to_have_value("coco")
    expect(form.get_by_label(re.compile("Train/val split"))).to_have_count(0)  # a YOLO option, not COCO's
    form.get_by_role("button", name="Start export").click()
    exports = page.get_by_role("table", name="Exports")
    row = exports.get_by_role("row").filter(has_text="web-v2").filter(has_text="coco")
    link = row.get_by_role("link", name="Download annotations.json")
    expect(link).to_be_visible(timeout=EXPORT_TIMEOUT_MS)  # the list is read again while it runs
    expect(row).to_contain_text("completed")
    admin.shot("03-export-done")

    answer = urllib3.request("GET", link.get_attribute("href"))
    assert answer.status == 200
    (tmp_path / "annotations.json").write_bytes(answer.data)
    coco = COCO(str(tmp_path / "annotations.json"))
    assert sorted(image["file_name"] for image in coco.imgs.values()) == ["scene_0.png", "scene_1.png", "scene_2.png"]
    counted = Counter(coco.cats[a["category_id"]]["name"] for a in coco.anns.values())
    assert counted == Counter({"car": 4 + 2 + 3, "pedestrian": 2})
    assert all(a["bbox"][2:] == [14, 24] for a in coco.anns.values())
    admin.assert_clean()


def test_an_option_the_format_refuses_is_shown_as_the_api_gives_it(platform, admin, seeded):
    from playwright.sync_api import expect

    page = admin.page
    page.goto(f"/p/{platform.credentials['project']}/exports")
    form = page.get_by_role("form", name="New export")
    form.get_by_role("combobox", name="Format").select_option("yolo")
    form.get_by_label(re.compile("Split into subsets")).check()
    form.get_by_label("train", exact=True).fill("0.9")
    form.get_by_label("val", exact=True).fill("0.3")
    with admin.expecting_http_error(400, "/exports"):
        form.get_by_role("button", name="Start export").click()
        expect(form.get_by_role("alert")).to_contain_text("the split's shares must add up to 1")
    admin.shot("04-refused-option")


def test_a_coco_export_with_s3_references_from_the_export_page(platform, admin, seeded, tmp_path):
    from playwright.sync_api import expect
    from pycocotools.coco import COCO

    seeded["project"].snapshot.new("web-refs", directory=DATASET)
    page = admin.page
    page.goto(f"/p/{platform.credentials['project']}/exports?snapshot=web-refs")
    form = page.get_by_role("form", name="New export")
    form.get_by_role("combobox", name="Format").select_option("yolo")
    expect(form.get_by_label(re.compile("Name each image by its S3 URI"))).to_have_count(0)  # YOLO cannot
    form.get_by_role("combobox", name="Format").select_option("coco")
    form.get_by_label(re.compile("Name each image by its S3 URI")).check()
    form.get_by_role("button", name="Start export").click()
    row = page.get_by_role("table", name="Exports").get_by_role("row").filter(has_text='"references":"s3"')
    link = row.get_by_role("link", name="Download annotations.json")
    expect(link).to_be_visible(timeout=EXPORT_TIMEOUT_MS)
    admin.shot("05-export-with-references")

    answer = urllib3.request("GET", link.get_attribute("href"))
    (tmp_path / "annotations.json").write_bytes(answer.data)
    coco = COCO(str(tmp_path / "annotations.json"))
    uris = sorted(image["coco_url"] for image in coco.imgs.values())
    assert len(uris) == 3 and all(uri.startswith("s3://") and uri.endswith("/original.png") for uri in uris)
    admin.assert_clean()
