"""``references="presigned"``: a downloaded export's S3 URIs rewritten as presigned URLs.

The export on the server names each original by its ``s3://`` URI (``references="s3"``): it is stored and reused,
so it holds nothing that expires. Here the API mints presigned GETs of exactly the originals the export names
(``GET …/exports/{id}/references``, a range of its snapshot's files an answer, as stream pages sign theirs) and
each URI of the unpacked folder is replaced by its URL, in the place the format keeps it.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, unescape

from annolake._scope import Scope

# where each format names an image's original (the server's ``references_in``); sagemaker's source-ref is read
# by SageMaker as an s3:// URI only, so it is never presigned
PRESIGNABLE = ("coco", "voc", "jsonl")


def check(format: str, path: object) -> None:  # noqa: A002 - the name users pass
    """ValueError naming the fix when ``references="presigned"`` cannot be done for this ask."""
    if format == "sagemaker":
        raise ValueError(
            "a SageMaker Ground Truth manifest's source-ref is read by SageMaker as an s3:// URI only: export "
            "sagemaker as it is (its source-ref is the original's S3 URI), or choose coco, voc or jsonl for presigned "
            "references"
        )
    if path is None:
        raise ValueError(
            "references='presigned' rewrites the downloaded export (presigned URLs expire, so the export on the "
            "server keeps s3:// URIs): give path= to download it, or use references='s3'"
        )


def presigned(scope: Scope, export_id: str, url_expires_in: int | None = None) -> tuple[dict[str, str], int]:
    """S3 URI → presigned GET for every original the export names, and the URLs' lifetime in seconds."""
    urls: dict[str, str] = {}
    offset: int | None = 0
    ttl = 0
    while offset is not None:
        page = scope.api.get(
            f"{scope.path}/exports/{export_id}/references", offset=offset, url_expires_in=url_expires_in
        )
        urls |= {r["uri"]: r["url"] for r in page["references"]}
        ttl = page["url_expires_in"] if not ttl else min(ttl, page["url_expires_in"])
        offset = page["next_offset"]
    return urls, ttl


def rewrite(scope: Scope, job: dict[str, Any], folder: Path, url_expires_in: int | None = None) -> dict[str, Any]:
    """Replace the unpacked export's S3 URIs under ``folder`` by presigned URLs; what to add to the export's
    answer: ``references``, ``references_expire_at`` (the first URL minted + its lifetime), ``references_presigned``
    (how many were replaced; an original deleted since the snapshot keeps its URI)."""
    minted_at = datetime.now(UTC)
    urls, ttl = presigned(scope, job["export_id"], url_expires_in)
    replaced = {"coco": _coco, "voc": _voc, "jsonl": _jsonl}[job["format"]](folder, urls)
    return {
        "references": "presigned",
        "references_expire_at": (minted_at + timedelta(seconds=ttl)).isoformat(),
        "references_presigned": replaced,
    }


def _replace_file(target: Path, data: bytes) -> None:
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, target)


def _coco(folder: Path, urls: dict[str, str]) -> int:
    target = folder / "annotations.json"
    document = json.loads(target.read_bytes())
    replaced = 0
    for image in document["images"]:
        url = urls.get(image.get("coco_url", ""))
        if url:
            image["coco_url"], replaced = url, replaced + 1
    _replace_file(target, json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
    return replaced


def _jsonl(folder: Path, urls: dict[str, str]) -> int:
    target = folder / "annolake.jsonl"
    partial = target.with_name(target.name + ".partial")
    replaced = 0
    with target.open("rb") as lines, partial.open("wb") as out:  # a line at a time
        for line in lines:
            packet = json.loads(line)
            url = urls.get(packet["media"].get("url", ""))
            if url:
                packet["media"]["url"], replaced = url, replaced + 1
            out.write(json.dumps(packet, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode() + b"\n")
    os.replace(partial, target)
    return replaced


_VOC_PATH = re.compile(rb"<path>([^<]*)</path>")


def _voc(folder: Path, urls: dict[str, str]) -> int:
    """Each ``<path>`` the server wrote (one an annotation file, text only) replaced as text: no XML parser
    reads the download, and every other byte stays as it was."""
    replaced = 0

    def presigned(found: re.Match[bytes]) -> bytes:
        nonlocal replaced
        url = urls.get(unescape(found.group(1).decode()))
        if url is None:
            return found.group(0)
        replaced += 1
        return b"<path>" + escape(url).encode() + b"</path>"

    for xml_file in sorted((folder / "Annotations").glob("*.xml")):
        data = xml_file.read_bytes()
        rewritten = _VOC_PATH.sub(presigned, data, count=1)
        if rewritten != data:
            _replace_file(xml_file, rewritten)
    return replaced
