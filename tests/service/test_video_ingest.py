"""Video ingest end to end in-process: the steps the state machines run (ProcessMedia; for a video the video
ingest's ProbeVideo, ExtractSegment on each segment, FinishVideo, or DiscardVideo on a refusal; RegisterFile or
QuarantineFile for an image) over moto, with videos made by PyAV at test time, and the API reading the results
back."""

# ruff: noqa: F811 - the world fixture, imported from test_core_api, is every test's parameter

from __future__ import annotations

import io
import json
import urllib.request
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from annolake._scope import Scope
from annolake.file import File
from PIL import Image

from tests.service.test_core_api import _admin, monkeypatch_module, world  # noqa: F401 - fixtures
from tests.support.auth import auth_world  # noqa: F401 - fixture
from tests.support.http_servers import QuietHandler, serve
from tests.support.video_fixtures import decoded_frames, make_video, read_pattern
from tests.support.video_steps import run_video_ingest, step_error

pytest.importorskip("av")
pytestmark = pytest.mark.usefixtures("auth_world")

CASES = {
    "constant-30.mp4": {"rate": Fraction(30)},
    "ntsc-29.97.mov": {"rate": Fraction(30000, 1001)},
    "variable-rate.mkv": {"intervals_ms": [33, 17, 50, 40, 100]},
    "starts-at-2.5s.webm": {"start_s": Fraction(5, 2)},
}
FRAMES = 70  # three chunks of 32: the last one short


def _run_ingest(world, key: str) -> dict:
    """What the ingest state machine does with an arrival: its steps in order, its Catch into QuarantineFile; a
    video handed to the video ingest state machine."""
    from annolake_service.services import ingest

    try:
        media = ingest.process_media(world["drop"], key)
        if media.get("media_type") == "video":  # the IsVideo choice
            return run_video_ingest(world["drop"], key)
        return {"file": ingest.register_file(world["drop"], key, media)}
    except Exception as refused:  # noqa: BLE001 - States.ALL
        return {"quarantine": ingest.quarantine(world["drop"], key, step_error(refused))}


def _drop(world, tmp_path: Path, name: str, body: bytes, dataset: str = "clips") -> str:
    key = f"alpha/{dataset}/{name}"
    world["s3"].put_object(Bucket=world["drop"], Key=key, Body=body)
    return key


def _media_keys(world, file_id: str) -> list[str]:
    listed = world["s3"].list_objects_v2(Bucket=world["media"], Prefix=f"projects/alpha/files/{file_id}/")
    return [o["Key"] for o in listed.get("Contents", [])]


@pytest.mark.parametrize("name", list(CASES))
def test_a_video_ingests_frame_exact_and_its_frames_come_back_through_the_api(world, tmp_path, name):
    from annolake_service.domain.video.timeline import Timeline

    c, h = world["client"], _admin(world)
    path = make_video(tmp_path / name, frames=FRAMES, **CASES[name])
    reference = decoded_frames(path)  # what PyAV itself decodes
    outcome = _run_ingest(world, _drop(world, tmp_path, name, path.read_bytes()))
    file_id = outcome["file"]["file_id"]

    described = c.get(f"/api/v1/projects/alpha/files/{file_id}", headers=h).json()
    assert described["media_type"] == "video" and described["status"] == "ready"
    assert (described["width"], described["height"]) == (128, 48)
    video = described["video"]
    sdk_file = File(Scope(api=None, project="alpha"), described)  # type: ignore[arg-type]  # what the SDK says of it
    assert (sdk_file.media_type, sdk_file.frame_count) == ("video", FRAMES)
    assert (sdk_file.fps, sdk_file.duration_s) == (video["fps"], video["duration_s"])
    assert video["frame_count"] == len(reference) == FRAMES
    first_pts, time_base = reference[0]
    assert video["start_s"] == float(first_pts * time_base)
    with urllib.request.urlopen(video["timestamps_url"]) as response:
        timeline = Timeline.from_json(response.read())
    assert list(timeline.pts) == [pts for pts, _ in reference] and timeline.time_base == time_base
    for frame in range(timeline.frame_count):
        assert timeline.index_at(timeline.seconds(frame)) == frame
    assert video["fps"] == pytest.approx(timeline.fps) and timeline.fps > 0
    if "rate" in CASES[name]:
        assert video["fps"] == pytest.approx(float(CASES[name]["rate"]), rel=1e-3)
    if "start_s" in CASES[name]:
        assert video["start_s"] == pytest.approx(2.5)

    for frame in (0, 1, 31, 32, 45, FRAMES - 1):
        answer = c.get(f"/api/v1/projects/alpha/files/{file_id}/frames/{frame}", headers=h)
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
        assert read_pattern(np.asarray(Image.open(io.BytesIO(answer.content)).convert("RGB"))) == frame
    past = c.get(f"/api/v1/projects/alpha/files/{file_id}/frames/{FRAMES}", headers=h)
    assert past.status_code == 404 and f"frames 0 to {FRAMES - 1}" in past.json()["error"]["message"]
    with urllib.request.urlopen(described["thumbnail_url"]) as response:
        assert Image.open(io.BytesIO(response.read())).format == "JPEG"


