"""TensorFlow input pipeline over a frozen slice (``pip install 'annolake[tensorflow]'``; imported lazily).

Each element: ``image`` (H×W×3 uint8, decoded), ``boxes`` (N×4 float32, x_min/y_min/x_max/y_max),
``label_ids`` (N int32), ``label_names`` (N string), ``file_id``; with ``include_predictions=`` also
``prediction_boxes`` (M×4 float32), ``prediction_label_ids`` (M int32) and ``prediction_scores`` (M float32), the
run's predicted boxes (M = 0 where it predicted nothing for the file). N differs per image, so batch with
``batch_size=`` here (``ragged_batch``: boxes and labels become ``tf.RaggedTensor``) or your own
``ragged_batch``/``padded_batch``. Samples come from the same reader as PyTorch streaming: pages of
presigned URLs, parallel downloads ahead of the consumer, a byte-bounded cache, refresh on expiry.

The dataset declares its cardinality (the samples of this shard, or its batches), so ``len(dataset)`` and
Keras progress bars show totals and Keras does not warn that the input ran out of data.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from annolake.ordering import EpochOrder
from annolake.reader import SliceSource, StreamOptions
from annolake.shards import PackedShards

OUTPUT_SIGNATURE = {
    "image": tf.TensorSpec(shape=(None, None, 3), dtype=tf.uint8),
    "boxes": tf.TensorSpec(shape=(None, 4), dtype=tf.float32),
    "label_ids": tf.TensorSpec(shape=(None,), dtype=tf.int32),
    "label_names": tf.TensorSpec(shape=(None,), dtype=tf.string),
    "file_id": tf.TensorSpec(shape=(), dtype=tf.string),
}


PREDICTION_SIGNATURE = {
    "prediction_boxes": tf.TensorSpec(shape=(None, 4), dtype=tf.float32),
    "prediction_label_ids": tf.TensorSpec(shape=(None,), dtype=tf.int32),
    "prediction_scores": tf.TensorSpec(shape=(None,), dtype=tf.float32),
}


def _predicted(sample: dict[str, Any], label_ids: dict[str, int]) -> dict[str, Any]:
    """A sample's predicted boxes (``include_predictions``) as the element's ``prediction_*`` tensors."""
    boxes = [i for i in sample.get("predictions") or [] if i.get("type") == "box"]
    return {
        "prediction_boxes": np.array(
            [[b["x_min"], b["y_min"], b["x_max"], b["y_max"]] for b in boxes], dtype=np.float32
        ).reshape(-1, 4),
        "prediction_label_ids": np.array([label_ids.get(b["name"], -1) for b in boxes], dtype=np.int32),
        "prediction_scores": np.array([b.get("score", 0.0) for b in boxes], dtype=np.float32),
    }


def _element(sample: dict[str, Any]) -> dict[str, Any]:
    boxes = np.array(
        list(zip(sample["x_min_list"], sample["y_min_list"], sample["x_max_list"], sample["y_max_list"], strict=True)),
        dtype=np.float32,
    ).reshape(-1, 4)
    return {
        "image": sample["image"],
        "boxes": boxes,
        "label_ids": np.array(sample["label_id_list"], dtype=np.int32),
        "label_names": np.array(sample["label_name_list"], dtype=object).astype(bytes),
        "file_id": sample["file"]["id"],
    }


def slice_to_tensorflow(
    slice_: SliceSource,
    *,
    shuffle: bool = False,
    seed: int = 0,
    epoch: int = 0,
    batch_size: int | None = None,
    shard: tuple[int, int] = (0, 1),
    skip_unavailable: bool = False,
    packed: PackedShards | None = None,
    **options: Any,
) -> tf.data.Dataset:
    """``shard=(index, count)`` reads only this host's part (the same split as PyTorch ranks).

    A file deleted after the slice froze raises ``FileUnavailable``, so the declared cardinality holds;
    ``skip_unavailable=True`` skips such files instead and leaves the cardinality unknown. ``packed``: read a
    snapshot's packed shards instead, each shard a block of the order (``Snapshot.to_tensorflow(packed=True)``).
    """
    stream = StreamOptions(**{**options, "decode": True})
    index, count = shard
    if packed is not None:
        order = EpochOrder(count=len(packed), block_lengths=packed.lengths, seed=seed, epoch=epoch, shuffle=shuffle)
    else:
        order = EpochOrder(count=len(slice_), block_size=stream.page_size, seed=seed, epoch=epoch, shuffle=shuffle)
    offsets = order.offsets_for(index, count)

    predicted = stream.include_predictions is not None
    label_ids = slice_.label_ids if predicted else {}

    def element(sample: dict[str, Any]) -> dict[str, Any]:
        return {**_element(sample), **_predicted(sample, label_ids)} if predicted else _element(sample)

    def generate() -> Iterator[dict[str, Any]]:
        if packed is not None:
            runs = [(block, order.items(block)) for block in order.blocks_for(index, count, 0, 1)]
            yield from (element(sample) for sample in packed.samples(runs, stream))
            return
        with slice_.reader(stream) as reader:
            for sample in reader.samples(offsets, skip_unavailable=skip_unavailable):
                yield element(sample)

    signature = {**OUTPUT_SIGNATURE, **PREDICTION_SIGNATURE} if predicted else OUTPUT_SIGNATURE
    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
    if not skip_unavailable:
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(offsets)))
    if batch_size:
        dataset = dataset.ragged_batch(batch_size)
    return dataset.prefetch(tf.data.AUTOTUNE)
