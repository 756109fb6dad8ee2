"""The AWS emulator: moto's server on one port, in this process, with our two behaviours added.

- Lambda invocations run the handlers in-process (``lambda_runtime``), not in Docker.
- SQS event source mappings deliver batches on worker threads, with partial-batch retries and the queue's
  dead-letter queue (``event_sources``), instead of inside the sender's ``SendMessage``.
- Presigned URLs that are expired or tampered get 403 (``presign_guard``), as on S3.
- DynamoDB operations are serialized (moto's are not safe against concurrent writes, nor a query against a
  write that removes an index attribute mid-sort), and transactions check every condition before writing and copy
  only the items they touch (moto deep-copies the whole table per transaction item).
- DynamoDB queries on a table's own key read only the partition asked for: moto sorts the whole table
  on every query, which makes a dataset page cost O(table) instead of O(page), as DynamoDB does. Index
  queries still look at every item (moto keeps no index), but no longer sort the whole table first.
- Calls this process makes to the emulator (handlers, the Step Functions engine, the poller) are answered
  in-process, without a socket (``in_process``); moto's service lookup per request is memoized.
Step Functions executions run on moto's ASL engine (``execute_state_machine``).
"""

from __future__ import annotations

import base64
import copy
import inspect
import json
import logging
import os
import threading
from datetime import datetime

from moto.core.config import default_user_config
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from infra.local import event_sources, in_process, lambda_runtime
from infra.local.cors import CognitoCors
from infra.local.presign_guard import PresignGuard

# Credentials clients of the local emulator use (also written to credentials.json).
LOCAL_ACCESS_KEY_ID = "test"
LOCAL_SECRET_ACCESS_KEY = "test"  # noqa: S105 - the emulator's documented fixed credentials


_DYNAMODB_OPERATIONS = (
    *("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item"),
    *("get_item", "query", "scan"),  # reads copy and sort live items: a concurrent write changes them underneath
)
_dynamodb_lock = threading.RLock()


def _serialize_dynamodb_operations() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    for name in _DYNAMODB_OPERATIONS:
        method = getattr(DynamoDBBackend, name)
        if getattr(method, "_serialized", False):
            continue

        def serialized(self, *args, _method=method, **kwargs):
            with _dynamodb_lock:
                return _method(self, *args, **kwargs)

        serialized._serialized = True  # type: ignore[attr-defined]
        setattr(DynamoDBBackend, name, serialized)


def _key_of(table: object, op_type: str, op: dict) -> dict:
    if op_type != "Put":
        return op["Key"]
    attrs = op["Item"]
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def _transact_write_items(self, transact_items: list[dict]) -> None:
    """All-or-nothing ``TransactWriteItems`` that copies only the items it touches.

    moto deep-copies each table a transaction names, once per item, to roll back: O(table) per write, which
    made every file registration and task claim cost more as the table grew. Here (under the emulator's
    write lock, so nothing interleaves) every condition is checked first against the current items; only if
    all hold are the writes applied, and an error while applying puts back the copies of the touched items.
    """
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    operations, seen, errors, failed = [], set(), [], False
    for entry in transact_items:
        if len(entry) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(entry.items()))
        if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
            raise ValueError("Unsupported transaction operation")
        table = self.get_table(op["TableName"])
        key = _key_of(table, op_type, op)
        identity = (op["TableName"], str(dict(sorted(key.items()))))
        if identity in seen:
            raise MultipleTransactionsException()
        seen.add(identity)
        current = self.get_item(op["TableName"], key)
        condition = op.get("ConditionExpression")
        if condition is not None and not get_filter_expression(
            condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        ).expr(current):
            returned = (
                current.to_json()["Attributes"]
                if current and op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
                else None
            )
            errors.append(("ConditionalCheckFailed", "The conditional request failed", returned))
            failed = True
            continue
        errors.append((None, None, None))
        operations.append((op_type, op, key, copy.deepcopy(current)))
    if failed:
        raise TransactionCanceledException(errors)
    applied = []
    try:
        for op_type, op, key, before in operations:
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if op_type == "Put":
                self.put_item(
                    op["TableName"], op["Item"], expression_attribute_names=names, expression_attribute_values=values
                )
            elif op_type == "Delete":
                self.delete_item(op["TableName"], key)
            elif op_type == "Update":
                self.update_item(
                    op["TableName"],
                    key,
                    update_expression=op["UpdateExpression"],
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            applied.append((op["TableName"], key, before))
    except Exception:
        for table_name, key, before in reversed(applied):
            if before is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, before.to_json()["Attributes"])
        raise


