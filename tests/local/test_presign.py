"""PresignGuard in front of a real moto server: presigned URLs behave as on S3 (403 when expired or tampered)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import http.client
import io
import json
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from unittest import mock
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import boto3
import pytest
import urllib3
from botocore.config import Config
from botocore.exceptions import ClientError
from werkzeug.test import EnvironBuilder

from infra.local.presign import PresignGuard

ACCESS_KEY = "AKIAPRESIGNGUARDTEST"
SECRET_KEY = "presign-guard-test-secret"  # noqa: S105
CREDENTIALS = {ACCESS_KEY: SECRET_KEY}
REGION = "us-east-1"
UNICODE_KEY = "photos/a b+c ü 東京 (1).txt"


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]


@dataclass
class Guarded:
    endpoint: str
    bucket: str
    s3: Any  # a SigV4 S3 client with the known credentials, against the guarded endpoint

    def client(self, *, access_key: str = ACCESS_KEY, secret: str = SECRET_KEY, **config: object) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret,
            config=Config(**config) if config else None,
        )


@pytest.fixture(scope="module")
def guarded(serve_wsgi: Any, new_moto_app: Any) -> Iterator[Guarded]:
    with serve_wsgi(PresignGuard(new_moto_app(), CREDENTIALS)) as endpoint:
        # SigV4 explicitly: with a custom endpoint_url, botocore presigns S3 with SigV2 unless told otherwise.
        s3 = Guarded(endpoint, "", None).client(signature_version="s3v4")
        bucket = f"presign-{uuid.uuid4().hex[:12]}"
        # Requests signed with an Authorization header go through the guard unchecked.
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello, world")
        s3.put_object(Bucket=bucket, Key="other.txt", Body=b"someone else's object")
        s3.put_object(Bucket=bucket, Key=UNICODE_KEY, Body="unicode ✓".encode())
        yield Guarded(endpoint, bucket, s3)


def fetch(url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None) -> Reply:
    """Send exactly this URL (http.client does not re-encode the path or query)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return Reply(response.status, response.read(), {k.lower(): v for k, v in response.getheaders()})
    finally:
        connection.close()


def send_to(endpoint: str, url: str, method: str = "GET") -> Reply:
    """Send ``url`` (path, query and Host header) to ``endpoint``: a virtual-hosted URL to the local server."""
    parts, local = urlsplit(url), urlsplit(endpoint)
    connection = http.client.HTTPConnection(local.hostname, local.port, timeout=10)
    try:
        connection.request(method, f"{parts.path}?{parts.query}", headers={"Host": parts.netloc})
        response = connection.getresponse()
        return Reply(response.status, response.read(), {k.lower(): v for k, v in response.getheaders()})
    finally:
        connection.close()


