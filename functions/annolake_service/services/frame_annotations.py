"""A video frame's annotations, with its tracks' shapes interpolated between keyframes."""

from __future__ import annotations

from typing import Any

from annolake_service.domain.video.frames import frame_instances
from annolake_service.services import files
from annolake_service.shared.errors import BadRequest


def frame_annotations(project_id: str, file_id: str, frame: int) -> dict[str, Any]:
    record, instances = files.get_file_with_instances(project_id, file_id)
    if record.media_type != "video" or record.video is None:
        raise BadRequest(
            f"file {file_id!r} is {'an unprobed video' if record.media_type == 'video' else 'an image'}: only a "
            "probed video has frames; read its annotations at /annotations"
        )
    last = record.video.frame_count - 1
    if not 0 <= frame <= last:
        raise BadRequest(f"frame {frame} is not in the video: its frames are 0..{last}")
    return {
        "file_id": file_id,
        "version": record.annotation_version,
        "frame": frame,
        "frame_count": record.video.frame_count,
        "instance_list": frame_instances(instances, frame),
    }
