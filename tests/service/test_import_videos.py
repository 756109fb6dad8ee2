"""Videos an import hands to the video ingest: the import's item waits for the ingest's result (ready: done;
quarantined: failed with why), the import completes only then, and a video ingest run again counts nothing twice.
A video by URL is streamed into S3, up to the video limit. The import's and the video ingest's steps run
in-process over moto, with videos made by PyAV at test time."""

# ruff: noqa: F811 - the world fixture, imported from test_core_api, is every test's parameter

from __future__ import annotations

import json
import struct
import threading
import time

import pytest

from tests.service.test_core_api import _admin, monkeypatch_module, world  # noqa: F401 - fixtures
from tests.support import import_steps
from tests.support.auth import auth_world  # noqa: F401 - fixture
from tests.support.http_servers import QuietHandler, serve
from tests.support.video_fixtures import make_video
from tests.support.video_steps import run_video_ingest

pytest.importorskip("av")
pytestmark = pytest.mark.usefixtures("auth_world")


def _arrived_videos(world, project_id: str) -> list[str]:
    listed = world["s3"].list_objects_v2(Bucket=world["media"], Prefix=f"uploads/{project_id}/").get("Contents", [])
    return sorted(o["Key"] for o in listed if not o["Key"].endswith(".json"))


def _ingest(world, key: str) -> dict:
    """What the uploads' notification starts for a video: the ingest machine hands it to the video ingest."""
    from annolake_service.services import ingest

    assert ingest.process_media(world["media"], key)["media_type"] == "video"
    return run_video_ingest(world["media"], key)


def test_a_quarantined_video_fails_its_import_item_with_the_reason_and_a_rerun_counts_nothing_twice(world, tmp_path):
    from annolake_service.services import imports

    good = make_video(tmp_path / "good.mp4", frames=12, size=(64, 48)).read_bytes()
    whole = make_video(tmp_path / "cut.mp4", frames=40, size=(64, 48)).read_bytes()
    cut = whole[: int(len(whole) * 0.6)]  # its index (moov, written last) is gone
    packets = [{"media": {"path": name}, "instance_list": []} for name in ("good.mp4", "cut.mp4")]
    manifest = "\n".join(json.dumps(p) for p in packets).encode()
    job = import_steps.run_import("alpha", "jsonl", "imported-clips", manifest, {"good.mp4": good, "cut.mp4": cut})
    # the run has ended, its videos are in the video ingest: neither done nor failed yet
    assert (job["status"], job["total"], job["done"], job["failed"]) == ("running", 2, 0, 0), job

    arrived = _arrived_videos(world, "alpha")
    outcomes = {key.rsplit("/", 1)[1]: _ingest(world, key) for key in arrived}
    assert "file" in outcomes["good.mp4"] and "quarantine" in outcomes["cut.mp4"], outcomes
    reason = outcomes["cut.mp4"]["quarantine"]["reason"]

    job = imports.get_import("alpha", job["import_id"])
    assert (job["status"], job["total"], job["done"], job["failed"]) == ("completed_with_errors", 2, 1, 1), job
    assert job["finished_at"] is not None
    (failure,) = job["failures"]
    assert (failure["index"], failure["name"]) == (1, "cut.mp4")
    assert failure["reason"] == f"the video ingest quarantined it: {reason}"

    # the video ingest run again on both (a re-driven execution, the same bytes arriving again): no count moves
    for key, body in zip(arrived, (cut, good) if arrived[0].endswith("cut.mp4") else (good, cut), strict=True):
        world["s3"].put_object(Bucket=world["media"], Key=key, Body=body)
        _ingest(world, key)
    again = imports.get_import("alpha", job["import_id"])
    assert (again["status"], again["done"], again["failed"]) == ("completed_with_errors", 1, 1), again
    assert again["failures"] == job["failures"]


def test_an_import_whose_videos_are_all_ingested_before_its_run_ends_completes_at_its_finish(world, tmp_path):
    """The video ingest can be quicker than the import's last chunk: the Finish step then completes it."""
    from annolake_service.services import imports

    clip = make_video(tmp_path / "quick.mp4", frames=8, size=(64, 48)).read_bytes()
    job = imports.create_import("alpha", fmt="jsonl", dataset_name="quick", create_labels=True, author="test")
    prefix = f"imports/alpha/{job['import_id']}/"
    world["s3"].put_object(Bucket=world["media"], Key=prefix + "manifest", Body=b'{"media": {"path": "q.mp4"}}')
    world["s3"].put_object(Bucket=world["media"], Key=prefix + "media/q.mp4", Body=clip)
    planned = imports.plan("alpha", job["import_id"])
    (chunk,) = planned["chunks"]
    assert imports.import_chunk("alpha", job["import_id"], chunk["chunk_key"]) == {"done": 0, "failed": 0, "waiting": 1}
    (key,) = [k for k in _arrived_videos(world, "alpha") if k.endswith("/q.mp4")]
    assert "file" in _ingest(world, key)
    assert imports.get_import("alpha", job["import_id"])["status"] == "running"  # its run has not ended
    assert imports.finish("alpha", job["import_id"])["status"] == "completed"
    final = imports.get_import("alpha", job["import_id"])
    assert (final["status"], final["done"], final["failed"]) == ("completed", 1, 0)
    # its chunk run again once the video's outcome is in: the video is not handed over again
    imports.import_chunk("alpha", job["import_id"], chunk["chunk_key"])
    assert not [k for k in _arrived_videos(world, "alpha") if k.endswith("/q.mp4")]
    assert imports.get_import("alpha", job["import_id"])["done"] == 1


