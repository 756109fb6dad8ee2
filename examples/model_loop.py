"""The model loop on the local platform, offline: train a small detector on the demo data streamed through the SDK,
export it to ONNX, register it, predict the dataset, evaluate the run against the human boxes and send the files
it disagrees with most to review.

    make up                                   # in another terminal
    .venv/bin/python examples/model_loop.py   # ~1 minute of training on the CPU; --steps 40 for a quick look

The demo's boxes came from a generator (``source: "model"``), and an evaluation compares a run with the human
boxes only, so the script first imports the demo files with their boxes as human annotations into a dataset of
its own (``--dataset``, once: a later run reuses it). Needs torch (``pip install './sdk[torch]'``) and onnx for
the export; nothing is downloaded. Credentials are found as the SDK finds them (``.annolake/credentials.json``,
or ``ANNOLAKE_*``), or given with ``--host``, ``--project``, ``--client-id`` and ``--client-secret``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from annolake import Project
from PIL import Image

SIZE, GRID = 128, 8  # the model's square input, and the grid of cells that each predict one box
STRIDE = SIZE // GRID
GREY = 114  # the letterbox fill the yolo format expects


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", help="the API, e.g. http://127.0.0.1:8000")
    parser.add_argument("--project", help="the project's string id (demo)")
    parser.add_argument("--client-id")
    parser.add_argument("--client-secret")
    parser.add_argument("--source", default="default", help="the dataset to learn from (the demo's)")
    parser.add_argument("--dataset", default="model-loop", help="where the human-checked copy goes")
    parser.add_argument("--model", default="loop-det", help="the model's name (each run adds a version)")
    parser.add_argument("--steps", type=int, default=600, help="training batches (600: about a minute)")
    parser.add_argument("--review", type=int, default=5, help="how many of the worst files to send to review")
    return parser.parse_args(argv)


def letterbox(pixels: np.ndarray) -> tuple[np.ndarray, float, int, int]:
    """As Annolake prepares a yolo input: longer side to SIZE, centred on grey; (square, scale, left, top)."""
    height, width = pixels.shape[:2]
    scale = min(SIZE / width, SIZE / height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = np.asarray(Image.fromarray(pixels).resize((new_w, new_h), Image.Resampling.BILINEAR))
    left, top = (SIZE - new_w) // 2, (SIZE - new_h) // 2
    square = np.full((SIZE, SIZE, 3), GREY, dtype=np.uint8)
    square[top : top + new_h, left : left + new_w] = resized
    return square, scale, left, top


def copy_as_human(project: Project, source: str, target: str) -> int:
    """Import ``source``'s files with their boxes as human annotations into ``target`` (unless it has files)."""
    if any(d.name == target and d.file_count() > 0 for d in project.directory.list()):
        return 0
    samples = project.directory.get(source).to_pytorch(decode=False)
    with tempfile.TemporaryDirectory() as folder:
        images = Path(folder) / "images"
        images.mkdir()
        labels = sorted({b["name"] for i in range(len(samples)) for b in _boxes(samples[i])})
        coco: dict[str, Any] = {"images": [], "annotations": [], "categories": []}
        coco["categories"] = [{"id": n + 1, "name": name} for n, name in enumerate(labels)]
        for index in range(len(samples)):
            sample = samples[index]
            name = sample["file"]["name"]
            (images / name).write_bytes(sample["image_bytes"])
            coco["images"].append(
                {
                    "id": index + 1,
                    "file_name": name,
                    "width": sample["file"]["width"],
                    "height": sample["file"]["height"],
                }
            )
            for box in _boxes(sample):
                w, h = box["x_max"] - box["x_min"], box["y_max"] - box["y_min"]
                coco["annotations"].append(
                    {
                        "id": len(coco["annotations"]) + 1,
                        "image_id": index + 1,
                        "category_id": labels.index(box["name"]) + 1,
                        "bbox": [box["x_min"], box["y_min"], w, h],
                        "area": w * h,
                        "iscrowd": 0,
                    }
                )
        manifest = Path(folder) / "instances.json"
        manifest.write_text(json.dumps(coco))
        project.import_coco(manifest, directory=target, progress=False)
    return len(samples)


def _boxes(sample: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in sample["instance_list"] if i.get("type") == "box"]


def build_model(classes: int) -> Any:
    import torch
    from torch import nn

    class Detector(nn.Module):
        """Per grid cell: the centre's offset in the cell, the box's size and one score per class; ``forward``
        gives the Ultralytics layout 1×(4+C)×cells in input pixels, so Annolake's yolo decoding applies."""

        cells: torch.Tensor  # each cell's (column, row), a buffer: exported as a constant

        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(32, 32, 3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(64, 4 + classes, 1),
            )  # fmt: skip
            ys, xs = torch.meshgrid(torch.arange(GRID), torch.arange(GRID), indexing="ij")
            self.register_buffer("cells", torch.stack([xs, ys]).float().reshape(1, 2, -1))

        def raw(self, images: torch.Tensor) -> torch.Tensor:
            return self.body(images).flatten(2)

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            out = self.raw(images)
            centre = (self.cells + torch.sigmoid(out[:, :2])) * STRIDE
            size = torch.sigmoid(out[:, 2:4]) * SIZE
            return torch.cat([centre, size, torch.sigmoid(out[:, 4:])], dim=1)

    return Detector()


