"""Videos made at test time with PyAV, each frame showing its own number as eight black/white bars (bit 7 on the
left), so a frame fetched back can be told apart from its neighbours after two lossy encodings."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

BARS = 8
CODECS = {"mp4": "libx264", "mov": "libx264", "mkv": "libx264", "webm": "libvpx"}


def frame_pattern(number: int, width: int, height: int) -> np.ndarray:
    """An RGB picture of ``number`` (0..255): bar ``i`` is white when bit ``7 - i`` is set."""
    picture = np.zeros((height, width, 3), dtype=np.uint8)
    bar = width // BARS
    for i in range(BARS):
        if number >> (BARS - 1 - i) & 1:
            picture[:, i * bar : (i + 1) * bar] = 255
    return picture


def read_pattern(picture: np.ndarray) -> int:
    """The number a decoded picture shows (the inverse of ``frame_pattern``)."""
    grey = picture.mean(axis=2) if picture.ndim == 3 else picture
    bar = grey.shape[1] // BARS
    number = 0
    for i in range(BARS):
        middle = grey[:, i * bar + bar // 4 : (i + 1) * bar - bar // 4]
        number = number << 1 | int(middle.mean() > 128)
    return number


def make_video(
    path: Path,
    *,
    frames: int = 40,
    rate: Fraction = Fraction(30),
    size: tuple[int, int] = (128, 48),
    start_s: Fraction = Fraction(0),
    intervals_ms: Sequence[int] | None = None,
    patterned: bool = True,
    crf: int = 18,
    gop: int | None = None,
    bframes: int = 0,
) -> Path:
    """Encode ``frames`` frames at ``rate`` (or, given ``intervals_ms``, with those gaps between frames: a variable
    frame rate), the first presented at ``start_s``. The container follows the file's extension. ``gop``: a
    keyframe every that many frames (the encoder's default when None); ``bframes``: B-frames (H.264 only)."""
    suffix = path.suffix.lstrip(".")
    width, height = size
    time_base = Fraction(1, 1000) if intervals_ms is not None else 1 / rate
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(CODECS[suffix], rate=rate if intervals_ms is None else None)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = time_base
        if gop is not None:
            stream.codec_context.gop_size = gop
        if CODECS[suffix] == "libx264":
            stream.codec_context.options = {"preset": "ultrafast", "crf": str(crf), "bf": str(bframes)}
        start = int(start_s / time_base)
        pts = start
        for number in range(frames):
            picture = frame_pattern(number % 256, width, height) if patterned else _noise(number, width, height)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = pts, time_base
            for packet in stream.encode(frame):
                container.mux(packet)
            pts += intervals_ms[number % len(intervals_ms)] if intervals_ms is not None else 1
        for packet in stream.encode():
            container.mux(packet)
    return path


def _noise(number: int, width: int, height: int) -> np.ndarray:
    """A textured scene panning 4 px a frame: closer to camera footage than flat bars (for storage figures)."""
    y, x = np.mgrid[0:height, 0:width]
    coarse = np.random.default_rng(0).integers(0, 48, size=(height // 8 + 1, width // 8 + 1), dtype=np.int64)
    texture = coarse.repeat(8, axis=0).repeat(8, axis=1)[:height, :width]
    scene = ((x // 3 + y // 5) % 200 + texture) % 256
    channel = np.roll(scene, number * 4, axis=1).astype(np.uint8)
    return np.stack([channel, channel[:, ::-1], np.roll(channel, number * 2, axis=0)], axis=2)


def decoded_frames(path: Path) -> list[tuple[int, Fraction]]:
    """(pts, time base) of every frame PyAV decodes from ``path``, in presentation order: the reference."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [(frame.pts, Fraction(stream.time_base)) for frame in container.decode(stream)]


def square_at(number: int, *, start: tuple[int, int] = (20, 60), step: tuple[int, int] = (2, 1)) -> tuple[int, int]:
    """Where ``make_square_video``'s square's top-left corner is on frame ``number``."""
    return start[0] + step[0] * number, start[1] + step[1] * number


def make_square_video(
    path: Path, *, frames: int = 120, size: tuple[int, int] = (320, 240), side: int = 60, rate: int = 30
) -> Path:
    """A grey scene with an orange ``side``-px square moving 2 px right and 1 px down a frame (``square_at``)."""
    width, height = size
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.options = {"preset": "ultrafast", "crf": "23", "bf": "0"}
        for number in range(frames):
            picture = np.full((height, width, 3), 200, dtype=np.uint8)
            x, y = square_at(number)
            picture[max(0, y) : min(height, y + side), max(0, x) : min(width, x + side)] = (255, 120, 0)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
