"""The two timestamp forms AWS answers with, read without ``dateutil``.

botocore reads every response timestamp with ``dateutil`` (~60 µs each): S3's ``Last-Modified`` on every
GetObject, each object's time in a listing. An HTTP date and a UTC ISO 8601 string (``Z`` or ``+00:00``, up to
six fractional digits) are read here in ~5 µs into the instant ``dateutil`` gives, as ``tzutc()``; for anything
else the caller falls back to botocore's parser."""

from __future__ import annotations

import calendar
import re
from datetime import datetime
from typing import Any

from dateutil.tz import tzutc  # type: ignore[import-untyped]

_HTTP_DATE = re.compile(r"[A-Z][a-z]{2}, (\d\d) ([A-Z][a-z]{2}) (\d{4}) (\d\d):(\d\d):(\d\d) GMT")
_UTC_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|\+00:00)")
_MONTHS = {name: n for n, name in enumerate(calendar.month_abbr) if name}
_UTC = tzutc()


def read_aws_timestamp(value: Any) -> datetime | None:
    """``value`` as botocore's parser reads it when it is an HTTP date or UTC ISO 8601; otherwise None."""
    if not isinstance(value, str):
        return None
    if found := _HTTP_DATE.fullmatch(value):
        day, month, year, hour, minute, second = found.groups()
        if month in _MONTHS:
            return datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=_UTC)
        return None
    if _UTC_ISO.fullmatch(value):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=_UTC)
    return None
