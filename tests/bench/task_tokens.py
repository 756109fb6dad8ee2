"""What answering a task token costs as the emulator's history grows: the wall time of ``SendTaskSuccess``
after ``H`` finished executions, for each ``H`` of ``ANNOLAKE_BENCH_TOKEN_HISTORY`` (default 0, 1000, 4000).

A submit in the review workflow answers the token of the file's waiting execution; every ingested file, export
and launch leaves a finished execution behind. The emulator (as ``make up`` starts it) runs in a process of its
own; each measured call answers the token of one of ``CALLS`` executions waiting on a Lambda task
(``waitForTaskToken``; the function hands the token over in a file). With ``ANNOLAKE_BENCH_BASELINE`` (another
checkout) its emulator is measured the same way in the same run.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from tests.bench.emulator_requests import emulator_of, per_checkout
from tests.support import lambda_fixtures

HISTORY = [int(h) for h in os.environ.get("ANNOLAKE_BENCH_TOKEN_HISTORY", "0,1000,4000").split(",")]
CALLS = int(os.environ.get("ANNOLAKE_BENCH_TOKEN_CALLS", "50"))
BASELINE = os.environ.get("ANNOLAKE_BENCH_BASELINE")


def _measure(repo: Path) -> dict[int, float]:
    """{history: median ms of SendTaskSuccess}."""
    import boto3

    with emulator_of(repo) as (endpoint, _):
        options = {
            "endpoint_url": endpoint,
            "region_name": "us-east-1",
            "aws_access_key_id": "test",
            "aws_secret_access_key": "test",
        }
        clients = {name: boto3.client(name, **options) for name in ("stepfunctions", "lambda", "iam")}
        sfn = clients["stepfunctions"]
        role, _ = lambda_fixtures.create_functions(clients, {"hold": ("hold_in_file", 30)}, role_name="bench")
        handed = Path(tempfile.mkdtemp()) / "tokens"
        finished = sfn.create_state_machine(
            name="finished",
            definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
            roleArn=role,
        )["stateMachineArn"]
        task = {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "hold", "Payload": {"token.$": "$$.Task.Token", "file": str(handed)}},
            "End": True,
        }
        waiting = sfn.create_state_machine(
            name="waiting", definition=json.dumps({"StartAt": "T", "States": {"T": task}}), roleArn=role
        )["stateMachineArn"]
        results, ran = {}, 0
        for history in sorted(HISTORY):
            for n in range(ran, history):
                sfn.start_execution(stateMachineArn=finished, name=f"f{n}")
            ran = max(ran, history)
            while sfn.list_executions(stateMachineArn=finished, statusFilter="RUNNING", maxResults=1)["executions"]:
                time.sleep(0.2)
            handed.write_text("")
            for n in range(CALLS):
                sfn.start_execution(stateMachineArn=waiting, name=f"w{history}-{n}")
            while len(tokens := handed.read_text().split()) < CALLS:
                time.sleep(0.1)
            samples = []
            for token in tokens:
                started = time.perf_counter()
                sfn.send_task_success(taskToken=token, output="{}")
                samples.append((time.perf_counter() - started) * 1000)
            results[history] = statistics.median(samples)
        return results


def run() -> list[tuple[str, str, str]]:
    measured = per_checkout(_measure)
    rows = []
    for history, ms in measured["this"].items():
        note = f"median of {CALLS} calls, one boto3 client"
        if BASELINE:
            old = measured["baseline"][history]
            note += f"; baseline {old:.2f} ms ({ms / old:.2f}x)"
        rows.append((f"SendTaskSuccess after {history} finished executions", f"{ms:.2f} ms", note))
    return rows
