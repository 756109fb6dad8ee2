"""Helpers to name cdk-nag findings exactly (``applies_to``) instead of suppressing a rule wholesale.

cdk-nag flattens a policy resource such as ``{"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket12", "Arn"]}, "/*"]]}``
into ``Resource::<Bucket12.Arn>/*``; these functions build the same strings from the constructs.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import CfnElement, Stack
from cdk_nag import NagSuppressions
from constructs import IConstruct

# Wildcard actions of the L2 grant methods (their expansion is fixed by aws-cdk-lib).
S3_READ_ACTIONS = ("Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*")
S3_WRITE_ACTIONS = ("Action::s3:DeleteObject*", "Action::s3:Abort*")
S3_DELETE_ACTIONS = ("Action::s3:DeleteObject*",)


def logical_id(construct: IConstruct) -> str:
    """The logical id of the CloudFormation resource behind ``construct`` (an L2 or an L1)."""
    element = construct if isinstance(construct, CfnElement) else construct.node.default_child
    if not isinstance(element, CfnElement):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource")
    return Stack.of(element).get_logical_id(element)


def arn_of(construct: IConstruct) -> str:
    return f"<{logical_id(construct)}.Arn>"


def objects_of(bucket: IConstruct) -> str:
    """cdk-nag's name for the ``<bucket arn>/*`` resource of an S3 object grant."""
    return f"Resource::{arn_of(bucket)}/*"


def indexes_of(table: IConstruct) -> str:
    """cdk-nag's name for the ``<table arn>/index/*`` resource of a DynamoDB data grant."""
    return f"Resource::{arn_of(table)}/index/*"


def suppress_iam5(principal: IConstruct, applies_to: Iterable[str], reason: str) -> None:
    """Suppress exactly the wildcard findings ``applies_to`` on the principal's policies."""
    NagSuppressions.add_resource_suppressions(
        principal,
        [{"id": "AwsSolutions-IAM5", "reason": reason, "applies_to": sorted(set(applies_to))}],
        apply_to_children=True,
    )
