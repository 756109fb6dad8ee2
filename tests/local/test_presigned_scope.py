"""The presigned URLs the API hands out reach their own object only, and only while they live.

The service runs in-process against moto behind the emulator's presign guard (``PresignGuard`` with
``s3_requests_of``, as ``make up`` serves it), so every URL below is the one the API answered, fetched over
HTTP as a browser or the SDK would fetch it: a file's media and thumbnail URLs, a stream page's URLs (signed
in bulk, by a signer of our own), an upload's presigned POST and an import's upload forms. Any edit (another
key, another bucket, the signature, the expiry, the date, an added query parameter, the policy, a form field)
and any URL past its lifetime is refused with S3's 403, and the object the edit aimed at is left unchanged.
"""

from __future__ import annotations

import base64
import http.client
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import boto3
import pytest
import urllib3
from starlette.testclient import TestClient

from infra.local.presign import PresignGuard, s3_requests_of
from tests.support import slice_data
from tests.support.auth import AuthWorld, auth_world, reset_service_caches

__all__ = ["auth_world"]  # the fixture, used by name

HTTP = urllib3.PoolManager(retries=False)
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@dataclass
class Clock:
    """The guard's clock: the real time plus ``ahead`` seconds."""

    ahead: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead


@dataclass
class Scoped:
    client: TestClient
    s3: Any
    media: str
    drop: str
    headers: dict[str, str]
    clock: Clock
    files: dict[str, str] = field(default_factory=dict)  # name -> file id ("a", "b" in home; "z" in away)


@dataclass
class Reply:
    status: int
    body: bytes


def fetch(url: str, method: str = "GET", body: bytes | None = None) -> Reply:
    """Send exactly this URL (http.client does not re-encode the path or query)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body=body)
        response = connection.getresponse()
        return Reply(response.status, response.read())
    finally:
        connection.close()


def post_form(url: str, fields: dict[str, str], data: bytes = PNG, file_type: str = "image/png") -> Reply:
    response = HTTP.request("POST", url, fields=[*fields.items(), ("file", ("cat.png", data, file_type))])
    return Reply(response.status, response.data)


def refused(reply: Reply, code: str, status: int = 403) -> bool:
    return reply.status == status and f"<Code>{code}</Code>".encode() in reply.body


def _basic(key: Any) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key.client_id}:{key.client_secret}".encode()).decode()}


@pytest.fixture(scope="module")
def scoped(auth_world: AuthWorld, serve_wsgi: Callable[..., Any], new_moto_app: Callable[[], Any]) -> Iterator[Scoped]:
    clock = Clock()
    dispatcher = new_moto_app()  # the session's moto backends, behind the guard as the emulator serves them
    guard = PresignGuard(dispatcher, {"test": "test"}, clock=clock, is_s3=s3_requests_of(dispatcher))
    with serve_wsgi(guard) as endpoint, pytest.MonkeyPatch.context() as env:
        suffix = uuid.uuid4().hex[:8]
        media, drop = f"media-scope-{suffix}", f"drop-scope-{suffix}"
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",  # noqa: S106 - the emulator's fixed credentials
        )
        s3.create_bucket(Bucket=media)
        s3.create_bucket(Bucket=drop)
        s3.put_object(Bucket=drop, Key="home/train/dropped.txt", Body=b"in the drop bucket")
        for name, value in {"AWS_ENDPOINT_URL": endpoint, "MEDIA_BUCKET": media, "DROP_BUCKET": drop}.items():
            env.setenv(name, value)
        reset_service_caches()
        from annolake_service.api.app import create_app
        from annolake_service.domain.roles import Role
        from annolake_service.services import projects

        projects.create_project("home", "Home", creator="user:owner")
        projects.create_project("away", "Away", creator="user:owner")
        admin = _basic(projects.issue_api_key("home", role=Role.ADMIN, name="admin"))
        world = Scoped(TestClient(create_app()), s3, media, drop, admin, clock)
        a, b = slice_data.seed_dataset("home", "train", 2, start=70_000)
        [z] = slice_data.seed_dataset("away", "train", 1, start=71_000)
        world.files.update(a=a, b=b, z=z)
        try:
            yield world
        finally:
            reset_service_caches()


@pytest.fixture(autouse=True)
def _clock_now(scoped: Scoped) -> Iterator[None]:
    scoped.clock.ahead = 0.0
    yield
    scoped.clock.ahead = 0.0


def _file_urls(world: Scoped, name: str) -> dict[str, str]:
    answer = world.client.get(f"/api/v1/projects/home/files/{world.files[name]}", headers=world.headers)
    assert answer.status_code == 200, answer.text
    return {kind: answer.json()[kind] for kind in ("media_url", "thumbnail_url")}


def _keys(world: Scoped) -> dict[str, str]:
    """Every object of the media bucket: what an edited URL might aim at."""
    listed = world.s3.list_objects_v2(Bucket=world.media)["Contents"]
    return {o["Key"]: world.s3.get_object(Bucket=world.media, Key=o["Key"])["ETag"] for o in listed}


def with_path(url: str, path: str) -> str:
    return urlsplit(url)._replace(path=path).geturl()


def with_param(url: str, name: str, value: str | None) -> str:
    """The URL with query parameter ``name`` set to ``value`` (added if absent; removed when None)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    if value is not None:
        query.append((name, value))
    return parts._replace(query=urlencode(query, quote_via=quote, safe="")).geturl()


