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

import hashlib
from datetime import UTC, datetime, timedelta

from annolake_service.adapters.dynamo import imports as import_repo
from annolake_service.adapters.dynamo import uploads as upload_repo
from annolake_service.domain.entities import Upload
from annolake_service.shared.observability import logger

# A waiting item is looked after once its mark is this old: its upload may have finished without settling it
# (a step that failed after recording the upload, and was not run again).
LOOK_AFTER = timedelta(minutes=15)
# The video ingest state machine ends within 2 hours (its timeout), and the ingest machine that starts it within
# minutes; an item still waiting three times that long has no run left that could settle it.
GIVE_UP_AFTER = timedelta(hours=6)
STRAGGLERS_PER_LOOK = 25


def upload_id_for(import_id: str, index: int) -> str:
    """The upload an import's video item arrives as: the same on every run of the import, so a re-driven
    import rewrites it."""
    return "up_" + hashlib.sha256(f"{import_id}:{index}".encode()).hexdigest()[:16]


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


def settle_stragglers(project_id: str, import_id: str, now: datetime | None = None) -> int:
    """Settle the waiting items the video ingest will not settle: one whose upload has its result (recorded,
    but the import not told), or one waiting past ``GIVE_UP_AFTER`` (failed, saying so). How many it settled."""
    now = now or datetime.now(UTC)
    settled = 0
    for item in import_repo.waiting_items(project_id, import_id, STRAGGLERS_PER_LOOK):
        since = item.waiting_since or now
        if now - since < LOOK_AFTER:
            continue
        upload = upload_repo.get_upload(project_id, upload_id_for(import_id, item.index))
        if upload is not None and upload.import_id == import_id and upload.status in ("ready", "quarantined"):
            settled += settle_upload(upload)
        elif now - since >= GIVE_UP_AFTER:
            hours = GIVE_UP_AFTER.total_seconds() / 3600
            reason = (
                f"the video ingest gave no result within {hours:g} hours of the video's hand-over (since "
                f"{since.isoformat()}); start the import again to hand it over again"
            )
            if import_repo.settle_video_item(project_id, import_id, item.index, item.name, file_id=None, reason=reason):
                settled += 1
                complete_if_settled(project_id, import_id)
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
