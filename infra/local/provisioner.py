"""Create the resources of the synthesized templates on the emulator.

Driven entirely by the cloud assembly: every resource type found there is either created here or
listed in ``NOT_EMULATED`` with the reason it needs no local counterpart. A type in neither is an
error, so a new kind of resource in ``infra/`` cannot silently go missing locally.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from infra.local.assembly import CloudAssembly, StackTemplate
from infra.local.intrinsics import ACCOUNT_ID, REGION, Resolver, UnresolvedReference, references

API_LOCAL_URL = "http://127.0.0.1:8000"

NOT_EMULATED = {
    "AWS::CDK::Metadata": "CDK bookkeeping",
    "AWS::Lambda::LayerVersion": "dependencies come from the local .venv, where handlers run in-process",
    "AWS::Lambda::Permission": "the emulator does not enforce resource policies",
    "AWS::Lambda::Version": "handlers run in-process from functions/ (no versions, no SnapStart snapshots)",
    "AWS::Lambda::Alias": "handlers run in-process from functions/ (no versions, no SnapStart snapshots)",
    "AWS::Lambda::EventInvokeConfig": "async retries and destinations are a Lambda service feature",
    "AWS::SQS::QueuePolicy": "the emulator does not enforce resource policies",
    "AWS::SNS::TopicPolicy": "the emulator does not enforce resource policies",
    "AWS::SNS::Subscription": "alarm e-mail is not sent locally",
    "AWS::CloudWatch::Alarm": "no metrics are emitted locally",
    "AWS::ApiGatewayV2::Api": "uvicorn serves the same FastAPI app on 127.0.0.1:8000",
    "AWS::ApiGatewayV2::Stage": "uvicorn serves the same FastAPI app on 127.0.0.1:8000",
    "AWS::ApiGatewayV2::Integration": "uvicorn serves the same FastAPI app on 127.0.0.1:8000",
    "AWS::ApiGatewayV2::Route": "uvicorn serves the same FastAPI app on 127.0.0.1:8000",
    "AWS::IAM::ManagedPolicy": "the emulator does not enforce IAM",
    "AWS::KMS::Key": "objects are not encrypted at rest locally",
    "AWS::KMS::Alias": "objects are not encrypted at rest locally",
    "AWS::Cognito::UserPoolDomain": "hosted UI domains do not exist locally",
    "AWS::S3::BucketPolicy": "the emulator does not enforce bucket policies; presigned URLs are checked",
    "AWS::CloudFront::Distribution": "uvicorn serves web/dist and the API on one origin, 127.0.0.1:8000",
    "AWS::CloudFront::OriginAccessControl": "uvicorn reads web/dist from disk, not from the site bucket",
    "AWS::CloudFront::Function": "uvicorn answers client-side routes with index.html by the same rule",
    "AWS::CloudFront::ResponseHeadersPolicy": "security headers are a CloudFront feature (the UI is plain HTTP here)",
    "AWS::Glue::Database": "locally the embedded engine answers every index query, engine=athena too",
    "AWS::Glue::Table": "locally the embedded engine answers every index query, engine=athena too",
    "AWS::Athena::WorkGroup": "locally the embedded engine answers every index query, engine=athena too",
    "Custom::CDKBucketDeployment": "uvicorn serves web/dist as built and writes config.json for the emulator",
}


class ProvisioningError(RuntimeError):
    pass


@dataclass
class Created:
    logical_id: str
    type: str
    ref: Any
    attributes: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class Deployment:
    """What the local stack consists of once provisioned."""

    resources: dict[str, dict[str, Created]]  # stack name -> logical id -> created
    function_env: dict[str, dict[str, str]]  # function name -> resolved environment
    function_code: dict[str, Path]  # function name -> code asset directory
    api_function: str

    def of_type(self, resource_type: str) -> list[Created]:
        return [c for stack in self.resources.values() for c in stack.values() if c.type == resource_type]

    @property
    def api_environment(self) -> dict[str, str]:
        return self.function_env[self.api_function]

    def merged_environment(self) -> dict[str, str]:
        """One process runs every handler, so a variable must mean the same on every function."""
        merged: dict[str, str] = {}
        for name, env in sorted(self.function_env.items()):
            for key, value in env.items():
                if key in merged and merged[key] != value:
                    raise ProvisioningError(
                        f"function {name} sets {key}={value!r} but another function sets {merged[key]!r}; "
                        "the local runtime runs all handlers in one process, so infra/ must use one value"
                    )
                merged[key] = value
        return merged


def physical_name(stack: str, logical_id: str, *, limit: int = 63) -> str:
    name = re.sub(r"[^a-z0-9-]", "-", f"{stack}-{logical_id}".lower())
    return name[:limit].rstrip("-")


class Provisioner:
    def __init__(self, session: boto3.Session, endpoint_url: str) -> None:
        self._session = session
        self._endpoint = endpoint_url
        self._clients: dict[str, Any] = {}
        self._exports: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self._endpoint, region_name=REGION)
        return self._clients[service]

    def deploy(self, assembly: CloudAssembly) -> Deployment:
        resources: dict[str, dict[str, Created]] = {}
        function_env: dict[str, dict[str, str]] = {}
        function_code: dict[str, Path] = {}
        for stack in assembly.stacks:
            created = self._deploy_stack(stack)
            resources[stack.name] = created
            for item in created.values():
                if item.type == "AWS::Lambda::Function" and "code_dir" in item.attributes:
                    function_env[item.ref] = item.attributes["environment"]
                    function_code[item.ref] = item.attributes["code_dir"]
        api_function = _api_function(assembly, resources)
        return Deployment(resources, function_env, function_code, api_function)

    # --- per stack ------------------------------------------------------------------------

    def _deploy_stack(self, stack: StackTemplate) -> dict[str, Created]:
        template_resources = stack.resources
        unknown = sorted({r["Type"] for r in template_resources.values()} - set(_CREATORS) - set(NOT_EMULATED))
        if unknown:
            raise ProvisioningError(
                f"{stack.name} declares {unknown}, which the local runtime neither emulates nor skips; "
                "add them to infra/local/provisioner.py"
            )
        created: dict[str, Created] = {}
        parameters = {k: v.get("Default") for k, v in stack.template.get("Parameters", {}).items()}

        def ref(logical_id: str) -> Any:
            if logical_id not in created:
                raise UnresolvedReference(f"{stack.name}: {logical_id} is not created (yet)")
            return created[logical_id].ref

        def get_att(logical_id: str, attribute: str) -> Any:
            item = created.get(logical_id)
            if item is None or attribute not in item.attributes:
                raise UnresolvedReference(f"{stack.name}: no attribute {attribute} on {logical_id}")
            return item.attributes[attribute]

        resolver = Resolver(
            stack_name=stack.name, ref=ref, get_att=get_att, exports=self._exports, parameters=parameters
        )
        for logical_id in _creation_order(template_resources):
            resource = template_resources[logical_id]
            rtype = resource["Type"]
            if rtype in NOT_EMULATED:
                created[logical_id] = _not_emulated(logical_id, rtype)
                continue
            properties = resolver.resolve(resource.get("Properties", {}))
            context = _Context(self, stack, logical_id, properties)
            created[logical_id] = _CREATORS[rtype](context)
        for output in stack.template.get("Outputs", {}).values():
            export = output.get("Export")
            if export:
                self._exports[resolver.resolve(export["Name"])] = resolver.resolve(output["Value"])
        return created


@dataclass
class _Context:
    provisioner: Provisioner
    stack: StackTemplate
    logical_id: str
    properties: dict[str, Any]

    def client(self, service: str) -> Any:
        return self.provisioner.client(service)

    def name(self, property_name: str, *, limit: int = 63) -> str:
        return self.properties.get(property_name) or physical_name(self.stack.name, self.logical_id, limit=limit)

    def created(self, ref: Any, **attributes: Any) -> Created:
        rtype = self.stack.resources[self.logical_id]["Type"]
        return Created(self.logical_id, rtype, ref=ref, attributes=attributes, properties=self.properties)


def _not_emulated(logical_id: str, rtype: str) -> Created:
    """A stand-in whose Ref/attributes say "local"; the HTTP API's endpoint is uvicorn's URL."""
    attributes: dict[str, Any] = {"Arn": f"arn:aws:local:{REGION}:{ACCOUNT_ID}:{logical_id}"}
    if rtype == "AWS::ApiGatewayV2::Api":
        attributes["ApiEndpoint"] = API_LOCAL_URL
    return Created(logical_id, rtype, ref=f"local-{logical_id}", attributes=attributes)


def _creation_order(resources: dict[str, dict[str, Any]]) -> list[str]:
    ordered: list[str] = []
    state: dict[str, str] = {}

    def visit(logical_id: str) -> None:
        if state.get(logical_id) == "done":
            return
        if state.get(logical_id) == "visiting":
            raise ProvisioningError(f"circular reference through {logical_id}")
        state[logical_id] = "visiting"
        resource = resources[logical_id]
        depends = resource.get("DependsOn", [])
        deps = references(resource.get("Properties", {})) | set([depends] if isinstance(depends, str) else depends)
        for dep in sorted(d for d in deps if d in resources):
            visit(dep)
        state[logical_id] = "done"
        ordered.append(logical_id)

    for logical_id in resources:
        visit(logical_id)
    return ordered


def _api_function(assembly: CloudAssembly, resources: dict[str, dict[str, Created]]) -> str:
    """The function behind the HTTP API's Lambda integration (through its alias: the SnapStart version)."""
    for stack in assembly.stacks:
        for logical_id, resource in stack.resources.items():
            if resource["Type"] != "AWS::ApiGatewayV2::Integration":
                continue
            targets = references(resource["Properties"].get("IntegrationUri"))
            for alias in [t for t in targets if stack.resources.get(t, {}).get("Type") == "AWS::Lambda::Alias"]:
                targets |= references(stack.resources[alias]["Properties"].get("FunctionName"))
            for target in sorted(targets):
                item = resources[stack.name].get(target)
                if item and item.type == "AWS::Lambda::Function":
                    return item.ref
            raise ProvisioningError(f"{logical_id} does not integrate a Lambda function")
    raise ProvisioningError("no HTTP API integration in the templates: which function serves the API?")


