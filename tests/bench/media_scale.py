"""The local platform's resident memory as its media grows to ``ANNOLAKE_BENCH_MEDIA_GB`` (default 20) gigabytes
of 4000x3000 photos.

Bodies live in the state store's files, not in memory: this bench drops that many gigabytes into the drop bucket
(``make up``'s settings: the journal fsynced, the media handler in the function workers), in two bursts, the
first a tenth of the total, and reads every platform process's resident memory after each burst is ingested
(VmRSS) and its peak during the burst (VmHWM, reset before it through ``/proc/<pid>/clear_refs``). The growth
from the first burst to the second, divided by the media added, is what a gigabyte of media costs in memory.

The photos are ``BASES`` noise JPEGs (4000x3000, ~5 MB: nothing for JPEG to compress away), each drop one of them
with its number written in a JPEG comment segment: every file is new bytes (a hash of its own, stored apart)
without making thousands of 12-megapixel images first. Needs about twice the media in free disk space (the
drops and the stored originals, while the drop bucket empties).
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
import time
from pathlib import Path

from tests.bench.local_store import _memory, _platform, _ready, drop_and_wait, noise_jpeg
from tests.support.processes import cpu_seconds, platform_processes

MEDIA_GB = float(os.environ.get("ANNOLAKE_BENCH_MEDIA_GB", "20"))
BASES = 16
FIRST_SHARE = 0.1


def numbered(base: bytes, n: int) -> bytes:
    """``base`` (a JPEG) with a comment segment naming ``n`` after its start-of-image marker: new bytes, the same
    picture."""
    return base[:2] + _comment(n) + base[2:]


def _comment(n: int) -> bytes:
    text = f"annolake media_scale {n}".encode()
    return b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text


def _directory_bytes(root: Path) -> int:
    return sum(entry.stat().st_size for entry in root.rglob("*") if entry.is_file())


def _reset_peaks(pids: list[int]) -> None:
    for pid in pids:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM back to the current resident size


def run() -> list[tuple[str, str, str]]:
    bases = [noise_jpeg(4000, 3000, seed=200_000 + n, grain=2, quality=80) for n in range(BASES)]
    mean = sum(map(len, bases)) / len(bases)
    total = max(2, round(MEDIA_GB * 2**30 / mean))
    first = max(1, round(total * FIRST_SHARE))
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        platform = _platform(tmp, "media", ANNOLAKE_DURABLE="1", ANNOLAKE_MEDIA_WORKERS="0")
        try:
            roles = {pid: role for role, pid in platform_processes(platform.process.pid).items()}
            start = {pid: _memory(pid)[0] for pid in roles}
            after: list[dict[int, tuple[int, int]]] = []
            stored = 0
            per_burst = []
            for burst_first, count in ((0, first), (first, total - first)):
                _reset_peaks(list(roles))
                cpu_before = sum(cpu_seconds(pid) for pid in roles)
                numbers = range(burst_first, burst_first + count)
                seconds = drop_and_wait(platform, "media-scale", numbers, lambda n: numbered(bases[n % BASES], n))
                dropped = sum(len(bases[n % BASES]) + len(_comment(n)) for n in numbers)
                cpu_ms = (sum(cpu_seconds(pid) for pid in roles) - cpu_before) * 1000 / count
                stored += dropped
                per_burst.append(dropped)
                time.sleep(5)  # the last files' records and thumbnails settle
                after.append({pid: _memory(pid) for pid in roles})
                rows.append(
                    (
                        f"burst of {count} x 4000x3000 ({dropped / 2**30:.2f} GB) dropped at once, to ingested",
                        f"{count / seconds:.1f} files/s",
                        f"{dropped / 2**20 / seconds:.0f} MB/s; {seconds:.0f} s; all processes' CPU {cpu_ms:.0f} ms "
                        f"a file; media stored so far {stored / 2**30:.2f} GB",
                    )
                )
            ready = _ready(platform, "media-scale")
            home = Path(tmp) / "media"
            on_disk = _directory_bytes(home) / 2**30
            rows.append(
                (
                    "files ready after both bursts",
                    f"{ready}",
                    f"of {total} dropped; the platform's home on disk {on_disk:.1f} GB "
                    f"(free {shutil.disk_usage(tmp).free / 2**30:.0f} GB)",
                )
            )
            first_gb, added_gb = (dropped / 2**30 for dropped in per_burst)
            for pid, role in roles.items():
                rss_first, peak_first = after[0][pid]
                rss_end, peak_end = after[1][pid]
                rows.append(
                    (
                        f"{role}: resident at start / after {first_gb:.1f} GB / after {stored / 2**30:.1f} GB",
                        f"{rss_end} MB",
                        f"{start[pid]} / {rss_first} / {rss_end} MB; peak during the bursts {peak_first} / "
                        f"{peak_end} MB; {(rss_end - rss_first) / added_gb:+.1f} MB resident a GB of media added",
                    )
                )
        finally:
            platform.stop(timeout=600)
    return rows
