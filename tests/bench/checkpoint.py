"""What a checkpoint of the local platform costs as its store grows (``python -m tests.bench checkpoint``).

Every ``ANNOLAKE_SNAPSHOT_SECONDS`` in which something was journaled, the platform folds its journal into the
checkpoint, in a thread of the process that also serves every emulator request. This bench builds a store of
``ANNOLAKE_BENCH_CHECKPOINT_FILES`` (100,000) files the way the journal records them (each file: its record,
its first annotation version, its dataset membership, its original and its thumbnail), folds that in once,
then times the checkpoint of a typical half-minute of work over it: ``ANNOLAKE_BENCH_CHECKPOINT_SAVES``
(1,000) annotation saves (a transaction of two items changed and one new). A thread that asks for the
interpreter every millisecond meanwhile reports its longest wait: how long the emulator's requests stood
still. The floor is the necessary work: the saves' bytes written once and fsynced.

``ANNOLAKE_BENCH_CHECKPOINT_BASELINE=<another checkout>`` measures that tree's ``infra.local.state`` in the
same run, one after the other.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

FILES = int(os.environ.get("ANNOLAKE_BENCH_CHECKPOINT_FILES", "100000"))
SAVES = int(os.environ.get("ANNOLAKE_BENCH_CHECKPOINT_SAVES", "1000"))
ROUNDS = 3
_TABLE, _BUCKET = "Stack/Table", "Stack/Media"
_FILL = "x" * 1200  # a file record's size in the journal is ~2 KB, an annotation version's ~1.5 KB


def _item(pk: str, sk: str, **attributes: dict) -> dict:
    """The journal's entry of an item written with ``attributes`` (DynamoDB JSON)."""
    key = {"pk": {"S": pk}, "sk": {"S": sk}}
    return {"t": "item", "table": _TABLE, "key": key, "item": {**key, **attributes}}


def _file_entries(n: int) -> list[dict]:
    file_id = f"f{n:08d}"
    digest = f"{n:064x}"
    return [
        _item(
            f"FILE#{file_id}",
            "META",
            name={"S": f"photos/{file_id}.jpg"},
            width={"N": "640"},
            height={"N": "480"},
            sha256={"S": digest},
            notes={"S": _FILL},
        ),
        _item(f"FILE#{file_id}", "ANN#000001", instances={"S": _FILL[:900]}),
        _item("DATASET#default", f"MEMBER#{file_id}", added={"N": str(n)}),
        *(
            {
                "t": "object",
                "bucket": _BUCKET,
                "key": f"{kind}/{file_id}.jpg",
                "object": {
                    "key": f"{kind}/{file_id}.jpg",
                    "sha256": f"{kind[0]}{digest[1:]}",
                    "etag": f'"{digest[:32]}"',
                    "size": 290_000,
                    "last_modified": "2026-12-07T12:00:00+00:00",
                    "content_type": "image/jpeg",
                },
            }
            for kind in ("originals", "thumbnails")
        ),
    ]


def _save_entries(n: int, version: int) -> list[dict]:
    """One annotation save: the file's record and the task changed, a new annotation version."""
    file_id = f"f{n % FILES:08d}"
    return [
        _item(f"FILE#{file_id}", "META", version={"N": str(version)}, notes={"S": _FILL}),
        _item(f"FILE#{file_id}", f"ANN#{version:06d}", instances={"S": _FILL[:900]}),
        _item("TASK#job", f"TASK#{file_id}", status={"S": "complete"}),
    ]


class _Stalls:
    """A thread that wants the interpreter every millisecond; its longest wait between two wakeups."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        last = time.perf_counter()
        while not self._stop.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last)
            last = now

    def __enter__(self) -> _Stalls:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def _journal(store, records) -> None:  # noqa: ANN001 - the store of whichever tree is measured
    journal = store.journal
    last = 0
    for entries in records:
        last = journal.append(entries)
    journal.commit(last)


def measure() -> dict:
    """This interpreter's ``infra.local.state`` (whichever tree ``PYTHONPATH`` names) over a fresh store."""
    from infra.local.state import Inventory, StateStore

    inventory = Inventory(tables={_TABLE: "table"}, buckets={_BUCKET: "media"}, user_pools={})
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(Path(tmp) / "state")
        store.start_journal(inventory, durable=True)
        started = time.perf_counter()
        _journal(
            store,
            (
                [e for n in range(start, min(start + 50, FILES)) for e in _file_entries(n)]
                for start in range(0, FILES, 50)
            ),
        )
        store.checkpoint()
        seeded_s = time.perf_counter() - started
        walls, stalls = [], []
        for round_ in range(ROUNDS):
            _journal(store, (_save_entries(round_ * SAVES + n, round_ + 2) for n in range(SAVES)))
            with _Stalls() as watch:
                started = time.perf_counter()
                folded = store.checkpoint()
                walls.append(time.perf_counter() - started)
            assert folded == 3 * SAVES, folded
            stalls.append(watch.longest)
        size = sum(p.stat().st_size for p in store.home.rglob("*") if p.is_file() and p.parent.name != "blobs")
        store.close()
    return {"seeded_s": seeded_s, "wall_s": statistics.median(walls), "stall_s": max(stalls), "size": size}


def _floor() -> float:
    """The saves' journal bytes written once and fsynced: what an incremental checkpoint must at least do."""
    data = b"".join(json.dumps(_save_entries(n, 2)).encode() for n in range(SAVES))
    with tempfile.NamedTemporaryFile() as handle:
        started = time.perf_counter()
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
        return time.perf_counter() - started


def _measure_tree(tree: Path) -> dict:
    out = subprocess.run(  # noqa: S603
        [sys.executable, __file__, "--measure"],
        env={**os.environ, "PYTHONPATH": str(tree)},
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.splitlines()[-1])


def run() -> list[tuple[str, str, str]]:
    trees = {"this code": Path(__file__).resolve().parents[2]}
    if os.environ.get("ANNOLAKE_BENCH_CHECKPOINT_BASELINE"):
        trees["baseline"] = Path(os.environ["ANNOLAKE_BENCH_CHECKPOINT_BASELINE"])
    floor = _floor()
    rows = []
    for name, tree in trees.items():
        got = _measure_tree(tree)
        rows.append(
            (
                f"checkpoint of {SAVES:,} saves over {FILES:,} files ({name})",
                f"{got['wall_s'] * 1000:.0f} ms",
                f"median of {ROUNDS}; {got['wall_s'] / floor:.0f}x the floor ({floor * 1000:.1f} ms: their bytes "
                f"written and fsynced); longest stall of a thread wanting the interpreter "
                f"{got['stall_s'] * 1000:.0f} ms; "
                f"{got['size'] / 1e6:.0f} MB on disk; the {FILES:,} files folded in {got['seeded_s']:.1f} s",
            )
        )
    return rows


if __name__ == "__main__":
    if sys.argv[1:] == ["--measure"]:
        print(json.dumps(measure()))
    else:
        for row in run():
            print("  ".join(row))
