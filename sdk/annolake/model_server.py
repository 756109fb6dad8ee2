"""A model server Annolake can call (``project.model.new(..., host="http", url=..., secret=...)``): the standard
library's HTTP server, a check of each batch's signature, and your ``predict`` function. Copy it, or run it::

    from annolake.model_server import ModelImage, serve

    def predict(images: list[ModelImage]) -> list[list[dict]]:
        # one list of instances per image, e.g. {"type": "box", "label": "car", "score": 0.9,
        #                                        "x_min": 1, "y_min": 2, "x_max": 30, "y_max": 40}
        return [my_model(image.read()) for image in images]

    serve(predict, secret="<the model's secret>", port=8080)   # behind HTTPS (a proxy or load balancer)

A batch is ``{run_id, model, version, items: [{file_id, url, width, height}]}``; ``url`` is a short-lived
presigned GET of the original. A batch whose signature does not verify (``verify_webhook``: the same signing
as webhooks) is refused with 401; a ``predict`` that raises answers 500 (the platform retries, then fails the
batch's files with the reason). For ``host="lambda"`` wrap the same function: ``handler = lambda_handler(predict)``.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from annolake.webhooks import verify_webhook

MAX_BATCH_BYTES = 1024 * 1024


@dataclass
class ModelImage:
    """One file of a batch; ``read()`` downloads its bytes from the presigned URL (once)."""

    file_id: str
    url: str
    width: int | None = None
    height: int | None = None
    _body: bytes | None = field(default=None, repr=False)

    def read(self, timeout: float = 30) -> bytes:
        if self._body is None:
            with urllib.request.urlopen(self.url, timeout=timeout) as response:  # noqa: S310 - a presigned https URL
                self._body = response.read()
        return self._body


Predict = Callable[[list[ModelImage]], list[list[dict[str, Any]]]]


def answer_batch(predict: Predict, batch: dict[str, Any]) -> dict[str, Any]:
    """The answer to one batch: ``predict``'s instances, one list per image, in the batch's order."""
    images = [ModelImage(i["file_id"], i["url"], i.get("width"), i.get("height")) for i in batch["items"]]
    results = predict(images)
    if len(results) != len(images):
        raise ValueError(f"predict returned {len(results)} results for {len(images)} images")
    return {
        "predictions": [
            {"file_id": image.file_id, "instances": list(instances)}
            for image, instances in zip(images, results, strict=True)
        ]
    }


def lambda_handler(predict: Predict) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A Lambda handler answering batches with ``predict`` (``host="lambda"``: IAM authenticates the caller)."""

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return answer_batch(predict, event)

    return handler


def _handler_class(predict: Predict, secret: str) -> type[BaseHTTPRequestHandler]:
    class BatchHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BATCH_BYTES:
                self._send(413, {"error": f"a batch is at most {MAX_BATCH_BYTES} bytes"})
                return
            body = self.rfile.read(length)
            if not verify_webhook(body, dict(self.headers.items()), secret):
                self._send(401, {"error": "the signature does not verify (wrong secret, or a stale timestamp)"})
                return
            try:
                answer = answer_batch(predict, json.loads(body))
            except Exception as exc:  # noqa: BLE001 - the platform records the reason and retries
                self._send(500, {"error": f"{type(exc).__name__}: {exc}"})
                return
            self._send(200, answer)

        def _send(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
            pass

    return BatchHandler


class ModelServer:
    """A running server (in a thread); ``url`` is where it listens. ``with ModelServer(predict, secret): ...``"""

    def __init__(self, predict: Predict, secret: str, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.httpd = ThreadingHTTPServer((host, port), _handler_class(predict, secret))
        self.url = f"http://{host}:{self.httpd.server_address[1]}/predict"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ModelServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def serve(predict: Predict, secret: str, *, host: str = "0.0.0.0", port: int = 8080) -> None:  # noqa: S104
    """Serve batches until interrupted."""
    ThreadingHTTPServer((host, port), _handler_class(predict, secret)).serve_forever()


__all__ = ["ModelImage", "ModelServer", "answer_batch", "lambda_handler", "serve"]
