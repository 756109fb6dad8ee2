"""The web UI on CloudFront: the built single-page app in a private bucket, the API on the same origin.

- ``/*`` is served from a private S3 bucket through origin access control; a path that is not a file
  (a client-side route such as ``/p/demo/datasets``) gets ``index.html`` (SPA fallback, by a CloudFront
  Function on that behaviour only, so API errors are never rewritten).
- ``/api/*`` goes to the HTTP API, uncached, with every viewer header but ``Host`` (API Gateway routes by
  its own host name), so the browser calls the API on its own origin and needs no CORS.
- Every response carries security headers (HSTS, a content security policy, nosniff, frame denial).
- ``web/dist`` is deployed by a BucketDeployment in two parts: the content-hashed ``assets/`` cached for a
  year, and ``index.html`` plus the deploy-time ``config.json`` (API base, user pool ids) never cached.
  Without a built ``dist`` (synth in tests or for linting) nothing is deployed: the app refuses a real
  synth without it (``infra/app.py``), so no stand-in page is ever published.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra.constructs import nag
from infra.web_contract import ASSETS_CACHE, CONFIG_FILE, INDEX_FILE, NO_CACHE

ACCESS_LOG_RETENTION = Duration.days(365)
DEPLOY_MEMORY_MB = 512
# CDK's singleton function behind every BucketDeployment (one per memory size); its id is fixed by aws-cdk-lib.
DEPLOYMENT_HANDLER_PREFIX = "Custom::CDKBucketDeployment"
# Files are what Vite emits under /assets/ and the top-level files with an extension (/config.json,
# /favicon.svg); every other path is a client-side route, answered with index.html (the router takes over).
# Only the default (S3) behaviour runs it, so /api/* answers, 404s included, reach the browser unchanged.
# infra/local/runtime.py applies the same rule locally.
SPA_ROUTES_FUNCTION = """
function handler(event) {
  var request = event.request;
  var uri = request.uri;
  var file = uri.indexOf('/assets/') === 0 || (uri.indexOf('/', 1) === -1 && uri.indexOf('.') !== -1);
  if (!file) {
    request.uri = '/index.html';
  }
  return request;
}
"""


def content_security_policy(connect_hosts: list[str]) -> str:
    """Scripts and styles only from the site; images and requests also from the AWS hosts it talks to."""
    aws = " ".join(connect_hosts)
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: blob: {aws}",
            f"connect-src 'self' {aws}",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class WebSite(Construct):
    """Bucket, distribution and deployment of the web UI."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api_endpoint: str,
        media_bucket: s3.IBucket,
        runtime_config: dict[str, Any],
        dist: Path | None,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        # CloudFront's standard logs are written with ACLs, so this bucket (alone) keeps object ACLs enabled.
        self.logs_bucket = s3.Bucket(
            self,
            "LogsBucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.OBJECT_WRITER,
            lifecycle_rules=[s3.LifecycleRule(id="expire-access-logs", expiration=ACCESS_LOG_RETENTION)],
            removal_policy=removal_policy,
        )
        self.bucket = s3.Bucket(
            self,
            "SiteBucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.logs_bucket,
            server_access_logs_prefix="site-bucket/",
            removal_policy=removal_policy,
        )
        connect_hosts = [
            f"https://{media_bucket.bucket_domain_name}",  # presigned GETs (thumbnails, media) and POSTs (uploads)
            f"https://{media_bucket.bucket_regional_domain_name}",
            f"https://cognito-idp.{stack.region}.{stack.url_suffix}",  # sign-in
        ]
        self.headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="Annolake web UI: security headers",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy(connect_hosts), override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(730), include_subdomains=True, override=True
                ),
            ),
        )
        self.spa_routes = cloudfront.Function(
            self,
            "SpaRoutes",
            comment="Client-side routes of the web UI get index.html",
            code=cloudfront.FunctionCode.from_inline(SPA_ROUTES_FUNCTION),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
        )
        # "https://<id>.execute-api.<region>.amazonaws.com" -> the host name
        api_host = Fn.select(2, Fn.split("/", api_endpoint))
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="Annolake web UI and API",
            default_root_object=INDEX_FILE,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.headers,
                compress=True,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=self.spa_routes, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                    )
                ],
            ),
            additional_behaviors={
                "/api/*": cloudfront.BehaviorOptions(
                    origin=origins.HttpOrigin(api_host, protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY),
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    # Every viewer header (Authorization included) but Host, which must be the API's own.
                    origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                    response_headers_policy=self.headers,
                    compress=True,
                )
            },
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            enable_logging=True,
            log_bucket=self.logs_bucket,
            log_file_prefix="cloudfront/",
        )
        self.deployments: list[s3deploy.BucketDeployment] = []
        if dist is not None:
            self._deploy(dist, runtime_config)
        self._acknowledge()

    def _deploy(self, dist: Path, runtime_config: dict[str, Any]) -> None:
        assets = s3deploy.BucketDeployment(
            self,
            "DeployAssets",
            destination_bucket=self.bucket,
            sources=[s3deploy.Source.asset(str(dist), exclude=[INDEX_FILE, CONFIG_FILE])],
            cache_control=[s3deploy.CacheControl.from_string(ASSETS_CACHE)],
            prune=False,  # files of the previous build stay for pages still open on it
            memory_limit=DEPLOY_MEMORY_MB,
        )
        entry = s3deploy.BucketDeployment(
            self,
            "DeployEntry",
            destination_bucket=self.bucket,
            sources=[
                s3deploy.Source.asset(str(dist), exclude=["*", f"!{INDEX_FILE}"]),
                s3deploy.Source.json_data(CONFIG_FILE, runtime_config),
            ],
            cache_control=[s3deploy.CacheControl.from_string(NO_CACHE)],
            prune=False,
            memory_limit=DEPLOY_MEMORY_MB,  # the same as above, so both share CDK's one handler function
            distribution=self.distribution,
            distribution_paths=[f"/{INDEX_FILE}", f"/{CONFIG_FILE}"],
        )
        entry.node.add_dependency(assets)  # index.html only once the files it names are there
        self.deployments = [assets, entry]
        stack = Stack.of(self)
        handlers = [c for c in stack.node.children if c.node.id.startswith(DEPLOYMENT_HANDLER_PREFIX)]
        for handler in handlers:
            nag.acknowledge(
                handler,
                "IAM4",
                "CDK's BucketDeployment handler (not configurable) uses the AWS-managed basic execution role "
                "for its logs.",
                findings=["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
            )
            nag.acknowledge(
                handler,
                "IAM5",
                "CDK's BucketDeployment handler copies the build from the CDK asset bucket into the site bucket "
                "(object keys known only at deploy time) and invalidates the distribution (CloudFront "
                "invalidation actions support no resource-level permissions).",
                findings=[
                    *nag.S3_READ_ACTIONS,
                    *nag.S3_WRITE_ACTIONS,
                    nag.objects_of(handler, self.bucket),
                    "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*",
                    "Resource::*",
                ],
            )
            nag.acknowledge(
                handler,
                "L1",
                "CDK's BucketDeployment handler pins its own Lambda runtime, upgraded with aws-cdk-lib.",
            )

    def _acknowledge(self) -> None:
        nag.acknowledge(
            self.distribution,
            "CFR1",
            "The web UI serves a worldwide user base; access is controlled by sign-in, not by country.",
        )
        nag.acknowledge(
            self.distribution,
            "CFR2",
            "No WAF web ACL by default: the site is static files and the API behind it authenticates every "
            "request and is throttled at API Gateway. Attach a web ACL per deployment where required.",
        )
        nag.acknowledge(
            self.distribution,
            "CFR4",
            "Without a custom domain the distribution uses the default *.cloudfront.net certificate, whose "
            "security policy CloudFront fixes; TLSv1.2_2021 is set for when a certificate is attached.",
        )