def _padded_mp4(clip: bytes, size: int) -> bytes:
    """``clip`` grown to ``size`` bytes by a trailing ``free`` box, which MP4 readers skip."""
    padding = size - len(clip)
    return clip + struct.pack(">I", padding) + b"free" + bytes(padding - 8)


def test_a_video_by_url_over_the_image_limit_streams_into_s3_and_ingests(world, tmp_path, monkeypatch):
    """Above the 50 MB the import held every URL to (the image limit), below VIDEO_MAX_BYTES. The server holds
    back the body's last bytes until S3 has a multipart upload of the video with a part in it: the download is
    written to S3 as it arrives, a part at a time, never whole in memory."""
    from annolake_service.domain import media
    from annolake_service.services import imports

    from tests.support.auth import reset_service_caches

    size = media.DEFAULT_MAX_BYTES + 3 * 1024 * 1024
    data = _padded_mp4(make_video(tmp_path / "long.mp4", frames=10, size=(64, 48)).read_bytes(), size)
    seen_part = threading.Event()
    s3, bucket = world["s3"], world["media"]

    def a_part_is_in_s3() -> bool:
        for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            parts = s3.list_parts(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]).get("Parts", [])
            if upload["Key"].endswith("/long.mp4") and parts:
                return True
        return False

    gets = []

    class Handler(QuietHandler):
        def do_GET(self):  # noqa: N802
            gets.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            held_back = 1024 * 1024
            self.wfile.write(data[:-held_back])
            self.wfile.flush()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not a_part_is_in_s3():
                time.sleep(0.05)
            if a_part_is_in_s3():
                seen_part.set()
            self.wfile.write(data[-held_back:])

    server = serve(Handler)
    monkeypatch.setenv("ALLOW_PRIVATE_URLS", "true")
    reset_service_caches()
    try:
        url = f"http://127.0.0.1:{server.server_port}/videos/long.mp4"
        manifest = json.dumps({"media": {"url": url, "type": "video"}, "instance_list": []}).encode()
        job = import_steps.run_import("alpha", "jsonl", "by-url", manifest, {})
        # its chunk tried again (after a timeout): the video handed over is not downloaded again
        retried = imports.import_chunk("alpha", job["import_id"], f"imports/alpha/{job['import_id']}/items/00000.json")
        assert retried == {"done": 0, "failed": 0, "waiting": 1} and len(gets) == 1
    finally:
        server.shutdown()
        monkeypatch.delenv("ALLOW_PRIVATE_URLS", raising=False)
        reset_service_caches()
    assert (job["status"], job["done"], job["failed"]) == ("running", 0, 0), job
    assert seen_part.is_set(), "the video was not streamed to S3 while it downloaded"
    (key,) = [k for k in _arrived_videos(world, "alpha") if k.endswith("/long.mp4")]
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == size
    ingested = _ingest(world, key)
    assert "file" in ingested, ingested
    final = imports.get_import("alpha", job["import_id"])
    assert (final["status"], final["done"], final["failed"]) == ("completed", 1, 0), final


def test_a_video_by_url_over_the_video_limit_fails_its_item_naming_the_limit(world, tmp_path, monkeypatch):

    from tests.support.auth import reset_service_caches

    data = _padded_mp4(make_video(tmp_path / "big.mp4", frames=10, size=(64, 48)).read_bytes(), 300_000)

    class Handler(QuietHandler):
        def do_GET(self):  # noqa: N802 - no Content-Length: the limit is found while reading
            self.send_response(200)
            self.end_headers()
            self.wfile.write(data)

    server = serve(Handler)
    monkeypatch.setenv("ALLOW_PRIVATE_URLS", "true")
    monkeypatch.setenv("VIDEO_MAX_BYTES", "200000")
    reset_service_caches()
    try:
        url = f"http://127.0.0.1:{server.server_port}/big.mp4"
        manifest = json.dumps({"media": {"url": url}, "instance_list": []}).encode()
        job = import_steps.run_import("alpha", "jsonl", "too-big", manifest, {})
    finally:
        server.shutdown()
        monkeypatch.delenv("ALLOW_PRIVATE_URLS", raising=False)
        monkeypatch.delenv("VIDEO_MAX_BYTES", raising=False)
        reset_service_caches()
    assert (job["status"], job["done"], job["failed"]) == ("completed_with_errors", 0, 1), job
    assert "larger than the limit of" in job["failures"][0]["reason"], job["failures"]
    assert not [k for k in _arrived_videos(world, "alpha") if "/too-big/" in k]
    assert not world["s3"].list_multipart_uploads(Bucket=world["media"]).get("Uploads")