def with_param(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = [(k, value if k == name else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    assert name in dict(query), f"{name} not in {url}"
    return parts._replace(query=urlencode(query, quote_via=quote, safe="")).geturl()


def flip_signature(url: str, name: str = "X-Amz-Signature") -> str:
    signature = dict(parse_qsl(urlsplit(url).query))[name]
    flipped = ("0" if signature[5] != "0" else "1").join((signature[:5], signature[6:]))
    return with_param(url, name, flipped)


def presigned(client, method: str = "get_object", expires: int = 300, **params: object) -> str:
    return client.generate_presigned_url(method, Params=params, ExpiresIn=expires)


def signed_in_the_past(seconds: int):
    """Patch botocore's clock (only while presigning, in this thread) to ``seconds`` ago."""
    past = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=seconds)
    return mock.patch("botocore.auth.get_current_datetime", return_value=past)


def assert_refused(reply: Reply, code: str, message_part: str = "") -> None:
    assert reply.status == 403, (reply.status, reply.body)
    assert reply.headers["content-type"] == "application/xml"
    assert f"<Code>{code}</Code>".encode() in reply.body, reply.body
    assert message_part.encode() in reply.body, reply.body


# -- SigV4 -------------------------------------------------------------------------------------------------


def test_fresh_presigned_get_is_served(guarded: Guarded) -> None:
    url = presigned(guarded.s3, Bucket=guarded.bucket, Key="hello.txt")
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and f"/{guarded.bucket}/hello.txt?" in url  # path style
    reply = fetch(url)
    assert (reply.status, reply.body) == (200, b"hello, world")


def test_changed_signature_is_refused(guarded: Guarded) -> None:
    url = presigned(guarded.s3, Bucket=guarded.bucket, Key="hello.txt")
    reply = fetch(flip_signature(url))
    assert_refused(reply, "SignatureDoesNotMatch", "does not match the signature you provided")
    assert b"<CanonicalRequest>GET\n/" in reply.body  # the diagnostic S3 gives, computed by botocore


def test_changed_key_path_is_refused(guarded: Guarded) -> None:
    url = presigned(guarded.s3, Bucket=guarded.bucket, Key="hello.txt")
    reply = fetch(url.replace("/hello.txt?", "/other.txt?"))
    assert_refused(reply, "SignatureDoesNotMatch")
    assert b"someone else" not in reply.body


def test_changed_expiry_is_refused(guarded: Guarded) -> None:
    url = presigned(guarded.s3, expires=60, Bucket=guarded.bucket, Key="hello.txt")
    assert_refused(fetch(with_param(url, "X-Amz-Expires", "3600")), "SignatureDoesNotMatch")


def test_changed_date_is_refused(guarded: Guarded) -> None:
    url = presigned(guarded.s3, expires=60, Bucket=guarded.bucket, Key="hello.txt")
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).strftime("%Y%m%dT%H%M%SZ")
    assert_refused(fetch(with_param(url, "X-Amz-Date", later)), "SignatureDoesNotMatch")


def test_added_operation_parameter_is_refused(guarded: Guarded) -> None:
    url = presigned(guarded.s3, Bucket=guarded.bucket, Key="hello.txt")
    assert_refused(fetch(url + "&response-content-type=text%2Fhtml"), "SignatureDoesNotMatch")


def test_signed_operation_parameters_are_kept(guarded: Guarded) -> None:
    url = presigned(
        guarded.s3, Bucket=guarded.bucket, Key="hello.txt", ResponseContentDisposition='attachment; filename="x y.txt"'
    )
    reply = fetch(url)
    assert reply.status == 200, reply.body
    assert reply.headers["content-disposition"] == 'attachment; filename="x y.txt"'


def test_expired_url_is_refused(guarded: Guarded) -> None:
    with signed_in_the_past(120):
        url = presigned(guarded.s3, expires=60, Bucket=guarded.bucket, Key="hello.txt")
    reply = fetch(url)
    assert_refused(reply, "AccessDenied", "Request has expired")
    assert b"<X-Amz-Expires>60</X-Amz-Expires>" in reply.body


def test_signed_in_the_past_but_still_valid_is_served(guarded: Guarded) -> None:
    with signed_in_the_past(120):
        url = presigned(guarded.s3, expires=600, Bucket=guarded.bucket, Key="hello.txt")
    assert fetch(url).status == 200


def test_expiry_beyond_a_week_is_refused(guarded: Guarded) -> None:
    url = presigned(guarded.s3, expires=604801, Bucket=guarded.bucket, Key="hello.txt")
    assert_refused(fetch(url), "AuthorizationQueryParametersError", "604800")
    assert fetch(presigned(guarded.s3, expires=604800, Bucket=guarded.bucket, Key="hello.txt")).status == 200


def test_unknown_access_key_is_refused(guarded: Guarded) -> None:
    stranger = guarded.client(access_key="AKIAUNKNOWNUNKNOWN00", secret="whatever", signature_version="s3v4")
    assert_refused(fetch(presigned(stranger, Bucket=guarded.bucket, Key="hello.txt")), "InvalidAccessKeyId")


def test_known_access_key_with_wrong_secret_is_refused(guarded: Guarded) -> None:
    impostor = guarded.client(secret="not-the-secret", signature_version="s3v4")
    assert_refused(fetch(presigned(impostor, Bucket=guarded.bucket, Key="hello.txt")), "SignatureDoesNotMatch")


def test_presigned_put_stores_the_body_and_a_tampered_one_is_refused(guarded: Guarded) -> None:
    body = bytes(range(256)) * 64
    url = presigned(guarded.s3, "put_object", Bucket=guarded.bucket, Key="uploads/new.bin")
    assert fetch(url, "PUT", body).status == 200
    stored = guarded.s3.get_object(Bucket=guarded.bucket, Key="uploads/new.bin")["Body"].read()
    assert stored == body  # the guard left the request body intact

    refused = fetch(url.replace("/uploads/new.bin?", "/uploads/evil.bin?"), "PUT", b"evil")
    assert_refused(refused, "SignatureDoesNotMatch")
    assert_refused(fetch(flip_signature(url), "PUT", b"evil"), "SignatureDoesNotMatch")
    listed = guarded.s3.list_objects_v2(Bucket=guarded.bucket, Prefix="uploads/")["Contents"]
    assert [o["Key"] for o in listed] == ["uploads/new.bin"]
    assert guarded.s3.get_object(Bucket=guarded.bucket, Key="uploads/new.bin")["Body"].read() == body


def test_presigned_put_checks_signed_headers(guarded: Guarded) -> None:
    url = presigned(
        guarded.s3, "put_object", Bucket=guarded.bucket, Key="uploads/typed.json", ContentType="application/json"
    )
    assert "content-type" in dict(parse_qsl(urlsplit(url).query))["X-Amz-SignedHeaders"]
    assert fetch(url, "PUT", b"{}", {"Content-Type": "application/json"}).status == 200
    head = guarded.s3.head_object(Bucket=guarded.bucket, Key="uploads/typed.json")
    assert head["ContentType"] == "application/json"
    assert_refused(fetch(url, "PUT", b"<x/>", {"Content-Type": "text/html"}), "SignatureDoesNotMatch")
    assert_refused(fetch(url, "PUT", b"{}"), "SignatureDoesNotMatch")  # a signed header left out


def test_key_with_spaces_plus_and_unicode(guarded: Guarded) -> None:
    url = presigned(guarded.s3, Bucket=guarded.bucket, Key=UNICODE_KEY)
    reply = fetch(url)
    assert (reply.status, reply.body) == (200, "unicode ✓".encode())
    # the same key with "+" taken as a space is another object: refused, not served
    assert_refused(fetch(url.replace("%2B", "%20", 1)), "SignatureDoesNotMatch")

    put_url = presigned(guarded.s3, "put_object", Bucket=guarded.bucket, Key="up/ü + ü.txt")
    assert fetch(put_url, "PUT", b"x").status == 200
    assert guarded.s3.get_object(Bucket=guarded.bucket, Key="up/ü + ü.txt")["Body"].read() == b"x"


def test_head_is_refused_without_a_body(guarded: Guarded) -> None:
    url = presigned(guarded.s3, "head_object", Bucket=guarded.bucket, Key="hello.txt")
    assert fetch(url, "HEAD").status == 200
    reply = fetch(flip_signature(url), "HEAD")
    assert (reply.status, reply.body) == (403, b"")


def test_virtual_hosted_style(guarded: Guarded) -> None:
    aws = boto3.client(
        "s3",
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(signature_version="s3v4", s3={"addressing_style": "virtual"}),
    )
    url = aws.generate_presigned_url("get_object", Params={"Bucket": guarded.bucket, "Key": UNICODE_KEY}, ExpiresIn=60)
    assert urlsplit(url).netloc.startswith(f"{guarded.bucket}.s3.")
    reply = send_to(guarded.endpoint, url)
    assert (reply.status, reply.body) == (200, "unicode ✓".encode())
    assert_refused(send_to(guarded.endpoint, flip_signature(url)), "SignatureDoesNotMatch")
    # the host is signed: the same URL for another bucket is refused
    other_host = url.replace(f"//{guarded.bucket}.", "//another-bucket.", 1)
    assert_refused(send_to(guarded.endpoint, other_host), "SignatureDoesNotMatch")


def test_authorization_header_requests_pass_through(guarded: Guarded) -> None:
    # moto checks nothing here; the guard must not get in the way of ordinary SDK calls
    assert guarded.s3.get_object(Bucket=guarded.bucket, Key="hello.txt")["Body"].read() == b"hello, world"


def test_query_auth_and_authorization_header_together_are_refused(guarded: Guarded) -> None:
    url = presigned(guarded.s3, Bucket=guarded.bucket, Key="hello.txt")
    reply = fetch(url, headers={"Authorization": "AWS4-HMAC-SHA256 Credential=x/20200101/us-east-1/s3/aws4_request"})
    assert reply.status == 400 and b"<Code>InvalidArgument</Code>" in reply.body


def test_malformed_query_auth_is_a_bad_request(guarded: Guarded) -> None:
    url = presigned(guarded.s3, Bucket=guarded.bucket, Key="hello.txt")
    for name, value in [("X-Amz-Date", "yesterday"), ("X-Amz-Expires", "-5"), ("X-Amz-Algorithm", "AWS4-HMAC-MD5")]:
        reply = fetch(with_param(url, name, value))
        assert reply.status == 400 and b"AuthorizationQueryParametersError" in reply.body, (name, reply.body)
    missing = urlsplit(url)._replace(
        query="&".join(p for p in urlsplit(url).query.split("&") if not p.startswith("X-Amz-Credential="))
    )
    assert fetch(missing.geturl()).status == 400


def test_preflight_is_not_authenticated() -> None:
    calls: list[str] = []

    def app(environ, start_response):
        calls.append(environ["REQUEST_METHOD"])
        start_response("200 OK", [])
        return [b""]

    guard = PresignGuard(app, CREDENTIALS)
    environ = {"REQUEST_METHOD": "OPTIONS", "QUERY_STRING": "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00"}
    assert guard.inspect(environ) is None
    assert guard.inspect({**environ, "REQUEST_METHOD": "GET"}) is not None


# -- SigV2 (legacy "s3" signature version) -----------------------------------------------------------------


def test_sigv2_presigned_urls(guarded: Guarded) -> None:
    legacy = guarded.client(signature_version="s3")
    url = presigned(legacy, Bucket=guarded.bucket, Key=UNICODE_KEY)
    assert "AWSAccessKeyId=" in url and "X-Amz-" not in url
    reply = fetch(url)
    assert (reply.status, reply.body) == (200, "unicode ✓".encode())
    assert_refused(fetch(flip_signature(url, "Signature")), "SignatureDoesNotMatch")
    assert_refused(fetch(url.replace("%2B", "%20", 1)), "SignatureDoesNotMatch")
    later = str(int(dict(parse_qsl(urlsplit(url).query))["Expires"]) + 3600)
    assert_refused(fetch(with_param(url, "Expires", later)), "SignatureDoesNotMatch")

    with mock.patch("botocore.auth.time") as clock:
        clock.time.return_value = dt.datetime.now(dt.UTC).timestamp() - 120
        expired = presigned(legacy, expires=60, Bucket=guarded.bucket, Key="hello.txt")
    assert_refused(fetch(expired), "AccessDenied", "Request has expired")

    stranger = guarded.client(access_key="AKIAUNKNOWNUNKNOWN00", secret="x", signature_version="s3")
    assert_refused(fetch(presigned(stranger, Bucket=guarded.bucket, Key="hello.txt")), "InvalidAccessKeyId")

    put_url = presigned(legacy, "put_object", Bucket=guarded.bucket, Key="v2/put.txt", Metadata={"origin": "v2"})
    assert fetch(put_url, "PUT", b"v2 body").status == 200
    head = guarded.s3.head_object(Bucket=guarded.bucket, Key="v2/put.txt")
    assert head["ContentLength"] == len(b"v2 body")


def test_default_presigner_of_a_custom_endpoint(guarded: Guarded) -> None:
    """What application code gets from a plain client with endpoint_url (SigV2 in this botocore) is checked too."""
    plain = guarded.client()
    url = presigned(plain, Bucket=guarded.bucket, Key="hello.txt")
    assert fetch(url).status == 200
    assert fetch(flip_signature(url, "X-Amz-Signature" if "X-Amz-Signature" in url else "Signature")).status == 403


# -- presigned POST (browser form uploads) -----------------------------------------------------------------

HTTP = urllib3.PoolManager(retries=False, timeout=10)
FILE = bytes(range(256)) * 4  # binary, with CR, LF and "-" bytes: the body must reach moto byte for byte


def upload_key(name: str = "cat.png") -> str:
    """A key of the shape Annolake's API presigns: uploads/<project>/<dataset>/<upload id>/<name>."""
    return f"uploads/p-{uuid.uuid4().hex[:8]}/default/{uuid.uuid4().hex}/{name}"


def presign_post(
    client, bucket: str, key: str, *, content_type: str = "image/png", max_bytes: int = 4096, expires: int = 300
) -> dict[str, Any]:
    """What ``annolake_service.adapters.storage.presigned_post`` asks botocore for."""
    return client.generate_presigned_post(
        Bucket=bucket,
        Key=key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
        ExpiresIn=expires,
    )


def post_form(
    url: str,
    fields: dict[str, str] | Sequence[tuple[str, Any]],
    data: bytes | None = FILE,
    *,
    filename: str = "cat.png",
    file_type: str = "image/png",
) -> Reply:
    """POST the form as a browser would (urllib3's multipart encoder), the file part last."""
    parts = list(fields.items()) if isinstance(fields, dict) else list(fields)
    if data is not None:
        parts.append(("file", (filename, data, file_type)))
    response = HTTP.request("POST", url, fields=parts)
    return Reply(response.status, response.data, {k.lower(): v for k, v in response.headers.items()})


def assert_post_refused(reply: Reply, status: int, code: str, message_part: str = "") -> None:
    assert reply.status == status, (reply.status, reply.body)
    assert reply.headers["content-type"] == "application/xml"
    assert f"<Code>{code}</Code>".encode() in reply.body, reply.body
    assert message_part.encode() in reply.body, reply.body


def stored(guarded: Guarded, key: str, bucket: str | None = None) -> bytes | None:
    try:
        return guarded.s3.get_object(Bucket=bucket or guarded.bucket, Key=key)["Body"].read()
    except ClientError as error:
        assert error.response["Error"]["Code"] == "NoSuchKey"
        return None


def with_policy(fields: dict[str, str], edit) -> dict[str, str]:
    """The fields with their policy document edited (and the signature left as it was)."""
    document = json.loads(base64.b64decode(fields["policy"]))
    edit(document)
    return {**fields, "policy": base64.b64encode(json.dumps(document).encode()).decode()}


def test_presigned_post_stores_the_file_and_notifies(guarded: Guarded) -> None:
    bucket = f"post-{uuid.uuid4().hex[:12]}"
    guarded.s3.create_bucket(Bucket=bucket)
    sqs = boto3.client(
        "sqs",
        endpoint_url=guarded.endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    queue_url = sqs.create_queue(QueueName=f"{bucket}-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    guarded.s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    key = upload_key()
    post = presign_post(guarded.s3, bucket, key)
    assert post["url"] == f"{guarded.endpoint}/{bucket}" and post["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"

    reply = post_form(post["url"], post["fields"])

    assert (reply.status, reply.body) == (204, b"")
    obj = guarded.s3.get_object(Bucket=bucket, Key=key)
    assert obj["Body"].read() == FILE
    assert obj["ContentType"] == "image/png"
    events = [
        record
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        for record in json.loads(message["Body"]).get("Records", [])
    ]
    assert [(e["eventName"], e["s3"]["object"]["size"]) for e in events] == [("ObjectCreated:Post", len(FILE))]


def test_presigned_post_size_limits(guarded: Guarded) -> None:
    key = upload_key()
    post = presign_post(guarded.s3, guarded.bucket, key, max_bytes=100)

    too_large = post_form(post["url"], post["fields"], b"x" * 101)
    assert_post_refused(too_large, 400, "EntityTooLarge", "exceeds the maximum allowed size")
    assert b"<ProposedSize>101</ProposedSize><MaxSizeAllowed>100</MaxSizeAllowed>" in too_large.body
    assert_post_refused(post_form(post["url"], post["fields"], b""), 400, "EntityTooSmall")
    assert stored(guarded, key) is None

    assert post_form(post["url"], post["fields"], b"x" * 100).status == 204  # the bounds are inclusive
    assert stored(guarded, key) == b"x" * 100


def test_presigned_post_content_type_is_enforced(guarded: Guarded) -> None:
    key = upload_key()
    post = presign_post(guarded.s3, guarded.bucket, key, content_type="image/png")
    wrong = post_form(post["url"], {**post["fields"], "Content-Type": "text/html"}, file_type="text/html")
    assert_post_refused(wrong, 403, "AccessDenied", 'Policy Condition failed: ["eq", "$Content-Type", "image/png"]')
    without = {name: value for name, value in post["fields"].items() if name != "Content-Type"}
    assert_post_refused(post_form(post["url"], without), 403, "AccessDenied", "Policy Condition failed")
    assert stored(guarded, key) is None


def test_presigned_post_key_is_enforced(guarded: Guarded) -> None:
    key, other = upload_key(), upload_key()
    post = presign_post(guarded.s3, guarded.bucket, key)
    reply = post_form(post["url"], {**post["fields"], "key": other})
    assert_post_refused(reply, 403, "AccessDenied", f'["eq", "$key", "{key}"]')
    assert stored(guarded, key) is None and stored(guarded, other) is None


def test_presigned_post_to_another_bucket_is_refused(guarded: Guarded) -> None:
    other_bucket = f"post-other-{uuid.uuid4().hex[:8]}"
    guarded.s3.create_bucket(Bucket=other_bucket)
    key = upload_key()
    post = presign_post(guarded.s3, guarded.bucket, key)
    reply = post_form(f"{guarded.endpoint}/{other_bucket}", post["fields"])
    assert_post_refused(reply, 403, "AccessDenied", f'["eq", "$bucket", "{guarded.bucket}"]')
    assert stored(guarded, key, other_bucket) is None


def test_presigned_post_tampered_policy_or_signature_is_refused(guarded: Guarded) -> None:
    key = upload_key()
    post = presign_post(guarded.s3, guarded.bucket, key, max_bytes=10)

    def raise_the_limit(document: dict[str, Any]) -> None:
        document["conditions"] = [
            ["content-length-range", 1, 10**9] if isinstance(c, list) else c for c in document["conditions"]
        ]

    tampered = with_policy(post["fields"], raise_the_limit)
    reply = post_form(post["url"], tampered, b"x" * 1000)
    assert_post_refused(reply, 403, "SignatureDoesNotMatch", "does not match the signature you provided")
    assert f"<StringToSign>{tampered['policy']}</StringToSign>".encode() in reply.body

    signature = post["fields"]["x-amz-signature"]
    flipped = ("0" if signature[5] != "0" else "1").join((signature[:5], signature[6:]))
    assert_post_refused(
        post_form(post["url"], {**post["fields"], "x-amz-signature": flipped}), 403, "SignatureDoesNotMatch"
    )
    impostor = presign_post(guarded.client(secret="not-the-secret", signature_version="s3v4"), guarded.bucket, key)
    assert_post_refused(post_form(post["url"], impostor["fields"]), 403, "SignatureDoesNotMatch")
    assert stored(guarded, key) is None


def test_presigned_post_unknown_access_key_is_refused(guarded: Guarded) -> None:
    stranger = guarded.client(access_key="AKIAUNKNOWNUNKNOWN00", secret="whatever", signature_version="s3v4")
    key = upload_key()
    post = presign_post(stranger, guarded.bucket, key)
    assert_post_refused(post_form(post["url"], post["fields"]), 403, "InvalidAccessKeyId", "AKIAUNKNOWNUNKNOWN00")
    assert stored(guarded, key) is None


def test_expired_presigned_post_is_refused(guarded: Guarded, serve_wsgi: Any, new_moto_app: Any) -> None:
    key = upload_key()
    post = presign_post(guarded.s3, guarded.bucket, key, expires=60)
    # The same moto backends behind a guard whose clock is two minutes ahead: the policy expired a minute ago.
    later = PresignGuard(new_moto_app(), CREDENTIALS, clock=lambda: time.time() + 120)
    with serve_wsgi(later) as endpoint:
        reply = post_form(f"{endpoint}/{guarded.bucket}", post["fields"])
    assert_post_refused(reply, 403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    assert stored(guarded, key) is None
    assert post_form(post["url"], post["fields"]).status == 204  # and now, it has not expired


def test_presigned_post_extra_fields_are_refused(guarded: Guarded) -> None:
    key = upload_key()
    post = presign_post(guarded.s3, guarded.bucket, key)
    reply = post_form(post["url"], {**post["fields"], "x-amz-meta-note": "hi"})
    assert_post_refused(reply, 403, "AccessDenied", "Invalid according to Policy: Extra input fields: x-amz-meta-note")
    assert stored(guarded, key) is None
    # x-ignore-* fields need no condition, as on S3
    assert post_form(post["url"], {**post["fields"], "x-ignore-tracker": "1"}).status == 204
    assert stored(guarded, key) == FILE


def test_presigned_post_filename_variable(guarded: Guarded) -> None:
    prefix = upload_key("")
    post = guarded.s3.generate_presigned_post(Bucket=guarded.bucket, Key=prefix + "${filename}", ExpiresIn=60)
    assert ["starts-with", "$key", prefix] in json.loads(base64.b64decode(post["fields"]["policy"]))["conditions"]
    assert post_form(post["url"], post["fields"], b"dog", filename="dog.jpg").status == 204
    assert stored(guarded, prefix + "dog.jpg") == b"dog"
    elsewhere = {**post["fields"], "key": "elsewhere/${filename}"}
    assert_post_refused(post_form(post["url"], elsewhere, b"dog", filename="dog.jpg"), 403, "AccessDenied")
    assert stored(guarded, "elsewhere/dog.jpg") is None


def test_presigned_post_field_names_are_case_insensitive(guarded: Guarded) -> None:
    key = upload_key()
    post = presign_post(guarded.s3, guarded.bucket, key)
    renamed = {
        {"policy": "Policy", "x-amz-signature": "X-Amz-Signature"}.get(k, k): v for k, v in post["fields"].items()
    }
    assert post_form(post["url"], renamed).status == 204
    assert stored(guarded, key) == FILE


def test_presigned_post_malformed_forms(guarded: Guarded) -> None:
    key = upload_key()
    post = presign_post(guarded.s3, guarded.bucket, key)
    fields = post["fields"]
    unsigned = {name: value for name, value in fields.items() if name != "x-amz-signature"}
    assert_post_refused(post_form(post["url"], unsigned), 400, "InvalidArgument", "field named 'X-Amz-Signature'")
    keyless = {name: value for name, value in fields.items() if name != "key"}
    assert_post_refused(post_form(post["url"], keyless), 400, "InvalidArgument", "field named 'key'")
    assert_post_refused(post_form(post["url"], fields, None), 400, "InvalidArgument", "exactly one file upload")
    two_files = [*fields.items(), ("file", ("a.png", b"a", "image/png"))]
    assert_post_refused(post_form(post["url"], two_files), 400, "InvalidArgument", "exactly one file upload")
    policy_only = {"key": key, "policy": fields["policy"], "Content-Type": "image/png"}
    assert_post_refused(post_form(post["url"], policy_only), 403, "AccessDenied")
    garbage = HTTP.request(
        "POST", post["url"], body=b"not a form", headers={"Content-Type": "multipart/form-data; boundary=xyz"}
    )
    assert garbage.status == 400 and b"<Code>MalformedPOSTRequest</Code>" in garbage.data
    assert stored(guarded, key) is None


def test_sigv2_presigned_post(guarded: Guarded) -> None:
    legacy = guarded.client(signature_version="s3")
    key = upload_key()
    post = presign_post(legacy, guarded.bucket, key)
    assert {"AWSAccessKeyId", "signature", "policy"} <= set(post["fields"]) and "x-amz-signature" not in post["fields"]

    signature = post["fields"]["signature"]
    flipped = ("A" if signature[3] != "A" else "B").join((signature[:3], signature[4:]))
    assert_post_refused(post_form(post["url"], {**post["fields"], "signature": flipped}), 403, "SignatureDoesNotMatch")
    tampered = with_policy(post["fields"], lambda document: document.update(expiration="2099-01-01T00:00:00Z"))
    assert_post_refused(post_form(post["url"], tampered), 403, "SignatureDoesNotMatch")
    stranger_client = guarded.client(access_key="AKIAUNKNOWNUNKNOWN00", secret="x", signature_version="s3")
    stranger = presign_post(stranger_client, guarded.bucket, key)
    assert_post_refused(post_form(post["url"], stranger["fields"]), 403, "InvalidAccessKeyId")
    too_large = presign_post(legacy, guarded.bucket, key, max_bytes=10)
    assert_post_refused(post_form(post["url"], too_large["fields"]), 400, "EntityTooLarge")
    assert stored(guarded, key) is None

    assert post_form(post["url"], post["fields"]).status == 204
    assert stored(guarded, key) == FILE
    assert guarded.s3.head_object(Bucket=guarded.bucket, Key=key)["ContentType"] == "image/png"


# In-process: what the wrapped app receives, and the guard's own bounds.


class RecordingApp:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def __call__(self, environ, start_response):
        self.bodies.append(environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"])))
        start_response("204 No Content", [])
        return [b""]


def form_environ(post: dict[str, Any], data: bytes = FILE, **overrides: Any) -> tuple[dict[str, Any], bytes]:
    body, content_type = urllib3.encode_multipart_formdata([*post["fields"].items(), ("file", ("f.png", data))])
    path = urlsplit(post["url"]).path
    builder = EnvironBuilder(method="POST", path=path, input_stream=io.BytesIO(body), content_type=content_type)
    environ = builder.get_environ()
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.update(overrides)
    return environ, body


def call(guard: PresignGuard, environ: dict[str, Any]) -> tuple[str, bytes]:
    statuses: list[str] = []
    body = b"".join(guard(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    return statuses[0], body


def test_form_body_reaches_the_app_intact_and_is_bounded() -> None:
    # Presigning needs no server: any endpoint does.
    client = Guarded("http://127.0.0.1:9", "", None).client(signature_version="s3v4")
    post = presign_post(client, "bkt", "uploads/p/d/u/f.png")
    big = bytes(range(256)) * 8192  # 2 MiB: buffered on disk, not in memory

    app = RecordingApp()
    status, reply = call(PresignGuard(app, CREDENTIALS), form_environ(post, big)[0])
    assert status.startswith("400") and b"<Code>EntityTooLarge</Code>" in reply  # over the policy's 4096 bytes
    big_post = {**post, "fields": presign_post(client, "bkt", "uploads/p/d/u/f.png", max_bytes=len(big))["fields"]}
    environ, body = form_environ(big_post, big)
    assert call(PresignGuard(app, CREDENTIALS), environ)[0].startswith("204")
    assert app.bodies == [body]  # the same bytes, with their length

    status, reply = call(
        PresignGuard(app, CREDENTIALS, max_form_body_bytes=len(body) - 1), form_environ(big_post, big)[0]
    )
    assert status.startswith("400") and b"<Code>EntityTooLarge</Code>" in reply
    status, reply = call(PresignGuard(app, CREDENTIALS), form_environ(big_post, big, CONTENT_LENGTH="")[0])
    assert status.startswith("411") and b"<Code>MissingContentLength</Code>" in reply
    status, reply = call(
        PresignGuard(app, CREDENTIALS), form_environ(big_post, big, CONTENT_LENGTH=str(len(body) + 1))[0]
    )
    assert status.startswith("400") and b"<Code>IncompleteBody</Code>" in reply
    assert len(app.bodies) == 1
    # A chunked body (the server dechunks it and ends the stream) reaches the app with its length.
    environ, chunked_body = form_environ(big_post, big, CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked")
    environ["wsgi.input_terminated"] = True
    assert call(PresignGuard(app, CREDENTIALS), environ)[0].startswith("204")
    assert app.bodies[-1] == chunked_body and "HTTP_TRANSFER_ENCODING" not in environ
    del app.bodies[-1]

    # The guard's clock decides expiry.
    status, reply = call(PresignGuard(app, CREDENTIALS, clock=lambda: time.time() + 301), form_environ(post)[0])
    assert status.startswith("403") and b"Policy expired." in reply
    assert len(app.bodies) == 1

    # An anonymous form (no policy, no signature) is moto's business.
    environ = form_environ({"url": post["url"], "fields": {"key": "anonymous.txt"}})[0]
    assert call(PresignGuard(app, CREDENTIALS), environ)[0].startswith("204") and len(app.bodies) == 2


# AWS's worked example of a SigV4 POST policy (S3 API reference, "Example: Browser-Based Upload using HTTP POST
# (Using AWS Signature Version 4)"): its policy, with CRLF line ends, and the signature AWS gives for it.
AWS_EXAMPLE_POLICY = (
    "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2"
    "NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMt"
    "cmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29t"
    "L3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4"
    "LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0s"
    "DQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZP"
    "RE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1B"
    "Qy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9"
)
AWS_EXAMPLE_SIGNATURE = "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"


def aws_example_form(**changes: str) -> list[tuple[str, Any]]:
    fields = {
        "key": "user/user1/${filename}",
        "acl": "public-read",
        "success_action_redirect": "http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html",
        "Content-Type": "image/jpeg",
        "x-amz-meta-uuid": "14365123651274",
        "x-amz-server-side-encryption": "AES256",
        "X-Amz-Credential": "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request",
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Date": "20151229T000000Z",
        "x-amz-meta-tag": "",
        "Policy": AWS_EXAMPLE_POLICY,
        "X-Amz-Signature": AWS_EXAMPLE_SIGNATURE,
        **changes,
    }
    return [*fields.items(), ("file", ("photo.jpg", b"jpeg bytes", "image/jpeg"))]


def test_aws_signature_v4_post_example() -> None:
    """AWS's own example form passes (virtual-hosted bucket, mixed-case field names); edits of it do not."""
    app = RecordingApp()
    at = dt.datetime(2015, 12, 29, 12, tzinfo=dt.UTC).timestamp()
    now = [at]
    guard = PresignGuard(
        app, {"AKIAIOSFODNN7EXAMPLE": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}, clock=lambda: now[0]
    )

    def send(form: list[tuple[str, Any]], clock_offset: float = 0) -> tuple[str, bytes]:
        now[0] = at + clock_offset
        body, content_type = urllib3.encode_multipart_formdata(form)
        builder = EnvironBuilder(
            method="POST",
            base_url="http://sigv4examplebucket.s3.amazonaws.com/",
            input_stream=io.BytesIO(body),
            content_type=content_type,
            content_length=len(body),
        )
        return call(guard, builder.get_environ())

    assert send(aws_example_form())[0].startswith("204")
    assert len(app.bodies) == 1
    refused = [
        (aws_example_form(acl="private"), 0, b'["eq", "$acl", "public-read"]'),
        (aws_example_form(key="user/user2/${filename}"), 0, b'["starts-with", "$key", "user/user1/"]'),
        (aws_example_form(), 24 * 3600 + 1, b"Policy expired."),
        (aws_example_form(**{"X-Amz-Signature": "0" * 64}), 0, b"SignatureDoesNotMatch"),
        (aws_example_form(submit="Upload"), 0, b"Extra input fields: submit"),
    ]
    for form, offset, message in refused:
        status, reply = send(form, offset)
        assert status.startswith("403") and message in reply, reply
    assert len(app.bodies) == 1


def sigv4_signed_form(document: dict[str, Any] | str, fields: Sequence[tuple[str, str]]) -> list[tuple[str, Any]]:
    """A form with the policy signed per AWS's SigV4 POST recipe, computed here independently of botocore."""
    date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    credential = f"{ACCESS_KEY}/{date[:8]}/{REGION}/s3/aws4_request"
    if isinstance(document, dict) and isinstance(document.get("conditions"), list):
        auth = [{"x-amz-algorithm": "AWS4-HMAC-SHA256"}, {"x-amz-credential": credential}, {"x-amz-date": date}]
        document = {**document, "conditions": [*document["conditions"], *auth]}
    policy = base64.b64encode((document if isinstance(document, str) else json.dumps(document)).encode()).decode()
    key = f"AWS4{SECRET_KEY}".encode()
    for part in (date[:8], REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, policy.encode(), hashlib.sha256).hexdigest()
    auth_fields = [("x-amz-algorithm", "AWS4-HMAC-SHA256"), ("x-amz-credential", credential), ("x-amz-date", date)]
    return [*fields, *auth_fields, ("policy", policy), ("x-amz-signature", signature)]


ANY_KEY = ["starts-with", "$key", ""]
KEY = [("key", "k.txt")]


def policy(*conditions: Any, **document: Any) -> dict[str, Any]:
    return {"expiration": "2099-01-01T00:00:00.000Z", "conditions": [ANY_KEY, *conditions], **document}


@pytest.mark.parametrize(
    ("document", "fields", "data", "expected"),
    [
        pytest.param(policy(), KEY, b"x", "204", id="baseline"),
        pytest.param(policy(expiration="2099-01-01T00:00:00Z"), KEY, b"x", "204", id="expiration-without-fractions"),
        pytest.param(
            policy(["StArTs-WiTh", "$CoNtEnT-TyPe", "text/"]),
            [*KEY, ("content-type", "text/x")],
            b"x",
            "204",
            id="names-and-operators-any-case",
        ),
        pytest.param(policy({"key": "K.TXT"}), KEY, b"x", "403 AccessDenied", id="values-are-case-sensitive"),
        pytest.param(policy(["eq", "key", "k.txt"]), KEY, b"x", "403 AccessDenied", id="field-without-dollar"),
        pytest.param(
            policy(["starts-with", "$x-amz-meta-tag", ""]),
            KEY,
            b"x",
            "403 AccessDenied",
            id="condition-on-a-missing-field",
        ),
        pytest.param(
            policy({"x-amz-meta-tag": "a,b"}),
            [*KEY, ("x-amz-meta-tag", "a"), ("x-amz-meta-tag", "b")],
            b"x",
            "204",
            id="repeated-fields-joined-by-commas",
        ),
        pytest.param(
            policy(["starts-with", "$Content-Type", "image/"]),
            [*KEY, ("Content-Type", "image/a,image/b")],
            b"x",
            "204",
            id="content-type-list",
        ),
        pytest.param(
            policy(["starts-with", "$Content-Type", "image/"]),
            [*KEY, ("Content-Type", "image/a,text/b")],
            b"x",
            "403 AccessDenied",
            id="content-type-list-with-a-stranger",
        ),
        pytest.param(policy(["content-length-range", "5", "10"]), KEY, b"x" * 5, "204", id="range-as-strings"),
        pytest.param(
            policy(["content-length-range", "5", "10"]),
            KEY,
            b"x" * 11,
            "400 EntityTooLarge",
            id="range-as-strings-exceeded",
        ),
        pytest.param(
            policy(["content-length-range", "x", "10"]), KEY, b"x", "403 AccessDenied", id="range-not-a-number"
        ),
        pytest.param(
            policy(["content-length-range", 0, 1.5]), KEY, b"x", "400 InvalidPolicyDocument", id="range-float"
        ),
        pytest.param(policy(["content-length-range", 0]), KEY, b"x", "400 InvalidPolicyDocument", id="range-one-bound"),
        pytest.param(
            policy(["content-length-range", -1, 0]), KEY, b"x", "400 InvalidPolicyDocument", id="range-negative"
        ),
        pytest.param(policy({}), KEY, b"x", "400 InvalidPolicyDocument", id="empty-simple-condition"),
        pytest.param(policy({"a": "1", "b": "2"}), KEY, b"x", "400 InvalidPolicyDocument", id="two-properties"),
        pytest.param(policy({"acl": 1}), KEY, b"x", "400 InvalidPolicyDocument", id="simple-condition-not-a-string"),
        pytest.param(policy(["matches", "$key", "k"]), KEY, b"x", "400 InvalidPolicyDocument", id="unknown-operation"),
        pytest.param(policy([]), KEY, b"x", "400 InvalidPolicyDocument", id="empty-condition"),
        pytest.param(
            {"EXPIRATION": "2099-01-01T00:00:00Z", "conditions": [ANY_KEY]},
            KEY,
            b"x",
            "400 InvalidPolicyDocument",
            id="keys-are-case-sensitive",
        ),
        pytest.param(
            {"expiration": "2099-01-01T00:00:00Z"}, KEY, b"x", "400 InvalidPolicyDocument", id="no-conditions"
        ),
        pytest.param(
            policy(expiration="2099-01-01 00:00:00"),
            KEY,
            b"x",
            "400 InvalidPolicyDocument",
            id="expiration-not-iso8601",
        ),
        pytest.param("{not json", KEY, b"x", "400 InvalidPolicyDocument", id="not-json"),
        pytest.param(policy(), [*KEY, ("Filename", "k.txt")], b"x", "403 AccessDenied", id="extra-field"),
    ],
)
def test_post_policy_language(document: Any, fields: list[tuple[str, str]], data: bytes, expected: str) -> None:
    app = RecordingApp()
    form = [*sigv4_signed_form(document, fields), ("file", ("k.txt", data, "text/plain"))]
    body, content_type = urllib3.encode_multipart_formdata(form)
    builder = EnvironBuilder(method="POST", path="/bkt", input_stream=io.BytesIO(body), content_type=content_type)
    environ = builder.get_environ()
    environ["CONTENT_LENGTH"] = str(len(body))
    status, reply = call(PresignGuard(app, CREDENTIALS), environ)
    code = expected.split(" ")[1] if " " in expected else None
    assert status.split(" ")[0] == expected.split(" ")[0], reply
    if code is not None:
        assert f"<Code>{code}</Code>".encode() in reply, reply
    assert len(app.bodies) == (1 if code is None else 0)
