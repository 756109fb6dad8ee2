"""Small ONNX models built at test time with ``onnx.helper`` (no weights downloaded), one per supported format.

Each reads the image: its class scores come from the image's mean colour (red → class 0, green → class 1), so
what a run predicts depends on the pixels it was given. Boxes are fixed in the model's input pixels, so a
test can check that Annolake maps them back through the letterbox to the original image.
"""

from __future__ import annotations

import io

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

OPSET = 17
#: Boxes (x_min, y_min, x_max, y_max in input pixels of a 64-pixel input) the detectors output, in order.
BOXES_64 = np.array([[22.0, 27.0, 42.0, 37.0], [4.0, 20.0, 14.0, 44.0], [23.0, 28.0, 41.0, 36.0]], dtype=np.float32)
#: Colour → class-score weights: column c scores class c (0: red, 1: green).
COLOUR_WEIGHTS = np.array([[12.0, -12.0], [-12.0, 12.0], [0.0, 0.0]], dtype=np.float32)


def _serialize(graph: onnx.GraphProto) -> bytes:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _mean_colour_scores(nodes: list, inits: list, image: str, out: str, boxes: int) -> None:
    """``out``: 1×C×boxes sigmoid scores from the image's mean colour (the same for every box)."""
    inits.append(numpy_helper.from_array(COLOUR_WEIGHTS, "w"))
    inits.append(numpy_helper.from_array(np.array([-6.0, -6.0], dtype=np.float32), "b"))
    inits.append(numpy_helper.from_array(np.array([1, 2, 1], dtype=np.int64), "score_shape"))
    inits.append(numpy_helper.from_array(np.array([1, 1, boxes], dtype=np.int64), "tile"))
    nodes += [
        helper.make_node("ReduceMean", [image], ["mean"], axes=[-2, -1], keepdims=0),
        helper.make_node("MatMul", ["mean", "w"], ["logit0"]),
        helper.make_node("Add", ["logit0", "b"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["prob"]),
        helper.make_node("Reshape", ["prob", "score_shape"], ["prob3"]),
        helper.make_node("Tile", ["prob3", "tile"], [out]),
    ]


def yolo_detector(size: int = 64) -> bytes:
    """Input ``1×3×size×size``; output ``1×6×3``: cx, cy, w, h of ``BOXES_64`` (scaled to ``size``), then the
    scores of car and pedestrian. Boxes 0 and 2 overlap (IoU ≈ 0.72): NMS keeps one."""
    boxes = BOXES_64 * (size / 64)
    cxcywh = np.stack(
        [
            (boxes[:, 0] + boxes[:, 2]) / 2,
            (boxes[:, 1] + boxes[:, 3]) / 2,
            boxes[:, 2] - boxes[:, 0],
            boxes[:, 3] - boxes[:, 1],
        ]
    )[None].astype(np.float32)
    nodes: list = []
    inits = [numpy_helper.from_array(cxcywh, "boxes")]
    _mean_colour_scores(nodes, inits, "images", "scores", 3)
    nodes.append(helper.make_node("Concat", ["boxes", "scores"], ["output0"], axis=1))
    graph = helper.make_graph(
        nodes,
        "yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 6, 3])],
        inits,
    )
    return _serialize(graph)


def torchvision_detector() -> bytes:
    """Input ``3×H×W``; outputs boxes ``BOXES_64[:2]`` (input pixels), labels ``[0, 1]``, scores from colour."""
    nodes: list = []
    inits = [
        numpy_helper.from_array(BOXES_64[:2], "boxes_c"),
        numpy_helper.from_array(np.array([0, 1], dtype=np.int64), "labels_c"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "axis0"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "flat"),
    ]
    nodes += [
        helper.make_node("Unsqueeze", ["image", "axis0"], ["batched"]),
        helper.make_node("Identity", ["boxes_c"], ["boxes"]),
        helper.make_node("Identity", ["labels_c"], ["labels"]),
    ]
    _mean_colour_scores(nodes, inits, "batched", "scores3", 1)
    nodes.append(helper.make_node("Reshape", ["scores3", "flat"], ["scores"]))
    graph = helper.make_graph(
        nodes,
        "torchvision",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [3, "height", "width"])],
        [
            helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["n", 4]),
            helper.make_tensor_value_info("labels", TensorProto.INT64, ["n"]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["n"]),
        ],
        inits,
    )
    return _serialize(graph)


def classifier(size: int = 32, classes: int = 2) -> bytes:
    """Input ``1×3×size×size``; output ``1×classes`` logits from the mean colour."""
    weights = np.zeros((3, classes), dtype=np.float32)
    weights[:, :2] = COLOUR_WEIGHTS
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["mean"], axes=[-2, -1], keepdims=0),
        helper.make_node("MatMul", ["mean", "w"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "classifier",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes])],
        [numpy_helper.from_array(weights, "w")],
    )
    return _serialize(graph)


def png(width: int, height: int, colour: tuple[int, int, int], *, marker: int = 0) -> bytes:
    """A solid image; ``marker`` changes one pixel so images of one colour are distinct files."""
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[:] = colour
    pixels[0, 0] = (marker % 256, (marker // 256) % 256, 7)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()
