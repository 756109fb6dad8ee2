"""A model the user hosts, for the tests of ``host="http"`` and ``host="lambda"``: it downloads each image from
its presigned URL and answers from its colour (red files hold cars, green ones persons: the project's
pedestrians), as ``tests/support/model_platform.py`` seeds them."""

from __future__ import annotations

import io
from typing import Any

from annolake.model_server import ModelImage, lambda_handler
from PIL import Image

CLASSES = ["car", "person"]
BOXES = [(22.0, 27.0, 42.0, 37.0, 0.93), (4.0, 20.0, 14.0, 44.0, 0.61)]


def predict(images: list[ModelImage]) -> list[list[dict[str, Any]]]:
    answers = []
    for image in images:
        with Image.open(io.BytesIO(image.read())) as opened:
            red, green, _ = opened.convert("RGB").resize((1, 1)).getpixel((0, 0))
        label = "car" if red > green else "person"
        answers.append(
            [
                {"type": "box", "label": label, "score": score, "x_min": x0, "y_min": y0, "x_max": x1, "y_max": y1}
                for x0, y0, x1, y1, score in BOXES
            ]
        )
    return answers


handler = lambda_handler(predict)  # the Lambda function's handler: tests.support.hosted_model.handler
