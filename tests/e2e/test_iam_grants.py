"""IAM proven before the first deploy: every AWS call the shared platform's functions and state machines made
during the e2e tests (ingest, imports, the review workflow, webhooks, the API) is allowed by the synthesized
policy of the role making it, and every wildcard in those policies is acknowledged to cdk-nag.

Runs after every other test of the session (tests/e2e/conftest.py orders it last), over what they made the
platform do; grants no call used are listed as a warning (the tests may not exercise that path).
"""

from __future__ import annotations

import copy
import warnings

import pytest

from infra.local.iam_audit.check import Recording, evaluate
from infra.local.iam_audit.grants import Grants
from tests.e2e.conftest import iam_audit_directory

pytestmark = pytest.mark.slow


def test_every_call_the_platform_made_is_granted_to_its_role_and_no_more(platform):
    directory = iam_audit_directory(platform)
    grants, recording = Grants.load(directory), Recording.read(directory)
    report = evaluate(grants, recording)
    assert not report.failures, "IAM:\n" + "\n".join(report.failures)
    # Whatever ran at all made calls as its role: the API and ingest run on every start (the seed).
    exercised = {grants.roles[c.principal].name for c in recording.calls}
    assert grants.roles[grants.api_role].name in exercised and any("ingest" in n for n in exercised)
    print(f"\nIAM audit: {report.calls} distinct calls by {report.principals} roles, all granted")

    # The check is not vacuous: without its grant, the ingest trigger's StartExecution calls are refused.
    (trigger,) = [arn for arn, role in grants.roles.items() if any("ingesttrigger" in w for w in role.assumed_by)]
    narrowed = copy.deepcopy(grants)
    for policy in narrowed.roles[trigger].policies:
        statements = policy.document["Statement"]
        statements[:] = [s for s in statements if s["Action"] != "states:StartExecution"]
    refused = evaluate(narrowed, recording).missing
    assert refused and all("ingesttrigger" in m and "states:StartExecution" in m for m in refused)
    if report.unused:
        warnings.warn(f"IAM grants no test used:\n{report.unused_text()}", stacklevel=1)
    if report.idle:
        warnings.warn(f"roles no test made a call as: {', '.join(report.idle)}", stacklevel=1)
