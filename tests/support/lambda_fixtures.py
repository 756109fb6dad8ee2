"""Handlers invoked through moto by the local runtime's tests, and ``create_functions`` that registers them."""

from collections import Counter

calls: Counter[str] = Counter()


class TransientError(Exception):
    pass


def echo(event, context):
    calls["echo"] += 1
    return {"echo": event, "function": context.function_name, "remaining_ms": context.get_remaining_time_in_millis()}


def flaky(event, context):
    """Fails with a retryable error twice, then succeeds."""
    calls["flaky"] += 1
    if calls["flaky"] <= 2:
        raise TransientError("storage hiccup")
    return {"attempt": calls["flaky"]}


def broken(event, context):
    raise ValueError("cannot handle this input")


def store(event, context):
    """Writes ``event["key"]`` to ``event["bucket"]`` on the emulator at ``event["endpoint"]``."""
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=event["endpoint"],
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    s3.put_object(Bucket=event["bucket"], Key=event["key"], Body=b"stored")
    return {"stored": event["key"]}


_busy_lock = __import__("threading").Lock()
busy_now = Counter()  # "running": invocations of busy() running now, "most": the most seen at once


def busy(event, context):
    """Holds its invocation for ``event["seconds"]``; records how many ran at once and the time it was given."""
    import time

    remaining_ms = context.get_remaining_time_in_millis()
    with _busy_lock:
        busy_now["running"] += 1
        busy_now["most"] = max(busy_now["most"], busy_now["running"])
    time.sleep(event["seconds"])
    with _busy_lock:
        busy_now["running"] -= 1
    return {"remaining_ms_at_start": remaining_ms}


def whoami(event, context):
    """The process that ran the invocation, after holding it ``event["seconds"]``."""
    import os
    import time

    time.sleep(event.get("seconds", 0))
    return {"pid": os.getpid(), "function": context.function_name}


def exits(event, context):
    """Ends its process, as a runtime killed for memory does."""
    import os

    os._exit(3)


def create_functions(
    clients: dict, functions: dict[str, tuple[str, int]], *, role_name: str, module: str = __name__
) -> tuple[str, dict[str, str]]:
    """Register ``{function name: (handler in module, timeout s)}`` on the emulator behind ``clients`` ("lambda"
    and "iam" boto3 clients), running as a new role ``role_name``: (the role's ARN, each function's ARN)."""
    import io
    import zipfile

    role = clients["iam"].create_role(RoleName=role_name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("unused.py", "")  # the handlers are imported from their module, not from the zip
    arns = {}
    for name, (handler, timeout) in functions.items():
        arns[name] = clients["lambda"].create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler=f"{module}.{handler}",
            Code={"ZipFile": code.getvalue()},
            Timeout=timeout,
        )["FunctionArn"]
    return role, arns


batches: list[int] = []  # the number of records in each batch ``batch`` was given
bodies: list[str] = []  # the body of every record ``batch`` was given


def batch(event, context):
    """An SQS consumer: records how many messages its invocation got, and their bodies."""
    batches.append(len(event["Records"]))
    bodies.extend(record["body"] for record in event["Records"])
    return {"batchItemFailures": []}


tokens: list[str] = []  # the task tokens ``hold`` was handed, in order


def hold(event, context):
    """A waitForTaskToken step: keeps the token; the execution waits until someone answers it."""
    tokens.append(event["token"])
    return {}


def hold_in_file(event, context):
    """``hold`` for a caller in another process: appends the token as a line to the file ``event["file"]``."""
    with open(event["file"], "a") as handle:
        handle.write(event["token"] + "\n")
    return {}
