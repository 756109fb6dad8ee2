"""PyTorch datasets over a frozen slice (``pip install 'annolake[torch]'``; imported only by ``to_pytorch``).

* ``SliceDataset``: map-style (``len`` + ``[i]``), so ``DataLoader(num_workers>0)``, ``shuffle=True`` and
  ``DistributedSampler`` work as with any dataset; each worker keeps its own reader and cache.
* ``StreamingSliceDataset``: an ``IterableDataset`` that splits the slice by rank, then by worker (see
  ``annolake.ordering``), shuffles per epoch from a seed (``set_epoch``), downloads ahead on a thread
  pool, and resumes mid-epoch from ``state_dict()`` — also on a different number of ranks or workers.
* ``SliceLoader``: a ``DataLoader`` that counts what it yielded, so its ``state_dict()`` is exact.
* ``detection_collate``: batches of images with different numbers of boxes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info

from annolake.ordering import EpochOrder
from annolake.reader import SliceReader, SliceSource, StreamOptions
from annolake.shards import PackedShards


class _ReaderOwner:
    """A reader per process: created on first use, dropped when pickled into a worker."""

    slice: SliceSource
    options: StreamOptions
    _reader: SliceReader | None
    _reader_pid: int = 0

    @property
    def reader(self) -> SliceReader:
        if self._reader is None or self._reader_pid != os.getpid():  # forked workers build their own
            self._reader, self._reader_pid = self.slice.reader(self.options), os.getpid()
        return self._reader

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_reader": None}


class SliceDataset(_ReaderOwner, Dataset):
    """A map-style dataset over a frozen slice: ``len`` and ``[i]`` (sample ``i`` of the frozen order)."""

    def __init__(
        self, slice_: SliceSource, *, transform: Callable | None = None, options: StreamOptions | None = None
    ) -> None:
        self.slice = slice_
        self.transform = transform
        self.options = options or StreamOptions()
        self._reader = None
        self._length = len(slice_)

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self._length:
            raise IndexError(index)
        sample = self.reader.sample(index)
        return self.transform(sample) if self.transform else sample


class StreamingSliceDataset(_ReaderOwner, IterableDataset):
    """Iterate a slice as a stream; ``rank``/``world_size`` default to ``torch.distributed``'s."""

    def __init__(
        self,
        slice_: SliceSource,
        *,
        transform: Callable | None = None,
        shuffle: bool = True,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        batch_size: int = 1,
        num_workers: int = 0,
        skip_unavailable: bool = True,
        **options: Any,
    ) -> None:
        self.slice = slice_
        self.transform = transform
        self.shuffle = shuffle
        self.seed = seed
        self.options = StreamOptions(**options)
        self._reader = None
        distributed = dist.is_available() and dist.is_initialized()
        self.rank = rank if rank is not None else (dist.get_rank() if distributed else 0)
        self.world_size = world_size if world_size is not None else (dist.get_world_size() if distributed else 1)
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} is not in range for world_size {self.world_size}")
        self.batch_size = batch_size  # how the DataLoader batches, for an exact state_dict
        self.num_workers = num_workers
        self.skip_unavailable = skip_unavailable
        self.epoch = 0
        self._consumed: dict[int, int] = {}
        self._yielded = 0  # counted only when iterated in this process (num_workers=0)
        # A DataLoader worker seeds numpy.random as it starts, every epoch: imported here, where the dataset is
        # made, the workers inherit it instead of each importing it each epoch (~20 ms a worker on 2 cores).
        import numpy.random  # noqa: F401

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle for ``epoch`` (call before each epoch on every rank, as with ``DistributedSampler``)."""
        if epoch != self.epoch:
            self.epoch, self._consumed, self._yielded = epoch, {}, 0

    def _order(self) -> EpochOrder:
        return EpochOrder(
            count=len(self.slice),
            block_size=self.options.page_size,
            seed=self.seed,
            epoch=self.epoch,
            shuffle=self.shuffle,
            consumed=self._consumed,
        )

    def my_offsets(self) -> list[int]:
        """The slice offsets this rank and worker yield this epoch, in order."""
        worker = get_worker_info()
        worker_id, workers = (worker.id, worker.num_workers) if worker else (0, 1)
        return self._order().offsets_for(self.rank, self.world_size, worker_id, workers)

    def __len__(self) -> int:
        """Samples this rank yields this epoch (all its workers together)."""
        return len(self._order().offsets_for(self.rank, self.world_size))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self._yielded = 0
        for sample in self.reader.samples(self.my_offsets(), skip_unavailable=self.skip_unavailable):
            self._yielded += 1
            yield self.transform(sample) if self.transform else sample

    # -- resume ------------------------------------------------------------------------------------------
    def state_dict(self, samples_seen: int | None = None) -> dict[str, Any]:
        """Where this epoch stands, for ``load_state_dict`` (on this or another world size/worker count).

        ``samples_seen``: samples this rank's loader yielded so far this epoch (``SliceLoader`` passes
        it); by default, what iterating this dataset directly yielded. Every rank is assumed to have seen
        as many (DDP's lockstep), so the state covers the whole world, and any rank's is the same.
        """
        seen = self._yielded if samples_seen is None else samples_seen
        workers = self.num_workers if samples_seen is not None else 0
        consumed = self._order().consumption(seen, self.world_size, workers, self.batch_size)
        return {
            "slice_id": self.slice.slice_id,
            "epoch": self.epoch,
            "seed": self.seed,
            "shuffle": self.shuffle,
            "page_size": self.options.page_size,
            "consumed": {str(block): count for block, count in sorted(consumed.items())},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["slice_id"] != self.slice.slice_id:
            raise ValueError(
                f"this state belongs to slice {state['slice_id']}, not {self.slice.slice_id}: "
                "resume with Slice(..., slice_id=state['slice_id']) so the order is the same"
            )
        self.epoch, self.seed, self.shuffle = state["epoch"], state["seed"], state["shuffle"]
        self.options.page_size = state["page_size"]
        self._consumed = {int(block): count for block, count in state["consumed"].items()}
        self._yielded = 0


class StreamingShardDataset(StreamingSliceDataset):
    """A packed snapshot streamed shard by shard (``snap.to_pytorch(packed=True)``): the epoch order, the rank and
    worker split and resume are those of ``StreamingSliceDataset`` with each shard a block (shards shuffled, then
    the samples within each shard), and each worker downloads whole shards, one GET each."""

    def __init__(self, snapshot: Any, shards: PackedShards, **kwargs: Any) -> None:
        super().__init__(snapshot, **kwargs)
        self.shards = shards

    def _order(self) -> EpochOrder:
        return EpochOrder(
            count=len(self.shards),
            block_lengths=self.shards.lengths,
            seed=self.seed,
            epoch=self.epoch,
            shuffle=self.shuffle,
            consumed=self._consumed,
        )

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self._yielded = 0
        worker = get_worker_info()
        worker_id, workers = (worker.id, worker.num_workers) if worker else (0, 1)
        order = self._order()
        blocks = order.blocks_for(self.rank, self.world_size, worker_id, workers)
        runs = [(block, order.items(block)) for block in blocks]
        for sample in self.shards.samples(runs, self.options):
            self._yielded += 1
            yield self.transform(sample) if self.transform else sample

    def state_dict(self, samples_seen: int | None = None) -> dict[str, Any]:
        return {**super().state_dict(samples_seen), "pack": self.shards.export_id}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("pack") != self.shards.export_id:
            raise ValueError(
                f"this state belongs to pack {state.get('pack')}, not {self.shards.export_id}: resume with the same "
                "snapshot and shard_bytes (packed=True) so the shards are the same"
            )
        super().load_state_dict(state)


class SliceLoader(DataLoader):
    """A ``DataLoader`` over a ``StreamingSliceDataset`` whose ``state_dict()`` resumes exactly."""

    def __init__(self, dataset: StreamingSliceDataset, batch_size: int = 1, num_workers: int = 0, **kwargs: Any):
        dataset.batch_size, dataset.num_workers = batch_size, num_workers
        kwargs.setdefault("collate_fn", detection_collate)
        if num_workers > 0:
            kwargs.setdefault("persistent_workers", False)
        super().__init__(dataset, batch_size=batch_size, num_workers=num_workers, **kwargs)
        self.stream = dataset
        self.samples_seen = 0

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        self.samples_seen = 0
        for batch in super().__iter__():
            self.samples_seen += _batch_length(batch)
            yield batch

    def state_dict(self) -> dict[str, Any]:
        return self.stream.state_dict(self.samples_seen)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.stream.load_state_dict(state)


def _batch_length(batch: Any) -> int:
    """Samples in a batch made by ``detection_collate`` or ``default_collate`` (both keep ``index``)."""
    return len(batch["index"]) if isinstance(batch, dict) else len(batch)


def detection_collate(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Images (C×H×W uint8 tensors, sizes may differ) and per-image box/label tensors, torchvision style.

    The images of a batch are views of one buffer, its boxes of one tensor and its labels of another. A
    ``DataLoader`` worker hands every tensor storage to the main process through a shared-memory segment
    and a file descriptor of its own: one storage per sample capped a loader at ~1,400 samples/s; three
    per batch cost next to nothing. Bytes-only samples keep their ``bytes``. Clips (``frames=True, clip=N``)
    go to ``clip_collate``.
    """
    if "clip" in batch[0]:
        return clip_collate(batch)
    counts = [len(s["x_min_list"]) for s in batch]
    corners = [
        corner
        for s in batch
        for corner in zip(s["x_min_list"], s["y_min_list"], s["x_max_list"], s["y_max_list"], strict=True)
    ]
    boxes = torch.tensor(corners, dtype=torch.float32).reshape(-1, 4)
    labels = torch.tensor([label for s in batch for label in s["label_id_list"]], dtype=torch.int64)
    collated = {
        "images": _images(batch),
        "boxes": list(boxes.split(counts)),
        "labels": list(labels.split(counts)),
        "files": [s["file"] for s in batch],
        "index": [s["index"] for s in batch],
    }
    if "frame" in batch[0]:  # frames mode: which frame of which video, each box's track, the frame's tags
        collated["frames"] = [s["frame"] for s in batch]
        collated["frame_tags"] = [s.get("frame_tags", []) for s in batch]
        tracks = torch.tensor([t for s in batch for t in s["track_id_list"]], dtype=torch.int64)
        collated["track_ids"] = list(tracks.split(counts))
    return collated


def clip_collate(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Clips of N frames: ``images`` a T×C×H×W uint8 tensor per clip; ``boxes``, ``labels``, ``track_ids`` a list
    per clip of one tensor per frame; ``frame_tags`` a list per clip of each frame's tags; ``frames`` the frame
    numbers of each clip; ``files`` and ``index``."""
    flat = detection_collate([frame for sample in batch for frame in sample["clip"]])
    length = len(batch[0]["clip"])

    def grouped(values: list[Any]) -> list[list[Any]]:
        return [values[i : i + length] for i in range(0, len(values), length)]

    images = grouped(flat["images"])
    return {
        "images": [torch.stack(clip) if isinstance(clip[0], torch.Tensor) else clip for clip in images],
        "boxes": grouped(flat["boxes"]),
        "labels": grouped(flat["labels"]),
        "track_ids": grouped(flat["track_ids"]),
        "frame_tags": grouped(flat["frame_tags"]),
        "frames": [s["frame_list"] for s in batch],
        "files": [s["file"] for s in batch],
        "index": [s["index"] for s in batch],
    }


def _images(batch: list[dict[str, Any]]) -> list[Any]:
    """C×H×W views of one buffer holding every decoded image of the batch (H×W×C arrays of one dtype)."""
    if "image" not in batch[0]:
        return [s["image_bytes"] for s in batch]
    arrays = [numpy.asarray(s["image"]) for s in batch]
    if len({a.dtype for a in arrays}) > 1:  # a transform made them differ: a tensor each
        return [torch.from_numpy(a.copy()).permute(2, 0, 1) for a in arrays]
    buffer = torch.from_numpy(numpy.empty(sum(a.size for a in arrays), dtype=arrays[0].dtype))
    flat = buffer.numpy()
    images, start = [], 0
    for array in arrays:
        flat[start : start + array.size].reshape(array.shape)[...] = array  # also a flip's view, or read-only
        images.append(buffer[start : start + array.size].view(array.shape).permute(2, 0, 1))
        start += array.size
    return images