def test_variable_rate_timestamps_map_to_the_frame_shown(world, tmp_path):
    from annolake_service.domain.video.timeline import Timeline

    path = make_video(tmp_path / "vfr.mkv", frames=10, intervals_ms=[33, 17, 50, 40, 100])
    file_id = _run_ingest(world, _drop(world, tmp_path, "vfr.mkv", path.read_bytes(), "vfr"))["file"]["file_id"]
    described = world["client"].get(f"/api/v1/projects/alpha/files/{file_id}", headers=_admin(world)).json()
    with urllib.request.urlopen(described["video"]["timestamps_url"]) as response:
        timeline = Timeline.from_json(response.read())
    assert [round(timeline.seconds(i), 3) for i in range(4)] == [0.0, 0.033, 0.05, 0.1]
    assert timeline.index_at(0.049) == 1 and timeline.index_at(0.051) == 2  # between frames: the one still shown


def _truncated_mkv(tmp_path: Path) -> bytes:
    data = make_video(tmp_path / "cut.mkv", frames=FRAMES).read_bytes()
    return data[: int(len(data) * 0.9)]


def _faststart_mp4_cut(tmp_path: Path) -> bytes:
    """An MP4 with its index first (as streaming servers write it), cut off in transfer."""
    import av

    source = make_video(tmp_path / "source.mp4", frames=FRAMES)
    target = tmp_path / "fast.mp4"
    with av.open(str(source)) as inp, av.open(str(target), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    data = target.read_bytes()
    return data[: int(len(data) * 0.7)]


@pytest.mark.parametrize(
    "name, body, words",
    [
        ("cut.mkv", _truncated_mkv, "the Matroska file is truncated"),
        ("cut.mp4", _faststart_mp4_cut, f"the MP4 file is truncated: its index lists {FRAMES} frames"),
        ("damaged.mov", lambda tmp: b"\x00\x00\x00\x14ftypqt  " + bytes(range(256)) * 40, "MOV file could not be"),
        ("moov-lost.mp4", lambda tmp: make_video(tmp / "m.mp4", frames=FRAMES).read_bytes()[:3000], "MP4 file"),
    ],
)
def test_a_corrupt_or_truncated_video_is_quarantined_with_its_reason_and_leaves_nothing(
    world, tmp_path, name, body, words
):
    from annolake_service.domain import media

    c, h = world["client"], _admin(world)
    data = body(tmp_path)
    dataset = "broken-" + name.replace(".", "-")
    outcome = _run_ingest(world, _drop(world, tmp_path, name, data, dataset))
    assert "quarantine" in outcome, outcome
    assert words in outcome["quarantine"]["reason"]
    listed = c.get(f"/api/v1/projects/alpha/datasets/{dataset}/files?status=quarantined", headers=h).json()["files"]
    assert [(f["original_name"], f["status"]) for f in listed] == [(name, "quarantined")]
    assert words in listed[0]["status_reason"]
    assert c.get(f"/api/v1/projects/alpha/datasets/{dataset}/files", headers=h).json()["files"] == listed
    import hashlib

    never = media.file_id_for_content("alpha", hashlib.sha256(data).hexdigest())
    assert _media_keys(world, never) == []  # no frames, poster or original of the refused video


def test_a_video_over_the_limits_is_quarantined_naming_the_limit(world, tmp_path, monkeypatch):
    from tests.support.auth import reset_service_caches

    path = make_video(tmp_path / "long.mp4", frames=FRAMES + 3)  # bytes not ingested before (those are reused)
    monkeypatch.setenv("VIDEO_MAX_DURATION_S", "1")
    reset_service_caches()
    try:
        outcome = _run_ingest(world, _drop(world, tmp_path, "long.mp4", path.read_bytes(), "limits"))
        assert "the limit is 1 s" in outcome["quarantine"]["reason"]
        monkeypatch.setenv("VIDEO_MAX_DURATION_S", "600")
        monkeypatch.setenv("VIDEO_MAX_WIDTH", "100")
        reset_service_caches()
        outcome = _run_ingest(world, _drop(world, tmp_path, "wide.mp4", path.read_bytes(), "limits"))
        assert "the video is 128x48 pixels; the limit is 100x2160" in outcome["quarantine"]["reason"]
    finally:
        monkeypatch.delenv("VIDEO_MAX_DURATION_S", raising=False)
        monkeypatch.delenv("VIDEO_MAX_WIDTH", raising=False)
        reset_service_caches()


def test_the_same_video_dropped_twice_is_one_file_and_its_frames_stay(world, tmp_path):
    c, h = world["client"], _admin(world)
    data = make_video(tmp_path / "again.mp4", frames=40).read_bytes()
    first = _run_ingest(world, _drop(world, tmp_path, "again.mp4", data, "twice"))["file"]
    keys = _media_keys(world, first["file_id"])
    second = _run_ingest(world, _drop(world, tmp_path, "copy.mp4", data, "twice"))["file"]
    assert second["file_id"] == first["file_id"] and not second["created"]
    assert _media_keys(world, first["file_id"]) == keys
    assert sorted(k.rsplit("/", 1)[-1] for k in keys) == [
        "000000",
        "000001",
        "original.mp4",
        "thumb.jpg",
        "timestamps.json",
    ]
    image = c.get(f"/api/v1/projects/alpha/files/{first['file_id']}/frames/39", headers=h)
    assert read_pattern(np.asarray(Image.open(io.BytesIO(image.content)).convert("RGB"))) == 39


def test_a_presigned_video_upload_ingests_and_frames_of_an_image_are_refused(world, tmp_path):
    c, h = world["client"], _admin(world)
    data = make_video(tmp_path / "clip.mp4", frames=12).read_bytes()
    body = {"dataset": "up", "file_name": "clip.mp4", "content_type": "video/mp4", "size_bytes": len(data)}
    upload = c.post("/api/v1/projects/alpha/uploads", json=body, headers=h)
    assert upload.status_code == 201, upload.text
    # The presigned POST's target in the media bucket: the same state machine ingests it (S3 notification).
    key = upload.json()["fields"]["key"]
    world["s3"].put_object(Bucket=world["media"], Key=key, Body=data)
    from annolake_service.services import ingest

    assert ingest.process_media(world["media"], key)["media_type"] == "video"
    registered = run_video_ingest(world["media"], key)["file"]
    status = c.get(f"/api/v1/projects/alpha/uploads/{upload.json()['upload_id']}", headers=h).json()
    assert status["status"] == "ready" and status["file_id"] == registered["file_id"]
    assert (
        c.get(f"/api/v1/projects/alpha/files/{registered['file_id']}", headers=h).json()["video"]["frame_count"] == 12
    )
    buffer = io.BytesIO()
    Image.new("RGB", (20, 10), (1, 2, 3)).save(buffer, format="JPEG")
    image_id = _run_ingest(world, _drop(world, tmp_path, "still.jpg", buffer.getvalue(), "stills"))["file"]["file_id"]
    refused = c.get(f"/api/v1/projects/alpha/files/{image_id}/frames/0", headers=h)
    assert refused.status_code == 400 and "is not a video" in refused.json()["error"]["message"]


SEGMENTED = {**CASES, "b-frames.mp4": {"rate": Fraction(30), "bframes": 2}}


@pytest.fixture
def segments_of_64(monkeypatch):
    """Segments of two chunks (64 frames), so a 150-frame video is extracted in three steps."""
    from tests.support.auth import reset_service_caches

    monkeypatch.setenv("VIDEO_SEGMENT_FRAMES", "64")
    reset_service_caches()
    yield
    monkeypatch.delenv("VIDEO_SEGMENT_FRAMES")
    reset_service_caches()


@pytest.mark.parametrize("name", list(SEGMENTED))
def test_segments_decoded_apart_store_exactly_the_frames_of_one_whole_decode(world, tmp_path, segments_of_64, name):
    """Each segment starts decoding at a keyframe before it (a keyframe every 20 frames, so never at its own
    first frame): every frame's index, timestamp and picture are those of a straight PyAV decode of the file."""
    import av
    from annolake_service.domain.video import chunks, probe

    path = make_video(tmp_path / name, frames=150, gop=20, **SEGMENTED[name])
    with av.open(str(path)) as container:
        reference = [(frame.pts, probe._frame_jpeg(frame)) for frame in container.decode(video=0)]
    outcome = _run_ingest(world, _drop(world, tmp_path, name, path.read_bytes(), "segmented"))
    assert [(s["segment"], s["skipped"]) for s in outcome["segments"]] == [(0, False), (1, False), (2, False)]
    file_id = outcome["file"]["file_id"]
    stored = {k.rsplit("/", 1)[-1]: k for k in _media_keys(world, file_id)}
    body = world["s3"].get_object(Bucket=world["media"], Key=stored["timestamps.json"])["Body"].read()
    assert json.loads(body)["pts"] == [pts for pts, _ in reference]
    frames = []
    for number in range(5):  # 150 frames: four chunks of 32 and one of 22
        chunk = world["s3"].get_object(Bucket=world["media"], Key=stored[f"{number:06d}"])["Body"].read()
        frames += chunks.unpack(chunk)
    assert len(frames) == 150 and "000005" not in stored
    assert [i for i, (jpeg, (_, expected)) in enumerate(zip(frames, reference, strict=True)) if jpeg != expected] == []


def test_a_run_again_decodes_only_the_segments_not_stored(world, tmp_path, segments_of_64):
    """An execution that failed part way (a segment's step out of retries) and is re-driven: the segments
    already stored are skipped, the missing one decoded, and the file is registered only once all are there."""
    from annolake_service.services import video_ingest

    path = make_video(tmp_path / "rerun.mp4", frames=140, gop=20)  # bytes of its own (the same are reused)
    key = _drop(world, tmp_path, "rerun.mp4", path.read_bytes(), "rerun")
    plan = video_ingest.plan_video(world["drop"], key)
    first, middle, last = plan["segments"]
    assert [video_ingest.extract_segment(s)["skipped"] for s in (first, last)] == [False, False]
    with pytest.raises(video_ingest.FramesMissing, match=r"chunks \[2, 3\] of 5 are not stored"):
        video_ingest.finish_video(world["drop"], key, plan)
    again = video_ingest.plan_video(world["drop"], key)  # the re-drive: the same plan, stored objects rewritten
    assert again["segments"] == plan["segments"]
    assert [video_ingest.extract_segment(s) for s in again["segments"]] == [
        {"segment": 0, "skipped": True},
        {"segment": 1, "skipped": False},
        {"segment": 2, "skipped": True},
    ]
    registered = video_ingest.finish_video(world["drop"], key, again)
    c, h = world["client"], _admin(world)
    frame = c.get(f"/api/v1/projects/alpha/files/{registered['file_id']}/frames/70", headers=h)
    assert read_pattern(np.asarray(Image.open(io.BytesIO(frame.content)).convert("RGB"))) == 70


def test_a_video_with_a_damaged_segment_is_quarantined_and_nothing_of_it_is_left(world, tmp_path, segments_of_64):
    """The container is whole (the probe passes) but one frame's data is damaged: its segment's decoding
    fails, and the frames the other segments had stored are removed with the rest."""
    import hashlib

    import av
    from annolake_service.domain import media

    path = make_video(tmp_path / "damaged.mp4", frames=150, gop=20)
    with av.open(str(path)) as container:
        packets = [(p.pos, p.size) for p in container.demux(video=0) if p.size]
    data = bytearray(path.read_bytes())
    position, size = packets[100]  # in the second segment (frames 64 to 127)
    data[position : position + size] = b"\xff" * size
    outcome = _run_ingest(world, _drop(world, tmp_path, "damaged.mp4", bytes(data), "damaged"))
    assert [s["segment"] for s in outcome["segments"]] == [0]  # stored before the damaged one failed
    assert "MP4 file could not be decoded" in outcome["quarantine"]["reason"]
    c, h = world["client"], _admin(world)
    listed = c.get("/api/v1/projects/alpha/datasets/damaged/files?status=quarantined", headers=h).json()["files"]
    assert [(f["original_name"], f["status"]) for f in listed] == [("damaged.mp4", "quarantined")]
    assert _media_keys(world, media.file_id_for_content("alpha", hashlib.sha256(data).hexdigest())) == []


def test_a_video_from_a_url_becomes_an_upload_the_ingest_takes(world, tmp_path, monkeypatch):
    """from_url hands a video to the same state machine (the uploads prefix); pre-labels for it are refused."""

    from annolake_service.services import ingest

    from tests.support.auth import reset_service_caches

    data = make_video(tmp_path / "web.webm", frames=9).read_bytes()

    class Handler(QuietHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = serve(Handler)
    monkeypatch.setenv("ALLOW_PRIVATE_URLS", "true")
    reset_service_caches()
    try:
        c, h = world["client"], _admin(world)
        url = f"http://127.0.0.1:{server.server_port}/clips/web.webm"
        box = {"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 5, "y_max": 5}
        labelled = c.post("/api/v1/projects/alpha/files/from_url", json={"url": url, "instance_list": [box]}, headers=h)
        assert labelled.status_code == 400 and "pre-labels of a video" in labelled.json()["error"]["message"]
        upload = c.post("/api/v1/projects/alpha/files/from_url", json={"url": url, "dataset": "web"}, headers=h)
        assert upload.status_code == 202, upload.text
        listed = world["s3"].list_objects_v2(Bucket=world["media"], Prefix="uploads/alpha/web/")["Contents"]
        [key] = [o["Key"] for o in listed if o["Key"].endswith("/web.webm")]
        assert ingest.process_media(world["media"], key)["media_type"] == "video"
        registered = run_video_ingest(world["media"], key)["file"]
        described = c.get(f"/api/v1/projects/alpha/files/{registered['file_id']}", headers=h).json()
        assert described["mime_type"] == "video/webm" and described["video"]["frame_count"] == 9
    finally:
        server.shutdown()
        monkeypatch.delenv("ALLOW_PRIVATE_URLS", raising=False)
        reset_service_caches()
