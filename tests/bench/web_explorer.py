"""The web UI's dataset explorer on a 10,000-file dataset, in Debian's Chromium, against the local platform.

Starts ``python -m infra.local`` on free ports, seeds 10,000 labelled images through the service's code
(``tests/support/slice_data``), signs in once, then measures in fresh browser contexts (no HTTP cache):

- time to interactive: from navigation to the explorer until every thumbnail of the first screen has loaded
  and the main thread has had no long task (> 50 ms) for 500 ms; and when the file count and the label chart
  showed; on the demo's 24-file dataset and on the 10,000-file one, side by side;
- deep scroll: from scrolling the grid to file 3,000 until those thumbnails show (the pages between fetched as
  it goes: 30 pages of 100 before the grid knew the count and sized its pages to the jump);
- smoothness: frames drawn while the grid scrolls continuously for 2 s (60 is every frame);
- the gzipped size of what the first page load transfers and of the whole build (``web/dist``).

``ANNOLAKE_BENCH_EXPLORER_INDEXED=1000000`` opens the explorer on the million-file bench dataset: the seeded
files, then the dataset's index padded with older files that exist only in it (``query_index._pad_index``, as
the query service bench does), and measures it unfiltered and with ``INDEXED_QUERY`` (count, chart and pages
from the index). ``ANNOLAKE_BENCH_EXPLORER_BASELINE=<a checkout of other code, its web UI built>`` starts that
checkout's platform beside this one, seeds it the same way and measures both in turns.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.bench.streaming import _configure_service_for
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, REPO, VIEWPORT, free_port, start_platform

COUNT = int(os.environ.get("ANNOLAKE_BENCH_EXPLORER_FILES", "10000"))
DATASET = "explorer-bench"
DEEP = min(3000, COUNT * 3 // 10)  # the file to scroll to
RUNS = 3
# The million-file bench dataset: the index padded to this many files, older than the COUNT recorded ones.
INDEXED = int(os.environ.get("ANNOLAKE_BENCH_EXPLORER_INDEXED", "0"))
INDEXED_QUERY = "labels.car >= 1"  # 4 files in 5, recorded or padded
BASELINE = os.environ.get("ANNOLAKE_BENCH_EXPLORER_BASELINE", "")

# Resolves with ms since navigation start: when the grid is interactive (every thumbnail of the first screen
# loaded, then 500 ms without a long task), when the file count showed, when the label chart showed.
_INTERACTIVE = """
() => new Promise((resolve) => {
  let lastLong = performance.now();
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) lastLong = Math.max(lastLong, entry.startTime + entry.duration);
  }).observe({ type: "longtask", buffered: true });
  const gridReady = () => {
    const images = [...document.querySelectorAll(".grid-scroller img")].filter((img) => {
      const box = img.getBoundingClientRect();
      return box.bottom > 0 && box.top < window.innerHeight;
    });
    return images.length > 0 && images.every((img) => img.complete && img.naturalWidth > 0);
  };
  const countShown = () => /\\d files?/.test(document.querySelector(".result-count")?.textContent ?? "");
  const chartShown = () => document.querySelectorAll(".label-chart .bar").length > 0;
  let readyAt = null, countAt = null, chartAt = null, interactive = null;
  const tick = () => {
    const now = performance.now();
    if (readyAt === null && gridReady()) readyAt = now;
    if (countAt === null && countShown()) countAt = now;
    if (chartAt === null && chartShown()) chartAt = now;
    if (interactive === null && readyAt !== null && now - Math.max(readyAt, lastLong) >= 500) {
      interactive = Math.max(readyAt, lastLong);
    }
    if (interactive !== null && countAt !== null && chartAt !== null) resolve({ interactive, countAt, chartAt });
    else if (now > 120000) resolve({ interactive, countAt, chartAt });
    else setTimeout(tick, 20);
  };
  tick();
})
"""

_SCROLL_TO = """
async (index) => {
  const scroller = document.querySelector(".grid-scroller");
  const columns = Math.max(1, Math.floor(scroller.clientWidth / 176));
  const started = performance.now();
  const target = Math.floor(index / columns) * 196;
  while (true) {
    scroller.scrollTop = target;
    await new Promise((r) => setTimeout(r, 50));
    const names = [...scroller.querySelectorAll("img")].filter((img) => {
      const box = img.getBoundingClientRect();
      const area = scroller.getBoundingClientRect();
      return box.bottom > area.top && box.top < area.bottom;
    });
    if (Math.abs(scroller.scrollTop - target) < 2 && names.length > 0
        && names.every((img) => img.complete && img.naturalWidth > 0)) {
      return performance.now() - started;
    }
    if (performance.now() - started > 120000) throw new Error("the grid never reached file " + index);
  }
}
"""

_FRAMES_WHILE_SCROLLING = """
async () => {
  const scroller = document.querySelector(".grid-scroller");
  let frames = 0;
  const started = performance.now();
  await new Promise((resolve) => {
    const step = () => {
      frames += 1;
      scroller.scrollTop += 40;
      if (performance.now() - started < 2000) requestAnimationFrame(step);
      else resolve();
    };
    requestAnimationFrame(step);
  });
  return frames / ((performance.now() - started) / 1000);
}
"""


def bundle_sizes(dist: Path = REPO / "web" / "dist") -> tuple[int, int]:
    """(gzipped bytes the first load needs: index.html + entry JS + CSS, gzipped bytes of the whole build)."""
    index = (dist / "index.html").read_text()
    first = [dist / "index.html"] + [
        dist / ref.lstrip("/")
        for ref in (part.split('"')[0] for part in index.split('="')[1:])
        if ref.startswith("/assets/")
    ]
    every = [p for p in dist.rglob("*") if p.is_file() and not p.name.startswith(".")]

    def gz(paths: list[Path]) -> int:
        return sum(len(gzip.compress(p.read_bytes(), compresslevel=9)) for p in paths)

    return gz(first), gz(every)


def _tti(browser, platform, storage_state: dict, path: str) -> list[dict[str, float]]:
    samples = []
    for _ in range(RUNS):
        context = browser.new_context(viewport=VIEWPORT, base_url=platform.api_url, storage_state=storage_state)
        page = context.new_page()
        page.goto(path, wait_until="commit")
        samples.append(page.evaluate(_INTERACTIVE))
        context.close()
    return samples


def _deep_scroll(browser, platform, storage_state: dict, path: str) -> tuple[float, float]:
    """(ms from scrolling the grid to file ``DEEP`` until its thumbnails show, frames a second while scrolling)."""
    context = browser.new_context(viewport=VIEWPORT, base_url=platform.api_url, storage_state=storage_state)
    page = context.new_page()
    page.goto(path)
    page.evaluate(_INTERACTIVE)
    deep = page.evaluate(_SCROLL_TO, DEEP)
    fps = page.evaluate(_FRAMES_WHILE_SCROLLING)
    context.close()
    return deep, fps


def signed_in(playwright, platform) -> tuple[Any, dict]:  # noqa: ANN001
    """Chromium and the storage state of the platform's admin signed in through the web UI's own form."""
    creds = platform.credentials
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    context = browser.new_context(viewport=VIEWPORT, base_url=platform.api_url)
    page = context.new_page()
    page.goto("/signin")
    page.get_by_label("Username").fill(creds["username"])
    page.get_by_label("Password").fill(creds["password"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Signed in as").wait_for()
    state = context.storage_state()
    context.close()
    return browser, state


def _index_count(project_id: str, dataset_id: str) -> int:
    """How many files the dataset's index holds (0 while it has none)."""
    from annolake_service.domain.query import parse_query
    from annolake_service.services import query_index

    node = parse_query("labels.car >= 0")  # every file
    indexed = query_index.open_index(project_id, dataset_id, node)
    if indexed is None:
        return 0
    with indexed.index as index:
        return index.count(node)


