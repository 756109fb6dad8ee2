"""Prediction runs: throughput of a run on the local stack vs a plain onnxruntime loop over the same image bytes,
evaluation time for 10,000 files, and the size of the model layer (onnxruntime, numpy, pycocotools).

The model is a detector trained here on synthetic images and exported with ``torch.onnx``
(tests/support/trained_detector.py). The run goes through the synthesized template on an emulator in this
process (the state machine on moto's ASL engine, the model function in-process), as under ``make up``.
``ANNOLAKE_BENCH_FILES`` sets the run's size (default 2,000). The run starts once the query index updater has
taken in the ingest (its catch-up is not the run's cost); how long the updater is busy after the run is its own row.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import urllib3

from tests.support import trained_detector

FILES = int(os.environ.get("ANNOLAKE_BENCH_FILES", "2000"))
EVAL_FILES = 10_000
PROJECT = "bench"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _StreamWatch:
    """Whether the local stream poller has records waiting or a batch in its function (the query index updater)."""

    def __init__(self) -> None:
        self.busy: set[int] = set()
        self.lock = threading.Lock()

    @contextlib.contextmanager
    def installed(self) -> Iterator[_StreamWatch]:
        from infra.local import stream_sources

        take = stream_sources._Delivery._take
        watch = self

        def watched_take(delivery: stream_sources._Delivery) -> list[dict[str, Any]]:
            with watch.lock:  # the batch taken before this one has been delivered
                watch.busy.discard(id(delivery))
            batch = take(delivery)
            with watch.lock:
                watch.busy.add(id(delivery))
            return batch

        stream_sources._Delivery._take = watched_take  # type: ignore[method-assign,assignment]
        try:
            yield self
        finally:
            stream_sources._Delivery._take = take  # type: ignore[method-assign]

    def idle(self) -> bool:
        from infra.local import stream_sources

        with self.lock:
            if self.busy:
                return False
        return all(not d.pending for d in list(stream_sources._deliveries.values()))

    def settle(self, timeout: float = 900) -> float:
        """Seconds until the stream has been idle for a second (records are batched for 0.2 s before delivery)."""
        started = time.perf_counter()
        quiet_since = None
        while time.perf_counter() - started < timeout:
            if not self.idle():
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.perf_counter()
            elif time.perf_counter() - quiet_since >= 1.0:
                return quiet_since - started
            time.sleep(0.05)
        raise TimeoutError("the query index updater did not settle")


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _layer_rows() -> list[tuple[str, str, str]]:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "layer_build", Path(__file__).resolve().parents[2] / "layers/build.py"
    )
    assert spec and spec.loader
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    rows = []
    sizes = {}
    for layer in ("dependencies", "model"):
        try:
            sizes[layer] = _du(build.cached_build(layer=layer)) / 1e6
            rows.append((f"{layer} layer, unzipped (arm64, cp312)", f"{sizes[layer]:.0f} MB", ""))
        except Exception as exc:  # noqa: BLE001 - no network: say so in the table
            rows.append((f"{layer} layer", "n/a", f"pip could not build it here: {type(exc).__name__}"))
    if "model" in sizes:
        rows.append(("model function: its one layer", f"{sizes['model']:.0f} MB", "Lambda's limit: 250 MB unzipped"))
    return rows


def _evaluation_rows() -> list[tuple[str, str, str]]:
    from annolake_service.domain import evaluation

    rng = random.Random(5)
    labels = ["car", "pedestrian", "truck"]
    human, predicted = {}, {}
    for n in range(EVAL_FILES):
        boxes = []
        for _ in range(rng.randint(1, 5)):
            x, y = rng.uniform(0, 600), rng.uniform(0, 400)
            boxes.append(evaluation.Box(rng.choice(labels), x, y, x + rng.uniform(10, 90), y + rng.uniform(10, 90)))
        human[str(n)] = boxes
        predicted[str(n)] = [
            evaluation.Box(b.label, b.x_min + 1, b.y_min, b.x_max, b.y_max + 1, rng.uniform(0.2, 1)) for b in boxes
        ]
    started = time.perf_counter()
    report = evaluation.evaluate_run(predicted, human, labels)
    seconds = time.perf_counter() - started
    boxes = sum(len(b) for b in human.values())
    return [
        (
            f"evaluate {EVAL_FILES:,} files ({boxes:,} boxes), COCOeval + per file",
            f"{seconds:.1f} s",
            f"mAP {report.mean_ap:.3f}",
        )
    ]


def _plain_loop(model: bytes, images: list[bytes]) -> float:
    """files/s of decode → letterbox → normalise → session.run over the bytes, nothing else."""
    from annolake_service.adapters import onnx_runtime
    from annolake_service.domain import inference
    from annolake_service.domain.models import ModelSpec

    spec = ModelSpec(format="yolo", labels=["car", "pedestrian"], input_size=trained_detector.SIZE)
    session = onnx_runtime.session_from_bytes(model)
    started = time.perf_counter()
    for body in images:
        square, _ = inference.letterbox(inference.decode_rgb(body), spec.input_size)
        session.run(None, {"images": inference.normalise(square, spec)})
    return len(images) / (time.perf_counter() - started)


def _run_rows(model: bytes, images: list[bytes], held_out_map: float) -> list[tuple[str, str, str]]:
    from infra.local.emulator import Emulator

    emulator = Emulator(port=_free_port())
    watch = _StreamWatch()
    with watch.installed():
        emulator.start()
        try:
            state, seconds, ingest_settled, run_settled = _platform_run(emulator.endpoint_url, watch, model, images)
        finally:
            emulator.stop()
    rate = state["done"] / seconds
    plain = _plain_loop(model, images)
    return [
        ("trained detector, held-out mAP@0.5 (200 synthetic images)", f"{held_out_map:.3f}", ""),
        (
            f"prediction run, {len(images):,} files, local stack",
            f"{rate:.1f} files/s",
            f"{state['status']}, {seconds:.0f} s (started once the index had taken in the ingest: "
            f"{ingest_settled:.0f} s)",
        ),
        (
            "  plain onnxruntime loop, same bytes and model",
            f"{plain:.1f} files/s",
            f"run/loop = {rate / plain:.2f}x (goal >= 0.7x)",
        ),
        ("  query index updater busy after the run", f"{run_settled:.1f} s", "the stream records the run wrote"),
    ]


def _platform_run(
    endpoint_url: str, watch: _StreamWatch, model: bytes, images: list[bytes]
) -> tuple[dict[str, Any], float, float, float]:
    """(the finished run, its seconds, seconds the index updater took to settle before it and after it)."""
    from infra.local.provisioner import Provisioner
    from tests.support.auth import local_assembly, reset_service_caches

    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    deployment = Provisioner(session, endpoint_url).deploy(local_assembly())
    os.environ.update(deployment.merged_environment())
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
        }
    )
    reset_service_caches()
    from annolake_service.domain.models import ModelSpec
    from annolake_service.services import ingest, models, predictions, projects, schema

    projects.create_project(PROJECT, "Bench", creator="user:bench")
    schema.add_labels(PROJECT, ["car", "pedestrian"])
    dataset = projects.ensure_dataset(PROJECT, "default")
    for start in range(0, len(images), 500):
        batch = images[start : start + 500]
        facts = [ingest.store_media(PROJECT, body) for body in batch]
        ingest.record_new_files(
            PROJECT,
            dataset.dataset_id,
            [
                {"name": f"{start + n:05d}.png", "facts": f, "instance_list": [], "metadata": {}}
                for n, f in enumerate(facts)
            ],
            author="bench",
        )
    spec = ModelSpec(format="yolo", labels=["car", "pedestrian"], input_size=trained_detector.SIZE)
    created = models.register_version(PROJECT, "det", spec, author="user:bench")
    form = created["upload"]
    urllib3.PoolManager().request("POST", form["url"], fields={**form["fields"], "file": ("m.onnx", model)})
    models.check_version(PROJECT, "det", created["version"])
    ingest_settled = watch.settle()
    started = time.perf_counter()
    run = predictions.start_run(
        PROJECT, "det", dataset="default", query=None, threshold=None, version=None, author="user:bench"
    )
    while (state := predictions.describe_run(PROJECT, run["run_id"]))["status"] in ("queued", "running"):
        time.sleep(0.5)
    seconds = time.perf_counter() - started
    return state, seconds, ingest_settled, watch.settle()


def _held_out_map(model: bytes) -> float:
    from annolake_service.adapters import onnx_runtime
    from annolake_service.domain import evaluation, inference
    from annolake_service.domain.models import ModelSpec

    spec = ModelSpec(format="yolo", labels=["car", "pedestrian"], input_size=trained_detector.SIZE)
    session = onnx_runtime.session_from_bytes(model)
    predicted, human = {}, {}
    for n in range(200):
        pixels, label, box = trained_detector.synthetic(10**6 + n)
        square, letterbox = inference.letterbox(pixels, spec.input_size)
        output = session.run(None, {"images": inference.normalise(square, spec)})[0]
        found = inference.decode_yolo(output, spec, letterbox, 0.05)
        predicted[str(n)] = [
            evaluation.Box(spec.labels[d.class_index], d.x_min, d.y_min, d.x_max, d.y_max, d.score) for d in found
        ]
        human[str(n)] = [evaluation.Box(spec.labels[label], *box)]
    return evaluation.evaluate_run(predicted, human, spec.labels).mean_ap or 0.0


def run() -> list[tuple[str, str, str]]:
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    steps = int(os.environ.get("ANNOLAKE_BENCH_TRAIN_STEPS", "150"))
    model, cached = trained_detector.cached_train_and_export(steps=steps)
    seconds = f"{time.perf_counter() - started:.0f} s"
    note = "reused from an earlier bench run (temp folder)" if cached else f"{steps} batches of 32"
    rows = [("train the detector (CPU) and export with torch.onnx", seconds, note)]
    images = [trained_detector.jpeg(trained_detector.synthetic(2 * 10**6 + n)[0]) for n in range(FILES)]
    rows += _run_rows(model, images, _held_out_map(model))
    rows += _evaluation_rows()
    rows += _layer_rows()
    return rows
