"""A fast static file server for the streaming benchmark: ``python -m tests.bench.static_server DIR PORT``.

Serves ``DIR/<url path>`` with HTTP/1.1 keep-alive (uvicorn), ignoring the query string, so the same
presigned URLs, re-hosted here, measure the client without the emulator's cost per GET. A ``Range: bytes=a-b``
request is answered with those bytes (206), as S3 does: boto3's downloads of large objects GET them in ranges.
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn


def app_for(root: Path):
    cache: dict[str, bytes] = {}

    async def app(scope, receive, send):  # noqa: ANN001, ANN202 - a bare ASGI app
        if scope["type"] != "http":
            return
        path = scope["path"]
        body = cache.get(path)
        if body is None:
            file = (root / path.lstrip("/")).resolve()
            body = file.read_bytes() if file.is_file() and root in file.parents else b""
            cache[path] = body
        status, headers = (200 if body else 404), []
        wanted = dict(scope["headers"]).get(b"range", b"")
        if body and wanted.startswith(b"bytes="):
            first, _, last = wanted[6:].partition(b"-")
            start, end = int(first), min(int(last) if last else len(body) - 1, len(body) - 1)
            headers.append((b"content-range", b"bytes %d-%d/%d" % (start, end, len(body))))
            status, body = 206, body[start : end + 1]
        headers.append((b"content-length", b"%d" % len(body)))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


if __name__ == "__main__":
    directory, port = Path(sys.argv[1]).resolve(), int(sys.argv[2])
    uvicorn.run(app_for(directory), host="127.0.0.1", port=port, log_level="warning", access_log=False)
