"""The synthesized roles as provisioned: who assumes each, and its policy documents with every intrinsic
resolved (by the provisioner, ``infra.local.intrinsics``) to the names and ARNs the emulator gave."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from infra.local.provisioner import Deployment

GRANTS_FILE = "grants.json"


@dataclass
class Policy:
    stack: str
    logical_id: str  # of the AWS::IAM::Policy, or of the role for its inline policies
    document: dict[str, Any]  # resolved
    inline_name: str | None = None  # an inline policy of the role (``Policies``) rather than an AWS::IAM::Policy


@dataclass
class Role:
    arn: str
    stack: str
    logical_id: str
    assumed_by: list[str] = field(default_factory=list)  # "function <name>", "state machine <name>"
    policies: list[Policy] = field(default_factory=list)
    managed_policy_arns: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return ", ".join(self.assumed_by) or f"role {self.logical_id}"


@dataclass
class Grants:
    roles: dict[str, Role]  # role ARN -> role
    api_role: str  # the role of the function behind the HTTP API
    assembly: str | None = None  # the cloud assembly's directory (templates and cdk-nag acknowledgments)

    @classmethod
    def of(cls, deployment: Deployment, assembly: Path | None = None) -> Grants:
        roles: dict[str, Role] = {}
        by_name: dict[str, Role] = {}
        for stack, resources in deployment.resources.items():
            for logical_id, created in resources.items():
                if created.type != "AWS::IAM::Role":
                    continue
                role = Role(
                    arn=created.attributes["Arn"],
                    stack=stack,
                    logical_id=logical_id,
                    managed_policy_arns=list(created.properties.get("ManagedPolicyArns", [])),
                )
                for inline in created.properties.get("Policies", []):
                    role.policies.append(Policy(stack, logical_id, inline["PolicyDocument"], inline["PolicyName"]))
                roles[role.arn], by_name[created.ref] = role, role
        for stack, resources in deployment.resources.items():
            for logical_id, created in resources.items():
                if created.type == "AWS::IAM::Policy":
                    for role_name in created.properties.get("Roles", []):
                        by_name[role_name].policies.append(
                            Policy(stack, logical_id, created.properties["PolicyDocument"])
                        )
                elif created.type == "AWS::Lambda::Function":
                    roles[created.properties["Role"]].assumed_by.append(f"function {created.ref}")
                elif created.type == "AWS::StepFunctions::StateMachine":
                    roles[created.properties["RoleArn"]].assumed_by.append(
                        f"state machine {created.attributes['Name']}"
                    )
        (api,) = [c for c in deployment.of_type("AWS::Lambda::Function") if c.ref == deployment.api_function]
        return cls(roles=roles, api_role=api.properties["Role"], assembly=str(assembly) if assembly else None)

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / GRANTS_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1, sort_keys=True))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, directory: Path) -> Grants:
        raw = json.loads((directory / GRANTS_FILE).read_text())
        roles = {
            arn: Role(**{**role, "policies": [Policy(**p) for p in role["policies"]]})
            for arn, role in raw["roles"].items()
        }
        return cls(roles=roles, api_role=raw["api_role"], assembly=raw.get("assembly"))
