"""Resolve CloudFormation intrinsic functions against what the local provisioner created."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"
NO_VALUE = object()

PSEUDO_PARAMETERS = {
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}


class UnresolvedReference(LookupError):
    pass


class Resolver:
    """Turns template values into concrete ones.

    ``ref`` and ``get_att`` look up resources of the stack being provisioned; ``exports`` holds
    the Outputs' Export names of the stacks provisioned before it (for ``Fn::ImportValue``).
    """

    def __init__(
        self,
        *,
        stack_name: str,
        ref: Callable[[str], Any],
        get_att: Callable[[str, str], Any],
        exports: Mapping[str, Any],
        parameters: Mapping[str, Any],
    ) -> None:
        self.stack_name = stack_name
        self._ref = ref
        self._get_att = get_att
        self._exports = exports
        self._parameters = parameters

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [r for r in (self.resolve(v) for v in value) if r is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = _FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, arg)
        return {k: r for k, v in value.items() if (r := self.resolve(v)) is not NO_VALUE}

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name == "AWS::StackName":
            return self.stack_name
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if name in self._parameters:
            return self._parameters[name]
        return self._ref(name)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        return self._get_att(logical_id, attribute)


def _join(resolver: Resolver, arg: list) -> str:
    separator, parts = arg
    return separator.join(str(p) for p in resolver.resolve(parts))


def _sub(resolver: Resolver, arg: Any) -> str:
    template, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
    local = {k: resolver.resolve(v) for k, v in variables.items()}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in local:
            return str(local[name])
        if "." in name and not name.startswith("AWS::"):
            logical_id, attribute = name.split(".", 1)
            return str(resolver.get_att(logical_id, attribute))
        return str(resolver.ref(name))

    return re.sub(r"\$\{([^}]+)\}", replace, template)


def _get_att(resolver: Resolver, arg: Any) -> Any:
    logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
    return resolver.get_att(logical_id, resolver.resolve(attribute))


def _import_value(resolver: Resolver, arg: Any) -> Any:
    name = resolver.resolve(arg)
    if name not in resolver._exports:
        raise UnresolvedReference(f"no stack exports {name!r}")
    return resolver._exports[name]


def _select(resolver: Resolver, arg: list) -> Any:
    index, values = resolver.resolve(arg[0]), resolver.resolve(arg[1])
    return values[int(index)]


def _split(resolver: Resolver, arg: list) -> list[str]:
    separator, source = arg
    return str(resolver.resolve(source)).split(separator)


def _if(resolver: Resolver, arg: list) -> Any:
    raise UnresolvedReference(f"Fn::If with condition {arg[0]!r} is not used by Annolake's templates")


_FUNCTIONS: dict[str, Callable[[Resolver, Any], Any]] = {
    "Ref": lambda r, a: r.ref(a),
    "Fn::GetAtt": _get_att,
    "Fn::Join": _join,
    "Fn::Sub": _sub,
    "Fn::ImportValue": _import_value,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::If": _if,
}


def references(value: Any) -> set[str]:
    """Logical ids a template value refers to (to order resource creation)."""
    found: set[str] = set()
    if isinstance(value, list):
        for v in value:
            found |= references(v)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str) and not arg.startswith("AWS::"):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg.split(".", 1)[0] if isinstance(arg, str) else arg[0])
            elif key == "Fn::Sub":
                template = arg if isinstance(arg, str) else arg[0]
                for name in re.findall(r"\$\{([^}!][^}]*)\}", template):
                    if not name.startswith("AWS::"):
                        found.add(name.split(".", 1)[0])
                if not isinstance(arg, str):
                    found |= references(arg[1])
            else:
                found |= references(arg)
    return found
