"""DynamoDB: the single table every repository writes to."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.nag import acknowledge

_S = dynamodb.AttributeType.STRING


def _key(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=_S)


class Tables(Construct):
    """``table``: PK/SK with GSI1 and GSI2 (keys built only in the adapters), and a stream of changes."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Main",
            partition_key=_key("PK"),
            sort_key=_key("SK"),
            time_to_live_attribute="ttl",
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            # The query index updater reads the keys (and re-reads what changed); the workflow's progress reads
            # what an item was and became (a task submitted, a file completed).
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=config.point_in_time_recovery
            ),
            deletion_protection=config.deletion_protection,
            removal_policy=config.removal_policy,
        )
        for index in ("GSI1", "GSI2"):
            self.table.add_global_secondary_index(
                index_name=index,
                partition_key=_key(f"{index}PK"),
                sort_key=_key(f"{index}SK"),
                projection_type=dynamodb.ProjectionType.ALL,
            )
        if not config.point_in_time_recovery:
            acknowledge(
                self,
                "DDB3",
                f"Stage {config.name} holds disposable data; point-in-time recovery is enabled by the stage "
                "config where data matters (prod).",
            )
