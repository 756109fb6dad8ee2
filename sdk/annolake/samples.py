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
    boxes = [i for i in instances if i.get("type") == "box"]

    def shaped(kind: str) -> list[dict[str, Any]]:
        return [
            {
                "label_name": i["name"],
                "label_id": label_ids.get(i["name"], -1),
                "points": [(p["x"], p["y"]) for p in i.get("points", [])],
            }
            for i in instances
            if i.get("type") == kind
        ]

    globals_ = [i for i in instances if i.get("type") == "global"]
    sample: dict[str, Any] = {
        "file": {k: item["file"].get(k) for k in ("id", "name", "width", "height", "metadata", "content_hash")},
        "instance_list": instances,
        "x_min_list": [b["x_min"] for b in boxes],
        "y_min_list": [b["y_min"] for b in boxes],
        "x_max_list": [b["x_max"] for b in boxes],
        "y_max_list": [b["y_max"] for b in boxes],
        "label_id_list": [label_ids.get(b["name"], -1) for b in boxes],
        "label_name_list": [b["name"] for b in boxes],
        "polygon_list": shaped("polygon"),
        "point_list": shaped("point"),
        "tags": [i["name"] for i in instances if i.get("type") == "tag"],
        "global_attributes": dict(globals_[0].get("attributes", {})) if globals_ else {},
    }
    if predictions:
        sample["predictions"] = item.get("predictions")
    if decode:
        sample["image"] = decode_image(data)
    else:
        sample["image_bytes"] = data
    return sample
