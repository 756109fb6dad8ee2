"""The web UI's video editor in Debian's Chromium, against the local platform.

Starts ``python -m infra.local`` on free ports, uploads a 300-frame 640x360 video made with PyAV (a moving
square; ``tests/support/video_fixtures``), signs in once, then measures in fresh browser contexts (no HTTP
cache):

- open: from navigating to the video's editor until frame 0 is on screen (median of 3);
- step: 100 presses of "." (next frame), each waited for until its frame is on screen, where the editor has
  prefetched the frames ahead, side by side with 100 seeks to frames far apart (none prefetched);
- playback: frames shown per second while playing for 3 s (the video has 30);
- for reference, the frames endpoint alone: one frame's GET, one request at a time, outside the browser.

Run: ``python -m tests.bench web_video`` (or ``python -m tests.bench.web_video``).
"""

from __future__ import annotations

import base64
import random
import statistics
import tempfile
import time
from pathlib import Path

import urllib3

from tests.bench.web_explorer import signed_in
from tests.e2e.conftest import VIEWPORT, free_port, start_platform
from tests.support.video_fixtures import make_square_video

FRAMES = 300
SIZE = (640, 360)
RUNS = 3
STEPS = 100

# ms since navigation start until frame 0 is on screen (its image decoded).
_OPENED = """
() => new Promise((resolve) => {
  const tick = () => {
    const image = document.querySelector('.video-main[data-shown-frame="0"] svg.canvas image');
    if (image) {
      const probe = new Image();
      probe.src = image.getAttribute("href");
      probe.decode().then(() => resolve(performance.now()), () => resolve(performance.now()));
    } else setTimeout(tick, 5);
  };
  tick();
})
"""

# Moves to each frame of `frames` in turn (a key press, or the frame field) and waits until it is on screen;
# resolves with the total ms.
_VISIT = """
async ([frames, how]) => {
  const main = () => document.querySelector(".video-main");
  const field = document.querySelector('input[aria-label="Frame"]');
  const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set;
  const started = performance.now();
  for (const frame of frames) {
    if (how === "step") {
      window.dispatchEvent(new KeyboardEvent("keydown", { key: ".", bubbles: true }));
    } else {
      field.focus();
      setter.call(field, String(frame));
      field.dispatchEvent(new Event("input", { bubbles: true }));
      field.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    }
    while (main().dataset.shownFrame !== String(frame)) await new Promise((r) => requestAnimationFrame(r));
  }
  return performance.now() - started;
}
"""

_PLAY = """
async () => {
  const main = () => document.querySelector(".video-main");
  const shown = new Set();
  const button = [...document.querySelectorAll(".transport button")].find((b) => b.textContent === "Play");
  button.click();
  const started = performance.now();
  while (performance.now() - started < 3000) {
    shown.add(main().dataset.shownFrame);
    await new Promise((r) => requestAnimationFrame(r));
  }
  return shown.size / ((performance.now() - started) / 1000);
}
"""


def _open(browser, platform, state: dict, file_id: str):  # noqa: ANN202
    context = browser.new_context(viewport=VIEWPORT, base_url=platform.api_url, storage_state=state)
    page = context.new_page()
    page.goto(f"/p/demo/files/{file_id}", wait_until="commit")
    opened = page.evaluate(_OPENED)
    return context, page, opened


def _frame_get_ms(platform, file_id: str, count: int = 50) -> float:
    """Median ms of one GET of a frame (frames 150.. in turn, so none is cached), through the API key."""
    creds = platform.credentials
    token = base64.b64encode(f"{creds['client_id']}:{creds['client_secret']}".encode()).decode()
    http = urllib3.PoolManager()
    samples = []
    for frame in range(150, 150 + count):
        started = time.perf_counter()
        answer = http.request(
            "GET",
            f"{platform.api_url}/api/v1/projects/{creds['project']}/files/{file_id}/frames/{frame}",
            headers={"Authorization": f"Basic {token}"},
        )
        assert answer.status == 200, answer.data
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def run() -> list[tuple[str, str, str]]:
    from annolake import Project
    from playwright.sync_api import sync_playwright

    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        platform = start_platform(Path(tmp) / "home", free_port(), free_port(), snapshot_seconds=24 * 3600)
        try:
            creds = platform.credentials
            video = make_square_video(Path(tmp) / "bench.mp4", frames=FRAMES, size=SIZE)
            project = Project(creds["project"], creds["client_id"], creds["client_secret"], platform.api_url)
            file_id = project.file.from_local(video, directory="video-bench", wait_s=300).id
            served = _frame_get_ms(platform, file_id)
            with sync_playwright() as playwright:
                browser, state = signed_in(playwright, platform)
                opens = []
                for _ in range(RUNS):
                    context, page, opened = _open(browser, platform, state, file_id)
                    opens.append(opened)
                    context.close()
                context, page, _ = _open(browser, platform, state, file_id)
                stepped = page.evaluate(_VISIT, [list(range(1, STEPS + 1)), "step"])
                far = random.Random(7).sample(range(STEPS + 20, FRAMES), STEPS)
                seeked = page.evaluate(_VISIT, [far, "seek"])
                page.evaluate("() => document.querySelector('input[aria-label=\"Frame\"]').blur()")
                page.keyboard.press("Home")
                fps = page.evaluate(_PLAY)
                context.close()
                browser.close()
        finally:
            platform.process.kill()
            platform.process.wait(timeout=60)
    rows += [
        (
            f"video editor: open a {FRAMES}-frame {SIZE[0]}x{SIZE[1]} video until frame 0 shows",
            f"{statistics.median(opens):.0f} ms",
            f"median of {RUNS}, fresh context",
        ),
        (
            f"video editor: step {STEPS} frames (next frame, each waited for)",
            f"{stepped:.0f} ms",
            f"{stepped / STEPS:.1f} ms a frame; prefetched ahead",
        ),
        (
            f"video editor: seek to {STEPS} frames far apart",
            f"{seeked:.0f} ms",
            f"{seeked / STEPS:.1f} ms a frame; {seeked / stepped:.2f}x stepping",
        ),
        (
            "video editor: frames shown per second while playing",
            f"{fps:.0f} fps",
            "the video has 30; headless Chromium, no GPU",
        ),
        (
            "frames endpoint: one frame's GET, one at a time (no browser)",
            f"{served:.1f} ms",
            f"median of 50; stepping costs {stepped / STEPS / served:.1f}x this a frame",
        ),
    ]
    return rows


if __name__ == "__main__":
    for name, value, note in run():
        print(f"{name:<75} {value:>10}  {note}")
