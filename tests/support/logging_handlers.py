"""A Lambda handler that logs while another invocation of it runs (the local runtime's log keys, tested in
``tests/local/test_lambda_log_context.py``)."""

from __future__ import annotations

import threading
from typing import Any

from annolake_service.shared.observability import logger

both_started = threading.Barrier(2, timeout=10)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    both_started.wait()  # the other invocation has put its context on the logger by now
    logger.warning("working", extra={"who": event["who"]})  # a warning: whatever level the suite left set
    return {"who": event["who"]}