def _pad(project_id: str, dataset_id: str, total: int, timeout_s: float = 600) -> int:
    """Once the platform's index updater holds every seeded file, fold its deltas into one base and pad it to
    ``total`` files the way the query service bench does (``_pad_index``); returns how many were added."""
    from annolake_service.services import query_index

    from tests.bench.query_index import _pad_index

    deadline = time.monotonic() + timeout_s
    while _index_count(project_id, dataset_id) < COUNT:
        if time.monotonic() > deadline:
            raise AssertionError(f"the index never held the {COUNT} seeded files")
        time.sleep(2)
    for _ in range(5):  # a compaction of the platform's may swap the manifest meanwhile: again
        try:
            query_index.compact(project_id, dataset_id)
            return _pad_index(project_id, dataset_id, total)
        except AssertionError:
            time.sleep(1)
    raise AssertionError("the padded index never replaced the platform's")


def _seed(platform) -> float:  # noqa: ANN001
    """Seed the bench dataset (and pad its index to ``INDEXED`` files when asked) on ``platform``; seconds taken."""
    from annolake_service.services import projects

    from tests.support import slice_data
    from tests.support.auth import reset_service_caches

    _configure_service_for(platform)
    reset_service_caches()
    started = time.perf_counter()
    slice_data.seed_dataset("demo", DATASET, COUNT, size=(128, 96), image_work=False)
    if INDEXED:
        _pad("demo", projects.get_dataset("demo", DATASET).dataset_id, INDEXED)
    return time.perf_counter() - started