# --- creators ---------------------------------------------------------------------------------


def create_table(dynamodb: Any, name: str, properties: dict[str, Any]) -> dict[str, Any]:
    """An ``AWS::DynamoDB::Table`` of the template (resolved ``properties``) named ``name``: its description."""
    p = properties
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": p["KeySchema"],
        "AttributeDefinitions": p["AttributeDefinitions"],
        "BillingMode": p.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if p.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = [
            {k: v for k, v in gsi.items() if k in ("IndexName", "KeySchema", "Projection")}
            for gsi in p["GlobalSecondaryIndexes"]
        ]
    if p.get("StreamSpecification"):
        request["StreamSpecification"] = {"StreamEnabled": True, **p["StreamSpecification"]}
    description: dict[str, Any] = dynamodb.create_table(**request)["TableDescription"]
    ttl = p.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
        )
    return description


def _table(ctx: _Context) -> Created:
    name = ctx.name("TableName", limit=255)
    description = create_table(ctx.client("dynamodb"), name, ctx.properties)
    return ctx.created(name, Arn=description["TableArn"], StreamArn=description.get("LatestStreamArn", ""))


def _bucket(ctx: _Context) -> Created:
    p = ctx.properties
    name = ctx.name("BucketName")
    s3 = ctx.client("s3")
    s3.create_bucket(Bucket=name)
    if p.get("CorsConfiguration"):
        renamed = {"ExposedHeaders": "ExposeHeaders", "MaxAge": "MaxAgeSeconds", "Id": "ID"}
        rules = [{renamed.get(k, k): v for k, v in rule.items()} for rule in p["CorsConfiguration"]["CorsRules"]]
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": rules})
    if p.get("PublicAccessBlockConfiguration"):
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=p["PublicAccessBlockConfiguration"])
    return ctx.created(
        name,
        Arn=f"arn:aws:s3:::{name}",
        DomainName=f"{name}.s3.amazonaws.com",
        RegionalDomainName=f"{name}.s3.{REGION}.amazonaws.com",
        WebsiteURL=f"http://{name}.s3-website-{REGION}.amazonaws.com",
    )