def two_phase_transactions() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    DynamoDBBackend.transact_write_items = _transact_write_items


_ENGINE_MODULES = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_unsupported",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_glue",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_eval_s3",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3",
)


def reuse_step_functions_clients() -> None:
    """moto's ASL engine builds a new boto3 client for every task it runs (tens of ms each, and a new
    connection); give it one pooled client per region and service instead (clients are thread-safe)."""
    import importlib
    from functools import lru_cache

    import boto3
    from botocore.config import Config

    @lru_cache(maxsize=64)
    def pooled(region: str, service: str) -> object:
        return boto3.client(
            service_name=service,
            region_name=region,
            endpoint_url=f"http://localhost:{os.environ.get('MOTO_PORT', '5000')}",
            aws_access_key_id="ak",
            aws_secret_access_key="sk",  # noqa: S106 - the engine's fixed credentials, as moto sets them
            config=Config(
                parameter_validation=False,
                retries={"max_attempts": 0, "total_max_attempts": 1},
                read_timeout=99999999,
                max_pool_connections=64,
            ),
        )

    def boto_client_for(region: str, service: str, state_credentials: object = None) -> object:
        return pooled(region, service)

    for name in _ENGINE_MODULES:
        importlib.import_module(name).boto_client_for = boto_client_for


_query_partition = threading.local()


def index_base_table_queries() -> None:
    """Make moto's base-table ``query`` read only the requested partition (results are unchanged).

    moto's ``Table.query`` filters ``all_items()`` (every item, sorted) by hash key; while it runs for
    a base-table query, ``all_items`` returns just that partition, sorted the same way.
    """
    from moto.dynamodb.models.table import Table

    if getattr(Table.query, "_partitioned", False):
        return
    whole_table, query = Table.all_items, Table.query
    signature = inspect.signature(query)

    def all_items(self: Table) -> list:
        scope = getattr(_query_partition, "scope", None)
        if scope is None or scope[0] is not self:
            return whole_table(self)
        if scope[2] is not None:  # an index query: only items with its hash key values (moto sorts them after)
            wanted = scope[2]
            return [
                item
                for partition in self.items.values()
                for item in (partition.values() if self.range_key_attr else [partition])
                if all(name in item.attrs and item.attrs[name] == value for name, value in wanted)
            ]
        if scope[1] not in self.items:
            return []
        partition = self.items[scope[1]]
        items = list(partition.values()) if self.range_key_attr else [partition]
        return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    def partitioned_query(self: Table, *args: object, **kwargs: object) -> object:
        bound = signature.bind(self, *args, **kwargs)
        hash_key = bound.arguments.get("hash_key")
        if bound.arguments.get("index_name"):
            conditions = bound.arguments.get("hash_key_conditions")
            if not conditions:
                return query(self, *args, **kwargs)
            _query_partition.scope = (self, None, list(conditions))
            try:
                return query(self, *args, **kwargs)
            finally:
                _query_partition.scope = None
        if hash_key is None:
            return query(self, *args, **kwargs)
        _query_partition.scope = (self, hash_key, None)
        try:
            return query(self, *args, **kwargs)
        finally:
            _query_partition.scope = None

    partitioned_query._partitioned = True  # type: ignore[attr-defined]
    Table.all_items, Table.query = all_items, partitioned_query


def fast_backend_access() -> None:
    """moto looks up a service's per-account backend several times per request, each time under one global
    lock and after scanning a list of every backend in use with a Python ``__eq__`` per entry (a quarter of
    the emulator's CPU at ingest). Once an account's backend exists it is returned straight from the dict;
    only its creation takes moto's path (a reset empties the dicts, so the next access creates it again)."""
    from moto.core.base_backend import BackendDict

    original = BackendDict.__getitem__
    if getattr(original, "_fast", False):
        return

    def __getitem__(self: BackendDict, account_id: str) -> object:
        backend = dict.get(self, account_id)
        return backend if backend is not None else original(self, account_id)

    __getitem__._fast = True  # type: ignore[attr-defined]
    BackendDict.__getitem__ = __getitem__  # type: ignore[method-assign]


