"""The model function: the prediction state machine's chunk and evaluation steps, and the API's synchronous
check of a model file.

Its layer is the model layer alone (layers/build.py: onnxruntime, numpy, pycocotools and the service's
dependencies but the API's and the query index's), so this module imports only ``services.inference``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from annolake_service.services import inference
from annolake_service.shared.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
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
            evaluation_id=event.get("evaluation_id"),
        )
    return inference.predict_chunk(event["project_id"], event["run_id"], event["chunk_key"])
