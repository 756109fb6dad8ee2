"""A long video's frames extracted side by side: the video ingest state machine as synthesized, run by the local
platform (moto's engine executing its Map), on a platform of its own whose segments are one 32-frame chunk, so
a five-second clip takes five segment steps."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import av
import boto3
import pytest

from tests.e2e.conftest import RunningPlatform, free_port, start_platform
from tests.support.video_fixtures import make_video

FRAMES = 150  # five segments of 32 frames, the last of 22


@pytest.fixture(scope="module")
def segmented(tmp_path_factory) -> Iterator[RunningPlatform]:
    home = tmp_path_factory.mktemp("annolake-video-home")
    running = start_platform(home, free_port(), free_port(), environment={"VIDEO_SEGMENT_FRAMES": "32"})
    yield running
    if running.process.poll() is None:
        running.stop()


def _aws(platform: RunningPlatform, service: str):
    creds = platform.credentials
    session = boto3.Session(
        aws_access_key_id=creds["aws_access_key_id"],
        aws_secret_access_key=creds["aws_secret_access_key"],
        region_name="us-east-1",
    )
    return session.client(service, endpoint_url=platform.emulator_url)


def _video_execution(platform: RunningPlatform, known: set[str], timeout: float = 300) -> dict:
    sfn = _aws(platform, "stepfunctions")
    [arn] = [
        m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if "ingestvideo" in m["name"].lower()
    ]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for execution in sfn.list_executions(stateMachineArn=arn)["executions"]:
            if execution["executionArn"] not in known and execution["status"] != "RUNNING":
                return execution
        time.sleep(1)
    raise AssertionError("no video ingest execution finished")


def _known(platform: RunningPlatform) -> set[str]:
    sfn = _aws(platform, "stepfunctions")
    arns = [
        m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if "ingestvideo" in m["name"].lower()
    ]
    return {e["executionArn"] for arn in arns for e in sfn.list_executions(stateMachineArn=arn)["executions"]}


def _tasks_exited(platform: RunningPlatform, execution: dict) -> list[str]:
    history = _aws(platform, "stepfunctions").get_execution_history(executionArn=execution["executionArn"])
    return [e["stateExitedEventDetails"]["name"] for e in history["events"] if e["type"] == "TaskStateExited"]


def _media_bucket(platform: RunningPlatform) -> str:
    [name] = [b["Name"] for b in _aws(platform, "s3").list_buckets()["Buckets"] if "media" in b["Name"]]
    return name


def _file(platform: RunningPlatform, name: str) -> dict:
    ddb = _aws(platform, "dynamodb")
    for table in ddb.list_tables()["TableNames"]:
        for page in ddb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                if item.get("kind", {}).get("S") == "file" and item.get("original_name", {}).get("S") == name:
                    return item
    raise AssertionError(f"no file named {name}")


def test_a_video_is_extracted_in_segments_by_the_map_and_each_frame_is_the_whole_decodes(segmented, tmp_path):
    from annolake_service.domain.video import chunks, probe

    s3, creds = _aws(segmented, "s3"), segmented.credentials
    path = make_video(tmp_path / "long.mp4", frames=FRAMES, gop=20, bframes=2)
    with av.open(str(path)) as container:
        reference = [(frame.pts, probe._frame_jpeg(frame)) for frame in container.decode(video=0)]
    known = _known(segmented)
    s3.put_object(Bucket=creds["drop_bucket"], Key="demo/long/long.mp4", Body=path.read_bytes())
    execution = _video_execution(segmented, known)
    assert execution["status"] == "SUCCEEDED"
    assert _tasks_exited(segmented, execution) == ["ProbeVideo", *["ExtractSegment"] * 5, "FinishVideo"]
    item = _file(segmented, "long.mp4")
    assert item["status"]["S"] == "ready"
    video = json.loads(item["video"]["S"])
    assert video["frame_count"] == FRAMES
    media = _media_bucket(segmented)
    timestamps = json.loads(s3.get_object(Bucket=media, Key=video["timestamps_key"])["Body"].read())
    assert timestamps["pts"] == [pts for pts, _ in reference]
    stored = []
    for number in range(5):
        key = f"{video['frames_prefix']}{number:06d}"
        stored += chunks.unpack(s3.get_object(Bucket=media, Key=key)["Body"].read())
    assert [i for i, (jpeg, (_, expected)) in enumerate(zip(stored, reference, strict=True)) if jpeg != expected] == []


def test_a_video_whose_segment_cannot_be_decoded_is_quarantined_whole(segmented, tmp_path):
    s3, creds = _aws(segmented, "s3"), segmented.credentials
    path = make_video(tmp_path / "damaged.mp4", frames=FRAMES, gop=20)
    with av.open(str(path)) as container:
        position, size = [(p.pos, p.size) for p in container.demux(video=0) if p.size][100]
    data = bytearray(path.read_bytes())
    data[position : position + size] = b"\xff" * size
    known = _known(segmented)
    s3.put_object(Bucket=creds["drop_bucket"], Key="demo/long/damaged.mp4", Body=bytes(data))
    execution = _video_execution(segmented, known)
    assert execution["status"] == "SUCCEEDED"  # a quarantined video is a handled outcome
    assert _tasks_exited(segmented, execution)[-1] == "DiscardVideo"
    item = _file(segmented, "damaged.mp4")
    assert item["status"]["S"] == "quarantined"
    assert "MP4 file could not be decoded" in item["status_reason"]["S"]
    # Not asserted here: that no chunk is left. The Map fails as soon as the damaged segment does, while its
    # siblings still run; a chunk they store after DiscardVideo's cleanup stays (a known gap, see docs/ingest.md).
    quarantined = s3.list_objects_v2(Bucket=_media_bucket(segmented), Prefix="quarantine/demo/long/")["Contents"]
    assert [o["Key"] for o in quarantined] == ["quarantine/demo/long/damaged.mp4"]
