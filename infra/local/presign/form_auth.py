"""Presigned POST: the form's authentication (SigV4 or SigV2 over the base64 policy) and its policy.

The signature is computed by botocore's POST presigners: ``S3SigV4PostAuth.signature`` with the signing key
of the credential scope's day, region and service; ``HmacV1PostAuth.sign_string`` for SigV2. Every form field
must be named by a condition, except ``policy``, ``file``, ``x-ignore-*`` and the signature fields (S3 also
requires the policy to name ``x-amz-algorithm``, ``x-amz-credential`` and ``x-amz-date``; botocore's
presigner always does).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping

from botocore.auth import SIGV4_TIMESTAMP, HmacV1PostAuth, S3SigV4PostAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from infra.local.presign.form import Form
from infra.local.presign.policy import decode_policy
from infra.local.presign.query_auth import SIGV4_ALGORITHM
from infra.local.presign.rejection import (
    ANONYMOUS_REFUSED,
    Rejection,
    invalid_form_argument,
    missing_form_field,
    policy_signature_mismatch,
    unknown_access_key,
)

_SIGV4_POST_FIELDS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Signature", "Policy")
_SIGV2_POST_FIELDS = ("AWSAccessKeyId", "Signature", "Policy")
# Form fields a POST policy need not name (besides ``x-ignore-*``), by signature version.
_POST_UNCOVERED_FIELDS = {
    4: frozenset({"x-amz-signature", "policy", "file"}),
    2: frozenset({"awsaccesskeyid", "signature", "policy", "file"}),
}
_CREDENTIAL_FORMAT = 'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'


def check_form(
    form: Form,
    bucket: str,
    credentials: Mapping[str, str],
    clock: Callable[[], float],
    *,
    refuse_anonymous: bool = False,
) -> Rejection | None:
    """The reason to refuse this upload form posted to ``bucket``, or None to let it through.

    A form with neither a policy nor a signature is anonymous: refused when ``refuse_anonymous``, else passed.
    """
    names = {name.lower() for name, _ in form.fields}
    if names & {"x-amz-algorithm", "x-amz-credential", "x-amz-signature"}:
        version = 4
    elif names & {"awsaccesskeyid", "signature"}:
        version = 2
    elif "policy" in names:
        # A policy without a signature authenticates nobody: S3 takes the upload as anonymous, and the
        # buckets here are not publicly writable.
        return ANONYMOUS_REFUSED
    else:
        return ANONYMOUS_REFUSED if refuse_anonymous else None
    for name in _SIGV4_POST_FIELDS if version == 4 else _SIGV2_POST_FIELDS:
        if not form.get(name):
            return missing_form_field(name)
    if not form.get("key"):
        return missing_form_field("key")
    if form.file_count != 1:
        return Rejection(
            400,
            "InvalidArgument",
            "POST requires exactly one file upload per request.",
            {"ArgumentName": "file", "ArgumentValue": str(form.file_count)},
        )
    policy_text = form.get("policy") or ""
    check = _check_sigv4 if version == 4 else _check_sigv2
    rejection = check(form, policy_text, credentials)
    if rejection is not None:
        return rejection

    decoded = decode_policy(policy_text)
    if isinstance(decoded, Rejection):
        return decoded
    expiration, conditions = decoded
    if clock() > expiration:
        return Rejection(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    values = form.expanded_values()
    for condition in conditions:
        rejection = condition.check(values, bucket, form.file_size)
        if rejection is not None:
            return rejection
    covered = {condition.field for condition in conditions if condition.field}
    uncovered = _POST_UNCOVERED_FIELDS[version]
    extra: list[str] = []
    for name, _ in form.fields:
        lower = name.lower()
        if lower in covered or lower in uncovered or lower.startswith("x-ignore-") or name in extra:
            continue
        extra.append(name)
    if extra:
        return Rejection(403, "AccessDenied", f"Invalid according to Policy: Extra input fields: {', '.join(extra)}")
    return None


def _check_sigv4(form: Form, policy_text: str, credentials: Mapping[str, str]) -> Rejection | None:
    algorithm = form.get("x-amz-algorithm") or ""
    if algorithm != SIGV4_ALGORITHM:
        return invalid_form_argument("X-Amz-Algorithm", algorithm, f'X-Amz-Algorithm only supports "{SIGV4_ALGORITHM}"')
    credential = form.get("x-amz-credential") or ""
    scope = credential.split("/")
    problem = None
    if len(scope) != 5 or not scope[2]:
        problem = f"the Credential is mal-formed; {_CREDENTIAL_FORMAT}"
    elif not scope[0]:
        problem = "a non-empty Access Key (AKID) must be provided in the credential."
    elif not re.fullmatch(r"[0-9]{8}", scope[1]):
        problem = f'incorrect date format "{scope[1]}". This date in the credential must be in the format "yyyyMMdd".'
    elif scope[3] != "s3":
        problem = f'incorrect service "{scope[3]}". This endpoint belongs to "s3".'
    elif scope[4] != "aws4_request":
        problem = f'incorrect terminal "{scope[4]}". This endpoint uses "aws4_request".'
    if problem is not None:
        return invalid_form_argument(
            "X-Amz-Credential", credential, f"Error parsing the X-Amz-Credential parameter; {problem}"
        )
    access_key, day, region, service, _ = scope
    date = form.get("x-amz-date") or ""
    try:
        time.strptime(date, SIGV4_TIMESTAMP)
    except ValueError:
        # S3's wording, typo included.
        return invalid_form_argument("X-Amz-Date", date, "X-Amz-Date must be formated via ISO8601 Long format")
    secret = credentials.get(access_key)
    if secret is None:
        return unknown_access_key(access_key)
    # botocore's POST presigner signs the base64 policy with the SigV4 key of the credential scope; its
    # ``signature`` reads only the day of ``context['timestamp']`` (for the key), so the scope's day goes there.
    signer = S3SigV4PostAuth(Credentials(access_key, secret), service, region)
    request = AWSRequest(method="POST")
    request.context["timestamp"] = f"{day}T000000Z"
    expected: str = signer.signature(policy_text, request)
    return policy_signature_mismatch(access_key, policy_text, expected, form.get("x-amz-signature") or "")


def _check_sigv2(form: Form, policy_text: str, credentials: Mapping[str, str]) -> Rejection | None:
    access_key = form.get("awsaccesskeyid") or ""
    secret = credentials.get(access_key)
    if secret is None:
        return unknown_access_key(access_key)
    # botocore's SigV2 POST presigner: base64(HMAC-SHA1(secret, base64 policy)).
    expected: str = HmacV1PostAuth(Credentials(access_key, secret)).sign_string(policy_text)
    return policy_signature_mismatch(access_key, policy_text, expected, form.get("signature") or "")
