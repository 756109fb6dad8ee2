"""A detector with YOLOv8n's layout and compute (about 8.7 GFLOPs at 640×640), random weights, exported with
``torch.onnx`` in the yolo layout (``1×(4+C)×8400``: centre x, centre y, width, height in input pixels, then the
class scores), for benchmarks that need a model whose cost per image is that of a real small detector.

Built here from torch layers (Conv-BN-SiLU, C2f, SPPF, an FPN/PAN neck, a decoupled head with DFL), nothing is
downloaded. The class logits start at Ultralytics' prior (-4.6, about 1% score), so few boxes pass a usual
threshold and NMS costs what it costs on a quiet image.
"""

from __future__ import annotations

import io
import math
import random

import numpy as np
from PIL import Image

SIZE = 640
STRIDES = (8, 16, 32)
REG_MAX = 16


def build(classes: int = 2, size: int = SIZE, seed: int = 0) -> tuple[bytes, float]:
    """(the ONNX bytes, GFLOPs of one forward pass at ``size``, as torch counts them)."""
    import torch
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(seed)

    class Conv(nn.Sequential):
        def __init__(self, c_in: int, c_out: int, k: int = 1, s: int = 1) -> None:
            super().__init__(nn.Conv2d(c_in, c_out, k, s, k // 2, bias=False), nn.BatchNorm2d(c_out), nn.SiLU())

    class Bottleneck(nn.Module):
        def __init__(self, c: int, shortcut: bool) -> None:
            super().__init__()
            self.cv1, self.cv2, self.add = Conv(c, c, 3), Conv(c, c, 3), shortcut

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.cv2(self.cv1(x))
            return x + y if self.add else y

    class C2f(nn.Module):
        def __init__(self, c_in: int, c_out: int, n: int, shortcut: bool) -> None:
            super().__init__()
            self.c = c_out // 2
            self.cv1 = Conv(c_in, 2 * self.c)
            self.cv2 = Conv((2 + n) * self.c, c_out)
            self.m = nn.ModuleList(Bottleneck(self.c, shortcut) for _ in range(n))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = list(self.cv1(x).chunk(2, 1))
            for m in self.m:
                y.append(m(y[-1]))
            return self.cv2(torch.cat(y, 1))

    class SPPF(nn.Module):
        def __init__(self, c_in: int, c_out: int) -> None:
            super().__init__()
            self.cv1, self.cv2 = Conv(c_in, c_in // 2), Conv(c_in * 2, c_out)
            self.pool = nn.MaxPool2d(5, 1, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = [self.cv1(x)]
            for _ in range(3):
                y.append(self.pool(y[-1]))
            return self.cv2(torch.cat(y, 1))

    class Detector(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.b1 = nn.Sequential(Conv(3, 16, 3, 2), Conv(16, 32, 3, 2), C2f(32, 32, 1, True))
            self.b2 = nn.Sequential(Conv(32, 64, 3, 2), C2f(64, 64, 2, True))  # P3/8
            self.b3 = nn.Sequential(Conv(64, 128, 3, 2), C2f(128, 128, 2, True))  # P4/16
            self.b4 = nn.Sequential(Conv(128, 256, 3, 2), C2f(256, 256, 1, True), SPPF(256, 256))  # P5/32
            self.up = nn.Upsample(scale_factor=2, mode="nearest")
            self.n1, self.n2 = C2f(384, 128, 1, False), C2f(192, 64, 1, False)
            self.d1, self.n3 = Conv(64, 64, 3, 2), C2f(192, 128, 1, False)
            self.d2, self.n4 = Conv(128, 128, 3, 2), C2f(384, 256, 1, False)
            self.box = nn.ModuleList(
                nn.Sequential(Conv(c, 64, 3), Conv(64, 64, 3), nn.Conv2d(64, 4 * REG_MAX, 1)) for c in (64, 128, 256)
            )
            self.cls = nn.ModuleList(
                nn.Sequential(Conv(c, 64, 3), Conv(64, 64, 3), nn.Conv2d(64, classes, 1)) for c in (64, 128, 256)
            )
            for head in self.cls:
                nn.init.constant_(head[-1].bias, -math.log((1 - 0.01) / 0.01))
            anchors, strides = [], []
            for stride in STRIDES:
                cells = size // stride
                ys, xs = torch.meshgrid(torch.arange(cells), torch.arange(cells), indexing="ij")
                anchors.append(torch.stack([xs, ys]).float().reshape(2, -1) + 0.5)
                strides.append(torch.full((1, cells * cells), float(stride)))
            self.register_buffer("anchors", torch.cat(anchors, 1)[None])
            self.register_buffer("strides", torch.cat(strides, 1)[None])
            self.register_buffer("bins", torch.arange(REG_MAX).float().reshape(1, REG_MAX, 1, 1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            p3 = self.b2(self.b1(x))
            p4 = self.b3(p3)
            p5 = self.b4(p4)
            n4 = self.n1(torch.cat([self.up(p5), p4], 1))
            out3 = self.n2(torch.cat([self.up(n4), p3], 1))
            out4 = self.n3(torch.cat([self.d1(out3), n4], 1))
            out5 = self.n4(torch.cat([self.d2(out4), p5], 1))
            batch = x.shape[0]
            box = torch.cat([h(o).flatten(2) for h, o in zip(self.box, (out3, out4, out5), strict=True)], 2)
            cls = torch.cat([h(o).flatten(2) for h, o in zip(self.cls, (out3, out4, out5), strict=True)], 2)
            # DFL: each side's distance is the expectation over REG_MAX bins
            dist = (box.view(batch, 4, REG_MAX, -1).softmax(2) * self.bins.view(1, 1, REG_MAX, 1)).sum(2)
            lt, rb = dist.chunk(2, 1)
            centre = self.anchors + (rb - lt) / 2
            wh = lt + rb
            return torch.cat([centre * self.strides, wh * self.strides, cls.sigmoid()], 1)

    model = Detector().eval()
    example = torch.zeros(1, 3, size, size)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(example)
    buffer = io.BytesIO()
    torch.onnx.export(
        model, example, buffer, dynamo=False, input_names=["images"], output_names=["output0"], opset_version=17
    )
    return buffer.getvalue(), counter.get_total_flops() / 1e9


def photo_like(seed: int, width: int = 640, height: int = 480) -> bytes:
    """A ``width``×``height`` JPEG (quality 90) of smooth noise with a few coloured rectangles."""
    rng = random.Random(seed)
    small = np.random.default_rng(seed).integers(0, 255, (height // 16, width // 16, 3), dtype=np.uint8)
    pixels = np.array(Image.fromarray(small).resize((width, height), Image.Resampling.BILINEAR))
    for _ in range(rng.randint(1, 5)):
        w, h = rng.randint(20, 200), rng.randint(20, 200)
        x, y = rng.randint(0, width - w), rng.randint(0, height - h)
        pixels[y : y + h, x : x + w] = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()
