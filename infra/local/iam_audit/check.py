"""Check the recorded calls against the provisioned roles' policies, with moto's IAM policy evaluator.

- A call its role's policies do not allow is a **missing grant** (named: who, action, resource).
- A call no rule of ``requests`` explains, or made as a role no template declares, is an error too.
- An action a role is granted but that no recorded call used is **unused** (a warning: the tests may not
  have exercised that path).
- A wildcard action or resource in a role's policies that cdk-nag's IAM5 finding for it does not
  acknowledge (``infra/constructs/nag.py``) is an error, as ``cdk synth`` would fail on it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.iam.access_control import IAMPolicy, PermissionResult

from infra.local.iam_audit.grants import Grants, Role
from infra.local.iam_audit.requests import TASK_TOKEN

# Granted for what the Lambda and Step Functions services do as the role (write its logs and traces, poll
# its SQS event source, send a failed asynchronous event to its dead-letter queue): the code never calls
# them, so no recorded call uses them.
SERVICE_SIDE_PREFIXES = ("logs:", "xray:")
SERVICE_SIDE_ACTIONS = {
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:SendMessage",
}
SUPPORTED_KEYS = {"Sid", "Effect", "Action", "Resource"}


@dataclass(frozen=True)
class Call:
    principal: str  # role ARN
    action: str
    resource: str


@dataclass
class Recording:
    calls: set[Call] = field(default_factory=set)
    task_tokens: dict[str, str] = field(default_factory=dict)  # token -> state machine ARN
    no_rule: set[tuple[str, str]] = field(default_factory=set)  # (principal, message)

    @classmethod
    def read(cls, directory: Path) -> Recording:
        recording = cls()
        for path in sorted(directory.glob("calls-*.jsonl")):
            for line in path.read_text().splitlines():
                if not line.strip():
                    continue
                record = json.loads(line)
                if "task_token" in record:
                    recording.task_tokens[record["task_token"]] = record["state_machine"]
                elif "no_rule" in record:
                    recording.no_rule.add((record["principal"], record["no_rule"]))
                else:
                    recording.calls.add(Call(record["principal"], record["action"], record["resource"]))
        return recording


@dataclass
class Report:
    calls: int
    principals: int
    missing: list[str]
    errors: list[str]
    unused: dict[str, list[str]]  # role -> "action on resources" granted but never used
    idle: list[str]  # roles no recorded call was made as
    unacknowledged_wildcards: list[str]

    @property
    def failures(self) -> list[str]:
        return [*self.missing, *self.errors, *self.unacknowledged_wildcards]

    def unused_text(self) -> str:
        return "\n".join(f"{role}: {'; '.join(grants)}" for role, grants in sorted(self.unused.items()))


def _policy(document: dict[str, Any]) -> IAMPolicy:
    for statement in document["Statement"]:
        unsupported = set(statement) - SUPPORTED_KEYS
        if unsupported:
            raise ValueError(
                f"a policy statement uses {sorted(unsupported)}, which the audit's evaluator does not model: "
                f"{json.dumps(statement)}"
            )
    return IAMPolicy(json.dumps(document))


def _allowed_by(policies: list[IAMPolicy], action: str, resource: str) -> bool:
    """Identity-based evaluation of a role's policies: some statement allows, none denies."""
    results = [policy.is_action_permitted(action, resource) for policy in policies]
    return PermissionResult.PERMITTED in results and PermissionResult.DENIED not in results


