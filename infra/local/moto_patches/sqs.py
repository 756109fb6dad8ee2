"""moto's SQS: queue attribute names converted once."""

from __future__ import annotations

import functools
from collections.abc import Callable

from infra.local.moto_patches.patching import replace


def queue_attribute_names_converted_once() -> None:
    """moto's SQS answers a queue's attributes by converting each attribute name from CamelCase with a chain of
    regular expressions, and asks for them on every message sent (its retention check) and received: 17,000
    conversions a minute of the workflow bench, a twentieth of the emulator's CPU. The names are a fixed set,
    so each conversion is remembered."""
    import moto.sqs.models as sqs_models

    def remembered(convert: Callable[[str], str]) -> Callable[[str], str]:
        return functools.lru_cache(maxsize=1024)(convert)

    replace(sqs_models, "camelcase_to_underscores", "remembered", remembered)
