"""A stream page item + its media bytes → a sample dict (lists aligned per box).

A sample: ``image`` (H×W×3 uint8) or ``image_bytes``, ``file`` (id, name, width, height, metadata,
content_hash), ``instance_list``, the per-box lists ``x_min_list`` … ``label_id_list``, ``label_name_list``,
``polygon_list``, ``point_list``, ``tags``, ``global_attributes``, and ``predictions`` when asked for; the reader
adds ``index`` (the position in the slice) and ``diffgram_file`` (a ``SampleFile``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SampleFile:
    """A sample's file as Diffgram's SDK hands it to transforms (``sample["diffgram_file"]``).

    ``id`` is an int, as Diffgram's file ids are (transforms put it in ``torch.tensor([...])``): the sample's
    index in the slice's frozen order, so it is unique within the slice and the same in every worker and rank.
    ``file_id`` is the Annolake file id. ``client`` is the ``Project`` the slice came from (Diffgram calls its
    project object the client). Picklable, so transforms run in DataLoader worker processes.
    """

    id: int
    file_id: str
    client: Any = None

    def __reduce__(self) -> tuple[Any, ...]:
        # as its fields (not an empty object then its ``__dict__``): a DataLoader worker hands one per sample
        return SampleFile, (self.id, self.file_id, self.client)


def decode_image(data: bytes) -> Any:
    """H×W×3 uint8 numpy array (RGB)."""
    import numpy as np
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as image:
        # as shown: the width, height and coordinates of files are those after the EXIF orientation
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


def build_sample(
    item: dict[str, Any], data: bytes, label_ids: dict[str, int], *, decode: bool, predictions: bool = False
) -> dict[str, Any]:
    """``label_ids``: label name → class index (its position in the project's schema; -1 if since removed);
    ``predictions``: the page was asked for a run's predictions, and the sample carries them."""
    instances = item.get("instance_list", [])
    x_min: list[Any] = []
    y_min: list[Any] = []
    x_max: list[Any] = []
    y_max: list[Any] = []
    ids: list[int] = []
    names: list[str] = []
    polygons: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    tags: list[str] = []
    global_: dict[str, Any] | None = None
    for instance in instances:  # one pass: a stream reads this for every sample
        kind = instance.get("type")
        if kind == "box":
            x_min.append(instance["x_min"])
            y_min.append(instance["y_min"])
            x_max.append(instance["x_max"])
            y_max.append(instance["y_max"])
            ids.append(label_ids.get(instance["name"], -1))
            names.append(instance["name"])
        elif kind == "polygon" or kind == "point":
            shaped = {
                "label_name": instance["name"],
                "label_id": label_ids.get(instance["name"], -1),
                "points": [(p["x"], p["y"]) for p in instance.get("points", [])],
            }
            (polygons if kind == "polygon" else points).append(shaped)
        elif kind == "tag":
            tags.append(instance["name"])
        elif kind == "global" and global_ is None:
            global_ = instance
    file = item["file"]
    sample: dict[str, Any] = {
        "file": {k: file.get(k) for k in ("id", "name", "width", "height", "metadata", "content_hash")},
        "instance_list": instances,
        "x_min_list": x_min,
        "y_min_list": y_min,
        "x_max_list": x_max,
        "y_max_list": y_max,
        "label_id_list": ids,
        "label_name_list": names,
        "polygon_list": polygons,
        "point_list": points,
        "tags": tags,
        "global_attributes": dict(global_.get("attributes", {})) if global_ is not None else {},
    }
    if predictions:
        sample["predictions"] = item.get("predictions")
    if decode:
        sample["image"] = decode_image(data)
    else:
        sample["image_bytes"] = data
    return sample
