"""Timestamps in UTC read without ``dateutil``, on both sides of the emulator.

moto's answer serializer turns every timestamp it writes into a ``datetime`` with botocore's general parser,
which hands strings to ``dateutil`` (~60 µs each), and the handlers' botocore parses each one back the same way:
an S3 listing of the query index's files paid that twice per object, the largest part of its cost. moto keeps
S3 times as ``2026-01-31T12:00:00.000Z``; such a string, or an HTTP date, is read by the service's own reader
(``annolake_service.shared.timestamps``) into the instant ``dateutil`` gives, as ``tzutc()`` (``dateutil`` says
``tzlocal()`` where the machine's zone is UTC); anything else, numbers and ``datetime`` objects included, takes
botocore's parser as before. The botocore side covers response parsers made
after ``install`` in this process (the handlers' and the Step Functions engine's clients).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from annolake_service.shared.timestamps import read_aws_timestamp

from infra.local.moto_patches.patching import replace


def utc_iso_first(parse: Callable[[Any], datetime]) -> Callable[[Any], datetime]:
    """``parse``, with the common UTC forms read directly."""

    def parse_timestamp(value: Any) -> datetime:
        found = read_aws_timestamp(value)
        return parse(value) if found is None else found

    return parse_timestamp


def fast_utc_timestamps() -> None:
    import botocore.parsers
    import moto.core.serialize

    replace(moto.core.serialize, "parse_to_aware_datetime", "utc-iso", utc_iso_first)
    replace(botocore.parsers, "DEFAULT_TIMESTAMP_PARSER", "utc-iso", utc_iso_first)
