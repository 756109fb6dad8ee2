"""The web stack: the single-page app on CloudFront from a private bucket, the API on the same origin."""

from __future__ import annotations

import json
import subprocess

import pytest
from aws_cdk.assertions import Match, Template

from infra import app as infra_app
from infra import nodejs
from infra.app import WEB_DIST_CONTEXT, build_app
from infra.constructs.web import SPA_ROUTES_FUNCTION
from infra.web_contract import ASSETS_CACHE, NO_CACHE
from tests.infra.templates import one, resources

# CloudFront's managed policies (fixed ids)
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


@pytest.fixture(scope="module")
def web(dev):
    return dev.templates["web"]


def _distribution(template: Template) -> dict:
    return one(template.to_json(), "AWS::CloudFront::Distribution")[1]["Properties"]["DistributionConfig"]


def test_site_bucket_is_private_encrypted_and_logged(web):
    buckets = resources(web.to_json(), "AWS::S3::Bucket")
    assert len(buckets) == 2  # the site and its logs
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "AES256"
        }
    _, site = one(web.to_json(), "AWS::S3::Bucket", "SiteSiteBucket")
    assert site["Properties"]["LoggingConfiguration"]["LogFilePrefix"] == "site-bucket/"
    assert "WebsiteConfiguration" not in site["Properties"]  # served only through CloudFront


def test_cloudfront_reads_the_bucket_through_origin_access_control(web):
    web.resource_count_is("AWS::CloudFront::OriginAccessControl", 1)
    web.has_resource_properties(
        "AWS::CloudFront::OriginAccessControl",
        {
            "OriginAccessControlConfig": Match.object_like(
                {"OriginAccessControlOriginType": "s3", "SigningBehavior": "always"}
            )
        },
    )
    web.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "s3:GetObject",
                                "Principal": {"Service": "cloudfront.amazonaws.com"},
                                "Condition": {"StringEquals": {"AWS:SourceArn": Match.any_value()}},
                            }
                        )
                    ]
                )
            }
        },
    )
    config = _distribution(web)
    s3_origin = next(o for o in config["Origins"] if "S3OriginConfig" in o)
    assert s3_origin["OriginAccessControlId"]
    assert s3_origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}