def param(url: str, name: str) -> str:
    return dict(parse_qsl(urlsplit(url).query))[name]


def _other_objects(world: Scoped, url: str) -> list[str]:
    """The paths of other objects the URL could be edited to reach: another file of the project, another
    project's file, the same file's other rendition, the drop bucket, a key that does not exist."""
    own = urlsplit(url).path
    paths = [f"/{world.media}/{quote(key)}" for key in _keys(world)]
    paths += [f"/{world.drop}/home/train/dropped.txt", f"/{world.media}/projects/home/files/nothing/original.jpg"]
    return [p for p in paths if p != own]


def test_a_file_url_reads_its_own_object_and_no_other(scoped: Scoped) -> None:
    urls = _file_urls(scoped, "a")
    media, thumbnail = fetch(urls["media_url"]), fetch(urls["thumbnail_url"])
    assert media.status == thumbnail.status == 200 and media.body.startswith(b"\xff\xd8")  # a JPEG: the original
    others = _other_objects(scoped, urls["media_url"])
    assert len(others) >= 6  # b's and z's original and thumbnail, a's thumbnail, the drop object, a missing key
    for path in others:
        assert refused(fetch(with_path(urls["media_url"], path)), "SignatureDoesNotMatch"), path


def test_a_url_stripped_of_its_signature_reads_nothing_and_writes_nothing(scoped: Scoped) -> None:
    before = _keys(scoped)
    url = _file_urls(scoped, "a")["media_url"]
    bare = urlsplit(url)._replace(query="").geturl()
    assert refused(fetch(bare), "AccessDenied")
    assert refused(fetch(with_path(bare, f"/{scoped.media}")), "AccessDenied")  # listing the bucket
    assert refused(fetch(with_path(bare, f"/{scoped.media}?list-type=2")), "AccessDenied")
    assert refused(fetch(bare, "PUT", b"replaced"), "AccessDenied")
    assert refused(fetch(bare, "DELETE"), "AccessDenied")
    assert refused(
        fetch(with_path(bare, f"/{scoped.media}/uploads/home/train/planted.jpg"), "PUT", PNG), "AccessDenied"
    )
    assert _keys(scoped) == before  # nothing written, nothing deleted


def test_a_get_url_cannot_be_turned_into_a_write(scoped: Scoped) -> None:
    before = _keys(scoped)
    url = _file_urls(scoped, "a")["media_url"]
    assert refused(fetch(url, "PUT", b"replaced"), "SignatureDoesNotMatch")
    assert refused(fetch(url, "DELETE"), "SignatureDoesNotMatch")
    assert _keys(scoped) == before


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda u: with_param(u, "X-Amz-Signature", param(u, "X-Amz-Signature")[::-1]), id="signature"),
        pytest.param(lambda u: with_param(u, "X-Amz-Expires", "604800"), id="expires-longer"),
        pytest.param(lambda u: with_param(u, "X-Amz-Expires", "899"), id="expires-shorter"),
        pytest.param(
            lambda u: with_param(u, "X-Amz-Date", time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() + 3600))),
            id="date-later",
        ),
        pytest.param(
            lambda u: with_param(u, "X-Amz-Credential", param(u, "X-Amz-Credential").replace("/s3/", "/sqs/")),
            id="credential-scope",
        ),
        pytest.param(lambda u: with_param(u, "X-Amz-SignedHeaders", "host;range"), id="signed-headers"),
        pytest.param(lambda u: with_param(u, "response-content-type", "text/html"), id="added-parameter"),
        pytest.param(lambda u: with_param(u, "versionId", "null"), id="added-version"),
    ],
)
def test_an_edited_url_is_refused(scoped: Scoped, edit: Callable[[str], str]) -> None:
    for url in _file_urls(scoped, "b").values():
        assert fetch(url).status == 200
        reply = fetch(edit(url))
        assert refused(reply, "SignatureDoesNotMatch"), (reply.status, reply.body[:300])


def test_a_url_past_its_lifetime_is_refused(scoped: Scoped) -> None:
    from annolake_service.shared.settings import get_settings

    urls = _file_urls(scoped, "a")
    lifetime = int(param(urls["media_url"], "X-Amz-Expires"))
    assert lifetime == get_settings().presign_ttl_seconds <= 900  # short-lived
    scoped.clock.ahead = lifetime - 5
    assert fetch(urls["media_url"]).status == 200
    scoped.clock.ahead = lifetime + 1
    for url in urls.values():
        reply = fetch(url)
        assert refused(reply, "AccessDenied") and b"Request has expired" in reply.body


