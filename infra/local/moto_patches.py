"""What the local emulator changes in moto when it starts: safety under threads, and speed.

Each change is installed once per process by ``install()`` (``replace`` marks what it installed, so a second
``Emulator`` in the same process changes nothing twice); results are unchanged, only cost and thread safety.

- DynamoDB operations are serialized: moto's are not safe against concurrent writes, nor a read against a
  write (a query sorting items while an update removes an index attribute; a GetItem serialized while the
  item changes, so it returns a snapshot of the attribute map taken under the lock).
- Transactions check every condition before writing and copy only the items they touch (moto deep-copies
  the whole table per transaction item).
- Queries copy the items they answer after filtering and projecting, not every item read before.
- Queries on a table's own key read only the partition asked for: moto sorts the whole table on every
  query, which makes a dataset page cost O(table) instead of O(page), as DynamoDB does. Index queries still
  look at every item (moto keeps no index), but no longer sort the whole table first.
- State machine definitions parse safely in parallel (moto's parser shared one scope stack), and each
  definition's text is parsed once, not at the start of every execution. A task whose Lambda invocation
  itself fails (throttled, service error) gets the error name Step Functions gives it, which Retry matches.
- S3 event records carry a sequencer, so a second PUT of the same bytes under a key is a new event.
- The Step Functions engine reuses one client per service; per-account backends are read straight from their
  dict; DynamoDB item answers skip the generic shape serializer, and a read snapshot's size is computed once;
  JSON answers are not scanned for an XML request id; EventBridge reuses parsed JSONPaths; the service lookup
  per request is memoized.
"""

from __future__ import annotations

import base64
import copy
import functools
import inspect
import json
import os
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

_MARK = "_annolake_patches"


def replace(owner: object, name: str, patch: str, make: Callable[[Any], Any]) -> None:
    """Set ``owner.name`` to ``make(current)`` unless the patch named ``patch`` is already there."""
    current = getattr(owner, name)
    installed = getattr(current, _MARK, frozenset())
    if patch in installed:
        return
    replacement = make(current)
    setattr(replacement, _MARK, installed | {patch})
    setattr(owner, name, replacement)


def install() -> None:
    thread_safe_state_machine_parsing()
    parse_each_state_machine_once()
    name_lambda_service_errors_as_step_functions_does()
    s3_events_carry_a_sequencer()
    two_phase_transactions()
    serialize_dynamodb_operations()
    index_base_table_queries()
    reuse_step_functions_clients()
    fast_backend_access()
    plain_dynamodb_item_answers()
    copy_query_results_after_filtering()
    reuse_parsed_json_paths()
    request_ids_only_where_xml_has_them()


_DYNAMODB_OPERATIONS = (
    *("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item"),
    *("query", "scan"),  # moto copies their results (under the lock, now)
)
_dynamodb_lock = threading.RLock()


def serialize_dynamodb_operations() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import Item

    def serialized(method: Callable[..., Any]) -> Callable[..., Any]:
        def under_lock(self: object, *args: object, **kwargs: object) -> object:
            with _dynamodb_lock:
                return method(self, *args, **kwargs)

        return under_lock

    def copied(method: Callable[..., Any]) -> Callable[..., Any]:
        def read_snapshot(self: object, *args: object, **kwargs: object) -> object:
            with _dynamodb_lock:
                return _snapshot(method(self, *args, **kwargs))

        return read_snapshot

    for name in _DYNAMODB_OPERATIONS:
        replace(DynamoDBBackend, name, "serialized", serialized)
    replace(DynamoDBBackend, "get_item", "serialized", copied)  # moto hands out the live item
    replace(Item, "size", "snapshot-size", sized_once)


def sized_once(size: Callable[[Any], int]) -> Callable[[Any], int]:
    """A snapshot is never changed, so its size is computed once: BatchGetItem asks twice per item (16 MB
    check, then the running total), a tenth of the emulator's time for a stream page. Live items, which
    updates change in place, are measured every time as before."""

    def size_of(self: Any) -> int:
        if not self.__dict__.get("_annolake_snapshot"):
            return size(self)
        known = self.__dict__.get("_annolake_size")
        if known is None:
            known = self._annolake_size = size(self)
        return known

    return size_of


