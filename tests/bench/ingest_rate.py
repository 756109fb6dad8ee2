"""Ingest throughput on the local platform: drop-folder ingest vs raw put_object, and COCO import rate.

Starts ``python -m infra.local`` (what ``make up`` runs) on free ports with a scratch home, so the
figures include the emulator, moto's Step Functions engine and the in-process Lambda handlers.
"""

from __future__ import annotations

import io
import json
import random
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import urllib3
from PIL import Image

from tests.e2e.conftest import free_port, start_platform

COUNT = 200
COCO_IMAGES, COCO_BOXES_PER_IMAGE = 500, 6
WORKERS = 8


def _jpeg(seed: int, size=(640, 480)) -> bytes:
    rng = random.Random(seed)
    image = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    pixels = image.load()
    for _ in range(400):  # some texture so the encoder does real work and every file is distinct
        pixels[rng.randrange(size[0]), rng.randrange(size[1])] = (rng.randrange(256),) * 3
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _put_all(s3, bucket: str, objects: dict[str, bytes]) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(lambda kv: s3.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]), objects.items()))
    return time.perf_counter() - started


def _count(http, platform, dataset: str, auth: dict, status: str | None = None) -> int:
    files, cursor = 0, None
    while True:
        fields = {"limit": 1000, **({"cursor": cursor} if cursor else {}), **({"status": status} if status else {})}
        page = json.loads(
            http.request(
                "GET", f"{platform.api_url}/api/v1/projects/demo/datasets/{dataset}/files", fields=fields, headers=auth
            ).data
        )
        if "files" not in page:
            return 0
        files += len(page["files"])
        cursor = page["cursor"]
        if not cursor:
            return files


def run() -> list[tuple[str, str, str]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        platform = start_platform(Path(tmp) / "home", free_port(), free_port(), snapshot_seconds=30)  # make up's
        try:
            creds = platform.credentials
            session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
            s3 = session.client(
                "s3", endpoint_url=platform.emulator_url, config=boto3.session.Config(max_pool_connections=WORKERS * 2)
            )
            http = urllib3.PoolManager()
            auth = urllib3.make_headers(basic_auth=f"{creds['client_id']}:{creds['client_secret']}")
            images = {f"img-{i:04d}.jpg": _jpeg(i) for i in range(COUNT)}

            s3.create_bucket(Bucket="bench-raw")
            raw_s = _put_all(s3, "bench-raw", images)
            started = time.perf_counter()
            _put_all(s3, creds["drop_bucket"], {f"demo/bench/{k}": v for k, v in images.items()})
            while _count(http, platform, "bench", auth) < COUNT:
                time.sleep(0.5)
            ingest_s = time.perf_counter() - started
            raw_rate, ingest_rate = COUNT / raw_s, COUNT / ingest_s
            rows.append((f"raw put_object, {COUNT} x 640x480 JPEG", f"{raw_rate:.1f} files/s", f"{WORKERS} threads"))
            rows.append(
                (
                    f"drop-folder ingest to ready, {COUNT} files",
                    f"{ingest_rate:.1f} files/s",
                    f"{ingest_rate / raw_rate:.2f}x raw (goal >= 0.5x)",
                )
            )

            mix = {f"demo/mix/good-{i}.JPG": _jpeg(1000 + i, (320, 240)) for i in range(20)}
            mix.update({f"demo/mix/corrupt-{i}.jpg": _jpeg(2000 + i)[:300] for i in range(5)})
            mix.update({"demo/mix/empty.jpg": b"", "demo/mix/readme.txt": b"not an image"})
            s3.put_object(
                Bucket=creds["drop_bucket"],
                Key="demo/mix/good-0.json",
                Body=json.dumps(
                    {"instance_list": [{"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 9, "y_max": 9}]}
                ),
            )
            _put_all(s3, creds["drop_bucket"], mix)
            deadline = time.monotonic() + 120
            while _count(http, platform, "mix", auth) < len(mix) and time.monotonic() < deadline:
                time.sleep(0.5)
            ready, quarantined = (_count(http, platform, "mix", auth, s) for s in ("ready", "quarantined"))
            rows.append(
                ("mixed drop: 20 good, 5 corrupt, 1 empty, 1 .txt", f"{ready} ready", f"{quarantined} quarantined")
            )

            from annolake import Project

            coco_dir = Path(tmp) / "coco"
            (coco_dir / "images").mkdir(parents=True)
            images_meta, annotations = [], []
            for i in range(COCO_IMAGES):
                (coco_dir / "images" / f"{i:04d}.jpg").write_bytes(_jpeg(5000 + i, (320, 240)))
                images_meta.append({"id": i, "file_name": f"{i:04d}.jpg"})
                annotations += [
                    {"id": len(annotations), "image_id": i, "category_id": 1 + k % 3, "bbox": [k * 10, k * 5, 30, 20]}
                    for k in range(COCO_BOXES_PER_IMAGE)
                ]
            categories = [{"id": 1, "name": "car"}, {"id": 2, "name": "pedestrian"}, {"id": 3, "name": "bicycle"}]
            (coco_dir / "coco.json").write_text(
                json.dumps({"images": images_meta, "annotations": annotations, "categories": categories})
            )
            project = Project("demo", creds["client_id"], creds["client_secret"], platform.api_url)
            started = time.perf_counter()
            job = project.import_coco(coco_dir / "coco.json", "coco-bench", progress=False)
            coco_s = time.perf_counter() - started
            rows.append(
                (
                    f"COCO import, {COCO_IMAGES} images / {len(annotations)} boxes (upload + job)",
                    f"{COCO_IMAGES / coco_s:.1f} images/s",
                    f"{job['status']}: {job['done']} done, {job['failed']} failed",
                )
            )
        finally:
            platform.stop(timeout=600)
    return rows
