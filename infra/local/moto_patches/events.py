"""S3 event records with a sequencer and one event per multipart upload, and EventBridge's parsed JSONPaths reused."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from infra.local.moto_patches.patching import replace


def s3_events_carry_a_sequencer() -> None:
    """An S3 event record's ``sequencer`` orders the events of one key and tells a new PUT of the same bytes
    from a redelivery of the old event. moto's records to Lambda have none, so dropping a file again under its
    key (the re-drive after an outage quarantined it) was taken for the first event delivered twice."""
    import itertools
    import time

    from moto.s3 import notifications

    issued = itertools.count(1)
    lock = threading.Lock()

    def sequenced(get_event: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        def _get_s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
            event = get_event(event_name, bucket, key, notification_id)
            with lock:  # one per event (the key object a PUT made, and the event's name), increasing
                per_event = key.__dict__.setdefault("_annolake_sequencers", {})
                sequencer = per_event.setdefault(event_name, f"{time.time_ns():016X}{next(issued):08X}")
            for record in event["Records"]:
                record["s3"]["object"]["sequencer"] = sequencer
            return event

        return _get_s3_event

    replace(notifications, "_get_s3_event", "sequencer", sequenced)


def reuse_parsed_json_paths() -> None:
    """moto's EventBridge input transformer builds a new JSONPath parser (a yacc table) for every path of every
    event it delivers; a parsed path is immutable, so one per distinct path text serves them all."""
    from functools import lru_cache

    import jsonpath_ng.ext

    replace(jsonpath_ng.ext, "parse", "cached", lru_cache(maxsize=1024))


def one_event_per_multipart_upload() -> None:
    """S3 announces a completed multipart upload with one ``ObjectCreated:CompleteMultipartUpload`` event. moto
    stores the object through its ``put_object``, which announces an ``ObjectCreated:Put`` as well: every file of
    8 MB or more that aws-cli or boto3 uploads (in parts) was ingested twice, the second run finding its arrival
    gone and logging an error. The store inside a completion announces nothing of its own."""
    from moto.s3.models import S3Backend

    completing = threading.local()

    def quiet_inside_completion(put: Callable[..., Any]) -> Callable[..., Any]:
        def put_object(self: S3Backend, *args: Any, **kwargs: Any) -> Any:
            if getattr(completing, "active", False):
                kwargs["disable_notification"] = True
            return put(self, *args, **kwargs)

        return put_object

    def marked(complete: Callable[..., Any]) -> Callable[..., Any]:
        def complete_multipart_upload(self: S3Backend, *args: Any, **kwargs: Any) -> Any:
            completing.active = True
            try:
                return complete(self, *args, **kwargs)
            finally:
                completing.active = False

        return complete_multipart_upload

    replace(S3Backend, "put_object", "quiet-in-multipart", quiet_inside_completion)
    replace(S3Backend, "complete_multipart_upload", "quiet-in-multipart", marked)
