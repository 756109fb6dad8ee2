"""Annolake's own JSON Lines, lossless: one packet per file (``media.path``, the pinned ``instance_list`` as
stored, with attributes, sources, model names, scores and each instance's version bookkeeping, ``metadata``)
and an ``annolake`` record (file id, content hash, annotation version, size, source URI). It imports back with
``annolake import jsonl`` (instance ids are new there; everything a user edits is kept). With
``references="s3"`` a packet's ``media.url`` is the original's S3 URI too (the import reads it there when the
image at ``media.path`` was not uploaded). A video's packet is ``media.type`` ``"video"`` (its original at
``media.path``) with its tracks, frame tags and whole-video tags; the import hands it to the video ingest.
"""

from __future__ import annotations

import json

from annolake_service.domain.exports.base import ExportContext, ExportFile, ExportFormat, register


def packet(file: ExportFile, context: ExportContext) -> dict:
    """With references, ``media.url`` too: the import reads the image there when ``path`` was not uploaded."""
    media = {"path": file.image_path, "type": "video" if file.is_video else "image"}
    if context.references:
        media["url"] = file.media_uri
    return {
        "media": media,
        "instance_list": file.instances,
        "metadata": file.metadata,
        "annolake": {
            "file_id": file.file_id,
            "name": file.name,
            "content_hash": file.content_hash,
            "annotation_version": file.annotation_version,
            "width": file.width,
            "height": file.height,
            "source_uri": file.media_uri,
            **({"frame_count": file.frame_count, "fps": file.fps} if file.is_video else {}),
        },
    }


def _page(files: list[ExportFile], context: ExportContext) -> dict[str, bytes]:
    return {
        "lines": b"".join(
            json.dumps(packet(f, context), ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode() + b"\n"
            for f in files
        )
    }


JSONL = register(
    ExportFormat(
        name="jsonl",
        file_name="annolake.jsonl",
        content_type="application/jsonl",
        fragments=("lines",),
        render_page=_page,
        head=lambda context: b"",
        references_in="media.url",
    )
)
