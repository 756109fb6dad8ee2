"""onnxruntime sessions (CPU), one per model file kept while the function stays warm."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import onnxruntime as ort

from annolake_service.adapters import storage
from annolake_service.domain.models import MAX_MODEL_BYTES, TensorInfo
from annolake_service.shared.settings import get_settings


class ModelUnreadable(ValueError):
    """The file is not an ONNX graph onnxruntime can load."""


def session_from_bytes(body: bytes) -> ort.InferenceSession:
    """A CPU session whose intra-op threads sleep between calls instead of spinning: between two images the model
    function reads, decodes and records (and several chunks share the cores locally), so a spinning pool burnt a
    core for the whole gap, several times the CPU a small model's run costs."""
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(body, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors for any bad file
        raise ModelUnreadable(f"onnxruntime cannot load the file as an ONNX model: {exc}") from None


@lru_cache(maxsize=4)
def session(object_key: str) -> ort.InferenceSession:
    """The session of the model stored at ``object_key`` (versions are immutable, so the key is the cache key)."""
    body = storage.read_object(get_settings().media_bucket, object_key, max_bytes=MAX_MODEL_BYTES).body
    return session_from_bytes(body)


def signature(model: ort.InferenceSession) -> tuple[list[TensorInfo], list[TensorInfo]]:
    def info(arg: Any) -> TensorInfo:
        return TensorInfo(arg.name, tuple(arg.shape), arg.type)

    return [info(i) for i in model.get_inputs()], [info(o) for o in model.get_outputs()]
