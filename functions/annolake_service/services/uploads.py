"""Direct uploads: a presigned POST into the uploads prefix, which then flows into ingest."""

from __future__ import annotations

import json
import posixpath
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from annolake_service.adapters import storage, web_fetch
from annolake_service.adapters.dynamo import uploads as upload_repo
from annolake_service.domain import media
from annolake_service.domain.object_keys import sidecar_key_for
from annolake_service.services import annotations as annotation_service
from annolake_service.services.projects import ensure_dataset
from annolake_service.shared.errors import BadRequest, NotFound
from annolake_service.shared.settings import get_settings

UPLOAD_URL_SECONDS = 900
ACCEPTED_CONTENT_TYPES = frozenset(media.IMAGE_FORMATS.values()) | media.VIDEO_MIME_TYPES


def request_upload(
    project_id: str, *, dataset_name: str, file_name: str, content_type: str, size_bytes: int, author: str
) -> dict[str, Any]:
    if content_type not in ACCEPTED_CONTENT_TYPES:
        raise BadRequest(
            f"content type {content_type!r} is not accepted; upload one of {sorted(ACCEPTED_CONTENT_TYPES)} "
            "(audio and text are not supported yet)"
        )
    settings = get_settings()
    limit = settings.video_max_bytes if content_type in media.VIDEO_MIME_TYPES else media.DEFAULT_MAX_BYTES
    if not 0 < size_bytes <= limit:
        raise BadRequest(f"size_bytes must be between 1 and {limit} for {content_type} (got {size_bytes})")
    name = file_name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not name or name in (".", ".."):
        raise BadRequest(f"file name {file_name!r} is empty once its directories are removed")
    dataset = ensure_dataset(project_id, dataset_name)
    upload_id = f"up_{secrets.token_hex(8)}"
    key = storage.upload_key(project_id, dataset.name, upload_id, name)
    upload_repo.create_upload(project_id, upload_id, dataset.name, name, author, ttl=int(time.time()) + 7 * 86400)
    post = storage.presigned_post(
        settings.media_bucket,
        key,
        content_type=content_type,
        max_bytes=min(size_bytes, limit),
        expires_in=UPLOAD_URL_SECONDS,
    )
    return {"upload_id": upload_id, "url": post["url"], "fields": post["fields"], "expires_in": UPLOAD_URL_SECONDS}


def get_upload(project_id: str, upload_id: str) -> dict[str, Any]:
    upload = upload_repo.get_upload(project_id, upload_id)
    if upload is None:
        raise NotFound(f"upload {upload_id!r} not found in project {project_id!r}")
    return {
        "upload_id": upload.upload_id,
        "dataset": upload.dataset,
        "file_name": upload.file_name,
        "status": upload.status,
        "status_reason": upload.status_reason,
        "file_id": upload.file_id,
        "created_at": upload.created_at.isoformat(),
    }


def import_from_url(
    project_id: str,
    *,
    dataset_name: str,
    url: str,
    instance_list: list[dict[str, Any]] | None,
    create_labels: bool,
    author: str,
    media_type: str = "image",
) -> dict[str, Any]:
    """Download ``url`` (limits, public hosts only), check its pre-labels, then hand it to ingest.

    Held to the image limit (50 MB) for a video too: the download runs inside the API request, which API
    Gateway ends after 30 s; larger videos come by presigned upload, or by URL through an import (its chunk step
    streams them to S3 up to VIDEO_MAX_BYTES).

    The media and its sidecar go to the uploads prefix, so from here on it is an ordinary upload:
    the same S3 notification, state machine and idempotent registration. Poll ``get_upload``.
    """
    if media_type not in ("image", "video"):
        raise BadRequest(f"media type {media_type!r} is not supported yet; only images and videos can be imported")
    settings = get_settings()
    try:
        fetched = web_fetch.fetch(url, max_bytes=media.DEFAULT_MAX_BYTES, allow_private=settings.allow_private_urls)
        # A video is probed by the ingest's video step, like any other arrival; an image is checked here first.
        video = media.sniff_video(fetched.body[: media.VIDEO_HEAD_BYTES])
        facts = None
        if video is not None:
            extension, mime_type = video.extension, video.mime_type
        elif media_type == "video":
            raise media.UnsupportedMedia("it is not a video (MP4, MOV, WebM or MKV), though media type video was given")
        else:
            facts = media.inspect_image(fetched.body)
            extension, mime_type = facts.extension, facts.mime_type
    except web_fetch.TooLarge as exc:
        raise BadRequest(
            f"cannot import {url}: {exc}. This route downloads the file within the API request (API Gateway ends "
            f"a request after 30 s), so it takes files up to {exc.limit} bytes; send a larger video with a "
            f"presigned upload (POST /api/v1/projects/{project_id}/uploads, up to {settings.video_max_bytes} "
            "bytes), or as the media.url of a JSONL import, which streams a video of up to that size"
        ) from None
    except (web_fetch.UrlRefused, web_fetch.FetchFailed, media.MediaRejected) as exc:
        raise BadRequest(f"cannot import {url}: {exc}") from None
    instances = []
    if instance_list:
        if facts is None:
            raise BadRequest(f"cannot import {url}: pre-labels of a video are not supported yet; send it without")
        instances = annotation_service.validate_instances(
            project_id, instance_list, width=facts.width, height=facts.height, create_labels=create_labels
        )
    dataset = ensure_dataset(project_id, dataset_name)
    upload_id = f"up_{secrets.token_hex(8)}"
    stem = posixpath.splitext(posixpath.basename(urlsplit(fetched.final_url).path))[0] or "download"
    name = f"{stem[:100]}.{extension}"
    upload_repo.create_upload(project_id, upload_id, dataset.name, name, author, ttl=int(time.time()) + 7 * 86400)
    key = storage.upload_key(project_id, dataset.name, upload_id, name)
    if instances:  # the sidecar goes first: the image's arrival starts the ingest that reads it
        sidecar = {"instance_list": instances, "metadata": {"source_url": url}}
        storage.write_object(
            settings.media_bucket, sidecar_key_for(key), json.dumps(sidecar).encode(), "application/json"
        )
    storage.write_object(settings.media_bucket, key, fetched.body, mime_type)
    return get_upload(project_id, upload_id)
