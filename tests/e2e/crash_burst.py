"""A write burst against a running platform, killed with ``kill -9`` in the middle, then checked after a restart.

Threads save annotations, upload files with presigned POSTs and create datasets, and note every write the
platform acknowledged. After the restart each of them must be there: every acknowledged annotation version
in its file's history with the instances it was saved with, every acknowledged dataset, and every uploaded
file ingested (its ingest re-driven if the kill cut it short) and listed in its dataset.
"""

from __future__ import annotations

import io
import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image


def noise_jpeg(width: int = 160, height: int = 120, seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@dataclass
class Acknowledged:
    saves: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # file id -> [(version, x_max)]
    uploads: list[tuple[str, str]] = field(default_factory=list)  # (upload id, dataset)
    datasets: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # what ended each writer (the kill, normally)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def total(self) -> int:
        return sum(len(v) for v in self.saves.values()) + len(self.uploads) + len(self.datasets)


def _box(x_max: int) -> dict[str, Any]:
    return {"type": "box", "name": "crash-box", "x_min": 1, "y_min": 1, "x_max": x_max, "y_max": 40}


class Burst:
    """Writers on threads against ``project`` until ``stop``; what was acknowledged goes to ``acknowledged``."""

    def __init__(self, project: Any, files: list[Any], dataset: str) -> None:
        self.project = project
        self.files = files
        self.dataset = dataset
        self.acknowledged = Acknowledged()
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        targets = [(self._annotate, (f,)) for f in self.files]
        targets += [(self._upload, (n,)) for n in range(2)]
        targets += [(self._create_datasets, ())]
        for target, args in targets:
            thread = threading.Thread(target=self._guarded, args=(target, *args), daemon=True)
            thread.start()
            self.threads.append(thread)

    def wait_for(self, writes: int, timeout_s: float) -> None:
        """Until ``writes`` acknowledged writes, at least one of each kind (the machine may be slow)."""
        deadline = time.monotonic() + timeout_s
        ack = self.acknowledged
        while time.monotonic() < deadline:
            with ack.lock:
                if ack.total() >= writes and ack.saves and ack.uploads and ack.datasets:
                    return
                if ack.errors:
                    raise AssertionError(f"a writer failed before the kill: {ack.errors}")
            time.sleep(0.05)
        raise AssertionError(f"the burst wrote too little in {timeout_s:.0f}s to test: {ack}")

    def join(self, timeout: float = 60) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout)

    def _guarded(self, target: Any, *args: Any) -> None:
        try:
            target(*args)
        except Exception as exc:  # noqa: BLE001 - the platform was killed under it: not acknowledged
            with self.acknowledged.lock:
                self.acknowledged.errors.append(f"{type(exc).__name__}: {exc}"[:300])

    def _annotate(self, file: Any) -> None:
        x_max = 50
        while not self.stop.is_set():
            x_max += 1
            file.update([_box(x_max)], create_labels=True)
            with self.acknowledged.lock:
                self.acknowledged.saves.setdefault(file.id, []).append((file.annotation_version, x_max))

    def _upload(self, worker: int) -> None:
        api, path = self.project.client, self.project._path
        n = 0
        while not self.stop.is_set():
            n += 1
            body = noise_jpeg(seed=worker * 100_000 + n)
            name = f"burst-{worker}-{n}-{uuid.uuid4().hex[:6]}.jpg"
            ticket = api.post(
                f"{path}/uploads",
                {"dataset": self.dataset, "file_name": name, "content_type": "image/jpeg", "size_bytes": len(body)},
            )
            status = api.post_form(ticket["url"], {**ticket["fields"], "file": (name, body, "image/jpeg")})
            if 200 <= status < 300:
                with self.acknowledged.lock:
                    self.acknowledged.uploads.append((ticket["upload_id"], self.dataset))

    def _create_datasets(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            name = f"crash-{uuid.uuid4().hex[:8]}-{n}"
            self.project.directory.new(name)
            with self.acknowledged.lock:
                self.acknowledged.datasets.append(name)


def kill_hard(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


def check_after_restart(project: Any, acknowledged: Acknowledged, *, ingest_wait_s: float = 90) -> dict[str, int]:
    """Assert every acknowledged write is there; returns counts of what was checked."""
    names = {d.name for d in project.directory.list()}
    missing = [name for name in acknowledged.datasets if name not in names]
    assert not missing, f"{len(missing)} acknowledged datasets lost: {missing[:5]}"

    for file_id, saves in acknowledged.saves.items():
        history = {v["version"]: v for v in project.file.get_by_id(file_id).history()}
        for version, x_max in saves:
            assert version in history, f"file {file_id}: acknowledged version {version} lost (have {sorted(history)})"
            boxes = [i.get("x_max") for i in history[version]["instance_list"]]
            assert boxes == [x_max], f"file {file_id} v{version}: saved x_max {x_max}, found {boxes}"
        current = project.file.get_by_id(file_id)
        assert current.annotation_version >= max(v for v, _ in saves)

    deadline = time.monotonic() + ingest_wait_s
    pending = {upload_id for upload_id, _ in acknowledged.uploads}
    ready: dict[str, str] = {}
    while pending and time.monotonic() < deadline:
        for upload_id in sorted(pending):
            upload = project.client.get(f"{project._path}/uploads/{upload_id}")
            assert upload["status"] != "quarantined", upload
            if upload["status"] == "ready":
                ready[upload_id] = upload["file_id"]
                pending.discard(upload_id)
        if pending:
            time.sleep(0.5)
    assert not pending, f"{len(pending)} acknowledged uploads never became ready after the restart"
    for dataset in {d for _, d in acknowledged.uploads}:
        listed = {f.id for f in project.directory.get(dataset).files()}
        expected = {ready[u] for u, d in acknowledged.uploads if d == dataset}
        assert expected <= listed, f"{len(expected - listed)} ready uploads missing from dataset {dataset}"
    return {
        "saves": sum(len(s) for s in acknowledged.saves.values()),
        "uploads": len(acknowledged.uploads),
        "datasets": len(acknowledged.datasets),
    }