# DynamoDB's data-plane answers: items and keys in DynamoDB JSON, nothing the generic serializer reshapes.
_DYNAMODB_ITEM_ACTIONS = frozenset(
    {
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "TransactGetItems",
        "TransactWriteItems",
        "BatchWriteItem",
    }
)


def _dynamodb_wire(value: object) -> object:
    if isinstance(value, dict):
        return {key: _dynamodb_wire(item) for key, item in value.items() if item is not None}
    if isinstance(value, list | tuple):
        return [_dynamodb_wire(item) for item in value]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return value.timestamp()
    return value


def plain_dynamodb_item_answers() -> None:
    """moto serializes every answer by walking the operation's output shape attribute by attribute: 40% of the
    CPU a page of 100 items costs. DynamoDB's item operations answer with the item maps as moto already holds
    them (DynamoDB JSON), so they are written with ``json.dumps`` (binary values base64, as on the wire);
    errors and every other operation keep moto's serializer."""
    from moto.dynamodb.responses import DynamoResult

    original = DynamoResult.execute_result
    if getattr(original, "_plain", False):
        return

    def execute_result(self: DynamoResult, context: object) -> tuple[int, dict[str, str], str]:
        if context.operation_model.name not in _DYNAMODB_ITEM_ACTIONS or not isinstance(self.result, dict):
            return original(self, context)
        body = json.dumps(_dynamodb_wire(self.result), separators=(",", ":"))
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, body

    execute_result._plain = True  # type: ignore[attr-defined]
    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]


def reuse_parsed_json_paths() -> None:
    """moto's EventBridge input transformer builds a new JSONPath parser (a yacc table) for every path of every
    event it delivers; a parsed path is immutable, so one per distinct path text serves them all."""
    from functools import lru_cache

    import jsonpath_ng.ext

    if not hasattr(jsonpath_ng.ext.parse, "cache_info"):
        jsonpath_ng.ext.parse = lru_cache(maxsize=1024)(jsonpath_ng.ext.parse)


def memoize_backend_lookup(dispatcher: DomainDispatcherApplication) -> None:
    """moto resolves the service of every request by listing its own package directory; the answer per host never
    changes, and the lookup runs under the dispatcher's one lock."""
    lookup = dispatcher.get_backend_for_host
    known: dict[str | None, object] = {}

    def get_backend_for_host(host: str | None) -> object:
        if host not in known:
            known[host] = lookup(host)
        return known[host]

    dispatcher.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]


class Emulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 4566, web_origins: tuple[str, ...] = ()) -> None:
        self.host = host
        self.port = port
        self.web_origins = web_origins  # the web UI's origins: they may call Cognito from the browser (cors.py)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        # moto's ASL engine calls Lambda through boto3 at localhost:MOTO_PORT.
        os.environ["MOTO_PORT"] = str(self.port)
        default_user_config["stepfunctions"]["execute_state_machine"] = True
        lambda_runtime.install()
        event_sources.install()
        two_phase_transactions()
        reuse_step_functions_clients()
        _serialize_dynamodb_operations()
        index_base_table_queries()
        fast_backend_access()
        plain_dynamodb_item_answers()
        reuse_parsed_json_paths()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        dispatcher = DomainDispatcherApplication(create_backend_app)
        memoize_backend_lookup(dispatcher)
        app = PresignGuard(dispatcher, {LOCAL_ACCESS_KEY_ID: LOCAL_SECRET_ACCESS_KEY})
        app = CognitoCors(app, self.web_origins)
        try:
            self._server = make_server(self.host, self.port, app, threaded=True)
        except OSError as exc:
            raise SystemExit(
                f"cannot listen on {self.endpoint_url} ({exc.strerror}): is another `make up` running? "
                "Stop it, or set ANNOLAKE_EMULATOR_PORT to a free port."
            ) from None
        self._thread = threading.Thread(target=self._server.serve_forever, name="emulator", daemon=True)
        self._thread.start()
        in_process.install(self.endpoint_url, app)

    def stop(self) -> None:
        in_process.uninstall()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        lambda_runtime.uninstall()
        event_sources.uninstall()
