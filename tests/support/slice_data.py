"""Synthetic labelled datasets at scale, written through the service's own code (used by tests and benchmarks).

File ``i`` is a JPEG with ``cars(i)`` car boxes and ``pedestrians(i)`` pedestrian boxes, so a test can
compute which files a query must select. Media goes through ``ingest.store_media`` (the real inspection,
thumbnail and canonical keys); records are batch-written by ``ingest.record_new_files``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from PIL import Image, ImageDraw

LABELS = ("car", "pedestrian")


def cars(i: int) -> int:
    return i % 5


def pedestrians(i: int) -> int:
    return i % 3


def jpeg(i: int, size: tuple[int, int] = (64, 48)) -> bytes:
    """A distinct image per ``i``: its bits drawn as black/white squares, so every file has its own hash."""
    image = Image.new("RGB", size, (90, 120, 150))
    draw = ImageDraw.Draw(image)
    square = max(size[0] // 16, 2)
    for bit in range(16):
        colour = (255, 255, 255) if i >> bit & 1 else (0, 0, 0)
        draw.rectangle([bit * square, 0, bit * square + square - 1, square - 1], fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def boxes(i: int, width: int, height: int) -> list[dict]:
    def box(label: str, k: int) -> dict:
        x = (k * 7) % max(width - 10, 1)
        return {"type": "box", "name": label, "x_min": x, "y_min": 2, "x_max": x + 8, "y_max": min(height - 1, 20)}

    return [box("car", k) for k in range(cars(i))] + [box("pedestrian", k) for k in range(pedestrians(i))]


def seed_dataset(
    project_id: str,
    dataset_name: str,
    count: int,
    *,
    size: tuple[int, int] = (64, 48),
    start: int = 0,
    threads: int = 8,
    progress: Callable[[int], None] | None = None,
    image_work: bool = True,
) -> list[str]:
    """Write ``count`` labelled files into the dataset; returns their file ids in ``i`` order.

    ``image_work=False`` (volume benchmarks): one image is inspected and every file stores its bytes and
    thumbnail under its own keys (identical bodies, stored once), with a content hash of its own; the
    records are the same as with ``True``, the files' pixels are not."""
    from annolake_service.services import ingest, projects, schema

    schema.add_labels(project_id, list(LABELS))
    dataset = projects.ensure_dataset(project_id, dataset_name)
    file_ids: list[str] = []
    store = _media_store(project_id, size, image_work)
    with ThreadPoolExecutor(threads) as pool:
        for chunk_start in range(start, start + count, 500):
            indices = range(chunk_start, min(start + count, chunk_start + 500))
            facts = list(pool.map(store, indices))
            ingest.record_new_files(
                project_id,
                dataset.dataset_id,
                [
                    {"name": f"img_{i:06d}.jpg", "facts": f, "instance_list": boxes(i, *size), "metadata": {"i": i}}
                    for i, f in zip(indices, facts, strict=True)
                ],
                author="seed",
            )
            file_ids += [f["file_id"] for f in facts]
            if progress:
                progress(len(file_ids))
    return file_ids


def _media_store(project_id: str, size: tuple[int, int], image_work: bool) -> Callable[[int], dict]:
    """What stores file ``i``'s media and returns its facts: the real inspection per file, or one shared."""
    import dataclasses
    import hashlib

    from annolake_service.domain import media
    from annolake_service.services import ingest

    if image_work:
        return lambda i: ingest.store_media(project_id, jpeg(i, size))
    body = jpeg(0, size)
    inspected = media.inspect_image(body)

    def store(i: int) -> dict:
        content_hash = hashlib.sha256(f"seed-{i}".encode()).hexdigest()
        return ingest.store_media(project_id, body, dataclasses.replace(inspected, content_hash=content_hash))

    return store