def test_a_stream_page_url_reads_its_own_object_only(scoped: Scoped) -> None:
    created = scoped.client.post("/api/v1/projects/home/datasets/train/slices", json={}, headers=scoped.headers)
    assert created.status_code == 201, created.text
    slice_id = created.json()["slice_id"]
    page = scoped.client.get(
        f"/api/v1/projects/home/slices/{slice_id}/items", params={"url_expires_in": 60}, headers=scoped.headers
    ).json()
    urls = [item[kind] for item in page["items"] for kind in ("media_url", "thumbnail_url")]
    assert len(urls) == 4 and all(fetch(url).status == 200 for url in urls)
    first = urls[0]
    for path in _other_objects(scoped, first):
        assert refused(fetch(with_path(first, path)), "SignatureDoesNotMatch"), path
    assert refused(fetch(with_param(first, "X-Amz-Expires", "3600")), "SignatureDoesNotMatch")
    scoped.clock.ahead = 61
    assert all(refused(fetch(url), "AccessDenied") for url in urls)


def _upload_ticket(world: Scoped, name: str = "cat.png", size: int = len(PNG)) -> dict[str, Any]:
    body = {"dataset": "train", "file_name": name, "content_type": "image/png", "size_bytes": size}
    answer = world.client.post("/api/v1/projects/home/uploads", json=body, headers=world.headers)
    assert answer.status_code == 201, answer.text
    return answer.json()


def _stored(world: Scoped, key: str) -> bytes | None:
    try:
        return world.s3.get_object(Bucket=world.media, Key=key)["Body"].read()
    except world.s3.exceptions.NoSuchKey:
        return None


def _with_policy(fields: dict[str, str], edit: Callable[[dict[str, Any]], None]) -> dict[str, str]:
    document = json.loads(base64.b64decode(fields["policy"]))
    edit(document)
    return {**fields, "policy": base64.b64encode(json.dumps(document).encode()).decode()}


def test_an_upload_form_writes_its_own_key_and_no_other(scoped: Scoped) -> None:
    before = _keys(scoped)
    ticket = _upload_ticket(scoped)
    url, fields = ticket["url"], ticket["fields"]
    own = fields["key"]
    assert own.startswith("uploads/home/train/") and own.endswith("/cat.png")
    other_ticket = _upload_ticket(scoped, "dog.png")
    aimed_at = [
        *before,  # every original and thumbnail, of this project and the other
        other_ticket["fields"]["key"],  # another upload's key
        own.replace("uploads/home/", "uploads/away/"),  # the same upload in another project
        own + ".extra",
        f"{own.rsplit('/', 1)[0]}/../../../../projects/home/files/{scoped.files['a']}/original.jpg",
    ]
    for key in aimed_at:
        reply = post_form(url, {**fields, "key": key})
        assert refused(reply, "AccessDenied") and b"Policy Condition failed" in reply.body, (key, reply.body)
    assert refused(post_form(with_path(url, f"/{scoped.drop}"), fields), "AccessDenied")  # another bucket
    assert refused(post_form(url, {**fields, "Content-Type": "text/html"}, file_type="text/html"), "AccessDenied")
    assert refused(post_form(url, fields, data=PNG + b"x" * 100), "EntityTooLarge", status=400)
    assert refused(post_form(url, _with_policy(fields, lambda d: d["conditions"].pop())), "SignatureDoesNotMatch")
    signature = fields["x-amz-signature"]
    assert refused(post_form(url, {**fields, "x-amz-signature": signature[::-1]}), "SignatureDoesNotMatch")
    unsigned = {name: value for name, value in fields.items() if not name.startswith(("x-amz-", "policy"))}
    assert refused(post_form(url, unsigned), "AccessDenied")  # an anonymous form
    assert _keys(scoped) == before and _stored(scoped, own) is None  # nothing written anywhere
    assert post_form(url, fields).status == 204 and _stored(scoped, own) == PNG  # the form as handed out works


def test_an_upload_form_past_its_lifetime_is_refused(scoped: Scoped) -> None:
    ticket = _upload_ticket(scoped)
    scoped.clock.ahead = ticket["expires_in"] + 1
    reply = post_form(ticket["url"], ticket["fields"])
    assert refused(reply, "AccessDenied") and b"Policy expired" in reply.body
    assert _stored(scoped, ticket["fields"]["key"]) is None


def test_an_import_form_writes_under_its_own_prefix_only(scoped: Scoped) -> None:
    body = {"format": "coco", "dataset": "train"}
    created = scoped.client.post("/api/v1/projects/home/imports", json=body, headers=scoped.headers)
    assert created.status_code == 201, created.text
    manifest, media = created.json()["manifest_upload"], created.json()["media_upload"]
    prefix = media["fields"]["key"].removesuffix("${filename}")
    assert prefix.startswith("imports/home/") and prefix.endswith("/media/")
    before = _keys(scoped)
    for key in [*before, prefix.replace("imports/home/", "imports/away/"), "imports/home/another/media/x.png"]:
        assert refused(post_form(media["url"], {**media["fields"], "key": key}), "AccessDenied"), key
        assert refused(post_form(manifest["url"], {**manifest["fields"], "key": key}), "AccessDenied"), key
    assert _keys(scoped) == before
    assert post_form(media["url"], {**media["fields"], "key": prefix + "images/0001.png"}).status == 204
    assert _stored(scoped, prefix + "images/0001.png") == PNG