def _listed(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def evaluate(grants: Grants, recording: Recording) -> Report:
    missing, errors = [], []
    used: dict[str, set[Call]] = defaultdict(set)
    policies = {arn: [_policy(p.document) for p in role.policies] for arn, role in grants.roles.items()}
    for principal, message in sorted(recording.no_rule):
        name = grants.roles[principal].name if principal in grants.roles else principal
        errors.append(f"{name}: {message}")
    for call in sorted(recording.calls, key=lambda c: (c.principal, c.action, c.resource)):
        role = grants.roles.get(call.principal)
        if role is None:
            errors.append(f"{call.action} on {call.resource} made as {call.principal}, a role no template declares")
            continue
        resource = call.resource
        if resource.startswith(TASK_TOKEN):
            token = resource.removeprefix(TASK_TOKEN)
            if token not in recording.task_tokens:
                errors.append(f"{role.name}: {call.action} with a task token this emulator never handed out")
                continue
            resource = recording.task_tokens[token]
        used[call.principal].add(Call(call.principal, call.action, resource))
        if not _allowed_by(policies[call.principal], call.action, resource):
            missing.append(
                f"{role.name} calls {call.action} on {resource}, which its role {role.logical_id} "
                f"({role.stack}) does not allow: grant it in infra/constructs/"
            )
    unused: dict[str, list[str]] = {}
    idle = []
    for arn, role in sorted(grants.roles.items()):
        if arn not in used:
            idle.append(role.name)
            continue
        never = _unused_grants(role, used[arn])
        if never:
            unused[role.name] = never
    return Report(
        calls=len(recording.calls),
        principals=len(used),
        missing=missing,
        errors=errors,
        unused=unused,
        idle=idle,
        unacknowledged_wildcards=unacknowledged_wildcards(grants),
    )


def _unused_grants(role: Role, calls: set[Call]) -> list[str]:
    """Per statement: the actions no call used, on the statement's resources (ARNs shortened)."""
    never = []
    for policy in role.policies:
        for statement in policy.document["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            resources = _listed(statement["Resource"])
            unused = []
            for action in _listed(statement["Action"]):
                if action.startswith(SERVICE_SIDE_PREFIXES) or action in SERVICE_SIDE_ACTIONS:
                    continue
                grant = _policy({"Statement": [{"Effect": "Allow", "Action": action, "Resource": resources}]})
                permitted = (grant.is_action_permitted(c.action, c.resource) for c in calls)
                if PermissionResult.PERMITTED not in permitted:
                    unused.append(action)
            if unused:
                short = sorted({r.rsplit(":", 1)[-1] for r in resources})
                never.append(f"{', '.join(unused)} on {', '.join(short)}")
    return never


# --- wildcards and cdk-nag ------------------------------------------------------------------------


def acknowledgments_of(assembly: Path) -> dict[str, set[str]]:
    """Construct path -> the cdk-nag findings acknowledged there (``AwsSolutions-IAM5[Resource::*]``)."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    found: dict[str, set[str]] = defaultdict(set)
    for artifact in manifest["artifacts"].values():
        entries: dict[str, list[dict[str, Any]]] = dict(artifact.get("metadata") or {})
        if artifact.get("additionalMetadataFile"):
            entries.update(json.loads((assembly / artifact["additionalMetadataFile"]).read_text()))
        for path, items in entries.items():
            for item in items:
                if item["type"] == "aws:cdk:acknowledged-rules":
                    found[path] |= {key.removeprefix("Annotation::") for key in item["data"]}
    return found


def logical_paths(assembly: Path) -> dict[tuple[str, str], str]:
    """(stack, logical id) -> construct path."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    paths = {}
    for name, artifact in manifest["artifacts"].items():
        if not artifact.get("additionalMetadataFile"):
            continue
        for path, items in json.loads((assembly / artifact["additionalMetadataFile"]).read_text()).items():
            for item in items:
                if item["type"] == "aws:cdk:logicalId":
                    paths[(name, item["data"])] = path
    return paths


def wildcard_findings(statement: dict[str, Any]) -> list[str]:
    """cdk-nag IAM5's finding ids for a template statement's wildcards (``Action::s3:GetObject*``,
    ``Resource::<Bucket12.Arn>/*``), its resources flattened as cdk-nag flattens them."""
    from infra.constructs.nag import flatten

    findings = [f"Action::{a}" for a in _listed(statement.get("Action", [])) if "*" in a]
    for resource in _listed(statement.get("Resource", [])):
        flat = flatten(resource)
        if "*" in flat:
            findings.append(f"Resource::{flat}")
    return findings


def unacknowledged_wildcards(grants: Grants) -> list[str]:
    """Wildcards in the roles' policies of the template that no cdk-nag IAM5 acknowledgment covers."""
    if grants.assembly is None:
        return []
    from infra.local.assembly import read_assembly

    assembly_dir = Path(grants.assembly)
    templates = {stack.name: stack.template for stack in read_assembly(assembly_dir).stacks}
    acknowledged = acknowledgments_of(assembly_dir)
    paths = logical_paths(assembly_dir)
    problems = []
    for role in grants.roles.values():
        for policy in role.policies:
            resource = templates[policy.stack]["Resources"][policy.logical_id]["Properties"]
            if policy.inline_name is None:
                document = resource["PolicyDocument"]
            else:
                (document,) = [
                    p["PolicyDocument"] for p in resource["Policies"] if p["PolicyName"] == policy.inline_name
                ]
            path = paths.get((policy.stack, policy.logical_id), "")
            scopes = ["/".join(path.split("/")[:i]) for i in range(2, path.count("/") + 2)]
            covered = set().union(*(acknowledged.get(scope, set()) for scope in scopes)) if scopes else set()
            for statement in document["Statement"]:
                for finding in wildcard_findings(statement):
                    if "AwsSolutions-IAM5" not in covered and f"AwsSolutions-IAM5[{finding}]" not in covered:
                        problems.append(
                            f"{role.name}: the wildcard {finding} in {policy.logical_id} has no cdk-nag "
                            "acknowledgment (infra/constructs/nag.py acknowledge): narrow it or say why"
                        )
    return problems
