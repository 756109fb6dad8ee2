"""``Slice``: a frozen, ordered query result over a dataset, read as pages and samples.

A slice is cheap to make and to pickle; the server freezes it (one ordered list of file ids) on first use,
so every rank and DataLoader worker that unpickles it reads the same list. Samples are read by a
``SliceReader`` (``annolake.reader``); ``to_pytorch()`` and ``to_tensorflow()`` import their framework only
when called.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from annolake._scope import Scope, scope_of
from annolake.errors import FileUnavailable
from annolake.reader import MIB, SliceReader, StreamedFiles, StreamOptions

# ``StreamOptions``, ``SliceReader`` and ``FileUnavailable`` were defined here once; these imports still work.
__all__ = ["MIB", "FileUnavailable", "Slice", "SliceReader", "StreamOptions"]


class Slice(StreamedFiles):
    """The files of ``dataset`` that match ``query`` (all ready files if None), in one frozen order.

    ``len(s)``, ``s[i]`` and ``for sample in s`` read samples; ``to_pytorch()`` / ``to_tensorflow()`` make
    framework datasets. ``Slice(project, "default", "labels.car > 3", slice_id=...)`` reopens a frozen one.
    """

    _kind = "slice"

    def __init__(self, scope: Any, dataset: str, query: str | None = None, *, slice_id: str | None = None):
        self.scope: Scope = scope_of(scope)
        self.dataset = dataset
        self.query = query
        self._slice_id = slice_id
        self._count: int | None = None
        self._label_ids: dict[str, int] | None = None
        self._reader: SliceReader | None = None

    # -- freezing -------------------------------------------------------------------------------
    def freeze(self) -> Slice:
        """Ask the server to freeze the query's result now (otherwise done on first use)."""
        if self._slice_id is None:
            body = self.scope.api.post(
                f"{self.scope.path}/datasets/{quote(self.dataset, safe='')}/slices", {"query": self.query}
            )
            self._slice_id, self._count = body["slice_id"], body["count"]
        return self

    @property
    def slice_id(self) -> str:
        return self.freeze()._slice_id  # type: ignore[return-value]

    def __len__(self) -> int:
        if self._count is None:
            self._count = self.scope.api.get(f"{self.scope.path}/slices/{self.slice_id}")["count"]
        return self._count

    @property
    def _items_path(self) -> str:
        return f"{self.scope.path}/slices/{self.slice_id}/items"

    def slice(self, query: str) -> Slice:
        """A narrower slice of the same dataset (the queries are combined with ``and``)."""
        combined = f"({self.query}) and ({query})" if self.query else query
        return Slice(self.scope, self.dataset, combined)

    def to_pytorch(
        self,
        *,
        streaming: bool = False,
        frames: bool = False,
        clip: int = 1,
        transform: Any = None,
        **options: Any,
    ) -> Any:
        """A ``torch.utils.data.Dataset`` (map-style), or with ``streaming=True`` an ``IterableDataset``.

        ``frames=True``: one sample per frame of the slice's videos (images skipped), with the frame's
        annotations, tracks interpolated, ``frame``, ``file_id``, ``track_id_list`` and ``frame_tags`` (the frame
        tags covering it, with their attributes; see ``video_frames``);
        with ``clip=N`` as well, one sample per N consecutive frames of a video.
        """
        from annolake import torch_data
        from annolake.video_frames import VideoFrames

        if clip != 1 and not frames:
            raise ValueError("clip=N makes samples of N video frames: pass frames=True with it")
        source: Any = VideoFrames(self.freeze(), clip=clip) if frames else self.freeze()
        if streaming:
            return torch_data.StreamingSliceDataset(source, transform=transform, **options)
        return torch_data.SliceDataset(source, transform=transform, **_stream_options(options))

    def to_tensorflow(self, **options: Any) -> Any:
        """A ``tf.data.Dataset`` of decoded images with ragged boxes and labels (see ``tf_data``)."""
        from annolake import tf_data

        return tf_data.slice_to_tensorflow(self.freeze(), **options)

    def __repr__(self) -> str:
        return f"Slice({self.dataset!r}, query={self.query!r}, slice_id={self._slice_id!r})"


def _stream_options(options: dict[str, Any]) -> dict[str, Any]:
    return {"options": StreamOptions(**options)} if options else {}
