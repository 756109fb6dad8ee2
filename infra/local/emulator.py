"""The AWS emulator: moto's server on one port, in this process, with the behaviours below added.

- Lambda invocations run the handlers in-process (``lambda_runtime``), not in Docker.
- SQS event source mappings deliver batches on worker threads, with partial-batch retries and the queue's
  dead-letter queue (``event_sources``), instead of inside the sender's ``SendMessage``.
- Presigned URLs that are expired or tampered, and S3 requests without credentials, get 403 (``presign``), as on S3.
- Chosen calls fail on request, as AWS fails them (``faults``: ``/_annolake/faults``), to try failure paths.
- moto is made safe under threads and faster where the platform leans on it (``moto_patches``).
- Connections stay open between requests (``keep_alive``; werkzeug's server closed each after one).
- Calls this process makes to the emulator (handlers, the Step Functions engine, the poller) are answered
  in-process, without a socket (``in_process``).
- Every request that reaches moto passes the ``recorder`` (``state.capture``), which journals what it changed
  once the platform's state store arms it; given a ``BlobStore``, S3 bodies live in its files, not in memory.
Step Functions executions run on moto's ASL engine (``execute_state_machine``).
"""

from __future__ import annotations

import logging
import os
import threading

from moto.core.config import default_user_config
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from infra.local import event_sources, in_process, lambda_runtime, moto_patches, stream_sources
from infra.local.cors import CognitoCors
from infra.local.faults import FaultInjection
from infra.local.keep_alive import KeepAliveRequestHandler, refuse_requests
from infra.local.presign import PresignGuard, s3_requests_of
from infra.local.presign.environ import WSGIApp
from infra.local.state import blobs
from infra.local.state.capture import Recorder

# Credentials clients of the local emulator use (also written to credentials.json).
LOCAL_ACCESS_KEY_ID = "test"
LOCAL_SECRET_ACCESS_KEY = "test"  # noqa: S105 - the emulator's documented fixed credentials


class Emulator:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 4566,
        web_origins: tuple[str, ...] = (),
        blob_store: blobs.BlobStore | None = None,
    ) -> None:
        self.host = host
        self.blob_store = blob_store
        self.port = port
        self.web_origins = web_origins  # the web UI's origins: they may call Cognito from the browser (cors.py)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.in_process: in_process.InProcessDispatch | None = None  # answers this process's own calls
        self.recorder: Recorder | None = None
        self._moto_settings: tuple[str | None, bool] | None = None  # what start() changed, put back by stop()
        self._streams_were_delivered = False

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        # moto's ASL engine calls Lambda through boto3 at localhost:MOTO_PORT.
        stepfunctions = default_user_config["stepfunctions"]
        self._moto_settings = (os.environ.get("MOTO_PORT"), stepfunctions["execute_state_machine"])
        os.environ["MOTO_PORT"] = str(self.port)
        stepfunctions["execute_state_machine"] = True
        lambda_runtime.install()
        event_sources.install()
        self._streams_were_delivered = stream_sources.installed()  # by the test session's moto, say
        stream_sources.install()
        moto_patches.install()
        if self.blob_store is not None:
            blobs.install(self.blob_store)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        dispatcher = DomainDispatcherApplication(create_backend_app)
        moto_patches.memoize_backend_lookup(dispatcher)
        self.recorder = Recorder(moto_patches.DirectS3(moto_patches.DirectDynamoDB(dispatcher)))
        credentials = {LOCAL_ACCESS_KEY_ID: LOCAL_SECRET_ACCESS_KEY}
        app: WSGIApp = PresignGuard(self.recorder, credentials, is_s3=s3_requests_of(dispatcher))
        app = CognitoCors(app, self.web_origins)
        app = faults = FaultInjection(app)
        moto_patches.invoke_task_functions_directly(faults.has_rules)  # through `app` while a rule is set
        try:
            self._server = make_server(
                self.host, self.port, app, threaded=True, request_handler=KeepAliveRequestHandler
            )
        except OSError as exc:
            raise SystemExit(
                f"cannot listen on {self.endpoint_url} ({exc.strerror}): is another `make up` running? "
                "Stop it, or set ANNOLAKE_EMULATOR_PORT to a free port."
            ) from None
        self._thread = threading.Thread(target=self._server.serve_forever, name="emulator", daemon=True)
        self._thread.start()
        self.in_process = in_process.install(self.endpoint_url, app)

    def refuse_requests(self) -> None:
        """Answer every request over the network with a 503 from now on (the platform is stopping)."""
        if self._server is not None:
            refuse_requests(self._server)

    def stop(self) -> None:
        self.refuse_requests()  # kept connections outlive ``shutdown``: they must not be served any more
        in_process.uninstall()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        # The deliveries stop before the function runtime goes: no batch retried into moto's Docker path
        stream_sources.stop_deliveries()
        event_sources.uninstall()
        lambda_runtime.uninstall()
        if not self._streams_were_delivered:  # what was delivered before this emulator stays delivered
            stream_sources.uninstall()
        if self.blob_store is not None:
            blobs.uninstall()
        if self._moto_settings is not None:  # another emulator or moto in this process runs as before
            port, execute = self._moto_settings
            default_user_config["stepfunctions"]["execute_state_machine"] = execute
            if port is None:
                os.environ.pop("MOTO_PORT", None)
            else:
                os.environ["MOTO_PORT"] = port
            self._moto_settings = None
