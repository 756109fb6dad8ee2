"""PresignGuard in front of a real moto server: presigned URLs behave as on S3 (403 when expired or tampered)."""

from __future__ import annotations

import datetime as dt
import http.client
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from unittest import mock
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import boto3
import pytest
from botocore.config import Config

from infra.local.presign_guard import PresignGuard

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
