"""``PackedShards``: a packed snapshot (``snap.pack()``) read shard by shard: one GET per shard, samples cut out of
it by the index's offsets.

The index (the pack's ``shards.jsonl``), the shards' presigned URLs and the label schema are read once, where the
dataset is made, so DataLoader workers (started again every epoch) inherit them instead of asking the API each
epoch; a worker mints the URLs again only when one is refused with 403 (expired). Each worker downloads whole
shards with the next one on its way while the current is consumed, and builds the samples as the per-object reader
does, from the same stream item the shard holds, so both yield the same samples. Positions are the pack's: 0 ..
``len`` - 1 over the shards in order (files whose media was gone when it was packed are not in it).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from bisect import bisect_right
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import accumulate
from typing import Any

from annolake.errors import FetchError, MediaMismatch, UrlExpired
from annolake.fetch import Downloader
from annolake.reader import StreamOptions, _checked
from annolake.samples import SampleFile, build_sample

INDEX_FORMAT = "annolake-shards/1"
_URL_ATTEMPTS = 4


class PackedShards:
    """A completed pack: ``shards`` (index lines), ``lengths`` (samples per shard), ``fetch(n)`` and ``samples``."""

    def __init__(self, snapshot: Any, job: dict[str, Any]) -> None:
        self.snapshot = snapshot
        self.export_id: str = job["export_id"]
        lines = Downloader(concurrency=1).fetch(job["download_url"]).splitlines()
        header = json.loads(lines[0])
        if header.get("format") != INDEX_FORMAT or header.get("digest") != snapshot.digest:
            raise ValueError(f"{self.export_id} is not a pack of snapshot {snapshot.digest} ({header})")
        self.shard_bytes: int = header["shard_bytes"]
        self.shards: list[dict[str, Any]] = [json.loads(line) for line in lines[1:] if line.strip()]
        self.lengths: tuple[int, ...] = tuple(shard["count"] for shard in self.shards)
        self._starts = [0, *accumulate(self.lengths)]
        self._lock = threading.Lock()
        self._downloader: Downloader | None = None
        self._pid = 0
        self._urls: dict[str, str] = self._listed_urls()
        snapshot.label_ids  # noqa: B018 - read here, once, not by every worker every epoch

    def __len__(self) -> int:
        return self._starts[-1]

    def shard_of(self, position: int) -> int:
        return bisect_right(self._starts, position) - 1

    def entry(self, position: int) -> list[Any]:
        """``[index, file_id, ext, media_offset, media_size, json_offset, json_size]`` of a pack position."""
        shard = self.shard_of(position)
        return self.shards[shard]["samples"][position - self._starts[shard]]

    # -- downloads ---------------------------------------------------------------------------------------
    @property
    def downloader(self) -> Downloader:
        if self._downloader is None or self._pid != os.getpid():  # forked workers make their own pool
            self._downloader, self._pid = Downloader(concurrency=2), os.getpid()
        return self._downloader

    def _listed_urls(self) -> dict[str, str]:
        scope = self.snapshot.scope
        listed = scope.api.get_all(f"{scope.path}/exports/{self.export_id}/shards", "shards")
        return {shard["name"]: shard["url"] for shard in listed}

    def _url(self, name: str, *, refresh: bool = False) -> str:
        with self._lock:
            if refresh or name not in self._urls:
                self._urls = self._listed_urls()
            if name not in self._urls:
                raise FetchError(name, 404, f"shard {name} of pack {self.export_id} is not in storage")
            return self._urls[name]

    def fetch(self, shard: int) -> bytes:
        """The whole shard, checked against the index's size (one GET; re-minted URLs on 403)."""
        name = self.shards[shard]["shard"]
        downloader = self.downloader
        url = self._url(name)
        for attempt in range(_URL_ATTEMPTS):
            try:
                data = downloader.fetch(url)
                break
            except UrlExpired:
                if attempt == _URL_ATTEMPTS - 1:
                    raise
                url = self._url(name, refresh=True)
        if len(data) != self.shards[shard]["size"]:
            expected = self.shards[shard]["size"]
            raise FetchError(name, 200, f"shard {name} has {len(data)} bytes, the index says {expected}")
        return data

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_lock": None, "_downloader": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- samples -----------------------------------------------------------------------------------------
    def sample(self, data: bytes, position: int, options: StreamOptions) -> dict[str, Any]:
        entry = self.entry(position)
        return self._sample(data, entry, _items(data, [entry])[0], options)

    def _sample(self, data: bytes, entry: list[Any], item: dict[str, Any], options: StreamOptions) -> dict[str, Any]:
        index, file_id, _ext, media_at, media_size, _json_at, _json_size = entry
        media = data[media_at : media_at + media_size]
        if _checked(file_id, options.verify_media):
            actual = hashlib.sha256(media).hexdigest()
            if actual != item["file"]["content_hash"]:
                raise MediaMismatch(file_id, item["file"].get("name", ""), item["file"]["content_hash"], actual)
        sample = build_sample(item, media, self.snapshot.label_ids, decode=options.decode)
        sample["index"] = index
        sample["diffgram_file"] = SampleFile(index, file_id, self.snapshot.scope.owner)
        return sample

    def samples(self, runs: Iterable[tuple[int, list[int]]], options: StreamOptions) -> Iterator[dict[str, Any]]:
        """Samples of ``(shard, positions)`` runs in that order: the next shard downloads while one is cut up, and
        decoded samples are built on ``concurrency`` threads, ``prefetch`` ahead, yielded in order."""
        runs = list(runs)
        self.snapshot.label_ids  # noqa: B018 - read once here, not from the threads
        with (
            ThreadPoolExecutor(1, thread_name_prefix="annolake-shards") as downloads,
            ThreadPoolExecutor(options.concurrency, thread_name_prefix="annolake-samples") as builders,
        ):
            ahead: Future | None = downloads.submit(self.fetch, runs[0][0]) if runs else None
            window: deque[Future] = deque()
            for number, (shard, positions) in enumerate(runs):
                assert ahead is not None
                data = ahead.result()
                ahead = downloads.submit(self.fetch, runs[number + 1][0]) if number + 1 < len(runs) else None
                # the run's entries looked up once, not by a search per sample
                entries, start = self.shards[shard]["samples"], self._starts[shard]
                mine = [entries[position - start] for position in positions]
                pairs = zip(mine, _items(data, mine), strict=True)
                if not options.decode:  # nothing to decode: building here beats handing to a thread (~15%)
                    yield from (self._sample(data, entry, item, options) for entry, item in pairs)
                    continue
                for entry, item in pairs:
                    window.append(builders.submit(self._sample, data, entry, item, options))
                    if len(window) >= options.prefetch:
                        yield window.popleft().result()
            while window:
                yield window.popleft().result()


def _items(data: bytes, entries: list[list[Any]]) -> list[dict[str, Any]]:
    """The annotation members of ``entries`` parsed in one ``json.loads`` (as one array): the decoder shares the
    strings of repeated keys within a call, so the samples of a shard share theirs, and a DataLoader worker
    pickles each key once per batch instead of once per sample and instance (and the main process builds it
    once). A worker holds the parsed annotations of the shard it cuts up, beside its bytes."""
    view = memoryview(data)
    return json.loads(b"[" + b",".join(view[entry[5] : entry[5] + entry[6]] for entry in entries) + b"]")
