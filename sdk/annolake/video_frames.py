"""Frames mode: a slice's videos read frame by frame (``Slice.to_pytorch(frames=True)``).

``VideoFrames`` numbers the frames of the frozen slice's videos in slice order (video 0's frames, then video
1's, ...; images are skipped), so it is a ``SliceSource`` whose samples are frames: the PyTorch datasets, the
rank/worker split, the epoch shuffle (by blocks of consecutive frames) and resume work on it unchanged.
``FrameReader`` reads a range of frames per API call (their annotations, tracks interpolated by the server)
and each chunk of 32 JPEG frames with one download, shared by the frames it holds.
"""

from __future__ import annotations

import bisect
import struct
import threading
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from annolake._scope import Scope
from annolake.errors import AnnolakeAPIError, FileUnavailable, UrlExpired
from annolake.fetch import Downloader
from annolake.reader import StreamOptions
from annolake.samples import SampleFile, build_sample

_CHUNK_MAGIC = b"ALFC"
_CHUNK_FRAMES = 32  # frames per stored chunk (the API answers it as chunk_frames)
_CHUNKS_KEPT = 16  # chunk windows held per process: consecutive frames, a few videos interleaved by the shuffle
_INDEX_PAGE = 500  # the longest stream page the API answers


class VideoFrames:
    """The frames of a slice's videos as one numbered sequence; picklable (its index is read once, here).

    ``clip=N``: the sequence is of clips instead, N consecutive frames of one video each, starting at frames 0,
    N, 2N, ... of every video (a video's last frames, fewer than N, are in no clip).
    """

    def __init__(self, slice_: Any, *, clip: int = 1) -> None:
        if clip < 1:
            raise ValueError(f"clip is the frames per sample, 1 or more, not {clip}")
        self.slice = slice_
        self.clip = clip
        self.scope: Scope = slice_.scope
        self.videos: list[dict[str, Any]] = []  # the slice's videos in order: file (stream item file), offset
        self.starts: list[int] = []  # the first frame number of each video
        total, offset, count = 0, 0, len(slice_)
        while offset < count:
            page = slice_.page(offset, min(_INDEX_PAGE, count - offset), urls=("thumbnail",))
            if not page["items"]:
                break
            for item in page["items"]:
                file = item["file"]
                if file.get("media_type") == "video" and file.get("frame_count"):
                    self.videos.append({"file": file, "offset": item["index"]})
                    self.starts.append(total)
                    total += file["frame_count"] // clip
            offset += len(page["items"])
        self._total = total

    @property
    def slice_id(self) -> str:
        return self.slice.slice_id

    @property
    def label_ids(self) -> dict[str, int]:
        return self.slice.label_ids

    def __len__(self) -> int:
        return self._total

    def locate(self, index: int) -> tuple[int, int]:
        """(video number, first frame in that video) of sample ``index`` of the sequence."""
        if not 0 <= index < self._total:
            raise IndexError(f"sample index {index} out of range for {self._total} samples")
        video = bisect.bisect_right(self.starts, index) - 1
        return video, (index - self.starts[video]) * self.clip

    def page(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self.slice.page(*args, **kwargs)

    def reader(self, options: StreamOptions | None = None) -> FrameReader:
        return FrameReader(self, options or StreamOptions())


class FrameReader:
    """Frame numbers → samples, for one process: one API call and one chunk download per 32 frames."""

    def __init__(self, frames: VideoFrames, options: StreamOptions) -> None:
        self.frames = frames
        self.options = options
        self.downloader = Downloader(concurrency=options.concurrency, retries=options.retries)
        self._windows: OrderedDict[tuple[int, int], Future] = OrderedDict()
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self.range_requests = 0

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        self.downloader.close()

    @property
    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.options.concurrency, thread_name_prefix="annolake-frames")
        return self._executor

    def _load_window(self, video: int, chunk: int) -> tuple[list[dict[str, Any]], list[bytes]]:
        """The annotations and JPEGs of one chunk's frames (a URL refused as expired is asked for again)."""
        file_id = self.frames.videos[video]["file"]["id"]
        scope = self.frames.scope
        for attempt in range(4):
            try:
                answer = scope.api.get(
                    f"{scope.path}/files/{quote(file_id, safe='')}/frames",
                    start=chunk * _CHUNK_FRAMES,
                    count=_CHUNK_FRAMES,
                    url_expires_in=self.options.url_expires_in,
                )
            except AnnolakeAPIError as error:  # the video was deleted after the slice froze
                if error.status in (400, 404):
                    raise FileUnavailable(f"video {file_id} can no longer be read: {error}") from error
                raise
            self.range_requests += 1
            if answer["chunk_frames"] != _CHUNK_FRAMES:
                raise RuntimeError(f"the API stores {answer['chunk_frames']} frames a chunk; upgrade annolake")
            try:
                data = self.downloader.fetch(answer["chunks"][0]["url"])
                break
            except UrlExpired:
                if attempt == 3:
                    raise
        return answer["frames"], _unpack(data)

    def window(self, video: int, chunk: int) -> tuple[list[dict[str, Any]], list[bytes]]:
        key = (video, chunk)
        with self._lock:
            future = self._windows.get(key)
            if future is None:
                future = Future()
                self._windows[key] = future
                while len(self._windows) > _CHUNKS_KEPT:
                    self._windows.popitem(last=False)
                owner = True
            else:
                self._windows.move_to_end(key)
                owner = False
        if owner:
            try:
                future.set_result(self._load_window(video, chunk))
            except BaseException as error:
                with self._lock:
                    self._windows.pop(key, None)
                future.set_exception(error)
        return future.result()

    def sample(self, index: int) -> dict[str, Any]:
        """A frame's sample; with ``clip=N``, ``clip`` (the N frames' samples), ``frame`` (the first) and the rest."""
        video, first = self.frames.locate(index)
        if self.frames.clip == 1:
            return self._frame(index, video, first)
        clip = [self._frame(index, video, frame) for frame in range(first, first + self.frames.clip)]
        head = clip[0]
        keys = ("file", "file_id", "frame", "index", "diffgram_file")
        return {"clip": clip, "frame_list": [s["frame"] for s in clip], **{k: head[k] for k in keys}}

    def _frame(self, index: int, video: int, frame: int) -> dict[str, Any]:
        chunk, position = divmod(frame, _CHUNK_FRAMES)
        annotated, jpegs = self.window(video, chunk)
        shown = annotated[position]
        file = self.frames.videos[video]["file"]
        item = {"file": file, "instance_list": shown["instance_list"]}
        sample = build_sample(item, jpegs[position], self.frames.label_ids, decode=self.options.decode)
        boxes = [i for i in shown["instance_list"] if i.get("type") == "box"]
        sample["track_id_list"] = [b.get("track_id", -1) for b in boxes]
        sample["frame_tags"] = frame_tags(shown["instance_list"], self.frames.label_ids)
        sample["frame"] = frame
        sample["file_id"] = file["id"]
        sample["index"] = index
        sample["diffgram_file"] = SampleFile(index, file["id"], self.frames.scope.owner)
        return sample

    def samples(self, offsets: Iterable[int], *, skip_unavailable: bool = False) -> Iterator[dict[str, Any]]:
        """Samples in the order of ``offsets``, ``prefetch`` of them read ahead on the thread pool."""
        self.frames.label_ids  # noqa: B018 - read once here, not from every thread
        window: deque[Future] = deque()
        for offset in offsets:
            window.append(self.executor.submit(self.sample, offset))
            if len(window) >= self.options.prefetch:
                yield from _result(window.popleft(), skip_unavailable)
        while window:
            yield from _result(window.popleft(), skip_unavailable)


