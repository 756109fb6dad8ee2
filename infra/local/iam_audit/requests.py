"""What IAM authorizes for one AWS API call: its actions and the ARNs of the resources it touches.

An API operation is not always the IAM action of the same name (S3's ``HeadObject`` is ``s3:GetObject``,
DynamoDB's ``TransactWriteItems`` is a ``PutItem``/``UpdateItem``/... per item) and its resource is spelled
in its parameters (``Bucket`` + ``Key``, ``TableName`` + ``IndexName``, ``stateMachineArn``). Each operation
the platform calls has a rule here; a call without one is reported by the check, so a new kind of call gets
a rule, not a silent pass. Operations that IAM does not authorize (Cognito's user-facing calls, STS's
``GetCallerIdentity``) are listed in ``UNAUTHORIZED``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from infra.local.intrinsics import ACCOUNT_ID, REGION

Access = tuple[str, str]  # (service:Action, resource ARN)
TASK_TOKEN = "task-token:"  # noqa: S105 - marks a Step Functions task token; the check maps it to its machine

UNAUTHORIZED = {
    ("cognito-idp", op)
    for op in ("InitiateAuth", "RespondToAuthChallenge", "GetUser", "GlobalSignOut", "SignUp", "ConfirmSignUp")
} | {("sts", "GetCallerIdentity")}


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{resource}"


def _named(service: str, kind: str, separator: str = ":") -> Callable[[str], str]:
    """A resource given by name or by ARN (``FunctionName``, ``EventBusName``, ``SecretId``)."""

    def arn(value: str) -> str:
        return value if value.startswith("arn:") else _arn(service, f"{kind}{separator}{value}")

    return arn


_function = _named("lambda", "function")
_bus = _named("events", "event-bus", "/")


def _secret(value: str) -> str:
    # A secret's ARN ends in "-" and six random characters; policies name it "<name>-??????" or "<name>*".
    return value if value.startswith("arn:") else _arn("secretsmanager", f"secret:{value}-AbCdEf")


def _table(name: str, index: str | None = None) -> str:
    table = name if name.startswith("arn:") else _arn("dynamodb", f"table/{name}")
    return f"{table}/index/{index}" if index else table


def _object(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def _bucket(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


# --- DynamoDB -----------------------------------------------------------------------------------

_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def _dynamodb(operation: str, params: dict[str, Any]) -> Iterator[Access]:
    if operation in ("BatchGetItem", "BatchWriteItem"):
        for table in params.get("RequestItems", {}):
            yield f"dynamodb:{operation}", _table(table)
    elif operation == "TransactWriteItems":
        for item in params.get("TransactItems", []):
            for kind, request in item.items():
                yield f"dynamodb:{_TRANSACT_ACTIONS[kind]}", _table(request["TableName"])
    elif operation == "TransactGetItems":
        for item in params.get("TransactItems", []):
            yield "dynamodb:GetItem", _table(item["Get"]["TableName"])
    elif "TableName" in params:
        yield f"dynamodb:{operation}", _table(params["TableName"], params.get("IndexName"))
    else:
        raise KeyError(operation)


# --- S3 -----------------------------------------------------------------------------------------

_S3_OBJECT_ACTIONS = {
    "GetObject": "GetObject",
    "HeadObject": "GetObject",
    "PutObject": "PutObject",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "AbortMultipartUpload": "AbortMultipartUpload",
    "DeleteObject": "DeleteObject",
    "GetObjectTagging": "GetObjectTagging",
    "PutObjectTagging": "PutObjectTagging",
}
_S3_BUCKET_ACTIONS = {
    "ListObjectsV2": "ListBucket",
    "ListObjects": "ListBucket",
    "HeadBucket": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "ListMultipartUploads": "ListBucketMultipartUploads",
    "GetBucketLocation": "GetBucketLocation",
    "GetBucketCors": "GetBucketCORS",
}


def _s3(operation: str, params: dict[str, Any]) -> Iterator[Access]:
    bucket = params["Bucket"]
    if operation in _S3_OBJECT_ACTIONS:
        action = _S3_OBJECT_ACTIONS[operation]
        if operation in ("GetObject", "HeadObject") and params.get("VersionId"):
            action = "GetObjectVersion"
        yield f"s3:{action}", _object(bucket, params["Key"])
    elif operation in _S3_BUCKET_ACTIONS:
        yield f"s3:{_S3_BUCKET_ACTIONS[operation]}", _bucket(bucket)
    elif operation == "CopyObject":
        source = params["CopySource"]
        if isinstance(source, str):
            source_bucket, _, source_key = source.lstrip("/").partition("/")
            source_key = source_key.split("?versionId=", 1)[0]
        else:
            source_bucket, source_key = source["Bucket"], source["Key"]
        yield "s3:GetObject", _object(source_bucket, source_key)
        yield "s3:PutObject", _object(bucket, params["Key"])
    elif operation == "DeleteObjects":
        for item in params.get("Delete", {}).get("Objects", []):
            yield "s3:DeleteObject", _object(bucket, item["Key"])
    else:
        raise KeyError(operation)


def presigned_post(bucket: str, key: str) -> list[Access]:
    """A form upload's policy lets its holder put the key (``${filename}``: any name the browser gives)."""
    return [("s3:PutObject", _object(bucket, key.replace("${filename}", "*")))]


