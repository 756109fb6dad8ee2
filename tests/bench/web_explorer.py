"""The web UI's dataset explorer on a 10,000-file dataset, in Debian's Chromium, against the local platform.

Starts ``python -m infra.local`` on free ports, seeds 10,000 labelled images through the service's code
(``tests/support/slice_data``), signs in once, then measures in fresh browser contexts (no HTTP cache):

- time to interactive: from navigation to the explorer until every thumbnail of the first screen has loaded
  and the main thread has had no long task (> 50 ms) for 500 ms; and when the file count and the label chart
  showed; on the demo's 24-file dataset and on the 10,000-file one, side by side;
- deep scroll: from scrolling the grid to file 3,000 (30 pages fetched as it goes) until those thumbnails show;
- smoothness: frames drawn while the grid scrolls continuously for 2 s (60 is every frame);
- the gzipped size of what the first page load transfers and of the whole build (``web/dist``).
"""

from __future__ import annotations

import gzip
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.bench.streaming import _configure_service_for
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, REPO, VIEWPORT, free_port, start_platform

COUNT = int(os.environ.get("ANNOLAKE_BENCH_EXPLORER_FILES", "10000"))
DATASET = "explorer-bench"
DEEP = min(3000, COUNT * 3 // 10)  # the file to scroll to
RUNS = 3

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


def _tti(browser, platform, storage_state: dict, dataset: str) -> list[dict[str, float]]:
    samples = []
    for _ in range(RUNS):
        context = browser.new_context(viewport=VIEWPORT, base_url=platform.api_url, storage_state=storage_state)
        page = context.new_page()
        page.goto(f"/p/demo/datasets/{dataset}", wait_until="commit")
        samples.append(page.evaluate(_INTERACTIVE))
        context.close()
    return samples


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


def run() -> list[tuple[str, str, str]]:
    from playwright.sync_api import sync_playwright

    from tests.support import slice_data

    first, total = bundle_sizes()
    rows = [
        ("web UI: first page load, gzipped (html + entry JS + CSS)", f"{first / 1024:.0f} KiB", ""),
        ("web UI: whole build, gzipped (every lazy chunk)", f"{total / 1024:.0f} KiB", "web/dist"),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        platform = start_platform(Path(tmp) / "home", free_port(), free_port(), snapshot_seconds=24 * 3600)
        try:
            _configure_service_for(platform)
            started = time.perf_counter()
            slice_data.seed_dataset("demo", DATASET, COUNT, size=(128, 96))
            rows.append((f"seed {COUNT} labelled images (bench setup)", f"{time.perf_counter() - started:.0f} s", ""))
            with sync_playwright() as playwright:
                browser, state = signed_in(playwright, platform)
                small = _tti(browser, platform, state, "default")
                large = _tti(browser, platform, state, DATASET)
                context = browser.new_context(viewport=VIEWPORT, base_url=platform.api_url, storage_state=state)
                page = context.new_page()
                page.goto(f"/p/demo/datasets/{DATASET}")
                page.evaluate(_INTERACTIVE)
                deep = page.evaluate(_SCROLL_TO, DEEP)
                fps = page.evaluate(_FRAMES_WHILE_SCROLLING)
                context.close()
                browser.close()

            def median(samples: list[dict[str, float]], key: str) -> float:
                return statistics.median(sample[key] for sample in samples)

            for key, what in (
                ("interactive", "time to interactive (grid)"),
                ("countAt", "file count shown"),
                ("chartAt", "label chart shown"),
            ):
                rows += [
                    (f"explorer {what}, 24 files", f"{median(small, key):.0f} ms", f"median of {RUNS}"),
                    (
                        f"explorer {what}, {COUNT} files",
                        f"{median(large, key):.0f} ms",
                        f"median of {RUNS}; {median(large, key) / median(small, key):.2f}x the 24-file one",
                    ),
                ]
            rows += [
                (f"explorer: scroll to file {DEEP:,} of {COUNT} until shown", f"{deep:.0f} ms", "pages of 100"),
                ("explorer: frames while scrolling continuously", f"{fps:.0f} fps", "headless Chromium, no GPU"),
            ]
        finally:
            platform.process.kill()  # nothing to keep: no state snapshot of the 10,000 files
            platform.process.wait(timeout=60)
    return rows
