"""DynamoDB transactions that check every condition first and copy only the items they touch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from infra.local.moto_patches.dynamodb_compact import copied
from infra.local.moto_patches.patching import MARK, replace

if TYPE_CHECKING:
    from moto.dynamodb.models.table import Table


def two_phase_transactions() -> None:
    """Replaces moto's ``transact_write_items`` whole, so it goes in before the patches that wrap it (the lock,
    the encoded items' write hooks): installed after them, it would drop them (transactions then ran outside
    the lock, and two registrations of one file could both pass its condition)."""
    from moto.dynamodb.models import DynamoDBBackend

    wrapped: frozenset[str] = getattr(DynamoDBBackend.transact_write_items, MARK, frozenset())
    if wrapped and "two-phase" not in wrapped:
        raise RuntimeError(
            f"two_phase_transactions() must be installed before {sorted(wrapped)}: it replaces the method they wrap"
        )
    replace(DynamoDBBackend, "transact_write_items", "two-phase", lambda _: _transact_write_items)


def _key_of(table: Table, op_type: str, op: dict) -> dict:
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
    operations: list[tuple[str, dict, dict, Any]] = []
    seen: set[tuple[str, str]] = set()
    errors: list[tuple[str | None, str | None, Any]] = []  # (code, message, item) per operation, as moto reports
    failed = False
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
        operations.append((op_type, op, key, copied(current)))
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