def test_api_is_routed_on_the_same_origin_uncached_with_every_header_but_host(web):
    config = _distribution(web)
    (api,) = config["CacheBehaviors"]
    assert api["PathPattern"] == "/api/*"
    assert api["CachePolicyId"] == CACHING_DISABLED
    assert api["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert set(api["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    assert api["ViewerProtocolPolicy"] == "https-only"
    origin = next(o for o in config["Origins"] if o["Id"] == api["TargetOriginId"])
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    # the host of the app stack's HTTP API endpoint (an import of its export)
    text = json.dumps(origin["DomainName"])
    assert "Fn::Split" in text and "Fn::ImportValue" in text and "HttpApi" in text
    assert "FunctionAssociations" not in api  # API answers (404s included) are never rewritten


def test_pages_are_cached_and_client_routes_fall_back_to_index_html(web):
    config = _distribution(web)
    default = config["DefaultCacheBehavior"]
    assert config["DefaultRootObject"] == "index.html"
    assert default["CachePolicyId"] == CACHING_OPTIMIZED
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    (association,) = default["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    assert "CustomErrorResponses" not in config  # they would rewrite the API's errors too
    _, function = one(web.to_json(), "AWS::CloudFront::Function")
    assert function["Properties"]["FunctionCode"] == SPA_ROUTES_FUNCTION
    assert config["Logging"]["Prefix"] == "cloudfront/"


@pytest.mark.parametrize(
    ("uri", "served"),
    [
        ("/", "/index.html"),
        ("/p/demo/datasets/default", "/index.html"),
        ("/p/demo/datasets/v1.2", "/index.html"),  # a route segment with a dot is still a route
        ("/signin", "/index.html"),
        ("/assets/index-abc123.js", "/assets/index-abc123.js"),
        ("/config.json", "/config.json"),
        ("/favicon.svg", "/favicon.svg"),
    ],
)
def test_the_spa_function_keeps_files_and_rewrites_routes(uri, served):
    script = SPA_ROUTES_FUNCTION + f"\nconsole.log(handler({{request: {{uri: {json.dumps(uri)}}}}}).uri);"
    result = subprocess.run([*nodejs.command("node"), "-e", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == served


def test_every_response_gets_the_security_headers(web):
    _, policy = one(web.to_json(), "AWS::CloudFront::ResponseHeadersPolicy")
    headers = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert headers["ContentTypeOptions"]["Override"] is True
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == "strict-origin-when-cross-origin"
    csp = json.dumps(headers["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    for directive in ("default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'"):
        assert directive in csp
    assert "cognito-idp." in csp  # sign-in
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    config = _distribution(web)
    policy_ref = config["DefaultCacheBehavior"]["ResponseHeadersPolicyId"]
    assert config["CacheBehaviors"][0]["ResponseHeadersPolicyId"] == policy_ref


def test_the_build_and_config_json_are_deployed_with_the_right_caching(web, dev):
    deployments = resources(web.to_json(), "Custom::CDKBucketDeployment")
    by_cache = {d["Properties"]["SystemMetadata"]["cache-control"]: d["Properties"] for d in deployments.values()}
    assert set(by_cache) == {ASSETS_CACHE, NO_CACHE}
    entry = by_cache[NO_CACHE]
    assert entry["DistributionPaths"] == ["/index.html", "/config.json"]  # invalidated on every deploy
    markers = json.dumps(entry["SourceMarkers"])
    # config.json is generated at deploy time from the data stack's user pool and client
    assert "UserPool" in markers and "SpaClient" in markers and "cognito-idp." in markers
    assert all(d["Properties"]["Prune"] is False for d in deployments.values())
    # what each deployment's asset holds
    assets = json.loads((dev.outdir / "Annolake-dev-Web.assets.json").read_text())["files"]
    staged = {
        key.removesuffix(".zip"): sorted(
            str(p.relative_to(dev.outdir / asset["source"]["path"]))
            for p in (dev.outdir / asset["source"]["path"]).rglob("*")
            if p.is_file()
        )
        for key, asset in assets.items()
        if asset["source"].get("packaging") == "zip" and (dev.outdir / asset["source"]["path"]).is_dir()
    }
    contents = sorted(staged.values())
    assert ["assets/index-abc123.js", "favicon.svg"] in contents  # hashed files (and public/) for a year
    assert ["index.html"] in contents
    assert ["config.json"] in contents


def test_config_json_has_the_keys_the_app_reads(web):
    from infra.web_contract import runtime_config

    keys = set(runtime_config(region="r", user_pool_id="p", user_pool_client_id="c", cognito_endpoint="e", stage="s"))
    config_ts = (infra_app.REPO_ROOT / "web" / "src" / "config.ts").read_text()
    for key in keys:
        assert f'"{key}"' in config_ts, f"web/src/config.ts does not read {key}"


def test_outputs_name_the_site(web):
    outputs = web.to_json()["Outputs"]
    assert "WebUrl" in outputs and "SiteBucketName" in outputs


def test_without_a_built_site_nothing_is_deployed(tmp_path):
    app = build_app(
        {
            "aws:cdk:bundling-stacks": [],
            "@aws-cdk/core:failSynthOnValidationErrors": False,
            WEB_DIST_CONTEXT: str(tmp_path / "not-built"),
        },
        outdir=str(tmp_path / "out"),
    )
    template = Template.from_stack(app.node.find_child("Annolake-dev-Web"))
    template.resource_count_is("Custom::CDKBucketDeployment", 0)
    template.resource_count_is("AWS::CloudFront::Distribution", 1)


def test_a_deployable_synth_refuses_to_run_without_the_built_site(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("ANNOLAKE_SKIP_BUNDLING", raising=False)
    monkeypatch.setenv("CDK_OUTDIR", str(tmp_path))
    monkeypatch.setattr(infra_app, "WEB_DIST", tmp_path / "not-built")
    assert infra_app.main() == 1
    assert "make web" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.template.json"))
