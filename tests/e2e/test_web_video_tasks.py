"""Video tasks in a real browser (Debian's Chromium through Playwright) against a real ``python -m infra.local``.

A job over a 120-frame video (made at test time with PyAV) in segments of 80 frames overlapping by 20 (frames
0-79 and 60-119), every segment reviewed. The demo user's annotate task opens the video editor on its
segment's frames only (a seek past them stops on the last); a box drawn on two frames makes a track, given
an attribute (fixed for the track) and submitted through the task (the server merges it by frames), and the
other segment's task then shows that track. A second user reviews: the timeline shows the track and its
keyframes read-only, the reviewer steps and plays, and approves both segments.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import REPO, Person, RunningPlatform, person_in
from tests.e2e.test_web_ui import _create_pool_user, _sign_in, _start_work
from tests.e2e.test_web_video import _box_on_screen, _close, _drag, _on_frame, _seek
from tests.support.video_fixtures import make_square_video, square_at

pytestmark = pytest.mark.slow

SHOTS = REPO / "test-results" / "web-video-tasks"
DATASET = "web-video-tasks"
JOB = "Squares"
LABEL = "car"  # a demo label
PAINT = "paint"  # an attribute of cars' tracks, of this module's own
FRAMES = 120
SIDE = 50  # not test_web_video's 60: another video, not the same content under another name
REVIEWER = "vera"  # a user of her own: test_web_ui's reviewer is "rita"
REVIEWER_PASSWORD = "Review-Passw0rd!"  # noqa: S105 - a throwaway user of the emulator's pool


@pytest.fixture(scope="module")
def reviewer(browser, platform, shots) -> Iterator[Person]:
    yield from person_in(browser, platform, REVIEWER, shots)


@pytest.fixture(scope="module")
def job(platform: RunningPlatform, tmp_path_factory) -> dict:
    """The square video, uploaded and ready; a track attribute for cars; a reviewer in the project; the job over
    it launched (through the SDK, whose client waits longer than a bare request on a loaded machine)."""
    from annolake import Project

    creds = platform.credentials
    path = make_square_video(tmp_path_factory.mktemp("video") / "square.mp4", frames=FRAMES, side=SIDE)
    project = Project(creds["project"], creds["client_id"], creds["client_secret"], platform.api_url)
    file = project.file.from_local(path, directory=DATASET, wait_s=300)
    assert project.client.get(f"{project._path}/files/{file.id}/annotations")["instance_list"] == []
    project.attribute_group_new({"name": PAINT, "kind": "select", "label_names": [LABEL], "options": ["red", "blue"]})
    _create_pool_user(platform, REVIEWER, REVIEWER_PASSWORD)
    project.client.post(f"{project._path}/members", {"username": REVIEWER, "role": "reviewer"})
    job = project.job.new(JOB, [DATASET], review_rate=1.0, video_segment={"frames": 80, "overlap": 20}).launch()
    return {"project": project, "job_id": job.id, "file_id": file.id}


def _segment(page) -> tuple[int, int]:
    """The frames of the segment the editor shows, as it says."""
    from playwright.sync_api import expect

    note = page.get_by_role("note", name="Segment")
    expect(note).to_have_text(re.compile(r"^Segment: frames \d+–\d+$"))
    first, last = re.findall(r"\d+", note.inner_text())
    return int(first), int(last)


def _open(page, button: str, heading: str) -> None:
    page.get_by_role("combobox", name="Job").select_option(label=JOB)
    _start_work(page, button, heading)


def test_annotate_segments_in_the_video_editor_and_submit(platform, admin, job):
    from playwright.sync_api import expect

    creds = platform.credentials
    _sign_in(admin, creds["username"], creds["password"], "/p/demo/tasks")
    page = admin.page
    _open(page, "Start labelling", "Label: square.mp4")
    expect(page.locator(".video-editor")).to_be_visible()
    first, last = _segment(page)
    assert (first, last) in {(0, 79), (60, 119)}, (first, last)
    expect(page.locator(".task-head .hint")).to_contain_text(f"frames {first}–{last}")
    _on_frame(page, first)  # the editor starts on the segment's first frame

    # seeking or stepping past the segment stops on its edges
    field = page.get_by_role("spinbutton", name="Frame")
    field.fill(str(last + 30))
    field.press("Enter")
    _on_frame(page, last)
    page.keyboard.press(".")
    _on_frame(page, last)
    _seek(page, first)
    page.keyboard.press(",")
    _on_frame(page, first)

    # a box around the square on two frames of the segment: one track, two keyframes
    keys = (first + 5, first + 50)
    page.get_by_role("combobox", name="Label").select_option(LABEL)
    page.keyboard.press("b")
    for frame in keys:
        _seek(page, frame)
        x, y = square_at(frame)
        _drag(page, (x, y), (x + SIDE, y + SIDE))
        drawn = _box_on_screen(page, "#1 keyframe")
        assert _close(drawn, {"x_min": x, "y_min": y, "x_max": x + SIDE, "y_max": y + SIDE}, 1.5), drawn
    tracks = page.get_by_role("list", name="Tracks")
    expect(tracks.get_by_role("button", name=re.compile(rf"^#1 box {LABEL} · 2 keyframes"))).to_be_visible()
    expect(page.locator('.timeline-row[data-track="1"] .timeline-key')).to_have_count(2)
    expect(page.locator('.timeline-row[data-track="1"] .timeline-off')).to_have_count(1)  # the other frames
    page.get_by_label(PAINT).select_option("red")
    admin.shot("01-segment-labelled")

    # submit: saved through the task (merged by frames) and on to the other segment, which shows the track
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("note", name="Segment")).not_to_have_text(f"Segment: frames {first}–{last}")
    other = _segment(page)
    assert {(first, last), other} == {(0, 79), (60, 119)}, other
    _on_frame(page, other[0])
    expect(tracks.get_by_role("button", name=re.compile(rf"^#1 box {LABEL}"))).to_be_visible()
    admin.shot("02-other-segment")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("status").filter(has_text="No more tasks for you right now")).to_be_visible()

    project = job["project"]
    saved = project.client.get(f"{project._path}/files/{job['file_id']}/annotations")
    [track] = [i for i in saved["instance_list"] if i.get("type") == "track"]
    assert track["attributes"] == {PAINT: "red"}, track
    assert [k["frame"] for k in track["keyframes"] if not k.get("outside")][:2] == list(keys), track
    middle = (keys[0] + keys[1]) // 2
    served = project.client.get(f"{project._path}/files/{job['file_id']}/frames/{middle}/annotations")
    [box] = [i for i in served["instance_list"] if i.get("track_id") == track["track_id"]]
    assert box["interpolated"] is True and box["type"] == "box", box


def test_review_shows_the_track_on_the_timeline_and_approves(platform, reviewer, job):
    from playwright.sync_api import expect

    page = reviewer.page
    _sign_in(reviewer, REVIEWER, REVIEWER_PASSWORD, "/p/demo/tasks")
    seen: list[tuple[int, int]] = []
    _open(page, "Start reviewing", "Review: square.mp4")
    for round_ in range(2):  # each segment has its review
        if round_ == 1:  # approving moves on to the other segment's review, or to the queue until it opens
            note = page.get_by_role("note", name="Segment").filter(has_not_text=f"frames {seen[0][0]}–{seen[0][1]}")
            done = page.get_by_role("status").filter(has_text="No more reviews for you right now")
            expect(note.or_(done)).to_be_visible()
            if done.is_visible():
                _open(page, "Start reviewing", "Review: square.mp4")
        expect(page.locator(".video-editor")).to_be_visible()
        first, last = _segment(page)
        seen.append((first, last))
        _on_frame(page, first)
        expect(page.get_by_text("Work of admin.")).to_be_visible()
        # the track, read-only: on the timeline with its keyframes here, no Submit or Save, drawing adds nothing
        row = page.locator('.timeline-row[data-track="1"]')
        expect(row).to_be_visible()
        expect(row.locator(".timeline-key")).not_to_have_count(0)
        expect(page.get_by_role("button", name="Submit")).to_have_count(0)
        expect(page.get_by_role("button", name="Delete track 1")).to_have_count(0)
        tracks = page.get_by_role("list", name="Tracks")
        tracks.get_by_role("button", name=re.compile(rf"^#1 box {LABEL}")).click()
        expect(page.get_by_label(PAINT)).to_have_value("red")
        expect(page.get_by_label(PAINT)).to_be_disabled()
        page.keyboard.press("b")
        x, y = square_at(first)
        _drag(page, (x + 100, y), (x + 150, y + 40))
        expect(tracks.get_by_role("listitem")).to_have_count(1)
        # the reviewer steps and plays
        page.keyboard.press(".")
        _on_frame(page, first + 1)
        page.get_by_role("button", name="Play").click()
        expect(page.locator(".video-main")).not_to_have_attribute("data-frame", str(first + 1))
        page.get_by_role("button", name="Pause").click()
        expect(page.get_by_role("button", name="Play")).to_be_visible()
        reviewer.shot(f"0{round_ + 3}-review-{first}-{last}")
        page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status").filter(has_text="No more reviews for you right now")).to_be_visible()
    assert sorted(seen) == [(0, 79), (60, 119)], seen
