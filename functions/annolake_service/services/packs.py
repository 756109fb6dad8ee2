"""Packed shards of a snapshot: the ``packed`` export's page step and the shards' download URLs.

A pack is an export (``domain/exports/packed.py`` says what a shard holds): the export state machine plans the
pages, this page step writes the page's shards (the originals streamed from the media bucket into tar objects by
multipart upload, one original in memory at a time) and returns the page's index lines, and the assemble step
joins the index lines into ``shards.jsonl``. So a pack is resumable, cancellable and re-driven as any export, and
the same snapshot and shard size are packed once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from annolake_service.adapters import storage
from annolake_service.domain import snapshots as snap
from annolake_service.domain.exports import ExportJob
from annolake_service.domain.exports import packed as fmt
from annolake_service.services import page_bytes, snapshots
from annolake_service.shared.errors import Conflict, NotFound
from annolake_service.shared.settings import get_settings

MAX_MEDIA_BYTES = 5 << 30  # an original is read whole (it goes into one shard); S3's largest single PUT


class MediaChanged(Exception):
    """An original's bytes no longer have the sha256 the snapshot pinned: packing it would pack other data."""


PRESIGN_BLOCK = 500  # shard URLs signed at once


def pack_page(job: ExportJob, snapshot: snap.Snapshot, page: int, page_files: int) -> bytes:
    """Write page ``page``'s shards; its index lines. Files whose media is gone (not ready) are left out, as the
    streaming loaders skip them."""
    bucket = get_settings().media_bucket
    shard_bytes = int(job.options["shard_bytes"])
    pins, found = snapshots.pinned_files(job.project_id, snapshot, page * page_files, page_files)
    samples = []
    for index, pin in enumerate(pins, start=page * page_files):
        item = snapshots.stream_item(index, pin, found.get(pin.file_id), {})
        record = found[pin.file_id][0] if pin.file_id in found else None
        if item["file"].get("status") != "ready" or record is None or not record.original_key:
            continue
        samples.append((item, record.original_key, fmt.sample_json(item)))
    sizes = [
        fmt.member_bytes(int(item["file"].get("size_bytes") or 0)) + fmt.member_bytes(len(body))
        for item, _, body in samples
    ]
    lines = []
    for number, run in enumerate(fmt.cut(sizes, shard_bytes)):
        name = fmt.shard_name(page, number)
        entries: list[list[Any]] = []
        digest = hashlib.sha256()

        def chunks(run: range = run, entries: list[list[Any]] = entries, digest: Any = digest) -> Iterator[bytes]:
            at = 0
            for position in run:
                item, key, body = samples[position]
                media = storage.read_object(bucket, key, max_bytes=MAX_MEDIA_BYTES).body
                file = item["file"]
                if hashlib.sha256(media).hexdigest() != file["content_hash"]:
                    raise MediaChanged(
                        f"the original of file {file['id']} ({file['name']}) no longer has the sha256 the snapshot "
                        "pinned; it cannot be packed (restore the object, or take a new snapshot)"
                    )
                ext = fmt.extension(file["name"])
                entry = [item["index"], file["id"], ext]
                for member, data in ((f"{file['id']}.{ext}", media), (f"{file['id']}.json", body)):
                    head = fmt.header(member, len(data))
                    entry += [at + len(head), len(data)]
                    for part in (head, data, fmt.padding(len(data))):
                        digest.update(part)
                        at += len(part)
                        yield part
                entries.append(entry)
            digest.update(fmt.TAR_END)
            yield fmt.TAR_END

        key = storage.export_shard_key(job.project_id, job.export_id, name)
        size = storage.write_multipart(bucket, key, chunks(), "application/x-tar")
        lines.append(fmt.index_line(name, size, digest.hexdigest(), entries))
    return b"".join(lines)


def shard_urls(job: ExportJob, cursor: str | None = None) -> dict[str, Any]:
    """A page of a completed pack's shards by name, each with a presigned GET minted for this answer; the page
    ends at ``PAGE_MAX_BYTES`` of shards (a pack of a large snapshot has thousands) and ``cursor`` carries on."""
    if job.format != fmt.FORMAT:
        raise NotFound(f"export {job.export_id} is a {job.format} export, not packed shards")
    if job.status != "completed":
        raise Conflict(f"the pack {job.export_id} is {job.status}; its shards are served once it is completed")
    settings = get_settings()
    prefix = storage.export_shard_key(job.project_id, job.export_id, "")
    names = sorted(key[len(prefix) :] for key in storage.list_keys(settings.media_bucket, prefix))
    listing = f"shards:{job.project_id}/{job.export_id}"
    if cursor is not None:
        after = page_bytes.position_of(listing, cursor)
        names = [name for name in names if [name] > after]
    ttl = settings.presign_ttl_seconds

    def shards() -> Iterator[dict[str, str]]:  # presigned a block at a time, as far as the page goes
        for start in range(0, len(names), PRESIGN_BLOCK):
            block = names[start : start + PRESIGN_BLOCK]
            urls = storage.presigned_get_urls(settings.media_bucket, [prefix + name for name in block], ttl)
            yield from ({"name": name, "url": url} for name, url in zip(block, urls, strict=True))

    page, more = page_bytes.take(shards())
    return {
        "export_id": job.export_id,
        "shards": page,
        "url_expires_in": ttl,
        "cursor": page_bytes.cursor_after(listing, [page[-1]["name"]]) if more else None,
    }