# --- the others ---------------------------------------------------------------------------------


def _states(operation: str, params: dict[str, Any]) -> Iterator[Access]:
    if operation in ("SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"):
        yield f"states:{operation}", TASK_TOKEN + params["taskToken"]
        return
    for name in ("stateMachineArn", "executionArn", "mapRunArn", "activityArn"):
        if name in params:
            yield f"states:{operation}", params[name]
            return
    raise KeyError(operation)


def _events(operation: str, params: dict[str, Any]) -> Iterator[Access]:
    if operation != "PutEvents":
        raise KeyError(operation)
    for bus in sorted({entry.get("EventBusName", "default") for entry in params.get("Entries", [])}):
        yield "events:PutEvents", _bus(bus)


def _lambda(operation: str, params: dict[str, Any]) -> Iterator[Access]:
    action = {"Invoke": "InvokeFunction", "InvokeAsync": "InvokeFunction"}.get(operation, operation)
    arn = _function(params["FunctionName"])
    qualifier = params.get("Qualifier")
    yield f"lambda:{action}", f"{arn}:{qualifier}" if qualifier else arn


def _secretsmanager(operation: str, params: dict[str, Any]) -> Iterator[Access]:
    yield f"secretsmanager:{operation}", _secret(params.get("SecretId") or params["Name"])


def _cognito(operation: str, params: dict[str, Any]) -> Iterator[Access]:
    yield f"cognito-idp:{operation}", _arn("cognito-idp", f"userpool/{params['UserPoolId']}")


def _sqs(operation: str, params: dict[str, Any]) -> Iterator[Access]:
    yield f"sqs:{operation.removesuffix('Batch')}", _arn("sqs", params["QueueUrl"].rstrip("/").rsplit("/", 1)[1])


_RULES: dict[str, Callable[[str, dict[str, Any]], Iterator[Access]]] = {
    "dynamodb": _dynamodb,
    "s3": _s3,
    "states": _states,
    "events": _events,
    "lambda": _lambda,
    "secretsmanager": _secretsmanager,
    "cognito-idp": _cognito,
    "sqs": _sqs,
}


class NoRule(LookupError):
    """The call's actions or resources are not known here: add a rule."""


def accesses(service: str, operation: str, params: dict[str, Any]) -> list[Access]:
    """The (action, resource) pairs IAM checks for ``operation`` of ``service`` (its IAM prefix) with ``params``.

    Raises ``NoRule`` for an operation this module has no rule for, naming it.
    """
    if (service, operation) in UNAUTHORIZED:
        return []
    rule = _RULES.get(service)
    if rule is None:
        raise NoRule(f"{service}:{operation}: no rule for the service {service!r} in infra/local/iam_audit/requests.py")
    try:
        return list(rule(operation, params))
    except KeyError as missing:
        raise NoRule(
            f"{service}:{operation}: no rule for this operation (or it lacks {missing}) "
            "in infra/local/iam_audit/requests.py"
        ) from None
