"""The stateful stack: tables, buckets and the user pool, deployed apart so app changes never replace them."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.identity import Identity
from infra.constructs.storage import Storage
from infra.constructs.tables import Tables


class DataStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, description=f"Annolake {config.name}: data", **kwargs)
        self.config = config
        self.tables = Tables(self, "Tables", config=config)
        self.storage = Storage(self, "Storage", config=config)
        self.identity = Identity(self, "Identity", config=config)

        outputs = {
            "TableName": self.tables.table.table_name,
            "MediaBucketName": self.storage.media_bucket.bucket_name,
            "DropBucketName": self.storage.drop_bucket.bucket_name,
            "UserPoolId": self.identity.user_pool.user_pool_id,
            "UserPoolClientId": self.identity.client.user_pool_client_id,
        }
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)
