"""``Snapshot``: an immutable, named set of files pinned at their annotation versions, streamed like a slice.

``dataset.snapshot("v1", query=...)`` takes one; ``project.snapshot.get("v1")`` (or its digest) finds it again,
on another machine, a year later, and ``to_pytorch()`` / ``to_tensorflow()`` stream exactly the pinned
versions whatever was saved since. ``snap.diff(other)`` says what changed; ``snap.lineage()`` is the small
record to log with a training run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import urllib3
from tqdm.auto import tqdm  # type: ignore[import-untyped]

from annolake import export_references
from annolake._scope import Scope, scope_of
from annolake._tar import extract_all
from annolake.errors import ExportFailed, FetchError, SnapshotFailed
from annolake.fetch import Downloader
from annolake.reader import SliceReader, StreamedFiles, StreamOptions
from annolake.video_frames import write_frames

EXPORT_FORMATS = ("coco", "yolo", "voc", "sagemaker", "jsonl", "cvat_video", "mot")
# where each format's folder wants the images (None: the output refers to them by S3 URI)
_IMAGES_DIR = {
    "coco": "images",
    "yolo": "images",
    "voc": "JPEGImages",
    "sagemaker": None,
    "jsonl": "images",
    "cvat_video": None,  # the videos stay where they are: their frames are not exported
    "mot": None,
}


class Snapshot(StreamedFiles):
    """One snapshot: ``name``, ``digest``, ``len(snap)``, ``snap[i]``, iteration, ``to_pytorch()``, ``diff()``.

    Files are in file id order. Streaming options are those of ``Slice.to_pytorch`` plus ``verify_media``: the
    share of downloads whose sha256 is checked against the manifest (``1.0`` all); a mismatch raises
    ``MediaMismatch`` naming the file.
    """

    _kind = "snapshot"

    def __init__(self, scope: Any, data: dict[str, Any]) -> None:
        self.scope: Scope = scope_of(scope)
        self._data = data
        self.name: str = data["name"]
        self.digest: str = data["digest"]
        self.dataset: str = data["dataset"]
        self.query: str | None = data.get("query")
        self.schema_version: int = data["schema_version"]
        self.label_histogram: dict[str, dict[str, int]] = data["label_histogram"]
        self.created_at: str = data["created_at"]
        self.status: str = data.get("status", "ready")
        self._label_ids: dict[str, int] | None = None
        self._reader: SliceReader | None = None

    @property
    def slice_id(self) -> str:
        """What a streaming state is tied to: the digest (the same content is the same order)."""
        return self.digest

    def __len__(self) -> int:
        return int(self._data["count"])

    @property
    def _items_path(self) -> str:
        return f"{self.scope.path}/snapshots/{self.digest}/items"

    def lineage(self) -> dict[str, Any]:
        """Name, digest, dataset, query, schema version, count and label histogram: log it with a training run
        (``mlflow.log_dict(snap.lineage(), "data.json")``, ``wandb.config.update(snap.lineage())``)."""
        keys = ("name", "digest", "dataset", "query", "schema_version", "count", "label_histogram", "created_at")
        return {key: self._data[key] for key in keys}

    def diff(self, other: Snapshot | str, *, limit: int = 1000) -> dict[str, Any]:
        """From this snapshot to ``other``: ``added``, ``removed``, ``changed`` (counts), their first ``limit``
        file ids (``added_ids``, ...) and ``label_deltas`` (per label: instances in other minus in this)."""
        ref = other.digest if isinstance(other, Snapshot) else other
        return self.scope.api.get(f"{self.scope.path}/snapshots/{self.digest}/diff/{quote(ref, safe='')}", limit=limit)

    def to_pytorch(
        self,
        *,
        streaming: bool = False,
        packed: bool = False,
        shard_bytes: int | None = None,
        transform: Any = None,
        **options: Any,
    ) -> Any:
        """A ``torch.utils.data.Dataset`` (map-style), or with ``streaming=True`` an ``IterableDataset``.

        ``packed=True`` (streaming): read from the snapshot's packed shards (``pack(shard_bytes)``, made first
        if need be), one GET per shard, the same samples as the per-object stream."""
        from annolake import torch_data

        if packed:
            _no_predictions_in_shards(options)
            shards = self.packed_shards(shard_bytes)
            return torch_data.StreamingShardDataset(self, shards, transform=transform, **options)
        if streaming:
            return torch_data.StreamingSliceDataset(self, transform=transform, **options)
        stream = {"options": StreamOptions(**options)} if options else {}
        return torch_data.SliceDataset(self, transform=transform, **stream)

    def to_tensorflow(self, *, packed: bool = False, shard_bytes: int | None = None, **options: Any) -> Any:
        """A ``tf.data.Dataset`` of decoded images with ragged boxes and labels (see ``tf_data``); with
        ``packed=True`` read from the packed shards (``pack(shard_bytes)``, made first if need be)."""
        from annolake import tf_data

        if packed:
            _no_predictions_in_shards(options)
        shards = self.packed_shards(shard_bytes) if packed else None
        return tf_data.slice_to_tensorflow(self, packed=shards, **options)

    # -- exports -------------------------------------------------------------------------------------
    def pack(self, shard_bytes: int | None = None, *, progress: bool = False, wait_s: float = 3600.0) -> dict[str, Any]:
        """Pack the snapshot into tar shards of media and pinned annotations on the server (the ``packed``
        export; ``shard_bytes`` from 1 MiB to 1 GiB, 64 MiB by default) and wait for it. The same snapshot
        content and shard size are packed once. Returns the export: ``download_url`` is the index
        (``shards.jsonl``); ``ExportFailed`` if it failed (asking again re-drives it)."""
        body = {} if shard_bytes is None else {"shard_bytes": shard_bytes}
        job = self.scope.api.post(f"{self.scope.path}/snapshots/{self.digest}/pack", body)
        return self._finished(job, progress=progress, wait_s=wait_s)

    def packed_shards(self, shard_bytes: int | None = None) -> Any:
        """The pack's index and shard reader (``annolake.shards.PackedShards``), packing first if need be."""
        from annolake.shards import PackedShards

        return PackedShards(self, self.pack(shard_bytes))

    def export(
        self,
        format: str,  # noqa: A002 - the name users pass
        path: str | Path | None = None,
        *,
        media: bool | None = None,
        references: str | None = None,
        progress: bool = True,
        wait_s: float = 3600.0,
        split: dict[str, float] | None = None,
        seed: int = 0,
        every_n_frames: int | None = None,
        url_expires_in: int | None = None,
    ) -> dict[str, Any]:
        """Export in ``format`` (``coco``, ``yolo``, ``voc``, ``sagemaker``, ``jsonl``) on the server and, with
        ``path``, unpack it there (tar formats extracted) with the images beside it (``media``: by default unless
        ``references`` is given).

        ``split`` (YOLO): shares per subset, e.g. ``{"train": 0.8, "val": 0.2}``; each file goes to one by a hash
        of its id and ``seed``, under ``images/<subset>/`` and ``labels/<subset>/``.

        The same snapshot content and format are exported once: asking again returns the first export.
        Returns the export (``download_url`` while it lasts, ``sha256``, ``size_bytes``); ``ExportFailed`` if it
        failed (asking again re-drives it).

        In ``coco`` and ``yolo`` a video is its frames, ``images/<stem>/<frame:06d>.jpg`` (the JPEGs stored at
        ingest): the annotated ones (a track keyframed there), or with ``every_n_frames=N`` frames 0, N, 2N, ...

        ``references`` names each image's original in the output instead of fetching it (``media`` then defaults
        to False): ``"s3"``, its ``s3://bucket/key`` URI (COCO ``coco_url``, VOC ``<path>``, JSONL ``media.url``;
        part of the export's id); ``"presigned"`` (with ``path``), the same export with its URIs replaced in the
        downloaded files by presigned GETs minted for them now, which expire (``references_expire_at`` in the
        answer; ``url_expires_in`` seconds, at most the platform's URL lifetime, by default that)."""
        if format not in EXPORT_FORMATS:
            raise ValueError(f"format must be one of {EXPORT_FORMATS}, not {format!r}")
        if references == "presigned":
            export_references.check(format, path)
        body: dict[str, Any] = {"format": format}
        options: dict[str, Any] = {}
        if references is not None:  # the server checks the value and the format ("presigned" is "s3" there)
            options["references"] = "s3" if references == "presigned" else references
        if split is not None:
            options |= {"split": split, "seed": seed}
        if every_n_frames is not None:
            options["every_n_frames"] = every_n_frames
        if options:
            body["options"] = options
        job = self.scope.api.post(f"{self.scope.path}/snapshots/{self.digest}/exports", body)
        job = self._finished(job, progress=progress, wait_s=wait_s)
        if path is not None:
            presigning = references == "presigned"
            media = references is None if media is None else media
            self._unpack(job, Path(path), media=media, progress=progress, keep_archive=presigning)
            if presigning:  # the rewrite reads the archive's order, then removes it
                job = {**job, **export_references.rewrite(self.scope, job, Path(path), url_expires_in)}
        return job

    def _finished(self, job: dict[str, Any], *, progress: bool, wait_s: float) -> dict[str, Any]:
        """Wait for an export to end; the completed export, or ``ExportFailed``."""
        deadline = time.monotonic() + wait_s
        with tqdm(
            total=job["pages_total"] or None, unit="page", desc=f"exporting {job['format']}", disable=not progress
        ) as bar:
            while job["status"] in ("queued", "running"):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"export {job['export_id']} still {job['status']} after {wait_s:.0f}s")
                time.sleep(0.5)
                job = self.scope.api.get(f"{self.scope.path}/exports/{job['export_id']}")
                bar.total = job["pages_total"] or bar.total
                bar.n = job["pages_done"]
                bar.refresh()
        if job["status"] != "completed":
            raise ExportFailed(job)
        return job

    def _unpack(
        self, job: dict[str, Any], folder: Path, *, media: bool, progress: bool, keep_archive: bool = False
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / job["file_name"]
        _download(job["download_url"], target)
        if target.suffix == ".tar":
            extract_all(target, folder)
            if not keep_archive:
                target.unlink()
        images = _IMAGES_DIR[job["format"]]
        if media and images:
            subsets = _yolo_subsets(folder) if job["options"].get("split") else {}
            videos = self._videos() if job["format"] in ("coco", "yolo") else {}
            offsets = [n for n in range(len(self)) if n not in videos]
            with self.reader(StreamOptions(decode=False)) as reader:
                samples = reader.samples(offsets)
                for sample in tqdm(samples, total=len(offsets), unit="image", desc="images", disable=not progress):
                    name = sample["file"]["name"]
                    target = folder / images / subsets.get(Path(name).stem, "") / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(sample["image_bytes"])
            if videos:
                wanted = _frames_wanted(job["format"], folder, images, list(videos.values()))
                with Downloader() as downloader:
                    write_frames(self.scope, wanted, downloader)

    def _videos(self) -> dict[int, dict[str, Any]]:
        """The snapshot's videos by position: their stream file (``id``, ``name``)."""
        found: dict[int, dict[str, Any]] = {}
        offset = 0
        while offset < len(self):
            items = self.page(offset, min(500, len(self) - offset), urls=("thumbnail",))["items"]
            if not items:
                break
            found |= {i["index"]: i["file"] for i in items if i["file"].get("media_type") == "video"}
            offset += len(items)
        return found

    def __repr__(self) -> str:
        return f"Snapshot({self.name!r}, digest={self.digest[:12]!r}, files={len(self)})"


class Snapshots:
    """``project.snapshot``: take, get (by name or digest) and list snapshots."""

    def __init__(self, scope: Any) -> None:
        self.scope: Scope = scope_of(scope)

    def new(
        self,
        name: str,
        *,
        directory: str = "default",
        query: str | None = None,
        progress: bool = False,
        wait_s: float = 3600.0,
    ) -> Snapshot:
        """Pin the ready files of ``directory`` matching ``query``; the same name with the same content returns
        the existing snapshot, with other content it is refused (names are never reused).

        A large snapshot is built by a state machine on the server: this waits until it is ready (a progress bar
        over its chunks with ``progress=True``), ``SnapshotFailed`` if the build failed, ``TimeoutError`` after
        ``wait_s`` (it goes on building: ``project.snapshot.get(name)`` later)."""
        path = f"{self.scope.path}/datasets/{quote(directory, safe='')}/snapshots"
        data = self.scope.api.post(path, {"name": name, "query": query})
        deadline = time.monotonic() + wait_s
        bar = tqdm(total=data["chunks_total"] or None, unit="chunk", desc=f"snapshot {name}", disable=not progress)
        with bar:
            while data["status"] == "pending":
                if time.monotonic() > deadline:
                    raise TimeoutError(f"snapshot {name} still pending after {wait_s:.0f}s; get it later by name")
                time.sleep(0.5)
                data = self.scope.api.get(f"{self.scope.path}/snapshots/{quote(name, safe='')}")
                bar.n = data["chunks_done"]
                bar.refresh()
        if data["status"] != "ready":
            raise SnapshotFailed(data)
        return Snapshot(self.scope, data)

    def get(self, name_or_digest: str) -> Snapshot:
        """By name, or by the digest or a unique prefix of it (8 hex digits at least); one being built, or whose
        build failed, is returned as it is (``snap.status``)."""
        return Snapshot(self.scope, self.scope.api.get(f"{self.scope.path}/snapshots/{quote(name_or_digest, safe='')}"))

    def list(self) -> list[Snapshot]:
        return [Snapshot(self.scope, d) for d in self.scope.api.get_all(f"{self.scope.path}/snapshots", "snapshots")]


def _yolo_subsets(folder: Path) -> dict[str, str]:
    """Image stem → subset of a split YOLO export, from where the server put its label file
    (``labels/<subset>/<stem>.txt``): the image goes beside it, under ``images/<subset>/``."""
    return {label.stem: label.parent.name for label in (folder / "labels").glob("*/*.txt")}


def _frames_wanted(fmt: str, folder: Path, images: str, videos: list[dict[str, Any]]) -> dict[str, dict[int, Path]]:
    """Which frames of which video an unpacked image export names (file id → frame → where its JPEG goes)."""
    wanted: dict[str, dict[int, Path]] = {}
    if fmt == "coco":
        document = json.loads((folder / "annotations.json").read_text())
        for image in document["images"]:
            if "annolake_frame" in image:
                target = folder / images / image["file_name"]
                wanted.setdefault(image["annolake_file_id"], {})[image["annolake_frame"]] = target
        return wanted
    labels = folder / "labels"
    for video in videos:
        stem = Path(video["name"]).stem
        # labels/<stem>/<frame>.txt, or labels/<subset>/<stem>/<frame>.txt in a split export
        for label_file in sorted([*(labels / stem).glob("*.txt"), *labels.glob(f"*/{stem}/*.txt")]):
            target = folder / images / label_file.parent.relative_to(labels) / f"{label_file.stem}.jpg"
            wanted.setdefault(video["id"], {})[int(label_file.stem)] = target
    return wanted


def _download(url: str, target: Path) -> None:
    """Stream a presigned GET into ``target`` (never whole in memory)."""
    response = urllib3.request("GET", url, preload_content=False, retries=urllib3.Retry(4, backoff_factor=0.5))
    try:
        if response.status != 200:
            raise FetchError(url, response.status, f"HTTP {response.status}")
        with target.open("wb") as out:
            for chunk in response.stream(1 << 20):
                out.write(chunk)
    finally:
        response.release_conn()


def _no_predictions_in_shards(options: dict[str, Any]) -> None:
    if options.get("include_predictions"):
        raise ValueError(
            "include_predictions reads each page's predictions from the API; packed shards hold the pinned "
            "annotations only: stream the snapshot without packed=True to have them"
        )
