"""Invocations running at once in the local runtime's threads each log their own function's name and request."""

from __future__ import annotations

import io
import json
import logging
import threading

from infra.local import lambda_runtime


def test_concurrent_invocations_log_their_own_function():
    from annolake_service.shared.observability import logger

    written = io.StringIO()  # the logger's own formatter, on a stream of this test's (not the suite's stdout)
    handler = logging.StreamHandler(written)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    level = logger._logger.level
    logger._logger.setLevel(logging.INFO)  # whatever level the environment or an earlier test chose
    contexts = {
        who: lambda_runtime.LocalContext(
            function_name=f"{who}-function",
            memory_limit_in_mb=512,
            timeout_seconds=30,
            aws_request_id=f"{who}-request",
            invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{who}-function",
        )
        for who in ("first", "second")
    }
    answers = {}

    def invoke(who: str) -> None:
        answers[who] = lambda_runtime._run(
            "tests.support.logging_handlers.handler", {"who": who}, contexts[who], role=None
        )

    threads = [threading.Thread(target=invoke, args=(who,)) for who in contexts]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
    finally:
        logger._logger.removeHandler(handler)  # Powertools' Logger has addHandler but no removeHandler
        logger._logger.setLevel(level)
    assert {who: answer[1] for who, answer in answers.items()} == {"first": None, "second": None}

    lines = [json.loads(line) for line in written.getvalue().splitlines() if '"working"' in line]
    assert len(lines) == 2
    for line in lines:
        assert line["function_name"] == f"{line['who']}-function", line
        assert line["function_request_id"] == f"{line['who']}-request", line
