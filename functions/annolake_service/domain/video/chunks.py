"""The stored frame format: ``CHUNK_FRAMES`` consecutive frames as JPEG in one object (a chunk).

A chunk is a header (magic, frame count, and count+1 little-endian uint32 byte offsets from the chunk's start)
followed by the JPEGs back to back. Frame ``n`` is in chunk ``n // CHUNK_FRAMES``: one ranged read of the fixed
size header and one of the frame's bytes, or one read of the whole chunk for a loader that wants all of them.
"""

from __future__ import annotations

import struct

MAGIC = b"ALFC"
CHUNK_FRAMES = 32


def header_size(frames: int = CHUNK_FRAMES) -> int:
    return len(MAGIC) + 4 + 4 * (frames + 1)


def chunk_of(frame: int, chunk_frames: int = CHUNK_FRAMES) -> tuple[int, int]:
    """(chunk number, position in the chunk) of frame ``frame``."""
    return divmod(frame, chunk_frames)


def pack(jpegs: list[bytes]) -> bytes:
    """One chunk of frames; the header is sized for ``len(jpegs)`` (the last chunk may hold fewer)."""
    start = header_size(len(jpegs))
    offsets = [start]
    for jpeg in jpegs:
        offsets.append(offsets[-1] + len(jpeg))
    header = MAGIC + struct.pack(f"<I{len(offsets)}I", len(jpegs), *offsets)
    return header + b"".join(jpegs)


def frame_range(header: bytes, position: int) -> tuple[int, int]:
    """Byte range ``first ..= last`` of the frame at ``position``, read from (at least) the chunk's header."""
    if header[: len(MAGIC)] != MAGIC:
        raise ValueError("not a frame chunk")
    (count,) = struct.unpack_from("<I", header, len(MAGIC))
    if not 0 <= position < count:
        raise IndexError(f"the chunk holds {count} frames; there is no frame at position {position}")
    first, end = struct.unpack_from("<2I", header, len(MAGIC) + 4 + 4 * position)
    return first, end - 1


def unpack(chunk: bytes) -> list[bytes]:
    """Every frame of a chunk (a loader's read)."""
    (count,) = struct.unpack_from("<I", chunk, len(MAGIC))
    offsets = struct.unpack_from(f"<{count + 1}I", chunk, len(MAGIC) + 4)
    return [chunk[a:b] for a, b in zip(offsets, offsets[1:], strict=False)]