def test_items_whose_video_ingest_never_reports_are_settled_from_their_upload_or_failed_in_the_end(world, tmp_path):
    """A step that recorded the upload's result but died before telling the import (and was not run again): the
    import looks after it from the upload. A video whose ingest never ran: its item fails after GIVE_UP_AFTER."""
    from datetime import UTC, datetime

    from annolake_service.adapters.dynamo import uploads as upload_repo
    from annolake_service.services import import_videos, imports

    clip = make_video(tmp_path / "lost.mp4", frames=8, size=(64, 48)).read_bytes()
    other = make_video(tmp_path / "never.mp4", frames=9, size=(64, 48)).read_bytes()
    manifest = b'{"media": {"path": "lost.mp4"}}\n{"media": {"path": "never.mp4"}}'
    job = import_steps.run_import("alpha", "jsonl", "stragglers", manifest, {"lost.mp4": clip, "never.mp4": other})
    import_id = job["import_id"]
    assert (job["status"], job["done"], job["failed"]) == ("running", 0, 0)
    upload_id = import_videos.upload_id_for(import_id, 0)
    upload_repo.finish_upload("alpha", upload_id, status="ready", file_id="f_lost")  # not told to the import

    now = datetime.now(UTC)
    assert import_videos.settle_stragglers("alpha", import_id, now=now) == 0  # too soon to look
    assert import_videos.settle_stragglers("alpha", import_id, now=now + import_videos.LOOK_AFTER) == 1
    looked = imports.get_import("alpha", import_id)
    assert (looked["status"], looked["done"], looked["failed"]) == ("running", 1, 0)

    assert import_videos.settle_stragglers("alpha", import_id, now=now + import_videos.GIVE_UP_AFTER) == 1
    ended = imports.get_import("alpha", import_id)
    assert (ended["status"], ended["done"], ended["failed"]) == ("completed_with_errors", 1, 1)
    (failure,) = ended["failures"]
    assert failure["name"] == "never.mp4" and "the video ingest gave no result within 6 hours" in failure["reason"]
    # its video arriving late after all counts nothing twice
    (late,) = [k for k in _arrived_videos(world, "alpha") if k.endswith("/never.mp4")]
    assert "file" in _ingest(world, late)
    after = imports.get_import("alpha", import_id)
    assert (after["status"], after["done"], after["failed"]) == ("completed_with_errors", 1, 1)


def test_a_video_over_50_mb_sent_to_from_url_is_refused_naming_the_limit_and_the_way_that_takes_it(world, monkeypatch):
    """from_url downloads within the API request (API Gateway's 30 s), so it keeps the 50 MB limit; its error
    says so, and names the presigned upload and the import that take a video up to VIDEO_MAX_BYTES."""
    from annolake_service.domain import media
    from annolake_service.shared.settings import get_settings

    from tests.support.auth import reset_service_caches

    declared = media.DEFAULT_MAX_BYTES + 1

    class Handler(QuietHandler):
        def do_GET(self):  # noqa: N802 - refused on its declared length, before its body is read
            self.send_response(200)
            self.send_header("Content-Length", str(declared))
            self.end_headers()

    server = serve(Handler)
    monkeypatch.setenv("ALLOW_PRIVATE_URLS", "true")
    reset_service_caches()
    try:
        url = f"http://127.0.0.1:{server.server_port}/long.mp4"
        c, h = world["client"], _admin(world)
        refused = c.post("/api/v1/projects/alpha/files/from_url", json={"url": url, "dataset": "web"}, headers=h)
        limit = get_settings().video_max_bytes
    finally:
        server.shutdown()
        monkeypatch.delenv("ALLOW_PRIVATE_URLS", raising=False)
        reset_service_caches()
    assert refused.status_code == 400
    message = refused.json()["error"]["message"]
    assert f"{url} is {declared} bytes; the limit is {media.DEFAULT_MAX_BYTES} bytes" in message
    assert "API Gateway ends a request after 30 s" in message
    assert f"presigned upload (POST /api/v1/projects/alpha/uploads, up to {limit} bytes)" in message
    assert "media.url of a JSONL import" in message
