"""What the video ingest state machine does with an arrived video, its steps called in order in-process:
ProbeVideo, ExtractSegment on each segment, FinishVideo; DiscardVideo on any error (its Catch)."""

from __future__ import annotations

import json
from typing import Any


def step_error(refused: Exception) -> dict[str, str]:
    """A step's error as Step Functions hands it to a Catch (``{"Error", "Cause"}``)."""
    return {"Error": type(refused).__name__, "Cause": json.dumps({"errorMessage": str(refused)})}


def run_video_ingest(bucket: str, key: str) -> dict[str, Any]:
    """``{"file": RegisterFile's answer}`` or ``{"quarantine": QuarantineFile's}``, and ``segments``: each
    segment step's answer."""
    from annolake_service.services import video_ingest

    plan = None
    done: list[dict[str, Any]] = []
    try:
        plan = video_ingest.plan_video(bucket, key)
        for item in plan["segments"]:
            done.append(video_ingest.extract_segment(item))
        return {"file": video_ingest.finish_video(bucket, key, plan), "segments": done}
    except Exception as refused:  # noqa: BLE001 - States.ALL
        return {"quarantine": video_ingest.discard_video(bucket, key, step_error(refused), plan), "segments": done}
