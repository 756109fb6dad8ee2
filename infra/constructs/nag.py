"""Acknowledging cdk-nag findings exactly, never a rule wholesale.

cdk-nag 3 runs as a CDK policy-validation plugin; a finding is acknowledged with
``Validations.of(construct).acknowledge(...)`` on the construct or an ancestor, by rule id, or by
``RuleId[FindingId]`` for rules with several findings per resource (IAM4/IAM5: the managed policy or the
wildcard). cdk-nag flattens a policy resource such as
``{"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket12", "Arn"]}, "/*"]]}`` into ``Resource::<Bucket12.Arn>/*``;
the functions below build the same names from the constructs' tokens.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from aws_cdk import Acknowledgment, Reference, Stack, Token, Tokenization, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import IConstruct

# Wildcard actions that the L2 grant methods expand to (fixed by aws-cdk-lib).
S3_READ_ACTIONS = ("Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*")
S3_WRITE_ACTIONS = ("Action::s3:DeleteObject*", "Action::s3:Abort*")
S3_DELETE_ACTIONS = ("Action::s3:DeleteObject*",)


def acknowledge(scope: IConstruct, rule: str, reason: str, findings: Iterable[str] = ()) -> None:
    """Acknowledge ``rule`` on ``scope`` and below: only the named ``findings`` when given."""
    ids = [f"AwsSolutions-{rule}[{finding}]" for finding in sorted(set(findings))] or [f"AwsSolutions-{rule}"]
    Validations.of(scope).acknowledge(*(Acknowledgment(id=rule_id, reason=reason) for rule_id in ids))


def flat_name(scope: IConstruct, value: str) -> str:
    """cdk-nag's flat name of ``value`` (a token such as an ARN) as used in ``scope``'s stack.

    Same stack: ``<Bucket12.Arn>``. From another stack the template imports it, and cdk-nag (which reads
    the synthesized templates) names the import: ``Annolake-dev-Data:ExportsOutputFnGetAttBucket12Arn34``.
    ``export_value`` returns that very import (CDK creates each export once, whoever asks).
    """
    stack = Stack.of(scope)
    token = Tokenization.reverse(value) if Token.is_unresolved(value) and _single_token(value) else None
    if isinstance(token, Reference):
        producer = Stack.of(token.target)
        if producer.node.path != stack.node.path:
            value = producer.export_value(value)
    return flatten(stack.resolve(value))


def _single_token(value: str) -> bool:
    """An ARN such as ``arn:${Token[Partition]}:…/webhooks/*`` is a concatenation, not one token."""
    try:
        Tokenization.reverse_complete_string(value)
    except RuntimeError:
        return False
    return True


def flatten(node: Any) -> str:
    """cdk-nag's flat name of a template value (``Resource::<Bucket12.Arn>/*``'s part after ``::``)."""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict) and len(node) == 1:
        ((function, arg),) = node.items()
        if function == "Fn::Join":
            return arg[0].join(flatten(item) for item in arg[1])
        if function == "Fn::GetAtt":
            return f"<{flatten(arg[0])}.{flatten(arg[1])}>"
        if function == "Ref":
            return f"<{flatten(arg)}>"
        if function in ("Fn::Sub", "Fn::ImportValue"):
            return flatten(arg)
    return json.dumps(node, separators=(",", ":"))


def objects_of(grantee: IConstruct, bucket: s3.IBucket, prefix: str = "") -> str:
    """The finding of an S3 object grant's ``<bucket arn>/<prefix>*`` resource in ``grantee``'s policy."""
    return f"Resource::{flat_name(grantee, bucket.bucket_arn)}/{prefix}*"


def indexes_of(grantee: IConstruct, table: dynamodb.ITable) -> str:
    """The finding of a DynamoDB data grant's ``<table arn>/index/*`` resource in ``grantee``'s policy."""
    return f"Resource::{flat_name(grantee, table.table_arn)}/index/*"


def versions_of(grantee: IConstruct, function: lambda_.IFunction) -> str:
    """The finding of a Lambda invoke grant's ``<function arn>:*`` resource (versions and aliases)."""
    return f"Resource::{flat_name(grantee, function.function_arn)}:*"
