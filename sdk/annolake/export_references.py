"""``references="presigned"``: a downloaded export's S3 URIs rewritten as presigned URLs.

The export on the server names each original by its ``s3://`` URI (``references="s3"``): it is stored and reused,
so it holds nothing that expires. Here the API mints presigned GETs of exactly the originals the export names
(``GET …/exports/{id}/references``, a range of its snapshot's files an answer, as stream pages sign theirs) and
each URI of the unpacked folder is replaced by its URL, in the place the format keeps it.

Memory does not grow with the export: the writer puts the snapshot's files in order (JSONL line ``n``, COCO image
id ``n + 1``, VOC's ``n``-th annotation member), so each record's URLs are in the one answer covering its position,
asked for when the rewrite reaches it; each file is streamed into a ``.partial`` beside it, then renamed over it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape, unescape

from annolake._scope import Scope
from annolake._tar import stream_members

# where each format names an image's original (the server's ``references_in``); sagemaker's source-ref is read
# by SageMaker as an s3:// URI only, so it is never presigned
PRESIGNABLE = ("coco", "voc", "jsonl")
VOC_ARCHIVE = "voc.tar"  # kept by the unpack until the rewrite has read its members' order


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


PAGE = 1000  # files whose originals one answer presigns (the server's most)


class Pages:
    """The presigned GETs of one answer of ``…/references`` at a time: ``at(position)`` is S3 URI → URL for the
    originals of the ``PAGE`` files holding that snapshot position, asked for when first needed after another.
    The first answer is asked for at once: it gives the URLs' lifetime, and a refusal before anything is written."""

    def __init__(self, scope: Scope, export_id: str, url_expires_in: int | None = None) -> None:
        self.scope, self.export_id, self.url_expires_in = scope, export_id, url_expires_in
        self.size, self.ttl, self.asked = PAGE, 0, 0
        self._offset, self._urls = 0, self._fetch(0)

    def _fetch(self, offset: int) -> dict[str, str]:
        page = self.scope.api.get(
            f"{self.scope.path}/exports/{self.export_id}/references",
            offset=offset,
            limit=self.size,
            url_expires_in=self.url_expires_in,
        )
        self.asked += 1
        self.ttl = page["url_expires_in"] if not self.ttl else min(self.ttl, page["url_expires_in"])
        return {r["uri"]: r["url"] for r in page["references"]}

    def at(self, position: int) -> dict[str, str]:
        if position < 0:
            return {}
        offset = position // self.size * self.size
        if offset != self._offset:
            self._offset, self._urls = offset, self._fetch(offset)
        return self._urls


def rewrite(scope: Scope, job: dict[str, Any], folder: Path, url_expires_in: int | None = None) -> dict[str, Any]:
    """Replace the unpacked export's S3 URIs under ``folder`` by presigned URLs; what to add to the export's
    answer: ``references``, ``references_expire_at`` (the first URL minted + its lifetime), ``references_presigned``
    (how many were replaced; an original deleted since the snapshot keeps its URI)."""
    minted_at = datetime.now(UTC)
    pages = Pages(scope, job["export_id"], url_expires_in)
    replaced = {"coco": _coco, "voc": _voc, "jsonl": _jsonl}[job["format"]](folder, pages.at)
    return {
        "references": "presigned",
        "references_expire_at": (minted_at + timedelta(seconds=pages.ttl)).isoformat(),
        "references_presigned": replaced,
    }


Urls = Callable[[int], dict[str, str]]  # snapshot position → URI → URL of the answer holding it


