"""The videos an import hands to the video ingest: their items wait for the ingest's result, and the import ends
only once none waits.

An import's chunk marks a video item waiting (``WAIT#<index>`` beside the outcomes) before the video reaches the
uploads prefix; the video's upload names the import and the item. When the video ingest registers the file or
quarantines it, ``settle_upload`` turns the mark into the item's outcome in one transaction (ready: done;
quarantined: failed with the reason), so a video ingest run again finds no mark and counts nothing twice. The
import's Finish step sets ``awaiting_videos`` and tries ``complete_if_settled``; so does every settled video
after it, and whichever comes last (consistent reads on both sides) completes the import.
"""

from __future__ import annotations

from annolake_service.adapters.dynamo import imports as import_repo
from annolake_service.domain.entities import Upload
from annolake_service.shared.observability import logger


def settle_upload(upload: Upload) -> bool:
    """Record the import item's outcome from its video's finished upload; False when the upload is no import's
    video or its item has its outcome already."""
    if upload.import_id is None or upload.import_item is None or upload.status not in ("ready", "quarantined"):
        return False
    reason = None if upload.status == "ready" else f"the video ingest quarantined it: {upload.status_reason}"
    settled = import_repo.settle_video_item(
        upload.project_id,
        upload.import_id,
        upload.import_item,
        upload.file_name,
        file_id=upload.file_id if reason is None else None,
        reason=reason,
    )
    if settled:
        logger.info(
            "import video settled",
            extra={"import_id": upload.import_id, "index": upload.import_item, "status": upload.status},
        )
        complete_if_settled(upload.project_id, upload.import_id)
    return settled


def complete_if_settled(project_id: str, import_id: str) -> str | None:
    """Complete the import if its run has ended and no item waits for a video; its final status, else None."""
    job = import_repo.get_import(project_id, import_id, consistent=True)
    if job is None or job.status != "running" or not job.awaiting_videos:
        return None
    if import_repo.videos_waiting(project_id, import_id):
        return None
    done, failed = import_repo.count_outcomes(project_id, import_id)
    status = "completed_with_errors" if failed else "completed"
    if not import_repo.complete_import(project_id, import_id, status=status, done=done, failed=failed):
        return None
    return status
