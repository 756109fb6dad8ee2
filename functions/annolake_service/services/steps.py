"""What every state machine step does with the error it ends with (see ``adapters.aws_clients.described``)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

from annolake_service.adapters.aws_clients import TransientError, described

Handler = TypeVar("Handler", bound=Callable[..., Any])


def step(handler: Handler) -> Handler:
    """A step whose AWS failures are retried by its state machine when they may pass, and named when not."""

    @functools.wraps(handler)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except Exception as error:
            better = described(error)
            if better is error:
                raise
            raise better from error

    return run  # type: ignore[return-value]


def caught(error: Exception) -> dict[str, str]:
    """An item's failure inside a step that handles many, as a Catch would hand it to the next state
    (``{"Error", "Cause"}``); a failure that may pass is raised instead, so the whole step is retried."""
    better = described(error)
    if isinstance(better, TransientError):
        raise better from error
    return {"Error": type(better).__name__, "Cause": json.dumps({"errorMessage": str(better)})}