def frame_tags(instances: list[dict[str, Any]], label_ids: dict[str, int]) -> list[dict[str, Any]]:
    """The frame tags on a frame (the server lists those covering it): label, class index, attributes, span."""
    return [
        {
            "label_name": i["name"],
            "label_id": label_ids.get(i["name"], -1),
            "attributes": dict(i.get("attributes", {})),
            "frame_start": i["frame_start"],
            "frame_end": i.get("frame_end", i["frame_start"]),
        }
        for i in instances
        if i.get("type") == "frame_tag"
    ]


def _unpack(chunk: bytes) -> list[bytes]:
    """The JPEGs of a frame chunk: 'ALFC', uint32 count n, n+1 uint32 offsets, the frames back to back."""
    if chunk[:4] != _CHUNK_MAGIC:
        raise ValueError("the frame chunk downloaded is not one (no ALFC header)")
    (count,) = struct.unpack_from("<I", chunk, 4)
    offsets = struct.unpack_from(f"<{count + 1}I", chunk, 8)
    return [chunk[a:b] for a, b in zip(offsets, offsets[1:], strict=False)]


def _result(future: Future, skip_unavailable: bool) -> Iterator[dict[str, Any]]:
    try:
        yield future.result()
    except FileUnavailable:
        if not skip_unavailable:
            raise


def write_frames(scope: Scope, wanted: dict[str, dict[int, Any]], downloader: Downloader) -> int:
    """Write the stored JPEG of each wanted frame (file id → frame → path) as it is, one chunk download per 32
    frames; returns how many were written."""
    written = 0
    for file_id, frames in wanted.items():
        by_chunk: dict[int, list[int]] = {}
        for frame in sorted(frames):
            by_chunk.setdefault(frame // _CHUNK_FRAMES, []).append(frame)
        for chunk, numbers in by_chunk.items():
            answer = scope.api.get(
                f"{scope.path}/files/{quote(file_id, safe='')}/frames", start=chunk * _CHUNK_FRAMES, count=1
            )
            jpegs = _unpack(downloader.fetch(answer["chunks"][0]["url"]))
            for frame in numbers:
                target = frames[frame]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(jpegs[frame - chunk * _CHUNK_FRAMES])
                written += 1
    return written