def _role(ctx: _Context) -> Created:
    p = ctx.properties
    name = ctx.name("RoleName")
    iam = ctx.client("iam")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(p["AssumeRolePolicyDocument"]))
    for policy in p.get("Policies", []):
        iam.put_role_policy(
            RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(policy["PolicyDocument"])
        )
    return ctx.created(name, Arn=f"arn:aws:iam::{ACCOUNT_ID}:role/{name}", RoleId=name)


def _policy(ctx: _Context) -> Created:
    p = ctx.properties
    iam = ctx.client("iam")
    for role in p.get("Roles", []):
        iam.put_role_policy(RoleName=role, PolicyName=p["PolicyName"], PolicyDocument=json.dumps(p["PolicyDocument"]))
    return ctx.created(p["PolicyName"])


@functools.lru_cache(maxsize=8)
def _zip_directory(directory: Path) -> bytes:
    """The code asset as a zip, made once per process: every function of the app shares one asset, and
    compressing it again for each was a quarter of a start. (An asset's directory is named by the hash of
    its content, so a cached zip never goes stale.)"""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(directory))
    return buffer.getvalue()


def _inline_zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", source)
    return buffer.getvalue()


def _function(ctx: _Context) -> Created:
    p = ctx.properties
    name = ctx.name("FunctionName", limit=64)
    code = p["Code"]
    attributes: dict[str, Any] = {}
    if "ZipFile" in code:
        zipped = _inline_zip(code["ZipFile"])  # CDK's own custom-resource handlers; never invoked
    else:
        asset_hash = str(code["S3Key"]).removesuffix(".zip")
        code_dir = ctx.stack.assets.get(asset_hash)
        if code_dir is None:
            raise ProvisioningError(f"{ctx.logical_id}: code asset {asset_hash} is not in the cloud assembly")
        zipped = _zip_directory(code_dir)
        attributes["code_dir"] = code_dir
    environment = {k: str(v) for k, v in p.get("Environment", {}).get("Variables", {}).items()}
    attributes["environment"] = environment
    response = ctx.client("lambda").create_function(
        FunctionName=name,
        Runtime=p.get("Runtime", "python3.12"),
        Role=p["Role"],
        Handler=p.get("Handler", "index.handler"),
        Code={"ZipFile": zipped},
        Environment={"Variables": environment},
        Timeout=int(p.get("Timeout", 3)),
        MemorySize=int(p.get("MemorySize", 128)),
    )
    return ctx.created(name, Arn=response["FunctionArn"], **attributes)