def _snapshot(item: Any) -> Any:
    """The item with its own attribute map: a write that sets or removes attributes meanwhile (what the
    platform's updates do) leaves it as read. Values are shared: 4 µs a read, against 41 µs for a deep copy."""
    if item is None:
        return None
    snapshot = copy.copy(item)
    attrs = type(item.attrs).__new__(type(item.attrs))
    dict.update(attrs, item.attrs)  # not through LimitedSizeDict's per-key size check: it was checked on write
    snapshot.attrs = attrs
    snapshot._annolake_snapshot = True
    snapshot._annolake_size = None
    return snapshot


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


def thread_safe_state_machine_parsing() -> None:
    """moto's ASL preprocessor keeps its query-language scope stack in a class attribute, shared by every parse:
    two executions starting at once corrupt each other's stack, and one of them dies in its worker thread before
    its first state (a dropped file that never becomes ready). Each preprocessor gets its own stack."""
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    def own_scopes(init: Callable[..., None]) -> Callable[..., None]:
        def __init__(self: Preprocessor, *args: object, **kwargs: object) -> None:
            init(self, *args, **kwargs)
            self._query_language_per_scope = []

        return __init__

    replace(Preprocessor, "__init__", "own-scopes", own_scopes)


def parse_each_state_machine_once() -> None:
    """moto's engine parses the state machine's definition with the ANTLR runtime (pure Python) at the start of
    every execution: ~4 ms of the emulator's one GIL per ingested file, the most expensive step of its Express
    execution. The parse tree of a definition text never changes and nothing writes to it, so each text is
    parsed once; every execution still builds its own evaluation components from the tree (they keep
    per-execution state), as moto does after parsing. Definitions that fail to parse are not remembered."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    parse = AmazonStateLanguageParser.parse
    if "tree-once" in getattr(parse, _MARK, frozenset()):
        return
    tree_of = functools.lru_cache(maxsize=256)(lambda definition: parse(definition)[1])

    def parse_with_known_tree(definition: str) -> tuple[Any, Any]:
        tree = tree_of(definition)
        return Preprocessor().visit(tree), tree

    setattr(parse_with_known_tree, _MARK, getattr(parse, _MARK, frozenset()) | {"tree-once"})
    AmazonStateLanguageParser.parse = staticmethod(parse_with_known_tree)  # type: ignore[method-assign]


def name_lambda_service_errors_as_step_functions_does() -> None:
    """When the invocation of a task's Lambda function itself fails (throttled, a Lambda service error), Step
    Functions names the error ``Lambda.<code>`` (``Lambda.TooManyRequestsException``): what the states' Retry
    policies match. moto does so for ``arn:aws:states:::lambda:invoke`` tasks but names it ``Exception`` for
    tasks whose Resource is the function's ARN (CDK's ``payload_response_only``), so nothing was retried."""
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda

    def named(from_error: Callable[..., Any]) -> Callable[..., Any]:
        def _from_error(self: StateTaskLambda, env: Any, ex: Exception) -> Any:
            failure = from_error(self, env, ex)
            if isinstance(ex, ClientError):
                error = f"Lambda.{ex.response['Error']['Code']}"
                failure.error_name = CustomErrorName(error)
                failure.event_details["lambdaFunctionFailedEventDetails"]["error"] = error
            return failure

        return _from_error

    replace(StateTaskLambda, "_from_error", "lambda-error-names", named)


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


def two_phase_transactions() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    replace(DynamoDBBackend, "transact_write_items", "two-phase", lambda _: _transact_write_items)


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
        replace(importlib.import_module(name), "boto_client_for", "pooled-clients", lambda _: boto_client_for)


_query_partition = threading.local()


def index_base_table_queries() -> None:
    """Make moto's base-table ``query`` read only the requested partition (results are unchanged).

    moto's ``Table.query`` filters ``all_items()`` (every item, sorted) by hash key; while it runs for
    a base-table query, ``all_items`` returns just that partition, sorted the same way.
    """
    from moto.dynamodb.models.table import Table

    def all_items(whole_table: Callable[[Table], list]) -> Callable[[Table], list]:
        def partition_items(self: Table) -> list:
            scope = getattr(_query_partition, "scope", None)
            if scope is None or scope[0] is not self:
                return whole_table(self)
            if scope[2] is not None:  # an index query: only items with its hash key values (moto sorts them)
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

        return partition_items

    def query(whole_query: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(whole_query)

        def partitioned_query(self: Table, *args: object, **kwargs: object) -> object:
            bound = signature.bind(self, *args, **kwargs)
            if bound.arguments.get("index_name"):
                conditions = bound.arguments.get("hash_key_conditions")
                scope = (self, None, list(conditions)) if conditions else None
            else:
                hash_key = bound.arguments.get("hash_key")
                scope = (self, hash_key, None) if hash_key is not None else None
            _query_partition.scope = scope
            try:
                return whole_query(self, *args, **kwargs)
            finally:
                _query_partition.scope = None

        return partitioned_query

    replace(Table, "all_items", "partitioned", all_items)
    replace(Table, "query", "partitioned", query)


def fast_backend_access() -> None:
    """moto looks up a service's per-account backend several times per request, each time under one global
    lock and after scanning a list of every backend in use with a Python ``__eq__`` per entry (a quarter of
    the emulator's CPU at ingest). Once an account's backend exists it is returned straight from the dict;
    only its creation takes moto's path (a reset empties the dicts, so the next access creates it again)."""
    from moto.core.base_backend import BackendDict

    def getitem(original: Callable[[BackendDict, str], Any]) -> Callable[[BackendDict, str], Any]:
        def __getitem__(self: BackendDict, account_id: str) -> Any:
            backend = dict.get(self, account_id)
            return backend if backend is not None else original(self, account_id)

        return __getitem__

    replace(BackendDict, "__getitem__", "fast", getitem)


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
    """An answer as DynamoDB writes it, in one pass over what moto built: the ``{"S": ...}`` maps moto holds
    as they are, its ``DynamoType`` values expanded, binary values base64, no ``None`` members."""
    if type(value) is _dynamo_type():
        return _attribute_wire(value)
    if isinstance(value, dict):
        return {key: _dynamodb_wire(item) for key, item in value.items() if item is not None}
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_dynamodb_wire(item) for item in value]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, _dynamo_type()):
        return _attribute_wire(value)
    if hasattr(value, "to_json"):
        return _dynamodb_wire(value.to_json())
    return value


