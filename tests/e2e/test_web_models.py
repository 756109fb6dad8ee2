"""Models in the loop in a real browser (Debian's Chromium through Playwright) against a real ``python -m infra.local``.

A tiny YOLO-format ONNX model made at test time (``tests/support/onnx_models.py``: its class scores come from
the image's colour) is registered through the SDK and predicts four images whose human boxes were uploaded
with them, one of them missing a box the model finds; the run is evaluated. In the browser: the models page
lists the model and the finished run, the run page shows the mAP and the AP chart the service computed, the
precision-recall curves and the file the human got wrong at the top of the disagreement list (human boxes
solid, the model's dashed); a second evaluation at another IoU is started from the page; the file editor
overlays the model's predictions dashed, and the score slider hides them; so does the explorer, on every
thumbnail at once.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import REPO, RunningPlatform
from tests.e2e.test_web_ui import _sign_in
from tests.support import onnx_models
from tests.support.model_platform import GREEN, RED, human_boxes

pytestmark = pytest.mark.slow

SHOTS = REPO / "test-results" / "web-models"
DATASET = "web-models"
MODEL = "webdet"
SIZE = (128, 128)


@pytest.fixture(scope="module")
def evaluated(platform: RunningPlatform, tmp_path_factory) -> dict:
    """Four files (the first missing one of its two human cars), the model, its finished run, evaluated."""
    from annolake import Project

    creds = platform.credentials
    project = Project(creds["project"], creds["client_id"], creds["client_secret"], platform.api_url)
    folder = tmp_path_factory.mktemp("web-models")
    files = []
    for n, colour in enumerate([RED, GREEN, RED, GREEN]):
        path = folder / f"scene_{n}.png"
        path.write_bytes(onnx_models.png(*SIZE, colour, marker=9000 + n))
        boxes = human_boxes(colour, SIZE)
        files.append(project.file.from_local(path, directory=DATASET, instance_list=boxes[1:] if n == 0 else boxes))
    model_path = folder / "det.onnx"
    model_path.write_bytes(onnx_models.yolo_detector(64))
    model = project.model.new(
        MODEL, path=model_path, format="yolo", labels=["car", "pedestrian"], input_size=64, score_threshold=0.3
    )
    run = model.predict(DATASET)
    run.wait(progress=False, timeout=240)
    report = run.evaluate(iou=0.5)
    assert report["status"] == "completed", report
    return {
        "project": creds["project"],
        "run": run.run_id,
        "report": report,
        "damaged": files[0].id,
        "predicted": len(run.predictions(files[0].id)["instance_list"]),
        # each file's predicted box scores, as the run's own listing gives them
        "scores": {
            p["file_id"]: [i["score"] for i in p["instance_list"] if i["type"] == "box"] for p in run.predictions()
        },
        "files": [f.id for f in files],
    }


def test_the_models_page_lists_the_model_and_its_finished_run(platform, admin, evaluated):
    from playwright.sync_api import expect

    page = admin.page
    creds = platform.credentials
    _sign_in(admin, creds["username"], creds["password"], f"/p/{evaluated['project']}/models")
    expect(page.get_by_role("link", name="Models")).to_have_attribute("aria-current", "page")
    models = page.get_by_role("table", name="Models")
    expect(models.locator(f'tr[data-model="{MODEL}"]')).to_contain_text("yolo")
    expect(models.locator(f'tr[data-model="{MODEL}"]')).to_contain_text("ready")
    row = page.get_by_role("table", name="Runs").locator(f'tr[data-run="{evaluated["run"]}"]')
    expect(row).to_contain_text("completed")
    expect(row.get_by_role("img", name="4 done, 0 failed, 0 pending of 4")).to_be_visible()
    expect(row.get_by_role("button", name="Re-drive")).to_have_count(0)  # nothing missing or failed
    admin.shot("01-models")
    row.get_by_role("link", name=evaluated["run"]).click()
    expect(page).to_have_url(re.compile(rf"/runs/{evaluated['run']}$"))


def test_the_run_page_shows_the_evaluation_and_the_file_the_human_got_wrong_first(admin, evaluated):
    from playwright.sync_api import expect

    page = admin.page
    report = evaluated["report"]
    expect(page.locator('[data-metric="map"]')).to_have_text(f"{report['mean_ap']:.3f}")
    chart = page.locator("svg.ap-chart")
    for label, ap in report["per_class_ap"].items():
        expect(chart.locator(f'g[data-class="{label}"]')).to_contain_text("no AP" if ap is None else f"{ap:.3f}")
    curves = page.locator("figure.pr-chart path.curve")
    expect(curves).to_have_count(len(report["pr_curves"]))
    expect(page.get_by_role("table", name="Disagreement per annotator").locator("tbody tr")).to_have_count(
        len(report["annotators"])
    )

    listed = page.get_by_role("list", name="Files by disagreement").locator("li")
    expect(listed).to_have_count(4)
    first = listed.first
    expect(first).to_have_attribute("data-file", evaluated["damaged"])
    assert float(first.locator(".disagreement").get_attribute("data-disagreement")) > 0.5
    for other in range(1, 4):
        expect(listed.nth(other).locator(".disagreement")).to_have_text("0.00")
    thumb = first.locator("svg.detection-thumb")
    expect(thumb.locator('rect[data-side="human"]')).to_have_count(1)
    expect(thumb.locator('rect[data-side="prediction"]')).to_have_count(evaluated["predicted"])
    expect(thumb.locator('rect[data-side="prediction"]').first).to_have_attribute("stroke-dasharray", "4 3")
    admin.shot("02-run-evaluation")

    page.get_by_label("IoU threshold").fill("0.7")  # another evaluation, started here and followed
    page.get_by_role("button", name="Evaluate again").click()
    expect(page.get_by_text("mAP @ IoU 0.7")).to_be_visible(timeout=120_000)
    expect(listed.first).to_have_attribute("data-file", evaluated["damaged"])


def test_the_file_editor_overlays_the_predictions_dashed_and_the_slider_hides_them(admin, evaluated):
    from playwright.sync_api import expect

    page = admin.page
    page.get_by_role("list", name="Files by disagreement").locator("li").first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/files/{evaluated['damaged']}$"))
    predicted = page.locator(f'rect.shape[data-layer="model:{MODEL}"]')
    expect(page.get_by_role("application", name="Image canvas")).to_be_visible()
    expect(predicted).to_have_count(0)  # off until a model is chosen

    page.get_by_role("combobox", name="Predictions of model").select_option(label=f"{MODEL} (run {evaluated['run']})")
    count = evaluated["predicted"]
    expect(predicted).to_have_count(count)
    expect(predicted.first).to_have_attribute("stroke-dasharray", "6 4")
    expect(page.locator("rect.shape:not([data-layer])")).to_have_count(1)  # the human's one box, editable
    overlay = page.get_by_role("group", name="Model predictions")
    shown = overlay.locator('.hint[role="status"]')
    expect(shown).to_have_text(f"{count} of {count} shown, dashed")
    admin.shot("03-editor-overlay")

    slider = page.get_by_label("Min score")
    slider.focus()
    page.keyboard.press("End")  # score 1: every prediction scores below it
    expect(overlay.locator("output")).to_have_text("1.00")
    expect(predicted).to_have_count(0)
    expect(shown).to_have_text(f"0 of {count} shown, dashed")
    page.keyboard.press("Home")
    expect(predicted).to_have_count(count)
    admin.shot("04-editor-overlay-hidden")


def test_the_explorer_overlays_the_predictions_on_every_thumbnail_and_the_slider_hides_them(admin, evaluated):
    from playwright.sync_api import expect

    page = admin.page
    page.goto(f"/p/{evaluated['project']}/datasets/{DATASET}")
    tiles = page.get_by_role("list", name="Files").get_by_role("listitem")
    expect(tiles).to_have_count(4)
    expect(page.locator("svg.tile-predictions")).to_have_count(0)  # off until a model is picked
    expect(page.get_by_label("Min score")).to_have_count(0)

    page.get_by_role("combobox", name="Predictions of model").select_option(label=f"{MODEL} (run {evaluated['run']})")
    expect(page).to_have_url(re.compile(rf"[?&]model={MODEL}(&|$)"))  # a link keeps the pick
    scores = evaluated["scores"]
    assert sum(len(found) for found in scores.values()) > 0, scores
    assert all(score < 1 for found in scores.values() for score in found), scores

    def media(file_id: str):
        return page.locator(f'a[href*="/files/{file_id}?"] .tile-media')

    for file_id in evaluated["files"]:
        count = len(scores.get(file_id, []))
        expect(media(file_id)).to_have_attribute("data-predicted", str(count))
        expect(media(file_id).locator('svg.tile-predictions rect[data-side="prediction"]')).to_have_count(count)
        link = page.locator(f'a[href*="/files/{file_id}?"]')
        expect(link).to_have_accessible_name(re.compile(rf"\b{count} predicted\b"))
    damaged = media(evaluated["damaged"]).locator("rect")
    expect(damaged.first).to_have_attribute("stroke-dasharray", "4 3")
    expect(damaged.first.locator("title")).to_have_text(re.compile(r"^(car|pedestrian) \d\.\d\d$"))
    admin.shot("05-explorer-overlay")

    slider = page.get_by_label("Min score")
    slider.focus()
    page.keyboard.press("End")  # score 1: every prediction scores below it
    expect(page.get_by_role("group", name="Model predictions").locator("output")).to_have_text("1.00")
    expect(page.locator('svg.tile-predictions rect[data-side="prediction"]')).to_have_count(0)
    for file_id in evaluated["files"]:
        expect(media(file_id)).to_have_attribute("data-predicted", "0")
    admin.shot("06-explorer-overlay-hidden")
    expect(page).to_have_url(re.compile(rf"\?model={MODEL}&score=1$"))  # a link keeps the score too
    page.reload()
    expect(page.get_by_role("group", name="Model predictions").locator("output")).to_have_text("1.00")
    expect(media(evaluated["damaged"])).to_have_attribute("data-predicted", "0")

    # a file opened from the explorer opens with the model and score picked, and its way back keeps them
    page.locator(f'a[href*="/files/{evaluated["damaged"]}?"]').click()
    expect(page).to_have_url(re.compile(rf"/files/{evaluated['damaged']}\?.*model={MODEL}&score=1"))
    expect(page.get_by_role("combobox", name="Predictions of model")).to_have_value(MODEL)
    expect(page.get_by_role("group", name="Model predictions").locator("output")).to_have_text("1.00")
    predicted = page.locator(f'rect.shape[data-layer="model:{MODEL}"]')
    expect(predicted).to_have_count(0)
    page.get_by_label("Min score").focus()
    page.keyboard.press("Home")  # score 0 in the editor: every prediction shows, and the way back says so
    expect(predicted).to_have_count(evaluated["predicted"])
    page.get_by_role("link", name=f"← Back to {DATASET}").click()
    expect(page).to_have_url(re.compile(rf"/datasets/{DATASET}\?model={MODEL}$"))
    expect(media(evaluated["damaged"])).to_have_attribute(
        "data-predicted", str(len(scores.get(evaluated["damaged"], [])))
    )

    page.get_by_role("combobox", name="Predictions of model").select_option("")
    expect(page.locator(".tile-media[data-predicted]")).to_have_count(0)
    expect(page).not_to_have_url(re.compile(r"model="))


def test_the_explorer_says_when_the_model_in_its_link_has_no_finished_run(platform, admin, evaluated, tmp_path):
    from annolake import Project
    from playwright.sync_api import expect

    creds = platform.credentials
    project = Project(creds["project"], creds["client_id"], creds["client_secret"], platform.api_url)
    path = tmp_path / "idle.onnx"
    path.write_bytes(onnx_models.yolo_detector(64))
    project.model.new("idle", path=path, format="yolo", labels=["car", "pedestrian"], input_size=64)
    page = admin.page
    page.goto(f"/p/{evaluated['project']}/datasets/{DATASET}?model=idle")
    overlay = page.get_by_role("group", name="Model predictions")
    expect(overlay.locator('.hint[role="status"]')).to_have_text("idle has no finished run yet: nothing to draw")
    expect(page.locator(".tile-media[data-predicted]")).to_have_count(4)
    expect(page.locator('svg.tile-predictions rect[data-side="prediction"]')).to_have_count(0)