def _state_machine(ctx: _Context) -> Created:
    p = ctx.properties
    name = ctx.name("StateMachineName", limit=80)
    definition = p.get("DefinitionString") or json.dumps(p["Definition"])
    for key, value in p.get("DefinitionSubstitutions", {}).items():
        definition = definition.replace("${" + key + "}", str(value))
    arn = ctx.client("stepfunctions").create_state_machine(
        name=name, definition=definition, roleArn=p["RoleArn"], type=p.get("StateMachineType", "STANDARD")
    )["stateMachineArn"]
    return ctx.created(arn, Arn=arn, Name=name)


def _bucket_notifications(ctx: _Context) -> Created:
    p = ctx.properties
    configuration = {k: v for k, v in p["NotificationConfiguration"].items() if v}
    ctx.client("s3").put_bucket_notification_configuration(
        Bucket=p["BucketName"], NotificationConfiguration=configuration
    )
    return ctx.created(f"{p['BucketName']}-notifications")


def _user_pool(ctx: _Context) -> Created:
    p = ctx.properties
    name = ctx.name("UserPoolName", limit=128)
    request = {
        k: p[k]
        for k in ("Policies", "UsernameAttributes", "AliasAttributes", "AutoVerifiedAttributes", "MfaConfiguration")
        if k in p
    }
    pool = ctx.client("cognito-idp").create_user_pool(PoolName=name, **request)["UserPool"]
    return ctx.created(
        pool["Id"],
        Arn=pool["Arn"],
        ProviderName=f"cognito-idp.{REGION}.amazonaws.com/{pool['Id']}",
        ProviderURL=f"https://cognito-idp.{REGION}.amazonaws.com/{pool['Id']}",
    )


