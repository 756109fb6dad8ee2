"""A small COCO file shaped like COCO 2017's instances files, with its images made at test time.

Non-contiguous category ids (1, 3, 18, 90) with supercategories; a car in two polygon parts (one object); a
crowd of people as an uncompressed RLE mask (``iscrowd: 1``, as COCO ships crowds); an image with no
objects; a JPEG whose EXIF orientation turns it (stored 96×64, shown 64×96, and the COCO size is the shown
one); a file name with non-ASCII letters. The photos are noise JPEGs (no photo ships with the installed
packages). ``OBJECTS`` is what an importer must end up with, per image.
"""

from __future__ import annotations

import io
import random

from PIL import Image

CATEGORIES = [
    {"id": 1, "name": "person", "supercategory": "person"},
    {"id": 3, "name": "car", "supercategory": "vehicle"},
    {"id": 18, "name": "dog", "supercategory": "animal"},
    {"id": 90, "name": "toothbrush", "supercategory": "indoor"},
]

# image file name → label → objects
OBJECTS = {
    "000000000139.jpg": {"car": 1, "person": 1},
    "000000000285.jpg": {"person": 1, "dog": 1},
    "000000000632.jpg": {},
    "rotated.jpg": {"car": 1},
    "straße_über.jpg": {"toothbrush": 1},
}


def noise_jpeg(size: tuple[int, int], seed: int, *, orientation: int | None = None) -> bytes:
    rng = random.Random(seed)
    image = Image.frombytes("RGB", size, bytes(rng.getrandbits(8) for _ in range(size[0] * size[1] * 3)))
    buffer = io.BytesIO()
    if orientation is None:
        image.save(buffer, format="JPEG", quality=85)
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(buffer, format="JPEG", quality=85, exif=exif.tobytes())
    return buffer.getvalue()


def crowd_rle(height: int, width: int, box: tuple[int, int, int, int]) -> dict:
    """An uncompressed, column-major RLE (COCO's own crowd encoding) of a filled rectangle ``x0, y0, x1, y1``."""
    x0, y0, x1, y1 = box
    pixels = [1 if x0 <= x < x1 and y0 <= y < y1 else 0 for x in range(width) for y in range(height)]
    counts, current, run = [], 0, 0
    for value in pixels:
        if value != current:
            counts.append(run)
            current, run = value, 0
        run += 1
    counts.append(run)
    return {"size": [height, width], "counts": counts}


def coco_document() -> tuple[dict, dict[str, bytes]]:
    """(the COCO JSON, image bytes by ``file_name``)."""
    media = {
        "000000000139.jpg": noise_jpeg((160, 120), 1),
        "000000000285.jpg": noise_jpeg((120, 100), 2),
        "000000000632.jpg": noise_jpeg((80, 80), 3),
        "rotated.jpg": noise_jpeg((96, 64), 4, orientation=6),  # shown rotated by 90°: 64 wide, 96 high
        "straße_über.jpg": noise_jpeg((64, 64), 5),
    }
    images = [
        {"id": 139, "file_name": "000000000139.jpg", "width": 160, "height": 120, "license": 2},
        {"id": 285, "file_name": "000000000285.jpg", "width": 120, "height": 100, "license": 4},
        {"id": 632, "file_name": "000000000632.jpg", "width": 80, "height": 80, "license": 3},
        {"id": 700, "file_name": "rotated.jpg", "width": 64, "height": 96, "license": 1},
        {"id": 701, "file_name": "straße_über.jpg", "width": 64, "height": 64, "license": 1},
    ]
    car_parts = [[10.5, 10.0, 40.0, 10.0, 40.0, 30.0, 10.5, 30.0], [50.0, 12.0, 70.0, 12.0, 60.0, 28.0]]
    annotations = [
        {
            "id": 1,
            "image_id": 139,
            "category_id": 3,
            "iscrowd": 0,
            "segmentation": car_parts,
            "bbox": [10.5, 10.0, 59.5, 20.0],
            "area": 690.0,
        },
        {
            "id": 2,
            "image_id": 139,
            "category_id": 1,
            "iscrowd": 0,
            "segmentation": [[90.0, 20.0, 110.0, 20.0, 110.0, 90.0, 90.0, 90.0]],
            "bbox": [90.0, 20.0, 20.0, 70.0],
            "area": 1400.0,
        },
        {
            "id": 3,
            "image_id": 285,
            "category_id": 1,
            "iscrowd": 1,
            "segmentation": crowd_rle(100, 120, (30, 40, 90, 95)),
            "bbox": [30.0, 40.0, 60.0, 55.0],
            "area": 3300.0,
        },
        {
            "id": 4,
            "image_id": 285,
            "category_id": 18,
            "iscrowd": 0,
            "segmentation": [[5.0, 5.0, 25.0, 5.0, 15.0, 25.0]],
            "bbox": [5.0, 5.0, 20.0, 20.0],
            "area": 200.0,
        },
        {"id": 5, "image_id": 700, "category_id": 3, "iscrowd": 0, "bbox": [8.0, 60.0, 50.0, 30.0], "area": 1500.0},
        {
            "id": 6,
            "image_id": 701,
            "category_id": 90,
            "iscrowd": 0,
            "segmentation": [[1.0, 1.0, 20.0, 1.0, 20.0, 9.0]],
            "bbox": [1.0, 1.0, 19.0, 8.0],
            "area": 76.0,
        },
    ]
    document = {
        "info": {"description": "COCO-shaped test fixture", "version": "1.0", "year": 2017},
        "licenses": [{"id": n, "name": f"license {n}", "url": ""} for n in range(1, 5)],
        "images": images,
        "annotations": annotations,
        "categories": CATEGORIES,
    }
    return document, media
