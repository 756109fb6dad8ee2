"""What every state machine step does with the error it ends with (see ``adapters.aws_clients.described``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from annolake_service.adapters.aws_clients import described

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
