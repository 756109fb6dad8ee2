"""The prediction state machine's steps and the model function. Each parses its input and calls one service.

``model_handler`` is the function with onnxruntime in its layer: the Map's chunk step, and the API's
synchronous calls (check a model file, evaluate a run). The other steps need no model runtime.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from annolake_service.services import predictions
from annolake_service.shared.observability import logger


@logger.inject_lambda_context
def plan_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return predictions.plan(event["project_id"], event["run_id"])


@logger.inject_lambda_context
def model_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from annolake_service.services import inference  # numpy and onnxruntime: only in this function's layer

    action = event.get("action", "predict")
    if action == "check":
        return inference.check_model_file(event["project_id"], event["name"], int(event["version"]))
    if action == "evaluate":
        return inference.evaluate_run(
            event["project_id"],
            event["run_id"],
            iou=float(event["iou"]),
            score_threshold=float(event["score_threshold"]),
            fn_weight=float(event["fn_weight"]),
        )
    return inference.predict_chunk(event["project_id"], event["run_id"], event["chunk_key"])


@logger.inject_lambda_context
def finish_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return predictions.finish(event["project_id"], event["run_id"])


@logger.inject_lambda_context
def fail_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return predictions.fail(event["project_id"], event["run_id"], event.get("error") or {})
