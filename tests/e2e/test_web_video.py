"""The video editor in a real browser (Debian's Chromium through Playwright) against a real ``python -m infra.local``.

A 120-frame video of a moving square, made at test time with PyAV and uploaded through the SDK, is found in
the explorer (its poster and duration), opened, stepped and seeked; a box drawn on frame 0 and another on
frame 100 make one track with two keyframes, moved on frame 100; frame 50 shows the box interpolated between
them (read from the SVG); after a save and a reload it is still there, and the server's own
``frames/50/annotations`` agree with what the browser drew.
"""

from __future__ import annotations

import math
import re

import pytest

from tests.e2e.conftest import REPO, RunningPlatform
from tests.e2e.test_web_ui import _api, _sign_in
from tests.support.video_fixtures import make_square_video, square_at

pytestmark = pytest.mark.slow

SHOTS = REPO / "test-results" / "web-video"
DATASET = "web-videos"
LABEL = "car"  # a demo label
FRAMES = 120


@pytest.fixture(scope="module")
def video(platform: RunningPlatform, tmp_path_factory) -> dict:
    """The square video, uploaded and ready."""
    from annolake import Project

    creds = platform.credentials
    path = make_square_video(tmp_path_factory.mktemp("video") / "square.mp4", frames=FRAMES)
    project = Project(creds["project"], creds["client_id"], creds["client_secret"], platform.api_url)
    file = project.file.from_local(path, directory=DATASET, wait_s=300)
    return _api(platform, "GET", f"/files/{file.id}")


def _image_box(page) -> dict:
    """The frame's image on screen (x, y, width, height): what maps image pixels to the page's."""
    return page.locator(".video-main svg.canvas image").bounding_box()


def _to_page(page, x: float, y: float) -> tuple[float, float]:
    box = _image_box(page)
    scale = box["width"] / 320
    return box["x"] + x * scale, box["y"] + y * scale


def _drag(page, a: tuple[float, float], b: tuple[float, float]) -> None:
    """A drag between two points in image pixels."""
    (x0, y0), (x1, y1) = _to_page(page, *a), _to_page(page, *b)
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=4)
    page.mouse.move(x1, y1, steps=4)
    page.mouse.up()


def _on_frame(page, frame: int) -> None:
    from playwright.sync_api import expect

    expect(page.locator(f'.video-main[data-frame="{frame}"][data-shown-frame="{frame}"]')).to_be_visible()


def _seek(page, frame: int) -> None:
    field = page.get_by_role("spinbutton", name="Frame")
    field.fill(str(frame))
    field.press("Enter")
    _on_frame(page, frame)


def _box_on_screen(page, note: str) -> dict[str, float]:
    """The box the canvas draws for the track, captioned `note` ("#1 interpolated", "#1 keyframe")."""
    from playwright.sync_api import expect

    rect = page.locator(f'.video-main g[data-note="{note}"] rect.shape')
    expect(rect).to_have_count(1)
    x, y, w, h = (float(rect.get_attribute(a) or "nan") for a in ("x", "y", "width", "height"))
    return {"x_min": x, "y_min": y, "x_max": x + w, "y_max": y + h}


def _close(a: dict[str, float], b: dict[str, float], tolerance: float) -> bool:
    return all(abs(a[k] - b[k]) <= tolerance for k in ("x_min", "y_min", "x_max", "y_max"))


def test_video_in_the_explorer_with_its_poster_and_duration(platform, admin, video):
    from playwright.sync_api import expect

    creds = platform.credentials
    assert video["media_type"] == "video" and video["video"]["frame_count"] == FRAMES
    _sign_in(admin, creds["username"], creds["password"], f"/p/demo/datasets/{DATASET}")
    page = admin.page
    tile = page.get_by_role("listitem").filter(has=page.get_by_role("img", name="square.mp4"))
    duration = video["video"]["duration_s"]
    assert 3.9 <= duration <= 4.1, duration
    expect(tile.get_by_label(f"Video, {FRAMES} frames")).to_have_text(f"▶ 0:0{math.floor(duration * 10) / 10:.1f}")
    poster = tile.get_by_role("img", name="square.mp4")
    expect(poster).to_have_js_property("complete", True)
    assert poster.evaluate("img => img.naturalWidth") > 0
    admin.shot("01-explorer-video")


