"""The web stack: the single-page app on CloudFront, with the API of the app stack on the same origin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.constructs.web import WebSite
from infra.stacks.app_stack import AppStack
from infra.stacks.data_stack import DataStack
from infra.web_contract import runtime_config


class WebStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, data: DataStack, app: AppStack, dist: Path | None, **kwargs: Any
    ) -> None:
        config = data.config
        super().__init__(scope, construct_id, description=f"Annolake {config.name}: web UI (CloudFront)", **kwargs)
        # What the browser reads at start-up (web/src/config.ts); the same keys the local runtime serves.
        settings = runtime_config(
            region=self.region,
            user_pool_id=data.identity.user_pool.user_pool_id,
            user_pool_client_id=data.identity.client.user_pool_client_id,
            cognito_endpoint=f"https://cognito-idp.{self.region}.{self.url_suffix}",
            stage=config.name,
        )
        self.site = WebSite(
            self,
            "Site",
            api_endpoint=app.api.http_api.api_endpoint,
            media_bucket=data.storage.media_bucket,
            runtime_config=settings,
            dist=dist,
            removal_policy=config.removal_policy,
        )
        CfnOutput(
            self,
            "WebUrl",
            value=f"https://{self.site.distribution.distribution_domain_name}",
            description="The web UI (and the API under /api/v1)",
        )
        CfnOutput(self, "SiteBucketName", value=self.site.bucket.bucket_name)
