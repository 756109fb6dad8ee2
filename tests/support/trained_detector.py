"""A small detector trained at test time on synthetic images and exported with ``torch.onnx`` in the yolo layout.

Images are 64×64 noise with one square: red is a car, green a pedestrian. The network predicts, for each cell of
an 8×8 grid, the object's centre offset and size and two class scores; its forward pass turns them into the
Ultralytics layout ``1×6×64`` (centre x, centre y, width, height in input pixels, then the class scores), so
Annolake's yolo post-processing (threshold, NMS, letterbox inverse) applies as it does to a real export.
"""

from __future__ import annotations

import hashlib
import io
import random
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

SIZE, GRID = 64, 8
STRIDE = SIZE // GRID
COLOURS = {0: (220, 30, 30), 1: (30, 220, 30)}


def synthetic(seed: int) -> tuple[np.ndarray, int, tuple[float, float, float, float]]:
    """(H×W×3 uint8 image, class, (x_min, y_min, x_max, y_max))."""
    rng = random.Random(seed)
    pixels = np.random.default_rng(seed).integers(0, 80, (SIZE, SIZE, 3), dtype=np.uint8)
    side = rng.randint(10, 24)
    x, y = rng.randint(0, SIZE - side), rng.randint(0, SIZE - side)
    label = rng.randint(0, 1)
    pixels[y : y + side, x : x + side] = COLOURS[label]
    return pixels, label, (float(x), float(y), float(x + side), float(y + side))


def jpeg(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def train_and_export(steps: int = 300, seed: int = 0) -> bytes:
    """Train for ``steps`` batches of 32 on the CPU; the ONNX bytes."""
    import torch
    from torch import nn

    torch.manual_seed(seed)

    class Detector(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(32, 32, 3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(32, 6, 1),
            )  # fmt: skip
            ys, xs = torch.meshgrid(torch.arange(GRID), torch.arange(GRID), indexing="ij")
            self.register_buffer("cells", torch.stack([xs, ys]).float().reshape(1, 2, -1))

        def raw(self, images: torch.Tensor) -> torch.Tensor:
            return self.body(images).flatten(2)  # B×6×64

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            out = self.raw(images)
            centre = (self.cells + torch.sigmoid(out[:, :2])) * STRIDE
            size = torch.sigmoid(out[:, 2:4]) * SIZE
            return torch.cat([centre, size, torch.sigmoid(out[:, 4:])], dim=1)

    model = Detector()
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    batch_seed = 10_000
    for _ in range(steps):
        images, cls_target, box_target, mask = (
            [],
            torch.zeros(32, 2, GRID * GRID),
            torch.zeros(32, 4, GRID * GRID),
            torch.zeros(32, GRID * GRID),
        )
        for b in range(32):
            pixels, label, (x0, y0, x1, y1) = synthetic(batch_seed)
            batch_seed += 1
            images.append(torch.from_numpy(pixels).permute(2, 0, 1).float() / 255)
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            cell = int(cy // STRIDE) * GRID + int(cx // STRIDE)
            cls_target[b, label, cell] = 1
            box_target[b, :, cell] = torch.tensor(
                [cx / STRIDE % 1, cy / STRIDE % 1, (x1 - x0) / SIZE, (y1 - y0) / SIZE]
            )
            mask[b, cell] = 1
        raw = model.raw(torch.stack(images))
        cls_loss = nn.functional.binary_cross_entropy_with_logits(raw[:, 4:], cls_target)
        box_loss = (torch.sigmoid(raw[:, :4]) - box_target).abs().sum(1).mul(mask).sum() / mask.sum()
        loss = cls_loss * 10 + box_loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    buffer = io.BytesIO()
    torch.onnx.export(
        model,
        torch.zeros(1, 3, SIZE, SIZE),
        buffer,
        dynamo=False,
        input_names=["images"],
        output_names=["output0"],
        opset_version=17,
    )
    return buffer.getvalue()


def cached_train_and_export(steps: int = 300, seed: int = 0) -> tuple[bytes, bool]:
    """``train_and_export``, kept in the temp folder under a hash of this module's code and the arguments, so a
    second bench run reuses it; (the ONNX bytes, whether they came from the cache)."""
    import torch

    code = Path(__file__).read_bytes()
    digest = hashlib.sha256(code + f"{steps}:{seed}:{torch.__version__}".encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / "annolake-trained-detector" / f"{digest}.onnx"
    if path.exists():
        return path.read_bytes(), True
    body = train_and_export(steps=steps, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(body)
    partial.replace(path)
    return body, False