def train(project: Project, dataset: str, steps: int, onnx_path: Path) -> list[str]:
    """Train on the dataset streamed through the SDK (epoch after epoch, reshuffled) and export it to
    ``onnx_path``; the model's classes (the project's labels, in the order the stream numbers them)."""
    import torch
    from annolake.torch_data import detection_collate
    from torch import nn
    from torch.utils.data import DataLoader

    torch.manual_seed(0)
    stream = project.directory.get(dataset).to_pytorch(streaming=True, shuffle=True, seed=0)
    label_ids = stream.slice.label_ids
    labels = sorted(label_ids, key=label_ids.__getitem__)
    model = build_model(len(labels))
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    loader = DataLoader(stream, batch_size=8, collate_fn=detection_collate)
    step, epoch, started = 0, 0, time.monotonic()
    while step < steps:
        stream.set_epoch(epoch)
        for batch in loader:
            images, cls_target, box_target, mask = _targets(batch, len(labels))
            raw = model.raw(images)
            cls_loss = nn.functional.binary_cross_entropy_with_logits(raw[:, 4:], cls_target)
            box_loss = (torch.sigmoid(raw[:, :4]) - box_target).abs().sum(1).mul(mask).sum() / mask.sum().clamp(min=1)
            loss = cls_loss * 10 + box_loss
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            step += 1
            if step % 100 == 0 or step == steps:
                print(f"step {step}/{steps}: loss {loss.item():.3f} ({time.monotonic() - started:.0f} s)")
            if step == steps:
                break
        epoch += 1
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter: no onnxscript needed
        torch.onnx.export(
            model,
            (torch.zeros(1, 3, SIZE, SIZE),),
            str(onnx_path),
            dynamo=False,
            input_names=["images"],
            output_names=["output0"],
            opset_version=17,
        )
    return labels


def _targets(batch: dict[str, Any], classes: int) -> tuple[Any, Any, Any, Any]:
    """Letterboxed images and, per cell holding a box's centre, its class and box (the last box wins a cell)."""
    import torch

    count = len(batch["images"])
    cls_target = torch.zeros(count, classes, GRID * GRID)
    box_target = torch.zeros(count, 4, GRID * GRID)
    mask = torch.zeros(count, GRID * GRID)
    images = []
    for b, (image, boxes, ids) in enumerate(zip(batch["images"], batch["boxes"], batch["labels"], strict=True)):
        square, scale, left, top = letterbox(image.permute(1, 2, 0).numpy())
        images.append(torch.from_numpy(square).permute(2, 0, 1).float() / 255)
        for (x0, y0, x1, y1), label in zip(boxes.tolist(), ids.tolist(), strict=True):
            x0, x1 = x0 * scale + left, x1 * scale + left
            y0, y1 = y0 * scale + top, y1 * scale + top
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            cell = min(int(cy // STRIDE), GRID - 1) * GRID + min(int(cx // STRIDE), GRID - 1)
            cls_target[b, :, cell] = 0
            cls_target[b, label, cell] = 1
            box_target[b, :, cell] = torch.tensor(
                [cx / STRIDE % 1, cy / STRIDE % 1, (x1 - x0) / SIZE, (y1 - y0) / SIZE]
            )
            mask[b, cell] = 1
    return torch.stack(images), cls_target, box_target, mask


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    project = Project(args.project, client_id=args.client_id, client_secret=args.client_secret, host=args.host)
    copied = copy_as_human(project, args.source, args.dataset)
    print(
        f"dataset {args.dataset!r}: {copied} files imported with human boxes" if copied else f"reusing {args.dataset!r}"
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "detector.onnx"
        labels = train(project, args.dataset, args.steps, path)
        model = project.model.new(
            args.model, path=path, host="onnx", format="yolo", input_size=SIZE, labels=labels, score_threshold=0.3
        )
    print(f"registered {args.model} v{model.version}: {model.info['status']}")
    run = model.predict(args.dataset)
    run.wait(progress=False)
    status = run.status()
    print(f"run {run.run_id}: {status['status']}, {status['done']} files predicted")
    report = run.evaluate(iou=0.5)
    print(f"mAP@0.5 {report['mean_ap']}; per class {report['per_class_ap']}; totals {report['totals']}")
    worst = run.evaluation_files(limit=args.review)
    for f in worst:
        print(f"  {f['file_id']}: disagreement {f['disagreement']:.2f} (fp {f['fp']}, fn {f['fn']})")
    review = run.send_to_review(top=args.review) if any(f["disagreement"] > 0 for f in worst) else None
    if review:
        print(f"review job {review['job_id']} over {len(review['file_ids'])} files (dataset {review['dataset']!r})")
    return {"labels": labels, "run": status, "evaluation": report, "worst": worst, "review": review}


if __name__ == "__main__":
    main()
