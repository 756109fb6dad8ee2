"""The core API end to end in-process: FastAPI app + real service code over moto (DynamoDB, S3, Cognito)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import uuid

import boto3
import pytest
from PIL import Image
from starlette.testclient import TestClient

from tests.support.auth import auth_world  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("auth_world")


def _jpeg(size=(64, 48), colour=(10, 120, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def world(auth_world, monkeypatch_module):  # noqa: F811
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    s3 = session.client("s3", endpoint_url=auth_world.endpoint)
    suffix = uuid.uuid4().hex[:8]
    media, drop = f"media-{suffix}", f"drop-{suffix}"
    s3.create_bucket(Bucket=media)
    s3.create_bucket(Bucket=drop)
    monkeypatch_module.setenv("MEDIA_BUCKET", media)
    monkeypatch_module.setenv("DROP_BUCKET", drop)
    from tests.support.auth import reset_service_caches

    reset_service_caches()
    from annolake_service.api.app import create_app
    from annolake_service.domain.roles import Role
    from annolake_service.services import projects

    projects.create_project("alpha", "Alpha", creator="user:owner")
    projects.create_project("beta", "Beta", creator="user:owner")
    keys = {role: projects.issue_api_key("alpha", role=role, name=role.value) for role in Role}
    beta_key = projects.issue_api_key("beta", role=Role.ADMIN, name="beta admin")
    client = TestClient(create_app())
    return {"client": client, "s3": s3, "drop": drop, "media": media, "keys": keys, "beta_key": beta_key}


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def _auth(key) -> dict[str, str]:
    token = base64.b64encode(f"{key.client_id}:{key.client_secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _admin(world):
    from annolake_service.domain.roles import Role

    return _auth(world["keys"][Role.ADMIN])


def _dynamodb(world):
    """A DynamoDB client of the emulator the world runs on, to look at (or age) the stored items directly."""
    return boto3.client(
        "dynamodb",
        endpoint_url=world["s3"].meta.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def _with_car_occlusion(world) -> None:
    """The schema's ``car`` label and its ``occluded`` radio group, as ``test_datasets_labels_and_schema`` makes
    them: for tests that annotate cars, wherever pytest-xdist runs them (the module's tests may be spread over
    workers, each with its own world)."""
    c, h = world["client"], _admin(world)
    assert c.post("/api/v1/projects/alpha/labels", json={"name": "car"}, headers=h).status_code == 201
    schema = c.get("/api/v1/projects/alpha/schema", headers=h).json()
    if not any(g["name"] == "occluded" for g in schema["attribute_groups"]):
        group = {"name": "occluded", "kind": "radio", "options": ["no", "yes"], "label_names": ["car"]}
        assert c.post("/api/v1/projects/alpha/attribute-groups", json=group, headers=h).status_code == 201


def _ingest(world, name: str, data: bytes, dataset: str = "train") -> str:
    """Run the real ingest steps (what the state machine calls) for an object in the drop bucket."""
    from annolake_service.services import ingest

    key = f"alpha/{dataset}/{name}"
    world["s3"].put_object(Bucket=world["drop"], Key=key, Body=data)
    facts = ingest.process_media(world["drop"], key)
    return ingest.register_file(world["drop"], key, facts)["file_id"]


def test_datasets_labels_and_schema(world):
    c, h = world["client"], _admin(world)
    assert c.post("/api/v1/projects/alpha/datasets", json={"name": "train"}, headers=h).status_code == 201
    again = c.post("/api/v1/projects/alpha/datasets", json={"name": "train"}, headers=h)
    assert again.status_code == 409 and "already exists" in again.json()["error"]["message"]
    assert c.post("/api/v1/projects/alpha/labels", json={"name": "car"}, headers=h).status_code == 201
    assert c.post("/api/v1/projects/alpha/labels", json={"name": "pedestrian", "colour": "#ff0000"}, headers=h)
    group = {"name": "occluded", "kind": "radio", "options": ["no", "yes"], "label_names": ["car"]}
    assert c.post("/api/v1/projects/alpha/attribute-groups", json=group, headers=h).status_code == 201
    schema = c.get("/api/v1/projects/alpha/schema", headers=h).json()
    assert [label["name"] for label in schema["labels"]] == ["car", "pedestrian"] and schema["version"] == 3
    stale = c.put("/api/v1/projects/alpha/schema", json={**schema, "version": 1}, headers=h)
    assert stale.status_code == 409 and stale.json()["error"]["details"]["current_version"] == 3
    names = [d["name"] for d in c.get("/api/v1/projects/alpha/datasets", headers=h).json()["datasets"]]
    assert names == ["train"]


def test_attribute_group_defaults_are_checked_and_kept_through_schema_versions(world):
    c, h = world["client"], _admin(world)
    assert c.post("/api/v1/projects/alpha/labels", json={"name": "car"}, headers=h).status_code == 201
    group = {"name": "truncated", "kind": "select", "options": ["no", "yes"], "label_names": ["car"], "default": "no"}
    assert c.post("/api/v1/projects/alpha/attribute-groups", json=group, headers=h).status_code == 201
    schema = c.get("/api/v1/projects/alpha/schema", headers=h).json()
    [read] = [g for g in schema["attribute_groups"] if g["name"] == "truncated"]
    assert read["default"] == "no"
    score = {"name": "score", "kind": "number", "min": 0, "max": 10, "default": 11}
    refused = c.post("/api/v1/projects/alpha/attribute-groups", json=score, headers=h)
    message = refused.json()["error"]["message"]
    assert refused.status_code == 400 and "'score'" in message and "11 must be <= 10" in message, refused.text
    groups = [{**g, "default": "yes"} if g["name"] == "truncated" else g for g in schema["attribute_groups"]]
    saved = c.put("/api/v1/projects/alpha/schema", json={**schema, "attribute_groups": groups}, headers=h)
    assert saved.status_code == 200 and saved.json()["version"] == schema["version"] + 1, saved.text
    again = c.get("/api/v1/projects/alpha/schema", headers=h).json()
    assert [g["default"] for g in again["attribute_groups"] if g["name"] == "truncated"] == ["yes"]
    wrong = [{**g, "default": "maybe"} if g["name"] == "truncated" else g for g in again["attribute_groups"]]
    put = c.put("/api/v1/projects/alpha/schema", json={**again, "attribute_groups": wrong}, headers=h)
    assert put.status_code == 400 and "'truncated'" in put.json()["error"]["message"], put.text
    assert "\"maybe\" must be one of ['no', 'yes']" in put.json()["error"]["message"]


def test_annotations_are_versioned_with_optimistic_locking(world):
    c, h = world["client"], _admin(world)
    _with_car_occlusion(world)
    file_id = _ingest(world, "a.jpg", _jpeg())
    url = f"/api/v1/projects/alpha/files/{file_id}/annotations"
    assert c.get(url, headers=h).json() == {"file_id": file_id, "version": 0, "instance_list": []}
    box = {
        "type": "box",
        "name": "car",
        "x_min": 1,
        "y_min": 2,
        "x_max": 30,
        "y_max": 40,
        "attributes": {"occluded": "no"},
    }
    first = c.put(url, json={"version": 0, "instance_list": [box]}, headers=h)
    assert first.status_code == 200, first.text
    saved = first.json()["instance_list"][0]
    assert first.json()["version"] == 1 and saved["root_id"] == saved["id"]
    moved = {**saved, "x_max": 35}
    second = c.put(url, json={"version": 1, "instance_list": [moved]}, headers=h)
    assert second.json()["version"] == 2 and second.json()["changes"]["updated"] == 1
    edited = second.json()["instance_list"][0]
    assert edited["previous_id"] == saved["id"] and edited["root_id"] == saved["id"] and edited["version"] == 2
    summary = c.get(f"/api/v1/projects/alpha/files/{file_id}", headers=h).json()
    assert summary["label_counts"] == {"car": 1} and summary["attribute_values"] == {"occluded": ["no"]}

    stale = c.put(url, json={"version": 1, "instance_list": []}, headers=h)
    assert stale.status_code == 409
    error = stale.json()["error"]
    assert error["details"]["current_version"] == 2 and error["details"]["changed_by"].startswith("key:")
    assert c.get(url, headers=h).json()["version"] == 2  # nothing overwritten

    assert c.put(url, json={"version": 2, "instance_list": []}, headers=h).json()["changes"]["deleted"] == 1
    history = c.get(url + "/history", headers=h).json()["history"]
    assert [v["version"] for v in history] == [1, 2, 3]
    assert history[2]["deleted"][0]["root_id"] == saved["id"]
    lineage = c.get(url + "/history", params={"instance_root_id": saved["id"]}, headers=h).json()["history"]
    assert [i["version"] for i in lineage] == [1, 2, 2] and "deleted_at" in lineage[-1]
    record = c.get(f"/api/v1/projects/alpha/files/{file_id}", headers=h).json()
    assert record["annotation_version"] == 3 and record["label_counts"] == {} and record["attribute_values"] == {}


@pytest.mark.parametrize(
    "instance, status, words",
    [
        ({"type": "box", "name": "truck", "x_min": 1, "y_min": 1, "x_max": 5, "y_max": 5}, 400, "unknown labels"),
        ({"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 500, "y_max": 5}, 400, "outside"),
        ({"type": "box", "name": "car", "x_min": 9, "y_min": 1, "x_max": 5, "y_max": 5}, 400, "x_min <= x_max"),
        ({"type": "polygon", "name": "car", "points": [{"x": 1, "y": 1}]}, 400, "at least 3"),
        (
            {
                "type": "box",
                "name": "car",
                "x_min": 1,
                "y_min": 1,
                "x_max": 5,
                "y_max": 5,
                "attributes": {"occluded": "maybe"},
            },
            400,
            "must be one of",
        ),
        (
            {
                "type": "box",
                "name": "car",
                "x_min": 1,
                "y_min": 1,
                "x_max": 5,
                "y_max": 5,
                "attributes": {"ocluded": "no"},
            },
            400,
            "did you mean 'occluded'",
        ),
    ],
)
def test_bad_instances_get_4xx_naming_the_problem(world, instance, status, words):
    c, h = world["client"], _admin(world)
    _with_car_occlusion(world)
    file_id = _ingest(world, "bad-input.jpg", _jpeg(colour=(1, 2, 3)))
    response = c.put(
        f"/api/v1/projects/alpha/files/{file_id}/annotations",
        json={"version": 0, "instance_list": [instance]},
        headers=h,
    )
    assert response.status_code == status and words in response.json()["error"]["message"], response.text


def test_unknown_labels_can_be_created_on_request(world):
    c, h = world["client"], _admin(world)
    file_id = _ingest(world, "create.jpg", _jpeg(colour=(9, 9, 9)))
    truck = {"type": "box", "name": "truck", "x_min": 1, "y_min": 1, "x_max": 5, "y_max": 5}
    response = c.put(
        f"/api/v1/projects/alpha/files/{file_id}/annotations",
        json={"version": 0, "instance_list": [truck], "create_labels": True},
        headers=h,
    )
    assert response.status_code == 200
    assert "truck" in [label["name"] for label in c.get("/api/v1/projects/alpha/labels", headers=h).json()["labels"]]


def test_roles_and_tenancy(world):
    from annolake_service.domain.roles import Role

    c = world["client"]
    viewer = _auth(world["keys"][Role.VIEWER])
    assert c.get("/api/v1/projects/alpha/datasets", headers=viewer).status_code == 200
    denied = c.post("/api/v1/projects/alpha/datasets", json={"name": "nope"}, headers=viewer)
    assert denied.status_code == 403 and "viewer" in denied.json()["error"]["message"]
    annotator = _auth(world["keys"][Role.ANNOTATOR])
    assert c.post("/api/v1/projects/alpha/api-keys", json={"name": "x"}, headers=annotator).status_code == 403
    other = c.get("/api/v1/projects/alpha/datasets", headers=_auth(world["beta_key"]))
    assert other.status_code == 403
    assert c.get("/api/v1/projects/alpha/datasets").status_code == 401

    created = c.post("/api/v1/projects/alpha/api-keys", json={"name": "temp", "role": "viewer"}, headers=_admin(world))
    key = created.json()
    temp = {
        "Authorization": "Basic " + base64.b64encode(f"{key['client_id']}:{key['client_secret']}".encode()).decode()
    }
    assert c.get("/api/v1/projects/alpha/datasets", headers=temp).status_code == 200
    listed = c.get("/api/v1/projects/alpha/api-keys", headers=_admin(world)).json()["api_keys"]
    assert all("secret" not in str(k.keys()) for k in listed)
    assert c.delete(f"/api/v1/projects/alpha/api-keys/{key['client_id']}", headers=_admin(world)).status_code == 204
    revoked = c.get("/api/v1/projects/alpha/datasets", headers=temp)
    assert revoked.status_code == 401 and "revoked" in revoked.json()["error"]["message"]


def test_file_listing_pages_without_duplicates_and_filters_quarantined(world):
    from annolake_service.services import ingest

    c, h = world["client"], _admin(world)
    ids = {_ingest(world, f"p{i}.jpg", _jpeg(size=(40 + i, 30)), dataset="paged") for i in range(23)}
    world["s3"].put_object(Bucket=world["drop"], Key="alpha/paged/broken.jpg", Body=b"\xff\xd8broken")
    ingest.quarantine(
        world["drop"], "alpha/paged/broken.jpg", {"Error": "CorruptMedia", "Cause": '{"errorMessage": "truncated"}'}
    )
    seen, cursor = [], None
    while True:
        page = c.get(
            "/api/v1/projects/alpha/datasets/paged/files", params={"limit": 10, "cursor": cursor}, headers=h
        ).json()
        seen += [f["file_id"] for f in page["files"] if f["status"] == "ready"]
        assert all(f["thumbnail_url"].startswith("http") for f in page["files"] if f["status"] == "ready")
        cursor = page["cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 23 and set(seen) == ids
    quarantined = c.get(
        "/api/v1/projects/alpha/datasets/paged/files", params={"status": "quarantined"}, headers=h
    ).json()["files"]
    assert [f["original_name"] for f in quarantined] == ["broken.jpg"]
    assert "truncated" in quarantined[0]["status_reason"]
    bad = c.get("/api/v1/projects/alpha/datasets/paged/files", params={"cursor": "%%%"}, headers=h)
    assert bad.status_code == 400


def test_metadata_transfer_and_soft_delete(world):
    c, h = world["client"], _admin(world)
    file_id = _ingest(world, "move-me.jpg", _jpeg(colour=(50, 50, 50)), dataset="src")
    c.post("/api/v1/projects/alpha/datasets", json={"name": "dst"}, headers=h)
    patched = c.patch(f"/api/v1/projects/alpha/files/{file_id}", json={"metadata": {"camera": "front"}}, headers=h)
    assert patched.json()["metadata"] == {"camera": "front"}
    mirror = c.post(
        "/api/v1/projects/alpha/files/transfer",
        json={"file_ids": [file_id], "mode": "mirror", "target_dataset": "dst"},
        headers=h,
    )
    assert mirror.json()["file_ids"] == [file_id]

    def listed(ds):
        return [f["file_id"] for f in c.get(f"/api/v1/projects/alpha/datasets/{ds}/files", headers=h).json()["files"]]

    assert file_id in listed("src") and file_id in listed("dst")
    copy = c.post(
        "/api/v1/projects/alpha/files/transfer",
        json={"file_ids": [file_id], "mode": "copy", "target_dataset": "dst"},
        headers=h,
    ).json()
    assert copy["file_ids"][0] != file_id and copy["file_ids"][0] in listed("dst")
    assert c.delete(f"/api/v1/projects/alpha/files/{file_id}", headers=h).status_code == 204
    assert file_id not in listed("src") and file_id not in listed("dst")
    assert c.get(f"/api/v1/projects/alpha/files/{file_id}", headers=h).status_code == 404


def test_metadata_beyond_its_limit_is_refused_with_the_fix_and_the_file_keeps_its_own(world):
    from annolake_service.adapters.dynamo import files as file_repo
    from pynamodb.exceptions import UpdateError

    c, h = world["client"], _admin(world)
    file_id = _ingest(world, "noted.jpg", _jpeg(colour=(120, 30, 200)))
    fits = c.patch(f"/api/v1/projects/alpha/files/{file_id}", json={"metadata": {"notes": "n" * 30_000}}, headers=h)
    assert fits.status_code == 200 and len(fits.json()["metadata"]["notes"]) == 30_000
    huge = {"notes": "x" * 500_000}
    refused = c.patch(f"/api/v1/projects/alpha/files/{file_id}", json={"metadata": huge}, headers=h)
    assert refused.status_code == 400  # it was a 404 "file not found": the store's failure was read as "no such file"
    message = refused.json()["error"]["message"]
    assert "488 KB" in message and "at most 32 KB" in message and "in your own store" in message
    assert len(c.get(f"/api/v1/projects/alpha/files/{file_id}", headers=h).json()["metadata"]["notes"]) == 30_000
    with pytest.raises(UpdateError):  # a write DynamoDB refuses is an error, not "the file does not exist"
        file_repo.update_file_metadata("alpha", file_id, huge)


@pytest.mark.parametrize(
    "body, words",
    [
        ({"dataset": "up", "file_name": "s.mp3", "content_type": "audio/mpeg", "size_bytes": 10}, "not supported yet"),
        ({"dataset": "up", "file_name": "big.jpg", "content_type": "image/jpeg", "size_bytes": 10**10}, "size_bytes"),
    ],
)
def test_uploads_refuse_unsupported_types_and_sizes(world, body, words):
    response = world["client"].post("/api/v1/projects/alpha/uploads", json=body, headers=_admin(world))
    assert response.status_code == 400 and words in response.json()["error"]["message"]


def test_upload_returns_a_presigned_post_for_the_uploads_prefix(world):
    body = {"dataset": "up", "file_name": "dir/cat.jpg", "content_type": "image/jpeg", "size_bytes": 1000}
    upload = world["client"].post("/api/v1/projects/alpha/uploads", json=body, headers=_admin(world)).json()
    assert upload["fields"]["key"].startswith("uploads/alpha/up/") and upload["fields"]["key"].endswith("/cat.jpg")
    assert "policy" in upload["fields"]
    status = world["client"].get(f"/api/v1/projects/alpha/uploads/{upload['upload_id']}", headers=_admin(world))
    assert status.json()["status"] == "pending"


def test_members_invite_change_role_and_last_admin_guard(world, auth_world):  # noqa: F811
    c, h = world["client"], _admin(world)
    invited = c.post(
        "/api/v1/projects/alpha/members",
        json={"username": "carol", "email": "carol@example.com", "role": "annotator"},
        headers=h,
    )
    assert invited.status_code == 201 and invited.json()["invited"] is True
    assert auth_world.cognito.admin_get_user(UserPoolId=auth_world.pool_id, Username="carol")["Username"] == "carol"
    members = dict(
        (m["principal_id"], m["role"]) for m in c.get("/api/v1/projects/alpha/members", headers=h).json()["members"]
    )
    assert members["user:carol"] == "annotator" and members["user:owner"] == "admin"
    unknown = c.post("/api/v1/projects/alpha/members", json={"username": "nobody", "role": "viewer"}, headers=h)
    assert unknown.status_code == 400 and "email" in unknown.json()["error"]["message"]
    assert c.patch("/api/v1/projects/alpha/members/user:carol", json={"role": "reviewer"}, headers=h).status_code == 200
    demote = c.patch("/api/v1/projects/alpha/members/user:owner", json={"role": "viewer"}, headers=h)
    assert demote.status_code == 409 and "last admin" in demote.json()["error"]["message"]
    assert c.delete("/api/v1/projects/alpha/members/user:carol", headers=h).status_code == 204
    assert "user:carol" not in str(c.get("/api/v1/projects/alpha/members", headers=h).json())


@pytest.fixture(scope="module")
def image_server():
    """A loopback HTTP server with an image, a text file and a redirect (what from_url fetches)."""
    import http.server
    import threading

    image = _jpeg(size=(90, 70), colour=(200, 10, 10))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path == "/cat.jpg":
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(image)))
                self.end_headers()
                self.wfile.write(image)
            elif self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "/cat.jpg")
                self.end_headers()
            elif self.path == "/notes.txt":
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"just some text")
            else:
                self.send_response(404)
                self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_from_url_refuses_loopback_hosts_outside_the_local_stage(world, image_server):
    response = world["client"].post(
        "/api/v1/projects/alpha/files/from_url", json={"url": f"{image_server}/cat.jpg"}, headers=_admin(world)
    )
    assert response.status_code == 400 and "only public hosts" in response.json()["error"]["message"]


def test_from_url_and_packets_become_uploads_with_sidecars(world, image_server, monkeypatch):
    from tests.support.auth import reset_service_caches

    monkeypatch.setenv("ALLOW_PRIVATE_URLS", "true")
    reset_service_caches()
    c, h = world["client"], _admin(world)
    c.post("/api/v1/projects/alpha/labels", json={"name": "car"}, headers=h)  # whether or not a test before made it
    box = {"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 80, "y_max": 60}
    accepted = c.post(
        "/api/v1/projects/alpha/files/from_url",
        json={"url": f"{image_server}/moved", "dataset": "web", "instance_list": [box]},
        headers=h,
    )
    assert accepted.status_code == 202, accepted.text
    upload = accepted.json()
    assert upload["status"] == "pending" and upload["file_name"] == "cat.jpg"
    keys = [
        o["Key"] for o in world["s3"].list_objects_v2(Bucket=world["media"], Prefix="uploads/alpha/web/")["Contents"]
    ]
    assert sorted(k.rsplit("/", 1)[1] for k in keys) == ["cat.jpg", "cat.json"]

    packet = {
        "media": {"url": f"{image_server}/cat.jpg", "type": "image"},
        "dataset": "web",
        "instance_list": [{**box, "name": "tram"}],
    }
    unknown = c.post("/api/v1/projects/alpha/files/from_packet", json=packet, headers=h)
    assert unknown.status_code == 400 and "tram" in unknown.json()["error"]["message"]
    outside = c.post(
        "/api/v1/projects/alpha/files/from_packet", json={**packet, "instance_list": [{**box, "x_max": 500}]}, headers=h
    )
    assert outside.status_code == 400 and "outside the 90x70 image" in outside.json()["error"]["message"]
    video = c.post(
        "/api/v1/projects/alpha/files/from_packet",
        json={**packet, "media": {"url": packet["media"]["url"], "type": "video"}},
        headers=h,
    )
    assert video.status_code == 400 and "it is not a video" in video.json()["error"]["message"]
    for path, words in (("/notes.txt", "text files are not supported"), ("/missing.jpg", "HTTP 404")):
        bad = c.post("/api/v1/projects/alpha/files/from_url", json={"url": image_server + path}, headers=h)
        assert bad.status_code == 400 and words in bad.json()["error"]["message"], bad.text
    monkeypatch.delenv("ALLOW_PRIVATE_URLS")
    reset_service_caches()


def _coco_dataset(count: int, boxes_per_image: int) -> tuple[dict, dict[str, bytes]]:
    images, annotations, media = [], [], {}
    for i in range(count):
        name = f"img/{i:04d}.jpg"
        media[name] = _jpeg(size=(60 + i, 50), colour=(i * 7 % 255, 90, 160))
        images.append({"id": i + 1, "file_name": name, "width": 60 + i, "height": 50})
        for b in range(boxes_per_image):
            annotations.append(
                {"id": len(annotations) + 1, "image_id": i + 1, "category_id": 1 + b % 2, "bbox": [b, b, 10, 12]}
            )
    document = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "bus"}, {"id": 2, "name": "lorry"}],
    }
    return document, media


def _run_import_job(world, import_id: str) -> None:
    """What the import state machine does: plan, the Map over chunks, finish."""
    from annolake_service.services import imports

    planned = imports.plan("alpha", import_id)
    for chunk in planned["chunks"]:
        imports.import_chunk("alpha", import_id, chunk["chunk_key"])
    imports.finish("alpha", import_id)


@pytest.mark.slow  # a full COCO import, ~11 s
def test_coco_import_job_counts_every_item_and_redrives_without_duplicates(world):
    from annolake_service.domain.media import file_id_for_content

    c, h = world["client"], _admin(world)
    document, media = _coco_dataset(count=60, boxes_per_image=3)
    document["images"].append({"id": 999, "file_name": "img/missing.jpg"})
    media["img/0059.jpg"] = b"not an image at all"
    document["annotations"].append({"id": 9999, "image_id": 59, "category_id": 1, "bbox": [100, 1, 30, 5]})  # 118 wide
    job = c.post(
        "/api/v1/projects/alpha/imports", json={"format": "coco", "dataset": "coco", "create_labels": True}, headers=h
    ).json()
    assert job["status"] == "created" and job["media_upload"]["fields"]["key"].endswith("/media/${filename}")
    prefix = f"imports/alpha/{job['import_id']}/"
    world["s3"].put_object(Bucket=world["media"], Key=prefix + "manifest", Body=json.dumps(document).encode())
    for name, body in media.items():
        world["s3"].put_object(Bucket=world["media"], Key=prefix + "media/" + name, Body=body)

    _run_import_job(world, job["import_id"])
    progress = c.get(f"/api/v1/projects/alpha/imports/{job['import_id']}", headers=h).json()
    assert (progress["status"], progress["total"], progress["done"], progress["failed"]) == (
        "completed_with_errors",
        61,
        58,
        3,
    )
    reasons = {f["name"]: f["reason"] for f in progress["failures"]}
    assert "was not uploaded" in reasons["missing.jpg"] and "not supported yet" in reasons["0059.jpg"]
    assert "outside the 118x50 image" in reasons["0058.jpg"]
    refused_id = file_id_for_content("alpha", hashlib.sha256(media["img/0058.jpg"]).hexdigest())
    stored = world["s3"].list_objects_v2(Bucket=world["media"], Prefix=f"projects/alpha/files/{refused_id}/")
    assert stored["KeyCount"] == 0  # its media is not kept for a file that was never recorded
    files = c.get("/api/v1/projects/alpha/datasets/coco/files", params={"limit": 100}, headers=h).json()["files"]
    assert len(files) == 58 and all(sum(f["label_counts"].values()) == 3 for f in files)
    one = next(f for f in files if f["original_name"] == "0000.jpg")
    boxes = c.get(f"/api/v1/projects/alpha/files/{one['file_id']}/annotations", headers=h).json()["instance_list"]
    assert sorted((b["name"], b["x_min"], b["x_max"]) for b in boxes) == [
        ("bus", 0.0, 10.0),
        ("bus", 2.0, 12.0),
        ("lorry", 1.0, 11.0),
    ]

    _run_import_job(world, job["import_id"])  # re-drive: same outcome, no new files
    again = c.get(f"/api/v1/projects/alpha/imports/{job['import_id']}", headers=h).json()
    assert (again["done"], again["failed"]) == (58, 3)
    assert (
        len(c.get("/api/v1/projects/alpha/datasets/coco/files", params={"limit": 100}, headers=h).json()["files"]) == 58
    )


def test_import_items_whose_labels_or_metadata_cannot_be_stored_fail_and_keep_no_media(world):
    from annolake_service.domain.media import file_id_for_content

    c, h = world["client"], _admin(world)
    outline = [{"x": i % 60, "y": i * 7 % 40} for i in range(400)]
    items = {
        "fine.jpg": {"metadata": {"site": "north"}},
        "dense.jpg": {"instance_list": [{"type": "polygon", "name": "field", "points": outline}] * 40},
        "wordy.jpg": {"metadata": {"notes": "w" * 40_000}},
        "odd.jpg": {"metadata": "north"},
    }
    media = {name: _jpeg(size=(64, 48), colour=(i * 40, 9, 9)) for i, name in enumerate(items)}
    job = c.post(
        "/api/v1/projects/alpha/imports", json={"format": "jsonl", "dataset": "jl", "create_labels": True}, headers=h
    ).json()
    prefix = f"imports/alpha/{job['import_id']}/"
    manifest = "\n".join(json.dumps({"media": {"path": name}, **packet}) for name, packet in items.items())
    world["s3"].put_object(Bucket=world["media"], Key=prefix + "manifest", Body=manifest.encode())
    for name, body in media.items():
        world["s3"].put_object(Bucket=world["media"], Key=prefix + "media/" + name, Body=body)

    _run_import_job(world, job["import_id"])
    progress = c.get(f"/api/v1/projects/alpha/imports/{job['import_id']}", headers=h).json()
    assert (progress["done"], progress["failed"]) == (1, 3)
    reasons = {f["name"]: f["reason"] for f in progress["failures"]}
    assert "at most 350 KB" in reasons["dense.jpg"]
    assert "the metadata of wordy.jpg comes to 39 KB as JSON" in reasons["wordy.jpg"]
    assert "must be a JSON object" in reasons["odd.jpg"]
    for name in ("dense.jpg", "wordy.jpg", "odd.jpg"):
        refused_id = file_id_for_content("alpha", hashlib.sha256(media[name]).hexdigest())
        stored = world["s3"].list_objects_v2(Bucket=world["media"], Prefix=f"projects/alpha/files/{refused_id}/")
        assert stored["KeyCount"] == 0, name  # nothing is stored for an item that is refused
    [fine] = c.get("/api/v1/projects/alpha/datasets/jl/files", headers=h).json()["files"]
    assert fine["original_name"] == "fine.jpg" and fine["metadata"] == {"site": "north"}


def test_import_with_unknown_labels_fails_as_a_whole_with_the_reason(world):
    from annolake_service.services import imports

    c, h = world["client"], _admin(world)
    document, media = _coco_dataset(count=2, boxes_per_image=1)
    document["categories"] = [{"id": 1, "name": "zeppelin"}, {"id": 2, "name": "bus"}]
    job = c.post("/api/v1/projects/alpha/imports", json={"format": "coco", "dataset": "coco2"}, headers=h).json()
    prefix = f"imports/alpha/{job['import_id']}/"
    world["s3"].put_object(Bucket=world["media"], Key=prefix + "manifest", Body=json.dumps(document).encode())
    with pytest.raises(imports.ImportRejected, match="zeppelin"):
        imports.plan("alpha", job["import_id"])
    imports.fail(
        "alpha",
        job["import_id"],
        {"Error": "ImportRejected", "Cause": json.dumps({"errorMessage": "labels not in the schema"})},
    )
    assert c.get(f"/api/v1/projects/alpha/imports/{job['import_id']}", headers=h).json()["status"] == "failed"
    listed = c.get("/api/v1/projects/alpha/imports", params={"dataset": "coco2"}, headers=h).json()["imports"]
    assert [(i["import_id"], i["status"]) for i in listed] == [(job["import_id"], "failed")]
    everything = c.get("/api/v1/projects/alpha/imports", headers=h).json()["imports"]
    assert len(everything) >= 2 and everything == sorted(everything, key=lambda i: i["created_at"], reverse=True)
    bad = c.post("/api/v1/projects/alpha/imports", json={"format": "pascal"}, headers=h)
    assert bad.status_code == 422


def test_a_sidecar_arriving_after_its_image_is_attached(world):
    from urllib.parse import quote_plus

    from annolake_service.services.arrivals import start_ingest_for

    c, h = world["client"], _admin(world)
    file_id = _ingest(world, "late arrival.jpg", _jpeg(size=(70, 40), colour=(3, 3, 90)))
    box = {"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 20, "y_max": 20}
    for key in ("alpha/train/late arrival.json", "alpha/train/not-yet.json"):
        world["s3"].put_object(Bucket=world["drop"], Key=key, Body=json.dumps({"instance_list": [box]}).encode())
        assert start_ingest_for(bucket=world["drop"], raw_key=quote_plus(key), size=1, etag="e", sequencer="s") is None
    annotations = c.get(f"/api/v1/projects/alpha/files/{file_id}/annotations", headers=h).json()
    assert annotations["version"] == 1 and annotations["instance_list"][0]["name"] == "car"
    left = [o["Key"] for o in world["s3"].list_objects_v2(Bucket=world["drop"], Prefix="alpha/train/")["Contents"]]
    assert "alpha/train/late arrival.json" not in left  # attached, then removed
    assert "alpha/train/not-yet.json" in left  # waits for its image's ingest


def test_a_sidecar_put_before_its_image_but_announced_after_it_is_attached_by_its_own_event(world):
    """A batch looks for the sidecars whose events marked their stems, not for every image's: a sidecar in the
    drop folder whose event is still on its way when the image registers is attached when the event comes."""
    from urllib.parse import quote_plus

    from annolake_service.services import ingest
    from annolake_service.services.arrivals import start_ingest_for

    c, h = world["client"], _admin(world)
    box = {"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 20, "y_max": 20}
    sidecar_key = "alpha/early/slow.json"
    world["s3"].put_object(Bucket=world["drop"], Key=sidecar_key, Body=json.dumps({"instance_list": [box]}).encode())
    arrival = _processed(world, "alpha/early/slow.jpg", _jpeg(size=(60, 40), colour=(40, 90, 3)))
    [result] = ingest.register_files([arrival])
    file_id = result["file"]["file_id"]
    assert c.get(f"/api/v1/projects/alpha/files/{file_id}/annotations", headers=h).json()["version"] == 0
    its_event = {"bucket": world["drop"], "raw_key": quote_plus(sidecar_key), "size": 1, "etag": "e", "sequencer": "s"}
    assert start_ingest_for(**its_event) is None
    annotations = c.get(f"/api/v1/projects/alpha/files/{file_id}/annotations", headers=h).json()
    assert annotations["version"] == 1 and [i["name"] for i in annotations["instance_list"]] == ["car"]
    left = world["s3"].list_objects_v2(Bucket=world["drop"], Prefix="alpha/early/").get("Contents", [])
    assert left == []  # the image moved to the media bucket, the sidecar applied and removed


def _sidecar_event(world, key: str) -> dict:
    from urllib.parse import quote_plus

    return {"bucket": world["drop"], "raw_key": quote_plus(key), "size": 1, "etag": "e", "sequencer": key}


def _names(world, file_id: str) -> tuple[int, list[str]]:
    c, h = world["client"], _admin(world)
    annotations = c.get(f"/api/v1/projects/alpha/files/{file_id}/annotations", headers=h).json()
    return annotations["version"], [i["name"] for i in annotations["instance_list"]]


def _drop_left(world, prefix: str) -> list[str]:
    return [o["Key"] for o in world["s3"].list_objects_v2(Bucket=world["drop"], Prefix=prefix).get("Contents", [])]


def test_a_folder_dropped_again_gives_each_new_photo_its_sidecar_not_the_stems_annotated_file(world):
    """New photos under names whose files were annotated, each with its sidecar, whose events come before the
    photos' ingest (the trigger handles a batch's sidecars first): each sidecar waits for its photo and becomes
    the new file's version 1; the annotated files keep their annotations."""
    from annolake_service.services import ingest
    from annolake_service.services.arrivals import start_ingest_for

    folder = "alpha/redrop"
    old_id = _ingest(world, "cam.jpg", _jpeg(size=(60, 40), colour=(200, 10, 10)), dataset="redrop")
    _annotate(world, old_id, [{"type": "box", "name": "truck", "x_min": 2, "y_min": 2, "x_max": 30, "y_max": 30}])
    box = {"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 20, "y_max": 20}
    world["s3"].put_object(Bucket=world["drop"], Key=f"{folder}/cam.json", Body=json.dumps([box]).encode())
    arrival = _processed(world, f"{folder}/cam.jpg", _jpeg(size=(60, 40), colour=(10, 200, 10)))
    assert start_ingest_for(**_sidecar_event(world, f"{folder}/cam.json")) is None
    assert sorted(_drop_left(world, folder)) == [f"{folder}/cam.jpg", f"{folder}/cam.json"]  # left for the photo

    [result] = ingest.register_files([arrival])
    new_id = result["file"]["file_id"]
    assert new_id != old_id and _names(world, new_id) == (1, ["car"])
    assert _names(world, old_id) == (1, ["truck"])  # the person's work, untouched
    assert _drop_left(world, folder) == []


def test_a_sidecar_for_an_annotated_file_is_kept_aside_with_why_never_dropped_unread(world):
    """A sidecar dropped alone for a file people annotated since: not applied over their work, not deleted,
    but kept under quarantine/ with the reason on the file; the same pre-labels as the file holds are removed."""
    from annolake_service.services.arrivals import start_ingest_for

    c, h = world["client"], _admin(world)
    folder = "alpha/relabel"
    file_id = _ingest(world, "pole.jpg", _jpeg(size=(60, 40), colour=(90, 90, 10)), dataset="relabel")
    kept = [{"type": "box", "name": "car", "x_min": 3, "y_min": 3, "x_max": 9, "y_max": 9}]
    _annotate(world, file_id, kept)
    other = [{"type": "box", "name": "bus", "x_min": 1, "y_min": 1, "x_max": 20, "y_max": 20}]
    world["s3"].put_object(Bucket=world["drop"], Key=f"{folder}/pole.json", Body=json.dumps(other).encode())
    assert start_ingest_for(**_sidecar_event(world, f"{folder}/pole.json")) is None

    assert _names(world, file_id) == (1, ["car"]) and _drop_left(world, folder) == []
    reason = c.get(f"/api/v1/projects/alpha/files/{file_id}", headers=h).json()["status_reason"]
    assert "annotations already (version 1)" in reason and "quarantine/alpha/relabel/pole.json" in reason
    aside = world["s3"].get_object(Bucket=world["media"], Key="quarantine/alpha/relabel/pole.json")["Body"].read()
    assert json.loads(aside) == other

    world["s3"].put_object(Bucket=world["drop"], Key=f"{folder}/pole.json", Body=json.dumps(kept).encode())
    assert start_ingest_for(**_sidecar_event(world, f"{folder}/pole.json")) is None
    assert _names(world, file_id) == (1, ["car"]) and _drop_left(world, folder) == []  # held already: removed


def test_a_known_photo_dropped_elsewhere_with_a_sidecar_gets_its_labels_or_keeps_it_aside(world):
    """The same bytes dropped into other folders, now with a sidecar (read with the photo, whose stem there has
    no file yet): the known file is not written again, but its sidecar still counts: version 1 of a file with
    none, removed where the file holds its instances, kept aside with why where it has others."""
    from annolake_service.services import ingest
    from annolake_service.services.arrivals import start_ingest_for

    c, h = world["client"], _admin(world)
    photo = _jpeg(size=(60, 40), colour=(10, 10, 200))
    file_id = _ingest(world, "bay.jpg", photo, dataset="again")
    assert _names(world, file_id) == (0, [])

    def drop_into(folder: str, instances: list[dict]) -> None:
        world["s3"].put_object(Bucket=world["drop"], Key=f"{folder}/bay.json", Body=json.dumps(instances).encode())
        assert start_ingest_for(**_sidecar_event(world, f"{folder}/bay.json")) is None  # marks the stem
        [result] = ingest.register_files([_processed(world, f"{folder}/bay.jpg", photo)])
        assert (result["file"]["file_id"], result["file"]["created"]) == (file_id, False)
        assert _drop_left(world, folder) == []

    car = [{"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 20, "y_max": 20}]
    drop_into("alpha/again-1", car)
    assert _names(world, file_id) == (1, ["car"])
    drop_into("alpha/again-2", car)  # the same pre-labels: nothing to do
    assert _names(world, file_id) == (1, ["car"])
    assert c.get(f"/api/v1/projects/alpha/files/{file_id}", headers=h).json().get("status_reason") is None
    drop_into("alpha/again-3", [{**car[0], "name": "bus"}])
    assert _names(world, file_id) == (1, ["car"])
    reason = c.get(f"/api/v1/projects/alpha/files/{file_id}", headers=h).json()["status_reason"]
    assert "sidecar bay.json was not attached: the file has annotations already (version 1)" in reason
    assert "quarantine/alpha/again-3/bay.json" in reason


def test_the_largest_metadata_and_annotation_version_fit_on_one_file_together(world):
    """A file's item holds its metadata beside its summary of attribute values, which free text can fill
    to almost the size of a whole version: both at their limits must still be stored (not a 500)."""
    from annolake_service.domain.annotations import MAX_VERSION_BYTES
    from annolake_service.domain.file_metadata import MAX_METADATA_BYTES

    c, h = world["client"], _admin(world)
    group = {"name": "transcript", "kind": "text", "label_names": ["sign"]}
    assert c.post("/api/v1/projects/alpha/labels", json={"name": "sign"}, headers=h).status_code == 201
    assert c.post("/api/v1/projects/alpha/attribute-groups", json=group, headers=h).status_code == 201
    file_id = _ingest(world, "signs.jpg", _jpeg(size=(90, 60), colour=(10, 200, 120)), dataset="signs")
    metadata = {"notes": "m" * (MAX_METADATA_BYTES - 20)}
    assert c.patch(f"/api/v1/projects/alpha/files/{file_id}", json={"metadata": metadata}, headers=h).status_code == 200
    text = (MAX_VERSION_BYTES - 5_000) // 10
    signs = [
        {"type": "box", "name": "sign", "x_min": i, "y_min": 1, "x_max": i + 5, "y_max": 9,
         "attributes": {"transcript": f"{i:02d}" + "t" * text}}
        for i in range(10)
    ]  # fmt: skip
    saved = c.put(
        f"/api/v1/projects/alpha/files/{file_id}/annotations", json={"version": 0, "instance_list": signs}, headers=h
    )
    assert saved.status_code == 200, saved.text
    described = c.get(f"/api/v1/projects/alpha/files/{file_id}", headers=h).json()
    assert described["annotation_version"] == 1 and described["metadata"] == metadata


@pytest.mark.parametrize(
    "sidecar, words",
    [
        ([{"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 90, "y_max": 9}], "outside"),  # 40 wide
        ({"instance_list": [], "metadata": ["front", "camera"]}, "must be a JSON object of names to values, not list"),
        ({"metadata": {"notes": "x" * 40_000}}, "holds at most 32 KB"),
    ],
    ids=["box-outside", "metadata-not-object", "metadata-too-large"],
)
def test_a_late_sidecar_that_cannot_be_attached_is_kept_aside_and_named_on_its_ready_file(world, sidecar, words):
    from annolake_service.services import ingest

    c, h = world["client"], _admin(world)
    file_id = _ingest(world, "late-bad.jpg", _jpeg(size=(40, 30), colour=(50, 60, 70)), dataset="late")
    key = "alpha/late/late-bad.json"
    world["s3"].put_object(Bucket=world["drop"], Key=key, Body=json.dumps(sidecar).encode())

    assert ingest.attach_late_sidecar(world["drop"], key) is None  # no error for S3 to retry forever

    described = c.get(f"/api/v1/projects/alpha/files/{file_id}", headers=h).json()
    assert described["status"] == "ready" and described["annotation_version"] == 0 and described["metadata"] == {}
    assert described["status_reason"].startswith("sidecar late-bad.json was not attached: ")
    assert words in described["status_reason"] and "quarantine/alpha/late/late-bad.json" in described["status_reason"]
    kept = world["s3"].get_object(Bucket=world["media"], Key="quarantine/alpha/late/late-bad.json")["Body"].read()
    assert json.loads(kept) == sidecar
    left = world["s3"].list_objects_v2(Bucket=world["drop"], Prefix="alpha/late/").get("Contents", [])
    assert left == []


def test_a_sidecar_landing_while_its_image_registers_is_attached(world, monkeypatch):
    """`aws s3 cp --recursive` puts img.jpg, then img.json a moment later: the sidecar's event can run after the
    image's ingest looked for a sidecar and before it recorded the arrival. One of the two must attach it."""
    from urllib.parse import quote_plus

    from annolake_service.adapters.dynamo import arrivals as arrival_repo
    from annolake_service.services import ingest
    from annolake_service.services.arrivals import start_ingest_for

    c, h = world["client"], _admin(world)
    image_key, sidecar_key = "alpha/train/racing.jpg", "alpha/train/racing.json"
    box = {"type": "box", "name": "car", "x_min": 2, "y_min": 2, "x_max": 30, "y_max": 20}
    sidecar = json.dumps({"instance_list": [box], "metadata": {"camera": "front"}}).encode()
    record_arrival = arrival_repo.record_arrival

    def sidecar_lands_first(*args):  # the interleaving, made certain: the real calls, in the racing order
        world["s3"].put_object(Bucket=world["drop"], Key=sidecar_key, Body=sidecar)
        start_ingest_for(bucket=world["drop"], raw_key=quote_plus(sidecar_key), size=1, etag="e", sequencer="s")
        return record_arrival(*args)

    monkeypatch.setattr(arrival_repo, "record_arrival", sidecar_lands_first)
    world["s3"].put_object(Bucket=world["drop"], Key=image_key, Body=_jpeg(size=(72, 40), colour=(200, 9, 9)))
    file_id = ingest.register_file(world["drop"], image_key, ingest.process_media(world["drop"], image_key))["file_id"]

    annotations = c.get(f"/api/v1/projects/alpha/files/{file_id}/annotations", headers=h).json()
    assert annotations["version"] == 1 and [i["x_max"] for i in annotations["instance_list"]] == [30.0]
    described = c.get(f"/api/v1/projects/alpha/files/{file_id}", headers=h).json()
    assert described["metadata"] == {"camera": "front"}
    left = [
        o["Key"]
        for o in world["s3"].list_objects_v2(Bucket=world["drop"], Prefix="alpha/train/racing").get("Contents", [])
    ]
    assert left == []  # the image moved to the media bucket, the sidecar applied and removed


def test_a_refused_path_dropped_again_is_ingested_and_its_refusal_leaves_the_listing(world):
    """Re-driving a drop (after an outage that outlasted the retries, or with a repaired copy) yields one file."""
    from annolake_service.domain.media import MediaRejected
    from annolake_service.services import ingest

    c, h = world["client"], _admin(world)
    key = "alpha/redrive/scan 1.jpg"
    world["s3"].put_object(Bucket=world["drop"], Key=key, Body=_jpeg(size=(90, 60))[:150])
    with pytest.raises(MediaRejected) as refused:  # what the ProcessMedia step raises; the Catch quarantines
        ingest.process_media(world["drop"], key)
    error = {"Error": type(refused.value).__name__, "Cause": json.dumps({"errorMessage": str(refused.value)})}
    ingest.quarantine(world["drop"], key, error)
    listed = c.get("/api/v1/projects/alpha/datasets/redrive/files", headers=h).json()["files"]
    assert [(f["original_name"], f["status"]) for f in listed] == [("scan 1.jpg", "quarantined")]

    world["s3"].put_object(Bucket=world["drop"], Key=key, Body=_jpeg(size=(90, 60)))
    ingest.register_file(world["drop"], key, ingest.process_media(world["drop"], key))
    listed = c.get("/api/v1/projects/alpha/datasets/redrive/files", headers=h).json()["files"]
    assert [(f["original_name"], f["status"], f["width"]) for f in listed] == [("scan 1.jpg", "ready", 90)]
    quarantined = c.get("/api/v1/projects/alpha/datasets/redrive/files?status=quarantined", headers=h).json()
    assert quarantined["files"] == []
    kept = world["s3"].list_objects_v2(Bucket=world["media"], Prefix="quarantine/alpha/redrive/")["Contents"]
    assert [o["Key"] for o in kept] == ["quarantine/alpha/redrive/scan 1.jpg"]  # the refused original stays


def test_an_annotation_too_large_to_store_is_refused_with_the_limit_and_nothing_changes(world):
    c, h = world["client"], _admin(world)
    file_id = _ingest(world, "dense.jpg", _jpeg(size=(500, 400), colour=(3, 4, 5)))
    url = f"/api/v1/projects/alpha/files/{file_id}/annotations"
    outline = [{"x": i % 400, "y": i * 7 % 300} for i in range(400)]
    polygons = [{"type": "polygon", "name": "car", "points": outline} for _ in range(40)]

    refused = c.put(url, json={"version": 0, "instance_list": polygons}, headers=h)

    assert refused.status_code == 400, refused.text  # was a 500: the store refused the item
    message = refused.json()["error"]["message"]
    assert "at most 350 KB" in message and "fewer polygon points" in message
    assert c.get(url, headers=h).json()["version"] == 0
    saved = c.put(url, json={"version": 0, "instance_list": polygons[:30]}, headers=h)
    assert saved.status_code == 200 and saved.json()["version"] == 1


_OUTLINE = [{"x": i % 400, "y": i * 7 % 300} for i in range(400)]


@pytest.mark.parametrize(
    "sidecar, error, words",
    [
        (
            {"instance_list": [{"type": "polygon", "name": "field", "points": _OUTLINE}] * 40},
            "AnnotationTooLarge",
            "at most 350 KB",
        ),
        ({"metadata": {"survey": "s" * 40_000}}, "InvalidMetadata", "aerial.json comes to 39 KB as JSON"),
    ],
    ids=["instances", "metadata"],
)
def test_a_sidecar_too_large_to_store_quarantines_its_image_with_the_reason(world, sidecar, error, words):
    from annolake_service.services import ingest

    c, h = world["client"], _admin(world)
    dataset = f"dense-{error.lower()}"
    key = f"alpha/{dataset}/aerial.jpg"
    world["s3"].put_object(Bucket=world["drop"], Key=key, Body=_jpeg(size=(500, 400), colour=(9, 8, 7)))
    world["s3"].put_object(Bucket=world["drop"], Key=f"alpha/{dataset}/aerial.json", Body=json.dumps(sidecar).encode())
    with pytest.raises(ValueError) as refused:  # what RegisterFile raises; the state machine's Catch quarantines
        ingest.register_file(world["drop"], key, ingest.process_media(world["drop"], key))
    assert type(refused.value).__name__ == error
    caught = {"Error": type(refused.value).__name__, "Cause": json.dumps({"errorMessage": str(refused.value)})}
    ingest.quarantine(world["drop"], key, caught)
    listed = c.get(f"/api/v1/projects/alpha/datasets/{dataset}/files?status=quarantined", headers=h).json()["files"]
    assert [f["original_name"] for f in listed] == ["aerial.jpg"]
    assert words in listed[0]["status_reason"]


def _processed(world, key: str, body: bytes) -> dict:
    """An arrival as the ingest's Map answers it: the drop's keys with ProcessMedia's facts."""
    from annolake_service.services import ingest

    etag = world["s3"].put_object(Bucket=world["drop"], Key=key, Body=body)["ETag"].strip('"')  # as its event says
    media = ingest.process_media(world["drop"], key)
    return {"bucket": world["drop"], "key": key, "source": "drop", "etag": etag, "media": media}


def test_a_batch_registers_its_images_together_and_quarantines_the_one_it_cannot_record(world):
    """RegisterFiles over one execution's arrivals: each image recorded, one whose sidecar cannot be stored
    quarantined with why (the others unaffected), arrivals handled by earlier states left alone, and the
    batch's drop copies removed in one request."""
    from annolake_service.adapters.aws_clients import client
    from annolake_service.services import ingest

    c, h = world["client"], _admin(world)
    folder = "alpha/batch"
    refused_before = f"{folder}/3.jpg"  # quarantined once (a damaged copy), now dropped again repaired
    world["s3"].put_object(Bucket=world["drop"], Key=refused_before, Body=b"\xff\xd8 damaged")
    ingest.quarantine(world["drop"], refused_before, {"Error": "CorruptMedia", "Cause": '{"errorMessage": "cut"}'})
    arrivals = [_processed(world, f"{folder}/{n}.jpg", _jpeg(size=(50 + n, 40), colour=(n, 9, 9))) for n in range(4)]
    world["s3"].put_object(
        Bucket=world["drop"], Key=f"{folder}/1.json", Body=json.dumps({"metadata": {"m": "x" * 40_000}}).encode()
    )
    assert ingest.attach_late_sidecar(world["drop"], f"{folder}/1.json") is None  # its event: no image yet, a mark
    handled = [
        {"bucket": world["drop"], "key": f"{folder}/gone.jpg", "error": {}, "quarantine": {"file_id": "f"}},
        {"bucket": world["drop"], "key": f"{folder}/clip.mp4", "media": {"media_type": "video"}, "video": {}},
    ]
    calls: list[str] = []
    s3_events = client("s3").meta.events
    s3_events.register("before-call.s3", lambda model, **_: calls.append(model.name), unique_id="count-calls")
    try:
        results = ingest.register_files([*arrivals, *handled])
    finally:
        s3_events.unregister("before-call.s3", unique_id="count-calls")

    assert [sorted(r) for r in results] == [["file"], ["quarantine"], ["file"], ["file"], [], []]
    assert all(results[n]["file"]["created"] for n in (0, 2, 3))
    assert "InvalidMetadata" in results[1]["quarantine"]["reason"]
    listed = c.get("/api/v1/projects/alpha/datasets/batch/files", headers=h).json()["files"]
    assert sorted((f["original_name"], f["status"]) for f in listed) == [
        ("0.jpg", "ready"),
        ("1.jpg", "quarantined"),
        ("2.jpg", "ready"),
        ("3.jpg", "ready"),  # its refusal retired: the arrival recorded with the file says it was refused
    ]
    assert calls.count("GetObject") == 1  # only the marked stem's sidecar is looked for
    assert calls.count("DeleteObjects") == 1  # the registered arrivals'
    assert calls.count("DeleteObject") == 1  # the quarantined one's, moved to quarantine/ as any refusal is
    left = [o["Key"] for o in world["s3"].list_objects_v2(Bucket=world["drop"], Prefix=f"{folder}/")["Contents"]]
    assert left == [f"{folder}/1.json"]  # the refused image went to quarantine/; its sidecar waits, as before

    # Each arrival was recorded with its file: a sidecar coming now attaches to it.
    box = {"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 9, "y_max": 9}
    world["s3"].put_object(Bucket=world["drop"], Key=f"{folder}/2.json", Body=json.dumps([box]).encode())
    assert ingest.attach_late_sidecar(world["drop"], f"{folder}/2.json") == results[2]["file"]["file_id"]

    # The same batch again (a step retried after a failure at its end): nothing is recorded twice.
    again = ingest.register_files([arrivals[0], arrivals[2]])
    assert [r["file"]["created"] for r in again] == [False, False]
    listed = c.get("/api/v1/projects/alpha/datasets/batch/files", headers=h).json()["files"]
    assert len(listed) == 4


def test_a_stems_first_arrival_recorded_with_its_file_is_the_item_recorded_on_its_own(world):
    """A batch writes a new stem's arrival inside the file's transaction as a whole item (none was read), a file
    registered on its own records it with one update: both must leave the same item, for late sidecars and
    refusals to find."""
    from annolake_service.adapters.dynamo import keys
    from annolake_service.services import ingest
    from annolake_service.shared.settings import get_settings

    together = _processed(world, "alpha/firsts/together.jpg", _jpeg(size=(61, 40), colour=(1, 2, 3)))
    alone = _processed(world, "alpha/firsts/alone.jpg", _jpeg(size=(62, 40), colour=(3, 2, 1)))
    [registered] = ingest.register_files([together])
    on_its_own = ingest.register_file(alone["bucket"], alone["key"], alone["media"], etag=alone["etag"])

    def arrival(stem: str) -> dict:
        pk, sk = keys.arrival_key("alpha", "firsts", stem)
        key = {"PK": {"S": pk}, "SK": {"S": sk}}
        item = _dynamodb(world).get_item(TableName=get_settings().table_name, Key=key, ConsistentRead=True)["Item"]
        return {name: value for name, value in item.items() if name not in ("PK", "SK")}

    file_and_image = {"file_id": {"S": registered["file"]["file_id"]}, "etag": {"S": together["etag"]}}
    assert arrival("together") == {**arrival("alone"), **file_and_image}
    assert arrival("alone")["file_id"] == {"S": on_its_own["file_id"]}
    assert arrival("alone")["etag"] == {"S": alone["etag"]}


def test_a_sidecar_marked_between_a_batchs_read_and_its_registration_is_attached(world, monkeypatch):
    """RegisterFiles reads its arrivals, then records each within its file's transaction: a sidecar whose event
    marks the arrival in between cancels that transaction (nothing written), and the file is registered the
    one-write way, which sees the mark and attaches the sidecar."""
    from urllib.parse import quote_plus

    from annolake_service.adapters.dynamo import arrivals as arrival_repo
    from annolake_service.services import ingest
    from annolake_service.services.arrivals import start_ingest_for

    c, h = world["client"], _admin(world)
    image_key, sidecar_key = "alpha/marked/shot.jpg", "alpha/marked/shot.json"
    box = {"type": "box", "name": "car", "x_min": 3, "y_min": 3, "x_max": 33, "y_max": 21}
    read_arrivals = arrival_repo.read_arrivals

    def sidecar_lands_after_the_read(*args):
        seen = read_arrivals(*args)
        world["s3"].put_object(Bucket=world["drop"], Key=sidecar_key, Body=json.dumps([box]).encode())
        assert (
            start_ingest_for(bucket=world["drop"], raw_key=quote_plus(sidecar_key), size=1, etag="e", sequencer="s")
            is None
        )
        return seen

    arrival = _processed(world, image_key, _jpeg(size=(70, 50), colour=(90, 9, 9)))
    monkeypatch.setattr(arrival_repo, "read_arrivals", sidecar_lands_after_the_read)
    [result] = ingest.register_files([arrival])

    assert result["file"]["created"]
    annotations = c.get(f"/api/v1/projects/alpha/files/{result['file']['file_id']}/annotations", headers=h).json()
    assert annotations["version"] == 1 and [i["x_max"] for i in annotations["instance_list"]] == [33.0]
    left = world["s3"].list_objects_v2(Bucket=world["drop"], Prefix="alpha/marked/").get("Contents", [])
    assert left == []


def test_a_batch_out_of_retries_quarantines_only_the_arrivals_still_waiting(world):
    """QuarantineUnregistered: the registration step failed as a whole; an arrival registered before the
    failure (its drop copy gone) keeps its file and gets no quarantine record, one still waiting is kept aside."""
    from annolake_service.services import ingest

    c, h = world["client"], _admin(world)
    done, waiting = (
        _processed(world, f"alpha/outage/{n}.jpg", _jpeg(size=(60 + n, 40), colour=(1, n, 1))) for n in range(2)
    )
    [registered] = ingest.register_files([done])
    error = {"Error": "TransientError", "Cause": json.dumps({"errorMessage": "the store did not answer"})}

    results = ingest.quarantine_unregistered([done, waiting, {"key": "k", "quarantine": {}}], error)

    assert [sorted(r) for r in results] == [["skipped"], ["file_id", "reason"]]
    assert results[1]["reason"] == "TransientError: the store did not answer"
    listed = c.get("/api/v1/projects/alpha/datasets/outage/files", headers=h).json()["files"]
    assert sorted((f["original_name"], f["status"]) for f in listed) == [("0.jpg", "ready"), ("1.jpg", "quarantined")]
    assert [f["file_id"] for f in listed if f["status"] == "ready"] == [registered["file"]["file_id"]]


def test_paths_sharing_a_stem_keep_their_sidecar_and_refusals_apart(world):
    """notes.jpg, a refused notes.txt and a late notes.json in one folder: the refusal neither hides the image from
    its sidecar nor lingers once a refused path of that stem is ingested."""
    from annolake_service.services import ingest

    c, h = world["client"], _admin(world)

    def refuse(key: str, body: bytes) -> None:
        world["s3"].put_object(Bucket=world["drop"], Key=key, Body=body)
        with pytest.raises(Exception) as refused:  # what the ProcessMedia step raises; the Catch quarantines
            ingest.process_media(world["drop"], key)
        error = {"Error": type(refused.value).__name__, "Cause": json.dumps({"errorMessage": str(refused.value)})}
        ingest.quarantine(world["drop"], key, error)

    def ingested(key: str, body: bytes) -> str:
        world["s3"].put_object(Bucket=world["drop"], Key=key, Body=body)
        return ingest.register_file(world["drop"], key, ingest.process_media(world["drop"], key))["file_id"]

    image_id = ingested("alpha/stems/notes.jpg", _jpeg(size=(64, 32)))
    refuse("alpha/stems/notes.txt", b"shopping list")
    refuse("alpha/stems/notes.png", _jpeg(size=(64, 32), colour=(7, 7, 7))[:60])
    sidecar_key = "alpha/stems/notes.json"
    box = {"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 9, "y_max": 9}
    world["s3"].put_object(Bucket=world["drop"], Key=sidecar_key, Body=json.dumps([box]).encode())
    assert ingest.attach_late_sidecar(world["drop"], sidecar_key) == image_id
    annotations = c.get(f"/api/v1/projects/alpha/files/{image_id}/annotations", headers=h).json()
    assert [i["x_max"] for i in annotations["instance_list"]] == [9.0]

    ingested("alpha/stems/notes.png", _jpeg(size=(64, 32), colour=(7, 7, 7)))  # the repaired copy
    listed = c.get("/api/v1/projects/alpha/datasets/stems/files", headers=h).json()["files"]
    assert sorted((f["original_name"], f["status"]) for f in listed) == [
        ("notes.jpg", "ready"),
        ("notes.png", "ready"),
        ("notes.txt", "quarantined"),
    ]


def _annotate(world, file_id: str, instances: list[dict]) -> None:
    c, h = world["client"], _admin(world)
    url = f"/api/v1/projects/alpha/files/{file_id}/annotations"
    version = c.get(url, headers=h).json()["version"]
    saved = c.put(url, json={"version": version, "instance_list": instances, "create_labels": True}, headers=h)
    assert saved.status_code == 200, saved.text


def _boxes(label: str, count: int) -> list[dict]:
    return [{"type": "box", "name": label, "x_min": 1, "y_min": 1, "x_max": 5 + i, "y_max": 5} for i in range(count)]


@pytest.fixture(scope="module")
def sliced(world):
    """A dataset of 12 files: file i has i % 5 cars and i % 2 pedestrians; metadata.weather alternates."""
    c, h = world["client"], _admin(world)
    for label in ("car", "pedestrian"):
        c.post("/api/v1/projects/alpha/labels", json={"name": label}, headers=h)
    ids = []
    for i in range(12):
        file_id = _ingest(world, f"s{i}.jpg", _jpeg(size=(60 + i, 40)), dataset="sliced")
        _annotate(world, file_id, _boxes("car", i % 5) + _boxes("pedestrian", i % 2))
        c.patch(
            f"/api/v1/projects/alpha/files/{file_id}",
            json={"metadata": {"weather": "rain" if i % 3 == 0 else "sun"}},
            headers=h,
        )
        ids.append(file_id)
    return ids


def _expected(ids: list[str], keep) -> set[str]:
    return {file_id for i, file_id in enumerate(ids) if keep(i)}


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ("labels.car > 3 and labels.pedestrian >= 1", lambda i: i % 5 > 3 and i % 2 >= 1),
        ("labels.car = 0", lambda i: i % 5 == 0),  # a file without the label counts 0
        ("2 <= labels.car", lambda i: i % 5 >= 2),  # the field on either side
        ("not (labels.car >= 1 or labels.pedestrian = 1)", lambda i: i % 5 == 0 and i % 2 == 0),
        ('file.metadata.weather = "rain" and labels.car in [1, 2]', lambda i: i % 3 == 0 and i % 5 in (1, 2)),
        ("file.width >= 66", lambda i: 60 + i >= 66),
    ],
)
def test_query_counts_and_pages_the_matching_files(world, sliced, query, keep):
    c, h = world["client"], _admin(world)
    expected = _expected(sliced, keep)
    answer = c.get("/api/v1/projects/alpha/datasets/sliced/query", params={"q": query, "limit": 2}, headers=h)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["count"] == len(expected)
    assert {f["file_id"] for f in body["files"]} <= expected and len(body["files"]) == min(2, len(expected))
    seen, cursor = [], None
    while True:
        params = {"query": query, "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = c.get("/api/v1/projects/alpha/datasets/sliced/files", params=params, headers=h).json()
        seen += [f["file_id"] for f in page["files"]]
        if not (cursor := page["cursor"]):
            break
    assert len(seen) == len(set(seen)) and set(seen) == expected


def test_query_follows_annotation_edits(world, sliced):
    c, h = world["client"], _admin(world)
    query = {"q": "labels.car >= 4"}
    before = c.get("/api/v1/projects/alpha/datasets/sliced/query", params=query, headers=h).json()["count"]
    _annotate(world, sliced[0], _boxes("car", 4))
    after = c.get("/api/v1/projects/alpha/datasets/sliced/query", params=query, headers=h).json()
    assert after["count"] == before + 1 and sliced[0] in {f["file_id"] for f in after["files"]}
    _annotate(world, sliced[0], [])
    assert c.get("/api/v1/projects/alpha/datasets/sliced/query", params=query, headers=h).json()["count"] == before


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("labels.car >", ["column 13", "expected a number", "ends there"]),
        ("labels.cars > 3", ["unknown label", "did you mean", "car"]),
        ("labels.car > 3 andd labels.pedestrian >= 1", ["column 16", "expected 'and'", "andd"]),
    ],
)
def test_bad_queries_get_400_naming_the_position_or_a_suggestion(world, sliced, query, words):
    c, h = world["client"], _admin(world)
    answer = c.get("/api/v1/projects/alpha/datasets/sliced/query", params={"q": query}, headers=h)
    assert answer.status_code == 400
    message = json.dumps(answer.json()["error"]).lower()
    assert all(word in message for word in words), message


def test_a_frozen_slice_pages_by_offset_and_cursor_with_fresh_urls(world, sliced):
    import urllib3

    c, h = world["client"], _admin(world)
    made = c.post("/api/v1/projects/alpha/datasets/sliced/slices", json={"query": "labels.car >= 2"}, headers=h)
    assert made.status_code == 201, made.text
    frozen = made.json()
    expected = _expected(sliced, lambda i: i % 5 >= 2)
    assert frozen["count"] == len(expected) and frozen["query"] == "labels.car >= 2" and frozen["dataset"] == "sliced"
    url = f"/api/v1/projects/alpha/slices/{frozen['slice_id']}/items"
    by_offset = [c.get(url, params={"offset": o, "limit": 2}, headers=h).json() for o in range(0, frozen["count"], 2)]
    order = [item["file"]["id"] for page in by_offset for item in page["items"]]
    assert set(order) == expected and len(order) == len(expected)
    assert [item["index"] for page in by_offset for item in page["items"]] == list(range(len(order)))
    # the order is frozen: an annotation edit that takes a file out of the query does not move anything
    _annotate(world, order[0], [])
    walked, cursor = [], None
    while True:
        page = c.get(url, params={"limit": 3, **({"cursor": cursor} if cursor else {})}, headers=h).json()
        walked += page["items"]
        if not (cursor := page["cursor"]):
            break
    assert [item["file"]["id"] for item in walked] == order
    assert walked[0]["instance_list"] == [] and walked[1]["annotation_version"] >= 1
    boxes = [i for i in walked[1]["instance_list"] if i["type"] == "box"]
    assert len(boxes) == sum(1 for i in walked[1]["instance_list"]) and {b["name"] for b in boxes} <= {
        "car",
        "pedestrian",
    }
    fetched = urllib3.request("GET", walked[1]["media_url"])
    assert fetched.status == 200 and fetched.data[:2] == b"\xff\xd8"
    assert walked[1]["file"]["width"] == Image.open(io.BytesIO(fetched.data)).width
    described = c.get(f"/api/v1/projects/alpha/slices/{frozen['slice_id']}", headers=h).json()
    assert described["count"] == frozen["count"] and described["expires_at"] > described["created_at"]
    past_end = c.get(url, params={"offset": 500}, headers=h).json()
    assert past_end["items"] == [] and past_end["cursor"] is None and past_end["count"] == frozen["count"]
    _annotate(world, order[0], _boxes("car", 2))


def test_stream_items_carry_the_current_annotations_small_large_and_stored_before_carrying(world):
    """A file item carries its current instances when small, so a page is one read; large ones, and files stored
    before items carried them, are read from their version. Each item must match the annotations API."""
    from annolake_service.shared.settings import get_settings

    c, h = world["client"], _admin(world)
    small = _ingest(world, "small.jpg", _jpeg(size=(500, 400), colour=(1, 1, 1)), dataset="carried")
    large = _ingest(world, "large.jpg", _jpeg(size=(500, 400), colour=(2, 2, 2)), dataset="carried")
    legacy = _ingest(world, "legacy.jpg", _jpeg(size=(500, 400), colour=(3, 3, 3)), dataset="carried")
    outline = [{"x": i % 400, "y": i * 7 % 300} for i in range(400)]
    _annotate(world, small, _boxes("car", 3))
    _annotate(world, large, [{"type": "polygon", "name": "car", "points": outline}] * 10)  # ~100 KB
    _annotate(world, legacy, _boxes("pedestrian", 2))
    dynamodb = _dynamodb(world)
    dynamodb.update_item(  # as items written before they carried instances are
        TableName=get_settings().table_name,
        Key={"PK": {"S": f"P#alpha#F#{legacy}"}, "SK": {"S": "FILE"}},
        UpdateExpression="REMOVE current_instances",
    )

    def streamed() -> dict[str, list]:
        frozen = c.post("/api/v1/projects/alpha/datasets/carried/slices", json={}, headers=h).json()
        page = c.get(f"/api/v1/projects/alpha/slices/{frozen['slice_id']}/items", headers=h).json()
        return {item["file"]["id"]: item["instance_list"] for item in page["items"]}

    def current(file_id: str) -> list:
        return c.get(f"/api/v1/projects/alpha/files/{file_id}/annotations", headers=h).json()["instance_list"]

    items = streamed()
    assert items == {fid: current(fid) for fid in (small, large, legacy)}
    assert [len(items[fid]) for fid in (small, large, legacy)] == [3, 10, 2]
    _annotate(world, large, _boxes("car", 1))  # small now: carried from here on
    _annotate(world, legacy, [])
    items = streamed()
    assert items[large] == current(large) and len(items[large]) == 1 and items[legacy] == []


def test_slice_pages_write_nothing_and_are_scoped_to_the_project(world, sliced):
    from annolake_service.domain.roles import Role

    c, h = world["client"], _admin(world)
    viewer = _auth(world["keys"][Role.VIEWER])
    frozen = c.post("/api/v1/projects/alpha/datasets/sliced/slices", json={}, headers=viewer).json()
    assert frozen["count"] == 12  # no query: every ready file
    table = _dynamodb(world)
    from annolake_service.shared.settings import get_settings

    def snapshot():
        """The table's items but other projects' (work other tests started may still write those)."""
        items = table.scan(TableName=get_settings().table_name)["Items"]
        return [i for i in items if not i["PK"]["S"].startswith("P#") or i["PK"]["S"].split("#")[1] == "alpha"]

    before = snapshot()
    assert any(item["PK"]["S"].startswith("P#alpha#") for item in before)
    page = c.get(f"/api/v1/projects/alpha/slices/{frozen['slice_id']}/items", params={"limit": 12}, headers=viewer)
    assert page.status_code == 200 and len(page.json()["items"]) == 12
    assert snapshot() == before
    elsewhere = c.get(f"/api/v1/projects/beta/slices/{frozen['slice_id']}/items", headers=_auth(world["beta_key"]))
    assert elsewhere.status_code == 404 and "create a new one" in elsewhere.json()["error"]["message"]
    too_long = c.get(
        f"/api/v1/projects/alpha/slices/{frozen['slice_id']}/items", params={"url_expires_in": 10**6}, headers=h
    )
    assert too_long.status_code == 400 and "url_expires_in" in too_long.json()["error"]["message"]
    items_url = f"/api/v1/projects/alpha/slices/{frozen['slice_id']}/items"
    both = c.get(items_url, params={"limit": 2}, headers=viewer).json()["items"]
    assert all(item["media_url"] and item["thumbnail_url"] for item in both)  # both by default
    media_only = c.get(items_url, params={"limit": 2, "urls": "media"}, headers=viewer).json()["items"]
    assert all(item["media_url"] and item["thumbnail_url"] is None for item in media_only)
    assert [item["file"] for item in media_only] == [item["file"] for item in both]
    thumbs = c.get(items_url, params={"limit": 2, "urls": "thumbnail"}, headers=viewer).json()["items"]
    assert all(item["media_url"] is None and item["thumbnail_url"] for item in thumbs)
    unknown = c.get(items_url, params={"urls": "media,previews"}, headers=viewer)
    assert unknown.status_code == 400 and "unknown: previews" in unknown.json()["error"]["message"]
    bad = c.post("/api/v1/projects/alpha/datasets/sliced/slices", json={"query": "labels.cars > 1"}, headers=h)
    assert bad.status_code == 400 and "did you mean" in bad.json()["error"]["message"].lower()


def _listed_label_counts(c, h, query: str | None = None) -> tuple[int, dict[str, tuple[int, int]]]:
    """(files, {label: (files with it, instances)}) summed over the file listing, page by page."""
    files, found, cursor = 0, {}, None
    while True:
        params = {"limit": 5, **({"cursor": cursor} if cursor else {}), **({"query": query} if query else {})}
        page = c.get("/api/v1/projects/alpha/datasets/sliced/files", params=params, headers=h).json()
        for f in page["files"]:
            files += 1
            for name, count in f["label_counts"].items():
                with_it, total = found.get(name, (0, 0))
                found[name] = (with_it + (count > 0), total + count)
        if not (cursor := page["cursor"]):
            return files, found


@pytest.mark.parametrize("query", [None, "labels.pedestrian >= 1", 'file.metadata.weather = "rain"'])
def test_label_counts_per_dataset_and_per_query(world, sliced, query):
    """Counts per label agree with the files listed (pushed down to DynamoDB, or evaluated in Python)."""
    c, h = world["client"], _admin(world)
    answer = c.get(
        "/api/v1/projects/alpha/datasets/sliced/label-counts", params={"query": query} if query else {}, headers=h
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    files, listed = _listed_label_counts(c, h, query)
    assert body["files"] == files and files > 0
    counts = {label["name"]: (label["files"], label["instances"]) for label in body["labels"]}
    assert {name: value for name, value in counts.items() if value != (0, 0)} == {
        name: value for name, value in listed.items() if value != (0, 0)
    }
    assert counts["car"][1] > 0
    assert all(label["colour"].startswith("#") for label in body["labels"] if label["name"] in ("car", "pedestrian"))


def test_label_counts_of_a_bad_query_name_its_position(world, sliced):
    c, h = world["client"], _admin(world)
    bad = c.get("/api/v1/projects/alpha/datasets/sliced/label-counts", params={"query": "labels.car >"}, headers=h)
    assert bad.status_code == 400 and bad.json()["error"]["details"]["column"] == 13


def test_health_reports_each_store_and_503_when_one_is_missing(world, monkeypatch):
    from annolake_service.shared.settings import get_settings

    answer = world["client"].get("/api/v1/health")
    assert answer.status_code == 200
    assert answer.json()["checks"] == {"table": True, "media_bucket": True, "drop_bucket": True}
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    monkeypatch.setenv("DROP_BUCKET", "no-such-bucket")
    get_settings.cache_clear()
    try:
        answer = world["client"].get("/api/v1/health")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert answer.status_code == 503 and answer.json()["status"] == "degraded"
    assert answer.json()["checks"] == {"table": False, "media_bucket": True, "drop_bucket": False}


def test_a_blank_dataset_name_is_refused_and_a_job_stored_invalid_is_reported_not_a_broken_list(world):
    c, h = world["client"], _admin(world)
    jobs_url = "/api/v1/projects/alpha/jobs"
    c.post("/api/v1/projects/alpha/datasets", json={"name": "jobs-blank"}, headers=h)
    refused = c.post(jobs_url, json={"name": "x", "datasets": [" "]}, headers=h)
    assert refused.status_code in (400, 422) and "blank name" in refused.text, refused.text
    job = c.post(jobs_url, json={"name": "ok", "datasets": ["jobs-blank"]}, headers=h)
    assert job.status_code == 201, job.text
    job_id = job.json()["job_id"]
    patched = c.patch(f"{jobs_url}/{job_id}", json={"datasets": [" "]}, headers=h)
    assert patched.status_code == 400 and "blank name" in patched.text, patched.text
    assert c.get(f"{jobs_url}/{job_id}", headers=h).json()["datasets"] == ["jobs-blank"]

    # A record written before the rule existed: its settings no longer validate.
    from annolake_service.adapters.dynamo import keys

    stored = json.loads(json.dumps(job.json()))
    spec = {k: stored[k] for k in ("name", "instructions", "label_names", "mode", "annotators", "reviewers")}
    spec |= {"datasets": [], "review_rate": 0.0, "consensus": 1, "task_timeout_seconds": 3600}
    _dynamodb(world).update_item(
        TableName=os.environ["TABLE_NAME"],
        Key={"PK": {"S": keys.project_pk("alpha")}, "SK": {"S": keys.job_sk(job_id)}},
        UpdateExpression="SET spec = :s",
        ExpressionAttributeValues={":s": {"S": json.dumps(spec)}},
    )
    listing = c.get(jobs_url, headers=h)
    assert listing.status_code == 200, listing.text
    assert job_id not in [j["job_id"] for j in listing.json()["jobs"]]
    [unreadable] = [u for u in listing.json()["unreadable"] if u["id"] == job_id]
    assert unreadable["kind"] == "job" and "datasets" in unreadable["reason"]
    one = c.get(f"{jobs_url}/{job_id}", headers=h)
    assert one.status_code == 409 and one.json()["error"]["code"] == "stored_record_invalid", one.text


def test_a_stream_page_ends_early_at_its_byte_budget_and_its_cursor_carries_on(world, sliced, monkeypatch):
    from tests.support.auth import reset_service_caches

    c, h = world["client"], _admin(world)
    frozen = c.post("/api/v1/projects/alpha/datasets/sliced/slices", json={"query": "file.width >= 0"}, headers=h)
    url = f"/api/v1/projects/alpha/slices/{frozen.json()['slice_id']}/items"
    whole = c.get(url, params={"limit": 12}, headers=h).json()
    sizes = [len(json.dumps(item)) for item in whole["items"]]
    assert len(sizes) == 12 and whole["cursor"] is None
    budget = sum(sizes[:3]) + 5  # three items fit, a fourth does not
    monkeypatch.setenv("PAGE_MAX_BYTES", str(budget))
    reset_service_caches()
    try:
        walked, cursor, lengths = [], None, []
        while True:
            page = c.get(url, params={"limit": 12, **({"cursor": cursor} if cursor else {})}, headers=h).json()
            walked += page["items"]
            lengths.append(len(page["items"]))
            used = sum(len(json.dumps(item)) + 1 for item in page["items"])
            assert used <= budget or len(page["items"]) == 1, (used, budget)
            if not (cursor := page["cursor"]):
                break
        assert lengths[0] == 3 and len(lengths) > 3
        assert [item["index"] for item in walked] == list(range(12))
        assert [item["file"]["id"] for item in walked] == [item["file"]["id"] for item in whole["items"]]
        one = c.get(url, params={"offset": 0, "limit": 12}, headers=h).json()
        assert len(one["items"]) == 3 and one["next_offset"] == 3
    finally:
        monkeypatch.delenv("PAGE_MAX_BYTES")
        reset_service_caches()