def test_step_seek_draw_a_track_interpolate_save_and_reload(platform, admin, video):
    from playwright.sync_api import expect

    page = admin.page
    page.get_by_role("img", name="square.mp4").click()
    expect(page.get_by_role("heading", name="square.mp4")).to_be_visible()
    expect(page.locator(".editor-head .meta")).to_contain_text(f"{FRAMES} frames · 30.00 fps")
    _on_frame(page, 0)
    for _ in range(3):
        page.keyboard.press(".")
    _on_frame(page, 3)
    page.keyboard.press(",")
    _on_frame(page, 2)
    page.get_by_role("button", name="Next frame").click()
    _on_frame(page, 3)
    _seek(page, 0)

    # frame 0: a box around the square makes a track
    page.get_by_role("combobox", name="Label").select_option(LABEL)
    page.keyboard.press("b")
    x, y = square_at(0)
    _drag(page, (x, y), (x + 60, y + 60))
    tracks = page.get_by_role("list", name="Tracks")
    expect(tracks.get_by_role("button", name=re.compile(rf"^#1 box {LABEL} · 1 keyframes"))).to_be_visible()
    first = _box_on_screen(page, "#1 keyframe")
    assert _close(first, {"x_min": x, "y_min": y, "x_max": x + 60, "y_max": y + 60}, 1.5), first

    # frame 100: with the track selected, a box drawn is its keyframe there; then moved 10 px right
    _seek(page, 100)
    expect(page.locator(".stage-hint")).to_contain_text("track #1's keyframe on frame 100")
    x, y = square_at(100)
    _drag(page, (x - 10, y), (x + 50, y + 60))
    page.keyboard.press("v")
    _drag(page, (x + 20, y + 30), (x + 30, y + 30))
    expect(tracks.get_by_role("button", name=re.compile(rf"^#1 box {LABEL} · 2 keyframes"))).to_be_visible()
    last = _box_on_screen(page, "#1 keyframe")
    assert _close(last, {"x_min": x, "y_min": y, "x_max": x + 60, "y_max": y + 60}, 2.5), last
    expect(page.locator('.timeline-row[data-track="1"] .timeline-key')).to_have_count(2)
    admin.shot("02-keyframe-100")

    # frame 50: the box is interpolated (dashed, captioned) halfway between the keyframes
    _seek(page, 50)
    middle = _box_on_screen(page, "#1 interpolated")
    halfway = {k: (first[k] + last[k]) / 2 for k in first}
    assert _close(middle, halfway, 1e-6), (middle, halfway)
    assert page.locator('.video-main g[data-note="#1 interpolated"] rect.shape').get_attribute("stroke-dasharray")
    expect(page.get_by_role("status", name="Track state")).to_have_text("interpolated")
    admin.shot("03-interpolated-50")

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="version 1 · saved")).to_be_visible()
    page.reload()
    expect(page.get_by_role("status").filter(has_text="version 1")).to_be_visible()
    _seek(page, 50)
    again = _box_on_screen(page, "#1 interpolated")
    assert _close(again, middle, 1e-6), (again, middle)
    admin.shot("04-reloaded-50")

    # the server interpolates the saved track to the same box
    served = _api(platform, "GET", f"/files/{video['file_id']}/frames/50/annotations")
    boxes = [i for i in served["instance_list"] if i.get("track_id") == 1]
    assert len(boxes) == 1 and boxes[0]["type"] == "box" and boxes[0]["interpolated"] is True, served
    assert _close(boxes[0], middle, 1e-6), (boxes[0], middle)