def _user_pool_client(ctx: _Context) -> Created:
    p = ctx.properties
    request = {
        k: p[k]
        for k in (
            "ExplicitAuthFlows",
            "GenerateSecret",
            "AllowedOAuthFlows",
            "AllowedOAuthScopes",
            "CallbackURLs",
            "LogoutURLs",
            "SupportedIdentityProviders",
            "AllowedOAuthFlowsUserPoolClient",
        )
        if k in p
    }
    client = ctx.client("cognito-idp").create_user_pool_client(
        UserPoolId=p["UserPoolId"], ClientName=p.get("ClientName", ctx.logical_id), **request
    )["UserPoolClient"]
    return ctx.created(client["ClientId"], ClientSecret=client.get("ClientSecret", ""))


def _queue(ctx: _Context) -> Created:
    p = ctx.properties
    name = ctx.name("QueueName", limit=80)
    attributes: dict[str, str] = {
        k: str(p[k]) for k in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds") if k in p
    }
    if p.get("RedrivePolicy"):
        attributes["RedrivePolicy"] = json.dumps(p["RedrivePolicy"])
    url = ctx.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return ctx.created(url, Arn=f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}", QueueName=name, QueueUrl=url)


def _event_bus(ctx: _Context) -> Created:
    name = ctx.name("Name", limit=256)
    arn = ctx.client("events").create_event_bus(Name=name)["EventBusArn"]
    return ctx.created(name, Arn=arn, Name=name)


def _rule(ctx: _Context) -> Created:
    p = ctx.properties
    name = ctx.name("Name", limit=64)
    bus = p.get("EventBusName", "default")
    events = ctx.client("events")
    trigger = {"EventPattern": json.dumps(p["EventPattern"])} if "EventPattern" in p else {}
    if "ScheduleExpression" in p:  # run by infra.local.schedules, as EventBridge's scheduler would
        trigger["ScheduleExpression"] = p["ScheduleExpression"]
    arn = events.put_rule(
        Name=name,
        EventBusName=bus,
        State=p.get("State", "ENABLED"),
        Description=p.get("Description", ""),
        **trigger,
    )["RuleArn"]
    targets = [{k: v for k, v in t.items() if k in ("Id", "Arn", "Input", "InputPath")} for t in p.get("Targets", [])]
    if targets:
        events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
    return ctx.created(name, Arn=arn)


def _event_source_mapping(ctx: _Context) -> Created:
    """SQS or a table's stream -> function; delivered by ``infra.local.event_sources`` and
    ``infra.local.stream_sources`` as Lambda's pollers would (a stream mapping's filters included)."""
    p = ctx.properties
    mapping = ctx.client("lambda").create_event_source_mapping(
        EventSourceArn=p["EventSourceArn"],
        FunctionName=p["FunctionName"],
        BatchSize=int(p.get("BatchSize", 10)),
        MaximumBatchingWindowInSeconds=int(p.get("MaximumBatchingWindowInSeconds", 0)),
        FunctionResponseTypes=p.get("FunctionResponseTypes", []),
        **({"FilterCriteria": p["FilterCriteria"]} if p.get("FilterCriteria") else {}),
    )
    return ctx.created(mapping["UUID"])


def _topic(ctx: _Context) -> Created:
    name = ctx.name("TopicName", limit=256)
    arn = ctx.client("sns").create_topic(Name=name)["TopicArn"]
    return ctx.created(arn, TopicArn=arn, TopicName=name)


def _log_group(ctx: _Context) -> Created:
    name = ctx.name("LogGroupName", limit=512)
    logs = ctx.client("logs")
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=name)
    return ctx.created(name, Arn=f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{name}:*")


_CREATORS: dict[str, Callable[[_Context], Created]] = {
    "AWS::DynamoDB::Table": _table,
    "AWS::S3::Bucket": _bucket,
    "AWS::IAM::Role": _role,
    "AWS::IAM::Policy": _policy,
    "AWS::Lambda::Function": _function,
    "AWS::StepFunctions::StateMachine": _state_machine,
    "Custom::S3BucketNotifications": _bucket_notifications,
    "AWS::Cognito::UserPool": _user_pool,
    "AWS::Cognito::UserPoolClient": _user_pool_client,
    "AWS::SQS::Queue": _queue,
    "AWS::Events::EventBus": _event_bus,
    "AWS::Events::Rule": _rule,
    "AWS::Lambda::EventSourceMapping": _event_source_mapping,
    "AWS::SNS::Topic": _topic,
    "AWS::Logs::LogGroup": _log_group,
}


def handled_types() -> set[str]:
    return set(_CREATORS) | set(NOT_EMULATED)
