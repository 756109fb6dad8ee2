"""EventBridge schedules on the emulator: moto stores a rule's ``ScheduleExpression`` but never fires it.

Here each enabled rule of the deployment with a ``rate(...)`` expression invokes its Lambda targets once per
period, on a thread of its own (EventBridge invokes a scheduled target asynchronously; a run that fails is
logged, as the cloud counts it in the function's errors). The first run comes one period after the start, as a
new rule's does. ``ANNOLAKE_SCHEDULE_SECONDS`` runs every schedule at that period instead (tests, demos);
``cron(...)`` expressions are logged and not run.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3

from infra.local.intrinsics import ACCOUNT_ID, REGION
from infra.local.provisioner import Deployment

log = logging.getLogger("local-runtime.schedules")
PERIOD_VARIABLE = "ANNOLAKE_SCHEDULE_SECONDS"
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> int | None:
    """The period of a ``rate(n unit)`` expression in seconds; None for anything else (``cron(...)``)."""
    match = _RATE.match(expression.strip())
    if match is None:
        return None
    count, unit = int(match.group(1)), match.group(2).rstrip("s")
    if count < 1 or (count == 1) != (match.group(2) == unit):
        raise ValueError(f"{expression!r}: EventBridge takes 'rate(1 {unit})' or 'rate(n {unit}s)' with n > 1")
    return count * _UNIT_S[unit]


def period_override() -> float | None:
    value = os.environ.get(PERIOD_VARIABLE, "")
    if not value:
        return None
    period = float(value)
    if period <= 0:
        raise ValueError(f"{PERIOD_VARIABLE}={value!r}: give a period in seconds above 0, or leave it unset")
    return period


@dataclass(frozen=True)
class Schedule:
    rule: str
    rule_arn: str
    expression: str
    period_s: float
    targets: tuple[dict[str, Any], ...]  # as list_targets_by_rule returns them


def scheduled_event(schedule: Schedule) -> dict[str, Any]:
    """What EventBridge hands a scheduled rule's target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [schedule.rule_arn],
        "detail": {},
    }


class Scheduler:
    """The deployment's scheduled rules, fired on threads until ``stop``."""

    def __init__(self, session: boto3.Session, endpoint_url: str, deployment: Deployment) -> None:
        self.events = session.client("events", endpoint_url=endpoint_url)
        self.functions = session.client("lambda", endpoint_url=endpoint_url)
        self.deployment = deployment
        self.runs = 0  # targets invoked, for tests and the log
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def schedules(self) -> list[Schedule]:
        override = period_override()
        found = []
        for created in self.deployment.of_type("AWS::Events::Rule"):
            if "ScheduleExpression" not in created.properties:  # an event pattern's rule
                continue
            bus = created.properties.get("EventBusName", "default")
            rule = self.events.describe_rule(Name=created.ref, EventBusName=bus)
            expression = rule.get("ScheduleExpression")
            if not expression or rule.get("State") != "ENABLED":
                continue
            period = rate_seconds(expression)
            if period is None:
                log.warning("rule %s: %s is not run locally (only rate(...) schedules are)", created.ref, expression)
                continue
            targets = tuple(self.events.list_targets_by_rule(Rule=created.ref, EventBusName=bus)["Targets"])
            found.append(Schedule(created.ref, rule["Arn"], expression, override or period, targets))
        return found

    def start(self) -> list[Schedule]:
        schedules = self.schedules()
        for schedule in schedules:
            thread = threading.Thread(target=self._run, args=(schedule,), name=f"schedule-{schedule.rule}", daemon=True)
            thread.start()
            self._threads.append(thread)
            log.info("schedule %s: %s, every %g s", schedule.rule, schedule.expression, schedule.period_s)
        return schedules

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _run(self, schedule: Schedule) -> None:
        while not self._stop.wait(schedule.period_s):
            self.fire(schedule)

    def fire(self, schedule: Schedule) -> None:
        event = json.dumps(scheduled_event(schedule))
        for target in schedule.targets:
            if ":lambda:" not in target["Arn"]:
                log.warning("rule %s: target %s is not a function; not run locally", schedule.rule, target["Arn"])
                continue
            try:
                answer = self.functions.invoke(FunctionName=target["Arn"], Payload=target.get("Input") or event)
            except Exception:  # noqa: BLE001 - a run that cannot start is logged; the next period tries again
                log.exception("rule %s: invoking %s failed", schedule.rule, target["Arn"])
                continue
            self.runs += 1
            if answer.get("FunctionError"):
                log.error("rule %s: %s failed: %s", schedule.rule, target["Arn"], answer["Payload"].read()[:2000])