def _median(samples: list[dict[str, float]], key: str) -> float:
    return statistics.median(sample[key] for sample in samples)


def run() -> list[tuple[str, str, str]]:
    """This checkout's platform, and with ``ANNOLAKE_BENCH_EXPLORER_BASELINE`` (a checkout of other code, its web
    UI built) that one's beside it on the same data, measured in turns."""
    from playwright.sync_api import sync_playwright

    first, total = bundle_sizes()
    rows = [
        ("web UI: first page load, gzipped (html + entry JS + CSS)", f"{first / 1024:.0f} KiB", ""),
        ("web UI: whole build, gzipped (every lazy chunk)", f"{total / 1024:.0f} KiB", "web/dist"),
    ]
    checkouts = {"this": REPO, **({"baseline": Path(BASELINE)} if BASELINE else {})}
    size = f"{INDEXED:,} files ({COUNT:,} recorded)" if INDEXED else f"{COUNT:,} files"
    views = {"24 files": "/p/demo/datasets/default", size: f"/p/demo/datasets/{DATASET}"}
    if INDEXED:
        views[f"{size}, `{INDEXED_QUERY}`"] = f"/p/demo/datasets/{DATASET}?q={quote(INDEXED_QUERY)}"
    results: dict[str, dict[str, Any]] = {name: {} for name in checkouts}
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        platforms = {}
        for name, repo in checkouts.items():
            platform = start_platform(Path(tmp) / name, free_port(), free_port(), snapshot_seconds=24 * 3600, repo=repo)
            stack.callback(platform.process.wait, timeout=60)
            stack.callback(platform.process.kill)  # nothing to keep: no state snapshot of the seeded files
            platforms[name] = platform
            results[name]["seed"] = _seed(platform)
        print("load average after seeding", os.getloadavg(), flush=True)
        with sync_playwright() as playwright:
            signed = {name: signed_in(playwright, platform) for name, platform in platforms.items()}
            for view, path in views.items():
                for name, platform in platforms.items():  # in turns, so both meet the same load
                    browser, state = signed[name]
                    results[name][view] = _tti(browser, platform, state, path)
            for view, path in list(views.items())[1:]:
                for name, platform in platforms.items():
                    browser, state = signed[name]
                    results[name][f"deep {view}"] = _deep_scroll(browser, platform, state, path)
            for browser, _ in signed.values():
                browser.close()
        print("load average after measuring", os.getloadavg(), flush=True)

    def against(figure: float, key: str, pick: Any = None) -> str:
        if "baseline" not in results:
            return ""
        old = results["baseline"][key] if pick is None else pick(results["baseline"][key])
        return f"baseline {old:.0f} ms ({old / max(figure, 1):.1f}x this)"

    this = results["this"]
    rows.append((f"seed {size} (bench setup)", f"{this['seed']:.0f} s", "labelled images, media without image work"))
    for key, what in (
        ("interactive", "time to interactive (grid)"),
        ("countAt", "file count shown"),
        ("chartAt", "label chart shown"),
    ):
        for view in views:
            figure = _median(this[view], key)
            rows.append(
                (
                    f"explorer {what}, {view}",
                    f"{figure:.0f} ms",
                    f"median of {RUNS}; " + against(figure, view, lambda samples, key=key: _median(samples, key)),
                )
            )
    for view in list(views)[1:]:
        deep, fps = this[f"deep {view}"]
        rows += [
            (
                f"explorer: scroll to file {DEEP:,} until shown, {view}",
                f"{deep:.0f} ms",
                "pages sized to the jump; " + against(deep, f"deep {view}", lambda figures: figures[0]),
            ),
            (f"explorer: frames while scrolling continuously, {view}", f"{fps:.0f} fps", "headless Chromium, no GPU"),
        ]
    return rows
