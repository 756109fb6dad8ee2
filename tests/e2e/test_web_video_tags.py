"""Frame tags in the video editor, in a real browser (Debian's Chromium through Playwright) against a real
``python -m infra.local``.

A 120-frame video made at test time with PyAV is uploaded through the SDK and opened in the editor. A tag is
made with the keyboard over frames 10..20 (T on frame 10, stepped to 20, T again), shown on the timeline and
in the panel on the frames it covers; Ctrl+Z takes it off both and Ctrl+Shift+Z brings it back. A second one,
made with the buttons, is deleted, the deletion undone (Ctrl+Z) and redone (Ctrl+Y). After a save and a
reload the tag is there on frame 15 and not on frame 25, the server answers it on frame 15's annotations, and
the dataset query ``frames.<tag> >= 11`` (the tag's 11 frames) finds the video, ``>= 12`` does not.

Per-frame attributes: a track drawn on frame 0 gets the demo schema's ``occluded`` = ``partly`` from frame 50
on (a keyframe made there; the track's timeline row is cut there, "Track 1 bicycle, occluded: partly, frames
50–119" written on the later run); saved, the server's frame 60 shows it and frame 40 does not.

Frame tag attributes: the tag on frames 10..20, picked in the list, gets ``occluded`` = ``partly`` (undone and
redone with the buttons); a new tag made on frames 70..75 is picked as made and gets ``mostly``. Saved and
reloaded, the list shows both values, the server stores them and answers them on the tags' frames, and the
query ``attributes.occluded = "mostly"`` finds the video (polled: the query index follows a save within seconds).

Attribute defaults: a label ``haze`` with a required group ``density`` whose default is ``thick`` is added
through the SDK; a track drawn with that label and a frame tag made with it start with ``thick`` (shown checked
in their panels), and the save goes through without the panels being touched: the server stores the default on
both. The timeline writes a tag's values on its bar and
names them ("Tag bicycle, occluded: partly, frames 10–20"); a second bicycle tag right after the first with
another value is a second segment on the label's row, marked as a change, and one run once the values agree.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import REPO, RunningPlatform
from tests.e2e.test_web_ui import _api, _sign_in
from tests.e2e.test_web_video import _drag, _on_frame, _seek
from tests.support.video_fixtures import make_square_video, square_at

pytestmark = pytest.mark.slow

SHOTS = REPO / "test-results" / "web-video-tags"
DATASET = "web-video-tags"
TAG = "bicycle"  # a demo label: a frame tag's name is a label of the schema
OTHER = "pedestrian"
HAZE, DENSITY = "haze", "density"  # a label and its required attribute group with a default, added by the test
FRAMES = 120
SIDE = 40  # not the other video tests' 60 or 50: another video, not the same content (and file) under another name


@pytest.fixture(scope="module")
def video(platform: RunningPlatform, tmp_path_factory) -> dict:
    from annolake import Project

    creds = platform.credentials
    path = make_square_video(tmp_path_factory.mktemp("video") / "tags.mp4", frames=FRAMES, side=SIDE)
    project = Project(creds["project"], creds["client_id"], creds["client_secret"], platform.api_url)
    file = project.file.from_local(path, directory=DATASET, wait_s=300)
    return _api(platform, "GET", f"/files/{file.id}")


def _on_this_frame(page):
    return page.get_by_role("status", name="Frame tags on this frame")


def _query(platform: RunningPlatform, text: str) -> list[str]:
    from urllib.parse import quote

    answer = _api(platform, "GET", f"/datasets/{DATASET}/query?q={quote(text)}&limit=10")
    return [f["file_id"] for f in answer["files"]]


def test_tag_frames_10_to_20_save_reload_and_query(platform, admin, video):
    from playwright.sync_api import expect

    creds = platform.credentials
    _sign_in(admin, creds["username"], creds["password"], f"/p/demo/files/{video['file_id']}")
    page = admin.page
    expect(page.get_by_role("heading", name="tags.mp4")).to_be_visible()
    _on_frame(page, 0)
    page.get_by_role("combobox", name="Label").select_option(TAG)

    # T on frame 10, stepped to 20 (the half-made tag follows on the timeline), T again
    _seek(page, 10)
    page.keyboard.press("t")
    expect(page.get_by_role("button", name=f"End tag {TAG} here")).to_be_visible()
    for _ in range(10):
        page.keyboard.press(".")
    _on_frame(page, 20)
    expect(page.locator('.timeline-row[data-tag-pending="10-20"]')).to_have_count(1)
    page.keyboard.press("t")
    span = page.locator(f'.timeline-row[data-tag="{TAG}"] [data-tag-span="10-20"]')
    expect(span).to_have_count(1)
    expect(_on_this_frame(page)).to_have_text(f"On frame 20: {TAG}")
    admin.shot("01-tagged-10-20")

    # undo takes the tag off the timeline and the panel, redo brings it back
    tags = page.get_by_role("list", name="Frame tags")
    undo, redo = page.get_by_role("button", name="Undo"), page.get_by_role("button", name="Redo")
    page.keyboard.press("Control+z")
    expect(span).to_have_count(0)
    expect(tags.get_by_role("listitem")).to_have_count(0)
    expect(_on_this_frame(page)).to_have_text("None on frame 20")
    expect(undo).to_be_disabled()
    expect(redo).to_be_enabled()
    page.keyboard.press("Control+Shift+z")
    expect(span).to_have_count(1)
    expect(tags.get_by_role("listitem")).to_have_count(1)
    expect(_on_this_frame(page)).to_have_text(f"On frame 20: {TAG}")
    expect(undo).to_be_enabled()
    expect(redo).to_be_disabled()

    # a second tag with the buttons (frame 30 alone), then deleted
    page.get_by_role("combobox", name="Label").select_option(OTHER)
    _seek(page, 30)
    page.get_by_role("button", name=f"Start tag {OTHER} here").click()
    page.get_by_role("button", name=f"End tag {OTHER} here").click()
    expect(tags.get_by_role("listitem")).to_have_count(2)
    expect(_on_this_frame(page)).to_have_text(f"On frame 30: {OTHER}")
    page.get_by_role("button", name=f"Delete frame tag {OTHER}, frame 30").click()
    expect(tags.get_by_role("listitem")).to_have_count(1)
    expect(_on_this_frame(page)).to_have_text("None on frame 30")
    # the deletion undone, then redone
    page.keyboard.press("Control+z")
    expect(tags.get_by_role("listitem")).to_have_count(2)
    expect(_on_this_frame(page)).to_have_text(f"On frame 30: {OTHER}")
    page.keyboard.press("Control+y")
    expect(tags.get_by_role("listitem")).to_have_count(1)
    expect(_on_this_frame(page)).to_have_text("None on frame 30")

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="version 1 · saved")).to_be_visible()
    page.reload()
    expect(page.get_by_role("status").filter(has_text="version 1")).to_be_visible()
    _seek(page, 15)
    expect(_on_this_frame(page)).to_have_text(f"On frame 15: {TAG}")
    expect(tags.get_by_role("button", name=f"{TAG} · frames 10–20")).to_be_visible()
    admin.shot("02-reloaded-15")
    _seek(page, 25)
    expect(_on_this_frame(page)).to_have_text("None on frame 25")
    # a click on the tag seeks to its first frame
    tags.get_by_role("button", name=f"{TAG} · frames 10–20").click()
    _on_frame(page, 10)

    file_id = video["file_id"]
    stored = _api(platform, "GET", f"/files/{file_id}/annotations")["instance_list"]
    assert [(i["type"], i["name"], i["frame_start"], i["frame_end"]) for i in stored] == [("frame_tag", TAG, 10, 20)]
    on_15 = _api(platform, "GET", f"/files/{file_id}/frames/15/annotations")["instance_list"]
    assert [i["name"] for i in on_15 if i["type"] == "frame_tag"] == [TAG], on_15
    on_25 = _api(platform, "GET", f"/files/{file_id}/frames/25/annotations")["instance_list"]
    assert [i for i in on_25 if i["type"] == "frame_tag"] == [], on_25
    assert _api(platform, "GET", f"/files/{file_id}")["frame_counts"] == {TAG: 11}
    assert _query(platform, f"frames.{TAG} >= 11") == [file_id]
    assert _query(platform, f"frames.{TAG} >= 12") == []


def test_a_per_frame_attribute_holds_from_its_frame_to_the_next_keyframe(platform, admin, video):
    from playwright.sync_api import expect

    page = admin.page
    page.goto(f"/p/demo/files/{video['file_id']}")
    expect(page.get_by_role("status").filter(has_text="version 1")).to_be_visible()
    _seek(page, 0)
    page.get_by_role("combobox", name="Label").select_option(TAG)
    page.keyboard.press("b")
    x, y = square_at(0)
    _drag(page, (x, y), (x + SIDE, y + SIDE))
    tracks = page.get_by_role("list", name="Tracks")
    expect(tracks.get_by_role("button", name=f"#1 box {TAG} · 1 keyframes")).to_be_visible()

    _seek(page, 50)
    attributes = page.get_by_role("region", name="Attributes of track #1")
    attributes.get_by_role("button", name="From frame 50").click()
    attributes.get_by_role("radio", name="partly").check()
    expect(tracks.get_by_role("button", name=f"#1 box {TAG} · 2 keyframes")).to_be_visible()
    for frame, checked in ((40, False), (60, True)):
        _seek(page, frame)
        expect(attributes.get_by_role("button", name=f"From frame {frame}")).to_have_attribute("aria-pressed", "true")
        expect(attributes.get_by_role("radio", name="partly")).to_be_checked(checked=checked)
    # the track's timeline row is cut where the value changes (at the keyframe, not per frame), the value
    # written on the later run, a change marked where it starts
    row = page.locator('.timeline-row[data-track="1"]')
    expect(row.locator(".timeline-span")).to_have_count(2)
    expect(row.locator('[data-span="0-49"]')).to_have_text("")
    later = row.get_by_role("img", name=f"Track 1 {TAG}, occluded: partly, frames 50–119")
    expect(later).to_have_text("occluded: partly")
    expect(later).to_have_attribute("data-span", "50-119")
    expect(later).to_have_class("timeline-span track change")
    attributes.get_by_role("button", name="Whole track").click()
    expect(attributes.get_by_role("radio", name="partly")).not_to_be_checked()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="version 2 · saved")).to_be_visible()
    admin.shot("03-frame-attribute")

    file_id = video["file_id"]
    shown = {}
    for frame in (40, 60):
        served = _api(platform, "GET", f"/files/{file_id}/frames/{frame}/annotations")["instance_list"]
        (box,) = [i for i in served if i.get("track_id") == 1]
        shown[frame] = box["attributes"]
    assert shown == {40: {}, 60: {"occluded": "partly"}}


def test_a_frame_tag_carries_attributes_from_the_panel_saved_and_queryable(platform, admin, video):
    from playwright.sync_api import expect

    page = admin.page
    page.goto(f"/p/demo/files/{video['file_id']}")
    expect(page.get_by_role("status").filter(has_text="version 2")).to_be_visible()
    tags = page.get_by_role("list", name="Frame tags")
    tags.get_by_role("button", name=f"{TAG} · frames 10–20").click()  # picks it, and seeks to its first frame
    _on_frame(page, 10)
    first = page.get_by_role("region", name=f"Attributes of frame tag {TAG}, frames 10–20")
    first.get_by_role("radio", name="partly").check()
    expect(tags.get_by_role("button", name=f"{TAG} · frames 10–20 · occluded: partly")).to_be_visible()
    # the timeline writes the values on the tag's bar, and names them (tooltip and accessible name)
    on_timeline = _timeline_tag(page, TAG, "10-20")
    expect(on_timeline).to_have_text("occluded: partly")
    expect(on_timeline).to_have_attribute("title", f"Tag {TAG}, occluded: partly, frames 10–20")
    page.get_by_role("button", name="Undo").click()
    expect(first.get_by_role("radio", name="partly")).not_to_be_checked()
    expect(tags.get_by_role("button", name=f"{TAG} · frames 10–20", exact=True)).to_be_visible()
    expect(page.get_by_role("img", name=f"Tag {TAG}, frames 10–20", exact=True)).to_be_visible()
    page.get_by_role("button", name="Redo").click()
    expect(first.get_by_role("radio", name="partly")).to_be_checked()
    expect(page.get_by_role("img", name=f"Tag {TAG}, occluded: partly, frames 10–20")).to_be_visible()

    # a new tag is picked as it is made
    page.get_by_role("combobox", name="Label").select_option(OTHER)
    _seek(page, 70)
    page.get_by_role("button", name=f"Start tag {OTHER} here").click()
    _seek(page, 75)
    page.get_by_role("button", name=f"End tag {OTHER} here").click()
    second = page.get_by_role("region", name=f"Attributes of frame tag {OTHER}, frames 70–75")
    second.get_by_role("radio", name="mostly").check()
    expect(tags.get_by_role("button", name=f"{OTHER} · frames 70–75 · occluded: mostly")).to_be_visible()
    admin.shot("04-frame-tag-attributes")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="version 3 · saved")).to_be_visible()

    page.reload()
    expect(page.get_by_role("status").filter(has_text="version 3")).to_be_visible()
    expect(tags.get_by_role("button", name=f"{TAG} · frames 10–20 · occluded: partly")).to_be_visible()
    expect(tags.get_by_role("button", name=f"{OTHER} · frames 70–75 · occluded: mostly")).to_be_visible()

    file_id = video["file_id"]
    stored = _api(platform, "GET", f"/files/{file_id}/annotations")["instance_list"]
    assert sorted(
        (i["name"], i["frame_start"], i["frame_end"], i["attributes"]) for i in stored if i["type"] == "frame_tag"
    ) == [(TAG, 10, 20, {"occluded": "partly"}), (OTHER, 70, 75, {"occluded": "mostly"})]
    on_72 = _api(platform, "GET", f"/files/{file_id}/frames/72/annotations")["instance_list"]
    assert [(i["name"], i["attributes"]) for i in on_72 if i["type"] == "frame_tag"] == [
        (OTHER, {"occluded": "mostly"})
    ]
    assert _query_eventually(platform, 'attributes.occluded = "mostly"', [file_id])


def test_a_new_track_and_frame_tag_start_with_their_groups_defaults(platform, admin, video):
    from annolake import Project
    from playwright.sync_api import expect

    creds = platform.credentials
    project = Project(creds["project"], creds["client_id"], creds["client_secret"], platform.api_url)
    project.label_new({"name": HAZE, "colour": "#999999"})
    group = {"name": DENSITY, "kind": "radio", "options": ["thin", "thick"], "label_names": [HAZE], "required": True}
    schema = project.attribute_group_new(group, default="thick")
    assert [g["default"] for g in schema["attribute_groups"] if g["name"] == DENSITY] == ["thick"]

    page = admin.page
    page.goto(f"/p/demo/files/{video['file_id']}")
    expect(page.get_by_role("status").filter(has_text="version 3")).to_be_visible()
    _seek(page, 0)
    page.get_by_role("combobox", name="Label").select_option(HAZE)
    page.get_by_role("group", name="Tools").get_by_role("button", name="Box").click()
    _drag(page, (200, 150), (240, 190))  # away from the moving square and its track
    tracks = page.get_by_role("list", name="Tracks")
    expect(tracks.get_by_role("button", name=f"#2 box {HAZE} · 1 keyframes")).to_be_visible()
    track_attributes = page.get_by_role("region", name="Attributes of track #2")
    expect(track_attributes.get_by_role("radio", name="thick")).to_be_checked()

    _seek(page, 80)
    page.get_by_role("button", name=f"Start tag {HAZE} here").click()
    _seek(page, 85)
    page.get_by_role("button", name=f"End tag {HAZE} here").click()
    tag_attributes = page.get_by_role("region", name=f"Attributes of frame tag {HAZE}, frames 80–85")
    expect(tag_attributes.get_by_role("radio", name="thick")).to_be_checked()
    tags = page.get_by_role("list", name="Frame tags")
    expect(tags.get_by_role("button", name=f"{HAZE} · frames 80–85 · {DENSITY}: thick")).to_be_visible()
    admin.shot("05-defaults")
    # the required group is filled by its default: the save goes through without the panels touched
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="version 4 · saved")).to_be_visible()

    stored = _api(platform, "GET", f"/files/{video['file_id']}/annotations")["instance_list"]
    [tag] = [i for i in stored if i["type"] == "frame_tag" and i["name"] == HAZE]
    [track] = [i for i in stored if i["type"] == "track" and i["name"] == HAZE]
    assert (tag["frame_start"], tag["frame_end"], tag["attributes"]) == (80, 85, {DENSITY: "thick"})
    assert track["attributes"] == {DENSITY: "thick"}


def test_the_timeline_cuts_a_label_s_tags_where_their_attribute_values_change(platform, admin, video):
    from playwright.sync_api import expect

    page = admin.page
    page.goto(f"/p/demo/files/{video['file_id']}")
    expect(page.get_by_role("status").filter(has_text="version 4")).to_be_visible()
    expect(_timeline_tag(page, TAG, "10-20")).to_have_text("occluded: partly")
    # a tag of the same label right after it, made with the keyboard, with another value: two segments on the
    # label's one row, a change marked where the second starts
    page.get_by_role("combobox", name="Label").select_option(TAG)
    _seek(page, 21)
    page.keyboard.press("t")
    _seek(page, 30)
    page.keyboard.press("t")
    page.get_by_role("region", name=f"Attributes of frame tag {TAG}, frames 21–30").get_by_role(
        "radio", name="mostly"
    ).check()
    expect(page.locator(f'.timeline-row[data-tag="{TAG}"]')).to_have_count(1)
    later = _timeline_tag(page, TAG, "21-30")
    expect(later).to_have_text("occluded: mostly")
    expect(later).to_have_attribute("title", f"Tag {TAG}, occluded: mostly, frames 21–30")
    expect(later).to_have_class("timeline-span tag change")
    expect(_timeline_tag(page, TAG, "10-20")).to_have_class("timeline-span tag")
    admin.shot("06-timeline-attributes")
    # set to the first one's value, the two make one run
    page.get_by_role("region", name=f"Attributes of frame tag {TAG}, frames 21–30").get_by_role(
        "radio", name="partly"
    ).check()
    expect(_timeline_tag(page, TAG, "10-30")).to_have_attribute("title", f"Tag {TAG}, occluded: partly, frames 10–30")
    expect(page.locator(f'.timeline-row[data-tag="{TAG}"] .timeline-span')).to_have_count(1)
    # a click on a bar picks the tag under the pointer (and seeks there)
    page.get_by_role("list", name="Frame tags").get_by_role(
        "button", name=f"{TAG} · frames 10–20 · occluded: partly"
    ).click()
    expect(page.get_by_role("region", name=f"Attributes of frame tag {TAG}, frames 10–20")).to_be_visible()
    run = _timeline_tag(page, TAG, "10-30")
    box = run.bounding_box()
    assert box is not None
    run.click(position={"x": box["width"] * 0.85, "y": box["height"] / 2})
    expect(page.get_by_role("region", name=f"Attributes of frame tag {TAG}, frames 21–30")).to_be_visible()
    page.get_by_role("button", name="Undo").click()
    _timeline_tag(page, "pedestrian", "70-75").click()
    expect(page.get_by_role("region", name=f"Attributes of frame tag {OTHER}, frames 70–75")).to_be_visible()


def _query_eventually(platform: RunningPlatform, text: str, expected: list[str], timeout_s: float = 15) -> bool:
    """Whether the query answers ``expected`` within ``timeout_s``: the query index follows a save within about
    a second (eventually consistent), so one answer right after a save may be the one before it."""
    deadline = time.monotonic() + timeout_s
    while (answer := _query(platform, text)) != expected:
        assert time.monotonic() < deadline, f"{text!r} still answers {answer} after {timeout_s} s, not {expected}"
        time.sleep(0.5)
    return True


def _timeline_tag(page, name: str, frames: str):
    """The timeline's segment of the tags `name` on `frames` ("10-20")."""
    return page.locator(f'.timeline-row[data-tag="{name}"] [data-tag-span="{frames}"]')
