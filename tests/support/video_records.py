"""A video's file record written through the repository, as video ingest stores it (``media_type="video"`` with
its ``VideoFacts``), for tests of video annotations that need no decoded video."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime


def register_video(
    project_id: str, dataset: str, *, frame_count: int, size: tuple[int, int] = (640, 480), name: str | None = None
) -> str:
    """A ready video in ``dataset`` (created if need be) with no annotations; its file id."""
    from annolake_service.adapters.dynamo import files as file_repo
    from annolake_service.domain.entities import FileRecord, VideoFacts
    from annolake_service.domain.media import file_id_for_content
    from annolake_service.services import projects

    target = projects.ensure_dataset(project_id, dataset)
    digest = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    file_id = file_id_for_content(project_id, digest)
    record = FileRecord(
        project_id=project_id,
        file_id=file_id,
        original_name=name or f"clip-{digest[:6]}.mp4",
        media_type="video",
        mime_type="video/mp4",
        status="ready",
        width=size[0],
        height=size[1],
        size_bytes=1234,
        content_hash=digest,
        original_key=f"projects/{project_id}/videos/{file_id}.mp4",
        video=VideoFacts(frame_count=frame_count, fps=30.0, duration_s=frame_count / 30, codec="h264"),
        created_at=datetime.now(UTC),
    )
    assert file_repo.register_file(record, dataset_id=target.dataset_id, instance_list=[], created_by="test")
    return file_id