def _attribute_wire(value: Any) -> dict[str, object]:
    """One attribute value (a ``DynamoType``), by its type: most of an item answer's cost, so no generic walk."""
    kind, inner, dynamo_type = value.type, value.value, _dynamo_type()
    if kind == "M":
        return {"M": {k: _attribute_wire(v) if type(v) is dynamo_type else _dynamodb_wire(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_attribute_wire(v) if type(v) is dynamo_type else _dynamodb_wire(v) for v in inner]}
    if kind in ("S", "N", "BOOL", "NULL", "SS", "NS"):
        return {kind: inner}
    return {kind: _dynamodb_wire(inner)}  # B/BS: base64 text from the wire, or bytes


@functools.cache
def _dynamo_type() -> type:
    from moto.dynamodb.models.dynamo_type import DynamoType

    return DynamoType


def plain_dynamodb_item_answers() -> None:
    """moto converts every DynamoDB answer to plain Python (decoding binary values) and then serializes it by
    walking the operation's output shape attribute by attribute: two thirds of the emulator's CPU for a page
    of 100 items. DynamoDB's item operations answer with the item maps as moto already holds them (DynamoDB
    JSON), so they are written with ``json.dumps`` in one pass; errors and every other operation keep moto's
    conversion, done when the answer is written, and its serializer."""
    from moto.core.responses import ActionResult
    from moto.dynamodb.models.utilities import dynamo_to_dict
    from moto.dynamodb.responses import DynamoResult

    def keep_result(_: Callable[..., Any]) -> Callable[..., Any]:
        def __init__(self: DynamoResult, result: object) -> None:
            ActionResult.__init__(self, result)  # converted in execute_result, where the operation is known

        return __init__

    def plain(original: Callable[..., Any]) -> Callable[..., Any]:
        def execute_result(self: DynamoResult, context: Any) -> tuple[int, dict[str, str], str]:
            if context.operation_model.name not in _DYNAMODB_ITEM_ACTIONS or not isinstance(self.result, dict):
                self._result = dynamo_to_dict(self._result)
                return original(self, context)
            body = json.dumps(_dynamodb_wire(self.result), separators=(",", ":"))
            return 200, {"Content-Type": "application/x-amz-json-1.0"}, body

        return execute_result

    replace(DynamoResult, "__init__", "raw-result", keep_result)
    replace(DynamoResult, "execute_result", "plain-json", plain)


_copy_later = threading.local()


class _CopiesInTableModule:
    """Stands for the ``copy`` module inside moto's ``table.py``: while a query runs with copies deferred, its
    one deep copy (of every item read) is a list copy; everything else is ``copy`` itself."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: dict | None = None) -> Any:
        if getattr(_copy_later, "active", False) and isinstance(value, list):
            return list(value)
        return copy.deepcopy(value, memo)


def copy_query_results_after_filtering() -> None:
    """moto's ``Table.query`` deep-copies every item it read, then filters and projects: half of the emulator's
    time for a query over a 10,000-file dataset whose filter keeps one file in eight. The filter and the
    projections only read the stored items (under the DynamoDB lock), so the copy is made afterwards, of the
    items answered; they are still copies, so a later write cannot change an answer being written."""
    from moto.dynamodb.models import table as table_module

    def copying_answers(query: Callable[..., Any]) -> Callable[..., Any]:
        def query_then_copy(self: object, *args: object, **kwargs: object) -> Any:
            _copy_later.active = True
            try:
                results, scanned_count, last_evaluated_key = query(self, *args, **kwargs)
            finally:
                _copy_later.active = False
            return copy.deepcopy(results), scanned_count, last_evaluated_key

        return query_then_copy

    replace(table_module, "copy", "copy-later", lambda _: _CopiesInTableModule())
    replace(table_module.Table, "query", "copy-later", copying_answers)


def request_ids_only_where_xml_has_them() -> None:
    """moto puts the request id into ``<RequestId>`` of every answer with a regular expression (a lookbehind)
    run over the whole body, JSON ones included: a tenth of the emulator's time for a page of 100 DynamoDB
    items. A body without that element would come back unchanged, so it skips the scan."""
    from moto.core.responses import BaseResponse

    enrich = BaseResponse._enrich_response
    installed = getattr(enrich, _MARK, frozenset())
    if "request-id-scan" in installed:
        return

    def enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
        if isinstance(body, str) and "<RequestId>" not in body:
            headers, _ = enrich(headers, "")  # the status and request-id headers, as for any answer
            return headers, body
        return enrich(headers, body)

    setattr(enrich_response, _MARK, installed | {"request-id-scan"})
    BaseResponse._enrich_response = staticmethod(enrich_response)  # type: ignore[method-assign]


def reuse_parsed_json_paths() -> None:
    """moto's EventBridge input transformer builds a new JSONPath parser (a yacc table) for every path of every
    event it delivers; a parsed path is immutable, so one per distinct path text serves them all."""
    from functools import lru_cache

    import jsonpath_ng.ext

    replace(jsonpath_ng.ext, "parse", "cached", lru_cache(maxsize=1024))


def memoize_backend_lookup(dispatcher: Any) -> None:
    """moto resolves the service of every request by listing its own package directory; the answer per host
    never changes, and the lookup runs under the dispatcher's one lock."""

    def memoized(lookup: Callable[[str | None], Any]) -> Callable[[str | None], Any]:
        known: dict[str | None, Any] = {}

        def get_backend_for_host(host: str | None) -> Any:
            if host not in known:
                known[host] = lookup(host)
            return known[host]

        return get_backend_for_host

    replace(dispatcher, "get_backend_for_host", "memoized", memoized)
