"""``SliceReader``: slice offsets → samples, and ``StreamOptions``: how it reads them.

A reader serves one process (it holds a connection pool and threads): pages of items with presigned URLs
(fetched once per block, the next blocks prefetched), media bytes from a byte-bounded cache or a pooled
parallel download with bounded prefetch, a page read again when a URL has expired (403), and the sample
dict built from each item. It reads through anything shaped like a ``Slice`` (``SliceSource``), so the
PyTorch and TensorFlow adapters depend on this module, not on ``annolake.slices``. ``StreamedFiles`` is what
``Slice`` and ``Snapshot`` share: pages, samples by offset and the schema's class indices.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from annolake._scope import Scope
from annolake.cache import ByteCache
from annolake.errors import FileUnavailable, MediaMismatch, UrlExpired
from annolake.fetch import Downloader
from annolake.samples import SampleFile, build_sample

MIB = 1 << 20
_URL_ATTEMPTS = 4  # a URL refused with 403 is re-minted (its page read again) up to 3 times


@dataclass
class StreamOptions:
    """How samples are read. Defaults suit a laptop; raise ``concurrency`` on a fast network."""

    page_size: int = 100  # items per API page, and the block of the epoch shuffle
    # Pages requested ahead of the one being downloaded, in parallel: with fast storage the loader waits on
    # page latency (~50 ms locally, more through API Gateway), and 2 → 4 → 8 ahead gave 1.5k → 1.8k → 1.9k
    # samples/s from a static server into DataLoader(num_workers=2) (tests/bench/streaming.py, 2 cores).
    pages_ahead: int = 4
    concurrency: int = 16  # parallel media downloads per process (DataLoader worker)
    prefetch: int = 64  # samples downloaded ahead of the consumer, at most
    memory_cache_bytes: int = 256 * MIB
    disk_cache_dir: str | None = None
    disk_cache_bytes: int = 0
    url_expires_in: int | None = None  # presigned URL lifetime asked of the API (None: its maximum)
    decode: bool = True  # False: samples carry ``image_bytes`` instead of a decoded ``image``
    retries: int = 4
    # Share of downloads whose sha256 is checked against the pinned hash (1.0 all, 0 none); which files are
    # checked depends on their id only, so every epoch and worker checks the same ones.
    verify_media: float = 0.0
    # A model's name (its latest finished run) or a prediction run id: each sample carries ``predictions``, the
    # instances with scores that run predicted for its file (None where it predicted nothing for it).
    include_predictions: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.pages_ahead < 1:
            raise ValueError(f"pages_ahead must be >= 1 (pages read while one is downloaded), not {self.pages_ahead}")
        if not 0.0 <= self.verify_media <= 1.0:
            raise ValueError(f"verify_media is the share of files checked, from 0 to 1, not {self.verify_media}")


class SliceSource(Protocol):
    """What a reader and the framework adapters need of a slice (``annolake.Slice`` is one)."""

    scope: Scope

    @property
    def slice_id(self) -> str: ...

    @property
    def label_ids(self) -> dict[str, int]: ...

    def __len__(self) -> int: ...

    def page(
        self,
        offset: int,
        limit: int,
        *,
        url_expires_in: int | None = None,
        urls: tuple[str, ...] = ...,
        predictions: str | None = None,
    ) -> dict[str, Any]: ...

    def reader(self, options: StreamOptions | None = None) -> SliceReader: ...


class SliceReader:
    """Turns slice offsets into samples; one per process (it holds a connection pool and threads)."""

    def __init__(self, slice_: SliceSource, options: StreamOptions) -> None:
        self.slice = slice_
        self.options = options
        self.cache = ByteCache(
            memory_bytes=options.memory_cache_bytes,
            disk_dir=options.disk_cache_dir,
            disk_bytes=options.disk_cache_bytes,
        )
        self.downloader = Downloader(concurrency=options.concurrency, retries=options.retries)
        self._pages: OrderedDict[int, list[dict[str, Any]]] = OrderedDict()
        self._refreshed_at: dict[int, float] = {}
        self._pending_pages: dict[int, Future] = {}
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._page_executor: ThreadPoolExecutor | None = None  # apart, so downloads never wait behind a page
        self.page_requests = 0
        self.refreshes = 0

    def __enter__(self) -> SliceReader:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def close(self) -> None:
        for executor in (self._executor, self._page_executor):
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
        self._executor = self._page_executor = None
        self.downloader.close()

    @property
    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.options.concurrency, thread_name_prefix="annolake-media")
        return self._executor

    # -- pages -------------------------------------------------------------------------------------
    def _load_page(self, block: int) -> list[dict[str, Any]]:
        """The items of block ``block`` (``page_size`` offsets). The API may end a page early to keep its answer
        small (files with large annotations); the rest of the block is then asked for from where it stopped."""
        size = self.options.page_size
        start, end = block * size, min(block * size + size, len(self.slice))
        items: list[dict[str, Any]] = []
        while start + len(items) < end:
            at = start + len(items)
            page = self.slice.page(
                at,
                end - at,
                url_expires_in=self.options.url_expires_in,
                urls=("media",),
                predictions=self.options.include_predictions,
            )
            self.page_requests += 1
            if not page["items"]:
                raise RuntimeError(f"slice {self.slice.slice_id} returned no items at offset {at} of {end}")
            items.extend(page["items"])
        return items

    def prefetch_page(self, block: int) -> None:
        with self._lock:
            if block in self._pages or block in self._pending_pages:
                return
            if self._page_executor is None:
                self._page_executor = ThreadPoolExecutor(self.options.pages_ahead, thread_name_prefix="annolake-pages")
            self._pending_pages[block] = self._page_executor.submit(self._load_page, block)

    def page_items(self, block: int) -> list[dict[str, Any]]:
        with self._lock:
            if block in self._pages:
                self._pages.move_to_end(block)
                return self._pages[block]
            pending = self._pending_pages.pop(block, None)
        items = pending.result() if pending is not None else self._load_page(block)
        with self._lock:
            self._pages[block] = items
            while len(self._pages) > 4 * self.options.pages_ahead:  # bounds the metadata held; few are in use
                self._pages.popitem(last=False)
        return items

    def item(self, offset: int) -> dict[str, Any]:
        block, position = divmod(offset, self.options.page_size)
        return self.page_items(block)[position]

    def _refreshed_url(self, offset: int, stale_url: str) -> str:
        """A new presigned URL for an item whose URL was refused: its page is asked for again (once)."""
        block, position = divmod(offset, self.options.page_size)
        with self._lock:
            current = self._pages.get(block)
            just_now = time.monotonic() - self._refreshed_at.get(block, -1e9) < 1.0
            if current is not None and current[position]["media_url"] != stale_url and just_now:
                return current[position]["media_url"]  # another thread refreshed this page a moment ago
        items = self._load_page(block)
        with self._lock:
            self.refreshes += 1
            self._pages[block] = items
            self._refreshed_at[block] = time.monotonic()
        return items[position]["media_url"]

    # -- bytes and samples ---------------------------------------------------------------------------
    def _bytes(self, offset: int, item: dict[str, Any]) -> bytes:
        if item.get("media_url") is None:
            raise FileUnavailable(f"file {item['file']['id']} at position {offset} was deleted after the slice froze")
        key = (item["file"]["id"], item["file"].get("content_hash") or "")
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        url = item["media_url"]
        for attempt in range(_URL_ATTEMPTS):
            try:
                data = self.downloader.fetch(url)
                break
            except UrlExpired:
                if attempt == _URL_ATTEMPTS - 1:
                    raise
                url = self._refreshed_url(offset, url)
        if _checked(item["file"]["id"], self.options.verify_media):
            expected = item["file"].get("content_hash") or ""
            actual = hashlib.sha256(data).hexdigest()
            if actual != expected:
                raise MediaMismatch(item["file"]["id"], item["file"].get("name", ""), expected, actual)
        self.cache.put(key, data)
        return data

    def _sample(self, offset: int) -> dict[str, Any]:
        item = self.item(offset)
        data = self._bytes(offset, item)
        sample = build_sample(
            item,
            data,
            self.slice.label_ids,
            decode=self.options.decode,
            predictions=self.options.include_predictions is not None,
        )
        sample["index"] = offset
        sample["diffgram_file"] = SampleFile(offset, item["file"]["id"], self.slice.scope.owner)
        return sample

    def sample(self, offset: int) -> dict[str, Any]:
        return self._sample(offset)

    def samples(self, offsets: Iterable[int], *, skip_unavailable: bool = False) -> Iterator[dict[str, Any]]:
        """Samples in the order of ``offsets``, downloaded ``prefetch`` ahead on the thread pool.

        Pages are read in the order the offsets need them, ``pages_ahead`` of them while the current is consumed.
        """
        self.slice.label_ids  # noqa: B018 - read once here, not from every download thread
        offsets = list(offsets)
        size = self.options.page_size
        blocks = list(dict.fromkeys(offset // size for offset in offsets))
        ahead = self.options.pages_ahead
        upcoming = {block: blocks[i + 1 : i + 1 + ahead] for i, block in enumerate(blocks)}
        window: deque[Future] = deque()
        last_block = None
        for offset in offsets:
            block = offset // size
            if block != last_block:
                self.page_items(block)  # in this thread: a page is needed before its items' downloads
                for ahead in upcoming[block]:
                    self.prefetch_page(ahead)
                last_block = block
            window.append(self.executor.submit(self._sample, offset))
            if len(window) >= self.options.prefetch:
                yield from _result(window.popleft(), skip_unavailable)
        while window:
            yield from _result(window.popleft(), skip_unavailable)


def _checked(file_id: str, share: float) -> bool:
    if share <= 0:
        return False
    return share >= 1 or int(hashlib.sha256(file_id.encode()).hexdigest()[:8], 16) < share * 0x100000000


def _result(future: Future, skip_unavailable: bool) -> Iterator[dict[str, Any]]:
    try:
        yield future.result()
    except FileUnavailable:
        if not skip_unavailable:
            raise


class StreamedFiles:
    """What a ``Slice`` and a ``Snapshot`` share: the schema's class indices, stream pages, samples by offset.

    A subclass sets ``scope``, ``_label_ids`` and ``_reader`` (None) and says where its pages are
    (``_items_path``) and what it is called in messages (``_kind``)."""

    scope: Scope
    _kind: str
    _label_ids: dict[str, int] | None
    _reader: SliceReader | None

    @property
    def slice_id(self) -> str:
        raise NotImplementedError

    @property
    def _items_path(self) -> str:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    @property
    def project(self) -> Any:
        """The ``Project`` this was made from (None if made from a bare ``Scope``)."""
        return self.scope.owner

    @property
    def label_ids(self) -> dict[str, int]:
        """Label name → class index: the label's position in the project's schema (stable; labels are only
        appended)."""
        if self._label_ids is None:
            labels = self.scope.api.get(f"{self.scope.path}/schema")["labels"]
            self._label_ids = {label["name"]: index for index, label in enumerate(labels)}
        return self._label_ids

    def page(
        self,
        offset: int,
        limit: int,
        *,
        url_expires_in: int | None = None,
        urls: tuple[str, ...] = ("media", "thumbnail"),
        predictions: str | None = None,
    ) -> dict[str, Any]:
        """One stream page: ``items`` (file, instance_list, media_url, thumbnail_url), ``count``, ``cursor``; a
        snapshot's items carry the pinned ``instance_list``, and the URLs are presigned afresh.

        ``urls`` names the presigned URLs the items carry (the others are None): streaming asks for media only.
        ``predictions`` (a model's name or a run id): each item carries that run's ``predictions`` as well.
        """
        return self.scope.api.get(
            self._items_path,
            offset=offset,
            limit=limit,
            url_expires_in=url_expires_in,
            urls=",".join(urls),
            predictions=predictions,
        )

    def reader(self, options: StreamOptions | None = None) -> SliceReader:
        return SliceReader(self, options or StreamOptions())

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for a {self._kind} of {len(self)} files")
        if self._reader is None:
            self._reader = self.reader()
        return self._reader.sample(index % len(self))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Every sample, in the frozen order."""
        with self.reader() as reader:
            yield from reader.samples(range(len(self)))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_reader"] = None  # a reader holds threads and a connection pool: each process opens its own
        return state
