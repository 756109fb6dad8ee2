"""moto's attribute values compared as what they are: strings as strings.

Every key lookup of a partition, every index map and every sort of a query's answer hashes or compares moto's
``DynamoType`` values, and moto does each through ``cast_value``, which asks the value five questions (number?
set? list? map? null?) before returning a string as it is: a query's sort of 25 items made 75 such calls. A
string (``S``, the type of every key the platform writes) is hashed and compared on its text here; every other
type takes moto's path, so each answer is the one moto gives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infra.local.moto_patches.patching import replace

_STRING = "S"


def compare_strings_directly() -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    def hashing(original: Callable[[Any], int]) -> Callable[[Any], int]:
        def __hash__(self: Any) -> int:
            if self.type == _STRING:
                return hash((_STRING, self.value))
            return original(self)

        return __hash__

    def equality(original: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
        def __eq__(self: Any, other: Any) -> bool:
            if self.type == _STRING:
                return other.type == _STRING and self.value == other.value
            return original(self, other)

        return __eq__

    def inequality(original: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
        def __ne__(self: Any, other: Any) -> bool:
            if self.type == _STRING:
                return other.type != _STRING or self.value != other.value
            return original(self, other)

        return __ne__

    def ordering(name: str) -> Callable[[Callable[[Any, Any], bool]], Callable[[Any, Any], bool]]:
        compare = getattr(str, name)

        def make(original: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
            def ordered(self: Any, other: Any) -> bool:
                if self.type == _STRING and other.type == _STRING:
                    return compare(self.value, other.value)
                return original(self, other)

            ordered.__name__ = name
            return ordered

        return make

    replace(DynamoType, "__hash__", "strings-directly", hashing)
    replace(DynamoType, "__eq__", "strings-directly", equality)
    replace(DynamoType, "__ne__", "strings-directly", inequality)
    for name in ("__lt__", "__le__", "__gt__", "__ge__"):
        replace(DynamoType, name, "strings-directly", ordering(name))
