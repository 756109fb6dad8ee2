"""COCO run-length masks (crowd regions), read and checked with pycocotools.

A mask is stored compressed, as COCO writes crowd annotations in its result files:
``{"size": [height, width], "counts": "<compressed RLE>"}``. COCO's own files give crowd masks uncompressed
(``counts`` a list of run lengths); both are accepted.
"""

from __future__ import annotations

from functools import cache
from typing import Any


class InvalidMask(ValueError):
    """A segmentation that is not a COCO RLE mask of the image; the message says what is wrong."""


@cache
def _coco_mask() -> Any:
    """pycocotools (and numpy) load when a mask is first read, not with every module that may read one."""
    from pycocotools import mask

    return mask


def compressed(segmentation: Any) -> dict[str, Any]:
    """The mask in compressed form, checked by decoding it."""
    if not isinstance(segmentation, dict):
        raise InvalidMask("an RLE mask is an object with 'size' [height, width] and 'counts'")
    size, counts = segmentation.get("size"), segmentation.get("counts")
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
        raise InvalidMask(f"an RLE mask's size is [height, width] in pixels, not {size!r}")
    height, width = size
    if isinstance(counts, list):
        if not all(isinstance(c, int) and c >= 0 for c in counts) or sum(counts) != height * width:
            raise InvalidMask(f"uncompressed RLE counts must be run lengths adding up to {height}x{width} pixels")
        rle = _coco_mask().frPyObjects({"size": size, "counts": counts}, height, width)
    elif isinstance(counts, str) and counts:
        runs = _runs(counts)
        if runs is None or any(r < 0 for r in runs) or sum(runs) != height * width:
            raise InvalidMask(f"the compressed RLE counts do not describe a {height}x{width} mask")
        rle = {"size": size, "counts": counts.encode("ascii")}
    else:
        raise InvalidMask("RLE counts are a list of run lengths or a compressed string")
    try:
        area = int(_coco_mask().area(rle))
    except ValueError as exc:
        raise InvalidMask(f"the RLE counts cannot be decoded: {exc}") from None
    if area == 0:
        raise InvalidMask("the RLE mask covers no pixel")
    return {"size": [height, width], "counts": rle["counts"].decode("ascii")}


def _runs(counts: str) -> list[int] | None:
    """The run lengths of COCO's compressed counts string (its 6-bit, delta-coded format), or None if it is not
    one. Checked here because pycocotools decodes whatever it is given into a buffer of the mask's size."""
    runs: list[int] = []
    position = 0
    while position < len(counts):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(counts):
                return None
            code = ord(counts[position]) - 48
            if not 0 <= code < 64:
                return None
            value |= (code & 0x1F) << (5 * shift)
            more = bool(code & 0x20)
            position += 1
            shift += 1
            if not more and code & 0x10:
                value |= -1 << (5 * shift)
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
    return runs


def _rle(mask: dict[str, Any]) -> dict[str, Any]:
    return {"size": list(mask["size"]), "counts": mask["counts"].encode("ascii")}


def bbox(mask: dict[str, Any]) -> tuple[float, float, float, float]:
    """``(x_min, y_min, x_max, y_max)`` of the mask's pixels."""
    x, y, w, h = (float(v) for v in _coco_mask().toBbox(_rle(mask)))
    return x, y, x + w, y + h


def area(mask: dict[str, Any]) -> int:
    return int(_coco_mask().area(_rle(mask)))


def polygon_area(rings: list[list[float]], height: int, width: int) -> int:
    """Pixels covered by a polygon of one or more rings (flat ``[x0, y0, x1, y1, …]``), as COCO measures it."""
    return int(_coco_mask().area(_coco_mask().merge(_coco_mask().frPyObjects(rings, height, width))))
