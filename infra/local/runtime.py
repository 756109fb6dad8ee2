"""``python -m infra.local`` (``make up``): the whole platform on this machine.

synth (cached) -> emulator on :4566 -> provision the synthesized template -> recover the saved state
(checkpoint + journal) or seed the demo -> scheduled rules start firing (``schedules``) -> credentials.json ->
API + web UI on :8000 (uvicorn) -> on Ctrl-C,
a last checkpoint. Every change acknowledged in between is in the journal first (``state``).

The API runs in its own worker processes (``ANNOLAKE_API_WORKERS``, default 2), as the API Lambda runs apart
from S3 and DynamoDB in the cloud: its CPU (FastAPI, validation, presigning, botocore) is then not taken
from the emulator process, which serves every S3 and DynamoDB call and runs every other Lambda under one
GIL. Workers reach the emulator over HTTP; uvicorn's supervisor restarts one that dies. ``0`` serves the
API inside the platform process instead (one process to debug).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3

from infra.local import api_workers, event_sources, iam_audit, lambda_runtime
from infra.local.assembly import REPO_ROOT, synthesize
from infra.local.cloud_limits import IntegrationTimeout, LambdaResponseLimit
from infra.local.emulator import LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY, Emulator
from infra.local.heap import HeapFreezer
from infra.local.intrinsics import REGION
from infra.local.provisioner import Deployment, Provisioner
from infra.local.schedules import Scheduler
from infra.local.state import Inventory, StateStore, capture
from infra.local.web import web_ui_app
from infra.web_contract import runtime_config

log = logging.getLogger("local-runtime")
WEB_DIST = REPO_ROOT / "web" / "dist"
API_WORKERS_VARIABLE = "ANNOLAKE_API_WORKERS"
WEB_CONFIG_VARIABLE = "ANNOLAKE_WEB_CONFIG"  # the web UI's config.json, handed from the platform to API workers
PLATFORM_PID_VARIABLE = "ANNOLAKE_PLATFORM_PID"  # API workers end when this process does
MEDIA_WORKERS_VARIABLE = "ANNOLAKE_MEDIA_WORKERS"  # processes of their own for the media handlers; 0 (default): none
MEDIA_AT_ONCE = min(8, 2 * (os.cpu_count() or 1))  # media invocations at once without media workers (a burst queues)
MEDIA_HANDLERS = {"annolake_service.handlers.ingest.process_handler"}  # decode, orient, hash, thumbnail
FUNCTION_WORKERS_VARIABLE = "ANNOLAKE_FUNCTION_WORKERS"  # processes for the other handlers; 0: this one
FUNCTION_WORKER_THREADS = 32  # invocations one function worker runs at once
DURABLE_VARIABLE = "ANNOLAKE_DURABLE"  # 0: the journal is written but not fsynced (a power cut may lose writes)


def home_directory() -> Path:
    return Path(os.environ.get("ANNOLAKE_HOME") or REPO_ROOT / ".annolake").resolve()


def inventory_of(deployment: Deployment) -> Inventory:
    def by_type(resource_type: str) -> dict[str, str]:
        return {
            f"{stack}/{logical_id}": created.ref
            for stack, resources in deployment.resources.items()
            for logical_id, created in resources.items()
            if created.type == resource_type
        }

    return Inventory(
        tables=by_type("AWS::DynamoDB::Table"),
        buckets=by_type("AWS::S3::Bucket"),
        user_pools=by_type("AWS::Cognito::UserPool"),
    )


def write_json_atomically(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w") as handle:
        json.dump(payload, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    path.chmod(0o600)


class LocalPlatform:
    def __init__(
        self, home: Path, *, emulator_port: int, api_port: int, snapshot_seconds: float, durable: bool = True
    ) -> None:
        self.home = home
        self.api_port = api_port
        self.api_url = f"http://127.0.0.1:{api_port}"
        self.web_origins = (self.api_url, f"http://localhost:{api_port}")
        self.state = StateStore(home / "state")
        self.emulator = Emulator(port=emulator_port, web_origins=self.web_origins, blob_store=self.state.blobs)
        self.snapshot_seconds = snapshot_seconds  # how often the journal is folded into the checkpoint
        self.durable = durable
        self.session = boto3.Session(
            aws_access_key_id=LOCAL_ACCESS_KEY_ID, aws_secret_access_key=LOCAL_SECRET_ACCESS_KEY, region_name=REGION
        )
        self._stop = threading.Event()
        self.deployment: Deployment | None = None
        self.scheduler: Scheduler | None = None

    def start(self) -> None:
        """Everything up, in an order where nothing runs against half-restored data: SQS deliveries wait
        until the state is back and journaled, and dropped files left unprocessed are ingested after."""
        started = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        assembly = synthesize(self.home, log=log.info)
        event_sources.hold()
        self.emulator.start()
        self.deployment = Provisioner(self.session, self.emulator.endpoint_url).deploy(assembly)
        if (audit := iam_audit.audit_directory()) is not None:
            iam_audit.record_platform(audit, self.deployment, assembly.directory)
        self._allow_web_origins(self.deployment)
        self._enter_function_environment(self.deployment)
        inventory = inventory_of(self.deployment)
        recovering = self.state.has_saved_data()
        if recovering:
            stats = self.state.recover(self.session, self.emulator.endpoint_url, inventory)
            log.info("restored saved state: %s", stats)
        self._journal(inventory)
        event_sources.release()  # the state is back and journaled; the seed's drops reach the ingest by SQS
        if not recovering:
            self._seed()
        self.scheduler = Scheduler(self.session, self.emulator.endpoint_url, self.deployment)
        self.scheduler.start()
        if recovering:
            threading.Thread(target=self._ingest_left_over_drops, args=(inventory,), daemon=True).start()
        threading.Thread(target=self._checkpoint_periodically, name="checkpoints", daemon=True).start()
        log.info("platform ready in %.1f s", time.monotonic() - started)

    def _journal(self, inventory: Inventory) -> None:
        recording = self.state.start_journal(inventory, durable=self.durable)
        capture.install_hooks(recording)
        assert self.emulator.recorder is not None
        self.emulator.recorder.capture = recording

    def _ingest_left_over_drops(self, inventory: Inventory) -> None:
        """Objects still waiting in a bucket with notifications (the drop bucket, uploads) had their ingest
        cut short by the stop (its Step Functions execution did not survive it): notify them again."""
        from moto.s3 import notifications
        from moto.s3.models import s3_backends

        sent = 0
        for account in list(s3_backends.keys()):
            backend = s3_backends[account]["aws"]
            for bucket_name in inventory.buckets.values():
                bucket = backend.buckets.get(bucket_name)
                if bucket is None or not bucket.notification_configuration:
                    continue
                configured = bucket.notification_configuration
                targets = [*configured.cloud_function, *configured.queue, *configured.topic]
                event = notifications.S3NotificationEvent.OBJECT_CREATED_PUT_EVENT
                for key in list(bucket.keys.values()):
                    if any(target.matches(event, key.name) for target in targets):
                        notifications.send_event(account, event, bucket, key)
                        sent += 1
        if sent:
            log.info("%d objects left waiting for ingest at the last stop were notified again", sent)

    def _enter_function_environment(self, deployment: Deployment) -> None:
        """All handlers share this process: give it their (identical) resolved environment."""
        os.environ.update(deployment.merged_environment())
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": self.emulator.endpoint_url,
                "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY_ID,
                "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_ACCESS_KEY,
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
            }
        )
        code_dir = str(deployment.function_code[deployment.api_function])
        if code_dir not in sys.path:
            sys.path.insert(0, code_dir)
        media_workers = media_worker_count()
        # Without media workers of their own, the media handlers run in the function workers, MEDIA_AT_ONCE at a
        # time: a handler waiting on the emulator's answers holds a thread there, not the emulator's interpreter.
        lambda_runtime.run_in_workers(MEDIA_HANDLERS, media_workers, at_once=MEDIA_AT_ONCE)
        lambda_runtime.run_functions_in_workers(
            function_worker_count(),
            FUNCTION_WORKER_THREADS,
            lambda handler: media_workers == 0 or handler not in MEDIA_HANDLERS,
        )

    def _allow_web_origins(self, deployment: Deployment) -> None:
        """Browser uploads need the bucket's CORS rules to name the UI's origin; the local stage names port 8000.

        When ``ANNOLAKE_API_PORT`` moves the UI elsewhere, the emulator's copies of those rules get its origin too.
        """
        s3 = self.session.client("s3", endpoint_url=self.emulator.endpoint_url)
        for bucket in deployment.of_type("AWS::S3::Bucket"):
            try:
                rules = s3.get_bucket_cors(Bucket=bucket.ref)["CORSRules"]
            except s3.exceptions.ClientError:
                continue  # no CORS rules: the bucket is not for browsers
            for rule in rules:
                missing = [o for o in self.web_origins if o not in rule.get("AllowedOrigins", [])]
                rule["AllowedOrigins"] = [*rule.get("AllowedOrigins", []), *missing]
            s3.put_bucket_cors(Bucket=bucket.ref, CORSConfiguration={"CORSRules": rules})

    def _seed(self) -> None:
        from infra.local.seed import seed_demo

        env = self._api_environment
        s3 = self.session.client("s3", endpoint_url=self.emulator.endpoint_url)
        cognito = self.session.client("cognito-idp", endpoint_url=self.emulator.endpoint_url)
        log.info("first run: seeding the demo project")
        demo = seed_demo(s3=s3, cognito=cognito, user_pool_id=env["USER_POOL_ID"], drop_bucket=env["DROP_BUCKET"])
        write_json_atomically(
            self.home / "credentials.json",
            {
                "host": self.api_url,
                "project": demo.project,
                "client_id": demo.client_id,
                "client_secret": demo.client_secret,
                "aws_endpoint_url": self.emulator.endpoint_url,
                "drop_bucket": env["DROP_BUCKET"],
                "username": demo.username,
                "password": demo.password,
                "aws_access_key_id": LOCAL_ACCESS_KEY_ID,
                "aws_secret_access_key": LOCAL_SECRET_ACCESS_KEY,
                "aws_region": REGION,
                "user_pool_id": env["USER_POOL_ID"],
                "user_pool_client_id": env["USER_POOL_CLIENT_ID"],
            },
        )

    def refresh_credentials(self) -> None:
        """Ids that change per start (the emulator's user pool) are rewritten on every start."""
        path = self.home / "credentials.json"
        if not path.exists():
            return
        credentials = json.loads(path.read_text())
        env = self._api_environment
        credentials.update(
            host=self.api_url,
            aws_endpoint_url=self.emulator.endpoint_url,
            drop_bucket=env["DROP_BUCKET"],
            user_pool_id=env["USER_POOL_ID"],
            user_pool_client_id=env["USER_POOL_CLIENT_ID"],
        )
        write_json_atomically(path, credentials)

    def _checkpoint_periodically(self) -> None:
        while not self._stop.wait(self.snapshot_seconds):
            try:
                self.state.checkpoint()
            except Exception:  # noqa: BLE001 - keep serving; the journal keeps everything meanwhile
                log.exception("periodic checkpoint failed")

    def stop(self) -> None:
        self._stop.set()
        self.emulator.refuse_requests()  # no request over the network is acknowledged once saving begins
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.emulator.recorder is not None:
            self.emulator.recorder.capture = None
        capture.uninstall_hooks()
        if self.state.journal is not None:
            self.state.close()
            log.info("state saved to %s", self.state_path)
        self.emulator.stop()

    @property
    def _api_environment(self) -> dict[str, str]:
        assert self.deployment is not None, "the platform is not started"
        return self.deployment.api_environment

    @property
    def state_path(self) -> Path:
        return self.home / "state"

    def web_config(self) -> dict[str, Any]:
        """The web UI's ``config.json``: the keys the web stack deploys, pointing at the emulator."""
        env = self._api_environment
        return runtime_config(
            region=REGION,
            user_pool_id=env["USER_POOL_ID"],
            user_pool_client_id=env["USER_POOL_CLIENT_ID"],
            cognito_endpoint=self.emulator.endpoint_url,
            stage="local",
        )


def api_and_web_app(web_config: dict[str, Any]) -> Any:
    """The API under ``/api/v1`` and the web UI beside it, as CloudFront serves them in the cloud, with the
    size limit of a Lambda answer and API Gateway's integration timeout."""
    from annolake_service.api.app import create_app

    app = create_app()
    app.mount("/", web_ui_app(WEB_DIST, web_config), name="web")
    return IntegrationTimeout(LambdaResponseLimit(iam_audit.record_api(app)))


def api_worker_app() -> Any:
    """The app of one API worker process (uvicorn's factory): its environment came from the platform."""
    from annolake_service.services.health import connect_api

    _end_with_the_platform(int(os.environ[PLATFORM_PID_VARIABLE]))
    app = api_and_web_app(json.loads(os.environ[WEB_CONFIG_VARIABLE]))
    connect_api()  # before it takes a request, as the API function does in its init phase
    HeapFreezer().start()
    return app


def _end_with_the_platform(platform_pid: int) -> None:
    """A worker gets SIGTERM when the platform process dies, even by ``kill -9`` (Linux): otherwise it kept
    the API port, and the next ``make up`` could not listen on it."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != platform_pid:  # it died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _process_count(variable: str, default: str, what: str) -> int:
    raw = os.environ.get(variable, default)
    if not raw.isdigit():
        raise SystemExit(f"{variable}={raw!r}: give a number of {what} processes (0 = inside this one)")
    return int(raw)


def media_worker_count() -> int:
    return _process_count(MEDIA_WORKERS_VARIABLE, "0", "media")


def function_worker_count() -> int:
    return _process_count(FUNCTION_WORKERS_VARIABLE, "2", "function")


def api_worker_count() -> int:
    return _process_count(API_WORKERS_VARIABLE, "2", "API")


def serve_api(platform: LocalPlatform, workers: int) -> None:
    """Serve API + web UI until Ctrl-C: in ``workers`` processes, or in this one when ``workers`` is 0."""
    import uvicorn

    host, port, log_level = "127.0.0.1", platform.api_port, "warning"
    if workers == 0:
        config = uvicorn.Config(api_and_web_app(platform.web_config()), host=host, port=port, log_level=log_level)
    else:
        # Workers are spawned: they inherit this environment (table names, the emulator's endpoint) and sys.path.
        os.environ[WEB_CONFIG_VARIABLE] = json.dumps(platform.web_config())
        os.environ[PLATFORM_PID_VARIABLE] = str(os.getpid())
        config = uvicorn.Config(
            "infra.local.runtime:api_worker_app",
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_level=log_level,
        )
    sockets = api_workers.listening_sockets(platform.api_port, workers)
    print(
        f"Annolake is up: API and web UI {platform.api_url} (health: {platform.api_url}/api/v1/health), "
        f"AWS emulator {platform.emulator.endpoint_url}, credentials {platform.home / 'credentials.json'}. "
        f"API processes: {workers or 'this one'}. Ctrl-C stops and saves state.",
        flush=True,
    )
    try:
        if workers == 0:
            with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the Ctrl-C it handled
                uvicorn.Server(config).run(sockets=sockets)
        else:
            api_workers.serve_in_workers(config, sockets)
    finally:
        for sock in sockets:
            sock.close()  # the port is free while state is saved


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("botocore", "pynamodb", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    platform = LocalPlatform(
        home_directory(),
        emulator_port=int(os.environ.get("ANNOLAKE_EMULATOR_PORT", "4566")),
        api_port=int(os.environ.get("ANNOLAKE_API_PORT", "8000")),
        snapshot_seconds=float(os.environ.get("ANNOLAKE_SNAPSHOT_SECONDS", "30")),
        durable=os.environ.get(DURABLE_VARIABLE, "1") != "0",
    )
    workers = api_worker_count()
    HeapFreezer().start()  # this process only (``LocalPlatform`` also runs inside test processes)
    try:
        platform.start()
        platform.refresh_credentials()
        serve_api(platform, workers)
    finally:
        platform.stop()
    end_now()


def end_now() -> None:
    """End the process once the platform has stopped. Its state is saved and its emulator stopped, so what is
    still in flight here (state machine executions, queued event deliveries and their retries) can only fail
    against the stopped emulator: waiting for those threads held Ctrl-C up for minutes, logging failures after
    "state saved". Work that was in flight is in the saved state and runs again on the next start."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