@contextmanager
def _replacing(target: Path) -> Iterator[IO[bytes]]:
    """Write ``target`` anew through a ``.partial`` beside it, renamed over it once whole (removed on error)."""
    partial = target.with_name(target.name + ".partial")
    try:
        with partial.open("wb") as out:
            yield out
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _jsonl(folder: Path, urls: Urls) -> int:
    """Line ``n`` is the snapshot's file ``n``; a line at a time."""
    target = folder / "annolake.jsonl"
    replaced = 0
    with _replacing(target) as out, target.open("rb") as lines:  # read closed before the rename
        for position, line in enumerate(lines):
            packet = json.loads(line)
            url = urls(position).get(packet["media"].get("url", ""))
            if url:
                packet["media"]["url"], replaced = url, replaced + 1
            out.write(json.dumps(packet, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode() + b"\n")
    return replaced


def _coco(folder: Path, urls: Urls) -> int:
    """The document streamed: each top-level array an element at a time (an image's original is file
    ``id - 1`` of the snapshot), written as ``json.dumps`` writes the whole document."""
    target = folder / "annotations.json"
    replaced = 0

    def image(value: Any) -> Any:
        nonlocal replaced
        if isinstance(value, dict) and "coco_url" in value and isinstance(value.get("id"), int):
            url = urls(value["id"] - 1).get(value["coco_url"])
            if url:
                value["coco_url"], replaced = url, replaced + 1
        return value

    with _replacing(target) as out, target.open(encoding="utf-8") as text:
        _rewrite_object(_JsonReader(text), out.write, {"images": image})
        out.write(b"\n")
    return replaced


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # json.dumps's, made once


def _dumps(value: Any) -> bytes:
    return _ENCODER.encode(value).encode()


def _rewrite_object(reader: _JsonReader, write: Callable[[bytes], object], change: dict[str, Callable]) -> None:
    """A top-level JSON object from ``reader`` to ``write``, arrays an element at a time (``change[key]`` applied
    to each element of the array at ``key``): the bytes ``json.dumps`` gives for the whole object."""
    reader.expect("{")
    write(b"{")
    if reader.peek() == "}":
        reader.expect("}")
    else:
        while True:
            key = reader.value()
            reader.expect(":")
            write(_dumps(key) + b":")
            if reader.peek() == "[":
                _rewrite_array(reader, write, change.get(key, _same))
            else:
                write(_dumps(reader.value()))
            if reader.take(",}") == "}":
                break
            write(b",")
    write(b"}")
    reader.end()


def _same(value: Any) -> Any:
    return value


def _rewrite_array(reader: _JsonReader, write: Callable[[bytes], object], change: Callable[[Any], Any]) -> None:
    reader.expect("[")
    pieces = [b"["]  # written a few hundred elements at a time
    if reader.peek() == "]":
        reader.expect("]")
    else:
        while True:
            pieces.append(_dumps(change(reader.value())))
            if reader.take(",]") == "]":
                break
            pieces.append(b",")
            if len(pieces) > 512:
                write(b"".join(pieces))
                pieces.clear()
    pieces.append(b"]")
    write(b"".join(pieces))


_BLANK = re.compile(r"[ \t\n\r]*")


class _JsonReader:
    """JSON values read one at a time from a text stream through a buffer of a chunk and the value at hand."""

    CHUNK = 1 << 16

    def __init__(self, text: IO[str]) -> None:
        self.text, self.buffer, self.at, self.eof = text, "", 0, False
        self.decoder = json.JSONDecoder()

    def _more(self) -> None:
        chunk = self.text.read(max(self.CHUNK, len(self.buffer) - self.at))  # doubles for a value bigger than one
        self.eof = not chunk
        self.buffer, self.at = self.buffer[self.at :] + chunk, 0

    def _skip_blank(self) -> None:
        if self.at < len(self.buffer) and self.buffer[self.at] not in " \t\n\r":
            return  # the writer's own output: no blanks between tokens
        while True:
            self.at = _BLANK.match(self.buffer, self.at).end()  # type: ignore[union-attr]
            if self.at < len(self.buffer) or self.eof:
                return
            self._more()

    def peek(self) -> str:
        self._skip_blank()
        return self.buffer[self.at : self.at + 1]

    def take(self, allowed: str) -> str:
        found = self.peek()
        if not found or found not in allowed:
            raise json.JSONDecodeError(f"expected one of {allowed!r}", self.buffer, self.at)
        self.at += 1
        return found

    def expect(self, char: str) -> None:
        self.take(char)

    def value(self) -> Any:
        self._skip_blank()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buffer, self.at)
            except json.JSONDecodeError:
                if self.eof:
                    raise
                self._more()
                continue
            if end == len(self.buffer) and not self.eof:  # a number may go on in the next chunk
                self._more()
                continue
            self.at = end
            return value

    def end(self) -> None:
        """Nothing but blanks after the document (as ``json.loads`` requires)."""
        if self.peek():
            raise json.JSONDecodeError("Extra data", self.buffer, self.at)


_VOC_PATH = re.compile(rb"<path>([^<]*)</path>")


def _voc(folder: Path, urls: Urls) -> int:
    """Each ``<path>`` the server wrote (one an annotation file, text only) replaced as text: no XML parser
    reads the download, and every other byte stays as it was. The archive (kept by the unpack) gives the
    files' order, the snapshot's: its ``n``-th annotation member is file ``n``; a file at a time."""
    replaced = 0
    archive_path = folder / VOC_ARCHIVE
    try:
        for position, xml_file in enumerate(_voc_annotations(folder, archive_path)):
            page = urls(position)

            def presigned(found: re.Match[bytes], page: dict[str, str] = page) -> bytes:
                nonlocal replaced
                url = page.get(unescape(found.group(1).decode()))
                if url is None:
                    return found.group(0)
                replaced += 1
                return b"<path>" + escape(url).encode() + b"</path>"

            data = xml_file.read_bytes()
            rewritten = _VOC_PATH.sub(presigned, data, count=1)
            if rewritten != data:
                with _replacing(xml_file) as out:
                    out.write(rewritten)
    finally:
        archive_path.unlink(missing_ok=True)
    return replaced


def _voc_annotations(folder: Path, archive_path: Path) -> Iterator[Path]:
    """The annotation files in the archive's order, read as a stream (the member list not kept)."""
    for _, member in stream_members(archive_path):
        if member.isfile() and member.name.startswith("Annotations/") and member.name.endswith(".xml"):
            yield folder / member.name
